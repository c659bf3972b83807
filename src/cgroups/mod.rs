//! Cgroup placement on whatever this host mounts: v1 hierarchies, a v2
//! one, or both (hybrid). The layout is read from /proc/self/mountinfo at
//! run time; a container gets one directory per hierarchy.
//!
//! Joining is cheap by construction: on v2 the init is born in its cgroup
//! (clone3 CLONE_INTO_CGROUP); on v1 the init moves itself by writing "0"
//! to `tasks`, which the kernel does without the global threadgroup lock.
//! A parent writing the child's pid to cgroup.procs instead waits for an
//! RCU grace period (milliseconds on an idle machine).

mod apply;
pub mod devices;
pub mod ebpf;
pub mod foresee;
mod freezer;
mod join;
pub mod stats;
pub mod systemd;
pub mod v1;
pub mod v2;

use crate::error::{Error, Result, SysContext};
pub use apply::{FileWrite, same_on_both};
use apply::{set, w};
pub use foresee::missing_page_size;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Hierarchy {
    pub mountpoint: PathBuf,
    /// Root of the hierarchy as seen from here (field 4 of mountinfo).
    pub root: String,
    pub v2: bool,
    /// v1 controllers (and `name=` of named hierarchies), sorted.
    pub controllers: Vec<String>,
}

impl Hierarchy {
    /// Directory name under the container's /sys/fs/cgroup.
    pub fn mount_name(&self) -> String {
        if self.v2 {
            "unified".into()
        } else {
            self.controllers
                .iter()
                .map(|c| c.strip_prefix("name=").unwrap_or(c))
                .collect::<Vec<_>>()
                .join(",")
        }
    }
}

/// The container's cgroup on every hierarchy.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct Cgroup {
    pub dirs: Vec<Dir>,
    /// The systemd unit that holds it (`--systemd-cgroup`): systemd made
    /// its directories, and stopping the unit removes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<String>,
    /// Rootless: hierarchies where the user may not create or join the
    /// container's cgroup, which runs without one there (as with runc).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
    /// Rootless mode: permission errors on cgroup directories skip the
    /// hierarchy, and the device policy is best effort.
    #[serde(default)]
    pub rootless: bool,
}

/// A hierarchy a rootless container has no cgroup on, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Skipped {
    pub hierarchy: Hierarchy,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Dir {
    pub hierarchy: Hierarchy,
    pub path: PathBuf,
    /// The top-most directory berth created; removed up to here on delete.
    pub created_from: Option<PathBuf>,
}

impl Dir {
    /// The file a process writes its pid (or 0) to to join this cgroup.
    pub fn join_file(&self) -> PathBuf {
        self.path.join(if self.hierarchy.v2 {
            "cgroup.procs"
        } else {
            "tasks"
        })
    }
}

const V1_OPTIONS_NOT_CONTROLLERS: &[&str] = &[
    "rw",
    "ro",
    "relatime",
    "noatime",
    "nosuid",
    "nodev",
    "noexec",
    "xattr",
    "clone_children",
    "noprefix",
    "cpuset_v2_mode",
    "favordynmods",
];

/// Parse mountinfo text into the cgroup hierarchies, first mount of each.
pub fn parse_mountinfo(text: &str) -> Vec<Hierarchy> {
    let mut out: Vec<Hierarchy> = Vec::new();
    for m in crate::linux::mountinfo::parse(text) {
        let controllers = match m.fstype.as_str() {
            "cgroup2" => Vec::new(),
            "cgroup" => {
                let mut c: Vec<String> = m
                    .super_options
                    .split(',')
                    .filter(|o| {
                        !V1_OPTIONS_NOT_CONTROLLERS.contains(o) && !o.starts_with("release_agent=")
                    })
                    .map(String::from)
                    .collect();
                c.sort();
                c
            }
            _ => continue,
        };
        let h = Hierarchy {
            mountpoint: PathBuf::from(m.mountpoint),
            root: m.root,
            v2: m.fstype == "cgroup2",
            controllers,
        };
        if !out
            .iter()
            .any(|o| o.v2 == h.v2 && o.controllers == h.controllers)
        {
            out.push(h);
        }
    }
    out
}

