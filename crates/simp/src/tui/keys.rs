//! Keys to [`Input`]s: editing keys change the input line, Enter hands a line to the
//! [`App`](crate::app::App), menus take single keys, and Esc then `q` quits from anywhere.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

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
    /// Screen lines the log took last time, so a scrolled-back view can stay put as lines
    /// arrive.
    pub total: usize,
    /// Esc was pressed: a following `q` quits.
    pub esc: bool,
}

impl UiState {
    /// A fresh view.
    pub fn new() -> UiState {
        UiState { page: 10, ..UiState::default() }
    }
}

/// Applies one key press.
pub fn handle_key(ui: &mut UiState, key: KeyEvent, phase: &Phase) -> Input {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
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
        KeyCode::PageUp => {
            ui.scroll += ui.page.saturating_sub(1).max(1);
            return Input::Nothing;
        }
        KeyCode::PageDown => {
            ui.scroll = ui.scroll.saturating_sub(ui.page.saturating_sub(1).max(1));
            return Input::Nothing;
        }
        _ => {}
    }
    if !phase.takes_text() {
        return menu_key(key, phase);
    }
    let editor = &mut ui.editor;
    match key.code {
        KeyCode::Enter => return Input::Line(editor.submit()),
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
}
