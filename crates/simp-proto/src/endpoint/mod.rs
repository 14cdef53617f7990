//! One daemon's protocol engine (SPEC 2). The [`Endpoint`] demultiplexes by peer: it answers
//! what needs no session itself (strangers, busy replies with their rate limit, the previous
//! peer while it lingers), holds what is for the client (the mailbox), and routes the current
//! peer's datagrams to its one [`Session`], the state machine of handshake, chat and close.
//!
//! Inputs: [`Endpoint::handle_datagram`], [`Endpoint::handle_command`],
//! [`Endpoint::handle_client_gone`], [`Endpoint::handle_timeout`], each with the current time.
//! Outputs: [`Endpoint::poll_transmit`], [`Endpoint::poll_event`], [`Endpoint::poll_timeout`];
//! for a shell that stores messages, [`Endpoint::poll_persist`] and [`Endpoint::poll_unheard`].
//! Nothing here reads a clock or touches a socket.

mod busy;
mod changes;
mod config;
mod inbox;
mod mailbox;
mod quirks;
mod receiver;
mod rto;
mod sender;
mod seq;
mod session;
mod timers;
mod transmit;

use std::collections::VecDeque;
use std::net::SocketAddr;

use tracing::{debug, info};

pub use crate::ipc::StateName;
use crate::ipc::{self, Command, CommandError, Event, Status};
use crate::wire::{Datagram, Kind, ParseError, Seq, UserName, BUSY_TEXT};
use crate::Instant;
use busy::BusyLimiter;
use changes::StateLog;
pub use config::Config;
use inbox::Pending;
pub use inbox::{Incoming, Stored};
use mailbox::Mailbox;
pub use rto::RtoMode;
pub use seq::SeqMode;
use session::{Refusal, Session};
use timers::{Timer, TimerTable};
pub use transmit::Transmit;

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

/// One daemon's protocol engine. See the module documentation.
#[derive(Debug)]
pub struct Endpoint {
    session: Session,
    cx: Context,
    /// After a session: who we still answer, and until when (SPEC 2.3).
    linger: Option<Linger>,
    busy: BusyLimiter,
    /// The id of the next message the client sends without one.
    next_id: u64,
}

/// What a session reads and writes besides its own state; owned by the endpoint.
#[derive(Debug)]
struct Context {
    config: Config,
    /// The local user, once a client has connected.
    user: Option<UserName>,
    transmits: VecDeque<Transmit>,
    mailbox: Mailbox,
    stats: Stats,
    /// Every deadline, the session's and the linger's.
    timers: TimerTable,
    /// The session that ended during the current input, for the endpoint to linger on.
    ended: Option<Ended>,
    /// The received message waiting for the shell's store (SPEC 2.2: acknowledged once
    /// stored).
    pending: Option<Pending>,
    /// The buffer a pending message's datagram is kept in, reused.
    spare: Vec<u8>,
    /// Session state changes not yet logged.
    changes: StateLog,
}

/// A session that just ended.
#[derive(Debug, Clone, Copy)]
struct Ended {
    peer: SocketAddr,
    /// We declined: a re-sent SYN means our FIN was lost.
    declined: bool,
}

/// After a session: who we still answer (SPEC 2.3), until [`Timer::Linger`].
#[derive(Debug, Clone, Copy)]
struct Linger {
    peer: SocketAddr,
    /// After a decline, a re-sent SYN means our FIN was lost: answer it with FIN again.
    declined: bool,
    /// The caller acknowledged our decline's FIN: it knows the call is over, so a SYN from it
    /// now is a new call (a user calling back), asked like any other.
    fin_acked: bool,
}

impl Endpoint {
    /// An idle endpoint.
    pub fn new(config: Config) -> Endpoint {
        let busy = BusyLimiter::new(config.busy_burst, config.busy_interval);
        let mailbox = Mailbox::new();
        Endpoint {
            session: Session::new(),
            cx: Context {
                config,
                user: None,
                transmits: VecDeque::new(),
                mailbox,
                stats: Stats::default(),
                timers: TimerTable::default(),
                ended: None,
                pending: None,
                spare: Vec::new(),
                changes: StateLog::default(),
            },
            linger: None,
            busy,
            next_id: 1,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cx.config
    }

    /// Life-time counters.
    pub fn stats(&self) -> Stats {
        self.cx.stats
    }

    /// The session state's name.
    pub fn state(&self) -> StateName {
        self.session.name()
    }

    /// The current peer, in any state but idle.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.session.peer()
    }

