//! The real `simpd` binary under a stand-in for systemd's `Type=notify` (127.0.8.x): it sends
//! `READY=1` to `NOTIFY_SOCKET` only once its ports are bound (contrib/simpd.service).
#![cfg(unix)]

use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WAIT: Duration = Duration::from_secs(10);

/// The child is killed however the test ends, and the socket file and state removed.
struct Guard {
    child: Child,
    socket: PathBuf,
    state: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

#[test]
fn readiness_is_sent_to_notify_socket_once_the_ports_are_bound() {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    let path = std::env::temp_dir().join(format!("simpd-notify-{}-{nanos}.sock", std::process::id()));
    let state = std::env::temp_dir().join(format!("simpd-notify-state-{}-{nanos}", std::process::id()));
    let listener = UnixDatagram::bind(&path).expect("bind the notify socket");
    listener.set_read_timeout(Some(WAIT)).expect("read timeout");
    let child = Command::new(env!("CARGO_BIN_EXE_simpd"))
        .args(["127.0.8.1", "--port", "0", "--client-port", "0"])
        .env("XDG_STATE_HOME", &state)
        .env("NOTIFY_SOCKET", &path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("simpd starts");
    let _guard = Guard { child, socket: path.clone(), state };

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

/// `systemd-analyze verify` accepts contrib/simpd.service, with ExecStart pointed at the binary
/// just built (verify insists that it exists). Skipped, saying so, where systemd is not
/// installed: the unit is data, and CI machines need not carry systemd.
#[test]
fn the_unit_file_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../contrib/simpd.service"))
        .expect("contrib/simpd.service is readable");
    assert!(unit.contains("ExecStart=/usr/local/bin/simpd ${SIMPD_ADDRESS}"), "ExecStart changed: update this test");
    for needed in
        ["Type=notify", "DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "Restart=on-failure"]
    {
        assert!(unit.lines().any(|l| l == needed), "the unit lacks {needed}");
    }
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("simpd-unit-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join("simpd.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/simpd", env!("CARGO_BIN_EXE_simpd"))).expect("write the unit");
    let output = Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&path).output();
    let _ = std::fs::remove_dir_all(&dir);
    match output {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            // CI installs systemd (.ci/run), so there the check must run.
            assert!(std::env::var_os("CI").is_none(), "systemd-analyze is missing in CI: apt-get install systemd");
            eprintln!("skipped: systemd-analyze is not installed (apt-get install systemd)");
        }
        Err(error) => panic!("cannot run systemd-analyze: {error}"),
        Ok(output) => {
            let text =
                format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
            assert!(output.status.success() && text.trim().is_empty(), "systemd-analyze verify:\n{text}");
        }
    }
}
