//! oci-conformance: runs many configs through a runtime with oci-check as
//! the container's process, drives the runtime from outside (lifecycle,
//! state, hooks), and sums up, per area, what passed, failed or cannot be
//! tested on this host and why.
//!
//! usage: oci-conformance --runtime BIN [--preload LIB] [--rootfs DIR]
//!                        [--checker BIN] [--all]
//!
//! --preload sets LD_PRELOAD for every runtime call (crun 1.8.1 on a
//! hybrid-cgroup host needs ../shared/tools/crun-hybrid-shim.c); --all
//! prints every check's outcome before the summary.

mod hooks;
mod outside;
mod report;

use report::Report;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Opts {
    runtime: Runtime,
    rootfs: PathBuf,
    checker: PathBuf,
    all: bool,
    /// Only the configs whose name holds this (any case), without the lifecycle
    /// and hook checks: a boot that differs from another in one feature.
    only: Option<String>,
}

/// How to call the runtime under test.
pub struct Runtime {
    pub bin: String,
    pub preload: Option<PathBuf>,
}

impl Runtime {
    /// The runtime with `--root` and any global flags, ready for a command.
    pub fn command(&self, root: &Path, global: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        if let Some(p) = &self.preload {
            c.env("LD_PRELOAD", p);
        }
        c.args(global).arg("--root").arg(root);
        c
    }
}

