//! Idmapped mounts: a bind whose file owners are seen through id maps
//! (mount_setattr MOUNT_ATTR_IDMAP). The maps travel in a user namespace,
//! so one is made just to carry them: a child that does nothing but wait
//! in a fresh user namespace while its maps are written and the namespace
//! is opened.
//!
//! The mount is prepared by `create` itself, before the init exists:
//! idmapping a mount needs CAP_SYS_ADMIN over the user namespace its
//! filesystem belongs to (the host's), which the init of a container with
//! a user namespace no longer has. The detached tree reaches the init as
//! an inherited fd, and the init attaches it with move_mount.

use crate::error::{Error, Result, SysContext};
use crate::linux::procfs::Proc;
use crate::linux::{sys, userns};
use oci_spec::runtime::LinuxIdMapping;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// What a mount's ids are seen through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idmap {
    pub uid: Vec<LinuxIdMapping>,
    pub gid: Vec<LinuxIdMapping>,
    /// `ridmap` (or an rbind with maps and no `idmap`): the mounts below
    /// the source are idmapped too, not only its top.
    pub recursive: bool,
}

/// A user namespace with these maps, as an fd (/proc/PID/ns/user of a
/// child made for it; the namespace outlives the child through the fd).
pub fn userns_with_maps(
    proc: &Proc,
    uid: &[LinuxIdMapping],
    gid: &[LinuxIdMapping],
) -> Result<OwnedFd> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).sys("pipe", "idmap helper")?;
    let pid = match sys::clone3(libc::CLONE_NEWUSER as u64, None)
        .sys("clone3", "idmap user namespace")?
    {
        sys::Forked::Child => {
            drop(w);
            // EOF once the parent is done with us (or gone).
            let mut b = [0u8; 1];
            while let Err(nix::errno::Errno::EINTR) = nix::unistd::read(r.as_fd(), &mut b) {}
            sys::exit_now(0)
        }
        sys::Forked::Parent { pid, .. } => pid,
    };
    drop(r);
    let opened = (|| {
        proc.write(&format!("{pid}/uid_map"), &userns::map_text(uid))
            .map_err(|e| e.context("uidMappings"))?;
        proc.write(&format!("{pid}/gid_map"), &userns::map_text(gid))
            .map_err(|e| e.context("gidMappings"))?;
        // A magic link, which the verified procfs handle will not follow;
        // mount_setattr refuses anything but a user namespace.
        let ns = format!("/proc/{pid}/ns/user");
        nix::fcntl::open(
            ns.as_str(),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .sys("open", &ns)
    })();
    drop(w);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    opened
}

/// A detached, idmapped copy of `source` (with its submounts when
/// `recursive_bind`), ready for move_mount.
pub fn prepare(proc: &Proc, source: &Path, recursive_bind: bool, map: &Idmap) -> Result<OwnedFd> {
    let tree = sys::open_tree_clone(source, recursive_bind).sys("open_tree", source.display())?;
    let ns = userns_with_maps(proc, &map.uid, &map.gid)?;
    sys::mount_setattr_idmap(tree.as_fd(), ns.as_fd(), map.recursive).map_err(|e| {
        let why = match e {
            nix::errno::Errno::EINVAL => {
                " (the filesystem, or one mounted below it, may not support idmapped mounts)"
            }
            nix::errno::Errno::EPERM => {
                " (needs CAP_SYS_ADMIN over the filesystem's user namespace)"
            }
            _ => "",
        };
        Error::sys(
            "idmap mount (mount_setattr MOUNT_ATTR_IDMAP)",
            source.display(),
            e,
        )
        .context(format!("idmapped mount{why}"))
    })?;
    Ok(tree)
}
