//! A newline-delimited reader with a hard cap on line length (IPC.md: 64 KiB per line), for
//! both ends of the client port: the daemon reading its client, and `simp` reading its daemon.
//!
//! The other end is untrusted input: a line that never ends must not grow memory. Once a line
//! passes the cap the reader reports it once and throws bytes away up to the next newline,
//! without keeping them. (It lives here rather than in `simp-proto`, which has no runtime.)

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// What [`LineReader::next`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line, without its `\n`.
    Complete(Vec<u8>),
    /// A line went over the cap; the rest of it, up to its newline, will be skipped.
    TooLong,
    /// The peer closed the connection. A last unterminated line is dropped (it was never sent
    /// as a command) unless the reader keeps it ([`LineReader::keep_unterminated`]).
    Eof,
}

/// Reads lines of at most `max` bytes from `R`.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: BufReader<R>,
    max: usize,
    line: Vec<u8>,
    /// Inside an over-long line: skip up to its newline.
    discarding: bool,
    /// At EOF, a last line without its newline is still a line.
    keep_unterminated: bool,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// A reader of lines of at most `max` bytes (newline excluded).
    pub fn new(inner: R, max: usize) -> LineReader<R> {
        LineReader { inner: BufReader::new(inner), max, line: Vec::new(), discarding: false, keep_unterminated: false }
    }

    /// A reader that, at EOF, still returns a last line that has no newline: what a daemon
    /// wrote before it closed is shown to its user, while the daemon itself never acts on a
    /// command that was not finished.
    pub fn keep_unterminated(mut self) -> LineReader<R> {
        self.keep_unterminated = true;
        self
    }

    /// The next line.
    ///
    /// Cancel-safe, so it can sit in a `select!`: all progress lives in `self`, and the only
    /// await (`fill_buf`) consumes nothing.
    pub async fn next(&mut self) -> io::Result<Line> {
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                if self.keep_unterminated && !self.line.is_empty() {
                    return Ok(Line::Complete(std::mem::take(&mut self.line)));
                }
                return Ok(Line::Eof);
            }
            let newline = available.iter().position(|&b| b == b'\n');
            let chunk_len = newline.unwrap_or(available.len());
            if self.discarding {
                self.inner.consume(newline.map_or(chunk_len, |n| n + 1));
                if newline.is_some() {
                    self.discarding = false;
                }
                continue;
            }
            if self.line.len() + chunk_len > self.max {
                self.inner.consume(newline.map_or(chunk_len, |n| n + 1));
                self.line = Vec::new();
                self.discarding = newline.is_none();
                return Ok(Line::TooLong);
            }
            self.line.extend_from_slice(&available[..chunk_len]);
            match newline {
                Some(n) => {
                    self.inner.consume(n + 1);
                    return Ok(Line::Complete(std::mem::take(&mut self.line)));
                }
                None => self.inner.consume(chunk_len),
            }
        }
    }

    /// The next line if it is already complete in the buffer, without reading the socket: a
    /// client that writes many commands at once gets them handled in one go (and their events
    /// written back in one go). `None` means "call [`LineReader::next`]", not end of input;
    /// over-long lines are left to it too.
    pub fn next_buffered(&mut self) -> Option<Line> {
        if self.discarding {
            return None;
        }
        let n = self.inner.buffer().iter().position(|&b| b == b'\n')?;
        if self.line.len() + n > self.max {
            return None;
        }
        self.line.extend_from_slice(&self.inner.buffer()[..n]);
        self.inner.consume(n + 1);
        Some(Line::Complete(std::mem::take(&mut self.line)))
    }

    /// Bytes held for a line not yet complete (for tests of the memory bound).
    pub fn pending_capacity(&self) -> usize {
        self.line.capacity() + self.inner.buffer().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn splits_lines_and_caps_their_length() {
        let (mut tx, rx) = tokio::io::duplex(1024);
        let mut reader = LineReader::new(rx, 8);
        tx.write_all(b"one\n12345678\n123456789\nafter\nlast").await.unwrap();
        drop(tx);
        assert_eq!(reader.next().await.unwrap(), Line::Complete(b"one".to_vec()));
        assert_eq!(reader.next().await.unwrap(), Line::Complete(b"12345678".to_vec()));
        assert_eq!(reader.next().await.unwrap(), Line::TooLong);
        assert_eq!(reader.next().await.unwrap(), Line::Complete(b"after".to_vec()));
        assert_eq!(reader.next().await.unwrap(), Line::Eof);
    }

    #[tokio::test]
    async fn an_unterminated_last_line_is_kept_only_when_asked() {
        for (keep, expected) in [(false, None), (true, Some(Line::Complete(b"last".to_vec())))] {
            let (mut tx, rx) = tokio::io::duplex(1024);
            let reader = LineReader::new(rx, 8);
            let mut reader = if keep { reader.keep_unterminated() } else { reader };
            tx.write_all(b"one\nlast").await.unwrap();
            drop(tx);
            assert_eq!(reader.next().await.unwrap(), Line::Complete(b"one".to_vec()));
            if let Some(line) = expected {
                assert_eq!(reader.next().await.unwrap(), line);
            }
            assert_eq!(reader.next().await.unwrap(), Line::Eof);
        }
    }

    #[tokio::test]
    async fn buffered_lines_are_taken_without_waiting() {
        let (mut tx, rx) = tokio::io::duplex(1024);
        let mut reader = LineReader::new(rx, 8);
        assert_eq!(reader.next_buffered(), None, "nothing read yet");
        tx.write_all(b"one\ntwo\n123456789\nlast\npart").await.unwrap();
        assert_eq!(reader.next().await.unwrap(), Line::Complete(b"one".to_vec()));
        assert_eq!(reader.next_buffered(), Some(Line::Complete(b"two".to_vec())));
        assert_eq!(reader.next_buffered(), None, "the over-long line is left to next()");
        assert_eq!(reader.next().await.unwrap(), Line::TooLong);
        assert_eq!(reader.next_buffered(), Some(Line::Complete(b"last".to_vec())));
        assert_eq!(reader.next_buffered(), None, "an incomplete line waits");
        tx.write_all(b"ial\n").await.unwrap();
        assert_eq!(reader.next().await.unwrap(), Line::Complete(b"partial".to_vec()));
    }

    #[tokio::test]
    async fn a_huge_line_without_newline_does_not_grow_memory() {
        let (mut tx, rx) = tokio::io::duplex(64 * 1024);
        let mut reader = LineReader::new(rx, simp_proto::ipc::MAX_LINE);
        let writer = tokio::spawn(async move {
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..160 {
                tx.write_all(&chunk).await.unwrap(); // 10 MiB, no newline
            }
            tx.write_all(b"\n{\"cmd\":\"status\"}\n").await.unwrap();
        });
        assert_eq!(reader.next().await.unwrap(), Line::TooLong);
        assert!(reader.pending_capacity() <= 2 * simp_proto::ipc::MAX_LINE, "{}", reader.pending_capacity());
        assert_eq!(reader.next().await.unwrap(), Line::Complete(b"{\"cmd\":\"status\"}".to_vec()));
        assert!(reader.pending_capacity() <= 2 * simp_proto::ipc::MAX_LINE, "{}", reader.pending_capacity());
        writer.await.unwrap();
    }
}
