//! Counting a process's system calls: `perf stat -e raw_syscalls:sys_enter -p PID`.
//!
//! `/proc/PID/io` (`syscr`, `syscw`) is no count of system calls on sockets: it counts only the
//! `read`/`write` family, not `sendto`, `recvfrom`, `send` or `recv`, which is what both daemons
//! use (1,000 UDP `sendto`/`recvfrom` pairs add 2 to `syscr`). The kernel's tracepoint counts
//! every call, in the kernel, at a small cost per call; it needs `perf` and the permission to
//! trace (root, or `kernel.perf_event_paranoid` ≤ −1). Without them the figures are missing and
//! the target is not judged.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{fail, Context, Result};

/// How long `perf` gets to attach before the counted run starts.
const ATTACH: Duration = Duration::from_millis(300);
/// How long `perf` may take to write its count after SIGINT.
const DETACH: Duration = Duration::from_secs(5);

/// Whether `perf` can count system calls here; `Err` says why not.
pub fn probe() -> Result<()> {
    let output = Command::new("perf")
        .args(["stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "--", "true"])
        .stdout(Stdio::null())
        .output()
        .context(|| "cannot run perf".into())?;
    let text = String::from_utf8_lossy(&output.stderr);
    match parse_count(&text) {
        Some(_) if output.status.success() => Ok(()),
        _ => fail!("perf cannot count raw_syscalls:sys_enter: {}", text.trim()),
    }
}

/// `perf` counting the system calls of some processes until [`Counter::finish`].
pub struct Counter {
    perfs: Vec<(Child, PathBuf)>,
}

impl Counter {
    /// Attaches one `perf stat` to each process (all its threads).
    pub fn attach(pids: &[u32]) -> Result<Counter> {
        let mut counter = Counter { perfs: Vec::new() };
        for pid in pids {
            let out = std::env::temp_dir().join(format!("simp-bench-{}-perf-{pid}.csv", std::process::id()));
            let child = Command::new("perf")
                .args(["stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "-o"])
                .arg(&out)
                .args(["-p", &pid.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context(|| "cannot run perf".into())?;
            counter.perfs.push((child, out));
        }
        thread::sleep(ATTACH);
        Ok(counter)
    }

    /// Stops counting; the number of system calls of each process, in the order attached.
    pub fn finish(mut self) -> Result<Vec<u64>> {
        let mut counts = Vec::new();
        for (child, out) in &mut self.perfs {
            interrupt(child.id());
            let deadline = Instant::now() + DETACH;
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                thread::sleep(Duration::from_millis(10));
            }
            let text = fs::read_to_string(&*out).unwrap_or_default();
            match parse_count(&text) {
                Some(count) => counts.push(count),
                None => fail!("perf wrote no count of system calls: {:?}", text.trim()),
            }
        }
        Ok(counts)
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        for (child, out) in &mut self.perfs {
            let _ = child.kill();
            let _ = child.wait();
            let _ = fs::remove_file(&*out);
        }
    }
}

/// SIGINT: `perf stat` then writes its count and exits.
fn interrupt(pid: u32) {
    let _ = Command::new("kill").args(["-INT", &pid.to_string()]).stderr(Stdio::null()).status();
}

/// The count of a `perf stat -x ,` line `12345,,raw_syscalls:sys_enter,…`.
fn parse_count(text: &str) -> Option<u64> {
    text.lines().find(|l| l.contains("raw_syscalls:sys_enter")).and_then(|l| l.split(',').next()?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_perfs_csv() {
        let text = "# started on Mon\n\n109,,raw_syscalls:sys_enter,111821540,100.00,,\n";
        assert_eq!(parse_count(text), Some(109));
        assert_eq!(parse_count("<not supported>,,raw_syscalls:sys_enter,0,100.00,,\n"), None);
        assert_eq!(parse_count(""), None);
    }
}
