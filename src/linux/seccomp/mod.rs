//! seccomp: the OCI profile compiled to BPF with libseccomp (before any
//! fork, so a bad profile costs nothing), loaded by berth itself with
//! seccomp(2) so that noNewPrivileges and the filter flags stay ours.

use crate::error::{Error, Result, SysContext};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::LinuxSeccomp;
use std::io::{Read, Seek};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::str::FromStr;

mod enosys;
#[cfg(any(test, fuzzing))]
pub mod eval;

pub const SECCOMP_FILTER_FLAG_TSYNC: u32 = 1;
pub const SECCOMP_FILTER_FLAG_LOG: u32 = 2;
pub const SECCOMP_FILTER_FLAG_SPEC_ALLOW: u32 = 4;
pub const SECCOMP_FILTER_FLAG_NEW_LISTENER: u32 = 8;
pub const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: u32 = 32;

/// A compiled filter, ready for seccomp(SECCOMP_SET_MODE_FILTER).
#[derive(Debug, Clone)]
pub struct Filter {
    pub bpf: Vec<u8>,
    pub flags: u32,
    /// Where the notify fd goes, when a rule uses SCMP_ACT_NOTIFY.
    pub listener: Option<Listener>,
}

/// linux.seccomp.listenerPath and listenerMetadata.
#[derive(Debug, Clone)]
pub struct Listener {
    pub path: std::path::PathBuf,
    pub metadata: Option<String>,
}

/// Syscalls a NOTIFY rule may not name: berth makes them after loading the
/// filter and before the listener has its fd (sendmsg hands the fd to
/// berth's parent side), so nobody could ever answer them.
const NOTIFY_REFUSED: &[&str] = &["sendmsg"];

/// The names the spec uses, as serde writes them.
fn name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn action(field: &str, name: &str, errno: Option<u32>) -> Result<ScmpAction> {
    let e = errno.map(|e| e as i32);
    Ok(match name {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(e.unwrap_or(libc::EPERM)),
        "SCMP_ACT_TRACE" => ScmpAction::Trace(e.unwrap_or(libc::EPERM) as u16),
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_NOTIFY" => ScmpAction::Notify,
        other => return Err(Error::config(field, format!("unknown action {other:?}"))),
    })
}

fn compare(field: &str, a: &oci_spec::runtime::LinuxSeccompArg) -> Result<ScmpArgCompare> {
    let op = match name(&a.op()).as_str() {
        "SCMP_CMP_MASKED_EQ" => ScmpCompareOp::MaskedEqual(a.value()),
        other => ScmpCompareOp::from_str(other)
            .map_err(|_| Error::config(field, format!("unknown operator {other:?}")))?,
    };
    let datum = match op {
        ScmpCompareOp::MaskedEqual(_) => a.value_two().unwrap_or(0),
        _ => a.value(),
    };
    Ok(ScmpArgCompare::new(a.index() as u32, op, datum))
}

fn lib_err(field: &str, e: libseccomp::error::SeccompError) -> Error {
    Error::config(field, format!("libseccomp: {e}"))
}

/// How long libseccomp may take over one profile (real ones take
/// milliseconds).
const COMPILE_LIMIT_SECS: libc::time_t = 10;

/// libseccomp 2.5.4 never returns from db_rule_add on some profiles
/// (fuzz/known-hangs/). Rather than leave an engine waiting forever on a
/// create or exec, a timer ends berth with the error once the compile has
/// taken COMPILE_LIMIT_SECS. Validation comes before any side effect, so
/// exiting there leaves nothing behind.
///
/// The timer is a POSIX timer of its own, on a realtime signal sent to the
/// compiling thread only: ITIMER_REAL and SIGALRM stay the caller's.
/// Borrowing them (as berth first did) lost races to a caller's alarm
/// falling due meanwhile, and libFuzzer's interval alarm, taken by
/// on_alarm, ended the fuzzer with this error on a profile that compiled
/// in microseconds (tests/seccomp_watchdog.rs). Threads compiling at once
/// (unit tests) take turns: the handler is the process's.
struct Watchdog {
    /// None until created: a timer id may be 0, a null timer_t.
    timer: Option<libc::timer_t>,
    old_action: libc::sigaction,
    old_mask: libc::sigset_t,
    _turn: std::sync::MutexGuard<'static, ()>,
}

