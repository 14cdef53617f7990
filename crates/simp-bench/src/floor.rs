//! The floor of the same shape: a minimal relay with exactly simp's topology and none of its
//! protocol logic, run as a daemon process (`simp-bench --floor-daemon IP`).
//!
//! Like `simpd` it has one TCP connection to its client (JSON Lines, the same words, so the same
//! bench client drives both) and one UDP socket for its peer, on the same ports. A `chat` line
//! becomes one datagram with a 39-byte header (SPEC 1) carrying the line's text; the peer hands
//! it to its client as a `message` and answers with an ACK; the ACK becomes `delivered`. One
//! datagram in flight (stop-and-wait), the rest queued. `start` is SYN → SYN+ACK → ACK, then
//! `established`. No retransmission, no timers, no checks, no store, no logging: blocking `std`
//! sockets and two threads (one per socket). What simp costs above this is its protocol work.
//!
//! The durable floor (`--floor-durable`) also keeps what simpd's store keeps, at the least
//! cost a store can have: one `write(2)` to an append-only file per record, as simpd commits
//! (the page cache, so it survives a kill -9 as simpd's commits do): the messages `chat`
//! queued (those read from the client at once share one write), before they leave; a received
//! message, before its ACK; an outcome, before `delivered`. No reading back, no index, no
//! replay at start: a denominator for the store's cost, not a store.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

use simp_proto::ipc::{DEFAULT_CLIENT_PORT, DEFAULT_PORT};
use simp_proto::wire::{HEADER_LEN, OP_ACK, OP_CHAT, OP_FIN, OP_SYN, OP_SYN_ACK, TYPE_CHAT, TYPE_CONTROL, USER_LEN};

use crate::error::{Context, Result};

/// How a `chat` line starts when the bench's client writes it (serde's field order); the rest,
/// up to the closing brace, is the text as a JSON string, forwarded as is.
const CHAT_PREFIX: &[u8] = br#"{"cmd":"chat","text":"#;
/// How a `start` line starts; the peer address follows as a JSON string.
const START_PREFIX: &[u8] = br#"{"cmd":"start","peer":""#;
/// The user name in every header.
const USER: &[u8] = b"floor";

/// The durable floor's file, in the directory the bench gives each daemon (`XDG_STATE_HOME`).
pub fn log_path() -> Result<PathBuf> {
    let dir = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .ok_or_else(|| crate::error::Error("floor: --floor-durable needs XDG_STATE_HOME (the bench sets it)".into()))?;
    Ok(dir.join("floor.log"))
}

/// Serves one client at a time on `ip` until killed; with `log`, as the durable floor.
pub fn serve(ip: Ipv4Addr, log: Option<PathBuf>) -> Result<()> {
    let log = match log {
        Some(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).context(|| format!("floor: cannot create {}", dir.display()))?;
            }
            let file = File::options().create(true).append(true).open(&path);
            Some(file.context(|| format!("floor: cannot open {}", path.display()))?)
        }
        None => None,
    };
    let udp = UdpSocket::bind((ip, DEFAULT_PORT)).context(|| format!("floor: cannot bind UDP {ip}:{DEFAULT_PORT}"))?;
    let listener = TcpListener::bind((ip, DEFAULT_CLIENT_PORT))
        .context(|| format!("floor: cannot bind TCP {ip}:{DEFAULT_CLIENT_PORT}"))?;
    let floor =
        Arc::new(Floor { udp, state: Mutex::new(State::default()), daemon: format!("{ip}:{DEFAULT_PORT}"), log });
    let peer_side = Arc::clone(&floor);
    thread::spawn(move || peer_side.datagrams());
    loop {
        let (stream, _) = listener.accept().context(|| "floor: accept failed".into())?;
        // A client that goes away is replaced by the next one; its errors end only its turn.
        let _ = floor.client(stream);
        floor.lock().client = None;
    }
}

/// The daemon's two sockets and what both threads share.
struct Floor {
    udp: UdpSocket,
    state: Mutex<State>,
    daemon: String,
    /// The durable floor's append-only file.
    log: Option<File>,
}

/// Who the peer is and what waits for it.
#[derive(Default)]
struct State {
    /// The client, once it has said `connect` (before that it hears nothing, as with simpd).
    client: Option<TcpStream>,
    peer: Option<SocketAddr>,
    /// Payloads waiting for the one in flight to be acknowledged.
    queue: VecDeque<Vec<u8>>,
    in_flight: bool,
    seq: u8,
    delivered: u64,
    /// Messages received: the `message` event's id, as simpd's store numbers them.
    received: u64,
    /// Whether the client was told `established` for the chat now open: only then is it told
    /// that the chat `ended`. A client that connects while a FIN of a chat it never saw is still
    /// queued (the bench connects B's client right after A's last handshake's `leave`) would
    /// otherwise get an `ended` first, and stop the run.
    told_established: bool,
}

