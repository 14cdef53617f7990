//! Keys to [`Input`]s: editing keys change the input line, Enter hands a line to the
//! [`App`](crate::app::App), menus take single keys, and Esc then `q` quits from anywhere.
//! A paste (bracketed paste) lands in the input line whole, line breaks included, so Enter
//! sends it as one message; a long one is confirmed first ([`Confirm`]).

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
    /// Ctrl-C in a chat: leave it and quit? `y` or Ctrl-C again quits.
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
}

/// Applies a paste: into the input line where text is read (line breaks kept in a chat, where
/// they make one multi-line message; dropped in a name or an address); ignored in menus, so a
/// pasted `q` cannot quit.
pub fn handle_paste(ui: &mut UiState, text: &str, phase: &Phase) -> Input {
    if ui.confirm.is_some() || !phase.takes_text() {
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

/// Applies one key press.
pub fn handle_key(ui: &mut UiState, key: KeyEvent, phase: &Phase) -> Input {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if let Some(confirm) = ui.confirm.take() {
        return answer(ui, confirm, key);
    }
    if ctrl && key.code == KeyCode::Char('c') {
        // Quitting ends a chat for the peer too: ask first.
        if matches!(phase, Phase::Chatting { .. }) {
            ui.confirm = Some(Confirm::Quit);
            return Input::Nothing;
        }
        return Input::Quit;
    }
    // Esc then q; typed quickly (or sent by a script) the terminal delivers the pair as one
    // Alt-q.
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    if (std::mem::take(&mut ui.esc) || alt) && key.code == KeyCode::Char('q') && !ctrl {
        return Input::Quit;
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
    if let Phase::PickLan { daemons } = phase {
        return pick_key(ui, key, daemons.len());
    }
    if !phase.takes_text() {
        return menu_key(key, phase);
    }
    let editor = &mut ui.editor;
    match key.code {
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
        KeyCode::Char('b') if ctrl => editor.left(),
        KeyCode::Char('f') if ctrl => editor.right(),
        KeyCode::Char('h') if ctrl => editor.backspace(),
        KeyCode::Char('d') if ctrl => editor.delete(),
        KeyCode::Char(c) if !ctrl => editor.insert(c),
        KeyCode::Tab => editor.insert('\t'),
        KeyCode::Left => editor.left(),
        KeyCode::Right => editor.right(),
        KeyCode::Home => editor.home(),
        KeyCode::End => editor.end(),
        KeyCode::Backspace => editor.backspace(),
        KeyCode::Delete => editor.delete(),
        KeyCode::Up => editor.history_prev(),
        KeyCode::Down => editor.history_next(),
        _ => {}
    }
    Input::Nothing
}

/// Whether Enter would send a message the client refuses (SIMP carries ASCII only, unless
/// `utf8`).
fn refused_text(text: &str, phase: &Phase, utf8: bool) -> bool {
    let command = text.trim_start().starts_with(words::CHAT_COMMAND) && !text.starts_with(words::CHAT_SLASH_TEXT);
    matches!(phase, Phase::Chatting { .. }) && !command && simp_proto::wire::validate_text(text, utf8).is_err()
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
        Confirm::Quit if yes || (ctrl && key.code == KeyCode::Char('c')) => Input::Quit,
        Confirm::Quit => Input::Nothing,
    }
}

/// The list of daemons on the LAN: ↑/↓ select, Enter calls the selected one, a digit calls
/// that one, Backspace or `m` goes back to the menu, `q` quits.
fn pick_key(ui: &mut UiState, key: KeyEvent, count: usize) -> Input {
    let last = count.saturating_sub(1);
    ui.lan_selected = ui.lan_selected.min(last);
    match key.code {
        KeyCode::Up => ui.lan_selected = ui.lan_selected.saturating_sub(1),
        KeyCode::Down => ui.lan_selected = (ui.lan_selected + 1).min(last),
        KeyCode::Enter => return Input::Line((std::mem::take(&mut ui.lan_selected) + 1).to_string()),
        KeyCode::Char(c @ '1'..='9') => {
            ui.lan_selected = 0;
            return Input::Line(c.to_string());
        }
        KeyCode::Backspace | KeyCode::Char('m') => return Input::Line(words::MENU.to_owned()),
        KeyCode::Char('q') => return Input::Line(words::QUIT.to_owned()),
        _ => {}
    }
    Input::Nothing
}

/// Outside free-text prompts a key is a choice, spelled as the line plain mode would read.
fn menu_key(key: KeyEvent, phase: &Phase) -> Input {
    let choice = match (key.code, phase) {
        // Control keys are not menu choices.
        (KeyCode::Char(_), _) if key.modifiers.contains(KeyModifiers::CONTROL) => return Input::Nothing,
        (KeyCode::Char('q'), _) => words::QUIT,
        // Waiting for the daemon: only quitting means anything.
        _ if phase.is_transient() => return Input::Nothing,
        (KeyCode::Char('a' | 'y'), Phase::Ringing { .. }) => words::ACCEPT,
        (KeyCode::Char('d' | 'n'), Phase::Ringing { .. }) => words::DECLINE,
        (KeyCode::Char('s'), Phase::Menu) => words::START,
        (KeyCode::Char('w'), Phase::Menu) => words::WAIT,
        (KeyCode::Char('l'), Phase::Menu) => words::LAN,
        (KeyCode::Enter | KeyCode::Char('m'), Phase::Waiting) => words::MENU,
        (KeyCode::Char('c'), Phase::Calling { .. }) => words::CANCEL,
        _ => return Input::Nothing,
    };
    Input::Line(choice.to_owned())
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
    fn q_is_text_in_a_chat_but_esc_q_and_ctrl_c_quit() {
        let mut ui = UiState::new();
        let phase = chatting();
        type_str(&mut ui, "q", &phase);
        assert_eq!(ui.editor.text(), "q");
        assert_eq!(handle_key(&mut ui, key(KeyCode::Esc), &phase), Input::Nothing);
        assert_eq!(handle_key(&mut ui, key(KeyCode::Char('q')), &phase), Input::Quit);
        assert_eq!(handle_key(&mut ui, key(KeyCode::Esc), &phase), Input::Nothing);
        assert_eq!(handle_key(&mut ui, key(KeyCode::Char('x')), &phase), Input::Nothing, "Esc then x does not quit");
        assert_eq!(handle_key(&mut ui, key(KeyCode::Char('q')), &phase), Input::Nothing);
        assert_eq!(ui.editor.text(), "qxq");
        assert_eq!(handle_key(&mut ui, ctrl('c'), &Phase::Menu), Input::Quit);
        let alt_q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::ALT);
        assert_eq!(handle_key(&mut ui, alt_q, &phase), Input::Quit, "Esc q arriving as one Alt-q");
    }

    #[test]
    fn menus_and_the_request_dialog_take_single_keys() {
        let mut ui = UiState::new();
        let ringing = Phase::Ringing { peer: "p".into(), user: "u".into() };
        for (c, line) in [('a', "y"), ('y', "y"), ('d', "n"), ('n', "n"), ('q', "q")] {
            assert_eq!(handle_key(&mut ui, key(KeyCode::Char(c)), &ringing), Input::Line(line.into()));
        }
        assert_eq!(handle_key(&mut ui, key(KeyCode::Char('x')), &ringing), Input::Nothing);
        assert_eq!(handle_key(&mut ui, key(KeyCode::Char('s')), &Phase::Menu), Input::Line("s".into()));
        assert_eq!(handle_key(&mut ui, key(KeyCode::Char('q')), &Phase::Connecting), Input::Line("q".into()));
        assert_eq!(handle_key(&mut ui, key(KeyCode::Char('s')), &Phase::Connecting), Input::Nothing);
        assert_eq!(
            handle_key(&mut ui, key(KeyCode::Char('c')), &Phase::Calling { peer: "p".into() }),
            Input::Line("c".into())
        );
        assert_eq!(ui.editor.text(), "", "menu keys do not reach the input line");
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
    fn a_paste_outside_a_chat_is_one_line_or_ignored() {
        let mut ui = UiState::new();
        handle_paste(&mut ui, "127.0.0.2\n", &Phase::AskPeer);
        assert_eq!(handle_key(&mut ui, key(KeyCode::Enter), &Phase::AskPeer), Input::Line("127.0.0.2".into()));
        assert_eq!(handle_paste(&mut ui, "q", &Phase::Menu), Input::Nothing, "a pasted q does not quit");
        assert_eq!(ui.editor.text(), "");
    }

    #[test]
    fn ctrl_c_in_a_chat_asks_first() {
        let mut ui = UiState::new();
        let phase = chatting();
        assert_eq!(handle_key(&mut ui, ctrl('c'), &phase), Input::Nothing);
        assert_eq!(ui.confirm, Some(Confirm::Quit));
        assert_eq!(handle_key(&mut ui, key(KeyCode::Char('x')), &phase), Input::Nothing);
        assert_eq!(ui.editor.text(), "", "the answer key is not typed");
        handle_key(&mut ui, ctrl('c'), &phase);
        assert_eq!(handle_key(&mut ui, key(KeyCode::Char('y')), &phase), Input::Quit);
        handle_key(&mut ui, ctrl('c'), &phase);
        assert_eq!(handle_key(&mut ui, ctrl('c'), &phase), Input::Quit, "Ctrl-C twice quits");
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
