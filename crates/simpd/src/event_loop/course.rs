//! The client port's UDP side: the course's dialect (IPC.md "Course-compatibility endpoint"),
//! an adapter from datagrams to the same [`Command`]s and [`Event`]s the TCP client uses.
//!
//! The translation itself is `simp_proto::ipc::course`; this module only decides who the UDP
//! client is. Rules (IPC.md):
//! - One client at a time across both transports ([`ClientSlot`]): while a TCP client is
//!   attached, every UDP datagram is answered `error|message=…`; while a UDP client is
//!   attached, a TCP client is refused with `client-busy`.
//! - UDP has no connection, so the UDP client is whoever sent the last command, and events go
//!   to that address. It holds the client slot exactly while the endpoint has a connected
//!   user through it: from a successful `connect` until `quit` (a failed `connect`, or a
//!   command before `connect`, gets its error and leaves the slot free).
//! - `quit` is answered `ok` and nothing else: the client is detached first, so the `ended`
//!   of a chat it leaves is not sent (a course client waits for exactly that `ok`).
//! - A UDP client that goes silent stays attached: a course client may sit in a chat for an
//!   hour without sending a thing, and nothing tells a crash from a quiet user until something
//!   is sent to it: then its port answers unreachable, and it is detached (`course_client.rs`:
//!   its own connected socket, the pace, what counts as delivered). A restarted course client
//!   simply sends `connect` again (it becomes the client); a TCP client waiting for the slot is
//!   told that the UDP client at ADDR must send `quit`.
//! - An error answered to a datagram that is not a command is a reply to an address nobody
//!   vouched for: a forged datagram could aim it at another daemon, which would answer it in
//!   turn, forever. So (IPC.md "Forged datagrams") what looks like a reply is never answered,
//!   nor is our own address; a source gets at most [`REPLY_BUDGET`] such errors per
//!   [`REPLY_WINDOW`]; and the answer to what is no command is never longer than the datagram
//!   it answers.

use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::task::Poll;
use std::time::Duration;

use simp_proto::ipc::course;
use simp_proto::ipc::{Command, Event};
use socket2::SockRef;
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::course_client::{CourseClient, CourseReady, Out, PACE_BURST};
use super::limit::Limiter;
use super::peer::connect_beside;
use super::slot::ClientSlot;
use super::Shell;
use crate::access;

/// Room for the largest UDP payload (SPEC 1), as on the peer port.
const RECV_BUF: usize = 65_536;
/// Error answers one source may get per [`REPLY_WINDOW`]: plenty for a person typing by hand,
/// a trickle for a forged flood.
const REPLY_BUDGET: u32 = 5;
/// See [`REPLY_BUDGET`].
const REPLY_WINDOW: Duration = Duration::from_secs(5);
/// The first words of what the daemon sends on this port (IPC.md): a datagram that starts with
/// one is another daemon's answer, never a command, and answering it could start a loop.
const REPLY_WORDS: [&str; 6] = ["ok", "error", "invitation", "connected", "disconnected", "message"];

/// The UDP socket of the client port, with its one receive buffer.
pub(super) struct CoursePort {
    socket: UdpSocket,
    /// The socket of the last course client that left the slot, connected to its address:
    /// datagrams from there still arrive on it, not on `socket`, until it is closed (when a
    /// client at another address needs one) or taken again by a client at that address.
    retired: Option<(SocketAddr, UdpSocket)>,
    /// Where the socket is bound: a datagram "from" here is forged, and is not answered.
    local: Option<SocketAddr>,
    buf: Vec<u8>,
    /// Error answers per source.
    replies: Limiter,
}

impl CoursePort {
    pub(super) fn new(socket: UdpSocket) -> CoursePort {
        let local = socket.local_addr().ok();
        CoursePort {
            socket,
            retired: None,
            local,
            buf: vec![0u8; RECV_BUF],
            replies: Limiter::new(REPLY_BUDGET, REPLY_WINDOW),
        }
    }

