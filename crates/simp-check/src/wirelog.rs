//! The datagrams of one case, as the report shows them after a diagnosis.

use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::seen::describe;

/// Which way a datagram went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    /// From the checker to the target.
    Out,
    /// From the target to the checker.
    In,
    /// A line between the checker, as the target's user, and the target's client port.
    User,
}

/// One datagram on the wire.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    /// Time since the case started.
    #[serde(serialize_with = "millis")]
    pub at: Duration,
    /// Direction.
    pub dir: Dir,
    /// The checker's socket.
    pub local: SocketAddr,
    /// The target's socket.
    pub remote: SocketAddr,
    /// The bytes, exactly.
    #[serde(serialize_with = "hex_bytes")]
    pub bytes: Vec<u8>,
}

/// The shared, append-only log of one case (its peers may run on several threads).
#[derive(Debug, Clone)]
pub struct WireLog {
    start: Instant,
    entries: Arc<Mutex<Vec<Entry>>>,
}

impl WireLog {
    /// An empty log whose clock starts now.
    pub fn new() -> WireLog {
        WireLog { start: Instant::now(), entries: Arc::new(Mutex::new(Vec::new())) }
    }

    /// Records a datagram.
    pub fn record(&self, dir: Dir, local: SocketAddr, remote: SocketAddr, bytes: &[u8]) {
        let entry = Entry { at: self.start.elapsed(), dir, local, remote, bytes: bytes.to_vec() };
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).push(entry);
    }

    /// Records a line of the driver's dialogue (kept as text in `bytes`).
    pub fn note(&self, dir: Dir, text: &str) {
        let unknown = SocketAddr::from(([0, 0, 0, 0], 0));
        self.record(dir, unknown, unknown, text.as_bytes());
    }

    /// Everything recorded so far.
    pub fn entries(&self) -> Vec<Entry> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Default for WireLog {
    fn default() -> Self {
        WireLog::new()
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dir == Dir::User {
            return writeln!(f, "{:>9.3} s  {}", self.at.as_secs_f64(), String::from_utf8_lossy(&self.bytes));
        }
        let arrow = match self.dir {
            Dir::User => String::new(),
            Dir::Out => format!("{} -> {}", self.local, self.remote),
            Dir::In => format!("{} <- {}", self.local, self.remote),
        };
        writeln!(f, "{:>9.3} s  {arrow}  {}", self.at.as_secs_f64(), describe(&self.bytes))?;
        write!(f, "{}", hex_dump(&self.bytes, 64))
    }
}

/// Hex of the first `limit` bytes, 16 a line, indented, with the count of the rest.
pub fn hex_dump(bytes: &[u8], limit: usize) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes[..bytes.len().min(limit)].chunks(16).enumerate() {
        let _ = write!(out, "             {:04x}  ", i * 16);
        for b in chunk {
            let _ = write!(out, "{b:02x} ");
        }
        out.push('\n');
    }
    if bytes.len() > limit {
        let _ = writeln!(out, "             … {} more bytes", bytes.len() - limit);
    }
    out
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

fn hex_bytes<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    let mut out = String::with_capacity(b.len() * 2);
    for byte in b {
        let _ = write!(out, "{byte:02x}");
    }
    s.serialize_str(&out)
}
