//! Property tests over random inputs: no panic and the endpoint's invariants hold on any
//! input; strangers never change an established session (SPEC 2.5).

use std::net::SocketAddr;
use std::time::Duration;

use proptest::prelude::*;

use super::harness::*;
use crate::ipc::{Command as C, Event};
use crate::wire::{Datagram, Kind};
use crate::StateName;

fn arb_datagram() -> impl Strategy<Value = Vec<u8>> {
    let structured = (prop::sample::select(Kind::ALL.to_vec()), 0u8..2, "[a-z]{0,8}", "[ -~]{0,40}")
        .prop_map(|(k, s, u, p)| bytes(k, s, &u, &p));
    let raw = prop::collection::vec(any::<u8>(), 0..120);
    prop_oneof![3 => structured, 1 => raw]
}

fn arb_addr() -> impl Strategy<Value = SocketAddr> {
    (1u8..=5, prop::sample::select(vec![7777u16, 7778, 40000]))
        .prop_map(|(host, port)| SocketAddr::from(([127, 0, 0, host], port)))
}

fn arb_command() -> impl Strategy<Value = C> {
    prop_oneof![
        "[a-z]{0,3}".prop_map(|user| C::Connect { user }),
        prop::sample::select(vec!["127.0.0.2", "127.0.0.3:7777", "x", "127.0.0.1"])
            .prop_map(|p| C::Start { peer: p.into() }),
        Just(C::Accept),
        Just(C::Decline),
        "[ -~]{0,20}".prop_map(|text| C::Chat { text, id: None, utf8: None }),
        Just(C::Leave),
        Just(C::Quit),
        Just(C::Status),
    ]
}

#[derive(Debug, Clone)]
enum Input {
    Datagram(SocketAddr, Vec<u8>),
    Command(C),
    Wait(u64),
    ClientGone,
}

fn arb_input() -> impl Strategy<Value = Input> {
    prop_oneof![
        6 => (arb_addr(), arb_datagram()).prop_map(|(a, b)| Input::Datagram(a, b)),
        2 => arb_command().prop_map(Input::Command),
        1 => (0u64..8000).prop_map(Input::Wait),
        1 => Just(Input::ClientGone),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any mix of datagrams, commands, waits and disconnections: no panic, and the
    /// endpoint's invariants hold (one timer at most, a peer exactly when not idle).
    #[test]
    fn never_panics_on_any_input(inputs in prop::collection::vec(arb_input(), 0..60), auto in any::<bool>()) {
        let mut h = H::with(|c| c.auto_accept = auto);
        for input in inputs {
            match input {
                Input::Datagram(from, b) => {
                    h.ep.handle_datagram(h.now, from, &b);
                    h.store();
                }
                Input::Command(c) => h.cmd(c),
                Input::Wait(ms) => h.wait(Duration::from_millis(ms)),
                Input::ClientGone => h.ep.handle_client_gone(h.now),
            }
            for t in std::iter::from_fn(|| h.ep.poll_transmit()) {
                prop_assert!(Datagram::parse(t.bytes()).is_ok(), "we only send valid datagrams");
            }
            h.skip_events();
            prop_assert_eq!(h.ep.peer().is_none(), h.ep.state() == StateName::Idle);
        }
        // Left alone, every timer runs out: no endless re-sends, no busy loop. Only a
        // quiet chat (nothing in flight) may stay open without a timer.
        h.ep.handle_client_gone(h.now);
        h.wait(Duration::from_secs(3600));
        prop_assert_eq!(h.ep.poll_timeout(), None);
        prop_assert!(matches!(h.ep.state(), StateName::Idle | StateName::Chatting), "{}", h.ep.state());
    }

    /// Strangers' datagrams never change an established session (SPEC 2.5): no event but the
    /// user being told of a call turned away, nothing delivered, nothing marked delivered,
    /// nothing sent to the peer.
    #[test]
    fn strangers_never_change_the_session(
        inputs in prop::collection::vec((arb_addr(), arb_datagram()), 1..80),
    ) {
        let mut h = H::chatting();
        h.chat("pending", "1");
        h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "pending")]);
        h.expect_events(&[queued("1")]);
        for (from, b) in inputs {
            let from = if from == peer() { stranger() } else { from };
            h.ep.handle_datagram(h.now, from, &b);
            for w in h.sent() {
                prop_assert_ne!(w.to, peer());
                prop_assert!(matches!(w.kind, Kind::Err | Kind::Fin), "only busy replies: {w:?}");
            }
            for e in h.events() {
                prop_assert!(matches!(e, Event::Missed { peer, .. } if peer == from), "{e:?}");
            }
            prop_assert_eq!(h.ep.state(), StateName::Chatting);
            prop_assert_eq!(h.ep.peer(), Some(peer()));
        }
        h.recv(peer(), Kind::Ack, 0, "bob", "");
        prop_assert_eq!(h.events(), [Event::Delivered { id: "1".into() }]);
    }
}
