//! linux.netDevices: host network interfaces moved into the container's
//! network namespace, renamed on the way (one rtnetlink RTM_NEWLINK with
//! IFLA_NET_NS_FD and IFLA_IFNAME, over a raw NETLINK_ROUTE socket).
//!
//! berth moves them from the host side, once the init (and so the
//! namespace) exists and before the container's setup begins. The kernel
//! drops an interface's addresses on the move: berth puts its global ones
//! back, and brings it up if it was up, from a socket opened inside the
//! container's namespace (as runc does). They come
//! back by themselves: when the namespace dies, the kernel returns
//! physical devices to the host's initial namespace (under their
//! container name) and destroys virtual ones (dummy, veth, macvlan...)
//! with it. A namespace joined by path outlives the container, and the
//! devices stay in it: config-linux.md (1.3) says the runtime MUST NOT
//! move them out before deletion (the namespace's owner manages them, and
//! a container that dies abruptly could not anyway); runc does not either.

use crate::error::{Error, Result, SysContext};
use nix::errno::Errno;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_DUMP: u16 = 0x300;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RT_SCOPE_UNIVERSE: u8 = 0;
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

/// A netlink message: header, then `body`.
fn message(kind: u16, flags: u16, body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(16 + body.len());
    // struct nlmsghdr: len, type, flags, seq, pid (0: the kernel).
    msg.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    msg.extend_from_slice(&kind.to_ne_bytes());
    msg.extend_from_slice(&flags.to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(body);
    msg
}

/// struct ifinfomsg: family, pad, type, index, flags, change.
fn ifinfo(index: i32, flags: u32, change: u32) -> Vec<u8> {
    let mut b = vec![libc::AF_UNSPEC as u8, 0];
    b.extend_from_slice(&0u16.to_ne_bytes());
    b.extend_from_slice(&index.to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&change.to_ne_bytes());
    b
}

/// An address of an interface, as the kernel reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Addr {
    family: u8,
    prefix: u8,
    /// IFA_LOCAL and IFA_ADDRESS, as given (they differ on point-to-point
    /// links).
    attrs: Vec<(u16, Vec<u8>)>,
}

/// The attributes of one message, from `at` to its end.
fn attrs(msg: &[u8], mut at: usize) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while at + 4 <= msg.len() {
        let len = u16::from_ne_bytes([msg[at], msg[at + 1]]) as usize;
        let kind = u16::from_ne_bytes([msg[at + 2], msg[at + 3]]);
        if len < 4 || at + len > msg.len() {
            break;
        }
        out.push((kind, &msg[at + 4..at + len]));
        at += (len + 3) & !3;
    }
    out
}

/// The global addresses of interface `index`, from an RTM_GETADDR dump.
fn addresses(sock: &OwnedFd, index: i32) -> nix::Result<Vec<Addr>> {
    // struct ifaddrmsg: family, prefixlen, flags, scope, index.
    let mut body = vec![libc::AF_UNSPEC as u8, 0, 0, 0];
    body.extend_from_slice(&0u32.to_ne_bytes());
    let req = message(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &body);
    // SAFETY: req is a valid buffer of its length.
    let n = unsafe { libc::send(sock.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
    Errno::result(n)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        // SAFETY: buf is writable for its length.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let n = match Errno::result(n) {
            Err(Errno::EINTR) => continue,
            r => r? as usize,
        };
        let mut at = 0;
        while at + 16 <= n {
            let len = u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap_or_default()) as usize;
            let kind = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
            if len < 16 || at + len > n {
                return Err(Errno::EIO);
            }
            let msg = &buf[at..at + len];
            match kind {
                NLMSG_DONE => return Ok(out),
                NLMSG_ERROR if len >= 20 => {
                    let code = i32::from_ne_bytes(msg[16..20].try_into().unwrap_or_default());
                    return Err(Errno::from_raw(-code));
                }
                RTM_NEWADDR if len >= 24 => {
                    let scope = msg[19];
                    let ifindex = i32::from_ne_bytes(msg[20..24].try_into().unwrap_or_default());
                    if ifindex == index && scope == RT_SCOPE_UNIVERSE {
                        out.push(Addr {
                            family: msg[16],
                            prefix: msg[17],
                            attrs: attrs(msg, 24)
                                .into_iter()
                                .filter(|(k, _)| *k == IFA_LOCAL || *k == IFA_ADDRESS)
                                .map(|(k, v)| (k, v.to_vec()))
                                .collect(),
                        });
                    }
                }
                _ => {}
            }
            at += (len + 3) & !3;
        }
    }
}

