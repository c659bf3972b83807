//! User namespaces: whether berth itself runs in one (rootless detection),
//! and the id maps of the container's, written by the parent into the
//! child's /proc/PID/{uid,gid}_map: the child cannot map itself beyond its
//! own id.
//!
//! Who may write which map is the kernel's rule: a process with
//! CAP_SETUID/CAP_SETGID over the parent namespace writes any map (root,
//! or root of an outer user namespace within its own range); anyone else
//! only a single map of their own id, and for gids only once
//! /proc/PID/setgroups says "deny". Anything more goes through Debian's
//! setuid helpers newuidmap/newgidmap, which check the ranges against
//! /etc/subuid and /etc/subgid. berth, like runc, writes directly first
//! and falls back to the helper when the kernel says EPERM.

use crate::error::{Error, Result};
use crate::linux::procfs::Proc;
use oci_spec::runtime::LinuxIdMapping;
use std::path::{Path, PathBuf};

pub fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// The uid_map of a process in the initial user namespace.
fn is_initial_map(uid_map: &str) -> bool {
    let f: Vec<&str> = uid_map.split_whitespace().collect();
    f == ["0", "0", "4294967295"]
}

/// berth runs inside a user namespace (rootlesskit, `podman unshare`, a
/// rootless engine's own namespace): its uid 0 is not the host's root.
pub fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| !is_initial_map(&m))
}

/// `--rootless auto`, as runc decides it: a non-root euid, or euid 0
/// inside a user namespace.
pub fn rootless_auto() -> bool {
    !nix::unistd::geteuid().is_root() || in_user_namespace()
}

/// One map of the caller's own id: the only one the kernel lets an
/// unprivileged process write.
fn own_id_only(maps: &[LinuxIdMapping], own: u32) -> bool {
    matches!(maps, [m] if m.host_id() == own && m.size() == 1)
}

#[derive(Clone, Copy)]
enum Ids {
    Uid,
    Gid,
}

impl Ids {
    fn file(self) -> &'static str {
        match self {
            Ids::Uid => "uid_map",
            Ids::Gid => "gid_map",
        }
    }
    fn field(self) -> &'static str {
        match self {
            Ids::Uid => "linux.uidMappings",
            Ids::Gid => "linux.gidMappings",
        }
    }
    fn helper(self) -> &'static str {
        match self {
            Ids::Uid => "newuidmap",
            Ids::Gid => "newgidmap",
        }
    }
    fn subid_file(self) -> &'static str {
        match self {
            Ids::Uid => "/etc/subuid",
            Ids::Gid => "/etc/subgid",
        }
    }
}

/// Does berth write id maps itself, as root of its user namespace with
/// CAP_SETUID? Then the init can stay non-dumpable while they are written
/// (its /proc files belong to that root, which is us). Otherwise the
/// kernel (for our own id) or newuidmap (which checks the owner) needs
/// the init's /proc files to be ours: it must be dumpable for a moment.
pub fn writes_maps_itself() -> bool {
    nix::unistd::geteuid().is_root()
        && caps::has_cap(None, caps::CapSet::Effective, caps::Capability::CAP_SETUID)
            .unwrap_or(false)
}

/// Write the container's maps. Unless `writes_maps_itself`, `pid` must
/// still be dumpable: its /proc files then belong to our euid, which is
/// what lets an unprivileged berth (and newuidmap) write them.
pub fn write_maps(
    proc: &Proc,
    pid: i32,
    uid: &[LinuxIdMapping],
    gid: &[LinuxIdMapping],
) -> Result<()> {
    write_map(proc, pid, Ids::Uid, uid)?;
    // Without CAP_SETGID the kernel takes a gid map only after setgroups
    // is denied for good (else the container could drop a group that the
    // host uses to deny it access). newgidmap decides that itself.
    let privileged =
        caps::has_cap(None, caps::CapSet::Effective, caps::Capability::CAP_SETGID).unwrap_or(false);
    if !privileged && own_id_only(gid, nix::unistd::getegid().as_raw()) {
        proc.write(&format!("{pid}/setgroups"), "deny")
            .map_err(|e| e.context("linux.gidMappings: deny setgroups"))?;
    }
    write_map(proc, pid, Ids::Gid, gid)
}

fn write_map(proc: &Proc, pid: i32, ids: Ids, maps: &[LinuxIdMapping]) -> Result<()> {
    let e = match proc.write(&format!("{pid}/{}", ids.file()), &map_text(maps)) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    if e.errno() != Some(nix::errno::Errno::EPERM) {
        return Err(e.context(ids.field()));
    }
    let Some(helper) = find_helper(ids.helper()) else {
        return Err(Error::msg(format!(
            "{}: {e}: mapping more than berth's own id needs {} (Debian's uidmap package), which is not installed",
            ids.field(),
            ids.helper()
        )));
    };
    run_helper(&helper, pid, ids, maps)
}

/// The helper from PATH, else from where Debian installs it (an engine
/// may run berth with a short PATH).
fn find_helper(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .filter(|d| !d.is_empty())
        .chain(["/usr/bin", "/usr/sbin", "/bin", "/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// `newuidmap PID ID LOWER COUNT...`, whose own message says which range
/// /etc/subuid does not allow.
fn run_helper(helper: &Path, pid: i32, ids: Ids, maps: &[LinuxIdMapping]) -> Result<()> {
    let mut args = vec![pid.to_string()];
    for m in maps {
        args.extend([
            m.container_id().to_string(),
            m.host_id().to_string(),
            m.size().to_string(),
        ]);
    }
    let shown = format!("{} {}", helper.display(), args.join(" "));
    let out = std::process::Command::new(helper)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            let errno = nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
            Error::sys("run", &shown, errno).context(ids.field())
        })?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stderr);
    let said = said.trim();
    Err(Error::msg(format!(
        "{}: {shown} failed ({}){}{said}; the host ranges must be given to this user in {}",
        ids.field(),
        out.status,
        if said.is_empty() { "" } else { ": " },
        ids.subid_file()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(json: &str) -> Vec<LinuxIdMapping> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn maps_are_one_line_per_range() {
        let m = maps(
            r#"[{"containerID":0,"hostID":100000,"size":65536},{"containerID":65536,"hostID":1000,"size":1}]"#,
        );
        assert_eq!(map_text(&m), "0 100000 65536\n65536 1000 1\n");
    }

    #[test]
    fn only_a_single_map_of_our_own_id_is_unprivileged() {
        assert!(own_id_only(
            &maps(r#"[{"containerID":0,"hostID":1000,"size":1}]"#),
            1000
        ));
        assert!(own_id_only(
            &maps(r#"[{"containerID":7,"hostID":1000,"size":1}]"#),
            1000
        ));
        assert!(!own_id_only(
            &maps(r#"[{"containerID":0,"hostID":1000,"size":2}]"#),
            1000
        ));
        assert!(!own_id_only(
            &maps(
                r#"[{"containerID":0,"hostID":1000,"size":1},{"containerID":1,"hostID":100000,"size":65536}]"#
            ),
            1000
        ));
    }

    #[test]
    fn the_initial_namespace_maps_every_id_to_itself() {
        assert!(is_initial_map("         0          0 4294967295\n"));
        assert!(!is_initial_map("         0       1000          1\n"));
        assert!(!is_initial_map("0 1000 1\n1 100000 65536\n"));
    }
}
