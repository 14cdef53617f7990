//! One daemon's protocol engine (SPEC 2): handshake, stop-and-wait chat, close, busy replies.
//!
//! Inputs: [`Endpoint::handle_datagram`], [`Endpoint::handle_command`],
//! [`Endpoint::handle_client_gone`], [`Endpoint::handle_timeout`], each with the current time.
//! Outputs: [`Endpoint::poll_transmit`], [`Endpoint::poll_event`], [`Endpoint::poll_timeout`].
//! Nothing here reads a clock or touches a socket.

mod busy;
mod rto;
mod sender;

use std::collections::VecDeque;
use std::fmt;
use std::mem;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, info};

use crate::ipc::{self, Command, EndReason, ErrorCode, Event, Status};
use crate::wire::{self, Datagram, Kind, Seq, UserName, BUSY_TEXT, HEADER_LEN};
use crate::Instant;
use busy::BusyLimiter;
use rto::Rto;
pub use rto::RtoMode;
use sender::{InFlight, Sender};

/// How sequence bits are assigned (SPEC 2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeqMode {
    /// One alternating bit per direction (the default).
    #[default]
    PerDirection,
    /// One bit per session for both directions, for turn-taking peers.
    Shared,
}

/// Everything that tunes an [`Endpoint`]; `Config::new` gives the defaults of SPEC 2 / IPC.md.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our own UDP address: reported to clients, and the tie-breaker of simultaneous open.
    pub local: SocketAddr,
    /// Retransmission timeout (the ceiling with adaptive RTO).
    pub timeout: Duration,
    /// Re-sends of one datagram before the peer counts as unreachable.
    pub retries: u32,
    /// How long a caller keeps calling.
    pub call_timeout: Duration,
    /// How long a request waits for a decision.
    pub ring_timeout: Duration,
    /// Fixed or adaptive RTO.
    pub rto: RtoMode,
    /// Per-direction or shared sequence bits.
    pub seq_mode: SeqMode,
    /// Largest payload we put in one chat datagram.
    pub max_payload: usize,
    /// Accept every call without asking.
    pub auto_accept: bool,
    /// Messages queued for sending at most (beyond: `queue-full`).
    pub queue_limit: usize,
    /// Messages kept for a client that is not attached (beyond: not acknowledged).
    pub store_limit: usize,
    /// Busy replies a source may get in a burst.
    pub busy_burst: u32,
    /// One more busy reply per this interval.
    pub busy_interval: Duration,
}

impl Config {
    /// The defaults, for a daemon at `local`.
    pub fn new(local: SocketAddr) -> Config {
        Config {
            local,
            timeout: Duration::from_secs(5),
            retries: 5,
            call_timeout: Duration::from_secs(60),
            ring_timeout: Duration::from_secs(60),
            rto: RtoMode::Fixed,
            seq_mode: SeqMode::PerDirection,
            max_payload: wire::DEFAULT_MAX_PAYLOAD,
            auto_accept: false,
            queue_limit: 1000,
            store_limit: 1000,
            busy_burst: 5,
            busy_interval: Duration::from_secs(1),
        }
    }
}

/// A datagram to send.
#[derive(Debug, Clone)]
pub struct Transmit {
    /// Destination: always the source address of the peer's datagrams.
    pub to: SocketAddr,
    bytes: TxBytes,
}

#[derive(Clone)]
enum TxBytes {
    /// Control datagrams (header and at most a short ERR text) need no allocation.
    Inline { buf: [u8; INLINE_MAX], len: u8 },
    /// Chat datagrams are kept for byte-for-byte re-sends, shared with the in-flight record.
    Shared(Arc<[u8]>),
}

const INLINE_MAX: usize = HEADER_LEN + 32;
// The busy reply's ERR is built inline (`busy_reply`), and `inline` cuts what does not fit:
// a longer BUSY_TEXT must fail the build, not go out truncated (SPEC 2.4 fixes the text).
const _: () = assert!(BUSY_TEXT.len() <= INLINE_MAX - HEADER_LEN, "BUSY_TEXT must fit an inline transmit");

impl fmt::Debug for TxBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = match self {
            TxBytes::Inline { buf, len } => &buf[..usize::from(*len)],
            TxBytes::Shared(b) => b,
        };
        match Datagram::parse(bytes) {
            Ok(d) => write!(f, "{d}"),
            Err(e) => write!(f, "invalid: {e}"),
        }
    }
}

impl Transmit {
    /// The datagram's bytes.
    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            TxBytes::Inline { buf, len } => &buf[..usize::from(*len)],
            TxBytes::Shared(b) => b,
        }
    }
}

/// Counters over the endpoint's life, for `status`, logs and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams re-sent after a timeout.
    pub retransmissions: u64,
    /// Datagrams dropped as malformed (SPEC 1).
    pub malformed: u64,
    /// Datagrams dropped because they came from someone other than the peer (SPEC 2.5).
    pub strangers: u64,
    /// Busy replies (ERR+FIN pairs) sent.
    pub busy_replies: u64,
    /// Busy replies withheld by the rate limit.
    pub busy_suppressed: u64,
}

