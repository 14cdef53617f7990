//! Making daemon-supplied strings safe for a terminal.
//!
//! The daemon already escapes message text and names as `\xNN` (SPEC 1), but the client does
//! not rely on that: every string that arrives in an event is untrusted and passes through
//! here before it is drawn or printed, so a buggy or hostile daemon cannot move the cursor,
//! change colours, retitle the window or hide text behind a bidi override. Everything outside
//! printable ASCII is escaped: bytes below 0x100 as `\xNN`, like the daemon does, anything
//! else as `\u{NNNN}`. Messages may keep their line breaks ([`message_lines`]).

use std::fmt::Write as _;

/// Spaces a TAB becomes; a fixed width keeps wrapping and column counts simple.
pub const TAB_WIDTH: usize = 4;

/// Escapes a one-line field (a name, an address, a reason, an error message): TAB and LF are
/// escaped too, since a field must never span lines.
pub fn field(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    out
}

/// Escapes message text into display lines: LF starts a new line, TAB becomes spaces up to the
/// next multiple of [`TAB_WIDTH`], everything else as in [`field`].
pub fn message_lines(s: &str) -> Vec<String> {
    s.split('\n')
        .map(|line| {
            let mut out = String::with_capacity(line.len());
            for c in line.chars() {
                if c == '\t' {
                    // Escaped output is ASCII: its length in bytes is its width.
                    let col = out.len();
                    out.extend(std::iter::repeat_n(' ', TAB_WIDTH - col % TAB_WIDTH));
                } else {
                    push_escaped(&mut out, c);
                }
            }
            out
        })
        .collect()
}

/// Joins display lines from [`message_lines`] onto one line, for plain mode's
/// one-line-per-event output: line breaks are shown as `\x0a`, the way the daemon spells every
/// other control byte. It takes the lines rather than the text because the log keeps only
/// those.
pub fn one_line(lines: &[String]) -> String {
    lines.join("\\x0a")
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        ' '..='~' => out.push(c),
        c if (c as u32) < 0x100 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:04x}}}", c as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_ascii_passes_unchanged() {
        let all: String = (' '..='~').collect();
        assert_eq!(field(&all), all);
    }

    #[test]
    fn control_characters_are_escaped_in_fields() {
        assert_eq!(field("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(field("\0\r\n\t\x7f"), "\\x00\\x0d\\x0a\\x09\\x7f");
        assert_eq!(field("\u{9b}"), "\\x9b");
        assert_eq!(field("é"), "\\xe9");
        assert_eq!(field("\u{202e}evil"), "\\u{202e}evil");
    }

    #[test]
    fn messages_keep_line_breaks_and_expand_tabs() {
        assert_eq!(message_lines("a\nb"), vec!["a", "b"]);
        assert_eq!(message_lines("\tx"), vec!["    x"]);
        assert_eq!(message_lines("ab\tx"), vec!["ab  x"]);
        assert_eq!(message_lines("a\rb\x1b"), vec!["a\\x0db\\x1b"]);
        assert_eq!(one_line(&message_lines("a\nb\x00")), "a\\x0ab\\x00");
    }

    #[test]
    fn output_is_always_printable_ascii() {
        let nasty: String = (0u32..0x300).filter_map(char::from_u32).collect();
        for s in [field(&nasty), one_line(&message_lines(&nasty))] {
            assert!(s.chars().all(|c| (' '..='~').contains(&c)), "{s:?}");
        }
    }
}
