//! oci-conformance: runs many configs through a runtime with oci-check as
//! the container's process and sums up, per area, what passed, failed or
//! could not be tested here.
//!
//! usage: oci-conformance --runtime BIN [--rootfs DIR] [--checker BIN] [--keep]

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Opts {
    runtime: String,
    rootfs: PathBuf,
    checker: PathBuf,
}

fn opts() -> Opts {
    let mut args = std::env::args().skip(1);
    let mut runtime = None;
    let mut rootfs = PathBuf::from("target/test-rootfs");
    let mut checker = std::env::current_exe().unwrap().with_file_name("oci-check");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runtime" => runtime = args.next(),
            "--rootfs" => rootfs = args.next().map(PathBuf::from).unwrap_or(rootfs),
            "--checker" => checker = args.next().map(PathBuf::from).unwrap_or(checker),
            _ => {
                eprintln!("usage: oci-conformance --runtime BIN [--rootfs DIR] [--checker BIN]");
                std::process::exit(2);
            }
        }
    }
    Opts {
        runtime: runtime.unwrap_or_else(|| {
            eprintln!("oci-conformance: --runtime is required");
            std::process::exit(2)
        }),
        rootfs,
        checker,
    }
}

fn ns_link(path: &str) -> String {
    std::fs::read_link(path)
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// The runc-style default config every case starts from.
fn base(rootfs: &Path) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut ann = serde_json::Map::new();
    for f in ["pid", "net", "ipc", "uts", "mnt", "cgroup", "time", "user"] {
        ann.insert(
            format!("conformance.hostns.{f}"),
            json!(ns_link(&format!("/proc/self/ns/{f}"))),
        );
    }
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["/conformance/oci-check", "/conformance/config.json"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": rootfs, "readonly": true},
        "hostname": "conformance",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        },
        "annotations": ann
    })
}

/// Each case: a name and a change to the base config.
fn cases(work: &Path, netns_holder: &str) -> Vec<(&'static str, Value)> {
    let host_dir = work.join("host-dir");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("file"), "host\n").unwrap();
    vec![
        ("defaults", json!({})),
        (
            "user, groups, umask, capabilities, rlimits",
            json!({"process": {
            "user": {"uid": 1000, "gid": 1000, "additionalGids": [5, 20, 1000], "umask": 63},
            "capabilities": {
                "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_TIME"],
                "effective": ["CAP_KILL"],
                "permitted": ["CAP_KILL", "CAP_NET_RAW"],
                "inheritable": ["CAP_KILL", "CAP_NET_RAW"],
                "ambient": ["CAP_KILL"]},
            "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000}, {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}],
            "noNewPrivileges": false,
            "oomScoreAdj": 100,
            "cwd": "/tmp",
            "env": ["PATH=/bin", "EMPTY=", "SPACED=a b"]}}),
        ),
        (
            "root user with every capability set",
            json!({"process": {
            "capabilities": {
                "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_SETUID", "CAP_SETGID", "CAP_SYS_ADMIN"],
                "effective": ["CAP_CHOWN", "CAP_SETUID"],
                "permitted": ["CAP_CHOWN", "CAP_SETUID", "CAP_SETGID"],
                "inheritable": ["CAP_CHOWN"],
                "ambient": ["CAP_CHOWN"]}}}),
        ),
        (
            "all namespaces, time offsets, domainname",
            json!({
            "domainname": "example.org",
            "linux": {
                "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}, {"type": "time"}],
                "timeOffsets": {"monotonic": {"secs": 3600, "nanosecs": 0}, "boottime": {"secs": 86400, "nanosecs": 5}}}}),
        ),
        (
            "user namespace",
            json!({"linux": {
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}],
            "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}}),
        ),
        (
            "mounts, devices, sysctl, writable root",
            json!({
            "root": {"readonly": false},
            "mounts+": [
                {"destination": "/data/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["noexec", "nosuid", "nodev", "size=1m"]},
                {"destination": "/data/ro", "type": "bind", "source": host_dir, "options": ["rbind", "ro"]},
                {"destination": "/data/rw", "type": "bind", "source": host_dir, "options": ["bind", "noatime"]}],
            "linux": {
                "devices": [
                    {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 384, "uid": 7, "gid": 8},
                    {"path": "/dev/sub/myzero", "type": "c", "major": 1, "minor": 5},
                    {"path": "/dev/myfifo", "type": "p", "major": 0, "minor": 0}],
                "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"}}}),
        ),
        (
            "scheduler, I/O priority, personality, cgroupsPath",
            json!({
            "process": {
                "scheduler": {"policy": "SCHED_BATCH", "nice": 5},
                "ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 0}},
            "linux": {
                "personality": {"domain": "LINUX32"},
                "cgroupsPath": "/berth-conformance/scheduled"}}),
        ),
        (
            "empty lists",
            json!({
            "process": {"env": [], "rlimits": []},
            "linux": {"maskedPaths": [], "readonlyPaths": []}}),
        ),
        (
            "network namespace joined by path",
            json!({
            "linux": {"namespaces": [{"type": "pid"}, {"type": "network", "path": format!("/proc/{netns_holder}/ns/net")}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]},
            "mounts-": "/sys",
            "annotations": {"conformance.ns.net": ns_link(&format!("/proc/{netns_holder}/ns/net"))}}),
        ),
    ]
}

