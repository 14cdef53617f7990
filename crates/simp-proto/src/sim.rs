//! A virtual network for two endpoints: virtual time that jumps to the next event, and seeded
//! loss, duplication and delay that keeps each direction in order (SPEC 4: the alternating
//! bit assumes order). Every datagram put on the wire is logged with what caused it, so tests
//! can check that re-sends happen on timeouts only. The second endpoint may instead be a
//! [`QuirkyPeer`]: a peer as some students wrote it, with one quirk (SPEC 3).

mod quirky;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use crate::ipc::{Command, Event};
use crate::rng::Rng;
use crate::{Config, Endpoint, Instant};
pub use quirky::{Quirk, QuirkyPeer};

/// What the simulation drives: an [`Endpoint`], or a [`QuirkyPeer`], through the drive
/// contract of the crate docs.
pub trait Peer {
    /// A datagram arrived.
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]);
    /// A client command.
    fn handle_command(&mut self, now: Instant, cmd: Command);
    /// Time reached [`Peer::poll_timeout`].
    fn handle_timeout(&mut self, now: Instant);
    /// When to call [`Peer::handle_timeout`] next.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The next event for the client.
    fn poll_event(&mut self) -> Option<Event>;
    /// The next datagram to send: where, and its bytes.
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)>;
    /// Stores the message waiting for a store, if any, under ids from `first_id` on, as a
    /// shell whose store never fails; returns how many parts it took (0: none waited).
    fn store(&mut self, _now: Instant, _first_id: u64) -> usize {
        0
    }
}

impl Peer for Endpoint {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        Endpoint::handle_datagram(self, now, from, bytes);
    }
    fn handle_command(&mut self, now: Instant, cmd: Command) {
        Endpoint::handle_command(self, now, cmd);
    }
    fn handle_timeout(&mut self, now: Instant) {
        Endpoint::handle_timeout(self, now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Endpoint::poll_timeout(self)
    }
    fn poll_event(&mut self) -> Option<Event> {
        Endpoint::poll_event(self)
    }
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        Endpoint::poll_transmit(self).map(|t| (t.to, t.bytes().to_vec()))
    }
    fn store(&mut self, now: Instant, first_id: u64) -> usize {
        let Some(parts) = self.poll_persist().map(|m| m.parts().count()) else { return 0 };
        let at = u64::try_from(now.as_duration().as_millis()).unwrap_or(u64::MAX);
        self.handle_persisted(now, Some(crate::Stored { first_id, at }));
        parts
    }
}

/// Which of the two endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The first endpoint.
    A,
    /// The second endpoint.
    B,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// What made an endpoint send a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A datagram arrived.
    Datagram,
    /// A client command.
    Command,
    /// A timer fired.
    Timeout,
}

/// One datagram as it left an endpoint.
#[derive(Debug, Clone)]
pub struct Sent {
    /// When.
    pub at: Instant,
    /// Who sent it.
    pub from: Side,
    /// Why.
    pub cause: Cause,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Whether the link delivered it (false: lost).
    pub delivered: bool,
}

/// Link impairments, the same for both directions.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// Probability that a delivered datagram arrives twice.
    pub duplicate: f64,
    /// Smallest one-way delay.
    pub delay_min: Duration,
    /// Largest one-way delay (order is kept regardless).
    pub delay_max: Duration,
}

impl Link {
    /// A perfect link with a fixed delay.
    pub fn perfect(delay: Duration) -> Link {
        Link { loss: 0.0, duplicate: 0.0, delay_min: delay, delay_max: delay }
    }
}

/// One endpoint in the simulation, with the events its client saw.
#[derive(Debug)]
pub struct Node<P = Endpoint> {
    /// The engine.
    pub ep: P,
    /// Its address.
    pub addr: SocketAddr,
    /// Every event it reported, in order.
    pub events: Vec<Event>,
    /// Message parts its store holds (the sim's store is this count).
    pub stored: u64,
}

#[derive(Debug)]
struct Packet {
    at: Instant,
    from: SocketAddr,
    bytes: Vec<u8>,
}

/// Two endpoints joined by an impaired link.
#[derive(Debug)]
pub struct Sim<B = Endpoint> {
    /// Virtual now.
    pub now: Instant,
    /// Endpoint A.
    pub a: Node,
    /// Endpoint B.
    pub b: Node<B>,
    /// The link.
    pub link: Link,
    /// Every datagram sent by either side.
    pub log: Vec<Sent>,
    to_a: VecDeque<Packet>,
    to_b: VecDeque<Packet>,
    rng: Rng,
}

