//! Targets for the checker's own tests: the faulty peer, and real simpd in-process.
#![allow(dead_code)] // each test file uses a different part

pub mod faulty;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::thread;
use std::time::Duration;

use simp_check::case::Outcome;
use simp_check::{Drive, Report, Settings};
use simpd::{Daemon, DaemonConfig};
use tokio::sync::oneshot;

/// The RTO of every target in these tests, and what the checker is told.
pub const TIMEOUT: Duration = Duration::from_millis(200);

/// How long the checker waits for an answer due at once: generous on a loaded machine, and
/// short enough that a target which never answers is checked quickly.
pub const ANSWER: Duration = Duration::from_secs(1);

/// `127.net.0.host`.
pub fn ip(net: u8, host: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, net, 0, host))
}

/// simpd on its own thread and runtime, as a separate process would be; stopped on drop.
pub struct Simpd {
    pub udp: SocketAddr,
    pub client: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Simpd {
    /// simpd on `ip` with 200 ms timeouts and 5 retries, then `tweak`.
    pub fn start(ip: IpAddr, tweak: impl FnOnce(&mut DaemonConfig)) -> Simpd {
        let mut config = DaemonConfig::new(ip);
        config.port = 0;
        config.client_port = 0;
        config.endpoint.timeout = TIMEOUT;
        config.endpoint.retries = 5;
        tweak(&mut config);
        let (addrs_tx, addrs_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let daemon = Daemon::bind(config).await.expect("simpd binds");
                addrs_tx.send((daemon.udp_addr(), daemon.client_addr())).expect("test waits");
                daemon
                    .run(async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .expect("simpd runs");
            });
        });
        let (udp, client) = addrs_rx.recv_timeout(Duration::from_secs(10)).expect("simpd binds within 10 s");
        Simpd { udp, client, stop: Some(stop_tx), thread: Some(thread) }
    }
}

impl Drop for Simpd {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Settings for a target at `udp`/`client`, sending from `127.source.0.1` upwards.
pub fn settings(udp: SocketAddr, client: SocketAddr, drive: Drive, source: u8) -> Settings {
    let mut s = Settings::new(udp);
    s.client = client;
    s.timeout = TIMEOUT;
    s.drive = drive;
    s.source_base = Ipv4Addr::new(127, source, 0, 1);
    s.answer = Some(ANSWER);
    s
}

/// Runs the whole suite.
pub fn check(settings: &Settings) -> Report {
    simp_check::run(settings, &simp_check::cases::all(), false, &mut |_| {}).expect("the checker starts")
}

/// The ids of cases that failed or warned.
pub fn failed(report: &Report) -> Vec<&'static str> {
    report.results.iter().filter(|r| matches!(r.outcome, Outcome::Fail | Outcome::Warn)).map(|r| r.id).collect()
}

/// The full text report, for assertion messages.
pub fn text(report: &Report) -> String {
    simp_check::report::text(report, false)
}
