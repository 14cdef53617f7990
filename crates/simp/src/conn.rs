//! The IPC connection to `simpd`: JSON Lines over TCP (IPC.md).
//!
//! The connection is split in two so the reading half can live in its own task and feed a
//! channel, which keeps the front ends' `select!` loops trivially cancel-safe. Framing is the
//! daemon's own capped [`LineReader`] rather than `Lines`, so that a daemon sending an endless
//! line cannot make the client grow without bound: lines over [`MAX_LINE`] are skipped and
//! reported.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use simp_proto::ipc::{jsonl, Command, Event, DEFAULT_CLIENT_PORT, MAX_LINE};
use simpd::line_reader::{Line, LineReader};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// How long to wait for the TCP handshake before saying no daemon answers.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Why the client could not reach or keep talking to its daemon.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// Nothing accepted the connection.
    #[error("no simpd answers at {addr} ({source}); start one with `{cmd}` or `simp --daemon` (or pass the daemon's IP and --port)", cmd = start_command(*.addr))]
    Unreachable {
        /// Where we tried.
        addr: SocketAddr,
        /// What the OS said.
        source: io::Error,
    },
    /// The handshake did not finish in time.
    #[error("no simpd answers at {addr} (no answer within {secs} s); start one with `{cmd}` (or pass the daemon's IP and --port)", cmd = start_command(*.addr), secs = CONNECT_TIMEOUT.as_secs())]
    Timeout {
        /// Where we tried.
        addr: SocketAddr,
    },
    /// Reading or writing failed after the connection was up.
    #[error("the connection to simpd broke: {0}")]
    Io(#[from] io::Error),
}

/// The command that starts a daemon serving clients at `addr`, for error messages.
pub fn start_command(addr: SocketAddr) -> String {
    match addr.port() {
        DEFAULT_CLIENT_PORT => format!("simpd {}", addr.ip()),
        port => format!("simpd {} --client-port {port}", addr.ip()),
    }
}

/// Something read from the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A well-formed event.
    Event(Event),
    /// A line this client cannot use; the text says what was wrong, already escaped.
    Garbled(String),
}

/// Opens the connection with a bounded wait, so a missing daemon is reported instead of
/// hanging.
pub async fn connect(addr: SocketAddr) -> Result<(EventReader, CommandWriter), ConnError> {
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(source)) => return Err(ConnError::Unreachable { addr, source }),
        Err(_) => return Err(ConnError::Timeout { addr }),
    };
    // Chat lines are tiny and interactive: never let Nagle hold one back.
    stream.set_nodelay(true)?;
    let (read, write) = stream.into_split();
    let inner = LineReader::new(read, MAX_LINE).keep_unterminated();
    Ok((EventReader { inner }, CommandWriter { inner: write }))
}

/// The reading half: yields one [`Incoming`] per line.
#[derive(Debug)]
pub struct EventReader {
    inner: LineReader<OwnedReadHalf>,
}

impl EventReader {
    /// The next line, or `None` once the daemon has closed the connection.
    pub async fn next(&mut self) -> Result<Option<Incoming>, ConnError> {
        Ok(match self.inner.next().await? {
            Line::Complete(line) => Some(decode_line(&line)),
            Line::TooLong => {
                Some(Incoming::Garbled(format!("the daemon sent a line over {MAX_LINE} bytes; it was skipped")))
            }
            Line::Eof => None,
        })
    }

    /// Spawns a task that forwards every line to a channel, ending with `Ok(None)` or an error.
    pub fn spawn(mut self) -> mpsc::Receiver<Result<Option<Incoming>, ConnError>> {
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let item = self.next().await;
                let last = !matches!(item, Ok(Some(_)));
                if tx.send(item).await.is_err() || last {
                    return;
                }
            }
        });
        rx
    }
}

/// Turns one line (without its newline) into an event, never panicking on what arrives.
pub fn decode_line(line: &[u8]) -> Incoming {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match jsonl::parse_event(line) {
        Ok(event) => Incoming::Event(event),
        Err(err) => {
            let shown: String = String::from_utf8_lossy(line).chars().take(120).collect();
            Incoming::Garbled(format!(
                "the daemon sent a line this client does not understand ({err}): {}",
                crate::escape::field(&shown)
            ))
        }
    }
}

