//! Playing the target's user through its client port (IPC.md): simp's JSON Lines over TCP,
//! or the course's `cmd|k=v` dialect over UDP. With a driver the checker can make the target
//! call, accept, decline, send and leave, and can see what it delivers to its user.

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The longest line accepted from a JSON Lines client port (IPC.md's limit is 64 KiB).
const MAX_LINE: usize = 1024 * 1024;

/// The name the checker gives the target's user.
pub const TARGET_USER: &str = "target";

/// What the checker, as the target's user, asks of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserCommand {
    /// Call this peer.
    Start(SocketAddr),
    /// Accept the pending request.
    Accept,
    /// Decline the pending request.
    Decline,
    /// Send a message.
    Chat(String),
    /// Leave the chat or call.
    Leave,
}

impl fmt::Display for UserCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserCommand::Start(peer) => write!(f, "start {peer}"),
            UserCommand::Accept => f.write_str("accept"),
            UserCommand::Decline => f.write_str("decline"),
            UserCommand::Chat(text) => write!(f, "chat {text:?}"),
            UserCommand::Leave => f.write_str("leave"),
        }
    }
}

/// What the target tells its user, in the words both dialects share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserEvent {
    /// A call waits for a decision.
    Request,
    /// The chat is open.
    Established,
    /// A message from the peer, as shown.
    Message(String),
    /// A message was acknowledged by the peer (JSON Lines only).
    Delivered,
    /// The call or chat is over.
    Ended,
    /// Anything else, as received.
    Other(String),
}

impl fmt::Display for UserEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserEvent::Request => f.write_str("request"),
            UserEvent::Established => f.write_str("established"),
            UserEvent::Message(text) => write!(f, "message {text:?}"),
            UserEvent::Delivered => f.write_str("delivered"),
            UserEvent::Ended => f.write_str("ended"),
            UserEvent::Other(line) => write!(f, "{line}"),
        }
    }
}

/// Why the driver cannot talk to the target's client port.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// Socket trouble.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The client port closed the connection.
    #[error("the target closed the client connection")]
    Closed,
    /// The target did not answer `connect` as the dialect says.
    #[error("the target answered connect with {0:?} instead of {1}")]
    BadConnect(String, &'static str),
    /// A line longer than any event.
    #[error("the target sent over {MAX_LINE} bytes without a newline on its client port")]
    LineTooLong,
    /// The target did not answer `connect` in time.
    #[error("the target did not answer connect within {0:?}")]
    NoConnect(Duration),
}

/// A way to play the target's user.
pub trait Driver: Send {
    /// Sends one command.
    fn send(&mut self, command: &UserCommand) -> Result<(), DriverError>;
    /// The next event within `within`, if any.
    fn next_event(&mut self, within: Duration) -> Result<Option<UserEvent>, DriverError>;
}

