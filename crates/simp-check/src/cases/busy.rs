//! SPEC 2.4 (busy) and 2.5 (whom we listen to): strangers talking to a daemon in a chat.
//!
//! These run concurrently, each from its own source address, while the runner's host peer
//! keeps one chat open with the target: the protocol lets any number of strangers knock.
//! A target that mishandles one stranger may make a sibling case fail too; run a case alone
//! (`simp-check IP 2.5/stranger-fin`) to confirm which.

use simp_proto::wire::{Kind, BUSY_TEXT};

use crate::case::{blocked, fail, Body, Case, Ctx, Level, Verdict};
use crate::peer::list;
use crate::run::Host;

pub(super) fn cases() -> Vec<Case> {
    let case = |id, title, body| Case { id, title, level: Level::Must, needs_driver: None, body: Body::Shared(body) };
    vec![
        case("2.4/busy-reply", "a second caller gets ERR \"User already in another chat\" then FIN, seq 0", busy_reply),
        case("2.4/busy-once", "the busy ERR and FIN are sent once, never re-sent", busy_once),
        case("2.4/chat-goes-on", "the chat goes on after a second caller was turned away", chat_goes_on),
        case("2.5/stranger-fin", "a stranger's FIN is ignored, the chat goes on", stranger_fin),
        case("2.5/stranger-ack", "a stranger's ACKs are ignored, the chat goes on", stranger_ack),
        case("2.5/stranger-chat", "a stranger's chat datagram is ignored, the chat goes on", stranger_chat),
        Case {
            id: "2.5/alive-at-end",
            title: "after everything, the target still answers a new call",
            level: Level::Must,
            needs_driver: None,
            body: Body::Last(alive_at_end),
        },
    ]
}

fn busy_reply(ctx: &mut Ctx<'_>, _host: &Host) -> Verdict {
    let stranger = ctx.stranger()?;
    stranger.send_kind(Kind::Syn, 0, b"")?;
    let wait = ctx.settings.answer_wait();
    let (err, others) = stranger.wait_for(wait, |s| s.kind().is_some())?;
    let clause = "SPEC 2.4: a SYN from anyone but the current peer is answered with ERR (payload exactly \"User already in another chat\") then FIN, both seq 0";
    let err = match err {
        Some(s) if s.kind() == Some(Kind::SynAck) => {
            return fail(format!("your daemon accepted a second call ({}) while in a chat; {clause}", s.describe()))
        }
        Some(s) if s.kind() == Some(Kind::Err) => s,
        Some(s) => return fail(format!("a second caller got {} first; {clause}", s.describe())),
        None => {
            return fail(format!(
                "a second caller got no answer within {wait:?} (received: {}); {clause}",
                list(&others)
            ))
        }
    };
    if err.payload() != BUSY_TEXT.as_bytes() || err.seq() != Some(0) {
        return fail(format!(
            "the busy ERR is {} with text {:?}; {clause}",
            err.describe(),
            String::from_utf8_lossy(err.payload())
        ));
    }
    let (fin, others) = stranger.wait_for(wait, |s| s.kind().is_some())?;
    match fin {
        Some(s) if s.is(Kind::Fin, 0) => Ok(None),
        Some(s) => fail(format!("after the busy ERR your daemon sent {} instead of FIN; {clause}", s.describe())),
        None => fail(format!("no FIN followed the busy ERR within {wait:?} (received: {}); {clause}", list(&others))),
    }
}

fn busy_once(ctx: &mut Ctx<'_>, _host: &Host) -> Verdict {
    let stranger = ctx.stranger()?;
    stranger.send_kind(Kind::Syn, 0, b"")?;
    let seen = stranger.listen(ctx.settings.resend_window().1 + ctx.settings.timeout)?;
    if seen.is_empty() {
        return blocked("precondition failed: no busy reply at all; see 2.4/busy-reply");
    }
    for kind in [Kind::Err, Kind::Fin] {
        let n = seen.iter().filter(|s| s.kind() == Some(kind)).count();
        if n > 1 {
            return fail(format!(
                "your daemon sent the busy {kind} {n} times for one SYN; SPEC 2.4: ERR and FIN are sent once and never re-sent (re-sends would let a forged SYN amplify traffic)"
            ));
        }
    }
    Ok(None)
}

fn chat_goes_on(ctx: &mut Ctx<'_>, host: &Host) -> Verdict {
    let stranger = ctx.stranger()?;
    stranger.send_kind(Kind::Syn, 0, b"")?;
    stranger.listen(ctx.settings.quiet())?;
    host.still_chatting(ctx, "a second caller's SYN")?;
    Ok(None)
}

/// A stranger sends `bytes`; nothing may answer, and the host's chat must go on.
fn ignored(ctx: &mut Ctx<'_>, host: &Host, what: &str, datagrams: &[Vec<u8>]) -> Verdict {
    let stranger = ctx.stranger()?;
    for bytes in datagrams {
        stranger.send(bytes)?;
    }
    let replies = stranger.listen(ctx.settings.quiet())?;
    if let Some(s) = replies.first() {
        return fail(format!(
            "your daemon answered {what} from a stranger (not its peer) with {}; SPEC 2.5: once a session has a peer, datagrams from any other address never change it (FIN, ACK, chat are dropped)",
            s.describe()
        ));
    }
    host.still_chatting(ctx, &format!("{what} from a stranger"))?;
    Ok(None)
}

fn stranger_fin(ctx: &mut Ctx<'_>, host: &Host) -> Verdict {
    ignored(ctx, host, "a FIN", &[crate::peer::datagram(Kind::Fin, 0, b"")])
}

fn stranger_ack(ctx: &mut Ctx<'_>, host: &Host) -> Verdict {
    ignored(
        ctx,
        host,
        "ACKs (seq 0 and 1)",
        &[crate::peer::datagram(Kind::Ack, 0, b""), crate::peer::datagram(Kind::Ack, 1, b"")],
    )
}

fn stranger_chat(ctx: &mut Ctx<'_>, host: &Host) -> Verdict {
    ignored(ctx, host, "a chat datagram", &[crate::peer::datagram(Kind::Chat, 0, b"I am not your peer")])
}

fn alive_at_end(ctx: &mut Ctx<'_>) -> Verdict {
    super::open_session(ctx).map(|_| None)
}
