//! Drawing: the log with its scrollback, the status bar, the prompt, the input line and the
//! request dialog. A pure function of the [`App`] and the [`UiState`], tested against
//! ratatui's `TestBackend`.
//!
//! Lines are wrapped here rather than by `Paragraph`, so the scrollback knows how many screen
//! lines the log takes. Every string reaching this module is already escaped
//! ([`crate::escape`]): printable ASCII, or in messages Unicode text without controls, measured
//! in columns (a CJK character takes two).

use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use super::keys::{Confirm, UiState};
use crate::app::{App, LanChoice, Phase};
use crate::log::{Delivery, Entry, EntryKind};
use crate::{escape, texts};

/// Width of the `HH:MM:SS ` column; continuation lines are indented by it.
const STAMP_WIDTH: usize = 9;

/// How a line break in the input line is shown.
const NEWLINE_MARK: &str = "⏎";

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, app: &App, ui: &mut UiState) {
    let [log_area, status_area, prompt_area, input_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(1), Constraint::Length(1), Constraint::Length(1)])
            .areas(frame.area());

    let (lines, starts) = log_lines(app.log(), usize::from(log_area.width));
    let height = usize::from(log_area.height);
    if ui.scroll > 0 && ui.scroll == ui.anchor_scroll {
        // Scrolled back: keep showing the same lines while new ones arrive below and older
        // history is inserted above.
        let bottom =
            ui.anchor.and_then(|(seq, offset)| app.log().iter().position(|e| e.seq == seq).map(|i| starts[i] + offset));
        if let Some(bottom) = bottom {
            ui.scroll = lines.len().saturating_sub(bottom);
        }
    }
    let max_scroll = lines.len().saturating_sub(height);
    ui.scroll = ui.scroll.min(max_scroll);
    ui.page = height;
    let end = lines.len() - ui.scroll;
    let start = end.saturating_sub(height);
    ui.at_top = start == 0;
    // The entry holding the last line shown, and how far into it that line is.
    ui.anchor = starts.partition_point(|&s| s < end).checked_sub(1).map(|i| (app.log()[i].seq, end - starts[i]));
    ui.anchor_scroll = ui.scroll;
    frame.render_widget(Paragraph::new(lines[start..end].to_vec()), log_area);

    // Messages that came below the view since it was last at the bottom.
    if ui.scroll == 0 {
        ui.seen = app.log().last().map(|entry| entry.seq);
    }
    let below = starts.partition_point(|&s| s < end);
    let new = app.log()[below..]
        .iter()
        .filter(|entry| matches!(entry.kind, EntryKind::Incoming { .. }) && Some(entry.seq) > ui.seen)
        .count();
    frame.render_widget(status_bar(app, ui.scroll, new, status_area.width), status_area);

    // A draft typed in a chat that has ended since: it stays in the input line, and the prompt
    // says it was not sent; so does a message the chat's question held.
    super::keys::end_chat_question(ui, app.phase());
    super::keys::track_draft(ui, app.phase());
    let dialog = matches!(app.phase(), Phase::Ringing { .. } | Phase::PickLan { .. });
    let prompt = match (&ui.confirm, app.phase()) {
        (Some(Confirm::Send { lines, datagrams, .. }), _) => texts::confirm_send(*lines, *datagrams),
        (Some(Confirm::Quit), Phase::Chatting { user, peer }) => texts::confirm_quit(&texts::party(user, peer)),
        (None, Phase::Chatting { .. }) => texts::screen_prompt(app.phase()),
        // A call coming in over a draft: the dialog's keys type into it until it is cut.
        _ if dialog && !ui.editor.is_empty() => texts::DIALOG_AFTER_TEXT.into(),
        _ if ui.chat_draft => texts::DRAFT_AFTER_CHAT.into(),
        _ => texts::screen_prompt(app.phase()),
    };
    let esc_hint = if ui.esc { texts::ESC_HINT } else { "" };
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(prompt, Style::new().fg(Color::Yellow)),
            Span::styled(esc_hint, Style::new().fg(Color::Red)),
        ])),
        prompt_area,
    );

    draw_input(frame, ui, input_area);

    match app.phase() {
        Phase::Ringing { peer, user } => draw_request(frame, peer, user),
        Phase::PickLan { daemons } => draw_lan(frame, daemons, ui.lan_selected),
        _ => {}
    }
}

