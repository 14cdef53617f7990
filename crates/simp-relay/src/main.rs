//! `simp-relay`: run the impairment relay by hand, e.g. between two `simpd` on loopback.
//!
//! ```text
//! simpd 127.0.0.2 --timeout 50ms &
//! simp-relay --listen 127.0.0.50:7777 --back 127.0.0.51:0 --target 127.0.0.2:7777 --loss 20 --dup 5 --seed 7 &
//! simpd 127.0.0.1 --timeout 50ms &    # then in simp: start 127.0.0.50
//! ```
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use simp_relay::{Impairment, Relay};

/// A seeded UDP impairment relay for testing SIMP daemons.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address the calling daemon sends to (it calls this address).
    #[arg(long)]
    listen: SocketAddr,
    /// Address the relay sends from towards the target (port 0: any).
    #[arg(long, default_value = "127.0.0.1:0")]
    back: SocketAddr,
    /// The daemon being called.
    #[arg(long)]
    target: SocketAddr,
    /// Loss, in percent.
    #[arg(long, default_value_t = 0.0, value_parser = percent)]
    loss: f64,
    /// Duplication, in percent.
    #[arg(long, default_value_t = 0.0, value_parser = percent)]
    dup: f64,
    /// Fixed delay in milliseconds.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Random extra delay, up to this many milliseconds.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Let datagrams overtake each other within the jitter window.
    #[arg(long)]
    reorder: bool,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn percent(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{s:?} is not a number: {e}"))?;
    if (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not a percentage between 0 and 100"))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let impairment = Impairment {
        loss: args.loss / 100.0,
        duplicate: args.dup / 100.0,
        delay: Duration::from_millis(args.delay_ms),
        jitter: Duration::from_millis(args.jitter_ms),
        reorder: args.reorder,
        seed: args.seed,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("simp-relay: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let relay = match Relay::bind(args.listen, args.back, args.target, impairment).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("simp-relay: {e}");
                return ExitCode::FAILURE;
            }
        };
        eprintln!("simp-relay: {} -> {} (from {}), {impairment:?}", relay.front_addr(), args.target, relay.back_addr());
        let stats = relay.stats();
        relay.run(async { _ = tokio::signal::ctrl_c().await }).await;
        let (received, dropped, duplicated, forwarded) = stats.snapshot();
        eprintln!("simp-relay: received {received}, dropped {dropped}, duplicated {duplicated}, forwarded {forwarded}");
        ExitCode::SUCCESS
    })
}
