//! Nothing leaks after many create/delete cycles: no state dirs, no
//! cgroups, no host mounts, no processes.

mod common;
use common::*;
use std::process::Stdio;

fn host_mounts() -> usize {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .count()
}

fn inits_alive() -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "berth:init")
                && std::fs::read_to_string(e.path().join("stat")).is_ok_and(|s| !s.contains(") Z"))
        })
        .count()
}

#[test]
fn a_thousand_runs_and_a_hundred_create_deletes_leave_nothing() {
    let b = bundle(&["true"]);
    b.write();
    let mounts_before = host_mounts();
    let dir = b.dir.to_str().unwrap().to_string();
    for i in 0..1000 {
        let id = format!("{}-r{i}", b.id);
        let st = b
            .cmd(&["run", "-b", &dir, &id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "run {i}");
        assert!(
            cgroup_dirs_for(&id).iter().all(|d| !d.exists()),
            "cgroup of {id} left"
        );
    }
    for i in 0..100 {
        let id = format!("{}-c{i}", b.id);
        let err = std::fs::File::create(b.dir.join("err")).unwrap();
        let st = b
            .cmd(&["create", "-b", &dir, &id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .status()
            .unwrap();
        assert!(st.success(), "create {i}");
        // Created, not stopped: only --force deletes it (runtime.md).
        b.ok(&["delete", "--force", &id]);
        assert!(
            cgroup_dirs_for(&id).iter().all(|d| !d.exists()),
            "cgroup of {id} left"
        );
    }
    assert_eq!(b.ok(&["list", "-q"]), "", "state left behind");
    assert_eq!(std::fs::read_dir(&b.root).unwrap().count(), 0);
    assert_eq!(host_mounts(), mounts_before, "host mounts changed");
    // This file's only test: no other container runs meanwhile, and every
    // delete waited for its init.
    assert_eq!(inits_alive(), 0, "a container init is still alive");
}
