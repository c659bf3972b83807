//! The processes below a container's init: found from the kernel's
//! per-thread children lists (or a scan of /proc), and each signalled by
//! handle, never by a pid that may have been reused.

use crate::linux::sys;
use std::path::Path;

/// Every descendant of `pid` with its parent, each listed after its
/// parent, from the kernel's per-thread children lists; falls back to a
/// scan of /proc's parent pids where the kernel lacks those lists.
pub fn descendants(pid: i32) -> Vec<(i32, i32)> {
    static LISTS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let lists = *LISTS.get_or_init(|| {
        let me = std::process::id();
        Path::new(&format!("/proc/{me}/task/{me}/children")).exists()
    });
    let children = |p: i32| -> Vec<i32> {
        if !lists {
            return children_by_scan(p);
        }
        // A thread that ends meanwhile has no list: its children are
        // listed under the others (they belong to the process).
        std::fs::read_dir(format!("/proc/{p}/task"))
            .map(|tasks| {
                tasks
                    .flatten()
                    .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
                    .flat_map(|text| {
                        text.split_whitespace()
                            .filter_map(|c| c.parse::<i32>().ok())
                            .collect::<Vec<_>>()
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut all: Vec<(i32, i32)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut next = vec![pid];
    while let Some(p) = next.pop() {
        for c in children(p) {
            if all.len() < 65_536 && seen.insert(c) {
                all.push((c, p));
                next.push(c);
            }
        }
    }
    all
}

/// Signal `pid` only while it is still the child of `parent`: through a
/// pidfd opened first, so that a pid freed and reused meanwhile by some
/// other process is never hit.
pub fn signal_child(pid: i32, parent: i32, sig: i32) {
    let Ok(fd) = sys::pidfd_open(pid) else {
        return;
    };
    if parent_of(pid) == Some(parent) {
        let _ = sys::pidfd_send_signal(std::os::fd::AsFd::as_fd(&fd), sig);
    }
}

/// The parent pid of `pid` (/proc/PID/stat field 4).
pub fn parent_of(pid: i32) -> Option<i32> {
    let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    st[st.rfind(')')? + 2..].split(' ').nth(1)?.parse().ok()
}

fn children_by_scan(parent: i32) -> Vec<i32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| parent_of(*p) == Some(parent))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descendants_are_found_to_the_grandchildren() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 100 & sleep 100 & wait"])
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        // Waited for by the shell's own children: other tests running
        // in this process have children of their own meanwhile.
        let mut below = Vec::new();
        for _ in 0..400 {
            below = descendants(pid);
            if below.len() >= 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let found = descendants(std::process::id() as i32);
        assert!(
            found.contains(&(pid, std::process::id() as i32)),
            "{found:?}"
        );
        assert!(
            below.iter().all(|b| found.contains(b)),
            "the grandchildren are descendants of the test: {found:?}"
        );
        assert_eq!(below.len(), 2, "{below:?}");
        assert!(below.iter().all(|(_, parent)| *parent == pid));
        assert_eq!(children_by_scan(pid).len(), 2);
        // A wrong parent: not signalled.
        signal_child(below[0].0, 1, libc::SIGKILL);
        assert_eq!(parent_of(below[0].0), Some(pid));
        for (p, parent) in below {
            signal_child(p, parent, libc::SIGKILL);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
