//! The one JSON Lines codec of IPC.md, both ways: a client's line in, a typed [`Command`] out
//! and an [`Event`] out as one line (the daemon's side); the reverse for the client; and the
//! splitting of long messages so that every `message` event fits IPC.md's line limit.
//!
//! Kept pure (bytes in, value out, no I/O) so that it can be fuzzed and unit-tested on its
//! own, and so that the connection code never has to look inside a line. Reading lines off a
//! socket (with the cap of [`MAX_LINE`]) belongs to the transports.

use std::borrow::Cow;

use super::{Command, CommandError, ErrorCode, Event, MAX_LINE};

/// Parses one line (without its newline) into a [`Command`].
///
/// The error is what the client must be told, as the `code` and `message` of an `error` event:
/// `bad-json` when the line is not a JSON object, `unknown-cmd` when its `cmd` is missing or
/// unknown or its fields do not fit that command. Separating the two lets a client tell a
/// framing bug from a vocabulary mismatch (e.g. a newer client talking to an older daemon).
pub fn parse_command(line: &[u8]) -> Result<Command, (ErrorCode, String)> {
    if let Some(command) = fast_path(line) {
        return Ok(command);
    }
    let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| {
        (
            ErrorCode::BadJson,
            format!("the line is not valid JSON ({e}); send one JSON object per line, such as {{\"cmd\":\"status\"}}"),
        )
    })?;
    let serde_json::Value::Object(object) = &value else {
        return Err((
            ErrorCode::BadJson,
            format!("expected a JSON object such as {{\"cmd\":\"status\"}}, got {}", kind_of(&value)),
        ));
    };
    let known = Command::NAMES.join(", ");
    let name = match object.get("cmd") {
        Some(serde_json::Value::String(name)) => name,
        Some(other) => {
            return Err((
                ErrorCode::UnknownCmd,
                format!("\"cmd\" must be a string, got {}; known commands: {known}", kind_of(other)),
            ))
        }
        None => return Err((ErrorCode::UnknownCmd, format!("the object has no \"cmd\"; known commands: {known}"))),
    };
    if !Command::NAMES.contains(&name.as_str()) {
        return Err((ErrorCode::UnknownCmd, format!("unknown command {name:?}; known commands: {known}")));
    }
    let command: Command = serde_json::from_value(value.clone())
        .map_err(|e| (ErrorCode::UnknownCmd, format!("wrong fields for {name:?}: {e}; see IPC.md for its fields")))?;
    // serde's `deny_unknown_fields` does not reach the field-less variants of an internally
    // tagged enum (`{"cmd":"accept","x":1}` parses), so extra fields are caught here: every
    // field given must be one the command has (an absent optional field serializes as nothing,
    // so a `null` is let through for it).
    let canonical = serde_json::to_value(&command).unwrap_or_default();
    if let Some(extra) = object.iter().find(|(key, v)| !v.is_null() && canonical.get(key.as_str()).is_none()) {
        return Err((ErrorCode::UnknownCmd, format!("{name:?} has no field {:?}; see IPC.md for its fields", extra.0)));
    }
    Ok(command)
}

/// Every field any command has, read in one pass with no intermediate `Value` (a `chat` is
/// the hot path of a busy client: the general path below costs several times more).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields<'a> {
    #[serde(borrow)]
    cmd: &'a str,
    #[serde(default)]
    user: Field,
    #[serde(default)]
    peer: Field,
    #[serde(default)]
    text: Field,
    #[serde(default)]
    id: Field,
}

/// A string field as given: absent, `null`, or a string.
#[derive(Default)]
enum Field {
    #[default]
    Absent,
    Null,
    Given(String),
}

impl<'de> serde::Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Field, D::Error> {
        Ok(<Option<String> as serde::Deserialize>::deserialize(deserializer)?.map_or(Field::Null, Field::Given))
    }
}

