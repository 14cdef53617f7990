//! `simpd`, the SIMP daemon: a thin tokio shell around [`simp_proto::Endpoint`].
//!
//! The shell owns the sockets and the clock and nothing else (DESIGN.md): it feeds the
//! endpoint datagrams, client commands and timeouts, and drains what it wants sent and
//! reported. Every protocol decision stays in `simp-proto`.
//!
//! Two steps, so that tests and the client's `--demo` can bind port 0 and learn the real
//! addresses before anything runs:
//! ```no_run
//! # async fn demo() -> Result<(), simpd::DaemonError> {
//! let daemon = simpd::Daemon::bind(simpd::DaemonConfig::new("127.0.0.1".parse().unwrap())).await?;
//! println!("peers call {}, clients connect to {}", daemon.udp_addr(), daemon.client_addr());
//! daemon.run(std::future::pending()).await
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod access;
pub mod announce;
pub mod cli;
mod event_loop;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod line_reader;
pub mod store;

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use simp_proto::ipc::{DEFAULT_CLIENT_PORT, DEFAULT_PORT};
use tokio::net::{TcpListener, UdpSocket};

/// Everything a daemon needs to start.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// The address to bind, for both the peer (UDP) and the client (TCP) port.
    pub ip: IpAddr,
    /// Daemon-to-daemon UDP port; 0 picks a free one (tests).
    pub port: u16,
    /// Client port, both TCP (JSON Lines) and UDP (the course's dialect, IPC.md); 0 picks one
    /// that is free for both (tests).
    pub client_port: u16,
    /// Protocol settings. Its `local` is overwritten with the address actually bound, since
    /// the endpoint reports it to clients and uses it to break simultaneous-open ties.
    pub endpoint: simp_proto::Config,
    /// Serve clients from other hosts too (IPC.md "Access").
    pub allow_remote_clients: bool,
    /// Which client addresses count as this host's (IPC.md "Access"): by default loopback and
    /// the addresses of this host's interfaces. Tests substitute their own to play a client
    /// from another host, which a single machine cannot otherwise produce.
    pub is_local_client: fn(IpAddr) -> bool,
    /// Where the message store lives (`--state-dir`); `None`: in memory, so nothing
    /// survives the process (tests, `simp --demo`).
    pub state_dir: Option<PathBuf>,
    /// Keep messages once confirmed or settled (`--no-history` turns it off: only the
    /// unconfirmed inbox and the unsent messages are kept).
    pub history: bool,
    /// How long a TCP client connection may take to send `connect` before it gives the one
    /// client slot up to the next client that wants it (IPC.md "Access"): a connection that
    /// never attaches must not hold the slot.
    pub connect_deadline: Duration,
    /// Announce the daemon on its own interface over mDNS (`--announce`, [`announce`]).
    pub announce: bool,
}

impl DaemonConfig {
    /// The defaults of IPC.md for a daemon on `ip`: ports 7777 and 7778, SPEC 2's timings.
    pub fn new(ip: IpAddr) -> DaemonConfig {
        DaemonConfig {
            ip,
            port: DEFAULT_PORT,
            client_port: DEFAULT_CLIENT_PORT,
            endpoint: simp_proto::Config::new(SocketAddr::new(ip, DEFAULT_PORT)),
            allow_remote_clients: false,
            is_local_client: access::is_local,
            state_dir: None,
            history: true,
            connect_deadline: DEFAULT_CONNECT_DEADLINE,
            announce: false,
        }
    }
}

/// Why the daemon could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The peer port could not be bound.
    #[error("cannot bind the peer port UDP {addr}: {source}; {}", bind_hint(source, "--port"))]
    BindUdp {
        /// The address asked for.
        addr: SocketAddr,
        /// The system's reason.
        source: io::Error,
    },
    /// The client port could not be bound.
    #[error("cannot bind the client port TCP {addr}: {source}; {}", bind_hint(source, "--client-port"))]
    BindClient {
        /// The address asked for.
        addr: SocketAddr,
        /// The system's reason.
        source: io::Error,
    },
    /// The client port's UDP side (the course's dialect) could not be bound.
    #[error(
        "cannot bind the client port UDP {addr} (the course's dialect): {source}; {}",
        bind_hint(source, "--client-port")
    )]
    BindCourse {
        /// The address asked for.
        addr: SocketAddr,
        /// The system's reason.
        source: io::Error,
    },
    /// A bound socket could not tell its own address (should not happen).
    #[error("cannot read the bound address of a socket: {0}")]
    LocalAddr(io::Error),
    /// The peer socket could not be registered with the runtime (should not happen).
    #[error("cannot watch the peer socket: {0}")]
    Register(io::Error),
    /// The message store cannot be opened.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// `--announce` cannot start.
    #[error(transparent)]
    Announce(#[from] announce::AnnounceError),
}

