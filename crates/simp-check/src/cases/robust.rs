//! SPEC 1 "Dropped" and "Accepted": what the target must ignore, and must survive.

use simp_proto::wire::{Kind, HEADER_LEN, MAX_DATAGRAM};

use super::{session, still_chatting};
use crate::case::{fail, Body, Case, Ctx, Level, Verdict};
use crate::peer::{datagram, with_length};

pub(super) fn cases() -> Vec<Case> {
    let case = |id, title, level, body| Case { id, title, level, needs_driver: None, body: Body::Serial(body) };
    vec![
        case(
            "1/drop-truncated",
            "a datagram shorter than the header is ignored, the chat goes on",
            Level::Must,
            truncated,
        ),
        case("1/drop-length-lie", "a chat datagram whose length field lies is ignored", Level::Must, length_lie),
        case("1/drop-unknown-type", "an unknown type is ignored", Level::Must, unknown_type),
        case("1/drop-unknown-op", "an operation not in the table (0x03, 0x0c) is ignored", Level::Must, unknown_op),
        case("1/drop-seq-2", "a control datagram with seq 2 is ignored", Level::Must, seq_two),
        case("1/large-datagram", "a 60,000-byte chat datagram is accepted, the chat goes on", Level::Should, large),
    ]
}

/// Sends each of `garbage` within a chat and checks that nothing answers it and that the chat
/// goes on.
fn dropped(ctx: &mut Ctx<'_>, garbage: &[(&str, Vec<u8>)]) -> Verdict {
    let peer = session(ctx)?;
    for (what, bytes) in garbage {
        peer.send(bytes)?;
        let replies = peer.listen(ctx.settings.quiet())?;
        if let Some(s) = replies.first() {
            return fail(format!(
                "your daemon answered {what} with {}; SPEC 1: such a datagram is dropped, with no reply and no state change",
                s.describe()
            ));
        }
    }
    let after = garbage.iter().map(|(what, _)| *what).collect::<Vec<_>>().join(", ");
    still_chatting(ctx, &peer, 0, &after)?;
    Ok(None)
}

fn truncated(ctx: &mut Ctx<'_>) -> Verdict {
    let chat = datagram(Kind::Chat, 0, b"cut short");
    dropped(ctx, &[("a 20-byte fragment of a chat datagram", chat[..20].to_vec()), ("an empty datagram", Vec::new())])
}

fn length_lie(ctx: &mut Ctx<'_>) -> Verdict {
    let chat = datagram(Kind::Chat, 0, b"lying length");
    dropped(
        ctx,
        &[
            ("a chat datagram whose length field says 5 bytes more than follow", with_length(chat.clone(), 17)),
            ("a chat datagram whose length field says 5 bytes fewer than follow", with_length(chat, 7)),
        ],
    )
}

fn unknown_type(ctx: &mut Ctx<'_>) -> Verdict {
    let mut bytes = datagram(Kind::Chat, 0, b"type 3");
    bytes[0] = 0x03;
    dropped(ctx, &[("a datagram of type 0x03", bytes)])
}

fn unknown_op(ctx: &mut Ctx<'_>) -> Verdict {
    let mut op3 = datagram(Kind::Ack, 0, b"");
    op3[1] = 0x03;
    let mut op12 = op3.clone();
    op12[1] = 0x0c;
    dropped(ctx, &[("a control datagram with operation 0x03", op3), ("a control datagram with operation 0x0c", op12)])
}

/// A FIN: taken, it would be acknowledged and end the chat. (A chat datagram's seq byte above
/// 1 is read by its parity from the peer: some peers count, SPEC 3.)
fn seq_two(ctx: &mut Ctx<'_>) -> Verdict {
    dropped(ctx, &[("a FIN with seq 2", datagram(Kind::Fin, 2, b""))])
}

fn large(ctx: &mut Ctx<'_>) -> Verdict {
    let peer = session(ctx)?;
    let text = "x".repeat(60_000.min(MAX_DATAGRAM - HEADER_LEN));
    match super::send_chat(ctx, &peer, 0, &text)? {
        Some(_) => {}
        None => {
            return fail(format!(
                "a 60,039-byte chat datagram got no ACK within {:?}; SPEC 1: a receiver accepts datagrams up to 65,507 bytes (a 1024-byte receive buffer truncates it)",
                ctx.settings.answer_wait()
            ))
        }
    }
    still_chatting(ctx, &peer, 1, "a 60,039-byte chat datagram")?;
    Ok(None)
}
