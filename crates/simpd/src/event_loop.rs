//! The daemon's one task: a `select!` over the peer socket, the client listener, the client in
//! the one [`ClientSlot`], the client port's UDP side (`course`), one timer and the shutdown
//! signal (DESIGN.md "a sans-IO core").
//!
//! The drive contract: after every input the endpoint is drained, events before datagrams
//! where a message is involved (SPEC 2.2: acknowledged only once handed over), and the one
//! timer re-armed from `poll_timeout`. After a long run of turns that never had to wait (a
//! flood), the loop yields once so that the runtime sees what else became ready (`turns.rs`).

use std::future::{pending, poll_fn, Future};
use std::net::SocketAddr;
use std::time::Duration;

use simp_proto::ipc::Event;
use simp_proto::{Endpoint, StateName};
use tokio::net::{TcpListener, UdpSocket};
use tokio::time::{sleep_until, Instant};
use tracing::{debug, info, warn};

use crate::access::ClientPolicy;
use crate::announce::Announcer;
use crate::store::Store;
use crate::{DaemonConfig, DaemonError};

mod course;
mod course_client;
mod inbox;
mod limit;
mod peer;
mod slot;
mod tcp;
mod timer;
mod turns;

use course::CoursePort;
use inbox::{Batch, Outbox};
use limit::Limiter;
use peer::PeerSocket;
use slot::{ClientSlot, SlotReady};
use tcp::{AcceptPause, Queries};
use timer::Timer;
use turns::Turns;

/// Log lines about one source (a refused client, a datagram on the client port) written per
/// [`QUIET_WINDOW`]; the rest are counted and summarised, so a flood cannot fill the log.
const QUIET_BUDGET: u32 = 5;
/// See [`QUIET_BUDGET`].
const QUIET_WINDOW: Duration = Duration::from_secs(10);

/// The state the loop's branches share.
struct Shell {
    ep: Endpoint,
    peer: PeerSocket,
    origin: Instant,
    /// The one client, over either transport.
    slot: ClientSlot,
    /// The client port's UDP side.
    course: CoursePort,
    /// Who may be a client, over either transport (IPC.md "Access").
    policy: ClientPolicy,
    /// How long the endpoint still answers an ended chat's peer (SPEC 2.3: 2 × `timeout`).
    linger: Duration,
    /// Log lines per source, for what a hostile source can cause one of per datagram or
    /// connection.
    quiet: Limiter,
    /// Set while the client listener is not polled, after `accept` failed.
    accept_pause: AcceptPause,
    /// Every message received and sent (SPEC 2.2).
    store: Store,
    /// What the store needs to record sent messages.
    outbox: Outbox,
    /// The local user, from `connected`: the author of sent messages.
    user: Option<String>,
    /// How long a TCP client has to send `connect` after it connected.
    connect_deadline: Duration,
    /// `--announce`: who is attached, told to the LAN.
    announcer: Option<Announcer>,
    /// `history` asked by connections that found the client slot taken (IPC.md "Access").
    queries: Queries,
}

