//! Plain line mode: one line per event on stdout, prompts on their own lines, typed lines from
//! stdin. Meant for scripts and pipes as much as for people; the line formats are documented
//! in the crate docs and kept stable.

use std::io::{self, BufRead, Write};

use tokio::sync::mpsc;

use crate::app::{App, Phase};
use crate::escape;
use crate::event_loop::{Front, Input};
use crate::log::{Change, Delivery, Entry, EntryKind};

/// The plain front end over stdin and stdout.
pub(crate) struct Plain<W> {
    out: W,
    lines: mpsc::UnboundedReceiver<Option<String>>,
    /// The input ended and [`Input::End`] was given; there is nothing more to read.
    ended: bool,
}

impl Plain<io::Stdout> {
    /// Reads stdin on its own thread: a blocking read cannot be cancelled, and a thread that
    /// is still reading must not keep the process from exiting.
    pub(crate) fn stdio() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            let mut stdin = io::stdin().lock();
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match stdin.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(None);
                        return;
                    }
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf);
                        let line = line.strip_suffix('\n').unwrap_or(&line);
                        let line = line.strip_suffix('\r').unwrap_or(line);
                        if tx.send(Some(line.to_owned())).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Plain { out: io::stdout(), lines: rx, ended: false }
    }
}

impl<W: Write> Front for Plain<W> {
    /// A script reads the conversation as it happens; `simp history` prints the store.
    const HISTORY: bool = false;
    // A script wants the exit status: the session ends with the daemon (exit 1).
    const RECONNECT: bool = false;

    async fn input(&mut self, _phase: &Phase) -> io::Result<Input> {
        if self.ended {
            // The session winds down on daemon events alone.
            return std::future::pending().await;
        }
        Ok(match self.lines.recv().await {
            Some(Some(line)) => Input::Line(line),
            Some(None) | None => {
                self.ended = true;
                Input::End
            }
        })
    }

    fn show(&mut self, app: &mut App) -> io::Result<()> {
        for change in app.take_changes() {
            writeln!(self.out, "{}", format_change(app.log(), change))?;
        }
        app.trim_log();
        // Alerts are for the full-screen interface; a script reads every line anyway.
        app.take_alerts();
        if let Some(prompt) = app.take_prompt() {
            writeln!(self.out, "{prompt}")?;
        }
        self.out.flush()
    }
}

/// The line plain mode prints for one log change.
pub fn format_change(log: &[Entry], change: Change) -> String {
    match change {
        Change::Appended(i) => format_entry(&log[i]),
        Change::Delivery(i, time) => {
            let stamp = time.format("%H:%M:%S");
            match &log[i].kind {
                EntryKind::Outgoing { lines, delivery, .. } => {
                    let text = escape::one_line(lines);
                    match delivery {
                        Delivery::Delivered => format!("[{stamp}] ✓ delivered: {text}"),
                        Delivery::Undelivered(reason) => format!("[{stamp}] ✗ undelivered ({reason}): {text}"),
                        Delivery::Pending => format!("[{stamp}] … pending: {text}"),
                    }
                }
                _ => format_entry(&log[i]),
            }
        }
    }
}

