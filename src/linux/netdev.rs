//! linux.netDevices: host network interfaces moved into the container's
//! network namespace, renamed on the way (one rtnetlink RTM_NEWLINK with
//! IFLA_NET_NS_FD and IFLA_IFNAME, over a raw NETLINK_ROUTE socket).
//!
//! berth moves them from the host side, once the init (and so the
//! namespace) exists and before the container's setup begins. They come
//! back by themselves: when the namespace dies, the kernel returns
//! physical devices to the host's initial namespace (under their
//! container name) and destroys virtual ones (dummy, veth, macvlan...)
//! with it. A namespace joined by path outlives the container, and the
//! devices stay in it.

use crate::error::{Error, Result, SysContext};
use nix::errno::Errno;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const RTM_NEWLINK: u16 = 16;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_FD: u16 = 28;
/// IFNAMSIZ less its NUL.
const MAX_NAME: usize = 15;

/// An interface name the kernel will take (dev_valid_name).
pub fn check_name(field: &str, name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() > MAX_NAME
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c == '\0');
    if bad {
        return Err(Error::config(
            field,
            format!(
                "{name:?} is not a network interface name (1 to {MAX_NAME} bytes, no '/', ':' or spaces, not . or ..)"
            ),
        ));
    }
    Ok(())
}

fn attr(buf: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let len = 4 + data.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(data);
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

/// The RTM_NEWLINK request that moves interface `index` into the network
/// namespace `netns` under the name `name`.
fn move_request(index: i32, netns: i32, name: &str) -> Vec<u8> {
    let mut body = Vec::new();
    // struct ifinfomsg: family, pad, type, index, flags, change.
    body.extend_from_slice(&[libc::AF_UNSPEC as u8, 0]);
    body.extend_from_slice(&0u16.to_ne_bytes());
    body.extend_from_slice(&index.to_ne_bytes());
    body.extend_from_slice(&0u32.to_ne_bytes());
    body.extend_from_slice(&0u32.to_ne_bytes());
    attr(&mut body, IFLA_NET_NS_FD, &(netns as u32).to_ne_bytes());
    let mut cname = name.as_bytes().to_vec();
    cname.push(0);
    attr(&mut body, IFLA_IFNAME, &cname);
    let mut msg = Vec::with_capacity(16 + body.len());
    // struct nlmsghdr: len, type, flags, seq, pid (0: the kernel).
    msg.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    msg.extend_from_slice(&RTM_NEWLINK.to_ne_bytes());
    msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&body);
    msg
}

fn route_socket() -> nix::Result<OwnedFd> {
    // SAFETY: plain socket(2) call with integer arguments.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    let fd = Errno::result(fd)?;
    // SAFETY: a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Send one request and read its acknowledgement: the errno it carries.
fn request(sock: &OwnedFd, msg: &[u8]) -> nix::Result<()> {
    // SAFETY: msg is a valid buffer of its length.
    let n = unsafe { libc::send(sock.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
    Errno::result(n)?;
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: buf is writable for its length.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let n = match Errno::result(n) {
            Err(Errno::EINTR) => continue,
            r => r? as usize,
        };
        if n < 20 {
            return Err(Errno::EIO);
        }
        let kind = u16::from_ne_bytes([buf[4], buf[5]]);
        if kind != NLMSG_ERROR {
            continue;
        }
        let code = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
        return if code == 0 {
            Ok(())
        } else {
            Err(Errno::from_raw(-code))
        };
    }
}

fn index_of(name: &str) -> nix::Result<i32> {
    let c = std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: c is a valid NUL-terminated string for the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        Err(Errno::last())
    } else {
        Ok(i as i32)
    }
}

/// Move each (host name, container name) into the namespace `netns`.
pub fn move_all(devices: &[(String, String)], netns: BorrowedFd) -> Result<()> {
    let sock = route_socket().sys("socket", "NETLINK_ROUTE")?;
    for (host, name) in devices {
        let field = format!("linux.netDevices.{host}");
        let index = index_of(host)
            .sys("find network interface", host)
            .map_err(|e| e.context(&field))?;
        request(&sock, &move_request(index, netns.as_raw_fd(), name))
            .sys(
                "move network interface into the container",
                format!("{host} (as {name})"),
            )
            .map_err(|e| e.context(&field))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_follow_the_kernel_rules() {
        for good in ["eth0", "a", "berthdummy12345"] {
            check_name("f", good).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "a:b", "a b", "sixteen-chars-xx"] {
            assert!(check_name("f", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_request_is_aligned_and_sized() {
        let m = move_request(7, 9, "ctr0");
        assert_eq!(m.len() % 4, 0);
        assert_eq!(
            u32::from_ne_bytes(m[0..4].try_into().unwrap()) as usize,
            m.len()
        );
        // ifinfomsg index right after the header's 16 bytes and 4 more.
        assert_eq!(i32::from_ne_bytes(m[20..24].try_into().unwrap()), 7);
    }
}