fn add_address(sock: &OwnedFd, index: i32, a: &Addr) -> nix::Result<()> {
    let mut body = vec![a.family, a.prefix, 0, RT_SCOPE_UNIVERSE];
    body.extend_from_slice(&(index as u32).to_ne_bytes());
    for (k, v) in &a.attrs {
        attr(&mut body, *k, v);
    }
    request(
        sock,
        &message(
            RTM_NEWADDR,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &body,
        ),
    )
}

fn set_up(sock: &OwnedFd, index: i32) -> nix::Result<()> {
    let up = libc::IFF_UP as u32;
    request(
        sock,
        &message(
            RTM_NEWLINK,
            NLM_F_REQUEST | NLM_F_ACK,
            &ifinfo(index, up, up),
        ),
    )
}

/// In a network namespace berth made: bring its loopback up, as runc and
/// crun leave it (127.0.0.1 works inside without an engine's CNI). The
/// loopback is the first interface a namespace gets: index 1.
pub fn loopback_up() -> Result<()> {
    let sock = route_socket().map_err(|e| Error::sys("socket", "rtnetlink", e))?;
    set_up(&sock, 1).map_err(|e| Error::sys("bring up", "lo", e))
}

/// The interface is up (IFF_UP in /sys/class/net/NAME/flags).
fn is_up(name: &str) -> bool {
    std::fs::read_to_string(format!("/sys/class/net/{name}/flags"))
        .ok()
        .and_then(|s| u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok())
        .is_some_and(|f| f & libc::IFF_UP as u32 != 0)
}

