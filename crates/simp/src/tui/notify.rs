//! Notifications, for a chat client that stays open in a corner: a call, or a message that
//! arrives while the user is not looking (the terminal window is unfocused, or the log is
//! scrolled back), rings the terminal bell, puts an unread count in the window title and, where
//! the terminal is known to show them, raises a desktop notification (OSC 9 or OSC 777).
//! `--quiet` turns all of it off.
//!
//! Everything here is a pure function of the alerts and the view: it returns the bytes to
//! write, so tests read them. The texts are escaped to printable ASCII by the
//! [`App`](crate::app::App) already; `;` is replaced too, since it separates OSC 777's fields.

use crate::app::Alert;

/// The terminal bell.
const BELL: &str = "\x07";

/// How the terminal shows a desktop notification, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Desktop {
    /// `OSC 9 ; text BEL`: iTerm2, WezTerm, kitty, Windows Terminal, Ghostty.
    Osc9,
    /// `OSC 777 ; notify ; title ; body BEL`: VTE terminals (GNOME Terminal, Tilix), foot,
    /// urxvt with its notify extension.
    Osc777,
}

impl Desktop {
    /// Guesses from the environment; `None` where unsure (an unknown OSC is usually ignored,
    /// but some terminals print it, and ConEmu reads OSC 9 as something else). Inside tmux or
    /// screen the sequence would need wrapping: none.
    pub fn detect(var: impl Fn(&str) -> Option<String>) -> Option<Desktop> {
        if var("TMUX").is_some() || var("STY").is_some() {
            return None;
        }
        let term = var("TERM").unwrap_or_default();
        let program = var("TERM_PROGRAM").unwrap_or_default();
        if matches!(program.as_str(), "iTerm.app" | "WezTerm" | "ghostty")
            || term == "xterm-kitty"
            || var("WT_SESSION").is_some()
        {
            Some(Desktop::Osc9)
        } else if var("VTE_VERSION").is_some() || term.starts_with("foot") || term.starts_with("rxvt") {
            Some(Desktop::Osc777)
        } else {
            None
        }
    }

    fn sequence(self, title: &str, body: &str) -> String {
        let clean = |s: &str| s.replace(';', ",");
        match self {
            Desktop::Osc9 => format!("\x1b]9;{}: {}\x07", clean(title), clean(body)),
            Desktop::Osc777 => format!("\x1b]777;notify;{};{}\x07", clean(title), clean(body)),
        }
    }
}

/// The notification state of one session.
#[derive(Debug)]
pub struct Notifier {
    quiet: bool,
    desktop: Option<Desktop>,
    unread: usize,
    title: Option<String>,
}

impl Notifier {
    /// `quiet`: `--quiet`, nothing at all.
    pub fn new(quiet: bool, desktop: Option<Desktop>) -> Notifier {
        Notifier { quiet, desktop, unread: 0, title: None }
    }

    /// The unread count the title shows.
    pub fn unread(&self) -> usize {
        self.unread
    }

    /// The bytes to write for these alerts, given whether the user is looking (window
    /// focused, log at its newest line), and the window title for `context` (e.g.
    /// `chatting with bob`) if it changed. A user who is looking reads the screen: the count
    /// goes back to zero.
    pub fn update(&mut self, alerts: &[Alert], looking: bool, context: &str) -> String {
        if self.quiet {
            return String::new();
        }
        let mut out = String::new();
        if looking {
            self.unread = 0;
        }
        for alert in alerts {
            let (title, body) = match alert {
                Alert::Call { user, peer } => (format!("simp: {user} calls"), format!("from {peer}")),
                Alert::Message { .. } if looking => continue,
                Alert::Message { user, text } => (format!("simp: {user}"), text.clone()),
            };
            self.unread += 1;
            out.push_str(BELL);
            if let Some(desktop) = self.desktop {
                out.push_str(&desktop.sequence(&title, &body));
            }
        }
        let title = match self.unread {
            0 => format!("simp - {context}"),
            n => format!("simp ({n}) - {context}"),
        };
        if self.title.as_ref() != Some(&title) {
            // OSC 2: the window title.
            out.push_str(&format!("\x1b]2;{}\x07", title.replace(['\x07', '\x1b'], "")));
            self.title = Some(title);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> Alert {
        Alert::Message { user: "bob".into(), text: text.into() }
    }

    #[test]
    fn unseen_messages_ring_count_and_notify_until_looked_at() {
        let mut n = Notifier::new(false, Some(Desktop::Osc777));
        assert_eq!(n.update(&[], true, "idle"), "\x1b]2;simp - idle\x07");
        assert_eq!(n.update(&[message("hi")], true, "idle"), "", "seen: nothing to say");
        let out = n.update(&[message("a;b")], false, "chatting with bob");
        assert_eq!(out, "\x07\x1b]777;notify;simp: bob;a,b\x07\x1b]2;simp (1) - chatting with bob\x07");
        let out = n.update(&[Alert::Call { user: "carol".into(), peer: "10.0.0.3:7777".into() }], false, "x");
        assert!(out.starts_with("\x07\x1b]777;notify;simp: carol calls;from 10.0.0.3:7777\x07"), "{out:?}");
        assert_eq!(n.unread(), 2);
        assert_eq!(n.update(&[], true, "x"), "\x1b]2;simp - x\x07");
    }

    #[test]
    fn a_call_rings_even_for_a_user_who_is_looking_and_quiet_is_silent() {
        let mut n = Notifier::new(false, None);
        let call = [Alert::Call { user: "carol".into(), peer: "p".into() }];
        assert!(n.update(&call, true, "x").starts_with(BELL));
        let mut n = Notifier::new(true, Some(Desktop::Osc9));
        assert_eq!(n.update(&call, false, "x"), "");
    }

    #[test]
    fn the_desktop_style_is_only_guessed_where_known() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(Desktop::detect(env(&[("TERM", "xterm-kitty")])), Some(Desktop::Osc9));
        assert_eq!(Desktop::detect(env(&[("TERM", "xterm-256color"), ("VTE_VERSION", "7600")])), Some(Desktop::Osc777));
        assert_eq!(Desktop::detect(env(&[("TERM", "xterm-256color")])), None);
        assert_eq!(Desktop::detect(env(&[("TERM", "xterm-kitty"), ("TMUX", "/tmp/t,1,0")])), None);
    }
}
