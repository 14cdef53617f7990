//! SPEC 2.3, closing.

use simp_proto::ipc::DEFAULT_PORT;
use simp_proto::wire::Kind;

use super::{resent, session};
use crate::case::{blocked, fail, Body, Case, Ctx, Level, Verdict};
use crate::driver::UserCommand;
use crate::peer::list;

pub(super) fn cases() -> Vec<Case> {
    let case =
        |id, title, needs_driver, body| Case { id, title, level: Level::Must, needs_driver, body: Body::Serial(body) };
    vec![
        case("2.3/fin-ack", "the peer's FIN is answered with ACK (its seq), to the FIN's source", None, fin_ack),
        case(
            "2.3/fin-resent",
            "leaving sends FIN, re-sent after `timeout` until ACKed",
            Some("makes the target's user leave"),
            fin_resent,
        ),
    ]
}

fn fin_ack(ctx: &mut Ctx<'_>) -> Verdict {
    let peer = session(ctx)?;
    // A daemon that replies to "the peer's IP on port 7777" (SPEC 3) would miss us: listen
    // there too, to say so.
    let elsewhere = peer.sibling(DEFAULT_PORT);
    peer.send_kind(Kind::Fin, 0, b"")?;
    let wait = ctx.settings.answer_wait();
    let (ack, others) = peer.wait_for(wait, |s| s.kind().is_some())?;
    match ack {
        Some(s) if s.is(Kind::Ack, 0) => Ok(None),
        Some(s) => fail(format!(
            "your daemon answered our FIN with {}; SPEC 2.3: receiving FIN, answer ACK with the FIN's seq",
            s.describe()
        )),
        None => {
            let misdirected = match &elsewhere {
                Some(sibling) => sibling.listen(std::time::Duration::from_millis(20))?,
                None => Vec::new(),
            };
            if let (Some(s), Some(sibling)) = (misdirected.first(), &elsewhere) {
                return fail(format!(
                    "your daemon sent the ACK of our FIN ({}) to {}, not to {}, where the FIN came from; SPEC 2.3 and 3: replies go to the source address of the peer's datagram",
                    s.describe(),
                    sibling.addr,
                    peer.addr
                ));
            }
            fail(format!("no ACK within {wait:?} of our FIN (received: {}); SPEC 2.3: receiving FIN from the peer, answer ACK with the FIN's seq", list(&others)))
        }
    }
}

fn fin_resent(ctx: &mut Ctx<'_>) -> Verdict {
    let peer = session(ctx)?;
    ctx.user(UserCommand::Leave)?;
    let wait = ctx.settings.answer_wait();
    let (fin, others) = peer.wait_for(wait, |s| s.kind() == Some(Kind::Fin))?;
    let Some(fin) = fin else {
        return blocked(format!(
            "precondition failed: the user left but no FIN came within {wait:?} (received: {})",
            list(&others)
        ));
    };
    let clause = "SPEC 2.3: leaving, FIN is re-sent every `timeout` up to `retries` times until the peer's ACK";
    let (_, note) = resent(ctx, &peer, Kind::Fin, fin.at, clause)?;
    peer.send_kind(Kind::Ack, fin.seq().unwrap_or(0), b"")?;
    Ok(Some(note))
}
