//! `cargo xtask test` and `cargo xtask gen-docs` (the alias is in `.cargo/config.toml`):
//! repository chores that are code, not shell scripts.
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["gen-docs"] => match xtask::write_all(&xtask::repo_root()) {
            Ok(written) => {
                for path in written {
                    println!("wrote {}", path.display());
                }
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("xtask: cannot write the generated docs: {error}");
                ExitCode::FAILURE
            }
        },
        ["test"] => match xtask::suite::run(&xtask::repo_root()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("xtask: {error}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!(
                "usage: cargo xtask test | gen-docs\n  \
                 test      the whole test suite (fmt, clippy, nextest), installing tshark/systemd if missing\n  \
                 gen-docs  write docs/man/*.1 and contrib/completions/* from the clap definitions"
            );
            ExitCode::from(2)
        }
    }
}
