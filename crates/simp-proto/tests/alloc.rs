//! The receive path allocates nothing per datagram beyond the delivered text: the ACK is
//! built inline, the sender's name is shared, queues are reused. Counted with dhat's heap
//! statistics (deterministic: allocation counts, not time).

use std::net::SocketAddr;

use simp_proto::ipc::{Command, Event};
use simp_proto::wire::{Datagram, Kind, Seq, UserName};
use simp_proto::{Config, Endpoint, Instant, Stored};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// How many times the measured scenario may run. dhat counts every thread's allocations, and
/// the test harness's main thread allocates right after it spawns the test's thread (it files
/// the running test, then registers itself as a waiter on its result channel): on a busy
/// machine that lands inside the measured window (seen: 1002 and 1004 instead of 1000).
/// Another thread can only add to the count, and the scenario is the same each time, so the
/// fewest allocations seen in a fresh run is the receive path's own figure.
const RUNS: usize = 5;

#[test]
fn one_allocation_per_received_chat_datagram() {
    // dhat writes its profile when the profiler drops: into a temporary file, removed after a
    // passing run, never into the work tree.
    let profile = std::env::temp_dir().join(format!("simp-dhat-{}.json", std::process::id()));
    let profiler = dhat::Profiler::builder().testing().file_name(&profile).build();
    let mut counts = Vec::new();
    while counts.len() < RUNS && !counts.contains(&1000) {
        let (delivered, allocations) = received_chat_allocations();
        dhat::assert_eq!(delivered, 1100);
        counts.push(allocations);
    }
    // Exactly the message texts: one String each.
    let fewest = counts.iter().copied().min().unwrap_or(u64::MAX);
    dhat::assert!(fewest == 1000, "allocations per 1000 received datagrams, run by run: {counts:?}");
    drop(profiler);
    let _ = std::fs::remove_file(&profile);
}

/// A fresh endpoint in a chat receives 1100 chat datagrams: how many reached the client as
/// messages, and how many heap blocks the last 1000 of them took.
fn received_chat_allocations() -> (usize, u64) {
    let peer: SocketAddr = "127.0.0.2:7777".parse().unwrap();
    let mut ep = Endpoint::new(Config::new("127.0.0.1:7777".parse().unwrap()));
    let now = Instant::ZERO;
    let bob = UserName::new("bob").unwrap();
    ep.handle_command(now, Command::Connect { user: "alice".into() });
    ep.handle_command(now, Command::Start { peer: peer.to_string() });
    ep.handle_datagram(now, peer, &Datagram::new(Kind::SynAck, Seq::Zero, Some(&bob), b"").to_vec());
    let datagrams = [Seq::Zero, Seq::One].map(|s| Datagram::new(Kind::Chat, s, Some(&bob), b"hello there").to_vec());
    let mut delivered = 0;
    let mut run = |ep: &mut Endpoint, n: usize| {
        for i in 0..n {
            ep.handle_datagram(now, peer, &datagrams[i & 1]);
            if ep.poll_persist().is_some() {
                ep.handle_persisted(now, Some(Stored { first_id: i as u64, at: 0 }));
            }
            while let Some(t) = ep.poll_transmit() {
                assert!(!t.bytes().is_empty());
            }
            while let Some(e) = ep.poll_event() {
                delivered += usize::from(matches!(e, Event::Message { .. }));
            }
        }
    };
    run(&mut ep, 100); // warm-up: queues reach their working size
    let before = dhat::HeapStats::get();
    run(&mut ep, 1000);
    let after = dhat::HeapStats::get();
    (delivered, after.total_blocks - before.total_blocks)
}
