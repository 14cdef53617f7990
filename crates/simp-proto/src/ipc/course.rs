//! The course's client–daemon dialect (IPC.md "Course-compatibility endpoint"): one ASCII
//! datagram per command or event, fields joined by `|`, every field after the first
//! `key=value`.
//!
//! It exists so that the course's own client and grader can drive `simpd`. It is only an
//! adapter: each datagram becomes one of the JSON Lines [`Command`]s and each [`Event`]
//! becomes at most one datagram, so the daemon has one vocabulary and one set of rules for
//! both transports. Pure functions only (bytes in, values out) so they can be tested and
//! fuzzed without sockets.
//!
//! | course datagram (client → daemon) | command |
//! |---|---|
//! | `connect\|username=NAME` | [`Command::Connect`] (answered `ok` via [`Event::Connected`]) |
//! | `invite\|ip=IP\|port=PORT` | [`Command::Start`] (`port` optional, default 7777) |
//! | `accept` / `decline` | [`Command::Accept`] / [`Command::Decline`] |
//! | `send\|text=TEXT` | [`Command::Chat`]; TEXT is everything after `text=`, `\|` included |
//! | `quit` | [`Command::Quit`], answered [`QUIT_ANSWER`] by the shell (no event follows a quit) |
//!
//! | event | course datagram (daemon → client) |
//! |---|---|
//! | `connected` (answer to connect) | `ok` |
//! | `request` | `invitation\|username=NAME\|ip=IP` |
//! | `established` | `connected\|username=NAME` |
//! | `message` | `message\|username=NAME\|text=TEXT` |
//! | `ended` (any reason) | `disconnected` |
//! | `undelivered` | `error\|message=a message was not delivered: REASON` |
//! | `error` | `error\|message=TEXT` |
//! | `calling`, `queued`, `delivered`, `status` | nothing: the dialect has no word for them |

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

use super::{Command, CommandError, Event, DEFAULT_PORT};

/// What the shell answers to `quit`, and all it sends: the endpoint has no event for a quit
/// (its client is gone), but the course's client waits for this answer.
pub const QUIT_ANSWER: &str = "ok";

/// The most characters of a bad datagram that an error message quotes.
pub const QUOTE_LIMIT: usize = 40;

/// Why a datagram is not a command of the dialect; its `Display` is what the client is told.
///
/// Pieces of the datagram quoted in it are cut to [`QUOTE_LIMIT`] characters, so that the
/// answer to a huge datagram still fits in one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing at all (or only a newline).
    #[error("an empty datagram is no command; send e.g. connect|username=NAME")]
    Empty,
    /// Bytes that are not UTF-8 (the dialect is ASCII).
    #[error("the datagram is not ASCII text; send e.g. connect|username=NAME")]
    NotText,
    /// A first field that names no command.
    #[error("unknown command {0:?}; known commands: connect, invite, accept, decline, send, quit")]
    UnknownCommand(String),
    /// A field after the first without `=`.
    #[error("field {0:?} is not key=value; write e.g. invite|ip=192.168.1.20|port=7777")]
    NotKeyValue(String),
    /// A field the command needs is missing.
    #[error("{command} needs {usage}")]
    Missing {
        /// The command.
        command: &'static str,
        /// How to write it.
        usage: &'static str,
    },
    /// `invite` with an `ip` that is not an IP address.
    #[error("{0:?} is not an IP address; write e.g. invite|ip=192.168.1.20|port=7777")]
    BadIp(String),
    /// `invite` with a `port` that is not a number from 1 to 65535.
    #[error("{0:?} is not a port; write a number from 1 to 65535, e.g. port=7777")]
    BadPort(String),
}

