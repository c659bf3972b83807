//! oci-check: runs as the container's process, reads the config.json it
//! was started from, and checks from inside that each property took
//! effect. Prints TAP, one line per property, "area: what" in the
//! description and expected vs got on failure. Static, so it runs in a
//! busybox rootfs.
//!
//! `oci-check --hook DIR NAME [--exit N] [--sleep S] [--cmdline PID|state]
//! [--probe PATH]... [-- ARGS...]` is the other mode: run as an OCI hook,
//! it records what it was given (argv, environ, the state on stdin, its
//! namespaces, what it sees of the container) in DIR/NAME.json, appends
//! NAME to DIR/order, then sleeps or exits as told. The driver judges the
//! records; the hook itself checks nothing.

use serde_json::Value;
use std::collections::HashMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

struct Tap {
    n: usize,
    failed: usize,
}

impl Tap {
    fn check(&mut self, area: &str, what: &str, expected: impl ToString, got: impl ToString) {
        let (e, g) = (expected.to_string(), got.to_string());
        self.n += 1;
        if e == g {
            println!("ok {} - {area}: {what}", self.n);
        } else {
            self.failed += 1;
            println!(
                "not ok {} - {area}: {what} # expected {e:?}, got {g:?}",
                self.n
            );
        }
    }
    fn truth(&mut self, area: &str, what: &str, ok: bool, detail: impl ToString) {
        self.n += 1;
        if ok {
            println!("ok {} - {area}: {what}", self.n);
        } else {
            self.failed += 1;
            println!(
                "not ok {} - {area}: {what} # {}",
                self.n,
                detail.to_string()
            );
        }
    }
    fn skip(&mut self, area: &str, what: &str, why: &str) {
        self.n += 1;
        println!("ok {} - {area}: {what} # SKIP {why}", self.n);
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn status() -> HashMap<String, String> {
    read("/proc/self/status")
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

const CAPS: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

fn cap_mask(list: Option<&Value>) -> u64 {
    let last: usize = read("/proc/sys/kernel/cap_last_cap")
        .trim()
        .parse()
        .unwrap_or(40);
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|n| {
            let n = n.to_ascii_uppercase();
            let n = n.trim_start_matches("CAP_");
            CAPS.iter().position(|c| *c == n)
        })
        .filter(|i| *i <= last)
        .fold(0, |m, i| m | 1 << i)
}

const LIMITS: [(&str, &str); 16] = [
    ("RLIMIT_CPU", "Max cpu time"),
    ("RLIMIT_FSIZE", "Max file size"),
    ("RLIMIT_DATA", "Max data size"),
    ("RLIMIT_STACK", "Max stack size"),
    ("RLIMIT_CORE", "Max core file size"),
    ("RLIMIT_RSS", "Max resident set"),
    ("RLIMIT_NPROC", "Max processes"),
    ("RLIMIT_NOFILE", "Max open files"),
    ("RLIMIT_MEMLOCK", "Max locked memory"),
    ("RLIMIT_AS", "Max address space"),
    ("RLIMIT_LOCKS", "Max file locks"),
    ("RLIMIT_SIGPENDING", "Max pending signals"),
    ("RLIMIT_MSGQUEUE", "Max msgqueue size"),
    ("RLIMIT_NICE", "Max nice priority"),
    ("RLIMIT_RTPRIO", "Max realtime priority"),
    ("RLIMIT_RTTIME", "Max realtime timeout"),
];

/// (soft, hard) from /proc/self/limits; "unlimited" is u64::MAX.
fn limit(label: &str) -> Option<(u64, u64)> {
    let text = read("/proc/self/limits");
    let line = text.lines().find(|l| l.starts_with(label))?;
    let rest = line.get(26..)?;
    let mut f = rest.split_whitespace();
    let p = |s: &str| {
        if s == "unlimited" {
            u64::MAX
        } else {
            s.parse().unwrap_or(0)
        }
    };
    Some((p(f.next()?), p(f.next()?)))
}

struct MountEntry {
    id: u64,
    parent: u64,
    point: String,
    opts: Vec<String>,
    /// Optional fields: shared:N, master:N, propagate_from:N, unbindable.
    tags: Vec<String>,
    fstype: String,
    /// The superblock's options (sync, dirsync, context=... live here).
    super_opts: Vec<String>,
}

fn mountinfo() -> Vec<MountEntry> {
    read("/proc/self/mountinfo")
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            Some(MountEntry {
                id: f.first()?.parse().ok()?,
                parent: f.get(1)?.parse().ok()?,
                point: f.get(4)?.replace("\\040", " "),
                opts: f.get(5)?.split(',').map(String::from).collect(),
                tags: f.iter().skip(6).map(|x| x.to_string()).collect(),
                fstype: r.first()?.to_string(),
                super_opts: r
                    .get(2)
                    .map(|o| o.split(',').map(String::from).collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// The mount visible at `point`: the one no other mount there sits on.
/// (The table's order is no guide: since Linux 6.8 it follows mount ids,
/// the order mounts were made, not stacked.)
fn top_mount<'a>(mounts: &'a [MountEntry], point: &str) -> Option<&'a MountEntry> {
    let here: Vec<&MountEntry> = mounts.iter().filter(|m| m.point == point).collect();
    here.iter()
        .find(|m| !here.iter().any(|o| o.parent == m.id))
        .copied()
}

/// Whether `a` is `m` or a mount below it in the tree.
fn under(mounts: &[MountEntry], m: &MountEntry, a: &MountEntry) -> bool {
    let mut cur = Some(m);
    for _ in 0..mounts.len() + 1 {
        match cur {
            Some(c) if c.id == a.id => return true,
            Some(c) if c.parent != c.id => {
                cur = mounts.iter().find(|x| x.id == c.parent);
            }
            _ => return false,
        }
    }
    false
}

fn dev_numbers(rdev: u64) -> (u64, u64) {
    (
        (rdev >> 8) & 0xfff,
        (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
    )
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--hook") {
        hook_record();
    }
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/config.json".into());
    let config: Value = match std::fs::read(&path).map(|t| serde_json::from_slice(&t)) {
        Ok(Ok(v)) => v,
        _ => {
            println!("Bail out! cannot read {path}");
            std::process::exit(2);
        }
    };
    let mut t = Tap { n: 0, failed: 0 };
    // Without /proc in mounts the container has none: see that, then mount
    // one (such a case grants CAP_SYS_ADMIN) so the other checks can read.
    let mut own_proc = false;
    let proc_listed = config["mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m["destination"] == "/proc");
    if !proc_listed {
        let had = std::path::Path::new("/proc/self").exists();
        t.truth(
            "mounts",
            "no /proc when mounts lists none",
            !had,
            "/proc/self exists",
        );
        if !had {
            // SAFETY: plain C strings, no data.
            let r = unsafe {
                libc::mount(
                    c"proc".as_ptr(),
                    c"/proc".as_ptr(),
                    c"proc".as_ptr(),
                    0,
                    std::ptr::null(),
                )
            };
            if r != 0 {
                println!(
                    "Bail out! cannot mount /proc: {}",
                    std::io::Error::last_os_error()
                );
                std::process::exit(2);
            }
            own_proc = true;
        }
    }
    let st = status();
    let p = &config["process"];
    let l = &config["linux"];
    let ann = &config["annotations"];

    // process
    let args: Vec<String> = std::env::args().collect();
    let want_args: Vec<String> = p["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(String::from))
        .collect();
    t.check("process", "args", want_args.join(" "), args.join(" "));
    let cwd = std::fs::read_link("/proc/self/cwd")
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    t.check("process", "cwd", p["cwd"].as_str().unwrap_or("/"), cwd);
    let env: HashMap<String, String> = std::env::vars().collect();
    for e in p["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let (k, v) = e.split_once('=').unwrap_or((e, ""));
        t.check(
            "process",
            &format!("env {k}"),
            v,
            env.get(k).cloned().unwrap_or_default(),
        );
    }
    let u = &p["user"];
    let ids = |k: &str| {
        st.get(k)
            .and_then(|v| v.split_whitespace().next().map(String::from))
            .unwrap_or_default()
    };
    t.check("user", "uid", u["uid"].as_u64().unwrap_or(0), ids("Uid"));
    t.check("user", "gid", u["gid"].as_u64().unwrap_or(0), ids("Gid"));
    let mut want_groups: Vec<u64> = u["additionalGids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect();
    want_groups.sort();
    want_groups.dedup();
    let mut groups: Vec<u64> = st
        .get("Groups")
        .map(|g| {
            g.split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    groups.sort();
    t.check(
        "user",
        "additionalGids",
        format!("{want_groups:?}"),
        format!("{groups:?}"),
    );
    if let Some(mask) = u["umask"].as_u64() {
        t.check(
            "user",
            "umask",
            format!("{mask:04o}"),
            st.get("Umask").cloned().unwrap_or_default(),
        );
    }
    // What the runtime set is seen here after execve recomputed it (the
    // program has no file capabilities): root gets inheritable|bounding as
    // permitted and effective, capped by the old permitted set under
    // no_new_privs; any other user keeps only ambient. Ambient survives
    // (no file capabilities, no setuid bit).
    let caps = &p["capabilities"];
    let (bnd, inh, prm) = (
        cap_mask(caps.get("bounding")),
        cap_mask(caps.get("inheritable")),
        cap_mask(caps.get("permitted")),
    );
    let amb = cap_mask(caps.get("ambient")) & prm & inh;
    let nnp = p["noNewPrivileges"].as_bool().unwrap_or(false);
    let (after_prm, after_amb) = if u["uid"].as_u64().unwrap_or(0) == 0 {
        ((inh | bnd) & if nnp { prm } else { u64::MAX }, amb)
    } else {
        (amb, amb)
    };
    for (set, key) in [
        ("bounding", "CapBnd"),
        ("effective", "CapEff"),
        ("permitted", "CapPrm"),
        ("inheritable", "CapInh"),
        ("ambient", "CapAmb"),
    ] {
        let want = match set {
            "bounding" => bnd,
            "inheritable" => inh,
            "ambient" => after_amb,
            _ => after_prm,
        };
        let got =
            u64::from_str_radix(st.get(key).map(String::as_str).unwrap_or("0"), 16).unwrap_or(0);
        t.check(
            "capabilities",
            set,
            format!("{want:016x}"),
            format!("{got:016x}"),
        );
    }
    t.check(
        "process",
        "noNewPrivileges",
        if p["noNewPrivileges"].as_bool().unwrap_or(false) {
            "1"
        } else {
            "0"
        },
        st.get("NoNewPrivs").cloned().unwrap_or_default(),
    );
    if let Some(adj) = p["oomScoreAdj"].as_i64() {
        t.check(
            "process",
            "oomScoreAdj",
            adj,
            read("/proc/self/oom_score_adj").trim(),
        );
    }
    for r in p["rlimits"].as_array().into_iter().flatten() {
        let typ = r["type"].as_str().unwrap_or("");
        match LIMITS.iter().find(|(n, _)| *n == typ) {
            Some((_, label)) => {
                let got = limit(label).unwrap_or((0, 0));
                t.check(
                    "rlimits",
                    typ,
                    format!("{}/{}", r["soft"], r["hard"]),
                    format!("{}/{}", got.0, got.1),
                );
            }
            None => t.truth("rlimits", typ, false, "unknown rlimit type"),
        }
    }
    let seccomp = st.get("Seccomp").cloned().unwrap_or_default();
    t.check(
        "process",
        "seccomp mode",
        if l.get("seccomp").is_some() { "2" } else { "0" },
        seccomp,
    );
    if let Some(s) = p.get("scheduler") {
        let stat = read("/proc/self/stat");
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let policy = [
            "SCHED_OTHER",
            "SCHED_FIFO",
            "SCHED_RR",
            "SCHED_BATCH",
            "SCHED_ISO",
            "SCHED_IDLE",
            "SCHED_DEADLINE",
        ]
        .iter()
        .position(|n| Some(*n) == s["policy"].as_str())
        .unwrap_or(0);
        t.check(
            "process",
            "scheduler.policy",
            policy,
            fields.get(38).copied().unwrap_or(""),
        );
        if let Some(nice) = s["nice"].as_i64() {
            t.check(
                "process",
                "scheduler.nice",
                nice,
                fields.get(16).copied().unwrap_or(""),
            );
        }
    }
    if let Some(io) = p.get("ioPriority") {
        // SAFETY: ioprio_get with integer arguments; 0 means this process.
        let got = unsafe { libc::syscall(libc::SYS_ioprio_get, 1, 0) };
        let class = [
            "",
            "IOPRIO_CLASS_RT",
            "IOPRIO_CLASS_BE",
            "IOPRIO_CLASS_IDLE",
        ]
        .iter()
        .position(|c| Some(*c) == io["class"].as_str())
        .unwrap_or(0) as i64;
        t.check(
            "process",
            "ioPriority",
            class << 13 | io["priority"].as_i64().unwrap_or(0),
            got,
        );
    }
    if let Some(pers) = l.get("personality") {
        let want = if pers["domain"] == "LINUX32" { 8 } else { 0 };
        let got =
            i64::from_str_radix(read("/proc/self/personality").trim(), 16).unwrap_or(-1) & 0xff;
        t.check("process", "personality", want, got);
    }

    // namespaces
    let mut types = Vec::new();
    for ns in l["namespaces"].as_array().into_iter().flatten() {
        let typ = ns["type"].as_str().unwrap_or("");
        let file = match typ {
            "network" => "net",
            "mount" => "mnt",
            t => t,
        };
        types.push(typ.to_string());
        let got = std::fs::read_link(format!("/proc/self/ns/{file}"))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        match (
            ns["path"].as_str(),
            ann[format!("conformance.ns.{file}")].as_str(),
            ann[format!("conformance.hostns.{file}")].as_str(),
        ) {
            (Some(_), Some(want), _) => {
                t.check("namespaces", &format!("{typ} joined by path"), want, got)
            }
            (None, _, Some(host)) => t.truth(
                "namespaces",
                &format!("{typ} is new"),
                got != host && !got.is_empty(),
                format!("{got} is the host's"),
            ),
            _ => t.skip(
                "namespaces",
                typ,
                "the driver gave no host namespace to compare with",
            ),
        }
    }
    if types.iter().any(|t| t == "pid")
        && l["namespaces"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|n| n["type"] == "pid" && n.get("path").is_none())
    {
        t.check("namespaces", "process is pid 1", 1, std::process::id());
    }
    if types.iter().any(|t| t == "uts") {
        if let Some(h) = config["hostname"].as_str() {
            t.check(
                "uts",
                "hostname",
                h,
                read("/proc/sys/kernel/hostname").trim(),
            );
        }
        if let Some(d) = config["domainname"].as_str() {
            t.check(
                "uts",
                "domainname",
                d,
                read("/proc/sys/kernel/domainname").trim(),
            );
        }
    }
    for (key, file) in [
        ("uidMappings", "/proc/self/uid_map"),
        ("gidMappings", "/proc/self/gid_map"),
    ] {
        if let Some(maps) = l[key].as_array() {
            let want: Vec<String> = maps
                .iter()
                .map(|m| format!("{} {} {}", m["containerID"], m["hostID"], m["size"]))
                .collect();
            let got: Vec<String> = read(file)
                .lines()
                .map(|x| x.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            t.check("user namespace", key, want.join(","), got.join(","));
        }
    }
    if let Some(offsets) = l["timeOffsets"].as_object() {
        let text = read("/proc/self/timens_offsets");
        for (clock, o) in offsets {
            let got = text
                .lines()
                .find(|x| x.starts_with(clock.as_str()))
                .map(|x| x.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
                .unwrap_or_default();
            t.check(
                "time namespace",
                clock,
                format!(
                    "{} {}",
                    o["secs"].as_i64().unwrap_or(0),
                    o["nanosecs"].as_i64().unwrap_or(0)
                ),
                got,
            );
        }
    }
    if types.iter().any(|t| t == "cgroup") {
        let text = read("/proc/self/cgroup");
        t.truth(
            "cgroups",
            "cgroup namespace rooted at the container's cgroup",
            text.lines().all(|x| x.ends_with(":/")),
            text.replace('\n', " "),
        );
    } else if let Some(cg) = l["cgroupsPath"].as_str().filter(|c| c.starts_with('/')) {
        let text = read("/proc/self/cgroup");
        t.truth(
            "cgroups",
            "placed in cgroupsPath on every hierarchy",
            text.lines().all(|x| x.ends_with(cg)),
            text.replace('\n', " "),
        );
    }

    check_cgroup_limits(&mut t, l);

    // filesystem
    let mounts = mountinfo();
    check_lsm_and_systemd(&mut t, &config, &mounts);
    let readonly_root = config["root"]["readonly"].as_bool().unwrap_or(false);
    let root_ro = top_mount(&mounts, "/").is_some_and(|m| m.opts.iter().any(|o| o == "ro"));
    t.check("rootfs", "root.readonly", readonly_root, root_ro);
    for m in config["mounts"].as_array().into_iter().flatten() {
        let dest = m["destination"].as_str().unwrap_or("");
        let Some(e) = top_mount(&mounts, dest) else {
            t.truth(
                "mounts",
                &format!("{dest} mounted"),
                false,
                "not in /proc/self/mountinfo",
            );
            continue;
        };
        t.truth("mounts", &format!("{dest} mounted"), true, "");
        let opts: Vec<&str> = m["options"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let typ = m["type"].as_str().unwrap_or("");
        let bind = typ == "bind" || opts.iter().any(|o| *o == "bind" || *o == "rbind");
        if !bind && !matches!(typ, "cgroup" | "cgroup2" | "none") {
            t.check("mounts", &format!("{dest} type"), typ, &e.fstype);
        }
        check_mount_options(&mut t, dest, &opts, bind, e, &mounts);
        if bind {
            // The driver puts a mount under some bind sources and says so
            // in an annotation: rbind must carry it, bind must not.
            let src = m["source"].as_str().unwrap_or("");
            if let Some(sub) = ann[format!("conformance.submount:{src}")].as_str() {
                let at = format!("{dest}/{sub}");
                let rec = opts.contains(&"rbind");
                t.truth(
                    "mounts",
                    &format!(
                        "{dest} {} the source's submount",
                        if rec {
                            "rbind carries"
                        } else {
                            "bind leaves out"
                        }
                    ),
                    top_mount(&mounts, &at).is_some() == rec,
                    format!("{at} mounted: {}", top_mount(&mounts, &at).is_some()),
                );
            }
        }
    }
    // mounts are made in the listed order: a destination below an earlier
    // one is mounted over it, not hidden under it. (A runtime may make a
    // bind's mount early and attach it later, so mount ids say nothing.)
    let dests: Vec<&str> = config["mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["destination"].as_str())
        .collect();
    let mut misplaced = Vec::new();
    for (j, d) in dests.iter().enumerate() {
        let parent = dests[..j]
            .iter()
            .filter(|p| d.starts_with(&format!("{}/", p.trim_end_matches('/'))))
            .max_by_key(|p| p.len());
        if let (Some(p), Some(mj)) = (parent, top_mount(&mounts, d))
            && let Some(mi) = top_mount(&mounts, p)
            && !under(&mounts, mj, mi)
        {
            misplaced.push(format!("{d} not over {p}"));
        }
    }
    t.truth(
        "mounts",
        "mounted in the listed order (each over the earlier one it is under)",
        misplaced.is_empty(),
        misplaced.join(", "),
    );
    // Nothing is mounted that config.json does not ask for: each mount
    // point is the root, a destination or below one, a masked or read-only
    // path, or the /proc this checker mounted itself.
    let mut asked: Vec<String> = config["mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["destination"].as_str().map(String::from))
        .collect();
    for key in ["maskedPaths", "readonlyPaths"] {
        asked.extend(
            l[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(String::from)),
        );
    }
    if own_proc {
        asked.push("/proc".into());
    }
    let extra: Vec<&str> = mounts
        .iter()
        .map(|e| e.point.as_str())
        .filter(|p| {
            *p != "/"
                && !asked
                    .iter()
                    .any(|a| p == a || p.starts_with(&format!("{}/", a.trim_end_matches('/'))))
        })
        .collect();
    t.truth(
        "mounts",
        "nothing mounted that config.json does not ask for",
        extra.is_empty(),
        extra.join(" "),
    );
    for path in l["maskedPaths"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        match std::fs::metadata(path) {
            Err(_) => t.skip("maskedPaths", path, "absent in this container"),
            Ok(md) if md.is_dir() => {
                let n = std::fs::read_dir(path)
                    .map(|d| d.count())
                    .unwrap_or(usize::MAX);
                t.check("maskedPaths", &format!("{path} empty"), 0, n);
            }
            Ok(_) => t.check(
                "maskedPaths",
                &format!("{path} reads empty"),
                0,
                std::fs::read(path).map(|b| b.len()).unwrap_or(usize::MAX),
            ),
        }
    }
    for path in l["readonlyPaths"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        match top_mount(&mounts, path) {
            _ if std::fs::metadata(path).is_err() => {
                t.skip("readonlyPaths", path, "absent in this container")
            }
            Some(e) => t.truth(
                "readonlyPaths",
                path,
                e.opts.iter().any(|o| o == "ro"),
                e.opts.join(","),
            ),
            None => t.truth("readonlyPaths", path, false, "not a mount point"),
        }
    }
    let dev_is_bind = config["mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m["destination"] == "/dev" && m["type"] == "bind");
    if !dev_is_bind {
        for (name, major, minor) in [
            ("null", 1, 3),
            ("zero", 1, 5),
            ("full", 1, 7),
            ("random", 1, 8),
            ("urandom", 1, 9),
            ("tty", 5, 0),
        ] {
            let path = format!("/dev/{name}");
            let got = std::fs::symlink_metadata(&path).map(|m| {
                let (ma, mi) = dev_numbers(m.rdev());
                format!(
                    "{} {ma}:{mi} {:o}",
                    if m.file_type().is_char_device() {
                        "c"
                    } else {
                        "?"
                    },
                    m.permissions().mode() & 0o777
                )
            });
            t.check(
                "devices",
                &format!("default {path}"),
                format!("c {major}:{minor} 666"),
                got.unwrap_or_else(|e| e.to_string()),
            );
        }
        for (link, target) in [
            ("/dev/ptmx", "pts/ptmx"),
            ("/dev/fd", "/proc/self/fd"),
            ("/dev/stdin", "/proc/self/fd/0"),
            ("/dev/stdout", "/proc/self/fd/1"),
            ("/dev/stderr", "/proc/self/fd/2"),
        ] {
            let got = std::fs::read_link(link)
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            t.check("devices", &format!("{link} link"), target, got);
        }
    }
    for d in l["devices"].as_array().into_iter().flatten() {
        let path = d["path"].as_str().unwrap_or("");
        let want = format!(
            "{} {}:{} {:o} {}:{}",
            d["type"].as_str().unwrap_or(""),
            d["major"],
            d["minor"],
            d["fileMode"].as_u64().unwrap_or(0o666) & 0o777,
            d["uid"].as_u64().unwrap_or(0),
            d["gid"].as_u64().unwrap_or(0)
        );
        let got = std::fs::symlink_metadata(path).map(|m| {
            let ft = m.file_type();
            let kind = if ft.is_char_device() {
                "c"
            } else if ft.is_block_device() {
                "b"
            } else if ft.is_fifo() {
                "p"
            } else {
                "?"
            };
            let (ma, mi) = dev_numbers(m.rdev());
            format!(
                "{kind} {ma}:{mi} {:o} {}:{}",
                m.permissions().mode() & 0o777,
                m.uid(),
                m.gid()
            )
        });
        t.check("devices", path, want, got.unwrap_or_else(|e| e.to_string()));
    }
    for (k, v) in l["sysctl"].as_object().into_iter().flatten() {
        let got = read(&format!("/proc/sys/{}", k.replace('.', "/")));
        t.check("sysctl", k, v.as_str().unwrap_or(""), got.trim());
    }

    println!("1..{}", t.n);
    std::process::exit(if t.failed == 0 { 0 } else { 1 });
}

/// The flags a mount's options ask for, with mount(8)'s meaning: of each
/// pair (ro/rw, nosuid/suid, ...) the last one given wins.
fn check_mount_options(
    t: &mut Tap,
    dest: &str,
    opts: &[&str],
    bind: bool,
    e: &MountEntry,
    mounts: &[MountEntry],
) {
    let last = |names: &[&str]| opts.iter().rev().find(|o| names.contains(o)).copied();
    let has = |flag: &str| e.opts.iter().any(|x| x == flag);
    for (on, off) in [
        ("ro", "rw"),
        ("nosuid", "suid"),
        ("nodev", "dev"),
        ("noexec", "exec"),
    ] {
        if let Some(o) = last(&[on, off]) {
            t.truth(
                "mounts",
                &format!("{dest} {o}"),
                has(on) == (o == on),
                e.opts.join(","),
            );
        }
    }
    if let Some(o) = last(&["noatime", "relatime", "strictatime"]) {
        // strictatime shows as neither of the other two.
        let got = if has("noatime") {
            "noatime"
        } else if has("relatime") {
            "relatime"
        } else {
            "strictatime"
        };
        t.check("mounts", &format!("{dest} {o}"), o, got);
    }
    // sync belongs to the superblock: a bind shares its source's, so only
    // a fresh mount can be asked for it.
    if !bind && let Some(o) = last(&["sync", "async"]) {
        t.truth(
            "mounts",
            &format!("{dest} {o}"),
            e.super_opts.iter().any(|x| x == "sync") == (o == "sync"),
            e.super_opts.join(","),
        );
    }
    let props = [
        "private",
        "rprivate",
        "shared",
        "rshared",
        "slave",
        "rslave",
        "unbindable",
        "runbindable",
    ];
    if let Some(o) = last(&props) {
        let kind = o
            .strip_prefix('r')
            .filter(|k| props.contains(k))
            .unwrap_or(o);
        let below = format!("{dest}/");
        // The r- forms reach the mounts below too.
        let targets: Vec<&MountEntry> = mounts
            .iter()
            .filter(|m| m.point == dest || (kind != o && m.point.starts_with(&below)))
            .collect();
        let tagged = |m: &MountEntry, p: &str| m.tags.iter().any(|x| x.starts_with(p));
        let wrong: Vec<String> = targets
            .iter()
            .filter(|m| {
                !match kind {
                    "shared" => tagged(m, "shared:"),
                    // A slave of a mount that is not shared is private:
                    // either way it must not be shared.
                    "slave" => !tagged(m, "shared:") && !tagged(m, "unbindable"),
                    "unbindable" => tagged(m, "unbindable"),
                    _ => m.tags.is_empty(),
                }
            })
            .map(|m| format!("{} [{}]", m.point, m.tags.join(" ")))
            .collect();
        t.truth(
            "mounts",
            &format!("{dest} {o}"),
            wrong.is_empty(),
            wrong.join(", "),
        );
    }
}

/// The directory of this process's own cgroup for a v1 controller (or
/// v2 with `None`), as mounted in the container: the path from
/// /proc/self/cgroup under the mount, or the mount itself when the runtime
/// bound the container's cgroup there.
fn own_cgroup_dir(controller: Option<&str>) -> Option<String> {
    let text = read("/proc/self/cgroup");
    let (base, path) = match controller {
        Some(c) => (
            format!("/sys/fs/cgroup/{c}"),
            text.lines().find_map(|l| {
                let mut f = l.splitn(3, ':');
                let (_, list, p) = (f.next()?, f.next()?, f.next()?);
                list.split(',').any(|x| x == c).then(|| p.to_string())
            })?,
        ),
        None => (
            "/sys/fs/cgroup".to_string(),
            text.lines()
                .find_map(|l| l.strip_prefix("0::").map(String::from))?,
        ),
    };
    let me = std::process::id().to_string();
    [format!("{base}{}", path.trim_end_matches('/')), base]
        .into_iter()
        .find(|d| read(&format!("{d}/cgroup.procs")).lines().any(|l| l == me))
}

/// linux.resources as the container's own cgroup files show them: v1
/// files on a v1 or hybrid host, v2 files on a pure v2 one.
fn check_cgroup_limits(t: &mut Tap, l: &Value) {
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let res = l.get("resources");
    let mem_dir = own_cgroup_dir(if v2 { None } else { Some("memory") });
    let pids_dir = own_cgroup_dir(if v2 { None } else { Some("pids") });
    let file = |dir: &Option<String>, name: &str| {
        dir.as_ref()
            .map(|d| read(&format!("{d}/{name}")).trim().to_string())
    };
    let (mem_file, unlimited) = if v2 {
        ("memory.max", "max".to_string())
    } else {
        // v1's "no limit" is the largest page-aligned long.
        (
            "memory.limit_in_bytes",
            (i64::MAX as u64 & !4095).to_string(),
        )
    };
    let want_mem = match res {
        None => Some(unlimited),
        Some(r) => r["memory"]["limit"].as_i64().map(|v| v.to_string()),
    };
    let want_pids = match res {
        None => Some("max".to_string()),
        Some(r) => r["pids"]["limit"]
            .as_i64()
            .map(|v| if v <= 0 { "max".into() } else { v.to_string() }),
    };
    let what = |k: &str| {
        if res.is_none() {
            format!("no linux.resources: {k} unlimited")
        } else {
            format!("resources {k} limit")
        }
    };
    for (k, want, dir, name) in [
        ("memory", want_mem, &mem_dir, mem_file),
        ("pids", want_pids, &pids_dir, "pids.max"),
    ] {
        let Some(want) = want else { continue };
        match file(dir, name) {
            Some(got) => t.check("cgroups", &what(k), want, got),
            None => t.skip(
                "cgroups",
                &what(k),
                "not visible in this container: no /sys/fs/cgroup with its own cgroup",
            ),
        }
    }
    for (k, v) in res
        .and_then(|r| r["unified"].as_object())
        .into_iter()
        .flatten()
    {
        match file(&mem_dir, k).filter(|_| v2) {
            Some(got) => t.check(
                "cgroups",
                &format!("unified {k}"),
                v.as_str().unwrap_or(""),
                got,
            ),
            None => t.skip(
                "cgroups",
                &format!("unified {k}"),
                "not visible in this container: no cgroup v2 directory of its own",
            ),
        }
    }
}

/// AppArmor profile, SELinux labels and a systemd cgroupsPath, each only
/// when config.json asks for it (the driver asks only on a host that has
/// the feature, and says why not elsewhere).
fn check_lsm_and_systemd(t: &mut Tap, config: &Value, mounts: &[MountEntry]) {
    let p = &config["process"];
    let l = &config["linux"];
    let attr = |f: &str| read(f).trim_end_matches(['\0', '\n']).to_string();
    if let Some(want) = p["apparmorProfile"].as_str() {
        let mut cur = attr("/proc/self/attr/apparmor/current");
        if cur.is_empty() {
            cur = attr("/proc/self/attr/current");
        }
        // "name (enforce)": the mode is not part of the name.
        let got = cur.split(" (").next().unwrap_or("").to_string();
        t.check("apparmor", "process.apparmorProfile", want, got);
    }
    if let Some(want) = p["selinuxLabel"].as_str() {
        t.check(
            "selinux",
            "process.selinuxLabel",
            want,
            attr("/proc/self/attr/current"),
        );
    }
    if let Some(label) = l["mountLabel"].as_str() {
        for m in config["mounts"].as_array().into_iter().flatten() {
            let dest = m["destination"].as_str().unwrap_or("");
            if m["type"] != "tmpfs" {
                continue;
            }
            let got = top_mount(mounts, dest)
                .map(|e| e.super_opts.join(","))
                .unwrap_or_default();
            t.truth(
                "selinux",
                &format!("linux.mountLabel on {dest}"),
                got.contains(&format!("context=\"{label}\""))
                    || got.contains(&format!("context={label}")),
                got,
            );
        }
    }
    // slice:prefix:name puts the container in <prefix>-<name>.scope under
    // the slice.
    let systemd: Vec<&str> = l["cgroupsPath"]
        .as_str()
        .unwrap_or("/")
        .split(':')
        .collect();
    if let [slice, prefix, name] = systemd[..] {
        let text = read("/proc/self/cgroup");
        let scope = format!("/{prefix}-{name}.scope");
        let line = text
            .lines()
            .find(|x| x.starts_with("0::"))
            .or_else(|| text.lines().find(|x| x.contains(":name=systemd:")))
            .unwrap_or("");
        t.truth(
            "systemd cgroups",
            "cgroupsPath slice:prefix:name is a scope in the slice",
            line.ends_with(&scope) && line.contains(slice),
            line,
        );
    }
}

/// Hook mode (see the top of the file): record what this hook was given
/// and sees, then sleep and exit as told.
fn hook_record() -> ! {
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
