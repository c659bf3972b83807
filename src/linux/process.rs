//! The container process's own attributes: rlimits, user and groups,
//! capabilities, no_new_privs, oom score, personality, scheduling, I/O
//! priority, umask, and finding the program to exec.

use crate::error::{Error, Result, SysContext};
use crate::linux::procfs::Proc;
use crate::linux::sys;
use crate::spec::CapSets;
use caps::CapSet;
use nix::errno::Errno;
use nix::sys::resource::{Resource, setrlimit};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{
    IOPriorityClass, LinuxSchedulerFlag, LinuxSchedulerPolicy, PosixRlimit, PosixRlimitType,
    Process,
};

fn resource(t: PosixRlimitType) -> Resource {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => Resource::RLIMIT_CPU,
        RlimitFsize => Resource::RLIMIT_FSIZE,
        RlimitData => Resource::RLIMIT_DATA,
        RlimitStack => Resource::RLIMIT_STACK,
        RlimitCore => Resource::RLIMIT_CORE,
        RlimitRss => Resource::RLIMIT_RSS,
        RlimitNproc => Resource::RLIMIT_NPROC,
        RlimitNofile => Resource::RLIMIT_NOFILE,
        RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        RlimitAs => Resource::RLIMIT_AS,
        RlimitLocks => Resource::RLIMIT_LOCKS,
        RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        RlimitNice => Resource::RLIMIT_NICE,
        RlimitRtprio => Resource::RLIMIT_RTPRIO,
        RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

/// /proc/self/setgroups says "deny" (only in a user namespace).
fn setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny")
}

pub fn set_rlimits(p: &Process) -> Result<()> {
    for r in p.rlimits().iter().flatten() {
        setrlimit(resource(r.typ()), r.soft(), r.hard()).map_err(|e| rlimit_error(r, e))?;
    }
    Ok(())
}

/// setrlimit's refusal of `r`, and why. Raising a hard limit needs
/// CAP_SYS_RESOURCE in the host's user namespace, which a rootless
/// container never has (and which some hosts withhold even from root):
/// say so before the errno.
fn rlimit_error(r: &PosixRlimit, e: Errno) -> Error {
    let res = resource(r.typ());
    let what = format!("{} (soft {}, hard {})", r.typ(), r.soft(), r.hard());
    let err = Error::sys("setrlimit", what, e);
    if e == Errno::EPERM
        && let Ok((_, hard)) = nix::sys::resource::getrlimit(res)
        && r.hard() > hard
    {
        return err.context(format!(
            "process.rlimits: the hard limit cannot be raised above the current {hard} without CAP_SYS_RESOURCE"
        ));
    }
    err
}

/// The rlimits `set_rlimits` would be refused, found without setting
/// them (`berth check --bundle`): the container starts from this
/// process's limits. Raising a hard limit takes CAP_SYS_RESOURCE in the
/// host's user namespace, which an init in a user namespace of its own
/// never has; and no capability takes RLIMIT_NOFILE past fs.nr_open.
pub fn rlimits_refused(p: &Process, own_userns: bool) -> Vec<Error> {
    let can_raise = !own_userns
        && caps::has_cap(None, CapSet::Effective, caps::Capability::CAP_SYS_RESOURCE)
            .unwrap_or(false);
    let nr_open: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u64::MAX);
    p.rlimits()
        .iter()
        .flatten()
        .filter(|r| {
            let res = resource(r.typ());
            (res == Resource::RLIMIT_NOFILE && r.hard() > nr_open)
                || (!can_raise
                    && nix::sys::resource::getrlimit(res).is_ok_and(|(_, hard)| r.hard() > hard))
        })
        .map(|r| rlimit_error(r, Errno::EPERM))
        .collect()
}

