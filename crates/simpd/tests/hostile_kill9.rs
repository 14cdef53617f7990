//! The receiving daemon killed with SIGKILL at seeded random points of a 2,000-message stream
//! and restarted on the same address and state directory (issue 12): what its sender saw
//! `delivered` is in its store exactly once (127.0.42.x).
//!
//! Each run of the stream opens a chat, sends its messages at once, and kills the receiver
//! after a random number of `delivered` events were read (the daemon runs ahead of the test's
//! reading, so the kill lands anywhere from mid-stream to after the run's last ACK). The
//! sender notices a killed receiver only while something is in flight (the restarted one
//! drops the chat's datagrams as a stranger's, SPEC 2.5): after the run's last ACK nothing
//! would end the chat, so the test leaves it itself.
//!
//! `cargo nextest run -p simpd --test hostile_kill9`

mod common;
mod support;

use std::collections::HashMap;
use std::time::Duration;

use common::{ip, start_daemon, Ipc, StateDir};
use serde_json::{json, Value};
use simp_proto::rng::Rng;
use support::{seed, SimpdProcess};

const MESSAGES: usize = 2_000;
const KILLS: usize = 20;

#[tokio::test]
async fn a_receiver_killed_20_times_keeps_every_delivered_message_exactly_once() {
    let seed = seed(12_2000);
    let mut rng = Rng::new(seed);
    let state = StateDir::new("kill9");
    let receiver_args = ["--state-dir", state.arg(), "--timeout", "100ms", "--retries", "3", "--auto-accept"];
    let mut receiver = SimpdProcess::spawn_at(ip(42, 2), 7777, 7778, &receiver_args);
    let peer = receiver.udp.to_string();
    let sender = start_daemon(ip(42, 1), |c| {
        c.endpoint.timeout = Duration::from_millis(100);
        c.endpoint.retries = 4;
    });
    let mut alice = Ipc::login(sender.client, "alice").await;

    // The stream in KILLS + 1 runs; each but the last ends with a kill after a random number
    // of its messages were delivered.
    let mut cuts: Vec<usize> = (0..KILLS).map(|_| rng.range(1, MESSAGES)).collect();
    cuts.sort_unstable();
    cuts.push(MESSAGES);
    let mut outcome: HashMap<String, &str> = HashMap::new();
    let mut start = 0;
    let mut kills = 0;
    let mut refused = 0;
    for (run, &end) in cuts.iter().enumerate() {
        loop {
            alice.send(json!({"cmd": "start", "peer": peer})).await;
            let opened = alice
                .expect_event("established or ended", |e| e["event"] == "established" || e["event"] == "ended")
                .await;
            if opened["event"] == "established" {
                break;
            }
        }
        let run_len = end - start;
        for i in start..end {
            alice.send(json!({"cmd": "chat", "text": format!("m{i}"), "id": format!("m{i}")})).await;
        }
        let last = run == cuts.len() - 1;
        let kill_after = if last { run_len + 1 } else { rng.range(0, run_len) };
        let (mut settled, mut delivered, mut ended, mut killed, mut left) = (0, 0, false, false, false);
        while settled < run_len || !ended {
            if delivered == kill_after && !killed {
                killed = true;
                receiver.kill9();
                kills += 1;
                receiver = SimpdProcess::spawn_at(ip(42, 2), 7777, 7778, &receiver_args);
            }
            if settled == run_len && !ended && !left {
                left = true;
                // Everything settled while the chat stays open (a kill after the last ACK
                // leaves nothing in flight to notice it): end the chat ourselves.
                alice.send(json!({"cmd": "leave"})).await;
            }
            let event = alice.next_event().await;
            match event["event"].as_str() {
                Some("delivered") => {
                    delivered += 1;
                    settled += 1;
                    outcome.insert(id(&event), "delivered");
                }
                Some("undelivered") => {
                    settled += 1;
                    outcome.insert(id(&event), "undelivered");
                }
                Some("queued") => {
                    outcome.insert(id(&event), "queued");
                }
                // A chat command read after the sender gave the chat up (the receiver was
                // gone): refused, never accepted. Which one is told by the missing `queued`.
                Some("error") if event["code"] == "not-in-chat" && settled < run_len => {
                    settled += 1;
                    refused += 1;
                }
                Some("ended") => ended = true,
                _ => {}
            }
        }
        start = end;
    }
    assert!(kills >= KILLS, "only {kills} kills (seed {seed})");

    // What the receiver stored, read back with `history`, 1000 at a time.
    let mut bob = Ipc::login(receiver.client, "bob").await;
    let mut texts: Vec<String> = Vec::new();
    let mut before: Option<u64> = None;
    loop {
        let mut query = json!({"cmd": "history", "limit": 1000});
        if let Some(before) = before {
            query["before"] = json!(before);
        }
        bob.send(query).await;
        let mut page = Vec::new();
        loop {
            let event = bob.next_event().await;
            match event["event"].as_str() {
                Some("history") => page.push(event),
                Some("history-end") => break,
                _ => {}
            }
        }
        let Some(first) = page.first() else { break };
        before = first["id"].as_u64();
        texts.extend(page.iter().filter(|e| e["direction"] == "in").map(text));
    }
    let mut count: HashMap<&str, usize> = HashMap::new();
    for t in &texts {
        *count.entry(t).or_default() += 1;
    }
    let mut wrong = Vec::new();
    for i in 0..MESSAGES {
        let name = format!("m{i}");
        let stored = count.get(name.as_str()).copied().unwrap_or(0);
        match outcome.get(&name).copied() {
            Some("delivered") if stored != 1 => wrong.push(format!("{name}: delivered, stored {stored} times")),
            // Stored, then the daemon was killed before its ACK left: at most once.
            Some("undelivered") if stored > 1 => wrong.push(format!("{name}: undelivered, stored {stored} times")),
            Some("queued") => wrong.push(format!("{name}: queued, neither delivered nor undelivered")),
            None if stored != 0 => wrong.push(format!("{name}: refused, yet stored {stored} times")),
            _ => {}
        }
    }
    let tally = |what: &str| outcome.values().filter(|o| **o == what).count();
    println!(
        "seed {seed}: {kills} kills; {} delivered, {} undelivered, {refused} refused (the chat was over), {} stored by the receiver",
        tally("delivered"),
        tally("undelivered"),
        count.len()
    );
    assert!(wrong.is_empty(), "seed {seed}: {wrong:?}");
}

fn id(event: &Value) -> String {
    event["id"].as_str().unwrap_or_default().to_owned()
}

fn text(event: &Value) -> String {
    event["text"].as_str().unwrap_or_default().to_owned()
}
