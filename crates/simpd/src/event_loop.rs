//! The daemon's one task: a `select!` over the peer socket, the client listener, the client
//! connection, one timer and the shutdown signal (DESIGN.md "a sans-IO core").
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

/// Room for the largest UDP payload (SPEC 1: receivers accept up to 65,507 bytes).
const RECV_BUF: usize = 65_536;
/// Events waiting for a client that does not read them, at most; beyond, it is dropped rather
/// than let it grow the daemon's memory without bound.
const MAX_CLIENT_BACKLOG: usize = 4 * 1024 * 1024;
/// How long a closing connection (after `quit`, or a refused second client) may take to
/// take its last lines.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Pause after a failed `accept` (e.g. out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The attached client's sending side.
struct Client {
    addr: SocketAddr,
    writer: OwnedWriteHalf,
    /// Encoded events not yet taken by the socket.
    out: Vec<u8>,
}

/// The state the loop's branches share.
struct Shell {
    ep: Endpoint,
    udp: UdpSocket,
    origin: Instant,
    client: Option<Client>,
    reader: Option<LineReader<OwnedReadHalf>>,
}

pub(crate) async fn run(
    udp: UdpSocket,
    listener: TcpListener,
    config: DaemonConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let linger = config.endpoint.timeout;
    let allow_remote = config.allow_remote_clients;
    let is_local = config.is_local_client;
    let client_addr = listener.local_addr().map_err(DaemonError::LocalAddr)?;
    info!(udp = %config.endpoint.local, client = %client_addr, "simpd listening");
    let mut shell =
        Shell { ep: Endpoint::new(config.endpoint), udp, origin: Instant::now(), client: None, reader: None };
    tokio::pin!(shutdown);
    let mut buf = vec![0u8; RECV_BUF];
    // Set once shutdown has begun: the moment we stop waiting for the peer's ACK.
    let mut stop_by: Option<Instant> = None;
    loop {
        let wake = shell.ep.poll_timeout().map(|t| shell.origin + t.as_duration());
        let writing = shell.client.as_ref().is_some_and(|c| !c.out.is_empty());
        let mut close_client = false;
        tokio::select! {
            () = &mut shutdown, if stop_by.is_none() => {
                info!("shutting down: leaving any chat");
                stop_by = Some(Instant::now() + linger);
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
                    shell.ep.handle_datagram(now, from, &buf[..len]);
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
            line = next_line(&mut shell.reader) => close_client = shell.client_line(line),
            ready = writable(&shell.client), if writing => {
                if let Err(error) = ready {
                    shell.client_failed(&error);
                }
            }
            () = sleep_until_some(wake) => {
                let now = shell.now();
                shell.ep.handle_timeout(now);
            }
        }
        shell.drain().await;
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
        if let Some(current) = &self.client {
            info!(client = %from, current = %current.addr, "refused a second client");
            let busy = Event::error(
                ErrorCode::ClientBusy,
                format!("another client ({}) is using this daemon; only one client at a time", current.addr),
            );
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
        self.client = Some(Client { addr: from, writer, out: Vec::new() });
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
            while let Some(t) = self.ep.poll_transmit() {
                if let Err(error) = self.udp.send_to(t.bytes(), t.to).await {
                    warn!(to = %t.to, %error, "could not send a datagram");
                }
            }
            while let Some(event) = self.ep.poll_event() {
                self.send_to_client(&event);
            }
            match self.flush_client() {
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
        if client.out.len() > MAX_CLIENT_BACKLOG {
            return Err(io::Error::other("the client stopped reading its events"));
        }
        Ok(())
    }

    fn client_failed(&mut self, error: &io::Error) {
        info!(%error, "dropping the client connection");
        let now = self.now();
        self.client_gone(now);
    }

    fn client_gone(&mut self, now: simp_proto::Instant) {
        self.client = None;
        self.reader = None;
        self.ep.handle_client_gone(now);
    }

    /// After `quit` or EOF: the connection gets its last lines and is closed, off the main loop.
    fn close_client(&mut self) {
        self.reader = None;
        if let Some(Client { addr, writer, out }) = self.client.take() {
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