/// The daemons `/lan` found, the selected one highlighted.
fn draw_lan(frame: &mut Frame<'_>, daemons: &[LanChoice], selected: usize) {
    let selected = selected.min(daemons.len().saturating_sub(1));
    let lines: Vec<Line<'static>> = daemons
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let text = texts::lan_entry(i + 1, &d.addr, d.user.as_deref());
            let text = format!("{} ", text.trim_start());
            if i == selected {
                Line::from(Span::styled(format!("▶ {text}"), Style::new().add_modifier(Modifier::REVERSED)))
            } else {
                Line::from(format!("  {text}"))
            }
        })
        .collect();
    let area = frame.area();
    let width = (lines.iter().map(Line::width).max().unwrap_or(0) + 4).max(texts::LAN_TITLE.len() + 4);
    let width = u16::try_from(width).unwrap_or(u16::MAX).min(area.width);
    let height =
        u16::try_from(lines.len() + 2).unwrap_or(u16::MAX).min(area.height.saturating_sub(3)).max(3.min(area.height));
    let dialog =
        Rect::new(area.x + (area.width - width) / 2, area.y + (area.height.saturating_sub(height)) / 2, width, height);
    // Keep the selected one in view when the list is taller than the screen.
    let room = usize::from(height.saturating_sub(2)).max(1);
    let skip = (selected + 1).saturating_sub(room);
    frame.render_widget(Clear, dialog);
    frame
        .render_widget(Paragraph::new(lines[skip..].to_vec()).block(Block::bordered().title(texts::LAN_TITLE)), dialog);
}

/// The log as wrapped screen lines, with a date line before the first entry and wherever
/// the day changes; and the index of each entry's first screen line (its date line, if it
/// has one).
pub fn log_lines(log: &[Entry], width: usize) -> (Vec<Line<'static>>, Vec<usize>) {
    let mut out = Vec::new();
    let mut starts = Vec::with_capacity(log.len());
    let mut day = None;
    for entry in log {
        starts.push(out.len());
        if day != Some(entry.time.date()) {
            day = Some(entry.time.date());
            let line = texts::date_line(entry.time.date());
            wrap(&[(line, Style::new().fg(Color::DarkGray).add_modifier(Modifier::BOLD))], width, 0, &mut out);
        }
        let (entry_rows, hang) = entry_lines(entry);
        for (i, segments) in entry_rows.into_iter().enumerate() {
            let mut segs = Vec::with_capacity(segments.len() + 1);
            let stamp = match (&entry.kind, i) {
                (EntryKind::Unread, _) | (_, 1..) => " ".repeat(STAMP_WIDTH),
                _ => entry.time.format("%H:%M:%S ").to_string(),
            };
            segs.push((stamp, Style::new().fg(Color::DarkGray)));
            segs.extend(segments);
            wrap(&segs, width, STAMP_WIDTH + hang, &mut out);
        }
    }
    (out, starts)
}

/// An entry's logical lines (before wrapping), each a list of styled segments, and how far
/// past the timestamp its continuation lines start: under the text, past `* ` or `NAME: `.
fn entry_lines(entry: &Entry) -> (Vec<Vec<(String, Style)>>, usize) {
    match &entry.kind {
        EntryKind::Info(text) => (vec![vec![(format!("* {text}"), Style::new().fg(Color::Cyan))]], 2),
        EntryKind::Error(text) => (vec![vec![(format!("! {text}"), Style::new().fg(Color::Red))]], 2),
        EntryKind::Unread => {
            let line = format!("──── {} ────", texts::UNREAD);
            (vec![vec![(line, Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD))]], 0)
        }
        EntryKind::Incoming { user, lines } => {
            message(user, lines, Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD), None)
        }
        EntryKind::Outgoing { user, lines, delivery, .. } => {
            let mark = match delivery {
                Delivery::Pending => (" …".to_owned(), Style::new().fg(Color::Yellow)),
                Delivery::Delivered => (" ✓".to_owned(), Style::new().fg(Color::Green)),
                Delivery::Undelivered(reason) => (format!(" ✗ undelivered: {reason}"), Style::new().fg(Color::Red)),
            };
            message(user, lines, Style::new().fg(Color::Blue).add_modifier(Modifier::BOLD), Some(mark))
        }
    }
}

/// A message's lines: `NAME: text`, or for an action (`/me`: the text is `* NAME …`) the text
/// alone, since it names the sender itself.
fn message(
    user: &str,
    lines: &[String],
    name_style: Style,
    mark: Option<(String, Style)>,
) -> (Vec<Vec<(String, Style)>>, usize) {
    let action = lines.first().is_some_and(|first| {
        first.strip_prefix("* ").and_then(|l| l.strip_prefix(user)).is_some_and(|l| l.starts_with(' '))
    });
    let (lead, hang) = if action { (String::new(), 2) } else { (format!("{user}: "), escape::width(user) + 2) };
    let mut out: Vec<Vec<(String, Style)>> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let lead = if i == 0 { lead.clone() } else { " ".repeat(hang) };
            let style = if action { name_style } else { Style::new() };
            vec![(lead, name_style), (line.clone(), style)]
        })
        .collect();
    if let (Some(mark), Some(last)) = (mark, out.last_mut()) {
        last.push(mark);
    }
    (out, hang)
}

