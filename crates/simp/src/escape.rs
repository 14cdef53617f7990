//! Making daemon-supplied strings safe for a terminal.
//!
//! The daemon already escapes message text and names as `\xNN` (SPEC 1), but the client does
//! not rely on that: every string that arrives in an event is untrusted and passes through
//! here before it is drawn or printed, so a buggy or hostile daemon cannot move the cursor,
//! change colours, retitle the window or hide text behind a bidi override. In fields (names,
//! addresses, reasons) everything outside printable ASCII is escaped: bytes below 0x100 as
//! `\xNN`, like the daemon does, anything else as `\u{NNNN}`.
//!
//! Messages ([`message_lines`]) keep their line breaks and show Unicode as text: the daemon
//! hands over a peer's UTF-8 as `\xNN` escapes (SPEC 1), so runs of escapes that spell valid
//! UTF-8 are decoded, and a character is shown when it is [`displayable`] (no control, no
//! zero-width or bidi formatting character, which could hide or reorder text). Anything else
//! stays escaped. (A peer typing the four characters `\xc3` and `\xa9` literally is shown `é`
//! too; it could have sent `é` itself, so nothing is disguised that way.)

use std::fmt::Write as _;

use unicode_width::UnicodeWidthChar;

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

/// Message text as display lines: LF starts a new line, TAB becomes spaces up to the next
/// multiple of [`TAB_WIDTH`], UTF-8 (raw, or as the daemon's `\xNN` escapes) is shown where
/// [`displayable`], everything else is escaped as in [`field`].
pub fn message_lines(s: &str) -> Vec<String> {
    s.split('\n')
        .map(|line| {
            let mut out = String::with_capacity(line.len());
            let mut col = 0;
            for c in decode_utf8_escapes(line).chars() {
                if c == '\t' {
                    let pad = TAB_WIDTH - col % TAB_WIDTH;
                    out.extend(std::iter::repeat_n(' ', pad));
                    col += pad;
                } else {
                    let before = out.len();
                    push_shown(&mut out, c);
                    col += width(&out[before..]);
                }
            }
            out
        })
        .collect()
}

/// Whether a character may be drawn as itself: printable ASCII, or a non-ASCII character
/// that takes room on the screen and is no formatting character (bidi overrides and isolates,
/// zero-width characters, the BOM).
pub fn displayable(c: char) -> bool {
    match c {
        ' '..='~' => true,
        c if c.is_ascii() || c.is_control() => false,
        '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}' => false,
        c => c.width().is_some_and(|w| w > 0),
    }
}

/// A character as the input line shows it: itself where [`displayable`], else escaped.
pub fn shown(c: char) -> String {
    let mut out = String::new();
    push_shown(&mut out, c);
    out
}

/// Columns a shown string takes.
pub fn width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

fn push_shown(out: &mut String, c: char) {
    if displayable(c) {
        out.push(c);
    } else {
        push_escaped(out, c);
    }
}

/// Turns runs of `\xNN` escapes (NN ≥ 80) that spell valid UTF-8 back into characters;
/// escapes that do not are left as they are.
fn decode_utf8_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("\\x") {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let mut bytes = Vec::new();
        let mut taken = 0;
        while let Some(b) = rest.get(taken..taken + 4).and_then(high_byte) {
            bytes.push(b);
            taken += 4;
        }
        if bytes.is_empty() {
            out.push_str("\\x");
            rest = &rest[2..];
            continue;
        }
        // Decode what is valid; keep the escapes of what is not.
        let mut chunk = &bytes[..];
        while !chunk.is_empty() {
            match std::str::from_utf8(chunk) {
                Ok(text) => {
                    out.push_str(text);
                    chunk = &[];
                }
                Err(err) => {
                    let valid = err.valid_up_to();
                    out.push_str(std::str::from_utf8(&chunk[..valid]).unwrap_or_default());
                    let bad = err.error_len().unwrap_or(chunk.len() - valid);
                    for b in &chunk[valid..valid + bad] {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                    chunk = &chunk[valid + bad..];
                }
            }
        }
        rest = &rest[taken..];
    }
    out.push_str(rest);
    out
}

/// The byte of a four-character `\xNN` escape, when it is above ASCII.
fn high_byte(esc: &str) -> Option<u8> {
    let hex = esc.strip_prefix("\\x")?;
    let b = u8::from_str_radix(hex, 16).ok()?;
    (b >= 0x80 && hex.bytes().all(|h| h.is_ascii_hexdigit())).then_some(b)
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
    fn fields_are_always_printable_ascii_and_messages_never_carry_controls() {
        let nasty: String = (0u32..0x300).chain(0x2000..0x2070).chain([0xfeff]).filter_map(char::from_u32).collect();
        let escaped: String = nasty.bytes().map(|b| format!("\\x{b:02x}")).collect();
        let f = field(&nasty);
        assert!(f.chars().all(|c| (' '..='~').contains(&c)), "{f:?}");
        for s in [one_line(&message_lines(&nasty)), one_line(&message_lines(&escaped))] {
            assert!(s.chars().all(displayable), "{s:?}");
        }
    }

    #[test]
    fn utf8_from_peers_is_shown_as_text() {
        assert_eq!(message_lines("caf\\xc3\\xa9 \\xe2\\x82\\xac5"), vec!["café €5"]);
        assert_eq!(message_lines("caf\u{e9}"), vec!["café"], "raw UTF-8 too");
        // Invalid UTF-8, controls and formatting characters stay escaped.
        assert_eq!(message_lines("a\\xff\\xc3b"), vec!["a\\xff\\xc3b"]);
        assert_eq!(message_lines("\\xc2\\x9b\\x1b"), vec!["\\x9b\\x1b"]);
        assert_eq!(message_lines("\\xe2\\x80\\xaeevil"), vec!["\\u{202e}evil"]);
        assert_eq!(message_lines("\\x4"), vec!["\\x4"]);
        assert_eq!(message_lines("\u{4e2d}\tx"), vec!["\u{4e2d}  x"], "a wide character takes two columns");
    }
}
