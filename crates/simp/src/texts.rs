//! Every English sentence the client shows: prompts, log lines, refusals, the status bar.
//! Plain mode prints them byte for byte and its output is documented in the crate docs, so
//! they are kept in one place where a change is easy to see.
//!
//! Arguments are already escaped ([`crate::escape`]), except the fields of [`Status`], which
//! are escaped here as the line is built.

use simp_proto::ipc::{EndReason, ErrorCode, Status};

use crate::app::Phase;
use crate::config::Contacts;
use crate::escape;

/// Our own name on a message sent before the daemon confirmed it.
pub const YOU: &str = "you";

/// The question or hint for a phase, if it has one; phases that only wait for the daemon
/// have none.
pub fn prompt(phase: &Phase) -> Option<String> {
    Some(match phase {
        Phase::AskName => "your name? (q quits)".into(),
        Phase::Menu => "[s] start a chat, [w] wait for a call, [l] list the LAN, [q] quit".into(),
        Phase::AskPeer => "peer IP (IP, IP:port or a contact's name; empty for the menu, q quits)?".into(),
        Phase::Waiting => "waiting for a call — Enter for the menu, q quits".into(),
        Phase::Ringing { peer, user } => format!("request from {} — accept? [y/n/q]", at(user, peer)),
        Phase::Calling { peer } => format!("calling {peer} — c cancels, q quits"),
        Phase::Chatting { user, peer } => {
            format!("chatting with {} — type a message; /leave ends the chat, /quit quits", named(user, peer))
        }
        Phase::PickLan { daemons } => {
            format!("call which daemon? 1-{} (or ↑/↓ and Enter); Enter alone for the menu, q quits", daemons.len())
        }
        Phase::Reconnecting { daemon } => format!("simpd at {daemon} is gone; reconnecting… (q quits)"),
        Phase::Connecting
        | Phase::Starting { .. }
        | Phase::Accepting { .. }
        | Phase::Leaving { .. }
        | Phase::Quitting => return None,
    })
}

/// The full-screen interface's prompt line: every answer is typed into the input line and
/// ends with Enter, as in plain mode, except the request dialog's one-key answers.
pub fn screen_prompt(phase: &Phase) -> String {
    match phase {
        Phase::Menu => "type s (start), w (wait for a call), l (LAN), q (quit) or /call NAME, and Enter".into(),
        Phase::Ringing { peer, user } => format!(
            "request from {} — {ACCEPT_KEYS} accept, {DECLINE_KEYS} decline, {QUIT_KEY} quit (one key)",
            party(user, peer)
        ),
        Phase::Calling { peer } => {
            format!("calling {peer} — lines typed now wait for the chat; /leave cancels")
        }
        Phase::Quitting => QUITTING.into(),
        _ => prompt(phase).unwrap_or_else(|| WAITING_FOR_THE_DAEMON.into()),
    }
}

/// The request dialog's keys: one wording for the dialog and the prompt line.
pub const ACCEPT_KEYS: &str = "[y/a]";
/// See [`ACCEPT_KEYS`].
pub const DECLINE_KEYS: &str = "[n/d]";
/// See [`ACCEPT_KEYS`].
pub const QUIT_KEY: &str = "[q]";

/// The prompt line while the input line holds text typed in a chat that has ended.
pub const DRAFT_AFTER_CHAT: &str =
    "the chat ended; the text below was not sent and Enter keeps it: Ctrl-U cuts, Ctrl-Y puts back";

/// The prompt line while a dialog is open and the input line holds text.
pub const DIALOG_AFTER_TEXT: &str = "while the input line holds text, keys type into it: Ctrl-U clears it to answer";

/// Who a chat or call is with, once: the user's name and the peer (`ADDR`, or `CONTACT
/// (ADDR)` for a contact, as [`crate::app::App`] labels peers), without an empty name or
/// brackets inside brackets: `bob (127.0.0.2:7777)`, `bob (bobby, 127.0.0.2:7777)`,
/// `127.0.0.2:7777` when the name is not known.
pub fn party(user: &str, peer: &str) -> String {
    let contact = peer.strip_suffix(')').and_then(|p| p.split_once(" ("));
    match (user, contact) {
        ("", _) => peer.to_owned(),
        (user, Some((name, _))) if user == name => peer.to_owned(),
        (user, Some((name, addr))) => format!("{user} ({name}, {addr})"),
        (user, None) => format!("{user} ({peer})"),
    }
}

