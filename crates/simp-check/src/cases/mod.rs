//! The cases, by SPEC section, and the steps they share.

use std::time::{Duration, Instant};

use simp_proto::wire::Kind;

use crate::case::{blocked, fail, Case, Ctx, Stop};
use crate::driver::{UserCommand, UserEvent};
use crate::peer::{list, Peer};
use crate::seen::Seen;

mod busy;
mod chat;
mod close;
mod handshake;
mod header;
mod robust;

/// Every case, in the order they run.
pub fn all() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(header::cases());
    cases.extend(handshake::cases());
    cases.extend(chat::cases());
    cases.extend(close::cases());
    cases.extend(robust::cases());
    cases.extend(busy::cases());
    cases
}

/// The precondition every chat case needs: a chat with the target as callee (SPEC 2.1), the
/// user accepting through the driver when there is one. A failure here is a SKIP naming the
/// case that is about it.
pub(crate) fn session(ctx: &mut Ctx<'_>) -> Result<Peer, Stop> {
    if let Some(why) = ctx.memo.no_chat() {
        return blocked(format!(
            "precondition failed earlier: no chat could be opened ({why}); see 2.1/callee-syn-ack"
        ));
    }
    match open_session(ctx) {
        Err(Stop::Fail(why)) => {
            ctx.memo.set_no_chat(&why);
            blocked(format!("precondition failed: no chat could be opened ({why}); see 2.1/callee-syn-ack"))
        }
        other => other,
    }
}

/// Opens a chat with the target as callee; failures are diagnoses of SPEC 2.1.
pub(crate) fn open_session(ctx: &mut Ctx<'_>) -> Result<Peer, Stop> {
    let peer = ctx.peer()?;
    let syn_ack = ring(ctx, &peer)?;
    if syn_ack.seq() != Some(0) {
        return fail(format!("the SYN+ACK carries seq {:?}; SPEC 2.1 step 3: SYN+ACK (seq 0)", syn_ack.seq()));
    }
    peer.send_kind(Kind::Ack, 0, b"")?;
    if ctx.settings.drive != crate::Drive::None {
        let (established, _) = ctx.wait_user(ctx.settings.answer_wait(), |e| *e == UserEvent::Established)?;
        if established.is_none() {
            return fail("after our ACK completed the handshake the target's user was not told the chat is open (no established event)");
        }
    }
    Ok(peer)
}

/// Sends SYN from `peer`, accepts as the user when driven, and returns the SYN+ACK.
pub(crate) fn ring(ctx: &mut Ctx<'_>, peer: &Peer) -> Result<Seen, Stop> {
    peer.send_kind(Kind::Syn, 0, b"")?;
    let wait = ctx.settings.answer_wait();
    if ctx.settings.drive != crate::Drive::None {
        let (request, _) = ctx.wait_user(wait, |e| *e == UserEvent::Request)?;
        if request.is_none() {
            return fail(format!(
                "the target's user was not asked about our call within {wait:?} (no request event); SPEC 2.1 step 2"
            ));
        }
        // What came before the user's decision belongs to 2.1/callee-waits-for-accept.
        peer.listen(Duration::from_millis(5))?;
        ctx.user(UserCommand::Accept)?;
    }
    let (reply, others) = peer.wait_for(wait, |s| s.kind().is_some())?;
    match reply {
        Some(s) if s.kind() == Some(Kind::SynAck) => Ok(s),
        Some(s) if s.kind() == Some(Kind::Ack) => fail(format!(
            "your daemon answered our SYN with ACK instead of SYN+ACK ({}); SPEC 2.1 step 3: accepting is SYN+ACK, operation 0x06 = SYN|ACK",
            s.describe()
        )),
        Some(s) => fail(format!("your daemon answered our SYN with {}; SPEC 2.1 step 3: accepting is SYN+ACK (seq 0)", s.describe())),
        None => fail(format!(
            "no SYN+ACK within {wait:?} of our SYN{} (received: {}); SPEC 2.1 step 3: accepting a call is answered with SYN+ACK (seq 0)",
            if ctx.settings.drive == crate::Drive::None { " (without a driver the target must accept by itself)" } else { " and the user's accept" },
            list(&others)
        )),
    }
}

/// Has the target's user send `text` and returns the chat datagram that carries it.
pub(crate) fn target_sends(ctx: &mut Ctx<'_>, peer: &Peer, text: &str) -> Result<Seen, Stop> {
    ctx.user(UserCommand::Chat(text.to_owned()))?;
    let wait = ctx.settings.answer_wait();
    let (chat, others) = peer.wait_for(wait, |s| s.kind() == Some(Kind::Chat))?;
    match chat {
        Some(s) => Ok(s),
        None => blocked(format!(
            "precondition failed: the user sent {text:?} but no chat datagram came within {wait:?} (received: {})",
            list(&others)
        )),
    }
}

/// Sends a chat datagram and returns the ACK it gets (any seq), or `None`.
pub(crate) fn send_chat(ctx: &Ctx<'_>, peer: &Peer, seq: u8, text: &str) -> Result<Option<Seen>, Stop> {
    peer.send_kind(Kind::Chat, seq, text.as_bytes())?;
    Ok(peer.wait_for(ctx.settings.answer_wait(), |s| s.kind() == Some(Kind::Ack))?.0)
}

/// "The chat goes on": a chat datagram from `peer` is still acknowledged (any seq: echoing
/// is 2.2/ack-echoes-seq's business).
pub(crate) fn still_chatting(ctx: &Ctx<'_>, peer: &Peer, seq: u8, after: &str) -> Result<(), Stop> {
    if send_chat(ctx, peer, seq, "still there?")?.is_none() {
        return fail(format!(
            "after {after}, your daemon no longer acknowledges its peer's chat datagram (seq {seq}) within {:?}: the chat did not go on",
            ctx.settings.answer_wait()
        ));
    }
    Ok(())
}

/// Waits for the next datagram of `kind` and measures it against the re-send window,
/// starting at `since`. Returns the re-sent datagram and a note with the interval.
pub(crate) fn resent(
    ctx: &Ctx<'_>,
    peer: &Peer,
    kind: Kind,
    since: Instant,
    clause: &str,
) -> Result<(Seen, String), Stop> {
    let (lo, hi) = ctx.settings.resend_window();
    let (again, others) = peer.wait_for(hi.saturating_sub(since.elapsed()), |s| s.kind() == Some(kind))?;
    let Some(again) = again else {
        return fail(format!(
            "no {kind} was re-sent within {hi:?} of the first although we did not answer (received: {}); {clause} (timeout given: {:?}, margin: re-send expected within {lo:?}..{hi:?})",
            list(&others),
            ctx.settings.timeout
        ));
    };
    let interval = again.at.saturating_duration_since(since);
    if interval < lo {
        return fail(format!(
            "{kind} re-sent after {} ms, earlier than half the timeout ({:?}); {clause} (is --timeout right?)",
            interval.as_millis(),
            ctx.settings.timeout
        ));
    }
    Ok((again, format!("re-sent after {} ms (timeout {} ms)", interval.as_millis(), ctx.settings.timeout.as_millis())))
}
