//! The process: args, cwd, env, user and groups, capabilities, rlimits,
//! no_new_privs, oomScoreAdj, seccomp mode, scheduler, I/O priority,
//! personality.

use super::tap::{Tap, read};
use serde_json::Value;
use std::collections::HashMap;

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

pub fn check(t: &mut Tap, config: &Value, st: &HashMap<String, String>) {
    let p = &config["process"];
    let l = &config["linux"];
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
}
