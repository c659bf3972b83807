//! The create path, parent side, top to bottom. The child side is in
//! `init.rs`; the messages between them in `protocol.rs`.
//!
//! ```text
//!  berth create (parent)                      init (child)
//!  ─────────────────────                      ────────────
//!  validate config, locate cgroups
//!   (--systemd-cgroup: connect to systemd)
//!  claim state dir (the id), mkdir cgroups,
//!  make exec.fifo, prepare idmapped mounts
//!   (detached trees the init inherits)
//!  clone3(new namespaces, INTO_CGROUP v2) ──▶ join v1 cgroups ("0" > tasks)
//!   (joins by path: a stage-1 child setns's     wait for Go
//!    first, then clone3s the init with
//!    CLONE_PARENT and reports InitPid)
//!  (--systemd-cgroup: start the unit with
//!   the init's pid, then write resources)
//!  write uid/gid maps (or newuidmap/        (dumpable until Go in a new
//!   newgidmap), move netDevices into its     user namespace)
//!   network namespace, save state.json
//!  send Go{pid, state} ───────────────────▶ become root in the user ns,
//!  write /proc/PID/timens_offsets ◀──────── TimeNs (only with offsets)
//!  send TimeNsDone ───────────────────────▶ cgroup + time namespaces,
//!                                             hostname, mounts, /dev,
//!                                             sysctl, masked/readonly paths
//!  run prestart + createRuntime hooks ◀──── RunHooks (only if there are any)
//!  send HooksDone ────────────────────────▶ createContainer hooks
//!                                             pivot_root, readonly root,
//!                                             rlimits, oom, sched,
//!                                             memory policy, cwd,
//!                                             find program, user + caps,
//!                                             close fds
//!  give the notify fd to listenerPath ◀──── SeccompListener + fd (only for
//!                                             SCMP_ACT_NOTIFY: filter loaded)
//!  write pid file, exit 0 ◀─────────────── Ready
//!                                             block reading exec.fifo
//!  berth start: write a byte to exec.fifo ─▶ startContainer hooks, execve
//!   wait until the fifo has no reader (the     (or write why not to
//!   exec closed it), fail with start-error      start-error, and exit)
//!   if the init wrote one, run poststart
//! ```
//!
//! Any error on either side rolls everything back: the init is killed,
//! the cgroups and the state dir are removed. Mounts live in the init's
//! mount namespace and go with it; a config without one has its tree
//! built in a namespace of the init's own and left detached
//! (rootfs::build_apart), so nothing is mounted in berth's either.

pub mod exec;
pub mod init;
pub mod protocol;

use crate::cgroups::{self, Cgroup};
use crate::error::{Error, Result, SysContext};
use crate::hooks;
use crate::linux::procfs::Proc;
use crate::linux::{namespaces, sys, userns};
use crate::spec::{self, Bundle};
use crate::state::{self, Saved};
use nix::sys::stat::Mode;
use oci_spec::runtime::LinuxNamespaceType;
use protocol::{Channel, Msg};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub struct Options<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    pub bundle: &'a Path,
    pub pid_file: Option<&'a Path>,
    pub console_socket: Option<&'a Path>,
    /// An already connected console socket (foreground run relays).
    pub console_fd: Option<&'a OwnedFd>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// The cgroup is a systemd unit (--systemd-cgroup).
    pub systemd_cgroup: bool,
    /// Cgroups the user may not write are skipped (--rootless).
    pub rootless: bool,
}

/// A container that reached "created".
pub struct Created {
    pub pid: i32,
    pub pidfd: OwnedFd,
    /// The process has a terminal (its master went to the console socket).
    pub terminal: bool,
}

/// Everything the init needs; it is a copy of our memory after clone3,
/// so nothing here is serialized.
pub struct InitContext<'a> {
    pub id: &'a str,
    pub bundle: &'a Bundle,
    pub cgroup: &'a Cgroup,
    pub chan: &'a Channel,
    pub fifo: &'a OwnedFd,
    /// The state dir's start-error file, for failures after the barrier.
    pub start_error: &'a OwnedFd,
    pub proc: &'a Proc,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// fds 3..3+n kept open in the container.
    pub keep_fds: u32,
    /// LISTEN_FDS/LISTEN_PID for socket activation, when berth was given fds.
    pub extra_env: Vec<String>,
    /// The connected console socket when process.terminal is set.
    pub console: Option<&'a OwnedFd>,
    /// Per mount (by index): the detached idmapped tree to attach.
    pub idmapped: &'a [Option<OwnedFd>],
    /// The init must be dumpable until its id maps are written (decided
    /// with the host's credentials, which the init no longer has).
    pub dumpable_for_maps: bool,
}