/// Which cgroup (path from the hierarchy root) a /proc/PID/cgroup text
/// puts a process in, for one hierarchy.
pub fn own_path(proc_cgroup: &str, h: &Hierarchy) -> Option<String> {
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        if h.v2 {
            if ctrls.is_empty() {
                return Some(path.to_string());
            }
        } else if !ctrls.is_empty() {
            let mut c: Vec<&str> = ctrls.split(',').collect();
            c.sort();
            if c == h.controllers.iter().map(String::as_str).collect::<Vec<_>>() {
                return Some(path.to_string());
            }
        }
    }
    None
}

/// Where the container's cgroup goes on each hierarchy: an absolute
/// cgroupsPath from each hierarchy's root; a relative one (or the default,
/// the container id) under berth's own cgroup there, as runc does. A
/// rootless berth on v2 puts it beside its own cgroup instead (see
/// `relative_base`).
pub fn locate(cgroups_path: Option<&Path>, id: &str, rootless: bool) -> Result<Cgroup> {
    let mountinfo = read_proc("/proc/self/mountinfo")?;
    let own = read_proc("/proc/self/cgroup")?;
    locate_in(
        &parse_mountinfo(&mountinfo),
        &own,
        cgroups_path,
        id,
        rootless,
    )
}

/// The cgroup a relative cgroupsPath starts from. v2's no-internal-process
/// rule: a cgroup that holds processes (berth's own: a login session, a
/// service, a user's delegated leaf) can never enable controllers for a
/// child. So on v2 berth starts from the parent of its own cgroup, as
/// runc's v2 driver does, and the container's cgroup becomes a sibling of
/// the caller's. On a hybrid host only rootless does so (its delegation
/// is v2); root keeps the v1 rule there, under its own cgroup, on every
/// hierarchy alike.
fn relative_base(own: &str, h: &Hierarchy, beside: bool) -> PathBuf {
    let base = PathBuf::from(own_path(own, h).unwrap_or_else(|| "/".into()));
    match base.parent() {
        Some(up) if beside && h.v2 => up.to_path_buf(),
        _ => base,
    }
}

/// procfs files report size 0: read them with one large buffer rather
/// than the small growing reads read_to_string starts with.
fn read_proc(path: &str) -> Result<String> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(64 * 1024);
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut buf))
        .sys("read", path)?;
    String::from_utf8(buf).map_err(|_| Error::msg(format!("{path} is not UTF-8")))
}

pub fn locate_in(
    hierarchies: &[Hierarchy],
    own: &str,
    cgroups_path: Option<&Path>,
    id: &str,
    rootless: bool,
) -> Result<Cgroup> {
    let wanted = match cgroups_path {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from(id),
    };
    if wanted
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(Error::config(
            "linux.cgroupsPath",
            format!("{} must not contain ..", wanted.display()),
        ));
    }
    if let Some(s) = wanted.to_str()
        && s.contains(':')
    {
        return Err(Error::config(
            "linux.cgroupsPath",
            format!("{s:?} is a systemd slice:prefix:name path: it needs --systemd-cgroup"),
        ));
    }
    let pure_v2 = hierarchies.iter().all(|h| h.v2);
    let mut dirs = Vec::new();
    for h in hierarchies {
        let from_root = if wanted.is_absolute() {
            wanted.clone()
        } else {
            relative_base(own, h, rootless || pure_v2).join(&wanted)
        };
        // A hierarchy mounted from a subtree shows paths below its root.
        let below = from_root.strip_prefix(&h.root).unwrap_or(&from_root);
        let rel = below.strip_prefix("/").unwrap_or(below).to_path_buf();
        dirs.push(Dir {
            path: h.mountpoint.join(rel),
            hierarchy: h.clone(),
            created_from: None,
        });
    }
    Ok(Cgroup {
        dirs,
        rootless,
        ..Default::default()
    })
}

/// What a rootless berth may not do to a cgroup directory: the kernel's
/// answer when the user does not own it.
fn is_permission(e: &Error) -> bool {
    use nix::errno::Errno;
    matches!(e.errno(), Some(Errno::EACCES | Errno::EPERM | Errno::EROFS))
}

