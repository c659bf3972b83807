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
    send_named(socket, pty.master.as_fd(), pty.number)
}

/// Send a master made elsewhere (CRIU's, on restore), named by its pty
/// number as create names it.
pub fn send_master_fd(socket: BorrowedFd, master: BorrowedFd) -> Result<()> {
    let mut number: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int to the pointer we pass.
    Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), TIOCGPTN, &mut number) })
        .sys("get pty number", "of the restored terminal")?;
    send_named(socket, master, number)
}

fn send_named(socket: BorrowedFd, master: BorrowedFd, number: u32) -> Result<()> {
    let name = format!("/dev/pts/{number}");
    let fds = [master.as_raw_fd()];
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

/// The pty slave goes to the process's user and to the image's tty group
/// (gid 5 in most images), as under runc: `mesg`, `write` and a shell's
/// own tty checks see a terminal of their own. Run inside the container,
/// while still privileged; without a tty group the group stays devpts's.
pub fn give_slave_to(slave: BorrowedFd, uid: u32) -> Result<()> {
    let group = crate::linux::program::read_image_file("/etc/group")
        .map_err(|e| e.context("the tty group from the container's group file"))?;
    let tty = group.as_deref().and_then(|g| {
        g.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 3 && f[0] == "tty").then(|| f[2].parse::<u32>().ok())?
        })
    });
    nix::unistd::fchown(
        slave,
        Some(nix::unistd::Uid::from_raw(uid)),
        tty.map(nix::unistd::Gid::from_raw),
    )
    .sys("chown", "the terminal")
}

pub fn no_socket() -> Error {
    Error::config(
        "process.terminal",
        "a terminal needs --console-socket (a foreground run with a terminal is not relayed by this berth yet)",
    )
}

/// For a foreground `run`/`exec` with a terminal and no console socket:
/// a connected pair, one end for the process to send the master on.
pub fn local_pair() -> Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .sys("socketpair", "console")
}

/// Receive the master that `send_master` sent.
pub fn receive_master(ours: &OwnedFd) -> Result<OwnedFd> {
    use nix::sys::socket::{ControlMessageOwned, recvmsg};
    let mut buf = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        ours.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .sys("receive pty master", "")?;
    for c in msg.cmsgs().sys("receive pty master", "")? {
        if let ControlMessageOwned::ScmRights(fds) = c
            && let Some(fd) = fds.first()
        {
            // SAFETY: an fd received with SCM_RIGHTS belongs to us alone.
            return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
        }
    }
    Err(Error::msg("the container sent no pty master"))
}

/// Puts the user's terminal in raw mode and restores it when dropped.
struct RawMode(Option<nix::sys::termios::Termios>);

impl RawMode {
    fn enter() -> RawMode {
        use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        match tcgetattr(&stdin) {
            Ok(saved) => {
                let mut raw = saved.clone();
                cfmakeraw(&mut raw);
                let _ = tcsetattr(&stdin, SetArg::TCSANOW, &raw);
                RawMode(Some(saved))
            }
            Err(_) => RawMode(None),
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                saved,
            );
        }
    }
}

fn copy_size(to: BorrowedFd) {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize; TIOCSWINSZ reads one.
    unsafe {
        if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(to.as_raw_fd(), libc::TIOCSWINSZ, &ws);
        }
    }
}

/// Relay between the user's terminal and the container's pty while
/// forwarding signals (blocked by the caller) to `pid`; returns its exit
/// status once it has exited and its output is drained.
pub fn relay_and_wait(master: OwnedFd, pid: i32, pidfd: BorrowedFd) -> Result<i32> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    let sfd = SignalFd::with_flags(&SigSet::all(), SfdFlags::SFD_CLOEXEC).sys("signalfd", "")?;
    let _raw = RawMode::enter();
    copy_size(master.as_fd());
    let stdin = std::io::stdin();
    let mut stdin_open = true;
    let mut master_open = true;
    let mut buf = [0u8; 8192];
    let mut code = None;
    while code.is_none() || master_open {
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        let master_idx = master_open.then(|| {
            fds.push(PollFd::new(master.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let stdin_idx = (stdin_open && code.is_none()).then(|| {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        // Once the process is gone, drain what the pty still holds.
        let timeout = if code.is_some() {
            PollTimeout::from(100u8)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("poll", "terminal", e)),
            Ok(0) => break,
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        if ready[0]
            && let Ok(Some(info)) = sfd.read_signal()
        {
            let sig = info.ssi_signo as i32;
            if sig == Signal::SIGCHLD as i32 {
                loop {
                    match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                        Ok(WaitStatus::Exited(p, c)) if p.as_raw() == pid => code = Some(c),
                        Ok(WaitStatus::Signaled(p, s, _)) if p.as_raw() == pid => {
                            code = Some(128 + s as i32)
                        }
                        Ok(WaitStatus::StillAlive) | Err(_) => break,
                        Ok(_) => continue,
                    }
                }
            } else if sig == Signal::SIGWINCH as i32 {
                copy_size(master.as_fd());
            } else {
                let _ = sys::pidfd_send_signal(pidfd, sig);
            }
        }
        if master_idx.is_some_and(|i| ready[i]) {
            match nix::unistd::read(master.as_fd(), &mut buf) {
                Ok(0) | Err(Errno::EIO) => master_open = false,
                Ok(n) => {
                    use std::io::Write;
                    let mut out = std::io::stdout();
                    let _ = out.write_all(&buf[..n]);
                    let _ = out.flush();
                }
                Err(Errno::EINTR) | Err(Errno::EAGAIN) => {}
                Err(e) => return Err(Error::sys("read", "pty", e)),
            }
        }
        if stdin_idx.is_some_and(|i| ready[i]) {
            match nix::unistd::read(stdin.as_fd(), &mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => {
                    let _ = nix::unistd::write(master.as_fd(), &buf[..n]);
                }
            }
        }
    }
    match code {
        Some(c) => Ok(c),
        // The pty closed first; the exit is still to come.
        None => crate::commands::run::forward_and_wait(
            pid,
            &nix::unistd::dup(pidfd).sys("dup", "pidfd")?,
        ),
    }
}
