//! CVE-2019-5736, closed for every berth process. Until a process berth
//! starts execs the container's program, its /proc/<pid>/exe is the
//! binary berth runs from. Whatever can see such a process (the
//! container's own processes, a container sharing a pid namespace with
//! it, a startContainer hook, anything on the host while a new user
//! namespace keeps the init dumpable) may be able to open that file and,
//! once berth has exited, write it: the next berth command would run the
//! container's code as host root. Non-dumpable narrows who can; it is not
//! a guarantee (CAP_SYS_PTRACE passes it, user namespace owners pass it).
//!
//! So before anything else, every berth command re-executes itself from a
//! file nobody can open for writing, and everything it later forks (the
//! init, exec's child, the hooks' parent) inherits that file as its exe:
//!
//! - root: a read-only detached bind mount of the binary (open_tree with
//!   OPEN_TREE_CLONE, mount_setattr MOUNT_ATTR_RDONLY, execveat on the
//!   mount's fd). The mount belongs to no mount namespace, so nobody can
//!   remount it writable, and the host's mount table never changes. An
//!   open for writing through /proc/<pid>/exe, or a reopen of a held fd
//!   through /proc/self/fd, meets a read-only mount: EROFS. It costs one
//!   execve and no copy.
//! - where the new mount API is not allowed (a rootless berth, a kernel
//!   before 5.12): a sealed memfd copy, unless the caller cannot write the
//!   binary either (a rootless user's berth owned by root), in which case
//!   no container it starts can.
//!
//! This is done by every command that starts or enters a container
//! process (create, run, exec, restore): what they fork is what the
//! container can see. The others (start, state, kill, delete, list, ...)
//! never put a process of theirs in a container's namespaces, and an
//! execve costs about a millisecond on a virtual machine whose page
//! faults are slow. Such a process stays in the host's namespaces with
//! the host root's full capability set: opening its /proc files takes
//! CAP_SYS_PTRACE in the host's user namespace and a view of the host's
//! pid namespace, and whatever has both can already write the memory of
//! every host process, the engine's included. (A rootless berth's
//! processes are out of reach of its containers, which hold capabilities
//! only in their own user namespace.) Which guard is chosen by what the
//! kernel and caller allow, never by the config.

use crate::error::{Error, Result, SysContext};
use nix::errno::Errno;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

const SEALS: i32 = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// How the running binary is kept from being written.
#[derive(Debug, PartialEq, Eq)]
pub enum Guard {
    /// A read-only mount (our detached one after the re-exec).
    ReadOnlyMount,
    /// A sealed memfd copy.
    SealedCopy,
    /// A rootless berth whose binary its caller cannot write.
    NotWritable,
}

/// The commands whose processes a container can see.
const EXPOSED: &[&str] = &["create", "run", "exec", "restore"];

/// Does this command line run one of them? Any argument spelled like one
/// counts (clap takes subcommands by their exact name only): a container
/// named "run" costs a needless re-exec, and no such command is missed.
pub fn needed(args: impl IntoIterator<Item = std::ffi::OsString>) -> bool {
    args.into_iter()
        .skip(1)
        .any(|a| EXPOSED.iter().any(|c| a.as_bytes() == c.as_bytes()))
}

/// Re-execute berth from a binary nobody can write, same arguments and
/// environment, unless it already runs from one. Returns which guard is
/// in place, or the error that kept berth from putting one in place.
pub fn protect() -> Result<Guard> {
    let exe = File::open("/proc/self/exe").sys("open", "/proc/self/exe")?;
    if let Some(g) = guarded(&exe) {
        return Ok(g);
    }
    // It fails with EPERM without CAP_SYS_ADMIN over our mount namespace
    // (rootless, or a seccomp profile around us), with ENOSYS or EINVAL on
    // a kernel without open_tree or mount_setattr; whatever the reason,
    // the copy is the way left.
    if let Ok(fd) = read_only_clone() {
        return Err(reexec(fd.as_fd(), "a read-only mount of berth"));
    }
    if !caller_may_write(&exe)? {
        return Ok(Guard::NotWritable);
    }
    let copy = sealed_copy(exe)?;
    Err(reexec(copy.as_fd(), "the sealed copy of berth"))
}

/// Is this process already running from a guarded file? An execveat on
/// an fd (ours, or a caller's fexecve) names the binary /dev/fd/N: only
/// then is it worth asking the kernel what the file is.
fn guarded(exe: &File) -> Option<Guard> {
    // SAFETY: getauxval reads the auxiliary vector; AT_EXECFN's value is
    // a pointer to a NUL-terminated string on our stack, or 0.
    let execfn = unsafe { libc::getauxval(libc::AT_EXECFN) } as *const libc::c_char;
    if execfn.is_null() {
        return None;
    }
    // SAFETY: non-null AT_EXECFN points to the string the kernel copied.
    let execfn = unsafe { CStr::from_ptr(execfn) };
    if !execfn.to_bytes().starts_with(b"/dev/fd/") {
        return None;
    }
    guard_of(exe.as_fd())
}

