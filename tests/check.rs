//! `berth check`: each finding is made true for real (a capability
//! dropped from the bounding set, no_new_privs set, a container whose init
//! was killed, a cgroup layout in a private mount namespace) and must be
//! reported; what the host itself has is read here independently and
//! must match.

mod common;
use common::*;
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};

fn check_json(c: &mut Command) -> (Output, Value) {
    parsed(
        c.args(["check", "--format", "json"])
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    )
}

/// The output and the JSON document it printed.
fn parsed(out: Output) -> (Output, Value) {
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)));
    (out, v)
}

/// berth with a private, empty --root.
fn berth_cmd() -> Command {
    let mut c = Command::new(berth());
    let root = std::env::temp_dir().join(unique("berth-check-root"));
    c.arg("--root").arg(root);
    c
}

fn findings<'a>(v: &'a Value, check: &str) -> Vec<&'a Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            format!(
                "{}/{}",
                f["area"].as_str().unwrap(),
                f["check"].as_str().unwrap()
            ) == check
        })
        .collect()
}

/// The capability bounding set, from /proc/self/status.
fn bounding() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let hex = s
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim();
    u64::from_str_radix(hex, 16).unwrap()
}

const CAP_SYS_ADMIN: i32 = 21;
const CAP_SYS_RESOURCE: i32 = 24;

#[test]
fn the_host_is_described_as_it_is() {
    let (out, v) = check_json(&mut berth_cmd());
    // Every finding has its fields and a known level; ok follows them.
    let all = v["findings"].as_array().unwrap();
    assert!(all.len() > 10, "{v}");
    for f in all {
        assert!(
            ["ok", "info", "warn", "fail"].contains(&f["level"].as_str().unwrap()),
            "{f}"
        );
        assert!(!f["found"].as_str().unwrap().is_empty(), "{f}");
    }
    let failed = all.iter().any(|f| f["level"] == "fail");
    assert_eq!(v["ok"], !failed);
    assert_eq!(out.status.success(), !failed, "{v}");

    // The layout, read here from mountinfo.
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let v1 = mi.lines().any(|l| l.contains(" - cgroup "));
    let v2 = mi.lines().any(|l| l.contains(" - cgroup2 "));
    let layout = findings(&v, "cgroups/layout")[0]["found"].as_str().unwrap();
    let want = match (v1, v2) {
        (true, true) => "hybrid",
        (true, false) => "v1",
        (false, true) => "v2",
        (false, false) => "no cgroup",
    };
    assert!(layout.starts_with(want), "{layout} (want {want})");

    // This host's bounding set, whatever it is: each missing capability
    // reported, and none that is there.
    let bnd = bounding();
    let caps = findings(&v, "privileges/bounding");
    let resource = caps
        .iter()
        .find(|f| f["found"].as_str().unwrap().starts_with("CAP_SYS_RESOURCE"));
    if bnd & (1 << CAP_SYS_RESOURCE) == 0 {
        let f = resource.expect("CAP_SYS_RESOURCE is missing here and must be reported");
        assert_eq!(f["level"], "warn");
        assert!(f["means"].as_str().unwrap().contains("rlimit"), "{f}");
    } else {
        assert!(resource.is_none(), "{v}");
    }

    // The text form: a line per finding, level first.
    let text = berth_cmd().arg("check").output().unwrap();
    // What this host is, in the test's output (RUST_TEST_NOCAPTURE=1).
    eprintln!("berth check:\n{}", stdout(&text));
    let lines: Vec<String> = stdout(&text).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), all.len(), "{}", stdout(&text));
    assert!(
        lines.iter().any(|l| l.starts_with("ok   cgroups/layout: ")),
        "{}",
        stdout(&text)
    );
}

