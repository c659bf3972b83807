//! Hook mode (see main.rs): record what the hook was given and sees.

use super::tap::read;
use serde_json::Value;

/// Hook mode (see the top of the file): record what this hook was given
/// and sees, then sleep and exit as told.
pub fn record() -> ! {
    use std::io::Read;
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let dir = argv.get(2).cloned().unwrap_or_default();
    let name = argv.get(3).cloned().unwrap_or_default();
    let (mut exit, mut sleep, mut cmdline_of, mut probes) = (0, 0, None, Vec::new());
    let mut i = 4;
    while i + 1 < argv.len() {
        let v = argv[i + 1].clone();
        match argv[i].as_str() {
            "--exit" => exit = v.parse().unwrap_or(1),
            "--sleep" => sleep = v.parse().unwrap_or(0),
            "--cmdline" => cmdline_of = Some(v),
            "--probe" => probes.push(v),
            _ => break,
        }
        i += 2;
    }
    // A runtime that never closes stdin must not hang the suite: give up
    // on it after a while and record what came.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::stdin().read_to_string(&mut s);
        let _ = tx.send(s);
    });
    let stdin = rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .unwrap_or_else(|_| "<stdin not closed>".into());
    let state: Value = serde_json::from_str(&stdin).unwrap_or(Value::Null);
    let link = |p: String| {
        std::fs::read_link(p)
            .map(|x| x.display().to_string())
            .unwrap_or_default()
    };
    let kinds = ["mnt", "pid", "net", "uts", "ipc", "cgroup", "user"];
    let ns: serde_json::Map<String, Value> = kinds
        .iter()
        .map(|k| (k.to_string(), link(format!("/proc/self/ns/{k}")).into()))
        .collect();
    let state_pid = state["pid"].as_i64().filter(|p| *p > 0);
    let target_ns: serde_json::Map<String, Value> = state_pid
        .map(|pid| {
            kinds
                .iter()
                .map(|k| (k.to_string(), link(format!("/proc/{pid}/ns/{k}")).into()))
                .collect()
        })
        .unwrap_or_default();
    let cmdline = match cmdline_of.as_deref() {
        Some("state") => state_pid.map(|p| p.to_string()),
        other => other.map(String::from),
    }
    .map(|pid| {
        read(&format!("/proc/{pid}/cmdline"))
            .split_terminator('\0')
            .map(String::from)
            .collect::<Vec<_>>()
    });
    let probed: serde_json::Map<String, Value> = probes
        .iter()
        .map(|p| (p.clone(), std::path::Path::new(p).exists().into()))
        .collect();
    let env: Vec<String> = std::env::vars_os()
        .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
        .collect();
    let record = serde_json::json!({
        "name": name,
        "argv": argv,
        "env": env,
        "stdin": stdin,
        "ns": ns,
        "pid": std::process::id(),
        "target_ns": target_ns,
        "cmdline": cmdline,
        "probes": probed,
    });
    let tmp = format!("{dir}/.{name}.tmp");
    if std::fs::write(&tmp, record.to_string()).is_ok() {
        let _ = std::fs::rename(&tmp, format!("{dir}/{name}.json"));
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(format!("{dir}/order"))
    {
        use std::io::Write;
        let _ = writeln!(f, "{name}");
    }
    std::thread::sleep(std::time::Duration::from_secs(sleep));
    std::process::exit(exit)
}
