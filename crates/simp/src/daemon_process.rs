//! How the daemon this client talks to was started, for the line saying it is gone: the
//! command that starts it again must carry its flags, `--state-dir` above all (started
//! without it, simpd opens another store and the messages it kept stay behind).
//!
//! The client learns it once, on connecting, from Linux's procfs: the daemon's end of the
//! connection is a socket in `/proc/net/tcp` (or `tcp6`) whose local address is the daemon's
//! and remote address ours; the process holding that socket's inode among its descriptors
//! is the daemon, `/proc/PID/cmdline` its command line and `/proc/PID/cwd` its directory.
//! Procfs shows only the descriptors of the user's own processes, so a daemon of another user
//! (a system service) is not found: then, as off Linux, the command is `simpd IP`
//! ([`conn::start_command`]). So is a daemon inside another program (a test, `simp --demo`):
//! only a program named `simpd` is started again by its command line. A daemon inside this
//! very process (`simp --daemon`) has no command line of its own either.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::conn;

/// The command that starts the daemon at `daemon` again: its own command line when found,
/// else `simpd IP`. `local` is this client's end of the connection.
pub fn restart_command(daemon: SocketAddr, local: Option<SocketAddr>) -> String {
    let here = std::env::current_dir().ok();
    local
        .and_then(|local| process(daemon, local))
        .and_then(|(args, cwd)| as_restart(&args, cwd.as_deref(), here.as_deref()))
        .unwrap_or_else(|| conn::start_command(daemon))
}

/// A command line as the command that starts it again, quoted for a shell, if it is simpd's.
/// It was typed in the daemon's directory `cwd`: a relative program path or `--state-dir`
/// names something else from the client's (`here`), where a restart would open another store,
/// so then the command goes there first (`cd DIR && …`).
fn as_restart(args: &[String], cwd: Option<&Path>, here: Option<&Path>) -> Option<String> {
    let program = Path::new(args.first()?).file_name()?;
    if program != "simpd" {
        return None;
    }
    let command = args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ");
    match cwd {
        Some(cwd) if has_relative_path(args) && here != Some(cwd) => {
            Some(format!("cd {} && {command}", quote(&cwd.to_string_lossy())))
        }
        _ => Some(command),
    }
}

/// Whether simpd's command line names a file relative to its directory: the program (when
/// given with a `/`, not looked up in `PATH`) or the state directory.
fn has_relative_path(args: &[String]) -> bool {
    let relative = |arg: &str| Path::new(arg).is_relative();
    let program = args.first().is_some_and(|p| p.contains('/') && relative(p));
    let state_dir = args.windows(2).any(|w| w[0] == STATE_DIR && relative(&w[1]))
        || args.iter().any(|a| a.strip_prefix(STATE_DIR).and_then(|v| v.strip_prefix('=')).is_some_and(relative));
    program || state_dir
}

/// simpd's option naming its store's directory.
const STATE_DIR: &str = "--state-dir";

/// The command line of the process holding the daemon's end of the connection `local` ↔
/// `daemon`, one string per argument.
pub fn command_line(daemon: SocketAddr, local: SocketAddr) -> Option<Vec<String>> {
    process(daemon, local).map(|(args, _)| args)
}

/// The command line and working directory of the process holding the daemon's end of the
/// connection `local` ↔ `daemon`.
fn process(daemon: SocketAddr, local: SocketAddr) -> Option<(Vec<String>, Option<PathBuf>)> {
    let table = if daemon.is_ipv4() { "/proc/net/tcp" } else { "/proc/net/tcp6" };
    let inode = fs::read_to_string(table).ok()?.lines().find_map(|line| socket_inode(line, daemon, local))?;
    let wanted = format!("socket:[{inode}]");
    let me = std::process::id().to_string();
    let pid = fs::read_dir("/proc").ok()?.filter_map(Result::ok).find_map(|entry| {
        let pid = entry.file_name().into_string().ok()?;
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            return None;
        }
        let fds = fs::read_dir(entry.path().join("fd")).ok()?;
        fds.filter_map(Result::ok)
            .any(|fd| fs::read_link(fd.path()).is_ok_and(|link| link.as_os_str() == wanted.as_str()))
            .then_some(pid)
    })?;
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> =
        raw.split(|&b| b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    let cwd = fs::read_link(format!("/proc/{pid}/cwd")).ok();
    (!args.is_empty()).then_some((args, cwd))
}

/// The inode of the socket on one line of `/proc/net/tcp{,6}` if it is the daemon's end of
/// the connection: local address `daemon`, remote `local`.
fn socket_inode(line: &str, daemon: SocketAddr, local: SocketAddr) -> Option<u64> {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (ours, theirs, inode) = (fields.get(1)?, fields.get(2)?, fields.get(9)?);
    (parse_address(ours)? == daemon && parse_address(theirs)? == local).then(|| inode.parse().ok())?
}