impl Sim {
    /// Two endpoints with the given configurations (their `local` are their addresses).
    pub fn new(seed: u64, a: Config, b: Config, link: Link) -> Sim {
        let addr = b.local;
        Sim::with_peer(seed, a, Endpoint::new(b), addr, link)
    }

    /// One side's node.
    pub fn node(&mut self, side: Side) -> &mut Node {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }
}

impl<B: Peer> Sim<B> {
    /// An endpoint configured by `a`, and `b` at `b_addr`.
    pub fn with_peer(seed: u64, a: Config, b: B, b_addr: SocketAddr, link: Link) -> Sim<B> {
        Sim {
            now: Instant::ZERO,
            a: Node { addr: a.local, ep: Endpoint::new(a), events: Vec::new(), stored: 0 },
            b: Node { addr: b_addr, ep: b, events: Vec::new(), stored: 0 },
            link,
            log: Vec::new(),
            to_a: VecDeque::new(),
            to_b: VecDeque::new(),
            rng: Rng::new(seed),
        }
    }

    /// One side's engine, events and address.
    fn parts(&mut self, side: Side) -> (&mut dyn Peer, &mut Vec<Event>, &mut u64, SocketAddr) {
        match side {
            Side::A => (&mut self.a.ep, &mut self.a.events, &mut self.a.stored, self.a.addr),
            Side::B => (&mut self.b.ep, &mut self.b.events, &mut self.b.stored, self.b.addr),
        }
    }

    /// Gives a client command to one side.
    pub fn command(&mut self, side: Side, cmd: Command) {
        let now = self.now;
        self.parts(side).0.handle_command(now, cmd);
        self.drain(side, Cause::Command);
    }

    /// The datagrams on their way to `side`, oldest first.
    pub fn in_flight_to(&self, side: Side) -> impl Iterator<Item = &[u8]> {
        let queue = match side {
            Side::A => &self.to_a,
            Side::B => &self.to_b,
        };
        queue.iter().map(|p| p.bytes.as_slice())
    }

