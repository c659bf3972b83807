//! A minimal synchronous D-Bus client over a unix stream socket: SASL
//! EXTERNAL authentication, method calls that wait for their reply, and
//! signals. Enough to drive systemd; no async runtime, no libdbus.
//!
//! berth talks to systemd through systemd's own private socket
//! (/run/systemd/private, root only) when it is there, as systemctl does
//! as root: it needs no dbus-daemon, no Hello and no match rules, and
//! systemd sends every signal to its private peers. Otherwise it uses the
//! system bus ($DBUS_SYSTEM_BUS_ADDRESS, else
//! /run/dbus/system_bus_socket), which is what runc tries first. A
//! rootless berth drives the user's own systemd the same two ways
//! (`systemd_sockets`).

pub mod wire;

use crate::error::{Error, Result, SysContext};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Instant;
pub use wire::{Message, Value};

pub const SYSTEMD_PRIVATE: &str = "/run/systemd/private";
pub const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";

/// An error reply: its name and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteError {
    pub name: String,
    pub message: String,
}

pub struct Connection {
    sock: UnixStream,
    /// Where we are connected, for error messages.
    path: PathBuf,
    /// Through dbus-daemon (which wants Hello and match rules) rather
    /// than straight to systemd.
    pub on_bus: bool,
    serial: u32,
    input: Vec<u8>,
    /// Signals that arrived while a call waited for its reply.
    signals: VecDeque<Message>,
}

/// The unix socket paths of $DBUS_SYSTEM_BUS_ADDRESS ("unix:path=...",
/// several separated by ';'), or the standard one.
pub fn system_bus_paths(address: Option<&str>) -> Vec<PathBuf> {
    let Some(address) = address.filter(|a| !a.is_empty()) else {
        return vec![PathBuf::from(SYSTEM_BUS)];
    };
    address
        .split(';')
        .filter_map(|a| a.strip_prefix("unix:"))
        .filter_map(|kv| {
            kv.split(',')
                .find_map(|p| p.strip_prefix("path="))
                .map(|p| PathBuf::from(unescape(p)))
        })
        .collect()
}

/// Whether berth drives the user's own systemd (systemd --user) rather
/// than the system's: when it is not root, as runc does for rootless
/// --systemd-cgroup. The system manager would neither let a user start
/// units nor be able to move the user's processes.
pub fn user_manager() -> bool {
    !nix::unistd::geteuid().is_root()
}

/// The sockets to try for systemd, in order, each with whether it goes
/// through dbus-daemon. The system's: its private socket, then the system
/// bus. The user's: its private socket under $XDG_RUNTIME_DIR (or
/// /run/user/UID), then the session bus ($DBUS_SESSION_BUS_ADDRESS, else
/// the `bus` socket next to it).
pub fn systemd_sockets() -> Vec<(PathBuf, bool)> {
    let euid = nix::unistd::geteuid().as_raw();
    sockets_for(user_manager().then_some(euid), |k| {
        std::env::var(k).ok().filter(|v| !v.is_empty())
    })
}

