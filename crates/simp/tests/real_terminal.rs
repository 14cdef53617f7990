//! The full-screen interface in a real pseudo-terminal (util-linux `script`), typed into as a
//! person would: the keys reach the terminal as bytes, in one write, the way a paste or fast
//! typing does. Issue 13 found pasting stalled after exactly 1,024 bytes until the next key
//! press (crossterm read 1 KiB per readiness from an edge-triggered source; see its PR 1057):
//! here fast typing, a bracketed paste and its Enter, 1,214 bytes in one write, are the last
//! bytes ever written, so a stall means the message is never sent. Whether it was sent is read from the daemon's store with a
//! read-only `history` query (IPC.md "Access"), not from the screen.
//!
//! `cargo nextest run -p simp --test real_terminal`

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::WAIT;
use serde_json::Value;
use simp::demo::Demo;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// `simp` in a pseudo-terminal of 100 × 30 (set by `stty` before `exec`).
fn spawn_in_terminal(args: &[&str]) -> (Child, ChildStdin, ChildStdout) {
    let quoted: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_simp"))
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r#"'\''"#)))
        .collect();
    let command = format!("stty rows 30 cols 100; exec {}", quoted.join(" "));
    let mut child = Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        // Never the config file of whoever runs the tests.
        .env("XDG_CONFIG_HOME", std::env::temp_dir().join("simp-tests-no-config"))
        .env("TERM", "xterm-256color")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("util-linux `script` runs");
    let stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    (child, stdin, stdout)
}

/// Reads the terminal's output until it contains `needle`, failing loudly after [`WAIT`].
/// Escapes and spaces are dropped from both: the interface redraws only what changed, moving
/// the cursor over spaces and letters already on the screen.
async fn read_until(stdout: &mut ChildStdout, seen: &mut Vec<u8>, needle: &str) {
    let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let needle = squeeze(needle);
    let found = tokio::time::timeout(WAIT, async {
        let mut chunk = [0u8; 8192];
        while !squeeze(&plain_text(seen)).contains(&needle) {
            let n = stdout.read(&mut chunk).await.expect("read the terminal");
            assert!(n > 0, "simp's terminal closed before {needle:?}: {:?}", plain_text(seen));
            seen.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    assert!(found.is_ok(), "no {needle:?} on the screen within {WAIT:?}: {:?}", plain_text(seen));
}

/// The printable text of terminal output: escape sequences dropped.
fn plain_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ params final-byte; other escapes: ESC and one byte.
            if chars.next_if_eq(&'[').is_some() {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else if !c.is_control() {
            out.push(c);
        }
    }
    out
}

/// The daemon's stored messages, asked on a connection of their own (read-only).
async fn stored(client_addr: std::net::SocketAddr) -> Vec<Value> {
    let mut conn = TcpStream::connect(client_addr).await.expect("connect to the daemon");
    conn.write_all(b"{\"cmd\":\"history\",\"limit\":10}\n").await.expect("send history");
    let mut lines = BufReader::new(conn).lines();
    let mut messages = Vec::new();
    while let Some(line) = tokio::time::timeout(WAIT, lines.next_line()).await.expect("history answers").expect("read")
    {
        let event: Value = serde_json::from_str(&line).expect("a JSON line");
        match event["event"].as_str() {
            Some("history") => messages.push(event),
            Some("history-end") => break,
            _ => panic!("unexpected answer to history: {line}"),
        }
    }
    messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_and_a_paste_over_1_kib_in_a_real_terminal_are_sent_without_another_key() {
    let demo = Demo::start(false).await.expect("start two daemons and the bot");
    let port = demo.client_addr.port().to_string();
    let (mut child, mut keys, mut screen) = spawn_in_terminal(&["--quiet", "--user", "alice", "--port", &port]);
    let mut seen = Vec::new();
    read_until(&mut screen, &mut seen, "q (quit)").await;
    keys.write_all(b"s\r").await.expect("start a chat");
    read_until(&mut screen, &mut seen, "peer").await;
    keys.write_all(format!("{}\r", demo.bot_udp).as_bytes()).await.expect("type the peer");
    read_until(&mut screen, &mut seen, "chat with echo at").await;

    // Typed fast and rubbed out (Ctrl-U), then a paste of one datagram's worth (no
    // confirmation asked) and Enter: 1,214 bytes in one write, the Enter past the first 1,024.
    let typed = "z".repeat(300);
    let text: String = (0..900).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let keystrokes = format!("{typed}\x15\x1b[200~{text}\x1b[201~\r");
    assert!(keystrokes.len() > 1_024 && keystrokes.find('\r') > Some(1_024));
    keys.write_all(keystrokes.as_bytes()).await.expect("type and paste");
    keys.flush().await.expect("flush");

    // No further key: the message must leave on these bytes alone.
    let deadline = tokio::time::Instant::now() + WAIT;
    let sent = loop {
        let messages = stored(demo.client_addr).await;
        let mine = messages.iter().find(|m| m["direction"] == "out" && m["text"] == text.as_str()).cloned();
        match mine {
            Some(m) if m["outcome"] == "delivered" => break m,
            _ if tokio::time::Instant::now() > deadline => {
                panic!("the pasted message was not delivered within {WAIT:?} (stored: {messages:?})")
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    assert_eq!(sent["text"].as_str().map(str::len), Some(900), "the typed z's were rubbed out");

    // Esc then q quits, after y confirms leaving the chat; the terminal is given back.
    keys.write_all(b"\x1bq").await.expect("quit keys");
    read_until(&mut screen, &mut seen, "? y quits").await;
    keys.write_all(b"y").await.expect("confirm");
    let status = tokio::time::timeout(WAIT, child.wait()).await.expect("simp exits in time").expect("status");
    assert_eq!(status.code(), Some(0), "{:?}", plain_text(&seen));
    demo.stop().await;
}
