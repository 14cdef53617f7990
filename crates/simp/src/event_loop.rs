//! The event loop shared by both front ends, the client's counterpart of simpd's: daemon
//! events and user input go into the [`App`], its commands go to the daemon, and the front end
//! shows the result. Also owns the exit rules: a daemon that goes away mid-session is an error,
//! a `quit` is given a moment to be answered.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDateTime;
use simp_proto::ipc::Command;
use tokio::time::Instant;

use crate::app::{App, Phase};
use crate::config::{self, Contacts};
use crate::conn::{CommandWriter, ConnError, EventReader, Incoming};
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
    /// Waits for the user. Must be cancel-safe: it races daemon events in a `select!`.
    async fn input(&mut self, phase: &Phase) -> std::io::Result<Input>;
    /// Shows what changed.
    fn show(&mut self, app: &mut App) -> std::io::Result<()>;
}

/// Why a session ended badly.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The daemon closed the connection while the user was still in the session.
    #[error("simpd at {addr} closed the connection; is it still running? (start it again with `{cmd}`)", cmd = crate::conn::start_command(*.addr))]
    DaemonGone {
        /// The daemon's client address.
        addr: SocketAddr,
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

/// Runs one session until the user quits (`Ok`) or the daemon goes away (`Err`). `initial`
/// lines are taken as typed first (`--user`, the demo's call).
pub(crate) async fn run<F: Front>(
    front: &mut F,
    addr: SocketAddr,
    reader: EventReader,
    mut writer: CommandWriter,
    initial: &[String],
    setup: &Setup,
) -> Result<(), SessionError> {
    let mut events = reader.spawn();
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
            if let Err(err) = writer.send_all(&cmds).await {
                front.show(&mut app)?;
                return if quit_sent { Ok(()) } else { Err(daemon_gone(addr, err)) };
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
        cmds = tokio::select! {
            item = events.recv() => {
                // What came with it is handled before anything is shown: a burst (the replay
                // after `connect`) is shown at once, and a run of `held` events is one line.
                let mut cmds = Vec::new();
                let mut item = item;
                let settle_by = Instant::now() + HELD_SETTLE_MAX;
                for _ in 0..BURST {
                    match on_item(&mut app, item, addr) {
                        Ok(more) => cmds.extend(more),
                        Err(end) => {
                            front.show(&mut app)?;
                            return Err(end);
                        }
                    }
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
                cmds
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
        };
    }
    if quit_sent {
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

/// One item from the daemon's connection: the commands the [`App`] answers with, or why the
/// session is over.
fn on_item(
    app: &mut App,
    item: Option<Result<Option<Incoming>, ConnError>>,
    addr: SocketAddr,
) -> Result<Vec<Command>, SessionError> {
    match item {
        Some(Ok(Some(Incoming::Event(event)))) => Ok(app.on_event(event, now())),
        Some(Ok(Some(Incoming::Garbled(what)))) => {
            app.on_garbled(&what, now());
            Ok(Vec::new())
        }
        Some(Ok(None)) | None => Err(match app.refused() {
            Some(message) => SessionError::Refused { addr, message: message.to_owned() },
            None => SessionError::DaemonGone { addr },
        }),
        Some(Err(err)) => Err(daemon_gone(addr, err)),
    }
}

fn daemon_gone(addr: SocketAddr, err: ConnError) -> SessionError {
    match err {
        ConnError::Io(_) => SessionError::DaemonGone { addr },
        other => SessionError::Conn(other),
    }
}