/// One or two words for the status bar.
pub fn describe(phase: &Phase) -> String {
    match phase {
        Phase::AskName => "choosing a name".into(),
        Phase::Connecting => "connecting".into(),
        Phase::Menu | Phase::AskPeer => "idle".into(),
        Phase::PickLan { .. } => "choosing a daemon on the LAN".into(),
        Phase::Waiting => "waiting for a call".into(),
        Phase::Ringing { peer, user } => format!("request from {}", party(user, peer)),
        Phase::Accepting { peer, user } => format!("accepting {}", party(user, peer)),
        Phase::Starting { peer } => format!("calling {peer}"),
        Phase::Calling { peer } => format!("calling {peer}"),
        Phase::Chatting { peer, user } => format!("chatting with {}", party(user, peer)),
        Phase::Leaving { .. } => "leaving".into(),
        Phase::Reconnecting { daemon } => format!("daemon at {daemon} gone; reconnecting…"),
        Phase::Quitting => "quitting".into(),
    }
}

/// The call or chat a phase is about, for the line saying it ended.
pub fn what(phase: &Phase) -> String {
    match phase {
        Phase::Chatting { user, peer } => format!("chat with {}", named(user, peer)),
        Phase::Calling { peer } | Phase::Starting { peer } => format!("call to {peer}"),
        Phase::Ringing { user, peer } | Phase::Accepting { user, peer } => {
            format!("request from {}", named(user, peer))
        }
        Phase::Leaving { what, .. } => what.clone(),
        _ => "chat".into(),
    }
}

/// The connection to the daemon broke: the front tries again; `restart` starts it.
pub fn daemon_gone(daemon: &str, restart: &str) -> String {
    format!("simpd at {daemon} is gone; reconnecting… (if it is not coming back, start it again with `{restart}`)")
}

/// The daemon accepts connections again.
pub fn daemon_back(daemon: &str) -> String {
    format!("simpd at {daemon} answers again")
}

/// `connected` after the daemon came back.
pub fn reconnected(daemon: &str, user: &str) -> String {
    format!("reconnected to daemon {daemon} as {user}")
}

/// A line typed while the daemon is gone.
pub fn not_connected(daemon: &str) -> String {
    format!("not sent: simpd at {daemon} is gone; reconnecting… (the line stays in the input; q or /quit quits)")
}

/// A call or chat the daemon left by itself (`ended` `you left` that the client did not ask
/// for): it does so as it stops.
pub fn ended_by_daemon(what: &str) -> String {
    format!("{what} ended: the daemon left it (simpd is stopping)")
}

/// A call of ours that we cancelled before it was answered (`ended` `you left`).
pub fn cancelled(what: &str) -> String {
    format!("{what} cancelled")
}

/// A call or chat that ended with the daemon going away.
pub fn ended_with_daemon(what: &str) -> String {
    format!("{what} ended: the daemon went away")
}

/// The reason a message was given up, for the one that was on its way: no ACK came, but
/// its datagrams went out, and the peer may have it.
pub fn may_have_arrived(reason: &str) -> String {
    format!("{reason}; no acknowledgement came, but it was sent and may have arrived")
}

/// The mark of a message the daemon went away without taking (`queued`).
pub const DAEMON_WENT_AWAY: &str = "the daemon went away before taking it";

/// `connected`: the daemon accepted the name.
pub fn connected(daemon: &str, user: &str) -> String {
    format!("connected to daemon {daemon} as {user}")
}

/// `request`: a call waits.
pub fn request(user: &str, peer: &str) -> String {
    format!("request from {}", at(user, peer))
}

/// `calling`: our call is out.
pub fn calling(peer: &str) -> String {
    format!("calling {peer}")
}

/// A call has rung for a while ([`crate::app::RING_HINT_AFTER`]) without an answer.
pub fn still_ringing(peer: &str) -> String {
    format!(
        "still ringing {peer}: nobody has answered yet (a call rings up to 60 s with simpd's default \
         --call-timeout); c or /leave cancels"
    )
}

/// `established`: the chat is open.
pub fn chat_open(user: &str, peer: &str) -> String {
    format!("chat with {} open", at(user, peer))
}

/// `NAME at PEER`, or `PEER` alone when the name is not known (an auto-accepted call's
/// `established` may carry none) or is already there: a contact of that name, `NAME (ADDR)`.
fn at(user: &str, peer: &str) -> String {
    let contact = peer.strip_suffix(')').and_then(|p| p.split_once(" (")).map(|(name, _)| name);
    if user.is_empty() || contact == Some(user) {
        peer.to_owned()
    } else {
        format!("{user} at {peer}")
    }
}