/// The RTM_NEWLINK request that moves interface `index` into the network
/// namespace `netns` under the name `name`.
fn move_request(index: i32, netns: i32, name: &str) -> Vec<u8> {
    let mut body = ifinfo(index, 0, 0);
    attr(&mut body, IFLA_NET_NS_FD, &(netns as u32).to_ne_bytes());
    let mut cname = name.as_bytes().to_vec();
    cname.push(0);
    attr(&mut body, IFLA_IFNAME, &cname);
    message(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &body)
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

/// An interface moved into a container: what it had on the host, given
/// to it again inside, and on the host if create fails after the move.
struct Moved {
    host: String,
    name: String,
    field: String,
    up: bool,
    addrs: Vec<Addr>,
}

/// The interfaces a create moved, and the namespace they went to (held
/// open, so that it outlives a dead init until they are back).
pub struct MovedDevices {
    netns: OwnedFd,
    list: Vec<Moved>,
}

/// Run `f` in the network namespace `netns` and come straight back (berth
/// is single threaded): a netlink socket made there talks to it, and
/// if_nametoindex looks there.
fn inside<T>(netns: BorrowedFd, f: impl FnOnce() -> T) -> Result<T> {
    let own = nix::fcntl::open(
        "/proc/self/ns/net",
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .sys("open", "/proc/self/ns/net")?;
    nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET)
        .sys("setns", "the container's network namespace")?;
    let r = f();
    nix::sched::setns(&own, nix::sched::CloneFlags::CLONE_NEWNET)
        .sys("setns", "back to berth's network namespace")?;
    Ok(r)
}

/// Give `m` its addresses and up state, through `sock`, where `index` is.
fn restore(sock: &OwnedFd, index: i32, m: &Moved, name: &str) -> Result<()> {
    for a in &m.addrs {
        add_address(sock, index, a)
            .sys("restore an address of", name)
            .map_err(|e| e.context(&m.field))?;
    }
    if m.up {
        set_up(sock, index)
            .sys("bring up", name)
            .map_err(|e| e.context(&m.field))?;
    }
    Ok(())
}

/// Move each (host name, container name) into the namespace `netns`,
/// with its global addresses and up state. On failure, those already
/// moved are moved back.
pub fn move_all(devices: &[(String, String)], netns: OwnedFd) -> Result<MovedDevices> {
    let sock = route_socket().sys("socket", "NETLINK_ROUTE")?;
    let mut moved = MovedDevices {
        netns,
        list: Vec::new(),
    };
    let done = (|| -> Result<()> {
        for (host, name) in devices {
            let field = format!("linux.netDevices.{host}");
            let index = index_of(host)
                .sys("find network interface", host)
                .map_err(|e| e.context(&field))?;
            let addrs = addresses(&sock, index)
                .sys("list addresses of", host)
                .map_err(|e| e.context(&field))?;
            let up = is_up(host);
            request(&sock, &move_request(index, moved.netns.as_raw_fd(), name))
                .sys(
                    "move network interface into the container",
                    format!("{host} (as {name})"),
                )
                .map_err(|e| e.context(&field))?;
            moved.list.push(Moved {
                host: host.clone(),
                name: name.clone(),
                field,
                up,
                addrs,
            });
        }
        if moved.list.iter().all(|m| !m.up && m.addrs.is_empty()) {
            return Ok(());
        }
        let (sock, index) = inside(moved.netns.as_fd(), || {
            let index: Vec<_> = moved.list.iter().map(|m| index_of(&m.name)).collect();
            (route_socket(), index)
        })?;
        let sock = sock.sys("socket", "NETLINK_ROUTE in the container")?;
        for (m, index) in moved.list.iter().zip(index) {
            let index = index
                .sys("find moved interface", &m.name)
                .map_err(|e| e.context(&m.field))?;
            restore(&sock, index, m, &m.name)?;
        }
        Ok(())
    })();
    match done {
        Ok(()) => Ok(moved),
        Err(e) => {
            moved.move_back();
            Err(e)
        }
    }
}

impl MovedDevices {
    /// Back to berth's namespace under their host names, with their
    /// addresses and up state: what a failed create owes the host. A
    /// virtual interface would otherwise die with a namespace of the
    /// container's own, and a physical one come back under its container
    /// name, without addresses. Best effort: each failure is a warning.
    pub fn move_back(&mut self) {
        let list = std::mem::take(&mut self.list);
        if list.is_empty() {
            return;
        }
        let warn = |e: Error| crate::logging::warn(&format!("undo: {e}"));
        let own = match nix::fcntl::open(
            "/proc/self/ns/net",
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .sys("open", "/proc/self/ns/net")
        {
            Ok(fd) => fd,
            Err(e) => return warn(e),
        };
        let (sock, index) = match inside(self.netns.as_fd(), || {
            let index: Vec<_> = list.iter().map(|m| index_of(&m.name)).collect();
            (route_socket(), index)
        }) {
            Ok((Ok(sock), index)) => (sock, index),
            Ok((Err(e), _)) => {
                return warn(Error::sys("socket", "NETLINK_ROUTE in the container", e));
            }
            Err(e) => return warn(e),
        };
        let host = match route_socket().sys("socket", "NETLINK_ROUTE") {
            Ok(s) => s,
            Err(e) => return warn(e),
        };
        for (m, index) in list.iter().zip(index) {
            let back = index
                .sys("find moved interface", &m.name)
                .and_then(|i| {
                    request(&sock, &move_request(i, own.as_raw_fd(), &m.host)).sys(
                        "move network interface back to the host",
                        format!("{} (as {})", m.name, m.host),
                    )
                })
                .and_then(|()| index_of(&m.host).sys("find network interface", &m.host))
                .and_then(|i| restore(&host, i, m, &m.host));
            if let Err(e) = back {
                warn(e.context(&m.field));
            }
        }
    }
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
