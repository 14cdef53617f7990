//! A SYN flood from many loopback sources, on its own thread, for the figure "a chat while
//! strangers keep calling": every source sends SYNs (SPEC 1) to one daemon as fast as one
//! thread can, round-robin; the ERR replies are never read.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use simp_proto::wire::{Datagram, Kind, Seq, UserName};

use crate::error::{fail, Context, Result};
use crate::stats::rate;

/// A running flood; stopped by [`Flood::stop`] or when dropped.
pub struct Flood {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<(usize, f64)>>,
}

impl Flood {
    /// Binds one UDP socket on each of `sources` (loopback addresses only) and starts sending.
    pub fn start(sources: &[Ipv4Addr], target: SocketAddr) -> Result<Flood> {
        let mut sockets = Vec::with_capacity(sources.len());
        for &ip in sources {
            if !ip.is_loopback() {
                fail!("flood source {ip} is not a loopback address");
            }
            let socket = UdpSocket::bind((ip, 0)).context(|| format!("flood: cannot bind UDP {ip}:0"))?;
            socket.connect(target).context(|| format!("flood: cannot connect to {target}"))?;
            sockets.push(socket);
        }
        let user = UserName::new("flood").context(|| "flood: bad user name".into())?;
        let syn = Datagram::new(Kind::Syn, Seq::Zero, Some(&user), &[]).to_vec();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let started = Instant::now();
            let mut sent = 0usize;
            while !stopping.load(Ordering::Relaxed) {
                for socket in &sockets {
                    // A full buffer or an ICMP error is part of flooding; only successes count.
                    if socket.send(&syn).is_ok() {
                        sent += 1;
                    }
                }
            }
            (sent, rate(sent, started.elapsed()))
        });
        Ok(Flood { stop, thread: Some(thread) })
    }

    /// Stops the flood; the SYNs sent and their rate per second.
    pub fn stop(mut self) -> (usize, f64) {
        self.halt().unwrap_or_default()
    }

    fn halt(&mut self) -> Option<(usize, f64)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok())
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.halt();
    }
}
