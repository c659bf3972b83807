//! Raw system calls that nix does not wrap, each wrapped once here so the
//! rest of berth calls safe functions. Every fd returned is O_CLOEXEC.

use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

pub const CLONE_PIDFD: u64 = 0x1000;
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// What clone3 gave the caller.
pub enum Forked {
    Parent { pid: i32, pidfd: OwnedFd },
    Child,
}

/// clone3 without a new stack: a fork that creates namespaces and, with a
/// cgroup fd, starts the child inside that cgroup. berth is single
/// threaded, so the child may go on running ordinary Rust.
pub fn clone3(flags: u64, cgroup: Option<RawFd>) -> nix::Result<Forked> {
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: flags | CLONE_PIDFD | cgroup.map_or(0, |_| CLONE_INTO_CGROUP),
        pidfd: &mut pidfd as *mut RawFd as u64,
        // clone3 wants no exit signal with CLONE_PARENT: the child then
        // signals our parent as we would.
        exit_signal: if flags & CLONE_PARENT != 0 {
            0
        } else {
            libc::SIGCHLD as u64
        },
        cgroup: cgroup.map_or(0, |fd| fd as u64),
        ..Default::default()
    };
    // SAFETY: args is a valid clone_args of the size passed; with no stack
    // given the child resumes here on a copy of our address space, like fork.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match Errno::result(r)? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent {
            pid: pid as i32,
            // SAFETY: the kernel wrote a fresh pidfd that nothing else owns.
            pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
        }),
    }
}

pub fn pidfd_open(pid: i32) -> nix::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = Errno::result(r)? as RawFd;
    // SAFETY: pidfd_open returned a new fd (always close-on-exec).
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn pidfd_send_signal(pidfd: BorrowedFd, sig: i32) -> nix::Result<()> {
    // SAFETY: plain syscall; a null siginfo means "as kill(2) would".
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    Errno::result(r).map(drop)
}

/// Does the process behind `pidfd` exit within `ms` milliseconds (a
/// pidfd polls readable then)?
pub fn exits_within(pidfd: BorrowedFd, ms: u16) -> bool {
    let mut fds = [nix::poll::PollFd::new(pidfd, nix::poll::PollFlags::POLLIN)];
    matches!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)), Ok(n) if n > 0)
}

/// Mark every fd from `first` up close-on-exec, so exec drops whatever the
/// caller leaked to us (engines do) without racing on a directory listing.
pub fn cloexec_from(first: u32) -> nix::Result<()> {
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    // SAFETY: plain syscall with integer arguments.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if r == 0 {
        return Ok(());
    }
    // A seccomp profile may refuse close_range: mark them one by one.
    for fd in open_fds().into_iter().filter(|fd| *fd >= first as i32) {
        // SAFETY: F_SETFD only sets the close-on-exec flag of fd.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// The fds open in this process (from /proc/self/fd, else a guess).
fn open_fds() -> Vec<i32> {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_else(|_| (0..4096).collect())
}

/// Close every fd from `first` up, right before execve: close-on-exec is
/// not enough, since execve resolves its path while they are still open
/// (a path through /proc/self/fd/N would reach a host directory). Falls
/// back to closing one by one when a seccomp profile refuses close_range.
/// `close_from`, but the `spared` fds stay open (their close-on-exec
/// flag closes them in the execve itself, and until then a failed execve
/// can still say why through them).
pub fn close_from_sparing(first: u32, spared: &[i32]) {
    let mut keep: Vec<u32> = spared
        .iter()
        .filter_map(|s| u32::try_from(*s).ok())
        .filter(|s| *s >= first)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut from = first;
    for k in keep {
        if k > from {
            close_between(from, k - 1);
        }
        from = k + 1;
    }
    close_from(from);
}

pub fn close_from(first: u32) {
    close_between(first, u32::MAX);
}

/// Close fds `first..=last`: close_range, or one by one where a seccomp
/// profile refuses it.
fn close_between(first: u32, last: u32) {
    // SAFETY: plain syscall with integer arguments; nothing of ours is
    // used after this but the fds outside the range.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
    if r == 0 {
        return;
    }
    for fd in open_fds()
        .into_iter()
        .filter(|fd| (first..=last).contains(&(*fd as u32)))
    {
        // SAFETY: closing an fd number; nothing of ours uses it afterwards.
        unsafe { libc::close(fd) };
    }
}

pub const RESOLVE_NO_XDEV: u64 = 0x01;
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// openat2(2): the path walk is confined by `resolve` (RESOLVE_IN_ROOT
/// makes `dir` the root, so `..` and absolute symlinks stay inside it).
pub fn openat2(
    dir: BorrowedFd,
    path: &str,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> nix::Result<OwnedFd> {
    let c = CString::new(path).map_err(|_| Errno::EINVAL)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: mode as u64,
        resolve,
    };
    loop {
        // SAFETY: c and how outlive the call; the size matches the struct.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                c.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        match Errno::result(r) {
            // The kernel asks for a retry when a rename raced the walk.
            Err(Errno::EAGAIN) => continue,
            Err(e) => return Err(e),
            // SAFETY: a new fd from the kernel, owned by nobody else.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }),
        }
    }
}

