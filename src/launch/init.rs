//! The container's init, from clone3 to execve, top to bottom. It runs
//! in the child and never returns: it either execs the container's
//! program or reports the failed step to the parent and exits.

use super::InitContext;
use super::protocol::Msg;
use crate::error::{Error, Result, SysContext};
use crate::hooks;
use crate::linux::{
    mounts, namespaces, numa, process, program, rootfs, seccomp, selinux, sys, userns,
};
use crate::spec;
use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
use oci_spec::runtime::LinuxNamespaceType;
use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

pub fn run(ctx: &InitContext) -> ! {
    match setup_and_exec(ctx) {
        Ok(never) => match never {},
        Err(e) => {
            // Before start, the parent reads this and fails create. After
            // start nobody does (berth's end is closed here: the send
            // fails), so the error also goes to the
            // state dir's start-error, which `start` reports; a failed
            // create removes that file with the state dir.
            if ctx.chan.send(&Msg::Error(e.to_string())).is_err() {
                crate::logging::error(&e.to_string());
            }
            let _ = nix::unistd::write(ctx.start_error, e.to_string().as_bytes());
            sys::exit_now(127)
        }
    }
}

fn setup_and_exec(ctx: &InitContext) -> Result<Infallible> {
    let b = ctx.bundle;
    let linux = b.spec.linux().as_ref();
    let _ = nix::sys::prctl::set_name(c"berth:init");
    // Until exec we are berth, holding host fds in the host's mount tree:
    // keep whatever can see us (a shared pid namespace, the host's) from
    // ptracing us or opening our /proc files. exec of the container's
    // program resets this. The exception is an unprivileged berth giving
    // us a new user namespace: the /proc files of a non-dumpable process
    // belong to the host's root, which that berth (or newuidmap) cannot
    // write, so we stay dumpable until our id maps are written. What can
    // then reach us is that user's own processes, which could anyway.
    let dumpable_for_maps = ctx.dumpable_for_maps;
    nix::sys::prctl::set_dumpable(dumpable_for_maps).sys("prctl", "PR_SET_DUMPABLE")?;
    // Die with berth while it sets us up; cleared once we are "created".
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .sys("prctl", "PR_SET_PDEATHSIG")?;

    // Cgroups first, while our credentials are still the host's.
    ctx.cgroup.join_v1_self()?;
    crate::logging::step("init: joined cgroups");

    // Go, after the sources of our binds if we have a user namespace
    // (bindsrc.rs): fds by mount index.
    let mut sources: Vec<Option<OwnedFd>> = Vec::new();
    let (state, placed) = loop {
        match ctx.chan.recv_with_fd()? {
            Some((Msg::MountSource(i), Some(fd))) if i < b.mounts.len() => {
                sources.resize_with(b.mounts.len(), || None);
                sources[i] = Some(fd);
            }
            Some((Msg::Go { state, cgroup, .. }, _)) => break (state, cgroup),
            None => sys::exit_now(1),
            Some((other, _)) => return Err(Error::msg(format!("expected Go, got {other:?}"))),
        }
    };
    let mut state: serde_json::Value = serde_json::from_str(&state).unwrap_or_default();
    // Hooks run from here are in the container namespace, where runtime.md
    // has the pid be the one the container sees.
    state["pid"] = nix::unistd::getpid().as_raw().into();
    if dumpable_for_maps {
        nix::sys::prctl::set_dumpable(false).sys("prctl", "PR_SET_DUMPABLE")?;
    }

    // Namespaces that need work after the clone.
    // Ours, joined, or berth's own (a rootless engine runs berth as root
    // of its user namespace): either way mknod is not allowed.
    let in_userns = b.namespaces.private(LinuxNamespaceType::User) || userns::in_user_namespace();
    if b.namespaces.creates(LinuxNamespaceType::User) {
        let root = nix::unistd::Uid::from_raw(0);
        let rootg = nix::unistd::Gid::from_raw(0);
        nix::unistd::setresgid(rootg, rootg, rootg).sys("setresgid", "0 in the user namespace")?;
        nix::unistd::setresuid(root, root, root).sys("setresuid", "0 in the user namespace")?;
    }
    if b.namespaces.creates(LinuxNamespaceType::Cgroup) {
        namespaces::new_cgroup_ns()?;
    }
    if b.namespaces.creates(LinuxNamespaceType::Time) {
        namespaces::unshare_time_ns()?;
        let offsets = linux.and_then(|l| l.time_offsets().as_ref());
        if let Some(o) = offsets
            && ctx.dumpable_for_maps
        {
            // An unprivileged berth cannot write our /proc files: we do,
            // dumpable for that moment. What could then reach us is that
            // user's own processes, which could anyway.
            nix::sys::prctl::set_dumpable(true).sys("prctl", "PR_SET_DUMPABLE")?;
            let r = ctx
                .proc
                .write("self/timens_offsets", &namespaces::time_offsets_text(o));
            nix::sys::prctl::set_dumpable(false).sys("prctl", "PR_SET_DUMPABLE")?;
            r?;
        } else if offsets.is_some() {
            // The parent writes them as the host's root: we stay
            // non-dumpable, out of reach of what shares our pid namespace.
            ctx.chan.send(&Msg::TimeNs)?;
            match ctx.chan.recv()? {
                Some(Msg::TimeNsDone) => {}
                None => sys::exit_now(1),
                Some(other) => {
                    return Err(Error::msg(format!("expected TimeNsDone, got {other:?}")));
                }
            }
        }
        namespaces::enter_time_ns()?;
    }
    if b.namespaces.creates(LinuxNamespaceType::Network) {
        crate::linux::netdev::loopback_up()?;
    }
    if let Some(h) = b.spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).sys("sethostname", h)?;
    }
    if let Some(d) = b.spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        sys::setdomainname(d).sys("setdomainname", d)?;
    }
    if !ctx.no_new_keyring {
        selinux::set_key_label(ctx.proc, b.process.selinux_label().as_deref())?;
        process::join_session_keyring(ctx.id)?;
    }

    // Without a mount namespace in the config, the tree is built apart.
    let berths_mounts = if b.namespaces.private(LinuxNamespaceType::Mount) {
        None
    } else {
        Some(rootfs::build_apart()?)
    };
    // The root filesystem, still reachable from the host's tree.
    let mut root = rootfs::prepare_root(b)?;
    // A systemd unit was made after our birth: the parent sent its dirs.
    let cgroup = placed.as_ref().unwrap_or(ctx.cgroup);
    // Per mount, what create prepared: an idmapped tree or a bind source.
    let prepared: Vec<Option<BorrowedFd>> = (0..b.mounts.len())
        .map(|i| {
            let idmapped = ctx.idmapped.get(i).and_then(Option::as_ref);
            let source = sources.get(i).and_then(Option::as_ref);
            idmapped.or(source).map(AsFd::as_fd)
        })
        .collect();
    let dev_ro = rootfs::mount_all(b, &mut root, &cgroup.mount_sources(), in_userns, &prepared)?;
    // The bind sources opened as the host's root go as soon as they are
    // bound.
    drop(prepared);
    drop(sources);
    crate::logging::step("init: mounted");
    let cwd = b.process.cwd().to_string_lossy().into_owned();
    mounts::resolve_create(root.as_fd(), &cwd, mounts::Want::Dir)
        .map_err(|e| e.context("process.cwd"))?;
    if let Some(sysctl) = linux.and_then(|l| l.sysctl().as_ref()) {
        for (k, v) in sysctl {
            ctx.proc
                .write(&format!("sys/{}", k.replace('.', "/")), v)
                .map_err(|e| e.context(format!("linux.sysctl.{k}")))?;
        }
    }
    if let Some(l) = linux {
        // Opened here: a bind source must be in our own mount namespace.
        let null = rootfs::verified_null()?;
        rootfs::mask_paths(
            root.as_fd(),
            l.masked_paths().as_deref().unwrap_or_default(),
            null.as_fd(),
        )?;
        rootfs::readonly_paths(
            root.as_fd(),
            l.readonly_paths().as_deref().unwrap_or_default(),
        )?;
    }

    // The terminal, from the container's own devpts instance; the slave is
    // also bound over /dev/console.
    let pty = match ctx.console {
        Some(sock) => {
            let size = b.process.console_size().map(|s| (s.height(), s.width()));
            let pty = crate::console::setup(Some(root.as_fd()), "/dev/pts/ptmx", sock, size)?;
            rootfs::bind_console(root.as_fd(), pty.slave.as_fd())?;
            Some(pty)
        }
        None => None,
    };

    // Hooks around the root switch.
    let stages = spec::hook_lists(&b.spec);
    let list = |name: &str| {
        stages
            .iter()
            .find(|(s, _)| *s == name)
            .map(|(_, l)| l.clone())
            .unwrap_or_default()
    };
    if !list("prestart").is_empty() || !list("createRuntime").is_empty() {
        ctx.chan.send(&Msg::RunHooks)?;
        match ctx.chan.recv()? {
            Some(Msg::HooksDone) => {}
            None => sys::exit_now(1),
            Some(other) => return Err(Error::msg(format!("expected HooksDone, got {other:?}"))),
        }
    }
    if let Err(e) = hooks::run_all("createContainer", &list("createContainer"), &state) {
        let _ = ctx.chan.send(&Msg::HookFailed(e.to_string()));
        sys::exit_now(127)
    }
    crate::logging::step("init: paths masked, hooks run");

    drop(root);
    rootfs::switch_root(&b.rootfs, ctx.no_pivot)?;
    rootfs::finish_propagation(b)?;
    crate::logging::step("init: root switched");
    if let Some(flags) = dev_ro {
        rootfs::readonly_dev(flags)?;
    }
    if b.spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        rootfs::readonly_root()?;
    }
    if let Some(own) = berths_mounts {
        rootfs::enter_detached(own)?;
    }

    // The process's own attributes.
    let p = &b.process;
    process::set_rlimits(p)?;
    process::set_personality(linux.and_then(|l| l.personality().as_ref()))?;
    process::set_io_priority(p)?;
    process::set_scheduler(p)?;
    if let Some(m) = &b.mempolicy {
        numa::apply(m)?;
    }
    process::enter_cwd(p)?;
    let env = program::environment(p, &ctx.extra_env)?;
    let args = p.args().clone().unwrap_or_default();
    let program = program::find_program(&args[0], &env)?;
    // The init leads a session of its own, with or without a terminal (a
    // terminal's comes with its controlling tty below), as runc's does:
    // the caller's session lies outside the container's pid namespace,
    // and CRIU refuses to dump a tree whose session leader is outside.
    // Before any seccomp filter, which may deny setsid.
    if pty.is_none() {
        nix::unistd::setsid().sys("setsid", "container init")?;
    }
    if let Some(pty) = &pty {
        crate::console::give_slave_to(pty.slave.as_fd(), p.user().uid())?;
    }
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which the
    // user switch may drop: load it first (the profile must then allow
    // what follows, as runc's do). With no_new_privs, load it last.
    let nnp = p.no_new_privileges().unwrap_or(false);
    if let Some(f) = &b.seccomp
        && !nnp
    {
        load_seccomp(f, ctx.chan)?;
    }
    crate::linux::apparmor::apply_on_exec(ctx.proc, p.apparmor_profile().as_deref())?;
    selinux::apply_on_exec(ctx.proc, p.selinux_label().as_deref())?;
    process::set_user_and_caps(p, &b.caps)?;
    crate::logging::step("init: user and capabilities set");
    // A listener's fd goes out through berth create, which is gone once
    // the container starts: such a filter is loaded now, not at exec. The
    // syscalls left until exec then go through it, as with runc.
    if let Some(f) = &b.seccomp
        && nnp
        && f.listener.is_some()
    {
        load_seccomp(f, ctx.chan)?;
    }

    if let Some(pty) = &pty {
        crate::console::make_controlling(pty.slave.as_fd())?;
    }
    // Nothing but stdio and the preserved fds may survive the exec.
    sys::keep_across_exec(ctx.keep_fds as i32).sys("keep preserved fds", ctx.keep_fds)?;
    sys::cloexec_from(3 + ctx.keep_fds).sys("close_range", "fds above stdio")?;

    // A created container is waiting, not running its program: a TERM
    // (or any other terminating signal) ends it, as it would runc's init.
    // exec resets these handlers.
    sys::exit_on_signals()?;
    nix::sys::prctl::set_pdeathsig(None).sys("prctl", "PR_SET_PDEATHSIG")?;
    ctx.chan.send(&Msg::Ready)?;

    // The barrier: `start` writes one byte.
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(ctx.fifo.as_fd(), &mut byte) {
            Ok(1) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            _ => sys::exit_now(1),
        }
    }
    // The program is not executed yet: still "created" (runtime.md).
    state["status"] = "created".into();
    hooks::run_all("startContainer", &list("startContainer"), &state)?;
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .sys("sigprocmask", "unblock")?;
    // Its fds go with the close below; no destructor may close them again.
    std::mem::forget(pty);
    // All but the fifo and start-error: `start` takes the fifo's closing
    // for the exec (it is close-on-exec), and runs poststart hooks then.
    // Closed here, start could run them while this is still berth. And
    // should the execve fail, start-error is where `start` learns why.
    sys::close_from_sparing(
        3 + ctx.keep_fds,
        &[ctx.fifo.as_raw_fd(), ctx.start_error.as_raw_fd()],
    );
    sys::default_signals();
    if let Some(f) = &b.seccomp
        && nnp
        && f.listener.is_none()
    {
        seccomp::load(f)?;
    }
    Err(program::exec(&program, &args, &env))
}

/// Load the filter and, when it has a listener, send the notify fd to the
/// parent, which gives it to linux.seccomp.listenerPath. The message is
/// encoded first: after the load even an allocation's mmap could be a
/// notified syscall that nobody can answer yet.
pub fn load_seccomp(f: &seccomp::Filter, chan: &super::protocol::Channel) -> Result<()> {
    let msg = super::protocol::Channel::encode(&Msg::SeccompListener)?;
    if let Some(fd) = seccomp::load(f)? {
        chan.send_with_fd(&msg, fd.as_fd(), "the seccomp notify fd")?;
    }
    Ok(())
}