static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

static ALARM_MSG: std::sync::OnceLock<crate::logging::Prepared> = std::sync::OnceLock::new();

extern "C" fn on_alarm(_: libc::c_int) {
    if let Some(p) = ALARM_MSG.get() {
        // SAFETY: write(2) on prepared bytes is async-signal-safe; what it
        // returns does not matter, we exit next.
        unsafe {
            libc::write(2, p.stderr.as_ptr().cast(), p.stderr.len());
            if let Some((fd, line)) = &p.log {
                libc::write(*fd, line.as_ptr().cast(), line.len());
            }
        }
    }
    // Under libFuzzer, a crash instead, so that it keeps the profile that
    // hung libseccomp as an artifact.
    #[cfg(fuzzing)]
    // SAFETY: abort is async-signal-safe.
    unsafe {
        libc::abort()
    }
    #[cfg(not(fuzzing))]
    // SAFETY: _exit is async-signal-safe.
    unsafe {
        libc::_exit(1)
    }
}

impl Watchdog {
    fn arm() -> Result<Watchdog> {
        ALARM_MSG.get_or_init(|| {
            crate::logging::prepare_error(&format!(
                "config: linux.seccomp: libseccomp did not compile the profile within {COMPILE_LIMIT_SECS}s (libseccomp 2.5 never returns on some rules that put several argument conditions on one syscall)"
            ))
        });
        let turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
        // The highest realtime signal: nothing in berth, libc or libFuzzer
        // uses it.
        let signo = libc::SIGRTMAX();
        type Parts = (
            libc::sigaction,
            libc::sigaction,
            libc::sigset_t,
            libc::sigset_t,
        );
        // SAFETY: all-zero sigaction and sigset_t are valid starts; each is
        // filled by the calls below before the kernel reads it.
        let parts: Parts = unsafe { std::mem::zeroed() };
        let (mut act, mut old_action, mut only, mut old_mask) = parts;
        act.sa_sigaction = on_alarm as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: valid sets and a valid signal number. The handler only
        // writes prepared bytes and calls _exit. A thread that blocked
        // realtime signals would never see the alarm, so it is unblocked
        // for the compile.
        let rc = unsafe {
            libc::sigfillset(&mut act.sa_mask);
            libc::sigemptyset(&mut only);
            libc::sigaddset(&mut only, signo);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &only, &mut old_mask);
            libc::sigaction(signo, &act, &mut old_action)
        };
        if rc != 0 {
            let e = nix::errno::Errno::last();
            // SAFETY: old_mask is the mask pthread_sigmask found.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut()) };
            return Err(Error::sys("sigaction", "SIGRTMAX", e));
        }
        let mut w = Watchdog {
            timer: None,
            old_action,
            old_mask,
            _turn: turn,
        };
        // SAFETY: an all-zero sigevent is a valid start.
        let mut ev: libc::sigevent = unsafe { std::mem::zeroed() };
        ev.sigev_notify = libc::SIGEV_THREAD_ID;
        ev.sigev_signo = signo;
        ev.sigev_notify_thread_id = nix::unistd::gettid().as_raw();
        let mut timer: libc::timer_t = std::ptr::null_mut();
        // SAFETY: ev and the timer slot are valid for the call.
        if unsafe { libc::timer_create(libc::CLOCK_MONOTONIC, &mut ev, &mut timer) } != 0 {
            return Err(Error::sys(
                "timer_create",
                "CLOCK_MONOTONIC",
                nix::errno::Errno::last(),
            ));
        }
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let limit = libc::itimerspec {
            it_interval: zero,
            it_value: libc::timespec {
                tv_sec: COMPILE_LIMIT_SECS,
                tv_nsec: 0,
            },
        };
        w.timer = Some(timer);
        // SAFETY: the timer was just created; limit is a valid itimerspec.
        if unsafe { libc::timer_settime(timer, 0, &limit, std::ptr::null_mut()) } != 0 {
            return Err(Error::sys(
                "timer_settime",
                "CLOCK_MONOTONIC",
                nix::errno::Errno::last(),
            ));
        }
        Ok(w)
    }
}