/// Serves peers and the client until `shutdown` completes, then leaves any chat (see
/// [`crate::Daemon::run`]).
pub(crate) async fn run(
    udp: UdpSocket,
    listener: TcpListener,
    course: UdpSocket,
    store: Store,
    config: DaemonConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let linger = config.endpoint.timeout;
    let client_addr = listener.local_addr().map_err(DaemonError::LocalAddr)?;
    info!(udp = %config.endpoint.local, client = %client_addr, "simpd listening");
    match &config.state_dir {
        Some(dir) => info!(state_dir = %dir.display(), history = config.history, "message store open"),
        None => info!("message store in memory: nothing is kept after the daemon stops"),
    }
    let mut store = store;
    match store.hold_unsent() {
        Ok(0) => {}
        Ok(held) => info!(held, "{held} sent messages from before the restart wait for the next chat with their peer"),
        Err(error) => warn!(%error, "cannot read the sent messages from before the restart"),
    }
    let announcer = if config.announce { Some(Announcer::start(config.endpoint.local)?) } else { None };
    let mut shell = Shell::new(udp, course, store, config)?;
    shell.announcer = announcer;
    let mut timer = Timer::new();
    tokio::pin!(shutdown);
    // Set once shutdown has begun: the moment we stop waiting for the peer's ACK.
    let mut stop_by: Option<Instant> = None;
    let mut turns = Turns::default();
    loop {
        timer.arm(shell.wake_at());
        let mut close_client = false;
        let mut give_up = false;
        let busy = turns.busy();
        turns
            .watch(async {
                tokio::select! {
                    () = &mut shutdown, if stop_by.is_none() => stop_by = shell.shut_down(linger),
                    () = sleep_until_some(stop_by) => give_up = true,
                    received = shell.peer.recv(busy) => shell.peer_received(received),
                    // Polled each turn: `poll_accept` keeps no waiter to remove again (see `course.rs`).
                    accepted = poll_fn(|cx| listener.poll_accept(cx)), if stop_by.is_none() && !shell.accept_pause.is_on() => {
                        shell.accepted(accepted)
                    }
                    () = sleep_until_some(shell.accept_pause.until()) => shell.accept_pause.end(),
                    received = shell.course.recv(), if stop_by.is_none() => shell.course_received(received),
                    ready = shell.slot.ready() => match ready {
                        SlotReady::Tcp(ready) => close_client = shell.client_ready(ready),
                        SlotReady::Course(ready) => shell.course_ready(ready),
                    },
                    query = shell.queries.next() => shell.answer_query(query),
                    () = timer.fired() => shell.timeout(),
                }
            })
            .await;
        if give_up {
            warn!("the peer did not acknowledge our FIN in time; exiting anyway");
            break;
        }
        shell.drain();
        // A course client found unreachable here has left the chat: its FIN (or decline)
        // leaves in this turn, not at the next retransmission.
        let had_client = shell.ep.has_client();
        shell.course_settle();
        if had_client && !shell.ep.has_client() {
            shell.drain();
        }
        shell.follow_chat();
        if close_client {
            shell.close_client();
        }
        shell.announce_user();
        // Last: the lines cost more than the turn's datagrams and client lines, which are out.
        shell.ep.write_log();
        if stop_by.is_some() && shell.ep.is_idle() {
            info!("left cleanly");
            break;
        }
        turns.pause_if_busy().await;
    }
    // What the course client was sent counts; what it was not stays stored.
    if let Some(client) = shell.slot.take_course() {
        shell.course_release(client, false);
    }
    shell.log_kept();
    if let Some(client) = shell.slot.take_tcp() {
        client.finish().await;
    }
    Ok(())
}

impl Shell {
    fn new(udp: UdpSocket, course: UdpSocket, store: Store, config: DaemonConfig) -> Result<Shell, DaemonError> {
        let linger = config.endpoint.timeout.saturating_mul(2);
        let connect_deadline = config.connect_deadline;
        Ok(Shell {
            peer: PeerSocket::new(udp, config.endpoint.local).map_err(DaemonError::Register)?,
            ep: Endpoint::new(config.endpoint),
            origin: Instant::now(),
            slot: ClientSlot::Free,
            course: CoursePort::new(course),
            policy: ClientPolicy::new(config.allow_remote_clients, config.is_local_client),
            linger,
            quiet: Limiter::new(QUIET_BUDGET, QUIET_WINDOW),
            accept_pause: AcceptPause::default(),
            store,
            outbox: Outbox::default(),
            user: None,
            connect_deadline,
            announcer: None,
            queries: Queries::new(),
        })
    }

    fn now(&self) -> simp_proto::Instant {
        simp_proto::Instant::from_duration(self.origin.elapsed())
    }