/// process.oomScoreAdj for the process `pid` (in the pid namespace of
/// `proc`), written from outside it.
pub fn set_oom_score_adj(proc: &Proc, pid: i32, p: &Process) -> Result<()> {
    let Some(v) = p.oom_score_adj() else {
        return Ok(());
    };
    match proc.write(&format!("{pid}/oom_score_adj"), &v.to_string()) {
        Ok(()) => Ok(()),
        // Going below the floor a privileged process set (0 unless one
        // did) needs CAP_SYS_RESOURCE in the host's user namespace, which
        // a rootless container never has: raising is all it may do.
        Err(e) if e.errno() == Some(Errno::EACCES) => {
            Err(e.context(oom_lowering(v, &format!("/proc/{pid}/oom_score_adj"))))
        }
        Err(e) => Err(e.context("process.oomScoreAdj")),
    }
}

fn oom_lowering(v: i32, file: &str) -> String {
    format!(
        "process.oomScoreAdj: lowering the score to {v} (now {}) needs CAP_SYS_RESOURCE",
        std::fs::read_to_string(file)
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "the current value".into())
    )
}

/// Whether `set_oom_score_adj` would be refused (`berth check --bundle`).
/// The floor the kernel checks against is not shown anywhere: a child of
/// this process, which inherits it, tries the value on itself. The child
/// makes plain system calls only (the caller may have threads) and says
/// refused (1), written (0) or could not tell (2).
pub fn oom_score_refused(p: &Process) -> Option<Error> {
    let v = p.oom_score_adj()?;
    let value = v.to_string();
    // SAFETY: the child only opens, writes and _exits, none of which
    // allocates or takes a lock another thread may hold.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            // SAFETY: a NUL-terminated literal path and a live buffer.
            let code = unsafe {
                let fd = libc::open(c"/proc/self/oom_score_adj".as_ptr(), libc::O_WRONLY);
                if fd < 0 {
                    2
                } else if libc::write(fd, value.as_ptr().cast(), value.len()) >= 0 {
                    0
                } else if *libc::__errno_location() == libc::EACCES {
                    1
                } else {
                    2
                }
            };
            sys::exit_now(code)
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            let refused = matches!(
                nix::sys::wait::waitpid(child, None),
                Ok(nix::sys::wait::WaitStatus::Exited(_, 1))
            );
            refused.then(|| {
                Error::sys("write", "/proc/self/oom_score_adj", Errno::EACCES)
                    .context(oom_lowering(v, "/proc/self/oom_score_adj"))
            })
        }
        Err(e) => Some(Error::sys("fork", "oom_score_adj probe", e)),
    }
}

/// The capabilities the config asks for that cannot be given, in the
/// order capset would refuse them: beyond `have` (this process's
/// permitted set, which no capset can widen; None in a user namespace of
/// the container's own, which starts from a full set), an effective
/// capability that is not also permitted, an inheritable one outside the
/// bounding set.
pub fn caps_beyond(c: &CapSets, have: Option<&caps::CapsHashSet>) -> Option<Error> {
    let refuse = |name: &str, missing: Vec<caps::Capability>, why: &str| {
        let mut names: Vec<String> = missing.iter().map(|c| c.to_string()).collect();
        names.sort();
        (!names.is_empty()).then(|| {
            Error::config(
                format!("process.capabilities.{name}"),
                format!("cannot set {}: {why}", names.join(" ")),
            )
        })
    };
    if let Some(have) = have {
        for (name, set) in [
            ("effective", &c.effective),
            ("permitted", &c.permitted),
            ("inheritable", &c.inheritable),
        ] {
            let e = refuse(
                name,
                set.difference(have).copied().collect(),
                "not in berth's permitted set, which the host's bounding set limits (berth check lists what it lacks)",
            );
            if e.is_some() {
                return e;
            }
        }
    }
    refuse(
        "effective",
        c.effective.difference(&c.permitted).copied().collect(),
        "an effective capability must also be in process.capabilities.permitted",
    )
    .or_else(|| {
        refuse(
            "inheritable",
            c.inheritable.difference(&c.bounding).copied().collect(),
            "an inheritable capability must also be in process.capabilities.bounding",
        )
    })
}

