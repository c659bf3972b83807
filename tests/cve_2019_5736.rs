//! CVE-2019-5736: a process in the container opens /proc/<pid>/exe of a
//! runtime process it can see (one entering the container for `exec`, an
//! init waiting in "created" in a pid namespace it shares, an init in a
//! new user namespace seen from the host's pid namespace, the parent of a
//! startContainer hook), keeps the handle, and reopens it for writing
//! once the runtime has exited, which overwrites the host's runtime
//! binary. Every berth process runs from a read-only detached mount of
//! its binary (src/linux/selfcopy.rs), so the reopen fails with EROFS
//! whoever manages the open. With BERTH_TEST_RUNTIME the attack targets a
//! copy of that runtime instead (see tests/common).

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
        self.run_in(&b.root, &b.dir, args)
    }

    /// `run` with the state root and the bundle dir (for stderr) given.
    fn run_in(&self, root: &Path, dir: &Path, args: &[&str]) -> std::io::Result<Output> {
        let err = dir.join(format!("runtime-{}.stderr", std::process::id()));
        let status = runtime_command(&self.bin)
            .arg("--root")
            .arg(root)
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

/// How the attacker gets into its container.
enum Attacker {
    /// As the container's own process.
    Init,
    /// `exec -d` into a container running `sleep`, with extra capabilities.
    Exec(&'static [&'static str]),
}

