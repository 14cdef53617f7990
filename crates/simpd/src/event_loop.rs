//! The daemon's one task: a `select!` over the peer socket, the client listener, the client
//! connection, the client port's UDP side (`course`), one timer and the shutdown signal
//! (DESIGN.md "a sans-IO core").
//!
//! After every input the endpoint is drained (datagrams out, events to the client) and the one
//! timer re-armed from `poll_timeout`; with nothing pending there is no timer at all, so an
//! idle daemon never wakes up.

use std::future::{pending, Future};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use simp_proto::ipc::{Command, ErrorCode, Event, MAX_LINE};
use simp_proto::Endpoint;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::time::{sleep, sleep_until, timeout, Instant};
use tracing::{debug, info, warn};

use crate::ipc_line::{parse_command, write_event};
use crate::line_reader::{Line, LineReader};
use crate::{DaemonConfig, DaemonError};

mod course;
use course::CoursePort;

/// Room for the largest UDP payload (SPEC 1: receivers accept up to 65,507 bytes).
const RECV_BUF: usize = 65_536;
/// Events waiting for a client that is slow to read them: beyond this, the endpoint stops
/// acknowledging new messages (the peer re-sends them) until the client catches up, so memory
/// stays bounded and nothing acknowledged is lost (SPEC 2.2).
const MAX_CLIENT_BACKLOG: usize = 4 * 1024 * 1024;
/// How long a closing connection (after `quit`, or a refused second client) may take to
/// take its last lines.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Buffered client lines handled in one turn of the loop, at most (then the peer socket and
/// the timer get their turn).
const LINE_BATCH: usize = 64;
/// How long `queued` and `delivered` events may wait to share one write with their successors,
/// while more messages are being sent. A person cannot see a millisecond; a sender pushing
/// thousands of messages a second saves a write and a client wake-up per message. Anything else (a message, an error, `ended`) goes
/// out at once, taking the held events with it, in order.
const HOLD: Duration = Duration::from_millis(1);
/// Held events beyond this many bytes go out at once.
const HOLD_MAX: usize = 16 * 1024;
/// Pause after a failed `accept` (e.g. out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The attached client's sending side.
struct Client {
    addr: SocketAddr,
    writer: OwnedWriteHalf,
    /// Encoded events not yet taken by the socket.
    out: Vec<u8>,
    /// When `out` holds only bookkeeping events (`queued`, `delivered`) held back so that a
    /// burst of them goes out in one write: the moment they must go anyway.
    flush_at: Option<Instant>,
}

/// The state the loop's branches share.
struct Shell {
    ep: Endpoint,
    udp: UdpSocket,
    origin: Instant,
    client: Option<Client>,
    reader: Option<LineReader<OwnedReadHalf>>,
    /// The client port's UDP side, and its client when one is attached instead of `client`.
    course: CoursePort,
}

