//! The full-screen terminal interface (ratatui + crossterm), used when stdin and stdout are
//! terminals.
//!
//! Besides keys it asks the terminal for bracketed paste (a paste arrives whole, so it becomes
//! one message and a pasted line break cannot send half of it), focus changes and mouse-wheel
//! reports (button events only, SGR encoding: mode 1000 + 1006, so motion is never reported).
//!
//! The terminal is restored on every way out: a guard leaves the alternate screen and raw
//! mode when dropped (normal return, error, unwinding), and a panic hook does the same before
//! the panic message is printed, so the message lands on a usable screen.

pub mod editor;
pub mod keys;
pub mod notify;
pub mod ui;

use std::io::{self, Stdout, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use crossterm::event::{
    DisableBracketedPaste, DisableFocusChange, EnableBracketedPaste, EnableFocusChange, Event as TermEvent,
    EventStream, KeyEventKind,
};
use crossterm::terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute};
use futures_util::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::app::{App, Phase};
use crate::conn::{CommandWriter, EventReader};
use crate::event_loop::{self, Front, Input, SessionError, Setup};
use keys::UiState;

/// Runs a session in the full-screen interface.
pub async fn run(
    addr: SocketAddr,
    reader: EventReader,
    writer: CommandWriter,
    initial: &[String],
    setup: &Setup,
) -> Result<(), SessionError> {
    let guard = TerminalGuard::enter()?;
    let mut tui = Tui {
        terminal: Terminal::new(CrosstermBackend::new(io::stdout()))?,
        events: EventStream::new(),
        ui: UiState {
            utf8: setup.utf8,
            contacts: setup.contacts.iter().map(|(name, _)| name.to_owned()).collect(),
            ..UiState::new()
        },
        notifier: notify::Notifier::new(setup.quiet, notify::Desktop::detect(|k| std::env::var(k).ok())),
        terminate: signal(SignalKind::terminate())?,
        hangup: signal(SignalKind::hangup())?,
    };
    let result = event_loop::run(&mut tui, addr, reader, writer, initial, setup).await;
    drop(tui);
    drop(guard);
    result
}

struct Tui {
    terminal: Terminal<CrosstermBackend<Stdout>>,
    events: EventStream,
    ui: UiState,
    notifier: notify::Notifier,
    /// SIGTERM and SIGHUP (the terminal closed) quit like `/quit`, so the terminal is restored
    /// and the daemon told; SIGINT needs nothing: in raw mode Ctrl-C arrives as a key.
    terminate: Signal,
    hangup: Signal,
}

impl Front for Tui {
    const HISTORY: bool = true;
    const RECONNECT: bool = true;

    async fn input(&mut self, phase: &Phase) -> io::Result<Input> {
        loop {
            let event = tokio::select! {
                event = self.events.next() => event,
                _ = self.terminate.recv() => return Ok(Input::Quit),
                _ = self.hangup.recv() => return Ok(Input::Quit),
            };
            match event {
                Some(Ok(TermEvent::Key(key))) if key.kind != KeyEventKind::Release => {
                    return Ok(keys::handle_key(&mut self.ui, key, phase));
                }
                Some(Ok(TermEvent::Paste(text))) => return Ok(keys::handle_paste(&mut self.ui, &text, phase)),
                Some(Ok(TermEvent::Mouse(mouse))) => return Ok(keys::handle_mouse(&mut self.ui, mouse)),
                Some(Ok(TermEvent::Resize(..))) => return Ok(Input::Nothing),
                Some(Ok(TermEvent::FocusGained)) => {
                    self.ui.focused = true;
                    return Ok(Input::Nothing);
                }
                Some(Ok(TermEvent::FocusLost)) => {
                    self.ui.focused = false;
                    return Ok(Input::Nothing);
                }
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(err),
                None => return Ok(Input::Quit),
            }
        }
    }

    fn show(&mut self, app: &mut App) -> io::Result<()> {
        // The screen shows the whole log and the current prompt; nothing is printed twice.
        app.take_changes();
        app.take_prompt();
        app.trim_log();
        self.ui.follow_contacts(app.contacts());
        let ui = &mut self.ui;
        self.terminal.draw(|frame| ui::draw(frame, app, ui))?;
        let looking = self.ui.focused && self.ui.scroll == 0;
        let context = crate::texts::describe(app.phase());
        let bytes = self.notifier.update(&app.take_alerts(), looking, &context);
        if !bytes.is_empty() {
            let out = self.terminal.backend_mut();
            out.write_all(bytes.as_bytes())?;
            out.flush()?;
        }
        Ok(())
    }
}

/// Raw mode and the alternate screen for as long as it lives.
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        // From here on, dropping the guard undoes whatever part succeeded.
        let guard = TerminalGuard;
        execute!(
            io::stdout(),
            TitleStack(true),
            EnterAlternateScreen,
            EnableBracketedPaste,
            EnableFocusChange,
            WheelReports(true)
        )?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Turns mouse button reports (which include the wheel) on or off: mode 1000 with SGR
/// encoding (1006). crossterm's `EnableMouseCapture` also turns on motion tracking (1003),
/// which would wake the client on every mouse move.
struct WheelReports(bool);

impl crossterm::Command for WheelReports {
    fn write_ansi(&self, f: &mut impl std::fmt::Write) -> std::fmt::Result {
        f.write_str(if self.0 { "\x1b[?1000h\x1b[?1006h" } else { "\x1b[?1006l\x1b[?1000l" })
    }
}

/// Saves the window title (xterm's title stack, CSI 22 t) before notifications change it, and
/// puts it back (CSI 23 t) on the way out.
struct TitleStack(bool);

impl crossterm::Command for TitleStack {
    fn write_ansi(&self, f: &mut impl std::fmt::Write) -> std::fmt::Result {
        f.write_str(if self.0 { "\x1b[22;0t" } else { "\x1b[23;0t" })
    }
}

/// Whether the terminal is in raw mode and the alternate screen because of us.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Leaves the alternate screen and raw mode, once: the panic hook and the guard's drop both
/// call it, and leaving the alternate screen twice would jump the cursor back over the panic
/// message.
pub fn restore_terminal() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = execute!(
            io::stdout(),
            WheelReports(false),
            DisableFocusChange,
            DisableBracketedPaste,
            LeaveAlternateScreen,
            cursor::Show,
            TitleStack(false)
        );
        let _ = disable_raw_mode();
    }
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
    });
}
