//! The attached course-dialect client (IPC.md "Course-compatibility endpoint", "What
//! delivered means"): what it is to be sent, paced, and which messages count as delivered.
//!
//! The dialect cannot confirm what a client has shown, so a message counts as delivered to a
//! UDP client once it has been sent to it (issue 12, defect 4), on three conditions:
//! - **Paced.** UDP has no flow control: a burst larger than the client's receive buffer is
//!   dropped by its kernel, silently. At most [`PACE_BURST`] datagrams leave per
//!   [`PACE_INTERVAL`] (500 a second), a burst that fits the smallest receive buffer Linux
//!   allows. Messages wait in the store, not in memory: the queue holds each message as its
//!   id only, and a run of them as the highest id, so a reader slower than its peer grows
//!   nothing but the store, and its peer's messages are still acknowledged.
//! - **Connected.** The client has a socket of its own, bound beside the client port (same
//!   address and port, see `peer.rs`) and `connect`ed to it, so an ICMP port-unreachable (the
//!   client crashed or closed its socket) fails the next send or receive with
//!   `ECONNREFUSED`. Delivery then stops; what was not counted delivered stays in the store for
//!   the next client (the shell logs how many).
//! - **A turn later.** A message sent is counted delivered at the next turn of the pace, one
//!   [`PACE_INTERVAL`] on, if no port-unreachable came back meanwhile: the answer to the first
//!   datagram sent to a dead port arrives after that datagram was sent, so counting it at once
//!   would lose it.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::timer::Timer;

/// Datagrams sent to the course client per [`PACE_INTERVAL`], at most. Five small datagrams
/// fit the smallest receive buffer Linux grants (`SO_RCVBUF` of 2,304 bytes, doubled), so a
/// client that reads at least 500 a second loses none, whatever its buffer.
pub(super) const PACE_BURST: usize = 5;
/// See [`PACE_BURST`]; also how long a sent message waits for a port-unreachable before it
/// counts as delivered (an ICMP answer takes one round trip: far less on a LAN).
pub(super) const PACE_INTERVAL: Duration = Duration::from_millis(10);
/// Room for the largest UDP payload, as on the client port.
const RECV_BUF: usize = 65_536;

/// The course client holding the client slot.
pub(super) struct CourseClient {
    /// Where it sends from, and where its events go.
    addr: SocketAddr,
    /// Its own socket, connected to `addr`, made once the endpoint has taken its `connect`
    /// (a stray command makes none); `None` until then, or if it could not be made (then the
    /// client port's socket sends, and a crashed client goes unnoticed).
    socket: Option<UdpSocket>,
    /// Whether a socket was made (or tried) for `addr`.
    socket_tried: bool,
    buf: Vec<u8>,
    /// What it is to be sent, in order.
    queue: VecDeque<Out>,
    /// The highest message id sent to it: none is sent twice.
    sent_up_to: u64,
    /// Messages sent since the last turn, not yet counted delivered.
    in_flight: Vec<u64>,
    /// When the next turn may send.
    next_turn: Instant,
    /// Armed while the queue waits for the next turn.
    pace: Timer,
}

/// One entry of the queue.
pub(super) enum Out {
    /// An event as the dialect's datagram.
    Datagram(String),
    /// The store's unconfirmed messages with ids up to this one (and above those sent).
    Messages { up_to: u64 },
}

/// What the course client has for the loop.
pub(super) enum CourseReady {
    /// A datagram from the client on its own socket, of this length (in
    /// [`CourseClient::received`]).
    Datagram(usize),
    /// The socket failed: `ECONNREFUSED` once the client's port is unreachable.
    Failed(io::Error),
    /// The pace allows the next turn.
    Turn,
}

impl CourseClient {
    /// A client at `addr`, without a socket of its own yet.
    pub(super) fn new(addr: SocketAddr) -> CourseClient {
        CourseClient {
            addr,
            socket: None,
            socket_tried: false,
            buf: vec![0u8; RECV_BUF],
            queue: VecDeque::new(),
            sent_up_to: 0,
            in_flight: Vec::new(),
            next_turn: Instant::now(),
            pace: Timer::new(),
        }
    }

    /// Where its events go.
    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether its own socket is yet to be made.
    pub(super) fn needs_socket(&self) -> bool {
        !self.socket_tried
    }

    /// Its own socket, connected to its address (`None`: it could not be made).
    pub(super) fn set_socket(&mut self, socket: Option<UdpSocket>) {
        self.socket = socket;
        self.socket_tried = true;
    }

    /// The client sends from a new address: its events go there, through a new socket; the
    /// old address's socket is handed back (see [`CourseClient::into_socket`]).
    pub(super) fn moved(&mut self, addr: SocketAddr) -> Option<(SocketAddr, UdpSocket)> {
        let old = self.socket.take().map(|socket| (self.addr, socket));
        self.addr = addr;
        self.socket_tried = false;
        old
    }

    /// The client leaves the slot: its address and socket, which may still hold its next
    /// datagrams (a `quit` at once followed by `connect`, as the course's clients do to leave a
    /// chat), so the client port keeps it (`CoursePort::retire`).
    pub(super) fn into_socket(self) -> Option<(SocketAddr, UdpSocket)> {
        self.socket.map(|socket| (self.addr, socket))
    }

    /// A new `connect` (a restarted client): nothing queued for the old one is sent (the
    /// connect's own answer and the replay of the store come next), and messages may be sent
    /// again.
    pub(super) fn restart(&mut self) {
        self.queue.clear();
        self.sent_up_to = 0;
    }

    /// Queues an event's datagram.
    pub(super) fn push_datagram(&mut self, datagram: String) {
        self.queue.push_back(Out::Datagram(datagram));
    }