pub fn setdomainname(name: &str) -> nix::Result<()> {
    // SAFETY: the pointer and length describe `name`'s bytes.
    let r = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    Errno::result(r).map(drop)
}

pub fn ioprio_set_self(class: i32, level: i32) -> nix::Result<()> {
    const IOPRIO_WHO_PROCESS: i32 = 1;
    let prio = (class << 13) | level;
    // SAFETY: plain syscall with integer arguments; 0 means this process.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio) };
    Errno::result(r).map(drop)
}

#[repr(C)]
#[derive(Default)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
}

pub fn sched_setattr_self(attr: &mut SchedAttr) -> nix::Result<()> {
    attr.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: attr is a valid sched_attr of the size it declares.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, attr as *mut SchedAttr, 0) };
    Errno::result(r).map(drop)
}

/// The path through which a mount call reaches an fd we resolved safely.
pub fn fd_path(fd: BorrowedFd) -> String {
    format!("/proc/thread-self/fd/{}", fd.as_raw_fd())
}

pub const CLONE_PARENT: u64 = 0x8000;

/// Leave a forked child at once: no destructors, no flushing of buffers
/// that belong to the parent.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and never returns.
    unsafe { libc::_exit(code) }
}

/// Make sure fds 0..upto are open (to /dev/null where a caller left a
/// gap), so that nothing berth opens lands on stdio or on a preserved fd
/// number and leaks into the container.
pub fn fill_fd_gaps(upto: i32) -> nix::Result<()> {
    for fd in 0..upto {
        // SAFETY: F_GETFD only asks whether fd is open.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 && Errno::last() == Errno::EBADF {
            let null = nix::fcntl::open(
                "/dev/null",
                nix::fcntl::OFlag::O_RDWR,
                nix::sys::stat::Mode::empty(),
            )?;
            if null.as_raw_fd() != fd {
                // SAFETY: fd is free (EBADF above) and dup2 only fills it.
                let r = unsafe { libc::dup2(null.as_raw_fd(), fd) };
                Errno::result(r)?;
            } else {
                std::mem::forget(null);
            }
        }
    }
    Ok(())
}

/// Keep fds 3..3+n open across exec (--preserve-fds): clear O_CLOEXEC.
pub fn keep_across_exec(n: i32) -> nix::Result<()> {
    for fd in 3..3 + n {
        // SAFETY: F_SETFD changes only the close-on-exec flag of fd.
        Errno::result(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) })?;
    }
    Ok(())
}

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
/// The atime field: relatime (0), noatime or strictatime.
pub const MOUNT_ATTR_ATIME_MASK: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2) on the mount at `fd` (with `recursive`, the whole
/// tree below it: one call instead of a remount per mount).
pub fn mount_setattr(fd: BorrowedFd, set: u64, recursive: bool) -> nix::Result<()> {
    mount_setattr_clr(fd, set, 0, recursive)
}

/// `mount_setattr` that also clears attributes (`clr`).
pub fn mount_setattr_clr(fd: BorrowedFd, set: u64, clr: u64, recursive: bool) -> nix::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: attr outlives the call and its size is passed; "" with
    // AT_EMPTY_PATH names the fd itself.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | if recursive { libc::AT_RECURSIVE } else { 0 },
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(r).map(drop)
}

extern "C" fn exit_128_plus(sig: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(128 + sig) }
}