impl Floor {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads the client's lines until it closes.
    fn client(&self, stream: TcpStream) -> std::io::Result<()> {
        stream.set_nodelay(true)?;
        let writer = stream.try_clone()?;
        let mut reader = BufReader::with_capacity(64 * 1024, stream);
        let mut line = Vec::with_capacity(256);
        // The durable floor's `chat`s read at once: recorded in one write, then sent.
        let mut batch: Vec<Vec<u8>> = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                return Ok(());
            }
            let line = line.trim_ascii_end();
            if let Some(text) = line.strip_prefix(CHAT_PREFIX) {
                let text = text.strip_suffix(b"}").unwrap_or(text);
                match self.log {
                    None => self.chat(text)?,
                    Some(_) => batch.push(text.to_vec()),
                }
                if reader.buffer().is_empty() {
                    self.chat_durably(&mut batch)?;
                }
                continue;
            }
            // Whatever else the client says comes after the chats it said before.
            self.chat_durably(&mut batch)?;
            if let Some(peer) = line.strip_prefix(START_PREFIX) {
                self.start(peer.strip_suffix(b"\"}").unwrap_or(peer))?;
            } else if line.starts_with(br#"{"cmd":"connect""#) {
                let mut state = self.lock();
                let mut client = writer.try_clone()?;
                let connected = format!(
                    "{{\"event\":\"connected\",\"user\":\"floor\",\"daemon\":\"{}\",\"version\":\"floor\"}}\n",
                    self.daemon
                );
                client.write_all(connected.as_bytes())?;
                state.client = Some(client);
                state.told_established = false;
            } else if line.starts_with(br#"{"cmd":"leave""#) {
                let mut state = self.lock();
                if let Some(peer) = state.peer.take() {
                    self.udp.send_to(&header(TYPE_CONTROL, OP_FIN, 0, 0), peer)?;
                }
                state.queue.clear();
                state.in_flight = false;
                state.told_established = false;
                tell(&mut state, br#"{"event":"ended","reason":"you left"}"#);
            }
        }
    }

    fn start(&self, peer: &[u8]) -> std::io::Result<()> {
        let peer: Option<SocketAddr> = std::str::from_utf8(peer).ok().and_then(|p| p.parse().ok());
        let mut state = self.lock();
        match peer {
            Some(peer) => {
                state.peer = Some(peer);
                self.udp.send_to(&header(TYPE_CONTROL, OP_SYN, 0, 0), peer)?;
            }
            None => tell(&mut state, br#"{"event":"error","code":"bad-peer","message":"floor: not an IP:port"}"#),
        }
        Ok(())
    }

    /// Records the batch's messages in one write, then sends or queues each.
    fn chat_durably(&self, batch: &mut Vec<Vec<u8>>) -> std::io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut records = Vec::new();
        for text in batch.iter() {
            records.extend_from_slice(b"q ");
            records.extend_from_slice(text);
            records.push(b'\n');
        }
        self.record(&records)?;
        for text in batch.drain(..) {
            self.chat(&text)?;
        }
        Ok(())
    }

    /// One write to the durable floor's file; nothing for the floor.
    fn record(&self, bytes: &[u8]) -> std::io::Result<()> {
        match &self.log {
            Some(log) => {
                let mut log = log;
                log.write_all(bytes)
            }
            None => Ok(()),
        }
    }

    /// Sends `text` now, or queues it behind the datagram in flight.
    fn chat(&self, text: &[u8]) -> std::io::Result<()> {
        let mut state = self.lock();
        let Some(peer) = state.peer else { return Ok(()) };
        if state.in_flight {
            state.queue.push_back(text.to_vec());
            return Ok(());
        }
        state.in_flight = true;
        self.udp.send_to(&chat_datagram(state.seq, text), peer)?;
        Ok(())
    }

    /// The peer side: answers and forwards datagrams until the socket fails.
    fn datagrams(&self) {
        let mut buf = vec![0u8; 65_536];
        let mut line = Vec::with_capacity(256);
        while let Ok((n, from)) = self.udp.recv_from(&mut buf) {
            if n < HEADER_LEN {
                continue;
            }
            let (ty, op, seq, payload) = (buf[0], buf[1], buf[2], &buf[HEADER_LEN..n]);
            let mut state = self.lock();
            let sent = match (ty, op) {
                (TYPE_CHAT, _) => {
                    line.clear();
                    if self.log.is_some() {
                        line.extend_from_slice(b"r ");
                        line.extend_from_slice(payload);
                        line.push(b'\n');
                        if let Err(error) = self.record(&line) {
                            log_failed(&error);
                        }
                        line.clear();
                    }
                    state.received += 1;
                    // The fields simpd's `message` has (IPC.md): its id, and the time of arrival.
                    let at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
                    let head =
                        format!(r#"{{"event":"message","id":{},"at":{at},"user":"floor","text":"#, state.received);
                    line.extend_from_slice(head.as_bytes());
                    line.extend_from_slice(payload);
                    line.push(b'}');
                    tell(&mut state, &line);
                    self.udp.send_to(&header(TYPE_CONTROL, OP_ACK, seq, 0), from)
                }
                (TYPE_CONTROL, OP_SYN) => {
                    state.peer = Some(from);
                    self.udp.send_to(&header(TYPE_CONTROL, OP_SYN_ACK, 0, 0), from)
                }
                (TYPE_CONTROL, OP_SYN_ACK) => {
                    established(&mut state, from);
                    self.udp.send_to(&header(TYPE_CONTROL, OP_ACK, 0, 0), from)
                }
                (TYPE_CONTROL, OP_ACK) if state.in_flight => {
                    state.delivered += 1;
                    if let Err(error) = self.record(format!("d {}\n", state.delivered).as_bytes()) {
                        log_failed(&error);
                    }
                    let delivered = format!("{{\"event\":\"delivered\",\"id\":\"{}\"}}", state.delivered);
                    tell(&mut state, delivered.as_bytes());
                    state.seq ^= 1;
                    match state.queue.pop_front() {
                        Some(text) => self.udp.send_to(&chat_datagram(state.seq, &text), from),
                        None => {
                            state.in_flight = false;
                            Ok(0)
                        }
                    }
                }
                (TYPE_CONTROL, OP_ACK) => {
                    established(&mut state, from);
                    Ok(0)
                }
                (TYPE_CONTROL, OP_FIN) => {
                    state.peer = None;
                    if std::mem::take(&mut state.told_established) {
                        tell(&mut state, br#"{"event":"ended","reason":"peer left"}"#);
                    }
                    Ok(0)
                }
                _ => Ok(0),
            };
            if sent.is_err() {
                return;
            }
        }
    }
}

/// The durable floor cannot keep a record: it says so and exits, so that the bench stops with
/// the cause (in the daemon's log) instead of waiting for an answer that never comes.
fn log_failed(error: &std::io::Error) -> ! {
    eprintln!("floor: cannot write its file: {error}");
    std::process::exit(1)
}

/// Tells the client the chat with `from` is open (and so, later, that it ended).
fn established(state: &mut State, from: SocketAddr) {
    let line = format!("{{\"event\":\"established\",\"peer\":\"{from}\",\"user\":\"floor\"}}");
    tell(state, line.as_bytes());
    state.told_established = state.client.is_some();
}

/// Writes one event line to the client, if there is one; a client that fails is dropped.
fn tell(state: &mut State, event: &[u8]) {
    let Some(client) = state.client.as_mut() else { return };
    let mut line = Vec::with_capacity(event.len() + 1);
    line.extend_from_slice(event);
    line.push(b'\n');
    if client.write_all(&line).is_err() {
        state.client = None;
    }
}

/// A 39-byte header (SPEC 1): type, operation, sequence, user, payload length.
fn header(ty: u8, op: u8, seq: u8, len: usize) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0] = ty;
    h[1] = op;
    h[2] = seq;
    h[3..3 + USER.len()].copy_from_slice(USER);
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    h[3 + USER_LEN..].copy_from_slice(&len.to_be_bytes());
    h
}

