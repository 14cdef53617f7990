//! SPEC 2.1, the handshake, with the target as callee and (driven) as caller.

use std::time::{Duration, Instant};

use simp_proto::wire::Kind;

use super::{open_session, resent, ring, send_chat};
use crate::case::{blocked, fail, Body, Case, Ctx, Level, Verdict};
use crate::driver::{UserCommand, UserEvent};
use crate::peer::list;

const CLAUSE_SYN_ACK_RESENT: &str =
    "SPEC 2.1 step 3: until the ACK comes, SYN+ACK is re-sent every `timeout` (at most twice on its own)";
const CLAUSE_SYN_RESENT: &str = "SPEC 2.1 step 1: the caller re-sends SYN every `timeout` until it gets an answer";

pub(super) fn cases() -> Vec<Case> {
    let case =
        |id, title, needs_driver, body| Case { id, title, level: Level::Must, needs_driver, body: Body::Serial(body) };
    let user = Some("plays the target's user");
    vec![
        case("2.1/callee-syn-ack", "a SYN is answered with SYN+ACK, seq 0", None, callee_syn_ack),
        case("2.1/callee-waits-for-accept", "no SYN+ACK before the user accepts", user, callee_waits_for_accept),
        case(
            "2.1/callee-syn-ack-resent",
            "SYN+ACK is re-sent after `timeout` while no ACK comes",
            None,
            callee_syn_ack_resent,
        ),
        case("2.1/callee-ack-completes", "our ACK completes the handshake: the chat works", None, callee_ack_completes),
        case("2.1/callee-decline-fin", "a declined call is answered with FIN, seq 0", user, callee_decline_fin),
        case("2.1/caller-syn", "a call starts with SYN, seq 0, empty payload", user, caller_syn),
        case("2.1/caller-syn-resent", "an unanswered SYN is re-sent after `timeout`", user, caller_syn_resent),
        case("2.1/caller-ack", "the caller answers SYN+ACK with ACK, seq 0", user, caller_ack),
        case("2.1/caller-declined", "the caller answers a decline (FIN) with ACK and gives up", user, caller_declined),
        case("2.1/caller-busy", "the caller answers a busy ERR + FIN with ACK and tells its user", user, caller_busy),
    ]
}

fn callee_syn_ack(ctx: &mut Ctx<'_>) -> Verdict {
    open_session(ctx).map(|_| None)
}

fn callee_waits_for_accept(ctx: &mut Ctx<'_>) -> Verdict {
    let peer = ctx.peer()?;
    peer.send_kind(Kind::Syn, 0, b"")?;
    let wait = ctx.settings.answer_wait();
    let (request, _) = ctx.wait_user(wait, |e| *e == UserEvent::Request)?;
    if request.is_none() {
        return fail(format!(
            "your daemon did not ask its user about our call within {wait:?} (no request/invitation); SPEC 2.1 step 2: the callee's daemon tells its user and waits for the decision"
        ));
    }
    let early = peer.listen(ctx.settings.quiet())?;
    if let Some(s) = early.iter().find(|s| s.kind() == Some(Kind::SynAck)) {
        return fail(format!(
            "your daemon sent {} before its user accepted; SPEC 2.1 steps 2-3: SYN+ACK only once the user accepts (the caller would think the call was accepted)",
            s.describe()
        ));
    }
    ctx.user(UserCommand::Accept)?;
    Ok(None)
}

fn callee_syn_ack_resent(ctx: &mut Ctx<'_>) -> Verdict {
    let peer = ctx.peer()?;
    let first = match ring(ctx, &peer) {
        Err(crate::case::Stop::Fail(why)) => {
            return blocked(format!("precondition failed: {why}; see 2.1/callee-syn-ack"))
        }
        other => other?,
    };
    let (_, note) = resent(ctx, &peer, Kind::SynAck, first.at, CLAUSE_SYN_ACK_RESENT)?;
    peer.send_kind(Kind::Ack, 0, b"")?;
    Ok(Some(note))
}

