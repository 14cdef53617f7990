//! SPEC 2.2, stop-and-wait chat in both directions.

use std::time::Instant;

use simp_proto::wire::Kind;

use super::{resent, send_chat, session, target_sends};
use crate::case::{blocked, fail, Body, Case, Ctx, Level, Verdict};
use crate::driver::UserEvent;
use crate::peer::list;
use crate::settings::SeqMode;

const CLAUSE_RESEND: &str =
    "SPEC 2.2: the datagram is re-sent, byte for byte, every `timeout` until an ACK with the same seq arrives";

pub(super) fn cases() -> Vec<Case> {
    let case =
        |id, title, needs_driver, body| Case { id, title, level: Level::Must, needs_driver, body: Body::Serial(body) };
    let sends = Some("makes the target's user send");
    let sees = Some("watches what the target delivers to its user");
    vec![
        case("2.2/ack-echoes-seq", "an ACK echoes the seq of the chat datagram it acknowledges", None, ack_echoes_seq),
        case("2.2/duplicate-reacked", "a duplicate chat datagram is acknowledged again", None, duplicate_reacked),
        case("2.2/delivered", "every acknowledged message reaches the user", sees, delivered),
        case("2.2/duplicate-not-delivered", "a duplicate is not delivered twice", sees, duplicate_not_delivered),
        case("2.2/sender-first-seq", "the first chat datagram of a session has seq 0", sends, sender_first_seq),
        case("2.2/sender-alternates", "the sender's seq alternates 0, 1, 0 as ACKs come", sends, sender_alternates),
        case("2.2/seq-per-direction", "each direction has its own alternating bit", sends, seq_per_direction),
        case("2.2/retransmit", "an unacknowledged chat datagram is re-sent after `timeout`", sends, retransmit),
        case("2.2/retries-bounded", "re-sends stop after a bounded number of retries", sends, retries_bounded),
        case("2.2/wrong-ack-ignored", "an ACK with the wrong seq acknowledges nothing", sends, wrong_ack_ignored),
        case("2.2/no-resend-on-dup-ack", "a duplicate ACK triggers no re-send", sends, no_resend_on_dup_ack),
    ]
}

fn ack_echoes_seq(ctx: &mut Ctx<'_>) -> Verdict {
    let peer = session(ctx)?;
    for (seq, text) in [(0u8, "echo zero"), (1, "echo one")] {
        match send_chat(ctx, &peer, seq, text)? {
            Some(ack) if ack.seq() == Some(seq) => {}
            Some(ack) => {
                return fail(format!(
                    "your ACK carries seq {} for a chat datagram with seq {seq}; SPEC 2.2: an ACK echoes the seq of what it acknowledges (the sender waits for an ACK with the same seq and re-sends until then)",
                    ack.seq().unwrap_or(0)
                ))
            }
            None => return fail(format!("our chat datagram with seq {seq} was not acknowledged within {:?}; SPEC 2.2", ctx.settings.answer_wait())),
        }
    }
    Ok(None)
}

fn duplicate_reacked(ctx: &mut Ctx<'_>) -> Verdict {
    let peer = session(ctx)?;
    if send_chat(ctx, &peer, 0, "say it twice")?.is_none() {
        return blocked("precondition failed: our first chat datagram was not acknowledged; see 2.2/ack-echoes-seq");
    }
    match send_chat(ctx, &peer, 0, "say it twice")? {
        Some(_) => Ok(None),
        None => fail(format!(
            "the same chat datagram (seq 0) sent again, as after a lost ACK, got no ACK within {:?}; SPEC 2.2: a duplicate is acknowledged again (else the sender re-sends until it gives up)",
            ctx.settings.answer_wait()
        )),
    }
}

fn delivered(ctx: &mut Ctx<'_>) -> Verdict {
    let peer = session(ctx)?;
    for (seq, text) in [(0u8, "deliver me"), (1, "and me")] {
        if send_chat(ctx, &peer, seq, text)?.is_none() {
            return blocked(format!(
                "precondition failed: our chat datagram seq {seq} was not acknowledged; see 2.2/ack-echoes-seq"
            ));
        }
        let wait = ctx.settings.answer_wait();
        let (msg, others) = ctx.wait_user(wait, |e| matches!(e, UserEvent::Message(t) if t == text))?;
        if msg.is_none() {
            return fail(format!(
                "your daemon acknowledged our message {text:?} (seq {seq}) but did not deliver it to its user within {wait:?} (user saw: {others:?}); SPEC 2.2: a chat datagram is acknowledged only once its text is handed to the client or stored for it: an acknowledged message must never be lost"
            ));
        }
    }
    Ok(None)
}

