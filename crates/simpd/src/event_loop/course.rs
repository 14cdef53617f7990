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
//!   hour without sending a thing, and nothing tells a crash from a quiet user. A restarted
//!   course client simply sends `connect` again (it becomes the client); a TCP client waiting
//!   for the slot is told that the UDP client at ADDR must send `quit`.
//! - An error answered to a datagram that is not a command is a reply to an address nobody
//!   vouched for: a forged datagram could aim it at another daemon, which would answer it in
//!   turn, forever. So (IPC.md "Forged datagrams") what looks like a reply is never answered,
//!   nor is our own address; a source gets at most [`REPLY_BUDGET`] such errors per
//!   [`REPLY_WINDOW`]; and the answer to what is no command is never longer than the datagram
//!   it answers.

use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use simp_proto::ipc::course;
use simp_proto::ipc::{Command, Event};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::limit::Limiter;
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
    /// Where the socket is bound: a datagram "from" here is forged, and is not answered.
    local: Option<SocketAddr>,
    buf: Vec<u8>,
    /// Error answers per source.
    replies: Limiter,
}

impl CoursePort {
    pub(super) fn new(socket: UdpSocket) -> CoursePort {
        let local = socket.local_addr().ok();
        CoursePort { socket, local, buf: vec![0u8; RECV_BUF], replies: Limiter::new(REPLY_BUDGET, REPLY_WINDOW) }
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
        let CoursePort { socket, buf, .. } = self;
        poll_fn(|cx| {
            let mut read = ReadBuf::new(buf);
            socket.poll_recv_from(cx, &mut read).map_ok(|from| (read.filled().len(), from))
        })
        .await
    }

    /// Tells the UDP client at `to` about `event`, if the dialect has a word for it.
    pub(super) fn deliver(&self, to: SocketAddr, event: &Event) {
        match course::format_event(event) {
            Some(datagram) => self.send(to, &datagram),
            None => debug!(?event, "no course-dialect equivalent: not sent to the UDP client"),
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
            if let ClientSlot::Course(_) = self.slot {
                info!(client = %from, "UDP client quit");
                self.slot = ClientSlot::Free;
            }
            if self.ep.has_client() {
                self.command(now, cmd);
            }
            self.course.send(from, course::QUIT_ANSWER);
            return;
        }
        match self.slot {
            ClientSlot::Course(previous) if previous != from => {
                info!(client = %from, %previous, "the UDP client moved to a new address")
            }
            ClientSlot::Course(_) => {}
            _ => debug!(client = %from, "a UDP client takes the client slot"),
        }
        self.slot = ClientSlot::Course(from);
        self.command(now, cmd);
    }

    /// After the endpoint's events are out: frees the slot if the UDP client did not become
    /// (or stay) the connected user, e.g. after a refused first `connect`.
    pub(super) fn course_settle(&mut self) {
        if matches!(self.slot, ClientSlot::Course(_)) && !self.ep.has_client() {
            self.slot = ClientSlot::Free;
        }
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
