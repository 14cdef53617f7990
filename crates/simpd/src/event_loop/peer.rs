//! The peer port (SPEC 1): the listening UDP socket, the established chat's own socket beside
//! it, and the one form of a peer's address that the endpoint compares.
//!
//! Why a second socket: a flood of datagrams from strangers (SYNs from a hundred sources at full
//! rate on loopback) fills the one receive queue, and the kernel then drops the peer's own chat
//! datagrams with the rest; a peer that does not re-send quickly sees its messages go
//! unacknowledged. While a chat is established, a second socket is bound to the same address
//! and port (`SO_REUSEADDR`) and `connect`ed to the peer: Linux delivers each datagram to the
//! socket that matches it most closely, so the peer's go to that socket's own queue and
//! everything else to the listening one. [`PeerSocket::recv`] serves the chat's socket first.
//!
//! When the chat ends its socket is kept for the endpoint's linger (SPEC 2.3: 2 × `timeout`,
//! in which a re-sent FIN from the ex-peer is still answered), then what it still holds is
//! handed to the endpoint and it is closed; later datagrams from the ex-peer reach the
//! listening socket again.
//!
//! Every socket is registered with the runtime for reading only ([`ReadOnly`]): a UDP socket
//! registered for writing too wakes the loop after every datagram sent (on loopback the sent
//! datagram's buffer is freed at once, raising a writable edge), an `epoll_wait` with nothing
//! to do per message. Sends go straight through the non-blocking socket.
//!
//! Datagrams are read two at a time (`recvmmsg`): when a call returns one, the socket is known
//! to be empty and its readiness is cleared without a second call that ends in `EAGAIN` (one
//! system call per datagram where a SIMP peer sends one datagram per round trip). Clearing it
//! then loses nothing: the kernel raises a new edge for every datagram queued after the call,
//! and tokio does not clear a readiness that a newer event has set again. But that edge is seen
//! only at the runtime's next `epoll_wait`, which a loop kept busy (a SYN flood on the listening
//! socket) makes only every 128 turns (`turns.rs`): the peer's next datagram, arriving while
//! its last one is handled, would wait for it (a chat under a flood fell from 18,000 to 5,500
//! messages a second). So in a run of busy turns nothing is cleared after a datagram: the next
//! turn reads the socket again, as a plain `recvfrom` loop does, until it finds it empty.

use std::future::poll_fn;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::task::{ready, Context, Poll};

