//! The SIMP datagram (SPEC 1): a checked view over received bytes, and emission.
//!
//! Parsing is strict about structure and lenient about text: once [`Datagram::parse`] has
//! accepted a buffer, no accessor can panic, and names or payloads with odd bytes are kept
//! as they are (they are escaped only when shown, see [`escape`]). Emission only ever takes
//! a validated [`UserName`], so we never put a name on the wire that the spec forbids.

use std::fmt;

/// Length of the fixed header that starts every datagram.
pub const HEADER_LEN: usize = 39;
/// Size of the NUL-padded user field.
pub const USER_LEN: usize = 32;
/// The largest UDP payload over IPv4; a receiver accepts datagrams up to this size.
pub const MAX_DATAGRAM: usize = 65_507;
/// The largest payload a datagram can carry.
pub const MAX_PAYLOAD: usize = MAX_DATAGRAM - HEADER_LEN;
/// Default `--max-payload`: 985 bytes of text keeps every datagram within 1,024 bytes.
pub const DEFAULT_MAX_PAYLOAD: usize = 985;
/// The ERR text of a busy reply (SPEC 2.4), exactly.
pub const BUSY_TEXT: &str = "User already in another chat";
/// The ERR text before the FIN of a request nobody answered within `ring-timeout` (SPEC 2.1),
/// so the caller can tell it from a decline.
pub const NO_ANSWER_TEXT: &str = "No answer";

/// Type byte of a control datagram.
pub const TYPE_CONTROL: u8 = 0x01;
/// Type byte of a chat datagram.
pub const TYPE_CHAT: u8 = 0x02;
/// Control operation: error, payload is a reason.
pub const OP_ERR: u8 = 0x01;
/// Control operation: call request.
pub const OP_SYN: u8 = 0x02;
/// Control operation: acknowledgement.
pub const OP_ACK: u8 = 0x04;
/// Control operation: close or decline.
pub const OP_FIN: u8 = 0x08;
/// Control operation: accept, `SYN | ACK`.
pub const OP_SYN_ACK: u8 = OP_SYN | OP_ACK;
/// The only operation of a chat datagram.
pub const OP_CHAT: u8 = 0x01;

const OFF_TYPE: usize = 0;
const OFF_OP: usize = 1;
/// Offset of the sequence byte.
pub const OFF_SEQ: usize = 2;
const OFF_USER: usize = 3;
const OFF_LEN: usize = OFF_USER + USER_LEN;

/// What a datagram is: the (type, operation) pairs of the SPEC 1 table, and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Control `ERR`.
    Err,
    /// Control `SYN`.
    Syn,
    /// Control `ACK`.
    Ack,
    /// Control `FIN`.
    Fin,
    /// Control `SYN+ACK`.
    SynAck,
    /// A chat message.
    Chat,
}

impl Kind {
    /// Every kind, for tests and tools.
    pub const ALL: [Kind; 6] = [Kind::Err, Kind::Syn, Kind::Ack, Kind::Fin, Kind::SynAck, Kind::Chat];

    /// The type and operation bytes of this kind.
    pub const fn bytes(self) -> (u8, u8) {
        match self {
            Kind::Err => (TYPE_CONTROL, OP_ERR),
            Kind::Syn => (TYPE_CONTROL, OP_SYN),
            Kind::Ack => (TYPE_CONTROL, OP_ACK),
            Kind::Fin => (TYPE_CONTROL, OP_FIN),
            Kind::SynAck => (TYPE_CONTROL, OP_SYN_ACK),
            Kind::Chat => (TYPE_CHAT, OP_CHAT),
        }
    }

    /// Decodes the type and operation bytes (SPEC 1 drop rules).
    pub fn from_bytes(ty: u8, op: u8) -> Result<Kind, ParseError> {
        match (ty, op) {
            (TYPE_CONTROL, OP_ERR) => Ok(Kind::Err),
            (TYPE_CONTROL, OP_SYN) => Ok(Kind::Syn),
            (TYPE_CONTROL, OP_ACK) => Ok(Kind::Ack),
            (TYPE_CONTROL, OP_FIN) => Ok(Kind::Fin),
            (TYPE_CONTROL, OP_SYN_ACK) => Ok(Kind::SynAck),
            (TYPE_CHAT, OP_CHAT) => Ok(Kind::Chat),
            (TYPE_CONTROL | TYPE_CHAT, op) => Err(ParseError::UnknownOperation { ty, op }),
            (ty, _) => Err(ParseError::UnknownType(ty)),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Err => "ERR",
            Kind::Syn => "SYN",
            Kind::Ack => "ACK",
            Kind::Fin => "FIN",
            Kind::SynAck => "SYN+ACK",
            Kind::Chat => "CHAT",
        })
    }
}

