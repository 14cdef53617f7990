//! The `simpd` command line (IPC.md): options, logging and signals; nothing else.
#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use simp_proto::{RtoMode, SeqMode};
use simpd::{Daemon, DaemonConfig};
use tracing_subscriber::EnvFilter;

/// The SIMP daemon: chats with other daemons over UDP and serves one client over TCP (JSON Lines).
#[derive(Debug, Parser)]
#[command(name = "simpd", version)]
struct Args {
    /// IP address to bind, for peers and clients.
    #[arg(default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    ip: IpAddr,
    /// Daemon-to-daemon UDP port.
    #[arg(long, default_value_t = 7777)]
    port: u16,
    /// Client port (TCP, JSON Lines).
    #[arg(long, default_value_t = 7778)]
    client_port: u16,
    /// Retransmission timeout, e.g. 250ms, 5s, 1m.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    timeout: Duration,
    /// Re-sends of one datagram before the peer counts as unreachable.
    #[arg(long, default_value_t = 5)]
    retries: u32,
    /// How long a call keeps ringing before "no answer".
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    call_timeout: Duration,
    /// How long an incoming request waits for accept/decline.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    ring_timeout: Duration,
    /// Retransmission timeout policy (SPEC 2.6).
    #[arg(long, value_enum, default_value_t = Rto::Fixed)]
    rto: Rto,
    /// Sequence bits per direction, or one shared bit (SPEC 2.6).
    #[arg(long, value_enum, default_value_t = Seqs::PerDirection)]
    seq_mode: Seqs,
    /// Largest payload sent in one datagram; longer messages are split.
    #[arg(long, default_value_t = 985, value_parser = clap::value_parser!(u32).range(1..=65_468))]
    max_payload: u32,
    /// Accept every call without asking.
    #[arg(long)]
    auto_accept: bool,
    /// Serve clients from other hosts.
    #[arg(long)]
    allow_remote_clients: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Rto {
    Fixed,
    Adaptive,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Seqs {
    PerDirection,
    Shared,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("simpd: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let daemon = match Daemon::bind(config(&args)).await {
            Ok(daemon) => daemon,
            Err(error) => {
                eprintln!("simpd: {error}");
                return ExitCode::FAILURE;
            }
        };
        // The signal futures are costly to poll, and the loop polls its shutdown future on
        // most turns: a task waits for them and the loop polls a cheap oneshot instead.
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop.send(());
        });
        match daemon
            .run(async move {
                let _ = stopped.await;
            })
            .await
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("simpd: {error}");
                ExitCode::FAILURE
            }
        }
    })
}

fn config(args: &Args) -> DaemonConfig {
    let mut config = DaemonConfig::new(args.ip);
    config.port = args.port;
    config.client_port = args.client_port;
    config.allow_remote_clients = args.allow_remote_clients;
    let ep = &mut config.endpoint;
    ep.timeout = args.timeout;
    ep.retries = args.retries;
    ep.call_timeout = args.call_timeout;
    ep.ring_timeout = args.ring_timeout;
    ep.rto = match args.rto {
        Rto::Fixed => RtoMode::Fixed,
        Rto::Adaptive => RtoMode::Adaptive,
    };
    ep.seq_mode = match args.seq_mode {
        Seqs::PerDirection => SeqMode::PerDirection,
        Seqs::Shared => SeqMode::Shared,
    };
    ep.max_payload = usize::try_from(args.max_payload).unwrap_or(simp_proto::wire::DEFAULT_MAX_PAYLOAD);
    ep.auto_accept = args.auto_accept;
    config
}

/// `250ms`, `5s` or `1m`; zero is refused (a zero timeout would re-send in a busy loop).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration; write e.g. 250ms, 5s or 1m"))?;
    let duration = match unit {
        "ms" => Duration::from_millis(value),
        "s" => Duration::from_secs(value),
        "m" => Duration::from_secs(value.saturating_mul(60)),
        _ => return Err(format!("{text:?} has no known unit; write e.g. 250ms, 5s or 1m")),
    };
    if duration.is_zero() {
        return Err("a duration must be more than zero".into());
    }
    Ok(duration)
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGTERM; only SIGINT stops simpd gracefully");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_the_units_of_ipc_md() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("5h").is_err());
    }

    #[test]
    fn defaults_are_those_of_ipc_md() {
        let args = Args::try_parse_from(["simpd"]).unwrap();
        let config = config(&args);
        assert_eq!(config.ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!((config.port, config.client_port), (7777, 7778));
        assert_eq!(config.endpoint.timeout, Duration::from_secs(5));
        assert_eq!(config.endpoint.retries, 5);
        assert_eq!(config.endpoint.call_timeout, Duration::from_secs(60));
        assert_eq!(config.endpoint.ring_timeout, Duration::from_secs(60));
        assert_eq!(config.endpoint.max_payload, 985);
        assert!(!config.endpoint.auto_accept && !config.allow_remote_clients);
        assert!(Args::try_parse_from(["simpd", "--max-payload", "0"]).is_err());
        assert!(Args::try_parse_from(["simpd", "--max-payload", "65469"]).is_err());
        assert!(Args::try_parse_from(["simpd", "--rto", "adaptive", "--seq-mode", "shared"]).is_ok());
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}