/// `systemd_sockets` for the system (`user` None) or a user's manager,
/// with the environment read through `var`.
fn sockets_for(user: Option<u32>, var: impl Fn(&str) -> Option<String>) -> Vec<(PathBuf, bool)> {
    let Some(uid) = user else {
        let bus = var("DBUS_SYSTEM_BUS_ADDRESS");
        return std::iter::once((PathBuf::from(SYSTEMD_PRIVATE), false))
            .chain(
                system_bus_paths(bus.as_deref())
                    .into_iter()
                    .map(|p| (p, true)),
            )
            .collect();
    };
    let run = var("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(format!("/run/user/{uid}")));
    let bus = match var("DBUS_SESSION_BUS_ADDRESS") {
        Some(a) => system_bus_paths(Some(&a)),
        None => vec![run.join("bus")],
    };
    std::iter::once((run.join("systemd/private"), false))
        .chain(bus.into_iter().map(|p| (p, true)))
        .collect()
}

/// D-Bus addresses %-escape bytes outside a safe set.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Connection {
    /// Connect and authenticate as our effective uid; on the bus, also
    /// say Hello.
    pub fn open(path: &Path, on_bus: bool, deadline: Instant) -> Result<Connection> {
        let sock = UnixStream::connect(path).sys("connect", path.display())?;
        let mut c = Connection {
            sock,
            path: path.to_path_buf(),
            on_bus,
            serial: 0,
            input: Vec::new(),
            signals: VecDeque::new(),
        };
        c.authenticate(deadline)?;
        if on_bus {
            c.call(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "Hello",
                vec![],
                deadline,
            )?;
        }
        Ok(c)
    }

    /// SASL EXTERNAL: the server checks our uid (SO_PEERCRED) against
    /// the one we claim, sent as hex of its decimal digits.
    ///
    /// BEGIN goes with AUTH and the first message only once OK is back,
    /// as sd-bus clients do it. systemd's server (sd-bus) keeps whatever
    /// it reads along with BEGIN in its buffer and then waits for the
    /// socket to be readable again: a call sent right behind BEGIN can
    /// sit there unanswered (seen when systemd was busy).
    fn authenticate(&mut self, deadline: Instant) -> Result<()> {
        let uid = nix::unistd::geteuid().as_raw().to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        self.write(format!("\0AUTH EXTERNAL {hex}\r\nBEGIN\r\n").as_bytes())?;
        let line = self.read_line(deadline)?;
        if !line.starts_with("OK ") {
            return Err(Error::msg(format!(
                "D-Bus authentication on {}: the server answered {line:?}",
                self.path.display()
            )));
        }
        Ok(())
    }

    fn write(&mut self, b: &[u8]) -> Result<()> {
        self.sock
            .write_all(b)
            .sys("D-Bus: write to", self.path.display())
    }

    /// Read what is there (at least one byte) before the deadline.
    fn fill(&mut self, deadline: Instant) -> Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.timeout());
        }
        self.sock
            .set_read_timeout(Some(left))
            .sys("D-Bus: set timeout on", self.path.display())?;
        let mut buf = [0u8; 16 * 1024];
        match self.sock.read(&mut buf) {
            Ok(0) => Err(Error::msg(format!(
                "D-Bus: {} closed the connection",
                self.path.display()
            ))),
            Ok(n) => {
                self.input.extend_from_slice(&buf[..n]);
                Ok(())
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err(self.timeout())
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(e).sys("D-Bus: read from", self.path.display()),
        }
    }

    fn timeout(&self) -> Error {
        Error::msg(format!(
            "D-Bus: no answer on {} in time",
            self.path.display()
        ))
    }

    fn read_line(&mut self, deadline: Instant) -> Result<String> {
        loop {
            if let Some(end) = self.input.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.input[..end]).into_owned();
                self.input.drain(..end + 2);
                return Ok(line);
            }
            if self.input.len() > 4096 {
                return Err(Error::msg("D-Bus authentication: line too long"));
            }
            self.fill(deadline)?;
        }
    }

    /// The next whole message.
    fn receive(&mut self, deadline: Instant) -> Result<Message> {
        loop {
            if self.input.len() >= 16 {
                let n = wire::message_len(&self.input[..16])?;
                if self.input.len() >= n {
                    let m = wire::decode(&self.input[..n]);
                    self.input.drain(..n);
                    if let Ok(m) = &m {
                        crate::logging::debug(&format!(
                            "D-Bus: got type {} #{} (reply to {:?}) {} {} {:?}",
                            m.kind,
                            m.serial,
                            m.reply_serial,
                            m.member.as_deref().unwrap_or_default(),
                            m.error_name.as_deref().unwrap_or_default(),
                            m.body.first()
                        ));
                    }
                    return m;
                }
            }
            self.fill(deadline)?;
        }
    }

    /// Call a method and wait for its reply: the reply's body, or the
    /// error the peer answered with.
    pub fn try_call(
        &mut self,
        destination: &str,
        path: &str,
        interface: &str,
        member: &str,
        args: Vec<Value>,
        deadline: Instant,
    ) -> Result<std::result::Result<Vec<Value>, RemoteError>> {
        self.serial += 1;
        let serial = self.serial;
        let m = Message {
            kind: wire::METHOD_CALL,
            serial,
            path: Some(path.into()),
            interface: Some(interface.into()),
            member: Some(member.into()),
            destination: Some(destination.into()),
            body: args,
            ..Message::default()
        };
        crate::logging::debug(&format!("D-Bus: call {interface}.{member} #{serial}"));
        self.write(&m.encode())?;
        loop {
            let r = self.receive(deadline)?;
            match r.kind {
                wire::METHOD_RETURN if r.reply_serial == Some(serial) => return Ok(Ok(r.body)),
                wire::ERROR if r.reply_serial == Some(serial) => {
                    return Ok(Err(RemoteError {
                        name: r.error_name.clone().unwrap_or_default(),
                        message: r.error_text(),
                    }));
                }
                wire::SIGNAL => self.signals.push_back(r),
                // Nobody calls berth's methods; other replies are stale.
                _ => {}
            }
        }
    }

    /// `try_call`, an error reply becoming an error naming the method.
    pub fn call(
        &mut self,
        destination: &str,
        path: &str,
        interface: &str,
        member: &str,
        args: Vec<Value>,
        deadline: Instant,
    ) -> Result<Vec<Value>> {
        self.try_call(destination, path, interface, member, args, deadline)?
            .map_err(|e| {
                Error::msg(format!(
                    "D-Bus {interface}.{member}: {}: {}",
                    e.name, e.message
                ))
            })
    }

    /// The first signal (already received or still to come) that `want`
    /// accepts; others are dropped.
    pub fn wait_signal(
        &mut self,
        deadline: Instant,
        want: impl Fn(&Message) -> bool,
    ) -> Result<Message> {
        while let Some(m) = self.signals.pop_front() {
            if want(&m) {
                return Ok(m);
            }
        }
        loop {
            let m = self.receive(deadline)?;
            if m.kind == wire::SIGNAL && want(&m) {
                return Ok(m);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_users_systemd_is_looked_for_in_its_runtime_dir() {
        let p = |s: &str, bus: bool| (PathBuf::from(s), bus);
        let none = |_: &str| None;
        assert_eq!(
            sockets_for(None, none),
            [p(SYSTEMD_PRIVATE, false), p(SYSTEM_BUS, true)]
        );
        assert_eq!(
            sockets_for(Some(1001), none),
            [
                p("/run/user/1001/systemd/private", false),
                p("/run/user/1001/bus", true)
            ]
        );
        let env = |k: &str| match k {
            "XDG_RUNTIME_DIR" => Some("/x".to_string()),
            "DBUS_SESSION_BUS_ADDRESS" => Some("unix:path=/s/bus".to_string()),
            _ => None,
        };
        assert_eq!(
            sockets_for(Some(1001), env),
            [p("/x/systemd/private", false), p("/s/bus", true)]
        );
    }

    #[test]
    fn system_bus_address_parsing() {
        assert_eq!(system_bus_paths(None), [PathBuf::from(SYSTEM_BUS)]);
        assert_eq!(
            system_bus_paths(Some("unix:path=/run/x%20y/bus;tcp:host=h,port=1")),
            [PathBuf::from("/run/x y/bus")]
        );
        assert_eq!(
            system_bus_paths(Some("unix:guid=1,path=/a")),
            [PathBuf::from("/a")]
        );
        assert!(system_bus_paths(Some("unix:abstract=/tmp/x")).is_empty());
    }

    /// A fake server on a socketpair: it checks the SASL exchange and
    /// answers one call, after sending an unrelated signal first.
    #[test]
    fn authenticates_calls_and_keeps_early_signals() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let server = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !got.ends_with(b"BEGIN\r\n") {
                let n = theirs.read(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            let uid = nix::unistd::geteuid().as_raw().to_string();
            let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
            assert_eq!(
                got,
                format!("\0AUTH EXTERNAL {hex}\r\nBEGIN\r\n").as_bytes()
            );
            theirs.write_all(b"OK 1234deadbeef\r\n").unwrap();
            // The call comes only after OK.
            let mut got = Vec::new();
            loop {
                let n = theirs.read(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
                if got.len() > 16 && got.len() >= wire::message_len(&got).unwrap() {
                    break;
                }
            }
            let call = wire::decode(&got).unwrap();
            assert_eq!(call.member.as_deref(), Some("GetUnit"));
            assert_eq!(call.body, [Value::str("x.scope")]);
            let signal = Message {
                kind: wire::SIGNAL,
                serial: 1,
                path: Some("/org/freedesktop/systemd1".into()),
                interface: Some("org.freedesktop.systemd1.Manager".into()),
                member: Some("JobRemoved".into()),
                body: vec![
                    Value::U32(5),
                    Value::Path("/j/5".into()),
                    Value::str("x.scope"),
                    Value::str("done"),
                ],
                ..Message::default()
            };
            let reply = Message {
                kind: wire::ERROR,
                serial: 2,
                reply_serial: Some(call.serial),
                error_name: Some("org.freedesktop.systemd1.NoSuchUnit".into()),
                body: vec![Value::str("Unit x.scope not loaded.")],
                ..Message::default()
            };
            let mut out = signal.encode();
            out.extend(reply.encode());
            // Split mid-message to exercise reassembly.
            theirs.write_all(&out[..20]).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
            theirs.write_all(&out[20..]).unwrap();
        });
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let mut c = Connection {
            sock: ours,
            path: "test".into(),
            on_bus: false,
            serial: 0,
            input: Vec::new(),
            signals: VecDeque::new(),
        };
        c.authenticate(deadline).unwrap();
        let r = c
            .try_call(
                "org.freedesktop.systemd1",
                "/org/freedesktop/systemd1",
                "org.freedesktop.systemd1.Manager",
                "GetUnit",
                vec![Value::str("x.scope")],
                deadline,
            )
            .unwrap();
        assert_eq!(
            r,
            Err(RemoteError {
                name: "org.freedesktop.systemd1.NoSuchUnit".into(),
                message: "Unit x.scope not loaded.".into()
            })
        );
        let s = c
            .wait_signal(deadline, |m| m.member.as_deref() == Some("JobRemoved"))
            .unwrap();
        assert_eq!(s.body[3], Value::str("done"));
        server.join().unwrap();
        // Nothing more comes: the wait ends at the deadline.
        let e = c
            .wait_signal(Instant::now(), |_| true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no answer") || e.contains("closed"), "{e}");
    }
}
