//! How the daemon this client talks to was started, for the line saying it is gone: the
//! command that starts it again must carry its flags, `--state-dir` above all (started
//! without it, simpd opens another store and the messages it kept stay behind).
//!
//! The client learns it once, on connecting, from Linux's procfs: the daemon's end of the
//! connection is a socket in `/proc/net/tcp` (or `tcp6`) whose local address is the daemon's
//! and remote address ours; the process holding that socket's inode among its descriptors
//! is the daemon, and `/proc/PID/cmdline` its command line. Procfs shows only the
//! descriptors of the user's own processes, so a daemon of another user (a system service)
//! is not found: then, as off Linux, the command is `simpd IP` ([`conn::start_command`]). So
//! is a daemon inside another program (a test, `simp --demo`): only a program named `simpd`
//! is started again by its command line. A daemon inside this very process (`simp --daemon`)
//! has no command line of its own either.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::conn;

/// The command that starts the daemon at `daemon` again: its own command line when found,
/// else `simpd IP`. `local` is this client's end of the connection.
pub fn restart_command(daemon: SocketAddr, local: Option<SocketAddr>) -> String {
    local
        .and_then(|local| command_line(daemon, local))
        .and_then(|args| as_restart(&args))
        .unwrap_or_else(|| conn::start_command(daemon))
}

/// A command line as the command that starts it again, quoted for a shell, if it is simpd's.
fn as_restart(args: &[String]) -> Option<String> {
    let program = std::path::Path::new(args.first()?).file_name()?;
    (program == "simpd").then(|| args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "))
}

/// The command line of the process holding the daemon's end of the connection `local` ↔
/// `daemon`, one string per argument.
pub fn command_line(daemon: SocketAddr, local: SocketAddr) -> Option<Vec<String>> {
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
    (!args.is_empty()).then_some(args)
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
        assert_eq!(
            as_restart(&args(&["/usr/bin/simpd", "127.0.90.1", "--state-dir", "/tmp/a b"])).as_deref(),
            Some("/usr/bin/simpd 127.0.90.1 --state-dir '/tmp/a b'")
        );
        assert_eq!(as_restart(&args(&["simpd"])).as_deref(), Some("simpd"));
        assert_eq!(as_restart(&args(&["/work/target/debug/deps/plain-1234", "--exact"])), None);
        assert_eq!(as_restart(&args(&["simp", "--daemon"])), None);
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
