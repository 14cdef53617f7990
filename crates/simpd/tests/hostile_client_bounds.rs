//! A TCP client that sends commands and never reads (issue 12, defect 1), and a connection
//! that never sends `connect` (defect 5): neither grows the daemon nor holds the one client
//! slot (127.0.41.x).
//!
//! `cargo nextest run -p simpd --test hostile_client_bounds`

mod common;
mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream as StdTcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{ip, start_daemon, Ipc, WAIT};
use serde_json::json;
use support::{status, SimpdProcess};

/// The bound of the issue: the daemon's resident memory while the commands arrive.
const RSS_BOUND_KIB: u64 = 32 * 1024;
/// What the client sends without reading a reply.
const FLOOD_BYTES: usize = 10 * 1000 * 1000;

#[tokio::test]
async fn a_client_that_never_reads_its_replies_does_not_grow_the_daemon() {
    let daemon = SimpdProcess::spawn(ip(41, 1), &[]);
    let rss_before = daemon.rss_kib();
    let mut flooder = StdTcpStream::connect(daemon.client).expect("connect to the client port");
    flooder.write_all(b"{\"cmd\":\"connect\",\"user\":\"flood\"}\n").expect("write connect");
    // `status` (a reply of some 300 bytes per 17-byte line) and junk (an error per line).
    let mut lines = Vec::new();
    while lines.len() < FLOOD_BYTES {
        lines.extend_from_slice(b"{\"cmd\":\"status\"}\njunk\n");
    }
    let written = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writer = flooder.try_clone().expect("clone the stream");
    writer.set_write_timeout(Some(Duration::from_millis(50))).expect("set a write timeout");
    let (progress, stopping) = (Arc::clone(&written), Arc::clone(&stop));
    // Writes until all is sent or the test says stop (a write that blocks is retried).
    let writing = std::thread::spawn(move || {
        let mut at = 0;
        while at < lines.len() && !stopping.load(Ordering::Relaxed) {
            match writer.write(&lines[at..(at + 64 * 1024).min(lines.len())]) {
                Ok(0) => return,
                Ok(n) => {
                    at += n;
                    progress.store(at, Ordering::Relaxed);
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return,
            }
        }
    });

    // Until the commands stop being taken (the daemon no longer reads them) or all are sent.
    let started = Instant::now();
    let mut max_rss = rss_before;
    let (mut last, mut still_since) = (0, Instant::now());
    while !writing.is_finished() && still_since.elapsed() < Duration::from_secs(1) && started.elapsed() < WAIT {
        max_rss = max_rss.max(daemon.rss_kib());
        let now = written.load(Ordering::Relaxed);
        if now != last {
            (last, still_since) = (now, Instant::now());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    max_rss = max_rss.max(daemon.rss_kib());
    let taken = written.load(Ordering::Relaxed);
    println!("RSS {rss_before} KiB before, at most {max_rss} KiB while {taken} of {FLOOD_BYTES} bytes were taken");
    assert!(max_rss < RSS_BOUND_KIB, "RSS reached {max_rss} KiB (bound {RSS_BOUND_KIB} KiB); {taken} bytes taken");
    assert!(taken < FLOOD_BYTES, "all {taken} bytes were read by a daemon whose client reads nothing");

    // The daemon still serves: a status query from another connection is answered.
    let mut query = Ipc::connect("query", daemon.client).await;
    assert_eq!(status(&mut query).await["state"], "idle");

    // Once the client reads, the daemon reads its commands again.
    flooder.set_read_timeout(Some(WAIT)).expect("set a read timeout");
    let mut replies = vec![0u8; 64 * 1024];
    let mut read = 0;
    while read < 8 * 1024 * 1024 {
        match flooder.read(&mut replies) {
            Ok(0) | Err(_) => panic!("the daemon closed or stalled a client that reads again (after {read} bytes)"),
            Ok(n) => read += n,
        }
    }
    assert!(written.load(Ordering::Relaxed) > taken, "reading the replies did not let more commands in");

    // Gone without reading the rest: the slot is free for the next client.
    stop.store(true, Ordering::Relaxed);
    writing.join().expect("the writer thread");
    drop(flooder);
    let deadline = Instant::now() + WAIT;
    loop {
        let mut next = Ipc::connect("next", daemon.client).await;
        next.send(json!({"cmd": "connect", "user": "next"})).await;
        let event = next.next_event().await;
        if event["event"] == "connected" {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was not freed within {WAIT:?}: {event}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_connection_that_never_sends_connect_gives_the_slot_up_after_the_deadline() {
    let deadline = Duration::from_millis(300);
    let daemon = start_daemon(ip(41, 2), |c| c.connect_deadline = deadline);
    let mut silent = Ipc::connect("silent", daemon.client).await;

    let mut early = Ipc::connect("early", daemon.client).await;
    early.send(json!({"cmd": "connect", "user": "early"})).await;
    early.expect(json!({"event": "error", "code": "client-busy"})).await;

    // Alone past its deadline, it keeps the slot (a user may be typing a name).
    tokio::time::sleep(deadline * 2).await;
    status(&mut silent).await;

    // Past it, the next client that wants the slot gets it.
    let mut late = Ipc::login(daemon.client, "late").await;
    silent.expect(json!({"event": "error", "code": "not-connected"})).await;
    silent.expect_closed().await;
    assert_eq!(status(&mut late).await["state"], "idle");
}