/// An address as procfs prints it: the IP as 32-bit words in hex, each in the machine's byte
/// order, then `:` and the port in hex.
fn parse_address(text: &str) -> Option<SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for word in ip.as_bytes().chunks(8) {
        let word = u32::from_str_radix(std::str::from_utf8(word).ok()?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
        16 => {
            let octets: [u8; 16] = bytes.try_into().ok()?;
            let v6 = Ipv6Addr::from(octets);
            // A v4 client of a dual-stack socket shows as ::ffff:a.b.c.d.
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// One argument as a shell reads it back: as is when it is plain, else in single quotes.
fn quote(arg: &str) -> String {
    let plain = arg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemons_end_of_the_connection_is_found_in_procfs_lines() {
        let word = |ip: [u8; 4]| format!("{:08X}", u32::from_ne_bytes(ip));
        let (d, c) = (word([127, 0, 90, 1]), word([127, 0, 0, 1]));
        let daemon: SocketAddr = "127.0.90.1:7778".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let theirs =
            format!("   3: {d}:1E62 {c}:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 424242 1");
        let ours = format!("   4: {c}:9C40 {d}:1E62 01 00000000:00000000 00:00000000 00000000  1000        0 515151 1");
        assert_eq!(socket_inode(&theirs, daemon, local), Some(424_242));
        assert_eq!(socket_inode(&ours, daemon, local), None, "our own end is not the daemon's");
        assert_eq!(socket_inode("  sl  local_address rem_address", daemon, local), None);
        let v6 = format!("0000000000000000FFFF0000{}:1E62", word([127, 0, 90, 1]));
        assert_eq!(parse_address(&v6), Some(daemon));
        assert_eq!(parse_address("zz:1E62"), None);
    }

    #[test]
    fn only_simpd_is_started_again_by_its_command_line() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let restart = |a: &[&str]| as_restart(&args(a), None, None);
        assert_eq!(
            restart(&["/usr/bin/simpd", "127.0.90.1", "--state-dir", "/tmp/a b"]).as_deref(),
            Some("/usr/bin/simpd 127.0.90.1 --state-dir '/tmp/a b'")
        );
        assert_eq!(restart(&["simpd"]).as_deref(), Some("simpd"));
        assert_eq!(restart(&["/work/target/debug/deps/plain-1234", "--exact"]), None);
        assert_eq!(restart(&["simp", "--daemon"]), None);
    }

    #[test]
    fn relative_paths_are_given_from_the_daemons_directory() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let (there, here) = (Path::new("/home/bob/chat"), Path::new("/home/bob"));
        let restart = |a: &[&str], here: &Path| as_restart(&args(a), Some(there), Some(here));
        // Typed elsewhere, these would start another program or open another store.
        assert_eq!(
            restart(&["target/debug/simpd", "127.0.90.1"], here).as_deref(),
            Some("cd /home/bob/chat && target/debug/simpd 127.0.90.1")
        );
        assert_eq!(
            restart(&["simpd", "127.0.90.1", "--state-dir", "state"], here).as_deref(),
            Some("cd /home/bob/chat && simpd 127.0.90.1 --state-dir state")
        );
        assert_eq!(
            restart(&["simpd", "--state-dir=st"], here).as_deref(),
            Some("cd /home/bob/chat && simpd --state-dir=st")
        );
        // Nothing relative, or the same directory: the command as it was.
        assert_eq!(
            restart(&["simpd", "127.0.90.1", "--state-dir", "/s"], here).as_deref(),
            Some("simpd 127.0.90.1 --state-dir /s")
        );
        assert_eq!(restart(&["./simpd", "127.0.90.1"], there).as_deref(), Some("./simpd 127.0.90.1"));
    }

    #[test]
    fn arguments_are_quoted_for_a_shell() {
        assert_eq!(quote("--state-dir"), "--state-dir");
        assert_eq!(quote("/tmp/my state"), "'/tmp/my state'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }

    #[tokio::test]
    async fn a_daemon_in_this_process_or_none_falls_back_to_simpd_ip() {
        // The listener is this process's own: no command line of its own to give.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let daemon = listener.local_addr().unwrap();
        let (_reader, writer) = conn::connect(daemon).await.unwrap();
        let expected = format!("simpd 127.0.0.1 --client-port {}", daemon.port());
        assert_eq!(restart_command(daemon, writer.local_addr().ok()), expected);
        assert_eq!(restart_command(daemon, None), expected);
    }
}
