//! SPEC 3, peers as they are: quirks of real implementations, each handled without a lost or
//! doubled message and reported once (`peer-quirk`); and the handshake and `start` holes a
//! black-box tester found.

use std::time::Duration;

use super::harness::*;
use crate::ipc::{Command as C, ErrorCode, Event, Quirk};
use crate::wire::Kind;
use crate::{Config, SeqMode, StateName};

fn quirk(events: &[Event]) -> Vec<Quirk> {
    events.iter().filter_map(|e| if let Event::PeerQuirk { quirk, .. } = e { Some(*quirk) } else { None }).collect()
}

fn messages(events: &[Event]) -> Vec<&str> {
    events.iter().filter_map(|e| if let Event::Message { text, .. } = e { Some(text.as_str()) } else { None }).collect()
}

#[test]
fn a_new_message_with_the_same_seq_is_delivered_and_only_a_byte_identical_one_is_a_resend() {
    let mut h = H::chatting();
    h.recv(peer(), Kind::Chat, 0, "bob", "one");
    h.recv(peer(), Kind::Chat, 0, "bob", "two"); // the peer never alternates
    h.recv(peer(), Kind::Chat, 0, "bob", "two"); // its re-send: byte-identical
    h.recv(peer(), Kind::Chat, 0, "bob", "three");
    assert_eq!(h.sent(), vec![w(peer(), Kind::Ack, 0, "alice", ""); 4]);
    let events = h.events();
    assert_eq!(messages(&events), ["one", "two", "three"]);
    assert_eq!(quirk(&events), [Quirk::RepeatedSeq], "reported once per chat");
    h.expect_nothing();
}

#[test]
fn counting_seqs_are_read_by_parity_and_echoed_in_the_ack() {
    let mut h = H::chatting();
    for (seq, text) in [(2u8, "starts at two"), (3, "three"), (3, "three"), (4, "four")] {
        let mut b = bytes(Kind::Chat, 0, "bob", text);
        b[2] = seq;
        h.ep.handle_datagram(h.now, peer(), &b);
        h.store();
    }
    let acks: Vec<u8> = h.raw_sent().iter().map(|b| b[2]).collect();
    assert_eq!(acks, [2, 3, 3, 4], "each ACK echoes the byte it answers");
    let events = h.events();
    assert_eq!(messages(&events), ["starts at two", "three", "four"]);
    assert_eq!(quirk(&events), [Quirk::CountingSeq]);
    // From anyone but the peer such a datagram stays malformed (SPEC 1).
    let mut b = bytes(Kind::Chat, 0, "mallory", "x");
    b[2] = 2;
    h.ep.handle_datagram(h.now, stranger(), &b);
    h.expect_nothing();
    assert_eq!(h.ep.stats().malformed, 1);
}

#[test]
fn acks_with_a_fixed_seq_are_proven_after_a_resend_and_then_taken() {
    let mut h = H::chatting();
    h.chat("one", "1");
    h.chat("two", "2");
    h.chat("three", "3");
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "one")]);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.expect_sent(&[w(peer(), Kind::Chat, 1, "alice", "two")]);
    h.recv(peer(), Kind::Ack, 0, "bob", ""); // the peer's ACKs always say 0
    h.expect_events(&[queued("1"), queued("2"), queued("3"), delivered("1")]);
    h.wait(T);
    h.expect_sent(&[w(peer(), Kind::Chat, 1, "alice", "two")]);
    h.now += Duration::from_millis(20);
    h.recv(peer(), Kind::Ack, 0, "bob", ""); // answers the re-send: proof
    let events = h.events();
    assert_eq!(quirk(&events), [Quirk::FixedAckSeq]);
    assert_eq!(events.last(), Some(&delivered("2")));
    // "two" went out twice: the answer to its first copy may still come, so "three" waits
    // one timeout after the last copy, and what arrives meanwhile acknowledges nothing.
    h.expect_sent(&[]);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.wait(T - Duration::from_millis(21));
    h.expect_nothing();
    h.wait(Duration::from_millis(1));
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "three")]);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.expect_events(&[delivered("3")]);
    h.expect_nothing();
}

