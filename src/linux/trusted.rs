//! Paths a privileged berth walks where somebody else may have planted a
//! link: a bind source for a user namespace (bindsrc.rs), the directory
//! of a --pid-file. A link is followed only if its owner is root or
//! berth's own user, who could have written anything it leads to anyway;
//! anybody else's stops the walk. Other links in engines' paths
//! (/var/run -> /run) are root's.

use crate::error::{Error, Result, SysContext};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// FUSE's statfs magic: a filesystem whose server names the owners.
const FUSE_SUPER_MAGIC: nix::sys::statfs::FsType = nix::sys::statfs::FsType(0x6573_5546);

pub enum Walked {
    /// The path, O_PATH, its links followed.
    Opened(OwnedFd),
    /// A link on the way belongs to `owner`: not followed.
    Untrusted { link: PathBuf, owner: u32 },
}

/// Open `path` O_PATH, following only trusted links: owned by root or
/// berth's user, on a filesystem that does not let its server name the
/// owner (FUSE). `what` names the path in errors.
pub fn open(path: &Path, what: &str) -> Result<Walked> {
    let trusted = |uid: u32| uid == 0 || uid == nix::unistd::geteuid().as_raw();
    let mut todo: VecDeque<OsString> = VecDeque::new();
    queue(&mut todo, path.as_os_str());
    let mut at =
        open_at(None, if path.is_absolute() { "/" } else { "." }, false).sys("open", what)?;
    // Most paths cross no link at all: one openat2 that refuses links
    // says so (directories with O_DIRECTORY, for automounts).
    if let Some(text) = path.to_str() {
        let no_links = |flags: i32| {
            crate::linux::sys::openat2(
                at.as_fd(),
                text,
                flags,
                0,
                crate::linux::sys::RESOLVE_NO_SYMLINKS,
            )
        };
        let opened = match no_links(libc::O_PATH | libc::O_DIRECTORY) {
            Err(nix::errno::Errno::ENOTDIR) => no_links(libc::O_PATH),
            r => r,
        };
        if let Ok(fd) = opened {
            return Ok(Walked::Opened(fd));
        }
    }
    // Where the walk is, for naming a link.
    let mut here = PathBuf::from(if path.is_absolute() { "/" } else { "" });
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        if name == "/" {
            at = open_at(None, "/", false).sys("open", "/")?;
            here = PathBuf::from("/");
            continue;
        }
        // Opened first, then asked what it is: the name is looked up once,
        // so nothing swapped in between is trusted for what was there.
        // O_DIRECTORY first, which mounts what an automount point holds
        // (an O_PATH open without it does not).
        let next = match open_at(Some(&at), &name, true) {
            Err(nix::errno::Errno::ENOTDIR) => open_at(Some(&at), &name, false),
            r => r,
        }
        .sys("open", what)?;
        let st = nix::sys::stat::fstat(&next).sys("stat", what)?;
        if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
            at = next;
            here.push(&name);
            continue;
        }
        let fs = nix::sys::statfs::fstatfs(&next)
            .sys("statfs", what)?
            .filesystem_type();
        // A FUSE filesystem says whatever owner its server likes.
        if !trusted(st.st_uid) || fs == FUSE_SUPER_MAGIC {
            return Ok(Walked::Untrusted {
                link: here.join(&name),
                owner: st.st_uid,
            });
        }
        links += 1;
        if links > 40 {
            return Err(Error::sys("open", what, nix::errno::Errno::ELOOP));
        }
        if fs == nix::sys::statfs::PROC_SUPER_MAGIC {
            // /proc's links (fd/N, ns/*, root) lead where their text does
            // not say: the kernel follows that one step.
            at = nix::fcntl::openat(
                &at,
                Path::new(&name),
                OFlag::O_PATH | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .sys("open", what)?;
            here.push(&name);
            continue;
        }
        let target = nix::fcntl::readlinkat(&next, "").sys("read link in", what)?;
        let rest: Vec<OsString> = todo.drain(..).collect();
        queue(&mut todo, &target);
        todo.extend(rest);
    }
    Ok(Walked::Opened(at))
}

/// A path's components, "/" standing for the root where it starts.
fn queue(todo: &mut VecDeque<OsString>, path: &OsStr) {
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
    name: impl AsRef<OsStr>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_links_are_followed_and_others_stop_the_walk() {
        let d = crate::tempdir::TempDir::new();
        let real = d.path().join("real");
        std::fs::create_dir_all(real.join("sub")).unwrap();
        std::os::unix::fs::symlink("real", d.path().join("ours")).unwrap();
        std::os::unix::fs::symlink(&real, d.path().join("theirs")).unwrap();
        std::os::unix::fs::lchown(d.path().join("theirs"), Some(65534), Some(65534)).unwrap();
        let ino = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
        match open(&d.path().join("ours/sub/../sub"), "t").unwrap() {
            Walked::Opened(fd) => {
                let st = nix::sys::stat::fstat(&fd).unwrap();
                assert_eq!(st.st_ino, ino(&real.join("sub")));
            }
            Walked::Untrusted { .. } => panic!("our own link was not followed"),
        }
        // /proc's links are followed where they lead, not by their text.
        let dir = std::fs::File::open(&real).unwrap();
        let via_proc = PathBuf::from(format!(
            "/proc/self/fd/{}/sub",
            std::os::fd::AsRawFd::as_raw_fd(&dir)
        ));
        match open(&via_proc, "t").unwrap() {
            Walked::Opened(fd) => {
                let st = nix::sys::stat::fstat(&fd).unwrap();
                assert_eq!(st.st_ino, ino(&real.join("sub")));
            }
            Walked::Untrusted { .. } => panic!("/proc's own link was not followed"),
        }
        match open(&d.path().join("theirs/sub"), "t").unwrap() {
            Walked::Untrusted { link, owner } => {
                assert_eq!(owner, 65534);
                assert!(link.ends_with("theirs"), "{}", link.display());
            }
            Walked::Opened(_) => panic!("another user's link was followed"),
        }
    }
}