    /// True when there is no session and nothing waits to be sent or reported.
    pub fn is_idle(&self) -> bool {
        self.session.is_idle()
            && self.cx.transmits.is_empty()
            && self.cx.mailbox.is_empty()
            && self.cx.pending.is_none()
    }

    /// Messages accepted from the client and not yet delivered or reported undelivered.
    pub fn outgoing(&self) -> usize {
        self.session.outgoing()
    }

    /// The shell reports whether the attached client is taking its events. While it is not,
    /// new chat messages are not taken (nor acknowledged: the peer re-sends them), so what
    /// waits for a client stays bounded.
    pub fn set_client_backlogged(&mut self, backlogged: bool) {
        self.cx.mailbox.set_backlogged(backlogged);
    }

    /// Whether a client is attached (has sent `connect` and not quit).
    pub fn has_client(&self) -> bool {
        self.cx.mailbox.is_attached()
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.cx.transmits.pop_front()
    }

    /// Writes the log lines of the session state changes since the last call (IPC.md: one
    /// `info` line per change). A shell calls it once the datagrams and events of an input
    /// are handed on, so that formatting the lines does not delay them; lines it does not ask
    /// for are written when a few have gathered, or when the endpoint is dropped.
    pub fn write_log(&mut self) {
        self.cx.changes.write();
    }