/// The alternating bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Seq {
    /// Sequence `0x00`.
    #[default]
    Zero,
    /// Sequence `0x01`.
    One,
}

impl Seq {
    /// The other bit.
    #[must_use]
    pub const fn flip(self) -> Seq {
        match self {
            Seq::Zero => Seq::One,
            Seq::One => Seq::Zero,
        }
    }

    /// The wire byte.
    pub const fn byte(self) -> u8 {
        match self {
            Seq::Zero => 0,
            Seq::One => 1,
        }
    }

    /// Decodes the wire byte; anything but 0 or 1 is invalid (SPEC 1).
    pub fn from_byte(b: u8) -> Result<Seq, ParseError> {
        match b {
            0 => Ok(Seq::Zero),
            1 => Ok(Seq::One),
            other => Err(ParseError::BadSequence(other)),
        }
    }
}

/// Why a received datagram was dropped (SPEC 1, "Dropped").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Fewer bytes than the header.
    #[error("datagram of {0} bytes is shorter than the 39-byte header")]
    TooShort(usize),
    /// Too large for UDP.
    #[error("datagram of {0} bytes exceeds the UDP maximum of 65507")]
    TooLong(usize),
    /// The length field disagrees with the bytes after the header.
    #[error("length field says {declared} bytes but {actual} follow the header")]
    LengthMismatch {
        /// The length field.
        declared: u32,
        /// Bytes actually present after the header.
        actual: usize,
    },
    /// Type byte other than control or chat.
    #[error("unknown datagram type 0x{0:02x}")]
    UnknownType(u8),
    /// Operation not defined for its type.
    #[error("operation 0x{op:02x} is not defined for type 0x{ty:02x}")]
    UnknownOperation {
        /// The type byte.
        ty: u8,
        /// The operation byte.
        op: u8,
    },
    /// Sequence byte other than 0 or 1.
    #[error("sequence 0x{0:02x} is neither 0 nor 1")]
    BadSequence(u8),
}

/// One SIMP datagram, borrowing its name and payload.
///
/// From [`Datagram::parse`] the name is the decoded one (before the first NUL, trailing
/// spaces trimmed); from [`Datagram::new`] it is a validated [`UserName`] (or empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram<'a> {
    kind: Kind,
    seq: Seq,
    /// The sequence byte as on the wire: `seq` itself, except for a chat datagram taken by
    /// [`Datagram::parse_any_seq`] from a peer that counts (SPEC 3).
    seq_byte: u8,
    user: &'a [u8],
    payload: &'a [u8],
}

impl<'a> Datagram<'a> {
    /// A datagram to send. `user` is `None` before the local user has named itself.
    ///
    /// The payload must not exceed [`MAX_PAYLOAD`]; the session engine splits longer text.
    pub fn new(kind: Kind, seq: Seq, user: Option<&'a UserName>, payload: &'a [u8]) -> Self {
        debug_assert!(payload.len() <= MAX_PAYLOAD);
        Datagram { kind, seq, seq_byte: seq.byte(), user: user.map_or(&[][..], |u| u.as_bytes()), payload }
    }

    /// This datagram with another sequence byte on the wire: an ACK that echoes a counting
    /// peer's chat seq (SPEC 3) is the one datagram we send with a byte above 1.
    #[must_use]
    pub fn with_seq_byte(mut self, seq_byte: u8) -> Self {
        self.seq_byte = seq_byte;
        self
    }

