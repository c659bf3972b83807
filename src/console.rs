//! Terminals: a pty pair from the container's own devpts instance, the
//! slave as the process's stdio and controlling terminal (and bound over
//! /dev/console), the master sent to the engine over --console-socket in
//! one message with one SCM_RIGHTS fd.

use crate::error::{Error, Result, SysContext};
use crate::linux::sys;
use nix::errno::Errno;
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

const TIOCSPTLCK: libc::c_ulong = 0x4004_5431;
const TIOCGPTN: libc::c_ulong = 0x8004_5430;
const TIOCGPTPEER: libc::c_ulong = 0x5441;

pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    pub number: u32,
}

/// Connect to the engine's console socket; done by berth itself while it
/// still sees the host's filesystem, and inherited by the process.
pub fn connect(path: &Path) -> Result<OwnedFd> {
    let s = std::os::unix::net::UnixStream::connect(path)
        .sys("connect to console socket", path.display())?;
    Ok(OwnedFd::from(s))
}

/// Open a pty pair on the devpts instance at `ptmx` (resolved under
/// `root` when given, else in the current root). The slave comes from
/// TIOCGPTPEER on the master, never from a path a container could swap.
pub fn open_pty(root: Option<BorrowedFd>, ptmx: &str) -> Result<Pty> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    let master = match root {
        Some(r) => sys::openat2(
            r,
            ptmx.trim_start_matches('/'),
            flags,
            0,
            sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS,
        ),
        None => nix::fcntl::open(
            ptmx,
            nix::fcntl::OFlag::from_bits_truncate(flags),
            nix::sys::stat::Mode::empty(),
        ),
    }
    .sys("open", ptmx)?;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int from the pointer we pass.
    Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), TIOCSPTLCK, &unlock) })
        .sys("unlock pty", ptmx)?;
    let mut number: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int to the pointer we pass.
    Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), TIOCGPTN, &mut number) })
        .sys("get pty number", ptmx)?;
    // SAFETY: TIOCGPTPEER returns a new fd for the slave of this master.
    let slave = Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), TIOCGPTPEER, flags) })
        .sys("open pty slave", ptmx)?;
    // SAFETY: the fd was just returned by the kernel and nothing else owns it.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    Ok(Pty {
        master,
        slave,
        number,
    })
}

pub fn set_size(fd: BorrowedFd, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer we pass.
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) })
        .sys("set terminal size", "")?;
    Ok(())
}

/// Send the master in exactly one message: the pty's name as payload and
/// the fd as the only SCM_RIGHTS.
pub fn send_master(socket: BorrowedFd, pty: &Pty) -> Result<()> {
    let name = format!("/dev/pts/{}", pty.number);
    let fds = [pty.master.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<()>(socket.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)
        .sys("send pty master to console socket", "")?;
    Ok(())
}

/// Make the slave this process's controlling terminal and stdio.
pub fn make_controlling(slave: BorrowedFd) -> Result<()> {
    nix::unistd::setsid().sys("setsid", "")?;
    // SAFETY: TIOCSCTTY takes an int argument, no pointer.
    Errno::result(unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) })
        .sys("set controlling terminal", "")?;
    for fd in 0..3 {
        // SAFETY: dup2 onto stdio; the slave stays open (owned elsewhere).
        Errno::result(unsafe { libc::dup2(slave.as_raw_fd(), fd) }).sys("dup2 pty slave to", fd)?;
    }
    Ok(())
}

/// The process's terminal wiring, shared by create and exec: open the pty,
/// apply consoleSize, send the master, and return the pty (whose slave the
/// caller binds over /dev/console and makes controlling).
pub fn setup(
    root: Option<BorrowedFd>,
    ptmx: &str,
    socket: &OwnedFd,
    size: Option<(u64, u64)>,
) -> Result<Pty> {
    let pty = open_pty(root, ptmx)?;
    if let Some((h, w)) = size {
        set_size(pty.master.as_fd(), h as u16, w as u16)?;
    }
    send_master(socket.as_fd(), &pty).map_err(|e| e.context("--console-socket"))?;
    Ok(pty)
}

pub fn no_socket() -> Error {
    Error::config(
        "process.terminal",
        "a terminal needs --console-socket (a foreground run with a terminal is not relayed by this berth yet)",
    )
}