    /// The next event for the attached client.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.cx.mailbox.poll()
    }

    /// The outcome (`delivered`, `undelivered`) of a message sent while no client was attached
    /// to hear it, e.g. after the client quit with messages queued (SPEC 2.3: they are still
    /// sent). For the shell's store: it records what [`Endpoint::poll_event`] would have told.
    pub fn poll_unheard(&mut self) -> Option<Event> {
        self.cx.mailbox.poll_unheard()
    }

    /// The received message to make durable before it is acknowledged (SPEC 2.2), handed out
    /// once; answer with [`Endpoint::handle_persisted`]. There is at most one: until it is
    /// answered, the peer's re-sends of it are neither taken nor acknowledged.
    pub fn poll_persist(&mut self) -> Option<&Incoming> {
        let pending = self.cx.pending.as_mut().filter(|p| !p.handed_out)?;
        pending.handed_out = true;
        Some(&pending.incoming)
    }

    /// The shell's store has made the message of [`Endpoint::poll_persist`] durable
    /// (`Some`), or failed to (`None`). Stored: it is acknowledged and reported to the client
    /// as `message` events with its ids. Not stored: nothing is acknowledged and nothing
    /// changes, so the peer re-sends it on its timeout and the store is asked again.
    pub fn handle_persisted(&mut self, now: Instant, stored: Option<Stored>) {
        let Some(pending) = self.cx.pending.take() else { return };
        match stored {
            Some(stored) => self.session.stored(now, pending, stored, &mut self.cx),
            None => debug!(peer = %pending.incoming.peer, "the store failed: not acknowledging; the peer re-sends"),
        }
        self.settle(now);
    }

    /// When [`Endpoint::handle_timeout`] must be called next; `None` when nothing is pending
    /// (an idle daemon never wakes up).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.cx.timers.next()
    }

    /// A datagram arrived from `from`. Malformed ones are dropped and counted (SPEC 1).
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let parsed = match Datagram::parse(bytes) {
            // A peer that counts its chat seqs past 1 (SPEC 3): read from the current peer only.
            Err(ParseError::BadSequence(_)) if self.session.peer() == Some(from) && self.session.in_chat() => {
                Datagram::parse_any_seq(bytes)
            }
            parsed => parsed,
        };
        let d = match parsed {
            Ok(d) => d,
            Err(error) => {
                self.cx.stats.malformed += 1;
                debug!(%from, %error, "dropped malformed datagram");
                return;
            }
        };
        if self.session.peer() == Some(from) {
            self.session.on_datagram(now, from, d, &mut self.cx);
            self.settle(now);
            return;
        }
        let lingering = self.cx.timers.get(Timer::Linger).is_some_and(|until| now < until);
        if let Some(linger) = self.linger.as_mut().filter(|l| l.peer == from && lingering) {
            match d.kind() {
                Kind::Fin => return self.cx.send_control(from, Kind::Ack, d.seq()),
                Kind::Ack if linger.declined => {
                    linger.fin_acked = true;
                    return;
                }
                Kind::Syn if linger.declined && !linger.fin_acked => {
                    return self.cx.send_control(from, Kind::Fin, Seq::Zero)
                }
                Kind::Syn => {}
                _ => {
                    debug!(%from, datagram = %d, "dropped datagram from the previous peer");
                    return;
                }
            }
        }
        match d.kind() {
            Kind::Syn if self.session.is_idle() => {
                self.forget_previous(from);
                self.session.incoming_call(now, from, d.user(), &mut self.cx);
            }
            Kind::Syn => {
                if self.busy_reply(now, from) {
                    let user = crate::wire::escape_name(d.user());
                    self.cx.mailbox.missed(Event::Missed { peer: from, user });
                }
            }
            _ => {
                self.cx.stats.strangers += 1;
                debug!(%from, datagram = %d, "dropped datagram from a stranger");
            }
        }
    }

    /// A command from the attached client (or from a client about to attach: `connect`).
    pub fn handle_command(&mut self, now: Instant, cmd: Command) {
        if let Err(refusal) = self.command(now, cmd) {
            self.cx.mailbox.push(Event::Refused(refusal));
        }
        self.settle(now);
    }

    /// The client went away without `quit`: treated as `quit` (IPC.md).
    pub fn handle_client_gone(&mut self, now: Instant) {
        if self.cx.mailbox.is_attached() {
            self.quit(now);
            self.settle(now);
        }
    }

    /// The daemon is stopping (SIGINT/SIGTERM, IPC.md): the chat ends whether or not a client
    /// is attached. Unlike `leave`, the queue is not sent first: a message with a part already
    /// out is finished (its outcome is known before the daemon stops, so it is never sent twice),
    /// then FIN; the messages behind it leave the queue with no outcome at all (no
    /// `undelivered`): the shell's store keeps them, to send in the next chat with this peer
    /// after the restart (SPEC 2.2, "Across a restart").
    pub fn handle_shutdown(&mut self, now: Instant) {
        self.session.shutdown(now, &mut self.cx);
        self.settle(now);
    }

    /// Time has reached [`Endpoint::poll_timeout`]. Calling it early is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.cx.timers.expired(now) {
            match timer {
                Timer::Linger => self.on_linger_timeout(),
                _ => self.session.on_timeout(timer, now, &mut self.cx),
            }
            self.settle(now);
        }
    }

    // ----- commands -----

    fn command(&mut self, now: Instant, cmd: Command) -> Result<(), Refusal> {
        if let Command::Connect { user } = cmd {
            return self.connect(&user);
        }
        if !self.cx.mailbox.is_attached() {
            return Err(CommandError::NotConnected);
        }
        match cmd {
            Command::Connect { .. } => unreachable!("handled above"),
            Command::Start { peer } => self.start(now, &peer),
            Command::Accept => self.session.accept_request(now, &mut self.cx),
            Command::Decline => self.session.decline_request(&mut self.cx),
            Command::Chat { text, id, utf8 } => {
                self.session.chat(now, text, id, utf8 == Some(true), &mut self.next_id, &mut self.cx)
            }
            Command::Leave => self.session.leave_command(now, &mut self.cx),
            Command::Quit => {
                self.quit(now);
                Ok(())
            }
            Command::Status => {
                let status = self.status();
                self.cx.mailbox.push(Event::Status(status));
                Ok(())
            }
            Command::Seen { .. } | Command::History { .. } | Command::Forget { .. } => Err(CommandError::NoStore),
        }
    }

    fn connect(&mut self, user: &str) -> Result<(), Refusal> {
        let name = UserName::new(user)?;
        info!(user = %name, "client connected");
        self.cx.user = Some(name.clone());
        self.cx.mailbox.attach();
        self.cx.mailbox.push(Event::Connected {
            user: name.to_string(),
            daemon: self.cx.config.local,
            version: env!("CARGO_PKG_VERSION").to_string(),
        });
        // Then the current state and the calls missed (IPC.md, "connected"). The messages
        // received meanwhile come from the shell's store, after these.
        self.session.announce(&mut self.cx);
        self.cx.mailbox.release_missed();
        Ok(())
    }

    fn start(&mut self, now: Instant, peer: &str) -> Result<(), Refusal> {
        let addr = ipc::parse_peer(peer)?;
        if let Some(refusal) = self.cx.config.uncallable(addr) {
            return Err(refusal);
        }
        self.session.start(now, addr, &mut self.cx)?;
        self.forget_previous(addr);
        Ok(())
    }

    fn quit(&mut self, now: Instant) {
        if !self.session.is_idle() {
            self.session.leave(now, &mut self.cx);
        }
        info!("client quit");
        self.cx.mailbox.detach();
        // Events after this point have no one to go to; the shell closes the connection
        // once it has written what is already queued.
    }

    /// The daemon's state, as `status` reports it. Read-only: the shell also answers a
    /// `status` from a connection that is not the client with it (IPC.md "Access").
    pub fn status(&self) -> Status {
        self.session.status(&self.cx.config, self.cx.user.as_ref())
    }

    // ----- helpers -----

    /// After every input: a session that ended leaves its peer lingering (SPEC 2.3), unless
    /// the same peer already started a new one.
    fn settle(&mut self, now: Instant) {
        let Some(ended) = self.cx.ended.take() else { return };
        if self.session.peer() == Some(ended.peer) {
            self.stop_lingering();
        } else {
            self.linger = Some(Linger { peer: ended.peer, declined: ended.declined, fin_acked: false });
            self.cx.timers.set(Timer::Linger, now + self.cx.config.linger());
        }
    }

    /// The previous peer is a stranger again.
    fn on_linger_timeout(&mut self) {
        self.linger = None;
    }

    fn stop_lingering(&mut self) {
        self.linger = None;
        self.cx.timers.stop(Timer::Linger);
    }

    /// A new session with `peer` starts: it is no longer the previous peer.
    fn forget_previous(&mut self, peer: SocketAddr) {
        if self.linger.is_some_and(|l| l.peer == peer) {
            self.stop_lingering();
        }
    }

    /// Answers a call while busy (SPEC 2.4); true if the reply went out (then the user is told
    /// of the missed call too, under the same rate limit, so a flood cannot flood the client).
    fn busy_reply(&mut self, now: Instant, from: SocketAddr) -> bool {
        if !self.busy.allow(now, from.ip()) {
            self.cx.stats.busy_suppressed += 1;
            debug!(%from, "busy reply withheld by the rate limit");
            return false;
        }
        self.cx.stats.busy_replies += 1;
        info!(%from, "busy: answered a call with ERR and FIN");
        self.cx.send_err(from, BUSY_TEXT);
        self.cx.send_control(from, Kind::Fin, Seq::Zero);
        true
    }
}

impl Drop for Endpoint {
    /// No state change goes unlogged.
    fn drop(&mut self) {
        self.write_log();
    }
}

impl Context {
    /// An ERR with one of our fixed texts ([`BUSY_TEXT`], [`crate::wire::NO_ANSWER_TEXT`]).
    fn send_err(&mut self, to: SocketAddr, text: &'static str) {
        let err = Datagram::new(Kind::Err, Seq::Zero, self.user.as_ref(), text.as_bytes());
        self.transmits.push_back(Transmit::inline(to, &err));
    }

    fn send_control(&mut self, to: SocketAddr, kind: Kind, seq: Seq) {
        let d = Datagram::new(kind, seq, self.user.as_ref(), &[]);
        self.transmits.push_back(Transmit::inline(to, &d));
    }

    /// The ACK of a chat datagram: it echoes the seq byte as received, a counting peer's
    /// above 1 included (SPEC 3).
    fn send_ack_echo(&mut self, to: SocketAddr, seq: Seq, seq_byte: u8) {
        let d = Datagram::new(Kind::Ack, seq, self.user.as_ref(), &[]).with_seq_byte(seq_byte);
        self.transmits.push_back(Transmit::inline(to, &d));
    }
}

#[cfg(test)]
mod tests;
