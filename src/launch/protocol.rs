//! The typed messages between berth (parent) and the container's init
//! (child), one per SOCK_SEQPACKET datagram, JSON encoded.

use crate::cgroups::Cgroup;
use crate::error::{Error, Result};
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, OwnedFd};

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

    /// The next message; None when the peer has gone (exited or closed).
    pub fn recv(&self) -> Result<Option<Msg>> {
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
        let n = loop {
            match socket::recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::ECONNRESET) => return Ok(None),
                Err(e) => return Err(Error::sys("receive from peer", "", e)),
                Ok(n) => break n,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf[..n])
            .map(Some)
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
}
