//! The `simpd` command line (IPC.md "`simpd` command line"), as a clap definition.
//!
//! It lives in the library rather than in `main.rs` so that the manual page and the shell
//! completions (`cargo run -p xtask -- gen-docs`) are generated from the very definition the
//! binary parses, and cannot drift from it.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use simp_proto::{RtoMode, SeqMode};

use crate::DaemonConfig;

/// The SIMP daemon: chats with other daemons over UDP and serves one local client.
///
/// simpd talks SIMP (a two-party chat protocol over UDP) with other daemons on the peer port,
/// and serves its user's client on the client port: JSON Lines over TCP (the `simp` client,
/// bots), or the course's `|`-separated dialect over UDP on the same port number (the course's
/// own client and grader). One client at a time, from this host only unless
/// --allow-remote-clients is given.
///
/// Every message received and sent is kept in a SQLite database in --state-dir (file mode
/// 0600): a received message is acknowledged to the peer only once it is committed there, and
/// is delivered to the client again on every connect until the client confirms it.
///
/// Logs go to standard error, one line per session change; RUST_LOG=debug shows every dropped
/// datagram and why. SIGINT or SIGTERM finishes the message being sent, keeps the ones queued
/// behind it (sent in the next chat with that peer after a restart), sends FIN to the peer
/// (waiting at most one --timeout for its ACK), logs how many messages the store keeps, and
/// exits. Under systemd (Type=notify), readiness is reported once every port is
/// bound.
#[derive(Debug, Parser)]
#[command(name = "simpd", version)]
pub struct Args {
    /// IP address to bind, for peers and clients.
    #[arg(default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub ip: IpAddr,
    /// Daemon-to-daemon UDP port; every datagram is sent from it.
    #[arg(long, default_value_t = 7777)]
    pub port: u16,
    /// Client port: TCP (JSON Lines) and UDP (the course's dialect).
    #[arg(long, default_value_t = 7778)]
    pub client_port: u16,
    /// Retransmission timeout, e.g. 250ms, 5s, 1m; at least 10ms.
    #[arg(long, default_value = "5s", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// Re-sends of one datagram before the peer counts as unreachable.
    #[arg(long, default_value_t = 5)]
    pub retries: u32,
    /// How long a call keeps ringing before "no answer".
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub call_timeout: Duration,
    /// How long an incoming request waits for accept/decline.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub ring_timeout: Duration,
    /// Retransmission timeout policy (SPEC 2.6).
    #[arg(long, value_enum, default_value_t = Rto::Fixed)]
    pub rto: Rto,
    /// Sequence bits per direction, one shared bit, or auto: per direction until the peer
    /// shows it shares one bit (SPEC 2.6).
    #[arg(long, value_enum, default_value_t = Seqs::Auto)]
    pub seq_mode: Seqs,
    /// Largest payload sent in one datagram; longer messages are split.
    #[arg(long, default_value_t = 985, value_parser = clap::value_parser!(u32).range(1..=65_468))]
    pub max_payload: u32,
    /// Accept every call without asking (bots, graders).
    #[arg(long)]
    pub auto_accept: bool,
    /// Serve clients from other hosts.
    #[arg(long)]
    pub allow_remote_clients: bool,
    /// Directory of the message store [default: $XDG_STATE_HOME/simp/IP, or
    /// ~/.local/state/simp/IP; IP-PORT for a --port other than 7777].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Keep only the messages the client has not confirmed and those not yet sent: no chat
    /// history.
    #[arg(long)]
    pub no_history: bool,
    /// Announce this daemon on the LAN (mDNS/DNS-SD, `_simp._udp`), with the attached user's
    /// name, so that `simp --lan` lists it; only on the interface that holds IP, never on the
    /// others. Refused for 0.0.0.0 and ::; on a loopback IP only this host sees it.
    #[arg(long)]
    pub announce: bool,
}

/// `--rto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Rto {
    /// Always --timeout.
    Fixed,
    /// RFC 6298 estimate, 200 ms floor, --timeout ceiling.
    Adaptive,
}

/// `--seq-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Seqs {
    /// Per direction, switching to one shared bit when the peer proves it uses one.
    Auto,
    /// One alternating bit for each direction.
    PerDirection,
    /// One alternating bit for both directions (turn-taking peers).
    Shared,
}

impl Args {
    /// The daemon configuration these flags ask for.
    pub fn config(&self) -> DaemonConfig {
        let mut config = DaemonConfig::new(self.ip);
        config.port = self.port;
        config.client_port = self.client_port;
        config.allow_remote_clients = self.allow_remote_clients;
        config.state_dir = self.state_dir.clone().or_else(|| crate::store::default_state_dir(self.ip, self.port));
        config.history = !self.no_history;
        config.announce = self.announce;
        let ep = &mut config.endpoint;
        ep.timeout = self.timeout;
        ep.retries = self.retries;
        ep.call_timeout = self.call_timeout;
        ep.ring_timeout = self.ring_timeout;
        ep.rto = match self.rto {
            Rto::Fixed => RtoMode::Fixed,
            Rto::Adaptive => RtoMode::Adaptive,
        };
        ep.seq_mode = match self.seq_mode {
            Seqs::Auto => SeqMode::Auto,
            Seqs::PerDirection => SeqMode::PerDirection,
            Seqs::Shared => SeqMode::Shared,
        };
        ep.max_payload = usize::try_from(self.max_payload).unwrap_or(simp_proto::wire::DEFAULT_MAX_PAYLOAD);
        ep.auto_accept = self.auto_accept;
        config
    }
}

