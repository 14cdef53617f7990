//! The command line: exit codes, selection, and the files it writes (--json, --junit, --pcap,
//! the captures decoded by the project's Wireshark dissector when tshark is installed).
//! Targets on 127.92.0.x.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::faulty::{Fault, FaultyPeer};
use support::{ip, TIMEOUT};

fn simp_check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simp-check")).args(args).output().expect("simp-check runs")
}

fn against(target: &FaultyPeer, source: &str, extra: &[&str]) -> Output {
    let (udp, client) = (target.udp.to_string(), target.client.port().to_string());
    let mut args = vec!["--timeout", "200ms", "--answer-wait", "1s", "--drive", "course", "--client-port", &client];
    args.extend_from_slice(&["--source", source, &udp]);
    args.extend_from_slice(extra);
    simp_check(&args)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("simp-check-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

#[test]
fn bad_flags_exit_2_and_list_exits_0() {
    assert_eq!(simp_check(&["--no-such-flag"]).status.code(), Some(2));
    assert_eq!(simp_check(&["127.0.0.1", "9.9/nothing"]).status.code(), Some(2));
    assert_eq!(simp_check(&["not-an-address"]).status.code(), Some(2));
    let remote = simp_check(&["192.0.2.1"]);
    assert_eq!(remote.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&remote.stderr).contains("not a 127.x.y.z address"));
    let list = simp_check(&["--list", "2.2"]);
    assert_eq!(list.status.code(), Some(0));
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("2.2/retransmit") && !text.contains("2.1/"), "{text}");
}

#[test]
fn a_conformant_target_exits_0() {
    let target = FaultyPeer::start(ip(92, 1), None, TIMEOUT);
    let out = against(&target, "127.93.0.1", &["1", "2.3"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("PASS    2.3/fin-ack") && stdout.contains("every MUST passed"), "{stdout}");
}

#[test]
fn a_failure_exits_1_with_its_diagnosis_wire_log_and_files() {
    let target = FaultyPeer::start(ip(92, 2), Some(Fault::FixedSeqAck), TIMEOUT);
    let dir = scratch("files");
    let (json, junit, pcaps) = (dir.join("report.json"), dir.join("junit.xml"), dir.join("pcap"));
    let out = against(
        &target,
        "127.94.0.1",
        &["2.2/ack-echoes-seq", "2.3/fin-ack", "--json", path(&json), "--junit", path(&junit), "--pcap", path(&pcaps)],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL    2.2/ack-echoes-seq"), "{stdout}");
    assert!(stdout.contains("your ACK carries seq 0 for a chat datagram with seq 1; SPEC 2.2"), "{stdout}");
    assert!(stdout.contains("wire log") && stdout.contains("CHAT seq=1"), "{stdout}");

    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("valid JSON");
    assert_eq!(report["results"][0]["outcome"], "FAIL");
    assert_eq!(report["results"][1]["outcome"], "PASS");
    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert!(xml.contains("<failure") && xml.contains("2.2/ack-echoes-seq") && xml.contains("tests=\"2\""), "{xml}");

    let capture = pcaps.join("2.2_ack-echoes-seq.pcap");
    assert!(capture.exists() && !pcaps.join("2.3_fin-ack.pcap").exists());
    decoded_by_the_dissector(&capture, target.udp.port());
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// tshark with contrib/wireshark/simp.lua decodes every datagram of the capture as SIMP.
fn decoded_by_the_dissector(capture: &Path, port: u16) {
    let lua = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contrib/wireshark/simp.lua");
    let out = Command::new("tshark")
        .args(["-X", &format!("lua_script:{}", lua.display()), "-o", &format!("simp.port:{port}")])
        .args(["-r", path(capture), "-T", "fields", "-e", "simp.type", "-e", "simp.seq"])
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            println!("tshark is not available ({e}): the capture's decoding is not checked here");
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "tshark failed: {}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 6, "every datagram of the case is in the capture: {text}");
    assert!(lines.iter().all(|l| l.starts_with("0x")), "every datagram decodes as SIMP: {text}");
}

#[test]
fn ctrl_c_prints_the_partial_report_and_exits_1() {
    let target = FaultyPeer::start(ip(92, 3), None, TIMEOUT);
    let (udp, client) = (target.udp.to_string(), target.client.port().to_string());
    let child = Command::new(env!("CARGO_BIN_EXE_simp-check"))
        .args(["--timeout", "200ms", "--drive", "course", "--client-port", &client, "--source", "127.96.0.1", &udp])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("simp-check runs");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let signal = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill(1)");
    assert!(signal.success());
    let out = child.wait_with_output().expect("simp-check ends after Ctrl-C");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("PASS    1/header-size"), "cases run before Ctrl-C are reported: {stdout}");
    assert!(stdout.contains("NOT RUN") && stdout.contains("(interrupted)"), "{stdout}");
}
