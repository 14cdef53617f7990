//! The real `simpd` binary under a stand-in for systemd's `Type=notify` (127.0.8.x): it sends
//! `READY=1` to `NOTIFY_SOCKET` only once its ports are bound (contrib/simpd.service).
#![cfg(unix)]

use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WAIT: Duration = Duration::from_secs(10);

/// The child is killed however the test ends, and the socket file removed.
struct Guard {
    child: Child,
    socket: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

#[test]
fn readiness_is_sent_to_notify_socket_once_the_ports_are_bound() {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    let path = std::env::temp_dir().join(format!("simpd-notify-{}-{nanos}.sock", std::process::id()));
    let listener = UnixDatagram::bind(&path).expect("bind the notify socket");
    listener.set_read_timeout(Some(WAIT)).expect("read timeout");
    let child = Command::new(env!("CARGO_BIN_EXE_simpd"))
        .args(["127.0.8.1", "--port", "0", "--client-port", "0"])
        .env("NOTIFY_SOCKET", &path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("simpd starts");
    let _guard = Guard { child, socket: path.clone() };

    let mut buf = [0u8; 4096];
    let n = listener.recv(&mut buf).expect("simpd sent nothing to NOTIFY_SOCKET within 10 s");
    let message = String::from_utf8_lossy(&buf[..n]).into_owned();
    let lines: Vec<&str> = message.lines().collect();
    assert!(lines.contains(&"READY=1"), "no READY=1 in {message:?}");
    let status =
        lines.iter().find_map(|l| l.strip_prefix("STATUS=")).unwrap_or_else(|| panic!("no STATUS= in {message:?}"));

    // "peers on UDP A, clients on B (TCP and UDP)": both bound already, all three sockets.
    let addr_after = |key: &str| -> SocketAddr {
        let rest = status.split_once(key).unwrap_or_else(|| panic!("no {key:?} in {status:?}")).1;
        let word = rest.split([',', ' ']).next().unwrap_or_default();
        word.parse().unwrap_or_else(|e| panic!("{word:?} in {status:?}: {e}"))
    };
    let (peer, client) = (addr_after("peers on UDP "), addr_after("clients on "));
    assert_eq!(peer.ip().to_string(), "127.0.8.1");
    let in_use =
        |result: std::io::Result<UdpSocket>| matches!(result, Err(e) if e.kind() == std::io::ErrorKind::AddrInUse);
    assert!(in_use(UdpSocket::bind(peer)), "the peer port {peer} is not bound at READY=1");
    assert!(in_use(UdpSocket::bind(client)), "the client port's UDP side {client} is not bound at READY=1");
    TcpStream::connect_timeout(&client, WAIT).expect("the client port's TCP side accepts at READY=1");
}
