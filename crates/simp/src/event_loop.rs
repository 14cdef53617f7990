//! The event loop shared by both front ends, the client's counterpart of simpd's: daemon
//! events and user input go into the [`App`], its commands go to the daemon, and the front end
//! shows the result. Also owns the exit rules: a daemon that goes away mid-session is waited
//! for and connected to again by a front that stays open ([`Front::RECONNECT`]: the
//! full-screen interface, every [`RETRY_FIRST`] doubling up to [`RETRY_MAX`]) and an error for
//! the other (plain mode: a script sees exit 1); a `quit` is given a moment to be answered.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDateTime;
use simp_proto::ipc::Command;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::app::{App, Phase};
use crate::config::{self, Contacts};
use crate::conn::{self, CommandWriter, ConnError, EventReader, Incoming};
use crate::lan::{self, LanDaemon};

/// How long `connected` may take once `connect` is sent.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for the daemon to close the connection after `quit`.
pub const QUIT_GRACE: Duration = Duration::from_secs(2);

/// Daemon events handled in one turn at most before the front shows them.
const BURST: usize = 1024;
/// While `held` events come (IPC.md: one per sent message kept across the daemon's restart,
/// right after `connected`), how long to wait for the next before showing their line: the
/// daemon writes them in one go, but they may come in several reads.
const HELD_SETTLE: Duration = Duration::from_millis(20);
/// At most this long in all, per turn.
const HELD_SETTLE_MAX: Duration = Duration::from_millis(250);
/// After the daemon went away, the first attempt to connect again comes this late...
pub const RETRY_FIRST: Duration = Duration::from_secs(1);
/// ...and the wait doubles after each failed one, up to this.
pub const RETRY_MAX: Duration = Duration::from_secs(4);

/// What a session knows besides its connection: from the config file and the command line.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// Contacts for `/call NAME` and for showing peers by name.
    pub contacts: Contacts,
    /// Where `/save` writes a contact; `None`: nowhere (the demo), `/save` only lasts the session.
    pub config_path: Option<PathBuf>,
    /// `--quiet`: no bell, window title or desktop notification.
    pub quiet: bool,
    /// `--utf8`: send UTF-8, not only ASCII.
    pub utf8: bool,
}

/// What the user did, as far as the [`App`] cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A line was entered (or a menu key pressed, spelled as its line).
    Line(String),
    /// Quit from anywhere: Esc q, Ctrl-C (twice in a chat), a signal.
    Quit,
    /// Plain mode's input ended: finish what is queued, then quit ([`App::end_of_input`]).
    End,
    /// The view is at the top of the log and the user asks for more: older stored messages
    /// ([`App::older_history`]).
    Older,
    /// Only the view changed (a key edited the input line, a scroll): redraw.
    Nothing,
}

/// A way of showing the [`App`] and reading the user.
pub(crate) trait Front {
    /// Whether this front shows the stored history of a chat as it opens ([`App::set_history`]).
    const HISTORY: bool;
    /// Whether a daemon that goes away is waited for and connected to again, the screen kept
    /// ([`App::daemon_lost`]); otherwise the session ends with [`SessionError::DaemonGone`].
    const RECONNECT: bool;
    /// Waits for the user. Must be cancel-safe: it races daemon events in a `select!`.
    async fn input(&mut self, phase: &Phase) -> std::io::Result<Input>;
    /// Shows what changed.
    fn show(&mut self, app: &mut App) -> std::io::Result<()>;
}

