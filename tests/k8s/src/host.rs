//! What the kubelet's side can see of a pod on the node itself: its
//! processes, cgroups, fds, log files and network namespace, read from
//! /proc, /sys/fs/cgroup and the CRI log, for the checks in main.rs.

use crate::Res;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lines a container wrote, from its CRI log ("TIME STREAM TAG text").
pub fn log_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.splitn(4, ' ').nth(3).map(str::to_string))
        .collect()
}

pub async fn wait_for(what: &str, mut f: impl FnMut() -> bool) -> Res<()> {
    let end = Instant::now() + Duration::from_secs(30);
    while !f() {
        if Instant::now() > end {
            return Err(format!("timed out waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// A process's cgroup directory for `controller` ("" for v2), from its
/// /proc/PID/cgroup, on this host's mounts.
pub fn cgroup_dir(pid: i64, controller: &str) -> Option<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    for l in text.lines() {
        let mut f = l.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        let hit = if controller.is_empty() {
            ctrls.is_empty()
        } else {
            ctrls.split(',').any(|c| c == controller)
        };
        if !hit {
            continue;
        }
        let base = if controller.is_empty() {
            ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
                .into_iter()
                .find(|b| Path::new(b).join("cgroup.controllers").exists())?
                .to_string()
        } else {
            std::fs::read_dir("/sys/fs/cgroup")
                .ok()?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .find(|n| n.split(',').any(|c| c == controller))
                .map(|n| format!("/sys/fs/cgroup/{n}"))?
        };
        return Some(Path::new(&base).join(path.trim_start_matches('/')));
    }
    None
}

/// The value of a cgroup setting of `pid`: the v1 file under its
/// controller, or the v2 file where the host is pure v2.
pub fn cgroup_value(pid: i64, v1: (&str, &str), v2: &str) -> Res<String> {
    let path = match cgroup_dir(pid, v1.0) {
        Some(d) => d.join(v1.1),
        None => cgroup_dir(pid, "")
            .ok_or(format!("no cgroup of {pid}"))?
            .join(v2),
    };
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("read {}: {e}", path.display()))
}

pub fn fd_count(pid: i64) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

pub fn procs_in(dir: &Path) -> Vec<i64> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

pub fn subdirs(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .count()
    })
}

/// Processes whose command line holds `needle` (the shim of a sandbox
/// carries its id).
pub fn processes_naming(needle: &str) -> Vec<i64> {
    let Ok(d) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i64>().ok())
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

pub fn alive(pid: i64) -> bool {
    // A zombie is gone for our purposes: its parent has yet to reap it.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

/// The network namespace CRI made for the pod, from the sandbox's spec.
pub fn netns_path(info: &serde_json::Value) -> Option<String> {
    info["runtimeSpec"]["linux"]["namespaces"]
        .as_array()?
        .iter()
        .find(|n| n["type"] == "network")?["path"]
        .as_str()
        .map(str::to_string)
}
