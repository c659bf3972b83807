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
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

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
    let have = caps::read(None, CapSet::Permitted)
        .map_err(|e| Error::msg(format!("read permitted capabilities: {e}")))?;
    if let Some(e) = caps_beyond(c, Some(&have)) {
        return Err(e);
    }
    for (set, name, value) in [
        (CapSet::Effective, "effective", &c.effective),
        (CapSet::Inheritable, "inheritable", &c.inheritable),
        (CapSet::Permitted, "permitted", &c.permitted),
    ] {
        caps::set(None, set, value).map_err(|e| {
            Error::config(
                format!("process.capabilities.{name}"),
                format!("cannot set: {e}"),
            )
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

/// Every descendant of `pid` with its parent, each listed after its
/// parent, from the kernel's per-thread children lists; falls back to a
/// scan of /proc's parent pids where the kernel lacks those lists.
pub fn descendants(pid: i32) -> Vec<(i32, i32)> {
    static LISTS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let lists = *LISTS.get_or_init(|| {
        let me = std::process::id();
        Path::new(&format!("/proc/{me}/task/{me}/children")).exists()
    });
    let children = |p: i32| -> Vec<i32> {
        if !lists {
            return children_by_scan(p);
        }
        // A thread that ends meanwhile has no list: its children are
        // listed under the others (they belong to the process).
        std::fs::read_dir(format!("/proc/{p}/task"))
            .map(|tasks| {
                tasks
                    .flatten()
                    .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
                    .flat_map(|text| {
                        text.split_whitespace()
                            .filter_map(|c| c.parse::<i32>().ok())
                            .collect::<Vec<_>>()
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut all: Vec<(i32, i32)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut next = vec![pid];
    while let Some(p) = next.pop() {
        for c in children(p) {
            if all.len() < 65_536 && seen.insert(c) {
                all.push((c, p));
                next.push(c);
            }
        }
    }
    all
}

/// Signal `pid` only while it is still the child of `parent`: through a
/// pidfd opened first, so that a pid freed and reused meanwhile by some
/// other process is never hit.
pub fn signal_child(pid: i32, parent: i32, sig: i32) {
    let Ok(fd) = sys::pidfd_open(pid) else {
        return;
    };
    if parent_of(pid) == Some(parent) {
        let _ = sys::pidfd_send_signal(std::os::fd::AsFd::as_fd(&fd), sig);
    }
}

/// The parent pid of `pid` (/proc/PID/stat field 4).
pub fn parent_of(pid: i32) -> Option<i32> {
    let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    st[st.rfind(')')? + 2..].split(' ').nth(1)?.parse().ok()
}

fn children_by_scan(parent: i32) -> Vec<i32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| parent_of(*p) == Some(parent))
        .collect()
}

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The container's environment: process.env, plus HOME from the
/// container's /etc/passwd when missing, as runc does.
pub fn environment(p: &Process, extra: &[String]) -> Result<Vec<String>> {
    let mut env: Vec<String> = p.env().clone().unwrap_or_default();
    env.extend(extra.iter().cloned());
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        let passwd = read_image_file("/etc/passwd")
            .map_err(|e| e.context("process.env: HOME from the container's passwd file"))?;
        let uid = p.user().uid().to_string();
        let home = passwd
            .as_deref()
            .and_then(|t| {
                t.lines().find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() > 5 && f[2] == uid).then(|| f[5].to_string())
                })
            })
            .unwrap_or_else(|| "/".into());
        env.push(format!("HOME={home}"));
    }
    Ok(env)
}

/// The most berth reads of a file of the container's image: the image is
/// the container's to write, and a link to /dev/zero or a file of 10 GB
/// must not grow berth until the OOM killer takes it.
pub const IMAGE_FILE_LIMIT: u64 = 4 << 20;

/// A file of the container's image, read from inside it (after
/// pivot_root, or in its mount namespace: links resolve within its root).
/// Only a regular file, opened with O_NONBLOCK so a fifo cannot hold us,
/// and at most IMAGE_FILE_LIMIT bytes; Ok(None) when there is none.
pub fn read_image_file(path: &str) -> Result<Option<String>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).sys("open", path),
    };
    let meta = f.metadata().sys("stat", path)?;
    if !meta.is_file() {
        return Err(Error::msg(format!(
            "{path}: not a regular file ({})",
            file_kind(&meta)
        )));
    }
    let mut buf = Vec::new();
    f.take(IMAGE_FILE_LIMIT + 1)
        .read_to_end(&mut buf)
        .sys("read", path)?;
    if buf.len() as u64 > IMAGE_FILE_LIMIT {
        return Err(Error::msg(format!(
            "{path}: larger than berth reads ({} MiB)",
            IMAGE_FILE_LIMIT >> 20
        )));
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

fn file_kind(m: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a fifo"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

/// Find the program as exec would, with the container's PATH, and word a
/// failure the way engines map to exit codes 127 and 126.
pub fn find_program(arg0: &str, env: &[String]) -> Result<PathBuf> {
    let check = |p: &Path| -> std::result::Result<(), nix::errno::Errno> {
        let meta = std::fs::metadata(p)
            .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOENT)))?;
        if meta.is_dir() {
            return Err(nix::errno::Errno::EACCES);
        }
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(nix::errno::Errno::EACCES);
        }
        nix::unistd::access(p, nix::unistd::AccessFlags::X_OK)
    };
    if arg0.contains('/') {
        let p = PathBuf::from(arg0);
        return match check(&p) {
            Ok(()) => Ok(p),
            Err(e) => Err(Error::msg(format!(
                "exec: {arg0:?}: stat {arg0}: {}",
                crate::error::errno_text(e)
            ))),
        };
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    let mut denied = false;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(arg0);
        match check(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(nix::errno::Errno::EACCES) => denied = true,
            Err(_) => {}
        }
    }
    if denied {
        Err(Error::msg(format!("exec: {arg0:?}: permission denied")))
    } else {
        Err(Error::msg(format!(
            "exec: {arg0:?}: executable file not found in $PATH"
        )))
    }
}