/// linux.personality, for the init and every exec'd process: it is the
/// process's own, not a namespace's, so a process joining the container
/// would keep berth's (uname -m would say x86_64 under LINUX32).
pub fn set_personality(p: Option<&oci_spec::runtime::LinuxPersonality>) -> Result<()> {
    use oci_spec::runtime::LinuxPersonalityDomain;
    let Some(p) = p else {
        return Ok(());
    };
    let persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => nix::sys::personality::Persona::empty(),
        LinuxPersonalityDomain::PerLinux32 => {
            nix::sys::personality::Persona::from_bits_retain(0x0008)
        }
    };
    nix::sys::personality::set(persona).sys("personality", p.domain())?;
    Ok(())
}

pub fn set_io_priority(p: &Process) -> Result<()> {
    let Some(io) = p.io_priority() else {
        return Ok(());
    };
    let class = match io.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    sys::ioprio_set_self(class, io.priority() as i32).sys("ioprio_set", format!("{:?}", io.class()))
}

pub fn set_scheduler(p: &Process) -> Result<()> {
    let Some(s) = p.scheduler() else {
        return Ok(());
    };
    let policy = match s.policy() {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIso => 4,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    };
    let flags = s.flags().iter().flatten().fold(0u64, |f, fl| {
        f | match fl {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        }
    });
    let mut attr = sys::SchedAttr {
        policy,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        ..Default::default()
    };
    sys::sched_setattr_self(&mut attr).sys("sched_setattr", format!("{:?}", s.policy()))
}

/// Switch to the container user with capabilities as configured: drop
/// the bounding set while still root, keep permitted caps across the uid
/// change, then set effective, inheritable, permitted and ambient.
pub fn set_user_and_caps(p: &Process, c: &CapSets) -> Result<()> {
    for cap in caps::all() {
        if !c.bounding.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|e| Error::msg(format!("drop {cap} from the bounding set: {e}")))?;
        }
    }
    let user = p.user();
    nix::sys::prctl::set_keepcaps(true).sys("prctl", "PR_SET_KEEPCAPS")?;
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    match nix::unistd::setgroups(&groups) {
        Ok(()) => {}
        // A rootless container that maps only the caller's gid has
        // setgroups denied for good: it keeps the groups it was born with,
        // as with runc, and cannot be given others.
        Err(nix::errno::Errno::EPERM) if setgroups_denied() => {
            if !groups.is_empty() {
                return Err(Error::config(
                    "process.user.additionalGids",
                    "cannot be set: setgroups is denied in this user namespace (a rootless gid map of a single id; map a range from /etc/subgid instead)",
                ));
            }
        }
        Err(e) => {
            return Err(Error::sys(
                "setgroups",
                format!("{:?}", user.additional_gids().clone().unwrap_or_default()),
                e,
            ));
        }
    }
    let gid = Gid::from_raw(user.gid());
    nix::unistd::setresgid(gid, gid, gid).sys("setresgid", user.gid())?;
    let uid = Uid::from_raw(user.uid());
    nix::unistd::setresuid(uid, uid, uid).sys("setresuid", user.uid())?;
    nix::sys::prctl::set_keepcaps(false).sys("prctl", "PR_SET_KEEPCAPS")?;
    for (set, name, value) in [
        (CapSet::Effective, "effective", &c.effective),
        (CapSet::Inheritable, "inheritable", &c.inheritable),
        (CapSet::Permitted, "permitted", &c.permitted),
    ] {
        caps::set(None, set, value).map_err(|e| {
            // capset says only EPERM: say which capabilities and why, in
            // the words `berth check` uses. What we hold is read only now
            // (neither set above changed it), a syscall a start that
            // succeeds does not pay.
            caps::read(None, CapSet::Permitted)
                .ok()
                .and_then(|have| caps_beyond(c, Some(&have)))
                .unwrap_or_else(|| {
                    Error::config(
                        format!("process.capabilities.{name}"),
                        format!("cannot set: {e}"),
                    )
                })
        })?;
    }
    // The kernel only lets a capability be ambient if it is permitted and
    // inheritable; like runc, others in the ambient list are skipped.
    caps::clear(None, CapSet::Ambient)
        .map_err(|e| Error::msg(format!("clear ambient capabilities: {e}")))?;
    for cap in c
        .ambient
        .iter()
        .filter(|cap| c.permitted.contains(cap) && c.inheritable.contains(cap))
    {
        caps::raise(None, CapSet::Ambient, *cap).map_err(|e| {
            Error::config(
                "process.capabilities.ambient",
                format!("cannot raise {cap}: {e}"),
            )
        })?;
    }
    if p.no_new_privileges().unwrap_or(false) {
        nix::sys::prctl::set_no_new_privs().sys("prctl", "PR_SET_NO_NEW_PRIVS")?;
    }
    Ok(())
}

