//! Test helpers: the real `simp` binary driven through pipes, and a fake daemon.
#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpListener;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

pub const WAIT: Duration = Duration::from_secs(10);

/// The `simp` process with its pipes.
pub struct Simp {
    child: Child,
    pub stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    seen: Vec<String>,
}

impl Simp {
    pub fn spawn(args: &[&str]) -> Simp {
        Simp::spawn_with_state(args, &std::env::temp_dir().join("simp-tests-state"))
    }

    /// `simp` with `XDG_STATE_HOME` at `state_home`, where a daemon it starts keeps its store.
    pub fn spawn_with_state(args: &[&str], state_home: &std::path::Path) -> Simp {
        let mut child = Command::new(env!("CARGO_BIN_EXE_simp"))
            .args(args)
            // Never the config file or the state of whoever runs the tests.
            .env("XDG_CONFIG_HOME", std::env::temp_dir().join("simp-tests-no-config"))
            .env("XDG_STATE_HOME", state_home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn simp");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Simp { child, stdin, stdout, seen: Vec::new() }
    }

    pub async fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        stdin.flush().await.unwrap();
    }

    /// Reads stdout until a line contains `needle`; returns that line.
    pub async fn expect(&mut self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.stdout.next_line()).await {
                Ok(Ok(Some(line))) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Ok(Ok(None)) => panic!("simp's stdout ended before {needle:?}; seen:\n{}", self.seen.join("\n")),
                Ok(Err(e)) => panic!("reading simp's stdout: {e}"),
                Err(_) => panic!("no line with {needle:?} within {WAIT:?}; seen:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Reads stdout to its end (bounded by [`WAIT`]); the lines not yet read.
    pub async fn read_to_end(&mut self) -> String {
        let mut out = String::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.stdout.next_line()).await {
                Ok(Ok(Some(line))) => {
                    self.seen.push(line.clone());
                    out.push_str(&line);
                    out.push('\n');
                }
                Ok(Ok(None)) => return out,
                Ok(Err(e)) => panic!("reading simp's stdout: {e}"),
                Err(_) => panic!("simp's stdout did not end within {WAIT:?}; seen:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Waits for the exit; returns the exit code and stderr.
    pub async fn finish(self) -> (i32, String) {
        let out = tokio::time::timeout(WAIT, self.child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("simp did not exit within {WAIT:?}; seen:\n{}", self.seen.join("\n")))
            .unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A fake simpd: one accepted connection, commands read as JSON values.
pub struct FakeDaemon {
    read: Lines<BufReader<OwnedReadHalf>>,
    write: OwnedWriteHalf,
}

impl FakeDaemon {
    pub async fn listen() -> (TcpListener, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        (listener, port)
    }

    pub async fn accept(listener: &TcpListener) -> FakeDaemon {
        let (sock, _) = tokio::time::timeout(WAIT, listener.accept()).await.expect("simp never connected").unwrap();
        let (read, write) = sock.into_split();
        FakeDaemon { read: BufReader::new(read).lines(), write }
    }

    pub async fn expect(&mut self, want: Value) {
        let line = tokio::time::timeout(WAIT, self.read.next_line())
            .await
            .unwrap_or_else(|_| panic!("simp never sent {want}"))
            .unwrap()
            .unwrap_or_else(|| panic!("simp closed the connection before sending {want}"));
        let got: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("simp sent bad JSON {line:?}: {e}"));
        assert_eq!(got, want);
    }

    pub async fn send(&mut self, event: Value) {
        self.write.write_all(format!("{event}\n").as_bytes()).await.unwrap();
    }

    pub async fn expect_closed(&mut self) {
        let next = tokio::time::timeout(WAIT, self.read.next_line()).await.expect("simp kept the connection open");
        assert!(matches!(next, Ok(None)), "expected the connection closed, got {next:?}");
    }
}

/// Reads a daemon's events until one matches; fails loudly after [`WAIT`].
pub async fn next_matching(
    reader: &mut simp::conn::EventReader,
    want: impl Fn(&simp_proto::ipc::Event) -> bool,
) -> simp_proto::ipc::Event {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, reader.next()).await {
            Ok(Ok(Some(simp::conn::Incoming::Event(event)))) if want(&event) => return event,
            Ok(Ok(Some(_))) => {}
            other => panic!("no matching event within {WAIT:?}: {other:?}"),
        }
    }
}