/// The line plain mode prints for a log entry.
pub fn format_entry(entry: &Entry) -> String {
    let stamp = entry.time.format("%H:%M:%S");
    match &entry.kind {
        EntryKind::Info(text) => format!("[{stamp}] * {text}"),
        EntryKind::Error(text) => format!("[{stamp}] ! {text}"),
        EntryKind::Unread => format!("[{stamp}] * {}", crate::texts::UNREAD),
        EntryKind::Incoming { user, lines } | EntryKind::Outgoing { user, lines, .. } => {
            format!("[{stamp}] {user}: {}", escape::one_line(lines))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;
    use simp_proto::ipc::{EndReason, Event};

    fn t(s: u32) -> NaiveDateTime {
        crate::app::test_time(12, 0, s)
    }

    #[test]
    fn a_chat_prints_stable_lines() {
        let mut out = Vec::new();
        let (_tx, rx) = mpsc::unbounded_channel();
        let mut plain = Plain { out: &mut out, lines: rx, ended: false };
        let (mut app, _) = App::with_user("alice", t(0));
        plain.show(&mut app).unwrap();
        app.on_event(
            Event::Connected { user: "alice".into(), daemon: "127.0.0.1:7777".parse().unwrap(), version: "x".into() },
            t(1),
        );
        plain.show(&mut app).unwrap();
        app.on_line("127.0.0.2", t(2));
        app.on_event(Event::Calling { peer: "127.0.0.2:7777".parse().unwrap() }, t(2));
        app.on_event(Event::Established { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }, t(3));
        plain.show(&mut app).unwrap();
        app.on_line("hello\tthere", t(3));
        app.on_event(crate::app::test_message("bob", "hi\nyou\x1b", t(3)), t(3));
        plain.show(&mut app).unwrap();
        app.on_event(Event::Delivered { id: "1".into() }, t(4));
        app.on_line("again", t(4));
        app.on_event(Event::Undelivered { id: "2".into(), reason: EndReason::PeerUnreachable }, t(9));
        app.on_event(Event::Ended { reason: EndReason::PeerUnreachable, detail: None }, t(9));
        plain.show(&mut app).unwrap();
        let text = String::from_utf8(out).unwrap();
        let expected = "\
[12:00:01] * connected to daemon 127.0.0.1:7777 as alice
[s] start a chat, [w] wait for a call, [l] list the LAN, [q] quit
[12:00:02] * calling 127.0.0.2:7777
[12:00:03] * chat with bob at 127.0.0.2:7777 open
[12:00:03] * 127.0.0.2:7777 is not in your contacts: /save keeps it as bob, /save NAME as NAME
chatting with bob — type a message; /leave ends the chat, /quit quits
[12:00:03] alice: hello   there
[12:00:03] bob: hi\\x0ayou\\x1b
[12:00:04] ✓ delivered: hello   there
[12:00:04] alice: again
[12:00:09] ✗ undelivered (peer unreachable): again
[12:00:09] * chat with bob ended: peer unreachable
[s] start a chat, [w] wait for a call, [l] list the LAN, [q] quit
";
        assert_eq!(text, expected);
    }

    #[test]
    fn a_run_of_held_messages_is_one_line_and_each_outcome_one_more() {
        let mut out = Vec::new();
        let (_tx, rx) = mpsc::unbounded_channel();
        let mut plain = Plain { out: &mut out, lines: rx, ended: false };
        let (mut app, _) = App::with_user("alice", t(0));
        let peer: std::net::SocketAddr = "127.0.0.2:7777".parse().unwrap();
        for i in 0..500 {
            app.on_event(Event::Held { id: i.to_string(), peer, text: format!("m{i}"), at: 0 }, t(1));
        }
        plain.show(&mut app).unwrap();
        app.on_event(Event::Delivered { id: "0".into() }, t(2));
        plain.show(&mut app).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "[12:00:01] * 500 messages to 127.0.0.2:7777 from before the daemon restarted are held: they will be \
             sent when the chat with 127.0.0.2:7777 is open again\n\
             [12:00:02] * held message to 127.0.0.2:7777 delivered: m0\n"
        );
    }

    #[test]
    fn a_peer_quirk_is_one_line() {
        let mut out = Vec::new();
        let (_tx, rx) = mpsc::unbounded_channel();
        let mut plain = Plain { out: &mut out, lines: rx, ended: false };
        let (mut app, _) = App::with_user("alice", t(0));
        let quirk = simp_proto::ipc::Quirk::FixedAckSeq;
        app.on_event(Event::PeerQuirk { quirk, detail: "its ACKs always carry seq 0\x1b".into() }, t(5));
        plain.show(&mut app).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.ends_with(
                "[12:00:05] * note: the peer's daemon has a quirk (fixed-ack-seq): its ACKs always carry seq 0\\x1b\n"
            ),
            "{text}"
        );
    }
}