#[test]
fn a_capability_dropped_from_the_bounding_set_is_reported() {
    let mut c = berth_cmd();
    // SAFETY (test): prctl between fork and exec, no allocation.
    unsafe {
        c.pre_exec(|| {
            for cap in [CAP_SYS_ADMIN, CAP_SYS_RESOURCE] {
                if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let (out, v) = check_json(&mut c);
    assert!(
        !out.status.success(),
        "no CAP_SYS_ADMIN must fail the check: {v}"
    );
    assert_eq!(v["ok"], false);
    let caps = findings(&v, "privileges/bounding");
    let admin = caps
        .iter()
        .find(|f| f["found"].as_str().unwrap().starts_with("CAP_SYS_ADMIN"))
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(admin["level"], "fail", "{admin}");
    let resource = caps
        .iter()
        .find(|f| f["found"].as_str().unwrap().starts_with("CAP_SYS_RESOURCE"))
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(resource["level"], "warn", "{resource}");
    assert!(!resource["fix"].as_str().unwrap().is_empty());
}

#[test]
fn no_new_privs_already_set_is_reported() {
    let (_, plain) = check_json(&mut berth_cmd());
    assert!(
        findings(&plain, "privileges/no-new-privs").is_empty(),
        "{plain}"
    );
    let mut c = berth_cmd();
    // SAFETY (test): prctl between fork and exec.
    unsafe {
        c.pre_exec(|| {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (out, v) = check_json(&mut c);
    let f = findings(&v, "privileges/no-new-privs");
    assert_eq!(f.len(), 1, "{v}");
    assert_eq!(f[0]["level"], "warn");
    assert_eq!(
        out.status.success(),
        plain["ok"] == true,
        "a warning fails nothing"
    );
}

#[test]
fn a_container_whose_init_is_gone_is_reported_stale() {
    let b = bundle(&["sleep", "1000"]);
    let out = b.create(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pid = b.state()["pid"].as_i64().unwrap() as i32;
    let check = |b: &Bundle| {
        let (_, v) = check_json(&mut b.cmd(&[]));
        findings(&v, "state/stale")[0].clone()
    };
    assert_eq!(check(&b)["level"], "ok");
    // SAFETY (test): a signal to the init this test created.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while b.state()["status"] != "stopped" {
        assert!(std::time::Instant::now() < end, "the init did not die");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let f = check(&b);
    assert_eq!(f["level"], "warn", "{f}");
    assert_eq!(f["found"], b.id.as_str());
    assert_eq!(f["fix"], format!("berth delete {}", b.id));
    b.ok(&["delete", &b.id]);
    assert_eq!(check(&b)["level"], "ok");
    // A create killed before its init was made: a claim and no pid.
    let half = format!("{}-half", b.id);
    std::fs::create_dir_all(b.root.join(&half)).unwrap();
    std::fs::write(b.root.join(&half).join("creating"), "").unwrap();
    let f = check(&b);
    assert_eq!(f["found"], half.as_str(), "{f}");
    b.ok(&["delete", &half]);
    assert_eq!(check(&b)["level"], "ok");
}

/// berth check in a private mount namespace whose /sys/fs/cgroup is
/// `setup` (shell, run once the hierarchies there are unmounted and an
/// empty tmpfs mounted in their place).
fn check_with_cgroups(setup: &str) -> (Output, Value) {
    let script = format!(
        "mount --make-rprivate / && for m in $(awk '$2 ~ \"^/sys/fs/cgroup\" {{print $2}}' /proc/self/mounts | sort -r); do umount \"$m\" || exit 1; done && mount -t tmpfs berth-check /sys/fs/cgroup && {setup} && exec \"$0\" --root \"$1\" check --format json"
    );
    let root = std::env::temp_dir().join(unique("berth-check-root"));
    parsed(
        Command::new("unshare")
            .args(["-m", "sh", "-c", &script, berth(), root.to_str().unwrap()])
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    )
}

#[test]
fn cgroup_layouts_are_reported_from_what_is_mounted() {
    // Nothing mounted: nothing can run.
    let (out, v) = check_with_cgroups("true");
    assert!(!out.status.success(), "{v}");
    let f = &findings(&v, "cgroups/layout")[0];
    assert_eq!(f["level"], "fail", "{f}");

    // Only cgroup2: the controllers v1 keeps for itself on a hybrid host
    // are missing there, and reported; on a pure v2 host none is.
    let (out, v) = check_with_cgroups(
        "mkdir /sys/fs/cgroup/unified && mount -t cgroup2 none /sys/fs/cgroup/unified",
    );
    assert!(
        findings(&v, "cgroups/layout")[0]["found"]
            .as_str()
            .unwrap()
            .starts_with("v2")
    );
    let host_v2 = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .find(|l| l.contains(" - cgroup2 "))
        .map(|l| l.split(' ').nth(4).unwrap().to_string())
        .expect("this host mounts cgroup2");
    let offered = std::fs::read_to_string(format!("{host_v2}/cgroup.controllers")).unwrap();
    let offered: Vec<&str> = offered.split_whitespace().collect();
    let want: Vec<&str> = ["cpu", "cpuset", "memory", "pids", "io", "hugetlb"]
        .into_iter()
        .filter(|c| !offered.contains(c))
        .collect();
    let missing = findings(&v, "cgroups/missing-controllers");
    if want.is_empty() {
        assert!(missing.is_empty(), "{v}");
    } else {
        assert_eq!(missing[0]["level"], "warn");
        assert_eq!(missing[0]["found"], want.join(" "), "{v}");
        assert!(
            missing[0]["means"].as_str().unwrap().contains("memory") || !want.contains(&"memory")
        );
    }
    assert_eq!(out.status.success(), v["ok"] == true);
}

#[test]
fn a_user_without_privileges_is_told_what_rootless_needs() {
    // A copy every user may run, and the check as nobody.
    let dir = std::env::temp_dir().join(unique("berth-check-bin"));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("berth");
    std::fs::copy(berth(), &bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for p in [&dir, &bin] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut c = Command::new(&bin);
    c.args(["check", "--format", "json"])
        .current_dir("/")
        .env_remove("XDG_RUNTIME_DIR");
    as_nobody(&mut c);
    let out = output_once_not_busy(&mut c);
    let _ = std::fs::remove_dir_all(&dir);
    let (_, v) = parsed(out);
    let eff = &findings(&v, "privileges/effective")[0];
    assert_eq!(eff["level"], "info", "{eff}");
    // Subordinate ids: whatever /etc/subuid gives nobody, said so.
    let ranges = &findings(&v, "privileges/id-ranges")[0];
    let listed = std::fs::read_to_string("/etc/subuid")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("nobody:") || l.starts_with("65534:"));
    if !listed {
        assert_eq!(ranges["level"], "warn", "{ranges}");
        assert!(
            ranges["found"]
                .as_str()
                .unwrap()
                .contains("0 subordinate uids")
        );
    }
    // Delegation: judged on a directory of the v2 hierarchy, or said
    // missing where there is none.
    let deleg = &findings(&v, "cgroups/delegation")[0];
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    match mi.lines().find(|l| l.contains(" - cgroup2 ")) {
        Some(l) => {
            let mp = l.split(' ').nth(4).unwrap();
            assert!(
                deleg["found"].as_str().unwrap().starts_with(mp),
                "{deleg} (v2 at {mp})"
            );
        }
        None => assert_eq!(deleg["level"], "warn", "{deleg}"),
    }
    // The bounding set is the caller's to keep, not an error of its own.
    for f in findings(&v, "privileges/bounding") {
        assert_ne!(f["level"], "fail", "{f}");
    }
}

#[test]
fn idmapped_mount_support_is_probed_per_filesystem() {
    // ramfs takes no idmapped mounts; mounted where only this test sees
    // it, it must be named among those that do not.
    let dir = std::env::temp_dir().join(unique("berth-check-ramfs"));
    std::fs::create_dir_all(&dir).unwrap();
    let root = std::env::temp_dir().join(unique("berth-check-root"));
    let (_, v) = parsed(
        Command::new("unshare")
            .args([
                "-m",
                "sh",
                "-c",
                "mount --make-rprivate / && mount -t ramfs berth-check \"$2\" && exec \"$0\" --root \"$1\" check --format json",
                berth(),
                root.to_str().unwrap(),
                dir.to_str().unwrap(),
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    );
    let _ = std::fs::remove_dir(&dir);
    let f = &findings(&v, "kernel/idmap")[0];
    let found = f["found"].as_str().unwrap();
    let (_, refused) = found
        .split_once("not on: ")
        .or_else(|| found.split_once("on none of: "))
        .unwrap_or_else(|| panic!("ramfs must be refused: {f}"));
    let ramfs_elsewhere = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(" - ramfs ");
    if ramfs_elsewhere {
        assert!(refused.contains("ramfs ("), "{f}");
    } else {
        assert!(
            refused.contains(&format!("ramfs ({})", dir.display())),
            "{f}"
        );
    }
    assert_eq!(f["level"], "info", "{f}");
    // The root filesystem is probed too, whatever it allows.
    assert!(found.contains(" (/)") || found.contains(" (/),"), "{f}");
}

/// The LSMs as the kernel shows them, SELinux's mode included (the
/// SELinux boot of `make vm` runs this with BERTH_EXPECT_SELINUX=1), and
/// a bundle's SELinux label judged by it: applied where SELinux is on,
/// a warning where it is off.
#[test]
fn selinux_and_apparmor_are_reported_as_the_kernel_has_them() {
    let text = berth_cmd()
        .arg("check")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    eprintln!("berth check here:\n{}", stdout(&text));
    let (_, v) = check_json(&mut berth_cmd());
    let selinux = match std::fs::read_to_string("/sys/fs/selinux/enforce") {
        Ok(s) if s.trim() == "1" => "enforcing",
        Ok(_) => "permissive",
        Err(_) => "off",
    };
    if std::env::var_os("BERTH_EXPECT_SELINUX").is_some() {
        assert_ne!(selinux, "off", "this boot must have SELinux on");
    }
    let apparmor = std::path::Path::new("/sys/kernel/security/apparmor").is_dir()
        && std::fs::read("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|v| v.starts_with(b"Y"));
    let lsm = &findings(&v, "kernel/lsm")[0];
    assert_eq!(
        lsm["found"],
        format!(
            "AppArmor {}; SELinux {selinux}",
            if apparmor { "enabled" } else { "off" }
        ),
        "{lsm}"
    );

    let mut b = bundle(&["true"]);
    b.config["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0:c1,c2");
    b.write();
    let out = b
        .cmd(&[
            "check",
            "--format",
            "json",
            "--bundle",
            b.dir.to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (_, v) = parsed(out);
    let warned = findings(&v, "bundle/selinux");
    if selinux == "off" {
        assert_eq!(warned.len(), 1, "{v}");
        assert_eq!(warned[0]["level"], "warn");
        assert!(warned[0]["found"].as_str().unwrap().contains("ignored"));
    } else {
        assert!(warned.is_empty(), "{v}");
    }
}
