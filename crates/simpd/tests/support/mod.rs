//! Helpers of the `hostile_*` tests: the seed (their generator is `simp_proto::rng::Rng`),
//! the real `simpd` binary as a separate process (so its memory can be read from /proc), the
//! kernel's view of a UDP socket, the impairment relay on its own thread, and a two-way
//! message exchange checked for exactly-once, in-order delivery.
#![allow(dead_code)] // each test file uses a different part

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};
use simp_relay::{Impairment, Relay, RelayStats};
use tokio::sync::oneshot;

use crate::common::{Ipc, StateDir, WAIT};

/// The seed of a test: `SIMP_SEED` if set, else `default`; printed so that a failure
/// (nextest shows the output of failed tests) names it.
pub fn seed(default: u64) -> u64 {
    let seed = simp_proto::rng::seed_from_env(default);
    println!("seed {seed} (replay with {}={seed})", simp_proto::rng::SEED_VAR);
    seed
}

/// The real `simpd` binary, as its own process. Killed (SIGKILL) when dropped.
pub struct SimpdProcess {
    child: Child,
    /// Its log (stderr) after the line that reported its addresses.
    log: Arc<std::sync::Mutex<Vec<String>>>,
    reader: Option<thread::JoinHandle<()>>,
    /// Its own state directory, unless the test named one with `--state-dir`.
    _state: Option<StateDir>,
    pub udp: SocketAddr,
    pub client: SocketAddr,
}

impl SimpdProcess {
    /// `simpd IP --port 0 --client-port 0 ARGS…`; returns once it has reported its addresses.
    pub fn spawn(ip: IpAddr, args: &[&str]) -> SimpdProcess {
        SimpdProcess::spawn_at(ip, 0, 0, args)
    }

    /// `simpd IP --port PORT --client-port CLIENT_PORT ARGS…`.
    pub fn spawn_at(ip: IpAddr, port: u16, client_port: u16, args: &[&str]) -> SimpdProcess {
        let state = (!args.contains(&"--state-dir")).then(|| StateDir::new("process"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_simpd"))
            .arg(ip.to_string())
            .args(["--port", &port.to_string(), "--client-port", &client_port.to_string()])
            .args(state.iter().flat_map(|s| ["--state-dir", s.arg()]))
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("simpd starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let later = Arc::clone(&log);
        // Reads stderr to its end, so the daemon never blocks on a full pipe.
        let reader = thread::spawn(move || {
            let mut seen = Vec::new();
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("simpd listening") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(Ok((field(&line, "udp="), field(&line, "client="))));
                    }
                }
                if tx.is_some() {
                    seen.push(line);
                } else if let Ok(mut log) = later.lock() {
                    log.push(line);
                }
            }
            if let Some(tx) = tx {
                let _ = tx.send(Err(seen.join("\n")));
            }
        });
        match rx.recv_timeout(WAIT) {
            Ok(Ok((udp, client))) => SimpdProcess { child, log, reader: Some(reader), _state: state, udp, client },
            Ok(Err(stderr)) => panic!("simpd exited before listening; its stderr:\n{stderr}"),
            Err(_) => {
                let _ = child.kill();
                panic!("simpd did not report its addresses within {WAIT:?}")
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory, from /proc/PID/status (VmRSS), in KiB.
    pub fn rss_kib(&self) -> u64 {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmRSS in {path}"))
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then [`SimpdProcess::wait_for_exit`].
    pub fn terminate(&mut self) -> Vec<String> {
        self.sigterm();
        self.wait_for_exit()
    }

    /// Sends SIGTERM, without waiting.
    pub fn sigterm(&self) {
        let pid = self.pid().to_string();
        let kill = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(kill.success(), "kill -TERM {pid} failed");
    }

    /// Waits (bounded) for it to exit with status 0; returns its log after the line that
    /// reported its addresses.
    pub fn wait_for_exit(&mut self) -> Vec<String> {
        let deadline = std::time::Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("simpd can be waited for") {
                break status;
            }
            assert!(std::time::Instant::now() < deadline, "simpd did not exit within {WAIT:?} of SIGTERM");
            thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(status.code(), Some(0), "simpd's exit status after SIGTERM: {status}");
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }

    /// SIGKILL, then reaps it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SimpdProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn field(line: &str, key: &str) -> SocketAddr {
    let value =
        line.split_whitespace().find_map(|w| w.strip_prefix(key)).unwrap_or_else(|| panic!("no {key} in {line}"));
    value.parse().unwrap_or_else(|e| panic!("{key}{value}: {e}"))
}

/// The kernel's counters of the IPv4 UDP socket bound to `addr` (/proc/net/udp): bytes waiting
/// in its receive queue, and datagrams dropped because that queue was full.
pub fn udp_socket(addr: SocketAddr) -> Option<(u64, u64)> {
    let SocketAddr::V4(v4) = addr else { return None };
    let local = format!("{:08X}:{:04X}", u32::from_le_bytes(v4.ip().octets()), v4.port());
    let table = std::fs::read_to_string("/proc/net/udp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.get(1) != Some(&local.as_str()) {
            return None;
        }
        let rx_queue = u64::from_str_radix(cols.get(4)?.split(':').nth(1)?, 16).ok()?;
        let drops = cols.last()?.parse().ok()?;
        Some((rx_queue, drops))
    })
}

/// The impairment relay on its own thread and runtime.
pub struct RelayThread {
    pub front: SocketAddr,
    pub back: SocketAddr,
    pub stats: Arc<RelayStats>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

/// A relay on `ip` (two ports) forwarding to `target`.
pub fn start_relay(ip: IpAddr, target: SocketAddr, impairment: Impairment) -> RelayThread {
    let (addrs_tx, addrs_rx) = std::sync::mpsc::channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let thread = thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let relay = Relay::bind(SocketAddr::new(ip, 0), SocketAddr::new(ip, 0), target, impairment)
                .await
                .expect("relay binds");
            addrs_tx.send((relay.front_addr(), relay.back_addr(), relay.stats())).expect("test waits");
            relay
                .run(async {
                    let _ = stopped.await;
                })
                .await;
        });
    });
    let (front, back, stats) = addrs_rx.recv_timeout(WAIT).expect("relay did not bind within 10 s");
    RelayThread { front, back, stats, stop: Some(stop), thread: Some(thread) }
}

