//! CVE-2019-5736: a process in the container opens /proc/<pid>/exe of a
//! runtime process it can see (one entering the container for `exec`, or
//! an init waiting in "created" in a pid namespace it shares), keeps the
//! handle, and reopens it for writing once the runtime has exited, which
//! overwrites the host's runtime binary. berth's processes are non-dumpable
//! from birth until they exec the container's program, so the open is
//! refused. With BERTH_TEST_RUNTIME the attack targets a copy of that
//! runtime instead (see tests/common).

mod common;
use common::*;
use serde_json::json;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// The runtime run from a private copy: the attack's target, so that a
/// success cannot damage the binary the other tests use.
struct Runtime {
    bin: PathBuf,
    original: Vec<u8>,
}

impl Runtime {
    fn copy_into(dir: &Path) -> Runtime {
        let bin = dir.join(runtime_name());
        std::fs::copy(runtime(), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let original = std::fs::read(&bin).unwrap();
        Runtime { bin, original }
    }

    /// Every stdio away from pipes: a container's init inherits them.
    /// Err when the binary cannot even be executed: ETXTBSY means someone
    /// holds it open for writing, which only a successful attack does.
    fn run(&self, b: &Bundle, args: &[&str]) -> std::io::Result<Output> {
        let err = b.dir.join("runtime.stderr");
        let status = runtime_command(&self.bin)
            .arg("--root")
            .arg(&b.root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .status()?;
        Ok(Output {
            status,
            stdout: Vec::new(),
            stderr: std::fs::read(&err).unwrap(),
        })
    }

    fn ok(&self, b: &Bundle, args: &[&str]) {
        let out = self.run(b, args).unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }

    fn unchanged(&self) -> bool {
        std::fs::read(&self.bin).unwrap() == self.original
    }
}

/// Run the attacker in a container for `secs` while the runtime execs into it
/// and creates a second container in its pid namespace; returns the
/// attacker's report.
fn attack(rt: &Runtime, attacker: &mut Bundle, secs: u64) -> String {
    let meta = std::fs::metadata(&rt.bin).unwrap();
    let out_dir = attacker.dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    attacker.with_sysprobe();
    attacker.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/tmp/out", "type": "bind", "source": out_dir, "options": ["bind"]}),
    );
    attacker.config["process"]["args"] = json!([
        "sh",
        "-c",
        format!(
            "/tmp/sysprobe exe-attack {} {} {secs} {} > /tmp/out/report.tmp; mv /tmp/out/report.tmp /tmp/out/report",
            meta.dev(),
            meta.ino(),
            runtime_name()
        )
    ]);
    attacker.write();
    let (dir, id) = (attacker.dir.to_str().unwrap(), attacker.id.as_str());
    rt.ok(attacker, &["create", "-b", dir, id]);
    rt.ok(attacker, &["start", id]);
    let init = attacker.state()["pid"].as_i64().unwrap();

    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut round = 0;
    while Instant::now() + Duration::from_millis(1500) < deadline {
        // An exec: its process runs the runtime until it execs `true`. Failures
        // here are the attack's effects: the verdict comes at the end.
        for _ in 0..5 {
            let _ = rt.run(attacker, &["exec", id, "true"]);
        }
        // A container whose init shares the attacker's pid namespace and
        // waits, running the runtime, in "created".
        let mut other = peer_bundle(&["true"]);
        other.id = format!("{}-{round}", other.id);
        other.config["linux"]["namespaces"] = json!([
            {"type": "pid", "path": format!("/proc/{init}/ns/pid")},
            {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}
        ]);
        other.write();
        let _ = rt.run(
            &other,
            &["create", "-b", other.dir.to_str().unwrap(), &other.id],
        );
        std::thread::sleep(Duration::from_millis(500));
        let _ = rt.run(&other, &["start", &other.id]);
        round += 1;
    }
    let report = out_dir.join("report");
    let until = Instant::now() + Duration::from_secs(secs + 10);
    while !report.exists() {
        assert!(Instant::now() < until, "the attacker never reported");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The runtime's original cleans up: the copy may be damaged.
    attacker.ok(&["delete", "--force", id]);
    std::fs::read_to_string(report).unwrap()
}

fn field(report: &str, name: &str) -> u64 {
    report
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

/// The attack from a root container with these capabilities; returns the
/// attacker's report once the runtime binary has been checked.
fn attack_as(caps: &[&str]) -> (bool, String) {
    let mut b = peer_bundle(&[]);
    let caps = json!(caps);
    b.config["process"]["capabilities"] =
        json!({"bounding": caps, "effective": caps, "permitted": caps});
    let rt = Runtime::copy_into(&b.dir);
    let report = attack(&rt, &mut b, 6);
    (rt.unchanged(), report)
}

#[test]
fn a_container_cannot_open_or_overwrite_the_runtime_binary() {
    // Root with Docker's default capabilities (no CAP_SYS_PTRACE). With
    // berth's PR_SET_DUMPABLE(0) taken out, this run opens the binary
    // through the waiting init and overwrites it (opened=22 wrote=589559).
    let (unchanged, report) = attack_as(DOCKER_CAPS);
    assert!(unchanged, "the runtime binary was modified: {report}");
    assert_eq!(field(&report, "wrote"), 0, "{report}");
    assert_eq!(field(&report, "opened"), 0, "{report}");
    // It did see the runtime's processes: the window was there to attack.
    assert!(field(&report, "seen") >= 1, "{report}");
}

/// CAP_SYS_PTRACE (which `--cap-add SYS_PTRACE` and privileged containers
/// have) passes the non-dumpable check: berth then runs from a sealed
/// memfd copy of itself, which the attacker can open but not write.
#[test]
fn a_container_with_cap_sys_ptrace_cannot_overwrite_the_runtime_binary() {
    let mut caps = DOCKER_CAPS.to_vec();
    caps.push("CAP_SYS_PTRACE");
    let (unchanged, report) = attack_as(&caps);
    assert!(unchanged, "the runtime binary was modified: {report}");
    assert_eq!(field(&report, "wrote"), 0, "{report}");
}