/// What keeps this file from being written, if anything: a read-only
/// mount, or a sealed memfd. The same question is asked of the file before
/// berth executes it and after, so a re-exec can never repeat itself.
fn guard_of(file: BorrowedFd) -> Option<Guard> {
    let vfs = nix::sys::statvfs::fstatvfs(file).ok()?;
    if vfs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
        return Some(Guard::ReadOnlyMount);
    }
    // SAFETY: fcntl on a borrowed fd; F_GET_SEALS takes no argument.
    let seals = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GET_SEALS) };
    (seals >= 0 && seals & SEALS == SEALS).then_some(Guard::SealedCopy)
}

/// A detached, read-only bind mount of the running binary.
fn read_only_clone() -> nix::Result<OwnedFd> {
    let fd = super::sys::open_tree_clone(std::path::Path::new("/proc/self/exe"), false)?;
    use super::sys::{MOUNT_ATTR_NODEV, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY};
    super::sys::mount_setattr(
        fd.as_fd(),
        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        false,
    )?;
    Ok(fd)
}

/// Could this caller (and so a container of its) write the binary? Root
/// and whoever holds CAP_DAC_OVERRIDE or CAP_FOWNER can write anything
/// (Docker's default set has both); the owner can; so can a group or
/// anyone when the mode says so.
fn caller_may_write(exe: &File) -> Result<bool> {
    let m = exe.metadata().sys("stat", "/proc/self/exe")?;
    let has = |c| caps::has_cap(None, caps::CapSet::Effective, c).unwrap_or(true);
    Ok(nix::unistd::geteuid().is_root()
        || has(caps::Capability::CAP_DAC_OVERRIDE)
        || has(caps::Capability::CAP_FOWNER)
        || m.uid() == nix::unistd::geteuid().as_raw()
        || m.mode() & 0o022 != 0)
}

fn sealed_copy(mut exe: File) -> Result<File> {
    // MFD_EXEC: where vm.memfd_noexec asks for it, a memfd is executable
    // only when so created; kernels before 6.3 do not know the flag.
    const MFD_EXEC: libc::c_uint = 0x10;
    let create = |flags| {
        // SAFETY: a constant name; the returned fd is checked and owned below.
        unsafe { libc::memfd_create(c"berth".as_ptr(), flags) }
    };
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    let mut fd = create(flags | MFD_EXEC);
    if fd < 0 && Errno::last() == Errno::EINVAL {
        fd = create(flags);
    }
    if fd < 0 {
        return Err(Error::sys("memfd_create", "berth copy", Errno::last()));
    }
    // SAFETY: fd is a fresh descriptor nothing else owns.
    let mut copy = unsafe { File::from_raw_fd(fd) };
    std::io::copy(&mut exe, &mut copy).sys("copy", "/proc/self/exe to a memfd")?;
    // SAFETY: fcntl on an fd we own, with a constant seal set.
    if unsafe { libc::fcntl(copy.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } != 0 {
        return Err(Error::sys("seal", "berth copy", Errno::last()));
    }
    Ok(copy)
}

/// execveat(fd, "", AT_EMPTY_PATH) with our own arguments and environment;
/// returns only the error. The fd is close-on-exec: an ELF binary is
/// mapped before the fds close, and nothing of it stays open after.
fn reexec(fd: BorrowedFd, what: &str) -> Error {
    if guard_of(fd).is_none() {
        return Error::msg(format!(
            "{what} is writable after all: berth will not run from it"
        ));
    }
    let cstrings = |items: Vec<Vec<u8>>| -> Result<Vec<CString>> {
        items
            .into_iter()
            .map(|b| CString::new(b).map_err(|_| Error::msg("an argument holds a NUL byte")))
            .collect()
    };
    let args = match cstrings(std::env::args_os().map(|a| a.as_bytes().to_vec()).collect()) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let env = match cstrings(
        std::env::vars_os()
            .map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes()].concat())
            .collect(),
    ) {
        Ok(e) => e,
        Err(e) => return e,
    };
    let err = nix::unistd::execveat(fd, c"", &args, &env, nix::fcntl::AtFlags::AT_EMPTY_PATH)
        .unwrap_err();
    Error::sys("execve", what, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<std::ffi::OsString> {
        line.split(' ').map(Into::into).collect()
    }

    #[test]
    fn every_command_that_reaches_a_container_is_guarded() {
        for line in [
            "berth create -b b c1",
            "berth --root /r --log /l run -d c1",
            "berth exec -t c1 sh",
            "berth --criu /x restore --image-path i c1",
        ] {
            assert!(needed(args(line)), "{line}");
        }
        // start only writes the fifo, from the host's namespaces.
        for line in [
            "berth -root /r start c1",
            "berth state c1",
            "berth --root /r delete --force c1",
            "berth list",
            "berth",
        ] {
            assert!(!needed(args(line)), "{line}");
        }
        // A false alarm costs a re-exec, never a miss.
        assert!(needed(args("berth state run")));
    }
}
