//! `simp`, the SIMP chat client: it talks to the local `simpd` over JSON Lines on TCP
//! (IPC.md) and follows the course's flow — ask the name; if a request is pending, ask
//! accept/decline; otherwise start a chat (ask the peer's IP) or wait for a call; in a chat,
//! typed lines are messages. `q` quits from every menu and prompt; in a chat `/quit` quits,
//! `/leave` ends the chat, `/status` asks the daemon for its counters and `//text` sends
//! `/text`.
//!
//! Two front ends share one I/O-free state machine ([`app::App`]):
//! - the full-screen interface ([`tui`]) when stdin and stdout are terminals;
//! - plain line mode (`--plain`, or whenever stdin or stdout is not a terminal), built so a
//!   script can drive a whole chat through pipes.
//!
//! # Plain mode output
//!
//! One line per event, each starting with the local time `[HH:MM:SS]` and a marker; prompts
//! stand alone on their own lines, without a time. Everything that came from the network is
//! escaped: bytes outside printable ASCII as `\xNN` (a line break inside a message prints as
//! `\x0a`, so every event stays on one line), TAB as spaces; a peer's UTF-8 in a message is
//! shown as text, controls and formatting characters still escaped ([`escape`]).
//!
//! ```text
//! your name? (q quits)
//! [12:00:01] * connected to daemon 127.0.0.1:7777 as alice
//! [s] start a chat, [w] wait for a call, [l] list the LAN, [q] quit
//! peer IP (IP, IP:port or a contact's name; empty for the menu, q quits)?
//! [12:00:02] * calling 127.0.0.2:7777
//! calling 127.0.0.2:7777 — c cancels, q quits
//! [12:00:03] * chat with bob at 127.0.0.2:7777 open
//! [12:00:03] * 127.0.0.2:7777 is not in your contacts: /save keeps it as bob, /save NAME as NAME
//! chatting with bob — type a message; /leave ends the chat, /quit quits
//! [12:00:03] alice: hello
//! [12:00:03] ✓ delivered: hello
//! [12:00:04] bob: hi
//! [12:00:09] alice: still there?
//! [12:00:19] ✗ undelivered (peer unreachable): still there?
//! [12:00:19] * chat with bob ended: peer unreachable
//! [12:00:20] ! the text contains 'é' (U+00E9) at character 4; SIMP carries ASCII text only (TAB and newline allowed), nothing was sent
//! ```
//!
//! | line | meaning |
//! |---|---|
//! | `[t] * connected to daemon ADDR as NAME` | the daemon accepted the name |
//! | `[t] * request from NAME at ADDR` | a call waits; followed by the prompt `request from NAME at ADDR — accept? [y/n/q]` |
//! | `[t] * you declined the request from NAME at ADDR` | after `n` |
//! | `[t] * calling ADDR` | our call is out |
//! | `[t] * still ringing ADDR: …` | once, when the call has rung 5 s without an answer (SIMP does not tell whether anyone is there to accept), with how to cancel |
//! | `[t] * chat with NAME at ADDR open` | the chat is established; ADDR is `CONTACT (IP:port)` for a contact; `chat with ADDR open` when the name is not known (an auto-accepted call) |
//! | `[t] * ADDR is not in your contacts: …` | after it, for a peer that is no contact: how to `/save` it |
//! | `[t] NAME: TEXT` | a message, the peer's or our own (as sent) |
//! | `[t] ✓ delivered: TEXT` | the peer acknowledged our message |
//! | `[t] ✗ undelivered (REASON): TEXT` | our message will not arrive; for the one that was on its way when the peer became unreachable, REASON goes on `; no acknowledgement came, but it was sent and may have arrived` |
//! | `[t] * chat with NAME ended: REASON` | also `call to ADDR ended: …`, `request from NAME ended: …`; REASON as in IPC.md, `busy` with the peer's text in parentheses |
//! | `[t] * N messages to ADDR from before the daemon restarted are held: …` | after connecting: sent messages the daemon kept across its restart (one line per run of them), sent when the chat with ADDR is open again |
//! | `[t] * held message to ADDR delivered: TEXT` | one of those arrived; `[t] ! held message to ADDR undelivered (REASON): TEXT` if it will not |
//! | `[t] * missed call from NAME at ADDR: …` | someone called while we were busy (or away: listed after connecting) |
//! | `[t] *   N  ADDR  USER` | after `l` or `/lan`: a daemon announcing itself on the LAN (USER `(no client attached)` when none is); followed by the prompt `call which daemon? 1-N …`, answered with a number |
//! | `[t] * status: …` | answer to `/status` |
//! | `[t] ! …` | a refusal or error, with what to do; daemon errors end with their code in parentheses, e.g. `(queue-full)` |
//!
//! Prompts: `your name? (q quits)`, `[s] start a chat, [w] wait for a call, [l] list the LAN, [q] quit`,
//! `peer IP (IP, IP:port or a contact's name; empty for the menu, q quits)?`,
//! `waiting for a call — Enter for the menu, q quits`,
//! `request from NAME at ADDR — accept? [y/n/q]`, `calling ADDR — c cancels, q quits`,
//! `chatting with NAME — type a message; /leave ends the chat, /quit quits`,
//! `call which daemon? 1-N (or ↑/↓ and Enter); Enter alone for the menu, q quits`.
//!
//! Plain mode shows no stored history (the full-screen interface does, as a chat opens);
//! `simp history` prints it ([`history_cmd`]).
//!
//! In the menu an address may be typed directly instead of `s`. Lines typed while the client
//! waits for the daemon's answer (after the name, a start, an accept, a leave) are held and
//! applied once it arrives, so a script may type ahead; so are lines typed while a call rings
//! (other than `c`, `q`, `/help`, `/who` and `/clear`): they wait for the chat, and if the call fails they are dropped
//! with a `!` line saying so. End of input means "finish what is queued, then leave": held
//! lines are played, messages sent are given their delivery mark, then the client quits
//! (exit 0).
//!
//! # Exit status
//! 0 after `q`, `/quit` or end of input; 1 when no daemon answers (with how to start one:
//! `simpd IP`), when it serves another client already, or in plain mode when it goes away
//! mid-session (with the daemon's own command line to start it again:
//! [`daemon_process`]); 2 for bad command-line flags. The full-screen interface outlives its
//! daemon instead: it keeps the screen and connects again ([`event_loop`], [`App::daemon_lost`](app::App::daemon_lost)).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod cli;
pub mod config;
pub mod conn;
pub mod daemon_process;
pub mod demo;
pub mod escape;
pub mod event_loop;
pub mod history;
pub mod history_cmd;
pub mod lan;
pub mod log;
pub mod own_daemon;
pub mod plain;
#[cfg(test)]
mod reconnect_tests;
pub mod restart;
pub mod texts;
pub mod tui;
pub mod words;

