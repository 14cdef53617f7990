//! `simp [OPTIONS] [DAEMON_IP]`: the SIMP chat client. See the library docs for the flow and
//! plain mode's output; this file only reads flags and picks the front end.
#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use clap::Parser;
use simp_proto::ipc::DEFAULT_CLIENT_PORT;

/// Chat over SIMP through your local simpd daemon.
#[derive(Debug, Parser)]
#[command(name = "simp", version, about)]
struct Args {
    /// IP of the daemon to use (start one with `simpd IP`).
    #[arg(default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    daemon_ip: IpAddr,
    /// The daemon's client port.
    #[arg(long, default_value_t = DEFAULT_CLIENT_PORT)]
    port: u16,
    /// Your name (1-32 printable ASCII characters); asked if not given.
    #[arg(long)]
    user: Option<String>,
    /// Line mode: one line per event. The default when stdin or stdout is not a terminal.
    #[arg(long)]
    plain: bool,
    /// Try it out: start two daemons in-process on 127.0.0.1 and 127.0.0.2 with an echo bot
    /// on the second, and call it as user `you`.
    #[arg(long, conflicts_with_all = ["daemon_ip", "port", "user"])]
    demo: bool,
    /// For tests: the demo's daemons take free ports even when 7777/7778 are free.
    #[arg(long, hide = true, requires = "demo")]
    demo_any_port: bool,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let full_screen = !args.plain && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let result = if args.demo {
        simp::demo::run(full_screen, !args.demo_any_port).await
    } else {
        let addr = SocketAddr::new(args.daemon_ip, args.port);
        simp::run(addr, args.user.as_deref(), full_screen).await.map_err(|e| e.to_string())
    };
    let code = match result {
        Ok(()) => 0,
        Err(msg) => {
            eprintln!("simp: {msg}");
            1
        }
    };
    // Exit here rather than return: plain mode's stdin thread may still be blocked in read().
    std::process::exit(code)
}