fn callee_ack_completes(ctx: &mut Ctx<'_>) -> Verdict {
    let peer = super::session(ctx)?;
    if send_chat(ctx, &peer, 0, "first after the handshake")?.is_none() {
        return fail(format!(
            "after our ACK completed the handshake your daemon did not acknowledge our first chat datagram (seq 0) within {:?}; SPEC 2.1 step 4: both sides are now in the chat",
            ctx.settings.answer_wait()
        ));
    }
    Ok(None)
}

fn callee_decline_fin(ctx: &mut Ctx<'_>) -> Verdict {
    let peer = ctx.peer()?;
    peer.send_kind(Kind::Syn, 0, b"")?;
    let wait = ctx.settings.answer_wait();
    if ctx.wait_user(wait, |e| *e == UserEvent::Request)?.0.is_none() {
        return blocked("precondition failed: the user was not asked about our call; see 2.1/callee-waits-for-accept");
    }
    peer.listen(Duration::from_millis(5))?;
    ctx.user(UserCommand::Decline)?;
    let (reply, others) = peer.wait_for(wait, |s| s.kind().is_some())?;
    match reply {
        Some(s) if s.is(Kind::Fin, 0) => {
            peer.send_kind(Kind::Ack, 0, b"")?;
            Ok(None)
        }
        Some(s) => fail(format!("your daemon answered a declined call with {}; SPEC 2.1 step 3: decline is FIN (seq 0) instead of SYN+ACK", s.describe())),
        None => fail(format!(
            "nothing within {wait:?} after the user declined (received: {}); SPEC 2.1 step 3: decline is answered with FIN (seq 0), or the caller keeps calling",
            list(&others)
        )),
    }
}

/// Makes the target call a fresh peer and returns it with the SYN it sent.
fn called(ctx: &mut Ctx<'_>) -> Result<(crate::peer::Peer, crate::seen::Seen), crate::case::Stop> {
    let peer = ctx.peer()?;
    ctx.user(UserCommand::Start(peer.addr))?;
    let wait = ctx.settings.answer_wait();
    let (syn, others) = peer.wait_for(wait, |s| s.kind().is_some())?;
    match syn {
        Some(s) if s.kind() == Some(Kind::Syn) => Ok((peer, s)),
        Some(s) => fail(format!(
            "asked to call us, your daemon sent {}; SPEC 2.1 step 1: a call starts with SYN (seq 0)",
            s.describe()
        )),
        None => fail(format!(
            "asked to call {}, your daemon sent nothing within {wait:?} (received: {})",
            peer.addr,
            list(&others)
        )),
    }
}

fn caller_syn(ctx: &mut Ctx<'_>) -> Verdict {
    let (_, syn) = called(ctx)?;
    if syn.seq() != Some(0) {
        return fail(format!("your SYN carries seq {:?}; SPEC 2.1 step 1: SYN (seq 0)", syn.seq()));
    }
    if !syn.payload().is_empty() {
        return fail(format!(
            "your SYN carries a {}-byte payload ({:?}); SPEC 1: control datagrams other than ERR have an empty payload; text goes in chat datagrams once SYN+ACK and ACK have opened the chat",
            syn.payload().len(),
            String::from_utf8_lossy(syn.payload())
        ));
    }
    Ok(None)
}

fn caller_syn_resent(ctx: &mut Ctx<'_>) -> Verdict {
    let (peer, syn) = precondition(called(ctx))?;
    let (_, note) = resent(ctx, &peer, Kind::Syn, syn.at, CLAUSE_SYN_RESENT)?;
    Ok(Some(note))
}

