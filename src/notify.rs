//! sd_notify through the container, as runc does it. When berth runs
//! with NOTIFY_SOCKET set (a systemd Type=notify service, Podman's
//! --sdnotify=container), the container gets a socket of berth's own,
//! bound into it at /run/notify/notify.sock and named in its
//! NOTIFY_SOCKET; `start` listens there and passes the program's
//! READY=1 on to the real socket with MAINPID set to the container's
//! init, which is the process systemd should watch.
//!
//! The directory, not the socket, is what the container sees: `create`
//! and `start` are separate processes, and the socket is bound by the
//! one that listens.

use crate::error::{Error, Result, SysContext};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr, bind, recv, sendto, socket,
};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Where the container finds the socket.
pub const IN_CONTAINER: &str = "/run/notify/notify.sock";
const DIR: &str = "notify";
const SOCKET: &str = "notify.sock";

/// The caller's NOTIFY_SOCKET, when there is one to proxy to.
pub fn host_socket() -> Option<String> {
    std::env::var("NOTIFY_SOCKET")
        .ok()
        .filter(|s| !s.is_empty())
}

/// At create: the directory the container will see, and the mount that
/// shows it there (read-only; sending to a socket needs no write access
/// to its file system).
pub fn prepare(state_dir: &Path) -> Result<oci_spec::runtime::Mount> {
    let dir = state_dir.join(DIR);
    std::fs::create_dir(&dir).sys("mkdir", dir.display())?;
    let mut m = oci_spec::runtime::Mount::default();
    m.set_destination(PathBuf::from(IN_CONTAINER).parent().unwrap().to_path_buf())
        .set_typ(Some("bind".into()))
        .set_source(Some(dir))
        .set_options(Some(
            ["bind", "nosuid", "noexec", "nodev", "ro"]
                .map(String::from)
                .to_vec(),
        ));
    Ok(m)
}

pub struct Listener {
    sock: OwnedFd,
    host: String,
}

/// At start, before the program can run: bind the container's socket.
/// None when the container was created without one.
pub fn listen(state_dir: &Path) -> Result<Option<Listener>> {
    let (Some(host), true) = (host_socket(), state_dir.join(DIR).is_dir()) else {
        return Ok(None);
    };
    let path = state_dir.join(DIR).join(SOCKET);
    let _ = std::fs::remove_file(&path);
    let sock = socket(
        AddressFamily::Unix,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .sys("socket", "notify")?;
    let addr = UnixAddr::new(&path).sys("bind", path.display())?;
    bind(std::os::fd::AsRawFd::as_raw_fd(&sock), &addr).sys("bind", path.display())?;
    // Any process in the container may send, whatever its uid.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))
        .sys("chmod", path.display())?;
    Ok(Some(Listener { sock, host }))
}

impl Listener {
    /// Wait for READY=1 from the container and pass it on with MAINPID;
    /// an error if the init dies first.
    pub fn forward_ready(&self, pid: i32, pidfd: BorrowedFd) -> Result<()> {
        let mut buf = vec![0u8; 4096];
        loop {
            let mut fds = [
                PollFd::new(self.sock.as_fd(), PollFlags::POLLIN),
                PollFd::new(pidfd, PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("poll", "notify socket", e)),
                Ok(_) => {}
            }
            let readable = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            if readable(&fds[0]) {
                let n = match recv(
                    std::os::fd::AsRawFd::as_raw_fd(&self.sock),
                    &mut buf,
                    MsgFlags::MSG_DONTWAIT,
                ) {
                    Ok(n) => n,
                    Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
                    Err(e) => return Err(Error::sys("recv", "notify socket", e)),
                };
                if let Some(msg) = ready_message(&buf[..n], pid) {
                    return self.send(&msg);
                }
            } else if readable(&fds[1]) {
                return Err(Error::msg(format!(
                    "the container exited before sending READY=1 to NOTIFY_SOCKET {}",
                    self.host
                )));
            }
        }
    }

    fn send(&self, msg: &str) -> Result<()> {
        let addr = match self.host.strip_prefix('@') {
            Some(abstract_name) => UnixAddr::new_abstract(abstract_name.as_bytes()),
            None => UnixAddr::new(self.host.as_str()),
        }
        .sys("connect", &self.host)?;
        let sock = socket(
            AddressFamily::Unix,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .sys("socket", "NOTIFY_SOCKET")?;
        sendto(
            std::os::fd::AsRawFd::as_raw_fd(&sock),
            msg.as_bytes(),
            &addr,
            MsgFlags::empty(),
        )
        .sys("send to NOTIFY_SOCKET", &self.host)?;
        Ok(())
    }
}

/// What to pass on for one datagram from the container: its READY line
/// and the init's pid, or nothing until READY comes.
fn ready_message(datagram: &[u8], pid: i32) -> Option<String> {
    let text = String::from_utf8_lossy(datagram);
    let ready = text.lines().find(|l| l.starts_with("READY="))?;
    Some(format!("{ready}\nMAINPID={pid}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ready_is_passed_on_with_the_init_pid() {
        assert_eq!(ready_message(b"STATUS=starting\n", 7), None);
        assert_eq!(
            ready_message(b"STATUS=up\nREADY=1\n", 42).as_deref(),
            Some("READY=1\nMAINPID=42\n")
        );
        assert_eq!(
            ready_message(b"READY=1", 3).as_deref(),
            Some("READY=1\nMAINPID=3\n")
        );
    }
}
