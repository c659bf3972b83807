//! CVE-2019-5736, the part non-dumpable does not cover. Until berth's
//! processes inside a container exec its program, /proc/<pid>/exe is the
//! host's berth binary. Non-dumpable keeps ordinary container processes
//! from opening it, but not one with CAP_SYS_PTRACE (`--cap-add
//! SYS_PTRACE`, privileged containers): it could hold the file and write
//! to it once berth has exited. When such a process may be watching,
//! berth first re-executes itself from a sealed in-memory copy, so that
//! what the container can reach is a file no one can write.
//!
//! The copy costs a read and write of the binary and one execve, so it is
//! made only where the risk is (see its callers), not on every call.

use crate::error::{Error, Result, SysContext};
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;

const SEALS: i32 = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Is this process already running from a sealed copy?
fn running_from_copy(exe: &File) -> bool {
    // SAFETY: fcntl on an fd we own; F_GET_SEALS takes no argument.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & SEALS == SEALS
}

/// Re-execute berth, same arguments and environment, from a sealed
/// memfd copy of its binary; returns only if it already runs from one
/// (or with the error that stopped it).
pub fn reexec_sealed() -> Result<()> {
    let mut exe = File::open("/proc/self/exe").sys("open", "/proc/self/exe")?;
    if running_from_copy(&exe) {
        return Ok(());
    }
    // SAFETY: a constant name; the returned fd is checked and owned below.
    let fd = unsafe {
        libc::memfd_create(
            c"berth".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(Error::sys(
            "memfd_create",
            "berth copy",
            nix::errno::Errno::last(),
        ));
    }
    // SAFETY: fd is a fresh descriptor nothing else owns.
    let mut copy = unsafe { File::from_raw_fd(fd) };
    std::io::copy(&mut exe, &mut copy).sys("copy", "/proc/self/exe to a memfd")?;
    // SAFETY: fcntl on an fd we own, with a constant seal set.
    if unsafe { libc::fcntl(copy.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } != 0 {
        return Err(Error::sys("seal", "berth copy", nix::errno::Errno::last()));
    }
    let cstrings = |items: Vec<Vec<u8>>| -> Result<Vec<CString>> {
        items
            .into_iter()
            .map(|b| CString::new(b).map_err(|_| Error::msg("an argument holds a NUL byte")))
            .collect()
    };
    let args = cstrings(std::env::args_os().map(|a| a.as_bytes().to_vec()).collect())?;
    let env = cstrings(
        std::env::vars_os()
            .map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes()].concat())
            .collect(),
    )?;
    // The copy is close-on-exec: an ELF binary is mapped before the fds
    // close, and nothing of it is left open in the new image.
    let err = nix::unistd::fexecve(&copy, &args, &env).unwrap_err();
    Err(Error::sys("execve", "the sealed copy of berth", err))
}