/// The user's name, or the peer when the name is not known.
fn named<'a>(user: &'a str, peer: &'a str) -> &'a str {
    if user.is_empty() {
        peer
    } else {
        user
    }
}

/// The daemon copes with a peer that departs from the spec (IPC.md `peer-quirk`).
pub fn peer_quirk(quirk: &str, detail: &str) -> String {
    format!("note: the peer's daemon has a quirk ({quirk}): {detail}")
}

/// `missed`: a call turned away while we were busy (or away).
pub fn missed(user: &str, peer: &str) -> String {
    format!("missed call from {}: you were busy, they were told so", at(user, peer))
}

/// After declining a request.
pub fn declined(user: &str, peer: &str) -> String {
    format!("you declined the request from {}", at(user, peer))
}

/// `ended`: `what` (from [`what`]) is over; `detail` is the peer's text, e.g. for `busy`.
pub fn ended(what: &str, reason: &EndReason, detail: Option<&str>) -> String {
    let detail = detail.map(|d| format!(" ({d})")).unwrap_or_default();
    format!("{what} ended: {reason}{detail}")
}

/// A menu line that is neither a choice nor an address.
pub fn not_a_choice(line: &str) -> String {
    format!("{line:?} is not a choice here (nothing was sent): /help lists what is")
}

/// A line typed while waiting for a call.
pub const NO_CALL_YET: &str = "no call yet: Enter goes back to the menu, q quits";

/// A line that answers a request with neither yes nor no.
pub const ANSWER_THE_REQUEST: &str = "answer y to accept, n to decline, q to quit";

/// `held`: a run of `count` sent messages to `peer` kept across the daemon's restart.
pub fn held(count: usize, peer: &str) -> String {
    let (what, are, they) =
        if count == 1 { ("1 message".to_owned(), "is", "it") } else { (format!("{count} messages"), "are", "they") };
    format!(
        "{what} to {peer} from before the daemon restarted {are} held: {they} will be sent when the chat with {peer} is open again"
    )
}

/// A held message was delivered, where no line showed it.
pub fn held_delivered(peer: &str, text: &str) -> String {
    format!("held message to {peer} delivered: {text}")
}

/// A held message will not arrive, where no line showed it.
pub fn held_undelivered(peer: &str, reason: &str, text: &str) -> String {
    format!("held message to {peer} undelivered ({reason}): {text}")
}

/// A message whose `chat` command would be a line of `bytes` bytes, over the daemon's `max`.
pub fn too_long(bytes: usize, max: usize) -> String {
    format!("nothing was sent: the message takes {bytes} bytes as a line to the daemon, over its limit of {max}; send it in parts")
}

/// Lines typed ahead for a chat whose call failed.
pub fn held_not_sent(count: usize) -> String {
    let lines = if count == 1 { "1 line".to_owned() } else { format!("{count} lines") };
    format!("{lines} typed for the chat not sent: the call did not open")
}

/// A chat line starting with `/` that is no command.
pub fn unknown_command(cmd: &str) -> String {
    format!("unknown command {cmd}: /help lists them; //text sends /text")
}

/// `/help`: every command that works where the user is: in a chat, at the menus, while a
/// call rings, while the daemon is away.
pub fn help(phase: &Phase) -> Vec<&'static str> {
    let mut lines = vec!["commands:"];
    // While a call rings, typed lines wait for the chat; while the daemon is away, nothing
    // reaches it: only what acts there is listed.
    let ringing_or_away = matches!(phase, Phase::Calling { .. } | Phase::Reconnecting { .. });
    match phase {
        Phase::Calling { .. } => {
            lines.extend(["  TEXT            a message, sent once the chat opens", "  c, /leave       cancel the call"])
        }
        Phase::Reconnecting { .. } => {}
        Phase::Chatting { .. } => lines.extend([
            "  TEXT            send a message (//TEXT sends a line starting with /)",
            "  /leave          end the chat",
            "  /me TEXT        send an action line, * NAME TEXT",
            "  /call PEER      call someone else: one chat at a time, so /leave first",
        ]),
        _ => {
            if *phase == Phase::Menu {
                lines.push("  s, w, l, q      start a chat, wait for a call, list the LAN, quit");
            }
            if matches!(phase, Phase::Menu | Phase::AskPeer | Phase::PickLan { .. }) {
                lines.push("  PEER            an IP, IP:port, localhost or a contact's name: call it");
            }
            lines.push("  /call PEER      call an IP, IP:port, localhost or a contact's name");
        }
    }
    if !ringing_or_away {
        lines.extend([
            "  /lan            list the daemons announcing themselves on the LAN, to call one",
            "  /status         the daemon's state and counters",
            "  /save [NAME]    save the last peer as a contact (in the config file)",
        ]);
    }
    lines.extend([
        "  /who            who you are, who you talk to, your contacts",
        "  /clear          clear the screen's log",
        "  /help           this list",
        "  /quit           quit",
    ]);
    lines
}