#[test]
fn the_fin_of_a_peer_with_fixed_ack_seqs_is_acknowledged_with_its_seq() {
    let mut h = H::chatting();
    h.chat("one", "1");
    h.sent();
    h.wait(T);
    h.sent();
    h.recv(peer(), Kind::Ack, 1, "bob", ""); // always 1: proven on the re-send
    assert_eq!(quirk(&h.events()), [Quirk::FixedAckSeq]);
    h.cmd(C::Leave);
    h.wait(T); // the hold after a re-sent message, then the FIN
    h.expect_sent(&[w(peer(), Kind::Fin, 0, "alice", "")]);
    h.recv(peer(), Kind::Ack, 1, "bob", "");
    h.expect_events(&[ended(crate::ipc::EndReason::YouLeft)]);
    assert_eq!(h.ep.state(), StateName::Idle);
}

#[test]
fn shared_mode_follows_the_peers_first_bit() {
    let mut h = H::chatting_with(|c| c.seq_mode = SeqMode::Shared);
    h.recv(peer(), Kind::Chat, 1, "bob", "I count from 1");
    h.expect_sent(&[w(peer(), Kind::Ack, 1, "alice", "")]);
    h.recv(peer(), Kind::Chat, 0, "bob", "then 0");
    h.expect_sent(&[w(peer(), Kind::Ack, 0, "alice", "")]);
    h.expect_events(&[message(1, "I count from 1"), message(2, "then 0")]);
    h.chat("mine", "1");
    h.expect_sent(&[w(peer(), Kind::Chat, 1, "alice", "mine")]);
    h.expect_events(&[queued("1")]);
}

#[test]
fn auto_mode_switches_to_one_shared_bit_when_the_peer_proves_it() {
    let mut h = H::chatting();
    assert_eq!(h.ep.config().seq_mode, SeqMode::Auto, "the default");
    h.recv(peer(), Kind::Chat, 0, "bob", "hi");
    h.chat("hello", "1");
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.recv(peer(), Kind::Chat, 0, "bob", "how are you"); // after one of ours: a shared bit repeats
    h.recv(peer(), Kind::Chat, 1, "bob", "?"); // and then alternates: proven
    h.expect_sent(&[
        w(peer(), Kind::Ack, 0, "alice", ""),
        w(peer(), Kind::Chat, 0, "alice", "hello"),
        w(peer(), Kind::Ack, 0, "alice", ""),
        w(peer(), Kind::Ack, 1, "alice", ""),
    ]);
    let events = h.events();
    assert_eq!(messages(&events), ["hi", "how are you", "?"]);
    assert_eq!(quirk(&events), [Quirk::SharedSeq]);
    h.chat("fine", "2");
    // Per direction this would be 1; the shared bit after the peer's 1 is 0.
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "fine")]);
}

#[test]
fn shared_mode_holds_a_crossing_message_until_ours_is_acknowledged() {
    // We are the lower address: our message keeps the turn.
    let mut h = H::chatting_with(|c| c.seq_mode = SeqMode::Shared);
    h.chat("mine", "1");
    h.chat("more", "2");
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "mine")]);
    h.expect_events(&[queued("1"), queued("2")]);
    h.recv(peer(), Kind::Chat, 0, "bob", "theirs"); // both typed at once
    h.expect_nothing(); // not taken, not acknowledged: the peer re-sends it
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.expect_events(&[delivered("1")]);
    h.expect_sent(&[]); // "more" waits for the peer's turn
    h.recv(peer(), Kind::Chat, 0, "bob", "theirs");
    h.expect_sent(&[w(peer(), Kind::Ack, 0, "alice", ""), w(peer(), Kind::Chat, 0, "alice", "more")]);
    h.expect_events(&[message(1, "theirs")]);
}

