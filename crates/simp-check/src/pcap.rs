//! `--pcap DIR`: one capture per failing case, UDP over IPv4 on the raw-IP link type, so that
//! Wireshark with `contrib/wireshark/simp.lua` decodes it (`-o simp.port:PORT` when the
//! target is not on 7777).

use std::fs::File;
use std::io::BufWriter;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;

use crate::case::Outcome;
use crate::run::{CaseResult, Report};
use crate::wirelog::{Dir, Entry};

const IPV4_HEADER: usize = 20;
const UDP_HEADER: usize = 8;
const PROTO_UDP: u8 = 17;

/// Why a capture could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    /// File system trouble.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The pcap writer failed.
    #[error("{path}: {source}")]
    Pcap {
        /// The file.
        path: PathBuf,
        /// Why.
        source: pcap_file::PcapError,
    },
}

/// Writes `DIR/<case>.pcap` for every FAIL and WARN; returns the files written.
pub fn write_failures(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, PcapError> {
    std::fs::create_dir_all(dir).map_err(|source| PcapError::Io { path: dir.to_owned(), source })?;
    let mut written = Vec::new();
    for result in report.results.iter().filter(|r| matches!(r.outcome, Outcome::Fail | Outcome::Warn)) {
        let path = dir.join(file_name(result.id));
        write(result, &path)?;
        written.push(path);
    }
    Ok(written)
}

/// The capture's file name for a case: `2.2/retransmit` → `2.2_retransmit.pcap`.
pub fn file_name(id: &str) -> String {
    format!("{}.pcap", id.replace('/', "_"))
}

/// Writes one case's datagrams (the driver's dialogue is not on the wire and is left out,
/// as are IPv6 datagrams).
pub fn write(result: &CaseResult, path: &Path) -> Result<(), PcapError> {
    let file = File::create(path).map_err(|source| PcapError::Io { path: path.to_owned(), source })?;
    let header = PcapHeader { datalink: DataLink::RAW, ..PcapHeader::default() };
    let pcap_error = |source| PcapError::Pcap { path: path.to_owned(), source };
    let mut writer = PcapWriter::with_header(BufWriter::new(file), header).map_err(pcap_error)?;
    for entry in &result.wire {
        let Some(packet) = ip_packet(entry) else { continue };
        let timestamp = result.started + entry.at;
        let len = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        writer.write_packet(&PcapPacket::new(timestamp, len, &packet)).map_err(pcap_error)?;
    }
    Ok(())
}

/// The datagram as an IPv4 packet with a UDP header, sender first.
fn ip_packet(entry: &Entry) -> Option<Vec<u8>> {
    let (from, to) = match entry.dir {
        Dir::Out => (entry.local, entry.remote),
        Dir::In => (entry.remote, entry.local),
        Dir::User => return None,
    };
    let (SocketAddr::V4(from), SocketAddr::V4(to)) = (canonical(from), canonical(to)) else { return None };
    let udp_len = u16::try_from(UDP_HEADER + entry.bytes.len()).ok()?;
    let total = u16::try_from(IPV4_HEADER + usize::from(udp_len)).ok()?;
    let mut p = Vec::with_capacity(usize::from(total));
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, PROTO_UDP, 0, 0]);
    p.extend_from_slice(&from.ip().octets());
    p.extend_from_slice(&to.ip().octets());
    let checksum = ipv4_checksum(&p[..IPV4_HEADER]);
    p[10..12].copy_from_slice(&checksum.to_be_bytes());
    p.extend_from_slice(&from.port().to_be_bytes());
    p.extend_from_slice(&to.port().to_be_bytes());
    p.extend_from_slice(&udp_len.to_be_bytes());
    // A zero UDP checksum means "none" over IPv4.
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&entry.bytes);
    Some(p)
}

fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        v4 => v4,
    }
}

fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::try_from(sum).unwrap_or(0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ipv4_checksum_of_a_known_header_verifies() {
        // RFC 1071's property: a header with its checksum in place sums to 0xffff.
        let entry = Entry {
            at: std::time::Duration::ZERO,
            dir: Dir::Out,
            local: "127.66.0.1:4000".parse().expect("addr"),
            remote: "127.0.0.1:7777".parse().expect("addr"),
            bytes: vec![1, 2, 0],
        };
        let p = ip_packet(&entry).expect("IPv4");
        assert_eq!(ipv4_checksum(&p[..IPV4_HEADER]), 0);
        assert_eq!(&p[12..16], &[127, 66, 0, 1]);
        assert_eq!(u16::from_be_bytes([p[22], p[23]]), 7777);
        assert_eq!(p.len(), IPV4_HEADER + UDP_HEADER + 3);
    }
}