/// A daemon with its sockets bound, not yet running.
#[derive(Debug)]
pub struct Daemon {
    udp: UdpSocket,
    listener: TcpListener,
    /// The client port's UDP side: the course's dialect (IPC.md).
    course: UdpSocket,
    store: store::Store,
    config: DaemonConfig,
}

impl Daemon {
    /// Binds the UDP peer socket, and the client port on `config.ip` twice: TCP for JSON
    /// Lines, UDP for the course's dialect.
    ///
    /// Binding happens here, not in [`Daemon::run`], so callers learn the real ports (port 0)
    /// and a port in use is reported before anything else starts.
    pub async fn bind(mut config: DaemonConfig) -> Result<Daemon, DaemonError> {
        let udp_addr = SocketAddr::new(config.ip, config.port);
        let udp = UdpSocket::bind(udp_addr).await.map_err(|source| DaemonError::BindUdp { addr: udp_addr, source })?;
        let (listener, course) = bind_client_port(config.ip, config.client_port).await?;
        config.endpoint.local = udp.local_addr().map_err(DaemonError::LocalAddr)?;
        config.endpoint.client_port = Some(listener.local_addr().map_err(DaemonError::LocalAddr)?.port());
        let store = store::Store::open(config.state_dir.as_deref(), config.history)?;
        Ok(Daemon { udp, listener, course, store, config })
    }

    /// The bound daemon-to-daemon (UDP) address: what peers call.
    pub fn udp_addr(&self) -> SocketAddr {
        self.config.endpoint.local
    }

    /// The bound client address: TCP for JSON Lines, and the same address over UDP for the
    /// course's dialect.
    pub fn client_addr(&self) -> SocketAddr {
        // Checked readable in `bind`; the fallback only keeps this infallible.
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::new(self.config.ip, self.config.client_port))
    }

    /// Serves peers and clients until `shutdown` completes, then leaves any chat (FIN, waiting
    /// at most one `timeout` for the ACK) and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), DaemonError> {
        // Unconstrained: tokio's cooperative budget would otherwise make a busy loop yield
        // every few dozen turns through a self-wake (an eventfd write and an extra epoll_wait);
        // the loop returns to the runtime on its own whenever it has nothing to do, and once
        // after a long run of turns that all found work (a flood: `event_loop/turns.rs`).
        tokio::task::unconstrained(event_loop::run(
            self.udp,
            self.listener,
            self.course,
            self.store,
            self.config,
            shutdown,
        ))
        .await
    }
}

/// [`Daemon::bind`] then [`Daemon::run`], for callers that need not know the bound addresses.
pub async fn run(config: DaemonConfig, shutdown: impl Future<Output = ()>) -> Result<(), DaemonError> {
    Daemon::bind(config).await?.run(shutdown).await
}

/// How many times a free client port (port 0) is looked for: the kernel picks a TCP port that
/// is free, and another program may hold the same number over UDP.
/// How long a client connection has to send `connect` (IPC.md "Access").
pub const DEFAULT_CONNECT_DEADLINE: Duration = Duration::from_secs(5);

const CLIENT_PORT_TRIES: usize = 20;

/// The client port, TCP then UDP on the same number (IPC.md: one port, both transports).
async fn bind_client_port(ip: IpAddr, port: u16) -> Result<(TcpListener, UdpSocket), DaemonError> {
    let mut tries = 0;
    loop {
        let client_addr = SocketAddr::new(ip, port);
        let listener = TcpListener::bind(client_addr)
            .await
            .map_err(|source| DaemonError::BindClient { addr: client_addr, source })?;
        let bound = listener.local_addr().map_err(DaemonError::LocalAddr)?;
        match UdpSocket::bind(bound).await {
            Ok(course) => return Ok((listener, course)),
            Err(source) if port == 0 && source.kind() == io::ErrorKind::AddrInUse && tries < CLIENT_PORT_TRIES => {
                tracing::debug!(%bound, "UDP side of the picked client port is taken; picking another");
                tries += 1;
            }
            Err(source) => return Err(DaemonError::BindCourse { addr: bound, source }),
        }
    }
}

/// What a user can do about a failed bind.
fn bind_hint(error: &io::Error, option: &str) -> String {
    match error.kind() {
        io::ErrorKind::AddrInUse => {
            format!(
                "the address is already in use, probably by another simpd; stop it, or pick another port with {option}"
            )
        }
        io::ErrorKind::AddrNotAvailable => {
            "that IP is not an address of this host; give one of its addresses, or 127.0.0.1".to_string()
        }
        io::ErrorKind::PermissionDenied => {
            format!("ports below 1024 need privileges; pick a higher port with {option}")
        }
        _ => format!("check the IP argument and {option}"),
    }
}