fn caller_ack(ctx: &mut Ctx<'_>) -> Verdict {
    let (peer, _) = precondition(called(ctx))?;
    peer.send_kind(Kind::SynAck, 0, b"")?;
    let wait = ctx.settings.answer_wait();
    let (ack, others) = peer.wait_for(wait, |s| s.kind().is_some_and(|k| k != Kind::Syn))?;
    match ack {
        Some(s) if s.is(Kind::Ack, 0) => {}
        Some(s) => return fail(format!("your daemon answered our SYN+ACK with {}; SPEC 2.1 step 4: the caller answers ACK (seq 0)", s.describe())),
        None => {
            return fail(format!(
                "no ACK within {wait:?} of our SYN+ACK (received: {}); SPEC 2.1 step 4: the caller answers SYN+ACK with ACK (seq 0)",
                list(&others)
            ))
        }
    }
    if ctx.wait_user(wait, |e| *e == UserEvent::Established)?.0.is_none() {
        return fail(
            "the handshake completed but your daemon did not tell its user the chat is open (established / connected)",
        );
    }
    Ok(None)
}

fn caller_declined(ctx: &mut Ctx<'_>) -> Verdict {
    let (peer, _) = precondition(called(ctx))?;
    peer.send_kind(Kind::Fin, 0, b"")?;
    let wait = ctx.settings.answer_wait();
    let (ack, others) = peer.wait_for(wait, |s| s.kind().is_some_and(|k| k != Kind::Syn))?;
    match ack {
        Some(s) if s.is(Kind::Ack, 0) => {}
        Some(s) => {
            return fail(format!(
            "your daemon answered our FIN (a decline) with {}; SPEC 2.1 step 5: the caller answers the FIN with ACK",
            s.describe()
        ))
        }
        None => {
            return fail(format!(
                "no ACK within {wait:?} of our FIN declining the call (received: {}); SPEC 2.1 step 5",
                list(&others)
            ))
        }
    }
    let started = Instant::now();
    let (ended, _) = ctx.wait_user(wait, |e| *e == UserEvent::Ended)?;
    if ended.is_none() {
        return fail("the call was declined but your daemon did not tell its user (ended / disconnected); SPEC 2.1 step 5: the caller returns to idle");
    }
    let later = peer.listen(ctx.settings.resend_window().1.saturating_sub(started.elapsed()))?;
    if let Some(s) = later.iter().find(|s| s.kind() == Some(Kind::Syn)) {
        return fail(format!(
            "your daemon kept calling after the decline ({}); SPEC 2.1 step 5: it returns to idle",
            s.describe()
        ));
    }
    Ok(None)
}

fn caller_busy(ctx: &mut Ctx<'_>) -> Verdict {
    let (peer, _) = precondition(called(ctx))?;
    peer.send_kind(Kind::Err, 0, simp_proto::wire::BUSY_TEXT.as_bytes())?;
    peer.send_kind(Kind::Fin, 0, b"")?;
    let wait = ctx.settings.answer_wait();
    let (ack, others) = peer.wait_for(wait, |s| s.kind().is_some_and(|k| k != Kind::Syn))?;
    match ack {
        Some(s) if s.is(Kind::Ack, 0) => {}
        Some(s) => return fail(format!("your daemon answered our busy ERR + FIN with {}; SPEC 2.1 step 5: the caller answers the FIN with ACK", s.describe())),
        None => return fail(format!("no ACK within {wait:?} of our busy ERR + FIN (received: {}); SPEC 2.1 step 5: the caller answers the FIN with ACK and returns to idle", list(&others))),
    }
    if ctx.wait_user(wait, |e| *e == UserEvent::Ended)?.0.is_none() {
        return fail("the callee was busy but your daemon did not tell its user (ended / disconnected); SPEC 2.1 step 5: the call fails with the ERR's text as reason");
    }
    Ok(None)
}

/// A failure of the first steps, which 2.1/caller-syn is about, is a precondition here.
fn precondition<T>(r: Result<T, crate::case::Stop>) -> Result<T, crate::case::Stop> {
    match r {
        Err(crate::case::Stop::Fail(why)) => blocked(format!("precondition failed: {why}; see 2.1/caller-syn")),
        other => other,
    }
}