    /// When the next thing happens: a datagram arrives or a timer fires.
    pub fn next_event_time(&self) -> Option<Instant> {
        [
            self.to_a.front().map(|p| p.at),
            self.to_b.front().map(|p| p.at),
            self.a.ep.poll_timeout(),
            self.b.ep.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Advances to the next event and processes everything due then. False if nothing is left.
    pub fn step(&mut self) -> bool {
        let Some(at) = self.next_event_time() else { return false };
        self.now = self.now.max(at);
        for side in [Side::A, Side::B] {
            let now = self.now;
            loop {
                let queue = match side {
                    Side::A => &mut self.to_a,
                    Side::B => &mut self.to_b,
                };
                if queue.front().is_none_or(|p| p.at > now) {
                    break;
                }
                let Some(p) = queue.pop_front() else { break };
                self.parts(side).0.handle_datagram(now, p.from, &p.bytes);
                self.drain(side, Cause::Datagram);
            }
            let ep = self.parts(side).0;
            if ep.poll_timeout().is_some_and(|t| t <= now) {
                ep.handle_timeout(now);
                self.drain(side, Cause::Timeout);
            }
        }
        true
    }

    /// Steps until `done` holds or virtual time passes `limit`; returns whether `done` held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Sim<B>) -> bool) -> bool {
        let end = Instant::ZERO + limit;
        while !done(self) {
            if self.next_event_time().is_none_or(|t| t > end) || !self.step() {
                return done(self);
            }
        }
        true
    }

    /// Steps until nothing is in flight and no timer is armed (or `limit` passes).
    pub fn run_to_quiet(&mut self, limit: Duration) -> bool {
        self.run_until(limit, |s| s.next_event_time().is_none())
    }

    /// Drains one endpoint after an input as the drive contract says (crate docs): events
    /// first, then the message to store (stored at once, ids counting from 1), then
    /// transmits.
    fn drain(&mut self, side: Side, cause: Cause) {
        let now = self.now;
        let (ep, events, stored, from) = self.parts(side);
        loop {
            while let Some(e) = ep.poll_event() {
                events.push(e);
            }
            // The sim's store never fails: the message waiting for it is stored at once.
            match ep.store(now, *stored + 1) {
                0 => break,
                parts => *stored += parts as u64,
            }
        }
        while let Some((_, bytes)) = self.parts(side).0.poll_transmit() {
            let delivered = !self.rng.chance(self.link.loss);
            self.log.push(Sent { at: now, from: side, cause, bytes: bytes.clone(), delivered });
            if !delivered {
                continue;
            }
            let copies = if self.rng.chance(self.link.duplicate) { 2 } else { 1 };
            for _ in 0..copies {
                let delay = self.rng.between(self.link.delay_min, self.link.delay_max);
                let queue = match side.other() {
                    Side::A => &mut self.to_a,
                    Side::B => &mut self.to_b,
                };
                // Keep order: never arrive before the datagram ahead.
                let at = queue.back().map_or(now + delay, |p| p.at.max(now + delay));
                queue.push_back(Packet { at, from, bytes: bytes.clone() });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::EndReason;
    use crate::wire::{Datagram, Kind};
    use crate::StateName;

    const MESSAGES: usize = 50;

    fn config(addr: &str) -> Config {
        let mut c = Config::new(addr.parse().unwrap());
        c.timeout = Duration::from_millis(200);
        // Correctness under heavy loss, not giving up, is what this test is about.
        c.retries = 80;
        c.call_timeout = Duration::from_secs(3600);
        c
    }

    fn texts(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| if let Event::Message { text, .. } = e { Some(text.clone()) } else { None })
            .collect()
    }

    fn count(events: &[Event], f: impl Fn(&Event) -> bool) -> usize {
        events.iter().filter(|e| f(e)).count()
    }

    /// One full chat over an impaired link; returns an error describing the first broken property.
    ///
    /// `settle`: the callee types only once the handshake's stray ACKs have drained (needed
    /// when the link duplicates: a duplicated handshake ACK is indistinguishable from the ACK
    /// of the callee's first message). Without duplication the endpoint itself discounts the
    /// answers to its re-sent SYN+ACKs, so the callee may type the moment it is in the chat.
    fn chat_over(seed: u64, link: Link, settle: bool) -> Result<(), String> {
        chat_in_mode(seed, link, settle, crate::SeqMode::Auto)
    }

    /// [`chat_over`] with both endpoints in `mode`.
    fn chat_in_mode(seed: u64, link: Link, settle: bool, mode: crate::SeqMode) -> Result<(), String> {
        let with_mode = |addr| Config { seq_mode: mode, ..config(addr) };
        let mut sim = Sim::new(seed, with_mode("127.0.0.1:7777"), with_mode("127.0.0.2:7777"), link);
        sim.command(Side::A, Command::Connect { user: "alice".into() });
        sim.command(Side::B, Command::Connect { user: "bob".into() });
        sim.command(Side::A, Command::Start { peer: "127.0.0.2".into() });
        let limit = Duration::from_secs(36_000);
        if !sim.run_until(limit, |s| s.b.events.iter().any(|e| matches!(e, Event::Request { .. }))) {
            return Err("the request never reached B".into());
        }
        sim.command(Side::B, Command::Accept);
        let sent_by = |who: &str| (0..MESSAGES).map(|i| format!("{who} {i}")).collect::<Vec<_>>();
        let send_all = |sim: &mut Sim, side: Side, who: &str| {
            for text in sent_by(who) {
                sim.command(side, Command::Chat { text, id: None, utf8: None });
            }
        };
        // Each user types as soon as their side shows the chat. The caller's first message
        // also completes a handshake whose ACKs were all lost (implicit ACK).
        if !sim.run_until(limit, |s| s.a.ep.state() == StateName::Chatting) {
            return Err(format!("A never in the chat: A {} B {}", sim.a.ep.state(), sim.b.ep.state()));
        }
        send_all(&mut sim, Side::A, "a");
        // The callee waits until the handshake's stray ACKs have drained: a duplicated
        // handshake ACK (seq 0) arriving after the callee's first chat datagram (seq 0) is
        // indistinguishable from that datagram's ACK. That is the one-bit sequence's limit
        // (like SPEC 4's reordering); a person does not type within one round trip.
        let kinds = |s: &Sim, side: Side, kind: Kind| {
            s.in_flight_to(side).filter(|b| Datagram::parse(b).is_ok_and(|d| d.kind() == kind)).count()
        };
        let settled = |s: &Sim| {
            s.b.ep.state() == StateName::Chatting
                && (!settle || (kinds(s, Side::A, Kind::SynAck) == 0 && kinds(s, Side::B, Kind::Ack) == 0))
        };
        if !sim.run_until(limit, settled) {
            return Err(format!("B never in the chat: A {} B {}", sim.a.ep.state(), sim.b.ep.state()));
        }
        send_all(&mut sim, Side::B, "b");
        let delivered = |events: &[Event]| count(events, |e| matches!(e, Event::Delivered { .. }));
        let all_done = |s: &Sim| delivered(&s.a.events) == MESSAGES && delivered(&s.b.events) == MESSAGES;
        if !sim.run_until(limit, all_done) {
            return Err(format!("not all delivered: A {} B {}", delivered(&sim.a.events), delivered(&sim.b.events)));
        }
        sim.command(Side::A, Command::Leave);
        if !sim.run_to_quiet(limit) {
            return Err("never went quiet".into());
        }
        if texts(&sim.b.events) != sent_by("a") {
            return Err(format!("B received {:?}", texts(&sim.b.events)));
        }
        if texts(&sim.a.events) != sent_by("b") {
            return Err(format!("A received {:?}", texts(&sim.a.events)));
        }
        for (name, node) in [("A", &sim.a), ("B", &sim.b)] {
            let undelivered = count(&node.events, |e| {
                matches!(e, Event::Undelivered { .. } | Event::Error { .. } | Event::Refused(_))
            });
            if undelivered > 0 {
                return Err(format!("{name} saw undelivered or errors: {:?}", node.events));
            }
            if !node.ep.is_idle() || node.ep.poll_timeout().is_some() {
                return Err(format!("{name} is not idle at the end: {}", node.ep.state()));
            }
        }
        let ended = |r| Event::Ended { reason: r, detail: None };
        if sim.a.events.last() != Some(&ended(EndReason::YouLeft)) {
            return Err(format!("A's last event: {:?}", sim.a.events.last()));
        }
        if !sim.b.events.contains(&ended(EndReason::PeerLeft)) {
            return Err("B never saw the peer leave".into());
        }
        // Re-sends happen on timeouts only: any chat datagram not sent from a timer must be new.
        for side in [Side::A, Side::B] {
            let mut seen = std::collections::HashSet::new();
            for s in sim.log.iter().filter(|s| s.from == side) {
                let d = Datagram::parse(&s.bytes).map_err(|e| e.to_string())?;
                let own = matches!(d.kind(), Kind::Chat | Kind::Syn | Kind::Fin);
                if own && !seen.insert(s.bytes.clone()) && s.cause != Cause::Timeout {
                    return Err(format!("{side:?} re-sent {d} on {:?} at {:?}", s.cause, s.at));
                }
            }
        }
        Ok(())
    }

    #[test]
    fn perfect_link_chat() {
        chat_over(0, Link::perfect(Duration::from_millis(5)), false).unwrap();
    }

    #[test]
    fn two_thousand_seeds_of_loss_duplication_and_delay() {
        let base = crate::rng::seed_from_env(0);
        let seeds = std::env::var("SIMP_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2000u64);
        let mut retransmitted = 0;
        for seed in base..base + seeds {
            let mut rng = Rng::new(seed ^ 0x5eed);
            let link = Link {
                loss: 0.3 * rng.unit(),
                duplicate: 0.1 * rng.unit(),
                delay_min: Duration::from_millis(1),
                delay_max: Duration::from_millis(1 + rng.next_u64() % 60),
            };
            if let Err(e) = chat_over(seed, link, true) {
                panic!("seed {seed} failed ({link:?}): {e}\nreplay: SIMP_SEED={seed} SIMP_SEEDS=1 cargo test -p simp-proto two_thousand");
            }
            retransmitted += u64::from(link.loss > 0.0);
        }
        assert!(retransmitted > seeds / 2, "most runs must be lossy");
    }

    /// SPEC 2.6: two daemons in `--seq-mode shared` whose users type at once on a lossy link.
    #[test]
    fn shared_mode_loses_nothing_when_both_type_at_once() {
        let base = crate::rng::seed_from_env(0);
        let seeds = std::env::var("SIMP_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(500u64);
        for seed in base..base + seeds {
            let mut rng = Rng::new(seed ^ 0x5ba7);
            let link = Link {
                loss: 0.2 * rng.unit(),
                duplicate: 0.0,
                delay_min: Duration::from_millis(1),
                delay_max: Duration::from_millis(1 + rng.next_u64() % 60),
            };
            if let Err(e) = chat_in_mode(seed, link, true, crate::SeqMode::Shared) {
                panic!("seed {seed} failed ({link:?}): {e}\nreplay: SIMP_SEED={seed} SIMP_SEEDS=1 cargo test -p simp-proto shared_mode_loses");
            }
        }
    }

    #[test]
    fn without_duplication_the_callee_may_type_at_once() {
        let base = crate::rng::seed_from_env(0);
        let seeds = std::env::var("SIMP_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(1000u64);
        for seed in base..base + seeds {
            let mut rng = Rng::new(seed ^ 0xacce);
            let link = Link {
                loss: 0.3 * rng.unit(),
                duplicate: 0.0,
                delay_min: Duration::from_millis(1),
                delay_max: Duration::from_millis(1 + rng.next_u64() % 300),
            };
            if let Err(e) = chat_over(seed, link, false) {
                panic!("seed {seed} failed ({link:?}): {e}\nreplay: SIMP_SEED={seed} SIMP_SEEDS=1 cargo test -p simp-proto without_duplication");
            }
        }
    }
}
