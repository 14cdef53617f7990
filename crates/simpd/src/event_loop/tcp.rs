//! The client port's TCP side: one JSON Lines client (IPC.md), its lines in and its events
//! out.
//!
//! Events are encoded into one buffer and handed to the socket without waiting; a client that
//! reads slowly builds a bounded backlog (see [`MAX_CLIENT_BACKLOG`]), and a client that sends
//! commands without reading their replies is not read from while its output is over
//! [`MAX_CLIENT_OUTPUT`]: its commands wait in its own socket (TCP flow control), never in our
//! memory. Lines read but not yet handled are bounded too (the reader's buffer, at most one
//! line of `MAX_LINE` being assembled). A connection that has not sent `connect` within
//! [`crate::DaemonConfig::connect_deadline`] gives the one client slot up to the next client
//! that wants it (IPC.md "Access"); until then it may take its time (`simp` asks its user's
//! name on an open connection). A connection that finds the slot taken may still ask the
//! read-only queries, `status` and `history`, as its first line: answered, then closed.
//! Bookkeeping events
//! (`queued`, `delivered`) may be held for up to [`HOLD`] to share a write with their
//! successors.

use std::future::pending;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use simp_proto::ipc::jsonl::{parse_command, write_event};
use simp_proto::ipc::{Command, ErrorCode, Event, MAX_LINE};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::{timeout, Instant};
use tracing::{debug, info, warn};

use super::slot::ClientSlot;
use super::timer::Timer;
use super::Shell;
use crate::line_reader::{Line, LineReader};

/// Events waiting for a client that is slow to read them: beyond this, the endpoint stops
/// acknowledging new messages (the peer re-sends them) until the client catches up, so memory
/// stays bounded and nothing acknowledged is lost (SPEC 2.2).
const MAX_CLIENT_BACKLOG: usize = 4 * 1024 * 1024;
/// Output waiting for a client beyond which its commands are not read until it drains: the
/// replies to commands (a `status`, an error per junk line) are what a client that never
/// reads could otherwise grow without limit (issue 12, defect 1).
const MAX_CLIENT_OUTPUT: usize = 1024 * 1024;
/// How long a closing connection (after `quit`, or a refused second client) may take to
/// take its last lines.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Buffered client lines handled in one turn of the loop, at most (then the peer socket and
/// the timer get their turn).
const LINE_BATCH: usize = 64;
/// How long `queued` and `delivered` events may wait to share one write with their successors,
/// while more messages are being sent. A person cannot see a millisecond; a sender pushing
/// thousands of messages a second saves a write and a client wake-up per message. Anything
/// else (a message, an error, `ended`) goes out at once, taking the held events with it, in
/// order.
const HOLD: Duration = Duration::from_millis(1);
/// Held events beyond this many bytes go out at once.
const HOLD_MAX: usize = 16 * 1024;
/// How long a connection that finds the client slot taken has to say it only wants `status`
/// (IPC.md "Access") before it is refused as a second client.
const QUERY_WAIT: Duration = Duration::from_millis(500);
/// `history` answers being written to connections that found the slot taken, at most: each
/// holds up to [`simp_proto::ipc::HISTORY_MAX`] messages in memory until its reader takes
/// them, so a crowd of such connections is told to try again instead.
const HISTORY_QUERIES: usize = 4;
/// How long the listener is left alone after a failed `accept` (e.g. out of file descriptors:
/// the connection stays queued and would fail again at once), while the loop serves everything
/// else.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// The attached TCP client.
pub(super) struct TcpClient {
    addr: SocketAddr,
    /// `None` once the client has closed its sending side: it still gets the events already
    /// due before the connection closes.
    reader: Option<LineReader<OwnedReadHalf>>,
    writer: OwnedWriteHalf,
    /// Encoded events not yet taken by the socket.
    out: Vec<u8>,
    /// Armed while `out` holds only bookkeeping events (`queued`, `delivered`) held back so
    /// that a burst of them goes out in one write: the moment they must go anyway. One sleep
    /// kept for the connection's life, not one per turn of the loop: besides the cost of
    /// registering a new sleep on every turn, the deadline left behind by the last hold keeps
    /// tokio from waking its own driver (an eventfd write and an extra `epoll_wait`) when the
    /// next hold is armed a moment later, as it does for a deadline earlier than any it knew.
    hold: Timer,
    /// Until `connect` is accepted: the moment the connection gives the slot up to the next
    /// client that wants it.
    connect_by: Option<Instant>,
}

/// A `history` from a connection that found the client slot taken (IPC.md "Access"). The
/// store belongs to the loop, so the connection's task asks the loop and writes the answer.
pub(super) struct HistoryQuery {
    peer: Option<String>,
    limit: Option<usize>,
    before: Option<u64>,
    answer: oneshot::Sender<Vec<Event>>,
}

