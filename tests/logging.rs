//! `--log` and `--debug` as runc writes them, which is what engines read
//! back: every line of a JSON log is one object with runc's fields
//! (level, msg, time), every text line is logrus's `time= level= msg=`;
//! the create path's timeline is there under --debug, in order; runc run
//! the same way here shows the same fields (and, on its Go side, where in
//! its source each debug line was written).

mod common;
use common::*;
use serde_json::Value;
use std::process::{Command, Stdio};

/// `run` of `b` with --debug and --log in `format`; the log's lines.
fn debug_run(runtime: &str, b: &Bundle, format: &str) -> Vec<String> {
    let log = b.dir.join(format!("{runtime}-{format}.log"));
    let root = b.dir.join(format!("{runtime}-{format}-root"));
    let bin = if runtime == "berth" { berth() } else { runtime };
    let out = Command::new(bin)
        .arg("--root")
        .arg(&root)
        .arg("--debug")
        .arg("--log")
        .arg(&log)
        .args(["--log-format", format, "run", "-b", b.dir.to_str().unwrap()])
        .arg(format!("{}-{runtime}-{format}", b.id))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{runtime}: {}", stderr(&out));
    std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn keys(line: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[test]
fn debug_logs_carry_runcs_fields_and_the_create_timeline() {
    let b = bundle(&["true"]);
    b.write();
    let lines = debug_run("berth", &b, "json");
    assert!(lines.len() > 5, "{lines:?}");
    for l in &lines {
        assert_eq!(keys(l), ["level", "msg", "time"], "{l}");
        let v: Value = serde_json::from_str(l).unwrap();
        assert!(
            ["debug", "info", "warning", "error"].contains(&v["level"].as_str().unwrap()),
            "{l}"
        );
        let t = v["time"].as_str().unwrap();
        assert!(
            t.len() == 20 && t.ends_with('Z') && t.as_bytes()[10] == b'T',
            "{t}"
        );
    }
    // The timeline, in the order create goes.
    let msgs: Vec<String> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["msg"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let at = |step: &str| {
        msgs.iter()
            .position(|m| m.starts_with(step) && m.ends_with("us"))
            .unwrap_or_else(|| panic!("no {step:?} in {msgs:?}"))
    };
    assert!(at("config loaded at") < at("init cloned at"));
    assert!(at("init cloned at") < at("state saved at"));

    // Text: logrus's key=value line.
    for l in debug_run("berth", &b, "text") {
        assert!(
            l.starts_with("time=\"") && l.contains("\" level=") && l.contains(" msg="),
            "{l}"
        );
    }

    // runc, run the same way, writes the same fields (its Go side adds
    // where in its source a debug line comes from: file and func).
    if Command::new("runc").arg("--version").output().is_ok() {
        let runc = debug_run("runc", &b, "json");
        assert!(!runc.is_empty());
        for l in &runc {
            let k = keys(l);
            for f in ["level", "msg", "time"] {
                assert!(k.iter().any(|x| x == f), "runc: {l}");
            }
        }
    }
}

#[test]
fn without_a_log_file_debug_goes_to_stderr() {
    let b = bundle(&["true"]);
    b.write();
    let out = b
        .cmd(&["--debug", "run", "-b", b.dir.to_str().unwrap(), &b.id])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.lines()
            .any(|l| l.starts_with("berth: debug: config loaded at")),
        "{err}"
    );
}
