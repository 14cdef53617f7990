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

use std::io;
use std::net::SocketAddr;

use simp_proto::ipc::course;
use simp_proto::ipc::{Command, Event};
use tokio::net::UdpSocket;
use tracing::{debug, info, warn};

use super::slot::ClientSlot;
use super::Shell;

/// Room for the largest UDP payload (SPEC 1), as on the peer port.
const RECV_BUF: usize = 65_536;

/// The UDP socket of the client port, with its one receive buffer.
pub(super) struct CoursePort {
    socket: UdpSocket,
    buf: Vec<u8>,
}

impl CoursePort {
    pub(super) fn new(socket: UdpSocket) -> CoursePort {
        CoursePort { socket, buf: vec![0u8; RECV_BUF] }
    }

    /// Waits for the next datagram: its length and sender. Cancel-safe.
    pub(super) async fn recv(&mut self) -> io::Result<(usize, SocketAddr)> {
        self.socket.recv_from(&mut self.buf).await
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
        if !self.policy.allows(from.ip()) {
            warn!(client = %from, "refused a UDP client from another host; start simpd with --allow-remote-clients to serve it");
            return;
        }
        if let ClientSlot::Tcp(tcp) = &self.slot {
            info!(client = %from, current = %tcp.addr(), "refused a UDP client: a TCP client is attached");
            let message =
                format!("another client ({}, over TCP) is using this daemon; only one client at a time", tcp.addr());
            self.course.send(from, &course::format_error(&message));
            return;
        }
        let bytes = &self.course.buf[..len];
        let cmd = match course::parse_command(bytes) {
            Ok(cmd) => cmd,
            Err(error) => {
                debug!(client = %from, len, %error, "not a course-dialect command");
                self.course.send(from, &course::format_error(&error.to_string()));
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
                self.ep.handle_command(now, cmd);
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
        self.ep.handle_command(now, cmd);
    }

    /// After the endpoint's events are out: frees the slot if the UDP client did not become
    /// (or stay) the connected user, e.g. after a refused first `connect`.
    pub(super) fn course_settle(&mut self) {
        if matches!(self.slot, ClientSlot::Course(_)) && !self.ep.has_client() {
            self.slot = ClientSlot::Free;
        }
    }
}
