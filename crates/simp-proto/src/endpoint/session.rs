//! One peer's session (SPEC 2.1–2.3): the state machine of handshake, stop-and-wait chat and
//! close. The [`Endpoint`](super::Endpoint) routes the current peer's datagrams here and
//! answers everyone else itself.

use std::mem;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, info};

use super::inbox::{Incoming, Pending, Stored};
use super::quirks::{Acks, Reported};
use super::receiver::Receiver;
use super::rto::Rto;
use super::sender::{InFlight, Sender};
use super::seq::SeqBits;
use super::timers::Timer;
use super::{Context, Transmit};
use crate::ipc::{CommandError, EndReason, ErrorCode, Event, Quirk, StateName, Status};
use crate::wire::{self, Datagram, Kind, Seq, UserName};
use crate::Instant;

/// Why a command cannot be carried out in the session's current state.
pub(super) type Refusal = CommandError;

/// The session with the current peer, if any.
#[derive(Debug)]
pub(super) struct Session {
    state: State,
}

/// The session. Each variant carries exactly what that state needs; its timers are in the
/// endpoint's table (see [`State::timers`]).
#[derive(Debug)]
enum State {
    Idle,
    Calling(Calling),
    Ringing(Ringing),
    Accepting(Accepting),
    Chatting(Box<Chat>),
    /// A chat we are leaving: what is queued is still sent, then FIN (SPEC 2.3).
    Leaving(Box<Chat>),
    Closing(Closing),
}

impl State {
    fn name(&self) -> StateName {
        match self {
            State::Idle => StateName::Idle,
            State::Calling(_) => StateName::Calling,
            State::Ringing(_) => StateName::Ringing,
            State::Accepting(_) => StateName::Accepting,
            State::Chatting(_) => StateName::Chatting,
            State::Leaving(_) => StateName::Leaving,
            State::Closing(_) => StateName::Closing,
        }
    }

    fn peer(&self) -> Option<SocketAddr> {
        match self {
            State::Idle => None,
            State::Calling(s) => Some(s.peer),
            State::Ringing(s) => Some(s.peer),
            State::Accepting(s) => Some(s.peer),
            State::Chatting(c) | State::Leaving(c) => Some(c.peer),
            State::Closing(s) => Some(s.peer),
        }
    }

    /// The chat, in the states that have one.
    fn chat(&self) -> Option<&Chat> {
        match self {
            State::Chatting(c) | State::Leaving(c) => Some(c),
            _ => None,
        }
    }

    /// The timers a state may arm; they are stopped when it is left.
    fn timers(&self) -> &'static [Timer] {
        match self {
            State::Idle => &[],
            State::Calling(_) => &[Timer::CallGiveUp, Timer::SynResend],
            State::Ringing(_) => &[Timer::RingExpiry],
            State::Accepting(_) => &[Timer::HandshakeGiveUp, Timer::SynAckResend],
            State::Chatting(_) | State::Leaving(_) => &[Timer::Retransmit, Timer::SendHold],
            State::Closing(_) => &[Timer::FinResend],
        }
    }
}

#[derive(Debug)]
struct Calling {
    peer: SocketAddr,
    /// The ERR text of a busy reply, waiting for its FIN.
    busy_detail: Option<String>,
    /// When the peer's first SYN came while we call it (simultaneous open, SPEC 2.1).
    peer_syn: Option<Instant>,
}

#[derive(Debug)]
struct Ringing {
    peer: SocketAddr,
    user: Vec<u8>,
}

#[derive(Debug)]
struct Accepting {
    peer: SocketAddr,
    user: Vec<u8>,
    first_sent: Instant,
    /// Re-sends we may still make on our own (SPEC 2.1 step 3: twice).
    own_resends_left: u8,
    /// SYN+ACKs sent so far: the caller answers each one it hears with an ACK (seq 0).
    sends: u32,
}

#[derive(Debug)]
struct Chat {
    peer: SocketAddr,
    /// When the handshake completed here (a SYN from the peer after that: SPEC 2.3, restart).
    since: Instant,
    rx: Receiver,
    tx: Sender,
    seq: SeqBits,
    rto: Rto,
    /// Handshake ACKs that may still arrive (see [`Session::establish`]).
    stale_acks: u32,
    /// Whether the peer's ACKs echo our seq or carry a fixed one (SPEC 3).
    acks: Acks,
    /// Quirks of the peer already reported in this chat.
    quirks: Reported,
    retransmissions: u64,
    delivered: u64,
}

