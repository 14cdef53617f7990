//! `--announce`: the daemon says on its LAN that it is there, over mDNS/DNS-SD (RFC 6762,
//! RFC 6763), so that `simp --lan` can list it (issue 13, "Who is on the LAN").
//!
//! It runs beside the event loop, not in the protocol core: the loop only tells it who is
//! attached. What goes out: a `_simp._udp.local.` service named after the daemon's peer
//! address, pointing at that address and the peer port, with a TXT record `user=NAME` while a
//! client is attached (and no `user` while none is). mDNS traffic goes out **only on the
//! interface that holds the daemon's own address** (the crate's interface selection: all off,
//! then that address's interface on), never on all of them; an unspecified address (0.0.0.0,
//! ::) is refused, and a loopback address announces on loopback, which only this host sees.

use std::net::{IpAddr, SocketAddr};

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};
use tracing::{debug, info, warn};

/// The DNS-SD service type simp daemons announce and `simp --lan` browses.
pub const SERVICE_TYPE: &str = "_simp._udp.local.";

/// The TXT key holding the attached client's user name.
pub const USER_KEY: &str = "user";

/// Why `--announce` cannot start.
#[derive(Debug, thiserror::Error)]
pub enum AnnounceError {
    /// 0.0.0.0 or :: is every interface; announcing there would mean all of them.
    #[error(
        "--announce needs the address of one interface, and {0} stands for all of them; \
         give simpd this host's LAN address (e.g. simpd 192.168.1.10 --announce)"
    )]
    Unspecified(IpAddr),
    /// No interface holds the address itself (e.g. 127.0.0.2, which is only in lo's /8).
    #[error(
        "--announce: no interface holds {0} as its own address, so there is no interface to \
         announce on; give simpd an address shown by `ip addr`"
    )]
    NoInterface(IpAddr),
    /// The interfaces could not be listed.
    #[error("--announce: cannot list this host's interfaces: {0}")]
    Interfaces(std::io::Error),
    /// The mDNS responder failed.
    #[error("--announce: mDNS failed: {0}")]
    Mdns(#[from] mdns_sd::Error),
}

/// The running announcement; dropping it withdraws it (a goodbye, RFC 6762 10.1).
pub struct Announcer {
    mdns: ServiceDaemon,
    peer: SocketAddr,
    /// The user name now in the TXT record.
    announced: Option<String>,
}

impl Announcer {
    /// Starts announcing the daemon at `peer` (its bound peer address), with no user yet.
    pub fn start(peer: SocketAddr) -> Result<Announcer, AnnounceError> {
        let mdns = own_interface_only(peer.ip())?;
        let announcer = Announcer { mdns, peer, announced: None };
        announcer.mdns.register(announcer.service(None)?)?;
        info!(%peer, service = SERVICE_TYPE, "announcing this daemon on its own interface only (mDNS)");
        Ok(announcer)
    }

    /// Puts `user` (the attached client's name, or none) into the TXT record if it changed.
    pub fn set_user(&mut self, user: Option<&str>) {
        if self.announced.as_deref() == user {
            return;
        }
        self.announced = user.map(str::to_owned);
        match self.service(user).and_then(|service| Ok(self.mdns.register(service)?)) {
            Ok(()) => debug!(?user, "announced user changed"),
            Err(error) => warn!(%error, "cannot update the LAN announcement"),
        }
    }

    fn service(&self, user: Option<&str>) -> Result<ServiceInfo, AnnounceError> {
        let name = instance_name(self.peer);
        let host = format!("{name}.local.");
        let properties: Vec<(&str, &str)> = user.map(|u| (USER_KEY, u)).into_iter().collect();
        Ok(ServiceInfo::new(SERVICE_TYPE, &name, &host, self.peer.ip(), self.peer.port(), &properties[..])?)
    }
}

impl Drop for Announcer {
    fn drop(&mut self) {
        if let Err(error) = self.mdns.shutdown() {
            debug!(%error, "mDNS responder already stopped");
        }
    }
}

/// An mDNS responder that sends and listens only on the interface holding `ip` (the crate's
/// interface selection: all off, then that one on); shared with `simp --lan`, which browses
/// on its daemon's interface by the same rule.
pub fn own_interface_only(ip: IpAddr) -> Result<ServiceDaemon, AnnounceError> {
    check_interface(ip, &if_addrs::get_if_addrs().map_err(AnnounceError::Interfaces)?)?;
    if ip.is_loopback() {
        warn!(%ip, "mDNS on a loopback address: only this host takes part");
    }
    let mdns = ServiceDaemon::new()?;
    mdns.disable_interface(IfKind::All)?;
    mdns.enable_interface(IfKind::Addr(ip))?;
    Ok(mdns)
}

/// The instance (and host) name: `simpd-` and the peer address, unique on a LAN.
fn instance_name(peer: SocketAddr) -> String {
    let ip: String = peer.ip().to_string().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    format!("simpd-{ip}-{}", peer.port())
}

/// Refuses an address no single interface holds.
fn check_interface(ip: IpAddr, interfaces: &[if_addrs::Interface]) -> Result<(), AnnounceError> {
    if ip.is_unspecified() {
        return Err(AnnounceError::Unspecified(ip));
    }
    if interfaces.iter().any(|i| i.ip() == ip) {
        Ok(())
    } else {
        Err(AnnounceError::NoInterface(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lo() -> Vec<if_addrs::Interface> {
        if_addrs::get_if_addrs().unwrap().into_iter().filter(|i| i.is_loopback() && i.ip().is_ipv4()).collect()
    }

    #[test]
    fn only_an_address_an_interface_holds_is_announced() {
        let lo = lo();
        assert!(check_interface("127.0.0.1".parse().unwrap(), &lo).is_ok());
        let all = check_interface("0.0.0.0".parse().unwrap(), &lo).unwrap_err();
        assert!(all.to_string().contains("stands for all of them"), "{all}");
        assert!(matches!(check_interface("::".parse().unwrap(), &lo), Err(AnnounceError::Unspecified(_))));
        let none = check_interface("127.0.0.2".parse().unwrap(), &lo).unwrap_err();
        assert!(none.to_string().contains("no interface holds 127.0.0.2"), "{none}");
    }

    #[test]
    fn instance_names_are_dns_labels() {
        assert_eq!(instance_name("192.168.1.10:7777".parse().unwrap()), "simpd-192-168-1-10-7777");
        assert_eq!(instance_name("[fe80::1]:7777".parse().unwrap()), "simpd-fe80--1-7777");
    }
}