pub fn create(o: &Options) -> Result<Created> {
    // 1. Everything that can be checked without side effects.
    spec::validate_id(o.id)?;
    let mut bundle = spec::load_bundle(o.bundle)?;
    crate::logging::step("config loaded");
    let terminal = bundle.process.terminal().unwrap_or(false);
    if terminal && o.console_fd.is_none() && o.console_socket.is_none() {
        return Err(crate::console::no_socket());
    }
    let linux = bundle.spec.linux().as_ref();
    spec::rootless_fits(&bundle.namespaces)?;
    let cgroups_path = linux.and_then(|l| l.cgroups_path().as_deref());
    // With systemd, the cgroup is known only once the unit holds the init:
    // until then it has no directories, and the init joins none.
    let (mut cgroup, mut systemd) = if o.systemd_cgroup {
        let unit = cgroups::systemd::Unit::parse(cgroups_path, o.id)?;
        // Read before anything is made: a value berth cannot read fails
        // create here.
        let extra = cgroups::systemd::annotation_properties(
            bundle
                .spec
                .annotations()
                .as_ref()
                .unwrap_or(&Default::default()),
        )?;
        (
            Cgroup::default(),
            Some((unit, extra, cgroups::systemd::Systemd::connect()?)),
        )
    } else {
        (cgroups::locate(cgroups_path, o.id, o.rootless)?, None)
    };
    let resources = linux
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    cgroup.rootless = o.rootless;
    let proc = Proc::open_host()?;
    let (listen_fds, extra_env) = socket_activation();
    let keep_fds = o
        .preserve_fds
        .checked_add(listen_fds)
        .filter(|n| *n < 65_536)
        .ok_or_else(|| Error::msg(format!("--preserve-fds {}: too many fds", o.preserve_fds)))?;
    // The engine's console socket is the last thing before side effects.
    let connected = match (terminal, o.console_fd, o.console_socket) {
        (true, None, Some(path)) => Some(crate::console::connect(path)?),
        _ => None,
    };
    let console = if terminal {
        o.console_fd.or(connected.as_ref())
    } else {
        None
    };

    // 2. Claim the id; from here on, failure undoes what was done. Until
    // create is done the container is "creating" (a `kill` or `delete
    // --force` meanwhile ends what we wait on), and if we are killed it
    // stays a half-made container that `delete --force` cleans.
    let (dir, _lock) = state::create_dir(o.root, o.id)?;
    let mut undo = Undo {
        dir: Some(dir.clone()),
        cgroup: None,
        init: None,
        net: None,
    };
    if crate::notify::host_socket().is_some() {
        let m = crate::notify::prepare(&dir)?;
        bundle
            .mounts
            .push(crate::linux::mounts::plan(&m, &bundle.dir)?);
        let mut env = bundle.process.env().clone().unwrap_or_default();
        env.retain(|e| !e.starts_with("NOTIFY_SOCKET="));
        env.push(format!("NOTIFY_SOCKET={}", crate::notify::IN_CONTAINER));
        bundle.process.set_env(Some(env));
    }

    // 3. The container's cgroups, recorded (with no pid yet) before the
    // first mkdir, in case we do not live to undo them.
    state::save(
        &dir,
        &saved_state(&bundle, o.id, 0, &cgroup.planned(), o.no_new_keyring)?,
    )?;
    if !o.systemd_cgroup {
        cgroup.create()?;
        undo.cgroup = Some(cgroup.clone());
        cgroup.check_not_frozen()?;
        cgroup.apply(&resources, false)?;
        crate::logging::step("cgroups created");
    }

    // 4. The create/start barrier: the init reads it, `start` writes it.
    let fifo_path = dir.join(state::FIFO);
    nix::unistd::mkfifo(&fifo_path, Mode::from_bits_truncate(0o600))
        .sys("mkfifo", fifo_path.display())?;
    let fifo = nix::fcntl::open(
        &fifo_path,
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .sys("open", fifo_path.display())?;

    let err_path = dir.join(state::START_ERROR);
    let start_error = nix::fcntl::open(
        &err_path,
        nix::fcntl::OFlag::O_WRONLY
            | nix::fcntl::OFlag::O_CREAT
            | nix::fcntl::OFlag::O_TRUNC
            | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .sys("open", err_path.display())?;

    // 5a. Idmapped mounts, while berth still holds the host's privileges.
    let idmapped = bundle
        .mounts
        .iter()
        .enumerate()
        .map(|(i, m)| match (&m.kind, &m.idmap) {
            (crate::linux::mounts::Kind::Bind { source, recursive }, Some(map)) => {
                crate::linux::idmap::prepare(&proc, source, *recursive, map)
                    .map(Some)
                    .map_err(|e| e.context(format!("mounts[{i}] ({})", m.dest)))
            }
            _ => Ok(None),
        })
        .collect::<Result<Vec<_>>>()?;

    // 5. The init, in its namespaces (and on v2 in its cgroup) from birth.
    // Non-dumpable from birth too: it inherits this from us, so nothing
    // sharing its pid namespace can ptrace it or open its fds while it is
    // still berth, with the host's files in reach. (Its exe cannot be
    // written whatever it is: main re-executed berth from a read-only
    // file.) Only an unprivileged berth with a new user namespace must
    // let the init stay dumpable until its maps are written (init.rs); a
    // non-dumpable berth could not read its own /proc files either.
    let dumpable_for_maps =
        bundle.namespaces.creates(LinuxNamespaceType::User) && !userns::writes_maps_itself();
    if !dumpable_for_maps {
        non_dumpable()?;
    }
    let v2 = cgroup.open_v2_dir()?;
    let (parent_ch, child_ch) = protocol::pair()?;
    let ctx = InitContext {
        id: o.id,
        bundle: &bundle,
        cgroup: &cgroup,
        chan: &child_ch,
        fifo: &fifo,
        start_error: &start_error,
        proc: &proc,
        no_pivot: o.no_pivot,
        no_new_keyring: o.no_new_keyring,
        keep_fds,
        extra_env,
        console,
        idmapped: &idmapped,
        dumpable_for_maps,
    };
    let (pid, pidfd) = spawn(&ctx, v2.as_ref().map(|f| f.as_raw_fd()), &parent_ch)?;
    undo.init = Some((pid, pidfd));
    crate::logging::step("init cloned");
    drop(child_ch);
    drop(fifo);
    drop(idmapped);

    // 5b. systemd's unit takes the init by pid (it waits for Go); on v2
    // it could not be born there, the scope did not exist yet.
    // The connection goes once the unit is there: systemd would keep
    // sending it signals nobody reads.
    if let Some((unit, extra, mut sd)) = systemd.take() {
        // Undone by create itself until it returns: a unit of that name
        // that was there before is not ours to stop.
        cgroup = cgroups::systemd::create(&mut sd, &unit, pid, &resources, extra)?;
        // The user's systemd (rootless): the device policy is best effort.
        cgroup.rootless = o.rootless;
        undo.cgroup = Some(cgroup.clone());
        cgroup.apply(&resources, false)?;
        crate::logging::step("cgroups created");
    }

    // 6. Id maps, which only a process outside the namespace may write
    // (rootless: beyond our own id, only the setuid helpers may).
    if bundle.namespaces.creates(LinuxNamespaceType::User) {
        let l = linux.expect("validated: user namespace implies linux");
        userns::write_maps(
            &proc,
            pid,
            l.uid_mappings().as_deref().unwrap_or_default(),
            l.gid_mappings().as_deref().unwrap_or_default(),
        )?;
    }
    // 6a. The sources of our binds, which the init, root of a new user
    // namespace but not of the host's, may not reach (bindsrc.rs). Only
    // in a mount namespace of its own, fresh from the host's: a joined
    // one may hold what a container planted.
    if bundle.namespaces.creates(LinuxNamespaceType::User)
        && bundle.namespaces.creates(LinuxNamespaceType::Mount)
        && userns::writes_maps_itself()
    {
        send_bind_sources(&bundle, &undo, &parent_ch)?;
    }
    // The oom score too, as the host's root: from inside, the init would
    // have to turn dumpable to write its own (see init.rs), opening its
    // exe, this binary, to whatever shares its pid namespace.
    crate::linux::process::set_oom_score_adj(&proc, pid, &bundle.process)?;

    // 6b. Host interfaces into the container's network namespace, which
    // the init holds from birth (made or joined).
    if !bundle.net_devices.is_empty() {
        // A magic link, which the verified procfs handle will not follow.
        let path = format!("/proc/{pid}/ns/net");
        let netns = nix::fcntl::open(
            path.as_str(),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .sys("open", &path)?;
        undo.net = Some(crate::linux::netdev::move_all(&bundle.net_devices, netns)?);
        crate::logging::step("network interfaces moved");
    }

    // 7. The state, as soon as there is a pid to record.
    let saved = saved_state(&bundle, o.id, pid, &cgroup, o.no_new_keyring)?;
    state::save(&dir, &saved)?;
    crate::logging::step("state saved");
    // What the hooks of create and start read: "created", which the spec
    // says the container is once its environment is made (lifecycle step
    // 2), before any hook runs, as crun says (runc: "creating"). A seccomp
    // listener hears from a container still being made.
    let for_hooks = state::oci_state(&saved, "created");
    let creating = state::oci_state(&saved, "creating");
    parent_ch.send(&Msg::Go {
        pid,
        state: for_hooks.to_string(),
        cgroup: o.systemd_cgroup.then(|| cgroup.clone()),
    })?;

    // 8. Follow the init until it waits on the barrier.
    let hooks = spec::hook_lists(&bundle.spec);
    loop {
        match parent_ch.recv_with_fd()? {
            Some((Msg::RunHooks, _)) => {
                for (stage, list) in hooks
                    .iter()
                    .filter(|(s, _)| *s == "prestart" || *s == "createRuntime")
                {
                    if let Err(e) = hooks::run_all(stage, list, &for_hooks) {
                        return Err(hook_failed(undo, &hooks, &saved, e));
                    }
                }
                parent_ch.send(&Msg::HooksDone)?;
            }
            Some((Msg::TimeNs, _)) => {
                let offsets = linux
                    .and_then(|l| l.time_offsets().as_ref())
                    .ok_or_else(|| {
                        Error::msg("container init sent TimeNs with no offsets to write")
                    })?;
                proc.write(
                    &format!("{pid}/timens_offsets"),
                    &namespaces::time_offsets_text(offsets),
                )
                .map_err(|e| e.context("linux.timeOffsets"))?;
                parent_ch.send(&Msg::TimeNsDone)?;
            }
            Some((Msg::HookFailed(m), _)) => {
                return Err(hook_failed(undo, &hooks, &saved, Error::msg(m)));
            }
            Some((Msg::SeccompListener, Some(fd))) => {
                let l = bundle
                    .seccomp
                    .as_ref()
                    .and_then(|f| f.listener.as_ref())
                    .ok_or_else(|| {
                        Error::msg("container init sent a seccomp notify fd nobody asked for")
                    })?;
                crate::linux::seccomp::send_to_listener(l, fd.as_fd(), pid, &creating)?;
            }
            Some((Msg::Ready, _)) => break,
            Some((Msg::Error(m), _)) => return Err(Error::msg(m)),
            Some((other, _)) => {
                return Err(Error::msg(format!(
                    "container init sent {other:?} out of turn"
                )));
            }
            None => {
                return Err(Error::msg(
                    "container init exited during setup without saying why",
                ));
            }
        }
    }

    crate::logging::step("init ready");
    // 9. "created" from here on; engines read the pid file as soon as
    // create returns.
    state::finish_creating(&dir)?;
    if let Some(p) = o.pid_file {
        write_pid_file(p, pid)?;
    }
    let (pid, pidfd) = undo.init.take().expect("set above");
    undo.disarm();
    crate::logging::debug(&format!("container {} created: init pid {pid}", o.id));
    Ok(Created {
        pid,
        pidfd,
        terminal,
    })
}

/// The state of a container whose init is `pid` (create, and restore);
/// pid 0 for create's claim.
pub(crate) fn saved_state(
    bundle: &Bundle,
    id: &str,
    pid: i32,
    cgroup: &Cgroup,
    no_new_keyring: bool,
) -> Result<Saved> {
    let linux = bundle.spec.linux().as_ref();
    // pid 0: the claim, before there is an init.
    let (start_time, _) = match pid {
        0 => (0, 'R'),
        _ => state::proc_start_time(pid)
            .ok_or_else(|| Error::msg("container init exited during setup"))?,
    };
    Ok(Saved {
        id: id.to_string(),
        pid,
        start_time,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: crate::logging::rfc3339(SystemTime::now(), true),
        owner: state::user_name(nix::unistd::geteuid().as_raw()),
        annotations: bundle.spec.annotations().clone().unwrap_or_default(),
        cgroup: cgroup.clone(),
        hooks: bundle.spec.hooks().clone(),
        resources: Some(
            linux
                .and_then(|l| l.resources().clone())
                .unwrap_or_default(),
        ),
        process: Some(bundle.process.clone()),
        seccomp: linux.and_then(|l| l.seccomp().clone()),
        memory_policy: linux.and_then(|l| l.memory_policy().clone()),
        personality: linux.and_then(|l| l.personality().clone()),
        no_new_keyring,
        shares_mount_ns: !bundle.namespaces.private(LinuxNamespaceType::Mount),
        oci_version: bundle.spec.version().clone(),
    })
}

/// Start the init: directly with clone3 when no namespace is joined by
/// path, else through a stage-1 child that joins them first (joining a
/// pid or user namespace only applies to children).
fn spawn(ctx: &InitContext, v2: Option<i32>, parent_ch: &Channel) -> Result<(i32, OwnedFd)> {
    let flags = namespaces::clone_flags(&ctx.bundle.namespaces).bits() as u64;
    let why = |e: Error| namespaces::kernel_lacks(&ctx.bundle.namespaces.new).unwrap_or(e);
    if ctx.bundle.namespaces.join.is_empty() {
        return match sys::clone3(flags, v2)
            .sys("clone3", "container init")
            .map_err(why)?
        {
            sys::Forked::Child => {
                parent_end_closed(parent_ch);
                init::run(ctx)
            }
            sys::Forked::Parent { pid, pidfd } => Ok((pid, pidfd)),
        };
    }
    match sys::clone3(0, None).sys("clone3", "stage-1")? {
        sys::Forked::Child => {
            parent_end_closed(parent_ch);
            let r =
                namespaces::join_all(&ctx.bundle.namespaces).and_then(|()| {
                    match sys::clone3(flags | sys::CLONE_PARENT, v2)
                        .sys("clone3", "container init")
                        .map_err(why)?
                    {
                        sys::Forked::Child => init::run(ctx),
                        sys::Forked::Parent { pid, .. } => Ok(pid),
                    }
                });
            let _ = ctx.chan.send(&match r {
                Ok(pid) => Msg::InitPid(pid),
                Err(e) => Msg::Error(e.to_string()),
            });
            sys::exit_now(0)
        }
        sys::Forked::Parent { pid, .. } => {
            let reply = parent_ch.recv();
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            match reply? {
                Some(Msg::InitPid(p)) => Ok((p, sys::pidfd_open(p).sys("pidfd_open", p)?)),
                Some(Msg::Error(m)) => Err(Error::msg(m)),
                _ => Err(Error::msg(
                    "stage-1 exited without starting the container init",
                )),
            }
        }
    }
}

/// In a child: berth's end of the channel, which the clone copied, is
/// closed, so that berth's death reads as the channel's end. Killed before
/// the child's PR_SET_PDEATHSIG was set, berth would otherwise leave it
/// waiting forever on a channel it holds both ends of, with the state
/// dir's lock. (The child never returns to drop the copy: it execs or
/// exits.)
fn parent_end_closed(parent_ch: &Channel) {
    let _ = nix::unistd::close(parent_ch.0.as_raw_fd());
}

/// Open the sources of the config's plain binds in the init's mount
/// namespace and send them to the init, which binds the fds.
fn send_bind_sources(bundle: &Bundle, undo: &Undo, parent_ch: &Channel) -> Result<()> {
    use crate::linux::mounts::Kind;
    let sources: Vec<(usize, &Path)> = bundle
        .mounts
        .iter()
        .enumerate()
        .filter_map(|(i, m)| match &m.kind {
            Kind::Bind { source, .. } if m.idmap.is_none() => Some((i, source.as_path())),
            _ => None,
        })
        .collect();
    let Some((_, pidfd)) = undo.init.as_ref().filter(|_| !sources.is_empty()) else {
        return Ok(());
    };
    let sent = crate::linux::bindsrc::open_in(pidfd.as_fd(), &sources, &|i, fd| {
        let msg = Channel::encode(&Msg::MountSource(i))?;
        parent_ch.send_with_fd(&msg, fd, "a bind-mount source")
    });
    if let Err(e) = sent {
        // An init that failed first (its send then found no reader) says
        // why in the message it left: that is the error to report.
        if sys::exits_within(pidfd.as_fd(), 200)
            && let Ok(Some(Msg::Error(m))) = parent_ch.recv()
        {
            return Err(Error::msg(m));
        }
        return Err(e.context("open the bind-mount sources for the user namespace"));
    }
    crate::logging::step("bind sources sent");
    Ok(())
}

/// Make berth non-dumpable; children inherit it (until they exec).
pub fn non_dumpable() -> Result<()> {
    nix::sys::prctl::set_dumpable(false).sys("prctl", "PR_SET_DUMPABLE")
}

/// How many fds systemd socket activation handed to berth itself.
pub fn listen_fds() -> u32 {
    socket_activation().0
}

/// systemd socket activation: fds handed to berth (LISTEN_FDS for our own
/// pid) go on to the container, whose init is pid 1.
fn socket_activation() -> (u32, Vec<String>) {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let n = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    if ours && n > 0 {
        (n, vec![format!("LISTEN_FDS={n}"), "LISTEN_PID=1".into()])
    } else {
        (0, Vec::new())
    }
}

/// Digits only, no newline (engines parse it with Atoi), written whole.
/// The directory may belong to someone else (a rootless engine's state
/// dir, a shared /tmp): a name there may already be a symlink to a host
/// file. So the temporary file gets a name nobody can predict, created
/// with O_EXCL|O_NOFOLLOW (an existing name, link or not, is refused),
/// and rename replaces the target itself, never what a link there names.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    use nix::fcntl::{OFlag, renameat};
    use std::io::Write;
    let name = path
        .file_name()
        .ok_or_else(|| Error::msg(format!("--pid-file {}: not a file name", path.display())))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // The directory's path is the caller's, but not every directory on
    // it need be: a link somebody else planted on the way is not followed.
    let what = format!("--pid-file directory {}", parent.display());
    let dir = match crate::linux::trusted::open(parent, &what)? {
        crate::linux::trusted::Walked::Opened(dir) => dir,
        crate::linux::trusted::Walked::Untrusted { link, owner } => {
            return Err(Error::msg(format!(
                "{what}: {} on the way is a link of uid {owner}'s: not followed",
                link.display()
            )));
        }
    };
    let (tmp, file) = (0..16)
        .find_map(|_| {
            let tmp = format!(".{}.{:016x}", name.to_string_lossy(), random_u64());
            match nix::fcntl::openat(
                &dir,
                tmp.as_str(),
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o644),
            ) {
                Err(nix::errno::Errno::EEXIST) => None,
                r => Some(r.map(|fd| (tmp, fd))),
            }
        })
        .unwrap_or(Err(nix::errno::Errno::EEXIST))
        .sys(
            "create pid file",
            parent
                .join(format!(".{}.*", name.to_string_lossy()))
                .display(),
        )?;
    let tmp_path = parent.join(&tmp);
    let written = std::fs::File::from(file)
        .write_all(pid.to_string().as_bytes())
        .sys("write pid file", tmp_path.display())
        .and_then(|()| {
            renameat(&dir, tmp.as_str(), &dir, name).sys("write pid file", path.display())
        });
    if written.is_err() {
        let _ = nix::unistd::unlinkat(&dir, tmp.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
    }
    written
}

/// 64 bits from the kernel's random pool (getrandom never blocks once
/// the pool is initialised, long before any engine runs).
fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: b is a writable buffer of the length passed.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != 8 {
        // A time-based fallback is still unique enough for O_EXCL, which
        // is what keeps the name safe; unpredictability is a bonus.
        return std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id());
    }
    u64::from_ne_bytes(b)
}

