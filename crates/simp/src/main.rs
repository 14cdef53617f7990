//! `simp [OPTIONS] [DAEMON_IP]`: the SIMP chat client. See the library docs for the flow and
//! plain mode's output; this file only reads flags ([`simp::cli`]) and picks the front end.
#![forbid(unsafe_code)]

use std::io::IsTerminal;

use clap::Parser;
use simp::cli::Args;

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let full_screen = !args.plain && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let result = if args.demo {
        simp::demo::run(full_screen, !args.demo_any_port).await
    } else {
        simp::run(args.daemon_addr(), args.user.as_deref(), full_screen).await.map_err(|e| e.to_string())
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
