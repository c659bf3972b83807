//! CVE-2025-52881: a runtime's writes to procfs (sysctl, oom_score_adj)
//! redirected by mounts the config places over /proc files inside the
//! container. berth writes through a handle on the host's procfs, opened
//! before the container's mounts exist, walking with RESOLVE_NO_XDEV and
//! checking PROC_SUPER_MAGIC: the files mounted on top are never written,
//! and the kernel's values are set. (The AppArmor exec attribute goes
//! through the same handle; SELinux labels are not written.) With the sysctl
//! written through the container's /proc path instead, the first test
//! fails: the decoy is written, or create fails on the tmpfs.
//!
//! Runtimes that refuse mounts over /proc (runc's checkProcMount) pass the
//! static tests; the advisory's attack gets past that check with a racing
//! container whose shared mounts place the decoy after the check. The
//! last test wins that race deterministically with a createContainer hook.

mod common;
use common::*;
use serde_json::json;
use std::process::Command;

/// A host file bound over a /proc file, as an attacker's config would.
fn decoy(b: &Bundle, name: &str) -> std::path::PathBuf {
    let p = b.dir.join(name);
    std::fs::write(&p, "0\n").unwrap();
    p
}

fn in_netns(pid: i64, path: &str) -> String {
    let out = Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .args(["cat", path])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_string()
}

#[test]
fn sysctl_writes_ignore_mounts_over_proc_sys() {
    let mut b = peer_bundle(&["sleep", "100"]);
    let fake = decoy(&b, "ip_forward");
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    // A file bound over the sysctl, a tmpfs over the directory of another.
    mounts.push(json!({"destination": "/proc/sys/net/ipv4/ip_forward", "type": "bind", "source": fake, "options": ["bind"]}));
    mounts.push(
        json!({"destination": "/proc/sys/net/ipv4/conf", "type": "tmpfs", "source": "tmpfs"}),
    );
    b.config["linux"]["sysctl"] =
        json!({"net.ipv4.ip_forward": "1", "net.ipv4.conf.lo.forwarding": "1"});
    let out = b.create(&[]);
    if !runtime_is_berth() && !out.status.success() {
        // Another runtime's refusal of the mounts is as good as ignoring them.
        assert_decoy_untouched(&fake);
        b.assert_no_leftovers();
        return;
    }
    let pid = created_pid(&b, &out);
    assert_decoy_untouched(&fake);
    // The container's own view is the attacker's; the kernel's is set.
    b.ok(&["start", &b.id]);
    let seen = b.ok(&[
        "exec",
        &b.id,
        "sh",
        "-c",
        "cat /proc/sys/net/ipv4/ip_forward; ls /proc/sys/net/ipv4/conf | wc -l",
    ]);
    assert_eq!(seen, "0\n0\n");
    assert_eq!(in_netns(pid, "/proc/sys/net/ipv4/ip_forward"), "1");
    assert_eq!(in_netns(pid, "/proc/sys/net/ipv4/conf/lo/forwarding"), "1");
    b.ok(&["delete", "--force", &b.id]);
}

#[test]
fn oom_score_adj_ignores_mounts_over_proc_self() {
    for dest in ["/proc/self/oom_score_adj", "/proc/1/oom_score_adj"] {
        let mut b = peer_bundle(&["sleep", "100"]);
        let fake = decoy(&b, "oom_score_adj");
        b.config["mounts"].as_array_mut().unwrap().push(
            json!({"destination": dest, "type": "bind", "source": fake, "options": ["bind"]}),
        );
        b.config["process"]["oomScoreAdj"] = json!(345);
        let out = b.create(&[]);
        if !out.status.success() {
            // Refusing the mount is as good as ignoring it.
            let e = stderr(&out);
            assert!(!runtime_is_berth() || e.contains("mounts["), "{dest}: {e}");
            assert_decoy_untouched(&fake);
            b.assert_no_leftovers();
            continue;
        }
        let pid = b.state()["pid"].as_i64().unwrap();
        assert_eq!(
            std::fs::read_to_string(&fake).unwrap(),
            "0\n",
            "{dest}: the decoy was written"
        );
        assert_eq!(
            std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).unwrap(),
            "345\n",
            "{dest}"
        );
        b.ok(&["delete", "--force", &b.id]);
    }
}

#[test]
fn sysctl_writes_ignore_a_mount_placed_after_the_mounts_are_checked() {
    // The hook runs in the container's mount namespace once the runtime
    // has made and checked its mounts, before pivot_root: where a racing
    // container's shared mount would land. A runtime that writes sysctls
    // through the container's /proc after that point writes the decoy.
    let mut b = peer_bundle(&["sleep", "100"]);
    let fake = decoy(&b, "ip_forward");
    let target = format!(
        "{}/proc/sys/net/ipv4/ip_forward",
        b.config["root"]["path"].as_str().unwrap()
    );
    b.config["hooks"] = json!({"createContainer": [
        {"path": "/bin/mount", "args": ["mount", "--bind", fake, target]}
    ]});
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    let out = b.create(&[]);
    let pid = created_pid(&b, &out);
    assert_decoy_untouched(&fake);
    assert_eq!(in_netns(pid, "/proc/sys/net/ipv4/ip_forward"), "1");
    // The decoy is in place: the container sees it.
    b.ok(&["start", &b.id]);
    let seen = b.ok(&["exec", &b.id, "cat", "/proc/sys/net/ipv4/ip_forward"]);
    assert_eq!(seen, "0\n");
    b.ok(&["delete", "--force", &b.id]);
}

fn created_pid(b: &Bundle, out: &std::process::Output) -> i64 {
    assert!(out.status.success(), "{}", stderr(out));
    b.state()["pid"].as_i64().unwrap()
}

fn assert_decoy_untouched(fake: impl AsRef<std::path::Path>) {
    assert_eq!(
        std::fs::read_to_string(fake.as_ref()).unwrap(),
        "0\n",
        "the decoy was written"
    );
}
