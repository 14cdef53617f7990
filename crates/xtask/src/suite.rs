//! `cargo xtask test`: the whole test suite, runnable as written on a fresh machine.
//!
//! A fresh machine of the project's kind has the Rust toolchain, cargo-nextest, gcc and
//! python3, nothing else. Two tests need more: the Wireshark dissector test runs `tshark`,
//! `text2pcap` and `editcap` (Debian package `tshark`), the service-unit test runs
//! `systemd-analyze` (package `systemd`). Rather than skip them (a test that silently does not
//! run cannot fail), the runner installs what is missing when it can (root and `apt-get`), and
//! otherwise stops before running anything, naming the command that would fix it.
//!
//! Every command is printed before it runs, so a log shows exactly what CI did.

use std::ffi::OsStr;
use std::fmt;
use std::path::Path;
use std::process::Command;

/// A program a test needs, and the Debian package that provides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// The executable looked up on `PATH`.
    pub program: &'static str,
    /// The Debian package that installs it.
    pub package: &'static str,
    /// Which test needs it, for the messages.
    pub needed_by: &'static str,
}

/// Every external program the suite needs beyond the Rust toolchain.
pub const TOOLS: &[Tool] = &[
    Tool { program: "tshark", package: "tshark", needed_by: "the dissector test (crates/simp-wireshark-test)" },
    Tool { program: "text2pcap", package: "tshark", needed_by: "the dissector test (crates/simp-wireshark-test)" },
    Tool { program: "editcap", package: "tshark", needed_by: "the dissector test (crates/simp-wireshark-test)" },
    Tool { program: "systemd-analyze", package: "systemd", needed_by: "the unit test (crates/simpd/tests/systemd.rs)" },
];

/// The checks, in order: formatting and lints first (cheap, and their failures are the most
/// common), then the suite itself with every failure listed.
pub const STEPS: &[&[&str]] = &[
    &["cargo", "fmt", "--all", "--", "--check"],
    &["cargo", "clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"],
    &["cargo", "nextest", "run", "--workspace", "--locked", "--no-fail-fast"],
];

/// Why the suite could not run.
#[derive(Debug)]
pub enum SuiteError {
    /// Programs are missing and this process cannot install them.
    Missing {
        /// The missing tools.
        tools: Vec<Tool>,
        /// Why they could not be installed.
        why: String,
    },
    /// A command could not be started.
    Spawn {
        /// The command line.
        command: String,
        /// The operating system's answer.
        error: std::io::Error,
    },
    /// A command ran and failed.
    Failed {
        /// The command line.
        command: String,
        /// Its exit status, as printed.
        status: String,
    },
}

impl fmt::Display for SuiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SuiteError::Missing { tools, why } => {
                writeln!(f, "the test suite needs programs that are not installed ({why}):")?;
                for tool in tools {
                    writeln!(f, "  {} (Debian package {}), for {}", tool.program, tool.package, tool.needed_by)?;
                }
                write!(f, "install them with `{}` and run `cargo xtask test` again", install_command(tools).join(" "))
            }
            SuiteError::Spawn { command, error } => write!(f, "cannot run `{command}`: {error}"),
            SuiteError::Failed { command, status } => write!(f, "`{command}` failed ({status})"),
        }
    }
}

impl std::error::Error for SuiteError {}

/// The tools of [`TOOLS`] that `found` does not find.
pub fn missing(found: impl Fn(&str) -> bool) -> Vec<Tool> {
    TOOLS.iter().copied().filter(|tool| !found(tool.program)).collect()
}

/// The one `apt-get install` line for `tools`, each package once.
pub fn install_command(tools: &[Tool]) -> Vec<&'static str> {
    let mut command = vec!["apt-get", "install", "-y", "-qq"];
    for tool in tools {
        if !command.contains(&tool.package) {
            command.push(tool.package);
        }
    }
    command
}