/// Sections of the manual page beyond what clap describes, as (title, paragraphs); a
/// paragraph starting with `$ ` is a command line, shown verbatim without the `$ `.
pub const MAN_SECTIONS: &[(&str, &[&str])] = &[
    (
        "EXIT STATUS",
        &[
            "0 after SIGINT or SIGTERM (the peer of an open chat gets a FIN first).",
            "1 when a port cannot be bound; the message names the address and the likely cause.",
            "2 for bad command-line flags, with usage.",
        ],
    ),
    (
        "ENVIRONMENT",
        &[
            "RUST_LOG sets the log level (default info); debug shows every dropped datagram and why.",
            "NOTIFY_SOCKET, set by systemd for Type=notify services: simpd sends READY=1 there once its ports are bound.",
        ],
    ),
    (
        "EXAMPLES",
        &[
            "A daemon for this machine's LAN address, peers on UDP 7777, clients on 7778:",
            "$ simpd 192.168.1.10",
            "A bot or grader target that accepts every call, with a short retransmission timeout:",
            "$ simpd 127.0.0.1 --auto-accept --timeout 500ms",
            "Talking to the daemon by hand, in JSON Lines and in the course's dialect:",
            "$ echo '{\"cmd\":\"status\"}' | nc 127.0.0.1 7778",
            "$ echo 'connect|username=alice' | nc -u -w1 127.0.0.1 7778",
        ],
    ),
    ("SEE ALSO", &["simp(1); docs/SPEC.md and docs/IPC.md in the simp sources."]),
];

/// The longest duration a timing option takes: far beyond any use, and far from the clock
/// arithmetic's limits.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// The shortest `--timeout`: below it, re-sends come so fast that they are a flood, not a
/// retransmission (1 ms sent 1,432 SYNs in 3 s), and no network answers within it anyway.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(10);

/// `--timeout`: a duration of at least [`MIN_TIMEOUT`].
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let timeout = parse_duration(text)?;
    if timeout < MIN_TIMEOUT {
        return Err(format!("{:?} is shorter than 10ms, the shortest --timeout simpd takes", text.trim()));
    }
    Ok(timeout)
}

/// `250ms`, `5s` or `1m`; zero is refused (a zero timeout would re-send in a busy loop), and
/// so is anything over [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
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
    if duration > MAX_DURATION {
        return Err(format!("{text:?} is longer than a day, the longest timeout simpd takes"));
    }
    Ok(duration)
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
        assert_eq!(parse_duration("1440m"), Ok(MAX_DURATION));
        assert!(parse_duration("1441m").is_err());
        assert!(parse_duration("10000000000000000000s").is_err());
    }

    #[test]
    fn timeout_has_a_floor_of_10ms() {
        assert_eq!(parse_timeout("10ms"), Ok(MIN_TIMEOUT));
        assert!(parse_timeout("9ms").unwrap_err().contains("shorter than 10ms"));
        assert!(Args::try_parse_from(["simpd", "--timeout", "1ms"]).is_err());
        assert!(Args::try_parse_from(["simpd", "--call-timeout", "1ms"]).is_ok(), "only --timeout has the floor");
    }

    #[test]
    fn defaults_are_those_of_ipc_md() {
        let args = Args::try_parse_from(["simpd"]).unwrap();
        let config = args.config();
        assert_eq!(config.ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!((config.port, config.client_port), (7777, 7778));
        assert_eq!(config.endpoint.timeout, Duration::from_secs(5));
        assert_eq!(config.endpoint.retries, 5);
        assert_eq!(config.endpoint.call_timeout, Duration::from_secs(60));
        assert_eq!(config.endpoint.ring_timeout, Duration::from_secs(60));
        assert_eq!(config.endpoint.max_payload, 985);
        assert_eq!(config.endpoint.seq_mode, SeqMode::Auto);
        assert!(!config.endpoint.auto_accept && !config.allow_remote_clients);
        assert!(config.history);
        let dir = Args::try_parse_from(["simpd", "--state-dir", "/tmp/s", "--no-history"]).unwrap().config();
        assert_eq!((dir.state_dir.as_deref(), dir.history), (Some(std::path::Path::new("/tmp/s")), false));
        assert!(Args::try_parse_from(["simpd", "--max-payload", "0"]).is_err());
        assert!(Args::try_parse_from(["simpd", "--max-payload", "65469"]).is_err());
        assert!(Args::try_parse_from(["simpd", "--rto", "adaptive", "--seq-mode", "shared"]).is_ok());
        assert!(Args::try_parse_from(["simpd", "--auto-accept"]).unwrap().config().endpoint.auto_accept);
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}
