//! `exec`: a new process inside a running container.
//!
//! ```text
//!  berth exec (parent)                    stage-1 (child)                 process (grandchild)
//!  load state, build the process
//!  (execCPUAffinity.initial: on those
//!   CPUs for the clone, then back)
//!  clone3(INTO_CGROUP v2) ──────────────▶ non-dumpable, join v1 cgroups
//!                                          setns(pidfd of the init, every
//!                                          namespace that differs from ours)
//!                                          clone3(CLONE_PARENT) ─────────▶ rlimits, cwd (checked inside
//!  ◀──────────────── InitPid(pid) ──────── exit                            the root), user + caps,
//!  wait for EOF on the socket: the                                         execCPUAffinity.final,
//!  exec closed it (or an Error came)                                       no_new_privs, close fds,
//!                                     ◀──────────────────────────────────  execve
//!  foreground: forward signals, wait, exit with its status
//! ```
//! The grandchild is a child of berth (CLONE_PARENT), so berth can wait for
//! it and engines, as subreapers, inherit it on --detach.

use super::protocol::{self, Channel, Msg};
use crate::cgroups::Cgroup;
use crate::error::{Error, Result, SysContext};
use crate::linux::{process, program, sys};
use crate::spec::CapSets;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
use oci_spec::runtime::Process;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

pub struct ExecPlan<'a> {
    pub process: &'a Process,
    /// The host's procfs, opened before any namespace is joined, for the
    /// AppArmor profile (only when there is one).
    pub proc: Option<crate::linux::procfs::Proc>,
    pub caps: CapSets,
    pub init_pid: i32,
    pub init_pidfd: &'a OwnedFd,
    pub cgroup: &'a Cgroup,
    pub preserve_fds: u32,
    /// The connected console socket for a terminal.
    pub console: Option<&'a OwnedFd>,
    pub seccomp: Option<crate::linux::seccomp::Filter>,
    /// The container's linux.memoryPolicy: exec'd processes get it too.
    pub mempolicy: Option<crate::linux::numa::Policy>,
    /// The container's linux.personality: exec'd processes get it too.
    pub personality: Option<&'a oci_spec::runtime::LinuxPersonality>,
    /// `--ignore-paused` on a paused container: the cgroup files to join
    /// through once set up. Joining earlier would freeze the process
    /// before it could say it is ready.
    pub join_late: Option<Vec<std::fs::File>>,
    /// The container's state, for a seccomp listener.
    pub state: serde_json::Value,
    /// The session keyring to join (the container's id), unless the
    /// container was created with --no-new-keyring.
    pub keyring: Option<&'a str>,
    /// The container has no mount namespace of its own (Saved's).
    pub shares_mount_ns: bool,
}

/// Namespaces of the init that differ from ours: the ones to join.
fn namespaces_to_join(init: i32) -> CloneFlags {
    let kinds = [
        ("user", CloneFlags::CLONE_NEWUSER),
        ("mnt", CloneFlags::CLONE_NEWNS),
        ("pid", CloneFlags::CLONE_NEWPID),
        ("net", CloneFlags::CLONE_NEWNET),
        ("ipc", CloneFlags::CLONE_NEWIPC),
        ("uts", CloneFlags::CLONE_NEWUTS),
        ("cgroup", CloneFlags::CLONE_NEWCGROUP),
        ("time", CloneFlags::from_bits_retain(0x80)),
    ];
    let mut flags = CloneFlags::empty();
    for (k, f) in kinds {
        let theirs = std::fs::read_link(format!("/proc/{init}/ns/{k}")).ok();
        let ours = std::fs::read_link(format!("/proc/self/ns/{k}")).ok();
        if theirs.is_some() && theirs != ours {
            flags |= f;
        }
    }
    flags
}