#[test]
fn shared_mode_gives_way_to_a_peer_that_holds_too_once_ours_was_resent() {
    // Two daemons that both take themselves for the lower address would wait for each other.
    let mut h = H::with(|c| {
        c.seq_mode = SeqMode::Shared;
        c.local = "127.0.0.3:7777".parse().unwrap();
    });
    h.cmd(C::Connect { user: "alice".into() });
    h.cmd(C::Start { peer: "127.0.0.2".into() });
    h.recv(peer(), Kind::SynAck, 0, "bob", "");
    h.chat("mine", "1");
    h.sent();
    h.events();
    h.recv(peer(), Kind::Chat, 0, "bob", "theirs");
    h.expect_nothing();
    h.wait(T);
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "mine")]);
    h.recv(peer(), Kind::Chat, 0, "bob", "theirs");
    h.expect_sent(&[w(peer(), Kind::Ack, 0, "alice", "")]);
    h.expect_events(&[message(1, "theirs")]);
}

// ----- the late-handshake-ACK discount -----

#[test]
fn a_caller_that_answers_only_its_first_syn_ack_does_not_end_the_chat() {
    let mut h = H::connected();
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    h.cmd(C::Accept);
    for _ in 0..7 {
        h.recv(peer(), Kind::Syn, 0, "bob", ""); // SYNs that crossed our SYN+ACK
    }
    h.recv(peer(), Kind::Ack, 0, "bob", ""); // its only handshake ACK
    assert_eq!(h.sent().len(), 8);
    h.expect_events(&[request(), established()]);
    h.chat("first", "1");
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "first")]);
    h.expect_events(&[queued("1")]);
    for resend in 1..=5 {
        h.recv(peer(), Kind::Ack, 0, "bob", ""); // real, but taken for a late handshake ACK
        h.expect_events(&[]);
        h.wait(T);
        assert_eq!(h.sent(), [w(peer(), Kind::Chat, 0, "alice", "first")], "re-send {resend}");
    }
    h.recv(peer(), Kind::Ack, 0, "bob", ""); // answers the last re-send: taken
    h.expect_events(&[delivered("1")]);
    assert_eq!(h.ep.state(), StateName::Chatting);
    h.chat("second", "2");
    h.recv(peer(), Kind::Ack, 1, "bob", "");
    h.chat("third", "3");
    h.recv(peer(), Kind::Ack, 0, "bob", ""); // no discount left
    h.expect_events(&[queued("2"), delivered("2"), queued("3"), delivered("3")]);
}

// ----- simultaneous open at different addresses (SPEC 2.1) -----

#[test]
fn simultaneous_open_when_both_take_themselves_for_the_higher_address() {
    let mut h = H::with(|c| c.local = "127.0.0.3:7777".parse().unwrap());
    h.cmd(C::Connect { user: "alice".into() });
    h.cmd(C::Start { peer: "127.0.0.2".into() });
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    h.expect_sent(&[w(peer(), Kind::Syn, 0, "alice", ""), w(peer(), Kind::SynAck, 0, "alice", "")]);
    h.events();
    h.recv(peer(), Kind::SynAck, 0, "bob", ""); // it accepted our call as we accepted its own
    h.expect_sent(&[w(peer(), Kind::Ack, 0, "alice", "")]);
    h.expect_events(&[established()]);
    assert_eq!(h.ep.state(), StateName::Chatting);
    h.recv(peer(), Kind::Ack, 0, "bob", ""); // its answer to our SYN+ACK is no chat ACK
    h.chat("hi", "1");
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.expect_events(&[queued("1"), delivered("1")]);
}

#[test]
fn simultaneous_open_when_both_take_themselves_for_the_lower_address() {
    let mut h = H::connected(); // 127.0.0.1: lower than the peer's 127.0.0.2
    h.cmd(C::Start { peer: "127.0.0.2".into() });
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    h.expect_sent(&[w(peer(), Kind::Syn, 0, "alice", "")]);
    h.expect_events(&[calling()]);
    h.wait(T);
    h.expect_sent(&[w(peer(), Kind::Syn, 0, "alice", "")]);
    h.recv(peer(), Kind::Syn, 0, "bob", ""); // still calling: it did not accept ours
    h.expect_sent(&[w(peer(), Kind::SynAck, 0, "alice", "")]);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.expect_events(&[established()]);
}