/// Why a session ended badly.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The daemon closed the connection while the user was still in the session.
    #[error("simpd at {addr} closed the connection; is it still running? (start it again with `{restart}`)")]
    DaemonGone {
        /// The daemon's client address.
        addr: SocketAddr,
        /// The command that starts it again ([`crate::daemon_process`]).
        restart: String,
    },
    /// The connection failed.
    #[error(transparent)]
    Conn(#[from] ConnError),
    /// The daemon serves another client and closed this connection.
    #[error("simpd at {addr} is busy with another client: {message}")]
    Refused {
        /// The daemon's client address.
        addr: SocketAddr,
        /// The daemon's words, escaped.
        message: String,
    },
    /// `connected` never came.
    #[error("the service at {addr} accepted the connection but did not answer `connect` within {} s; is it simpd?", HANDSHAKE_TIMEOUT.as_secs())]
    Handshake {
        /// The daemon's client address.
        addr: SocketAddr,
    },
    /// No daemon answered and the one this client started could not bind.
    #[error("cannot start a daemon for {addr}: {source}")]
    OwnDaemon {
        /// The client address it was to serve.
        addr: SocketAddr,
        /// Why.
        source: simpd::DaemonError,
    },
    /// The terminal or stdout failed.
    #[error("terminal: {0}")]
    Io(#[from] std::io::Error),
}

/// The local date and time for log lines.
pub fn now() -> NaiveDateTime {
    chrono::Local::now().naive_local()
}

/// Runs one session until the user quits (`Ok`) or the daemon goes away (`Err`, unless the
/// front reconnects). `initial` lines are taken as typed first (`--user`, the demo's call).
pub(crate) async fn run<F: Front>(
    front: &mut F,
    addr: SocketAddr,
    reader: EventReader,
    writer: CommandWriter,
    initial: &[String],
    setup: &Setup,
) -> Result<(), SessionError> {
    // Until the daemon has said something it may not have accepted the connection, and no
    // process holds its end yet: its command line is looked up after its first line.
    let mut restart = conn::start_command(addr);
    let mut link = Link::up(reader, writer);
    let mut app = App::new();
    app.set_contacts(setup.contacts.clone());
    app.set_utf8(setup.utf8);
    app.set_history(F::HISTORY);
    let mut quit_sent = false;
    let mut deadline: Option<Instant> = None;
    // A `/lan` listing: mDNS on the interface holding the daemon's IP, off the runtime.
    let mut lan: Option<tokio::task::JoinHandle<Result<Vec<LanDaemon>, String>>> = None;
    let mut cmds: Vec<Command> = initial.iter().flat_map(|line| app.on_line(line, now())).collect();
    loop {
        if !cmds.is_empty() {
            quit_sent |= cmds.contains(&Command::Quit);
            if cmds.iter().any(|c| matches!(c, Command::Connect { .. })) {
                deadline = Some(Instant::now() + HANDSHAKE_TIMEOUT);
            }
            // While the daemon is away nothing can be sent: the App refuses what would need it.
            if let Link::Up { writer, .. } = &mut link {
                if let Err(err) = writer.send_all(&cmds).await {
                    if quit_sent {
                        front.show(&mut app)?;
                        return Ok(());
                    }
                    link = lost::<F>(&mut app, daemon_gone(addr, err, &restart), front)?;
                    deadline = None;
                }
            }
        }
        if let Some((name, addr)) = app.take_contact_to_save() {
            if let Some(path) = &setup.config_path {
                if let Err(err) = config::save_contact(path, &name, addr) {
                    app.note_error(&err.to_string(), now());
                }
            }
        }
        if app.take_lan_request() {
            let ip = addr.ip();
            lan = Some(tokio::task::spawn_blocking(move || lan::browse(ip, lan::WAIT).map_err(|e| e.to_string())));
        }
        front.show(&mut app)?;
        if app.is_finished() {
            break;
        }
        if *app.phase() != Phase::Connecting {
            deadline = None;
        }
        let phase = app.phase().clone();
        let handshake = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        // The App's own timer (a call still ringing says so).
        let tick = app.wakeup().map(|at| (at - now()).to_std().unwrap_or_default());
        let tick = async {
            match tick {
                Some(after) => tokio::time::sleep(after).await,
                None => std::future::pending().await,
            }
        };
        let listed = async {
            match &mut lan {
                Some(listing) => listing.await,
                None => std::future::pending().await,
            }
        };
        let (incoming, retry) = match &mut link {
            Link::Up { events, .. } => (Some(events), None),
            Link::Down { retry_at, .. } => (None, Some(*retry_at)),
        };
        let received = async {
            match incoming {
                Some(events) => events.recv().await,
                None => std::future::pending().await,
            }
        };
        let reconnect = async {
            match retry {
                Some(at) => {
                    tokio::time::sleep_until(at).await;
                    conn::connect(addr).await
                }
                None => std::future::pending().await,
            }
        };
        cmds = tokio::select! {
            first = received => {
                let Link::Up { events, local, .. } = &mut link else { continue };
                // Handled here, not in the raced future: a burst must not be cut short.
                match burst(&mut app, first, events, addr, &restart).await {
                    Ok(cmds) => {
                        if let Some(local) = local.take() {
                            restart = crate::daemon_process::restart_command(addr, Some(local));
                        }
                        cmds
                    }
                    Err(end) => {
                        link = lost::<F>(&mut app, end, front)?;
                        deadline = None;
                        Vec::new()
                    }
                }
            },
            input = front.input(&phase) => match input? {
                Input::Line(line) => app.on_line(&line, now()),
                Input::Quit => app.quit(),
                Input::End => app.end_of_input(),
                Input::Older => app.older_history(),
                Input::Nothing => Vec::new(),
            },
            () = handshake => return Err(SessionError::Handshake { addr }),
            () = tick => {
                app.on_tick(now());
                Vec::new()
            }
            found = listed => {
                lan = None;
                app.on_lan(found.unwrap_or_else(|e| Err(format!("the listing stopped: {e}"))), now());
                Vec::new()
            }
            attempt = reconnect => match (attempt, &mut link) {
                (Ok((reader, writer)), _) => {
                    link = Link::up(reader, writer);
                    app.reconnected(now())
                }
                (Err(_), Link::Down { retry_at, wait }) => {
                    *wait = (*wait * 2).min(RETRY_MAX);
                    *retry_at = Instant::now() + *wait;
                    Vec::new()
                }
                (Err(_), Link::Up { .. }) => Vec::new(),
            },
        };
    }
    if let (true, Link::Up { events, .. }) = (quit_sent, &mut link) {
        // Let the daemon finish (it may report the chat ending) and close; bounded, since
        // quitting must never hang.
        let _ = tokio::time::timeout(QUIT_GRACE, async {
            while let Some(Ok(Some(item))) = events.recv().await {
                match item {
                    Incoming::Event(event) => drop(app.on_event(event, now())),
                    Incoming::Garbled(what) => app.on_garbled(&what, now()),
                }
                let _ = front.show(&mut app);
            }
        })
        .await;
    }
    front.show(&mut app)?;
    Ok(())
}

/// The connection to the daemon, or the wait for it to come back.
enum Link {
    /// Connected: events come from the reading task, commands go to the writer. `local` is
    /// this client's end, until the daemon's command line is looked up.
    Up { events: mpsc::Receiver<Result<Option<Incoming>, ConnError>>, writer: CommandWriter, local: Option<SocketAddr> },
    /// The daemon went away: the next attempt to connect is due at `retry_at`, after `wait`.
    Down { retry_at: Instant, wait: Duration },
}

impl Link {
    fn up(reader: EventReader, writer: CommandWriter) -> Link {
        Link::Up { local: writer.local_addr().ok(), events: reader.spawn(), writer }
    }
}

/// The connection ended (`end` says how): when the daemon went away, a front that reconnects
/// keeps the screen and waits for it; otherwise the session ends.
fn lost<F: Front>(app: &mut App, end: SessionError, front: &mut F) -> Result<Link, SessionError> {
    match end {
        SessionError::DaemonGone { addr, restart } if F::RECONNECT => {
            app.daemon_lost(addr, &restart, now());
            Ok(Link::Down { retry_at: Instant::now() + RETRY_FIRST, wait: RETRY_FIRST })
        }
        end => {
            front.show(app)?;
            Err(end)
        }
    }
}

/// Handles `first` and what came with it before anything is shown: a burst (the replay after
/// `connect`) is shown at once, and a run of `held` events is one line. The commands the
/// [`App`] answers with, or why the connection is over.
async fn burst(
    app: &mut App,
    first: Option<Result<Option<Incoming>, ConnError>>,
    events: &mut mpsc::Receiver<Result<Option<Incoming>, ConnError>>,
    addr: SocketAddr,
    restart: &str,
) -> Result<Vec<Command>, SessionError> {
    let mut cmds = Vec::new();
    let mut item = first;
    let settle_by = Instant::now() + HELD_SETTLE_MAX;
    for _ in 0..BURST {
        cmds.extend(on_item(app, item, addr, restart)?);
        item = if app.in_held_run() {
            let until = settle_by.min(Instant::now() + HELD_SETTLE);
            match tokio::time::timeout_at(until, events.recv()).await {
                Ok(next) => next,
                Err(_) => break,
            }
        } else {
            match events.try_recv() {
                Ok(next) => Some(next),
                Err(_) => break,
            }
        };
    }
    Ok(cmds)
}

/// One item from the daemon's connection: the commands the [`App`] answers with, or why the
/// session is over.
fn on_item(
    app: &mut App,
    item: Option<Result<Option<Incoming>, ConnError>>,
    addr: SocketAddr,
    restart: &str,
) -> Result<Vec<Command>, SessionError> {
    match item {
        Some(Ok(Some(Incoming::Event(event)))) => Ok(app.on_event(event, now())),
        Some(Ok(Some(Incoming::Garbled(what)))) => {
            app.on_garbled(&what, now());
            Ok(Vec::new())
        }
        Some(Ok(None)) | None => Err(match app.refused() {
            Some(message) => SessionError::Refused { addr, message: message.to_owned() },
            None => SessionError::DaemonGone { addr, restart: restart.to_owned() },
        }),
        Some(Err(err)) => Err(daemon_gone(addr, err, restart)),
    }
}

fn daemon_gone(addr: SocketAddr, err: ConnError, restart: &str) -> SessionError {
    match err {
        ConnError::Io(_) => SessionError::DaemonGone { addr, restart: restart.to_owned() },
        other => SessionError::Conn(other),
    }
}