    /// Keeps the socket of a course client that left the slot (see [`CoursePort::retired`]).
    pub(super) fn retire(&mut self, socket: Option<(SocketAddr, UdpSocket)>) {
        if socket.is_some() {
            self.retired = socket;
        }
    }

    /// A socket of its own for the course client at `addr`: the retired one if it is that
    /// address's, else a new one (the retired one is closed first: one is kept at most).
    fn socket_for(&mut self, addr: SocketAddr) -> Option<io::Result<UdpSocket>> {
        match self.retired.take() {
            Some((at, socket)) if at == addr => return Some(Ok(socket)),
            _ => {}
        }
        self.local.map(|local| connect_beside(SockRef::from(&self.socket), local, addr).and_then(UdpSocket::from_std))
    }

    /// When the reply limit next has a summary for the log.
    pub(super) fn next_summary(&self) -> Option<Instant> {
        self.replies.next_summary()
    }

    /// Logs (at debug) how many error answers the limit withheld, per source.
    pub(super) fn summarise(&mut self, now: Instant) {
        for s in self.replies.summaries(now) {
            debug!(source = %s.source, "withheld {} error answers in {:.1} s (rate limit)", s.held_back, s.over.as_secs_f64());
        }
    }

    /// Waits for the next datagram: its length and sender. Cancel-safe.
    ///
    /// Polled on every turn of the loop, and almost never ready: `poll_recv_from` leaves the
    /// waker in the socket's one slot, where `recv_from`'s future would join and leave a list
    /// of waiters under a lock each turn.
    pub(super) async fn recv(&mut self) -> io::Result<(usize, SocketAddr)> {
        let CoursePort { socket, retired, buf, .. } = self;
        poll_fn(|cx| {
            for socket in retired.iter().map(|(_, socket)| socket).chain([&*socket]) {
                let mut read = ReadBuf::new(buf);
                if let Poll::Ready(result) = socket.poll_recv_from(cx, &mut read) {
                    return Poll::Ready(result.map(|from| (read.filled().len(), from)));
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Queues `event` for the course client, if the dialect has a word for it: a message as its
    /// id (its text waits in the store), anything else as its datagram.
    pub(super) fn queue(client: &mut CourseClient, event: &Event) {
        match (event, course::format_event(event)) {
            (Event::Message { id, .. }, _) => client.push_message(*id),
            (_, Some(datagram)) => client.push_datagram(datagram),
            (_, None) => debug!(?event, "no course-dialect equivalent: not sent to the UDP client"),
        }
    }

    /// One datagram, without waiting: a client that does not read loses datagrams, as UDP may.
    fn send(&self, to: SocketAddr, datagram: &str) {
        if let Err(error) = self.socket.try_send_to(datagram.as_bytes(), to) {
            warn!(%to, %error, "could not send to the UDP client");
        }
    }

    /// Answers the first `len` bytes of the buffer with `error|message=MESSAGE`, unless that
    /// could feed a loop or amplify a forged datagram (see the module documentation). What is
    /// no `command` of the dialect gets an answer cut to its own length; a command refused
    /// (a TCP client holds the slot) gets the whole reason, which its user needs.
    fn refuse(&mut self, now: Instant, from: SocketAddr, len: usize, message: &str, command: bool) {
        if looks_like_reply(&self.buf[..len]) {
            debug!(client = %from, len, "not answered: it looks like a daemon's answer");
            return;
        }
        if self.is_own(from) {
            debug!(client = %from, len, "not answered: it claims to come from this port itself");
            return;
        }
        let reply = course::format_error(message);
        let reply = if command { &reply } else { cut(&reply, len) };
        // Cut shorter than its first word, an answer would no longer look like one (and the
        // other side might answer it in turn).
        if !looks_like_reply(reply.as_bytes()) {
            debug!(client = %from, len, "not answered: too short for an answer that fits");
            return;
        }
        if self.replies.admit(now, from.ip()) {
            self.send(from, reply);
        }
    }

    fn is_own(&self, from: SocketAddr) -> bool {
        self.local.is_some_and(|local| is_own(local, from, access::is_local))
    }
}

/// Whether `from` is the socket bound at `local` itself (on any address of this host, as
/// `is_local` tells, when bound to all of them).
fn is_own(local: SocketAddr, from: SocketAddr, is_local: fn(IpAddr) -> bool) -> bool {
    let ip = from.ip().to_canonical();
    from.port() == local.port() && (ip == local.ip().to_canonical() || (local.ip().is_unspecified() && is_local(ip)))
}

/// Whether a datagram starts with one of the words the daemon sends ([`REPLY_WORDS`]).
fn looks_like_reply(datagram: &[u8]) -> bool {
    let first = datagram.split(|&b| b == b'|').next().unwrap_or_default();
    let first = first.strip_suffix(b"\n").unwrap_or(first);
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    REPLY_WORDS.iter().any(|word| word.as_bytes() == first)
}

/// `text` cut to at most `len` bytes, on a character boundary: no answer is longer than what it
/// answers, so a forged datagram cannot be amplified.
fn cut(text: &str, len: usize) -> &str {
    let mut end = len.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Shell {
    /// A datagram on the client port's UDP side, or a failure to receive one.
    pub(super) fn course_received(&mut self, received: io::Result<(usize, SocketAddr)>) {
        match received {
            Ok((len, from)) => self.course_datagram(len, from),
            Err(error) => debug!(%error, "UDP receive on the client port failed"),
        }
    }

    /// The first `len` bytes of the course buffer, from `from`.
    fn course_datagram(&mut self, len: usize, from: SocketAddr) {
        let instant = Instant::now();
        if !self.policy.allows(from.ip()) {
            if self.quiet.admit(instant, from.ip()) {
                warn!(client = %from, "refused a UDP client from another host; start simpd with --allow-remote-clients to serve it");
            }
            return;
        }
        let parsed = course::parse_command(&self.course.buf[..len]);
        if parsed.is_ok() {
            self.evict_unattached(instant);
        }
        if let ClientSlot::Tcp(tcp) = &self.slot {
            let current = tcp.addr();
            if self.quiet.admit(instant, from.ip()) {
                info!(client = %from, %current, "refused a UDP client: a TCP client is attached");
            }
            let message =
                format!("another client ({current}, over TCP) is using this daemon; only one client at a time");
            self.course.refuse(instant, from, len, &message, parsed.is_ok());
            return;
        }
        let cmd = match parsed {
            Ok(cmd) => cmd,
            Err(error) => {
                debug!(client = %from, len, %error, "not a course-dialect command");
                self.course.refuse(instant, from, len, &error.to_string(), false);
                return;
            }
        };
        let now = self.now();
        if matches!(cmd, Command::Quit) {
            if let Some(client) = self.slot.take_course() {
                info!(client = %from, "UDP client quit");
                self.course_release(client, false);
            }
            if self.ep.has_client() {
                self.command(now, cmd);
            }
            self.course.send(from, course::QUIT_ANSWER);
            return;
        }
        let connect = matches!(cmd, Command::Connect { .. });
        let previous = self.slot.course().map(|client| client.addr());
        let moved = previous.is_some_and(|previous| previous != from);
        if moved || connect {
            // What the client (at its old address) was sent counts, unless its port answered
            // unreachable: then it is detached here, and the sender takes the slot below.
            self.course_count();
        }
        match self.slot.course() {
            Some(client) => {
                if let Some(previous) = previous.filter(|_| moved) {
                    info!(client = %from, %previous, "the UDP client moved to a new address");
                    self.course.retire(client.moved(from));
                }
                if connect {
                    client.restart();
                }
            }
            None => {
                debug!(client = %from, "a UDP client takes the client slot");
                self.slot = ClientSlot::Course(CourseClient::new(from));
            }
        }
        self.command(now, cmd);
    }

    /// What the course client has for the loop: a command on its own socket, its port
    /// unreachable, or the pace's turn (taken in [`Shell::course_settle`], after the drain).
    pub(super) fn course_ready(&mut self, ready: CourseReady) {
        let Some(client) = self.slot.course() else { return };
        match ready {
            CourseReady::Datagram(len) => {
                let from = client.addr();
                self.course.buf[..len].copy_from_slice(client.received(len));
                self.course_datagram(len, from);
            }
            CourseReady::Failed(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
                self.course_unreachable(&error)
            }
            CourseReady::Failed(error) => debug!(%error, "UDP receive from the course client failed"),
            CourseReady::Turn => {}
        }
    }

    /// After the endpoint's events are out: frees the slot if the UDP client did not become
    /// (or stay) the connected user, e.g. after a refused first `connect` (it is sent the
    /// answer at once); else gives it its own socket and lets the pace send what it may.
    pub(super) fn course_settle(&mut self) {
        let Some(client) = self.slot.course() else { return };
        if !self.ep.has_client() {
            if let Some(client) = self.slot.take_course() {
                self.course_release(client, true);
            }
            return;
        }
        if client.needs_socket() {
            let addr = client.addr();
            let socket = match self.course.socket_for(addr) {
                Some(Ok(socket)) => Some(socket),
                Some(Err(error)) => {
                    warn!(client = %addr, %error, "cannot give the UDP client a socket of its own: a crash of it will go unnoticed");
                    None
                }
                None => None,
            };
            if let Some(client) = self.slot.course() {
                client.set_socket(socket);
            }
        }
        self.course_turn();
    }

    /// One turn of the pace (`course_client.rs`): what was sent a turn ago counts as
    /// delivered, then up to [`PACE_BURST`] datagrams leave, messages read from the store.
    fn course_turn(&mut self) {
        let instant = Instant::now();
        let Some(client) = self.slot.course() else { return };
        if !client.turn_due(instant) {
            client.rearm();
            return;
        }
        if !self.course_count() {
            return;
        }
        let Shell { slot, store, course, .. } = self;
        let Some(client) = slot.course() else { return };
        let mut budget = PACE_BURST;
        let mut unreachable = None;
        let mut blocked = false;
        while budget > 0 && unreachable.is_none() && !blocked {
            let datagram = match client.front() {
                None => break,
                Some(Out::Datagram(datagram)) => datagram,
                Some(&Out::Messages { up_to }) => {
                    let batch = store.unseen_between(client.sent_up_to(), up_to, budget).unwrap_or_else(|error| {
                        warn!(%error, "could not read messages for the UDP client; they wait for its next connect");
                        Vec::new()
                    });
                    if batch.is_empty() {
                        client.pop();
                    }
                    for message in &batch {
                        let (Event::Message { id, .. }, Some(datagram)) = (message, course::format_event(message))
                        else {
                            continue;
                        };
                        match client.send(&course.socket, &datagram) {
                            Ok(()) => client.message_sent(*id, true),
                            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                                blocked = true;
                                break;
                            }
                            Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
                                unreachable = Some(error);
                                break;
                            }
                            Err(error) => {
                                warn!(%error, id, "could not send a message to the UDP client; it waits for its next connect");
                                client.message_sent(*id, false);
                            }
                        }
                        budget -= 1;
                    }
                    continue;
                }
            };
            match client.send(&course.socket, datagram) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => blocked = true,
                Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => unreachable = Some(error),
                result => {
                    if let Err(error) = result {
                        warn!(%error, "could not send to the UDP client");
                    }
                    client.pop();
                    budget -= 1;
                }
            }
        }
        client.end_turn(instant);
        if let Some(error) = unreachable {
            self.course_unreachable(&error);
        }
    }

    /// Counts what the course client was sent since the last turn as delivered (confirmed in
    /// the store), unless its port answered unreachable meanwhile: then it is detached; true
    /// if it was not.
    fn course_count(&mut self) -> bool {
        let Some(client) = self.slot.course() else { return true };
        match client.settle() {
            Ok(sent) => {
                self.course_confirm(&sent);
                true
            }
            Err(error) => {
                self.course_unreachable(&error);
                false
            }
        }
    }

    fn course_confirm(&mut self, sent: &[u64]) {
        if sent.is_empty() {
            return;
        }
        if let Err(error) = self.store.seen(sent) {
            warn!(%error, "could not record messages as sent to the UDP client");
        }
    }

    /// The course client's port answered unreachable: it is detached (the endpoint learns its
    /// client is gone), and what it was not sent stays in the store for the next client.
    fn course_unreachable(&mut self, error: &io::Error) {
        if let Some(client) = self.slot.take_course() {
            self.log_unreachable(client.addr(), error);
            let now = self.now();
            self.ep.handle_client_gone(now);
        }
    }

    /// The one log line when delivery to a course client stops, with what is kept.
    fn log_unreachable(&self, client: SocketAddr, error: &io::Error) {
        match self.store.kept() {
            Ok((kept, _)) => warn!(
                %client, %error, kept,
                "the UDP client's port is unreachable: stopped delivering to it; {kept} messages kept in the store for the next client"
            ),
            Err(store) => {
                warn!(%client, %error, %store, "the UDP client's port is unreachable: stopped delivering to it")
            }
        }
    }

    /// The course client leaves the slot (quit, or the endpoint turned it away): what it was
    /// sent counts, unless its port answered unreachable; with `answer`, the datagrams still
    /// queued for it (not its messages) are sent at once.
    pub(super) fn course_release(&mut self, mut client: CourseClient, answer: bool) {
        match client.settle() {
            Ok(sent) => self.course_confirm(&sent),
            Err(error) => return self.log_unreachable(client.addr(), &error),
        }
        if answer {
            for datagram in client.queued_datagrams() {
                if let Err(error) = client.send(&self.course.socket, datagram) {
                    debug!(%error, "could not answer the UDP client");
                }
            }
        }
        self.course.retire(client.into_socket());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemons_own_words_look_like_replies_and_commands_do_not() {
        for reply in
            ["ok", "ok\n", "error|message=unknown command", "invitation|username=a|ip=1.2.3.4", "disconnected\r\n"]
        {
            assert!(looks_like_reply(reply.as_bytes()), "{reply:?}");
        }
        for other in ["connect|username=ok", "quit", "okay", "errors", "", "hello", "send|text=error"] {
            assert!(!looks_like_reply(other.as_bytes()), "{other:?}");
        }
    }

    #[test]
    fn our_own_address_is_the_bound_one_or_any_of_this_host_when_bound_to_all() {
        fn loopback(ip: IpAddr) -> bool {
            ip.is_loopback()
        }
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(is_own(at("127.0.0.1:7778"), at("127.0.0.1:7778"), loopback));
        assert!(!is_own(at("127.0.0.1:7778"), at("127.0.0.1:7777"), loopback));
        assert!(!is_own(at("127.0.0.1:7778"), at("127.0.0.2:7778"), loopback));
        assert!(is_own(at("0.0.0.0:7778"), at("127.0.0.2:7778"), loopback));
        assert!(!is_own(at("0.0.0.0:7778"), at("192.0.2.1:7778"), loopback));
        assert!(is_own(at("[::]:7778"), at("[::ffff:127.0.0.1]:7778"), loopback));
    }

    #[test]
    fn an_answer_is_cut_to_the_length_of_what_it_answers() {
        assert_eq!(cut("error|message=x", 5), "error");
        assert_eq!(cut("error", 50), "error");
        assert_eq!(cut("error|message=\u{e9}", 15), "error|message=");
        assert_eq!(cut("abc", 0), "");
    }
}
