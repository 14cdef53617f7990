//! The peer port: the daemon-to-daemon UDP socket (SPEC 1), and the one form of a peer's
//! address that the endpoint compares.

use std::io;
use std::net::SocketAddr;

use simp_proto::Transmit;
use tokio::net::UdpSocket;
use tracing::warn;

/// Room for the largest UDP payload (SPEC 1: receivers accept up to 65,507 bytes).
const RECV_BUF: usize = 65_536;

/// The peer socket with its one receive buffer (allocated once: nothing per datagram).
pub(super) struct PeerSocket {
    socket: UdpSocket,
    /// The bound address, which decides how an IPv4 destination is written (see [`for_socket`]).
    local: SocketAddr,
    buf: Vec<u8>,
}

impl PeerSocket {
    pub(super) fn new(socket: UdpSocket, local: SocketAddr) -> PeerSocket {
        PeerSocket { socket, local, buf: vec![0u8; RECV_BUF] }
    }

    /// Waits for the next datagram: its length in [`PeerSocket::received`] and its sender, in
    /// the endpoint's form. Cancel-safe, so it can sit in a `select!`.
    pub(super) async fn recv(&mut self) -> io::Result<(usize, SocketAddr)> {
        let (len, from) = self.socket.recv_from(&mut self.buf).await?;
        Ok((len, canonical(from)))
    }

    /// The first `len` bytes of the buffer: the datagram [`PeerSocket::recv`] announced.
    pub(super) fn received(&self, len: usize) -> &[u8] {
        &self.buf[..len]
    }

    /// Sends one datagram; a failure is logged, as UDP loses datagrams anyway (the sender's
    /// retries cover it, SPEC 2.2).
    pub(super) async fn send(&self, t: &Transmit) {
        if let Err(error) = self.socket.send_to(t.bytes(), for_socket(t.to, self.local)).await {
            warn!(to = %t.to, %error, "could not send a datagram");
        }
    }
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