/// Parses one datagram of the dialect into a [`Command`].
///
/// One trailing newline (`\n` or `\r\n`) is ignored, so that `echo quit | nc -u …` works by
/// hand. Fields a command does not use are ignored (the course's clients differ in what they
/// add); fields it needs must be there. Validation of their values (the user name, the text)
/// is the endpoint's, exactly as for the JSON Lines transport.
pub fn parse_command(datagram: &[u8]) -> Result<Command, ParseError> {
    let text = std::str::from_utf8(datagram).map_err(|_| ParseError::NotText)?;
    let text = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(text);
    if text.is_empty() {
        return Err(ParseError::Empty);
    }
    let (name, rest) = text.split_once('|').unwrap_or((text, ""));
    match name {
        "connect" => {
            let user = field(rest, "username")?
                .ok_or(ParseError::Missing { command: "connect", usage: "a name: connect|username=NAME" })?;
            Ok(Command::Connect { user: user.to_owned() })
        }
        "invite" => {
            let ip = field(rest, "ip")?
                .ok_or(ParseError::Missing { command: "invite", usage: "an address: invite|ip=IP|port=7777" })?;
            let ip: IpAddr = ip.trim().parse().map_err(|_| ParseError::BadIp(quote(ip)))?;
            let port = match field(rest, "port")? {
                None => DEFAULT_PORT,
                Some(port) => match port.trim().parse::<u16>() {
                    Ok(port) if port != 0 => port,
                    _ => return Err(ParseError::BadPort(quote(port))),
                },
            };
            Ok(Command::Start { peer: SocketAddr::new(ip, port).to_string() })
        }
        "accept" => Ok(Command::Accept),
        "decline" => Ok(Command::Decline),
        "send" => {
            // The text is the rest of the datagram: a `|` in a message is text, not a field.
            let text = rest
                .strip_prefix("text=")
                .ok_or(ParseError::Missing { command: "send", usage: "the text: send|text=TEXT" })?;
            Ok(Command::Chat { text: text.to_owned(), id: None, utf8: None })
        }
        "quit" => Ok(Command::Quit),
        other => Err(ParseError::UnknownCommand(quote(other))),
    }
}

/// A field value that cannot forge another field: a peer's name is the peer's to choose, so a
/// `|` in it is escaped like any other odd byte (`\x7c`). The text of a message needs no such
/// care: it is the last field and runs to the end of the datagram.
fn guard(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains('|') {
        value.replace('|', "\\x7c").into()
    } else {
        value.into()
    }
}

/// The datagram that tells the client `event`, or `None` for events the dialect has no word
/// for (`calling`, `queued`, `delivered`, `missed`, `status`, `peer-quirk`): those are not sent.
pub fn format_event(event: &Event) -> Option<String> {
    Some(match event {
        Event::Connected { .. } => "ok".to_owned(),
        Event::Request { peer, user } => format!("invitation|username={}|ip={}", guard(user), peer.ip()),
        Event::Established { user, .. } => format!("connected|username={}", guard(user)),
        Event::Message { user, text, .. } => format!("message|username={}|text={text}", guard(user)),
        // The dialect has one word for a call or chat that is over, whatever the reason.
        Event::Ended { .. } => "disconnected".to_owned(),
        Event::Undelivered { reason, .. } => format_error(&format!("a message was not delivered: {reason}")),
        Event::Refused(error) => format_error(&refusal_message(error)),
        Event::Error { message, .. } => format_error(message),
        Event::Calling { .. }
        | Event::Queued { .. }
        | Event::Delivered { .. }
        | Event::Missed { .. }
        | Event::Status(_)
        | Event::PeerQuirk { .. }
        | Event::History(_)
        | Event::HistoryEnd { .. }
        | Event::Held { .. }
        | Event::Forgotten { .. } => return None,
    })
}

/// The dialect's words for a refused command: its advice names its own commands.
pub fn refusal_message(error: &CommandError) -> Cow<'static, str> {
    match error {
        CommandError::NotConnected => Cow::Borrowed("send connect|username=NAME first"),
        other => Cow::Owned(other.to_string()),
    }
}

/// `error|message=MESSAGE`: how the dialect reports any failure.
pub fn format_error(message: &str) -> String {
    format!("error|message={message}")
}

/// The value of the first `key=value` field named `key` in `fields` (the datagram after its
/// command), or an error if a field is not `key=value`.
fn field<'a>(fields: &'a str, key: &str) -> Result<Option<&'a str>, ParseError> {
    if fields.is_empty() {
        return Ok(None);
    }
    let mut found = None;
    for f in fields.split('|') {
        let (k, v) = f.split_once('=').ok_or_else(|| ParseError::NotKeyValue(quote(f)))?;
        if k == key && found.is_none() {
            found = Some(v);
        }
    }
    Ok(found)
}