/// Run the attacker in its container for `secs` while `drive(round, init)`
/// makes the runtime do what the attacker waits for (`init`: the attacker
/// container's init pid, as the host sees it); returns the attacker's
/// report. The attacker reports with the runtime copy's name, which it
/// counts processes by, and the device and inode it must not write.
fn attack_with(
    rt: &Runtime,
    attacker: &mut Bundle,
    how: Attacker,
    secs: u64,
    mut drive: impl FnMut(u32, i64),
) -> String {
    let meta = std::fs::metadata(&rt.bin).unwrap();
    let out_dir = attacker.dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    attacker.with_sysprobe();
    attacker.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/tmp/out", "type": "bind", "source": out_dir, "options": ["bind"]}),
    );
    let script = format!(
        "/tmp/sysprobe exe-attack {} {} {secs} {} > /tmp/out/report.tmp; mv /tmp/out/report.tmp /tmp/out/report",
        meta.dev(),
        meta.ino(),
        runtime_name()
    );
    attacker.config["process"]["args"] = match how {
        Attacker::Init => json!(["sh", "-c", script]),
        Attacker::Exec(_) => json!(["sleep", "1000"]),
    };
    attacker.write();
    let (dir, id) = (attacker.dir.to_str().unwrap(), attacker.id.as_str());
    rt.ok(attacker, &["create", "-b", dir, id]);
    rt.ok(attacker, &["start", id]);
    if let Attacker::Exec(caps) = how {
        let mut args = vec!["exec", "-d"];
        for c in caps {
            args.extend(["--cap", c]);
        }
        args.extend([id, "sh", "-c", &script]);
        rt.ok(attacker, &args);
    }
    let init = attacker.state()["pid"].as_i64().unwrap();

    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut round = 0;
    while Instant::now() + Duration::from_millis(1500) < deadline {
        drive(round, init);
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

/// A bundle for the runtime copy whose init joins pid namespace of `init`.
fn in_pid_namespace_of(init: i64, args: &[&str], round: u32) -> Bundle {
    let mut other = peer_bundle(args);
    other.id = format!("{}-{round}", other.id);
    other.config["linux"]["namespaces"] = json!([
        {"type": "pid", "path": format!("/proc/{init}/ns/pid")},
        {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}
    ]);
    other.write();
    other
}

/// Run the attacker in a container for `secs` while the runtime execs into it
/// and creates a second container in its pid namespace; returns the
/// attacker's report.
fn attack(rt: &Runtime, attacker: &mut Bundle, secs: u64) -> String {
    let id = attacker.id.clone();
    let (root, dir) = (attacker.root.clone(), attacker.dir.clone());
    attack_with(rt, attacker, Attacker::Init, secs, |round, init| {
        // An exec: its process runs the runtime until it execs `true`.
        // Failures here are the attack's effects: the verdict comes at
        // the end.
        for _ in 0..5 {
            let _ = rt.run_in(&root, &dir, &["exec", &id, "true"]);
        }
        // A container whose init shares the attacker's pid namespace and
        // waits, running the runtime, in "created".
        let other = in_pid_namespace_of(init, &["true"], round);
        let _ = rt.run(
            &other,
            &["create", "-b", other.dir.to_str().unwrap(), &other.id],
        );
        std::thread::sleep(Duration::from_millis(500));
        let _ = rt.run(&other, &["start", &other.id]);
    })
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
/// have) passes the non-dumpable check: the attacker can open the binary,
/// but only through its read-only mount.
#[test]
fn a_container_with_cap_sys_ptrace_cannot_overwrite_the_runtime_binary() {
    let mut caps = DOCKER_CAPS.to_vec();
    caps.push("CAP_SYS_PTRACE");
    let (unchanged, report) = attack_as(&caps);
    assert!(unchanged, "the runtime binary was modified: {report}");
    assert_eq!(field(&report, "wrote"), 0, "{report}");
}

fn assert_not_written(rt: &Runtime, report: &str) {
    assert!(rt.unchanged(), "the runtime binary was modified: {report}");
    assert_eq!(field(report, "wrote"), 0, "{report}");
}

/// A Kubernetes `shareProcessNamespace` pod: container B joins the pid
/// namespace of A, whose attacker has CAP_SYS_PTRACE; every `exec B`
/// shows the runtime to A, whatever B's own capabilities.
#[test]
fn exec_into_a_container_sharing_the_attackers_pid_namespace_cannot_expose_the_binary() {
    let mut a = peer_bundle(&[]);
    let mut caps = DOCKER_CAPS.to_vec();
    caps.push("CAP_SYS_PTRACE");
    a.config["process"]["capabilities"] =
        json!({"bounding": caps, "effective": caps, "permitted": caps});
    let rt = Runtime::copy_into(&a.dir);
    let mut b = None;
    let report = attack_with(&rt, &mut a, Attacker::Init, 6, |_, init| {
        let b = b.get_or_insert_with(|| {
            let b = in_pid_namespace_of(init, &["sleep", "1000"], 0);
            rt.ok(&b, &["run", "-d", "-b", b.dir.to_str().unwrap(), &b.id]);
            b
        });
        for _ in 0..5 {
            let _ = rt.run(b, &["exec", &b.id, "true"]);
        }
    });
    drop(b);
    assert_not_written(&rt, &report);
    assert!(field(&report, "seen") >= 1, "{report}");
}

/// The attacker gets CAP_SYS_PTRACE from an `exec --cap`, which the
/// container's config never had; the exec probes that follow (Kubernetes
/// runs one every few seconds) show it the runtime.
#[test]
fn exec_after_an_exec_with_cap_sys_ptrace_cannot_expose_the_binary() {
    let mut a = peer_bundle(&[]);
    let rt = Runtime::copy_into(&a.dir);
    let (root, dir, id) = (a.root.clone(), a.dir.clone(), a.id.clone());
    let report = attack_with(
        &rt,
        &mut a,
        Attacker::Exec(&["CAP_SYS_PTRACE"]),
        6,
        |_, _| {
            for _ in 0..5 {
                let _ = rt.run_in(&root, &dir, &["exec", &id, "true"]);
            }
        },
    );
    assert_not_written(&rt, &report);
    assert!(field(&report, "seen") >= 1, "{report}");
}

/// An attacker with no capabilities at all, root in a container that
/// shares the host's pid namespace, while the runtime runs containers
/// with a user namespace: until the init's id maps are written, it may
/// be dumpable, and the attacker's uid owns its user namespace.
#[test]
fn the_user_namespace_window_of_create_cannot_expose_the_binary() {
    let mut a = peer_bundle(&[]);
    a.config["process"]["capabilities"] = json!({"bounding": [], "effective": [], "permitted": []});
    a.config["linux"]["namespaces"] =
        json!([{"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}]);
    let rt = Runtime::copy_into(&a.dir);
    let report = attack_with(&rt, &mut a, Attacker::Init, 6, |round, _| {
        let mut v = peer_bundle(&["true"]);
        v.id = format!("{}-{round}", v.id);
        let ns = v.config["linux"]["namespaces"].as_array_mut().unwrap();
        ns.push(json!({"type": "user"}));
        let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        v.config["linux"]["uidMappings"] = map.clone();
        v.config["linux"]["gidMappings"] = map;
        v.write();
        for _ in 0..3 {
            let _ = rt.run(&v, &["run", "-b", v.dir.to_str().unwrap(), &v.id]);
        }
        // start on its own too: the runtime's process that releases the
        // init is in the attacker's (the host's) pid namespace as well.
        let _ = rt.run(&v, &["create", "-b", v.dir.to_str().unwrap(), &v.id]);
        let _ = rt.run(&v, &["start", &v.id]);
        std::thread::sleep(Duration::from_millis(50));
        let _ = rt.run(&v, &["delete", "--force", &v.id]);
    });
    assert_not_written(&rt, &report);
    assert!(field(&report, "seen") >= 1, "{report}");
}

/// A startContainer hook runs inside the container while the init is
/// still the runtime: it opens its parent's exe, and a child it leaves
/// behind reopens that for writing once the container program runs.
#[test]
fn a_start_container_hook_cannot_keep_the_binary_open() {
    let mut b = peer_bundle(&["sleep", "1000"]);
    let mut caps = DOCKER_CAPS.to_vec();
    caps.push("CAP_SYS_PTRACE");
    b.config["process"]["capabilities"] =
        json!({"bounding": caps, "effective": caps, "permitted": caps});
    let rt = Runtime::copy_into(&b.dir);
    let meta = std::fs::metadata(&rt.bin).unwrap();
    let out_dir = b.dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    b.with_sysprobe();
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/tmp/out", "type": "bind", "source": out_dir, "options": ["bind"]}),
    );
    let (dev, ino) = (meta.dev().to_string(), meta.ino().to_string());
    b.config["hooks"] = json!({"startContainer": [{
        "path": "/tmp/sysprobe",
        "args": ["sysprobe", "exe-hold", dev, ino, "4", "/tmp/out/report"]
    }]});
    b.write();
    rt.ok(&b, &["create", "-b", b.dir.to_str().unwrap(), &b.id]);
    rt.ok(&b, &["start", &b.id]);
    let report = out_dir.join("report");
    let until = Instant::now() + Duration::from_secs(15);
    while !report.exists() {
        if Instant::now() >= until {
            // What there is to see, for a failure seen once on crun.
            let files: Vec<_> = std::fs::read_dir(&out_dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            let state = rt.run(&b, &["state", &b.id]).map(|o| o.status);
            panic!("the hook's child never reported: out has {files:?}, state: {state:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let report = std::fs::read_to_string(report).unwrap();
    b.ok(&["delete", "--force", &b.id]);
    assert_not_written(&rt, &report);
    // The hook could open its parent's exe: the attack had its chance.
    assert_eq!(field(&report, "parent"), 1, "{report}");
}
