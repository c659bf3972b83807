//! The typed messages between berth (parent) and the container's init
//! (child), one per SOCK_SEQPACKET datagram, JSON encoded.

use crate::cgroups::Cgroup;
use crate::error::{Error, Result};
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum Msg {
    /// stage-1 to parent: the init's pid (in berth's pid namespace).
    InitPid(i32),
    /// parent to init: id maps are written; here are the init's host pid
    /// and the state document hooks receive, and the cgroup when it was
    /// made after the init was born (a systemd unit).
    Go {
        pid: i32,
        state: String,
        cgroup: Option<Cgroup>,
    },
    /// init to parent: mounts are done, run prestart and createRuntime.
    RunHooks,
    /// parent to init: those hooks succeeded.
    HooksDone,
    /// init to parent: set up and waiting on the exec fifo.
    Ready,
    /// exec process to parent (`exec --ignore-paused`): set up, and about
    /// to join the frozen cgroup, where it will wait for `resume`.
    Joining,
    /// init or exec'd process to parent: the seccomp notify fd rides along
    /// (SCM_RIGHTS), for the parent to hand to linux.seccomp.listenerPath.
    SeccompListener,
    /// either side: the step that failed, fully worded.
    Error(String),
    /// init to parent: a createContainer hook failed, fully worded; the
    /// parent destroys the container and runs poststop.
    HookFailed(String),
}

pub struct Channel(pub OwnedFd);

pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::sys("socketpair", "", e))?;
    Ok((Channel(a), Channel(b)))
}

impl Channel {
    pub fn send(&self, m: &Msg) -> Result<()> {
        let buf = serde_json::to_vec(m).map_err(|e| Error::msg(format!("encode message: {e}")))?;
        socket::send(self.0.as_raw_fd(), &buf, MsgFlags::MSG_NOSIGNAL)
            .map_err(|e| Error::sys("send to peer", format!("{m:?}"), e))?;
        Ok(())
    }

    /// A message encoded ahead of time, for `send_with_fd`.
    pub fn encode(m: &Msg) -> Result<Vec<u8>> {
        serde_json::to_vec(m).map_err(|e| Error::msg(format!("encode message: {e}")))
    }

    /// Send an encoded message with an fd. Nothing here allocates or makes
    /// any syscall but sendmsg: it runs right after a seccomp filter was
    /// loaded, when every other syscall may already wait on a listener
    /// that does not have its fd yet.
    pub fn send_with_fd(&self, encoded: &[u8], fd: BorrowedFd) -> Result<()> {
        const SPACE: usize = 64;
        #[repr(C, align(8))]
        struct Control([u8; SPACE]);
        let mut control = Control([0; SPACE]);
        let mut iov = libc::iovec {
            iov_base: encoded.as_ptr() as *mut libc::c_void,
            iov_len: encoded.len(),
        };
        // SAFETY: an all-zero msghdr is valid; the pointers set below
        // point at locals that outlive the sendmsg call.
        let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
        hdr.msg_iov = &mut iov;
        hdr.msg_iovlen = 1;
        hdr.msg_control = control.0.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE only computes a size.
        let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
        hdr.msg_controllen = space;
        // SAFETY: msg_control holds `space` (<= SPACE) zeroed, aligned
        // bytes, so CMSG_FIRSTHDR is non-null and the header and one fd
        // fit in it.
        let sent = unsafe {
            let c = libc::CMSG_FIRSTHDR(&hdr);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<RawFd>(), fd.as_raw_fd());
            libc::sendmsg(self.0.as_raw_fd(), &hdr, libc::MSG_NOSIGNAL)
        };
        nix::errno::Errno::result(sent)
            .map(drop)
            .map_err(|e| Error::sys("send to peer", "the seccomp notify fd", e))
    }

    /// The next message; None when the peer has gone (exited or closed).
    pub fn recv(&self) -> Result<Option<Msg>> {
        Ok(self.recv_with_fd()?.map(|(m, _)| m))
    }

    /// The next message and the fd that came with it, if any.
    pub fn recv_with_fd(&self) -> Result<Option<(Msg, Option<OwnedFd>)>> {
        // The datagram's real size first (MSG_PEEK|MSG_TRUNC), so that large
        // annotations are never cut.
        let size = loop {
            match socket::recv(
                self.0.as_raw_fd(),
                &mut [0u8; 1],
                MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC,
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::ECONNRESET) => return Ok(None),
                Err(e) => return Err(Error::sys("receive from peer", "", e)),
                Ok(n) => break n,
            }
        };
        let mut buf = vec![0u8; size.max(1)];
        let mut control = nix::cmsg_space!([RawFd; 1]);
        let (n, fd) = loop {
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            match socket::recvmsg::<()>(
                self.0.as_raw_fd(),
                &mut iov,
                Some(&mut control),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::ECONNRESET) => return Ok(None),
                Err(e) => return Err(Error::sys("receive from peer", "", e)),
                Ok(msg) => {
                    let mut fd = None;
                    for c in msg
                        .cmsgs()
                        .map_err(|e| Error::sys("receive from peer", "", e))?
                    {
                        if let socket::ControlMessageOwned::ScmRights(fds) = c {
                            for raw in fds {
                                // SAFETY: SCM_RIGHTS installed a new fd that
                                // only we own; extras are closed on drop.
                                let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                                fd.get_or_insert(owned);
                            }
                        }
                    }
                    break (msg.bytes, fd);
                }
            }
        };
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf[..n])
            .map(|m| Some((m, fd)))
            .map_err(|e| Error::msg(format!("decode message: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_eof_is_none() {
        let (a, b) = pair().unwrap();
        a.send(&Msg::Go {
            pid: 7,
            state: "{}".into(),
            cgroup: None,
        })
        .unwrap();
        a.send(&Msg::Error("boom".into())).unwrap();
        assert_eq!(
            b.recv().unwrap(),
            Some(Msg::Go {
                pid: 7,
                state: "{}".into(),
                cgroup: None,
            })
        );
        assert_eq!(b.recv().unwrap(), Some(Msg::Error("boom".into())));
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }

    #[test]
    fn an_fd_rides_along() {
        let (a, b) = pair().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let msg = Channel::encode(&Msg::SeccompListener).unwrap();
        a.send_with_fd(&msg, std::os::fd::AsFd::as_fd(&w)).unwrap();
        drop(w);
        let (m, fd) = b.recv_with_fd().unwrap().unwrap();
        assert_eq!(m, Msg::SeccompListener);
        nix::unistd::write(fd.unwrap(), b"x").unwrap();
        let mut byte = [0u8; 1];
        assert_eq!(
            nix::unistd::read(std::os::fd::AsFd::as_fd(&r), &mut byte).unwrap(),
            1
        );
        a.send(&Msg::Ready).unwrap();
        let (m, fd) = b.recv_with_fd().unwrap().unwrap();
        assert!(m == Msg::Ready && fd.is_none());
    }
}