/// Breaks styled segments into screen lines of at most `width` characters; continuation lines
/// are indented by `indent` (past the timestamp and the line's lead), or by the timestamp's
/// width alone where that leaves too little room.
fn wrap(segments: &[(String, Style)], width: usize, indent: usize, out: &mut Vec<Line<'static>>) {
    let width = width.max(STAMP_WIDTH + 1);
    let indent = if indent + 10 <= width { indent } else { STAMP_WIDTH };
    let mut line: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for (text, style) in segments {
        let mut rest: &str = text;
        while !rest.is_empty() {
            // Past the width too: a wide character forced onto a row with one column left.
            if used >= width {
                out.push(Line::from(std::mem::take(&mut line)));
                line.push(Span::raw(" ".repeat(indent)));
                used = indent;
            }
            let room = width - used;
            let (take, row_ends) = match fits(rest, room) {
                None => (rest.len(), false),
                // Too long for the row: break after its last space, where there is one.
                Some(limit) => match rest[..limit].rfind(' ') {
                    Some(space) if space > 0 => (space + 1, true),
                    // A wide character that does not fit at all starts the next row.
                    _ if limit == 0 && used > indent => (0, true),
                    _ => (limit.max(rest.chars().next().map_or(0, char::len_utf8)), false),
                },
            };
            let (head, tail) = rest.split_at(take);
            used = if row_ends { width } else { used + escape::width(head) };
            line.push(Span::styled(head.to_owned(), *style));
            rest = tail;
        }
    }
    out.push(Line::from(line));
}

/// The part of `text` from column `skip` (rounded up to a character) that fits in `room`
/// columns, and the columns actually skipped.
fn columns(text: &str, skip: usize, room: usize) -> (String, usize) {
    let (mut skipped, mut used) = (0, 0);
    let mut out = String::new();
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if skipped < skip {
            skipped += w;
        } else if used + w <= room {
            used += w;
            out.push(c);
        } else {
            break;
        }
    }
    (out, skipped)
}

/// Where `text` stops fitting in `room` columns (a byte index), or `None` if it fits whole.
fn fits(text: &str, room: usize) -> Option<usize> {
    let mut cols = 0;
    for (i, c) in text.char_indices() {
        cols += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if cols > room {
            return Some(i);
        }
    }
    None
}

fn status_bar(app: &App, scroll: usize, new: usize, width: u16) -> Paragraph<'static> {
    let phase = texts::describe(app.phase());
    let text = texts::status_bar(app.user().zip(app.daemon()), &phase, scroll, new, usize::from(width));
    Paragraph::new(text).style(Style::new().add_modifier(Modifier::REVERSED))
}

fn draw_input(frame: &mut Frame<'_>, ui: &UiState, area: Rect) {
    // Escape what is being typed too: a pasted control character must not reach the terminal.
    // A line break (from a paste) shows as one mark.
    let shown: Vec<String> =
        ui.editor.text().chars().map(|c| if c == '\n' { NEWLINE_MARK.to_owned() } else { escape::shown(c) }).collect();
    let cursor_col: usize = shown[..ui.editor.cursor()].iter().map(|s| escape::width(s)).sum();
    let room = usize::from(area.width).saturating_sub(3).max(1);
    let skip = (cursor_col + 1).saturating_sub(room);
    let (visible, skipped) = columns(&shown.concat(), skip, room);
    let skip = skipped;
    frame.render_widget(
        Paragraph::new(Line::from(vec![Span::styled("> ", Style::new().fg(Color::Green)), Span::raw(visible)])),
        area,
    );
    let x = area.x.saturating_add(u16::try_from(2 + cursor_col - skip).unwrap_or(u16::MAX));
    frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
}