impl Drop for Watchdog {
    /// The timer goes first, so nothing can raise the signal once the
    /// caller's handler and mask are back.
    fn drop(&mut self) {
        // SAFETY: the timer, when there is one, is ours and deleted once;
        // the action and mask are the ones arm() found.
        unsafe {
            if let Some(t) = self.timer {
                libc::timer_delete(t);
            }
            libc::sigaction(libc::SIGRTMAX(), &self.old_action, std::ptr::null_mut());
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut());
        }
    }
}

/// Compile linux.seccomp. Unknown syscall names are skipped with a
/// warning (a profile may name syscalls this kernel or libseccomp lacks).
pub fn compile(s: &LinuxSeccomp) -> Result<Filter> {
    let _watchdog = Watchdog::arm()?;
    let f = "linux.seccomp";
    let default = action(
        &format!("{f}.defaultAction"),
        &name(&s.default_action()),
        s.default_errno_ret(),
    )?;
    if default == ScmpAction::Notify {
        return Err(Error::config(
            format!("{f}.defaultAction"),
            "SCMP_ACT_NOTIFY cannot be the default: berth's own syscalls before the listener has its fd would wait forever",
        ));
    }
    let mut ctx = ScmpFilterContext::new(default).map_err(|e| lib_err(f, e))?;
    for arch in s.architectures().iter().flatten() {
        let n = name(arch);
        let a = ScmpArch::from_str(&n).map_err(|_| {
            Error::config(
                format!("{f}.architectures"),
                format!("unknown architecture {n:?}"),
            )
        })?;
        ctx.add_arch(a)
            .map_err(|e| lib_err(&format!("{f}.architectures ({n})"), e))?;
    }
    let mut unknown = Vec::new();
    let mut notify = false;
    for (i, rule) in s.syscalls().iter().flatten().enumerate() {
        let field = format!("{f}.syscalls[{i}]");
        let act = action(&field, &name(&rule.action()), rule.errno_ret())?;
        if act == ScmpAction::Notify {
            notify = true;
            if let Some(n) = rule
                .names()
                .iter()
                .find(|n| NOTIFY_REFUSED.contains(&n.as_str()))
            {
                return Err(Error::config(
                    format!("{field}.names"),
                    format!("SCMP_ACT_NOTIFY on {n}: berth hands the listener its fd with it"),
                ));
            }
        }
        // libseccomp refuses a rule that only repeats the default.
        if act == default {
            continue;
        }
        let conds: Vec<ScmpArgCompare> = rule
            .args()
            .iter()
            .flatten()
            .map(|a| compare(&format!("{field}.args"), a))
            .collect::<Result<_>>()?;
        // A syscall named again without arguments keeps its first action:
        // libseccomp accepts the second rule and drops it. runc 1.1.5 and
        // crun 1.8.1 add rules the same way and answer the same (checked
        // with setns ERRNO(1) then ERRNO(13), and the reverse); the spec
        // sets no precedence. An unconditional rule does replace earlier
        // conditional ones. berth keeps libseccomp's answer, as they do,
        // without a warning.
        for n in rule.names() {
            let Ok(sc) = ScmpSyscall::from_name(n) else {
                unknown.push(n.clone());
                continue;
            };
            if ctx.add_rule_conditional(act, sc, &conds).is_err() {
                // Several conditions on one argument: as runc does, one
                // rule per condition (any of them matches).
                for c in &conds {
                    ctx.add_rule_conditional(act, sc, std::slice::from_ref(c))
                        .map_err(|e| lib_err(&format!("{field} ({n})"), e))?;
                }
            }
        }
    }
    if !unknown.is_empty() {
        crate::logging::warn(&format!(
            "linux.seccomp: ignoring unknown syscalls: {}",
            unknown.join(", ")
        ));
    }
    let mut flags = 0;
    for fl in s.flags().iter().flatten() {
        flags |= match name(fl).as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => SECCOMP_FILTER_FLAG_TSYNC,
            "SECCOMP_FILTER_FLAG_LOG" => SECCOMP_FILTER_FLAG_LOG,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
            other => {
                return Err(Error::config(
                    format!("{f}.flags"),
                    format!("unknown flag {other:?}"),
                ));
            }
        };
    }
    // The spec sends the fd to listenerPath only when NOTIFY is used; a
    // path without such a rule has nothing to receive.
    let listener = match s
        .listener_path()
        .as_ref()
        .filter(|p| !p.as_os_str().is_empty())
    {
        _ if !notify => None,
        None => {
            return Err(Error::config(
                format!("{f}.listenerPath"),
                "SCMP_ACT_NOTIFY needs a listener socket to send the notify fd to",
            ));
        }
        Some(p) if !p.is_absolute() => {
            return Err(Error::config(
                format!("{f}.listenerPath"),
                format!("{} must be an absolute path", p.display()),
            ));
        }
        Some(p) => Some(Listener {
            path: p.clone(),
            metadata: s.listener_metadata().clone(),
        }),
    };
    if listener.is_some() {
        // The kernel refuses TSYNC with a listener (which thread's filter
        // would the fd be?); berth's processes are single threaded, so
        // TSYNC has nothing to synchronise anyway.
        flags = (flags & !SECCOMP_FILTER_FLAG_TSYNC) | SECCOMP_FILTER_FLAG_NEW_LISTENER;
    }
    // libseccomp 2.5 exports to an fd only: a memfd holds the program.
    let mut mem = std::fs::File::from(
        nix::sys::memfd::memfd_create(c"berth-seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .sys("memfd_create", "seccomp")?,
    );
    ctx.export_bpf(&mem).map_err(|e| lib_err(f, e))?;
    let mut program = Vec::new();
    mem.rewind().sys("seek", "seccomp memfd")?;
    mem.read_to_end(&mut program).sys("read", "seccomp memfd")?;
    let mut bpf = enosys::prologue(s, &default).map_err(|m| Error::config(f, m))?;
    bpf.extend_from_slice(&program);
    if bpf.len() / INSN_SIZE > BPF_MAXINSNS {
        return Err(Error::config(
            f,
            format!(
                "the compiled filter has {} instructions, the kernel takes {BPF_MAXINSNS}",
                bpf.len() / INSN_SIZE
            ),
        ));
    }
    Ok(Filter {
        bpf,
        flags,
        listener,
    })
}