/// At most [`QUOTE_LIMIT`] characters of `text`, marked with `...` when cut.
fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_LIMIT) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::EndReason;

    fn ok(datagram: &str) -> Command {
        parse_command(datagram.as_bytes()).unwrap()
    }

    fn err(datagram: &[u8]) -> ParseError {
        parse_command(datagram).unwrap_err()
    }

    #[test]
    fn every_command_of_the_dialect_parses() {
        assert_eq!(ok("connect|username=alice"), Command::Connect { user: "alice".into() });
        assert_eq!(ok("invite|ip=127.0.0.2|port=7777"), Command::Start { peer: "127.0.0.2:7777".into() });
        assert_eq!(ok("invite|ip=127.0.0.2|port=9000"), Command::Start { peer: "127.0.0.2:9000".into() });
        assert_eq!(ok("invite|port=9000|ip=127.0.0.2"), Command::Start { peer: "127.0.0.2:9000".into() });
        assert_eq!(ok("invite|ip=127.0.0.2"), Command::Start { peer: "127.0.0.2:7777".into() });
        assert_eq!(ok("invite|ip=::1|port=7777"), Command::Start { peer: "[::1]:7777".into() });
        assert_eq!(ok("accept"), Command::Accept);
        assert_eq!(ok("decline"), Command::Decline);
        assert_eq!(ok("send|text=hello"), Command::Chat { text: "hello".into(), id: None, utf8: None });
        assert_eq!(ok("quit"), Command::Quit);
    }

    #[test]
    fn send_takes_everything_after_text_as_the_text() {
        assert_eq!(ok("send|text=a|b"), Command::Chat { text: "a|b".into(), id: None, utf8: None });
        assert_eq!(ok("send|text=x=y|text=z"), Command::Chat { text: "x=y|text=z".into(), id: None, utf8: None });
        assert_eq!(ok("send|text="), Command::Chat { text: String::new(), id: None, utf8: None });
        assert_eq!(ok("send|text=two\nlines"), Command::Chat { text: "two\nlines".into(), id: None, utf8: None });
    }

    #[test]
    fn one_trailing_newline_is_ignored() {
        assert_eq!(ok("quit\n"), Command::Quit);
        assert_eq!(ok("accept\r\n"), Command::Accept);
        assert_eq!(ok("connect|username=bob\n"), Command::Connect { user: "bob".into() });
        assert_eq!(ok("send|text=hi\n\n"), Command::Chat { text: "hi\n".into(), id: None, utf8: None });
    }

    #[test]
    fn unused_fields_are_ignored_and_values_are_left_to_the_endpoint() {
        assert_eq!(ok("accept|x=1"), Command::Accept);
        assert_eq!(ok("connect|username=alice|version=2"), Command::Connect { user: "alice".into() });
        // An empty or overlong name is the endpoint's to refuse (bad-user), as over TCP.
        assert_eq!(ok("connect|username="), Command::Connect { user: String::new() });
    }

    #[test]
    fn malformed_datagrams_are_errors_a_person_can_act_on() {
        assert_eq!(err(b""), ParseError::Empty);
        assert_eq!(err(b"\n"), ParseError::Empty);
        assert_eq!(err(b"\xff\xfe"), ParseError::NotText);
        assert_eq!(err(b"dance"), ParseError::UnknownCommand("dance".into()));
        assert_eq!(err(b"CONNECT|username=a"), ParseError::UnknownCommand("CONNECT".into()));
        assert!(matches!(err(b"connect"), ParseError::Missing { command: "connect", .. }));
        assert!(matches!(err(b"connect|user=a"), ParseError::Missing { command: "connect", .. }));
        assert_eq!(err(b"connect|username=a|b"), ParseError::NotKeyValue("b".into()));
        assert!(matches!(err(b"invite|port=7777"), ParseError::Missing { command: "invite", .. }));
        assert_eq!(err(b"invite|ip=bob.example"), ParseError::BadIp("bob.example".into()));
        assert_eq!(err(b"invite|ip=127.0.0.2|port=0"), ParseError::BadPort("0".into()));
        assert_eq!(err(b"invite|ip=127.0.0.2|port=65536"), ParseError::BadPort("65536".into()));
        assert!(matches!(err(b"send"), ParseError::Missing { command: "send", .. }));
        assert!(matches!(err(b"send|txt=hi"), ParseError::Missing { command: "send", .. }));
        let message = err(b"dance").to_string();
        assert!(message.contains("connect, invite"), "{message}");
    }

    #[test]
    fn huge_and_arbitrary_datagrams_never_panic() {
        let huge = vec![b'|'; 65_507];
        assert!(parse_command(&huge).is_err());
        let huge = vec![b'x'; 65_507];
        let message = parse_command(&huge).unwrap_err().to_string();
        assert!(message.len() < 200 && message.contains(&format!("\"{}...\"", "x".repeat(QUOTE_LIMIT))), "{message}");
        let message = parse_command(format!("invite|ip={}", "é".repeat(50_000)).as_bytes()).unwrap_err().to_string();
        assert!(message.len() < 200, "{message}");
        let mut send = b"send|text=".to_vec();
        send.extend(std::iter::repeat_n(b'x', 65_000));
        assert!(matches!(parse_command(&send), Ok(Command::Chat { text, .. }) if text.len() == 65_000));
        for bytes in [&b"|"[..], b"||", b"=", b"|=", b"invite|=", b"invite||", b"send|", b"\0", b"\r\n", b"\r"] {
            let _ = parse_command(bytes);
        }
    }

    proptest::proptest! {
        /// Whatever arrives on the UDP port: no panic, and an error short enough to send back
        /// in one datagram (quotes are cut; Debug escaping at most 10 bytes a character).
        #[test]
        fn arbitrary_bytes_parse_or_get_a_short_error(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096)) {
            if let Err(error) = parse_command(&bytes) {
                proptest::prop_assert!(error.to_string().len() <= 150 + 10 * QUOTE_LIMIT);
            }
        }

        #[test]
        fn arbitrary_text_parses_or_gets_a_short_error(text in "[a-z|=:.0-9 \\PC]{0,200}") {
            if let Err(error) = parse_command(text.as_bytes()) {
                proptest::prop_assert!(error.to_string().len() <= 150 + 10 * QUOTE_LIMIT);
            }
        }
    }

    #[test]
    fn events_map_to_the_dialect() {
        let fmt = |e: Event| format_event(&e);
        assert_eq!(
            fmt(Event::Connected {
                user: "alice".into(),
                daemon: "127.0.0.1:7777".parse().unwrap(),
                version: "0".into()
            }),
            Some("ok".into())
        );
        assert_eq!(
            fmt(Event::Request { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }),
            Some("invitation|username=bob|ip=127.0.0.2".into())
        );
        assert_eq!(
            fmt(Event::Request { peer: "[::1]:7777".parse().unwrap(), user: "bob".into() }),
            Some("invitation|username=bob|ip=::1".into())
        );
        assert_eq!(
            fmt(Event::Established { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }),
            Some("connected|username=bob".into())
        );
        assert_eq!(
            fmt(Event::Message { id: 1, at: 0, user: "bob".into(), text: "a|b".into() }),
            Some("message|username=bob|text=a|b".into())
        );
        for reason in [EndReason::PeerLeft, EndReason::YouLeft, EndReason::Declined, EndReason::NoAnswer] {
            assert_eq!(fmt(Event::Ended { reason, detail: None }), Some("disconnected".into()));
        }
        assert_eq!(
            fmt(Event::Ended { reason: EndReason::Busy, detail: Some("User already in another chat".into()) }),
            Some("disconnected".into())
        );
        assert_eq!(
            fmt(Event::Undelivered { id: "1".into(), reason: EndReason::PeerUnreachable }),
            Some("error|message=a message was not delivered: peer unreachable".into())
        );
        assert_eq!(
            fmt(Event::Refused(CommandError::NoRequest)),
            Some("error|message=no call is waiting for an answer".into())
        );
        assert_eq!(
            fmt(Event::Refused(CommandError::NotConnected)),
            Some("error|message=send connect|username=NAME first".into())
        );
        assert_eq!(fmt(Event::Calling { peer: "127.0.0.2:7777".parse().unwrap() }), None);
        assert_eq!(fmt(Event::Queued { id: "1".into() }), None);
        assert_eq!(fmt(Event::Delivered { id: "1".into() }), None);
    }

    #[test]
    fn a_formatted_command_parses_back() {
        // What the course's client sends for what it was told: the two sides agree on `|`.
        let Some(invitation) =
            format_event(&Event::Request { peer: "127.0.0.9:7777".parse().unwrap(), user: "eve".into() })
        else {
            panic!("request has a course word")
        };
        let ip = invitation.rsplit_once("ip=").map(|(_, ip)| ip).unwrap_or_default();
        assert_eq!(ok(&format!("invite|ip={ip}|port=7777")), Command::Start { peer: "127.0.0.9:7777".into() });
    }

    #[test]
    fn a_peer_name_cannot_forge_a_field() {
        let e = Event::Request { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob|ip=6.6.6.6".into() };
        assert_eq!(format_event(&e).unwrap(), "invitation|username=bob\\x7cip=6.6.6.6|ip=127.0.0.2");
        let m = Event::Message { id: 1, at: 0, user: "a|b".into(), text: "x|y".into() };
        assert_eq!(format_event(&m).unwrap(), "message|username=a\\x7cb|text=x|y");
    }
}
