//! Runs the Wireshark dissector `contrib/wireshark/simp.lua` under `tshark` and checks what it
//! decodes. Every shared test vector (`crates/simp-proto/tests/data/datagrams.json`) becomes one
//! UDP datagram to port 7777 in a capture made by `text2pcap`; valid vectors must decode to
//! their fields and Info column with no warning, invalid ones must carry exactly the expected
//! expert warning. A second test feeds truncated and random datagrams (also cut short by a
//! snaplen) and checks the dissector never fails.
//!
//! Needs `tshark`, `text2pcap` and `editcap` on PATH (Debian: `apt-get install tshark`); without
//! them the tests fail, they do not skip; `cargo xtask test` (the README's test command) installs
//! them when missing.

use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const HEADER_LEN: usize = 39;
/// Payload bytes the dissector shows in the Info column before "...".
const INFO_TEXT_MAX: usize = 40;
/// `_ws.expert.severity` of a warning (Wireshark's `PI_WARN`).
const PI_WARN: &str = "6291456";

/// The dissector's expert infos, as display filter names.
const EXPERTS: [&str; 6] = [
    "simp.short",
    "simp.length_mismatch",
    "simp.unknown_type",
    "simp.unknown_op",
    "simp.bad_seq",
    "simp.dissector_bug",
];

