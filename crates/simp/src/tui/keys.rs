//! Keys to [`Input`]s. The input line is live in every phase: editing keys change it and
//! Enter hands the line to the [`App`](crate::app::App), which reads it as plain mode reads a
//! line (`s`, `w`, `l`, `q`, an address, `/call NAME`, `/help` at the menu; a message in a
//! chat). So a letter typed at the menu, or after a chat ended under the user's fingers, is
//! text until Enter and never an action; a draft typed in a chat that ended is not even
//! that: Enter keeps it ([`track_draft`]). Single keys act only in a dialog (the request, the
//! LAN list) and only on an empty input line. The quit keys (Ctrl-C, Esc then `q`) ask first
//! in a chat ([`quit_key`]). A paste (bracketed paste) lands in the input line whole, line
//! breaks included, so Enter sends it as one message; a long one is confirmed first
//! ([`Confirm`]).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use simp_proto::wire::DEFAULT_MAX_PAYLOAD;

use super::editor::LineEditor;
use crate::app::Phase;
use crate::event_loop::Input;
use crate::words;

/// What the interface keeps besides the [`App`](crate::app::App): the input line and the view.
#[derive(Debug, Default)]
pub struct UiState {
    /// The input line.
    pub editor: LineEditor,
    /// How many lines the log is scrolled up from the bottom; clamped when drawn.
    pub scroll: usize,
    /// Lines the log area showed last time, so PgUp/PgDn move a page.
    pub page: usize,
    /// The entry (by [`Entry::seq`](crate::log::Entry::seq)) holding the last line shown
    /// last time, and that line's offset from the entry's first: a scrolled-back view stays
    /// on it as lines arrive below or history is inserted above.
    pub anchor: Option<(u64, usize)>,
    /// [`UiState::scroll`] when the anchor was taken; a scroll since then moves the view.
    pub anchor_scroll: usize,
    /// The view shows the first line of the log: scrolling further up asks for older
    /// history.
    pub at_top: bool,
    /// Esc was pressed: a following `q` quits.
    pub esc: bool,
    /// A question waiting for its answer key.
    pub confirm: Option<Confirm>,
    /// Whether the terminal window has the focus (focus events; assumed until told).
    pub focused: bool,
    /// `--utf8`: non-ASCII text is sent, not refused.
    pub utf8: bool,
    /// The daemon selected in the list of daemons on the LAN.
    pub lan_selected: usize,
    /// The input line holds text typed in a chat (which may have ended since).
    pub chat_draft: bool,
    /// The contacts' names, for Tab after `/call `.
    pub contacts: Vec<String>,
    /// The newest entry (by [`Entry::seq`](crate::log::Entry::seq)) when the view was last at
    /// the bottom: messages after it, below a scrolled-back view, are counted as new.
    pub seen: Option<u64>,
}

/// A question the input line asks before acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    /// Send this long message? Enter or `y` sends, anything else returns it to the input line.
    Send {
        /// The message.
        text: String,
        /// Its lines.
        lines: usize,
        /// The datagrams it takes at the default payload limit.
        datagrams: usize,
    },
    /// A quit key in a chat: leave it and quit? `y` or the same quit key again quits.
    Quit,
}

/// More lines than this in one message are confirmed before sending.
pub const CONFIRM_LINES: usize = 5;

/// Lines the mouse wheel scrolls per notch.
pub const WHEEL_LINES: usize = 3;

/// The datagrams a message takes at the default `--max-payload` (SPEC 1: longer text is split
/// into consecutive chat datagrams). An estimate: the peer's daemon may use another limit, and
/// splitting at a space may add one.
pub fn datagrams(text: &str) -> usize {
    text.len().div_ceil(DEFAULT_MAX_PAYLOAD).max(1)
}

/// The question to ask before sending `text`, if it is long enough to deserve one.
pub fn confirm_send(text: &str) -> Option<Confirm> {
    let lines = text.split('\n').count();
    let datagrams = datagrams(text);
    (lines > CONFIRM_LINES || datagrams > 1).then(|| Confirm::Send { text: text.to_owned(), lines, datagrams })
}

impl UiState {
    /// A fresh view.
    pub fn new() -> UiState {
        UiState { page: 10, focused: true, ..UiState::default() }
    }

    /// Takes the contacts' names for Tab from the client's contacts when they changed: a
    /// contact `/save` added is completed at once, not after a restart.
    pub fn follow_contacts(&mut self, contacts: &crate::config::Contacts) {
        if !self.contacts.iter().map(String::as_str).eq(contacts.iter().map(|(name, _)| name)) {
            self.contacts = contacts.iter().map(|(name, _)| name.to_owned()).collect();
        }
    }
}