#[derive(Debug)]
struct Closing {
    peer: SocketAddr,
    /// The seq the peer's ACKs always carry, if the chat proved it (SPEC 3): its ACK of our
    /// FIN carries it too.
    ack_seq: Seq,
    sends: u32,
    rto: Duration,
}

impl Session {
    pub(super) fn new() -> Session {
        Session { state: State::Idle }
    }

    /// The session state's name.
    pub(super) fn name(&self) -> StateName {
        self.state.name()
    }

    pub(super) fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle)
    }

    /// The current peer, in any state but idle.
    pub(super) fn peer(&self) -> Option<SocketAddr> {
        self.state.peer()
    }

    /// Whether a chat is open (chatting or leaving).
    pub(super) fn in_chat(&self) -> bool {
        self.state.chat().is_some()
    }

    /// Messages accepted from the client and not yet delivered or reported undelivered.
    pub(super) fn outgoing(&self) -> usize {
        self.state.chat().map_or(0, |c| c.tx.len())
    }

    /// The events that tell a newly attached client where the session stands (IPC.md,
    /// "connected").
    pub(super) fn announce(&self, cx: &mut Context) {
        match &self.state {
            State::Calling(s) => cx.mailbox.push(Event::Calling { peer: s.peer }),
            State::Ringing(s) => cx.mailbox.push(Event::Request { peer: s.peer, user: wire::escape_name(&s.user) }),
            State::Chatting(c) => cx.mailbox.push(Event::Established { peer: c.peer, user: c.rx.user().to_string() }),
            State::Idle | State::Accepting(_) | State::Leaving(_) | State::Closing(_) => {}
        }
    }

    /// The `status` event's fields.
    pub(super) fn status(&self, config: &super::Config, user: Option<&UserName>) -> Status {
        let chat = self.state.chat();
        let peer_user = match &self.state {
            State::Ringing(s) => Some(wire::escape_name(&s.user)),
            State::Accepting(s) => Some(wire::escape_name(&s.user)),
            State::Chatting(c) | State::Leaving(c) => Some(c.rx.user().to_string()),
            _ => None,
        };
        Status {
            state: self.name(),
            user: user.map(|u| u.to_string()),
            peer: self.peer(),
            peer_user,
            rtt_ms: chat.and_then(|c| c.rto.srtt()).map(|d| d.as_secs_f64() * 1000.0),
            rto_ms: u64::try_from(chat.map_or(config.timeout, |c| c.rto.current()).as_millis()).unwrap_or(u64::MAX),
            retransmissions: chat.map_or(0, |c| c.retransmissions),
            queued: chat.map_or(0, |c| c.tx.len()),
            delivered: chat.map_or(0, |c| c.delivered),
            received: chat.map_or(0, |c| c.rx.received),
        }
    }

    /// The daemon is stopping (see [`Endpoint::handle_shutdown`](super::Endpoint::handle_shutdown)):
    /// the message being sent is finished, the rest kept without an outcome, then FIN.
    pub(super) fn shutdown(&mut self, now: Instant, cx: &mut Context) {
        if let State::Chatting(c) | State::Leaving(c) = &mut self.state {
            let kept = c.tx.keep_started();
            info!(peer = %c.peer, kept = kept.len(), finishing = c.tx.len(), "shutting down: the messages not yet sent are kept for the next chat with this peer; FIN after the one being sent");
            if c.tx.is_idle() {
                let rto = c.rto.current();
                self.close(now, rto, cx);
            } else if matches!(self.state, State::Chatting(_)) {
                self.transition(cx, None, |old| match old {
                    State::Chatting(c) => State::Leaving(c),
                    other => other,
                });
            }
        } else if !matches!(self.state, State::Idle | State::Closing(_)) {
            info!(peer = ?self.peer(), "shutting down: leaving the session");
            self.leave(now, cx);
        }
    }

    /// `timer` of this session expired.
    pub(super) fn on_timeout(&mut self, timer: Timer, now: Instant, cx: &mut Context) {
        match timer {
            Timer::CallGiveUp => self.on_call_timeout(cx),
            Timer::SynResend => self.on_syn_timeout(now, cx),
            Timer::RingExpiry => self.on_ring_timeout(cx),
            Timer::HandshakeGiveUp => self.on_handshake_timeout(cx),
            Timer::SynAckResend => self.on_synack_timeout(now, cx),
            Timer::Retransmit => self.on_retransmit_timeout(now, cx),
            Timer::FinResend => self.on_fin_timeout(now, cx),
            Timer::SendHold => self.pump(now, cx),
            Timer::Linger => {}
        }
    }

    /// Nobody answered our call: cancel the callee's ringing.
    fn on_call_timeout(&mut self, cx: &mut Context) {
        let State::Calling(s) = &mut self.state else { return };
        let detail = s.busy_detail.take();
        let reason = if detail.is_some() { EndReason::Busy } else { EndReason::NoAnswer };
        self.fin_and_end(cx, reason, detail);
    }

    fn on_syn_timeout(&mut self, now: Instant, cx: &mut Context) {
        let State::Calling(s) = &self.state else { return };
        cx.timers.set(Timer::SynResend, now + cx.config.timeout);
        cx.stats.retransmissions += 1;
        cx.send_control(s.peer, Kind::Syn, Seq::Zero);
    }

    /// Nobody answered the request: ERR `No answer` before the FIN, so the caller is told
    /// that rather than "declined" (SPEC 2.1).
    fn on_ring_timeout(&mut self, cx: &mut Context) {
        if let State::Ringing(s) = &self.state {
            cx.send_err(s.peer, wire::NO_ANSWER_TEXT);
            self.decline(EndReason::RequestExpired, cx);
        }
    }

    fn on_handshake_timeout(&mut self, cx: &mut Context) {
        let State::Accepting(s) = &self.state else { return };
        info!(peer = %s.peer, "the caller went silent before completing the handshake");
        self.fin_and_end(cx, EndReason::PeerUnreachable, None);
    }

    fn on_synack_timeout(&mut self, now: Instant, cx: &mut Context) {
        let State::Accepting(s) = &mut self.state else { return };
        s.own_resends_left = s.own_resends_left.saturating_sub(1);
        s.sends += 1;
        if s.own_resends_left > 0 {
            cx.timers.set(Timer::SynAckResend, now + cx.config.timeout);
        }
        cx.stats.retransmissions += 1;
        cx.send_control(s.peer, Kind::SynAck, Seq::Zero);
    }

    /// The datagram in flight was not acknowledged: re-send it byte for byte, or give up
    /// after `retries` re-sends (SPEC 2.2).
    fn on_retransmit_timeout(&mut self, now: Instant, cx: &mut Context) {
        let (State::Chatting(c) | State::Leaving(c)) = &mut self.state else { return };
        let Some(f) = c.tx.in_flight.as_mut() else { return };
        if f.resends >= cx.config.retries {
            info!(peer = %c.peer, retries = cx.config.retries, "no acknowledgement after the last re-send");
            self.fin_and_end(cx, EndReason::PeerUnreachable, None);
            return;
        }
        c.rto.backoff();
        f.resends += 1;
        f.last_sent = now;
        cx.timers.set(Timer::Retransmit, now + c.rto.current());
        c.retransmissions += 1;
        cx.stats.retransmissions += 1;
        cx.transmits.push_back(Transmit::shared(c.peer, Arc::clone(&f.bytes)));
    }

    /// Our FIN was not acknowledged: re-send it, or end after `retries` re-sends (SPEC 2.3).
    fn on_fin_timeout(&mut self, now: Instant, cx: &mut Context) {
        let State::Closing(s) = &mut self.state else { return };
        if s.sends > cx.config.retries {
            self.end_session(cx, EndReason::YouLeft, None);
        } else {
            s.sends += 1;
            cx.timers.set(Timer::FinResend, now + s.rto);
            cx.stats.retransmissions += 1;
            cx.send_control(s.peer, Kind::Fin, Seq::Zero);
        }
    }

    // ----- datagrams from the current peer -----

    /// A datagram from the current peer.
    pub(super) fn on_datagram(&mut self, now: Instant, from: SocketAddr, d: Datagram<'_>, cx: &mut Context) {
        match (&mut self.state, d.kind()) {
            (State::Calling(_), Kind::SynAck) => {
                cx.send_control(from, Kind::Ack, Seq::Zero);
                self.establish(now, from, d.user(), None, 0, cx);
            }
            (State::Calling(s), Kind::Syn) => {
                // Simultaneous open (SPEC 2.1): the lower (IP, port) stays the caller. A peer
                // that still calls a timeout later did not accept ours: it sees us at another
                // address and takes itself for the lower, so we accept.
                let first = *s.peer_syn.get_or_insert(now);
                if cx.config.local > from {
                    info!(peer = %from, "simultaneous open: we are the higher address, accepting the peer's call");
                    self.accept(now, from, d.user().to_vec(), cx);
                } else if now.saturating_since(first) >= cx.config.timeout {
                    info!(peer = %from, "simultaneous open: the peer still calls a timeout later, so it sees us at another address; accepting its call");
                    self.accept(now, from, d.user().to_vec(), cx);
                } else {
                    debug!(peer = %from, "ignored SYN while calling: simultaneous open, and we are the lower address, so we stay the caller");
                }
            }
            (State::Calling(s), Kind::Err) => s.busy_detail = Some(wire::escape(d.payload())),
            (State::Calling(s), Kind::Fin) => {
                let detail = s.busy_detail.take();
                cx.send_control(from, Kind::Ack, d.seq());
                let (reason, detail) = match detail {
                    Some(text) if text == wire::NO_ANSWER_TEXT => (EndReason::NoAnswer, None),
                    Some(text) => (EndReason::Busy, Some(text)),
                    None => (EndReason::Declined, None),
                };
                self.end_session(cx, reason, detail);
            }
            (State::Ringing(_), Kind::Syn) => {
                debug!(peer = %from, "ignored re-sent SYN: it keeps the request alive; the user is asked once");
            }
            (State::Ringing(_) | State::Accepting(_), Kind::Fin) => {
                cx.send_control(from, Kind::Ack, d.seq());
                self.end_session(cx, EndReason::PeerLeft, None);
            }
            (State::Accepting(s), Kind::Syn) => {
                // The caller did not hear us: one more SYN+ACK per SYN (SPEC 2.1 step 3).
                s.sends += 1;
                cx.timers.set(Timer::HandshakeGiveUp, now + cx.config.handshake_patience());
                cx.stats.retransmissions += 1;
                cx.send_control(from, Kind::SynAck, Seq::Zero);
            }
            (State::Accepting(s), Kind::SynAck) => {
                // Simultaneous open where each side took itself for the higher address (they
                // see each other at different addresses): the peer accepted our call as we
                // accepted its own. Both are in the chat; each answers the other's SYN+ACKs.
                info!(peer = %from, "simultaneous open: the peer accepted our call too");
                cx.send_control(from, Kind::Ack, Seq::Zero);
                let user = mem::take(&mut s.user);
                let stale = s.sends;
                self.establish(now, from, &user, None, stale, cx);
            }
            (State::Accepting(s), Kind::Ack) if d.seq() == Seq::Zero => {
                // Karn's rule: no sample if the SYN+ACK went out more than once.
                let rtt = (s.sends == 1).then(|| now.saturating_since(s.first_sent));
                let user = mem::take(&mut s.user);
                let stale = s.sends - 1;
                self.establish(now, from, &user, rtt, stale, cx);
            }
            (State::Accepting(s), Kind::Chat) => {
                // Implicit ACK: the caller is in the chat, so our SYN+ACK arrived.
                let user = mem::take(&mut s.user);
                let stale = s.sends;
                self.establish(now, from, &user, None, stale, cx);
                self.chat_datagram(now, d, cx);
            }
            (State::Chatting(c) | State::Leaving(c), Kind::Syn)
                if now.saturating_since(c.since) >= cx.config.timeout =>
            {
                // SPEC 2.3, "a restarted peer": on an in-order network every SYN of the
                // handshake arrives before the ACK that completed it, so a SYN from the peer
                // this long into the chat is a new call from a daemon that restarted at the
                // same address. The old chat is over (no FIN: it would decline the new call).
                info!(peer = %from, "a SYN from the peer mid-chat: it restarted; the old chat is over");
                self.end_session(cx, EndReason::PeerLeft, None);
                self.incoming_call(now, from, d.user(), cx);
            }
            (State::Chatting(_) | State::Leaving(_), Kind::Syn) => {
                debug!(peer = %from, "ignored SYN: a late copy from the handshake (only a SYN a timeout into the chat is a restarted peer, SPEC 2.3)");
            }
            (State::Chatting(_) | State::Leaving(_), Kind::Chat) => self.chat_datagram(now, d, cx),
            (State::Chatting(_) | State::Leaving(_), Kind::Ack) => self.chat_ack(now, d.seq(), cx),
            (State::Chatting(_) | State::Leaving(_), Kind::SynAck) => cx.send_control(from, Kind::Ack, Seq::Zero),
            (State::Chatting(_) | State::Leaving(_), Kind::Fin) => {
                cx.send_control(from, Kind::Ack, d.seq());
                self.end_session(cx, EndReason::PeerLeft, None);
            }
            (State::Closing(s), Kind::Ack) if d.seq() == s.ack_seq => self.end_session(cx, EndReason::YouLeft, None),
            (State::Closing(_), Kind::Fin) => {
                // Both sides closed at once: each acknowledges the other's FIN.
                cx.send_control(from, Kind::Ack, d.seq());
                self.end_session(cx, EndReason::YouLeft, None);
            }
            (_, Kind::Err) => {
                let text = wire::escape(d.payload());
                info!(peer = %from, %text, "peer sent ERR");
                cx.mailbox.emit(Event::error(ErrorCode::PeerError, text));
            }
            (_, _) => debug!(peer = %from, datagram = %d, state = %self.name(), "ignored datagram from the peer"),
        }
    }

    /// A SYN while idle (or from a restarted peer): ring, or accept at once.
    pub(super) fn incoming_call(&mut self, now: Instant, from: SocketAddr, user: &[u8], cx: &mut Context) {
        if cx.config.auto_accept {
            self.accept(now, from, user.to_vec(), cx);
            return;
        }
        self.transition(cx, None, |_| State::Ringing(Ringing { peer: from, user: user.to_vec() }));
        cx.timers.set(Timer::RingExpiry, now + cx.config.ring_timeout);
        debug!(peer = %from, user = %wire::escape_name(user), "incoming call, waiting for accept or decline");
        cx.mailbox.emit(Event::Request { peer: from, user: wire::escape_name(user) });
    }

    fn accept(&mut self, now: Instant, peer: SocketAddr, user: Vec<u8>, cx: &mut Context) {
        cx.send_control(peer, Kind::SynAck, Seq::Zero);
        let accepting = Accepting { peer, user, first_sent: now, own_resends_left: 2, sends: 1 };
        self.transition(cx, None, |_| State::Accepting(accepting));
        cx.timers.set(Timer::SynAckResend, now + cx.config.timeout);
        cx.timers.set(Timer::HandshakeGiveUp, now + cx.config.handshake_patience());
    }

    /// Turns the ringing request down with FIN; a re-sent SYN gets FIN again (SPEC 2.3).
    fn decline(&mut self, reason: EndReason, cx: &mut Context) {
        self.fin_and_end(cx, reason, None);
        if let Some(ended) = cx.ended.as_mut() {
            ended.declined = true;
        }
    }

    /// Opens the chat. `stale_acks`: how many more handshake ACKs (seq 0) the caller may still
    /// send us (one per SYN+ACK it hears, less those we saw), which must not be taken for the
    /// ACK of our first chat datagram, also seq 0 (see the crate docs).
    fn establish(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        user: &[u8],
        rtt: Option<Duration>,
        stale_acks: u32,
        cx: &mut Context,
    ) {
        let mut rto = Rto::new(cx.config.rto, cx.config.timeout);
        if let Some(rtt) = rtt {
            rto.sample(rtt);
        }
        let rx = Receiver::new(user);
        let peer_user = Arc::clone(rx.user());
        let chat = Chat {
            peer,
            since: now,
            rx,
            tx: Sender::default(),
            seq: SeqBits::new(cx.config.seq_mode),
            rto,
            stale_acks,
            acks: Acks::default(),
            quirks: Reported::default(),
            retransmissions: 0,
            delivered: 0,
        };
        self.transition(cx, None, |_| State::Chatting(Box::new(chat)));
        debug!(%peer, user = %peer_user, "chat established");
        cx.mailbox.emit(Event::Established { peer, user: peer_user.to_string() });
    }

    /// A chat datagram from the peer (SPEC 2.2). A re-send is byte-identical to the last one
    /// taken: it is acknowledged again and not delivered again. Anything else is a new message,
    /// whatever its seq (SPEC 3: peers that never alternate, count, or share one bit).
    fn chat_datagram(&mut self, now: Instant, d: Datagram<'_>, cx: &mut Context) {
        let (State::Chatting(c) | State::Leaving(c)) = &mut self.state else { return };
        let peer = c.peer;
        if c.rx.is_resend(&d) {
            debug!(%peer, seq = d.seq_byte(), "absorbed a duplicate chat datagram: byte-identical to the last one taken (our ACK was lost); acknowledged again");
            cx.send_ack_echo(peer, d.seq(), d.seq_byte());
            return;
        }
        // Acknowledged only once the shell's store has it (SPEC 2.2): asked here, taken in
        // `stored`. A re-send while the store works is not taken twice.
        if cx.pending.is_some() {
            debug!(%peer, "the previous message is still being stored: not acknowledging");
            return;
        }
        if let Some(f) = c.tx.in_flight.as_ref().filter(|_| c.seq.is_shared()) {
            // Both typed at once with one shared bit (SPEC 2.6): taking the peer's message now
            // would move the bit under ours. It waits, unacknowledged (the peer re-sends it),
            // until ours is acknowledged, and our next one waits for it. Two such daemons
            // would wait for each other: the higher address gives way once ours was re-sent.
            if cx.config.local < peer || f.resends == 0 {
                debug!(%peer, seq = d.seq_byte(), "held a new message from the peer: ours is in flight with the shared bit; the peer re-sends it once ours is acknowledged");
                cx.timers.set(Timer::SendHold, now + cx.config.linger());
                return;
            }
        }
        if !cx.mailbox.can_take() {
            debug!(%peer, "the client cannot take this message now: not acknowledging");
            return;
        }
        let incoming = Incoming { peer, user: c.rx.name_for(d.user()), text: wire::escape(d.payload()) };
        cx.pending = Some(Pending::new(incoming, &d, &mut cx.spare));
    }

    /// The shell stored the message `pending` (SPEC 2.2): now it is taken, reported and
    /// acknowledged. If the chat ended meanwhile (a shell that stores asynchronously), the
    /// peer is gone and nothing is acknowledged.
    pub(super) fn stored(&mut self, now: Instant, pending: Pending, stored: Stored, cx: &mut Context) {
        let (State::Chatting(c) | State::Leaving(c)) = &mut self.state else { return };
        let bytes = pending.datagram;
        // Parsed when it arrived: a peer's counting seq (SPEC 3) included.
        if let Some(d) = Datagram::parse_any_seq(&bytes).ok().filter(|_| c.peer == pending.incoming.peer) {
            let peer = c.peer;
            let repeated = c.rx.last_seq_byte() == Some(d.seq_byte());
            let ours_since = c.seq.ours_since();
            c.rx.take(&d);
            let switched = c.seq.received(d.seq());
            for event in pending.incoming.into_events(stored) {
                cx.mailbox.emit(event);
            }
            cx.send_ack_echo(peer, d.seq(), d.seq_byte());
            cx.timers.stop(Timer::SendHold);
            let seq = d.seq_byte();
            if seq > 1 {
                c.quirks.report(Quirk::CountingSeq, || format!("its chat datagrams count their seq past 1 (seq {seq}); simp reads the seq by its parity and echoes it in its ACKs"), cx);
            }
            // A shared bit repeats after an odd number of ours: that is not this quirk.
            if repeated && (ours_since % 2 == 0 || cx.config.seq_mode == super::SeqMode::PerDirection) {
                c.quirks.report(Quirk::RepeatedSeq, || format!("it sent a new message with the same seq ({seq}) as the one before; simp delivers it, since a re-send is byte-identical"), cx);
            }
            if switched {
                c.quirks.report(
                    Quirk::SharedSeq,
                    || "it uses one seq bit for both directions; simp now does the same (--seq-mode auto)".into(),
                    cx,
                );
            }
        }
        cx.spare = bytes;
        self.pump(now, cx);
    }

    /// An ACK from the peer while chatting: it acknowledges the datagram in flight if it
    /// echoes its seq (SPEC 2.2), or, from a peer whose ACKs carry a fixed seq, whatever it
    /// carries (SPEC 3).
    fn chat_ack(&mut self, now: Instant, seq: Seq, cx: &mut Context) {
        let (State::Chatting(c) | State::Leaving(c)) = &mut self.state else { return };
        let last_chance = c.tx.in_flight.as_ref().is_some_and(|f| f.resends >= cx.config.retries);
        if seq == Seq::Zero && c.stale_acks > 0 {
            if !last_chance {
                // Possibly the caller's answer to one of our re-sent SYN+ACKs. If it was the
                // real ACK of our first datagram instead, that datagram is re-sent on its
                // timeout and acknowledged again: a delay, never a message wrongly marked
                // delivered.
                c.stale_acks -= 1;
                debug!(peer = %c.peer, left = c.stale_acks, "absorbed ACK seq 0: taken for a late handshake ACK");
                return;
            }
            // The last re-send is answered: late handshake ACKs would have come long ago
            // (a timeout is longer than a round trip). A caller that answers only its first
            // SYN+ACK sends none, and the discount must not end the chat.
            debug!(peer = %c.peer, discounted = c.stale_acks, "the late handshake ACKs never came: this ACK is the real one");
            c.stale_acks = 0;
        }
        let Some(f) = &c.tx.in_flight else {
            debug!(peer = %c.peer, seq = seq.byte(), "ignored ACK: nothing of ours is in flight (a duplicate, or the late answer to a re-sent datagram)");
            return;
        };
        let rto = c.rto.current();
        if c.acks.fixed().is_none() && f.seq != seq {
            if !c.acks.wrong_ack(now, seq, f, rto) {
                // Never re-send on a duplicate ACK (SPEC 2.2, the Sorcerer's Apprentice).
                debug!(peer = %c.peer, seq = seq.byte(), "ignored ACK with the wrong sequence: a duplicate, or the answer to an earlier copy");
                return;
            }
            let fixed = seq.byte();
            c.quirks.report(Quirk::FixedAckSeq, || format!("its ACKs always carry seq {fixed} instead of echoing ours; simp takes any ACK for the message in flight and, after a re-sent message, waits one timeout before the next"), cx);
        }
        if f.resends == 0 {
            c.rto.sample(now.saturating_since(f.sent_at));
        }
        cx.timers.stop(Timer::Retransmit);
        if let Some(until) = c.acks.acknowledged(f, rto) {
            cx.timers.set(Timer::SendHold, until);
        }
        c.seq.acknowledged();
        if let Some(id) = c.tx.acknowledged() {
            c.delivered += 1;
            cx.mailbox.record(Event::Delivered { id });
        }
        self.pump(now, cx);
    }

    /// Sends the next queued part if the channel is free; starts the FIN when leaving and done.
    fn pump(&mut self, now: Instant, cx: &mut Context) {
        let leaving = matches!(self.state, State::Leaving(_));
        let (State::Chatting(c) | State::Leaving(c)) = &mut self.state else { return };
        if cx.timers.get(Timer::SendHold).is_some() {
            return;
        }
        if let Some(payload) = c.tx.next_payload() {
            let seq = c.seq.tx();
            let bytes: Arc<[u8]> = Datagram::new(Kind::Chat, seq, cx.user.as_ref(), payload).to_vec().into();
            cx.timers.set(Timer::Retransmit, now + c.rto.current());
            c.tx.in_flight =
                Some(InFlight { bytes: Arc::clone(&bytes), seq, sent_at: now, last_sent: now, resends: 0 });
            cx.transmits.push_back(Transmit::shared(c.peer, bytes));
        } else if leaving && c.tx.is_idle() {
            let rto = c.rto.current();
            self.close(now, rto, cx);
        }
    }

    // ----- commands -----

    /// `start`: calls `addr`, if no session is running.
    pub(super) fn start(&mut self, now: Instant, addr: SocketAddr, cx: &mut Context) -> Result<(), Refusal> {
        match &self.state {
            State::Idle => {}
            State::Ringing(r) => return Err(CommandError::RequestWaiting { caller: r.peer }),
            _ => {
                return Err(CommandError::InSession { peer: self.peer() });
            }
        }
        cx.send_control(addr, Kind::Syn, Seq::Zero);
        self.transition(cx, None, |_| State::Calling(Calling { peer: addr, busy_detail: None, peer_syn: None }));
        cx.timers.set(Timer::CallGiveUp, now + cx.config.call_timeout);
        cx.timers.set(Timer::SynResend, now + cx.config.timeout);
        cx.mailbox.emit(Event::Calling { peer: addr });
        Ok(())
    }

    /// `accept`: answers the waiting request.
    pub(super) fn accept_request(&mut self, now: Instant, cx: &mut Context) -> Result<(), Refusal> {
        match &self.state {
            State::Ringing(r) => {
                let (peer, user) = (r.peer, r.user.clone());
                self.accept(now, peer, user, cx);
                Ok(())
            }
            _ => Err(CommandError::NoRequest),
        }
    }

    /// `decline`: turns the waiting request down.
    pub(super) fn decline_request(&mut self, cx: &mut Context) -> Result<(), Refusal> {
        match &self.state {
            State::Ringing(_) => {
                self.decline(EndReason::Declined, cx);
                Ok(())
            }
            _ => Err(CommandError::NoRequest),
        }
    }

    /// `chat`: queues `text` for the peer; `next_id` numbers messages the client left unnamed;
    /// `utf8`: the client opted in to sending UTF-8 (SPEC 1, "Beyond ASCII").
    pub(super) fn chat(
        &mut self,
        now: Instant,
        text: String,
        id: Option<String>,
        utf8: bool,
        next_id: &mut u64,
        cx: &mut Context,
    ) -> Result<(), Refusal> {
        let c = match &mut self.state {
            State::Chatting(c) => c,
            State::Leaving(_) => return Err(CommandError::ChatClosing),
            _ => return Err(CommandError::NoChat),
        };
        wire::validate_text(&text, utf8)?;
        if c.tx.len() >= cx.config.queue_limit {
            return Err(CommandError::QueueFull { waiting: c.tx.len() });
        }
        let id = id.unwrap_or_else(|| {
            let id = next_id.to_string();
            *next_id += 1;
            id
        });
        c.tx.push(id.clone(), text, cx.config.max_payload);
        cx.mailbox.emit(Event::Queued { id });
        self.pump(now, cx);
        Ok(())
    }

    /// `leave`: ends the chat or call attempt, unless it is ending already.
    pub(super) fn leave_command(&mut self, now: Instant, cx: &mut Context) -> Result<(), Refusal> {
        if matches!(self.state, State::Idle) {
            return Err(CommandError::NothingToLeave);
        }
        if matches!(self.state, State::Leaving(_) | State::Closing(_)) {
            return Err(CommandError::AlreadyLeaving);
        }
        self.leave(now, cx);
        Ok(())
    }

    /// Ends the session from our side: what is queued is sent first, then FIN (SPEC 2.3).
    pub(super) fn leave(&mut self, now: Instant, cx: &mut Context) {
        match &self.state {
            State::Idle | State::Closing(_) => {}
            State::Calling(_) => self.fin_and_end(cx, EndReason::YouLeft, None),
            State::Ringing(_) => self.decline(EndReason::Declined, cx),
            State::Accepting(_) => self.close(now, cx.config.timeout, cx),
            State::Chatting(c) => {
                debug!(peer = %c.peer, queued = c.tx.len(), "leaving: sending what is queued, then FIN");
                self.transition(cx, None, |old| match old {
                    State::Chatting(c) => State::Leaving(c),
                    other => other,
                });
                self.pump(now, cx);
            }
            State::Leaving(_) => self.pump(now, cx),
        }
    }

    // ----- helpers -----

    /// Sends FIN and waits for its ACK, re-sending it every `rto` (SPEC 2.3).
    fn close(&mut self, now: Instant, rto: Duration, cx: &mut Context) {
        let Some(peer) = self.peer() else { return };
        let ack_seq = self.state.chat().and_then(|c| c.acks.fixed()).unwrap_or(Seq::Zero);
        cx.send_control(peer, Kind::Fin, Seq::Zero);
        self.transition(cx, None, |_| State::Closing(Closing { peer, ack_seq, sends: 1, rto }));
        cx.timers.set(Timer::FinResend, now + rto);
    }

    /// Sends one FIN, not re-sent, and ends: a call or handshake given up, a request turned
    /// down, a peer that stopped acknowledging. A lost FIN is answered again while we linger.
    fn fin_and_end(&mut self, cx: &mut Context, reason: EndReason, detail: Option<String>) {
        if let Some(peer) = self.peer() {
            cx.send_control(peer, Kind::Fin, Seq::Zero);
        }
        self.end_session(cx, reason, detail);
    }

    /// Ends whatever session there is: reports undelivered messages, then `ended`; the
    /// endpoint lingers for the peer.
    fn end_session(&mut self, cx: &mut Context, reason: EndReason, detail: Option<String>) {
        let Some(peer) = self.peer() else { return };
        if let State::Chatting(c) | State::Leaving(c) = &mut self.state {
            for id in c.tx.drain_ids() {
                cx.mailbox.record(Event::Undelivered { id, reason });
            }
        }
        self.transition(cx, Some(reason), |_| State::Idle);
        cx.mailbox.emit(Event::Ended { reason, detail });
        cx.ended = Some(super::Ended { peer, declined: false });
    }

    /// Every state change goes through here: it stops the timers the old state armed and the
    /// new one does not use, and logs `old -> new` with the peer at info level (IPC.md: one
    /// line per session state change), with the reason when a session ends; the line is
    /// written once the input's datagrams and events are out (see `changes.rs`). `next` builds the
    /// new state from the old one, so a chat moves into `Leaving` without a copy.
    fn transition(&mut self, cx: &mut Context, reason: Option<EndReason>, next: impl FnOnce(State) -> State) {
        let old = mem::replace(&mut self.state, State::Idle);
        let (from, peer, old_timers) = (old.name(), old.peer(), old.timers());
        self.state = next(old);
        for timer in old_timers.iter().filter(|t| !self.state.timers().contains(t)) {
            cx.timers.stop(*timer);
        }
        let peer = self.state.peer().or(peer);
        cx.changes.push(from, self.state.name(), peer, reason);
    }
}
