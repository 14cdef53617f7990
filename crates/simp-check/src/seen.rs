//! A lenient view of what the target sent.
//!
//! Cases recognise replies by their first three bytes only (type, operation, sequence), so that
//! one defect (a trailer, a missing length field) fails the header case that is about it and
//! not every case that happens to receive such a datagram. The strict SPEC 1 decoding is
//! [`simp_proto::wire::Datagram::parse`], used by the header cases.

use std::net::SocketAddr;
use std::time::Instant;

use simp_proto::wire::{escape_name, Datagram, Kind, HEADER_LEN, USER_LEN};

/// A datagram received from the target.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Where it came from.
    pub from: SocketAddr,
    /// When it arrived.
    pub at: Instant,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl Seen {
    /// The kind from the type and operation bytes, if they are in the SPEC 1 table.
    pub fn kind(&self) -> Option<Kind> {
        match self.bytes.as_slice() {
            [ty, op, ..] => Kind::from_bytes(*ty, *op).ok(),
            _ => None,
        }
    }

    /// The sequence byte as sent (any value).
    pub fn seq(&self) -> Option<u8> {
        self.bytes.get(2).copied()
    }

    /// Whether this is `kind` with sequence byte `seq`.
    pub fn is(&self, kind: Kind, seq: u8) -> bool {
        self.kind() == Some(kind) && self.seq() == Some(seq)
    }

    /// The payload as far as it can be told: after the header, cut to the length field when
    /// that is shorter.
    pub fn payload(&self) -> &[u8] {
        let Some(rest) = self.bytes.get(HEADER_LEN..) else { return &[] };
        match declared_len(&self.bytes) {
            Some(len) if len < rest.len() => &rest[..len],
            _ => rest,
        }
    }

    /// A one-line description for diagnoses.
    pub fn describe(&self) -> String {
        describe(&self.bytes)
    }
}

/// The big-endian length field, if the datagram is long enough to have one.
pub fn declared_len(bytes: &[u8]) -> Option<usize> {
    let field: [u8; 4] = bytes.get(3 + USER_LEN..HEADER_LEN)?.try_into().ok()?;
    usize::try_from(u32::from_be_bytes(field)).ok()
}

/// Describes any bytes: the decoded header when they parse, else what can be read and why
/// SPEC 1 drops them.
pub fn describe(bytes: &[u8]) -> String {
    match Datagram::parse(bytes) {
        Ok(d) => format!("{d} ({} bytes)", bytes.len()),
        Err(e) => {
            let head = match bytes {
                [ty, op, seq, ..] => {
                    let kind = Kind::from_bytes(*ty, *op)
                        .map_or_else(|_| format!("type 0x{ty:02x} op 0x{op:02x}"), |k| k.to_string());
                    let user = bytes.get(3..(3 + USER_LEN).min(bytes.len())).unwrap_or_default();
                    let end = user.iter().position(|&b| b == 0).unwrap_or(user.len());
                    format!("{kind} seq={seq} user={:?}", escape_name(&user[..end]))
                }
                _ => "fragment".to_owned(),
            };
            format!("{head} ({} bytes; invalid: {e})", bytes.len())
        }
    }
}