/// chdir to process.cwd and make sure it is inside the root: a cwd that
/// resolves outside (a leaked fd, a crafted path) shows up as
/// "(unreachable)" (CVE-2024-21626). Also sets the umask.
pub fn enter_cwd(p: &Process) -> Result<()> {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        p.user().umask().unwrap_or(0o022),
    ));
    let cwd = p.cwd().to_string_lossy().into_owned();
    nix::unistd::chdir(cwd.as_str()).sys("chdir to process.cwd", &cwd)?;
    let here = nix::unistd::getcwd().sys("getcwd", &cwd)?;
    if !here.is_absolute() || here.to_string_lossy().starts_with("(unreachable)") {
        return Err(Error::config(
            "process.cwd",
            format!("{cwd} is outside the container"),
        ));
    }
    Ok(())
}

/// The kernel's list format, "0-3,7", as ranges of `unit`s (a CPU, a
/// node); `field` names it in errors.
pub fn id_list(s: &str, field: &str, unit: &str) -> Result<Vec<std::ops::RangeInclusive<usize>>> {
    s.split(',')
        .map(str::trim)
        .map(|part| {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let num = |x: &str| {
                x.trim().parse::<usize>().map_err(|_| {
                    Error::config(field, format!("{part:?} is not a {unit} or a range"))
                })
            };
            let (a, b) = (num(a)?, num(b)?);
            if a > b {
                return Err(Error::config(
                    field,
                    format!("{part:?}: the range is backwards"),
                ));
            }
            Ok(a..=b)
        })
        .collect()
}

/// "0-3,7" (process.execCPUAffinity) to a CPU set; `field` names it in
/// errors.
pub fn cpu_list(s: &str, field: &str) -> Result<nix::sched::CpuSet> {
    let mut set = nix::sched::CpuSet::new();
    for cpu in id_list(s, field, "CPU")?.into_iter().flatten() {
        set.set(cpu).map_err(|_| {
            Error::config(
                field,
                format!("CPU {cpu} is beyond {}", nix::sched::CpuSet::count() - 1),
            )
        })?;
    }
    Ok(set)
}

/// The CPUs this process may run on, as a list ("0-1,3").
pub fn affinity_text() -> String {
    let Ok(set) = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) else {
        return "?".into();
    };
    let cpus: Vec<usize> = (0..nix::sched::CpuSet::count())
        .filter(|c| set.is_set(*c).unwrap_or(false))
        .collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    out.join(",")
}

/// sched_setaffinity for this process from a CPU list.
pub fn set_affinity(list: &str, field: &str) -> Result<()> {
    let set = cpu_list(list, field)?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .sys("sched_setaffinity", format!("{field} {list:?}"))
        .map_err(|e| {
            if e.errno() == Some(nix::errno::Errno::EINVAL) {
                e.context("(none of these CPUs is online and allowed here)")
            } else {
                e
            }
        })
}