use nix::sys::socket::{recvmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
use simp_proto::Transmit;
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::time::Instant;
use tracing::{debug, warn};

/// Room for the largest UDP payload (SPEC 1: receivers accept up to 65,507 bytes).
const RECV_BUF: usize = 65_536;
/// Datagrams one receive may return: two, so that getting one says the socket is empty.
const BATCH: usize = 2;
/// Ended chats whose sockets are kept at once, at most: a run of short chats cannot make the
/// daemon hold a descriptor per chat (the oldest is closed early, its datagrams handed over).
const MAX_RETIRED: usize = 4;

/// A datagram received: its length in its buffer, and its sender (not yet canonical).
type Datagram = (usize, SocketAddr);

/// The peer port's sockets with their two receive buffers (allocated once; a receive allocates
/// only `recvmmsg`'s two headers, which cannot be kept: nix does not reset an address's length
/// between calls, so a kept header would cut an IPv6 sender after an IPv4 one).
pub(super) struct PeerSocket {
    listening: ReadOnly,
    /// The bound address, which decides how an IPv4 destination is written (see [`for_socket`]).
    local: SocketAddr,
    /// The established chat's socket, connected to its peer.
    chat: Option<Connected>,
    /// Sockets of ended chats, each until its linger is over, oldest first.
    retired: Vec<(Connected, Instant)>,
    bufs: [Vec<u8>; BATCH],
    /// The buffer that holds the datagram returned last.
    current: usize,
    /// The second datagram of the last receive, in `bufs[1]`: what the next `recv` returns.
    second: Option<Datagram>,
}

/// A socket on the peer port connected to one peer.
struct Connected {
    socket: ReadOnly,
    /// The peer, in the endpoint's form.
    peer: SocketAddr,
}

impl PeerSocket {
    /// Takes over the listening socket; fails only if the runtime cannot register it.
    pub(super) fn new(listening: tokio::net::UdpSocket, local: SocketAddr) -> io::Result<PeerSocket> {
        let listening = ReadOnly::new(listening.into_std()?)?;
        Ok(PeerSocket {
            listening,
            local,
            chat: None,
            retired: Vec::new(),
            bufs: [vec![0u8; RECV_BUF], vec![0u8; RECV_BUF]],
            current: 0,
            second: None,
        })
    }

    /// Waits for the next datagram: its length in [`PeerSocket::received`] and its sender, in
    /// the endpoint's form. The chat's socket is served first, then those of ended chats, then
    /// the listening one, so no amount of traffic from others delays the peer's by more than
    /// one datagram (the second of a batch read from another socket comes first). Cancel-safe
    /// (nothing is read until a datagram is returned), so it can sit in a `select!`.
    ///
    /// `busy`: the loop's last turn found work without waiting (see the module docs).
    pub(super) async fn recv(&mut self, busy: bool) -> io::Result<(usize, SocketAddr)> {
        if let Some((len, from)) = self.second.take() {
            self.current = 1;
            return Ok((len, canonical(from)));
        }
        let PeerSocket { listening, chat, retired, bufs, second, .. } = self;
        let (len, from) = poll_fn(|cx| {
            let sockets = chat.iter().chain(retired.iter().map(|(c, _)| c)).map(|c| &c.socket);
            for socket in sockets.chain([&*listening]) {
                if let Poll::Ready(result) = socket.poll_recv(cx, bufs, busy) {
                    return Poll::Ready(result.map(|(first, next)| {
                        *second = next;
                        first
                    }));
                }
            }
            Poll::Pending
        })
        .await?;
        self.current = 0;
        Ok((len, canonical(from)))
    }

    /// The first `len` bytes of the datagram [`PeerSocket::recv`] announced.
    pub(super) fn received(&self, len: usize) -> &[u8] {
        &self.bufs[self.current][..len]
    }

    /// Sends one datagram without waiting; a failure is logged, as UDP loses datagrams anyway
    /// (the sender's retries cover it, SPEC 2.2). A full send buffer drops the datagram too:
    /// waiting for room would stall the whole loop, and only a flood of replies to strangers
    /// fills it (one chat datagram is in flight at a time).
    ///
    /// Always through the listening socket, from the same address and port as the connected
    /// ones: a connected socket would report the ICMP answer to an earlier datagram by failing
    /// the next send, losing it.
    pub(super) fn send(&self, t: &Transmit) {
        match self.listening.send_to(t.bytes(), for_socket(t.to, self.local)) {
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                debug!(to = %t.to, "send buffer full: datagram dropped");
            }
            Err(error) => warn!(to = %t.to, %error, "could not send a datagram"),
        }
    }

    /// After every turn: gives the chat established with `peer` (`None`: no chat) its own
    /// socket, and retires the socket of a chat that ended, keeping it for `linger`.
    pub(super) fn follow(&mut self, peer: Option<SocketAddr>, linger: std::time::Duration) {
        if self.chat.as_ref().map(|c| c.peer) == peer {
            return;
        }
        if let Some(ended) = self.chat.take() {
            debug!(peer = %ended.peer, "the chat ended: its socket is kept for the linger");
            self.retired.push((ended, Instant::now() + linger));
        }
        let Some(peer) = peer else { return };
        // The same peer again within the linger: its socket is still open.
        if let Some(i) = self.retired.iter().position(|(c, _)| c.peer == peer) {
            self.chat = Some(self.retired.remove(i).0);
            return;
        }
        match connect_beside(SockRef::from(self.listening.0.get_ref()), self.local, peer).and_then(ReadOnly::new) {
            Ok(socket) => {
                debug!(%peer, "the chat has its own socket");
                self.chat = Some(Connected { socket, peer });
            }
            // The chat still works, through the listening socket, only not shielded from floods.
            Err(error) => warn!(%peer, %error, "cannot give the chat a socket of its own"),
        }
    }

    /// When the next ended chat's socket is due to close.
    pub(super) fn next_retirement(&self) -> Option<Instant> {
        self.retired.iter().map(|(_, until)| *until).min()
    }

    /// One datagram still queued on a socket that is due to close (its linger is over, or too
    /// many are kept), for the endpoint; `None` once there is none, the due sockets closed.
    pub(super) fn take_from_retired(&mut self) -> Option<(usize, SocketAddr)> {
        let now = Instant::now();
        loop {
            // Oldest first: beyond MAX_RETIRED, the oldest are due at once.
            let excess = self.retired.len().saturating_sub(MAX_RETIRED);
            let i = (0..self.retired.len()).find(|&i| i < excess || self.retired[i].1 <= now)?;
            // Into the first buffer: a second datagram not yet returned waits in the other.
            match self.retired[i].0.socket.try_recv_from(&mut self.bufs[0]) {
                Ok((len, from)) => {
                    self.current = 0;
                    return Some((len, canonical(from)));
                }
                Err(error) => {
                    if error.kind() != io::ErrorKind::WouldBlock {
                        debug!(%error, "UDP receive failed on a closing socket");
                    }
                    let (closed, _) = self.retired.remove(i);
                    debug!(peer = %closed.peer, "closed the socket of an ended chat");
                }
            }
        }
    }
}

