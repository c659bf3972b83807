//! A running container to CRIU images and back. linux/criu.rs builds
//! CRIU's command lines; this is the container's side: what is external
//! (read from /proc and the config), the state dir, the cgroup, and the
//! rollback. Restore follows create's path where it can: the same id
//! claim, cgroup creation with the config's resources, state and pid
//! file, and the same undo on failure.

use crate::cgroups::{self, Cgroup};
use crate::error::{Error, Result, SysContext};
use crate::launch::{self, Undo};
use crate::linux::criu::{self, Criu, Record};
use crate::linux::mounts::Kind;
use crate::spec::{self, Bundle};
use crate::state::{self, Status};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// Where the images go and CRIU works.
pub struct Paths {
    pub images: PathBuf,
    pub work: PathBuf,
}

impl Paths {
    /// runc's defaults: ./checkpoint, and the work dir is the image dir.
    pub fn new(images: Option<&Path>, work: Option<&Path>) -> Result<Paths> {
        let abs = |p: &Path| std::path::absolute(p).sys("resolve", p.display());
        let images = abs(images.unwrap_or(Path::new("checkpoint")))?;
        let work = match work {
            Some(w) => abs(w)?,
            None => images.clone(),
        };
        Ok(Paths { images, work })
    }
}

fn need_root(what: &str) -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(Error::msg(format!(
            "{what} needs root: CRIU runs as root (rootless checkpoints are not supported)"
        )))
    }
}

fn terminal(b: &Bundle) -> bool {
    b.process.terminal().unwrap_or(false)
}

/// Notifications the dump acts on: none.
fn ignore(_: &criu::rpc::Resp, _: Option<OwnedFd>) -> Result<()> {
    Ok(())
}

fn host_mounts<'a>(b: &Bundle, cgroup: &Cgroup) -> criu::HostMounts<'a> {
    let mut h = criu::HostMounts {
        binds: Vec::new(),
        cgroup: None,
        dev: "/dev",
    };
    for m in &b.mounts {
        match &m.kind {
            Kind::Bind { source, .. } => h.binds.push((m.dest.clone(), source.clone())),
            Kind::Cgroup => h.cgroup = Some((m.dest.clone(), cgroup.mount_sources())),
            Kind::Fs { .. } => {}
        }
    }
    h
}

fn make_dir(p: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(p)
        .sys("create", p.display())
}

fn inode(p: &Path) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata(p).sys("stat", p.display())?.ino())
}

