//! SELinux labels: `process.selinuxLabel` (and `exec --process-label`)
//! is the context the program runs in, set "on exec" so that berth itself
//! keeps its own up to the execve, and the session keyring's label;
//! `linux.mountLabel` is the context of the filesystems the container
//! mounts fresh. Where SELinux is off, runc ignores both (its label
//! library does nothing then), and so does berth, with a warning.
//!
//! Whether SELinux is on is decided once, in validation, before the
//! container's init is cloned: after pivot_root the init could no longer
//! see the host's selinuxfs, and the clone inherits the answer.

use crate::error::{Error, Result, SysContext};
use crate::linux::procfs::Proc;
use std::os::fd::BorrowedFd;
use std::sync::OnceLock;

/// selinuxfs is mounted: the kernel enforces or audits SELinux.
pub fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::path::Path::new("/sys/fs/selinux/enforce").exists())
}

/// Decide about a label before anything is created.
pub fn check(field: &str, label: Option<&str>) -> Result<()> {
    let Some(l) = label.filter(|l| !l.is_empty()) else {
        return Ok(());
    };
    if let Some(w) = ignored(field, label) {
        crate::logging::warn(&w);
        return Ok(());
    }
    well_formed(l).map_err(|why| Error::config(field, format!("{l:?}: {why}")))
}

/// The warning for a label given where SELinux is off: runc, too, runs
/// the container without it.
pub fn ignored(field: &str, label: Option<&str>) -> Option<String> {
    let l = label.filter(|l| !l.is_empty() && !enabled())?;
    Some(format!(
        "{field} {l:?} ignored: SELinux is not enabled on this host (as runc does)"
    ))
}

/// A context is user:role:type, then an MLS level that may hold colons
/// and commas itself (s0:c1,c2). The kernel has the last word; this
/// catches what would otherwise break the mount data it is quoted into.
fn well_formed(l: &str) -> std::result::Result<(), &'static str> {
    let parts: Vec<&str> = l.splitn(4, ':').collect();
    if parts.len() < 3 || parts[..3].iter().any(|p| p.is_empty()) {
        return Err("an SELinux context is user:role:type[:level]");
    }
    if l.contains(['"', '\n', '\0']) {
        return Err("quotes, newlines and NUL have no place in an SELinux context");
    }
    Ok(())
}

/// The label to apply: the config's, when SELinux is on.
pub fn active(label: Option<&str>) -> Option<&str> {
    label.filter(|l| !l.is_empty() && enabled())
}

/// Run the next execve in `label`. `proc` is a procfs where "thread-self"
/// is this thread (CVE-2025-52881: never a path inside the container).
pub fn apply_on_exec(proc: &Proc, label: Option<&str>) -> Result<()> {
    let Some(l) = active(label) else {
        return Ok(());
    };
    proc.write("thread-self/attr/exec", l)
        .map_err(|e| e.context(format!("process.selinuxLabel {l:?}")))
}

/// Keyrings this thread creates next get `label`, as runc labels the
/// container's session keyring. execve resets it.
pub fn set_key_label(proc: &Proc, label: Option<&str>) -> Result<()> {
    let Some(l) = active(label) else {
        return Ok(());
    };
    proc.write("thread-self/attr/keycreate", l)
        .map_err(|e| e.context(format!("session keyring label {l:?}")))
}

/// Filesystems that take no context= option: proc and sysfs have their
/// own labelling, mqueue is labelled after mounting (`label_mount`), and
/// the cgroup mount is bind mounts under a tmpfs of berth's own.
fn takes_context(fstype: &str) -> bool {
    !matches!(fstype, "proc" | "sysfs" | "mqueue" | "cgroup" | "cgroup2")
}

/// A fresh mount's data with `label` as its context, quoted since MCS
/// levels hold commas.
pub fn mount_data(fstype: &str, data: &str, label: &str) -> String {
    if !takes_context(fstype) || data.split(',').any(|o| o.starts_with("context=")) {
        return data.to_string();
    }
    let ctx = format!("context=\"{label}\"");
    if data.is_empty() {
        ctx
    } else {
        format!("{data},{ctx}")
    }
}

/// Label a mount made without context= (mqueue): `top` is its root.
pub fn label_mount(top: BorrowedFd, dest: &str, label: &str) -> Result<()> {
    let path = crate::linux::sys::fd_path(top);
    let value = std::ffi::CString::new(label).map_err(|_| Error::msg("label has a NUL"))?;
    let c = std::ffi::CString::new(path.as_str()).map_err(|_| Error::msg("path has a NUL"))?;
    // SAFETY: both strings are NUL-terminated and outlive the call; the
    // length is that of the value without its NUL, as the kernel wants.
    let r = unsafe {
        libc::setxattr(
            c.as_ptr(),
            c"security.selinux".as_ptr(),
            value.as_ptr().cast(),
            label.len(),
            0,
        )
    };
    nix::errno::Errno::result(r)
        .map(drop)
        .sys("label mount: setxattr security.selinux", dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_need_user_role_and_type() {
        assert!(well_formed("system_u:system_r:container_t:s0:c1,c2").is_ok());
        assert!(well_formed("system_u:object_r:container_file_t").is_ok());
        assert!(well_formed("container_t").is_err());
        assert!(well_formed("u::t:s0").is_err());
        assert!(well_formed("u:r:t:s0\",ro").is_err());
    }

    #[test]
    fn fresh_mounts_get_the_context_quoted_and_once() {
        let l = "system_u:object_r:container_file_t:s0:c1,c2";
        assert_eq!(
            mount_data("tmpfs", "mode=755,size=65536k", l),
            format!("mode=755,size=65536k,context=\"{l}\"")
        );
        assert_eq!(mount_data("devpts", "", l), format!("context=\"{l}\""));
        for t in ["proc", "sysfs", "mqueue", "cgroup", "cgroup2"] {
            assert_eq!(mount_data(t, "x=1", l), "x=1", "{t}");
        }
        // An explicit context option in the config wins.
        assert_eq!(
            mount_data("tmpfs", "context=\"a:b:c\"", l),
            "context=\"a:b:c\""
        );
    }
}