/// `/who`: us, the peer, the contacts; `user` and `daemon` are escaped already.
pub fn who(user: Option<&str>, daemon: Option<&str>, phase: &Phase, contacts: &Contacts) -> Vec<String> {
    let mut lines = vec![match user.zip(daemon) {
        Some((user, daemon)) => format!("you are {user}, through the daemon at {daemon}"),
        None => "not connected yet".into(),
    }];
    lines.push(describe(phase));
    if contacts.is_empty() {
        lines.push("no contacts yet: /save NAME after a chat adds one".into());
    } else {
        let list: Vec<String> =
            contacts.iter().map(|(name, addr)| format!("{} ({addr})", escape::field(name))).collect();
        lines.push(format!("contacts: {}", list.join(", ")));
    }
    lines
}

/// `/lan` started listening.
pub fn lan_looking(secs: u64) -> String {
    format!("looking for daemons announcing themselves on the LAN ({secs} s)…")
}

/// `/lan` and `simp --lan` found none.
pub const LAN_NONE: &str =
    "no simp daemon announces itself on this LAN: only daemons started with --announce are listed (simpd IP --announce)";

/// A daemon on the LAN with no client attached.
pub const LAN_NO_CLIENT: &str = "(no client attached)";

/// `/lan` while one is running.
pub const LAN_BUSY: &str = "already looking for daemons on the LAN";

/// `/lan` could not listen.
pub fn lan_failed(why: &str) -> String {
    format!("cannot list the LAN: {why}")
}

/// One daemon `/lan` found, numbered for the choice; `user` is escaped.
pub fn lan_entry(n: usize, addr: &str, user: Option<&str>) -> String {
    format!("  {n}  {addr}  {}", user.unwrap_or(LAN_NO_CLIENT))
}

/// The title of the full-screen list of daemons.
pub const LAN_TITLE: &str = " Daemons on the LAN ";

/// The history of a chat could not be read; the chat goes on without it.
pub fn no_history(message: &str) -> String {
    format!("no stored history for this chat: {message}")
}

/// Above the stored messages shown as a chat with `peer` opens.
pub fn earlier_messages(peer: &str) -> String {
    format!("earlier messages with {peer}, from the daemon's store:")
}

/// Above the oldest stored message with a peer, once paging back reached it.
pub fn history_start(peer: &str) -> String {
    format!("the stored messages with {peer} start here")
}

/// The full-screen log's line before the first entry of a day.
pub fn date_line(date: chrono::NaiveDate) -> String {
    format!("──── {} ────", date.format("%A %-d %B %Y"))
}

/// The line above the first message the user had not seen.
pub const UNREAD: &str = "unread";

/// `/call` in a chat with `party` ([`party`]).
pub fn leave_first(party: &str) -> String {
    format!("one chat at a time: /leave ends the chat with {party}, then /call PEER calls another")
}

/// `/leave` with no chat or call to leave.
pub const NOTHING_TO_LEAVE: &str = "no chat or call to leave: /quit quits";

/// Before the first non-ASCII message sent with `--utf8`.
pub const UTF8_WARNING: &str =
    "sending UTF-8 (--utf8): this is outside the course's SIMP, whose peers may reject or mangle it";

/// `/me` without text.
pub const ME_NEEDS_TEXT: &str = "/me needs text: /me waves";

/// The text `/me TEXT` sends.
pub fn me(user: &str, text: &str) -> String {
    format!("* {user} {text}")
}

/// `/save` before any chat.
pub const NOTHING_TO_SAVE: &str = "no peer to save yet: /save works after a chat has opened";

/// After `/save`.
pub fn saved(name: &str, addr: &str) -> String {
    format!("saved {name} = {addr} to your contacts; /call {name} calls it")
}

/// A chat opened with an address that is no contact; `suggested` is a name `/save` would use.
pub fn offer_to_save(peer: &str, suggested: Option<&str>) -> String {
    match suggested {
        Some(name) => format!("{peer} is not in your contacts: /save keeps it as {name}, /save NAME as NAME"),
        None => format!("{peer} is not in your contacts: /save NAME keeps it"),
    }
}

