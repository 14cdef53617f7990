//! One peer the checker plays: a UDP socket on its own loopback address, every datagram
//! logged, every wait bounded and interruptible.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use simp_proto::wire::{Datagram, Kind, Seq, UserName, HEADER_LEN, MAX_DATAGRAM};

use crate::case::Stop;
use crate::seen::Seen;
use crate::wirelog::{Dir, WireLog};

/// The name the checker's peers give themselves.
pub const CHECKER_NAME: &str = "simp-check";

/// How often a wait looks at the Ctrl-C flag.
const POLL: Duration = Duration::from_millis(50);

/// A peer socket (cheap to clone: clones share the socket).
#[derive(Clone)]
pub struct Peer {
    socket: Arc<UdpSocket>,
    /// The address the target sees.
    pub addr: SocketAddr,
    target: SocketAddr,
    log: WireLog,
}

impl Peer {
    /// Binds `addr` (port 0: any) to talk to `target`.
    pub fn bind(addr: SocketAddr, target: SocketAddr, log: WireLog) -> Result<Peer, Stop> {
        let socket = UdpSocket::bind(addr).map_err(|e| {
            Stop::Blocked(format!("the checker cannot bind {addr} ({e}); on Linux every 127.x.y.z is local"))
        })?;
        let addr = socket.local_addr().map_err(|e| Stop::Blocked(format!("no local address: {e}")))?;
        socket.set_read_timeout(Some(POLL)).map_err(|e| Stop::Blocked(format!("socket option: {e}")))?;
        Ok(Peer { socket: Arc::new(socket), addr, target, log })
    }

    /// Binds a second socket on this peer's IP at `port`, to catch datagrams the target
    /// sends to the wrong port; `None` when that port is taken.
    pub fn sibling(&self, port: u16) -> Option<Peer> {
        let addr = SocketAddr::new(self.addr.ip(), port);
        Peer::bind(addr, self.target, self.log.clone()).ok()
    }

    /// Sends raw bytes to the target.
    pub fn send(&self, bytes: &[u8]) -> Result<(), Stop> {
        self.log.record(Dir::Out, self.addr, self.target, bytes);
        match self.socket.send_to(bytes, self.target) {
            Ok(_) => Ok(()),
            Err(e) => Err(Stop::Blocked(format!("the checker could not send to {}: {e}", self.target))),
        }
    }

    /// Sends a well-formed datagram named after the checker.
    pub fn send_kind(&self, kind: Kind, seq: u8, payload: &[u8]) -> Result<(), Stop> {
        self.send(&datagram(kind, seq, payload))
    }

    /// The next datagram from anyone within `within`.
    pub fn recv(&self, within: Duration) -> Result<Option<Seen>, Stop> {
        let deadline = Instant::now() + within;
        let mut buf = vec![0u8; MAX_DATAGRAM + 1];
        loop {
            if crate::run::interrupted() {
                return Err(Stop::Interrupted);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let _ = self.socket.set_read_timeout(Some(left.min(POLL)));
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let bytes = buf[..n].to_vec();
                    self.log.record(Dir::In, self.addr, from, &bytes);
                    return Ok(Some(Seen { from, at: Instant::now(), bytes }));
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                // An ICMP "port unreachable" from an earlier send surfaces here on Linux:
                // the target is not listening (yet, or any more). Keep listening.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(Stop::Blocked(format!("the checker's socket failed: {e}"))),
            }
        }
    }

    /// Waits up to `within` for a datagram matching `want`; returns it (if any) and all the
    /// others received meanwhile.
    pub fn wait_for(&self, within: Duration, want: impl Fn(&Seen) -> bool) -> Result<(Option<Seen>, Vec<Seen>), Stop> {
        let deadline = Instant::now() + within;
        let mut others = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left)? {
                Some(s) if want(&s) => return Ok((Some(s), others)),
                Some(s) => others.push(s),
                None => return Ok((None, others)),
            }
        }
    }

    /// Everything received within `within`.
    pub fn listen(&self, within: Duration) -> Result<Vec<Seen>, Stop> {
        Ok(self.wait_for(within, |_| false)?.1)
    }
}

/// A well-formed datagram from the checker (seq taken as the raw byte, so cases can send
/// invalid ones too).
pub fn datagram(kind: Kind, seq: u8, payload: &[u8]) -> Vec<u8> {
    let name = UserName::new(CHECKER_NAME).ok();
    let mut bytes = Datagram::new(kind, Seq::Zero, name.as_ref(), payload).to_vec();
    if let Some(b) = bytes.get_mut(2) {
        *b = seq;
    }
    bytes
}

/// `bytes` with the length field set to `len` (for length-lying datagrams).
pub fn with_length(mut bytes: Vec<u8>, len: u32) -> Vec<u8> {
    if let Some(field) = bytes.get_mut(HEADER_LEN - 4..HEADER_LEN) {
        field.copy_from_slice(&len.to_be_bytes());
    }
    bytes
}

/// Lists what was received, for diagnoses: "nothing" or "SYN seq=0 … (39 bytes), …".
pub fn list(seen: &[Seen]) -> String {
    if seen.is_empty() {
        return "nothing".to_owned();
    }
    seen.iter().map(Seen::describe).collect::<Vec<_>>().join("; ")
}

impl Peer {
    /// The same socket, logging into `log` (a shared peer used by several cases).
    pub fn with_log(&self, log: WireLog) -> Peer {
        Peer { log, ..self.clone() }
    }
}
