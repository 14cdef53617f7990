//! `simp --lan` and `/lan`: the daemons that announce themselves on the LAN (`simpd --announce`, issue
//! 13 "Who is on the LAN"), found over mDNS/DNS-SD on the interface that holds the daemon's
//! own address, never on the others (the rule of `simpd::announce`).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use mdns_sd::ServiceEvent;
use simp_proto::ipc::DEFAULT_PORT;
use simpd::announce::{own_interface_only, AnnounceError, SERVICE_TYPE, USER_KEY};

/// How long `simp --lan` listens for answers: daemons answer a query within a second or so.
pub const WAIT: Duration = Duration::from_secs(3);

/// One daemon seen on the LAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanDaemon {
    /// Its peer address: what `simp`'s call takes.
    pub addr: SocketAddr,
    /// The user attached to it, if any.
    pub user: Option<String>,
}

/// Why the LAN cannot be listed. The user asked to look, not to announce, so the messages say
/// what to do in `simp`'s words rather than in `simpd --announce`'s.
#[derive(Debug, thiserror::Error)]
pub enum LanError {
    /// No interface holds the daemon's address as its own (a loopback address other than
    /// 127.0.0.1, say), or it is 0.0.0.0, which stands for all of them.
    #[error(
        "{0} is not the address of one network interface (a loopback address such as 127.0.90.1 only \
         lies inside lo's 127.0.0.0/8), and simp looks for daemons only on the interface of its \
         daemon's address. Use the LAN from daemons on LAN addresses: `simpd 192.168.1.10 \
         --announce` on each machine (that is what lets others see it), then `simp 192.168.1.10` and \
         /lan, or `simp 192.168.1.10 --lan`"
    )]
    NoInterface(IpAddr),
    /// The interfaces could not be listed.
    #[error("cannot list this host's network interfaces: {0}")]
    Interfaces(std::io::Error),
    /// The mDNS querier failed.
    #[error("mDNS failed: {0}")]
    Mdns(mdns_sd::Error),
}

impl From<AnnounceError> for LanError {
    fn from(err: AnnounceError) -> LanError {
        match err {
            AnnounceError::Unspecified(ip) | AnnounceError::NoInterface(ip) => LanError::NoInterface(ip),
            AnnounceError::Interfaces(err) => LanError::Interfaces(err),
            AnnounceError::Mdns(err) => LanError::Mdns(err),
        }
    }
}

/// Browses for `wait` on the interface holding `own_ip`; the daemons seen, by address.
/// Blocking (the crate runs its own thread): call it off the async runtime.
pub fn browse(own_ip: IpAddr, wait: Duration) -> Result<Vec<LanDaemon>, LanError> {
    let mdns = own_interface_only(own_ip)?;
    let events = mdns.browse(SERVICE_TYPE).map_err(LanError::Mdns)?;
    let deadline = Instant::now() + wait;
    let mut seen: Vec<LanDaemon> = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(event) = events.recv_timeout(left) else { break };
        if let ServiceEvent::ServiceResolved(service) = event {
            let user = service.get_property_val_str(USER_KEY).map(str::to_owned);
            for ip in service.get_addresses() {
                let found =
                    LanDaemon { addr: SocketAddr::new(ip.to_ip_addr(), service.get_port()), user: user.clone() };
                seen.retain(|d| d.addr != found.addr);
                seen.push(found);
            }
        }
    }
    let _ = mdns.shutdown();
    seen.sort_by_key(|d| d.addr);
    Ok(seen)
}

/// One line per daemon, as `simp --lan` prints them: the address to call, then who is there.
pub fn listing(daemons: &[LanDaemon]) -> String {
    if daemons.is_empty() {
        return format!("{}\n", crate::texts::LAN_NONE);
    }
    daemons
        .iter()
        .map(|d| match &d.user {
            Some(user) => format!("{}\t{}\n", call_address(d), crate::escape::field(user)),
            None => format!("{}\t{}\n", call_address(d), crate::texts::LAN_NO_CLIENT),
        })
        .collect()
}

/// The address as a call takes it: the IP alone on the default peer port.
pub fn call_address(daemon: &LanDaemon) -> String {
    let addr = daemon.addr;
    if addr.port() == DEFAULT_PORT {
        addr.ip().to_string()
    } else {
        addr.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_no_interface_holds_is_explained_in_the_users_words() {
        // 127.0.90.1 lies in lo's /8 but is no interface's own address (the tmux trial's setup).
        let err = browse("127.0.90.1".parse().unwrap(), Duration::from_millis(10)).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, LanError::NoInterface(_)), "{text}");
        assert!(!text.starts_with("--announce"), "{text}");
        assert!(text.contains("simpd 192.168.1.10 --announce") && text.contains("simp 192.168.1.10 --lan"), "{text}");
        let everywhere = browse("0.0.0.0".parse().unwrap(), Duration::from_millis(10)).unwrap_err();
        assert!(matches!(everywhere, LanError::NoInterface(_)), "{everywhere}");
    }
}