    /// Queues the stored message `id`: a run of messages is one entry.
    pub(super) fn push_message(&mut self, id: u64) {
        match self.queue.back_mut() {
            Some(Out::Messages { up_to }) => *up_to = (*up_to).max(id),
            _ => self.queue.push_back(Out::Messages { up_to: id }),
        }
    }

    /// Whether the pace allows a turn now.
    pub(super) fn turn_due(&self, now: Instant) -> bool {
        now >= self.next_turn
    }

    /// The messages sent since the last turn, now counted delivered; `Err` if the client's
    /// port reported unreachable meanwhile (they stay in the store, uncounted, and are not
    /// sent to this client again).
    pub(super) fn settle(&mut self) -> io::Result<Vec<u64>> {
        let sent = std::mem::take(&mut self.in_flight);
        match self.socket.as_ref().map(UdpSocket::take_error).transpose()?.flatten() {
            Some(error) => Err(error),
            None => Ok(sent),
        }
    }

    /// The datagrams (not the messages) still queued, for a client the endpoint turned away:
    /// the answer to its command is among them.
    pub(super) fn queued_datagrams(&self) -> impl Iterator<Item = &str> {
        self.queue.iter().filter_map(|out| match out {
            Out::Datagram(datagram) => Some(datagram.as_str()),
            Out::Messages { .. } => None,
        })
    }

    /// The next entry to send, if any.
    pub(super) fn front(&self) -> Option<&Out> {
        self.queue.front()
    }

    /// The front entry is sent (or its messages are all out).
    pub(super) fn pop(&mut self) {
        self.queue.pop_front();
    }

    /// The highest message id sent.
    pub(super) fn sent_up_to(&self) -> u64 {
        self.sent_up_to
    }

    /// Message `id` has left: no longer to be sent; counted delivered at the next turn if
    /// `counted`.
    pub(super) fn message_sent(&mut self, id: u64, counted: bool) {
        self.sent_up_to = self.sent_up_to.max(id);
        if counted {
            self.in_flight.push(id);
        }
    }

    /// One datagram to the client, without waiting, through its own socket (or `port`'s).
    /// Its own socket is written straight through the descriptor (it is non-blocking): tokio's
    /// `try_send` answers `WouldBlock` without trying until the runtime has seen a new socket
    /// writable, which put the `ok` to every `connect` one pace turn (11.5 ms) late.
    pub(super) fn send(&self, port: &UdpSocket, datagram: &str) -> io::Result<()> {
        match &self.socket {
            Some(socket) => socket2::SockRef::from(socket).send(datagram.as_bytes()).map(drop),
            None => port.try_send_to(datagram.as_bytes(), self.addr).map(drop),
        }
    }

    /// The turn is over: the next one is [`PACE_INTERVAL`] on, and the loop wakes for it while
    /// anything is queued or not yet counted.
    pub(super) fn end_turn(&mut self, now: Instant) {
        self.next_turn = now + PACE_INTERVAL;
        self.rearm();
    }

    /// Arms the pace for the next turn if there is anything for it to do.
    pub(super) fn rearm(&mut self) {
        let work = !self.queue.is_empty() || !self.in_flight.is_empty();
        self.pace.arm(work.then_some(self.next_turn));
    }

    /// The first `len` bytes of the buffer: the datagram [`CourseClient::ready`] announced.
    pub(super) fn received(&self, len: usize) -> &[u8] {
        &self.buf[..len]
    }

    /// Waits for a datagram or an error on the client's socket, or for the next turn.
    /// Cancel-safe.
    pub(super) async fn ready(&mut self) -> CourseReady {
        let CourseClient { socket, buf, pace, .. } = self;
        let recv = async {
            match socket {
                Some(socket) => {
                    poll_fn(|cx| {
                        let mut read = ReadBuf::new(buf);
                        socket.poll_recv(cx, &mut read).map_ok(|()| read.filled().len())
                    })
                    .await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            received = recv => match received {
                Ok(len) => CourseReady::Datagram(len),
                Err(error) => CourseReady::Failed(error),
            },
            () = pace.fired() => {
                pace.arm(None);
                CourseReady::Turn
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(client: &CourseClient) -> Vec<String> {
        client
            .queue
            .iter()
            .map(|out| match out {
                Out::Datagram(datagram) => datagram.clone(),
                Out::Messages { up_to } => format!("messages up to {up_to}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn a_run_of_messages_is_one_entry_kept_in_order_with_the_other_events() {
        let mut client = CourseClient::new("127.0.0.1:9".parse().unwrap());
        client.push_datagram("ok".into());
        for id in [3, 4, 7] {
            client.push_message(id);
        }
        client.push_datagram("disconnected".into());
        client.push_message(9);
        assert_eq!(entries(&client), ["ok", "messages up to 7", "disconnected", "messages up to 9"]);
        assert_eq!(client.queued_datagrams().collect::<Vec<_>>(), ["ok", "disconnected"]);

        client.restart();
        assert!(entries(&client).is_empty());
    }

    #[tokio::test]
    async fn a_message_counts_at_the_next_turn_and_is_never_sent_twice() {
        let mut client = CourseClient::new("127.0.0.1:9".parse().unwrap());
        client.message_sent(5, true);
        client.message_sent(6, false);
        assert_eq!(client.sent_up_to(), 6);
        assert_eq!(client.settle().unwrap(), [5]);
        assert!(client.settle().unwrap().is_empty());
        let now = Instant::now();
        client.end_turn(now);
        assert!(!client.turn_due(now));
        assert!(client.turn_due(now + PACE_INTERVAL));
    }
}