/// A well-formed command with exactly its own fields. Anything else (escapes in `cmd`, other
/// fields even when `null`, duplicate fields, wrong types, bad JSON) gives `None`, and the
/// general path decides, with its full diagnostics; so both paths always agree.
fn fast_path(line: &[u8]) -> Option<Command> {
    use Field::{Absent, Given, Null};
    let f: Fields<'_> = serde_json::from_slice(line).ok()?;
    match (f.cmd, f.user, f.peer, f.text, f.id) {
        ("chat", Absent, Absent, Given(text), Absent | Null) => Some(Command::Chat { text, id: None, utf8: None }),
        ("chat", Absent, Absent, Given(text), Given(id)) => Some(Command::Chat { text, id: Some(id), utf8: None }),
        ("connect", Given(user), Absent, Absent, Absent) => Some(Command::Connect { user }),
        ("start", Absent, Given(peer), Absent, Absent) => Some(Command::Start { peer }),
        (cmd, Absent, Absent, Absent, Absent) => match cmd {
            "accept" => Some(Command::Accept),
            "decline" => Some(Command::Decline),
            "leave" => Some(Command::Leave),
            "quit" => Some(Command::Quit),
            "status" => Some(Command::Status),
            _ => None,
        },
        _ => None,
    }
}

/// Appends `event` as one JSON line to `out` (the daemon's side).
pub fn write_event(out: &mut Vec<u8>, event: &Event) -> Result<(), serde_json::Error> {
    serde_json::to_writer(&mut *out, event)?;
    out.push(b'\n');
    Ok(())
}

/// The JSON Lines words for a refused command: IPC.md's `error` event, whose `message` gives
/// advice in this transport's own terms.
pub fn refusal_message(error: &CommandError) -> Cow<'static, str> {
    match error {
        CommandError::NotConnected => Cow::Borrowed("send {\"cmd\":\"connect\",\"user\":\"NAME\"} first"),
        other => Cow::Owned(other.to_string()),
    }
}

/// [`Event::Refused`] as the `code` and `message` of an `error` event (the `event` tag is
/// serde's).
pub(crate) fn serialize_refusal<S: serde::Serializer>(error: &CommandError, serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut event = serializer.serialize_struct("Error", 2)?;
    event.serialize_field("code", &error.code())?;
    event.serialize_field("message", &refusal_message(error))?;
    event.end()
}

/// Parses one line from the daemon (without its newline) into an [`Event`] (the client's
/// side). An error means a line this version does not understand, e.g. from a newer daemon.
pub fn parse_event(line: &[u8]) -> Result<Event, serde_json::Error> {
    serde_json::from_slice(line)
}

/// Appends `command` as one JSON line to `out` (the client's side).
pub fn write_command(out: &mut Vec<u8>, command: &Command) -> Result<(), serde_json::Error> {
    serde_json::to_writer(&mut *out, command)?;
    out.push(b'\n');
    Ok(())
}

/// What the escaped text of one `message` event may take once JSON-encoded: IPC.md's 64 KiB
/// line, less room for the event's other fields (an escaped 32-byte name takes at most 256
/// bytes in JSON). A longer message (a byte above 0x7F takes four characters escaped, five in
/// JSON) becomes several consecutive `message` events.
pub(crate) const MESSAGE_JSON_BUDGET: usize = MAX_LINE - 512;

/// Bytes that JSON needs for one character of escaped text (printable ASCII, TAB or LF).
fn json_cost(b: u8) -> usize {
    match b {
        b'"' | b'\\' | b'\t' | b'\n' => 2,
        _ => 1,
    }
}

/// Splits escaped text into pieces whose JSON fits [`MESSAGE_JSON_BUDGET`], never inside a
/// `\xNN`. Text that fits is one piece.
pub(crate) fn chunks(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        // Escaped text is ASCII, so every index is a char boundary.
        let bytes = rest.as_bytes();
        let mut cost = 0;
        let mut cut = bytes.len();
        for (i, &b) in bytes.iter().enumerate() {
            cost += json_cost(b);
            if cost > MESSAGE_JSON_BUDGET {
                cut = i;
                break;
            }
        }
        // Step back over an escape that the cut would split.
        if let Some(back) = (1..4).find(|&k| cut >= k && cut < bytes.len() && bytes[cut - k..].starts_with(b"\\x")) {
            cut -= back;
        }
        let (head, tail) = rest.split_at(cut.max(1));
        rest = tail;
        Some(head)
    })
}

fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(line: &str) -> ErrorCode {
        parse_command(line.as_bytes()).unwrap_err().0
    }

    #[test]
    fn parses_every_command_of_ipc_md() {
        let ok = |line: &str| parse_command(line.as_bytes()).unwrap();
        assert_eq!(ok(r#"{"cmd":"connect","user":"alice"}"#), Command::Connect { user: "alice".into() });
        assert_eq!(ok(r#"{"cmd":"start","peer":"127.0.0.2"}"#), Command::Start { peer: "127.0.0.2".into() });
        assert_eq!(ok(r#"{"cmd":"accept"}"#), Command::Accept);
        assert_eq!(ok(r#"{"cmd":"decline"}"#), Command::Decline);
        assert_eq!(
            ok(r#" {"cmd":"chat","text":"hi","id":"7"} "#),
            Command::Chat { text: "hi".into(), id: Some("7".into()), utf8: None }
        );
        assert_eq!(ok(r#"{"cmd":"leave"}"#), Command::Leave);
        assert_eq!(ok("{\"cmd\":\"quit\"}\r"), Command::Quit);
        assert_eq!(ok(r#"{"cmd":"status"}"#), Command::Status);
    }

    #[test]
    fn malformed_lines_are_bad_json() {
        assert_eq!(code("{"), ErrorCode::BadJson);
        assert_eq!(code("hello"), ErrorCode::BadJson);
        assert_eq!(code("[1,2]"), ErrorCode::BadJson);
        assert_eq!(code("\"connect\""), ErrorCode::BadJson);
        assert_eq!(parse_command(b"{\"cmd\":\"chat\",\"text\":\"\xff\"}").unwrap_err().0, ErrorCode::BadJson);
        let deep = "[".repeat(100_000);
        assert_eq!(code(&deep), ErrorCode::BadJson);
    }

    #[test]
    fn unknown_commands_and_wrong_fields_are_unknown_cmd() {
        let (c, message) = parse_command(br#"{"cmd":"dance"}"#).unwrap_err();
        assert_eq!(c, ErrorCode::UnknownCmd);
        assert!(message.contains("dance") && message.contains("connect, start"), "{message}");
        assert_eq!(code(r#"{"user":"alice"}"#), ErrorCode::UnknownCmd);
        assert_eq!(code(r#"{"cmd":7}"#), ErrorCode::UnknownCmd);
        let (c, message) = parse_command(br#"{"cmd":"start"}"#).unwrap_err();
        assert_eq!(c, ErrorCode::UnknownCmd);
        assert!(message.contains("peer"), "{message}");
        assert_eq!(code(r#"{"cmd":"accept","extra":1}"#), ErrorCode::UnknownCmd);
        assert_eq!(code(r#"{"cmd":"chat","text":5}"#), ErrorCode::UnknownCmd);
        assert_eq!(code(r#"{"cmd":"connect","user":"a","peer":"b"}"#), ErrorCode::UnknownCmd);
        assert!(parse_command(br#"{"cmd":"chat","text":"x","id":null}"#).is_ok());
    }

    #[test]
    fn the_fast_path_agrees_with_the_general_one() {
        let lines = [
            r#"{"cmd":"chat","text":"hi"}"#,
            r#"{"cmd":"chat","text":"hi","id":"7"}"#,
            r#"{"cmd":"chat","text":"h\u0069 \"x\"","id":null}"#,
            r#"{"id":"1","text":"reordered","cmd":"chat"}"#,
            r#"{"cmd":"chat","text":"x","user":null}"#,
            r#"{"cmd":"connect","user":"alice"}"#,
            r#"{"cmd":"start","peer":"127.0.0.2:7777"}"#,
            r#"{"cmd":"accept"}"#,
            r#"{"cmd":"status","id":null}"#,
            r#"{"cmd":"connect","user":"a","id":null}"#,
            r#"{"cmd":"start","peer":null}"#,
            r#"{"cmd":"c\u0068at","text":"escaped name"}"#,
            r#"{"cmd":"chat","text":"dup","text":"dup"}"#,
            r#"{"cmd":"chat"}"#,
            r#"{"cmd":"chat","text":"x","peer":"y"}"#,
            r#"{"cmd":"accept","id":"1"}"#,
            r#"{"cmd":"quit","x":1}"#,
            r#"{"cmd":"dance"}"#,
            r#"{"cmd":"chat","text":5}"#,
        ];
        for line in lines {
            let general = {
                // The general path alone: what parse_command did before the fast path.
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                let object = value.as_object().unwrap();
                let name = object.get("cmd").and_then(|v| v.as_str()).unwrap_or_default();
                serde_json::from_value::<Command>(value.clone()).ok().filter(|c| {
                    let canonical = serde_json::to_value(c).unwrap();
                    Command::NAMES.contains(&name)
                        && object.iter().all(|(k, v)| v.is_null() || canonical.get(k.as_str()).is_some())
                })
            };
            if let Some(fast) = fast_path(line.as_bytes()) {
                assert_eq!(Some(fast), general, "{line}");
            }
            assert_eq!(parse_command(line.as_bytes()).ok(), general, "{line}");
        }
        assert!(fast_path(br#"{"cmd":"chat","text":"hi"}"#).is_some(), "the hot path is taken");
    }

    #[test]
    fn events_are_one_line_each() {
        let mut out = Vec::new();
        write_event(&mut out, &Event::error(ErrorCode::ClientBusy, "a\nb")).unwrap();
        write_event(&mut out, &Event::Queued { id: "1".into() }).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [r#"{"event":"error","code":"client-busy","message":"a\nb"}"#, r#"{"event":"queued","id":"1"}"#]
        );
    }

    #[test]
    fn a_refusal_is_an_error_event_in_this_transport_s_words() {
        let line = |e: Event| {
            let mut out = Vec::new();
            write_event(&mut out, &e).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            line(Event::Refused(CommandError::NotConnected)),
            "{\"event\":\"error\",\"code\":\"not-connected\",\"message\":\"send {\\\"cmd\\\":\\\"connect\\\",\\\"user\\\":\\\"NAME\\\"} first\"}\n"
        );
        let busy = line(Event::Refused(CommandError::InSession { peer: Some("[::1]:7777".parse().unwrap()) }));
        assert_eq!(
            busy,
            "{\"event\":\"error\",\"code\":\"busy\",\"message\":\"already in a chat or call with [::1]:7777; leave it first\"}\n"
        );
        // A client reads it back as the plain error event.
        assert!(matches!(parse_event(busy.trim_end().as_bytes()), Ok(Event::Error { code: ErrorCode::Busy, .. })));
    }

    #[test]
    fn the_utf8_opt_in_goes_both_ways_as_given() {
        for utf8 in [Some(true), Some(false), None] {
            let chat = Command::Chat { text: "caf\u{e9} \u{20ac}".into(), id: Some("7".into()), utf8 };
            let mut out = Vec::new();
            write_command(&mut out, &chat).unwrap();
            assert_eq!(parse_command(&out[..out.len() - 1]).unwrap(), chat, "{}", String::from_utf8_lossy(&out));
        }
        let ok = |line: &str| parse_command(line.as_bytes()).unwrap();
        assert_eq!(
            ok(r#"{"cmd":"chat","text":"é","utf8":true}"#),
            Command::Chat { text: "é".into(), id: None, utf8: Some(true) }
        );
        assert_eq!(code(r#"{"cmd":"chat","text":"é","utf8":"yes"}"#), ErrorCode::UnknownCmd);
        assert_eq!(code(r#"{"cmd":"status","utf8":true}"#), ErrorCode::UnknownCmd);
    }

    #[test]
    fn commands_and_events_go_both_ways() {
        let mut out = Vec::new();
        write_command(&mut out, &Command::Chat { text: "hi".into(), id: Some("7".into()), utf8: None }).unwrap();
        assert_eq!(out, b"{\"cmd\":\"chat\",\"text\":\"hi\",\"id\":\"7\"}\n");
        assert_eq!(
            parse_command(&out[..out.len() - 1]).unwrap(),
            Command::Chat { text: "hi".into(), id: Some("7".into()), utf8: None }
        );
        let event = Event::Delivered { id: "7".into() };
        let mut out = Vec::new();
        write_event(&mut out, &event).unwrap();
        assert_eq!(parse_event(&out[..out.len() - 1]).unwrap(), event);
        assert!(parse_event(br#"{"event":"dance"}"#).is_err());
    }

    #[test]
    fn chunks_never_cut_an_escape() {
        for lead in 0..4 {
            let text = format!("{}{}", "a".repeat(lead), "\\xff".repeat(40_000));
            let pieces: Vec<&str> = chunks(&text).collect();
            assert_eq!(pieces.concat(), text);
            for p in &pieces {
                assert!(p.len() <= MESSAGE_JSON_BUDGET);
                let tail = p.trim_start_matches('a');
                assert!(
                    tail.len() % 4 == 0 && (tail.is_empty() || tail.starts_with("\\x")),
                    "lead {lead}: a cut escape"
                );
            }
        }
    }
}