/// Runs the whole suite from the repository `root`: installs missing tools, then every step
/// of [`STEPS`]. Stops at the first failure.
pub fn run(root: &Path) -> Result<(), SuiteError> {
    provide_tools()?;
    for step in STEPS {
        run_step(root, step)?;
    }
    println!("xtask: all checks passed");
    Ok(())
}

/// Installs the missing tools with apt-get when this process may (root, apt-get present).
fn provide_tools() -> Result<(), SuiteError> {
    let tools = missing(on_path);
    if tools.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = tools.iter().map(|t| t.program).collect();
    println!("xtask: missing {}; installing", names.join(", "));
    if !on_path("apt-get") {
        return Err(SuiteError::Missing { tools, why: "no apt-get on this machine".into() });
    }
    if !is_root() {
        return Err(SuiteError::Missing { tools, why: "installing needs root".into() });
    }
    let env = [("DEBIAN_FRONTEND", "noninteractive")];
    run_with_env(Path::new("."), &["apt-get", "update", "-qq"], &env)?;
    run_with_env(Path::new("."), &install_command(&tools), &env)?;
    let still = missing(on_path);
    if !still.is_empty() {
        return Err(SuiteError::Missing { tools: still, why: "apt-get install did not provide them".into() });
    }
    Ok(())
}

fn run_step(root: &Path, step: &[&str]) -> Result<(), SuiteError> {
    run_with_env(root, step, &[])
}

fn run_with_env(dir: &Path, argv: &[&str], env: &[(&str, &str)]) -> Result<(), SuiteError> {
    let command = argv.join(" ");
    println!("xtask: running `{command}`");
    let status = Command::new(argv[0])
        .args(&argv[1..])
        .envs(env.iter().copied())
        .current_dir(dir)
        .status()
        .map_err(|error| SuiteError::Spawn { command: command.clone(), error })?;
    if status.success() {
        Ok(())
    } else {
        Err(SuiteError::Failed { command, status: status.to_string() })
    }
}

/// Whether `program` is an executable file in one of `PATH`'s directories.
fn on_path(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else { return false };
    std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// Root can install packages; `id -u` says whether we are root without unsafe code.
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| out.status.success() && trim(&out.stdout) == OsStr::new("0"))
        .unwrap_or(false)
}

fn trim(bytes: &[u8]) -> &OsStr {
    use std::os::unix::ffi::OsStrExt;
    OsStr::from_bytes(bytes.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_machine_without_tshark_lacks_exactly_its_three_programs() {
        let lacking = missing(|program| !["tshark", "text2pcap", "editcap"].contains(&program));
        let programs: Vec<&str> = lacking.iter().map(|t| t.program).collect();
        assert_eq!(programs, ["tshark", "text2pcap", "editcap"]);
        assert_eq!(install_command(&lacking), ["apt-get", "install", "-y", "-qq", "tshark"]);
    }

    #[test]
    fn a_complete_machine_lacks_nothing() {
        assert!(missing(|_| true).is_empty());
    }

    #[test]
    fn the_error_names_the_fix() {
        let error =
            SuiteError::Missing { tools: missing(|p| p != "systemd-analyze"), why: "installing needs root".into() };
        let text = error.to_string();
        assert!(text.contains("systemd-analyze (Debian package systemd)"), "{text}");
        assert!(text.contains("`apt-get install -y -qq systemd`"), "{text}");
    }

    #[test]
    fn the_suite_is_what_the_readme_and_ci_describe() {
        let readme = std::fs::read_to_string(crate::repo_root().join("README.md")).expect("README.md");
        assert!(readme.contains("cargo xtask test"), "the README gives `cargo xtask test` as the test command");
        let ci = std::fs::read_to_string(crate::repo_root().join(".ci/run")).expect(".ci/run");
        let last = ci.lines().rev().find(|l| !l.trim().is_empty() && !l.starts_with('#')).unwrap_or_default();
        assert_eq!(last.trim(), "cargo xtask test", ".ci/run ends by running exactly the README's command");
        assert!(STEPS.iter().any(|s| s.starts_with(&["cargo", "nextest", "run"])));
    }
}
