//! SPEC 1, datagram format: the header of everything the target sends in an ordinary
//! exchange (handshake, one message each way when driven, close).

use simp_proto::wire::{Kind, HEADER_LEN, USER_LEN};

use crate::case::{blocked, fail, Body, Case, Ctx, Level, Verdict};
use crate::seen::{declared_len, Seen};

pub(super) fn cases() -> Vec<Case> {
    let case = |id, title, level, body| Case { id, title, level, needs_driver: None, body: Body::Serial(body) };
    vec![
        case("1/header-size", "every datagram has the 39-byte header, length field included", Level::Must, header_size),
        case("1/type-op", "type is 0x01 or 0x02 and the operation is in the table for it", Level::Must, type_op),
        case("1/seq", "the sequence byte is 0x00 or 0x01", Level::Must, seq),
        case("1/length", "the big-endian length equals the payload's size, nothing appended", Level::Must, length),
        case(
            "1/user-padding",
            "the user field is NUL-padded (space padding is tolerated)",
            Level::Should,
            user_padding,
        ),
    ]
}

/// An ordinary exchange; returns everything the target sent. Never fails by itself: the
/// header cases judge what it gathered.
fn sample(ctx: &mut Ctx<'_>) -> Result<Vec<Seen>, crate::case::Stop> {
    let wait = ctx.settings.answer_wait();
    let peer = ctx.peer()?;
    let mut seen = Vec::new();
    let driven = ctx.settings.drive != crate::Drive::None;
    peer.send_kind(Kind::Syn, 0, b"")?;
    if driven {
        ctx.wait_user(wait, |e| *e == crate::driver::UserEvent::Request)?;
        ctx.user(crate::driver::UserCommand::Accept)?;
    }
    let (first, others) = peer.wait_for(wait, |_| true)?;
    seen.extend(others);
    let Some(first) = first else { return Ok(seen) };
    seen.push(first);
    peer.send_kind(Kind::Ack, 0, b"")?;
    peer.send_kind(Kind::Chat, 0, b"header sample")?;
    seen.extend(peer.listen(ctx.settings.quiet())?);
    if driven {
        ctx.user(crate::driver::UserCommand::Chat("sample from the target".to_owned()))?;
        let (chat, others) = peer.wait_for(wait, |s| s.kind() == Some(Kind::Chat))?;
        seen.extend(others);
        if let Some(chat) = chat {
            peer.send_kind(Kind::Ack, chat.seq().unwrap_or(0), b"")?;
            seen.push(chat);
        }
    }
    peer.send_kind(Kind::Fin, 0, b"")?;
    seen.extend(peer.listen(ctx.settings.quiet())?);
    Ok(seen)
}

fn sampled(ctx: &mut Ctx<'_>) -> Result<Vec<Seen>, crate::case::Stop> {
    let seen = sample(ctx)?;
    if seen.is_empty() {
        return blocked("the target sent nothing to judge (no answer to SYN; see 2.1/callee-syn-ack)");
    }
    Ok(seen)
}

fn header_size(ctx: &mut Ctx<'_>) -> Verdict {
    for s in sampled(ctx)? {
        if s.bytes.len() < HEADER_LEN {
            let hint = if s.bytes.len() == HEADER_LEN - 4 {
                " — exactly the header without its 4-byte length field"
            } else {
                ""
            };
            return fail(format!(
                "your daemon sent a {}-byte datagram ({}){hint}; SPEC 1: every datagram starts with the 39-byte header (type, operation, sequence, 32-byte user, 4-byte length), control datagrams included",
                s.bytes.len(),
                s.describe()
            ));
        }
    }
    Ok(None)
}

fn type_op(ctx: &mut Ctx<'_>) -> Verdict {
    for s in sampled(ctx)? {
        if let [ty, op, ..] = s.bytes[..] {
            if let Err(e) = Kind::from_bytes(ty, op) {
                return fail(format!(
                    "your daemon sent type 0x{ty:02x} operation 0x{op:02x} ({e}); SPEC 1: type 0x01 control (ERR 0x01, SYN 0x02, ACK 0x04, SYN+ACK 0x06, FIN 0x08) or 0x02 chat (operation 0x01)"
                ));
            }
        }
    }
    Ok(None)
}

fn seq(ctx: &mut Ctx<'_>) -> Verdict {
    for s in sampled(ctx)? {
        if let Some(b) = s.seq().filter(|&b| b > 1) {
            return fail(format!(
                "your daemon sent {} with sequence byte {b}; SPEC 1: the sequence is 0x00 or 0x01 (an alternating bit, not a counter)",
                s.describe()
            ));
        }
    }
    Ok(None)
}

fn length(ctx: &mut Ctx<'_>) -> Verdict {
    for s in sampled(ctx)? {
        let Some(declared) = declared_len(&s.bytes) else { continue };
        let actual = s.bytes.len() - HEADER_LEN;
        if declared == actual {
            continue;
        }
        let little = u32::try_from(actual).map(u32::swap_bytes).ok().and_then(|v| usize::try_from(v).ok());
        let why = if little == Some(declared) && actual != 0 {
            "the length is little-endian; SPEC 1: multi-byte integers are big-endian".to_owned()
        } else if declared < actual {
            let text = s.bytes.get(HEADER_LEN..HEADER_LEN + declared).map(String::from_utf8_lossy).unwrap_or_default();
            format!(
                "{} bytes follow the {declared}-byte payload ({text:?}) the length field announces: a checksum or trailer? SPEC 1: the datagram is the header and `length` bytes of payload, nothing after",
                actual - declared
            )
        } else {
            format!("the length field says {declared} bytes but only {actual} follow the header; SPEC 1: length is the payload's size")
        };
        return fail(format!("your daemon sent {}: {why}", s.describe()));
    }
    Ok(None)
}

fn user_padding(ctx: &mut Ctx<'_>) -> Verdict {
    for s in sampled(ctx)? {
        let Some(field) = s.bytes.get(3..3 + USER_LEN) else { continue };
        let end = field.iter().position(|&b| b == 0).unwrap_or(USER_LEN);
        if field[end..].iter().any(|&b| b != 0) || field[..end].ends_with(b" ") {
            return fail(format!(
                "your daemon pads the user field with spaces or garbage ({:?}); SPEC 1: the 32-byte user field is NUL-padded on the right (peers trim trailing spaces, so this is tolerated)",
                String::from_utf8_lossy(field)
            ));
        }
    }
    Ok(None)
}
