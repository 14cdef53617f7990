//! `simp-check IP[:PORT] [CASE-OR-SECTION...]`: checks a SIMP daemon against docs/SPEC.md.

use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use simp_check::run::Progress;
use simp_check::settings::SeqMode;
use simp_check::{cases, report, Drive, Settings};

/// Checks a SIMP daemon against docs/SPEC.md and tells what it gets wrong.
///
/// Exit status: 0 when every MUST passed (and every SHOULD, with --strict), 1 otherwise,
/// 2 on bad arguments.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The daemon to check: IP or IP:PORT (default port 7777).
    target: Option<String>,
    /// Case ids (2.2/retransmit) or SPEC sections (2.2, 2) to run; all by default.
    select: Vec<String>,
    /// The target's retransmission timeout: 200ms, 5s, 1m.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    timeout: Duration,
    /// How long an answer that should come at once may take (default: the timeout, at
    /// least 1s).
    #[arg(long, value_parser = parse_duration)]
    answer_wait: Option<Duration>,
    /// How to play the target's user: none (it must auto-accept), jsonl (simp's IPC), course.
    #[arg(long, value_enum, default_value = "none")]
    drive: Drive,
    /// The target's client port, for --drive.
    #[arg(long, default_value_t = simp_proto::ipc::DEFAULT_CLIENT_PORT)]
    client_port: u16,
    /// The target's sequence numbering (SPEC 2.6).
    #[arg(long, value_enum, default_value = "per-direction")]
    seq_mode: SeqMode,
    /// Re-sends of one datagram accepted before "bounded retries" fails.
    #[arg(long, default_value_t = 10)]
    max_retries: u32,
    /// First loopback address the checker sends from (one per peer it plays).
    #[arg(long, default_value = "127.66.0.1")]
    source: std::net::Ipv4Addr,
    /// Count SHOULD failures (WARN) as failures.
    #[arg(long)]
    strict: bool,
    /// List the cases and exit.
    #[arg(long)]
    list: bool,
    /// Also write the report as JSON to this file (every case with its wire log).
    #[arg(long, value_name = "FILE")]
    json: Option<std::path::PathBuf>,
    /// Also write the report as JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    junit: Option<std::path::PathBuf>,
    /// Write one capture per failing case into this folder (Wireshark decodes it with
    /// contrib/wireshark/simp.lua).
    #[arg(long, value_name = "DIR")]
    pcap: Option<std::path::PathBuf>,
    /// Check every implementation of this TOML list (name, command with {ip}, optional
    /// drive) and write matrix.md and matrix.html; the words after it select cases.
    #[arg(long, value_name = "FILE")]
    matrix: Option<std::path::PathBuf>,
    /// Where --matrix writes its pages and the implementations' logs.
    #[arg(long, value_name = "DIR", default_value = "simp-check-matrix")]
    out: std::path::PathBuf,
    /// How many implementations --matrix checks at once.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
    /// How long --matrix gives an implementation to bind its ports.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    startup: Duration,
    /// Show the wire log of every case, not only of failures.
    #[arg(long, short)]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let suite = cases::all();
    // With --list or --matrix there is no target: every word selects.
    let mut select = args.select.clone();
    if args.list || args.matrix.is_some() {
        select.splice(0..0, args.target.clone());
    }
    let selected: Vec<_> = if select.is_empty() {
        suite
    } else {
        suite.into_iter().filter(|c| select.iter().any(|p| c.matches(p))).collect()
    };
    if args.list {
        for c in &selected {
            let level = format!("{:?}", c.level).to_uppercase();
            let driver = if c.needs_driver.is_some() { "  (needs --drive)" } else { "" };
            println!("{:<30} {level:<6} {}{driver}", c.id, c.title);
        }
        return ExitCode::SUCCESS;
    }
    if selected.is_empty() {
        eprintln!("simp-check: no case matches {select:?}; see --list");
        return ExitCode::from(2);
    }
    if let Some(file) = &args.matrix {
        watch_ctrl_c();
        return matrix(&args, file, &selected);
    }
    let Some(target) = args.target.as_deref() else {
        eprintln!("simp-check: which daemon? give IP or IP:PORT (e.g. simp-check 127.0.0.1), or --list");
        return ExitCode::from(2);
    };
    let target = match parse_target(target) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("simp-check: {e}");
            return ExitCode::from(2);
        }
    };
    if !matches!(target.ip(), IpAddr::V4(v4) if v4.is_loopback()) {
        eprintln!(
            "simp-check: {target} is not a 127.x.y.z address; simp-check plays its peers from loopback addresses \
             ({} upwards), so run it on the daemon's machine with the daemon bound to e.g. 127.0.0.1",
            args.source
        );
        return ExitCode::from(2);
    }
    let mut settings = settings(&args, target);
    settings.drive = args.drive;
    settings.client = SocketAddr::new(target.ip(), args.client_port);
    watch_ctrl_c();

    let tty = std::io::stderr().is_terminal();
    let mut progress = |p: Progress<'_>| {
        if let Progress::Started(i, n, ids) = p {
            let what = if ids.len() == 1 { ids.join("") } else { format!("{} cases concurrently", ids.len()) };
            let mut err = std::io::stderr();
            if tty {
                let _ = write!(err, "\r\x1b[K[{i}/{n}] {what} …");
            } else if args.verbose {
                let _ = writeln!(err, "[{i}/{n}] {what}");
            }
            let _ = err.flush();
        }
    };
    let report = match simp_check::run(&settings, &selected, args.strict, &mut progress) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("simp-check: {e}");
            return ExitCode::from(1);
        }
    };
    if tty {
        eprint!("\r\x1b[K");
    }
    print!("{}", report::text(&report, args.verbose));
    if let Err(e) = write_files(&args, &report) {
        eprintln!("simp-check: {e}");
        return ExitCode::from(1);
    }
    ExitCode::from(u8::try_from(report.exit_code()).unwrap_or(1))
}

