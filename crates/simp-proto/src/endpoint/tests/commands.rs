//! The client's commands (docs/IPC.md): refused before `connect`, errors that change
//! nothing, `status`, a reconnecting client.

use super::harness::*;
use crate::ipc::{Command as C, ErrorCode, Event};
use crate::StateName;

#[test]
fn commands_before_connect_are_refused() {
    let mut h = H::new();
    h.cmd(C::Start { peer: "127.0.0.2".into() });
    h.cmd(C::Status);
    assert_eq!(code(&h.events()), [ErrorCode::NotConnected, ErrorCode::NotConnected]);
    assert_eq!(h.sent(), []);
    h.expect_nothing();
}

#[test]
fn bad_commands_get_errors_and_change_nothing() {
    let mut h = H::new();
    h.cmd(C::Connect { user: "".into() });
    h.cmd(C::Connect { user: "x".repeat(33) });
    assert_eq!(code(&h.events()), [ErrorCode::BadUser, ErrorCode::BadUser]);
    let mut h = H::connected();
    h.cmd(C::Start { peer: "nowhere".into() });
    h.cmd(C::Start { peer: "127.0.0.1".into() });
    h.cmd(C::Accept);
    h.cmd(C::Decline);
    h.cmd(C::Chat { text: "hi".into(), id: None, utf8: None });
    h.cmd(C::Leave);
    use ErrorCode::*;
    assert_eq!(code(&h.events()), [BadPeer, BadPeer, NoRequest, NoRequest, NotInChat, NotInChat]);
    assert_eq!(h.sent(), []);
    assert_eq!(h.ep.state(), StateName::Idle);

    let mut h = H::chatting();
    h.chat("café", "1");
    h.chat("bell\u{7}", "2");
    h.cmd(C::Start { peer: "127.0.0.3".into() });
    let ev = h.events();
    assert_eq!(code(&ev), [BadText, BadText, Busy]);
    assert!(matches!(&ev[0], Event::Refused(refusal) if refusal.to_string().contains("'é'")));
    assert_eq!(h.sent(), [], "nothing is sent");
    assert_eq!(h.ep.state(), StateName::Chatting);
    h.expect_nothing();
}

#[test]
fn status_reports_the_session() {
    let mut h = H::chatting();
    h.cmd(C::Status);
    let ev = h.events();
    let Event::Status(s) = &ev[0] else { panic!("{ev:?}") };
    assert_eq!(s.state.as_str(), "chatting");
    assert_eq!(s.peer.map(|p| p.to_string()).as_deref(), Some("127.0.0.2:7777"));
    assert_eq!(s.peer_user.as_deref(), Some("bob"));
    assert_eq!(s.user.as_deref(), Some("alice"));
    h.expect_nothing();
}

#[test]
fn reconnecting_client_sees_the_current_chat() {
    let mut h = H::chatting();
    h.cmd(C::Connect { user: "alice".into() });
    let ev = h.events();
    assert!(matches!(ev[0], Event::Connected { .. }));
    assert_eq!(ev[1..], [established()]);
    h.expect_nothing();
}
