//! The state store under --root: one 0700 directory per container with
//! state.json (written atomically), the exec fifo while the container is
//! created, and an flock that serializes commands on one container.
//! Status is derived from the live system, never trusted from the file.

use crate::cgroups::Cgroup;
use crate::error::{Error, Result, SysContext};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

mod list;
pub use list::{list, list_ids};

pub const FIFO: &str = "exec.fifo";
/// What the init writes when it fails after `start` released it (a
/// startContainer hook, say), for `start` to report.
pub const START_ERROR: &str = "start-error";
pub const STATE: &str = "state.json";
/// Present from the moment create claims the id until it has finished:
/// with the create alive (it holds the lock) the container is
/// "creating"; with the create gone (killed midway) it is a half-made
/// container, "stopped", which `delete --force` cleans up.
pub const CREATING: &str = "creating";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    pub id: String,
    pub pid: i32,
    /// Start time of `pid` in clock ticks since boot (/proc/PID/stat field
    /// 22): a reused pid has another one.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    pub cgroup: Cgroup,
    /// poststart and poststop, run by later commands.
    #[serde(default)]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    pub oci_version: String,
    /// The container's process, the base of what `exec` runs.
    #[serde(default)]
    pub process: Option<oci_spec::runtime::Process>,
    /// linux.seccomp, which `exec` applies to its process too.
    #[serde(default)]
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    /// linux.resources as created and then updated.
    #[serde(default)]
    pub resources: Option<oci_spec::runtime::LinuxResources>,
    /// linux.memoryPolicy, which `exec` gives its process too.
    #[serde(default)]
    pub memory_policy: Option<oci_spec::runtime::LinuxMemoryPolicy>,
    /// linux.personality, which `exec` gives its process too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personality: Option<oci_spec::runtime::LinuxPersonality>,
    /// create --no-new-keyring: exec'd processes keep their caller's
    /// session keyring too.
    #[serde(default)]
    pub no_new_keyring: bool,
    /// The config has no mount namespace: the container is in berth's,
    /// rooted in a detached tree (rootfs::build_apart), which exec must
    /// enter by the init's root, whatever namespace exec runs in.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shares_mount_ns: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

pub struct Container {
    pub dir: PathBuf,
    pub saved: Saved,
    _lock: Option<Flock<File>>,
}

/// Where state goes without --root, and whether berth made that choice
/// for an unprivileged user (the directory is then checked to be theirs).
#[derive(Debug, PartialEq, Eq)]
pub enum DefaultRoot {
    /// /run/berth: root on the host.
    System(PathBuf),
    /// $XDG_RUNTIME_DIR/berth, as runc and crun use it.
    Xdg(PathBuf),
    /// XDG_RUNTIME_DIR unset and not root: runc and crun fall back to
    /// /run/runc, which such a user cannot write. berth takes
    /// /run/user/UID/berth when the login manager made /run/user/UID for
    /// us, else /tmp/berth-UID.
    PerUser(PathBuf),
}

impl DefaultRoot {
    pub fn path(&self) -> &Path {
        match self {
            DefaultRoot::System(p) | DefaultRoot::Xdg(p) | DefaultRoot::PerUser(p) => p,
        }
    }
}

/// runc's rule for honouring $XDG_RUNTIME_DIR: always when not root; as
/// root only inside a user namespace (rootlesskit) and unless USER=root,
/// so that the host's root keeps /run even with XDG_RUNTIME_DIR=/run/user/0.
pub fn default_root() -> DefaultRoot {
    let euid = nix::unistd::geteuid();
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|x| !x.is_empty());
    default_root_for(
        euid.as_raw(),
        xdg.as_deref().map(Path::new),
        crate::linux::userns::in_user_namespace,
        std::env::var("USER").ok().as_deref(),
        |p| {
            std::fs::metadata(p).is_ok_and(|m| {
                use std::os::unix::fs::MetadataExt;
                m.is_dir() && m.uid() == euid.as_raw()
            })
        },
    )
}

fn default_root_for(
    euid: u32,
    xdg: Option<&Path>,
    in_userns: impl Fn() -> bool,
    user: Option<&str>,
    ours: impl Fn(&Path) -> bool,
) -> DefaultRoot {
    let honour_xdg = euid != 0 || (in_userns() && user != Some("root"));
    match xdg {
        Some(x) if honour_xdg => DefaultRoot::Xdg(x.join("berth")),
        _ if euid == 0 => DefaultRoot::System(PathBuf::from("/run/berth")),
        _ => {
            let run_user = PathBuf::from(format!("/run/user/{euid}"));
            if ours(&run_user) {
                DefaultRoot::PerUser(run_user.join("berth"))
            } else {
                DefaultRoot::PerUser(PathBuf::from(format!("/tmp/berth-{euid}")))
            }
        }
    }
}