/// The size of one classic BPF instruction, and how many the kernel takes.
const INSN_SIZE: usize = std::mem::size_of::<libc::sock_filter>();
const BPF_MAXINSNS: usize = 4096;

/// Whether seccomp knows `flags`: with a null filter it answers EINVAL
/// for flags it does not know, EFAULT once it goes on to read the filter.
pub fn kernel_knows(flags: u32) -> bool {
    const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
    // SAFETY: the filter pointer is null: the kernel fails with EFAULT
    // (or EINVAL) before installing anything.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags,
            std::ptr::null::<libc::sock_fprog>(),
        )
    };
    r < 0 && nix::errno::Errno::last() == nix::errno::Errno::EFAULT
}

/// The filter's flags this kernel does not know, in the config's words
/// (`load` fails with EINVAL on them, and `berth check --bundle` says so
/// first). WAIT_KILLABLE_RECV is only taken with NEW_LISTENER.
pub fn unknown_flags(flags: u32) -> Option<Error> {
    let names = [
        (SECCOMP_FILTER_FLAG_TSYNC, "SECCOMP_FILTER_FLAG_TSYNC"),
        (SECCOMP_FILTER_FLAG_LOG, "SECCOMP_FILTER_FLAG_LOG"),
        (
            SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        ),
        (
            SECCOMP_FILTER_FLAG_NEW_LISTENER,
            "SECCOMP_FILTER_FLAG_NEW_LISTENER (for SCMP_ACT_NOTIFY)",
        ),
        (
            SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        ),
    ];
    let unknown: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .filter(|(bit, _)| {
            let with = if *bit == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV {
                SECCOMP_FILTER_FLAG_NEW_LISTENER
            } else {
                0
            };
            !kernel_knows(bit | with)
        })
        .map(|(_, name)| *name)
        .collect();
    if !unknown.is_empty() {
        return Some(Error::config(
            "linux.seccomp.flags",
            format!("this kernel does not know {}", unknown.join(", ")),
        ));
    }
    (flags != 0 && !kernel_knows(flags)).then(|| {
        Error::config(
            "linux.seccomp.flags",
            "this kernel refuses these flags together (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs an SCMP_ACT_NOTIFY rule)",
        )
    })
}

