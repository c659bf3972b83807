//! A verified handle on procfs. Writes that change the kernel's view of a
//! process (sysctl, oom_score_adj, time offsets) go through it, refusing
//! to cross a mount, so a mount placed over a /proc file cannot redirect
//! them (CVE-2025-52881).

use crate::error::{Error, Result, SysContext};
use crate::linux::sys;
use nix::sys::statfs::{PROC_SUPER_MAGIC, fstatfs};
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};

pub struct Proc(OwnedFd);

impl Proc {
    /// Open /proc and check that it is procfs.
    pub fn open_host() -> Result<Proc> {
        let fd = nix::fcntl::open(
            "/proc",
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .sys("open", "/proc")?;
        check(&fd, "/proc")?;
        Ok(Proc(fd))
    }

    pub fn open(&self, rel: &str, flags: i32) -> Result<OwnedFd> {
        let fd = sys::openat2(
            self.0.as_fd(),
            rel,
            flags,
            0,
            sys::RESOLVE_NO_XDEV | sys::RESOLVE_NO_MAGICLINKS,
        )
        .sys("open", format!("/proc/{rel}"))?;
        check(&fd, rel)?;
        Ok(fd)
    }

    pub fn write(&self, rel: &str, value: &str) -> Result<()> {
        let fd = self.open(rel, libc::O_WRONLY)?;
        std::fs::File::from(fd)
            .write_all(value.as_bytes())
            .sys("write", format!("/proc/{rel}"))
    }
}

fn check(fd: &OwnedFd, what: &str) -> Result<()> {
    let st = fstatfs(fd).sys("statfs", what)?;
    if st.filesystem_type() != PROC_SUPER_MAGIC {
        return Err(Error::msg(format!(
            "{what} is not on procfs: refusing to write"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_through_the_verified_handle() {
        let p = Proc::open_host().unwrap();
        let fd = p.open("self/status", libc::O_RDONLY).unwrap();
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(fd), &mut s).unwrap();
        assert!(s.contains("Pid:"));
        // A symlink walk (self -> pid) is fine, a magic link is not.
        assert!(p.open("self/fd/0", libc::O_RDONLY).is_err());
    }
}
