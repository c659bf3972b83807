//! Paths inside the rootfs, resolved as if the rootfs were `/`
//! (openat2 with RESOLVE_IN_ROOT): a link the image holds, absolute or
//! with enough `..`, lands inside it. What is missing on the way is made.

use crate::error::{Error, Result, SysContext};
use crate::linux::sys;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Dir,
    File,
}

const IN_ROOT: u64 = sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS;

/// Open `path` inside `root` (O_PATH) if it is there, links resolved as
/// `resolve_create` resolves them.
pub(crate) fn lookup(root: BorrowedFd, path: &str) -> nix::Result<OwnedFd> {
    sys::openat2(
        root,
        &dot(&[path.trim_start_matches('/').to_string()]),
        libc::O_PATH,
        0,
        IN_ROOT,
    )
}

/// Open `path` inside `root` (O_PATH), creating what is missing: parent
/// directories, and the last component as a directory or an empty file.
/// Symlinks are followed as if `root` were `/`, so one that points
/// outside (absolute, or with enough `..`) lands inside instead; what is
/// missing at its target is created there, as runc does.
pub fn resolve_create(root: BorrowedFd, path: &str, want: Want) -> Result<OwnedFd> {
    // Most paths exist: one confined lookup does it.
    match lookup(root, path) {
        Ok(fd) => return Ok(fd),
        Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(Error::sys("open in rootfs", path, e)),
    }
    let mut todo: std::collections::VecDeque<String> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(String::from)
        .collect();
    let mut done: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        if c == ".." {
            done.pop();
            continue;
        }
        let mut candidate = done.clone();
        candidate.push(c.clone());
        let rel = candidate.join("/");
        match sys::openat2(root, &rel, libc::O_PATH | libc::O_NOFOLLOW, 0, IN_ROOT) {
            Ok(fd) => {
                let st = nix::sys::stat::fstat(&fd).sys("stat in rootfs", &rel)?;
                if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                    links += 1;
                    if links > 40 {
                        return Err(Error::sys(
                            "resolve in rootfs",
                            path,
                            nix::errno::Errno::ELOOP,
                        ));
                    }
                    let target =
                        nix::fcntl::readlinkat(fd.as_fd(), "").sys("readlink in rootfs", &rel)?;
                    let target = target.to_string_lossy().into_owned();
                    if target.starts_with('/') {
                        done.clear();
                    }
                    for t in target
                        .split('/')
                        .rev()
                        .filter(|c| !c.is_empty() && *c != ".")
                    {
                        todo.push_front(t.to_string());
                    }
                } else {
                    done = candidate;
                }
            }
            Err(nix::errno::Errno::ENOENT) => {
                let parent = sys::openat2(
                    root,
                    &dot(&done),
                    libc::O_PATH | libc::O_DIRECTORY,
                    0,
                    IN_ROOT,
                )
                .sys("open in rootfs", format!("/{}", done.join("/")))?;
                let last = todo.is_empty();
                let made = if last && want == Want::File {
                    nix::fcntl::openat(
                        parent.as_fd(),
                        c.as_str(),
                        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
                        Mode::from_bits_truncate(0o644),
                    )
                    .map(drop)
                } else {
                    nix::sys::stat::mkdirat(
                        parent.as_fd(),
                        c.as_str(),
                        Mode::from_bits_truncate(0o755),
                    )
                };
                match made {
                    Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                    Err(e) => return Err(Error::sys("create mount point", format!("/{rel}"), e)),
                }
                done = candidate;
            }
            Err(e) => return Err(Error::sys("open in rootfs", format!("/{rel}"), e)),
        }
    }
    sys::openat2(root, &dot(&done), libc::O_PATH, 0, IN_ROOT).sys("open in rootfs", path)
}

/// A relative path for openat2: "." for the root itself.
fn dot(parts: &[String]) -> String {
    let joined = parts.join("/");
    if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}