/// Start the process; returns its pid (in berth's pid namespace) once it
/// has exec'd.
pub fn spawn(plan: &ExecPlan) -> Result<i32> {
    // stage-1 and the process inherit it from birth (see create).
    super::non_dumpable()?;
    let join = namespaces_to_join(plan.init_pid);
    // Opened before any namespace is joined: joining the init's mount
    // namespace (berth's, or the one exec runs in differs) would root us
    // at that namespace's root, the host's.
    // (A container that shares our namespace though its state does not
    // say so, from an older berth: the same.)
    let root = if plan.shares_mount_ns || !join.contains(CloneFlags::CLONE_NEWNS) {
        Some(init_root(plan)?)
    } else {
        None
    };
    let v2 = match plan.join_late {
        None => plan.cgroup.open_v2_dir()?,
        Some(_) => None,
    };
    let (parent_ch, child_ch) = protocol::pair()?;
    // execCPUAffinity.initial: stage-1 starts on those CPUs, before any
    // cgroup of the container holds it (clone3 into the v2 cgroup, the v1
    // joins); berth itself goes back to its own CPUs right after.
    let affinity = plan.process.exec_cpu_affinity().as_ref();
    let initial = affinity.and_then(|a| a.initial().as_deref());
    if let Some(list) = affinity.and_then(|a| a.cpu_affinity_final().as_deref()) {
        // Checked here, where a mistake costs nothing.
        process::cpu_list(list, "process.execCPUAffinity.final")?;
    }
    let ours = match initial {
        Some(list) => {
            let old = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
                .sys("sched_getaffinity", "berth")?;
            process::set_affinity(list, "process.execCPUAffinity.initial")?;
            Some(old)
        }
        None => None,
    };
    let forked = sys::clone3(0, v2.as_ref().map(|f| f.as_raw_fd()));
    if let (Some(old), Ok(sys::Forked::Parent { .. }) | Err(_)) = (&ours, &forked) {
        nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), old)
            .sys("sched_setaffinity", "restore berth's CPUs")?;
    }
    let stage1 = match forked.sys("clone3", "exec stage-1")? {
        sys::Forked::Child => {
            let r = stage1(plan, join, root.as_ref(), &child_ch);
            if let Err(e) = r {
                let _ = child_ch.send(&Msg::Error(e.to_string()));
            }
            sys::exit_now(0)
        }
        sys::Forked::Parent { pid, .. } => pid,
    };
    drop(child_ch);
    // Stage-1 sends the pid; the process itself may speak first (its
    // seccomp notify fd, Joining, an error). Done at EOF (the process
    // exec'd: its end is close-on-exec), at Joining, or at an error.
    let mut pid = None;
    let mut notify_fd = None;
    let mut outcome = None;
    while pid.is_none() || outcome.is_none() {
        match parent_ch.recv_with_fd() {
            Ok(Some((Msg::InitPid(p), _))) => pid = Some(p),
            Ok(Some((Msg::SeccompListener, Some(fd)))) => notify_fd = Some(fd),
            Ok(Some((Msg::Joining, _))) => outcome = Some(Ok(())),
            Ok(Some((Msg::Error(m), _))) => outcome = Some(Err(Error::msg(m))),
            Ok(Some((other, _))) => {
                outcome = Some(Err(Error::msg(format!("exec: unexpected {other:?}"))));
            }
            Ok(None) => {
                outcome.get_or_insert(Ok(()));
                break;
            }
            Err(e) => {
                outcome = Some(Err(e));
                break;
            }
        }
        if let (Some(p), Some(fd)) = (pid, notify_fd.take()) {
            let sent = match plan.seccomp.as_ref().and_then(|f| f.listener.as_ref()) {
                Some(l) => crate::linux::seccomp::send_to_listener(l, fd.as_fd(), p, &plan.state),
                None => Err(Error::msg("exec: a seccomp notify fd nobody asked for")),
            };
            if let Err(e) = sent {
                // Its notified syscalls would wait for an answer forever.
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p),
                    nix::sys::signal::Signal::SIGKILL,
                );
                outcome = Some(Err(e));
                break;
            }
        }
    }
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(stage1), None);
    match (outcome.expect("loop ends with one"), pid) {
        (Ok(()), Some(pid)) => Ok(pid),
        (Ok(()), None) => Err(Error::msg(
            "exec: stage-1 exited without starting the process",
        )),
        (Err(e), pid) => {
            if let Some(p) = pid {
                let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(p), None);
            }
            Err(e)
        }
    }
}

