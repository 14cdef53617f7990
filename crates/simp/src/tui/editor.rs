//! The input line: a small readline with the usual keys and a history, as a plain struct so
//! every key is a unit test.

use crate::words::COMMANDS;

/// Most lines kept in the history.
const HISTORY_MAX: usize = 500;

/// The text being typed, the cursor, and the lines entered before.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LineEditor {
    text: Vec<char>,
    cursor: usize,
    history: Vec<String>,
    /// Index into `history` while browsing it with up/down.
    browsing: Option<usize>,
    /// What was typed before browsing started, restored by going past the newest entry.
    draft: Vec<char>,
    /// What Ctrl-U or Ctrl-W cut last, for Ctrl-Y.
    killed: Vec<char>,
}

impl LineEditor {
    /// An empty line with no history.
    pub fn new() -> LineEditor {
        LineEditor::default()
    }

    /// The text as typed.
    pub fn text(&self) -> String {
        self.text.iter().collect()
    }

    /// Whether nothing is typed.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The cursor, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Inserts a character at the cursor.
    pub fn insert(&mut self, c: char) {
        self.text.insert(self.cursor, c);
        self.cursor += 1;
    }

    /// Moves one character left.
    pub fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    /// Moves one character right.
    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.text.len());
    }

    /// Moves to the start (Home, Ctrl-A).
    pub fn home(&mut self) {
        self.cursor = 0;
    }

    /// Moves to the end (End, Ctrl-E).
    pub fn end(&mut self) {
        self.cursor = self.text.len();
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            self.text.remove(self.cursor);
        }
    }

    /// Deletes the character under the cursor.
    pub fn delete(&mut self) {
        if self.cursor < self.text.len() {
            self.text.remove(self.cursor);
        }
    }

    /// Deletes from the start to the cursor (Ctrl-U).
    pub fn kill_to_start(&mut self) {
        if self.cursor > 0 {
            self.killed = self.text.drain(..self.cursor).collect();
            self.cursor = 0;
        }
    }

    /// Puts back at the cursor what the last Ctrl-U or Ctrl-W cut (Ctrl-Y), so a draft cut to
    /// answer a prompt is not lost.
    pub fn yank(&mut self) {
        for &c in &self.killed {
            self.text.insert(self.cursor, c);
            self.cursor += 1;
        }
    }

    /// Deletes the word before the cursor and the spaces after it (Ctrl-W).
    pub fn kill_word(&mut self) {
        let mut start = self.cursor;
        while start > 0 && self.text[start - 1].is_whitespace() {
            start -= 1;
        }
        while start > 0 && !self.text[start - 1].is_whitespace() {
            start -= 1;
        }
        if start < self.cursor {
            self.killed = self.text.drain(start..self.cursor).collect();
            self.cursor = start;
        }
    }

    /// Shows the previous history entry (Up).
    pub fn history_prev(&mut self) {
        let index = match self.browsing {
            None if self.history.is_empty() => return,
            None => {
                self.draft = std::mem::take(&mut self.text);
                self.history.len() - 1
            }
            Some(i) => i.saturating_sub(1),
        };
        self.show_history(index);
    }

    /// Shows the next history entry, or the draft after the newest (Down).
    pub fn history_next(&mut self) {
        match self.browsing {
            None => {}
            Some(i) if i + 1 < self.history.len() => self.show_history(i + 1),
            Some(_) => {
                self.browsing = None;
                self.text = std::mem::take(&mut self.draft);
                self.cursor = self.text.len();
            }
        }
    }

    /// Completes the word before the cursor, at the end of the line (Tab): a `/` command, or a
    /// contact's name after `/call `. One candidate is completed with a space after it; several
    /// to the longest prefix they share.
    pub fn complete(&mut self, contacts: &[String]) {
        if self.cursor != self.text.len() {
            return;
        }
        let text = self.text();
        let (done, word, candidates): (&str, &str, Vec<&str>) = match text.strip_prefix("/call ") {
            Some(name) if !name.contains(char::is_whitespace) => {
                ("/call ", name, contacts.iter().map(String::as_str).collect())
            }
            _ if text.starts_with('/') && !text.contains(char::is_whitespace) => ("", &text, COMMANDS.to_vec()),
            _ => return,
        };
        let matching: Vec<&str> = candidates.into_iter().filter(|c| c.starts_with(word)).collect();
        let completed = match matching[..] {
            [] => return,
            [one] => format!("{done}{one} "),
            [first, ..] => {
                let shared = matching
                    .iter()
                    .fold(first.len(), |n, c| first.bytes().zip(c.bytes()).take(n).take_while(|(a, b)| a == b).count());
                format!("{done}{}", &first[..shared])
            }
        };
        self.text = completed.chars().collect();
        self.cursor = self.text.len();
    }

    /// Takes the line for Enter, remembering it in the history.
    pub fn submit(&mut self) -> String {
        let line = self.text();
        self.text.clear();
        self.draft.clear();
        self.cursor = 0;
        self.browsing = None;
        if !line.trim().is_empty() && self.history.last() != Some(&line) {
            if self.history.len() == HISTORY_MAX {
                self.history.remove(0);
            }
            self.history.push(line.clone());
        }
        line
    }

    fn show_history(&mut self, index: usize) {
        self.browsing = Some(index);
        self.text = self.history[index].chars().collect();
        self.cursor = self.text.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &str) -> LineEditor {
        let mut e = LineEditor::new();
        s.chars().for_each(|c| e.insert(c));
        e
    }

    #[test]
    fn moving_and_deleting() {
        let mut e = typed("helo");
        e.left();
        e.insert('l');
        assert_eq!((e.text().as_str(), e.cursor()), ("hello", 4));
        e.home();
        e.delete();
        e.left();
        assert_eq!((e.text().as_str(), e.cursor()), ("ello", 0));
        e.backspace();
        e.end();
        e.right();
        e.backspace();
        assert_eq!((e.text().as_str(), e.cursor()), ("ell", 3));
    }

    #[test]
    fn kill_keys() {
        let mut e = typed("one two  three");
        e.kill_word();
        assert_eq!(e.text(), "one two  ");
        e.kill_word();
        assert_eq!(e.text(), "one ");
        let mut e = typed("abc def");
        e.left();
        e.left();
        e.kill_to_start();
        assert_eq!((e.text().as_str(), e.cursor()), ("ef", 0));
        e.kill_word();
        assert_eq!(e.text(), "ef");
    }

    #[test]
    fn tab_completes_commands_and_contact_names() {
        let contacts = vec!["bobby".to_owned(), "bob2".to_owned(), "carol".to_owned()];
        let mut e = typed("/ca");
        e.complete(&contacts);
        assert_eq!(e.text(), "/call ");
        "b".chars().for_each(|c| e.insert(c));
        e.complete(&contacts);
        assert_eq!(e.text(), "/call bob", "to what both share");
        "b".chars().for_each(|c| e.insert(c));
        e.complete(&contacts);
        assert_eq!(e.text(), "/call bobby ");
        let mut e = typed("/s");
        e.complete(&contacts);
        assert_eq!(e.text(), "/s", "/save and /status share nothing more");
        let mut e = typed("hello /ca");
        e.complete(&contacts);
        assert_eq!(e.text(), "hello /ca", "a message is not completed");
    }

    #[test]
    fn history_browsing_keeps_the_draft() {
        let mut e = LineEditor::new();
        for line in ["first", "second", "second", "   "] {
            line.chars().for_each(|c| e.insert(c));
            e.submit();
        }
        "draft".chars().for_each(|c| e.insert(c));
        e.history_prev();
        assert_eq!(e.text(), "second");
        e.history_prev();
        e.history_prev();
        assert_eq!(e.text(), "first", "duplicates and blank lines are not kept");
        e.history_next();
        assert_eq!(e.text(), "second");
        e.history_next();
        assert_eq!((e.text().as_str(), e.cursor()), ("draft", 5));
        e.history_next();
        assert_eq!(e.text(), "draft");
    }
}
