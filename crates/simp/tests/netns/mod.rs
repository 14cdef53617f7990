//! Running a test inside a network namespace of its own (`unshare -rn`), so that what it sends
//! (multicast, a LAN's addresses, default ports) never reaches the host's interfaces.

use std::process::Command;

/// Runs `body` inside a fresh network namespace: the test binary re-runs itself there, only
/// `test_name`, with `inside` set, and `body` first applies each `ip` command of `setup`.
/// Where no namespace can be made, says why and returns (the test passes, skipped).
pub fn run_isolated(inside: &str, test_name: &str, setup: &[&[&str]], body: impl FnOnce()) {
    if std::env::var_os(inside).is_some() {
        for args in setup {
            let ok = Command::new("ip").args(*args).status();
            assert!(ok.is_ok_and(|s| s.success()), "ip {}", args.join(" "));
        }
        body();
        return;
    }
    let probe = Command::new("unshare").args(["-rn", "ip", "link", "set", "lo", "up"]).output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            let why = String::from_utf8_lossy(&out.stderr);
            eprintln!("SKIPPED: cannot make a network namespace with `unshare -rn ip link set lo up`: {why}");
            return;
        }
        Err(err) => {
            eprintln!("SKIPPED: cannot run `unshare` ({err}); it comes with util-linux");
            return;
        }
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new("unshare")
        .arg("-rn")
        .arg(exe)
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(inside, "1")
        .output()
        .expect("run the test inside the namespace");
    let report =
        format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{test_name} failed inside its namespace; {report}");
    assert!(report.contains("1 passed"), "the inner run did not run the test; {report}");
    println!("{report}");
}