    /// Checks and decodes received bytes (SPEC 1). Never panics.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        Datagram::parse_with(bytes, false)
    }

    /// Like [`Datagram::parse`], except that a chat datagram may carry any sequence byte: some
    /// peers count 0, 1, 2, 3… (SPEC 3). Its [`Datagram::seq`] is then the byte's parity
    /// (counting alternates it), and [`Datagram::seq_byte`] the byte itself, for the ACK to
    /// echo. Control datagrams stay strict. The endpoint uses this only for its current peer.
    pub fn parse_any_seq(bytes: &'a [u8]) -> Result<Self, ParseError> {
        Datagram::parse_with(bytes, true)
    }

    fn parse_with(bytes: &'a [u8], any_chat_seq: bool) -> Result<Self, ParseError> {
        if bytes.len() < HEADER_LEN {
            return Err(ParseError::TooShort(bytes.len()));
        }
        if bytes.len() > MAX_DATAGRAM {
            return Err(ParseError::TooLong(bytes.len()));
        }
        let (header, payload) = bytes.split_at(HEADER_LEN);
        let declared =
            u32::from_be_bytes([header[OFF_LEN], header[OFF_LEN + 1], header[OFF_LEN + 2], header[OFF_LEN + 3]]);
        if usize::try_from(declared).ok() != Some(payload.len()) {
            return Err(ParseError::LengthMismatch { declared, actual: payload.len() });
        }
        let kind = Kind::from_bytes(header[OFF_TYPE], header[OFF_OP])?;
        let seq_byte = header[OFF_SEQ];
        let seq = match Seq::from_byte(seq_byte) {
            Ok(seq) => seq,
            Err(_) if any_chat_seq && kind == Kind::Chat => {
                if seq_byte & 1 == 0 {
                    Seq::Zero
                } else {
                    Seq::One
                }
            }
            Err(e) => return Err(e),
        };
        let field = &header[OFF_USER..OFF_LEN];
        let end = field.iter().position(|&b| b == 0).unwrap_or(USER_LEN);
        let mut user = &field[..end];
        while let [rest @ .., b' '] = user {
            user = rest;
        }
        Ok(Datagram { kind, seq, seq_byte, user, payload })
    }

    /// The kind (type and operation).
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The sequence bit.
    pub fn seq(&self) -> Seq {
        self.seq
    }

    /// The sequence byte as on the wire (above 1 only from [`Datagram::parse_any_seq`]).
    pub fn seq_byte(&self) -> u8 {
        self.seq_byte
    }

    /// The sender's name as raw bytes (at most 32; may hold any byte when received).
    pub fn user(&self) -> &'a [u8] {
        self.user
    }

    /// The payload: chat text, ERR reason, or empty.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Bytes this datagram takes on the wire.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Appends the wire form to `out`.
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        let mut header = [0u8; HEADER_LEN];
        self.write_header(&mut header);
        out.extend_from_slice(&header);
        out.extend_from_slice(self.payload);
    }

    /// The wire form as a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.emit_into(&mut out);
        out
    }

    /// Writes the 39-byte header (type, op, seq, NUL-padded user, big-endian length).
    pub fn write_header(&self, header: &mut [u8; HEADER_LEN]) {
        let (ty, op) = self.kind.bytes();
        header[OFF_TYPE] = ty;
        header[OFF_OP] = op;
        header[OFF_SEQ] = self.seq_byte;
        let user = &self.user[..self.user.len().min(USER_LEN)];
        header[OFF_USER..OFF_USER + user.len()].copy_from_slice(user);
        header[OFF_USER + user.len()..OFF_LEN].fill(0);
        // Payloads are bounded by MAX_PAYLOAD, far below u32::MAX.
        let len = u32::try_from(self.payload.len()).unwrap_or(u32::MAX);
        header[OFF_LEN..HEADER_LEN].copy_from_slice(&len.to_be_bytes());
    }
}

impl fmt::Display for Datagram<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} seq={} user={:?} len={}", self.kind, self.seq_byte, escape_name(self.user), self.payload.len())
    }
}

/// A local user name that may go on the wire: 1–32 bytes of printable ASCII, no leading or
/// trailing space (SPEC 1, "Encoding").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserName(String);

