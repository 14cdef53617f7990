//! A blocking IPC client (JSON Lines over TCP, IPC.md): plain `std` sockets, no runtime, so
//! the bench's own overhead stays small next to what it measures.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use simp_proto::ipc::{Command, Event};

use crate::error::{fail, Context, Result};

/// The longest wait for any one event; a daemon that says nothing for this long is stuck.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

/// One client connection.
pub struct Client {
    name: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    line: Vec<u8>,
    out: Vec<u8>,
}

impl Client {
    /// Takes a connected stream, sends `connect` and waits for `connected`.
    pub fn connect(name: &str, stream: TcpStream, user: &str, timeout: Duration) -> Result<Client> {
        // Commands are small writes that must go at once (the daemon's events have TCP_NODELAY
        // on their side too).
        stream.set_nodelay(true).context(|| format!("{name}: cannot set TCP_NODELAY"))?;
        stream.set_read_timeout(Some(timeout)).context(|| format!("{name}: cannot set a read timeout"))?;
        let writer = stream.try_clone().context(|| format!("{name}: cannot clone the connection"))?;
        let mut client = Client {
            name: name.to_string(),
            reader: BufReader::with_capacity(64 * 1024, stream),
            writer,
            line: Vec::new(),
            out: Vec::new(),
        };
        client.send(&Command::Connect { user: user.into() })?;
        client.expect("connected", |e| matches!(e, Event::Connected { .. }))?;
        Ok(client)
    }

    /// Sends one command now.
    pub fn send(&mut self, cmd: &Command) -> Result<()> {
        self.queue(cmd)?;
        self.flush()
    }

    /// Adds a command to the next [`Client::flush`].
    pub fn queue(&mut self, cmd: &Command) -> Result<()> {
        serde_json::to_writer(&mut self.out, cmd).context(|| format!("{}: cannot encode {cmd:?}", self.name))?;
        self.out.push(b'\n');
        Ok(())
    }

    /// Writes every queued command in one go.
    pub fn flush(&mut self) -> Result<()> {
        let result = self.writer.write_all(&self.out);
        self.out.clear();
        result.context(|| format!("{}: cannot write to the daemon", self.name))
    }

    /// The next event; bounded by the read timeout.
    pub fn next_event(&mut self) -> Result<Event> {
        self.line.clear();
        match self.reader.read_until(b'\n', &mut self.line) {
            Ok(0) => fail!("{}: the daemon closed the connection", self.name),
            Ok(_) => serde_json::from_slice(&self.line)
                .context(|| format!("{}: the daemon sent a line that is no event: {:?}", self.name, self.text())),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                fail!("{}: no event from the daemon within {EVENT_TIMEOUT:?}", self.name)
            }
            Err(e) => fail!("{}: reading from the daemon failed: {e}", self.name),
        }
    }

    /// Whether an event (or part of one) is already read and waiting in the buffer.
    pub fn has_buffered(&self) -> bool {
        !self.reader.buffer().is_empty()
    }

    /// Skips events until one `wanted` accepts. `error`, `undelivered` and `ended` events that
    /// it does not accept are failures (nothing in the bench should cause them).
    pub fn expect(&mut self, what: &str, mut wanted: impl FnMut(&Event) -> bool) -> Result<Event> {
        loop {
            let event = self.next_event()?;
            if wanted(&event) {
                return Ok(event);
            }
            if matches!(event, Event::Error { .. } | Event::Undelivered { .. } | Event::Ended { .. }) {
                fail!("{}: waiting for {what}, got {}", self.name, self.text());
            }
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.line).trim_end().to_string()
    }
}
