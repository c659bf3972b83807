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
/// create or exec, an alarm ends berth with the error once the compile has
/// taken COMPILE_LIMIT_SECS. Validation comes before any side effect, so
/// exiting there leaves nothing behind.
struct Watchdog {
    old: nix::sys::signal::SigAction,
    old_timer: libc::itimerval,
}

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
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(1) }
}

/// Set ITIMER_REAL, returning what it was (an alarm of the caller's, such
/// as libFuzzer's own timeout, is put back afterwards).
fn set_timer(t: &libc::itimerval) -> libc::itimerval {
    // SAFETY: an all-zero itimerval is valid.
    let mut old: libc::itimerval = unsafe { std::mem::zeroed() };
    // SAFETY: both point at valid itimervals.
    unsafe { libc::setitimer(libc::ITIMER_REAL, t, &mut old) };
    old
}

impl Watchdog {
    fn arm() -> Result<Watchdog> {
        use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
        ALARM_MSG.get_or_init(|| {
            crate::logging::prepare_error(&format!(
                "config: linux.seccomp: libseccomp did not compile the profile within {COMPILE_LIMIT_SECS}s (libseccomp 2.5 never returns on some rules that put several argument conditions on one syscall)"
            ))
        });
        let act = SigAction::new(
            SigHandler::Handler(on_alarm),
            SaFlags::empty(),
            SigSet::all(),
        );
        // SAFETY: the handler only writes prepared bytes and calls _exit.
        let old = unsafe { sigaction(Signal::SIGALRM, &act) }
            .map_err(|e| Error::sys("sigaction", "SIGALRM", e))?;
        let once = libc::itimerval {
            it_interval: libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            it_value: libc::timeval {
                tv_sec: COMPILE_LIMIT_SECS,
                tv_usec: 0,
            },
        };
        let old_timer = set_timer(&once);
        Ok(Watchdog { old, old_timer })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        set_timer(&self.old_timer);
        use nix::sys::signal::{Signal, sigaction};
        // SAFETY: puts back the action that was there before arm().
        let _ = unsafe { sigaction(Signal::SIGALRM, &self.old) };
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
    let enosys = newer_is_enosys(&default).then(|| newest_per_arch(s));
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
    let mut bpf = match &enosys {
        Some(newest) => enosys_stub(newest).map_err(|m| Error::config(f, m))?,
        None => Vec::new(),
    };
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

/// Whether syscalls newer than the profile should fail with ENOSYS rather
/// than the default action. A profile is written against the syscalls that
/// existed then; one the kernel (or libseccomp) gained since is one the
/// profile could not have allowed, and the default errno (EPERM, usually)
/// would make libc treat it as refused instead of falling back: glibc
/// tries clone3 and falls back to clone only on ENOSYS. Permissive
/// defaults (allow, log, and trace, whose tracer handles new syscalls
/// itself) let new syscalls through already; a default of ENOSYS needs
/// nothing more.
fn newer_is_enosys(default: &ScmpAction) -> bool {
    match default {
        ScmpAction::Allow | ScmpAction::Log | ScmpAction::Trace(_) => false,
        ScmpAction::Errno(e) => *e != libc::ENOSYS,
        _ => true,
    }
}

const INSN_SIZE: usize = std::mem::size_of::<libc::sock_filter>();
const BPF_MAXINSNS: usize = 4096;
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// x32 shares AUDIT_ARCH_X86_64 and marks its syscall numbers with this.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// The kernel's name for a libseccomp architecture (AUDIT_ARCH_*), which
/// is what seccomp_data.arch holds. Architectures not listed here get no
/// ENOSYS treatment: their syscalls go straight to the profile.
fn audit_arch(a: ScmpArch) -> Option<u32> {
    Some(match a {
        ScmpArch::X8664 | ScmpArch::X32 => AUDIT_ARCH_X86_64,
        ScmpArch::X86 => 0x4000_0003,
        ScmpArch::Aarch64 => 0xC000_00B7,
        ScmpArch::Arm => 0x4000_0028,
        ScmpArch::Riscv64 => 0xC000_00F3,
        ScmpArch::Ppc64Le => 0xC000_0015,
        ScmpArch::Ppc64 => 0x8000_0015,
        ScmpArch::Ppc => 0x0000_0014,
        ScmpArch::Loongarch64 => 0xC000_0102,
        _ => return None,
    })
}

/// Which syscall numbers one ENOSYS check covers on an architecture: x86_64
/// and x32 share one AUDIT_ARCH and are told apart by X32_SYSCALL_BIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Abi {
    All,
    X32BitClear,
    X32BitSet,
}

/// The highest syscall number the profile names, per architecture and ABI
/// (whatever the rule's action: a syscall the profile mentions is one its
/// author knew of). Names libseccomp does not know are not counted.
fn newest_per_arch(s: &LinuxSeccomp) -> Vec<(u32, Abi, u32)> {
    let mut archs: Vec<ScmpArch> = s
        .architectures()
        .iter()
        .flatten()
        .filter_map(|a| ScmpArch::from_str(&name(a)).ok())
        .map(|a| {
            if a == ScmpArch::Native {
                ScmpArch::native()
            } else {
                a
            }
        })
        .collect();
    // libseccomp's filter always has the native architecture (listed or
    // not), so the profile's rules, and its horizon, apply there too.
    archs.push(ScmpArch::native());
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for arch in archs {
        if seen.contains(&arch) {
            continue;
        }
        seen.push(arch);
        let Some(audit) = audit_arch(arch) else {
            continue;
        };
        let abi = match arch {
            ScmpArch::X8664 => Abi::X32BitClear,
            ScmpArch::X32 => Abi::X32BitSet,
            _ => Abi::All,
        };
        let newest = s
            .syscalls()
            .iter()
            .flatten()
            .flat_map(|r| r.names())
            .filter_map(|n| ScmpSyscall::from_name_by_arch(n, arch).ok())
            .map(i32::from)
            .filter(|nr| *nr >= 0)
            .max();
        if let Some(nr) = newest {
            out.push((audit, abi, nr as u32));
        }
    }
    out
}

/// Classic BPF, as much of it as the stub needs, with symbolic targets.
#[derive(Clone, Copy)]
enum Op {
    LoadNr,
    LoadArch,
    /// Jump to .1 if A == k, else fall through.
    IfArch(u32, usize),
    /// Jump to the first target if A > k, else to the second.
    IfAbove(u32, Target, Target),
    /// Jump to the first target if A & k, else to the second.
    IfBits(u32, Target, Target),
    Goto(Target),
    Enosys,
}

#[derive(Clone, Copy)]
enum Target {
    /// The n-th instruction of the stub.
    At(usize),
    Enosys,
    /// The first instruction of libseccomp's program, right after the stub.
    Filter,
}

/// The program that goes in front of libseccomp's: per architecture the
/// profile covers, a syscall number above the newest it names returns
/// ENOSYS; everything else falls through to the profile unchanged.
///
/// ```text
///     ld  [arch]
///     jeq ARCH_1, sec_1          (one per architecture)
///     ja  filter
/// sec_1:
///     ld  [nr]
///     jset X32_SYSCALL_BIT, ..   (x86_64 and x32 only)
///     jgt NEWEST, enosys, filter
///     ...
/// enosys:
///     ret ERRNO(ENOSYS)
/// filter:
///     (libseccomp's program)
/// ```
fn enosys_stub(newest: &[(u32, Abi, u32)]) -> std::result::Result<Vec<u8>, String> {
    let mut audits: Vec<u32> = Vec::new();
    for (a, _, _) in newest {
        if !audits.contains(a) {
            audits.push(*a);
        }
    }
    if audits.is_empty() {
        return Ok(Vec::new());
    }
    // Sections first, then the dispatch that jumps to them.
    let dispatch_len = 1 + audits.len() + 1;
    let mut sections: Vec<Op> = Vec::new();
    let mut starts = Vec::new();
    for audit in &audits {
        starts.push(dispatch_len + sections.len());
        let here = |sections: &Vec<Op>, n: usize| Target::At(dispatch_len + sections.len() + n);
        let max = |abi: Abi| {
            newest
                .iter()
                .find(|n| n.0 == *audit && n.1 == abi)
                .map(|n| n.2)
        };
        sections.push(Op::LoadNr);
        match (max(Abi::X32BitClear), max(Abi::X32BitSet), max(Abi::All)) {
            (Some(x64), Some(x32), _) => {
                let x32_check = here(&sections, 2);
                let x64_check = here(&sections, 1);
                sections.push(Op::IfBits(X32_SYSCALL_BIT, x32_check, x64_check));
                sections.push(Op::IfAbove(x64, Target::Enosys, Target::Filter));
                sections.push(Op::IfAbove(x32, Target::Enosys, Target::Filter));
            }
            (Some(x64), None, _) => {
                // x32 calls are the profile's to refuse (as a bad arch).
                let check = here(&sections, 1);
                sections.push(Op::IfBits(X32_SYSCALL_BIT, Target::Filter, check));
                sections.push(Op::IfAbove(x64, Target::Enosys, Target::Filter));
            }
            (None, Some(x32), _) => {
                let check = here(&sections, 1);
                sections.push(Op::IfBits(X32_SYSCALL_BIT, check, Target::Filter));
                sections.push(Op::IfAbove(x32, Target::Enosys, Target::Filter));
            }
            (None, None, Some(all)) => {
                sections.push(Op::IfAbove(all, Target::Enosys, Target::Filter));
            }
            (None, None, None) => sections.push(Op::Goto(Target::Filter)),
        }
    }
    let mut ops = vec![Op::LoadArch];
    ops.extend(audits.iter().zip(&starts).map(|(a, s)| Op::IfArch(*a, *s)));
    ops.push(Op::Goto(Target::Filter));
    ops.extend(sections);
    let enosys_at = ops.len();
    ops.push(Op::Enosys);
    let filter_at = ops.len();
    assemble(&ops, enosys_at, filter_at)
}

fn assemble(
    ops: &[Op],
    enosys_at: usize,
    filter_at: usize,
) -> std::result::Result<Vec<u8>, String> {
    const LD_W_ABS: u16 = 0x20;
    const JA: u16 = 0x05;
    const JEQ_K: u16 = 0x15;
    const JGT_K: u16 = 0x25;
    const JSET_K: u16 = 0x45;
    const RET_K: u16 = 0x06;
    const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
    let resolve = |t: Target| match t {
        Target::At(i) => i,
        Target::Enosys => enosys_at,
        Target::Filter => filter_at,
    };
    // Conditional jumps reach 255 instructions forward at most.
    let offset = |from: usize, to: usize| -> std::result::Result<u8, String> {
        to.checked_sub(from + 1)
            .and_then(|d| u8::try_from(d).ok())
            .ok_or_else(|| format!("ENOSYS stub: no jump from {from} to {to}"))
    };
    let mut out = Vec::with_capacity(ops.len() * INSN_SIZE);
    for (i, op) in ops.iter().enumerate() {
        let (code, jt, jf, k) = match *op {
            Op::LoadNr => (LD_W_ABS, 0, 0, 0),
            Op::LoadArch => (LD_W_ABS, 0, 0, 4),
            Op::IfArch(arch, to) => (JEQ_K, offset(i, to)?, 0, arch),
            Op::IfAbove(k, t, f) => (JGT_K, offset(i, resolve(t))?, offset(i, resolve(f))?, k),
            Op::IfBits(k, t, f) => (JSET_K, offset(i, resolve(t))?, offset(i, resolve(f))?, k),
            Op::Goto(t) => {
                let d = resolve(t)
                    .checked_sub(i + 1)
                    .ok_or_else(|| format!("ENOSYS stub: no jump back from {i}"))?;
                (JA, 0, 0, d as u32)
            }
            Op::Enosys => (RET_K, 0, 0, SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        };
        out.extend_from_slice(&code.to_ne_bytes());
        out.push(jt);
        out.push(jf);
        out.extend_from_slice(&k.to_ne_bytes());
    }
    Ok(out)
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
    let fd = nix::errno::Errno::result(r).sys("load seccomp filter", "")?;
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
    if n != payload.len() {
        return Err(Error::msg(format!(
            "{field}: send the notify fd to {}: short write ({n} of {} bytes)",
            l.path.display(),
            payload.len()
        )));
    }
    Ok(())
}

#[cfg(any(test, fuzzing))]
pub mod eval {
    use super::INSN_SIZE;

    /// A classic BPF interpreter for what seccomp programs use, run on a
    /// syscall with all arguments zero: what the kernel would decide. For the
    /// unit tests and the fuzzer, which check the ENOSYS prologue with it; it
    /// panics on anything out of line (a jump out of the program included).
    pub fn decide(bpf: &[u8], arch: u32, nr: u32) -> u32 {
        let insns: Vec<(u16, u8, u8, u32)> = bpf
            .chunks_exact(INSN_SIZE)
            .map(|c| {
                (
                    u16::from_ne_bytes([c[0], c[1]]),
                    c[2],
                    c[3],
                    u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
                )
            })
            .collect();
        let data = |off: u32| match off {
            0 => nr,
            4 => arch,
            _ => 0,
        };
        let (mut a, mut x, mut mem, mut pc) = (0u32, 0u32, [0u32; 16], 0usize);
        loop {
            let (code, jt, jf, k) = insns[pc];
            pc += 1;
            let jump = |cond: bool| if cond { jt as usize } else { jf as usize };
            match code {
                0x20 => a = data(k),
                0x00 => a = k,
                0x60 => a = mem[k as usize],
                0x61 => x = mem[k as usize],
                0x02 => mem[k as usize] = a,
                0x03 => mem[k as usize] = x,
                0x07 => x = a,
                0x87 => a = x,
                0x54 => a &= k,
                0x05 => pc += k as usize,
                0x15 => pc += jump(a == k),
                0x25 => pc += jump(a > k),
                0x35 => pc += jump(a >= k),
                0x45 => pc += jump(a & k != 0),
                0x06 => return k,
                other => panic!("opcode {other:#x} at {}", pc - 1),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    const X86_64: u32 = AUDIT_ARCH_X86_64;
    const I386: u32 = 0x4000_0003;
    const ALLOW: u32 = 0x7fff_0000;
    const fn errno(e: i32) -> u32 {
        0x0005_0000 | e as u32
    }

    #[test]
    fn syscalls_newer_than_the_profile_get_enosys() {
        let f = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
               "syscalls":[{"names":["read","write","getppid"],"action":"SCMP_ACT_ALLOW"},
                           {"names":["mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
                           {"names":["no_such_syscall_x"],"action":"SCMP_ACT_ALLOW"}]}"#,
        ))
        .unwrap();
        let run = |arch, nr| decide(&f.bpf, arch, nr);
        // x86_64: mkdirat (258) is the newest named.
        assert_eq!(run(X86_64, 0), ALLOW);
        assert_eq!(run(X86_64, 110), ALLOW);
        assert_eq!(run(X86_64, 83), errno(libc::EPERM), "mkdir, older");
        assert_eq!(run(X86_64, 258), errno(libc::EPERM), "mkdirat, named");
        assert_eq!(run(X86_64, 259), errno(libc::ENOSYS));
        assert_eq!(run(X86_64, 435), errno(libc::ENOSYS), "clone3");
        assert_eq!(run(X86_64, 437), errno(libc::ENOSYS), "openat2");
        assert_eq!(run(X86_64, 1000), errno(libc::ENOSYS));
        // x32 numbers carry X32_SYSCALL_BIT and are judged on their own.
        assert_eq!(run(X86_64, X32_SYSCALL_BIT), ALLOW);
        assert_eq!(run(X86_64, X32_SYSCALL_BIT | 83), errno(libc::EPERM));
        assert_eq!(run(X86_64, X32_SYSCALL_BIT | 435), errno(libc::ENOSYS));
        // i386: mkdirat is 296 there.
        assert_eq!(run(I386, 3), ALLOW);
        assert_eq!(run(I386, 39), errno(libc::EPERM), "mkdir");
        assert_eq!(run(I386, 296), errno(libc::EPERM));
        assert_eq!(run(I386, 435), errno(libc::ENOSYS));
        // An architecture the profile does not list is not ours to judge.
        assert_ne!(run(0xC000_00B7, 1000), errno(libc::ENOSYS));
    }

    #[test]
    fn a_named_new_syscall_keeps_its_action_and_raises_the_bar() {
        let f = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","exit_group"],"action":"SCMP_ACT_ALLOW"},
                {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
        ))
        .unwrap();
        // No architectures listed: the native one.
        let run = |nr| decide(&f.bpf, X86_64, nr);
        // Only x86 listed: native x86_64 is still in libseccomp's filter.
        let only_x86 = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],"syscalls":[{"names":["read","exit_group"],"action":"SCMP_ACT_ALLOW"}]}"#,
        ))
        .unwrap();
        assert_eq!(decide(&only_x86.bpf, X86_64, 0), ALLOW);
        assert_eq!(decide(&only_x86.bpf, X86_64, 100), errno(libc::EPERM));
        assert_eq!(decide(&only_x86.bpf, X86_64, 435), errno(libc::ENOSYS));
        assert_eq!(decide(&only_x86.bpf, I386, 435), errno(libc::ENOSYS));
        assert_eq!(run(0), ALLOW);
        assert_eq!(run(435), errno(libc::EACCES), "clone3 as named");
        assert_eq!(run(434), errno(libc::EPERM), "older, not named");
        assert_eq!(run(436), errno(libc::ENOSYS), "close_range is newer");
        // x32 is not in the profile: libseccomp's bad-arch action, not ENOSYS.
        assert_ne!(run(X32_SYSCALL_BIT | 500), errno(libc::ENOSYS));
    }

    #[test]
    fn permissive_or_enosys_defaults_get_no_stub() {
        for (default, nr, want) in [
            (r#""SCMP_ACT_ALLOW""#, 435, ALLOW),
            (r#""SCMP_ACT_LOG""#, 435, 0x7ffc_0000),
            (
                r#""SCMP_ACT_ERRNO","defaultErrnoRet":38"#,
                435,
                errno(libc::ENOSYS),
            ),
            (r#""SCMP_ACT_KILL_PROCESS""#, 435, errno(libc::ENOSYS)),
            (r#""SCMP_ACT_KILL_PROCESS""#, 20, 0x8000_0000),
        ] {
            let f = compile(&profile(&format!(
                r#"{{"defaultAction":{default},"syscalls":[{{"names":["getpid"],"action":"SCMP_ACT_ERRNO"}},{{"names":["read"],"action":"SCMP_ACT_ALLOW"}}]}}"#
            )))
            .unwrap();
            assert_eq!(decide(&f.bpf, X86_64, nr), want, "{default} nr {nr}");
            assert_eq!(decide(&f.bpf, X86_64, 0), ALLOW, "{default}");
        }
    }

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
}
