//! Bad datagrams mid-chat: the real `simpd` binary (a separate process, so its memory can be
//! read from /proc) chats with an in-process daemon while a stranger sends it every invalid
//! vector of the shared test data, truncated and oversized datagrams, and 100,000 seeded random
//! ones. It stays up, the chat loses and duplicates nothing, and its memory stays flat
//! (127.0.21.x).
//!
//! `cargo nextest run -p simpd --test hostile_datagrams`

mod common;
mod support;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{chat, control, datagram, ip, start_daemon, Ipc};
use serde_json::{json, Value};
use simp_proto::rng::Rng;
use simp_proto::wire;
use support::{assert_exactly_once_in_order, exchange, seed, status, udp_socket, Pace, SimpdProcess};

/// The largest UDP payload over IPv4.
const MAX_UDP: usize = 65_507;
const RANDOM_DATAGRAMS: usize = 100_000;

/// Every datagram the stranger sends, in order: the invalid vectors, truncations and length
/// lies of valid datagrams, oversized ones, then the seeded random ones (generated lazily).
fn fixed_junk() -> Vec<Vec<u8>> {
    let data: Value = serde_json::from_str(include_str!("../../simp-proto/tests/data/datagrams.json")).expect("JSON");
    let mut junk: Vec<Vec<u8>> = data["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .filter(|v| v["valid"] == false)
        .map(|v| decode_hex(v["hex"].as_str().expect("hex")))
        .collect();
    assert!(junk.len() >= 10, "the shared vectors hold at least 10 invalid datagrams, found {}", junk.len());
    let valid = [
        control(wire::OP_SYN, 0, "mallory"),
        control(wire::OP_FIN, 0, "mallory"),
        control(wire::OP_ACK, 1, "mallory"),
        chat(0, "mallory", "a chat datagram cut short"),
    ];
    for d in &valid {
        // Truncated at every length, and with a length field one too high, one too low, huge.
        junk.extend((0..d.len()).map(|n| d[..n].to_vec()));
        for delta in [1i64, -1, i64::from(u32::MAX)] {
            let mut lie = d.clone();
            let len = (d.len() - wire::HEADER_LEN) as i64 + delta;
            lie[35..39].copy_from_slice(&(len.clamp(0, i64::from(u32::MAX)) as u32).to_be_bytes());
            junk.push(lie);
        }
    }
    // Oversized: the largest UDP payload with a length field that lies, and one that is honest
    // (a valid 65,468-byte chat datagram, from a stranger: dropped as such).
    let mut big = datagram(wire::TYPE_CHAT, wire::OP_CHAT, 0, "mallory", &vec![b'x'; MAX_UDP - wire::HEADER_LEN]);
    junk.push(big.clone());
    big[35..39].copy_from_slice(&5u32.to_be_bytes());
    junk.push(big);
    junk
}

fn decode_hex(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit")).collect()
}

/// One random datagram: a length in 0..=65,507 (a quarter uniform over the whole range, the
/// rest up to 1,100 bytes, where headers and typical payloads live) and, half the time, a header
/// with plausible fields (type 1/2, operations of the table or not, seq 0/1/other, a length
/// field honest or not); the rest is noise from `pool`.
fn random_datagram(rng: &mut Rng, pool: &[u8], out: &mut Vec<u8>) {
    let len = if rng.chance(0.25) { rng.range(0, MAX_UDP) } else { rng.range(0, 1_100) };
    let start = rng.range(0, pool.len() - MAX_UDP);
    out.clear();
    out.extend_from_slice(&pool[start..start + len]);
    if len >= wire::HEADER_LEN && rng.chance(0.5) {
        out[0] = [wire::TYPE_CONTROL, wire::TYPE_CHAT, rng.byte()][rng.range(0, 2)];
        out[1] = [wire::OP_ERR, wire::OP_SYN, wire::OP_ACK, wire::OP_FIN, wire::OP_SYN | wire::OP_ACK, rng.byte()]
            [rng.range(0, 5)];
        out[2] = [0, 1, rng.byte()][rng.range(0, 2)];
        let honest = (len - wire::HEADER_LEN) as u32;
        let field =
            if rng.chance(0.5) { honest } else { honest.wrapping_add(rng.next_u64() as u32 % 3).wrapping_sub(1) };
        out[35..39].copy_from_slice(&field.to_be_bytes());
    }
}

/// What the stranger did, and what the kernel says the daemon's socket went through.
#[derive(Debug, Default)]
struct Blast {
    datagrams: usize,
    bytes: usize,
    kernel_drops: u64,
}

/// Sends every junk datagram to `target`, pacing on the daemon's receive queue (read from
/// /proc/net/udp) so that the daemon, not the kernel, is what meets them.
fn blast(target: SocketAddr, seed: u64, running: Arc<AtomicBool>) -> Blast {
    let socket = UdpSocket::bind((ip(21, 9), 0)).expect("stranger binds");
    let (_, drops_before) = udp_socket(target).expect("the daemon's socket is in /proc/net/udp");
    let mut rng = Rng::new(seed);
    let mut pool = vec![0u8; 2 * MAX_UDP];
    rng.fill(&mut pool);
    let mut report = Blast::default();
    // Reading /proc/net/udp costs more than a send: look at the queue every 32 KiB or 16 sends.
    let mut unchecked = (0usize, 0usize);
    let mut send = |bytes: &[u8], report: &mut Blast| {
        if unchecked.0 >= 32 * 1024 || unchecked.1 >= 16 {
            while udp_socket(target).is_some_and(|(queued, _)| queued > 64 * 1024) {
                thread::sleep(Duration::from_micros(200));
            }
            unchecked = (0, 0);
        }
        unchecked = (unchecked.0 + bytes.len(), unchecked.1 + 1);
        // A full send buffer is the only expected failure; try again.
        while socket.send_to(bytes, target).is_err() {
            thread::sleep(Duration::from_micros(200));
        }
        report.datagrams += 1;
        report.bytes += bytes.len();
    };
    for d in fixed_junk() {
        send(&d, &mut report);
    }
    let mut buf = Vec::with_capacity(MAX_UDP);
    for _ in 0..RANDOM_DATAGRAMS {
        random_datagram(&mut rng, &pool, &mut buf);
        send(&buf, &mut report);
    }
    running.store(false, Ordering::SeqCst);
    report.kernel_drops = udp_socket(target).map_or(0, |(_, d)| d) - drops_before;
    report
}

#[tokio::test]
async fn junk_datagrams_mid_chat_change_nothing_and_memory_stays_flat() {
    let seed = seed(0x5EED_0002);
    let args = ["--timeout", "100ms", "--retries", "50"];
    let mut bob = SimpdProcess::spawn(ip(21, 1), &args);
    let alice = start_daemon(ip(21, 2), |c| {
        c.endpoint.timeout = Duration::from_millis(100);
        c.endpoint.retries = 50;
    });
    let mut ca = Ipc::login(alice.client, "alice").await;
    let mut cb = Ipc::login(bob.client, "bob").await;
    ca.send(json!({"cmd": "start", "peer": bob.udp.to_string()})).await;
    ca.expect(json!({"event": "calling"})).await;
    cb.expect(json!({"event": "request", "user": "alice"})).await;
    cb.send(json!({"cmd": "accept"})).await;
    ca.expect(json!({"event": "established", "user": "bob"})).await;
    cb.expect(json!({"event": "established", "user": "alice"})).await;

    // Warm-up: one exchange, so that buffers the daemon keeps anyway exist before measuring.
    let warm = Pace { count: 20, every: Duration::ZERO };
    let settle = Duration::from_millis(300);
    let (a, b) = exchange(&mut ca, &mut cb, warm, settle, "", Duration::from_secs(30)).await;
    assert_exactly_once_in_order(&a, "a", "b", 20, "");
    assert_exactly_once_in_order(&b, "b", "a", 20, "");
    let rss_before = bob.rss_kib();

    let running = Arc::new(AtomicBool::new(true));
    let started = Instant::now();
    let blaster = {
        let (target, running) = (bob.udp, Arc::clone(&running));
        thread::spawn(move || blast(target, seed, running))
    };
    // Chat all along the blast: one message each way every 10 ms until it is over.
    let mut sent = 0;
    while running.load(Ordering::SeqCst) {
        ca.send(json!({"cmd": "chat", "text": format!("during {sent}"), "id": format!("d{sent}")})).await;
        cb.send(json!({"cmd": "chat", "text": format!("during {sent}"), "id": format!("e{sent}")})).await;
        sent += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(started.elapsed() < Duration::from_secs(120), "the blast did not end within 120 s (seed {seed})");
    }
    let report = blaster.join().expect("the blasting thread panicked");
    let elapsed = started.elapsed();
    for (client, mine, theirs) in [(&mut ca, "d", "bob"), (&mut cb, "e", "alice")] {
        let mut events = Vec::new();
        while support::count(&events, "delivered") < sent || support::count(&events, "message") < sent {
            events.push(client.next_event().await);
        }
        let ids: Vec<String> = (0..sent).map(|i| format!("{mine}{i}")).collect();
        let texts: Vec<String> = (0..sent).map(|i| format!("during {i}")).collect();
        assert_eq!(support::field_of(&events, "delivered", "id"), ids, "seed {seed}");
        assert_eq!(support::field_of(&events, "message", "text"), texts, "seed {seed}");
        assert!(events.iter().all(|e| e["event"] != "undelivered" && e["event"] != "error"), "{events:?}");
        assert!(events.iter().filter(|e| e["event"] == "message").all(|e| e["user"] == theirs));
    }
    let st = status(&mut cb).await;
    assert_eq!(st["state"], "chatting", "{st}");
    assert_eq!(st["received"].as_u64(), Some(20 + sent as u64), "no extra message: {st}");
    assert!(bob.is_running(), "simpd died under junk (seed {seed})");
    let rss_after = bob.rss_kib();
    println!(
        "{} junk datagrams ({} MiB) in {:.1} s (seed {seed}); kernel drops at simpd's socket: {}; \
         chat during the blast: {sent} messages each way, all delivered once; simpd RSS {rss_before} KiB -> {rss_after} KiB",
        report.datagrams,
        report.bytes >> 20,
        elapsed.as_secs_f64(),
        report.kernel_drops,
    );
    assert!(report.datagrams > RANDOM_DATAGRAMS);
    assert!(sent >= 10, "the chat must overlap the blast");
    assert!(rss_after < rss_before + 5 * 1024, "simpd grew from {rss_before} KiB to {rss_after} KiB (seed {seed})");
}