impl Drop for RelayThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How one side of [`exchange`] sends.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Messages to send.
    pub count: usize,
    /// Pause between two sends (zero: all at once).
    pub every: Duration,
}

/// Both clients of an open chat send `pace.count` messages with ids and texts `{tag}{i}`
/// (`tag` = "a" for the caller's side, "b" for the callee's), and the exchange runs until each
/// side has seen all its messages delivered and all the other's received. The callee's side
/// starts only after it has received the caller's first message and then `settle` has passed:
/// the one-bit sequence cannot tell a late copy of the handshake ACK from the ACK of the
/// callee's first chat datagram (crate docs of simp-proto), so the handshake's stray ACKs
/// must drain first. Returns every event each side saw; fails loudly after `limit`.
pub async fn exchange(
    caller: &mut Ipc,
    callee: &mut Ipc,
    pace: Pace,
    settle: Duration,
    filler: &str,
    limit: Duration,
) -> (Vec<Value>, Vec<Value>) {
    let done = |events: &[Value]| count(events, "delivered") >= pace.count && count(events, "message") >= pace.count;
    let a = async {
        let mut events = Vec::new();
        for i in 0..pace.count {
            caller.send(json!({"cmd": "chat", "text": format!("a{i}{filler}"), "id": format!("a{i}")})).await;
            if !pace.every.is_zero() {
                tokio::time::sleep(pace.every).await;
            }
        }
        while !done(&events) {
            events.push(caller.next_event().await);
        }
        events
    };
    let b = async {
        let mut events = Vec::new();
        while count(&events, "message") == 0 {
            events.push(callee.next_event().await);
        }
        tokio::time::sleep(settle).await;
        for i in 0..pace.count {
            callee.send(json!({"cmd": "chat", "text": format!("b{i}{filler}"), "id": format!("b{i}")})).await;
            if !pace.every.is_zero() {
                tokio::time::sleep(pace.every).await;
            }
        }
        while !done(&events) {
            events.push(callee.next_event().await);
        }
        events
    };
    tokio::time::timeout(limit, async { tokio::join!(a, b) })
        .await
        .unwrap_or_else(|_| panic!("the exchange of {} messages each way did not finish within {limit:?}", pace.count))
}

/// One side's events show exactly-once, in-order delivery both ways: its own ids queued and
/// delivered in order, each once; the peer's texts received in order, each once; nothing
/// undelivered and no error.
pub fn assert_exactly_once_in_order(events: &[Value], mine: &str, theirs: &str, n: usize, filler: &str) {
    let own: Vec<String> = (0..n).map(|i| format!("{mine}{i}")).collect();
    let peer: Vec<String> = (0..n).map(|i| format!("{theirs}{i}{filler}")).collect();
    let bad: Vec<&Value> = events.iter().filter(|e| e["event"] == "undelivered" || e["event"] == "error").collect();
    assert!(bad.is_empty(), "side {mine}: undelivered or error events: {bad:?}");
    assert_eq!(field_of(events, "queued", "id"), own, "side {mine}: queued ids");
    assert_eq!(field_of(events, "delivered", "id"), own, "side {mine}: delivered ids, once each, in order");
    assert!(field_of(events, "message", "text") == peer, "side {mine}: the peer's messages, once each, in order");
}

pub fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["event"] == kind).count()
}

pub fn field_of(events: &[Value], kind: &str, field: &str) -> Vec<String> {
    events.iter().filter(|e| e["event"] == kind).map(|e| e[field].as_str().unwrap_or("?").to_owned()).collect()
}

/// `status` through `client`: the next `status` event (skipping any other).
pub async fn status(client: &mut Ipc) -> Value {
    client.send(json!({"cmd": "status"})).await;
    client.expect_event("status", |e| e["event"] == "status").await
}
