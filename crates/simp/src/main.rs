//! `simp [OPTIONS] [DAEMON_IP]`: the SIMP chat client. See the library docs for the flow and
//! plain mode's output; this file only reads flags ([`simp::cli`]) and the config file, and
//! picks what to run.
#![forbid(unsafe_code)]

use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::Parser;
use simp::cli::{self, Args};
use simp::{config, Setup};

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let full_screen = !args.plain && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let result = if args.demo {
        simp::demo::run(
            full_screen,
            !args.demo_any_port,
            Setup { quiet: args.quiet, utf8: args.utf8, ..Setup::default() },
        )
        .await
    } else {
        match load_config(&args) {
            Ok((path, file)) => match &args.command {
                Some(cli::Subcommand::Status { daemon_ip, daemon }) => status(*daemon_ip, daemon, &file).await,
                Some(cli::Subcommand::History(opts)) => history(opts, &file).await,
                None if args.lan => lan(&args, &file).await,
                None => session(&args, path, file, full_screen).await,
            },
            Err(msg) => Err(msg),
        }
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

/// The config file (`--config`, else the XDG one) and what it says; without a home
/// directory there is no default file, and simp runs without one.
fn load_config(args: &Args) -> Result<(Option<PathBuf>, config::Config), String> {
    let path = args.config.clone().or_else(|| config::default_path().ok());
    let file = match &path {
        Some(path) => config::load(path).map_err(|e| e.to_string())?,
        None => config::Config::default(),
    };
    Ok((path, file))
}

/// The config file's daemon IP, if it names one.
fn configured_ip(file: &config::Config) -> Result<Option<IpAddr>, String> {
    file.daemon.as_deref().map(cli::parse_ip).transpose().map_err(|e| format!("config file: daemon: {e}"))
}

/// Runs the chat session the flags and the config file describe.
async fn session(args: &Args, path: Option<PathBuf>, file: config::Config, full_screen: bool) -> Result<(), String> {
    let addr = args.daemon_addr(configured_ip(&file)?);
    let user = args.user.clone().or(file.user);
    let setup = Setup { contacts: file.contacts, config_path: path, quiet: args.quiet, utf8: args.utf8 };
    // Asked only where someone can answer: stdin and stderr on a terminal.
    let can_ask = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let start_daemon = |addr| args.start_daemon || (can_ask && ask_to_start(addr));
    simp::run(addr, user.as_deref(), &setup, full_screen, start_daemon).await.map_err(|e| e.to_string())
}

/// `simp --lan`: lists the daemons seen on the interface holding the daemon's IP.
async fn lan(args: &Args, file: &config::Config) -> Result<(), String> {
    let ip = args.daemon_addr(configured_ip(file)?).ip();
    let seen = tokio::task::spawn_blocking(move || simp::lan::browse(ip, simp::lan::WAIT))
        .await
        .map_err(|e| format!("the LAN listing stopped: {e}"))?
        .map_err(|e| e.to_string())?;
    print!("{}", simp::lan::listing(&seen));
    Ok(())
}

/// Asks on the terminal whether to start a daemon for this session; Enter means yes.
fn ask_to_start(addr: SocketAddr) -> bool {
    eprint!("{}", simp::texts::offer_daemon(addr));
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim(), "" | "y" | "Y" | "yes")
}

/// `simp history`: one line per stored message on stdout.
async fn history(opts: &cli::HistoryArgs, file: &config::Config) -> Result<(), String> {
    let addr = opts.daemon.addr(None, configured_ip(file)?);
    let query = simp::history_cmd::Query { addr, peer: opts.peer.clone(), limit: opts.limit };
    let entries = simp::history_cmd::fetch(&query, &file.contacts).await.map_err(|e| e.to_string())?;
    if entries.is_empty() && !opts.json {
        // Said on stderr, so a script reading stdout sees nothing: the user may have named
        // the daemon as PEER.
        eprintln!("simp: {}", simp::history_cmd::nothing_stored(&query));
    }
    let mut out = std::io::stdout().lock();
    for entry in &entries {
        let line = if opts.json {
            serde_json::to_string(&simp_proto::ipc::Event::History(entry.clone())).map_err(|e| e.to_string())?
        } else {
            simp::history_cmd::line(entry, &file.contacts)
        };
        // A closed pipe (`| head`) ends the listing quietly.
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
    Ok(())
}

/// `simp status`: one line on stdout.
async fn status(ip: Option<IpAddr>, daemon: &cli::DaemonArgs, file: &config::Config) -> Result<(), String> {
    let addr = daemon.addr(ip, configured_ip(file)?);
    let line = simp::status(addr).await.map_err(|e| e.to_string())?;
    println!("{line}");
    Ok(())
}