/// Make a default root that lives among other users' files (XDG or the
/// per-user one) and make sure it is ours alone: in /tmp another user
/// could have made it first, or put a symlink there.
pub fn ensure_private_root(root: &DefaultRoot) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let (path, mode) = match root {
        DefaultRoot::System(_) => return Ok(()),
        // Sticky, as runc makes it: the XDG spec lets the session's
        // cleanup remove files in XDG_RUNTIME_DIR that are not.
        DefaultRoot::Xdg(p) => (p, 0o1700),
        DefaultRoot::PerUser(p) => (p, 0o700),
    };
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(Err::<(), _>(e)
                .sys("create state root", path.display())
                .unwrap_err()
                .context("the default --root (set XDG_RUNTIME_DIR to a directory of yours, or give --root)"));
        }
    }
    let m = std::fs::symlink_metadata(path).sys("stat state root", path.display())?;
    let euid = nix::unistd::geteuid().as_raw();
    // In /tmp a directory of ours that others could write may hold
    // their files: refuse it rather than fix it.
    let shared = matches!(root, DefaultRoot::PerUser(_)) && m.mode() & 0o022 != 0;
    if !m.is_dir() || m.uid() != euid || shared {
        return Err(Error::msg(format!(
            "state root {} is not a private directory of uid {euid}: refusing to use it (give --root)",
            path.display()
        )));
    }
    if m.mode() & 0o7777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .sys("chmod", path.display())?;
    }
    Ok(())
}

fn lock_dir(dir: &Path) -> Result<Flock<File>> {
    loop {
        let f = File::open(dir).sys("open state dir", dir.display())?;
        let l = Flock::lock(f, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::sys("lock state dir", dir.display(), e))?;
        if still_there(&l, dir)? {
            return Ok(l);
        }
    }
}

/// The lock if nobody holds it; Ok(None) when another command does.
fn try_lock_dir(dir: &Path) -> Result<Option<Flock<File>>> {
    loop {
        let f = File::open(dir).sys("open state dir", dir.display())?;
        match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(l) if still_there(&l, dir)? => return Ok(Some(l)),
            Ok(_) => continue,
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => return Ok(None),
            Err((_, e)) => return Err(Error::sys("lock state dir", dir.display(), e)),
        }
    }
}

/// Is the directory we locked still the one at `dir`? Whoever held the
/// lock before us may have removed it (a delete) and someone else made a
/// new one there (a create): that container is not ours to touch. Err
/// (ENOENT) when nothing is there any more; Ok(false) to lock again.
fn still_there(locked: &File, dir: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let ours = locked.metadata().sys("stat state dir", dir.display())?;
    let now = std::fs::metadata(dir).sys("open state dir", dir.display())?;
    Ok(ours.dev() == now.dev() && ours.ino() == now.ino())
}

/// Does another command hold this container's lock right now?
fn lock_busy(dir: &Path) -> bool {
    matches!(try_lock_dir(dir), Ok(None))
}

/// The pids holding a container's lock, from /proc/locks (the kernel's
/// own record: no file of ours can go stale). An flock is listed under
/// the process that took it; should that one be gone and its pid reused
/// while a fork still holds the lock, the pid is dropped unless it holds
/// the state dir open itself.
pub fn lock_holders(dir: &Path) -> Vec<i32> {
    lock_records(dir)
        .into_iter()
        .filter(|pid| holds_open(*pid, dir))
        .collect()
}

/// Does `pid` hold `dir` open? Compared by device and inode, whatever
/// path --root was given as.
fn holds_open(pid: i32, dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(want) = std::fs::metadata(dir) else {
        return false;
    };
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::metadata(fd.path()).is_ok_and(|m| m.dev() == want.dev() && m.ino() == want.ino())
    })
}

