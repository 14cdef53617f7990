//! Who may be a client (IPC.md "Access"): by default only this host.
//!
//! The client port controls the user's identity and chats, so a daemon bound to a LAN address
//! must not be drivable from other machines unless the user asks for it
//! (`--allow-remote-clients`). One [`ClientPolicy`] answers for both transports of the client
//! port: TCP (JSON Lines) and UDP (the course's dialect).

use std::net::IpAddr;

/// Which clients the daemon serves, on either transport of the client port.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientPolicy {
    /// Serve clients from other hosts too (`--allow-remote-clients`).
    allow_remote: bool,
    /// Which addresses count as this host's: [`is_local`], or a test's stand-in.
    is_local: fn(IpAddr) -> bool,
}

impl ClientPolicy {
    pub(crate) fn new(allow_remote: bool, is_local: fn(IpAddr) -> bool) -> ClientPolicy {
        ClientPolicy { allow_remote, is_local }
    }

    /// Whether a client at `ip` may drive this daemon. Local addresses are only looked up
    /// when remote clients are refused (the lookup lists the host's interfaces).
    pub(crate) fn allows(&self, ip: IpAddr) -> bool {
        self.allow_remote || (self.is_local)(ip)
    }
}

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

    #[test]
    fn the_policy_refuses_remote_clients_unless_allowed() {
        fn only_loopback(ip: IpAddr) -> bool {
            ip.is_loopback()
        }
        let (local, remote) = ("127.0.0.1".parse().unwrap(), "192.0.2.1".parse().unwrap());
        let strict = ClientPolicy::new(false, only_loopback);
        assert!(strict.allows(local) && !strict.allows(remote));
        let open = ClientPolicy::new(true, only_loopback);
        assert!(open.allows(local) && open.allows(remote));
    }
}