/// Apply a case's change: objects merge, "mounts+" appends, "mounts-"
/// drops the mounts at and under a destination.
fn patch(base: &mut Value, change: &Value) {
    let Some(obj) = change.as_object() else {
        return;
    };
    for (k, v) in obj {
        match k.as_str() {
            "mounts+" => base["mounts"]
                .as_array_mut()
                .unwrap()
                .extend(v.as_array().unwrap().iter().cloned()),
            "mounts-" => {
                let d = v.as_str().unwrap();
                base["mounts"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|m| !m["destination"].as_str().unwrap().starts_with(d));
            }
            _ if v.is_object() && base[k].is_object() => patch(&mut base[k], v),
            _ => base[k] = v.clone(),
        }
    }
}

/// The runtime driven from outside: lifecycle, state, errors, pid file,
/// hooks and cgroup placement (runtime.md), as (area, what, ok, detail).
fn outside(o: &Opts, work: &Path, rootfs: &Path) -> Vec<(String, String, bool, String)> {
    let mut out = Vec::new();
    let mut check = |area: &str, what: &str, ok: bool, detail: String| {
        out.push((area.to_string(), what.to_string(), ok, detail));
    };
    let root = work.join("state-outside");
    // Files, not pipes: a created container inherits stdio and outlives
    // the command, so a pipe would never reach end of file.
    let rt = |args: &[&str]| {
        let out_path = work.join("outside.stdout");
        let out = std::fs::File::create(&out_path).unwrap();
        let err = std::fs::File::create(work.join("outside.stderr")).unwrap();
        let ok = Command::new(&o.runtime)
            .arg("--root")
            .arg(&root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .status()
            .is_ok_and(|s| s.success());
        (ok, std::fs::read_to_string(&out_path).unwrap_or_default())
    };
    let state = |id: &str| -> Option<Value> {
        let (ok, text) = rt(&["state", id]);
        if ok {
            serde_json::from_str(&text).ok()
        } else {
            None
        }
    };
    let dir = work.join("outside");
    let hooklog = dir.join("hooklog");
    std::fs::create_dir_all(&hooklog).unwrap();
    let hook = |stage: &str, path: &Path| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("read s; echo \"$s\" > {}/{stage}.json; readlink /proc/self/ns/mnt > {}/{stage}.mnt", path.display(), path.display())]});
    let mut config = base(rootfs);
    config["process"]["args"] = json!(["sleep", "1000"]);
    config["linux"]["cgroupsPath"] = json!("/oci-conformance-outside/c1");
    config["linux"]["resources"] = json!({"memory": {"limit": 33554432}, "pids": {"limit": 64}});
    config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/hooklog", "type": "bind", "source": hooklog, "options": ["rbind"]}),
    );
    config["hooks"] = json!({
        "prestart": [hook("prestart", &hooklog)],
        "createRuntime": [hook("createRuntime", &hooklog)],
        "createContainer": [hook("createContainer", &hooklog)],
        "startContainer": [hook("startContainer", Path::new("/hooklog"))],
        "poststart": [hook("poststart", &hooklog)],
        "poststop": [hook("poststop", &hooklog)],
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let b = dir.to_str().unwrap();
    let id = format!("outside-{}", std::process::id());
    check(
        "lifecycle",
        "state of an unknown id fails",
        state("no-such-container-x").is_none(),
        String::new(),
    );
    let pid_file = dir.join("pid");
    let (ok, _) = rt(&[
        "create",
        "--bundle",
        b,
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
    ]);
    check(
        "lifecycle",
        "create succeeds",
        ok,
        std::fs::read_to_string(work.join("outside.stderr")).unwrap_or_default(),
    );
    let s = state(&id).unwrap_or(Value::Null);
    check(
        "state",
        "status is created after create",
        s["status"] == "created",
        s.to_string(),
    );
    check("state", "id", s["id"] == id.as_str(), s.to_string());
    check(
        "state",
        "bundle is the bundle's absolute path",
        s["bundle"] == b,
        s.to_string(),
    );
    check(
        "state",
        "ociVersion present",
        s["ociVersion"].is_string(),
        s.to_string(),
    );
    let pid = s["pid"].as_i64().unwrap_or(0);
    check(
        "state",
        "pid of a created container",
        pid > 0,
        s.to_string(),
    );
    let pf = std::fs::read_to_string(&pid_file).unwrap_or_default();
    check(
        "pid file",
        "digits only, the init's pid",
        pf == pid.to_string(),
        format!("{pf:?}"),
    );
    check(
        "hooks",
        "createContainer runs in the container's mount namespace",
        std::fs::read_to_string(hooklog.join("createContainer.mnt")).ok()
            == std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
                .ok()
                .map(|p| format!("{}\n", p.display())),
        String::new(),
    );
    check(
        "hooks",
        "createRuntime runs in the runtime's mount namespace",
        std::fs::read_to_string(hooklog.join("createRuntime.mnt")).ok()
            == std::fs::read_link("/proc/self/ns/mnt")
                .ok()
                .map(|p| format!("{}\n", p.display())),
        String::new(),
    );
    let hs: Value = std::fs::read_to_string(hooklog.join("createRuntime.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    check(
        "hooks",
        "the state on stdin names the container and its pid",
        hs["id"] == id.as_str() && hs["pid"] == pid,
        hs.to_string(),
    );
    let (dup, _) = rt(&["create", "--bundle", b, &id]);
    check(
        "lifecycle",
        "create with an id in use fails",
        !dup,
        String::new(),
    );
    check(
        "lifecycle",
        "and leaves the first container alone",
        state(&id).is_some_and(|s| s["status"] == "created"),
        String::new(),
    );
    let cg_mem = Path::new("/sys/fs/cgroup/memory/oci-conformance-outside/c1");
    let cg_v2 = Path::new("/sys/fs/cgroup/oci-conformance-outside/c1");
    if cg_mem.is_dir() {
        check(
            "cgroups (host)",
            "init in cgroupsPath",
            std::fs::read_to_string(cg_mem.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
                .any(|l| l == pid.to_string()),
            String::new(),
        );
        check(
            "cgroups (host)",
            "memory limit",
            std::fs::read_to_string(cg_mem.join("memory.limit_in_bytes"))
                .unwrap_or_default()
                .trim()
                == "33554432",
            String::new(),
        );
    } else if cg_v2.is_dir() {
        check(
            "cgroups (host)",
            "memory limit",
            std::fs::read_to_string(cg_v2.join("memory.max"))
                .unwrap_or_default()
                .trim()
                == "33554432",
            String::new(),
        );
    } else {
        check(
            "cgroups (host)",
            "cgroupsPath directory exists",
            false,
            "neither v1 memory nor v2 directory".into(),
        );
    }
    let (ok, _) = rt(&["start", &id]);
    check("lifecycle", "start succeeds", ok, String::new());
    check(
        "state",
        "status is running after start",
        state(&id).is_some_and(|s| s["status"] == "running"),
        String::new(),
    );
    check(
        "hooks",
        "poststart ran",
        hooklog.join("poststart.json").exists(),
        String::new(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !hooklog.join("startContainer.json").exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    check(
        "hooks",
        "startContainer ran inside the container",
        std::fs::read_to_string(hooklog.join("startContainer.mnt")).ok()
            == std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
                .ok()
                .map(|p| format!("{}\n", p.display())),
        String::new(),
    );
    let (again, _) = rt(&["start", &id]);
    check(
        "lifecycle",
        "start of a running container fails",
        !again,
        String::new(),
    );
    let (del, _) = rt(&["delete", &id]);
    check(
        "lifecycle",
        "delete of a running container fails",
        !del,
        String::new(),
    );
    let (ok, _) = rt(&["kill", &id, "KILL"]);
    check("lifecycle", "kill succeeds", ok, String::new());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while state(&id).is_some_and(|s| s["status"] != "stopped")
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    check(
        "state",
        "status is stopped after the process exits",
        state(&id).is_some_and(|s| s["status"] == "stopped"),
        String::new(),
    );
    let (ok, _) = rt(&["delete", &id]);
    check(
        "lifecycle",
        "delete of a stopped container succeeds",
        ok,
        String::new(),
    );
    check(
        "lifecycle",
        "the container is gone after delete",
        state(&id).is_none(),
        String::new(),
    );
    check(
        "hooks",
        "poststop ran after delete",
        hooklog.join("poststop.json").exists(),
        String::new(),
    );
    check(
        "cgroups (host)",
        "cgroup removed on delete",
        !cg_mem.exists() && !cg_v2.exists(),
        String::new(),
    );
    let order = [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ];
    let times: Vec<_> = order
        .iter()
        .map(|s| {
            std::fs::metadata(hooklog.join(format!("{s}.json")))
                .and_then(|m| m.modified())
                .ok()
        })
        .collect();
    check(
        "hooks",
        "all six ran, each once, in order",
        times.iter().all(|t| t.is_some()) && times.windows(2).all(|w| w[0] <= w[1]),
        format!("{times:?}"),
    );
    out
}

#[derive(Default)]
struct Area {
    passed: usize,
    failed: usize,
    skipped: Vec<String>,
}

fn main() {
    let o = opts();
    let work = std::env::temp_dir().join(format!("oci-conformance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    // A private copy of the rootfs with a mount point for the checker.
    let rootfs = work.join("rootfs");
    let st = Command::new("cp")
        .arg("-a")
        .arg(&o.rootfs)
        .arg(&rootfs)
        .status()
        .unwrap();
    assert!(st.success(), "cannot copy {}", o.rootfs.display());
    std::fs::create_dir_all(rootfs.join("conformance")).unwrap();
    let mut holder = Command::new("unshare")
        .args(["--net", "--fork", "--kill-child", "sleep", "600"])
        .spawn()
        .expect("unshare");
    let holder_child = loop {
        let kids = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", holder.id()))
            .unwrap_or_default();
        if let Some(p) = kids.split_whitespace().next() {
            break p.to_string();
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    std::thread::sleep(std::time::Duration::from_millis(20));

    let mut areas: BTreeMap<String, Area> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut broken = 0;
    for (i, (name, change)) in cases(&work, &holder_child).iter().enumerate() {
        let dir = work.join(format!("case{i}"));
        let share = dir.join("share");
        std::fs::create_dir_all(&share).unwrap();
        std::fs::copy(&o.checker, share.join("oci-check")).expect("copy oci-check");
        let mut config = base(&rootfs);
        patch(&mut config, change);
        config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/conformance", "type": "bind", "source": share, "options": ["rbind", "ro"]}));
        if name.starts_with("user, groups") {
            config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]}));
        }
        let text = serde_json::to_string_pretty(&config).unwrap();
        std::fs::write(share.join("config.json"), &text).unwrap();
        std::fs::write(dir.join("config.json"), &text).unwrap();
        let id = format!("conformance-{}-{i}", std::process::id());
        let out = Command::new(&o.runtime)
            .arg("--root")
            .arg(work.join("state"))
            .args(["run", "--bundle"])
            .arg(&dir)
            .arg(&id)
            .stdin(Stdio::null())
            .output()
            .expect("run the runtime");
        let tap = String::from_utf8_lossy(&out.stdout);
        let mut plan = false;
        for line in tap.lines() {
            if line.starts_with("1..") {
                plan = true;
                continue;
            }
            let (ok, rest) = if let Some(r) = line.strip_prefix("not ok ") {
                (false, r)
            } else if let Some(r) = line.strip_prefix("ok ") {
                (true, r)
            } else {
                continue;
            };
            let desc = rest.split_once(" - ").map(|x| x.1).unwrap_or(rest);
            let area = desc.split(':').next().unwrap_or("?").to_string();
            let a = areas.entry(area).or_default();
            if let Some((what, why)) = desc.split_once(" # SKIP ") {
                a.skipped.push(format!("{what} ({why})"));
            } else if ok {
                a.passed += 1;
            } else {
                a.failed += 1;
                failures.push(format!("[{name}] {desc}"));
            }
        }
        if !plan {
            broken += 1;
            failures.push(format!(
                "[{name}] the container did not report (exit {:?}): {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let _ = Command::new(&o.runtime)
            .arg("--root")
            .arg(work.join("state"))
            .args(["delete", "--force", &id])
            .stderr(Stdio::null())
            .status();
    }
    let _ = holder.kill();
    let _ = holder.wait();
    for (area, what, ok, detail) in outside(&o, &work, &rootfs) {
        let a = areas.entry(area.clone()).or_default();
        if ok {
            a.passed += 1;
        } else {
            a.failed += 1;
            failures.push(format!("[outside] {area}: {what} {detail}"));
        }
    }

    println!(
        "conformance of {} ({} cases)",
        o.runtime,
        cases(&work, &holder_child).len()
    );
    println!(
        "{:<16} {:>6} {:>6} {:>8}",
        "area", "passed", "failed", "n/a here"
    );
    for (name, a) in &areas {
        println!(
            "{name:<16} {:>6} {:>6} {:>8}",
            a.passed,
            a.failed,
            a.skipped.len()
        );
    }
    for (name, a) in &areas {
        let mut seen: BTreeMap<&String, usize> = BTreeMap::new();
        for s in &a.skipped {
            *seen.entry(s).or_default() += 1;
        }
        for (s, n) in seen {
            println!("n/a here: {s} (x{n})");
        }
        let _ = name;
    }
    for f in &failures {
        println!("FAILED: {f}");
    }
    let _ = std::fs::remove_dir_all(&work);
    let failed: usize = areas.values().map(|a| a.failed).sum();
    println!(
        "{} passed, {} failed",
        areas.values().map(|a| a.passed).sum::<usize>(),
        failed + broken
    );
    std::process::exit(if failed + broken == 0 { 0 } else { 1 });
}