/// The settings the flags give for a target.
fn settings(args: &Args, target: SocketAddr) -> Settings {
    let mut settings = Settings::new(target);
    settings.timeout = args.timeout;
    settings.seq_mode = args.seq_mode;
    settings.max_retries = args.max_retries;
    settings.source_base = args.source;
    settings.answer = args.answer_wait;
    settings
}

/// `--matrix FILE`.
fn matrix(args: &Args, file: &std::path::Path, cases: &[simp_check::Case]) -> ExitCode {
    use simp_check::matrix;
    let list = match matrix::load(file) {
        Ok(list) => list,
        Err(e) => {
            eprintln!("simp-check: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("simp-check: cannot create {}: {e}", args.out.display());
        return ExitCode::from(1);
    }
    let options = matrix::MatrixOptions {
        settings: settings(args, SocketAddr::from(([127, 0, 0, 1], simp_proto::ipc::DEFAULT_PORT))),
        startup: args.startup,
        out: args.out.clone(),
        net_base: 100,
    };
    eprintln!("simp-check: checking {} implementations, {} at a time …", list.implementations.len(), args.jobs.max(1));
    let rows = matrix::run(&list, cases, &options, args.jobs);
    for row in &rows {
        let summary = row.report.as_ref().map_or(String::new(), |r| report::summary(r).trim_end().to_owned());
        let trouble = row.trouble.as_deref().map_or(String::new(), |t| format!(" [{t}]"));
        println!("{:<20} {summary}{trouble}", row.implementation.name);
    }
    match matrix::write_pages(&rows, cases, &args.out) {
        Ok([md, html]) => {
            println!("\n{}\n{}", md.display(), html.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("simp-check: {e}");
            ExitCode::from(1)
        }
    }
}

/// `--json`, `--junit`, `--pcap`.
fn write_files(args: &Args, report: &simp_check::Report) -> Result<(), String> {
    let write = |path: &std::path::Path, text: Result<String, String>| {
        text.and_then(|t| std::fs::write(path, t).map_err(|e| e.to_string()))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    if let Some(path) = &args.json {
        write(path, serde_json::to_string_pretty(report).map_err(|e| e.to_string()))?;
    }
    if let Some(path) = &args.junit {
        write(path, simp_check::junit::xml(report).map_err(|e| e.to_string()))?;
    }
    if let Some(dir) = &args.pcap {
        let files = simp_check::pcap::write_failures(report, dir).map_err(|e| e.to_string())?;
        if !files.is_empty() {
            eprintln!("simp-check: {} capture(s) of failing cases in {}", files.len(), dir.display());
        }
    }
    Ok(())
}

/// `IP` or `IP:PORT`.
fn parse_target(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, simp_proto::ipc::DEFAULT_PORT))
        .map_err(|_| format!("{text:?} is not IP or IP:PORT (e.g. 127.0.0.1 or 127.0.0.1:7777)"))
}

/// `250ms`, `5s`, `1m`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().map_err(|_| format!("{text:?}: write e.g. 200ms, 5s or 1m"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" | "" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        _ => return Err(format!("{text:?}: the unit is ms, s or m")),
    };
    if d.is_zero() || d > Duration::from_secs(3600) {
        return Err(format!("{text:?}: between 1ms and 1h"));
    }
    Ok(d)
}

/// Ctrl-C stops the cases at their next wait; the partial report is printed.
fn watch_ctrl_c() {
    std::thread::spawn(|| {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_io().build() else { return };
        if runtime.block_on(tokio::signal::ctrl_c()).is_ok() {
            simp_check::run::interrupt();
        }
    });
}