/// simp's JSON Lines (IPC.md).
pub struct Jsonl {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Jsonl {
    /// Connects to `addr` and names the user, waiting up to `within` for `connected`.
    pub fn connect(addr: SocketAddr, within: Duration) -> Result<Jsonl, DriverError> {
        let stream = TcpStream::connect_timeout(&addr, within)?;
        let mut driver = Jsonl { stream, buf: Vec::new() };
        driver.write(&json!({"cmd": "connect", "user": TARGET_USER}))?;
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(DriverError::NoConnect(within));
            }
            if let Some(line) = driver.line(left)? {
                let value: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
                if value["event"] == "connected" {
                    return Ok(driver);
                }
                if value["event"] == "error" {
                    return Err(DriverError::BadConnect(line, "{\"event\":\"connected\",…}"));
                }
            }
        }
    }

    fn write(&mut self, value: &Value) -> Result<(), DriverError> {
        let mut line = value.to_string().into_bytes();
        line.push(b'\n');
        self.stream.write_all(&line)?;
        Ok(())
    }

    fn line(&mut self, within: Duration) -> Result<Option<String>, DriverError> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                return Ok(Some(String::from_utf8_lossy(&line).trim_end().to_owned()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(left))?;
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(DriverError::Closed),
                Ok(n) if self.buf.len() + n > MAX_LINE => return Err(DriverError::LineTooLong),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Driver for Jsonl {
    fn send(&mut self, command: &UserCommand) -> Result<(), DriverError> {
        let value = match command {
            UserCommand::Start(peer) => json!({"cmd": "start", "peer": peer.to_string()}),
            UserCommand::Accept => json!({"cmd": "accept"}),
            UserCommand::Decline => json!({"cmd": "decline"}),
            UserCommand::Chat(text) => json!({"cmd": "chat", "text": text}),
            UserCommand::Leave => json!({"cmd": "leave"}),
        };
        self.write(&value)
    }

    fn next_event(&mut self, within: Duration) -> Result<Option<UserEvent>, DriverError> {
        let Some(line) = self.line(within)? else { return Ok(None) };
        let value: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        Ok(Some(match value["event"].as_str() {
            Some("request") => UserEvent::Request,
            Some("established") => UserEvent::Established,
            Some("message") => UserEvent::Message(value["text"].as_str().unwrap_or_default().to_owned()),
            Some("delivered") => UserEvent::Delivered,
            Some("ended") => UserEvent::Ended,
            _ => UserEvent::Other(line),
        }))
    }
}

impl Drop for Jsonl {
    fn drop(&mut self) {
        let _ = self.write(&json!({"cmd": "quit"}));
    }
}

/// The course's dialect over UDP (IPC.md "Course-compatibility endpoint").
pub struct Course {
    socket: UdpSocket,
    daemon: SocketAddr,
}

impl Course {
    /// Binds `local`, sends `connect` to `daemon` and waits up to `within` for `ok`.
    pub fn connect(local: SocketAddr, daemon: SocketAddr, within: Duration) -> Result<Course, DriverError> {
        let socket = UdpSocket::bind(local)?;
        let mut driver = Course { socket, daemon };
        driver.write(&format!("connect|username={TARGET_USER}"))?;
        match driver.datagram(within)? {
            Some(answer) if answer == "ok" => Ok(driver),
            Some(answer) => Err(DriverError::BadConnect(answer, "ok")),
            None => Err(DriverError::NoConnect(within)),
        }
    }

    fn write(&mut self, text: &str) -> Result<(), DriverError> {
        self.socket.send_to(text.as_bytes(), self.daemon)?;
        Ok(())
    }

    fn datagram(&mut self, within: Duration) -> Result<Option<String>, DriverError> {
        let deadline = Instant::now() + within;
        let mut buf = vec![0u8; 65_536];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.socket.set_read_timeout(Some(left))?;
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) if from == self.daemon => {
                    return Ok(Some(String::from_utf8_lossy(&buf[..n]).trim_end().to_owned()));
                }
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return Ok(None),
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Driver for Course {
    fn send(&mut self, command: &UserCommand) -> Result<(), DriverError> {
        let text = match command {
            UserCommand::Start(peer) => format!("invite|ip={}|port={}", peer.ip(), peer.port()),
            UserCommand::Accept => "accept".to_owned(),
            UserCommand::Decline => "decline".to_owned(),
            UserCommand::Chat(text) => format!("send|text={text}"),
            // The dialect has no "leave": quit leaves the chat, and connect makes us the
            // client again (both answers, "ok", come as events).
            UserCommand::Leave => {
                self.write("quit")?;
                format!("connect|username={TARGET_USER}")
            }
        };
        self.write(&text)
    }

    fn next_event(&mut self, within: Duration) -> Result<Option<UserEvent>, DriverError> {
        let Some(text) = self.datagram(within)? else { return Ok(None) };
        let (word, rest) = text.split_once('|').unwrap_or((text.as_str(), ""));
        Ok(Some(match word {
            "invitation" => UserEvent::Request,
            "connected" => UserEvent::Established,
            "message" => {
                let body = rest.split_once("text=").map_or("", |(_, t)| t);
                UserEvent::Message(body.to_owned())
            }
            "disconnected" => UserEvent::Ended,
            _ => UserEvent::Other(text),
        }))
    }
}

impl Drop for Course {
    fn drop(&mut self) {
        let _ = self.write("quit");
    }
}