pub(crate) async fn run(
    udp: UdpSocket,
    listener: TcpListener,
    course: UdpSocket,
    config: DaemonConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let linger = config.endpoint.timeout;
    let allow_remote = config.allow_remote_clients;
    let is_local = config.is_local_client;
    let client_addr = listener.local_addr().map_err(DaemonError::LocalAddr)?;
    info!(udp = %config.endpoint.local, client = %client_addr, "simpd listening");
    let mut shell = Shell {
        ep: Endpoint::new(config.endpoint),
        udp,
        origin: Instant::now(),
        client: None,
        reader: None,
        course: CoursePort::new(course),
    };
    tokio::pin!(shutdown);
    // The one timer, re-armed only when the endpoint's deadline changes (not rebuilt on every
    // turn of the loop).
    let timer = sleep_until(Instant::now());
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;
    let mut buf = vec![0u8; RECV_BUF];
    let mut course_buf = vec![0u8; RECV_BUF];
    // Set once shutdown has begun: the moment we stop waiting for the peer's ACK.
    let mut stop_by: Option<Instant> = None;
    loop {
        // A deadline beyond the clock's range is no deadline at all.
        let wake = shell.ep.poll_timeout().and_then(|t| shell.origin.checked_add(t.as_duration()));
        if wake != armed {
            if let Some(deadline) = wake {
                timer.as_mut().reset(deadline);
            }
            armed = wake;
        }
        // Waiting for the socket to take the rest of a write; not while events are held back.
        let writing = shell.client.as_ref().is_some_and(|c| !c.out.is_empty() && c.flush_at.is_none());
        let flush_at = shell.client.as_ref().and_then(|c| c.flush_at);
        let mut close_client = false;
        tokio::select! {
            () = &mut shutdown, if stop_by.is_none() => {
                info!("shutting down: leaving any chat");
                stop_by = Instant::now().checked_add(linger);
                let now = shell.now();
                shell.ep.handle_shutdown(now);
            }
            () = sleep_until_some(stop_by) => {
                warn!("the peer did not acknowledge our FIN in time; exiting anyway");
                break;
            }
            received = shell.udp.recv_from(&mut buf) => match received {
                Ok((len, from)) => {
                    let now = shell.now();
                    shell.ep.handle_datagram(now, canonical(from), &buf[..len]);
                }
                Err(error) => debug!(%error, "UDP receive failed"),
            },
            accepted = listener.accept(), if stop_by.is_none() => match accepted {
                Ok((stream, from)) => shell.accept(stream, from, allow_remote || is_local(from.ip())),
                Err(error) => {
                    warn!(%error, "could not accept a client connection");
                    sleep(ACCEPT_BACKOFF).await;
                }
            },
            received = shell.course.socket.recv_from(&mut course_buf), if stop_by.is_none() => match received {
                Ok((len, from)) => shell.course_datagram(&course_buf[..len], from, allow_remote),
                Err(error) => debug!(%error, "UDP receive on the client port failed"),
            },
            line = next_line(&mut shell.reader) => {
                close_client = shell.client_line(line);
                // Commands that came in the same read are handled before draining, so their
                // events go out in one write.
                for _ in 1..LINE_BATCH {
                    if close_client {
                        break;
                    }
                    match shell.reader.as_mut().and_then(LineReader::next_buffered) {
                        Some(line) => close_client = shell.client_line(Ok(line)),
                        None => break,
                    }
                }
            }
            ready = writable(&shell.client), if writing => {
                if let Err(error) = ready {
                    shell.client_failed(&error);
                }
            }
            () = sleep_until_some(flush_at) => {
                if let Some(client) = shell.client.as_mut() {
                    client.flush_at = None;
                }
            }
            () = &mut timer, if armed.is_some() => {
                let now = shell.now();
                shell.ep.handle_timeout(now);
            }
        }
        shell.drain().await;
        shell.course_settle();
        if close_client {
            shell.close_client();
        }
        if stop_by.is_some() && shell.ep.is_idle() {
            info!("left cleanly");
            break;
        }
    }
    if let Some(Client { mut writer, out, .. }) = shell.client.take() {
        // The last events (e.g. `ended`), then EOF; not waiting for the client to close too,
        // so that a stopping daemon exits promptly.
        let _ = timeout(CLOSE_GRACE, async move {
            writer.write_all(&out).await?;
            writer.shutdown().await
        })
        .await;
    }
    Ok(())
}

impl Shell {
    fn now(&self) -> simp_proto::Instant {
        simp_proto::Instant::from_duration(self.origin.elapsed())
    }

    /// A new client connection: served, refused as a second client, or refused as remote
    /// (`allowed` false).
    fn accept(&mut self, stream: TcpStream, from: SocketAddr, allowed: bool) {
        if !allowed {
            warn!(client = %from, "refused a client from another host; start simpd with --allow-remote-clients to serve it");
            return;
        }
        if let Err(error) = stream.set_nodelay(true) {
            debug!(%error, "could not set TCP_NODELAY on a client connection");
        }
        let current = match (&self.client, self.course.client) {
            (Some(current), _) => {
                Some(format!("another client ({}) is using this daemon; only one client at a time", current.addr))
            }
            (None, Some(udp)) => Some(format!(
                "a course-dialect client ({udp}, over UDP) is using this daemon; only one client at a time, \
                 and it detaches when it sends quit"
            )),
            (None, None) => None,
        };
        if let Some(current) = current {
            info!(client = %from, "refused a second client: {current}");
            let busy = Event::error(ErrorCode::ClientBusy, current);
            let mut out = Vec::new();
            if write_event(&mut out, &busy).is_ok() {
                let (_, writer) = stream.into_split();
                tokio::spawn(close_gracefully(writer, out));
            }
            return;
        }
        info!(client = %from, "client connection opened");
        let (reader, writer) = stream.into_split();
        self.reader = Some(LineReader::new(reader, MAX_LINE));
        self.client = Some(Client { addr: from, writer, out: Vec::new(), flush_at: None });
    }