/// The init's root, for a container without a mount namespace of its
/// own: it is a detached tree (rootfs::enter_detached), which no
/// namespace's root leads to. Whatever the init chroots into later is
/// inside that tree: nothing outside it is reachable from there.
fn init_root(plan: &ExecPlan) -> Result<OwnedFd> {
    let path = format!("/proc/{}/root", plan.init_pid);
    let root = nix::fcntl::open(
        path.as_str(),
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .sys("open", &path)?;
    // Still the init once the root is open: the pid was not reused.
    sys::pidfd_send_signal(plan.init_pidfd.as_fd(), 0)
        .sys("find the container's init", plan.init_pid)?;
    Ok(root)
}

fn stage1(plan: &ExecPlan, join: CloneFlags, root: Option<&OwnedFd>, ch: &Channel) -> Result<()> {
    let _ = nix::sys::prctl::set_name(c"berth:exec");
    crate::logging::debug_with(|| {
        format!("exec: stage-1 starts on CPUs {}", process::affinity_text())
    });
    // From here until exec, /proc/<pid>/exe is the host's berth binary and
    // we are visible inside the container: keep it unreachable.
    nix::sys::prctl::set_dumpable(false).sys("prctl", "PR_SET_DUMPABLE")?;
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .sys("prctl", "PR_SET_PDEATHSIG")?;
    if plan.join_late.is_none() {
        plan.cgroup.join_v1_self()?;
    }
    // setns with no flags would mean "all of them": skip it when we share
    // every namespace already.
    if !join.is_empty() {
        nix::sched::setns(plan.init_pidfd.as_fd(), join).sys(
            "join the container's namespaces",
            format!("(pid {})", plan.init_pid),
        )?;
    }
    if let Some(root) = root {
        nix::unistd::fchdir(root).sys("fchdir", "the container's root")?;
        nix::unistd::chroot(".").sys("chroot", "the container's root")?;
    }
    match sys::clone3(sys::CLONE_PARENT, None).sys("clone3", "exec process")? {
        sys::Forked::Child => {
            let e = match run_process(plan, ch) {
                Err(e) => e,
                Ok(never) => match never {},
            };
            // A seccomp profile may refuse the send: then stderr, which
            // is the process's own.
            if ch.send(&Msg::Error(e.to_string())).is_err() {
                crate::logging::error(&e.to_string());
            }
            sys::exit_now(127)
        }
        sys::Forked::Parent { pid, .. } => ch.send(&Msg::InitPid(pid)),
    }
}

fn run_process(plan: &ExecPlan, ch: &Channel) -> Result<std::convert::Infallible> {
    let p = plan.process;
    if let Some(id) = plan.keyring {
        if let Some(proc) = &plan.proc {
            crate::linux::selinux::set_key_label(proc, p.selinux_label().as_deref())?;
        }
        process::join_session_keyring(id)?;
    }
    process::set_rlimits(p)?;
    process::enter_cwd(p)?;
    if let Some(sock) = plan.console {
        // We are in the container's mount namespace: its own devpts.
        let size = p.console_size().map(|s| (s.height(), s.width()));
        let pty = crate::console::setup(None, "/dev/pts/ptmx", sock, size)?;
        crate::console::give_slave_to(pty.slave.as_fd(), p.user().uid())?;
        crate::console::make_controlling(pty.slave.as_fd())?;
    } else {
        // A session of its own, as the init's and as runc's exec: in the
        // caller's, its process group would be one the container cannot
        // see (getpgrp() says 0 there).
        nix::unistd::setsid().sys("setsid", "exec process")?;
    }
    let env = program::environment(p, &[])?;
    let args = p.args().clone().unwrap_or_default();
    let program = program::find_program(&args[0], &env)?;
    if let Some(files) = &plan.join_late {
        // Everything that can fail is behind us: berth may return, and we
        // freeze on the way out of the write until the container resumes.
        ch.send(&Msg::Joining)?;
        for mut f in files {
            use std::io::Write;
            f.write_all(b"0")
                .sys("join the paused container's cgroup", "")?;
        }
    }
    // execCPUAffinity.final: once in every cgroup of the container (a v1
    // cpuset join resets the affinity to the cpuset's CPUs), and before
    // a seccomp profile could refuse the call.
    if let Some(list) = p
        .exec_cpu_affinity()
        .as_ref()
        .and_then(|a| a.cpu_affinity_final().as_deref())
    {
        process::set_affinity(list, "process.execCPUAffinity.final")?;
    }
    if let Some(m) = &plan.mempolicy {
        crate::linux::numa::apply(m)?;
    }
    process::set_personality(plan.personality)?;
    // As runc's exec: the process file's I/O priority and scheduler.
    process::set_io_priority(p)?;
    process::set_scheduler(p)?;
    let nnp = p.no_new_privileges().unwrap_or(false);
    if let Some(f) = &plan.seccomp
        && !nnp
    {
        super::init::load_seccomp(f, ch)?;
    }
    if let Some(proc) = &plan.proc {
        crate::linux::apparmor::apply_on_exec(proc, p.apparmor_profile().as_deref())?;
        crate::linux::selinux::apply_on_exec(proc, p.selinux_label().as_deref())?;
    }
    process::set_user_and_caps(p, &plan.caps)?;
    // The notify fd leaves through `ch`, which the fd cleanup below closes.
    if let Some(f) = &plan.seccomp
        && nnp
        && f.listener.is_some()
    {
        super::init::load_seccomp(f, ch)?;
    }
    sys::keep_across_exec(plan.preserve_fds as i32).sys("keep preserved fds", plan.preserve_fds)?;
    sys::cloexec_from(3 + plan.preserve_fds).sys("close_range", "fds above stdio")?;
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .sys("sigprocmask", "unblock")?;
    // All but our end of the channel, close-on-exec: should the execve
    // fail, the reason reaches `berth exec` (its stderr and log) through it.
    sys::close_from_sparing(3 + plan.preserve_fds, &[ch.0.as_raw_fd()]);
    sys::default_signals();
    if let Some(f) = &plan.seccomp
        && nnp
        && f.listener.is_none()
    {
        crate::linux::seccomp::load(f)?;
    }
    Err(program::exec(&program, &args, &env))
}
