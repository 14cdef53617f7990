//! `--matrix FILE`, for a teacher: every implementation of a TOML list is started on its own
//! loopback address, checked, and stopped; the result is one Markdown and one HTML page of
//! implementations × cases, each cell linking to its diagnosis and wire log.
//!
//! ```toml
//! [[implementation]]
//! name = "alice"
//! command = "python3 /home/alice/simp/daemon.py {ip}"   # no shell; {ip} is replaced
//! drive = "course"                                         # optional, default none
//! ```
//!
//! A crashed implementation (exited before or during its check) and a hung one (still
//! running after SIGTERM, then killed) are reported; nothing here waits without bound.

use std::fmt::Write as _;
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::case::{Case, Outcome};
use crate::run::Report;
use crate::settings::{Drive, Settings};

/// One loopback /16 each, from 127.100 up to 127.249.
pub const MAX_IMPLEMENTATIONS: usize = 150;

/// The TOML file.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixFile {
    /// The implementations, in the order of the page.
    #[serde(rename = "implementation")]
    pub implementations: Vec<Implementation>,
}

/// One implementation to check.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Implementation {
    /// Shown in the matrix; also names its log file.
    pub name: String,
    /// Program and arguments, split at spaces outside '…' or "…" quotes (no shell);
    /// `{ip}` is replaced by its address.
    pub command: String,
    /// How to play its user.
    #[serde(default = "no_driver")]
    pub drive: Drive,
    /// Its peer port (default 7777).
    #[serde(default)]
    pub port: Option<u16>,
    /// Its client port (default 7778).
    #[serde(default)]
    pub client_port: Option<u16>,
}

fn no_driver() -> Drive {
    Drive::None
}

/// How a matrix run is set up.
#[derive(Debug, Clone)]
pub struct MatrixOptions {
    /// Settings shared by every check (timeout…); target and sources are set per row.
    pub settings: Settings,
    /// How long an implementation gets to bind its ports.
    pub startup: Duration,
    /// Where the pages and the implementations' logs go.
    pub out: PathBuf,
    /// The n-th implementation runs on `127.(base+n).0.1`, its checker sends from
    /// `127.(base+n).1.1` upwards.
    pub net_base: u8,
}

/// What happened to one implementation.
#[derive(Debug)]
pub struct Row {
    /// The implementation.
    pub implementation: Implementation,
    /// Its address.
    pub ip: IpAddr,
    /// The check, if it could run.
    pub report: Option<Report>,
    /// Crash, hang or start failure, in words.
    pub trouble: Option<String>,
}

/// Why the matrix could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    /// The TOML file.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Writing the pages.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Reads and checks the TOML list.
pub fn load(path: &Path) -> Result<MatrixFile, MatrixError> {
    let error = |message: String| MatrixError::File { path: path.to_owned(), message };
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    let file: MatrixFile = toml::from_str(&text).map_err(|e| error(e.to_string()))?;
    if file.implementations.len() > MAX_IMPLEMENTATIONS {
        return Err(error(format!("at most {MAX_IMPLEMENTATIONS} implementations in one matrix (one 127.x.0.1 each)")));
    }
    for (i, imp) in file.implementations.iter().enumerate() {
        if imp.name.is_empty() || words(&imp.command).is_empty() {
            return Err(error(format!("implementation #{} needs a name and a command", i + 1)));
        }
        if file.implementations[..i].iter().any(|other| other.name == imp.name) {
            return Err(error(format!("two implementations are named {:?}", imp.name)));
        }
    }
    Ok(file)
}

/// Starts, checks and stops every implementation, `jobs` at a time.
pub fn run(file: &MatrixFile, cases: &[Case], options: &MatrixOptions, jobs: usize) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    let indexed: Vec<(usize, &Implementation)> = file.implementations.iter().enumerate().collect();
    for chunk in indexed.chunks(jobs.max(1)) {
        let done: Vec<Row> = std::thread::scope(|scope| {
            let handles: Vec<_> =
                chunk.iter().map(|&(i, imp)| scope.spawn(move || check_one(i, imp, cases, options))).collect();
            handles
                .into_iter()
                .zip(chunk)
                .map(|(h, (i, imp))| {
                    h.join().unwrap_or_else(|_| Row {
                        implementation: (*imp).clone(),
                        ip: address(options, *i, 0),
                        report: None,
                        trouble: Some("the checker panicked on this implementation; please report it".to_owned()),
                    })
                })
                .collect()
        });
        rows.extend(done);
        if crate::run::interrupted() {
            break;
        }
    }
    rows
}