    /// When the endpoint next needs [`Endpoint::handle_timeout`], an ended chat's socket is
    /// due to close, or a summary of held-back lines is due; a deadline beyond the clock's
    /// range is no deadline at all.
    fn wake_at(&self) -> Option<Instant> {
        let endpoint = self.ep.poll_timeout().and_then(|t| self.origin.checked_add(t.as_duration()));
        [endpoint, self.peer.next_retirement(), self.quiet.next_summary(), self.course.next_summary()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Begins leaving any chat; returns the moment to give up waiting for the peer's ACK.
    /// The message being sent is finished first (see [`Endpoint::handle_shutdown`]): then
    /// the wait covers its re-sends too.
    fn shut_down(&mut self, linger: Duration) -> Option<Instant> {
        info!("shutting down: leaving any chat");
        let now = self.now();
        self.ep.handle_shutdown(now);
        let sends = if self.ep.outgoing() > 0 { self.ep.config().retries.saturating_add(2) } else { 1 };
        Instant::now().checked_add(linger.saturating_mul(sends))
    }

    /// A datagram on the peer port, or a failure to receive one.
    fn peer_received(&mut self, received: std::io::Result<(usize, SocketAddr)>) {
        match received {
            Ok((len, from)) => {
                let now = self.now();
                self.ep.handle_datagram(now, from, self.peer.received(len));
            }
            Err(error) => debug!(%error, "UDP receive failed"),
        }
    }

    /// The one timer fired.
    fn timeout(&mut self) {
        let now = self.now();
        self.ep.handle_timeout(now);
        // Sockets of ended chats whose linger is over: what they still hold goes to the endpoint.
        while let Some((len, from)) = self.peer.take_from_retired() {
            self.ep.handle_datagram(now, from, self.peer.received(len));
        }
        let instant = Instant::now();
        for s in self.quiet.summaries(instant) {
            info!(source = %s.source, "dropped {} more log lines about {} in {:.0} s", s.held_back, s.source, s.over.as_secs_f64());
        }
        self.course.summarise(instant);
    }

    /// After every turn: an established chat (SPEC 2.1–2.3: from the handshake's end until the
    /// closing FIN is answered) has a socket of its own, shielded from floods (see `peer.rs`).
    fn follow_chat(&mut self) {
        let established = matches!(self.ep.state(), StateName::Chatting | StateName::Leaving | StateName::Closing);
        let peer = if established { self.ep.peer() } else { None };
        self.peer.follow(peer, self.linger);
    }

    /// Sends what the endpoint wants sent and reports what it wants reported, then hands the
    /// client's lines to its socket in one write.
    fn drain(&mut self) {
        loop {
            let mut urgent = false;
            let mut held = false;
            let mut message = false;
            // Events, then the message to store (committed before its ACK), then the events
            // that storing it caused (the crate docs' drive contract).
            let now = self.now();
            loop {
                // What these events record about sent messages is one transaction, committed
                // before anything leaves (see `inbox.rs`).
                let mut batch = Batch::default();
                while let Some(event) = self.ep.poll_event() {
                    let bookkeeping = matches!(event, Event::Queued { .. } | Event::Delivered { .. });
                    message |= matches!(event, Event::Message { .. });
                    urgent |= !bookkeeping;
                    held |= bookkeeping;
                    self.record_in(&mut batch, &event);
                    self.send_to_client(&event);
                }
                self.end_batch(batch);
                while let Some(event) = self.ep.poll_unheard() {
                    self.record(&event);
                }
                if !self.requeue_held() && !self.persist(now) {
                    break;
                }
            }
            let sending = self.ep.outgoing() != 0;
            let hold = self.slot.tcp().is_some_and(|client| client.hold(urgent, held, sending));
            // A received message is committed before its ACK leaves (SPEC 2.2), and handed
            // to the client first too; everything else waits for the datagrams, which are
            // what the peer is waiting for.
            let mut flushed = if message { Some(self.flush_client()) } else { None };
            while let Some(t) = self.ep.poll_transmit() {
                self.peer.send(&t);
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

    /// `--announce`: the attached client's name, or none once it has gone.
    fn announce_user(&mut self) {
        if let Some(announcer) = &mut self.announcer {
            let attached = !matches!(self.slot, ClientSlot::Free);
            announcer.set_user(self.user.as_deref().filter(|_| attached));
        }
    }

    fn send_to_client(&mut self, event: &Event) {
        match &mut self.slot {
            ClientSlot::Tcp(client) => client.push(event),
            // Queued for the pace; a message counts as shown once sent (`course_client.rs`).
            ClientSlot::Course(client) => CoursePort::queue(client, event),
            ClientSlot::Free => debug!(?event, "no client attached: event dropped"),
        }
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => pending().await,
    }
}