/// The writing half.
#[derive(Debug)]
pub struct CommandWriter {
    inner: OwnedWriteHalf,
}

impl CommandWriter {
    /// This client's end of the connection.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Sends one command as one line.
    pub async fn send(&mut self, cmd: &Command) -> Result<(), ConnError> {
        let mut line = Vec::new();
        jsonl::write_command(&mut line, cmd).map_err(io::Error::other)?;
        self.inner.write_all(&line).await?;
        Ok(())
    }

    /// Sends several commands in order.
    pub async fn send_all(&mut self, cmds: &[Command]) -> Result<(), ConnError> {
        for cmd in cmds {
            self.send(cmd).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simp_proto::ipc::EndReason;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    #[test]
    fn lines_decode_or_are_reported_not_panicked_on() {
        assert_eq!(
            decode_line(br#"{"event":"ended","reason":"peer left"}"#),
            Incoming::Event(Event::Ended { reason: EndReason::PeerLeft, detail: None })
        );
        assert!(matches!(decode_line(b"{\"event\":\"dance\"}"), Incoming::Garbled(_)));
        let Incoming::Garbled(msg) = decode_line(b"\x1b[2J\xff not json") else { panic!("decoded garbage") };
        assert!(!msg.contains('\x1b'), "{msg:?}");
    }

    #[test]
    fn a_peer_that_is_not_an_address_does_not_decode() {
        // Typed fields: bytes from a daemon can reach the screen only through names and texts,
        // which the app escapes; an address field holds an address or the line is refused.
        let forged = br#"{"event":"request","peer":"1.2.3.4:7777[2J","user":"eve"}"#;
        let Incoming::Garbled(msg) = decode_line(forged) else { panic!("a forged peer decoded") };
        assert!(!msg.contains('\x1b'), "{msg:?}");
        assert_eq!(
            decode_line(br#"{"event":"request","peer":"[::1]:7777","user":"eve"}"#),
            Incoming::Event(Event::Request { peer: "[::1]:7777".parse().unwrap(), user: "eve".into() })
        );
    }

    #[tokio::test]
    async fn reads_framed_lines_skips_overlong_ones_and_sends_commands() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut got = vec![0u8; 64];
            let n = sock.read(&mut got).await.unwrap();
            got.truncate(n);
            let mut out = Vec::new();
            out.extend_from_slice(b"{\"event\":\"queued\",\"id\":\"1\"}\n");
            out.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
            out.extend_from_slice(b"\n{\"event\":\"delivered\",\"id\":\"1\"}");
            sock.write_all(&out).await.unwrap();
            got
        });
        let (mut reader, mut writer) = connect(addr).await.unwrap();
        writer.send(&Command::Accept).await.unwrap();
        async fn next(r: &mut EventReader) -> Result<Option<Incoming>, ConnError> {
            tokio::time::timeout(Duration::from_secs(5), r.next()).await.expect("no line within 5 s")
        }
        assert_eq!(next(&mut reader).await.unwrap(), Some(Incoming::Event(Event::Queued { id: "1".into() })));
        assert!(matches!(next(&mut reader).await.unwrap(), Some(Incoming::Garbled(m)) if m.contains("over")));
        assert_eq!(next(&mut reader).await.unwrap(), Some(Incoming::Event(Event::Delivered { id: "1".into() })));
        assert_eq!(next(&mut reader).await.unwrap(), None);
        assert_eq!(server.await.unwrap(), b"{\"cmd\":\"accept\"}\n");
    }

    #[tokio::test]
    async fn a_missing_daemon_is_an_actionable_error() {
        // Bind then drop, so the port is very likely closed.
        let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let err = connect(addr).await.unwrap_err();
        let hint = format!("start one with `simpd 127.0.0.1 --client-port {}`", addr.port());
        assert!(err.to_string().contains(&hint), "{err}");
        assert_eq!(start_command("127.0.0.2:7778".parse().unwrap()), "simpd 127.0.0.2");
    }
}
