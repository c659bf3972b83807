//! Reading a container's cgroups from the host, for the cgroup tests.

use super::{Bundle, stderr};
use std::path::{Path, PathBuf};

pub fn file(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
        .trim()
        .to_string()
}

/// Is /sys/fs/cgroup itself cgroup2, with no v1 hierarchy at all?
pub fn pure_v2() -> bool {
    std::fs::read_to_string("/proc/self/mounts")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("cgroup2 /sys/fs/cgroup cgroup2 "))
}

/// The container's directory for a controller: its v1 hierarchy, or
/// the one v2 directory.
pub fn dir_of(b: &Bundle, controller: &str) -> PathBuf {
    let dirs = b.cgroup_dirs();
    if pure_v2() {
        return dirs.into_iter().next().unwrap();
    }
    dirs.into_iter()
        .find(|d| d.starts_with(format!("/sys/fs/cgroup/{controller}/")))
        .unwrap_or_else(|| panic!("no {controller} hierarchy"))
}

pub fn v2_dir(b: &Bundle) -> PathBuf {
    let unified = if pure_v2() {
        "/sys/fs/cgroup/"
    } else {
        "/sys/fs/cgroup/unified/"
    };
    b.cgroup_dirs()
        .into_iter()
        .find(|d| d.starts_with(unified))
        .unwrap()
}

/// A count from a flat-keyed file such as memory.events.
pub fn key_of(dir: &Path, name: &str, key: &str) -> u64 {
    file(dir, name)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key} ")))
        .unwrap_or_else(|| panic!("no {key} in {name}"))
        .parse()
        .unwrap()
}

/// A test's parent cgroup `/NAME`, on every hierarchy it is on (berth
/// made it on those the test did not), removed; with `empty`, the
/// container's `c` below it must already be gone, else it goes too.
pub fn remove_parent_everywhere(name: &str, empty: bool) {
    let mut parents = vec![PathBuf::from("/sys/fs/cgroup").join(name)];
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        parents.push(h.path().join(name));
    }
    for p in parents.iter().filter(|p| p.is_dir()) {
        let c = p.join("c");
        if empty {
            assert!(!c.exists(), "{} left", c.display());
        } else {
            let _ = std::fs::remove_dir(c);
        }
        std::fs::remove_dir(p).unwrap();
    }
}

pub fn start_detached(b: &Bundle) {
    let out = b.create(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    b.ok(&["start", &b.id]);
}
