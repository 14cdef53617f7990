//! A reference line: a 50-byte UDP ping-pong between two plain sockets on two threads. It is no
//! denominator (it does far less than a relay, and on a VM it moves with the CPUs' wake-up
//! state), but it shows what the machine's loopback does in the same run.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{fail, Context, Result};
use crate::stats::{rate, Summary};

/// The datagram size: about a short chat datagram (39-byte header, a few bytes of text).
const SIZE: usize = 50;
/// Round trips before the measured ones, to settle caches and CPU frequency.
const WARMUP: usize = 2_000;

/// Round-trip times and the rate they allow.
#[derive(Debug, Serialize)]
pub struct Limit {
    pub rtt: Summary,
    pub round_trips_per_sec: f64,
}

/// `count` round trips between `a` and `b` (port 0 each), after a warm-up.
pub fn ping_pong(a: Ipv4Addr, b: Ipv4Addr, count: usize) -> Result<Limit> {
    let bind = |ip: Ipv4Addr| {
        let socket = UdpSocket::bind(SocketAddr::new(ip.into(), 0)).context(|| format!("cannot bind UDP {ip}:0"))?;
        socket.set_read_timeout(Some(Duration::from_secs(5))).context(|| "cannot set a read timeout".into())?;
        Ok::<_, crate::error::Error>(socket)
    };
    let (pinger, ponger) = (bind(a)?, bind(b)?);
    let ponger_addr = ponger.local_addr().context(|| "cannot read a bound address".into())?;
    pinger.connect(ponger_addr).context(|| format!("cannot connect to {ponger_addr}"))?;
    let total = WARMUP + count;
    let echo = thread::spawn(move || -> Result<()> {
        let mut buf = [0u8; 2048];
        for _ in 0..total {
            let (n, from) =
                ponger.recv_from(&mut buf).context(|| "ping-pong: the echo side heard nothing for 5 s".into())?;
            ponger.send_to(&buf[..n], from).context(|| "ping-pong: the echo side cannot send".into())?;
        }
        Ok(())
    });
    let ping = [0x5a_u8; SIZE];
    let mut buf = [0u8; 2048];
    let mut samples = Vec::with_capacity(count);
    let mut started = Instant::now();
    for i in 0..total {
        if i == WARMUP {
            started = Instant::now();
        }
        let t0 = Instant::now();
        pinger.send(&ping).context(|| "ping-pong: cannot send".into())?;
        let n = pinger.recv(&mut buf).context(|| "ping-pong: no answer within 5 s".into())?;
        if n != SIZE {
            fail!("ping-pong: got {n} bytes back instead of {SIZE}");
        }
        if i >= WARMUP {
            samples.push(t0.elapsed());
        }
    }
    let elapsed = started.elapsed();
    match echo.join() {
        Ok(result) => result?,
        Err(_) => fail!("ping-pong: the echo thread panicked"),
    }
    let Some(rtt) = Summary::of(&mut samples) else { fail!("ping-pong: no round trips measured") };
    Ok(Limit { rtt, round_trips_per_sec: rate(count, elapsed) })
}