/// What a failed create must take back.
/// A create-stage hook failed: runtime.md has the runtime stop the
/// container and go on at step 12, destroying it, then poststop hooks.
pub(crate) fn hook_failed(
    undo: Undo,
    hooks: &[(&'static str, Vec<oci_spec::runtime::Hook>)],
    saved: &Saved,
    e: Error,
) -> Error {
    drop(undo);
    if let Some((_, list)) = hooks.iter().find(|(s, _)| *s == "poststop") {
        hooks::run_all_warn("poststop", list, &state::oci_state(saved, "stopped"));
    }
    e
}

pub(crate) struct Undo {
    pub(crate) dir: Option<PathBuf>,
    pub(crate) cgroup: Option<Cgroup>,
    pub(crate) init: Option<(i32, OwnedFd)>,
    /// Host interfaces moved in, to give back.
    pub(crate) net: Option<crate::linux::netdev::MovedDevices>,
}

impl Undo {
    pub(crate) fn disarm(&mut self) {
        self.dir = None;
        self.cgroup = None;
        self.init = None;
        self.net = None;
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(mut n) = self.net.take() {
            n.move_back();
        }
        if let Some((pid, pidfd)) = self.init.take() {
            let _ = sys::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        }
        if let Some(c) = self.cgroup.take() {
            let _ = c.destroy();
        }
        if let Some(d) = self.dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