    /// One read from the client; true if the connection is to be closed once drained (`quit`,
    /// or the client's EOF).
    fn client_line(&mut self, line: io::Result<Line>) -> bool {
        let now = self.now();
        match line {
            Ok(Line::Complete(bytes)) => {
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    return false; // an empty line (typed by hand) is no command
                }
                match parse_command(&bytes) {
                    Ok(cmd) => {
                        let quit = matches!(cmd, Command::Quit);
                        self.ep.handle_command(now, cmd);
                        return quit;
                    }
                    Err((code, message)) => self.send_to_client(&Event::error(code, message)),
                }
            }
            Ok(Line::TooLong) => self.send_to_client(&Event::error(
                ErrorCode::LineTooLong,
                format!("a line was longer than {MAX_LINE} bytes; it was ignored up to its newline"),
            )),
            Ok(Line::Eof) => {
                // Treated as quit (IPC.md). The client may only have closed its sending side
                // (`printf ... | nc`): it still gets the events already due, then EOF.
                info!("client closed its connection");
                self.reader = None;
                self.ep.handle_client_gone(now);
                return true;
            }
            Err(error) => {
                info!(%error, "client connection failed");
                self.client_gone(now);
            }
        }
        false
    }

    /// Sends what the endpoint wants sent and reports what it wants reported, then hands the
    /// client's lines to its socket in one write.
    async fn drain(&mut self) {
        loop {
            let mut urgent = false;
            let mut held = false;
            let mut message = false;
            while let Some(event) = self.ep.poll_event() {
                let bookkeeping = matches!(event, Event::Queued { .. } | Event::Delivered { .. });
                message |= matches!(event, Event::Message { .. });
                urgent |= !bookkeeping;
                held |= bookkeeping;
                self.send_to_client(&event);
            }
            let mut hold = false;
            if let Some(client) = self.client.as_mut() {
                // Held only while more messages are on their way: the last `delivered` of a
                // burst, or of a single message, goes out at once.
                if urgent || client.out.len() >= HOLD_MAX || self.ep.outgoing() == 0 {
                    client.flush_at = None;
                } else if held && client.flush_at.is_none() {
                    client.flush_at = Some(Instant::now() + HOLD);
                }
                hold = client.flush_at.is_some();
            }
            // A received message is handed to the client before its ACK leaves (SPEC 2.2:
            // acknowledged only once handed over); everything else waits for the datagrams,
            // which are what the peer is waiting for.
            let mut flushed = if message { Some(self.flush_client()) } else { None };
            while let Some(t) = self.ep.poll_transmit() {
                let to = for_socket(t.to, self.ep.config().local);
                if let Err(error) = self.udp.send_to(t.bytes(), to).await {
                    warn!(to = %t.to, %error, "could not send a datagram");
                }
            }
            if flushed.is_none() && !hold {
                flushed = Some(self.flush_client());
            }
            match flushed.unwrap_or(Ok(())) {
                Ok(()) => return,
                // The client is gone: tell the endpoint, then drain what that caused.
                Err(error) => self.client_failed(&error),
            }
        }
    }

    fn send_to_client(&mut self, event: &Event) {
        match &mut self.client {
            Some(client) => {
                if let Err(error) = write_event(&mut client.out, event) {
                    warn!(%error, ?event, "could not encode an event");
                }
            }
            None if self.course.deliver(event) => {}
            None => debug!(?event, "no client attached: event dropped"),
        }
    }

    /// Writes as much of the client's backlog as the socket takes now, without waiting.
    fn flush_client(&mut self) -> io::Result<()> {
        let Some(client) = &mut self.client else { return Ok(()) };
        while !client.out.is_empty() {
            match client.writer.try_write(&client.out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    client.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        let backlogged = client.out.len() > MAX_CLIENT_BACKLOG;
        self.ep.set_client_backlogged(backlogged);
        Ok(())
    }

    fn client_failed(&mut self, error: &io::Error) {
        info!(%error, "dropping the client connection");
        let now = self.now();
        self.client_gone(now);
    }

    fn client_gone(&mut self, now: simp_proto::Instant) {
        self.client = None;
        self.ep.set_client_backlogged(false);
        self.reader = None;
        self.ep.handle_client_gone(now);
    }

    /// After `quit` or EOF: the connection gets its last lines and is closed, off the main loop.
    fn close_client(&mut self) {
        self.reader = None;
        if let Some(Client { addr, writer, out, .. }) = self.client.take() {
            info!(client = %addr, "closing the client connection");
            tokio::spawn(close_gracefully(writer, out));
        }
    }
}

/// Writes `out`, closes our side, and waits (bounded) for the peer to close: closing with
/// unread input would make the kernel send RST, which can destroy the lines just written.
async fn close_gracefully(mut writer: OwnedWriteHalf, out: Vec<u8>) {
    let _ = timeout(CLOSE_GRACE, async move {
        writer.write_all(&out).await?;
        writer.shutdown().await?;
        // Keep the socket open until the peer closes or the grace period ends.
        writer.as_ref().readable().await?;
        let mut sink = [0u8; 1024];
        loop {
            match writer.as_ref().try_read(&mut sink) {
                Ok(0) => return Ok::<(), io::Error>(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => writer.as_ref().readable().await?,
                Err(e) => return Err(e),
            }
        }
    })
    .await;
}

async fn next_line(reader: &mut Option<LineReader<OwnedReadHalf>>) -> io::Result<Line> {
    match reader {
        Some(reader) => reader.next().await,
        None => pending().await,
    }
}

async fn writable(client: &Option<Client>) -> io::Result<()> {
    match client {
        Some(client) => client.writer.writable().await,
        None => pending().await,
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => pending().await,
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