fn duplicate_not_delivered(ctx: &mut Ctx<'_>) -> Verdict {
    let peer = session(ctx)?;
    let text = "only once";
    if send_chat(ctx, &peer, 0, text)?.is_none() {
        return blocked("precondition failed: our chat datagram was not acknowledged; see 2.2/ack-echoes-seq");
    }
    let wait = ctx.settings.answer_wait();
    if ctx.wait_user(wait, |e| matches!(e, UserEvent::Message(t) if t == text))?.0.is_none() {
        return blocked("precondition failed: the message was not delivered at all; see 2.2/delivered");
    }
    send_chat(ctx, &peer, 0, text)?;
    let (again, _) = ctx.wait_user(ctx.settings.quiet(), |e| matches!(e, UserEvent::Message(_)))?;
    if let Some(again) = again {
        return fail(format!(
            "your daemon delivered our duplicate (same seq 0 again, as after a lost ACK) to its user a second time ({again}); SPEC 2.2: a datagram with the same seq as the last one delivered is acknowledged again and not delivered again"
        ));
    }
    Ok(None)
}

fn sender_first_seq(ctx: &mut Ctx<'_>) -> Verdict {
    let peer = session(ctx)?;
    let chat = target_sends(ctx, &peer, "first")?;
    match chat.seq() {
        Some(0) => Ok(None),
        Some(1) => fail("your first chat datagram of the session has seq 1; SPEC 2.2: the first chat datagram of a session has seq 0 (the handshake does not consume a sequence number)"),
        other => fail(format!(
            "your first chat datagram of the session has seq {}; SPEC 1 and 2.2: the sequence is an alternating bit, 0 for the first chat datagram (a counter starting at 2?)",
            other.unwrap_or(0)
        )),
    }
}

fn sender_alternates(ctx: &mut Ctx<'_>) -> Verdict {
    let peer = session(ctx)?;
    let mut previous: Option<u8> = None;
    for (i, text) in ["one", "two", "three"].into_iter().enumerate() {
        let chat = target_sends(ctx, &peer, text)?;
        let seq = chat.seq().unwrap_or(0);
        if let Some(prev) = previous {
            if seq > 1 {
                return fail(format!(
                    "your chat datagram #{} has seq {seq} after seq {prev}: the sequence counts instead of alternating; SPEC 1 and 2.2: seq is one bit, the next message goes out with the other seq",
                    i + 1
                ));
            }
            if seq == prev {
                return fail(format!(
                    "your chat datagram #{} has seq {seq} again, although we acknowledged seq {prev}; SPEC 2.2: once the ACK with the same seq arrives, the next message goes out with the other seq (a receiver takes a repeated seq for a duplicate and drops the message)",
                    i + 1
                ));
            }
        }
        peer.send_kind(Kind::Ack, seq, b"")?;
        previous = Some(seq);
    }
    Ok(None)
}

fn seq_per_direction(ctx: &mut Ctx<'_>) -> Verdict {
    let peer = session(ctx)?;
    if send_chat(ctx, &peer, 0, "you first")?.is_none() {
        return blocked("precondition failed: our chat datagram was not acknowledged; see 2.2/ack-echoes-seq");
    }
    let chat = target_sends(ctx, &peer, "my turn")?;
    let seq = chat.seq().unwrap_or(0);
    peer.send_kind(Kind::Ack, seq, b"")?;
    let (expected, why) = match ctx.settings.seq_mode {
        SeqMode::PerDirection => (0, "SPEC 2.2: each direction is an independent alternating-bit channel whose first chat datagram has seq 0 (one counter shared by both directions? if deliberate, check with --seq-mode shared, SPEC 2.6)"),
        SeqMode::Shared => (1, "SPEC 2.6 (--seq-mode shared): one bit per session for both directions, flipped by every exchange"),
    };
    if seq != expected {
        return fail(format!(
            "after receiving our chat datagram seq 0, your first chat datagram has seq {seq}, expected {expected}; {why}"
        ));
    }
    Ok(None)
}

fn retransmit(ctx: &mut Ctx<'_>) -> Verdict {
    let peer = session(ctx)?;
    let first = target_sends(ctx, &peer, "re-send me")?;
    let (again, note) = resent(ctx, &peer, Kind::Chat, first.at, CLAUSE_RESEND)?;
    if again.bytes != first.bytes {
        return fail(format!(
            "the re-sent chat datagram differs from the first ({} vs {}); {CLAUSE_RESEND}",
            again.describe(),
            first.describe()
        ));
    }
    peer.send_kind(Kind::Ack, first.seq().unwrap_or(0), b"")?;
    Ok(Some(note))
}