/// The session state's name, as `status` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateName {
    /// No session.
    Idle,
    /// Our SYN is out.
    Calling,
    /// A request waits for the user.
    Ringing,
    /// Our SYN+ACK is out.
    Accepting,
    /// In a chat.
    Chatting,
    /// In a chat, sending what is queued before the FIN.
    Leaving,
    /// Our FIN is out.
    Closing,
}

impl StateName {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            StateName::Idle => "idle",
            StateName::Calling => "calling",
            StateName::Ringing => "ringing",
            StateName::Accepting => "accepting",
            StateName::Chatting => "chatting",
            StateName::Leaving => "leaving",
            StateName::Closing => "closing",
        }
    }
}

impl fmt::Display for StateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The session. Each variant carries exactly what that state needs.
#[derive(Debug)]
enum State {
    Idle,
    Calling(Calling),
    Ringing(Ringing),
    Accepting(Accepting),
    Chatting(Box<Chat>),
    Closing(Closing),
}

#[derive(Debug)]
struct Calling {
    peer: SocketAddr,
    give_up: Instant,
    next_syn: Instant,
    /// The ERR text of a busy reply, waiting for its FIN.
    busy_detail: Option<String>,
}

#[derive(Debug)]
struct Ringing {
    peer: SocketAddr,
    user: Vec<u8>,
    expires: Instant,
}

#[derive(Debug)]
struct Accepting {
    peer: SocketAddr,
    user: Vec<u8>,
    first_sent: Instant,
    /// Re-sends we may still make on our own (SPEC 2.1 step 3: twice).
    own_resends_left: u8,
    /// When to re-send on our own, while the budget lasts.
    next: Option<Instant>,
    /// When to give up: `retries + 1` timeouts without hearing from the caller, who re-sends
    /// SYN all along if our SYN+ACKs are lost.
    give_up: Instant,
    /// SYN+ACKs sent so far: the caller answers each one it hears with an ACK (seq 0).
    sends: u32,
}

#[derive(Debug)]
struct Chat {
    peer: SocketAddr,
    /// When the handshake completed here (a SYN from the peer after that: SPEC 2.3, restart).
    since: Instant,
    /// The peer's name as last seen on the wire, and escaped for events.
    peer_raw: Vec<u8>,
    peer_user: Arc<str>,
    tx: Sender,
    seq: SeqState,
    rto: Rto,
    leaving: bool,
    /// Handshake ACKs that may still arrive (see [`Endpoint::establish`]).
    stale_acks: u32,
    retransmissions: u64,
    delivered: u64,
    received: u64,
}

#[derive(Debug, Clone, Copy)]
enum SeqState {
    PerDirection { tx_next: Seq, rx_last: Option<Seq> },
    Shared { bit: Seq },
}

#[derive(Debug)]
struct Closing {
    peer: SocketAddr,
    sends: u32,
    next: Instant,
    rto: Duration,
}

/// After a session: who we still answer, and until when (SPEC 2.3).
#[derive(Debug, Clone, Copy)]
struct Linger {
    peer: SocketAddr,
    until: Instant,
    /// After a decline, a re-sent SYN means our FIN was lost: answer it with FIN again.
    declined: bool,
}

/// One daemon's protocol engine. See the module documentation.
#[derive(Debug)]
pub struct Endpoint {
    config: Config,
    user: Option<UserName>,
    /// A client has sent `connect` and not gone.
    client: bool,
    state: State,
    linger: Option<Linger>,
    /// Messages received while no client was attached (SPEC 2.2).
    stored: VecDeque<Event>,
    /// Bytes of text in `stored`, bounded by [`STORE_MAX_BYTES`].
    stored_bytes: usize,
    /// The shell says the client is not taking its events: new messages are not acknowledged
    /// until it does (SPEC 2.2, acknowledged only once handed over), so memory stays bounded.
    client_backlogged: bool,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    busy: BusyLimiter,
    next_id: u64,
    stats: Stats,
}

