//! The seccomp profiles engines really send (tests/fixtures/): busybox
//! runs under them, and what they deny is denied, seen from inside the
//! container through tests/sysprobe.c.

mod common;
use common::*;
use serde_json::{Value, json};

const PODMAN_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

fn fixture(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// A container as the engine would configure it: its profile, its
/// default capabilities, no_new_privs off (both engines' default, so the
/// filter is loaded before berth drops privileges and berth's own last
/// steps pass through it too).
fn engine_bundle(script: &str, profile: &str, caps: &[&str]) -> Bundle {
    let mut b = bundle(&["sh", "-c", script]);
    b.config["linux"]["seccomp"] = fixture(profile);
    let caps = json!(caps);
    b.config["process"]["capabilities"] =
        json!({"bounding": caps, "effective": caps, "permitted": caps});
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.with_sysprobe();
    b
}

/// A busybox workload: pipes, forks, files, signals, a subshell.
const WORKLOAD: &str = "set -e; echo hello | tr a-z A-Z; ls /bin | wc -l >/dev/null; \
    mkdir -p /tmp/d && echo x > /tmp/d/f && cat /tmp/d/f && rm -r /tmp/d; \
    (sleep 0.05; echo sub) & wait; kill -0 $$; id -u; echo done";

fn probe(out: &str, label: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{label}: ")))
        .unwrap_or_else(|| panic!("no {label} in {out}"))
        .to_string()
}

/// `label: <sysprobe output>` per probe, so each answer can be checked.
fn probes(list: &[(&str, &str)]) -> String {
    list.iter()
        .map(|(label, args)| format!("echo -n '{label}: '; /tmp/sysprobe {args}"))
        .collect::<Vec<_>>()
        .join("; ")
}

const PROBES: &[(&str, &str)] = &[
    ("unshare", "272 0x20000"),
    ("mount", "165 @none @/tmp @tmpfs 0 0"),
    ("keyctl", "250 0 -3 0"),
    ("acct", "163 0"),
    ("personality-query", "135 0xffffffff"),
    ("personality-other", "135 0x0400000"),
    ("socket-unix", "41 1 1 0"),
    ("socket-vsock", "41 40 1 0"),
    ("socket-audit", "41 16 3 9"),
    ("clone3", "435 0 0"),
    ("mseal", "462 0 0 0"),
    ("spawn", "spawn /bin/true"),
    ("thread", "thread"),
];

#[test]
fn docker_default_profile() {
    let b = engine_bundle(WORKLOAD, "seccomp-docker-default.json", DOCKER_CAPS);
    assert_eq!(b.run_ok(), "HELLO\nx\nsub\n0\ndone\n");

    let b = engine_bundle(&probes(PROBES), "seccomp-docker-default.json", DOCKER_CAPS);
    let out = b.run_ok();
    let eperm = "ret=-1 errno=1";
    // Not in the profile: the default, EPERM (root or not).
    for denied in [
        "unshare",
        "mount",
        "keyctl",
        "acct",
        "personality-other",
        "socket-vsock",
    ] {
        assert_eq!(probe(&out, denied), eperm, "{denied}: {out}");
    }
    assert_eq!(probe(&out, "personality-query"), "ret=0 errno=0", "{out}");
    assert!(probe(&out, "socket-unix").ends_with("errno=0"), "{out}");
    // Allowed by seccomp; the kernel answers (EPROTONOSUPPORT or a socket).
    assert_ne!(probe(&out, "socket-audit"), eperm, "{out}");
    // clone3 is ENOSYS by the profile's own rule; mseal (Linux 6.10) is
    // newer than anything it names, so berth answers ENOSYS too.
    assert_eq!(probe(&out, "clone3"), "ret=-1 errno=38", "{out}");
    assert_eq!(probe(&out, "mseal"), "ret=-1 errno=38", "{out}");
    // So glibc falls back to clone, which the profile allows without
    // namespace flags.
    assert_eq!(probe(&out, "spawn"), "spawn status=0", "{out}");
    assert_eq!(probe(&out, "thread"), "thread ok", "{out}");

    // clone with a namespace flag is refused (busybox unshare uses unshare;
    // the probe calls clone directly: CLONE_NEWNS|SIGCHLD).
    let b = engine_bundle(
        "/tmp/sysprobe 56 0x20011 0 0 0 0",
        "seccomp-docker-default.json",
        DOCKER_CAPS,
    );
    assert_eq!(b.run_ok(), "ret=-1 errno=1\n");
}

#[test]
fn podman_default_profile() {
    let b = engine_bundle(WORKLOAD, "seccomp-podman-default.json", PODMAN_CAPS);
    assert_eq!(b.run_ok(), "HELLO\nx\nsub\n0\ndone\n");

    let b = engine_bundle(&probes(PROBES), "seccomp-podman-default.json", PODMAN_CAPS);
    let out = b.run_ok();
    let eperm = "ret=-1 errno=1";
    let enosys = "ret=-1 errno=38";
    // Allowed by the profile, refused by the kernel: no CAP_SYS_ADMIN.
    assert_eq!(probe(&out, "unshare"), eperm, "{out}");
    assert_eq!(probe(&out, "mount"), eperm, "{out}");
    // Allowed: the session keyring berth made for the container.
    assert!(probe(&out, "keyctl").ends_with("errno=0"), "{out}");
    // Capability-gated and the capability is missing: explicit EPERM.
    assert_eq!(probe(&out, "acct"), eperm, "{out}");
    // Not in the profile: the default, ENOSYS.
    assert_eq!(probe(&out, "personality-other"), enosys, "{out}");
    assert_eq!(probe(&out, "mseal"), enosys, "{out}");
    assert_eq!(probe(&out, "personality-query"), "ret=0 errno=0", "{out}");
    assert!(probe(&out, "socket-unix").ends_with("errno=0"), "{out}");
    // Netlink audit without CAP_AUDIT_WRITE: EINVAL, by the profile.
    assert_eq!(probe(&out, "socket-audit"), "ret=-1 errno=22", "{out}");
    // clone3 is allowed: the kernel refuses its NULL arguments.
    assert_eq!(probe(&out, "clone3"), "ret=-1 errno=22", "{out}");
    assert_eq!(probe(&out, "spawn"), "spawn status=0", "{out}");
    assert_eq!(probe(&out, "thread"), "thread ok", "{out}");
}

#[test]
fn exec_runs_under_the_engine_profiles_too() {
    for (profile, caps) in [
        ("seccomp-docker-default.json", DOCKER_CAPS),
        ("seccomp-podman-default.json", PODMAN_CAPS),
    ] {
        let b = engine_bundle("sleep 100", profile, caps);
        let out = b.create(&[]);
        assert!(out.status.success(), "{profile}: {}", stderr(&out));
        b.ok(&["start", &b.id]);
        let out = b.ok(&[
            "exec",
            &b.id,
            "sh",
            "-c",
            &format!("{WORKLOAD}; /tmp/sysprobe 165 @none @/tmp @tmpfs 0 0"),
        ]);
        assert_eq!(out, "HELLO\nx\nsub\n0\ndone\nret=-1 errno=1\n", "{profile}");
        b.ok(&["delete", "--force", &b.id]);
    }
}
