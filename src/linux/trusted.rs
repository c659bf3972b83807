//! Paths a privileged berth walks where somebody else may have planted a
//! link: a bind source for a user namespace (bindsrc.rs), the directory
//! of a --pid-file. A link is followed only if its owner is root or
//! berth's own user, who could have written anything it leads to anyway;
//! anybody else's stops the walk. Other links in engines' paths
//! (/var/run -> /run) are root's.

use crate::error::{Error, Result, SysContext};
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

pub enum Walked {
    /// The path, O_PATH, its links followed.
    Opened(OwnedFd),
    /// A link on the way belongs to `owner`: not followed.
    Untrusted { link: PathBuf, owner: u32 },
}

/// Open `path` O_PATH (O_DIRECTORY where it ends at a directory, so that
/// an automount point is mounted), following only trusted links. `what`
/// names the path in errors.
pub fn open(path: &Path, what: &str) -> Result<Walked> {
    let trusted = |uid: u32| uid == 0 || uid == nix::unistd::geteuid().as_raw();
    let mut todo: VecDeque<OsString> = VecDeque::new();
    queue(&mut todo, path.as_os_str());
    let mut at =
        open_at(None, if path.is_absolute() { "/" } else { "." }, false).sys("open", what)?;
    // Where the walk is, for naming a link.
    let mut here = PathBuf::from(if path.is_absolute() { "/" } else { "" });
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        if name == "/" {
            at = open_at(None, "/", false).sys("open", "/")?;
            here = PathBuf::from("/");
            continue;
        }
        let last = todo.is_empty();
        // stat first: it mounts what an automount point holds, which an
        // O_PATH open of the last component would not.
        let st = nix::sys::stat::fstatat(&at, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .sys("stat", what)?;
        let kind = st.st_mode & libc::S_IFMT;
        if kind == libc::S_IFLNK {
            if !trusted(st.st_uid) {
                return Ok(Walked::Untrusted {
                    link: here.join(&name),
                    owner: st.st_uid,
                });
            }
            links += 1;
            if links > 40 {
                return Err(Error::sys("open", what, nix::errno::Errno::ELOOP));
            }
            let target = nix::fcntl::readlinkat(&at, name.as_os_str()).sys("read link in", what)?;
            let rest: Vec<OsString> = todo.drain(..).collect();
            queue(&mut todo, &target);
            todo.extend(rest);
            continue;
        }
        let dir = kind == libc::S_IFDIR && last;
        at = open_at(Some(&at), &name, dir).sys("open", what)?;
        here.push(&name);
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
        match open(&d.path().join("theirs/sub"), "t").unwrap() {
            Walked::Untrusted { link, owner } => {
                assert_eq!(owner, 65534);
                assert!(link.ends_with("theirs"), "{}", link.display());
            }
            Walked::Opened(_) => panic!("another user's link was followed"),
        }
    }
}