fn address(options: &MatrixOptions, index: usize, third: u8) -> IpAddr {
    let second = u8::try_from(usize::from(options.net_base) + index).unwrap_or(u8::MAX);
    IpAddr::V4(Ipv4Addr::new(127, second, third, 1))
}

fn check_one(index: usize, imp: &Implementation, cases: &[Case], options: &MatrixOptions) -> Row {
    let ip = address(options, index, 0);
    let mut row = Row { implementation: imp.clone(), ip, report: None, trouble: None };
    let mut child = match spawn(imp, ip, &options.out) {
        Ok(child) => child,
        Err(e) => {
            row.trouble = Some(format!("could not start {:?}: {e}", imp.command));
            return row;
        }
    };
    std::thread::sleep(options.startup);
    if let Ok(Some(status)) = child.try_wait() {
        row.trouble = Some(format!("exited before its check ({}); see {}", describe(status), log_name(imp)));
        return row;
    }
    let mut settings = options.settings.clone();
    settings.target = SocketAddr::new(ip, imp.port.unwrap_or(simp_proto::ipc::DEFAULT_PORT));
    settings.client = SocketAddr::new(ip, imp.client_port.unwrap_or(simp_proto::ipc::DEFAULT_CLIENT_PORT));
    settings.drive = imp.drive;
    settings.source_base = match address(options, index, 1) {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(_) => settings.source_base,
    };
    match crate::run::run(&settings, cases, false, &mut |_| {}) {
        Ok(report) => row.report = Some(report),
        Err(e) => row.trouble = Some(e.to_string()),
    }
    let crashed = child.try_wait().ok().flatten();
    row.trouble = match (crashed, stop(&mut child)) {
        (Some(status), _) => Some(format!("crashed during its check ({}); see {}", describe(status), log_name(imp))),
        (None, Stopped::Killed) => Some("hung: still running 2 s after SIGTERM, killed".to_owned()),
        (None, Stopped::Gone) => row.trouble,
    };
    row
}

fn spawn(imp: &Implementation, ip: IpAddr, out: &Path) -> std::io::Result<Child> {
    let words = words(&imp.command.replace("{ip}", &ip.to_string()));
    let Some((program, args)) = words.split_first() else {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"));
    };
    let log = File::create(out.join(log_name(imp)))?;
    Command::new(program).args(args).stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log).spawn()
}

/// Splits a command line at spaces outside single or double quotes (quotes removed).
pub fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

fn log_name(imp: &Implementation) -> String {
    format!("{}.log", slug(&imp.name))
}

enum Stopped {
    Gone,
    Killed,
}

/// SIGTERM (through kill(1): this crate has no unsafe code), two seconds, then SIGKILL.
fn stop(child: &mut Child) -> Stopped {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).stderr(Stdio::null()).status();
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return Stopped::Gone;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    Stopped::Killed
}

fn describe(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => format!("{status}"),
    }
}

/// Writes `matrix.md` and `matrix.html` into the output folder; returns their paths.
pub fn write_pages(rows: &[Row], cases: &[Case], out: &Path) -> Result<[PathBuf; 2], MatrixError> {
    let md = out.join("matrix.md");
    let html = out.join("matrix.html");
    for (path, text) in [(&md, markdown(rows, cases)), (&html, html_page(rows, cases))] {
        std::fs::write(path, text).map_err(|source| MatrixError::Write { path: path.clone(), source })?;
    }
    Ok([md, html])
}

/// A name usable in a file name and an anchor.
fn slug(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect()
}

fn anchor(row: &Row, id: &str) -> String {
    format!("{}--{}", slug(&row.implementation.name), slug(id))
}

fn cell(row: &Row, id: &str) -> (&'static str, Option<&'static str>) {
    let Some(report) = &row.report else { return ("—", None) };
    match report.results.iter().find(|r| r.id == id).map(|r| r.outcome) {
        Some(Outcome::Pass) => ("PASS", None),
        Some(Outcome::Fail) => ("FAIL", Some("fail")),
        Some(Outcome::Warn) => ("WARN", Some("warn")),
        Some(Outcome::Skip) => ("skip", Some("skip")),
        Some(Outcome::NotRun) | None => ("—", None),
    }
}

