//! Codec and engine speed: `cargo bench -p simp-proto`.
//!
//! Targets (issue "Protocol core"): parse + emit ≥ 10 M datagrams/s; one chat datagram
//! through `handle_datagram` and the drain of its ACK and event ≤ 1 µs.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use simp_proto::ipc::Command;
use simp_proto::wire::{Datagram, Kind, Seq, UserName};
use simp_proto::{Config, Endpoint, Instant, Stored};

fn chat_bytes(seq: Seq, text: &str) -> Vec<u8> {
    let bob = UserName::new("bob").unwrap();
    Datagram::new(Kind::Chat, seq, Some(&bob), text.as_bytes()).to_vec()
}

fn codec(c: &mut Criterion) {
    let bytes = chat_bytes(Seq::One, "Hello, Alice! How are you today?");
    let mut g = c.benchmark_group("wire");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse", |b| b.iter(|| Datagram::parse(black_box(&bytes)).unwrap().seq()));
    let mut out = Vec::with_capacity(1024);
    g.bench_function("parse+emit", |b| {
        b.iter(|| {
            out.clear();
            Datagram::parse(black_box(&bytes)).unwrap().emit_into(&mut out);
            out.len()
        })
    });
    g.finish();
}

/// An endpoint in a chat with 127.0.0.2:7777, as alice.
fn chatting() -> (Endpoint, SocketAddr) {
    let peer: SocketAddr = "127.0.0.2:7777".parse().unwrap();
    let mut ep = Endpoint::new(Config::new("127.0.0.1:7777".parse().unwrap()));
    let now = Instant::ZERO;
    ep.handle_command(now, Command::Connect { user: "alice".into() });
    ep.handle_command(now, Command::Start { peer: peer.to_string() });
    let bob = UserName::new("bob").unwrap();
    ep.handle_datagram(now, peer, &Datagram::new(Kind::SynAck, Seq::Zero, Some(&bob), b"").to_vec());
    while ep.poll_transmit().is_some() {}
    while ep.poll_event().is_some() {}
    (ep, peer)
}

fn endpoint(c: &mut Criterion) {
    let mut g = c.benchmark_group("endpoint");
    g.throughput(Throughput::Elements(1));
    let (mut ep, peer) = chatting();
    let datagrams = [chat_bytes(Seq::Zero, "Hello, Alice! How are you today?"), chat_bytes(Seq::One, "Fine, thanks.")];
    let mut i = 0usize;
    let mut now = Instant::ZERO;
    g.bench_function("receive chat + drain ACK and event", |b| {
        b.iter(|| {
            now += Duration::from_micros(1);
            ep.handle_datagram(now, peer, black_box(&datagrams[i & 1]));
            if ep.poll_persist().is_some() {
                ep.handle_persisted(now, Some(Stored { first_id: i as u64, at: 0 }));
            }
            i += 1;
            let mut n = 0;
            while let Some(t) = ep.poll_transmit() {
                n += t.bytes().len();
            }
            while let Some(e) = ep.poll_event() {
                black_box(e);
            }
            n
        })
    });
    let (mut ep, peer) = chatting();
    let bob = UserName::new("bob").unwrap();
    let acks = [Seq::Zero, Seq::One].map(|s| Datagram::new(Kind::Ack, s, Some(&bob), b"").to_vec());
    let mut i = 0usize;
    g.bench_function("send chat + its ACK (round trip through the engine)", |b| {
        b.iter(|| {
            now += Duration::from_micros(1);
            ep.handle_command(now, Command::Chat { text: "ping".into(), id: None, utf8: None });
            while let Some(t) = ep.poll_transmit() {
                black_box(t);
            }
            ep.handle_datagram(now, peer, &acks[i & 1]);
            i += 1;
            while let Some(e) = ep.poll_event() {
                black_box(e);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, codec, endpoint);
criterion_main!(benches);
