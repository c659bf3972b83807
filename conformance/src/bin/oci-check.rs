//! oci-check: runs as the container's process, reads the config.json it
//! was started from, and checks from inside that each property took
//! effect. Prints TAP, one line per property, "area: what" in the
//! description and expected vs got on failure. Static, so it runs in a
//! busybox rootfs.

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
    point: String,
    opts: Vec<String>,
    fstype: String,
}

fn mountinfo() -> Vec<MountEntry> {
    read("/proc/self/mountinfo")
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            Some(MountEntry {
                point: f.get(4)?.replace("\\040", " "),
                opts: f.get(5)?.split(',').map(String::from).collect(),
                fstype: right.split(' ').next()?.to_string(),
            })
        })
        .collect()
}

fn top_mount<'a>(mounts: &'a [MountEntry], point: &str) -> Option<&'a MountEntry> {
    mounts.iter().rev().find(|m| m.point == point)
}

fn dev_numbers(rdev: u64) -> (u64, u64) {
    (
        (rdev >> 8) & 0xfff,
        (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
    )
}

fn main() {
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

    // filesystem
    let mounts = mountinfo();
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
        for (o, flag) in [
            ("ro", "ro"),
            ("nosuid", "nosuid"),
            ("nodev", "nodev"),
            ("noexec", "noexec"),
            ("noatime", "noatime"),
        ] {
            if opts.contains(&o) {
                t.truth(
                    "mounts",
                    &format!("{dest} {o}"),
                    e.opts.iter().any(|x| x == flag),
                    e.opts.join(","),
                );
            }
        }
    }
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