impl Endpoint {
    /// An idle endpoint.
    pub fn new(config: Config) -> Endpoint {
        let busy = BusyLimiter::new(config.busy_burst, config.busy_interval);
        Endpoint {
            config,
            user: None,
            client: false,
            state: State::Idle,
            linger: None,
            stored: VecDeque::new(),
            stored_bytes: 0,
            client_backlogged: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            busy,
            next_id: 1,
            stats: Stats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Life-time counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The session state's name.
    pub fn state(&self) -> StateName {
        name_of(&self.state)
    }

    /// The current peer, in any state but idle.
    pub fn peer(&self) -> Option<SocketAddr> {
        match &self.state {
            State::Idle => None,
            State::Calling(s) => Some(s.peer),
            State::Ringing(s) => Some(s.peer),
            State::Accepting(s) => Some(s.peer),
            State::Chatting(s) => Some(s.peer),
            State::Closing(s) => Some(s.peer),
        }
    }

    /// True when there is no session and nothing waits to be sent or reported.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle) && self.transmits.is_empty() && self.events.is_empty()
    }

    /// Messages accepted from the client and not yet delivered or reported undelivered.
    pub fn outgoing(&self) -> usize {
        match &self.state {
            State::Chatting(c) => c.tx.len(),
            _ => 0,
        }
    }

    /// The shell reports whether the attached client is taking its events. While it is not,
    /// new chat messages are left unacknowledged (the peer re-sends them), so what the daemon
    /// holds for a client stays bounded and nothing acknowledged is lost.
    pub fn set_client_backlogged(&mut self, backlogged: bool) {
        self.client_backlogged = backlogged;
    }

    /// Whether a client is attached (has sent `connect` and not quit).
    pub fn has_client(&self) -> bool {
        self.client
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the attached client.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Endpoint::handle_timeout`] must be called next; `None` when nothing is pending
    /// (an idle daemon never wakes up).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let session = match &self.state {
            State::Idle => None,
            State::Calling(s) => Some(s.next_syn.min(s.give_up)),
            State::Ringing(s) => Some(s.expires),
            State::Accepting(s) => Some(s.next.map_or(s.give_up, |n| n.min(s.give_up))),
            State::Chatting(c) => c.tx.in_flight.as_ref().map(|f| f.deadline),
            State::Closing(s) => Some(s.next),
        };
        let linger = self.linger.map(|l| l.until);
        match (session, linger) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A datagram arrived from `from`. Malformed ones are dropped and counted (SPEC 1).
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let d = match Datagram::parse(bytes) {
            Ok(d) => d,
            Err(error) => {
                self.stats.malformed += 1;
                debug!(%from, %error, "dropped malformed datagram");
                return;
            }
        };
        if self.peer() == Some(from) {
            self.on_peer_datagram(now, from, d);
            return;
        }
        if let Some(linger) = self.linger.filter(|l| l.peer == from && now < l.until) {
            match d.kind() {
                Kind::Fin => return self.send_control(from, Kind::Ack, d.seq()),
                Kind::Syn if linger.declined => return self.send_control(from, Kind::Fin, Seq::Zero),
                Kind::Syn => {}
                _ => {
                    debug!(%from, datagram = %d, "dropped datagram from the previous peer");
                    return;
                }
            }
        }
        match (d.kind(), &self.state) {
            (Kind::Syn, State::Idle) => self.incoming_call(now, from, d.user()),
            (Kind::Syn, _) => self.busy_reply(now, from),
            _ => {
                self.stats.strangers += 1;
                debug!(%from, datagram = %d, "dropped datagram from a stranger");
            }
        }
    }

    /// A command from the attached client (or from a client about to attach: `connect`).
    pub fn handle_command(&mut self, now: Instant, cmd: Command) {
        if let Err((code, message)) = self.command(now, cmd) {
            self.events.push_back(Event::error(code, message));
        }
    }

    /// The client went away without `quit`: treated as `quit` (IPC.md).
    pub fn handle_client_gone(&mut self, now: Instant) {
        if self.client {
            self.quit(now);
        }
    }

    /// The daemon is stopping (SIGINT/SIGTERM, IPC.md): FIN to the peer at once, whether or
    /// not a client is attached. Unlike `leave`, queued messages are not sent first (the shell
    /// waits at most one `timeout` for the ACK); they are reported undelivered.
    pub fn handle_shutdown(&mut self, now: Instant) {
        if let State::Chatting(c) = &mut self.state {
            let (peer, rto) = (c.peer, c.rto.current());
            info!(%peer, queued = c.tx.len(), "shutting down: FIN now");
            let ids: Vec<String> = c.tx.drain_ids().collect();
            for id in ids {
                self.emit(Event::Undelivered { id, reason: EndReason::YouLeft });
            }
            self.send_control(peer, Kind::Fin, Seq::Zero);
            self.set_state(State::Closing(Closing { peer, sends: 1, next: now + rto, rto }));
        } else if !matches!(self.state, State::Idle | State::Closing(_)) {
            info!(peer = ?self.peer(), "shutting down: leaving the session");
            self.leave(now);
        }
    }

    /// Time has reached [`Endpoint::poll_timeout`]. Calling it early is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.linger.is_some_and(|l| now >= l.until) {
            self.linger = None;
        }
        match &mut self.state {
            State::Idle => {}
            State::Calling(s) => {
                if now >= s.give_up {
                    let (peer, detail) = (s.peer, s.busy_detail.take());
                    // Cancel the callee's ringing: one FIN, not re-sent.
                    self.send_control(peer, Kind::Fin, Seq::Zero);
                    let reason = if detail.is_some() { EndReason::Busy } else { EndReason::NoAnswer };
                    self.end_session(now, reason, detail);
                } else if now >= s.next_syn {
                    s.next_syn = now + self.config.timeout;
                    let peer = s.peer;
                    self.stats.retransmissions += 1;
                    self.send_control(peer, Kind::Syn, Seq::Zero);
                }
            }
            State::Ringing(s) => {
                if now >= s.expires {
                    let peer = s.peer;
                    self.decline(now, peer, EndReason::RequestExpired);
                }
            }
            State::Accepting(s) => {
                if now >= s.give_up {
                    let peer = s.peer;
                    info!(%peer, "the caller went silent before completing the handshake");
                    self.send_control(peer, Kind::Fin, Seq::Zero);
                    self.end_session(now, EndReason::PeerUnreachable, None);
                } else if s.next.is_some_and(|n| now >= n) {
                    s.own_resends_left = s.own_resends_left.saturating_sub(1);
                    s.sends += 1;
                    s.next = (s.own_resends_left > 0).then(|| now + self.config.timeout);
                    let peer = s.peer;
                    self.stats.retransmissions += 1;
                    self.send_control(peer, Kind::SynAck, Seq::Zero);
                }
            }
            State::Chatting(c) => {
                let Some(f) = c.tx.in_flight.as_mut() else { return };
                if now < f.deadline {
                    return;
                }
                if f.resends >= self.config.retries {
                    let peer = c.peer;
                    info!(%peer, retries = self.config.retries, "no acknowledgement after the last re-send");
                    self.send_control(peer, Kind::Fin, Seq::Zero);
                    self.end_session(now, EndReason::PeerUnreachable, None);
                    return;
                }
                c.rto.backoff();
                f.resends += 1;
                f.deadline = now + c.rto.current();
                c.retransmissions += 1;
                self.stats.retransmissions += 1;
                self.transmits.push_back(Transmit { to: c.peer, bytes: TxBytes::Shared(Arc::clone(&f.bytes)) });
            }
            State::Closing(s) => {
                if now >= s.next {
                    if s.sends > self.config.retries {
                        self.end_session(now, EndReason::YouLeft, None);
                    } else {
                        s.sends += 1;
                        s.next = now + s.rto;
                        let peer = s.peer;
                        self.stats.retransmissions += 1;
                        self.send_control(peer, Kind::Fin, Seq::Zero);
                    }
                }
            }
        }
    }

    // ----- datagrams from the current peer -----

    fn on_peer_datagram(&mut self, now: Instant, from: SocketAddr, d: Datagram<'_>) {
        match (&mut self.state, d.kind()) {
            (State::Calling(_), Kind::SynAck) => {
                self.send_control(from, Kind::Ack, Seq::Zero);
                self.establish(now, from, d.user(), None, 0);
            }
            (State::Calling(_), Kind::Syn) => {
                // Simultaneous open (SPEC 2.1): the lower (IP, port) stays the caller.
                if self.config.local > from {
                    info!(peer = %from, "simultaneous open: we are the higher address, accepting the peer's call");
                    self.accept(now, from, d.user().to_vec());
                }
            }
            (State::Calling(s), Kind::Err) => s.busy_detail = Some(wire::escape(d.payload())),
            (State::Calling(s), Kind::Fin) => {
                let detail = s.busy_detail.take();
                self.send_control(from, Kind::Ack, d.seq());
                let reason = if detail.is_some() { EndReason::Busy } else { EndReason::Declined };
                self.end_session(now, reason, detail);
            }
            (State::Ringing(_), Kind::Syn) => {} // keeps the request alive; asked once
            (State::Ringing(_) | State::Accepting(_), Kind::Fin) => {
                self.send_control(from, Kind::Ack, d.seq());
                self.end_session(now, EndReason::PeerLeft, None);
            }
            (State::Accepting(s), Kind::Syn) => {
                // The caller did not hear us: one more SYN+ACK per SYN (SPEC 2.1 step 3).
                s.sends += 1;
                s.give_up = now + handshake_patience(&self.config);
                self.stats.retransmissions += 1;
                self.send_control(from, Kind::SynAck, Seq::Zero);
            }
            (State::Accepting(s), Kind::Ack) if d.seq() == Seq::Zero => {
                // Karn's rule: no sample if the SYN+ACK went out more than once.
                let rtt = (s.sends == 1).then(|| now.saturating_since(s.first_sent));
                let user = mem::take(&mut s.user);
                let stale = s.sends - 1;
                self.establish(now, from, &user, rtt, stale);
            }
            (State::Accepting(s), Kind::Chat) => {
                // Implicit ACK: the caller is in the chat, so our SYN+ACK arrived.
                let user = mem::take(&mut s.user);
                let stale = s.sends;
                self.establish(now, from, &user, None, stale);
                self.chat_datagram(now, d);
            }
            (State::Chatting(c), Kind::Syn) if now.saturating_since(c.since) >= self.config.timeout => {
                // SPEC 2.3, "a restarted peer": on an in-order network every SYN of the
                // handshake arrives before the ACK that completed it, so a SYN from the peer
                // this long into the chat is a new call from a daemon that restarted at the
                // same address. The old chat is over (no FIN: it would decline the new call).
                info!(peer = %from, "a SYN from the peer mid-chat: it restarted; the old chat is over");
                self.end_session(now, EndReason::PeerLeft, None);
                self.incoming_call(now, from, d.user());
            }
            (State::Chatting(_), Kind::Chat) => self.chat_datagram(now, d),
            (State::Chatting(_), Kind::Ack) => self.chat_ack(now, d.seq()),
            (State::Chatting(_), Kind::SynAck) => self.send_control(from, Kind::Ack, Seq::Zero),
            (State::Chatting(_), Kind::Fin) => {
                self.send_control(from, Kind::Ack, d.seq());
                self.end_session(now, EndReason::PeerLeft, None);
            }
            (State::Closing(_), Kind::Ack) if d.seq() == Seq::Zero => self.end_session(now, EndReason::YouLeft, None),
            (State::Closing(_), Kind::Fin) => {
                // Both sides closed at once: each acknowledges the other's FIN.
                self.send_control(from, Kind::Ack, d.seq());
                self.end_session(now, EndReason::YouLeft, None);
            }
            (_, Kind::Err) => {
                let text = wire::escape(d.payload());
                info!(peer = %from, %text, "peer sent ERR");
                self.emit(Event::error(ErrorCode::PeerError, text));
            }
            (_, _) => debug!(peer = %from, datagram = %d, state = %self.state(), "ignored datagram from the peer"),
        }
    }

    fn incoming_call(&mut self, now: Instant, from: SocketAddr, user: &[u8]) {
        self.linger = self.linger.filter(|l| l.peer != from);
        if self.config.auto_accept {
            self.accept(now, from, user.to_vec());
            return;
        }
        let ringing = Ringing { peer: from, user: user.to_vec(), expires: now + self.config.ring_timeout };
        self.set_state(State::Ringing(ringing));
        debug!(peer = %from, user = %wire::escape_name(user), "incoming call, waiting for accept or decline");
        self.emit(Event::Request { peer: from.to_string(), user: wire::escape_name(user) });
    }

    fn busy_reply(&mut self, now: Instant, from: SocketAddr) {
        if !self.busy.allow(now, from.ip()) {
            self.stats.busy_suppressed += 1;
            debug!(%from, "busy reply withheld by the rate limit");
            return;
        }
        self.stats.busy_replies += 1;
        info!(%from, "busy: answered a call with ERR and FIN");
        let err = Datagram::new(Kind::Err, Seq::Zero, self.user.as_ref(), BUSY_TEXT.as_bytes());
        self.transmits.push_back(Transmit { to: from, bytes: inline(&err) });
        self.send_control(from, Kind::Fin, Seq::Zero);
    }

    fn accept(&mut self, now: Instant, peer: SocketAddr, user: Vec<u8>) {
        self.send_control(peer, Kind::SynAck, Seq::Zero);
        let accepting = Accepting {
            peer,
            user,
            first_sent: now,
            own_resends_left: 2,
            next: Some(now + self.config.timeout),
            give_up: now + handshake_patience(&self.config),
            sends: 1,
        };
        self.set_state(State::Accepting(accepting));
    }

    fn decline(&mut self, now: Instant, peer: SocketAddr, reason: EndReason) {
        self.send_control(peer, Kind::Fin, Seq::Zero);
        self.end_session(now, reason, None);
        if let Some(l) = self.linger.as_mut() {
            l.declined = true;
        }
    }

    /// Opens the chat. `stale_acks`: how many more handshake ACKs (seq 0) the caller may still
    /// send us (one per SYN+ACK it hears, less those we saw), which must not be taken for the
    /// ACK of our first chat datagram, also seq 0 (see the crate docs).
    fn establish(&mut self, now: Instant, peer: SocketAddr, user: &[u8], rtt: Option<Duration>, stale_acks: u32) {
        let mut rto = Rto::new(self.config.rto, self.config.timeout);
        if let Some(rtt) = rtt {
            rto.sample(rtt);
        }
        let seq = match self.config.seq_mode {
            SeqMode::PerDirection => SeqState::PerDirection { tx_next: Seq::Zero, rx_last: None },
            SeqMode::Shared => SeqState::Shared { bit: Seq::Zero },
        };
        let peer_user: Arc<str> = wire::escape_name(user).into();
        let chat = Chat {
            peer,
            since: now,
            peer_raw: user.to_vec(),
            peer_user: Arc::clone(&peer_user),
            tx: Sender::default(),
            seq,
            rto,
            leaving: false,
            stale_acks,
            retransmissions: 0,
            delivered: 0,
            received: 0,
        };
        self.set_state(State::Chatting(Box::new(chat)));
        debug!(%peer, user = %peer_user, "chat established");
        self.emit(Event::Established { peer: peer.to_string(), user: peer_user.to_string() });
    }

    fn chat_datagram(&mut self, now: Instant, d: Datagram<'_>) {
        let State::Chatting(c) = &mut self.state else { return };
        let fresh = match c.seq {
            SeqState::PerDirection { rx_last, .. } => rx_last != Some(d.seq()),
            SeqState::Shared { bit } => d.seq() == bit,
        };
        if fresh {
            // Acknowledge only once the text is handed over or stored (SPEC 2.2).
            let store_full = self.stored.len() >= self.config.store_limit
                || self.stored_bytes.saturating_add(d.payload().len()) > STORE_MAX_BYTES;
            if (self.client && self.client_backlogged) || (!self.client && store_full) {
                debug!(peer = %c.peer, "the client cannot take this message now: not acknowledging");
                return;
            }
            if c.peer_raw != d.user() {
                c.peer_raw = d.user().to_vec();
                c.peer_user = wire::escape_name(d.user()).into();
            }
            match &mut c.seq {
                SeqState::PerDirection { rx_last, .. } => *rx_last = Some(d.seq()),
                SeqState::Shared { bit } => *bit = bit.flip(),
            }
            c.received += 1;
            let text = wire::escape(d.payload());
            let user = &c.peer_user;
            let events = if self.client { &mut self.events } else { &mut self.stored };
            if text.len() <= MESSAGE_JSON_BUDGET / 2 {
                events.push_back(Event::Message { user: Arc::clone(user), text });
            } else {
                events.extend(chunks(&text).map(|t| Event::Message { user: Arc::clone(user), text: t.to_owned() }));
            }
            if !self.client {
                self.stored_bytes += d.payload().len();
            }
        }
        let peer = c.peer;
        self.send_control(peer, Kind::Ack, d.seq());
        // In shared mode the flip may make our next queued message sendable.
        self.pump(now);
    }

    fn chat_ack(&mut self, now: Instant, seq: Seq) {
        let State::Chatting(c) = &mut self.state else { return };
        if seq == Seq::Zero && c.stale_acks > 0 {
            // Possibly the caller's answer to one of our re-sent SYN+ACKs. If it was the real
            // ACK of our first datagram instead, that datagram is re-sent on its timeout and
            // acknowledged again: a delay, never a message wrongly marked delivered.
            c.stale_acks -= 1;
            debug!(peer = %c.peer, left = c.stale_acks, "ACK seq 0 taken as a late handshake ACK");
            return;
        }
        let Some(f) = &c.tx.in_flight else { return };
        if f.seq != seq {
            // Never re-send on a duplicate ACK (SPEC 2.2, the Sorcerer's Apprentice).
            debug!(peer = %c.peer, "ignored ACK with the wrong sequence");
            return;
        }
        if f.resends == 0 {
            c.rto.sample(now.saturating_since(f.sent_at));
        }
        match &mut c.seq {
            SeqState::PerDirection { tx_next, .. } => *tx_next = tx_next.flip(),
            SeqState::Shared { bit } => *bit = bit.flip(),
        }
        if let Some(id) = c.tx.acknowledged() {
            c.delivered += 1;
            self.emit(Event::Delivered { id });
        }
        self.pump(now);
    }

    /// Sends the next queued part if the channel is free; starts the FIN when leaving and done.
    fn pump(&mut self, now: Instant) {
        let State::Chatting(c) = &mut self.state else { return };
        if let Some(payload) = c.tx.next_payload() {
            let seq = match c.seq {
                SeqState::PerDirection { tx_next, .. } => tx_next,
                SeqState::Shared { bit } => bit,
            };
            let bytes: Arc<[u8]> = Datagram::new(Kind::Chat, seq, self.user.as_ref(), payload).to_vec().into();
            let deadline = now + c.rto.current();
            c.tx.in_flight = Some(InFlight { bytes: Arc::clone(&bytes), seq, sent_at: now, resends: 0, deadline });
            self.transmits.push_back(Transmit { to: c.peer, bytes: TxBytes::Shared(bytes) });
        } else if c.leaving && c.tx.is_idle() {
            let (peer, rto) = (c.peer, c.rto.current());
            self.send_control(peer, Kind::Fin, Seq::Zero);
            self.set_state(State::Closing(Closing { peer, sends: 1, next: now + rto, rto }));
        }
    }

    // ----- commands -----

    fn command(&mut self, now: Instant, cmd: Command) -> Result<(), (ErrorCode, String)> {
        if let Command::Connect { user } = cmd {
            return self.connect(&user);
        }
        if !self.client {
            return Err((ErrorCode::NotConnected, "send {\"cmd\":\"connect\",\"user\":\"NAME\"} first".into()));
        }
        match cmd {
            Command::Connect { .. } => unreachable!("handled above"),
            Command::Start { peer } => self.start(now, &peer),
            Command::Accept => match &self.state {
                State::Ringing(r) => {
                    let (peer, user) = (r.peer, r.user.clone());
                    self.accept(now, peer, user);
                    Ok(())
                }
                _ => Err((ErrorCode::NoRequest, "no call is waiting for an answer".into())),
            },
            Command::Decline => match &self.state {
                State::Ringing(r) => {
                    let peer = r.peer;
                    self.decline(now, peer, EndReason::Declined);
                    Ok(())
                }
                _ => Err((ErrorCode::NoRequest, "no call is waiting for an answer".into())),
            },
            Command::Chat { text, id } => self.chat(now, text, id),
            Command::Leave => {
                if matches!(self.state, State::Idle) {
                    return Err((ErrorCode::NotInChat, "there is no chat or call to leave".into()));
                }
                if matches!(&self.state, State::Closing(_)) || matches!(&self.state, State::Chatting(c) if c.leaving) {
                    return Err((ErrorCode::NotInChat, "already leaving this chat".into()));
                }
                self.leave(now);
                Ok(())
            }
            Command::Quit => {
                self.quit(now);
                Ok(())
            }
            Command::Status => {
                let status = self.status();
                self.events.push_back(Event::Status(status));
                Ok(())
            }
        }
    }

    fn connect(&mut self, user: &str) -> Result<(), (ErrorCode, String)> {
        let name = UserName::new(user).map_err(|e| (ErrorCode::BadUser, e.to_string()))?;
        info!(user = %name, "client connected");
        self.user = Some(name.clone());
        self.client = true;
        self.events.push_back(Event::Connected {
            user: name.to_string(),
            daemon: self.config.local.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        });
        // Then the current state (IPC.md, "connected").
        match &self.state {
            State::Calling(s) => self.events.push_back(Event::Calling { peer: s.peer.to_string() }),
            State::Ringing(s) => {
                self.events.push_back(Event::Request { peer: s.peer.to_string(), user: wire::escape_name(&s.user) })
            }
            State::Chatting(c) => {
                self.events.push_back(Event::Established { peer: c.peer.to_string(), user: c.peer_user.to_string() })
            }
            State::Idle | State::Accepting(_) | State::Closing(_) => {}
        }
        self.events.extend(self.stored.drain(..));
        self.stored_bytes = 0;
        Ok(())
    }

    fn start(&mut self, now: Instant, peer: &str) -> Result<(), (ErrorCode, String)> {
        let addr = ipc::parse_peer(peer).map_err(|e| (ErrorCode::BadPeer, e.to_string()))?;
        if addr == self.config.local {
            return Err((ErrorCode::BadPeer, format!("{addr} is this daemon itself; call another daemon's address")));
        }
        match &self.state {
            State::Idle => {}
            State::Ringing(r) => {
                return Err((ErrorCode::Busy, format!("a call from {} is waiting: accept or decline it first", r.peer)))
            }
            _ => {
                let peer = self.peer().map(|p| p.to_string()).unwrap_or_default();
                return Err((ErrorCode::Busy, format!("already in a chat or call with {peer}; leave it first")));
            }
        }
        self.linger = self.linger.filter(|l| l.peer != addr);
        self.send_control(addr, Kind::Syn, Seq::Zero);
        let calling = Calling {
            peer: addr,
            give_up: now + self.config.call_timeout,
            next_syn: now + self.config.timeout,
            busy_detail: None,
        };
        self.set_state(State::Calling(calling));
        self.emit(Event::Calling { peer: addr.to_string() });
        Ok(())
    }

    fn chat(&mut self, now: Instant, text: String, id: Option<String>) -> Result<(), (ErrorCode, String)> {
        let State::Chatting(c) = &mut self.state else {
            return Err((ErrorCode::NotInChat, "there is no chat to send to; start a call or accept one first".into()));
        };
        if c.leaving {
            return Err((ErrorCode::NotInChat, "this chat is closing; nothing more can be sent".into()));
        }
        wire::validate_text(&text).map_err(|e| (ErrorCode::BadText, e.to_string()))?;
        if c.tx.len() >= self.config.queue_limit {
            return Err((
                ErrorCode::QueueFull,
                format!("{} messages are already waiting for the peer; wait for deliveries and send again", c.tx.len()),
            ));
        }
        let id = id.unwrap_or_else(|| {
            let id = self.next_id.to_string();
            self.next_id += 1;
            id
        });
        c.tx.push(id.clone(), text, self.config.max_payload);
        self.emit(Event::Queued { id });
        self.pump(now);
        Ok(())
    }

    fn leave(&mut self, now: Instant) {
        match &mut self.state {
            State::Idle | State::Closing(_) => {}
            State::Calling(s) => {
                let peer = s.peer;
                self.send_control(peer, Kind::Fin, Seq::Zero);
                self.end_session(now, EndReason::YouLeft, None);
            }
            State::Ringing(s) => {
                let peer = s.peer;
                self.decline(now, peer, EndReason::Declined);
            }
            State::Accepting(s) => {
                let (peer, rto) = (s.peer, self.config.timeout);
                self.send_control(peer, Kind::Fin, Seq::Zero);
                self.set_state(State::Closing(Closing { peer, sends: 1, next: now + rto, rto }));
            }
            State::Chatting(c) => {
                if !c.leaving {
                    c.leaving = true;
                    info!(peer = %c.peer, queued = c.tx.len(), "leaving: sending what is queued, then FIN");
                }
                self.pump(now);
            }
        }
    }

    fn quit(&mut self, now: Instant) {
        if !matches!(self.state, State::Idle) {
            self.leave(now);
        }
        info!("client quit");
        self.client = false;
        // Events after this point have no one to go to; the shell closes the connection
        // once it has written what is already queued.
    }

    fn status(&self) -> Status {
        let chat = match &self.state {
            State::Chatting(c) => Some(c),
            _ => None,
        };
        let peer_user = match &self.state {
            State::Ringing(s) => Some(wire::escape_name(&s.user)),
            State::Accepting(s) => Some(wire::escape_name(&s.user)),
            State::Chatting(c) => Some(c.peer_user.to_string()),
            _ => None,
        };
        Status {
            state: self.state().as_str().to_string(),
            user: self.user.as_ref().map(|u| u.to_string()),
            peer: self.peer().map(|p| p.to_string()),
            peer_user,
            rtt_ms: chat.and_then(|c| c.rto.srtt()).map(|d| d.as_secs_f64() * 1000.0),
            rto_ms: u64::try_from(chat.map_or(self.config.timeout, |c| c.rto.current()).as_millis())
                .unwrap_or(u64::MAX),
            retransmissions: chat.map_or(0, |c| c.retransmissions),
            queued: chat.map_or(0, |c| c.tx.len()),
            delivered: chat.map_or(0, |c| c.delivered),
            received: chat.map_or(0, |c| c.received),
        }
    }

    // ----- helpers -----

    /// Ends whatever session there is: reports undelivered messages, then `ended`; lingers.
    fn end_session(&mut self, now: Instant, reason: EndReason, detail: Option<String>) {
        let old = mem::replace(&mut self.state, State::Idle);
        let peer = match &old {
            State::Idle => return,
            State::Calling(s) => s.peer,
            State::Ringing(s) => s.peer,
            State::Accepting(s) => s.peer,
            State::Chatting(c) => c.peer,
            State::Closing(s) => s.peer,
        };
        info!(%peer, from = %name_of(&old), to = "idle", %reason, "session ended");
        if let State::Chatting(mut c) = old {
            let ids: Vec<String> = c.tx.drain_ids().collect();
            for id in ids {
                self.emit(Event::Undelivered { id, reason });
            }
        }
        self.emit(Event::Ended { reason, detail });
        self.linger = Some(Linger { peer, until: now + self.config.timeout.saturating_mul(2), declined: false });
    }

    /// Every transition, at debug level: formatting a line costs microseconds, and the
    /// transitions of a handshake happen between a datagram arriving and the answer leaving.
    /// The ones a person reading the log at info level wants (a request, a chat open, a
    /// session over) get their own info line, at most one on the path of a handshake.
    fn set_state(&mut self, new: State) {
        let old = mem::replace(&mut self.state, new);
        info!(peer = ?self.peer(), from = %name_of(&old), to = %self.state(), "session state");
    }

    fn emit(&mut self, event: Event) {
        if self.client {
            self.events.push_back(event);
        }
    }

    fn send_control(&mut self, to: SocketAddr, kind: Kind, seq: Seq) {
        let d = Datagram::new(kind, seq, self.user.as_ref(), &[]);
        self.transmits.push_back(Transmit { to, bytes: inline(&d) });
    }
}

/// What the escaped text of one `message` event may take once JSON-encoded: IPC.md's 64 KiB
/// line, less room for the event's other fields (an escaped 32-byte name takes at most 256
/// bytes in JSON). A longer message (a byte above 0x7F takes four characters escaped, five in
/// JSON) becomes several consecutive `message` events.
const MESSAGE_JSON_BUDGET: usize = crate::ipc::MAX_LINE - 512;
/// Text kept for an absent client at most, besides the count limit of `store_limit`.
const STORE_MAX_BYTES: usize = 4 * 1024 * 1024;

/// Bytes that JSON needs for one character of escaped text (printable ASCII, TAB or LF).
fn json_cost(b: u8) -> usize {
    match b {
        b'"' | b'\\' | b'\t' | b'\n' => 2,
        _ => 1,
    }
}

/// Splits escaped text into pieces whose JSON fits [`MESSAGE_JSON_BUDGET`], never inside a
/// `\xNN`. Text that fits is one piece.
fn chunks(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        // Escaped text is ASCII, so every index is a char boundary.
        let bytes = rest.as_bytes();
        let mut cost = 0;
        let mut cut = bytes.len();
        for (i, &b) in bytes.iter().enumerate() {
            cost += json_cost(b);
            if cost > MESSAGE_JSON_BUDGET {
                cut = i;
                break;
            }
        }
        // Step back over an escape that the cut would split.
        if let Some(back) = (1..4).find(|&k| cut >= k && cut < bytes.len() && bytes[cut - k..].starts_with(b"\\x")) {
            cut -= back;
        }
        let (head, tail) = rest.split_at(cut.max(1));
        rest = tail;
        Some(head)
    })
}

/// How long an accepting callee waits for a silent caller.
fn handshake_patience(config: &Config) -> Duration {
    config.timeout.saturating_mul(config.retries.saturating_add(1))
}

fn inline(d: &Datagram<'_>) -> TxBytes {
    let mut buf = [0u8; INLINE_MAX];
    let mut header = [0u8; HEADER_LEN];
    d.write_header(&mut header);
    buf[..HEADER_LEN].copy_from_slice(&header);
    let payload = &d.payload()[..d.payload().len().min(INLINE_MAX - HEADER_LEN)];
    buf[HEADER_LEN..HEADER_LEN + payload.len()].copy_from_slice(payload);
    TxBytes::Inline { buf, len: u8::try_from(HEADER_LEN + payload.len()).unwrap_or(u8::MAX) }
}

fn name_of(state: &State) -> StateName {
    match state {
        State::Idle => StateName::Idle,
        State::Calling(_) => StateName::Calling,
        State::Ringing(_) => StateName::Ringing,
        State::Accepting(_) => StateName::Accepting,
        State::Chatting(c) if c.leaving => StateName::Leaving,
        State::Chatting(_) => StateName::Chatting,
        State::Closing(_) => StateName::Closing,
    }
}

#[cfg(test)]
mod tests;
