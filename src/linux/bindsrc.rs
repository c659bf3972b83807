//! Bind-mount sources of a container with a user namespace of its own.
//!
//! The init binds its sources from inside that namespace, where the
//! host's root is not root: a source below a directory only the host's
//! root may enter (mode 0700, owned by an id outside the maps) is out of
//! its reach. Kubernetes' `hostUsers: false` and Podman's `--userns` with
//! volumes bind such sources. So berth opens them first, as the host's
//! root but from inside the init's new mount namespace (a helper process
//! joins it), and the init binds the fds it is sent.
//!
//! Opened there, each source is a mount of the init's own tree, which the
//! kernel lets the init bind, and the flags it locked when it copied the
//! host's mounts for a less privileged namespace (ro, nosuid, nodev, ...)
//! stay locked on the bind. A tree cloned in the host's namespace
//! (open_tree) would carry no locks: the container could clear them.

use crate::error::{Error, Result, SysContext};
use crate::linux::sys;
use crate::linux::trusted::{self, Walked};
use nix::fcntl::OFlag;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

/// Open each `(mount index, source)` with O_PATH inside the mount
/// namespace of the process `pidfd` names, and `send` each fd on. The
/// helper that does it is a fork of ours: `send` runs there.
pub fn open_in(
    pidfd: BorrowedFd,
    sources: &[(usize, &Path)],
    send: &dyn Fn(usize, BorrowedFd) -> Result<()>,
) -> Result<()> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).sys("pipe", "bind source helper")?;
    let pid = match sys::clone3(0, None).sys("clone3", "bind source helper")? {
        sys::Forked::Child => {
            drop(r);
            let opened = (|| {
                nix::sched::setns(pidfd, nix::sched::CloneFlags::CLONE_NEWNS)
                    .sys("setns", "the init's mount namespace")?;
                for (i, source) in sources {
                    // Links followed as mount(2) follows them, if
                    // the host's root owns every one.
                    let what = format!("bind-mount source {}", source.display());
                    match trusted::open(source, &what)? {
                        Walked::Opened(fd) => send(*i, fd.as_fd())?,
                        Walked::Untrusted { link, owner } => crate::logging::debug(&format!(
                            "{what}: {} on the way is uid {owner}'s link: left to the init",
                            link.display()
                        )),
                    }
                }
                Ok::<_, Error>(())
            })();
            match opened {
                Ok(()) => sys::exit_now(0),
                Err(e) => {
                    let _ = nix::unistd::write(&w, e.to_string().as_bytes());
                    sys::exit_now(1)
                }
            }
        }
        sys::Forked::Parent { pid, .. } => pid,
    };
    drop(w);
    let mut why = Vec::new();
    let read = std::io::Read::read_to_end(&mut std::fs::File::from(r), &mut why);
    let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    match (read, status) {
        (Ok(_), Ok(nix::sys::wait::WaitStatus::Exited(_, 0))) if why.is_empty() => Ok(()),
        _ if !why.is_empty() => Err(Error::msg(String::from_utf8_lossy(&why).into_owned())),
        (_, s) => Err(Error::msg(format!(
            "open bind-mount sources: the helper ended with {s:?}"
        ))),
    }
}
