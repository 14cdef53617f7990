//! Every entry of the shared test vectors (`tests/data/datagrams.json`, a copy of
//! `shared/vectors/datagrams.json`), both ways.

use serde_json::Value;
use simp_proto::wire::{self, Datagram, Kind, ParseError, Seq, UserName};

fn vectors() -> Vec<Value> {
    let text = include_str!("data/datagrams.json");
    let doc: Value = serde_json::from_str(text).expect("vectors are JSON");
    doc["vectors"].as_array().expect("a vectors array").clone()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

#[test]
fn valid_vectors_decode_to_their_fields() {
    let mut checked = 0;
    for v in vectors().iter().filter(|v| v["valid"] == true) {
        let name = v["name"].as_str().unwrap();
        let bytes = hex(v["hex"].as_str().unwrap());
        let d = Datagram::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Users and payloads are compared as shown to a person: escaped.
        assert_eq!(wire::escape_name(d.user()), v["user"].as_str().unwrap(), "{name}: user");
        assert_eq!(wire::escape(d.payload()), v["payload"].as_str().unwrap(), "{name}: payload");
        if let Some(ty) = v["type"].as_u64() {
            let (t, op) = d.kind().bytes();
            assert_eq!(u64::from(t), ty, "{name}: type");
            assert_eq!(u64::from(op), v["op"].as_u64().unwrap(), "{name}: op");
            assert_eq!(u64::from(d.seq().byte()), v["seq"].as_u64().unwrap(), "{name}: seq");
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} valid vectors");
}

#[test]
fn valid_vectors_encode_to_their_bytes() {
    let mut checked = 0;
    for v in vectors().iter().filter(|v| v["valid"] == true && v["decode_only"] != true) {
        let name = v["name"].as_str().unwrap();
        let kind = Kind::from_bytes(v["type"].as_u64().unwrap() as u8, v["op"].as_u64().unwrap() as u8).unwrap();
        let seq = Seq::from_byte(v["seq"].as_u64().unwrap() as u8).unwrap();
        let user = v["user"].as_str().unwrap();
        let user = (!user.is_empty()).then(|| UserName::new(user).unwrap());
        let payload = v["payload"].as_str().unwrap();
        wire::validate_text(payload, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        let bytes = Datagram::new(kind, seq, user.as_ref(), payload.as_bytes()).to_vec();
        assert_eq!(bytes, hex(v["hex"].as_str().unwrap()), "{name}");
        checked += 1;
    }
    assert!(checked >= 14, "only {checked} encodable vectors");
}

/// Why each invalid vector is dropped, by vector name: the vectors give the reason only in
/// words, so this table pins each to the [`ParseError`] the receiver logs (SPEC 1, "Dropped").
const EXPECTED_ERRORS: &[(&str, ParseError)] = {
    use ParseError::*;
    &[
        ("empty", TooShort(0)),
        ("header_38", TooShort(38)),
        ("length_too_big", LengthMismatch { declared: 3, actual: 2 }),
        ("length_too_small", LengthMismatch { declared: 1, actual: 2 }),
        ("length_huge", LengthMismatch { declared: u32::MAX, actual: 2 }),
        ("type_0", UnknownType(0x00)),
        ("type_3", UnknownType(0x03)),
        ("chat_op_2", UnknownOperation { ty: 0x02, op: 0x02 }),
        ("control_op_3", UnknownOperation { ty: 0x01, op: 0x03 }),
        ("control_op_0x0c", UnknownOperation { ty: 0x01, op: 0x0c }),
        ("control_op_0", UnknownOperation { ty: 0x01, op: 0x00 }),
        ("seq_2", BadSequence(0x02)),
    ]
};

#[test]
fn invalid_vectors_are_dropped() {
    let mut checked = 0;
    for v in vectors().iter().filter(|v| v["valid"] == false) {
        let name = v["name"].as_str().unwrap();
        let bytes = hex(v["hex"].as_str().unwrap());
        assert!(Datagram::parse(&bytes).is_err(), "{name} ({}) was accepted", v["reason"]);
        let (_, expected) = EXPECTED_ERRORS
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{name}: not in EXPECTED_ERRORS"));
        assert_eq!(Datagram::parse(&bytes), Err(expected.clone()), "{name} ({})", v["reason"]);
        checked += 1;
    }
    assert!(checked >= 12, "only {checked} invalid vectors");
    assert_eq!(checked, EXPECTED_ERRORS.len(), "EXPECTED_ERRORS names a vector that is not in the file");
}