#[test]
fn two_daemons_that_see_each_other_at_other_addresses_end_up_in_one_chat() {
    use crate::sim::{Link, Side, Sim};
    // Each daemon's own idea of its address differs from where its datagrams come from (bound
    // to 0.0.0.0, or behind a NAT): (A thinks, A seen at, B thinks, B seen at).
    let cases = [
        ("127.0.0.9:7777", "127.0.0.1:7777", "127.0.0.5:7777", "127.0.0.2:7777"), // both higher
        ("127.0.0.1:7777", "127.0.0.6:7777", "127.0.0.5:7777", "127.0.0.2:7777"), // both lower
    ];
    for (a_local, a_seen, b_local, b_seen) in cases {
        let config = |local: &str| {
            let mut c = Config::new(local.parse().unwrap());
            c.timeout = Duration::from_millis(200);
            c
        };
        let mut sim = Sim::new(1, config(a_local), config(b_local), Link::perfect(Duration::from_millis(10)));
        sim.a.addr = a_seen.parse().unwrap();
        sim.b.addr = b_seen.parse().unwrap();
        sim.command(Side::A, C::Connect { user: "alice".into() });
        sim.command(Side::B, C::Connect { user: "bob".into() });
        sim.command(Side::A, C::Start { peer: b_seen.into() });
        sim.command(Side::B, C::Start { peer: a_seen.into() });
        let both = |s: &Sim| s.a.ep.state() == StateName::Chatting && s.b.ep.state() == StateName::Chatting;
        assert!(
            sim.run_until(Duration::from_secs(5), both),
            "{a_local}: A {} B {}",
            sim.a.ep.state(),
            sim.b.ep.state()
        );
        sim.command(Side::A, C::Chat { text: "hi".into(), id: None, utf8: None });
        sim.command(Side::B, C::Chat { text: "hello".into(), id: None, utf8: None });
        assert!(sim.run_until(Duration::from_secs(10), |s| [&s.a.events, &s.b.events]
            .iter()
            .all(|e| e.iter().any(|e| matches!(e, Event::Delivered { .. })))));
        assert_eq!(messages(&sim.a.events), ["hello"]);
        assert_eq!(messages(&sim.b.events), ["hi"]);
    }
}

// ----- calls that can never work -----

#[test]
fn start_refuses_calls_that_can_never_work_and_says_why() {
    let mut h = H::with(|c| c.client_port = Some(7778));
    h.cmd(C::Connect { user: "alice".into() });
    h.events();
    let cases = [
        ("0.0.0.0", "any address"),
        ("[::]:7777", "any address"),
        ("224.0.0.1", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("[::1]:7777", "IPv6 address and this daemon's socket (127.0.0.1:7777) is IPv4"),
        ("127.0.0.1", "this daemon itself"),
        ("127.0.0.1:7778", "own client port"),
    ];
    for (peer, why) in cases {
        h.cmd(C::Start { peer: peer.into() });
        match h.events().as_slice() {
            [Event::Refused(e)] if e.code() == ErrorCode::BadPeer => {
                assert!(e.to_string().contains(why), "{peer}: {e}")
            }
            other => panic!("{peer}: {other:?}"),
        }
        h.expect_sent(&[]);
        assert_eq!(h.ep.state(), StateName::Idle);
    }
    // A daemon bound to `::` reaches IPv4 peers too; one bound to ::1 does not.
    for (local, callable) in [("[::]:7777", true), ("[::1]:7777", false)] {
        let mut h = H::with(|c| c.local = local.parse().unwrap());
        h.cmd(C::Connect { user: "alice".into() });
        h.cmd(C::Start { peer: "127.0.0.5:7000".into() });
        assert_eq!(h.ep.state() == StateName::Calling, callable, "{local}");
    }
    // A daemon bound to 0.0.0.0 is reached at every loopback address.
    let mut h = H::with(|c| c.local = "0.0.0.0:7777".parse().unwrap());
    h.cmd(C::Connect { user: "alice".into() });
    h.cmd(C::Start { peer: "127.0.0.5".into() });
    assert_eq!(code(&h.events()[1..]), [ErrorCode::BadPeer]);
    h.cmd(C::Start { peer: "127.0.0.5:7000".into() });
    h.expect_sent(&[w("127.0.0.5:7000".parse().unwrap(), Kind::Syn, 0, "alice", "")]);
}