/// Install the filter on this process; with a listener, the kernel gives
/// back the notify fd (close-on-exec), which must leave the container.
pub fn load(filter: &Filter) -> Result<Option<OwnedFd>> {
    const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
    let prog = libc::sock_fprog {
        len: (filter.bpf.len() / std::mem::size_of::<libc::sock_filter>()) as u16,
        filter: filter.bpf.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prog points at our BPF bytes, which outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            filter.flags,
            &prog as *const libc::sock_fprog,
        )
    };
    let fd = nix::errno::Errno::result(r).map_err(|e| {
        match e {
            nix::errno::Errno::EINVAL => unknown_flags(filter.flags),
            _ => None,
        }
        .unwrap_or_else(|| Error::sys("load seccomp filter", "", e))
    })?;
    if filter.flags & SECCOMP_FILTER_FLAG_NEW_LISTENER == 0 {
        return Ok(None);
    }
    // SAFETY: with NEW_LISTENER the kernel returned a fresh fd we own.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }))
}

/// Give the notify fd to the listener at listenerPath, as runtime-spec
/// asks: one message on a unix stream socket, the container process state
/// as JSON with the fd in SCM_RIGHTS ("fds" names it "seccompFd").
pub fn send_to_listener(
    l: &Listener,
    fd: BorrowedFd,
    pid: i32,
    state: &serde_json::Value,
) -> Result<()> {
    use nix::sys::socket::{
        AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr, connect, sendmsg,
        socket,
    };
    let field = "linux.seccomp.listenerPath";
    let mut doc = serde_json::json!({
        "ociVersion": state.get("ociVersion").cloned().unwrap_or_default(),
        "fds": ["seccompFd"],
        "pid": pid,
        "state": state,
    });
    if let Some(m) = &l.metadata {
        doc["metadata"] = m.clone().into();
    }
    let payload = doc.to_string();
    let sock = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .sys("socket", "seccomp listener")?;
    let addr = UnixAddr::new(&l.path).sys(&format!("{field}: address"), l.path.display())?;
    connect(sock.as_raw_fd(), &addr).sys(&format!("{field}: connect"), l.path.display())?;
    let fds = [fd.as_raw_fd()];
    let iov = [std::io::IoSlice::new(payload.as_bytes())];
    let n = sendmsg::<()>(
        sock.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .sys(&format!("{field}: send the notify fd to"), l.path.display())?;
    // A state with large annotations outgrows one send on a stream: the
    // fd went with the first part, the rest follows.
    let mut rest = &payload.as_bytes()[n..];
    while !rest.is_empty() {
        match nix::sys::socket::send(sock.as_raw_fd(), rest, MsgFlags::MSG_NOSIGNAL) {
            Ok(0) => {
                return Err(Error::msg(format!(
                    "{field}: send the state to {}: the listener stopped reading",
                    l.path.display()
                )));
            }
            Ok(k) => rest = &rest[k..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => {
                return Err(Error::sys(
                    format!("{field}: send the state to"),
                    l.path.display(),
                    e,
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The listener gets the notify fd and the whole state, a megabyte of
    /// annotations included: more than one send on a stream carries.
    #[test]
    fn a_megabyte_of_state_reaches_the_listener_whole() {
        let dir = crate::tempdir::TempDir::new();
        let path = dir.path().join("l.sock");
        let server = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let reader = std::thread::spawn(move || {
            let (conn, _) = server.accept().unwrap();
            let mut buf = vec![0u8; 64 * 1024];
            let mut space = nix::cmsg_space!([RawFd; 1]);
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            let msg = nix::sys::socket::recvmsg::<()>(
                conn.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                nix::sys::socket::MsgFlags::empty(),
            )
            .unwrap();
            let got_fd = msg
                .cmsgs()
                .unwrap()
                .any(|c| matches!(c, nix::sys::socket::ControlMessageOwned::ScmRights(f) if f.len() == 1));
            let n = msg.bytes;
            let mut text = buf[..n].to_vec();
            let mut conn = conn;
            conn.read_to_end(&mut text).unwrap();
            (got_fd, text)
        });
        let big = "x".repeat(1 << 20);
        let state = serde_json::json!({"ociVersion": "1.2.0", "annotations": {"big": big}});
        let (r, _w) = nix::unistd::pipe().unwrap();
        let l = Listener {
            path: path.clone(),
            metadata: Some("m".into()),
        };
        send_to_listener(&l, std::os::fd::AsFd::as_fd(&r), 42, &state).unwrap();
        let (got_fd, text) = reader.join().unwrap();
        assert!(got_fd, "no fd came with the state");
        let doc: serde_json::Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(doc["pid"], 42);
        assert_eq!(doc["metadata"], "m");
        assert_eq!(
            doc["state"]["annotations"]["big"].as_str().unwrap().len(),
            1 << 20
        );
    }

    fn profile(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn compiles_actions_operators_and_archs() {
        let f = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
               "flags":["SECCOMP_FILTER_FLAG_LOG"],
               "syscalls":[{"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"},
                           {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38},
                           {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},
                           {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]},
                           {"names":["kill"],"action":"SCMP_ACT_LOG","args":[{"index":1,"value":0,"op":"SCMP_CMP_GT"},{"index":1,"value":9,"op":"SCMP_CMP_LT"}]},
                           {"names":["not_a_syscall_x"],"action":"SCMP_ACT_ALLOW"},
                           {"names":["getpid"],"action":"SCMP_ACT_TRAP"},{"names":["getppid"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
        ))
        .unwrap();
        assert!(!f.bpf.is_empty() && f.bpf.len().is_multiple_of(8));
        assert_eq!(f.flags, SECCOMP_FILTER_FLAG_LOG);
    }

    use super::eval::decide;

    const X86_64: u32 = 0xC000_003E;

    #[test]
    fn notify_needs_a_listener_and_asks_the_kernel_for_one() {
        let e = compile(&profile(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("linux.seccomp.listenerPath") && e.contains("NOTIFY"),
            "{e}"
        );
        let e = compile(&profile(r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"rel.sock","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("absolute"), "{e}");
        let e = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/run/l.sock"}"#,
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("linux.seccomp.defaultAction"), "{e}");
        let e = compile(&profile(r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/l.sock","syscalls":[{"names":["write","sendmsg"],"action":"SCMP_ACT_NOTIFY"}]}"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("linux.seccomp.syscalls[0].names") && e.contains("sendmsg"),
            "{e}"
        );

        let f = compile(&profile(r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/l.sock","listenerMetadata":"m","flags":["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_LOG"],
            "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#))
            .unwrap();
        assert_eq!(
            f.flags,
            SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_LOG
        );
        let l = f.listener.unwrap();
        assert_eq!(
            (l.path.to_str(), l.metadata.as_deref()),
            (Some("/run/l.sock"), Some("m"))
        );
        assert_eq!(
            decide(&f.bpf, X86_64, 83),
            0x7fc0_0000,
            "mkdir goes to the listener"
        );

        // A listener path without a NOTIFY rule has nothing to receive.
        let f = compile(&profile(r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/l.sock","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#))
            .unwrap();
        assert!(f.listener.is_none() && f.flags == 0);
    }

    #[test]
    fn a_repeated_syscall_keeps_libseccomps_first_action() {
        let setns = |rules: &str| {
            let f = compile(&profile(&format!(
                r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{rules}]}}"#
            )))
            .unwrap();
            decide(&f.bpf, X86_64, 308)
        };
        let allow = r#"{"names":["setns"],"action":"SCMP_ACT_ALLOW"}"#;
        let eacces = r#"{"names":["setns"],"action":"SCMP_ACT_ERRNO","errnoRet":13}"#;
        let allow_if_zero = r#"{"names":["setns"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":0,"op":"SCMP_CMP_EQ"}]}"#;
        assert_eq!(setns(&format!("{allow},{eacces}")), 0x7fff_0000);
        assert_eq!(setns(&format!("{eacces},{allow}")), 0x0005_000d);
        // decide's arguments are all zero: the condition holds, yet the
        // later unconditional rule decides.
        assert_eq!(setns(&format!("{allow_if_zero},{eacces}")), 0x0005_000d);
    }
}