impl UserName {
    /// Validates a name typed by a user.
    pub fn new(name: &str) -> Result<UserName, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if let Some(c) = name.chars().find(|c| !(' '..='~').contains(c)) {
            return Err(NameError::BadChar(c));
        }
        if name.len() > USER_LEN {
            return Err(NameError::TooLong(name.len()));
        }
        if name.starts_with(' ') || name.ends_with(' ') {
            return Err(NameError::Spaces);
        }
        Ok(UserName(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a name cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing given.
    #[error("the name is empty; choose 1 to 32 letters, digits or punctuation")]
    Empty,
    /// Over 32 bytes.
    #[error("the name is {0} bytes long; at most 32 fit in a SIMP datagram")]
    TooLong(usize),
    /// A character outside printable ASCII.
    #[error("the name contains {}, which is not printable ASCII", describe_char(*.0))]
    BadChar(char),
    /// Leading or trailing space, which peers trim.
    #[error("the name starts or ends with a space, which peers would trim")]
    Spaces,
}

/// Why a text cannot be sent: only ASCII, and of the control bytes only TAB and LF (SPEC 1);
/// with the user's opt-in to UTF-8 (SPEC 1, "Beyond ASCII"), any character but the other
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// A character outside what SIMP carries.
    #[error("the text contains {} at character {}; SIMP carries ASCII text only (TAB and newline allowed), nothing was sent", describe_char(*.ch), .position + 1)]
    BadChar {
        /// The offending character.
        ch: char,
        /// Its index in characters, from 0.
        position: usize,
    },
    /// A control character in text sent as UTF-8.
    #[error("the text contains {} at character {}; only TAB and newline can be sent of the control characters, nothing was sent", describe_char(*.ch), .position + 1)]
    Control {
        /// The offending character.
        ch: char,
        /// Its index in characters, from 0.
        position: usize,
    },
}

/// Checks text the local user wants to send: ASCII (SPEC 1), or any UTF-8 when `utf8`, the
/// user's opt-in beyond the course spec (SPEC 1, "Beyond ASCII"). Either way the only control
/// characters allowed are TAB and LF, so nothing sent can drive a peer's terminal.
pub fn validate_text(text: &str, utf8: bool) -> Result<(), TextError> {
    let refused = |c: char| if utf8 { c.is_control() && !matches!(c, '\t' | '\n') } else { !is_ascii_text(c) };
    match text.chars().enumerate().find(|&(_, c)| refused(c)) {
        Some((position, ch)) if utf8 => Err(TextError::Control { ch, position }),
        Some((position, ch)) => Err(TextError::BadChar { ch, position }),
        None => Ok(()),
    }
}

fn is_ascii_text(c: char) -> bool {
    matches!(c, ' '..='~' | '\t' | '\n')
}

/// Names a character for an error message, e.g. `'é' (U+00E9)` or `U+001B (a control character)`.
pub fn describe_char(c: char) -> String {
    if c.is_control() {
        format!("U+{:04X} (a control character)", c as u32)
    } else {
        format!("'{c}' (U+{:04X})", c as u32)
    }
}

/// Makes received text safe to show: bytes above 0x7E and control bytes other than TAB and LF
/// become `\xNN` (SPEC 1). Valid ASCII text is returned unchanged.
pub fn escape(bytes: &[u8]) -> String {
    escape_with(bytes, |b| matches!(b, 0x20..=0x7e | b'\t' | b'\n'))
}

/// Like [`escape`], for names: TAB and LF are escaped too, a name is one line.
pub fn escape_name(bytes: &[u8]) -> String {
    escape_with(bytes, |b| matches!(b, 0x20..=0x7e))
}

fn escape_with(bytes: &[u8], keep: impl Fn(u8) -> bool) -> String {
    let odd = bytes.iter().filter(|&&b| !keep(b)).count();
    let mut out = String::with_capacity(bytes.len() + 3 * odd);
    for &b in bytes {
        if keep(b) {
            out.push(char::from(b));
        } else {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\x");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn header_constants_match_the_table() {
        assert_eq!(OFF_LEN, 35);
        assert_eq!(HEADER_LEN, OFF_LEN + 4);
        assert_eq!(OP_SYN_ACK, 0x06);
    }

    #[test]
    fn names_are_validated_with_actionable_errors() {
        assert!(UserName::new("alice").is_ok());
        assert!(UserName::new(&"u".repeat(32)).is_ok());
        assert_eq!(UserName::new(""), Err(NameError::Empty));
        assert_eq!(UserName::new(&"u".repeat(33)), Err(NameError::TooLong(33)));
        assert_eq!(UserName::new("zoë"), Err(NameError::BadChar('ë')));
        assert_eq!(UserName::new(" bob"), Err(NameError::Spaces));
        let msg = UserName::new("a\u{1b}b").unwrap_err().to_string();
        assert!(msg.contains("U+001B"), "{msg}");
    }

    #[test]
    fn text_validation_names_the_character() {
        assert!(validate_text("hello\tworld\nagain", false).is_ok());
        let err = validate_text("café", false).unwrap_err();
        assert_eq!(err, TextError::BadChar { ch: 'é', position: 3 });
        assert!(err.to_string().contains("'é' (U+00E9)"), "{err}");
        assert!(validate_text("a\rb", false).is_err());
        assert!(validate_text("\u{7f}", false).is_err());
    }

    #[test]
    fn utf8_text_is_accepted_only_when_asked_and_controls_stay_refused() {
        assert!(validate_text("café ☕ 𝄞\tok\n", true).is_ok());
        assert!(validate_text("café", false).is_err());
        for (text, ch, position) in
            [("a\rb", '\r', 1), ("é\u{7f}", '\u{7f}', 1), ("\u{85}", '\u{85}', 0), ("\u{1b}[2J", '\u{1b}', 0)]
        {
            let err = validate_text(text, true).unwrap_err();
            assert_eq!(err, TextError::Control { ch, position }, "{text:?}");
            assert!(err.to_string().contains("(a control character)"), "{err}");
        }
    }

    #[test]
    fn escaping_keeps_ascii_and_marks_the_rest() {
        assert_eq!(escape(b"plain text\n\tok"), "plain text\n\tok");
        assert_eq!(escape(b"\x1b[2J\x00\xff"), "\\x1b[2J\\x00\\xff");
        assert_eq!(escape_name(b"a\nb"), "a\\x0ab");
    }

    #[test]
    fn space_padding_is_trimmed() {
        let mut bytes = Datagram::new(Kind::Syn, Seq::Zero, None, b"").to_vec();
        bytes[3..8].copy_from_slice(b"bob  ");
        assert_eq!(Datagram::parse(&bytes).unwrap().user(), b"bob");
    }

    #[test]
    fn a_counting_chat_seq_is_read_by_parity_and_echoed_only_when_asked() {
        let mut bytes = Datagram::new(Kind::Chat, Seq::Zero, None, b"hi").to_vec();
        bytes[OFF_SEQ] = 3;
        assert_eq!(Datagram::parse(&bytes), Err(ParseError::BadSequence(3)));
        let d = Datagram::parse_any_seq(&bytes).unwrap();
        assert_eq!((d.seq(), d.seq_byte(), d.payload()), (Seq::One, 3, &b"hi"[..]));
        assert_eq!(d.to_vec(), bytes, "emitted as received");
        let ack = Datagram::new(Kind::Ack, d.seq(), None, b"").with_seq_byte(d.seq_byte()).to_vec();
        assert_eq!(ack[OFF_SEQ], 3);
        // Control datagrams stay strict.
        let mut fin = Datagram::new(Kind::Fin, Seq::Zero, None, b"").to_vec();
        fin[OFF_SEQ] = 2;
        assert_eq!(Datagram::parse_any_seq(&fin), Err(ParseError::BadSequence(2)));
    }

    #[test]
    fn oversized_datagram_is_dropped() {
        let mut bytes = vec![0u8; MAX_DATAGRAM + 1];
        bytes[0] = TYPE_CHAT;
        bytes[1] = OP_CHAT;
        let len = u32::try_from(MAX_DATAGRAM + 1 - HEADER_LEN).unwrap();
        bytes[35..39].copy_from_slice(&len.to_be_bytes());
        assert_eq!(Datagram::parse(&bytes), Err(ParseError::TooLong(MAX_DATAGRAM + 1)));
    }

    fn arb_kind() -> impl Strategy<Value = Kind> {
        prop::sample::select(Kind::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
            let _ = Datagram::parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_plausible_headers(
            kind in arb_kind(), seq in 0u8..3, user in prop::collection::vec(any::<u8>(), 32),
            payload in prop::collection::vec(any::<u8>(), 0..300), len_delta in -2i64..3,
        ) {
            let (ty, op) = kind.bytes();
            let mut bytes = vec![ty, op, seq];
            bytes.extend_from_slice(&user);
            let len = (payload.len() as i64 + len_delta).max(0) as u32;
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.extend_from_slice(&payload);
            if let Ok(d) = Datagram::parse(&bytes) {
                prop_assert_eq!(d.payload().len(), len as usize);
                prop_assert!(d.user().len() <= USER_LEN);
            }
        }

        #[test]
        fn emit_then_parse_is_identity(
            kind in arb_kind(), one in any::<bool>(), name in "[!-~]([ -~]{0,30}[!-~])?",
            payload in prop::collection::vec(any::<u8>(), 0..1500),
        ) {
            let user = UserName::new(&name).unwrap();
            let seq = if one { Seq::One } else { Seq::Zero };
            let d = Datagram::new(kind, seq, Some(&user), &payload);
            let bytes = d.to_vec();
            prop_assert_eq!(bytes.len(), HEADER_LEN + payload.len());
            prop_assert_eq!(Datagram::parse(&bytes).unwrap(), d);
        }

        #[test]
        fn parse_then_emit_is_identity_on_canonical_bytes(
            kind in arb_kind(), one in any::<bool>(), user in prop::collection::vec(1u8..=255, 0..=32),
            payload in prop::collection::vec(any::<u8>(), 0..200),
        ) {
            // Canonical: NUL-padded, no trailing space before the padding.
            prop_assume!(user.last() != Some(&b' '));
            let (ty, op) = kind.bytes();
            let mut bytes = vec![ty, op, u8::from(one)];
            bytes.extend_from_slice(&user);
            bytes.resize(OFF_LEN, 0);
            bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            bytes.extend_from_slice(&payload);
            prop_assert_eq!(Datagram::parse(&bytes).unwrap().to_vec(), bytes);
        }
    }
}
