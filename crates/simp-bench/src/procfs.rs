//! What `/proc` says about a process (resident memory, CPU ticks, context switches) and about
//! the machine (CPU model, load average).

use std::fs;

use crate::error::{fail, Context, Result};

/// Resident memory (`VmRSS`), in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = read(pid, "status")?;
    match status_field(&status, "VmRSS") {
        Some(kib) => Ok(kib),
        None => fail!("/proc/{pid}/status has no VmRSS line"),
    }
}

/// CPU time used so far, user plus system, in clock ticks (`utime + stime` of `/proc/PID/stat`).
pub fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = read(pid, "stat")?;
    match stat_ticks(&stat) {
        Some(ticks) => Ok(ticks),
        None => fail!("cannot read utime and stime from /proc/{pid}/stat: {stat:?}"),
    }
}

/// CPU time used so far by the process's live threads, in nanoseconds: the first field of each
/// `/proc/PID/task/TID/schedstat`. `utime + stime` counts in ticks of 10 ms, too coarse for a
/// few microseconds per message over a short run; the daemons' threads live as long as they do.
pub fn cpu_ns(pid: u32) -> Result<u64> {
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).context(|| format!("cannot list /proc/{pid}/task"))?;
    let mut total = 0;
    for task in tasks {
        let task = task.context(|| format!("cannot list /proc/{pid}/task"))?;
        let Ok(schedstat) = fs::read_to_string(task.path().join("schedstat")) else { continue };
        total += schedstat.split_whitespace().next().and_then(|ns| ns.parse::<u64>().ok()).unwrap_or(0);
    }
    Ok(total)
}

/// Context switches of all the process's threads so far: each is a wake-up after sleeping
/// (voluntary) or a preemption (involuntary).
pub fn context_switches(pid: u32) -> Result<u64> {
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).context(|| format!("cannot list /proc/{pid}/task"))?;
    let mut total = 0;
    for task in tasks {
        let task = task.context(|| format!("cannot list /proc/{pid}/task"))?;
        let path = task.path().join("status");
        // A thread that ended in between has no status any more; it no longer counts.
        let Ok(status) = fs::read_to_string(&path) else { continue };
        total += status_field(&status, "voluntary_ctxt_switches").unwrap_or(0);
        total += status_field(&status, "nonvoluntary_ctxt_switches").unwrap_or(0);
    }
    Ok(total)
}

fn read(pid: u32, file: &str) -> Result<String> {
    fs::read_to_string(format!("/proc/{pid}/{file}")).context(|| format!("cannot read /proc/{pid}/{file}"))
}

/// The number of a `Name:   1234 kB` line of a status file.
fn status_field(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(':')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// Fields 14 and 15 of a stat line. The command name (field 2) is in parentheses and may hold
/// spaces and parentheses itself, so fields are counted from its last `)`.
fn stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11); // field 3 is the first after `)`
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// One line about the machine: logical CPUs, CPU model, kernel.
pub fn machine() -> (usize, String, String) {
    let nproc = std::thread::available_parallelism().map_or(0, usize::from);
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel =
        fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(|_| "unknown".into(), |k| k.trim().into());
    (nproc, cpu, kernel)
}

/// The 1-, 5- and 15-minute load averages (`/proc/loadavg`); zeros if unreadable.
pub fn loadavg() -> [f64; 3] {
    fs::read_to_string("/proc/loadavg").ok().and_then(|text| parse_loadavg(&text)).unwrap_or_default()
}

fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ticks_after_the_command_name() {
        let stat = "4242 (sim pd) (x) S 1 4242 4242 0 -1 4194560 300 0 0 0 17 5 0 0 20 0 1 0 123 1000 200";
        assert_eq!(stat_ticks(stat), Some(22));
        assert_eq!(stat_ticks("4242 (simpd) S 1"), None);
        assert_eq!(stat_ticks("garbage"), None);
    }

    #[test]
    fn reads_status_fields() {
        let status =
            "Name:\tsimpd\nVmRSS:\t    3120 kB\nvoluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t3\n";
        assert_eq!(status_field(status, "VmRSS"), Some(3120));
        assert_eq!(status_field(status, "voluntary_ctxt_switches"), Some(12));
        assert_eq!(status_field(status, "nonvoluntary_ctxt_switches"), Some(3));
        assert_eq!(status_field(status, "VmSwap"), None);
    }

    #[test]
    fn reads_load_averages() {
        assert_eq!(parse_loadavg("8.56 8.30 5.39 11/176 8738\n"), Some([8.56, 8.30, 5.39]));
        assert_eq!(parse_loadavg("8.56 x"), None);
    }

    #[test]
    fn this_process_is_readable() {
        let pid = std::process::id();
        assert!(rss_kib(pid).unwrap() > 0);
        cpu_ticks(pid).unwrap();
        cpu_ns(pid).unwrap();
        context_switches(pid).unwrap();
    }
}
