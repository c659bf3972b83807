//! Inputs as large as engines send: Kubernetes lets annotations reach
//! 256 KiB per object, and the state (annotations included) goes to the
//! init and to every hook. Any config the kernel can hold must work, and
//! an error that quotes its input must not become a line of megabytes.

mod common;
use common::*;
use serde_json::json;

#[test]
fn a_config_with_a_megabyte_of_annotations_runs() {
    let mut b = peer_bundle(&["true"]);
    let mut notes = serde_json::Map::new();
    for i in 0..4 {
        notes.insert(
            format!("example.com/big-{i}"),
            json!("x".repeat(256 * 1024)),
        );
    }
    b.config["annotations"] = json!(notes);
    // One hook reads the whole state, one never reads it.
    let got = b.dir.join("state-seen");
    b.config["hooks"] = json!({
        "prestart": [{"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}", got.display())]}],
        "createRuntime": [{"path": "/bin/true"}]
    });
    b.run_ok();
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&got).unwrap()).expect("the hook got a cut state");
    assert_eq!(state["annotations"], json!(notes));
    b.assert_no_leftovers();
}

#[test]
fn an_error_quoting_a_huge_value_is_cut() {
    let mut b = bundle(&["true"]);
    // Not an array: the parser's error quotes the value.
    b.config["process"]["args"] = json!("A".repeat(10 << 20));
    let log = b.dir.join("log.json");
    b.write();
    let out = b
        .cmd(&[])
        .arg("--log")
        .arg(&log)
        .args([
            "--log-format",
            "json",
            "create",
            "-b",
            b.dir.to_str().unwrap(),
            &b.id,
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(e.len() < 2048, "a {} byte error", e.len());
    assert!(e.contains("process.args") && e.contains("bytes cut"), "{e}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.len() < 2048, "a {} byte log line", text.len());
    b.assert_no_leftovers();
}
