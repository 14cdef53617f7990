//! `--matrix`: a crashed, a deaf and a hung implementation are each reported, the run ends,
//! and both pages show implementations × cases with links to the diagnoses (127.110.x.y).

use std::process::Command;

#[test]
fn crashed_deaf_and_hung_implementations_are_reported_and_never_hang_the_run() {
    let dir = std::env::temp_dir().join(format!("simp-check-matrix-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let list = dir.join("matrix.toml");
    std::fs::write(
        &list,
        r#"
[[implementation]]
name = "crasher"
command = "sh -c 'echo starting on {ip}; exit 3'"

[[implementation]]
name = "deaf"
command = "sleep 30"

[[implementation]]
name = "stubborn <b>"
command = "sh -c 'trap \"\" TERM; exec sleep 30'"
drive = "none"
"#,
    )
    .expect("matrix file");
    let out = dir.join("out");
    let started = std::time::Instant::now();
    let run = Command::new(env!("CARGO_BIN_EXE_simp-check"))
        .args(["--matrix", list.to_str().expect("path"), "--out", out.to_str().expect("path")])
        .args([
            "--timeout",
            "200ms",
            "--answer-wait",
            "300ms",
            "--startup",
            "300ms",
            "2.3/fin-ack",
            "2.1/callee-syn-ack",
        ])
        .output()
        .expect("simp-check runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(started.elapsed().as_secs() < 20, "the matrix took {:?}", started.elapsed());

    assert!(stdout.contains("exited before its check (exit status 3)"), "{stdout}");
    assert!(stdout.contains("hung: still running 2 s after SIGTERM, killed"), "{stdout}");
    let log = std::fs::read_to_string(out.join("crasher.log")).expect("the crasher's log");
    assert!(log.starts_with("starting on 127."), "{log}");

    let md = std::fs::read_to_string(out.join("matrix.md")).expect("matrix.md");
    assert!(md.contains("| `2.1/callee-syn-ack` | — | [FAIL](#deaf--2.1_callee-syn-ack) |"), "{md}");
    assert!(md.contains("<a id=\"deaf--2.1_callee-syn-ack\"></a>") && md.contains("no SYN+ACK within"), "{md}");
    let html = std::fs::read_to_string(out.join("matrix.html")).expect("matrix.html");
    assert!(
        html.contains("<a href=\"#deaf--2.1_callee-syn-ack\">FAIL</a>")
            && html.contains("id=\"deaf--2.1_callee-syn-ack\"")
    );
    assert!(html.contains("stubborn &lt;b&gt;") && !html.contains("<b>"), "names are escaped");
}