/// A UDP socket registered with the runtime for reading only (see the module docs).
struct ReadOnly(AsyncFd<UdpSocket>);

impl ReadOnly {
    /// Registers `socket`, made non-blocking.
    ///
    /// `with_interest` is deprecated for types whose descriptor may close or change while
    /// registered (tokio#8587); its replacement is `unsafe`, which this crate forbids. A
    /// `std::net::UdpSocket` owns its descriptor, and `AsyncFd` owns the socket until it
    /// deregisters it on drop, so that cannot happen here.
    #[allow(deprecated)]
    fn new(socket: UdpSocket) -> io::Result<ReadOnly> {
        socket.set_nonblocking(true)?;
        AsyncFd::with_interest(socket, Interest::READABLE).map(ReadOnly)
    }

    /// The next datagram into `bufs[0]`, and the one after it into `bufs[1]` if it is
    /// already queued. The readiness is cleared when the socket is known to be empty, unless
    /// the loop is `busy` (see the module docs), so the next poll waits for the runtime.
    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [Vec<u8>; BATCH],
        busy: bool,
    ) -> Poll<io::Result<(Datagram, Option<Datagram>)>> {
        loop {
            let mut guard = ready!(self.0.poll_read_ready(cx))?;
            match recv_batch(self.0.get_ref(), bufs) {
                Ok((first, batch)) => {
                    let second = match batch {
                        Batch::Drained => {
                            if !busy {
                                guard.clear_ready();
                            }
                            None
                        }
                        Batch::Two(second) => Some(second),
                        Batch::Full => None,
                    };
                    return Poll::Ready(Ok((first, second)));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => guard.clear_ready(),
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }

    /// A datagram if one is queued (`WouldBlock` if none), without waiting.
    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.get_ref().recv_from(buf)
    }

    fn send_to(&self, bytes: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.0.get_ref().send_to(bytes, to)
    }
}

/// What a receive found after its first datagram.
enum Batch {
    /// Nothing: the socket is empty.
    Drained,
    /// A second datagram, in the second buffer.
    Two(Datagram),
    /// A second datagram that cannot be handed on; more may be queued.
    Full,
}

/// Up to two datagrams in one system call; `WouldBlock` if none is queued.
fn recv_batch(socket: &UdpSocket, bufs: &mut [Vec<u8>; BATCH]) -> io::Result<(Datagram, Batch)> {
    let [first, second] = bufs;
    let mut slices = [[IoSliceMut::new(first)], [IoSliceMut::new(second)]];
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut received = recvmmsg(socket.as_raw_fd(), &mut headers, slices.iter_mut(), MsgFlags::MSG_DONTWAIT, None)?
        .map(|m| Ok::<_, io::Error>((m.bytes, m.address.as_ref().and_then(sender).ok_or_else(no_sender)?)));
    // The call returns at least one datagram, or fails.
    let first = received.next().unwrap_or_else(|| Err(io::ErrorKind::WouldBlock.into()))?;
    // A second datagram without a sender cannot be handed on, but the first, already read, is;
    // the batch was still full, so the socket is not taken for empty.
    let second = match received.next() {
        None => Batch::Drained,
        Some(Ok(second)) => Batch::Two(second),
        Some(Err(error)) => {
            debug!(%error, "datagram dropped");
            Batch::Full
        }
    };
    Ok((first, second))
}

/// A received datagram's sender as `std` writes it; UDP on IPv4 or IPv6 always has one.
fn sender(addr: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    addr.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
}

fn no_sender() -> io::Error {
    io::Error::other("a datagram arrived without a sender's address")
}

/// A new socket, non-blocking and not yet registered with the runtime, bound to the listening
/// socket's address and port and connected to `peer` (also the course client's own socket
/// beside the client port, `course.rs`).
///
/// `SO_REUSEADDR` must be set on every socket bound to the port for the bind to succeed. It is
/// set on the listening socket only for that moment, so that another program (or a second
/// simpd) still cannot bind the peer port; the connected sockets keep it, so that the next one
/// can be bound while they are open.
pub(super) fn connect_beside(listening: SockRef<'_>, local: SocketAddr, peer: SocketAddr) -> io::Result<UdpSocket> {
    listening.set_reuse_address(true)?;
    let socket = (|| -> io::Result<UdpSocket> {
        let socket = Socket::new(Domain::for_address(local), Type::DGRAM, Some(Protocol::UDP))?;
        if local.is_ipv6() {
            socket.set_only_v6(listening.only_v6()?)?;
        }
        socket.set_reuse_address(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&local.into())?;
        socket.connect(&for_socket(peer, local).into())?;
        Ok(socket.into())
    })();
    let cleared = listening.set_reuse_address(false);
    let socket = socket?;
    cleared?;
    Ok(socket)
}

/// A peer's address in the one form the endpoint compares: an IPv4 peer heard on a dual-stack
/// socket (bound to `::`) arrives as `::ffff:a.b.c.d`, while a user calls it as `a.b.c.d`.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// The destination as the socket bound at `local` can take it: an IPv6 socket sends to an
/// IPv4 peer through its IPv4-mapped address.
fn for_socket(to: SocketAddr, local: SocketAddr) -> SocketAddr {
    match (to, local) {
        (SocketAddr::V4(v4), SocketAddr::V6(_)) => SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port()),
        _ => to,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn peer_socket(ip: [u8; 4]) -> (PeerSocket, SocketAddr) {
        let socket = tokio::net::UdpSocket::bind((std::net::Ipv4Addr::from(ip), 0)).await.unwrap();
        let local = socket.local_addr().unwrap();
        (PeerSocket::new(socket, local).unwrap(), local)
    }

    async fn next(socket: &mut PeerSocket) -> (Vec<u8>, SocketAddr) {
        let (len, from) = tokio::time::timeout(Duration::from_secs(5), socket.recv(false))
            .await
            .expect("no datagram within 5 s")
            .unwrap();
        (socket.received(len).to_vec(), from)
    }

    /// In a run of busy turns the runtime is not asked what became readable (`turns.rs`): a
    /// datagram that arrives while the last one is handled is read by the next turn all the
    /// same, without a visit to the runtime. Out of such a run the socket is left for the
    /// runtime to report, and the same poll finds nothing.
    #[tokio::test]
    async fn a_busy_loop_reads_the_next_datagram_without_the_runtime() {
        use std::future::Future;
        let (mut socket, local) = peer_socket([127, 98, 0, 6]).await;
        let peer = UdpSocket::bind("127.98.0.7:0").unwrap();
        for busy in [true, false] {
            peer.send_to(b"handled", local).unwrap();
            let (len, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv(busy)).await.unwrap().unwrap();
            assert_eq!(socket.received(len), b"handled");
            // From here no await: the runtime does not run, as in a loop that stays busy.
            peer.send_to(b"next", local).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            let mut cx = Context::from_waker(std::task::Waker::noop());
            let polled = std::pin::pin!(socket.recv(busy)).as_mut().poll(&mut cx).map(|r| r.unwrap().0);
            if busy {
                assert_eq!(polled.map(|len| socket.received(len).to_vec()), Poll::Ready(b"next".to_vec()));
            } else {
                assert!(polled.is_pending(), "read without the runtime: {polled:?}");
                let (len, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv(busy)).await.unwrap().unwrap();
                assert_eq!(socket.received(len), b"next", "and read once the runtime has run");
            }
        }
    }

    /// Datagrams queued together come out one by one, in order, each with its own bytes and
    /// sender (the second of a batch waits in the other buffer).
    #[tokio::test]
    async fn queued_datagrams_come_out_in_order() {
        let (mut socket, local) = peer_socket([127, 98, 0, 1]).await;
        let a = UdpSocket::bind("127.98.0.2:0").unwrap();
        let b = UdpSocket::bind("127.98.0.3:0").unwrap();
        let sent = [(&a, "one"), (&b, "two, longer"), (&a, "three"), (&b, "4"), (&a, "five")];
        for (from, text) in sent {
            from.send_to(text.as_bytes(), local).unwrap();
        }
        for (from, text) in sent {
            let (bytes, sender) = next(&mut socket).await;
            assert_eq!((String::from_utf8(bytes).unwrap(), sender), (text.to_string(), from.local_addr().unwrap()));
        }
    }

    /// A socket found empty by a receive that returned one datagram is not read again until
    /// the runtime says so; a datagram that arrives later still wakes it.
    #[tokio::test]
    async fn a_datagram_after_the_socket_was_drained_is_received() {
        let (mut socket, local) = peer_socket([127, 98, 0, 4]).await;
        let peer = UdpSocket::bind("127.98.0.5:0").unwrap();
        for round in 0..20u8 {
            peer.send_to(&[round], local).unwrap();
            assert_eq!(next(&mut socket).await.0, [round]);
            // Nothing more is queued: a receive now must wait, not invent a datagram.
            let idle = tokio::time::timeout(Duration::from_millis(5), socket.recv(false)).await;
            assert!(idle.is_err(), "round {round}: a datagram out of nowhere: {idle:?}");
        }
        peer.send_to(b"late", local).unwrap();
        assert_eq!(next(&mut socket).await.0, b"late");
    }

    #[test]
    fn ipv4_peers_have_one_form_on_a_dual_stack_socket() {
        let mapped: SocketAddr = "[::ffff:127.0.0.2]:7777".parse().unwrap();
        let v4: SocketAddr = "127.0.0.2:7777".parse().unwrap();
        assert_eq!(canonical(mapped), v4);
        assert_eq!(canonical(v4), v4);
        let v6: SocketAddr = "[::1]:7777".parse().unwrap();
        assert_eq!(canonical(v6), v6);
        assert_eq!(for_socket(v4, "[::]:7777".parse().unwrap()), mapped);
        assert_eq!(for_socket(v4, "127.0.0.1:7777".parse().unwrap()), v4);
        assert_eq!(for_socket(v6, "[::]:7777".parse().unwrap()), v6);
    }
}