/// Applies a paste: into the input line (line breaks kept in a chat, where they make one
/// multi-line message; dropped elsewhere, where a line is a name, an address or a command).
/// Nothing is acted on until Enter, so a pasted `q` cannot quit.
pub fn handle_paste(ui: &mut UiState, text: &str, phase: &Phase) -> Input {
    if ui.confirm.is_some() || *phase == Phase::Quitting {
        return Input::Nothing;
    }
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    // Copying whole lines takes their last line break along; it would only send an empty line.
    let text = text.trim_end_matches('\n');
    let multi_line = matches!(phase, Phase::Chatting { .. });
    for c in text.chars() {
        if c != '\n' || multi_line {
            ui.editor.insert(c);
        }
    }
    Input::Nothing
}

/// Applies a mouse event: the wheel scrolls the log.
pub fn handle_mouse(ui: &mut UiState, mouse: MouseEvent) -> Input {
    match mouse.kind {
        MouseEventKind::ScrollUp if ui.at_top => return Input::Older,
        MouseEventKind::ScrollUp => ui.scroll += WHEEL_LINES,
        MouseEventKind::ScrollDown => ui.scroll = ui.scroll.saturating_sub(WHEEL_LINES),
        _ => {}
    }
    Input::Nothing
}

/// Applies one key press. Every phase reads the input line: what is typed stays there until
/// Enter hands it to the [`App`](crate::app::App), as plain mode reads lines, so no typed
/// letter ever acts on its own in a menu. Only a dialog (the request, the LAN list) takes
/// single keys, and only while the input line is empty.
pub fn handle_key(ui: &mut UiState, key: KeyEvent, phase: &Phase) -> Input {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if end_chat_question(ui, phase) {
        // The key answered a question about a chat that has ended: it does not type.
        return Input::Nothing;
    }
    track_draft(ui, phase);
    if let Some(confirm) = ui.confirm.take() {
        return answer(ui, confirm, key);
    }
    if is_quit_key(ui, key) {
        return quit_key(ui, phase);
    }
    match key.code {
        KeyCode::Esc => {
            ui.esc = true;
            return Input::Nothing;
        }
        KeyCode::PageUp if ui.at_top => return Input::Older,
        KeyCode::PageUp => {
            ui.scroll += ui.page.saturating_sub(1).max(1);
            return Input::Nothing;
        }
        KeyCode::PageDown => {
            ui.scroll = ui.scroll.saturating_sub(ui.page.saturating_sub(1).max(1));
            return Input::Nothing;
        }
        // End also jumps to the newest line (and, below, to the end of the input line).
        KeyCode::End => ui.scroll = 0,
        _ => {}
    }
    if *phase == Phase::Quitting {
        return Input::Nothing;
    }
    if ui.editor.is_empty() && !ctrl {
        if let Some(input) = dialog_key(ui, key, phase) {
            return input;
        }
    }
    let editor = &mut ui.editor;
    match key.code {
        // A message typed for a chat that has ended is no answer to the menu (`q` would quit,
        // a contact's name call, `yes` accept a new call): it stays until cut (Ctrl-U).
        KeyCode::Enter if ui.chat_draft && !matches!(phase, Phase::Chatting { .. }) => {}
        KeyCode::Enter if refused_text(&editor.text(), phase, ui.utf8) => {
            // The App refuses it with the reason; the line stays to be mended, not retyped.
            return Input::Line(editor.text());
        }
        KeyCode::Enter => {
            let line = editor.submit();
            match confirm_send(&line) {
                Some(confirm) if matches!(phase, Phase::Chatting { .. }) => ui.confirm = Some(confirm),
                _ => return Input::Line(line),
            }
        }
        KeyCode::Char('a') if ctrl => editor.home(),
        KeyCode::Char('e') if ctrl => editor.end(),
        KeyCode::Char('u') if ctrl => editor.kill_to_start(),
        KeyCode::Char('w') if ctrl => editor.kill_word(),
        KeyCode::Char('y') if ctrl => editor.yank(),
        KeyCode::Char('b') if ctrl => editor.left(),
        KeyCode::Char('f') if ctrl => editor.right(),
        KeyCode::Char('h') if ctrl => editor.backspace(),
        KeyCode::Char('d') if ctrl => editor.delete(),
        KeyCode::Char(c) if !ctrl => editor.insert(c),
        KeyCode::Left => editor.left(),
        KeyCode::Right => editor.right(),
        KeyCode::Home => editor.home(),
        KeyCode::End => editor.end(),
        KeyCode::Backspace => editor.backspace(),
        KeyCode::Delete => editor.delete(),
        KeyCode::Up => editor.history_prev(),
        KeyCode::Down => editor.history_next(),
        // Never typed: a TAB in a name or a message would show as spaces.
        KeyCode::Tab => editor.complete(&ui.contacts),
        _ => {}
    }
    Input::Nothing
}