/// The init's stdio: which of them the restore must hand back, and which
/// the dump must name external.
/// One entry per resource: CRIU takes one fd per key (stdin and stdout
/// are often the same /dev/null). A closed fd has nothing to hand back;
/// any other failure to read one is an error here rather than a CRIU
/// complaint later.
fn stdio(pid: i32, ours: &std::collections::HashSet<u64>) -> Result<Vec<(criu::Inherit, bool)>> {
    let mut out: Vec<(criu::Inherit, bool)> = Vec::new();
    for fd in 0..3 {
        let path = format!("/proc/{pid}/fd/{fd}");
        let link = match std::fs::read_link(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            r => r.sys("readlink", &path)?,
        };
        let info_path = format!("/proc/{pid}/fdinfo/{fd}");
        let info = std::fs::read_to_string(&info_path).sys("read", &info_path)?;
        let mnt_id = info
            .lines()
            .find_map(|l| l.strip_prefix("mnt_id:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| Error::msg(format!("{info_path}: no mnt_id")))?;
        let ino = inode(Path::new(&path))?;
        let Some((key, external)) = criu::stdio_key(&link.to_string_lossy(), mnt_id, ino, ours)
        else {
            continue;
        };
        if !out.iter().any(|(o, _)| o.key == key) {
            out.push((criu::Inherit { fd, key }, external));
        }
    }
    Ok(out)
}

/// --parent-path as CRIU reads it (and runc checks it): relative to the
/// image directory, and a directory there. An absolute path would reach
/// CRIU as one relative to the images, a missing one would make a full
/// dump where an incremental one was asked for.
fn check_parent(images: &Path, parent: &Path) -> Result<()> {
    if parent.is_absolute() {
        return Err(Error::msg(format!(
            "invalid --parent-path {}: it must be relative to --image-path",
            parent.display()
        )));
    }
    // The image directory is made only once the checks pass: until then
    // the `..` of what is not there yet is read by name, from the deepest
    // part that is there, resolved as the kernel will resolve it.
    let real = if images.is_dir() {
        images.join(parent)
    } else {
        let cwd;
        let images = if images.is_absolute() {
            images
        } else {
            cwd = std::env::current_dir()
                .sys("getcwd", "for --image-path")?
                .join(images);
            &cwd
        };
        let mut there = images;
        let mut missing = Vec::new();
        while !there.exists() {
            match (there.parent(), there.file_name()) {
                (Some(up), Some(name)) => {
                    missing.push(name);
                    there = up;
                }
                _ => break,
            }
        }
        let mut p = std::fs::canonicalize(there).unwrap_or_else(|_| there.to_path_buf());
        p.extend(missing.iter().rev());
        for c in parent.components() {
            match c {
                std::path::Component::ParentDir => {
                    p.pop();
                }
                std::path::Component::CurDir => {}
                c => p.push(c),
            }
        }
        p
    };
    let meta = std::fs::metadata(&real).sys("invalid --parent-path: stat", real.display())?;
    if !meta.is_dir() {
        return Err(Error::sys(
            "invalid --parent-path",
            real.display(),
            nix::errno::Errno::ENOTDIR,
        ));
    }
    Ok(())
}

pub struct Checkpoint {
    pub paths: Paths,
    pub parent: Option<PathBuf>,
    pub pre_dump: bool,
    pub options: criu::Options,
}

/// Dump a running (or paused) container. A full dump without
/// --leave-running ends it, and, as runc does, the container is then
/// destroyed (cgroup, state, poststop hooks) so that `restore` can bring
/// it back under the same id.
pub fn checkpoint(root: &Path, criu: &Criu, id: &str, o: &Checkpoint) -> Result<()> {
    need_root("checkpoint")?;
    if let Some(p) = &o.parent {
        check_parent(&o.paths.images, p)?;
    }
    let c = state::load(root, id, true)?;
    match c.status() {
        Status::Running | Status::Paused => {}
        s => {
            return Err(Error::msg(format!(
                "cannot checkpoint container {id}: it is {}",
                s.as_str()
            )));
        }
    }
    // Its root is a detached tree in berth's mount namespace, which CRIU
    // can neither find in a mountinfo nor bring back.
    if c.saved.shares_mount_ns {
        return Err(Error::msg(format!(
            "cannot checkpoint container {id}: it has no mount namespace of its own"
        )));
    }
    // The config the container was created from, for what is external.
    let bundle = spec::load_bundle(&c.saved.bundle)
        .map_err(|e| e.context(format!("container {id}'s bundle")))?;
    let pid = c.saved.pid;
    let namespaces = criu::external_namespaces(&bundle.namespaces.join)?
        .into_iter()
        .map(|(kind, key, path)| Ok((kind, inode(&path)?, key)))
        .collect::<Result<Vec<_>>>()?;
    let mi_path = format!("/proc/{pid}/mountinfo");
    let mountinfo = std::fs::read_to_string(&mi_path).sys("read", &mi_path)?;
    let mounts = criu::external_mounts(&mountinfo, &host_mounts(&bundle, &c.saved.cgroup));
    let stdio = stdio(pid, &criu::mount_ids(&mountinfo))?;
    let files: Vec<String> = stdio
        .iter()
        .filter(|(_, ext)| *ext)
        .map(|(i, _)| i.key.clone())
        .collect();
    make_dir(&o.paths.images)?;
    make_dir(&o.paths.work)?;
    let freezer = c.saved.cgroup.freezer_dir();
    let images = criu::open_dir(&o.paths.images)?;
    let opts = criu::dump_opts(&criu::Dump {
        pid,
        images: images.as_raw_fd(),
        parent: o.parent.as_deref(),
        pre_dump: o.pre_dump,
        rootfs: &c.saved.rootfs,
        mounts: &mounts,
        namespaces: &namespaces,
        files: &files,
        freeze_cgroup: freezer.as_deref(),
        terminal: terminal(&bundle),
        options: &o.options,
    });
    // What restore needs goes with the images before CRIU runs: a dump
    // ends the container, and a record that failed to write after it
    // would leave images nobody can restore.
    let record = Record {
        mounts,
        stdio: stdio.into_iter().map(|(i, _)| i).collect(),
    };
    let rec_path = o.paths.images.join(criu::RECORD);
    let text = serde_json::to_vec_pretty(&record)
        .map_err(|e| Error::msg(format!("encode {}: {e}", rec_path.display())))?;
    std::fs::write(&rec_path, text).sys("write", rec_path.display())?;
    let (what, kind) = if o.pre_dump {
        ("pre-dump", criu::rpc::PRE_DUMP)
    } else {
        ("dump", criu::rpc::DUMP)
    };
    let done = criu.call(
        what,
        kind,
        &opts,
        &o.paths.work,
        criu::Setup::default(),
        &mut ignore,
    );
    if let Err(e) = done {
        let _ = std::fs::remove_file(&rec_path);
        return Err(e);
    }
    crate::logging::debug(&format!(
        "container {id}: {what} in {}",
        o.paths.images.display()
    ));
    if o.pre_dump || o.options.leave_running {
        return Ok(());
    }
    // CRIU killed the container's processes; make sure, then destroy it.
    crate::commands::delete::kill_and_wait(&c)?;
    crate::commands::delete::destroy(c)
}

pub struct Restore<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
    pub paths: Paths,
    pub pid_file: Option<&'a Path>,
    pub options: criu::Options,
    pub rootless: bool,
    pub systemd_cgroup: bool,
    /// Where the pty master of a terminal goes; without one, a
    /// foreground restore relays the terminal itself.
    pub console_socket: Option<&'a Path>,
    pub detach: bool,
}

/// A restored container's init, and its terminal's master when it has
/// one that no console socket took.
pub struct Restored {
    pub pid: i32,
    pub pidfd: OwnedFd,
    pub master: Option<OwnedFd>,
}

/// Bring a container back from images under `id`: running, its init a
/// child of ours (left to our caller, as create leaves it), its state
/// saved as create saves it.
pub fn restore(root: &Path, criu: &Criu, o: &Restore) -> Result<Restored> {
    need_root("restore")?;
    spec::validate_id(o.id)?;
    let bundle = spec::load_bundle(o.bundle)?;
    let terminal = terminal(&bundle);
    if terminal && o.console_socket.is_none() && o.detach {
        return Err(crate::console::no_socket());
    }
    if o.systemd_cgroup {
        return Err(Error::msg(
            "restore with --systemd-cgroup is not supported: CRIU would have to restore into a systemd unit berth starts",
        ));
    }
    // prestart and createRuntime run in the runtime's namespaces once
    // CRIU has made the container's (its setup-namespaces notification),
    // as runc runs them; createContainer and startContainer would have to
    // run inside the container before its process, which CRIU restores
    // already running.
    let hooks = spec::hook_lists(&bundle.spec);
    for (stage, list) in &hooks {
        if !list.is_empty() && (*stage == "createContainer" || *stage == "startContainer") {
            return Err(Error::config(
                format!("hooks.{stage}"),
                "berth cannot run it on restore: CRIU brings the container's process back already running",
            ));
        }
    }
    let namespaces = criu::external_namespaces(&bundle.namespaces.join)?;
    let rec_path = o.paths.images.join(criu::RECORD);
    let text = std::fs::read(&rec_path)
        .sys("read", rec_path.display())
        .map_err(|e| e.context("not a checkpoint berth made"))?;
    let record: Record = serde_json::from_slice(&text)
        .map_err(|e| Error::msg(format!("parse {}: {e}", rec_path.display())))?;
    let linux = bundle.spec.linux().as_ref();
    let cgroups_path = linux.and_then(|l| l.cgroups_path().as_deref());
    let mut cgroup = cgroups::locate(cgroups_path, o.id, o.rootless)?;
    cgroup.rootless = o.rootless;
    let resources = linux
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    // The engine's console socket is the last thing before side effects.
    let console = match (terminal, o.console_socket) {
        (true, Some(p)) => Some(crate::console::connect(p)?),
        _ => None,
    };

    // From here on, as create: failure undoes what was done.
    let (dir, _lock) = state::create_dir(root, o.id)?;
    let mut undo = Undo {
        dir: Some(dir.clone()),
        cgroup: None,
        init: None,
        net: None,
    };
    cgroup.create()?;
    undo.cgroup = Some(cgroup.clone());
    cgroup.apply(&resources, false)?;

    let mounts = criu::restore_mounts(&record.mounts, &host_mounts(&bundle, &cgroup));
    // Our stdio stands in for the init's pipes and host files, and open
    // fds for the namespaces it joined; dups, so that criu's own stdio
    // stays free.
    let mut held: Vec<OwnedFd> = Vec::new();
    let mut inherit: Vec<(i32, String)> = Vec::new();
    for i in &record.stdio {
        let fd = nix::fcntl::fcntl(
            // SAFETY: our stdio, open for our lifetime (main fills gaps).
            unsafe { std::os::fd::BorrowedFd::borrow_raw(i.fd) },
            nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(10),
        )
        .sys("dup", format!("fd {}", i.fd))?;
        // SAFETY: fcntl just made this fd, and nothing else owns it.
        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        inherit.push((fd.as_raw_fd(), i.key.clone()));
        held.push(fd);
    }
    for (_, key, path) in &namespaces {
        let fd = nix::fcntl::open(
            path,
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .sys("open", path.display())?;
        inherit.push((fd.as_raw_fd(), key.to_string()));
        held.push(fd);
    }
    let join = cgroup.open_join_files()?;
    let criu_root = dir.join("criu-root");
    make_dir(&criu_root)?;
    let cstr = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::msg(format!("{}: path has a NUL byte", p.display())))
    };
    make_dir(&o.paths.work)?;
    let cgroup_roots = criu::cgroup_roots(&cgroup);
    let images = criu::open_dir(&o.paths.images)?;
    let opts = criu::restore_opts(&criu::Restore {
        images: images.as_raw_fd(),
        root: &criu_root,
        mounts: &mounts,
        inherit: &inherit,
        cgroup_roots: &cgroup_roots,
        terminal,
        options: &o.options,
    });
    let setup = criu::Setup {
        inherit: inherit.iter().map(|(fd, _)| *fd).collect(),
        join_cgroups: join,
        private_root: Some((cstr(&bundle.rootfs)?, cstr(&criu_root)?)),
    };
    let mut master: Option<OwnedFd> = None;
    let early: Vec<_> = hooks
        .iter()
        .filter(|(s, l)| (*s == "prestart" || *s == "createRuntime") && !l.is_empty())
        .collect();
    // Set when one of them failed: the restore then ends as a create
    // whose hook failed, with the poststop hooks.
    let mut hook_state: Option<crate::state::Saved> = None;
    let mut hook_failed = false;
    let mut notified = |r: &criu::rpc::Resp, fd: Option<OwnedFd>| {
        match r.notify.as_deref() {
            Some("orphan-pts-master") => {
                master = Some(fd.ok_or_else(|| {
                    Error::msg("criu sent orphan-pts-master without the pty master")
                })?);
            }
            Some("setup-namespaces") if !early.is_empty() => {
                let pid = r.notify_pid.ok_or_else(|| {
                    Error::msg("criu sent setup-namespaces without the restored pid")
                })?;
                let saved = launch::saved_state(&bundle, o.id, pid, &cgroup, false)?;
                let state = state::oci_state(&saved, "created");
                hook_state = Some(saved);
                for (stage, list) in &early {
                    crate::hooks::run_all(stage, list, &state)
                        .inspect_err(|_| hook_failed = true)?;
                }
            }
            _ => {}
        }
        Ok(())
    };
    let resp = criu.call(
        "restore",
        criu::rpc::RESTORE,
        &opts,
        &o.paths.work,
        setup,
        &mut notified,
    );
    let resp = match (resp, hook_state) {
        (Err(e), Some(saved)) if hook_failed => {
            return Err(launch::hook_failed(undo, &hooks, &saved, e));
        }
        (r, _) => r?,
    };
    drop(held);
    let pid = resp
        .restored_pid
        .filter(|p| *p > 0)
        .ok_or_else(|| Error::msg("criu restore: the answer names no restored process"))?;
    // rst_sibling made the init our child: its pid cannot be reused
    // before we reap it, so taking it from the answer is not a race.
    let pidfd = crate::linux::sys::pidfd_open(pid).sys("pidfd_open", pid)?;
    undo.init = Some((pid, pidfd));
    if terminal && master.is_none() {
        return Err(Error::msg(
            "criu restore: the container has a terminal, but criu sent no pty master",
        ));
    }
    let _ = std::fs::remove_dir(&criu_root);

    // CRIU restores the keyring it dumped; exec gets a new one, as after
    // a create without --no-new-keyring.
    let saved = launch::saved_state(&bundle, o.id, pid, &cgroup, false)?;
    state::save(&dir, &saved)?;
    // Running from here on (its poststart hooks see it so).
    state::finish_creating(&dir)?;
    // A restore ends, as run does, with the container running: its
    // poststart hooks run now, and one failing undoes the restore, as it
    // fails start (runtime-spec 1.3). Before the pid file, which a failed
    // restore does not leave.
    let poststart = saved
        .hooks
        .as_ref()
        .and_then(|h| h.poststart().clone())
        .unwrap_or_default();
    crate::hooks::run_all(
        "poststart",
        &poststart,
        &state::oci_state(&saved, "running"),
    )?;
    if let Some(p) = o.pid_file {
        launch::write_pid_file(p, pid)?;
    }
    if let (Some(socket), Some(m)) = (&console, &master) {
        crate::console::send_master_fd(socket.as_fd(), m.as_fd())
            .map_err(|e| e.context("--console-socket"))?;
        master = None;
    }
    let (pid, pidfd) = undo.init.take().expect("set above");
    undo.disarm();
    crate::logging::debug(&format!("container {} restored: init pid {pid}", o.id));
    Ok(Restored { pid, pidfd, master })
}
