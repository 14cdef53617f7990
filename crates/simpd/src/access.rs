//! Who may be a client (IPC.md "Access"): by default only this host.
//!
//! The client port controls the user's identity and chats, so a daemon bound to a LAN address
//! must not be drivable from other machines unless the user asks for it
//! (`--allow-remote-clients`).

use std::net::IpAddr;

/// Whether `ip` is this host: any loopback address (127.0.0.0/8, ::1, also IPv4-mapped), or an
/// address of one of its interfaces.
pub fn is_local(ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    if ip.is_loopback() {
        return true;
    }
    match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces.iter().any(|i| i.ip() == ip),
        Err(error) => {
            // Fail closed: refusing a local client is an inconvenience, serving a remote one
            // is a hole.
            tracing::warn!(%error, "cannot list this host's interfaces; serving loopback clients only");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_local_and_documentation_addresses_are_not() {
        assert!(is_local("127.0.0.1".parse().unwrap()));
        assert!(is_local("127.45.6.7".parse().unwrap()));
        assert!(is_local("::1".parse().unwrap()));
        assert!(is_local("::ffff:127.0.0.9".parse().unwrap()));
        assert!(!is_local("192.0.2.1".parse().unwrap()));
        assert!(!is_local("2001:db8::1".parse().unwrap()));
    }
}
