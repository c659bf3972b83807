//! The typed messages between berth (parent) and the container's init
//! (child), JSON encoded over a SOCK_SEQPACKET pair. A datagram is at most
//! the socket's send buffer (about 208 KiB by default), and a message can
//! be larger: the state carries the config's annotations, which
//! Kubernetes lets reach 256 KiB per object. So a message travels in
//! frames of FRAME bytes, each led by one byte: MORE, or LAST on the one
//! that ends it.

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
    /// init to parent: our time namespace is made; write its offsets.
    TimeNs,
    /// parent to init: they are written.
    TimeNsDone,
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
    /// bind-source helper to init (before Go): the source of mounts[N],
    /// opened as the host's root in the init's mount namespace (SCM_RIGHTS).
    MountSource(usize),
    /// either side: the step that failed, fully worded.
    Error(String),
    /// init to parent: a createContainer hook failed, fully worded; the
    /// parent destroys the container and runs poststop.
    HookFailed(String),
}

pub struct Channel(pub OwnedFd);

const FRAME: usize = 64 * 1024;
const MORE: u8 = b'+';
const LAST: u8 = b'.';
/// The most a message may grow to on receipt: far above any config the
/// kernel holds in a process's arguments, far below what would hurt.
const MAX_MESSAGE: usize = 256 << 20;

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
        let mut chunks = buf.chunks(FRAME).peekable();
        let mut frame = Vec::with_capacity(FRAME.min(buf.len()) + 1);
        loop {
            let chunk = chunks.next().unwrap_or_default();
            let tag = if chunks.peek().is_some() { MORE } else { LAST };
            frame.clear();
            frame.push(tag);
            frame.extend_from_slice(chunk);
            socket::send(self.0.as_raw_fd(), &frame, MsgFlags::MSG_NOSIGNAL)
                .map_err(|e| Error::sys("send to peer", variant(m), e))?;
            if tag == LAST {
                return Ok(());
            }
        }
    }

    /// A message encoded ahead of time as one frame, for `send_with_fd`.
    pub fn encode(m: &Msg) -> Result<Vec<u8>> {
        let mut buf = vec![LAST];
        serde_json::to_writer(&mut buf, m)
            .map_err(|e| Error::msg(format!("encode message: {e}")))?;
        if buf.len() > FRAME {
            return Err(Error::msg(format!(
                "encode message: {} is too large to go with an fd",
                variant(m)
            )));
        }
        Ok(buf)
    }

    /// Send an encoded message with an fd. Nothing here allocates or makes
    /// any syscall but sendmsg: it runs right after a seccomp filter was
    /// loaded, when every other syscall may already wait on a listener
    /// that does not have its fd yet.
    pub fn send_with_fd(&self, encoded: &[u8], fd: BorrowedFd, what: &str) -> Result<()> {
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
            .map_err(|e| Error::sys("send to peer", what, e))
    }

    /// The next message; None when the peer has gone (exited or closed).
    pub fn recv(&self) -> Result<Option<Msg>> {
        Ok(self.recv_with_fd()?.map(|(m, _)| m))
    }

    /// The next message and the fd that came with it, if any.
    pub fn recv_with_fd(&self) -> Result<Option<(Msg, Option<OwnedFd>)>> {
        let mut msg = Vec::new();
        let mut fd = None;
        loop {
            let Some((frame, frame_fd)) = self.recv_frame()? else {
                return Ok(None);
            };
            if fd.is_none() {
                fd = frame_fd;
            }
            let (&tag, body) = frame
                .split_first()
                .ok_or_else(|| Error::msg("receive from peer: an empty frame"))?;
            if msg.len() + body.len() > MAX_MESSAGE {
                return Err(Error::msg(format!(
                    "receive from peer: a message of more than {} MiB",
                    MAX_MESSAGE >> 20
                )));
            }
            msg.extend_from_slice(body);
            match tag {
                LAST => break,
                MORE => continue,
                t => {
                    return Err(Error::msg(format!(
                        "receive from peer: a frame tagged {t:#04x}"
                    )));
                }
            }
        }
        decode(&msg).map(|m| Some((m, fd)))
    }

    /// One datagram, whole, and an fd that came with it; None when the
    /// peer has gone.
    fn recv_frame(&self) -> Result<Option<(Vec<u8>, Option<OwnedFd>)>> {
        // The datagram's real size first (MSG_PEEK|MSG_TRUNC), so that it
        // is never cut.
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
        buf.truncate(n);
        Ok(Some((buf, fd)))
    }
}

/// A message from its JSON bytes (the fuzz target's way in too).
pub fn decode(bytes: &[u8]) -> Result<Msg> {
    serde_json::from_slice(bytes).map_err(|e| Error::msg(format!("decode message: {e}")))
}

/// The message's kind, for errors: a whole message may be megabytes.
fn variant(m: &Msg) -> &'static str {
    match m {
        Msg::InitPid(_) => "InitPid",
        Msg::Go { .. } => "Go",
        Msg::TimeNs => "TimeNs",
        Msg::TimeNsDone => "TimeNsDone",
        Msg::RunHooks => "RunHooks",
        Msg::HooksDone => "HooksDone",
        Msg::Ready => "Ready",
        Msg::Joining => "Joining",
        Msg::SeccompListener => "SeccompListener",
        Msg::MountSource(_) => "MountSource",
        Msg::Error(_) => "Error",
        Msg::HookFailed(_) => "HookFailed",
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
    fn a_message_larger_than_a_datagram_arrives_whole() {
        let (a, b) = pair().unwrap();
        // 1 MiB of state: five times the default socket buffer.
        let state = "x".repeat(1 << 20);
        let sent = Msg::Go {
            pid: 7,
            state: state.clone(),
            cgroup: None,
        };
        let t = std::thread::spawn(move || a.send(&sent).map(|()| a));
        assert_eq!(
            b.recv().unwrap(),
            Some(Msg::Go {
                pid: 7,
                state,
                cgroup: None
            })
        );
        let a = t.join().unwrap().unwrap();
        a.send(&Msg::Ready).unwrap();
        assert_eq!(b.recv().unwrap(), Some(Msg::Ready));
    }

    #[test]
    fn a_bad_frame_is_an_error() {
        let (a, b) = pair().unwrap();
        socket::send(a.0.as_raw_fd(), b"?{}", MsgFlags::empty()).unwrap();
        let e = b.recv().unwrap_err().to_string();
        assert!(e.contains("tagged 0x3f"), "{e}");
    }

    #[test]
    fn an_fd_rides_along() {
        let (a, b) = pair().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let msg = Channel::encode(&Msg::SeccompListener).unwrap();
        a.send_with_fd(&msg, std::os::fd::AsFd::as_fd(&w), "a pipe")
            .unwrap();
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
