//! Generated documentation: manual pages and shell completions for `simpd` and `simp`, made
//! from their clap definitions (`simpd::cli`, `simp::cli`) so they cannot drift from the flags
//! the binaries really take.
//!
//! `cargo run -p xtask -- gen-docs` writes them; the test `generated_docs_are_current`
//! regenerates them in memory and fails, naming that command, when a checked-in file differs.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::io;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;
use roff::{bold, roman, Roff};

pub mod suite;

/// The command that regenerates every file of [`generate`].
pub const GEN_DOCS: &str = "cargo run -p xtask -- gen-docs";

/// Every generated file: its path relative to the repository root, and its contents.
pub fn generate() -> io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let programs = [
        (simpd::cli::Args::command(), simpd::cli::MAN_SECTIONS),
        (simp::cli::Args::command(), simp::cli::MAN_SECTIONS),
    ];
    let mut files = Vec::new();
    for (command, sections) in programs {
        let name = command.get_name().to_owned();
        files.push((PathBuf::from(format!("docs/man/{name}.1")), man_page(command.clone(), sections)?));
        for (shell, extension) in [(Shell::Bash, "bash"), (Shell::Zsh, "zsh"), (Shell::Fish, "fish")] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut without_hidden(&command), name.clone(), &mut out);
            files.push((PathBuf::from(format!("contrib/completions/{name}.{extension}")), out));
        }
    }
    Ok(files)
}

/// The command as completions see it: clap_complete lists hidden flags too (`--demo-any-port`
/// is for tests only), so they are left out of a copy.
fn without_hidden(command: &clap::Command) -> clap::Command {
    let visible = command.get_arguments().filter(|a| !a.is_hide_set()).cloned();
    let mut copy =
        clap::Command::new(command.get_name().to_owned()).args(visible).subcommands(command.get_subcommands().cloned());
    if let Some(version) = command.get_version() {
        copy = copy.version(version.to_owned());
    }
    if let Some(about) = command.get_about() {
        copy = copy.about(about.clone());
    }
    copy
}

/// Writes every generated file under `root`.
pub fn write_all(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (path, contents) in generate()? {
        let full = root.join(&path);
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&full, contents)?;
        written.push(path);
    }
    Ok(written)
}

/// The repository root (this crate is `crates/xtask`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// clap_mangen's page (title, NAME, SYNOPSIS, DESCRIPTION, OPTIONS with defaults), then the
/// program's own sections (EXIT STATUS, EXAMPLES, …), then VERSION.
///
/// The title carries no date, so the page only changes when the definition does.
fn man_page(command: clap::Command, sections: &[(&str, &[&str])]) -> io::Result<Vec<u8>> {
    let man =
        clap_mangen::Man::new(command).manual("simp manual").source(format!("simp {}", env!("CARGO_PKG_VERSION")));
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    let mut roff = Roff::default();
    for (title, paragraphs) in sections {
        roff.control("SH", [*title]);
        for (i, paragraph) in paragraphs.iter().enumerate() {
            if i > 0 {
                roff.control("PP", []);
            }
            match paragraph.strip_prefix("$ ") {
                Some(command_line) => {
                    roff.control("RS", [])
                        .control("nf", [])
                        .text([bold(command_line)])
                        .control("fi", [])
                        .control("RE", []);
                }
                None => {
                    roff.text([roman(*paragraph)]);
                }
            }
        }
    }
    roff.to_writer(&mut out)?;
    man.render_version_section(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_docs_are_current() {
        let root = repo_root();
        let mut stale = Vec::new();
        for (path, contents) in generate().expect("the docs render") {
            match std::fs::read(root.join(&path)) {
                Ok(on_disk) if on_disk == contents => {}
                Ok(_) => stale.push(format!("{} differs", path.display())),
                Err(error) => stale.push(format!("{} cannot be read ({error})", path.display())),
            }
        }
        assert!(
            stale.is_empty(),
            "generated documentation is out of date: {}; run `{GEN_DOCS}` and commit the result",
            stale.join(", ")
        );
    }

    #[test]
    fn man_pages_say_what_a_user_needs() {
        let files = generate().expect("the docs render");
        let page = |name: &str| {
            let (_, contents) =
                files.iter().find(|(p, _)| p.ends_with(format!("{name}.1"))).expect("a page for each binary");
            String::from_utf8(contents.clone()).expect("roff is text")
        };
        let simpd = page("simpd");
        for needle in ["EXIT STATUS", "EXAMPLES", "\\-\\-client\\-port", "7778", "\\-\\-auto\\-accept", "NOTIFY_SOCKET"]
        {
            assert!(simpd.contains(needle), "simpd.1 lacks {needle:?}");
        }
        let simp = page("simp");
        for needle in ["EXIT STATUS", "EXAMPLES", "\\-\\-plain", "\\-\\-demo"] {
            assert!(simp.contains(needle), "simp.1 lacks {needle:?}");
        }
        assert!(!simp.contains("demo\\-any\\-port"), "hidden flags stay out of the page");
        for (path, contents) in generate().unwrap() {
            let text = String::from_utf8_lossy(&contents);
            assert!(!text.contains("demo-any-port"), "hidden flags stay out of {}", path.display());
        }
    }
}