fn chat_datagram(seq: u8, text: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(HEADER_LEN + text.len());
    d.extend_from_slice(&header(TYPE_CHAT, OP_CHAT, seq, text.len()));
    d.extend_from_slice(text);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_spec_shaped() {
        let d = chat_datagram(1, b"\"hi\"");
        let parsed = simp_proto::wire::Datagram::parse(&d).unwrap();
        assert_eq!(parsed.kind(), simp_proto::wire::Kind::Chat);
        assert_eq!(parsed.payload(), b"\"hi\"");
        assert_eq!(parsed.user(), USER);
    }

    /// A FIN of a chat the client never saw (queued at the floor when the client connected)
    /// says nothing to it: the next chat's `established` is the first thing it hears.
    #[test]
    fn a_client_hears_no_end_of_a_chat_it_never_saw() {
        let ip = Ipv4Addr::new(127, 97, 0, 1);
        thread::spawn(move || serve(ip, None));
        let daemon = SocketAddr::from((ip, DEFAULT_PORT));
        let (_client, mut lines) = client_of(ip);

        let peer = UdpSocket::bind((Ipv4Addr::new(127, 97, 0, 2), 0)).unwrap();
        for op in [OP_FIN, OP_SYN, OP_ACK] {
            peer.send_to(&header(TYPE_CONTROL, op, 0, 0), daemon).unwrap();
        }
        let first = lines.next().unwrap().unwrap();
        assert!(first.contains("\"established\""), "first event: {first}");
        peer.send_to(&header(TYPE_CONTROL, OP_FIN, 0, 0), daemon).unwrap();
        let second = lines.next().unwrap().unwrap();
        assert!(second.contains("\"ended\""), "second event: {second}");
    }

    fn client_of(ip: Ipv4Addr) -> (TcpStream, std::io::Lines<BufReader<TcpStream>>) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let stream = loop {
            match TcpStream::connect((ip, DEFAULT_CLIENT_PORT)) {
                Ok(stream) => break stream,
                Err(e) if std::time::Instant::now() > deadline => panic!("floor not listening: {e}"),
                Err(_) => thread::sleep(std::time::Duration::from_millis(10)),
            }
        };
        stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        let mut lines = BufReader::new(stream.try_clone().unwrap()).lines();
        (&stream).write_all(b"{\"cmd\":\"connect\",\"user\":\"x\"}\n").unwrap();
        assert!(lines.next().unwrap().unwrap().contains("connected"));
        (stream, lines)
    }

    /// The durable floor has written each record by the time the datagram or event it guards
    /// is seen: the messages `chat` queued before the first leaves (in one write), a received
    /// message before its ACK, an outcome before `delivered`.
    #[test]
    fn the_durable_floor_writes_before_it_answers() {
        let dir = std::env::temp_dir().join(format!("simp-bench-durable-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (sender, receiver) = (Ipv4Addr::new(127, 97, 0, 11), Ipv4Addr::new(127, 97, 0, 12));
        let (sender_log, receiver_log) = (dir.join("a/floor.log"), dir.join("b/floor.log"));
        let (a, b) = (sender_log.clone(), receiver_log.clone());
        thread::spawn(move || serve(sender, Some(a)));
        thread::spawn(move || serve(receiver, Some(b)));
        let read = |path: &PathBuf| std::fs::read_to_string(path).unwrap_or_default();
        let peer = UdpSocket::bind((Ipv4Addr::new(127, 97, 0, 13), 0)).unwrap();
        peer.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 1024];

        // The receiving side: the record is there when the ACK arrives.
        let _b_client = client_of(receiver);
        peer.send_to(&chat_datagram(0, b"\"m1\""), (receiver, DEFAULT_PORT)).unwrap();
        let (n, _) = peer.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..2], [TYPE_CONTROL, OP_ACK], "{:?}", &buf[..n]);
        assert_eq!(read(&receiver_log), "r \"m1\"\n");

        // The sending side: three chats said at once are recorded before the first leaves.
        let (a_client, mut a_events) = client_of(sender);
        let start = format!("{{\"cmd\":\"start\",\"peer\":\"{}\"}}\n", peer.local_addr().unwrap());
        (&a_client).write_all(start.as_bytes()).unwrap();
        let (_, from) = peer.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..2], [TYPE_CONTROL, OP_SYN]);
        peer.send_to(&header(TYPE_CONTROL, OP_SYN_ACK, 0, 0), from).unwrap();
        assert!(a_events.next().unwrap().unwrap().contains("established"));
        peer.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..2], [TYPE_CONTROL, OP_ACK], "the handshake's ACK");
        (&a_client).write_all(b"{\"cmd\":\"chat\",\"text\":\"x\"}\n{\"cmd\":\"chat\",\"text\":\"y\"}\n").unwrap();
        let (n, _) = peer.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[HEADER_LEN..n], b"\"x\"");
        assert_eq!(read(&sender_log), "q \"x\"\nq \"y\"\n");
        peer.send_to(&header(TYPE_CONTROL, OP_ACK, 0, 0), from).unwrap();
        assert!(a_events.next().unwrap().unwrap().contains("delivered"));
        assert_eq!(read(&sender_log), "q \"x\"\nq \"y\"\nd 1\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn chat_prefix_matches_the_bench_client() {
        let line =
            serde_json::to_vec(&simp_proto::ipc::Command::Chat { text: "A 1".into(), id: None, utf8: None }).unwrap();
        assert_eq!(line, [CHAT_PREFIX, b"\"A 1\"}"].concat());
        let line = serde_json::to_vec(&simp_proto::ipc::Command::Start { peer: "127.0.0.1:7777".into() }).unwrap();
        assert_eq!(line, [START_PREFIX, b"127.0.0.1:7777\"}"].concat());
    }
}
