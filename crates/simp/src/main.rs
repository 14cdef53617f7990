//! `simp [OPTIONS] [DAEMON_IP]`: the SIMP chat client. See the library docs for the flow and
//! plain mode's output; this file only reads flags ([`simp::cli`]) and picks the front end.
#![forbid(unsafe_code)]

use std::io::IsTerminal;

use clap::Parser;
use simp::cli::{self, Args};
use simp::{config, Setup};

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let full_screen = !args.plain && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let result = if args.demo {
        simp::demo::run(full_screen, !args.demo_any_port, args.quiet).await
    } else {
        session(&args, full_screen).await
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

/// Reads the config file, then runs the session it and the flags describe.
async fn session(args: &Args, full_screen: bool) -> Result<(), String> {
    // Without a home directory there is no default file: run without one.
    let path = args.config.clone().or_else(|| config::default_path().ok());
    let file = match &path {
        Some(path) => config::load(path).map_err(|e| e.to_string())?,
        None => config::Config::default(),
    };
    let from_config =
        file.daemon.as_deref().map(cli::parse_ip).transpose().map_err(|e| format!("config file: daemon: {e}"))?;
    let user = args.user.as_deref().or(file.user.as_deref());
    let setup = Setup { contacts: file.contacts, config_path: path, quiet: args.quiet };
    simp::run(args.daemon_addr(from_config), user, &setup, full_screen).await.map_err(|e| e.to_string())
}