/// A daemon `error`, with its code so a script can tell them apart.
pub fn daemon_error(code: ErrorCode, message: &str) -> String {
    match code {
        ErrorCode::PeerError => format!("the peer reports an error: {message}"),
        _ => format!("{message} ({})", error_code(code)),
    }
}

/// The wire spelling of an error code, e.g. `queue-full`; also the reason a refused message
/// is marked undelivered.
pub fn error_code(code: ErrorCode) -> String {
    serde_json::to_value(code).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| format!("{code:?}"))
}

/// The answer to `/status`, one line.
pub fn status(s: &Status) -> String {
    let mut out = format!("status: {}", s.state);
    if let Some(peer) = &s.peer {
        out.push_str(&format!(" with {peer}"));
    }
    if let Some(user) = &s.peer_user {
        out.push_str(&format!(" ({})", escape::field(user)));
    }
    if let Some(rtt) = s.rtt_ms {
        out.push_str(&format!(", rtt {rtt:.1} ms"));
    }
    out.push_str(&format!(
        ", rto {} ms, {} retransmissions, {} queued, {} delivered, {} received",
        s.rto_ms, s.retransmissions, s.queued, s.delivered, s.received
    ));
    out
}

/// The question when no daemon answers at `addr` (asked before the session starts).
pub fn offer_daemon(addr: std::net::SocketAddr) -> String {
    format!("no simpd answers at {addr}; start one in this simp, for as long as it runs? [Y/n] ")
}

/// The full-screen prompt line while the client waits for the daemon.
pub const WAITING_FOR_THE_DAEMON: &str = "waiting for the daemon… (q quits)";

/// The full-screen prompt line while quitting.
pub const QUITTING: &str = "quitting…";

/// Shown after Esc, until the next key.
pub const ESC_HINT: &str = "  [Esc: press q to quit]";

/// The question before sending a long message (see `tui::keys::confirm_send`).
pub fn confirm_send(lines: usize, datagrams: usize) -> String {
    let parts = if datagrams > 1 { format!(", sent as {datagrams} datagrams") } else { String::new() };
    format!("send this {lines}-line message{parts}? Enter or y sends, any other key edits it")
}

/// The question after a quit key (Ctrl-C, Esc q) in a chat; `party` from [`party`].
pub fn confirm_quit(party: &str) -> String {
    format!("quit, leaving the chat with {party}? y quits, any other key stays")
}

/// The full-screen status bar: who we are, the phase ([`describe`]), how far the log is
/// scrolled back and how many messages came below meanwhile, and the keys; fitted to `width`
/// columns by dropping the least useful parts first (the keys, the program's name, who we
/// are), then shortening the phase.
pub fn status_bar(
    user_and_daemon: Option<(&str, &str)>,
    phase: &str,
    scroll: usize,
    new: usize,
    width: usize,
) -> String {
    let who = match user_and_daemon {
        Some((user, daemon)) => format!("{user} @ {daemon}"),
        None => "not connected".into(),
    };
    let mut state = String::new();
    let mut short = String::new();
    if scroll > 0 {
        state.push_str(&format!(" │ ↑ {scroll} lines up (PgDn)"));
        short.push_str(&format!(" │ ↑ {scroll}"));
    }
    if new > 0 {
        state.push_str(&format!(" │ ↓ {new} new (End)"));
        short.push_str(&format!(" │ ↓ {new} new"));
    }
    let keys = " │ PgUp/PgDn scroll · Esc q quits";
    let candidates = [
        format!(" simp │ {who} │ {phase}{state}{keys}"),
        format!(" simp │ {who} │ {phase}{state}"),
        format!(" {who} │ {phase}{state}"),
        format!(" {phase}{state}"),
        format!(" {phase}{short}"),
    ];
    if let Some(bar) = candidates.iter().find(|s| escape::width(s) <= width) {
        return bar.clone();
    }
    // The phase shortened, the scroll state kept: the leading space and the ellipsis.
    let (mut bar, mut used) = (String::from(" "), 2 + escape::width(&short));
    for c in phase.chars() {
        used += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used > width {
            break;
        }
        bar.push(c);
    }
    bar.push('…');
    bar.push_str(&short);
    bar
}

/// The request dialog's title.
pub const REQUEST_TITLE: &str = " Incoming chat request ";

/// The request dialog's line after the caller's name.
pub const WANTS_TO_CHAT: &str = " wants to chat";

/// The request dialog's line with the caller's address.
pub fn request_from(peer: &str) -> String {
    format!("from {peer}")
}