fn status_line(row: &Row) -> String {
    let summary = row.report.as_ref().map(|r| crate::report::summary(r).trim_end().to_owned());
    match (&row.trouble, summary) {
        (Some(t), Some(s)) => format!("{s}; {t}"),
        (Some(t), None) => t.clone(),
        (None, Some(s)) => s,
        (None, None) => String::new(),
    }
}

/// The Markdown page.
pub fn markdown(rows: &[Row], cases: &[Case]) -> String {
    let mut out = String::from("# simp-check matrix\n\n| case |");
    for row in rows {
        let _ = write!(out, " {} |", row.implementation.name.replace('|', "\\|"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(rows.len()));
    out.push('\n');
    for case in cases {
        let _ = write!(out, "| `{}` |", case.id);
        for row in rows {
            match cell(row, case.id) {
                (word, Some(_)) => {
                    let _ = write!(out, " [{word}](#{}) |", anchor(row, case.id));
                }
                (word, None) => {
                    let _ = write!(out, " {word} |");
                }
            }
        }
        out.push('\n');
    }
    for row in rows {
        let _ = write!(out, "\n## {} ({})\n\n{}\n", row.implementation.name, row.ip, status_line(row));
        let Some(report) = &row.report else { continue };
        for r in report.results.iter().filter(|r| !matches!(r.outcome, Outcome::Pass | Outcome::NotRun)) {
            let _ = write!(
                out,
                "\n<a id=\"{}\"></a>\n### {} `{}`\n\n{}\n",
                anchor(row, r.id),
                r.outcome.as_str(),
                r.id,
                r.detail.as_deref().unwrap_or_default()
            );
            if matches!(r.outcome, Outcome::Fail | Outcome::Warn) {
                let _ = write!(out, "\n```\n{}```\n", crate::report::wire(r));
            }
        }
    }
    out
}

/// The HTML page (self-contained, no script).
pub fn html_page(rows: &[Row], cases: &[Case]) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>simp-check matrix</title><style>\n\
         body{font-family:sans-serif} table{border-collapse:collapse} td,th{border:1px solid #ccc;padding:2px 6px}\n\
         .fail{background:#f99} .warn{background:#fd8} .skip{color:#888} pre{background:#f4f4f4;padding:6px;overflow:auto}\n\
         </style></head><body>\n<h1>simp-check matrix</h1>\n<table>\n<tr><th>case</th>",
    );
    for row in rows {
        let _ = write!(out, "<th>{}</th>", esc(&row.implementation.name));
    }
    out.push_str("</tr>\n");
    for case in cases {
        let _ = write!(out, "<tr><td><code>{}</code></td>", esc(case.id));
        for row in rows {
            match cell(row, case.id) {
                (word, Some(class)) => {
                    let _ = write!(out, "<td class=\"{class}\"><a href=\"#{}\">{word}</a></td>", anchor(row, case.id));
                }
                (word, None) => {
                    let _ = write!(out, "<td>{word}</td>");
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    for row in rows {
        let _ =
            write!(out, "<h2>{} ({})</h2>\n<p>{}</p>\n", esc(&row.implementation.name), row.ip, esc(&status_line(row)));
        let Some(report) = &row.report else { continue };
        for r in report.results.iter().filter(|r| !matches!(r.outcome, Outcome::Pass | Outcome::NotRun)) {
            let _ = write!(
                out,
                "<h3 id=\"{}\">{} <code>{}</code></h3>\n<p>{}</p>\n",
                anchor(row, r.id),
                r.outcome.as_str(),
                esc(r.id),
                esc(r.detail.as_deref().unwrap_or_default())
            );
            if matches!(r.outcome, Outcome::Fail | Outcome::Warn) {
                let _ = writeln!(out, "<pre>{}</pre>", esc(&crate::report::wire(r)));
            }
        }
    }
    out.push_str("</body></html>\n");
    out
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn commands_split_at_spaces_outside_quotes() {
        assert_eq!(words("python3  d.py 127.0.0.1"), ["python3", "d.py", "127.0.0.1"]);
        assert_eq!(words(r#"sh -c 'trap "" TERM; exec sleep 9'"#), ["sh", "-c", r#"trap "" TERM; exec sleep 9"#]);
        assert_eq!(words(r#"a "" b"#), ["a", "", "b"]);
    }
}