/// Replace this process with the container's program.
pub fn exec(program: &Path, args: &[String], env: &[String]) -> Error {
    let c = |s: &str| CString::new(s).unwrap_or_default();
    let prog = CString::new(program.as_os_str().as_encoded_bytes()).unwrap_or_default();
    let argv: Vec<CString> = args.iter().map(|a| c(a)).collect();
    let envp: Vec<CString> = env.iter().map(|e| c(e)).collect();
    match nix::unistd::execve(&prog, &argv, &envp) {
        Err(e) => Error::sys("exec", program.display(), e),
        Ok(never) => match never {},
    }
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
    fn descendants_are_found_to_the_grandchildren() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 100 & sleep 100 & wait"])
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        // Waited for by the shell's own children: other tests running
        // in this process have children of their own meanwhile.
        let mut below = Vec::new();
        for _ in 0..400 {
            below = descendants(pid);
            if below.len() >= 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let found = descendants(std::process::id() as i32);
        assert!(
            found.contains(&(pid, std::process::id() as i32)),
            "{found:?}"
        );
        assert!(
            below.iter().all(|b| found.contains(b)),
            "the grandchildren are descendants of the test: {found:?}"
        );
        assert_eq!(below.len(), 2, "{below:?}");
        assert!(below.iter().all(|(_, parent)| *parent == pid));
        assert_eq!(children_by_scan(pid).len(), 2);
        // A wrong parent: not signalled.
        signal_child(below[0].0, 1, libc::SIGKILL);
        assert_eq!(parent_of(below[0].0), Some(pid));
        for (p, parent) in below {
            signal_child(p, parent, libc::SIGKILL);
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn image_files_are_regular_bounded_and_never_block() {
        let dir = crate::tempdir::TempDir::new();
        let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
        std::fs::write(p("passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        assert!(
            read_image_file(&p("passwd"))
                .unwrap()
                .unwrap()
                .contains("/root")
        );
        assert!(read_image_file(&p("none")).unwrap().is_none());
        let e = read_image_file("/dev/zero").unwrap_err().to_string();
        assert!(
            e.contains("/dev/zero") && e.contains("character device"),
            "{e}"
        );
        // A fifo nobody writes would block a plain open forever.
        nix::unistd::mkfifo(
            p("fifo").as_str(),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        let e = read_image_file(&p("fifo")).unwrap_err().to_string();
        assert!(e.contains("fifo") && e.contains(&p("fifo")), "{e}");
        let f = std::fs::File::create(p("big")).unwrap();
        f.set_len(IMAGE_FILE_LIMIT + 1).unwrap();
        let e = read_image_file(&p("big")).unwrap_err().to_string();
        assert!(e.contains("larger than") && e.contains(&p("big")), "{e}");
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

    #[test]
    fn program_lookup_words_errors_like_runc() {
        let env = vec!["PATH=/nonexistent:/bin".to_string()];
        assert_eq!(find_program("sh", &env).unwrap(), PathBuf::from("/bin/sh"));
        let e = find_program("no-such-program-x", &env)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "exec: \"no-such-program-x\": executable file not found in $PATH"
        );
        let e = find_program("/no/such", &env).unwrap_err().to_string();
        assert!(e.ends_with("no such file or directory"), "{e}");
        let e = find_program("/etc/passwd", &env).unwrap_err().to_string();
        assert!(e.ends_with("permission denied"), "{e}");
    }
}
