//! Test helpers: daemons on their own threads, an IPC test client, and a raw SIMP peer.
//!
//! Every daemon binds its own 127.0.x.y address with port 0, so tests run in parallel without
//! clashing. Every wait is bounded by [`WAIT`] and fails with what was seen so far.
#![allow(dead_code)] // each test file uses a different part

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};
use simp_proto::wire;
use simpd::{Daemon, DaemonConfig};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// The longest any test waits for one thing to happen.
pub const WAIT: Duration = Duration::from_secs(10);

/// A fresh state directory for a `simpd` process (its message store), removed when dropped:
/// no test reads or leaves anything in the user's own `~/.local/state`.
#[allow(dead_code)] // not every test binary runs the simpd binary
pub struct StateDir(pub std::path::PathBuf);

#[allow(dead_code)]
impl StateDir {
    pub fn new(tag: &str) -> StateDir {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("simpd-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        StateDir(dir)
    }

    pub fn arg(&self) -> &str {
        self.0.to_str().expect("temporary directories have UTF-8 names")
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `127.0.net.host`.
pub fn ip(net: u8, host: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, net, host))
}

/// A daemon running on its own thread and runtime, like a separate process would, so a test
/// may block (a raw `std` socket) without stalling it.
pub struct TestDaemon {
    pub udp: SocketAddr,
    pub client: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: std::sync::mpsc::Receiver<()>,
    thread: Option<thread::JoinHandle<()>>,
}

/// A daemon on `ip` with short timeouts (200 ms, 10 retries: robust on a loaded machine), then
/// `tweak`.
pub fn start_daemon(ip: IpAddr, tweak: impl FnOnce(&mut DaemonConfig)) -> TestDaemon {
    let mut config = DaemonConfig::new(ip);
    config.port = 0;
    config.client_port = 0;
    config.endpoint.timeout = Duration::from_millis(200);
    config.endpoint.retries = 10;
    tweak(&mut config);
    let (addrs_tx, addrs_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (done_tx, done) = std::sync::mpsc::channel();
    let thread = thread::Builder::new()
        .name("simpd-daemon".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let daemon = Daemon::bind(config).await.expect("daemon binds");
                addrs_tx.send((daemon.udp_addr(), daemon.client_addr())).expect("test waits for addresses");
                daemon
                    .run(async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .expect("daemon runs");
            });
            let _ = done_tx.send(());
        })
        .unwrap();
    let (udp, client) = addrs_rx.recv_timeout(WAIT).expect("daemon did not bind within 10 s");
    TestDaemon { udp, client, stop: Some(stop_tx), done, thread: Some(thread) }
}

impl TestDaemon {
    /// Graceful shutdown, as on SIGTERM; waits for the daemon to finish.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            if self.done.recv_timeout(WAIT).is_err() && !thread.is_finished() {
                panic!("daemon did not stop within 10 s of shutdown");
            }
            thread.join().expect("daemon thread panicked");
        }
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if !thread::panicking() {
            self.shutdown();
        } else if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An IPC client as a test drives it: JSON in, events out, everything seen kept for failures.
pub struct Ipc {
    name: String,
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    seen: Vec<String>,
}

impl Ipc {
    /// A raw connection, nothing sent yet.
    pub async fn connect(name: &str, addr: SocketAddr) -> Ipc {
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .unwrap_or_else(|_| panic!("{name}: connecting to {addr} timed out"))
            .unwrap_or_else(|e| panic!("{name}: cannot connect to {addr}: {e}"));
        let (reader, writer) = stream.into_split();
        Ipc { name: name.to_owned(), reader: BufReader::new(reader), writer, seen: Vec::new() }
    }

    /// Connects and names the user; returns after `connected`.
    pub async fn login(addr: SocketAddr, user: &str) -> Ipc {
        let mut ipc = Ipc::connect(user, addr).await;
        ipc.send(json!({"cmd": "connect", "user": user})).await;
        ipc.expect(json!({"event": "connected", "user": user})).await;
        ipc
    }

    /// Sends one command line.
    pub async fn send(&mut self, command: Value) {
        let mut line = command.to_string().into_bytes();
        line.push(b'\n');
        self.send_raw(&line).await;
    }