/// Let the usual terminating signals end this process even as the init
/// of a pid namespace (which ignores signals it has no handler for).
pub fn exit_on_signals() -> crate::error::Result<()> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let act = SigAction::new(
        SigHandler::Handler(exit_128_plus),
        SaFlags::empty(),
        SigSet::all(),
    );
    for sig in [
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGTERM,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGALRM,
    ] {
        // SAFETY: the handler only calls _exit, which is async-signal-safe.
        unsafe { sigaction(sig, &act) }
            .map_err(|e| crate::error::Error::sys("sigaction", sig, e))?;
    }
    Ok(())
}

/// Every signal to its default action, as the container's program should
/// start: an ignored signal stays ignored across execve, and berth itself
/// ignores SIGPIPE (Rust's default, so that a hook that does not read its
/// stdin cannot kill berth), as whoever ran berth may have ignored others
/// (glibc's own 32 and 33 included, which its wrappers refuse to touch:
/// hence the raw rt_sigaction).
pub fn default_signals() {
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let act = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: act is a valid kernel sigaction with no handler; the old
        // action is not asked for; 8 is the kernel's sigset size.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &act as *const KernelSigaction,
                0usize,
                8usize,
            )
        };
    }
}

pub const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const OPEN_TREE_CLONE: u32 = 1;
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;

/// open_tree(OPEN_TREE_CLONE): a detached copy of the mount at `path`
/// (with the mounts below it when `recursive`), not yet attached anywhere.
pub fn open_tree_clone(path: &std::path::Path, recursive: bool) -> nix::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    // SAFETY: c outlives the call; the flags are plain integers.
    let r = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    let fd = Errno::result(r)? as RawFd;
    // SAFETY: open_tree returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// mount_setattr(MOUNT_ATTR_IDMAP): ids on the detached mount tree at `fd`
/// are seen through the maps of the user namespace `userns`.
pub fn mount_setattr_idmap(fd: BorrowedFd, userns: BorrowedFd, recursive: bool) -> nix::Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: attr outlives the call and its size is passed; "" with
    // AT_EMPTY_PATH names the fd itself.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(r).map(drop)
}

/// move_mount(2) of the detached tree `from` onto the object `to` names.
pub fn move_mount_fds(from: BorrowedFd, to: BorrowedFd) -> nix::Result<()> {
    // SAFETY: both fds are valid and "" with the EMPTY_PATH flags names
    // them themselves.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            to.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    Errno::result(r).map(drop)
}

/// The mount and inode an fd names (statx with STATX_MNT_ID): two fds
/// name the same place only if both match, a bind of a directory
/// elsewhere having the inode but not the mount.
pub fn mount_and_inode(fd: BorrowedFd) -> nix::Result<(u64, u64, u64)> {
    // SAFETY: an all-zero statx is a valid out-buffer.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: fd is a live descriptor, the path an empty C string and st
    // a buffer of the size statx writes.
    let r = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_INO | libc::STATX_MNT_ID,
            &mut st,
        )
    };
    match Errno::result(r) {
        Ok(_) => {
            let dev = libc::makedev(st.stx_dev_major, st.stx_dev_minor);
            // Before Linux 5.8 there is no mount id: device and inode only.
            let mnt = if st.stx_mask & libc::STATX_MNT_ID != 0 {
                st.stx_mnt_id
            } else {
                0
            };
            Ok((mnt, dev, st.stx_ino))
        }
        // statx refused (an old seccomp profile around berth): fstat.
        Err(Errno::ENOSYS | Errno::EPERM) => {
            let st = nix::sys::stat::fstat(fd)?;
            Ok((0, st.st_dev, st.st_ino))
        }
        Err(e) => Err(e),
    }
}

/// A small file read whole with one read where it fits in `cap` bytes:
/// no stat for a size hint, no second read to meet EOF. A short read of
/// a regular file is its end, and procfs and cgroupfs hand a small file
/// over in one read. `list` reads three such files per container.
/// Not for files that can end a read early (network filesystems, seq
/// files of many records such as mountinfo). A symlink in last place is
/// refused (a record linked to /dev/zero would never end) and a fifo
/// does not block the open.
pub fn read_small(path: &std::path::Path, cap: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let mut buf = vec![0u8; cap];
    let mut len = 0;
    loop {
        let n = match f.read(&mut buf[len..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        len += n;
        if n == 0 || len < buf.len() {
            buf.truncate(len);
            return Ok(buf);
        }
        buf.resize(buf.len() * 2, 0);
    }
}
