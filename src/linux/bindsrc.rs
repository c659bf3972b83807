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
use nix::fcntl::AtFlags;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path};

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
                    if let Some(fd) = open_as_root(source)? {
                        send(*i, fd.as_fd())?;
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

/// `source` opened O_PATH, its links followed as mount(2) would follow
/// them, if every link on the way belongs to the host's root; else None.
fn open_as_root(source: &Path) -> Result<Option<OwnedFd>> {
    let what = || source.display().to_string();
    let mut todo: VecDeque<OsString> = VecDeque::new();
    queue(&mut todo, source.as_os_str());
    let mut at = open_at(None, "/", false).sys("open", "/")?;
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        if name == "/" {
            at = open_at(None, "/", false).sys("open", "/")?;
            continue;
        }
        let last = todo.is_empty();
        // stat first: it mounts what an automount point holds, which an
        // O_PATH open of the last component would not.
        let st = nix::sys::stat::fstatat(&at, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .sys("stat bind-mount source", what())?;
        let kind = st.st_mode & libc::S_IFMT;
        if kind == libc::S_IFLNK {
            if st.st_uid != 0 {
                return Ok(None);
            }
            links += 1;
            if links > 40 {
                return Err(Error::sys(
                    "open bind-mount source",
                    what(),
                    nix::errno::Errno::ELOOP,
                ));
            }
            let target = nix::fcntl::readlinkat(&at, name.as_os_str())
                .sys("read link in bind-mount source", what())?;
            let rest: Vec<OsString> = todo.drain(..).collect();
            queue(&mut todo, &target);
            todo.extend(rest);
            continue;
        }
        let dir = kind == libc::S_IFDIR && last;
        at = open_at(Some(&at), &name, dir).sys("open bind-mount source", what())?;
    }
    Ok(Some(at))
}

/// A path's components, "/" standing for the root where it starts.
fn queue(todo: &mut VecDeque<OsString>, path: &std::ffi::OsStr) {
    let p = Path::new(path);
    if p.is_absolute() {
        todo.push_back("/".into());
    }
    for c in p.components() {
        match c {
            Component::Normal(n) => todo.push_back(n.to_os_string()),
            Component::ParentDir => todo.push_back("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
}

fn open_at(
    dir: Option<&OwnedFd>,
    name: impl AsRef<std::ffi::OsStr>,
    dir_wanted: bool,
) -> nix::Result<OwnedFd> {
    let mut flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    if dir_wanted {
        flags |= OFlag::O_DIRECTORY;
    }
    let name = Path::new(name.as_ref());
    match dir {
        Some(d) => nix::fcntl::openat(d, name, flags, Mode::empty()),
        None => nix::fcntl::open(name, flags, Mode::empty()),
    }
}
