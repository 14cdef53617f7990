//! The daemons, each a separate process: the real `simpd` binary (found, or built) or the floor
//! (this executable again); started, watched, stopped.

use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{fail, Context, Result};

/// How long a daemon may take to start serving clients.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a daemon may take to exit after SIGTERM (one FIN timeout, and then some).
const STOP_GRACE: Duration = Duration::from_secs(8);

/// The `simpd` next to this executable (`target/release/simpd` under `cargo run --release`).
/// Under `cargo run` (cargo sets `CARGO`) it is always built first: `cargo run -p simp-bench`
/// rebuilds only the bench, and a `simpd` left from older sources would be measured without a
/// word (it happened). Run directly, the bench builds it only if it is missing.
pub fn locate_simpd() -> Result<PathBuf> {
    let exe = std::env::current_exe().context(|| "cannot find this executable's path".into())?;
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let simpd = dir.join(format!("simpd{}", std::env::consts::EXE_SUFFIX));
    let under_cargo = std::env::var_os("CARGO");
    if simpd.is_file() && under_cargo.is_none() {
        return Ok(simpd);
    }
    let cargo = under_cargo.unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let why = if simpd.is_file() { "run by cargo" } else { "simpd is missing" };
    // The profile this executable was built with: its directory is `target/<profile>`.
    let release = dir.file_name().is_some_and(|name| name == "release");
    let args: &[&str] = if release { &["build", "--release", "-p", "simpd"] } else { &["build", "-p", "simpd"] };
    let command = format!("cargo {}", args.join(" "));
    eprintln!("simp-bench: {why}; running `{command}` for {}", simpd.display());
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(&workspace)
        .status()
        .context(|| format!("cannot run {} to build simpd", cargo.to_string_lossy()))?;
    if !status.success() {
        fail!("`{command}` failed ({status})");
    }
    if !simpd.is_file() {
        fail!("built simpd, but it is not at {}; give its path with --simpd", simpd.display());
    }
    Ok(simpd)
}

/// What to run as a daemon: a program and the arguments before the IP address.
#[derive(Debug, Clone)]
pub struct Program {
    path: PathBuf,
    args: Vec<String>,
    /// `simpd` or `floor`, for messages.
    pub label: &'static str,
}

impl Program {
    /// `simpd` at `path`.
    pub fn simpd(path: PathBuf) -> Program {
        Program { path, args: Vec::new(), label: "simpd" }
    }

    /// This executable as the floor daemon (`--floor-daemon IP`).
    pub fn floor() -> Result<Program> {
        let path = std::env::current_exe().context(|| "cannot find this executable's path".into())?;
        Ok(Program { path, args: vec!["--floor-daemon".into()], label: "floor" })
    }

    /// The floor that also writes what simpd's store keeps (`floor.rs`).
    pub fn floor_durable() -> Result<Program> {
        let floor = Program::floor()?;
        Ok(Program { args: vec!["--floor-durable".into(), "--floor-daemon".into()], label: "durable floor", ..floor })
    }

    /// The command line, for messages.
    pub fn display(&self) -> String {
        let mut words = vec![self.path.display().to_string()];
        words.extend(self.args.iter().cloned());
        words.join(" ")
    }
}

/// A running daemon process (`simpd` or the floor), stopped when dropped.
pub struct Daemon {
    /// A short name for messages (`A`, `B`, …).
    pub name: String,
    child: Child,
    log: PathBuf,
    /// Its message store's directory (a fresh one per run, removed when stopped).
    state: PathBuf,
    /// The peer (UDP) address.
    pub udp: SocketAddr,
    /// The client (TCP) address.
    pub client: SocketAddr,
    /// The connection that proved the daemon ready, kept as the client's connection: closing it
    /// and connecting again could race the daemon's cleanup and be refused as a second client.
    first: Option<TcpStream>,
}

impl Daemon {
    /// Starts `PROGRAM IP` with default ports and `extra` flags; returns once it accepts
    /// clients. Its stderr goes to a file, shown when it fails.
    pub fn spawn(program: &Program, name: &str, ip: Ipv4Addr, extra: &[&str]) -> Result<Daemon> {
        let log = std::env::temp_dir().join(format!("simp-bench-{}-{name}.log", std::process::id()));
        let stderr = File::create(&log).context(|| format!("cannot create {}", log.display()))?;
        // simpd's message store goes to a fresh directory (the floor keeps none).
        let state = std::env::temp_dir().join(format!("simp-bench-{}-{name}-state", std::process::id()));
        let _ = fs::remove_dir_all(&state);
        let child = Command::new(&program.path)
            .args(&program.args)
            .env("XDG_STATE_HOME", &state)
            .arg(ip.to_string())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .context(|| format!("cannot start {}", program.display()))?;
        let mut daemon = Daemon {
            name: name.to_string(),
            child,
            log,
            state,
            udp: SocketAddr::new(ip.into(), simp_proto::ipc::DEFAULT_PORT),
            client: SocketAddr::new(ip.into(), simp_proto::ipc::DEFAULT_CLIENT_PORT),
            first: None,
        };
        let started = Instant::now();
        loop {
            if let Some(status) = daemon.child.try_wait().context(|| format!("cannot watch daemon {name}"))? {
                fail!(
                    "daemon {name} ({} {ip} {}) exited at start ({status}); its stderr:\n{}",
                    program.display(),
                    extra.join(" "),
                    daemon.stderr()
                );
            }
            match TcpStream::connect_timeout(&daemon.client, Duration::from_secs(1)) {
                Ok(stream) => {
                    daemon.first = Some(stream);
                    return Ok(daemon);
                }
                Err(_) if started.elapsed() < START_TIMEOUT => thread::sleep(Duration::from_millis(20)),
                Err(error) => fail!(
                    "daemon {name} did not accept clients on {} within {START_TIMEOUT:?} ({error}); its stderr:\n{}",
                    daemon.client,
                    daemon.stderr()
                ),
            }
        }
    }

    /// The client connection (the first call), or a new one.
    pub fn connection(&mut self) -> Result<TcpStream> {
        match self.first.take() {
            Some(stream) => Ok(stream),
            None => TcpStream::connect_timeout(&self.client, Duration::from_secs(5))
                .context(|| format!("cannot connect to daemon {} at {}", self.name, self.client)),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails, with its stderr, if the daemon has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Ok(Some(status)) = self.child.try_wait() {
            fail!("daemon {} exited ({status}); its stderr:\n{}", self.name, self.stderr());
        }
        Ok(())
    }

    /// The last lines the daemon wrote to stderr.
    pub fn stderr(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(20)..];
        if tail.is_empty() {
            "(nothing)".into()
        } else {
            tail.join("\n")
        }
    }
}

impl Drop for Daemon {
    /// SIGTERM first (the daemon says FIN to any peer and exits; a profiler wrapping it gets
    /// to write its output), SIGKILL if it is still there after a grace period.
    fn drop(&mut self) {
        let terminated = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let deadline = Instant::now() + STOP_GRACE;
        while terminated && Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.log);
        let _ = fs::remove_dir_all(&self.state);
    }
}