/// A question asked in a chat ([`Confirm`]) is about that chat: once it has ended (the peer
/// left, the daemon went away) a long message waiting for its confirmation goes back to the
/// input line, as the chat's draft, and the quit question is dropped, so that no key answers
/// a question no longer shown, nor hands the message to the menu as a choice. Called before
/// each key and each drawing; whether a message went back.
pub fn end_chat_question(ui: &mut UiState, phase: &Phase) -> bool {
    if matches!(phase, Phase::Chatting { .. }) {
        return false;
    }
    match ui.confirm.take() {
        Some(Confirm::Send { text, .. }) => {
            text.chars().for_each(|c| ui.editor.insert(c));
            true
        }
        Some(Confirm::Quit) | None => false,
    }
}

/// Whether the input line holds a draft typed in a chat ([`UiState::chat_draft`]): text
/// typed in a chat stays one until the line is emptied. Called before each key and each
/// drawing.
pub fn track_draft(ui: &mut UiState, phase: &Phase) {
    match phase {
        Phase::Chatting { .. } => ui.chat_draft = true,
        _ if ui.editor.is_empty() => ui.chat_draft = false,
        _ => {}
    }
}

/// Whether this key asks to quit: Ctrl-C, or `q` after Esc (typed quickly, or sent by a
/// script, the terminal delivers the pair as one Alt-q). Takes a pending Esc.
fn is_quit_key(ui: &mut UiState, key: KeyEvent) -> bool {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let esc = std::mem::take(&mut ui.esc);
    (ctrl && key.code == KeyCode::Char('c')) || ((esc || alt) && !ctrl && key.code == KeyCode::Char('q'))
}

/// The one rule for the quit keys: quitting ends an open chat for the peer too, so from a chat
/// they ask first ([`Confirm::Quit`]); elsewhere nothing is lost and they quit at once.
/// (`/quit` typed in a chat is a deliberate command and does not ask; SIGTERM and SIGHUP
/// cannot.)
fn quit_key(ui: &mut UiState, phase: &Phase) -> Input {
    if matches!(phase, Phase::Chatting { .. }) {
        ui.confirm = Some(Confirm::Quit);
        Input::Nothing
    } else {
        Input::Quit
    }
}

/// A dialog's single-key answer, spelled as the line plain mode would read: the request
/// (`y`/`a` accepts, `n`/`d` declines, `q` quits) and the LAN list. `None`: the key is typed.
fn dialog_key(ui: &mut UiState, key: KeyEvent, phase: &Phase) -> Option<Input> {
    let line = match (key.code, phase) {
        (KeyCode::Char('a' | 'y'), Phase::Ringing { .. }) => words::ACCEPT,
        (KeyCode::Char('d' | 'n'), Phase::Ringing { .. }) => words::DECLINE,
        (KeyCode::Char('q'), Phase::Ringing { .. }) => words::QUIT,
        (_, Phase::PickLan { daemons }) => return pick_key(ui, key, daemons.len()),
        _ => return None,
    };
    Some(Input::Line(line.to_owned()))
}

/// Whether Enter would send a message the client refuses (SIMP carries ASCII only, unless
/// `utf8`; the daemon's line has a limit: [`crate::app::refusal`]), or a line while the daemon is away (other than quitting and `/help`, `/who`,
/// `/clear`): it stays, to be sent
/// once the daemon is back.
fn refused_text(text: &str, phase: &Phase, utf8: bool) -> bool {
    if matches!(phase, Phase::Reconnecting { .. }) {
        let line = text.trim();
        return !line.is_empty() && !words::is_quit(line) && !words::is_local_command(line);
    }
    let command = text.trim_start().starts_with(words::CHAT_COMMAND) && !text.starts_with(words::CHAT_SLASH_TEXT);
    matches!(phase, Phase::Chatting { .. }) && !command && crate::app::refusal(text, utf8).is_some()
}

