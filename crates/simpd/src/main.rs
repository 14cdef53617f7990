//! The `simpd` binary: flags ([`simpd::cli`]), logging, signals and service readiness; nothing
//! else.
#![forbid(unsafe_code)]

mod log_time;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use simpd::cli::Args;
use simpd::Daemon;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_timer(log_time::UtcMicros)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    raise_descriptor_limit();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("simpd: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let daemon = match Daemon::bind(args.config()).await {
            Ok(daemon) => daemon,
            Err(error) => {
                eprintln!("simpd: {error}");
                return ExitCode::FAILURE;
            }
        };
        notify_ready(&daemon);
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

/// Raises the soft limit on open descriptors to the hard one. The soft limit is often 1,024,
/// and a flood of local connections (each refused one is closed gracefully, which takes a
/// moment) could exhaust it and keep the user's own client out; the hard limit is what the
/// administrator allows (`LimitNOFILE=` in contrib/simpd.service). Raising it needs no
/// privilege; failing to is logged, and simpd runs with what it has.
fn raise_descriptor_limit() {
    #[cfg(unix)]
    {
        use rlimit::Resource;
        match Resource::NOFILE.get() {
            Ok((soft, hard)) if soft < hard => match Resource::NOFILE.set(hard, hard) {
                Ok(()) => tracing::debug!(from = soft, to = hard, "raised the soft limit on open descriptors"),
                Err(error) => tracing::warn!(%error, soft, hard, "cannot raise the soft limit on open descriptors"),
            },
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot read the limit on open descriptors"),
        }
    }
}

/// Tells systemd (a `Type=notify` unit, `contrib/simpd.service`) that every port is bound, so
/// units ordered after simpd start only once it can be reached. Nothing happens when
/// `NOTIFY_SOCKET` is unset, i.e. outside systemd.
fn notify_ready(daemon: &Daemon) {
    #[cfg(unix)]
    {
        use sd_notify::NotifyState;
        let status = format!("peers on UDP {}, clients on {} (TCP and UDP)", daemon.udp_addr(), daemon.client_addr());
        if let Err(error) = sd_notify::notify(&[NotifyState::Ready, NotifyState::Status(&status)]) {
            tracing::warn!(%error, "cannot tell the service manager that simpd is ready (NOTIFY_SOCKET)");
        }
    }
    #[cfg(not(unix))]
    let _ = daemon;
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
