//! A datagram on its way out, without an allocation for control datagrams.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::wire::{Datagram, BUSY_TEXT, HEADER_LEN, NO_ANSWER_TEXT};

/// A datagram to send.
#[derive(Debug, Clone)]
pub struct Transmit {
    /// Destination: always the source address of the peer's datagrams.
    pub to: SocketAddr,
    bytes: TxBytes,
}

impl Transmit {
    /// The datagram's bytes.
    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            TxBytes::Inline { buf, len } => &buf[..usize::from(*len)],
            TxBytes::Shared(b) => b,
        }
    }

    /// A control datagram (header and at most a short ERR text), copied inline.
    pub(crate) fn inline(to: SocketAddr, d: &Datagram<'_>) -> Transmit {
        let mut buf = [0u8; INLINE_MAX];
        let mut header = [0u8; HEADER_LEN];
        d.write_header(&mut header);
        buf[..HEADER_LEN].copy_from_slice(&header);
        let payload = &d.payload()[..d.payload().len().min(INLINE_MAX - HEADER_LEN)];
        buf[HEADER_LEN..HEADER_LEN + payload.len()].copy_from_slice(payload);
        let len = u8::try_from(HEADER_LEN + payload.len()).unwrap_or(u8::MAX);
        Transmit { to, bytes: TxBytes::Inline { buf, len } }
    }

    /// A chat datagram, shared with the in-flight record for byte-for-byte re-sends.
    pub(crate) fn shared(to: SocketAddr, bytes: Arc<[u8]>) -> Transmit {
        Transmit { to, bytes: TxBytes::Shared(bytes) }
    }
}

#[derive(Clone)]
enum TxBytes {
    /// Control datagrams (header and at most a short ERR text) need no allocation.
    Inline { buf: [u8; INLINE_MAX], len: u8 },
    /// Chat datagrams are kept for byte-for-byte re-sends, shared with the in-flight record.
    Shared(Arc<[u8]>),
}

const INLINE_MAX: usize = HEADER_LEN + 32;
// The busy reply's ERR is built inline (`busy_reply`), and `inline` cuts what does not fit:
// a longer BUSY_TEXT must fail the build, not go out truncated (SPEC 2.4 fixes the text).
const _: () = assert!(BUSY_TEXT.len() <= INLINE_MAX - HEADER_LEN, "BUSY_TEXT must fit an inline transmit");
const _: () = assert!(NO_ANSWER_TEXT.len() <= INLINE_MAX - HEADER_LEN, "NO_ANSWER_TEXT must fit an inline transmit");

impl fmt::Debug for TxBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = match self {
            TxBytes::Inline { buf, len } => &buf[..usize::from(*len)],
            TxBytes::Shared(b) => b,
        };
        match Datagram::parse(bytes) {
            Ok(d) => write!(f, "{d}"),
            Err(e) => write!(f, "invalid: {e}"),
        }
    }
}