/// The key that answers a [`Confirm`].
fn answer(ui: &mut UiState, confirm: Confirm, key: KeyEvent) -> Input {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let yes = matches!(key.code, KeyCode::Char('y' | 'Y')) && !ctrl;
    match confirm {
        Confirm::Send { text, .. } if yes || key.code == KeyCode::Enter => Input::Line(text),
        Confirm::Send { text, .. } => {
            // Back to the input line, to edit or clear.
            text.chars().for_each(|c| ui.editor.insert(c));
            Input::Nothing
        }
        // The quit keys again confirm: Esc waits for its q.
        Confirm::Quit if key.code == KeyCode::Esc => {
            ui.esc = true;
            ui.confirm = Some(Confirm::Quit);
            Input::Nothing
        }
        Confirm::Quit if yes || is_quit_key(ui, key) => Input::Quit,
        Confirm::Quit => Input::Nothing,
    }
}

/// The list of daemons on the LAN: ↑/↓ select, Enter calls the selected one, a digit calls
/// that one, Backspace or `m` goes back to the menu, `q` quits; other keys are typed (an
/// address, a command).
fn pick_key(ui: &mut UiState, key: KeyEvent, count: usize) -> Option<Input> {
    let last = count.saturating_sub(1);
    ui.lan_selected = ui.lan_selected.min(last);
    let line = match key.code {
        KeyCode::Up => {
            ui.lan_selected = ui.lan_selected.saturating_sub(1);
            return Some(Input::Nothing);
        }
        KeyCode::Down => {
            ui.lan_selected = (ui.lan_selected + 1).min(last);
            return Some(Input::Nothing);
        }
        KeyCode::Enter => (std::mem::take(&mut ui.lan_selected) + 1).to_string(),
        KeyCode::Char(c @ '1'..='9') => {
            ui.lan_selected = 0;
            c.to_string()
        }
        KeyCode::Backspace | KeyCode::Char('m') => words::MENU.to_owned(),
        KeyCode::Char('q') => words::QUIT.to_owned(),
        _ => return None,
    };
    Some(Input::Line(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    fn chatting() -> Phase {
        Phase::Chatting { peer: "127.0.0.2:7777".into(), user: "bob".into() }
    }

    fn type_str(ui: &mut UiState, s: &str, phase: &Phase) {
        for c in s.chars() {
            assert_eq!(handle_key(ui, key(KeyCode::Char(c)), phase), Input::Nothing);
        }
    }

    #[test]
    fn a_line_typed_while_the_daemon_is_away_stays_in_the_input_and_q_still_quits() {
        let away = Phase::Reconnecting { daemon: "127.0.0.1:7778".into() };
        let mut ui = UiState::new();
        type_str(&mut ui, "still there?", &away);
        assert_eq!(handle_key(&mut ui, key(KeyCode::Enter), &away), Input::Line("still there?".into()));
        assert_eq!(ui.editor.text(), "still there?", "kept, to send once the daemon is back");
        handle_key(&mut ui, ctrl('u'), &away);
        type_str(&mut ui, "q", &away);
        assert_eq!(handle_key(&mut ui, key(KeyCode::Enter), &away), Input::Line("q".into()));
        assert_eq!(ui.editor.text(), "");
        // What only shows something here acts, and leaves the line.
        type_str(&mut ui, "/help", &away);
        assert_eq!(handle_key(&mut ui, key(KeyCode::Enter), &away), Input::Line("/help".into()));
        assert_eq!(ui.editor.text(), "");
    }

    /// An [`App`](crate::app::App) driven by keys, as the event loop drives it.
    struct Session {
        app: crate::app::App,
        ui: UiState,
        sent: Vec<simp_proto::ipc::Command>,
    }

    impl Session {
        fn at_the_menu() -> Session {
            use simp_proto::ipc::Event;
            let (mut app, _connect) = crate::app::App::with_user("alice", t(0));
            let daemon = "127.0.0.1:7777".parse().unwrap();
            app.on_event(Event::Connected { user: "alice".into(), daemon, version: "x".into() }, t(1));
            Session { app, ui: UiState::new(), sent: Vec::new() }
        }

        fn chatting() -> Session {
            use simp_proto::ipc::Event;
            let mut s = Session::at_the_menu();
            s.app.on_line("127.0.0.2", t(2));
            s.app.on_event(Event::Calling { peer: "127.0.0.2:7777".parse().unwrap() }, t(2));
            s.app.on_event(Event::Established { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }, t(3));
            s.sent.clear();
            s
        }

        fn press(&mut self, key: KeyEvent) {
            let phase = self.app.phase().clone();
            let cmds = match handle_key(&mut self.ui, key, &phase) {
                Input::Line(line) => self.app.on_line(&line, t(5)),
                Input::Quit => self.app.quit(),
                _ => Vec::new(),
            };
            self.sent.extend(cmds);
        }

        fn type_str(&mut self, s: &str) {
            s.chars().for_each(|c| self.press(key(KeyCode::Char(c))));
        }
    }

    fn t(s: u32) -> chrono::NaiveDateTime {
        crate::app::test_time(12, 0, s)
    }

    #[test]
    fn a_chat_ending_while_the_user_types_keeps_the_draft_and_no_typed_key_acts_on_the_menu() {
        use simp_proto::ipc::{Command, EndReason, Event};
        let mut s = Session::chatting();
        s.type_str("half typed ");
        s.app.on_event(Event::Ended { reason: EndReason::PeerLeft, detail: None }, t(4));
        assert_eq!(s.app.phase(), &Phase::Menu);
        s.type_str("draft: quick, say when");
        assert!(!s.app.is_finished(), "a q in typed text does not quit");
        assert!(!s.app.take_lan_request(), "an l in typed text lists nothing");
        assert_eq!(s.app.phase(), &Phase::Menu, "an s or w in typed text changes nothing");
        assert_eq!(s.ui.editor.text(), "half typed draft: quick, say when", "the draft stays, whole");
        assert!(s.sent.is_empty(), "{:?}", s.sent);
        // Cleared, the line answers the menu: nothing of the draft is prefixed to it.
        s.press(ctrl('u'));
        s.type_str("s");
        s.press(key(KeyCode::Enter));
        assert_eq!(s.app.phase(), &Phase::AskPeer);
        s.type_str("127.0.0.3");
        s.press(key(KeyCode::Enter));
        assert_eq!(s.sent, vec![Command::Start { peer: "127.0.0.3".into() }]);

        // A chat ending on an empty input line: a line begun right after is still a line.
        let mut s = Session::chatting();
        s.app.on_event(Event::Ended { reason: EndReason::PeerLeft, detail: None }, t(4));
        s.type_str("quite so");
        assert_eq!(s.ui.editor.text(), "quite so");
        s.press(key(KeyCode::Enter));
        assert!(!s.app.is_finished() && s.sent.is_empty(), "refused as no choice, nothing quits: {:?}", s.sent);
        // Ctrl-Y puts back what Ctrl-U cut.
        s.type_str("keep me");
        s.press(ctrl('u'));
        s.press(ctrl('y'));
        assert_eq!(s.ui.editor.text(), "keep me");
    }

    #[test]
    fn a_question_asked_in_a_chat_that_ends_is_not_answered_outside_it() {
        use simp_proto::ipc::{EndReason, Event};
        // A long message waits for its confirmation when the peer leaves: Enter does not hand
        // it to the menu (where it was read as a choice, refused, and gone from the line).
        let mut s = Session::chatting();
        let long = "a\nb\nc\nd\ne\nf";
        handle_paste(&mut s.ui, long, s.app.phase());
        s.press(key(KeyCode::Enter));
        assert!(matches!(s.ui.confirm, Some(Confirm::Send { .. })));
        s.app.on_event(Event::Ended { reason: EndReason::PeerLeft, detail: None }, t(4));
        let entries = s.app.log().len();
        s.press(key(KeyCode::Enter));
        assert_eq!(s.ui.editor.text(), long, "back in the input line, as the chat's draft");
        assert_eq!(s.app.log().len(), entries, "not read at the menu: {:?}", s.app.log().last());
        assert!(s.sent.is_empty() && s.ui.confirm.is_none(), "{:?}", s.sent);

        // Asked whether to quit when the peer leaves: the question is gone with the chat, and
        // the next key is typed rather than swallowed by a question no longer shown.
        let mut s = Session::chatting();
        s.press(ctrl('c'));
        assert_eq!(s.ui.confirm, Some(Confirm::Quit));
        s.app.on_event(Event::Ended { reason: EndReason::PeerLeft, detail: None }, t(4));
        s.type_str("s");
        assert_eq!(s.ui.editor.text(), "s");
        assert!(!s.app.is_finished() && s.ui.confirm.is_none());
    }

    #[test]
    fn enter_on_a_draft_of_a_chat_that_ended_keeps_it_and_acts_on_nothing() {
        use simp_proto::ipc::{Command, EndReason, Event};
        // A `q` typed to the peer does not quit; `yes` does not accept the next caller.
        for (draft, call) in [("q", false), ("yes", true), ("127.0.0.3", false)] {
            let mut s = Session::chatting();
            s.type_str(draft);
            s.app.on_event(Event::Ended { reason: EndReason::PeerLeft, detail: None }, t(4));
            if call {
                s.app.on_event(Event::Request { peer: "127.0.0.3:7777".parse().unwrap(), user: "carol".into() }, t(5));
            }
            s.press(key(KeyCode::Enter));
            assert!(!s.app.is_finished(), "{draft:?} quit");
            assert!(s.sent.is_empty(), "{draft:?} sent {:?}", s.sent);
            assert_eq!(s.ui.editor.text(), draft, "kept");
            // Cut, it answers: the draft is a draft no more.
            s.press(ctrl('u'));
            s.type_str(if call { "n" } else { "w" });
            s.press(key(KeyCode::Enter));
            let expected = if call { vec![Command::Decline] } else { Vec::new() };
            assert_eq!(s.sent, expected, "{draft:?}");
            assert!(call || s.app.phase() == &Phase::Waiting, "{draft:?}: {:?}", s.app.phase());
        }
    }

    #[test]
    fn slash_commands_and_addresses_are_typed_lines_at_the_menu() {
        use simp_proto::ipc::Command;
        let mut s = Session::at_the_menu();
        let mut contacts = crate::config::Contacts::default();
        contacts.insert("bobby", "127.0.0.2:7777".parse().unwrap()).unwrap();
        s.app.set_contacts(contacts);
        s.type_str("/call bobby");
        assert!(!s.app.take_lan_request(), "the l of /call is text");
        assert_eq!(s.ui.editor.text(), "/call bobby");
        s.press(key(KeyCode::Enter));
        assert_eq!(s.sent, vec![Command::Start { peer: "127.0.0.2:7777".into() }]);

        let mut s = Session::at_the_menu();
        s.type_str("/help");
        s.press(key(KeyCode::Enter));
        assert!(s.app.log().iter().any(|e| matches!(&e.kind, crate::log::EntryKind::Info(m) if m.contains("/lan"))));
        s.type_str("/lan");
        s.press(key(KeyCode::Enter));
        assert!(s.app.take_lan_request());
        s.app.on_lan(Ok(Vec::new()), t(6));
        s.type_str("l");
        assert!(!s.app.take_lan_request(), "a single key is a typed letter until Enter");
        s.press(key(KeyCode::Enter));
        assert!(s.app.take_lan_request(), "l and Enter lists the LAN, as in plain mode");
    }

    #[test]
    fn every_quit_key_in_a_chat_asks_the_same_question() {
        let esc_q: &[KeyEvent] = &[key(KeyCode::Esc), key(KeyCode::Char('q'))];
        let alt_q: &[KeyEvent] = &[KeyEvent::new(KeyCode::Char('q'), KeyModifiers::ALT)];
        let ctrl_c: &[KeyEvent] = &[ctrl('c')];
        for keys in [esc_q, alt_q, ctrl_c] {
            let mut s = Session::chatting();
            s.type_str("draft");
            keys.iter().for_each(|&k| s.press(k));
            assert!(!s.app.is_finished(), "{keys:?} quit a chat without asking");
            assert_eq!(s.ui.confirm, Some(Confirm::Quit), "{keys:?}");
            s.press(key(KeyCode::Char('x')));
            assert!(!s.app.is_finished() && s.ui.confirm.is_none(), "any other key stays");
            assert_eq!(s.ui.editor.text(), "draft", "and is not typed");
            // The same keys again confirm, as does y.
            keys.iter().for_each(|&k| s.press(k));
            keys.iter().for_each(|&k| s.press(k));
            assert!(s.app.is_finished(), "{keys:?} twice quits");
            let mut s = Session::chatting();
            keys.iter().for_each(|&k| s.press(k));
            s.press(key(KeyCode::Char('y')));
            assert!(s.app.is_finished(), "{keys:?} then y quits");
            // Outside a chat there is nothing to lose: they quit at once.
            let mut s = Session::at_the_menu();
            keys.iter().for_each(|&k| s.press(k));
            assert!(s.app.is_finished(), "{keys:?} at the menu");
        }
    }

    #[test]
    fn dialogs_take_one_key_only_on_an_empty_input_line() {
        use simp_proto::ipc::{Command, Event};
        for (c, answer) in
            [('a', Command::Accept), ('y', Command::Accept), ('d', Command::Decline), ('n', Command::Decline)]
        {
            let mut s = Session::at_the_menu();
            s.app.on_event(Event::Request { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }, t(2));
            s.type_str(&c.to_string());
            assert_eq!(s.sent, vec![answer], "{c}");
            assert_eq!(s.ui.editor.text(), "");
        }
        // A request arriving while a line is being typed: the keys go on into the line.
        let mut s = Session::at_the_menu();
        s.type_str("/call ");
        s.app.on_event(Event::Request { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }, t(2));
        s.type_str("dan");
        assert!(s.sent.is_empty());
        assert_eq!(s.ui.editor.text(), "/call dan");
        s.press(ctrl('u'));
        s.type_str("q");
        assert!(s.app.is_finished(), "on an empty line q answers the dialog: quit");
    }

    #[test]
    fn typing_editing_and_enter_in_a_chat() {
        let mut ui = UiState::new();
        let phase = chatting();
        type_str(&mut ui, "hello wrld", &phase);
        for _ in 0..3 {
            handle_key(&mut ui, key(KeyCode::Left), &phase);
        }
        handle_key(&mut ui, key(KeyCode::Char('o')), &phase);
        handle_key(&mut ui, ctrl('e'), &phase);
        assert_eq!(handle_key(&mut ui, key(KeyCode::Enter), &phase), Input::Line("hello world".into()));
        handle_key(&mut ui, key(KeyCode::Up), &phase);
        assert_eq!(ui.editor.text(), "hello world");
        handle_key(&mut ui, ctrl('w'), &phase);
        handle_key(&mut ui, ctrl('a'), &phase);
        handle_key(&mut ui, key(KeyCode::Delete), &phase);
        assert_eq!(ui.editor.text(), "ello ");
        handle_key(&mut ui, ctrl('u'), &phase);
        handle_key(&mut ui, key(KeyCode::End), &phase);
        handle_key(&mut ui, ctrl('u'), &phase);
        assert_eq!(ui.editor.text(), "");
    }

    #[test]
    fn q_is_text_in_a_chat_and_esc_then_another_key_is_no_quit() {
        let mut ui = UiState::new();
        let phase = chatting();
        type_str(&mut ui, "q", &phase);
        assert_eq!(ui.editor.text(), "q");
        assert_eq!(handle_key(&mut ui, key(KeyCode::Esc), &phase), Input::Nothing);
        assert_eq!(handle_key(&mut ui, key(KeyCode::Char('x')), &phase), Input::Nothing, "Esc then x does not quit");
        assert_eq!(handle_key(&mut ui, key(KeyCode::Char('q')), &phase), Input::Nothing);
        assert_eq!((ui.editor.text().as_str(), &ui.confirm), ("qxq", &None));
    }

    #[test]
    fn tab_completes_a_contact_saved_during_the_session() {
        let mut ui = UiState::new();
        let mut contacts = crate::config::Contacts::default();
        contacts.insert("bobby", "10.0.0.2:7777".parse().unwrap()).unwrap();
        ui.follow_contacts(&contacts);
        contacts.insert("carol", "10.0.0.3:7777".parse().unwrap()).unwrap();
        ui.follow_contacts(&contacts);
        type_str(&mut ui, "/call ca", &Phase::Menu);
        handle_key(&mut ui, key(KeyCode::Tab), &Phase::Menu);
        assert_eq!(ui.editor.text(), "/call carol ");
    }

    #[test]
    fn outside_dialogs_keys_are_typed_and_enter_hands_over_the_line() {
        let calling = Phase::Calling { peer: "p".into() };
        for phase in [Phase::Menu, Phase::Connecting, Phase::Waiting, calling, Phase::AskName] {
            let mut ui = UiState::new();
            type_str(&mut ui, "sq", &phase);
            assert_eq!(handle_key(&mut ui, key(KeyCode::Enter), &phase), Input::Line("sq".into()), "{phase:?}");
            type_str(&mut ui, "/he", &phase);
            assert_eq!(handle_key(&mut ui, key(KeyCode::Tab), &phase), Input::Nothing);
            assert_eq!(ui.editor.text(), "/help ", "Tab completes, and is not typed");
            ui.editor.kill_to_start();
        }
        let mut ui = UiState::new();
        type_str(&mut ui, "x", &Phase::Quitting);
        assert_eq!(ui.editor.text(), "", "nothing is typed while quitting");
    }

    #[test]
    fn page_keys_scroll() {
        let mut ui = UiState::new();
        ui.page = 5;
        handle_key(&mut ui, key(KeyCode::PageUp), &Phase::Menu);
        handle_key(&mut ui, key(KeyCode::PageUp), &Phase::Menu);
        assert_eq!(ui.scroll, 8);
        handle_key(&mut ui, key(KeyCode::PageDown), &Phase::Menu);
        handle_key(&mut ui, key(KeyCode::PageDown), &Phase::Menu);
        handle_key(&mut ui, key(KeyCode::PageDown), &Phase::Menu);
        assert_eq!(ui.scroll, 0);
    }

    #[test]
    fn a_paste_becomes_one_message_and_a_long_one_is_confirmed() {
        let mut ui = UiState::new();
        let phase = chatting();
        assert_eq!(handle_paste(&mut ui, "one\r\ntwo\nthree\n", &phase), Input::Nothing);
        assert_eq!(handle_key(&mut ui, key(KeyCode::Enter), &phase), Input::Line("one\ntwo\nthree".into()));

        let long = "a\nb\nc\nd\ne\nf";
        handle_paste(&mut ui, long, &phase);
        assert_eq!(handle_key(&mut ui, key(KeyCode::Enter), &phase), Input::Nothing);
        assert_eq!(ui.confirm, Some(Confirm::Send { text: long.into(), lines: 6, datagrams: 1 }));
        assert_eq!(handle_key(&mut ui, key(KeyCode::Char('n')), &phase), Input::Nothing);
        assert_eq!(ui.editor.text(), long, "not confirmed: back in the input line");
        handle_key(&mut ui, key(KeyCode::Enter), &phase);
        assert_eq!(handle_key(&mut ui, key(KeyCode::Char('y')), &phase), Input::Line(long.into()));

        let big = "x".repeat(DEFAULT_MAX_PAYLOAD + 1);
        handle_paste(&mut ui, &big, &phase);
        handle_key(&mut ui, key(KeyCode::Enter), &phase);
        assert!(matches!(ui.confirm, Some(Confirm::Send { datagrams: 2, lines: 1, .. })));
        assert_eq!(handle_key(&mut ui, key(KeyCode::Enter), &phase), Input::Line(big));
    }

    #[test]
    fn a_paste_over_the_daemons_line_limit_stays_in_the_input_line() {
        let mut ui = UiState::new();
        let phase = chatting();
        let big = "word ".repeat(14_000);
        handle_paste(&mut ui, &big, &phase);
        let big = big.trim_end_matches('\n').to_owned();
        assert_eq!(handle_key(&mut ui, key(KeyCode::Enter), &phase), Input::Line(big.clone()), "for the App to refuse");
        assert_eq!(ui.confirm, None, "not offered for sending");
        assert_eq!(ui.editor.text(), big, "kept, to be cut in parts");
    }

    #[test]
    fn a_paste_outside_a_chat_is_one_line() {
        let mut ui = UiState::new();
        handle_paste(&mut ui, "127.0.0.2\n", &Phase::AskPeer);
        assert_eq!(handle_key(&mut ui, key(KeyCode::Enter), &Phase::AskPeer), Input::Line("127.0.0.2".into()));
        assert_eq!(handle_paste(&mut ui, "q\nw\n", &Phase::Menu), Input::Nothing, "a pasted q does not quit");
        assert_eq!(ui.editor.text(), "qw", "it waits in the input line, on one line");
    }

    #[test]
    fn the_wheel_scrolls_and_end_jumps_to_the_newest_line() {
        let mut ui = UiState::new();
        let wheel = |kind| MouseEvent { kind, column: 0, row: 0, modifiers: KeyModifiers::NONE };
        handle_mouse(&mut ui, wheel(MouseEventKind::ScrollUp));
        handle_mouse(&mut ui, wheel(MouseEventKind::ScrollUp));
        handle_mouse(&mut ui, wheel(MouseEventKind::ScrollDown));
        assert_eq!(ui.scroll, WHEEL_LINES);
        let phase = chatting();
        type_str(&mut ui, "ab", &phase);
        handle_key(&mut ui, key(KeyCode::Home), &phase);
        handle_key(&mut ui, key(KeyCode::End), &phase);
        assert_eq!((ui.scroll, ui.editor.cursor()), (0, 2));
    }

    #[test]
    fn a_refused_message_stays_in_the_input_line() {
        let mut ui = UiState::new();
        let phase = chatting();
        type_str(&mut ui, "café", &phase);
        assert_eq!(handle_key(&mut ui, key(KeyCode::Enter), &phase), Input::Line("café".into()));
        assert_eq!(ui.editor.text(), "café", "kept, to be mended");
    }
}