/// The read-only `history` queries of connections that found the slot taken, on their way
/// to the loop.
pub(super) struct Queries {
    tx: mpsc::Sender<HistoryQuery>,
    rx: mpsc::Receiver<HistoryQuery>,
    /// One permit per answer being written: see [`HISTORY_QUERIES`].
    writing: Arc<Semaphore>,
}

impl Queries {
    pub(super) fn new() -> Queries {
        let (tx, rx) = mpsc::channel(HISTORY_QUERIES);
        Queries { tx, rx, writing: Arc::new(Semaphore::new(HISTORY_QUERIES)) }
    }

    /// The next query. Cancel-safe; never ends (the loop keeps a sender).
    pub(super) async fn next(&mut self) -> HistoryQuery {
        match self.rx.recv().await {
            Some(query) => query,
            None => pending().await,
        }
    }
}

/// After `accept` failed: the listener is not polled until [`AcceptPause::until`], so the one
/// loop never sleeps or spins on it. One line when it starts failing, one when it recovers.
#[derive(Debug, Default)]
pub(super) struct AcceptPause {
    until: Option<Instant>,
    /// Failures since the last connection accepted.
    failures: u64,
}

impl AcceptPause {
    /// Whether the listener is being left alone.
    pub(super) fn is_on(&self) -> bool {
        self.until.is_some()
    }

    /// When to poll the listener again.
    pub(super) fn until(&self) -> Option<Instant> {
        self.until
    }

    /// The pause is over: poll the listener again.
    pub(super) fn end(&mut self) {
        self.until = None;
    }

    fn failed(&mut self, error: &io::Error) {
        if self.failures == 0 {
            warn!(%error, "cannot accept client connections; trying again every {ACCEPT_PAUSE:?}, serving peers meanwhile");
        }
        self.failures += 1;
        self.until = Some(Instant::now() + ACCEPT_PAUSE);
    }

    fn succeeded(&mut self) {
        if self.failures > 0 {
            info!(failures = self.failures, "accepting client connections again");
            self.failures = 0;
        }
    }
}

/// What the TCP client has for the loop.
pub(super) enum Ready {
    /// A read from the client.
    Line(io::Result<Line>),
    /// The socket can take more of the backlog (or failed).
    Writable(io::Result<()>),
    /// Held events are due.
    HoldOver,
}

impl TcpClient {
    fn new(stream: TcpStream, addr: SocketAddr, connect_by: Option<Instant>) -> TcpClient {
        let (reader, writer) = stream.into_split();
        TcpClient {
            addr,
            reader: Some(LineReader::new(reader, MAX_LINE)),
            writer,
            out: Vec::new(),
            hold: Timer::new(),
            connect_by,
        }
    }

    /// Whether the client's commands are read: not while its output is over
    /// [`MAX_CLIENT_OUTPUT`].
    fn reading(&self) -> bool {
        self.out.len() < MAX_CLIENT_OUTPUT
    }

    /// Where the client connected from.
    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits for a line (not while the output is over its bound), for the socket to take the
    /// rest of a write (not while events are held back), or for held events to fall due.
    /// Cancel-safe.
    pub(super) async fn ready(&mut self) -> Ready {
        let writing = !self.out.is_empty() && !self.hold.is_armed();
        let reading = self.reading();
        tokio::select! {
            line = next_line(&mut self.reader), if reading => Ready::Line(line),
            ready = self.writer.writable(), if writing => Ready::Writable(ready),
            () = self.hold.fired() => Ready::HoldOver,
        }
    }

    /// Appends `event` to what the client is to be sent.
    pub(super) fn push(&mut self, event: &Event) {
        if let Err(error) = write_event(&mut self.out, event) {
            warn!(%error, ?event, "could not encode an event");
        }
    }

    /// After a round of events: whether to hold them back. Held only while more messages are
    /// on their way (`sending`): the last `delivered` of a burst, or of a single message, goes
    /// out at once, and so does anything `urgent`.
    pub(super) fn hold(&mut self, urgent: bool, held: bool, sending: bool) -> bool {
        if urgent || self.out.len() >= HOLD_MAX || !sending {
            self.hold.arm(None);
        } else if held && !self.hold.is_armed() {
            self.hold.arm(Some(Instant::now() + HOLD));
        }
        self.hold.is_armed()
    }