fn opts() -> Opts {
    let mut args = std::env::args().skip(1);
    let mut runtime = None;
    let mut preload = None;
    let mut all = false;
    let mut only = None;
    let mut rootfs = PathBuf::from("target/test-rootfs");
    let mut checker = std::env::current_exe().unwrap().with_file_name("oci-check");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runtime" => runtime = args.next(),
            "--preload" => preload = args.next().map(PathBuf::from),
            "--rootfs" => rootfs = args.next().map(PathBuf::from).unwrap_or(rootfs),
            "--checker" => checker = args.next().map(PathBuf::from).unwrap_or(checker),
            "--all" => all = true,
            "--only" => only = args.next(),
            _ => {
                eprintln!(
                    "usage: oci-conformance --runtime BIN [--preload LIB] [--rootfs DIR] [--checker BIN] [--all] [--only NAME]"
                );
                std::process::exit(2);
            }
        }
    }
    // An LD_PRELOAD that does not load would only make the runtime warn
    // and go on: a wrong path must stop the run instead.
    if let Some(p) = &preload
        && !(p.is_absolute() && p.is_file())
    {
        eprintln!(
            "oci-conformance: --preload {}: not an absolute path to a file",
            p.display()
        );
        std::process::exit(2);
    }
    Opts {
        runtime: Runtime {
            bin: runtime.unwrap_or_else(|| {
                eprintln!("oci-conformance: --runtime is required");
                std::process::exit(2)
            }),
            preload,
        },
        rootfs,
        checker,
        all,
        only,
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

/// Whether this host can run a case (if not, why), and the checks (area,
/// what) that are then not applicable here.
type Needs = (Result<(), String>, Vec<(&'static str, &'static str)>);

/// One config run through the runtime with oci-check as its process.
struct Case {
    name: &'static str,
    /// A change to the base config (see `patch`).
    change: Value,
    /// Global runtime flags this case needs (before the command).
    global: Vec<&'static str>,
    needs: Option<Needs>,
}

fn case(name: &'static str, change: Value) -> Case {
    Case {
        name,
        change,
        global: Vec::new(),
        needs: None,
    }
}

/// Host features some cases need, each with the reason it is missing.
fn host_has(what: &str) -> Result<(), String> {
    let exists = |p: &str| Path::new(p).exists();
    match what {
        "time namespace" if !exists("/proc/self/ns/time") => {
            Err("the kernel has no time namespaces (no /proc/self/ns/time)".into())
        }
        "apparmor" if !exists("/sys/kernel/security/apparmor") => {
            Err("AppArmor is not enabled on this host (no /sys/kernel/security/apparmor)".into())
        }
        "selinux" if !exists("/sys/fs/selinux/enforce") => {
            Err("SELinux is not enabled on this host (no /sys/fs/selinux)".into())
        }
        "cgroup v2" if !exists("/sys/fs/cgroup/cgroup.controllers") => {
            Err("this host's cgroups are v1 or hybrid; cgroup v2 files need a pure v2 host".into())
        }
        "systemd" if !exists("/run/systemd/system") => {
            Err("systemd is not PID 1 on this host (no /run/systemd/system)".into())
        }
        _ => Ok(()),
    }
}

/// The mount option cases: fresh tmpfs mounts for the flags and sync,
/// binds of a directory with a submount for bind/rbind and propagation.
fn mount_option_mounts(src: &Path) -> Value {
    let tmpfs = |dest: &str, opts: &[&str]| json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": opts});
    let bind = |dest: &str, opts: &[&str]| json!({"destination": dest, "type": "bind", "source": src, "options": opts});
    json!([
        tmpfs("/m/ro", &["ro"]),
        tmpfs("/m/rw", &["rw"]),
        tmpfs("/m/ro-then-rw", &["ro", "rw"]),
        tmpfs("/m/nosuid", &["nosuid"]),
        tmpfs("/m/suid", &["nosuid", "suid"]),
        tmpfs("/m/nodev", &["nodev"]),
        tmpfs("/m/dev", &["nodev", "dev"]),
        tmpfs("/m/noexec", &["noexec"]),
        tmpfs("/m/exec", &["noexec", "exec"]),
        tmpfs("/m/sync", &["sync"]),
        tmpfs("/m/noatime", &["noatime"]),
        tmpfs("/m/relatime", &["relatime"]),
        tmpfs("/m/strictatime", &["strictatime"]),
        bind("/m/bind", &["bind"]),
        bind("/m/rbind", &["rbind"]),
        bind(
            "/m/bind-flags",
            &["rbind", "ro", "nosuid", "nodev", "noexec", "noatime"]
        ),
        bind("/m/private", &["rbind", "private"]),
        bind("/m/rprivate", &["rbind", "rprivate"]),
        bind("/m/shared", &["rbind", "shared"]),
        bind("/m/rshared", &["rbind", "rshared"]),
        bind("/m/slave", &["rbind", "slave"]),
        bind("/m/rslave", &["rbind", "rslave"]),
        bind("/m/unbindable", &["rbind", "unbindable"]),
        bind("/m/runbindable", &["rbind", "runbindable"])
    ])
}

fn cases(work: &Path, netns_holder: &str, submount_src: &Path) -> Vec<Case> {
    let host_dir = work.join("host-dir");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("file"), "host\n").unwrap();
    let all_caps = json!([
        "CAP_AUDIT_WRITE",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_ADMIN"
    ]);
    let mut c = vec![
        case("defaults", json!({})),
        case(
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
            "env": ["PATH=/bin", "EMPTY=", "SPACED=a b"]},
            "mounts+": [{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]}]}),
        ),
        case(
            "root user with every capability set",
            json!({"process": {
            "capabilities": {
                "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_SETUID", "CAP_SETGID", "CAP_SYS_ADMIN"],
                "effective": ["CAP_CHOWN", "CAP_SETUID"],
                "permitted": ["CAP_CHOWN", "CAP_SETUID", "CAP_SETGID"],
                "inheritable": ["CAP_CHOWN"],
                "ambient": ["CAP_CHOWN"]}}}),
        ),
        case(
            "all namespaces but time, domainname",
            json!({
            "domainname": "example.org",
            "linux": {
                "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}]}}),
        ),
        Case {
            needs: Some((
                host_has("time namespace"),
                vec![
                    ("time namespace", "monotonic"),
                    ("time namespace", "boottime"),
                ],
            )),
            ..case(
                "time namespace with offsets",
                json!({"linux": {
                "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "time"}],
                "timeOffsets": {"monotonic": {"secs": 3600, "nanosecs": 0}, "boottime": {"secs": 86400, "nanosecs": 5}}}}),
            )
        },
        case(
            "user namespace",
            json!({"linux": {
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}],
            "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}}),
        ),
        case(
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
        case(
            "mount options and propagation",
            json!({
            "mounts+": mount_option_mounts(submount_src),
            "annotations": {format!("conformance.submount:{}", submount_src.display()): "sub"}}),
        ),
        case(
            "scheduler, I/O priority, personality, cgroupsPath",
            json!({
            "process": {
                "scheduler": {"policy": "SCHED_BATCH", "nice": 5},
                "ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 0}},
            "linux": {
                "personality": {"domain": "LINUX32"},
                "cgroupsPath": format!("/oci-conformance-{}/scheduled", std::process::id())}}),
        ),
        case(
            "resources seen from inside",
            json!({"linux": {
                "cgroupsPath": format!("/oci-conformance-{}/resources", std::process::id()),
                "resources": {"memory": {"limit": 67108864}, "pids": {"limit": 99}}}}),
        ),
        case(
            "empty lists",
            json!({
            "process": {
                "env": [], "rlimits": [],
                "user": {"uid": 0, "gid": 0, "additionalGids": []},
                "capabilities": {"bounding": [], "effective": [], "permitted": [], "inheritable": [], "ambient": []}},
            "linux": {"maskedPaths": [], "readonlyPaths": [], "devices": [], "sysctl": {}},
            "hooks": {"prestart": [], "createRuntime": [], "createContainer": [], "startContainer": [], "poststart": [], "poststop": []}}),
        ),
        // Not even /proc: the checker (which then mounts one itself) and
        // its config are put in the rootfs instead of bind-mounted.
        case(
            "no mounts at all",
            json!({
            "mounts": [],
            "process": {"capabilities": {"bounding": all_caps, "effective": all_caps, "permitted": all_caps}},
            "linux": {"maskedPaths": [], "readonlyPaths": []}}),
        ),
        case(
            "network namespace joined by path",
            json!({
            "linux": {"namespaces": [{"type": "pid"}, {"type": "network", "path": format!("/proc/{netns_holder}/ns/net")}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]},
            "mounts-": "/sys",
            "annotations": {"conformance.ns.net": ns_link(&format!("/proc/{netns_holder}/ns/net"))}}),
        ),
    ];
    // What this host may lack: each still shows, as not applicable here.
    c.push(Case {
        needs: Some((
            host_has("apparmor"),
            vec![("apparmor", "process.apparmorProfile")],
        )),
        ..case(
            "AppArmor profile",
            json!({"process": {"apparmorProfile": "unconfined"}}),
        )
    });
    c.push(Case {
        needs: Some((
            host_has("selinux"),
            vec![
                ("selinux", "process.selinuxLabel"),
                ("selinux", "linux.mountLabel on /dev"),
            ],
        )),
        ..case(
            "SELinux labels",
            // Types every reference-derived policy has (Debian's default
            // has no container_t), with MCS categories as engines give.
            json!({
            "process": {"selinuxLabel": "system_u:system_r:unconfined_t:s0:c1,c2"},
            "linux": {"mountLabel": "system_u:object_r:tmpfs_t:s0:c1,c2"}}),
        )
    });
    c.push(Case {
        needs: Some((
            host_has("cgroup v2"),
            vec![
                ("cgroups", "resources memory limit in memory.max"),
                ("cgroups", "resources pids limit in pids.max"),
                ("cgroups", "unified memory.high"),
            ],
        )),
        ..case(
            "cgroup v2 files",
            json!({"linux": {
                "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
                "cgroupsPath": format!("/oci-conformance-{}/v2", std::process::id()),
                "resources": {"memory": {"limit": 67108864}, "pids": {"limit": 99}, "unified": {"memory.high": "50331648"}}}}),
        )
    });
    c.push(Case {
        global: vec!["--systemd-cgroup"],
        needs: Some((
            host_has("systemd"),
            vec![(
                "systemd cgroups",
                "cgroupsPath slice:prefix:name is a scope in the slice",
            )],
        )),
        ..case(
            "systemd cgroup driver",
            json!({"linux": {"cgroupsPath": format!("system.slice:oci-conformance:{}", std::process::id())}}),
        )
    });
    c
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
    // The checker as hooks run it, from the host and (bind-mounted) from
    // inside.
    let bin = work.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(&o.checker, bin.join("oci-check")).expect("copy oci-check");
    // A directory with a mount below it, for bind vs rbind.
    let submount_src = work.join("with-submount");
    std::fs::create_dir_all(submount_src.join("sub")).unwrap();
    let sub = submount_src.join("sub");
    let sub_c = std::ffi::CString::new(sub.to_str().unwrap()).unwrap();
    // SAFETY: C strings that outlive the call, no data.
    let mounted = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            sub_c.as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            c"size=64k".as_ptr().cast(),
        )
    } == 0;
    assert!(mounted, "cannot mount a tmpfs on {}", sub.display());
    let holder = NetnsHolder::spawn();
    let holder_child = holder.0.to_string();

    let mut report = Report::default();
    let mut all = cases(&work, &holder_child, &submount_src);
    if let Some(only) = &o.only {
        let only = only.to_lowercase();
        all.retain(|c| c.name.to_lowercase().contains(&only));
    }
    let n_cases = all.len();
    for (i, c) in all.into_iter().enumerate() {
        if let Some((Err(why), checks)) = &c.needs {
            for (area, what) in checks {
                report.not_here(c.name, area, what, why);
            }
            continue;
        }
        run_case(&o, &work, &rootfs, i, &c, &mut report);
    }
    drop(holder);
    if o.only.is_none() {
        outside::lifecycle(&o.runtime, &work, &rootfs, &mut report);
        hooks::run(
            &hooks::Ctx {
                rt: &o.runtime,
                work: &work,
                rootfs: &rootfs,
                bin: bin.clone(),
            },
            &mut report,
        );
    }

    report.print(
        &format!(
            "conformance of {}{} ({n_cases} configs, lifecycle and hooks from outside)",
            o.runtime.bin,
            o.runtime
                .preload
                .as_ref()
                .map(|p| format!(" with LD_PRELOAD={}", p.display()))
                .unwrap_or_default()
        ),
        o.all,
    );
    // SAFETY: a C string that outlives the call.
    unsafe { libc::umount2(sub_c.as_ptr(), libc::MNT_DETACH) };
    outside::remove_cgroups(&format!("oci-conformance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::process::exit(if report.failed() == 0 { 0 } else { 1 });
}

/// Run one case with `run` and turn oci-check's TAP into checks.
fn run_case(o: &Opts, work: &Path, rootfs: &Path, i: usize, c: &Case, report: &mut Report) {
    let dir = work.join(format!("case{i}"));
    let share = dir.join("share");
    std::fs::create_dir_all(&share).unwrap();
    let mut config = base(rootfs);
    patch(&mut config, &c.change);
    // With no mounts at all, the checker and its config go in the rootfs.
    let in_rootfs = config["mounts"].as_array().is_some_and(|m| m.is_empty());
    let share = if in_rootfs {
        rootfs.join("conformance")
    } else {
        config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/conformance", "type": "bind", "source": share, "options": ["rbind", "ro"]}));
        share
    };
    std::fs::copy(&o.checker, share.join("oci-check")).expect("copy oci-check");
    let text = serde_json::to_string_pretty(&config).unwrap();
    std::fs::write(share.join("config.json"), &text).unwrap();
    std::fs::write(dir.join("config.json"), &text).unwrap();
    let id = format!("conformance-{}-{i}", std::process::id());
    let state = work.join("state");
    let out = o
        .runtime
        .command(&state, &c.global)
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
        let (area, what) = desc.split_once(": ").unwrap_or(("?", desc));
        if let Some((what, why)) = what.split_once(" # SKIP ") {
            report.not_here(c.name, area, what, why);
        } else {
            let (what, detail) = what.split_once(" # ").unwrap_or((what, ""));
            report.truth(c.name, area, what, ok, detail);
        }
    }
    if !plan {
        report.truth(
            c.name,
            "runs",
            "the container runs and reports",
            false,
            format!(
                "exit {:?}: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        );
    } else {
        report.truth(c.name, "runs", "the container runs and reports", true, "");
    }
    let _ = o
        .runtime
        .command(&state, &c.global)
        .args(["delete", "--force", &id])
        .stderr(Stdio::null())
        .status();
}

/// A child of ours in a network namespace of its own, for the cases that
/// join one by path. Forked rather than run through unshare(1), whose
/// options differ between util-linux and busybox (the VM has only the
/// latter); it dies with us.
struct NetnsHolder(i32);

impl NetnsHolder {
    fn spawn() -> NetnsHolder {
        // SAFETY: the child only makes raw syscalls before it pauses
        // forever, which is all that is allowed after fork.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            // SAFETY: plain syscalls with constant arguments.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::unshare(libc::CLONE_NEWNET) != 0 {
                    libc::_exit(1);
                }
                loop {
                    libc::pause();
                }
            }
        }
        let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match std::fs::read_link(format!("/proc/{pid}/ns/net")) {
                Ok(theirs) if theirs != ours => return NetnsHolder(pid),
                Err(e) => panic!("the network namespace holder died: {e}"),
                _ => {}
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the holder never entered a network namespace of its own"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

impl Drop for NetnsHolder {
    fn drop(&mut self) {
        // SAFETY: our own child; reaped right after.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
            libc::waitpid(self.0, std::ptr::null_mut(), 0);
        }
    }
}