impl Cgroup {
    /// mkdir -p every directory, remembering where creation began.
    /// mkdir -p every directory; on failure, what was made is removed. An
    /// existing cgroup is reused only when it holds no process: it may
    /// belong to another container.
    /// This cgroup as `create` is about to make it: each directory's
    /// `created_from` is the top-most one still missing. Recorded before
    /// the first mkdir, so that a create killed halfway through them can
    /// still be cleaned up; removing one that was never made is a no-op.
    pub fn planned(&self) -> Cgroup {
        let mut c = self.clone();
        for d in c.dirs.iter_mut().filter(|d| d.created_from.is_none()) {
            let mut p = d.path.as_path();
            while !p.exists() && p != d.hierarchy.mountpoint {
                d.created_from = Some(p.to_path_buf());
                p = match p.parent() {
                    Some(q) => q,
                    None => break,
                };
            }
        }
        c
    }

    pub fn create(&mut self) -> Result<()> {
        let r = self.make_dirs();
        if r.is_ok()
            && let [d] = self.dirs.as_slice()
            && d.hierarchy.v2
        {
            enable_all_controllers(d);
        }
        if r.is_err() {
            let _ = self.destroy();
        }
        r
    }

    fn make_dirs(&mut self) -> Result<()> {
        let mut i = 0;
        while i < self.dirs.len() {
            match Self::make_dir(&mut self.dirs[i], self.rootless) {
                Ok(()) => i += 1,
                // Where the user may not write (v1, or v2 without
                // delegation) the container simply has no cgroup; limits
                // asked for there are refused when they are applied.
                Err(e) if self.goes_on_without(&e) => {
                    let d = self.dirs.remove(i);
                    Self::unmake_dir(&d);
                    crate::logging::debug(&format!(
                        "rootless: no {} cgroup: {e}",
                        d.hierarchy.mount_name()
                    ));
                    self.skip(d, e);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The one rule for a hierarchy a create cannot have (foresee.rs asks
    /// it too): a rootless create goes on without it where the user may
    /// not write, and limits asked for there are refused when applied;
    /// any other failure is the create's.
    pub(super) fn goes_on_without(&self, e: &Error) -> bool {
        self.rootless && is_permission(e)
    }

    pub(super) fn skip(&mut self, d: Dir, e: Error) {
        self.skipped.push(Skipped {
            hierarchy: d.hierarchy,
            reason: e.to_string(),
        });
    }

    fn make_dir(d: &mut Dir, rootless: bool) -> Result<()> {
        mkdir_p(d)?;
        if d.created_from.is_none() {
            Self::unused(&d.path)?;
        }
        // An existing cgroup is only ours to use if we may move into it;
        // the init finds out too late to fall back.
        if rootless && d.created_from.is_none() {
            let join = d.join_file();
            nix::unistd::access(&join, nix::unistd::AccessFlags::W_OK)
                .sys("join cgroup: write", join.display())?;
        }
        Ok(())
    }

    /// A cgroup that is already there is ours only while no process is
    /// in it or below: it may be another container's.
    fn unused(dir: &Path) -> Result<()> {
        if subtree(dir).iter().any(|c| !procs(c).is_empty()) {
            return Err(Error::msg(format!(
                "cgroup {} already exists and holds processes (another container's?)",
                dir.display()
            )));
        }
        Ok(())
    }

    /// Remove what make_dir created of one directory (empty, so far).
    fn unmake_dir(d: &Dir) {
        let Some(top) = &d.created_from else {
            return;
        };
        let mut p = d.path.clone();
        loop {
            let _ = std::fs::remove_dir(&p);
            if &p == top || !p.pop() {
                break;
            }
        }
    }

    /// The v2 directory, for CLONE_INTO_CGROUP.
    pub fn v2_dir(&self) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|d| d.hierarchy.v2)
            .map(|d| d.path.as_path())
    }

    /// An fd on the v2 directory for clone3's CLONE_INTO_CGROUP (which
    /// refuses O_PATH fds).
    pub fn open_v2_dir(&self) -> Result<Option<std::os::fd::OwnedFd>> {
        use nix::fcntl::OFlag;
        self.v2_dir()
            .map(|d| {
                nix::fcntl::open(
                    d,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::empty(),
                )
                .sys("open cgroup", d.display())
            })
            .transpose()
    }

    fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|d| !d.hierarchy.v2 && d.hierarchy.controllers.iter().any(|c| c == controller))
            .map(|d| d.path.as_path())
    }

    /// Every hierarchy of the host, with or without a directory of ours.
    fn hierarchies(&self) -> impl Iterator<Item = &Hierarchy> {
        self.dirs
            .iter()
            .map(|d| &d.hierarchy)
            .chain(self.skipped.iter().map(|s| &s.hierarchy))
    }

    fn has_v1_controller(&self, controller: &str) -> bool {
        self.hierarchies()
            .any(|h| !h.v2 && h.controllers.iter().any(|c| c == controller))
    }

    /// Does a v1 memory controller account memory+swap here? It then
    /// keeps memsw at or above the memory limit.
    pub fn v1_memsw(&self) -> bool {
        self.v1_dir("memory")
            .is_some_and(|d| d.join("memory.memsw.limit_in_bytes").exists())
    }

    /// Host paths to show in the container's cgroup mount.
    pub fn mount_sources(&self) -> Vec<(String, PathBuf)> {
        if self.dirs.len() == 1 && self.dirs[0].hierarchy.v2 {
            return vec![(String::new(), self.dirs[0].path.clone())];
        }
        self.dirs
            .iter()
            .map(|d| (d.hierarchy.mount_name(), d.path.clone()))
            .collect()
    }

    /// Pids in the container's cgroup and the cgroups below it (from the
    /// first hierarchy that has the directory).
    pub fn pids(&self) -> Vec<i32> {
        for d in &self.dirs {
            if d.path.is_dir() {
                return subtree(&d.path).iter().flat_map(|c| procs(c)).collect();
            }
        }
        Vec::new()
    }

    /// Kill what is left, stop the systemd unit if there is one, and
    /// remove every directory berth created.
    pub fn destroy(&self) -> Result<()> {
        // Only what berth created is berth's to empty and remove; a unit
        // berth started is the container's whole. Killing first spares
        // StopUnit its SIGTERM and stop timeout.
        let ours: Vec<&Dir> = self
            .dirs
            .iter()
            .filter(|d| d.created_from.is_some() || self.systemd.is_some())
            .collect();
        for _ in 0..100 {
            let pids: Vec<i32> = ours
                .iter()
                .flat_map(|d| subtree(&d.path))
                .flat_map(|c| procs(&c))
                .collect();
            if pids.is_empty() {
                break;
            }
            for p in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let mut first_err = self
            .systemd
            .as_deref()
            .and_then(|unit| systemd::stop_unit(unit).err());
        for d in self.dirs.iter().filter(|d| d.created_from.is_some()) {
            let top = d.created_from.as_ref().expect("filtered above");
            // Cgroups made inside the container (nested), deepest first,
            // then ours up to where berth began creating.
            let mut order: Vec<PathBuf> = subtree(&d.path);
            let mut p = d.path.clone();
            while &p != top && p.pop() {
                order.push(p.clone());
            }
            for dir in order {
                if let Err(e) = rmdir_retry(&dir)
                    && first_err.is_none()
                {
                    first_err = Some(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// mkdir -p one directory, setting `created_from` to the top-most one
/// made as soon as it is made (so that a later failure still cleans up).
fn mkdir_p(d: &mut Dir) -> Result<()> {
    let mut missing = Vec::new();
    let mut p = d.path.as_path();
    while !p.exists() && p != d.hierarchy.mountpoint {
        missing.push(p.to_path_buf());
        p = match p.parent() {
            Some(q) => q,
            None => break,
        };
    }
    // An existing ancestor with an empty cpuset (a pod cgroup someone else
    // made and never filled) would leave ours empty too: fill the existing
    // part of the path from the top down first, as runc does.
    if d.hierarchy.controllers.iter().any(|c| c == "cpuset") {
        let mut existing: Vec<&Path> = p
            .ancestors()
            .take_while(|a| *a != d.hierarchy.mountpoint)
            .collect();
        existing.reverse();
        for a in existing {
            inherit_cpuset(a)?;
        }
    }
    for m in missing.iter().rev() {
        match std::fs::create_dir(m) {
            Ok(()) => {
                if d.created_from.is_none() {
                    d.created_from = Some(m.clone());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(Error::sys(
                    "create cgroup",
                    m.display(),
                    nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
                ));
            }
        }
        if d.hierarchy.controllers.iter().any(|c| c == "cpuset") {
            inherit_cpuset(m)?;
        }
    }
    Ok(())
}

/// The directories above `d` on its hierarchy, from its root down: the
/// ones whose cgroup.subtree_control decides what `d` may use.
fn parents_from_root(d: &Dir) -> Vec<&Path> {
    let mut chain: Vec<&Path> = d
        .path
        .ancestors()
        .skip(1)
        .take_while(|p| p.starts_with(&d.hierarchy.mountpoint))
        .collect();
    chain.reverse();
    chain
}

/// On a pure v2 host, every controller the root offers is enabled down
/// to the container's cgroup, as runc does, so that its files (memory.max,
/// pids.max, ...) are there to read and update even when the config sets
/// no limit. Best effort, controller by controller: a parent that holds
/// processes refuses (the no-internal-process rule), and resources asked
/// for are enabled again, with errors, when they are applied.
fn enable_all_controllers(d: &Dir) {
    let offered = std::fs::read_to_string(d.hierarchy.mountpoint.join("cgroup.controllers"))
        .unwrap_or_default();
    for dir in parents_from_root(d) {
        let f = dir.join("cgroup.subtree_control");
        let now = std::fs::read_to_string(&f).unwrap_or_default();
        for c in offered.split_whitespace() {
            if !now.split_whitespace().any(|n| n == c) {
                let _ = std::fs::write(&f, format!("+{c}"));
            }
        }
    }
}

/// A cgroup directory and all below it, deepest first.
fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(subtree(&e.path()));
            }
        }
    }
    if dir.is_dir() {
        out.push(dir.to_path_buf());
    }
    out
}

fn procs(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

fn rmdir_retry(p: &Path) -> Result<()> {
    for i in 0..200 {
        let r = std::fs::remove_dir(p)
            .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)));
        match r {
            Ok(()) | Err(nix::errno::Errno::ENOENT) => return Ok(()),
            // Exiting tasks leave a cgroup a moment after they are reaped.
            Err(nix::errno::Errno::EBUSY) if i < 199 => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            Err(e) => return Err(Error::sys("remove cgroup", p.display(), e)),
        }
    }
    Ok(())
}

/// A new v1 cpuset starts with no cpus or mems and refuses tasks: copy
/// the parent's.
fn inherit_cpuset(dir: &Path) -> Result<()> {
    let parent = dir.parent().unwrap_or(dir);
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let mine = dir.join(f);
        if std::fs::read_to_string(&mine)
            .map(|s| s.trim().is_empty())
            .unwrap_or(false)
        {
            let v =
                std::fs::read_to_string(parent.join(f)).sys("read", parent.join(f).display())?;
            std::fs::write(&mine, v.trim()).sys("write", mine.display())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) const HYBRID: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
99 31 0:32 / /mnt/again rw,relatime - cgroup cgroup rw,memory
";
    pub(super) const OWN: &str = "9:name=systemd:/\n4:memory:/outer/inner\n1:cpu:/\n0::/\n";

    #[test]
    fn hybrid_layout_is_read_from_mountinfo() {
        let h = parse_mountinfo(HYBRID);
        assert_eq!(h.len(), 4, "{h:?}");
        assert_eq!(h[0].controllers, ["cpu"]);
        assert_eq!(h[2].controllers, ["name=systemd"]);
        assert_eq!(h[2].mount_name(), "systemd");
        assert!(h[3].v2);
        assert_eq!(h[3].mount_name(), "unified");
    }

    #[test]
    fn relative_paths_go_under_our_own_cgroup() {
        let h = parse_mountinfo(HYBRID);
        let c = locate_in(&h, OWN, None, "abc", false).unwrap();
        let paths: Vec<_> = c.dirs.iter().map(|d| d.path.clone()).collect();
        assert_eq!(paths[0], PathBuf::from("/sys/fs/cgroup/cpu/abc"));
        assert_eq!(
            paths[1],
            PathBuf::from("/sys/fs/cgroup/memory/outer/inner/abc")
        );
        assert_eq!(paths[3], PathBuf::from("/sys/fs/cgroup/unified/abc"));
        let c = locate_in(&h, OWN, Some(Path::new("/pod/x")), "abc", false).unwrap();
        assert_eq!(c.dirs[1].path, PathBuf::from("/sys/fs/cgroup/memory/pod/x"));
    }

    #[test]
    fn on_pure_v2_relative_paths_go_beside_our_own_cgroup() {
        let h = parse_mountinfo("30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n");
        let own = "0::/user.slice/user-0.slice/session-1.scope\n";
        let c = locate_in(&h, own, None, "abc", false).unwrap();
        assert_eq!(
            c.dirs[0].path,
            PathBuf::from("/sys/fs/cgroup/user.slice/user-0.slice/abc")
        );
        // From the root cgroup there is nothing above it.
        let c = locate_in(&h, "0::/\n", Some(Path::new("x/y")), "abc", false).unwrap();
        assert_eq!(c.dirs[0].path, PathBuf::from("/sys/fs/cgroup/x/y"));
    }

    #[test]
    fn rootless_on_v2_goes_beside_its_own_cgroup() {
        let h = parse_mountinfo(HYBRID);
        let own = "4:memory:/outer/inner\n0::/user/deleg/caller\n";
        let c = locate_in(&h, own, None, "abc", true).unwrap();
        // v1 keeps the container under berth's own cgroup.
        assert_eq!(
            c.dirs[1].path,
            PathBuf::from("/sys/fs/cgroup/memory/outer/inner/abc")
        );
        assert_eq!(
            c.dirs[3].path,
            PathBuf::from("/sys/fs/cgroup/unified/user/deleg/abc")
        );
        assert!(c.rootless);
        // At the root there is nothing above; absolute paths are as given.
        let c = locate_in(&h, "0::/\n", Some(Path::new("x/y")), "abc", true).unwrap();
        assert_eq!(c.dirs[3].path, PathBuf::from("/sys/fs/cgroup/unified/x/y"));
        let c = locate_in(&h, own, Some(Path::new("/a")), "abc", true).unwrap();
        assert_eq!(c.dirs[3].path, PathBuf::from("/sys/fs/cgroup/unified/a"));
    }

    #[test]
    fn escaping_paths_and_systemd_form_are_refused() {
        let h = parse_mountinfo(HYBRID);
        assert!(locate_in(&h, OWN, Some(Path::new("/a/../../b")), "x", false).is_err());
        let e =
            locate_in(&h, OWN, Some(Path::new("system.slice:berth:x")), "x", false).unwrap_err();
        assert!(e.to_string().contains("systemd"), "{e}");
    }

    /// A v1 "pids" hierarchy mounted at a temp dir (files only, no kernel).
    fn temp_pids_hierarchy() -> (crate::tempdir::TempDir, Hierarchy) {
        let t = crate::tempdir::TempDir::new();
        let h = Hierarchy {
            mountpoint: t.path().to_path_buf(),
            root: "/".into(),
            v2: false,
            controllers: vec!["pids".into()],
        };
        (t, h)
    }

    #[test]
    fn an_existing_cgroup_with_processes_is_not_taken_nor_removed() {
        let (t, h) = temp_pids_hierarchy();
        std::fs::create_dir(t.path().join("busy")).unwrap();
        std::fs::write(t.path().join("busy/cgroup.procs"), "4242\n").unwrap();
        let mut c = locate_in(&[h], "1:pids:/\n", Some(Path::new("/busy")), "x", false).unwrap();
        let e = c.create().unwrap_err().to_string();
        assert!(e.contains("already exists and holds processes"), "{e}");
        c.destroy().unwrap();
        assert!(t.path().join("busy/cgroup.procs").exists());
    }

    #[test]
    fn create_and_destroy_against_a_temp_dir() {
        let (t, h) = temp_pids_hierarchy();
        std::fs::create_dir(t.path().join("existing")).unwrap();
        let mut c = locate_in(
            &[h],
            "1:pids:/\n",
            Some(Path::new("/existing/a/b")),
            "x",
            false,
        )
        .unwrap();
        c.create().unwrap();
        assert!(t.path().join("existing/a/b").is_dir());
        assert_eq!(
            c.dirs[0].created_from.as_deref(),
            Some(t.path().join("existing/a").as_path())
        );
        c.destroy().unwrap();
        assert!(!t.path().join("existing/a").exists());
        assert!(t.path().join("existing").is_dir());
    }
}