    /// Sends bytes as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap_or_else(|e| panic!("{}: write failed: {e}", self.name));
    }

    /// Closes the sending side only, as `printf ... | nc` does.
    pub async fn close_write(&mut self) {
        self.writer.shutdown().await.unwrap_or_else(|e| panic!("{}: shutdown failed: {e}", self.name));
    }

    /// The next event, whatever it is.
    pub async fn next_event(&mut self) -> Value {
        let mut line = String::new();
        let read = tokio::time::timeout(WAIT, self.reader.read_line(&mut line)).await;
        match read {
            Err(_) => self.fail("no event within 10 s"),
            Ok(Err(e)) => self.fail(&format!("read failed: {e}")),
            Ok(Ok(0)) => self.fail("the daemon closed the connection"),
            Ok(Ok(_)) => {}
        }
        self.seen.push(line.trim_end().to_owned());
        serde_json::from_str(&line).unwrap_or_else(|e| self.fail(&format!("not JSON ({e}): {line}")))
    }

    /// The next event, which must carry every field of `pattern` with the same value.
    pub async fn expect(&mut self, pattern: Value) -> Value {
        let event = self.next_event().await;
        if !matches(&event, &pattern) {
            self.fail(&format!("expected an event like {pattern}"));
        }
        event
    }

    /// Skips events until one satisfies `pred`.
    pub async fn expect_event(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let event = tokio::time::timeout(WAIT, self.next_event())
                .await
                .unwrap_or_else(|_| self.fail(&format!("waiting for {what}: nothing within 10 s")));
            if pred(&event) {
                return event;
            }
        }
    }

    /// Before `connect`: asks for `status` (a read-only query, IPC.md "Access") until the daemon
    /// is in `state`, for what no client can be told of, such as the peer's ACK of our FIN.
    pub async fn wait_for_state(&mut self, state: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            self.send(json!({"cmd": "status"})).await;
            let status = self.expect(json!({"event": "status"})).await;
            if status["state"] == state {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                self.fail(&format!("the daemon was not {state} within 10 s"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The daemon closes the connection (after at most a few more events, which are returned).
    pub async fn expect_closed(&mut self) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let mut line = String::new();
            match tokio::time::timeout(WAIT, self.reader.read_line(&mut line)).await {
                Err(_) => self.fail("the daemon did not close the connection within 10 s"),
                Ok(Ok(0)) => return events,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => return events,
                Ok(Err(e)) => self.fail(&format!("read failed: {e}")),
                Ok(Ok(_)) => {
                    self.seen.push(line.trim_end().to_owned());
                    events.push(serde_json::from_str(&line).unwrap_or(Value::Null));
                }
            }
        }
    }

    fn fail(&self, why: &str) -> ! {
        panic!("{}: {why}; events seen so far:\n  {}", self.name, self.seen.join("\n  "))
    }
}

/// Whether `event` has every field of `pattern` with the same value.
pub fn matches(event: &Value, pattern: &Value) -> bool {
    match pattern.as_object() {
        Some(fields) => fields.iter().all(|(k, v)| event.get(k) == Some(v)),
        None => event == pattern,
    }
}

/// Two daemons' clients in a chat: `a` called `b`, both saw `established`.
pub async fn chat_between(a: &TestDaemon, b: &TestDaemon, a_user: &str, b_user: &str) -> (Ipc, Ipc) {
    let mut ca = Ipc::login(a.client, a_user).await;
    let mut cb = Ipc::login(b.client, b_user).await;
    ca.send(json!({"cmd": "start", "peer": b.udp.to_string()})).await;
    ca.expect(json!({"event": "calling", "peer": b.udp.to_string()})).await;
    cb.expect(json!({"event": "request", "peer": a.udp.to_string(), "user": a_user})).await;
    cb.send(json!({"cmd": "accept"})).await;
    ca.expect(json!({"event": "established", "peer": b.udp.to_string(), "user": b_user})).await;
    cb.expect(json!({"event": "established", "peer": a.udp.to_string(), "user": a_user})).await;
    (ca, cb)
}

/// A SIMP peer written by hand over a plain `std` UDP socket.
pub struct RawPeer {
    pub socket: UdpSocket,
    pub addr: SocketAddr,
}

impl RawPeer {
    pub fn bind(ip: IpAddr) -> RawPeer {
        let socket = UdpSocket::bind((ip, 0)).expect("raw peer binds");
        socket.set_read_timeout(Some(WAIT)).expect("read timeout");
        let addr = socket.local_addr().expect("raw peer address");
        RawPeer { socket, addr }
    }

    pub fn send(&self, to: SocketAddr, bytes: &[u8]) {
        self.socket.send_to(bytes, to).expect("raw peer sends");
    }

    /// The next datagram; fails naming `what` was awaited.
    pub fn recv(&self, what: &str) -> (Vec<u8>, SocketAddr) {
        let mut buf = vec![0u8; 65_536];
        match self.socket.recv_from(&mut buf) {
            Ok((n, from)) => (buf[..n].to_vec(), from),
            Err(e) => panic!("raw peer {}: no datagram while waiting for {what} ({e})", self.addr),
        }
    }

    /// The next datagram must be exactly `expected`, from `from`.
    pub fn expect(&self, from: SocketAddr, expected: &[u8], what: &str) {
        let (got, sender) = self.recv(what);
        assert_eq!(sender, from, "{what}: datagram from an unexpected address");
        assert_eq!(got, expected, "{what}: got {}, expected {}", describe(&got), describe(expected));
    }
}

/// A datagram built byte by byte (SPEC 1), not with the codec under test.
pub fn datagram(ty: u8, op: u8, seq: u8, user: &str, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![ty, op, seq];
    let mut name = [0u8; wire::USER_LEN];
    name[..user.len()].copy_from_slice(user.as_bytes());
    bytes.extend_from_slice(&name);
    bytes.extend_from_slice(&u32::try_from(payload.len()).expect("short payload").to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// A control datagram with an empty payload.
pub fn control(op: u8, seq: u8, user: &str) -> Vec<u8> {
    datagram(wire::TYPE_CONTROL, op, seq, user, &[])
}

/// A chat datagram.
pub fn chat(seq: u8, user: &str, text: &str) -> Vec<u8> {
    datagram(wire::TYPE_CHAT, wire::OP_CHAT, seq, user, text.as_bytes())
}

fn describe(bytes: &[u8]) -> String {
    match wire::Datagram::parse(bytes) {
        Ok(d) => format!("{d} {bytes:02x?}"),
        Err(e) => format!("invalid ({e}) {bytes:02x?}"),
    }
}
