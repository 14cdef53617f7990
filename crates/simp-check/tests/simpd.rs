//! Real simpd passes every case, in each mode the checker can drive it (127.80.0.x targets,
//! checked concurrently: each from its own source addresses).

mod support;

use simp_check::case::Outcome;
use simp_check::settings::SeqMode;
use simp_check::Drive;
use simpd::DaemonConfig;
use support::{check, ip, settings, text, Simpd};

struct Mode {
    name: &'static str,
    drive: Drive,
    seq_mode: SeqMode,
    tweak: fn(&mut DaemonConfig),
}

const MODES: [Mode; 4] = [
    Mode {
        name: "auto-accept, no driver",
        drive: Drive::None,
        seq_mode: SeqMode::PerDirection,
        tweak: |c| c.endpoint.auto_accept = true,
    },
    Mode { name: "JSON Lines driver", drive: Drive::Jsonl, seq_mode: SeqMode::PerDirection, tweak: |_| {} },
    Mode { name: "course driver", drive: Drive::Course, seq_mode: SeqMode::PerDirection, tweak: |_| {} },
    Mode {
        name: "--seq-mode shared",
        drive: Drive::Jsonl,
        seq_mode: SeqMode::Shared,
        tweak: |c| c.endpoint.seq_mode = simp_proto::SeqMode::Shared,
    },
];

#[test]
fn simpd_passes_every_case_in_every_mode() {
    let problems: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = MODES
            .iter()
            .enumerate()
            .map(|(i, mode)| {
                scope.spawn(move || {
                    let n = u8::try_from(i).expect("few modes");
                    let daemon = Simpd::start(ip(80, n + 1), mode.tweak);
                    let mut s = settings(daemon.udp, daemon.client, mode.drive, 81 + n);
                    s.seq_mode = mode.seq_mode;
                    let report = check(&s);
                    println!("simpd, {}: {}", mode.name, simp_check::report::summary(&report).trim_end());
                    let skipped = mode.drive != Drive::None && report.count(Outcome::Skip) > 0;
                    if !report.passed() || report.count(Outcome::Warn) > 0 || skipped {
                        Some(format!("simpd, {}, must pass every case:\n{}", mode.name, text(&report)))
                    } else {
                        None
                    }
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().expect("a check thread panicked")).collect()
    });
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