fn lock_records(dir: &Path) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::metadata(dir) else {
        return Vec::new();
    };
    let dev = nix::sys::stat::major(m.dev());
    let min = nix::sys::stat::minor(m.dev());
    let want = format!("{dev:02x}:{min:02x}:{}", m.ino());
    let text = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    let mut pids: Vec<i32> = text
        .lines()
        // "N: FLOCK ADVISORY WRITE PID MAJ:MIN:INO 0 EOF"; waiters are "N: -> ...".
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(1) == Some(&"FLOCK") && f.get(5) == Some(&want.as_str()))
                .then(|| f.get(4)?.parse().ok())
                .flatten()
        })
        .filter(|p| *p > 0)
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Wait up to `limit` for a container's lock: None when the container
/// went away meanwhile (its create rolled back, another delete won).
pub fn lock_within(root: &Path, id: &str, limit: std::time::Duration) -> Result<Option<Container>> {
    let dir = root.join(id);
    let until = std::time::Instant::now() + limit;
    loop {
        match try_lock_dir(&dir) {
            Ok(Some(l)) => return load_dir(id, dir, Some(l)).map(Some),
            Err(e) if e.errno() == Some(nix::errno::Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(e),
            Ok(None) if std::time::Instant::now() >= until => {
                return Err(Error::msg(format!(
                    "container {id} is busy: {} still holds its lock after {}s",
                    describe_holders(&lock_holders(&dir)),
                    limit.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
}

fn describe_holders(pids: &[i32]) -> String {
    match pids {
        [] => "another berth command".into(),
        _ => format!(
            "berth process {}",
            pids.iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Make the container's state directory; an existing one means the id is
/// taken. The returned lock is held until the caller drops it.
pub fn create_dir(root: &Path, id: &str) -> Result<(PathBuf, Flock<File>)> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .sys("create state root", root.display())?;
    let dir = root.join(id);
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::msg(format!("container with id {id} already exists")));
        }
        Err(e) => {
            return Err(Err::<(), _>(e)
                .sys("create state dir", dir.display())
                .unwrap_err());
        }
    }
    let lock = lock_dir(&dir)?;
    let marker = dir.join(CREATING);
    if let Err(e) = std::fs::File::create(&marker).sys("create", marker.display()) {
        // Nothing else is made yet: the id goes back as it was.
        let _ = std::fs::remove_dir(&dir);
        return Err(e);
    }
    Ok((dir, lock))
}

/// The create that claimed `dir` is done: the container is "created".
pub fn finish_creating(dir: &Path) -> Result<()> {
    let marker = dir.join(CREATING);
    std::fs::remove_file(&marker).sys("remove", marker.display())
}

pub fn not_found(id: &str) -> Error {
    Error::msg(format!("container {id} does not exist"))
}

/// Load a container, taking its lock when `lock` is set.
pub fn load(root: &Path, id: &str, lock: bool) -> Result<Container> {
    crate::spec::validate_id(id)?;
    let dir = root.join(id);
    let lock = if lock {
        match lock_dir(&dir) {
            Ok(l) => Some(l),
            Err(e) if e.errno() == Some(nix::errno::Errno::ENOENT) => return Err(not_found(id)),
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    load_dir(id, dir, lock)
}

/// A container's record. A state dir without state.json is a create that
/// has just claimed the id, or one killed before it recorded anything:
/// it is listed, and deleted, as a container with no process.
fn load_dir(id: &str, dir: PathBuf, lock: Option<Flock<File>>) -> Result<Container> {
    let path = dir.join(STATE);
    let saved = match crate::linux::sys::read_small(&path, 8192) {
        Ok(text) => {
            parse_saved(&text).map_err(|e| e.context(format!("parse {}", path.display())))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && claimed(&dir) => Saved::claimed(id),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found(id)),
        Err(e) => return Err(Err::<(), _>(e).sys("read", path.display()).unwrap_err()),
    };
    Ok(Container {
        dir,
        saved,
        _lock: lock,
    })
}

/// A state dir without state.json is a container only if a create made
/// it: it holds create's marker, or nothing yet (killed right after the
/// mkdir). Anything else under --root is not berth's.
fn claimed(dir: &Path) -> bool {
    dir.join(CREATING).exists()
        || std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}

/// state.json's contents (the fuzz target's way in too).
pub fn parse_saved(text: &[u8]) -> Result<Saved> {
    serde_json::from_slice(text).map_err(|e| Error::msg(e.to_string()))
}

impl Saved {
    /// What is known of a container whose create claimed its id and
    /// recorded nothing yet: its id.
    fn claimed(id: &str) -> Saved {
        Saved {
            id: id.to_string(),
            pid: 0,
            start_time: 0,
            bundle: PathBuf::new(),
            rootfs: PathBuf::new(),
            created: String::new(),
            owner: String::new(),
            annotations: HashMap::new(),
            cgroup: Cgroup::default(),
            hooks: None,
            oci_version: String::new(),
            process: None,
            seccomp: None,
            resources: None,
            memory_policy: None,
            personality: None,
            no_new_keyring: false,
            shares_mount_ns: false,
        }
    }
}

/// Write state.json atomically (temp file + rename).
pub fn save(dir: &Path, saved: &Saved) -> Result<()> {
    let tmp = dir.join(".state.json.tmp");
    let path = dir.join(STATE);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(&tmp)
        .sys("write", tmp.display())?;
    let text = serde_json::to_vec(saved).map_err(|e| Error::msg(format!("encode state: {e}")))?;
    f.write_all(&text).sys("write", tmp.display())?;
    std::fs::rename(&tmp, &path).sys("rename", path.display())
}

/// Field 22 (starttime) and field 3 (state) of /proc/PID/stat.
pub fn proc_start_time(pid: i32) -> Option<(u64, char)> {
    let path = format!("/proc/{pid}/stat");
    let bytes = crate::linux::sys::read_small(Path::new(&path), 1024).ok()?;
    let stat = std::str::from_utf8(&bytes).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let state = fields.first()?.chars().next()?;
    Some((fields.get(19)?.parse().ok()?, state))
}

impl Container {
    /// The saved pid is our process only if its start time still matches
    /// and it has not exited (a zombie is stopped).
    pub fn alive(&self) -> bool {
        self.saved.pid > 0
            && matches!(proc_start_time(self.saved.pid),
                Some((t, s)) if t == self.saved.start_time && s != 'Z' && s != 'X')
    }

    /// Let other commands at the container while this one goes on waiting
    /// (start, for a READY=1 that may never come).
    pub fn unlock(&mut self) {
        self._lock = None;
    }

    /// Is the create that made this container still at work? Only it can
    /// hold the lock while the claim is unfinished; holding the lock
    /// ourselves, we know it is not.
    pub fn being_created(&self) -> bool {
        self.unfinished() && self._lock.is_none() && lock_busy(&self.dir)
    }

    /// The create never finished (it is at work, or was killed).
    fn unfinished(&self) -> bool {
        self.saved.pid == 0 || self.dir.join(CREATING).exists()
    }

    /// Asked of every container by `list`, so it looks at as few files as
    /// it can: create makes exec.fifo before the record gets its pid, and
    /// only start removes it, so a record with a pid and no fifo is of a
    /// create that ended, and its claim need not be looked for.
    pub fn status(&self) -> Status {
        let fifo = self.saved.pid > 0 && self.dir.join(FIFO).exists();
        if self.saved.pid == 0 || (fifo && self.dir.join(CREATING).exists()) {
            if self.being_created() {
                Status::Creating
            } else if self.alive() {
                // The create was killed once its init was ready (or is
                // just dying of its parent's death): a created container
                // to kill and delete, never one to forget.
                Status::Created
            } else {
                Status::Stopped
            }
        } else if !self.alive() {
            Status::Stopped
        } else if fifo {
            Status::Created
        } else if self.saved.cgroup.is_frozen() {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// The container's processes: its cgroup's. A rootless container
    /// without a cgroup has its pid namespace instead (every process in
    /// the init's, when that is not ours), else just its init.
    pub fn pids(&self) -> Vec<i32> {
        if !self.saved.cgroup.dirs.is_empty() {
            return self.saved.cgroup.pids();
        }
        if !self.alive() {
            return Vec::new();
        }
        let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
        let theirs = ns(&self.saved.pid.to_string());
        if theirs.is_none() || theirs == ns("self") {
            return vec![self.saved.pid];
        }
        let mut pids: Vec<i32> = std::fs::read_dir("/proc")
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                    .filter(|p| ns(&p.to_string()) == theirs)
                    .collect()
            })
            .unwrap_or_default();
        pids.sort();
        pids
    }

    /// A pidfd for the container's init, verified against the start time
    /// after opening so that a signal never reaches a reused pid.
    pub fn pidfd(&self) -> Option<std::os::fd::OwnedFd> {
        let fd = crate::linux::sys::pidfd_open(self.saved.pid).ok()?;
        self.alive().then_some(fd)
    }

    /// The runtime-spec state document, as `state` prints it and hooks
    /// receive it on stdin.
    pub fn oci_state(&self, status: &str) -> serde_json::Value {
        oci_state(&self.saved, status)
    }
}

pub fn oci_state(s: &Saved, status: &str) -> serde_json::Value {
    let pid = if status == "stopped" { 0 } else { s.pid };
    serde_json::json!({
        "ociVersion": s.oci_version,
        "id": s.id,
        "pid": pid,
        "status": status,
        "bundle": s.bundle,
        "rootfs": s.rootfs,
        "created": s.created,
        "owner": s.owner,
        "annotations": s.annotations,
    })
}

/// The user name of a uid from /etc/passwd, or the number.
pub fn user_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| format!("#{uid}"))
}

#[cfg(test)]
mod tests;
