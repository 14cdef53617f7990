//! The pipe example of `man simp` (EXAMPLES, from `simp::cli::MAN_SECTIONS`), run verbatim
//! through `sh`: it must chat, not just start. Its addresses are a LAN's (192.168.1.10 and
//! .20, default ports), so the test re-runs itself inside a network namespace of its own
//! (`unshare -rn`), where those addresses sit on loopback and the default ports are free; it
//! never touches the host's network. Where no namespace can be made it says why and passes.

use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::Duration;

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
    if std::env::var_os(INSIDE).is_some() {
        inside_the_namespace();
        return;
    }
    let probe = Command::new("unshare").args(["-rn", "ip", "link", "set", "lo", "up"]).output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            let why = String::from_utf8_lossy(&out.stderr);
            eprintln!("SKIPPED: cannot make a network namespace with `unshare -rn ip link set lo up`: {why}");
            return;
        }
        Err(err) => {
            eprintln!("SKIPPED: cannot run `unshare` ({err}); it comes with util-linux");
            return;
        }
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new("unshare")
        .arg("-rn")
        .arg(exe)
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .output()
        .expect("run the test inside the namespace");
    let report =
        format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the example failed inside its namespace; {report}");
    assert!(report.contains("1 passed"), "the inner run did not run the test; {report}");
    println!("{report}");
}

/// The example's command line, as the manual shows it.
fn example() -> &'static str {
    let (_, paragraphs) = MAN_SECTIONS.iter().find(|(title, _)| *title == "EXAMPLES").expect("an EXAMPLES section");
    paragraphs.iter().find_map(|p| p.strip_prefix("$ ").filter(|cmd| cmd.contains('|'))).expect("a pipe example")
}

fn inside_the_namespace() {
    let setup = [
        vec!["link", "set", "lo", "up"],
        vec!["addr", "add", "192.168.1.10/32", "dev", "lo"],
        vec!["addr", "add", "192.168.1.20/32", "dev", "lo"],
    ];
    for args in setup {
        let ok = Command::new("ip").args(&args).status();
        assert!(ok.is_ok_and(|s| s.success()), "ip {}", args.join(" "));
    }
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