    /// Writes as much of the backlog as the socket takes now, without waiting; true if what is
    /// left is over [`MAX_CLIENT_BACKLOG`].
    pub(super) fn flush(&mut self) -> io::Result<bool> {
        while !self.out.is_empty() {
            match self.writer.try_write(&self.out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(self.out.len() > MAX_CLIENT_BACKLOG)
    }

    /// The daemon is stopping: the last events (e.g. `ended`), then EOF; not waiting for the
    /// client to close too, so that a stopping daemon exits promptly.
    pub(super) async fn finish(self) {
        let TcpClient { mut writer, out, .. } = self;
        let _ = timeout(CLOSE_GRACE, async move {
            writer.write_all(&out).await?;
            writer.shutdown().await
        })
        .await;
    }
}

impl Shell {
    /// The listener's result: a client to serve or refuse, or a failure to pause after.
    pub(super) fn accepted(&mut self, accepted: io::Result<(TcpStream, SocketAddr)>) {
        match accepted {
            Ok((stream, from)) => {
                self.accept_pause.succeeded();
                self.accept(stream, from);
            }
            Err(error) => self.accept_pause.failed(&error),
        }
    }

    /// What the TCP client had ready; true if the connection is to be closed once drained
    /// (`quit`, or the client's EOF).
    pub(super) fn client_ready(&mut self, ready: Ready) -> bool {
        match ready {
            Ready::Line(line) => return self.client_lines(line),
            Ready::Writable(Ok(())) => {}
            Ready::Writable(Err(error)) => self.client_failed(&error),
            Ready::HoldOver => {
                if let Some(client) = self.slot.tcp() {
                    client.hold.arm(None);
                }
            }
        }
        false
    }

    /// Writes as much of the client's backlog as the socket takes now, without waiting, and
    /// tells the endpoint whether the client is falling behind.
    pub(super) fn flush_client(&mut self) -> io::Result<()> {
        let Some(client) = self.slot.tcp() else { return Ok(()) };
        let backlogged = client.flush()?;
        self.ep.set_client_backlogged(backlogged);
        Ok(())
    }

    /// The client's connection failed: the endpoint learns it is gone.
    pub(super) fn client_failed(&mut self, error: &io::Error) {
        info!(%error, "dropping the client connection");
        let now = self.now();
        self.client_gone(now);
    }

    /// After `quit` or EOF: the connection gets its last lines and is closed, off the main loop.
    pub(super) fn close_client(&mut self) {
        if let Some(TcpClient { addr, writer, out, .. }) = self.slot.take_tcp() {
            info!(client = %addr, "closing the client connection");
            tokio::spawn(close_gracefully(writer, out));
        }
    }

    /// A `history` from a connection that found the slot taken: the store's answer, read
    /// now; nothing is confirmed or taken.
    pub(super) fn answer_query(&mut self, query: HistoryQuery) {
        let events = self.history(query.peer.as_deref(), query.limit, query.before);
        // The connection may have gone meanwhile: then nobody wants the answer.
        let _ = query.answer.send(events);
    }

    /// Before a new client is refused because the slot is taken: a TCP connection that has
    /// not sent `connect` within its deadline is closed, with a `not-connected` error, so the
    /// newcomer gets the slot (issue 12, defect 5).
    pub(super) fn evict_unattached(&mut self, now: Instant) {
        let overdue = self.slot.tcp().and_then(|c| c.connect_by).is_some_and(|by| by <= now);
        if overdue {
            let deadline = self.connect_deadline;
            info!("closing a client connection that did not send connect within {deadline:?}: another client wants the slot");
            self.send_to_client(&Event::error(
                ErrorCode::NotConnected,
                format!("no connect within {deadline:?} of connecting, and another client wants the daemon; closing"),
            ));
            self.close_client();
        }
    }

    /// A new client connection: served, refused as a second client, or refused as remote.
    fn accept(&mut self, stream: TcpStream, from: SocketAddr) {
        let now = Instant::now();
        if !self.policy.allows(from.ip()) {
            if self.quiet.admit(now, from.ip()) {
                warn!(client = %from, "refused a client from another host; start simpd with --allow-remote-clients to serve it");
            }
            return;
        }
        if let Err(error) = stream.set_nodelay(true) {
            debug!(%error, "could not set TCP_NODELAY on a client connection");
        }
        self.evict_unattached(now);
        if let Some(current) = self.slot.busy() {
            // A read-only `status` is answered from a snapshot taken now, a `history` by the
            // loop from the store; anything else (or nothing within QUERY_WAIT) is a second
            // client, refused. Such connections count against the source's log budget, so a
            // flood of them writes a few lines.
            let second = Second {
                from,
                status: Event::Status(self.ep.status()),
                busy: Event::error(ErrorCode::ClientBusy, current),
                queries: self.queries.tx.clone(),
                writing: Arc::clone(&self.queries.writing),
                log: self.quiet.admit(now, from.ip()),
            };
            tokio::spawn(second.answer_or_refuse(stream));
            return;
        }
        info!(client = %from, "client connection opened");
        self.slot = ClientSlot::Tcp(TcpClient::new(stream, from, now.checked_add(self.connect_deadline)));
    }

    /// One read from the client, then the lines that came with it (up to [`LINE_BATCH`], and
    /// while its output is under its bound), so that their events go out in one write; true
    /// if the connection is to be closed.
    fn client_lines(&mut self, first: io::Result<Line>) -> bool {
        let mut close = self.client_line(first);
        for _ in 1..LINE_BATCH {
            if close {
                break;
            }
            let next = self
                .slot
                .tcp()
                .filter(|c| c.reading())
                .and_then(|c| c.reader.as_mut())
                .and_then(LineReader::next_buffered);
            match next {
                Some(line) => close = self.client_line(Ok(line)),
                None => break,
            }
        }
        if self.ep.has_client() {
            if let Some(client) = self.slot.tcp() {
                client.connect_by = None;
            }
        }
        close
    }

    /// One read from the client; true if the connection is to be closed once drained.
    fn client_line(&mut self, line: io::Result<Line>) -> bool {
        let now = self.now();
        match line {
            Ok(Line::Complete(bytes)) => {
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    return false; // an empty line (typed by hand) is no command
                }
                match parse_command(&bytes) {
                    // Before `connect`, `status` is a read-only query: answered without
                    // attaching, so stored messages stay stored (IPC.md "Access").
                    Ok(Command::Status) if !self.ep.has_client() => {
                        let status = Event::Status(self.ep.status());
                        self.send_to_client(&status);
                    }
                    Ok(cmd) => {
                        let quit = matches!(cmd, Command::Quit);
                        self.command(now, cmd);
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
                if let Some(client) = self.slot.tcp() {
                    client.reader = None;
                }
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

    fn client_gone(&mut self, now: simp_proto::Instant) {
        self.slot.take_tcp();
        self.ep.set_client_backlogged(false);
        self.ep.handle_client_gone(now);
    }
}

/// A connection that found the slot taken, and what it may be told.
struct Second {
    from: SocketAddr,
    /// The answer to `status`: a snapshot taken as it connected.
    status: Event,
    /// The refusal of anything but a read-only query.
    busy: Event,
    /// Where a `history` goes to be answered.
    queries: mpsc::Sender<HistoryQuery>,
    writing: Arc<Semaphore>,
    /// Whether a refusal is logged (the source's log budget allowed it).
    log: bool,
}

impl Second {
    /// Answers a `status` or `history` sent as the first line within [`QUERY_WAIT`]; refuses
    /// anything else with `busy` (so a `seen`, `chat` or `forget` changes nothing); then
    /// closes.
    async fn answer_or_refuse(self, stream: TcpStream) {
        let (reader, writer) = stream.into_split();
        let mut reader = LineReader::new(reader, MAX_LINE);
        let first = timeout(QUERY_WAIT, reader.next()).await;
        let command = match &first {
            Ok(Ok(Line::Complete(bytes))) => parse_command(bytes).ok(),
            _ => None,
        };
        let from = self.from;
        // Held until the answer is written (or the grace period ends).
        let mut permit = None;
        let answer = match command {
            Some(Command::Status) => {
                debug!(client = %from, "answered a status query");
                vec![self.status]
            }
            Some(Command::History { peer, limit, before }) => match Arc::clone(&self.writing).try_acquire_owned() {
                Ok(p) => {
                    permit = Some(p);
                    debug!(client = %from, "answering a history query");
                    let (answer, answered) = oneshot::channel();
                    let query = HistoryQuery { peer, limit, before, answer };
                    // Neither fails unless the daemon is stopping: then there is no answer.
                    match self.queries.send(query).await {
                        Ok(()) => answered.await.unwrap_or_default(),
                        Err(_) => Vec::new(),
                    }
                }
                Err(_) => vec![Event::error(
                    ErrorCode::ClientBusy,
                    format!("{HISTORY_QUERIES} history queries are being answered; try again in a moment"),
                )],
            },
            _ => {
                if let (Event::Error { message, .. }, true) = (&self.busy, self.log) {
                    info!(client = %from, "refused a second client: {message}");
                }
                vec![self.busy]
            }
        };
        let mut out = Vec::new();
        for event in &answer {
            if let Err(error) = write_event(&mut out, event) {
                warn!(%error, ?event, "could not encode an event");
            }
        }
        drop(reader);
        close_gracefully(writer, out).await;
        drop(permit);
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
