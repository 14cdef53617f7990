//! Sent messages kept across a daemon restart (IPC.md `held`), as the user sees them: alice's
//! in-process daemon on 127.0.62.1 (a state directory of its own) is stopped with two messages
//! queued behind one its peer never acknowledges, then started again; the real `simp --plain`
//! says they are held, in one line, and once the chat with bob (now a real daemon at the
//! peer's address) is open, what became of each.
//!
//! `cargo nextest run -p simp --test held`

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{next_matching, Simp, WAIT};
use simp::conn;
use simp_proto::ipc::{Command, Event};
use simp_proto::wire;

fn ip(host: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 62, host))
}

/// A daemon on `ip` with these ports (0: any), storing in `state`, running on this test's
/// runtime until `stop` fires; returns its addresses and its task.
async fn daemon(
    ip: IpAddr,
    ports: (u16, u16),
    state: Option<&Path>,
) -> (SocketAddr, SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let mut config = simpd::DaemonConfig::new(ip);
    (config.port, config.client_port) = ports;
    config.state_dir = state.map(Path::to_path_buf);
    config.endpoint.timeout = Duration::from_millis(100);
    config.endpoint.retries = 2;
    config.endpoint.auto_accept = state.is_none();
    let daemon = simpd::Daemon::bind(config).await.expect("the daemon binds");
    let (udp, client) = (daemon.udp_addr(), daemon.client_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        daemon.run(async { drop(stopped.await) }).await.expect("the daemon runs");
    });
    (udp, client, stop, task)
}

/// A datagram built byte by byte (SPEC 1).
fn datagram(ty: u8, op: u8, seq: u8, user: &str, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![ty, op, seq];
    let mut name = [0u8; wire::USER_LEN];
    name[..user.len()].copy_from_slice(user.as_bytes());
    bytes.extend_from_slice(&name);
    bytes.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

fn recv(socket: &UdpSocket, what: &str) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 65_536];
    let (n, from) = socket.recv_from(&mut buf).unwrap_or_else(|e| panic!("no datagram while waiting for {what}: {e}"));
    (buf[..n].to_vec(), from)
}

/// A state directory of this test's own, removed at the end.
struct StateDir(PathBuf);

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_messages_are_one_line_and_each_outcome_is_shown_after_the_chat_reopens() {
    let state = StateDir(std::env::temp_dir().join(format!("simp-held-test-{}", std::process::id())));
    let (a_udp, a_client, stop, task) = daemon(ip(1), (0, 0), Some(&state.0)).await;
    let raw = UdpSocket::bind((ip(2), 0)).unwrap();
    raw.set_read_timeout(Some(WAIT)).unwrap();
    let bob_addr = raw.local_addr().unwrap();

    // Alice's raw client calls the raw peer, which answers the handshake by hand.
    let (mut alice, mut alice_w) = conn::connect(a_client).await.unwrap();
    alice_w.send(&Command::Connect { user: "alice".into() }).await.unwrap();
    alice_w.send(&Command::Start { peer: bob_addr.to_string() }).await.unwrap();
    let (_, from) = recv(&raw, "alice's SYN");
    raw.send_to(&datagram(wire::TYPE_CONTROL, wire::OP_SYN_ACK, 0, "bob", &[]), from).unwrap();
    next_matching(&mut alice, |e| matches!(e, Event::Established { .. })).await;
    for (id, text) in [("1", "x"), ("2", "y"), ("3", "z")] {
        alice_w.send(&Command::Chat { text: text.into(), id: Some(id.into()), utf8: None }).await.unwrap();
        next_matching(&mut alice, |e| matches!(e, Event::Queued { id: i } if i == id)).await;
    }
    // x is never acknowledged; the daemon stops: x is given up, y and z are kept.
    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, task).await.expect("the daemon stops in time").unwrap();
    drop((alice, alice_w));

    // Bob is a real daemon at the raw peer's address now; alice's daemon starts again.
    drop(raw);
    let (bob_udp, _, _bob_stop, _bob) = daemon(ip(2), (bob_addr.port(), 0), None).await;
    let (_, a_client, _a_stop, _a) = daemon(ip(1), (a_udp.port(), a_client.port()), Some(&state.0)).await;
    let port = a_client.port().to_string();
    let mut plain = Simp::spawn(&["--plain", "--port", &port, "--user", "alice", &a_client.ip().to_string()]);
    let line = plain.expect("from before the daemon restarted").await;
    assert!(
        line.ends_with(&format!(
            "* 2 messages to {bob_udp} from before the daemon restarted are held: they will be sent when the \
             chat with {bob_udp} is open again"
        )),
        "{line}"
    );
    plain.type_line(&bob_udp.to_string()).await;
    let first = plain.expect("held message").await;
    let second = plain.expect("held message").await;
    assert!(first.ends_with(&format!("* held message to {bob_udp} delivered: y")), "{first}");
    assert!(second.ends_with(&format!("* held message to {bob_udp} delivered: z")), "{second}");
    plain.type_line("/quit").await;
    let (code, stderr) = plain.finish().await;
    assert_eq!(code, 0, "{stderr}");
}