fn draw_request(frame: &mut Frame<'_>, peer: &str, user: &str) {
    let lines = vec![
        Line::from(""),
        Line::from(vec![
            Span::styled(
                if user.is_empty() { peer } else { user }.to_owned(),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::raw(texts::WANTS_TO_CHAT),
        ]),
        Line::from(texts::request_from(peer)),
        Line::from(""),
        Line::from(vec![
            Span::styled(texts::ACCEPT_KEYS, Style::new().fg(Color::Green).add_modifier(Modifier::BOLD)),
            Span::raw(" accept   "),
            Span::styled(texts::DECLINE_KEYS, Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)),
            Span::raw(" decline   "),
            Span::styled(texts::QUIT_KEY, Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(" quit"),
        ]),
    ];
    let area = frame.area();
    let width = (lines.iter().map(Line::width).max().unwrap_or(0) + 6).max(34);
    let width = u16::try_from(width).unwrap_or(u16::MAX).min(area.width);
    let height = 7.min(area.height);
    let dialog =
        Rect::new(area.x + (area.width - width) / 2, area.y + (area.height.saturating_sub(height)) / 2, width, height);
    frame.render_widget(Clear, dialog);
    frame.render_widget(Paragraph::new(lines).centered().block(Block::bordered().title(texts::REQUEST_TITLE)), dialog);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;
    use ratatui::Terminal;
    use simp_proto::ipc::{EndReason, Event};

    fn t(s: u32) -> NaiveDateTime {
        crate::app::test_time(12, 0, s)
    }

    fn connected(name: &str) -> App {
        let (mut app, _) = App::with_user(name, t(0));
        app.on_event(
            Event::Connected { user: name.into(), daemon: "127.0.0.1:7777".parse().unwrap(), version: "0.1.0".into() },
            t(1),
        );
        app
    }

    fn chatting() -> App {
        let mut app = connected("alice");
        app.on_line("127.0.0.2", t(2));
        app.on_event(Event::Calling { peer: "127.0.0.2:7777".parse().unwrap() }, t(2));
        app.on_event(Event::Established { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }, t(3));
        app
    }

    fn render(app: &App, ui: &mut UiState, width: u16, height: u16) -> Buffer {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| draw(f, app, ui)).unwrap();
        terminal.backend().buffer().clone()
    }

    fn rows(buf: &Buffer) -> Vec<String> {
        (0..buf.area.height)
            .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect::<String>().trim_end().to_owned())
            .collect()
    }

    fn row_with<'a>(rows: &'a [String], needle: &str) -> &'a str {
        rows.iter()
            .find(|r| r.contains(needle))
            .unwrap_or_else(|| panic!("no row with {needle:?} in\n{}", rows.join("\n")))
    }

    #[test]
    fn delivery_marks_pending_delivered_undelivered() {
        let mut app = chatting();
        app.on_line("one", t(4));
        app.on_line("two", t(5));
        app.on_line("three", t(6));
        app.on_event(Event::Delivered { id: "2".into() }, t(6));
        app.on_event(Event::Undelivered { id: "3".into(), reason: EndReason::PeerUnreachable }, t(9));
        let rows = rows(&render(&app, &mut UiState::new(), 60, 12));
        assert_eq!(row_with(&rows, "one"), "12:00:04 alice: one …");
        assert_eq!(row_with(&rows, "two"), "12:00:05 alice: two ✓");
        assert_eq!(row_with(&rows, "three"), "12:00:06 alice: three ✗ undelivered: peer unreachable");
    }

    #[test]
    fn held_messages_are_one_line_then_marked_in_the_chat_history_as_they_go() {
        let mut app = connected("alice");
        app.set_history(true);
        for (id, text) in [("1", "kept"), ("2", "lost")] {
            let peer = "127.0.0.2:7777".parse().unwrap();
            let at = crate::app::epoch_millis(t(1));
            app.on_event(Event::Held { id: id.into(), peer, text: text.into(), at }, t(1));
        }
        let shown = rows(&render(&app, &mut UiState::new(), 160, 8));
        assert_eq!(
            row_with(&shown, "held"),
            "12:00:01 * 2 messages to 127.0.0.2:7777 from before the daemon restarted are held: they will be sent when \
             the chat with 127.0.0.2:7777 is open again"
        );
        // The chat opens; its history shows the first (queued again, pending), not the second.
        app.on_line("127.0.0.2", t(2));
        app.on_event(Event::Established { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }, t(3));
        // The same text sent earlier (to this peer or another), still pending, is another
        // message: its mark stays.
        app.on_event(crate::app::stored(6, true, t(0), "kept", "pending"), t(3));
        app.on_event(crate::app::stored(7, true, t(1), "kept", "pending"), t(3));
        app.on_event(Event::HistoryEnd { count: 2 }, t(3));
        let shown = rows(&render(&app, &mut UiState::new(), 140, 12));
        let has = |shown: &[String], row: &str| shown.iter().any(|r| r.trim_end() == row);
        assert!(has(&shown, "12:00:01 alice: kept …"), "{shown:#?}");
        app.on_event(Event::Delivered { id: "1".into() }, t(4));
        app.on_event(Event::Undelivered { id: "2".into(), reason: EndReason::PeerUnreachable }, t(5));
        let shown = rows(&render(&app, &mut UiState::new(), 140, 12));
        assert!(has(&shown, "12:00:01 alice: kept ✓"), "{shown:#?}");
        assert!(has(&shown, "12:00:00 alice: kept …"), "{shown:#?}");
        assert_eq!(
            row_with(&shown, "held message"),
            "12:00:05 ! held message to 127.0.0.2:7777 undelivered (peer unreachable): lost"
        );
    }

    #[test]
    fn status_bar_prompt_and_input_line() {
        let mut app = chatting();
        app.on_event(crate::app::test_message("bob", "hi", t(4)), t(4));
        let mut ui = UiState::new();
        "draft".chars().for_each(|c| ui.editor.insert(c));
        let buf = render(&app, &mut ui, 100, 8);
        let rows = rows(&buf);
        assert_eq!(rows[0], "12:00:01 * connected to daemon 127.0.0.1:7777 as alice");
        assert_eq!(row_with(&rows, "bob: hi"), "12:00:04 bob: hi");
        assert!(
            rows[5].starts_with(" simp │ alice @ 127.0.0.1:7777 │ chatting with bob (127.0.0.2:7777) │ PgUp/PgDn"),
            "{}",
            rows[5]
        );
        assert!(buf[(1, 5)].modifier.contains(Modifier::REVERSED), "the status bar stands out");
        assert!(rows[6].starts_with("chatting with bob — type a message"), "{}", rows[6]);
        assert_eq!(rows[7], "> draft");
    }

    #[test]
    fn an_action_shows_once_who_acts_and_continuations_hang_under_the_text() {
        let mut app = chatting();
        app.on_line("/me waves", t(4));
        app.on_event(crate::app::test_message("bob", "* bob waves back", t(5)), t(5));
        app.on_event(crate::app::test_message("bob", "one two three four five six seven", t(6)), t(6));
        let shown = rows(&render(&app, &mut UiState::new(), 40, 10));
        assert_eq!(row_with(&shown, "alice waves"), "12:00:04 * alice waves …");
        assert_eq!(row_with(&shown, "bob waves"), "12:00:05 * bob waves back");
        let first = shown.iter().position(|r| r.contains("one two")).unwrap();
        assert_eq!(shown[first..first + 2], ["12:00:06 bob: one two three four five", "              six seven"]);
    }

    #[test]
    fn scrolled_back_new_messages_are_counted_and_the_status_bar_fits_its_width() {
        let mut app = chatting();
        for i in 0..20 {
            app.on_event(crate::app::test_message("bob", &format!("m{i}"), t(4)), t(4));
        }
        let mut ui = UiState::new();
        render(&app, &mut ui, 100, 10);
        ui.scroll = 5;
        let bar = |app: &App, ui: &mut UiState, w| row_with(&rows(&render(app, ui, w, 10)), "chatting").to_owned();
        assert!(!bar(&app, &mut ui, 100).contains("new"));
        app.on_event(crate::app::test_message("bob", "fresh", t(5)), t(5));
        app.on_event(crate::app::test_message("bob", "fresher", t(5)), t(5));
        app.on_line("mine", t(5));
        // The view stays on its lines: 3 more below it.
        let at_100 =
            " alice @ 127.0.0.1:7777 │ chatting with bob (127.0.0.2:7777) │ ↑ 8 lines up (PgDn) │ ↓ 2 new (End)";
        assert_eq!(bar(&app, &mut ui, 100), at_100, "the keys and the name go first");
        let at_160 =
            " simp │ alice @ 127.0.0.1:7777 │ chatting with bob (127.0.0.2:7777) │ ↑ 8 lines up (PgDn) │ ↓ 2 new \
                      (End) │ PgUp/PgDn scroll · Esc q quits";
        assert_eq!(bar(&app, &mut ui, 160), at_160);
        assert_eq!(bar(&app, &mut ui, 60), " chatting with bob (127.0.0.2:7777) │ ↑ 8 │ ↓ 2 new");
        assert_eq!(bar(&app, &mut ui, 30), " chatting wit… │ ↑ 8 │ ↓ 2 new");
        ui.scroll = 0;
        assert!(!bar(&app, &mut ui, 160).contains("new"), "seen at the bottom");
    }

    #[test]
    fn request_dialog() {
        let mut app = connected("bob");
        app.on_event(Event::Request { peer: "127.0.0.1:7777".parse().unwrap(), user: "alice".into() }, t(2));
        let rows = rows(&render(&app, &mut UiState::new(), 100, 16));
        let title = row_with(&rows, "Incoming chat request");
        assert!(title.contains('┌') && title.contains('┐'), "{title}");
        assert!(row_with(&rows, "alice wants to chat").contains('│'));
        row_with(&rows, "from 127.0.0.1:7777");
        // One wording in the dialog and on the prompt line, both key sets in it.
        let keys = ["[y/a] accept", "[n/d] decline", "[q] quit"];
        let dialog = row_with(&rows, "[y/a]");
        assert!(keys.iter().all(|k| dialog.contains(k)), "{dialog}");
        assert!(rows[14].starts_with("request from alice (127.0.0.1:7777) — "), "{}", rows[14]);
        assert!(keys.iter().all(|k| rows[14].contains(k)), "{}", rows[14]);
        assert!(row_with(&rows, " simp │").contains("request from alice (127.0.0.1:7777)"));
    }

    #[test]
    fn a_draft_outlives_its_chat_in_view_with_a_note() {
        let mut app = chatting();
        let mut ui = UiState::new();
        "half typed".chars().for_each(|c| ui.editor.insert(c));
        render(&app, &mut ui, 140, 8);
        app.on_event(Event::Ended { reason: EndReason::PeerLeft, detail: None }, t(5));
        let shown = rows(&render(&app, &mut ui, 140, 8));
        assert_eq!(shown[7], "> half typed", "the draft stays in view");
        assert!(shown[6].starts_with(texts::DRAFT_AFTER_CHAT), "{}", shown[6]);
        ui.editor.kill_to_start();
        let shown = rows(&render(&app, &mut ui, 140, 8));
        assert!(shown[6].starts_with("type s (start)"), "{}", shown[6]);
        assert_eq!(shown[7], ">");
        // Text typed at the menu is no chat's draft.
        "/call".chars().for_each(|c| ui.editor.insert(c));
        let shown = rows(&render(&app, &mut ui, 140, 8));
        assert!(shown[6].starts_with("type s (start)"), "{}", shown[6]);
    }

    #[test]
    fn a_call_over_a_draft_says_how_to_answer_it() {
        let mut app = chatting();
        let mut ui = UiState::new();
        "half typed".chars().for_each(|c| ui.editor.insert(c));
        render(&app, &mut ui, 140, 12);
        app.on_event(Event::Ended { reason: EndReason::PeerLeft, detail: None }, t(5));
        app.on_event(Event::Request { peer: "127.0.0.3:7777".parse().unwrap(), user: "carol".into() }, t(6));
        let shown = rows(&render(&app, &mut ui, 140, 12));
        assert!(shown[10].starts_with(texts::DIALOG_AFTER_TEXT), "y would type into the draft: {}", shown[10]);
        assert_eq!(shown[11], "> half typed");
    }

    #[test]
    fn control_bytes_from_the_daemon_never_reach_the_buffer() {
        let mut app = connected("bob");
        app.on_event(Event::Request { peer: "1.2.3.4:7777".parse().unwrap(), user: "ev\x1b[31mil".into() }, t(2));
        app.on_line("y", t(2));
        app.on_event(Event::Established { peer: "1.2.3.4:7777".parse().unwrap(), user: "ev\x1bil".into() }, t(2));
        app.on_event(crate::app::test_message("ev\x1bil", "a\x1b]0;pwned\x07\0b\rc\nline two\tx", t(3)), t(3));
        app.on_event(Event::error(simp_proto::ipc::ErrorCode::PeerError, "\x1b[2J\u{9b}"), t(3));
        let mut ui = UiState::new();
        "typed\x1b".chars().for_each(|c| ui.editor.insert(c));
        let buf = render(&app, &mut ui, 120, 12);
        for cell in buf.content() {
            assert!(
                cell.symbol().chars().all(|c| !c.is_control()),
                "raw control character {:?} in the buffer:\n{}",
                cell.symbol(),
                rows(&buf).join("\n")
            );
        }
        let rows = rows(&buf);
        assert_eq!(row_with(&rows, "pwned"), "12:00:03 ev\\x1bil: a\\x1b]0;pwned\\x07\\x00b\\x0dc");
        assert_eq!(
            row_with(&rows, "line two"),
            format!("{}line two    x", " ".repeat(STAMP_WIDTH + "ev\\x1bil: ".len()))
        );
        row_with(&rows, "\\x1b[2J\\x9b");
        row_with(&rows, "> typed\\x1b");
    }

    #[test]
    fn long_lines_wrap_and_page_up_scrolls_back() {
        let mut app = chatting();
        for i in 0..30 {
            app.on_event(crate::app::test_message("bob", &format!("message {i}"), t(4)), t(4));
        }
        app.on_line(&"x".repeat(50), t(5));
        let mut ui = UiState::new();
        let rows_now = rows(&render(&app, &mut ui, 40, 10));
        assert_eq!(ui.page, 7);
        // A wrapped message goes on under its text, as its own second line would.
        assert_eq!(rows_now[3], "12:00:04 bob: message 29");
        assert_eq!(rows_now[4], format!("12:00:05 alice: {}", "x".repeat(24)));
        assert_eq!(rows_now[5], format!("{}{}", " ".repeat(16), "x".repeat(24)));
        assert_eq!(rows_now[6], format!("{}xx …", " ".repeat(16)));
        ui.scroll = 1000;
        let rows_top = rows(&render(&app, &mut ui, 40, 10));
        assert_eq!(rows_top[0], "──── Wednesday 2 December 2026 ────", "the first line's date");
        assert_eq!(rows_top[1], "12:00:01 * connected to daemon", "wrapped at a space");
        assert_eq!(rows_top[2], "           127.0.0.1:7777 as alice", "under the text, past the *");
        assert!(ui.scroll < 1000, "scroll is clamped to the log");
        ui.scroll = 3;
        let rows_wide = rows(&render(&app, &mut ui, 120, 10));
        assert!(row_with(&rows_wide, " simp │").contains("↑ 3 lines up"));
        let top = rows_wide[0].clone();
        app.on_event(crate::app::test_message("bob", "new", t(6)), t(6));
        let rows_after = rows(&render(&app, &mut ui, 120, 10));
        assert_eq!(rows_after[0], top, "a scrolled-back view stays put as lines arrive");
        ui.scroll = 0;
        let rows_bottom = rows(&render(&app, &mut ui, 120, 10));
        assert_eq!(rows_bottom[6], "12:00:06 bob: new");
    }

    #[test]
    fn history_has_date_lines_an_unread_line_and_pgup_at_the_top_pages_back_without_a_jump() {
        use crate::app::stored;
        use crate::event_loop::Input;
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let yesterday = |m| crate::app::test_time(9, m, 0) - chrono::Days::new(1);
        let mut app = connected("alice");
        app.set_history(true);
        app.on_line("127.0.0.2", t(2));
        app.on_event(Event::Calling { peer: "127.0.0.2:7777".parse().unwrap() }, t(2));
        app.on_event(Event::Established { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }, t(3));
        let page = crate::history::PAGE as u64;
        for id in 100..100 + page - 1 {
            app.on_event(stored(id, false, yesterday(1), &format!("old {id}"), "seen"), t(3));
        }
        app.on_event(stored(300, false, t(0), "new", "unseen"), t(3));
        app.on_event(Event::HistoryEnd { count: crate::history::PAGE }, t(3));
        let mut ui = UiState::new();
        let shown = rows(&render(&app, &mut ui, 60, 12));
        let unread = shown.iter().position(|r| r.contains("──── unread ────")).expect("an unread line");
        assert_eq!(shown[unread - 1], "──── Wednesday 2 December 2026 ────", "the day changed: a date line");
        assert_eq!(shown[unread + 1], "12:00:00 bob: new", "the unread line is right above what was not seen");
        assert_eq!(shown[unread - 2], "09:01:00 bob: old 148");

        let pg_up = KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE);
        let phase = app.phase().clone();
        while !ui.at_top {
            assert_eq!(super::super::keys::handle_key(&mut ui, pg_up, &phase), Input::Nothing);
            render(&app, &mut ui, 60, 12);
        }
        let top = rows(&render(&app, &mut ui, 60, 12));
        assert_eq!(top[0], "──── Wednesday 2 December 2026 ────");
        assert_eq!(row_with(&top, "Tuesday"), "──── Tuesday 1 December 2026 ────");
        assert_eq!(super::super::keys::handle_key(&mut ui, pg_up, &phase), Input::Older, "PgUp at the top");
        let older = app.older_history();
        assert!(matches!(older[..], [simp_proto::ipc::Command::History { before: Some(100), .. }]), "{older:?}");
        for id in 40..43 {
            app.on_event(stored(id, false, yesterday(0), &format!("older {id}"), "seen"), t(5));
        }
        app.on_event(Event::HistoryEnd { count: 3 }, t(5));
        let after = rows(&render(&app, &mut ui, 60, 12));
        // The page goes right above the oldest message shown: the lines from there down stay
        // where they were on the screen, the older ones appear above them.
        assert_eq!(after[7..9], top[7..9], "the view does not jump");
        assert_eq!(
            top[2..7],
            [
                "12:00:02 * calling 127.0.0.2:7777",
                "12:00:02 * earlier messages with 127.0.0.2:7777, from the",
                "           daemon's store:",
                "──── Tuesday 1 December 2026 ────",
                "09:01:00 bob: old 100",
            ],
            "the stored messages under a line saying so, above the chat's opening"
        );
        assert_eq!(
            after[0..6],
            [
                "──── Tuesday 1 December 2026 ────",
                "09:00:00 * the stored messages with 127.0.0.2:7777 start",
                "           here",
                "09:00:00 bob: older 40",
                "09:00:00 bob: older 41",
                "09:00:00 bob: older 42",
            ]
        );
        assert_eq!(after[6], "09:01:00 bob: old 100", "right above what was the oldest");
        assert!(!ui.at_top, "more above: PgUp scrolls again");
        assert_eq!(super::super::keys::handle_key(&mut ui, pg_up, &phase), Input::Nothing);
    }

    #[test]
    fn the_lan_list_is_a_dialog_and_enter_calls_the_selected_daemon() {
        use crate::event_loop::Input;
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
        let mut app = connected("alice");
        let mut ui = UiState::new();
        super::super::keys::handle_key(&mut ui, key(KeyCode::Char('l')), app.phase());
        assert_eq!(super::super::keys::handle_key(&mut ui, key(KeyCode::Enter), app.phase()), Input::Line("l".into()));
        app.on_line("l", t(2));
        assert!(app.take_lan_request());
        app.on_lan(Ok(crate::app::lan_daemons()), t(5));
        let shown = rows(&render(&app, &mut ui, 80, 16));
        assert!(row_with(&shown, "Daemons on the LAN").contains('┌'));
        assert!(row_with(&shown, "▶ 1  192.168.1.20  bob").contains('│'), "the first is selected");
        row_with(&shown, "  2  192.168.1.30:7000  (no client attached)");
        assert!(row_with(&shown, "call which daemon? 1-2").starts_with("call which"));
        let buf = render(&app, &mut ui, 80, 16);
        let y = shown.iter().position(|r| r.contains("▶ 1")).unwrap();
        let x = shown[y].find('▶').map(|b| shown[y][..b].chars().count()).unwrap();
        assert!(buf[(u16::try_from(x).unwrap(), u16::try_from(y).unwrap())].modifier.contains(Modifier::REVERSED));

        let phase = app.phase().clone();
        assert_eq!(super::super::keys::handle_key(&mut ui, key(KeyCode::Down), &phase), Input::Nothing);
        assert_eq!(super::super::keys::handle_key(&mut ui, key(KeyCode::Down), &phase), Input::Nothing);
        let shown = rows(&render(&app, &mut ui, 80, 16));
        row_with(&shown, "▶ 2  192.168.1.30:7000");
        let Input::Line(line) = super::super::keys::handle_key(&mut ui, key(KeyCode::Enter), &phase) else {
            panic!("Enter chooses")
        };
        let cmds = app.on_line(&line, t(6));
        assert_eq!(cmds, vec![simp_proto::ipc::Command::Start { peer: "192.168.1.30:7000".into() }]);
        assert!(!rows(&render(&app, &mut ui, 80, 16)).iter().any(|r| r.contains("Daemons on the LAN")));
    }

    #[test]
    fn menu_prompt_and_tiny_terminals_do_not_panic() {
        let app = connected("alice");
        let rows = rows(&render(&app, &mut UiState::new(), 80, 6));
        assert_eq!(rows[4], "type s (start), w (wait for a call), l (LAN), q (quit) or /call NAME, and Enter");
        let mut app = connected("bob");
        app.on_event(Event::Request { peer: "127.0.0.1:7777".parse().unwrap(), user: "alice".into() }, t(2));
        for (w, h) in [(1, 1), (5, 3), (20, 4), (200, 2)] {
            render(&app, &mut UiState::new(), w, h);
        }
    }

    #[test]
    fn questions_replace_the_prompt_and_line_breaks_show_as_one_mark() {
        let app = chatting();
        let mut ui = UiState::new();
        ui.confirm = Some(Confirm::Send { text: "x".into(), lines: 7, datagrams: 2 });
        let shown = rows(&render(&app, &mut ui, 100, 6));
        assert!(
            shown[4].starts_with("send this 7-line message, sent as 2 datagrams? Enter or y sends"),
            "{}",
            shown[4]
        );
        ui.confirm = Some(Confirm::Quit);
        let shown = rows(&render(&app, &mut ui, 100, 6));
        assert!(shown[4].starts_with("quit, leaving the chat with bob (127.0.0.2:7777)? y quits"), "{}", shown[4]);
        ui.confirm = None;
        "a\nb".chars().for_each(|c| ui.editor.insert(c));
        let buf = render(&app, &mut ui, 100, 6);
        assert_eq!(rows(&buf)[5], "> a⏎b");
    }

    #[test]
    fn peers_unicode_is_drawn_as_text_and_wide_characters_wrap_by_columns() {
        let mut app = chatting();
        app.on_event(
            crate::app::test_message("bob", "caf\\xc3\\xa9 \\xe4\\xb8\\xad\\xe6\\x96\\x87 \\xe2\\x80\\xae", t(4)),
            t(4),
        );
        let shown = rows(&render(&app, &mut UiState::new(), 60, 8));
        // A wide character's second cell reads as a space here.
        assert_eq!(row_with(&shown, "bob:"), "12:00:04 bob: café 中 文  \\u{202e}");
        let mut app = chatting();
        app.on_event(crate::app::test_message("bob", &"中".repeat(20), t(4)), t(4));
        let buf = render(&app, &mut UiState::new(), 30, 8);
        let wrapped = rows(&buf);
        let first = row_with(&wrapped, "bob:");
        assert_eq!(first.chars().filter(|&c| c == '中').count(), 8, "{first}");
        assert!(wrapped.iter().all(|r| r.chars().count() <= 30), "one symbol per cell, none past the edge");
    }

    #[test]
    fn a_wide_character_on_a_row_with_one_column_left_does_not_overflow() {
        // At the narrowest log (the timestamp's width and one column) a continuation row has
        // one column left, and a CJK character takes two: it goes on the row, clipped, and
        // the next starts a row of its own (the count of columns used ran past the width).
        let mut app = chatting();
        app.on_event(crate::app::test_message("bob", "\u{4e2d}\u{6587}\u{5b57}", t(4)), t(4));
        let (lines, _) = log_lines(app.log(), 10);
        let last: Vec<String> = lines.iter().rev().take(3).map(|l| l.to_string().trim_end().to_owned()).collect();
        assert_eq!(last, ["         \u{5b57}", "         \u{6587}", "         \u{4e2d}"]);
    }
}
