//! Every entry of the shared test vectors (`tests/data/datagrams.json`, a copy of
//! `shared/vectors/datagrams.json`), both ways.

use serde_json::Value;
use simp_proto::wire::{self, Datagram, Kind, Seq, UserName};

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
        wire::validate_text(payload).unwrap_or_else(|e| panic!("{name}: {e}"));
        let bytes = Datagram::new(kind, seq, user.as_ref(), payload.as_bytes()).to_vec();
        assert_eq!(bytes, hex(v["hex"].as_str().unwrap()), "{name}");
        checked += 1;
    }
    assert!(checked >= 14, "only {checked} encodable vectors");
}

#[test]
fn invalid_vectors_are_dropped() {
    let mut checked = 0;
    for v in vectors().iter().filter(|v| v["valid"] == false) {
        let name = v["name"].as_str().unwrap();
        let bytes = hex(v["hex"].as_str().unwrap());
        assert!(Datagram::parse(&bytes).is_err(), "{name} ({}) was accepted", v["reason"]);
        checked += 1;
    }
    assert!(checked >= 12, "only {checked} invalid vectors");
}