/// Expected expert warning and Info column of every invalid vector, by name.
const INVALID: [(&str, &str, &str); 11] = [
    ("header_38", "simp.short", "[short datagram: 38 bytes]"),
    ("length_too_big", "simp.length_mismatch", "[length 3 but 2 payload bytes] CHAT seq=0 alice: hi"),
    ("length_too_small", "simp.length_mismatch", "[length 1 but 2 payload bytes] CHAT seq=0 alice: hi"),
    ("length_huge", "simp.length_mismatch", "[length 4294967295 but 2 payload bytes] CHAT seq=0 alice: hi"),
    ("type_0", "simp.unknown_type", "[unknown type 0x00] type 0x00 op 0x01 seq=0 alice: hi"),
    ("type_3", "simp.unknown_type", "[unknown type 0x03] type 0x03 op 0x01 seq=0 alice: hi"),
    ("chat_op_2", "simp.unknown_op", "[unknown operation 0x02] Chat op 0x02 seq=0 alice: hi"),
    ("control_op_3", "simp.unknown_op", "[unknown operation 0x03] Control op 0x03 seq=0 x"),
    ("control_op_0x0c", "simp.unknown_op", "[unknown operation 0x0c] Control op 0x0c seq=0 x"),
    ("control_op_0", "simp.unknown_op", "[unknown operation 0x00] Control op 0x00 seq=0 x"),
    ("seq_2", "simp.bad_seq", "[bad seq 2] CHAT seq=2 alice: hi"),
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn dissector() -> PathBuf {
    let path = repo_root().join("contrib/wireshark/simp.lua");
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

fn vectors() -> Vec<Value> {
    let path = repo_root().join("crates/simp-proto/tests/data/datagrams.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).expect("vectors are JSON");
    doc["vectors"].as_array().expect("a vectors array").clone()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

/// A fresh directory under the system temp dir, removed on drop (kept if the test fails, to
/// look at the capture).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let name =
            format!("simp-wireshark-{tag}-{}-{nanos}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Runs a Wireshark tool; a missing tool fails the test with the command that installs it.
fn run(tool: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run `{tool}` ({e}): the dissector test needs tshark, text2pcap and editcap; install them with `apt-get install tshark`")
    });
    assert!(
        out.status.success(),
        "`{tool} {}` failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Writes `packets` as UDP datagrams 40000 -> 7777 into a capture file, through text2pcap.
fn capture(dir: &TempDir, packets: &[Vec<u8>]) -> PathBuf {
    capture_to_port(dir, packets, 7777)
}

fn capture_to_port(dir: &TempDir, packets: &[Vec<u8>], port: u16) -> PathBuf {
    let mut dump = String::new();
    for packet in packets {
        assert!(!packet.is_empty(), "text2pcap cannot write an empty packet");
        for (line, chunk) in packet.chunks(16).enumerate() {
            write!(dump, "{:06x}", line * 16).unwrap();
            for b in chunk {
                write!(dump, " {b:02x}").unwrap();
            }
            dump.push('\n');
        }
        dump.push('\n');
    }
    let input = dir.0.join(format!("datagrams-{port}.txt"));
    let cap = dir.0.join(format!("simp-{port}.cap"));
    std::fs::write(&input, dump).unwrap();
    let ports = format!("40000,{port}");
    run("text2pcap", &["-q", "-u", &ports, input.to_str().unwrap(), cap.to_str().unwrap()]);
    cap
}

/// Fields every run extracts.
const FIELDS: [&str; 16] = [
    "frame.protocols",
    "simp.type",
    "simp.op",
    "simp.op.err",
    "simp.op.syn",
    "simp.op.ack",
    "simp.op.fin",
    "simp.seq",
    "simp.user",
    "simp.length",
    "simp.payload",
    "_ws.col.Info",
    "_ws.expert.message",
    "_ws.expert.severity",
    // A Lua error the dissector did not catch itself.
    "_ws.lua.error",
    "_ws.malformed",
];

/// One decoded packet: field name -> values.
struct Packet(Map<String, Value>);

impl Packet {
    fn all(&self, field: &str) -> Vec<&str> {
        match self.0.get(field) {
            Some(Value::Array(values)) => values.iter().map(|v| v.as_str().expect("string values")).collect(),
            Some(other) => panic!("{field}: unexpected JSON {other}"),
            None => Vec::new(),
        }
    }

    /// The field's value; None when the field is absent; panics when it occurs twice.
    fn get(&self, field: &str) -> Option<&str> {
        match self.all(field).as_slice() {
            [] => None,
            [one] => Some(one),
            many => panic!("{field} occurs {} times: {many:?}", many.len()),
        }
    }
}

/// Dissects `cap` with the dissector loaded; one `Packet` per frame, in order.
fn tshark(cap: &Path) -> Vec<Packet> {
    tshark_with(cap, &[])
}

/// Like `tshark`, with extra options (`-o simp.port:N`).
fn tshark_with(cap: &Path, options: &[&str]) -> Vec<Packet> {
    let lua = format!("lua_script:{}", dissector().display());
    let mut args = vec!["-n", "-X", &lua, "-r", cap.to_str().unwrap(), "-T", "json"];
    args.extend_from_slice(options);
    for field in FIELDS.iter().chain(EXPERTS.iter()) {
        args.extend(["-e", field]);
    }
    let out = run("tshark", &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A script that fails to load is only reported on stderr; tshark still succeeds.
    assert!(!stderr.to_lowercase().contains("lua"), "tshark complained about the dissector:\n{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("tshark -T json output");
    doc.as_array()
        .expect("a JSON array of packets")
        .iter()
        .map(|p| Packet(p["_source"]["layers"].as_object().expect("layers").clone()))
        .collect()
}

/// simp's `escape` (`keep_lines`) and `escape_name`: bytes outside 0x20..=0x7e as `\xNN`,
/// except TAB and LF with `keep_lines`.
fn escape(bytes: &[u8], keep_lines: bool) -> String {
    let mut out = String::new();
    for &b in bytes {
        if (0x20..=0x7e).contains(&b) || (keep_lines && (b == b'\t' || b == b'\n')) {
            out.push(char::from(b));
        } else {
            write!(out, "\\x{b:02x}").unwrap();
        }
    }
    out
}

fn op_name(ty: u8, op: u8) -> &'static str {
    match (ty, op) {
        (1, 0x01) => "ERR",
        (1, 0x02) => "SYN",
        (1, 0x04) => "ACK",
        (1, 0x06) => "SYN+ACK",
        (1, 0x08) => "FIN",
        (2, 0x01) => "CHAT",
        _ => panic!("no operation {op:#04x} for type {ty:#04x}"),
    }
}

/// The Info column of a valid datagram: `SYN+ACK seq=0 bob`, `CHAT seq=1 alice: Hello`.
fn expected_info(ty: u8, op: u8, seq: u8, user: &str, payload: &[u8]) -> String {
    let mut info = format!("{} seq={seq}", op_name(ty, op));
    if !user.is_empty() {
        info = format!("{info} {user}");
    }
    if !payload.is_empty() {
        let shown = &payload[..payload.len().min(INFO_TEXT_MAX)];
        info = format!("{info}: {}", escape(shown, false));
        if payload.len() > INFO_TEXT_MAX {
            info.push_str("...");
        }
    }
    info
}

/// Checks what every packet must show, valid or not.
fn assert_dissected(name: &str, p: &Packet) {
    let protocols = p.get("frame.protocols").unwrap_or_default();
    assert!(protocols.ends_with(":udp:simp"), "{name}: not dissected as SIMP: {protocols}");
    assert!(!p.get("_ws.col.Info").unwrap_or_default().is_empty(), "{name}: empty Info column");
    assert_eq!(p.get("simp.dissector_bug"), None, "{name}: {:?}", p.all("_ws.expert.message"));
    assert_eq!(p.get("_ws.lua.error"), None, "{name}: {:?}", p.all("_ws.expert.message"));
}

#[test]
fn every_vector_decodes_as_expected() {
    let dir = TempDir::new("vectors");
    // The "empty" vector (0 bytes) is left out: text2pcap cannot write an empty packet, and
    // Wireshark's UDP dissector hands an empty payload to no sub-dissector anyway.
    let vectors: Vec<Value> = vectors().into_iter().filter(|v| v["hex"] != "").collect();
    let packets: Vec<Vec<u8>> = vectors.iter().map(|v| hex(v["hex"].as_str().unwrap())).collect();
    let decoded = tshark(&capture(&dir, &packets));
    assert_eq!(decoded.len(), vectors.len(), "one frame per vector");

    let (mut valid, mut invalid) = (0, 0);
    for ((v, bytes), p) in vectors.iter().zip(&packets).zip(&decoded) {
        let name = v["name"].as_str().unwrap();
        assert_dissected(name, p);
        // Header fields straight from the bytes (decode-only vectors do not list them).
        let (ty, op, seq) = (bytes[0], bytes[1], bytes.get(2).copied().unwrap_or_default());
        let field_u8 = |key: &str, byte: u8| v[key].as_u64().map_or(byte, |x| u8::try_from(x).unwrap());
        let (ty, op, seq) = (field_u8("type", ty), field_u8("op", op), field_u8("seq", seq));
        assert_eq!(p.get("simp.type"), Some(format!("0x{ty:02x}").as_str()), "{name}: type");
        assert_eq!(p.get("simp.op"), Some(format!("0x{op:02x}").as_str()), "{name}: op");
        assert_eq!(p.get("simp.seq"), Some(seq.to_string().as_str()), "{name}: seq");

        if v["valid"] == true {
            let payload = &bytes[HEADER_LEN..];
            let user = v["user"].as_str().unwrap();
            let text = v["payload"].as_str().unwrap();
            assert_eq!(p.get("simp.user"), Some(user), "{name}: user");
            assert_eq!(p.get("simp.length"), Some(payload.len().to_string().as_str()), "{name}: length");
            assert_eq!(p.get("simp.payload"), (!text.is_empty()).then_some(text), "{name}: payload");
            let flags = ["simp.op.err", "simp.op.syn", "simp.op.ack", "simp.op.fin"].map(|f| p.get(f));
            let expected_flags = if ty == 1 {
                [0x01, 0x02, 0x04, 0x08].map(|bit| Some(if op & bit != 0 { "1" } else { "0" }))
            } else {
                [None; 4] // flags only on control datagrams
            };
            assert_eq!(flags, expected_flags, "{name}: operation flags");
            assert_eq!(p.get("_ws.col.Info"), Some(expected_info(ty, op, seq, user, payload).as_str()), "{name}: Info");
            assert_eq!(p.all("_ws.expert.message"), Vec::<&str>::new(), "{name}: no warning on a valid datagram");
            assert_eq!(p.get("_ws.malformed"), None, "{name}");
            valid += 1;
        } else {
            let (expert, info) = INVALID
                .iter()
                .find(|(n, _, _)| *n == name)
                .map(|&(_, expert, info)| (expert, info))
                .unwrap_or_else(|| panic!("invalid vector {name} is new: add its expected warning to INVALID"));
            for e in EXPERTS {
                let expected = (e == expert).then_some("1");
                assert_eq!(p.get(e), expected, "{name}: expert {e} ({:?})", p.all("_ws.expert.message"));
            }
            assert_eq!(p.all("_ws.expert.message").len(), 1, "{name}: one warning");
            assert_eq!(p.get("_ws.expert.severity"), Some(PI_WARN), "{name}: severity");
            assert_eq!(p.get("_ws.col.Info"), Some(info), "{name}: Info");
            if bytes.len() >= HEADER_LEN {
                let length = u32::from_be_bytes(bytes[35..39].try_into().unwrap());
                assert_eq!(p.get("simp.length"), Some(length.to_string().as_str()), "{name}: length");
            } else {
                assert_eq!(p.get("simp.length"), None, "{name}: no length field in a short datagram");
            }
            invalid += 1;
        }
    }
    assert!(valid >= 20, "only {valid} valid vectors");
    assert_eq!(invalid, INVALID.len(), "every INVALID entry has a vector");
}

/// A deterministic xorshift generator, for reproducible garbage.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn garbage_and_truncated_datagrams_never_break_the_dissector() {
    let dir = TempDir::new("garbage");
    let chat = hex(vectors().iter().find(|v| v["name"] == "chat_seq0").expect("chat_seq0")["hex"].as_str().unwrap());
    // Every prefix of a chat datagram, from 1 byte to the whole.
    let mut packets: Vec<Vec<u8>> = (1..=chat.len()).map(|n| chat[..n].to_vec()).collect();
    // Random datagrams; most have a plausible type, operation and sequence so that later checks
    // are reached, and a third of them a length field that matches.
    let mut rng = Rng(0x5151_7777_0bad_cafe);
    for _ in 0..300 {
        let len = match rng.below(3) {
            0 => 1 + rng.below(HEADER_LEN),
            1 => HEADER_LEN + rng.below(8),
            _ => 1 + rng.below(300),
        };
        let mut p: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if len >= 3 && rng.below(4) != 0 {
            p[0] = [1, 2][rng.below(2)];
            p[1] = [0x01, 0x02, 0x04, 0x06, 0x08, 0x03][rng.below(6)];
            p[2] = [0, 1, 2][rng.below(3)];
        }
        if len >= HEADER_LEN && rng.below(3) == 0 {
            p[35..39].copy_from_slice(&u32::try_from(len - HEADER_LEN).unwrap().to_be_bytes());
        }
        packets.push(p);
    }
    // The largest UDP payload, with every byte value in its text.
    let mut big = chat[..35].to_vec();
    big.extend_from_slice(&u32::try_from(65_507 - HEADER_LEN).unwrap().to_be_bytes());
    big.extend((0..65_507 - HEADER_LEN).map(|i| i as u8));
    packets.push(big);

    let cap = capture(&dir, &packets);
    let decoded = tshark(&cap);
    assert_eq!(decoded.len(), packets.len(), "one frame per datagram");
    for (i, (bytes, p)) in packets.iter().zip(&decoded).enumerate() {
        let name = format!("datagram {i} ({} bytes)", bytes.len());
        assert_dissected(&name, p);
        let short = (bytes.len() < HEADER_LEN).then_some("1");
        assert_eq!(p.get("simp.short"), short, "{name}: simp.short");
        if bytes.len() >= HEADER_LEN {
            assert_eq!(p.get("simp.type"), Some(format!("0x{:02x}", bytes[0]).as_str()), "{name}: type");
            let length = u32::from_be_bytes(bytes[35..39].try_into().unwrap());
            let mismatch = (length as usize != bytes.len() - HEADER_LEN).then_some("1");
            assert_eq!(p.get("simp.length_mismatch"), mismatch, "{name}: simp.length_mismatch");
        }
    }
    let (big, last) = (&packets.last().unwrap()[HEADER_LEN..], decoded.last().unwrap());
    assert_eq!(last.get("simp.payload"), Some(escape(big, true).as_str()), "largest datagram: payload");
    let info = expected_info(2, 1, 0, "alice", big);
    assert!(info.starts_with("CHAT seq=0 alice: \\x00\\x01\\x02") && info.ends_with("..."), "{info}");
    assert_eq!(last.get("_ws.col.Info"), Some(info.as_str()), "largest datagram: Info");

    // The same capture cut by a snaplen: before the end of the header, and inside the payload.
    for snaplen in ["60", "90"] {
        let cut = dir.0.join(format!("cut{snaplen}.cap"));
        run("editcap", &["-s", snaplen, cap.to_str().unwrap(), cut.to_str().unwrap()]);
        let decoded = tshark(&cut);
        assert_eq!(decoded.len(), packets.len(), "snaplen {snaplen}: one frame per datagram");
        for (i, p) in decoded.iter().enumerate() {
            assert_dissected(&format!("snaplen {snaplen}, datagram {i}"), p);
        }
    }
}

#[test]
fn the_port_is_a_preference() {
    let dir = TempDir::new("port");
    let syn = hex(vectors().iter().find(|v| v["name"] == "syn").expect("syn")["hex"].as_str().unwrap());
    let on_9999 = capture_to_port(&dir, std::slice::from_ref(&syn), 9999);
    let protocols = tshark(&on_9999)[0].get("frame.protocols").unwrap_or_default().to_owned();
    assert!(protocols.ends_with(":udp:data"), "port 9999 is not SIMP by default: {protocols}");
    let moved = tshark_with(&on_9999, &["-o", "simp.port:9999"]);
    assert_dissected("syn to port 9999", &moved[0]);
    assert_eq!(moved[0].get("_ws.col.Info"), Some("SYN seq=0 alice"));
    let on_7777 = capture(&dir, &[syn]);
    let old = tshark_with(&on_7777, &["-o", "simp.port:9999"]);
    assert_eq!(old[0].get("simp.type"), None, "port 7777 is no longer SIMP once the preference moves it");
}
