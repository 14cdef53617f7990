//! Every fault of the faulty peer is caught by exactly the cases meant to catch it, with the
//! expected diagnosis, and the same peer without a fault passes everything. The first 13
//! faults are issue 10's list; the others make every remaining case fail once, except
//! 2.1/callee-ack-completes and 2.4/chat-goes-on (see the last assertion). The fault × case
//! table is printed (`cargo nextest run -p simp-check --no-capture`). Targets on 127.90.0.x,
//! the checker's sources from 127.100+i.0.1.

mod support;

use std::collections::BTreeSet;

use simp_check::case::Outcome;
use simp_check::{Drive, Report};
use support::faulty::{Fault, FaultyPeer};
use support::{check, failed, ip, settings, text, TIMEOUT};

/// The cases a fault must fail, and words the first one's diagnosis must contain.
fn expected(fault: Fault) -> (&'static [&'static str], &'static str) {
    match fault {
        Fault::FixedSeqAck => (&["2.2/ack-echoes-seq"], "your ACK carries seq 0 for a chat datagram with seq 1"),
        Fault::NoAlternation => (&["2.2/sender-alternates"], "has seq 0 again"),
        Fault::SharedCounter => (&["2.2/seq-per-direction"], "one counter shared by both directions"),
        Fault::CountingSeq => (&["2.2/sender-alternates"], "counts instead of alternating"),
        Fault::StartAtTwo => {
            (&["1/seq", "2.2/sender-first-seq", "2.2/sender-alternates", "2.2/seq-per-direction"], "sequence byte 2")
        }
        Fault::BytesAppended => (&["1/length"], "2 bytes follow the"),
        Fault::ShortControl => (&["1/header-size"], "without its 4-byte length field"),
        Fault::NoSynAck => (&["2.1/callee-syn-ack", "2.1/caller-syn", "2.5/alive-at-end"], "no SYN+ACK"),
        Fault::HandshakeConsumesSeq => {
            (&["2.2/sender-first-seq", "2.2/seq-per-direction"], "the handshake does not consume a sequence number")
        }
        Fault::SynAckBeforeAccept => (&["2.1/callee-waits-for-accept"], "before its user accepted"),
        Fault::NoResend => (
            &["2.1/callee-syn-ack-resent", "2.1/caller-syn-resent", "2.2/retransmit", "2.3/fin-resent"],
            "was re-sent within",
        ),
        Fault::FinAckElsewhere => (&["2.3/fin-ack", "2.1/caller-declined", "2.1/caller-busy"], ":7777, not to"),
        Fault::AckThenDrop => (&["2.2/delivered"], "but did not deliver it to its user"),
        Fault::FinAckOp0c => {
            (&["1/type-op", "2.1/caller-declined", "2.1/caller-busy", "2.3/fin-ack"], "operation 0x0c")
        }
        Fault::SpacePadding => (&["1/user-padding"], "pads the user field with spaces"),
        Fault::SilentDecline => (&["2.1/callee-decline-fin"], "after the user declined"),
        Fault::NoHandshakeAck => (&["2.1/caller-ack"], "no ACK within"),
        Fault::DupNotReacked => (&["2.2/duplicate-reacked"], "got no ACK"),
        Fault::DupDelivered => (&["2.2/duplicate-not-delivered"], "a second time"),
        Fault::RetryForever => (&["2.2/retries-bounded"], "times without an ACK and goes on"),
        Fault::AnyAckAccepted => (&["2.2/wrong-ack-ignored"], "took the wrong ACK as acknowledging"),
        Fault::ResendOnDupAck => (&["2.2/no-resend-on-dup-ack", "2.2/wrong-ack-ignored"], "Sorcerer's Apprentice"),
        Fault::AcceptsGarbage => (
            &["1/drop-truncated", "1/drop-length-lie", "1/drop-unknown-type", "1/drop-unknown-op", "1/drop-seq-2"],
            "such a datagram is dropped",
        ),
        Fault::SmallBuffer => (&["1/large-datagram"], "1024-byte receive buffer"),
        Fault::BusyText => (&["2.4/busy-reply"], "with text \"busy\""),
        Fault::BusyResent => (&["2.4/busy-once"], "2 times for one SYN"),
        Fault::AcksStrangers => (&["2.5/stranger-fin", "2.5/stranger-ack", "2.5/stranger-chat"], "from a stranger"),
    }
}

#[test]
fn every_fault_fails_exactly_its_cases_with_its_diagnosis() {
    let runs: Vec<(Option<Fault>, Report)> = std::thread::scope(|scope| {
        let handles: Vec<_> = std::iter::once(None)
            .chain(Fault::ALL.into_iter().map(Some))
            .enumerate()
            .map(|(i, fault)| {
                scope.spawn(move || {
                    let n = u8::try_from(i).expect("few faults");
                    let target = FaultyPeer::start(ip(90, n + 1), fault, TIMEOUT);
                    let report = check(&settings(target.udp, target.client, Drive::Course, 100 + n));
                    (fault, report)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a check thread panicked")).collect()
    });
    print_table(&runs);

    let mut problems = Vec::new();
    for (fault, report) in &runs {
        let got: BTreeSet<&str> = failed(report).into_iter().collect();
        let Some(fault) = fault else {
            if !got.is_empty() || report.count(Outcome::Skip) > 0 {
                problems.push(format!("the faultless peer must pass everything:\n{}", text(report)));
            }
            continue;
        };
        let (cases, words) = expected(*fault);
        let want: BTreeSet<&str> = cases.iter().copied().collect();
        if got != want {
            problems.push(format!("{fault:?}: expected failures {want:?}, got {got:?}:\n{}", text(report)));
            continue;
        }
        let first = report.results.iter().find(|r| r.id == cases[0]).and_then(|r| r.detail.clone()).unwrap_or_default();
        if !first.contains(words) {
            problems.push(format!("{fault:?}: the diagnosis of {} should say {words:?}, it says: {first}", cases[0]));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));

    let caught: BTreeSet<&str> = Fault::ALL.iter().flat_map(|f| expected(*f).0.iter().copied()).collect();
    let never: Vec<&str> = simp_check::cases::all().iter().map(|c| c.id).filter(|id| !caught.contains(id)).collect();
    assert_eq!(never, ["2.1/callee-ack-completes", "2.4/chat-goes-on"], "cases no fault makes fail");
}

fn print_table(runs: &[(Option<Fault>, Report)]) {
    let Some((_, first)) = runs.first() else { return };
    let width = first.results.iter().map(|r| r.id.len()).max().unwrap_or(0);
    let mut header = format!("{:<width$} ", "case \\ fault");
    for (i, _) in runs.iter().enumerate() {
        header.push_str(&format!("{i:>3}"));
    }
    println!("{header}");
    for (row, result) in first.results.iter().enumerate() {
        let mut line = format!("{:<width$} ", result.id);
        for (_, report) in runs {
            let mark = match report.results[row].outcome {
                Outcome::Pass => ".",
                Outcome::Fail => "F",
                Outcome::Warn => "W",
                Outcome::Skip => "s",
                Outcome::NotRun => "-",
            };
            line.push_str(&format!("{mark:>3}"));
        }
        println!("{line}");
    }
    for (i, (fault, report)) in runs.iter().enumerate() {
        let name = fault.map_or("no fault".to_owned(), |f| format!("{f:?}"));
        println!("{i:>3}: {name} ({:.1} s)", report.elapsed.as_secs_f64());
    }
}
