//! The pipe example of `man simp` (EXAMPLES, from `simp::cli::MAN_SECTIONS`), run verbatim
//! through `sh`: it must chat, not just start. Its addresses are a LAN's (192.168.1.10 and
//! .20, default ports), so the test re-runs itself inside a network namespace of its own
//! (`unshare -rn`), where those addresses sit on loopback and the default ports are free; it
//! never touches the host's network. Where no namespace can be made it says why and passes.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

mod netns;

use simp::cli::MAN_SECTIONS;
use simp::conn::{self, Incoming};
use simp_proto::ipc::{Command as IpcCommand, Event, DEFAULT_CLIENT_PORT};
use simpd::{Daemon, DaemonConfig};

/// Set in the re-run inside the namespace.
const INSIDE: &str = "SIMP_MAN_EXAMPLE_IN_NETNS";
const TEST_NAME: &str = "the_pipe_example_of_the_manual_chats";
const WAIT: Duration = Duration::from_secs(20);

#[test]
fn the_pipe_example_of_the_manual_chats() {
    netns::run_isolated(
        INSIDE,
        TEST_NAME,
        &[
            &["link", "set", "lo", "up"],
            &["addr", "add", "192.168.1.10/32", "dev", "lo"],
            &["addr", "add", "192.168.1.20/32", "dev", "lo"],
        ],
        inside_the_namespace,
    );
}

/// The example's command line, as the manual shows it.
fn example() -> &'static str {
    let (_, paragraphs) = MAN_SECTIONS.iter().find(|(title, _)| *title == "EXAMPLES").expect("an EXAMPLES section");
    paragraphs.iter().find_map(|p| p.strip_prefix("$ ").filter(|cmd| cmd.contains('|'))).expect("a pipe example")
}

fn inside_the_namespace() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mine: IpAddr = "192.168.1.10".parse().unwrap();
        let theirs: IpAddr = "192.168.1.20".parse().unwrap();
        for (ip, auto_accept) in [(mine, false), (theirs, true)] {
            let mut config = DaemonConfig::new(ip);
            config.endpoint.auto_accept = auto_accept;
            let daemon = Daemon::bind(config).await.expect("bind a daemon on the default ports");
            tokio::spawn(daemon.run(std::future::pending()));
        }
        // bob is attached to the callee's daemon and must get alice's message.
        let (reader, mut writer) = conn::connect(SocketAddr::new(theirs, DEFAULT_CLIENT_PORT)).await.unwrap();
        writer.send(&IpcCommand::Connect { user: "bob".into() }).await.unwrap();
        let mut events = reader.spawn();

        let simp_dir = std::path::Path::new(env!("CARGO_BIN_EXE_simp")).parent().unwrap().to_owned();
        let path = format!("{}:{}", simp_dir.display(), std::env::var("PATH").unwrap_or_default());
        let cmd = example();
        let run = tokio::process::Command::new("sh").args(["-c", cmd]).env("PATH", path).output();
        let out = tokio::time::timeout(WAIT, run).await.expect("the example finishes").unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        println!("$ {cmd}\n{stdout}{stderr}");
        assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
        assert!(stdout.contains("* chat with bob at 192.168.1.20:7777 open"), "{stdout}");
        assert!(stdout.contains("] alice: hello"), "{stdout}");

        let got = tokio::time::timeout(WAIT, async {
            while let Some(Ok(Some(item))) = events.recv().await {
                if let Incoming::Event(Event::Message { user, text, .. }) = item {
                    return Some((user, text));
                }
            }
            None
        })
        .await
        .expect("bob gets a message");
        assert_eq!(got, Some(("alice".into(), "hello".into())));
    });
}
