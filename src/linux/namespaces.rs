//! Namespace flags, joining by path, and the time namespace (whose offsets
//! must be written before any process is inside it).

use crate::error::{Error, Result, SysContext};
use crate::spec::Namespaces;
use nix::errno::Errno;
use nix::sched::{CloneFlags, setns, unshare};
use oci_spec::runtime::{LinuxNamespaceType, LinuxTimeOffset};
use std::collections::HashMap;
use std::os::fd::AsFd;

pub fn flag(t: LinuxNamespaceType) -> CloneFlags {
    CloneFlags::from_bits_retain(t as i32)
}

/// Namespaces the init is cloned into. cgroup and time come later: the
/// cgroup namespace must be rooted at the container's cgroup (after the
/// join), and time offsets must be set before anyone enters.
pub fn clone_flags(ns: &Namespaces) -> CloneFlags {
    ns.new
        .iter()
        .filter(|t| !matches!(t, LinuxNamespaceType::Cgroup | LinuxNamespaceType::Time))
        .fold(CloneFlags::empty(), |f, t| f | flag(*t))
}

/// Its name under /proc/PID/ns.
fn proc_name(t: LinuxNamespaceType) -> &'static str {
    use LinuxNamespaceType::*;
    match t {
        Mount => "mnt",
        Cgroup => "cgroup",
        Uts => "uts",
        Ipc => "ipc",
        User => "user",
        Pid => "pid",
        Network => "net",
        Time => "time",
    }
}

/// The first of the new namespaces this kernel cannot make, and why: a
/// type it was built without (no /proc/self/ns entry), or user
/// namespaces turned off. Asked when a clone fails, whose EINVAL or
/// ENOSPC alone would not say which.
pub fn kernel_lacks(new: &[LinuxNamespaceType]) -> Option<Error> {
    for t in new {
        let entry = format!("/proc/self/ns/{}", proc_name(*t));
        if std::fs::symlink_metadata(&entry).is_err() {
            return Some(Error::config(
                "linux.namespaces",
                format!("this kernel has no {t} namespaces (no {entry})"),
            ));
        }
        if *t == LinuxNamespaceType::User
            && std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
                .is_ok_and(|v| v.trim() == "0")
        {
            return Some(Error::config(
                "linux.namespaces",
                "user namespaces are turned off on this host (user.max_user_namespaces is 0)",
            ));
        }
    }
    None
}

/// Join every namespace given by path, the user namespace first so that
/// the others are joined with its privileges.
pub fn join_all(ns: &Namespaces) -> Result<()> {
    let mut joins: Vec<_> = ns.join.iter().collect();
    joins.sort_by_key(|(t, _)| *t != LinuxNamespaceType::User);
    // Open every path first: once the mount namespace is joined, later
    // paths would resolve in the container's filesystem.
    let files = joins
        .iter()
        .map(|(t, path)| {
            std::fs::File::open(path).sys(&format!("open {t} namespace"), path.display())
        })
        .collect::<Result<Vec<_>>>()?;
    for ((t, path), f) in joins.iter().zip(&files) {
        let r = setns(f.as_fd(), flag(*t)).sys(&format!("join {t} namespace"), path.display());
        // The kernel wants CAP_SYS_ADMIN both over the namespace and in
        // our own user namespace: a rootless berth has it only once it is
        // in the user namespace that owns the one it joins.
        if let Err(e) = r {
            let rootless = !nix::unistd::geteuid().is_root();
            return Err(
                if rootless && *t != LinuxNamespaceType::User && e.errno() == Some(Errno::EPERM) {
                    e.context(format!(
                        "linux.namespaces: berth runs rootless and may join a {t} namespace only with the user namespace that owns it (give that one's path too, or run berth inside it)"
                    ))
                } else {
                    e
                },
            );
        }
    }
    Ok(())
}

pub fn new_cgroup_ns() -> Result<()> {
    unshare(CloneFlags::CLONE_NEWCGROUP).sys("unshare", "cgroup namespace")
}

/// unshare a time namespace: it applies to our children only, and its
/// offsets can be written until a process enters it. The parent writes
/// them (`time_offsets_text`, to /proc/PID/timens_offsets), as the host's
/// root: writing our own would need us dumpable, in view of whatever
/// shares our pid namespace.
pub fn unshare_time_ns() -> Result<()> {
    unshare(CloneFlags::from_bits_retain(CLONE_NEWTIME)).sys("unshare", "time namespace")
}

/// Enter the time namespace unshared above, through
/// /proc/self/ns/time_for_children: no extra process needed.
pub fn enter_time_ns() -> Result<()> {
    // An nsfs magic link: opened by path, before pivot_root, on host /proc.
    let path = "/proc/self/ns/time_for_children";
    let f = std::fs::File::open(path).sys("open", path)?;
    setns(f.as_fd(), CloneFlags::from_bits_retain(CLONE_NEWTIME))
        .map_err(|e| Error::sys("enter", "time namespace", e))
}

/// linux.timeOffsets as /proc/PID/timens_offsets takes them.
pub fn time_offsets_text(offsets: &HashMap<String, LinuxTimeOffset>) -> String {
    offsets
        .iter()
        .map(|(clock, o)| {
            format!(
                "{clock} {} {}\n",
                o.secs().unwrap_or(0),
                o.nanosecs().unwrap_or(0)
            )
        })
        .collect()
}

const CLONE_NEWTIME: i32 = 0x80;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_and_time_are_not_clone_flags() {
        let ns = Namespaces {
            new: vec![
                LinuxNamespaceType::Pid,
                LinuxNamespaceType::Cgroup,
                LinuxNamespaceType::Time,
                LinuxNamespaceType::Network,
            ],
            join: vec![],
        };
        assert_eq!(
            clone_flags(&ns),
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNET
        );
    }
}