use std::net::SocketAddr;

pub use event_loop::{SessionError, Setup};

/// Connects to the daemon at `addr` and runs a session with the chosen front end; `user`
/// skips the name prompt. When nothing listens there and `start_daemon(addr)` says so (asked
/// the user, or `--daemon`), a daemon is started in this process on `addr`'s IP (peer port
/// 7777, client port `addr`'s) with `simpd`'s default state directory, and stopped when the
/// session ends.
pub async fn run(
    addr: SocketAddr,
    user: Option<&str>,
    setup: &Setup,
    full_screen: bool,
    start_daemon: impl FnOnce(SocketAddr) -> bool,
) -> Result<(), SessionError> {
    let (own, (reader, writer)) = match conn::connect(addr).await {
        Ok(conn) => (None, conn),
        Err(conn::ConnError::Unreachable { .. }) if start_daemon(addr) => {
            let mut config = simpd::DaemonConfig::new(addr.ip());
            config.client_port = addr.port();
            // The same store `simpd IP` would use: what this daemon acknowledges outlives simp
            // (IPC.md "Until the client confirms"), and a later `simpd IP` or `simp --daemon`
            // finds it, history and all. In memory only when no home directory is known.
            config.state_dir = simpd::store::default_state_dir(config.ip, config.port);
            let daemon =
                simpd::Daemon::bind(config).await.map_err(|source| SessionError::OwnDaemon { addr, source })?;
            (Some(own_daemon::OwnDaemon::spawn(daemon)), conn::connect(addr).await?)
        }
        Err(err) => return Err(err.into()),
    };
    let initial: Vec<String> = user.into_iter().map(str::to_owned).collect();
    let result = run_with(addr, reader, writer, &initial, setup, full_screen).await;
    if let Some(own) = own {
        own.stop().await;
    }
    result
}

/// Why `simp status` got no status.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// No daemon, or the connection failed.
    #[error(transparent)]
    Conn(#[from] conn::ConnError),
    /// The daemon answered something else (an older simpd answers `not-connected`).
    #[error("simpd at {addr} did not answer with its status: {answer}")]
    Answer {
        /// The daemon's client address.
        addr: SocketAddr,
        /// What it said, escaped.
        answer: String,
    },
}

/// `simp status`: asks the daemon at `addr` for its state without attaching (IPC.md
/// "Access"), as one line.
pub async fn status(addr: SocketAddr) -> Result<String, StatusError> {
    use simp_proto::ipc::{Command, Event};
    let (mut reader, mut writer) = conn::connect(addr).await?;
    writer.send(&Command::Status).await?;
    let answer = tokio::time::timeout(event_loop::HANDSHAKE_TIMEOUT, reader.next()).await;
    let answer = match answer {
        Ok(Ok(Some(conn::Incoming::Event(Event::Status(status))))) => return Ok(texts::status(&status)),
        Ok(Ok(Some(conn::Incoming::Event(Event::Error { message, .. })))) => escape::field(&message),
        Ok(Ok(Some(conn::Incoming::Garbled(what)))) => what,
        Ok(Ok(Some(conn::Incoming::Event(other)))) => escape::field(&format!("{other:?}")),
        Ok(Ok(None)) => "it closed the connection".into(),
        Ok(Err(err)) => return Err(err.into()),
        Err(_) => format!("nothing within {} s", event_loop::HANDSHAKE_TIMEOUT.as_secs()),
    };
    Err(StatusError::Answer { addr, answer })
}

/// Runs a session on an open connection, first feeding `initial` as if typed (the demo uses
/// this to log in and place its call).
pub async fn run_with(
    addr: SocketAddr,
    reader: conn::EventReader,
    writer: conn::CommandWriter,
    initial: &[String],
    setup: &Setup,
    full_screen: bool,
) -> Result<(), SessionError> {
    if full_screen {
        tui::run(addr, reader, writer, initial, setup).await
    } else {
        event_loop::run(&mut plain::Plain::stdio(), addr, reader, writer, initial, setup).await
    }
}
