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

/// Why the LAN cannot be listed.
#[derive(Debug, thiserror::Error)]
pub enum LanError {
    /// The interface or the mDNS querier.
    #[error(transparent)]
    Mdns(#[from] AnnounceError),
}

/// Browses for `wait` on the interface holding `own_ip`; the daemons seen, by address.
/// Blocking (the crate runs its own thread): call it off the async runtime.
pub fn browse(own_ip: IpAddr, wait: Duration) -> Result<Vec<LanDaemon>, LanError> {
    let mdns = own_interface_only(own_ip)?;
    let events = mdns.browse(SERVICE_TYPE).map_err(AnnounceError::from)?;
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