fn retries_bounded(ctx: &mut Ctx<'_>) -> Verdict {
    let peer = session(ctx)?;
    let first = target_sends(ctx, &peer, "nobody acknowledges me")?;
    let (_, hi) = ctx.settings.resend_window();
    let max = ctx.settings.max_retries;
    let mut resends = 0u32;
    let mut fin = false;
    loop {
        let (next, _) = peer.wait_for(hi, |s| matches!(s.kind(), Some(Kind::Chat | Kind::Fin)))?;
        match next {
            Some(s) if s.kind() == Some(Kind::Fin) => {
                fin = true;
                peer.send_kind(Kind::Ack, s.seq().unwrap_or(0), b"")?;
                break;
            }
            Some(s) if s.bytes == first.bytes => {
                resends += 1;
                if resends > max {
                    return fail(format!(
                        "your daemon re-sent the same chat datagram {resends} times without an ACK and goes on; SPEC 2.2: after `retries` re-sends (default 5) the peer is unreachable and the session ends (this check allows {max}, --max-retries)"
                    ));
                }
            }
            Some(_) => {}
            None => break,
        }
    }
    let end = if fin { "then FIN" } else { "then silence" };
    Ok(Some(format!("gave up after {resends} re-sends, {end}")))
}

fn wrong_ack_ignored(ctx: &mut Ctx<'_>) -> Verdict {
    let peer = session(ctx)?;
    let first = target_sends(ctx, &peer, "first")?;
    let seq = first.seq().unwrap_or(0);
    let wrong = if seq == 0 { 1 } else { 0 };
    peer.send_kind(Kind::Ack, wrong, b"")?;
    let started = Instant::now();
    ctx.user(crate::driver::UserCommand::Chat("second".to_owned()))?;
    let seen = peer.listen(ctx.settings.quiet())?;
    if let Some(s) = seen.iter().find(|s| s.kind() == Some(Kind::Chat) && s.bytes != first.bytes) {
        return fail(format!(
            "your chat datagram had seq {seq}; we answered ACK seq {wrong} and your daemon sent the next message at once ({}): it took the wrong ACK as acknowledging; SPEC 2.2: an ACK whose seq is not the outstanding one is ignored",
            s.describe()
        ));
    }
    if let Some(s) = seen.iter().find(|s| s.bytes == first.bytes) {
        let ms = s.at.saturating_duration_since(started).as_millis();
        return fail(format!(
            "your daemon re-sent its chat datagram {ms} ms after our ACK with the wrong seq {wrong}, before its timeout; SPEC 2.2: an ACK whose seq is not the outstanding one is ignored, re-sends happen on timeout only"
        ));
    }
    peer.send_kind(Kind::Ack, seq, b"")?;
    let wait = ctx.settings.answer_wait();
    let (next, others) = peer.wait_for(wait, |s| s.kind() == Some(Kind::Chat) && s.bytes != first.bytes)?;
    if next.is_none() {
        return blocked(format!(
            "precondition failed: after the right ACK the next message did not come (received: {})",
            list(&others)
        ));
    }
    Ok(None)
}

fn no_resend_on_dup_ack(ctx: &mut Ctx<'_>) -> Verdict {
    let peer = session(ctx)?;
    let one = target_sends(ctx, &peer, "one")?;
    let seq = one.seq().unwrap_or(0);
    peer.send_kind(Kind::Ack, seq, b"")?;
    let two = target_sends(ctx, &peer, "two")?;
    if two.seq() == Some(seq) {
        return blocked(
            "precondition failed: the second message has the same seq as the first; see 2.2/sender-alternates",
        );
    }
    peer.send_kind(Kind::Ack, seq, b"")?;
    let seen = peer.listen(ctx.settings.quiet())?;
    if let Some(s) = seen.iter().find(|s| s.kind() == Some(Kind::Chat)) {
        return fail(format!(
            "a duplicate ACK (seq {seq}, for the message already acknowledged) made your daemon send {} at once; SPEC 2.2: nothing is ever re-sent because a duplicate ACK arrived (the TFTP Sorcerer's Apprentice bug), re-sends happen on timeout only",
            s.describe()
        ));
    }
    peer.send_kind(Kind::Ack, two.seq().unwrap_or(0), b"")?;
    Ok(None)
}