/// The container's session keyring, `_ses.<id>`: made by the init, joined
/// by name by exec'd processes (as runc does), so that no process of the
/// container shares its caller's keys. Kernels without keyrings are fine.
pub fn join_session_keyring(id: &str) -> Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let name = std::ffi::CString::new(format!("_ses.{id}")).unwrap_or_default();
    // SAFETY: keyctl with a valid NUL-terminated name.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    let serial = match nix::errno::Errno::result(r) {
        Ok(s) => s,
        Err(nix::errno::Errno::ENOSYS) => return Ok(()),
        Err(e) => {
            return Err(Error::sys(
                "join session keyring",
                name.to_string_lossy(),
                e,
            ));
        }
    };
    // A new keyring lets only its possessors search it, and a keyring is
    // found by name only if it can be searched: the user (the container's
    // uid) gets search too, so exec'd processes find this one.
    let perm = keyring_perm(serial)?;
    if perm & KEY_USR_SEARCH == 0 {
        const KEYCTL_SETPERM: libc::c_long = 5;
        // SAFETY: keyctl with integer arguments only.
        let r = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_SETPERM,
                serial,
                perm | KEY_USR_SEARCH,
            )
        };
        nix::errno::Errno::result(r).sys(
            "make the session keyring searchable",
            name.to_string_lossy(),
        )?;
    }
    Ok(())
}

const KEY_USR_SEARCH: libc::c_long = 0x0008_0000;

/// A key's permission mask: KEYCTL_DESCRIBE gives "type;uid;gid;perm;desc"
/// with perm in hex.
fn keyring_perm(serial: libc::c_long) -> Result<libc::c_long> {
    const KEYCTL_DESCRIBE: libc::c_long = 6;
    let mut buf = [0u8; 512];
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_DESCRIBE,
            serial,
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    let n = nix::errno::Errno::result(r).sys("describe the session keyring", "")? as usize;
    let text = String::from_utf8_lossy(&buf[..n.min(buf.len())]);
    text.split(';')
        .nth(3)
        .and_then(|p| libc::c_long::from_str_radix(p, 16).ok())
        .ok_or_else(|| {
            Error::msg(format!(
                "session keyring: cannot read its permissions from {text:?}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The capabilities capset would refuse, in its order: beyond what
    /// this process has, effective but not permitted, inheritable but
    /// not bounding; none in a user namespace of its own beyond the
    /// config's own rules.
    #[test]
    fn capabilities_beyond_reach_are_named() {
        use caps::Capability::{CAP_KILL, CAP_SYS_ADMIN, CAP_SYS_RESOURCE};
        let set = |c: &[caps::Capability]| c.iter().copied().collect::<caps::CapsHashSet>();
        let c = CapSets {
            bounding: set(&[CAP_KILL, CAP_SYS_RESOURCE]),
            effective: set(&[CAP_KILL, CAP_SYS_RESOURCE]),
            permitted: set(&[CAP_KILL, CAP_SYS_RESOURCE]),
            inheritable: set(&[]),
            ambient: set(&[]),
        };
        let have = set(&[CAP_KILL, CAP_SYS_ADMIN]);
        let e = caps_beyond(&c, Some(&have)).unwrap().to_string();
        assert!(
            e.contains("process.capabilities.effective") && e.contains("CAP_SYS_RESOURCE"),
            "{e}"
        );
        assert!(caps_beyond(&c, None).is_none());
        let c2 = CapSets {
            permitted: set(&[CAP_KILL]),
            ..c.clone()
        };
        let e = caps_beyond(&c2, None).unwrap().to_string();
        assert!(
            e.contains("must also be in process.capabilities.permitted"),
            "{e}"
        );
        let c3 = CapSets {
            inheritable: set(&[CAP_SYS_ADMIN]),
            ..c.clone()
        };
        let e = caps_beyond(&c3, None).unwrap().to_string();
        assert!(
            e.contains("process.capabilities.inheritable") && e.contains("CAP_SYS_ADMIN"),
            "{e}"
        );
    }

    #[test]
    fn cpu_lists_parse_and_print() {
        let set = cpu_list("0-2,5", "f").unwrap();
        for c in [0, 1, 2, 5] {
            assert!(set.is_set(c).unwrap());
        }
        assert!(!set.is_set(3).unwrap());
        let e = cpu_list("3-1", "f").unwrap_err().to_string();
        assert!(e.contains("backwards"), "{e}");
        let e = cpu_list("99999", "f").unwrap_err().to_string();
        assert!(e.contains("beyond"), "{e}");
        assert!(!affinity_text().is_empty());
    }
}
