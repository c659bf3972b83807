//! config.json mounts: option parsing (before any fork) and the mount
//! calls themselves. Destinations are resolved inside the rootfs with
//! openat2(RESOLVE_IN_ROOT) and mounted through the resolved fd, so a
//! symlink in the image can never aim a mount at the host.

use crate::error::{Error, Result, SysContext};
use crate::linux::idmap::Idmap;
use crate::linux::resolve::lookup;
pub use crate::linux::resolve::{Want, resolve_create};
use crate::linux::sys;
use nix::fcntl::OFlag;
use nix::mount::{MsFlags, mount};
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A bind of a host path; `recursive` for rbind.
    Bind { source: PathBuf, recursive: bool },
    /// `type: cgroup`: the container's cgroups, one directory per hierarchy.
    Cgroup,
    /// Any other filesystem type, mounted fresh.
    Fs { fstype: String, source: String },
}

#[derive(Debug, Clone)]
pub struct MountPlan {
    pub dest: String,
    pub kind: Kind,
    pub flags: MsFlags,
    pub propagation: Vec<MsFlags>,
    pub data: String,
    pub tmpcopyup: bool,
    /// The recursive options (rro, rnosuid, ...): mount_setattr's set and
    /// clear masks for the whole tree, applied once it is mounted.
    pub recursive_attrs: Option<(u64, u64)>,
    /// An idmapped bind: prepared by `create` (see idmap.rs), attached here.
    /// Empty maps stand for the container's own (the `idmap` or `ridmap`
    /// option alone); spec.rs fills them in.
    pub idmap: Option<Idmap>,
}

/// Propagation option names to their mount(2) flags.
pub fn propagation_flag(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// (set, clear) for the flag options; everything else is filesystem data.
fn flag_option(name: &str) -> Option<(MsFlags, MsFlags)> {
    let f = |s| Some((s, MsFlags::empty()));
    let c = |s| Some((MsFlags::empty(), s));
    match name {
        "defaults" => Some((MsFlags::empty(), MsFlags::empty())),
        "ro" => f(MsFlags::MS_RDONLY),
        "rw" => c(MsFlags::MS_RDONLY),
        "nosuid" => f(MsFlags::MS_NOSUID),
        "suid" => c(MsFlags::MS_NOSUID),
        "nodev" => f(MsFlags::MS_NODEV),
        "dev" => c(MsFlags::MS_NODEV),
        "noexec" => f(MsFlags::MS_NOEXEC),
        "exec" => c(MsFlags::MS_NOEXEC),
        "sync" => f(MsFlags::MS_SYNCHRONOUS),
        "async" => c(MsFlags::MS_SYNCHRONOUS),
        "dirsync" => f(MsFlags::MS_DIRSYNC),
        "remount" => f(MsFlags::MS_REMOUNT),
        "mand" => f(MsFlags::MS_MANDLOCK),
        "nomand" => c(MsFlags::MS_MANDLOCK),
        "atime" => c(MsFlags::MS_NOATIME),
        "noatime" => f(MsFlags::MS_NOATIME),
        "diratime" => c(MsFlags::MS_NODIRATIME),
        "nodiratime" => f(MsFlags::MS_NODIRATIME),
        "relatime" => f(MsFlags::MS_RELATIME),
        "norelatime" => c(MsFlags::MS_RELATIME),
        "strictatime" => f(MsFlags::MS_STRICTATIME),
        "nostrictatime" => c(MsFlags::MS_STRICTATIME),
        "iversion" => f(MsFlags::MS_I_VERSION),
        "noiversion" => c(MsFlags::MS_I_VERSION),
        "lazytime" => f(MsFlags::MS_LAZYTIME),
        "nolazytime" => c(MsFlags::MS_LAZYTIME),
        "bind" => f(MsFlags::MS_BIND),
        "rbind" => f(MsFlags::MS_BIND | MsFlags::MS_REC),
        _ => None,
    }
}

/// Turn one config mount into a plan; bind sources are checked here so a
/// missing one fails before anything is created.
pub fn plan(m: &oci_spec::runtime::Mount, bundle: &Path) -> Result<MountPlan> {
    let dest = m.destination();
    if !dest.is_absolute() {
        return Err(Error::config(
            "destination",
            format!("{} must be an absolute path", dest.display()),
        ));
    }
    let dest = dest
        .to_str()
        .ok_or_else(|| Error::config("destination", "not valid UTF-8"))?
        .to_string();
    let mut flags = MsFlags::empty();
    let mut propagation = Vec::new();
    let mut data = Vec::new();
    let mut tmpcopyup = false;
    let mut idmap_opt = None;
    let mut recursive_attrs = None;
    for o in m.options().iter().flatten() {
        if let Some((set, clear)) = flag_option(o) {
            flags |= set;
            flags &= !clear;
        } else if let Some(p) = propagation_flag(o) {
            propagation.push(p);
        } else if o == "tmpcopyup" {
            tmpcopyup = true;
        } else if o == "idmap" || o == "ridmap" {
            idmap_opt = Some(o == "ridmap");
        } else if let Some((set, clr)) = recursive_attr(o) {
            let (s, c) = recursive_attrs.get_or_insert((0, 0));
            // A later option wins over an earlier one of the same field.
            *s = (*s & !clr) | set;
            *c = (*c & !set) | clr;
        } else {
            data.push(o.clone());
        }
    }
    let fstype = m.typ().clone().unwrap_or_default();
    let source = m.source().clone().unwrap_or_default();
    let is_bind = flags.contains(MsFlags::MS_BIND) || fstype == "bind";
    let kind = if is_bind {
        let source = if source.is_absolute() {
            source
        } else {
            bundle.join(source)
        };
        std::fs::metadata(&source).sys("stat bind source", source.display())?;
        let recursive = flags.contains(MsFlags::MS_REC);
        flags &= !(MsFlags::MS_BIND | MsFlags::MS_REC);
        Kind::Bind { source, recursive }
    } else if fstype == "cgroup" || fstype == "cgroup2" {
        Kind::Cgroup
    } else {
        if fstype.is_empty() {
            return Err(Error::config("type", "missing for a non-bind mount"));
        }
        Kind::Fs {
            fstype,
            source: source.to_string_lossy().into_owned(),
        }
    };
    // A bind over the root replaces the image's tree, as with runc; any
    // other filesystem there would leave nothing of the image to run.
    if is_root(&dest) && !matches!(kind, Kind::Bind { .. }) {
        return Err(Error::config(
            "destination",
            format!("{dest}: only a bind mount may go over the root itself"),
        ));
    }
    let uid = m.uid_mappings().clone().unwrap_or_default();
    let gid = m.gid_mappings().clone().unwrap_or_default();
    let idmap = if uid.is_empty() && gid.is_empty() && idmap_opt.is_none() {
        None
    } else {
        let Kind::Bind { recursive, .. } = &kind else {
            return Err(Error::config(
                "uidMappings",
                "idmapped mounts are supported for bind mounts only",
            ));
        };
        if uid.is_empty() != gid.is_empty() {
            return Err(Error::config(
                "gidMappings",
                "uidMappings and gidMappings go together on an idmapped mount",
            ));
        }
        for (field, maps) in [("uidMappings", &uid), ("gidMappings", &gid)] {
            if maps.iter().any(|m| m.size() == 0) {
                return Err(Error::config(field, "a mapping of size 0 maps nothing"));
            }
        }
        Some(Idmap {
            uid,
            gid,
            // Maps on an rbind cover its submounts unless `idmap` says
            // only the top.
            recursive: idmap_opt.unwrap_or(*recursive),
        })
    };
    Ok(MountPlan {
        dest,
        kind,
        flags,
        propagation,
        data: data.join(","),
        tmpcopyup,
        recursive_attrs,
        idmap,
    })
}

/// Whether a destination names the root itself (`/`, `/.`, `/a/..`).
pub fn is_root(dest: &str) -> bool {
    let mut depth = 0usize;
    for c in dest.split('/') {
        match c {
            "" | "." => {}
            ".." => depth = depth.saturating_sub(1),
            _ => depth += 1,
        }
    }
    depth == 0
}

/// The root of the mount just made at `dest`. The rootfs fd names the
/// mount below one made over the root itself: that one is found by the
/// rootfs's path, which the engine gave and the image cannot change.
fn top(at: At, dest: &str) -> Result<OwnedFd> {
    if at.over_root {
        nix::fcntl::open(
            at.rootfs,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .sys("open rootfs", at.rootfs.display())
    } else {
        resolve_create(at.root, dest, Want::Dir)
    }
}

/// Only a bind may go over the root (`plan` refuses the others by name;
/// this catches a destination the image's links lead there).
fn not_the_root(target: BorrowedFd, at: At, dest: &str) -> Result<()> {
    if resolves_to_root(target, at, dest)? {
        return Err(Error::config(
            "destination",
            format!("{dest} resolves to the root itself: only a bind mount may go over it"),
        ));
    }
    Ok(())
}

/// Where a destination resolved to is the root itself: named so (`/`,
/// `/a/..`) or through the image's links (`/data -> /`), which is only
/// known once resolved.
fn resolves_to_root(target: BorrowedFd, at: At, dest: &str) -> Result<bool> {
    Ok(sys::mount_and_inode(target).sys("statx", dest)? == at.root_id)
}

/// runtime-spec's recursive mount options (1.1+) and their mount_setattr
/// masks (set, clear). An atime value clears the whole atime field first,
/// as the kernel asks; ratime and rnostrictatime give the kernel's default
/// (relatime), rnorelatime full atime updates (strictatime).
pub const RECURSIVE_OPTIONS: [(&str, u64, u64); 18] = {
    use sys::*;
    const AT: u64 = MOUNT_ATTR_ATIME_MASK;
    [
        ("ratime", MOUNT_ATTR_RELATIME, AT),
        ("rdev", 0, MOUNT_ATTR_NODEV),
        ("rdiratime", 0, MOUNT_ATTR_NODIRATIME),
        ("rexec", 0, MOUNT_ATTR_NOEXEC),
        ("rnoatime", MOUNT_ATTR_NOATIME, AT),
        ("rnodev", MOUNT_ATTR_NODEV, 0),
        ("rnodiratime", MOUNT_ATTR_NODIRATIME, 0),
        ("rnoexec", MOUNT_ATTR_NOEXEC, 0),
        ("rnorelatime", MOUNT_ATTR_STRICTATIME, AT),
        ("rnostrictatime", MOUNT_ATTR_RELATIME, AT),
        ("rnosuid", MOUNT_ATTR_NOSUID, 0),
        ("rnosymfollow", MOUNT_ATTR_NOSYMFOLLOW, 0),
        ("rrelatime", MOUNT_ATTR_RELATIME, AT),
        ("rro", MOUNT_ATTR_RDONLY, 0),
        ("rrw", 0, MOUNT_ATTR_RDONLY),
        ("rstrictatime", MOUNT_ATTR_STRICTATIME, AT),
        ("rsuid", 0, MOUNT_ATTR_NOSUID),
        ("rsymfollow", 0, MOUNT_ATTR_NOSYMFOLLOW),
    ]
};

fn recursive_attr(name: &str) -> Option<(u64, u64)> {
    RECURSIVE_OPTIONS
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|&(_, set, clr)| (set, clr))
}

/// A bind mount's target is made like its source: a directory or a file.
fn want_like(source: &Path) -> Result<Want> {
    let dir = std::fs::metadata(source)
        .sys("stat", source.display())?
        .is_dir();
    Ok(if dir { Want::Dir } else { Want::File })
}

fn opt(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// The rootfs mounts go into: an fd on it, and its path (`top`); and
/// whether the mount at hand goes over the root itself.
#[derive(Clone, Copy)]
pub struct At<'a> {
    pub root: BorrowedFd<'a>,
    pub rootfs: &'a Path,
    pub over_root: bool,
    /// The rootfs's mount and inode (`sys::mount_and_inode`), asked once.
    pub root_id: (u64, u64, u64),
}

/// Bind `source` onto an fd, then apply ro/nosuid/... with a remount, which
/// a bind ignores on the first call.
pub fn bind(
    source: &Path,
    target: BorrowedFd,
    recursive: bool,
    flags: MsFlags,
    at: At,
    dest: &str,
) -> Result<()> {
    let rec = if recursive {
        MsFlags::MS_REC
    } else {
        MsFlags::empty()
    };
    mount(
        Some(source),
        sys::fd_path(target).as_str(),
        None::<&str>,
        MsFlags::MS_BIND | rec,
        None::<&str>,
    )
    .sys("bind mount", format!("{} on {dest}", source.display()))?;
    let bits = remount_bits(flags);
    if !bits.is_empty() {
        // The fd points below the new mount; open the mount's own root.
        let top = top(at, dest)?;
        remount(top.as_fd(), bits, dest)?;
    }
    Ok(())
}

/// The flags a bind takes only on a remount.
pub fn remount_bits(flags: MsFlags) -> MsFlags {
    flags
        & (MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC
            | MsFlags::MS_NOATIME
            | MsFlags::MS_NODIRATIME
            | MsFlags::MS_RELATIME
            | MsFlags::MS_STRICTATIME)
}

/// Remount a bind with new flags, keeping the flags the kernel locks
/// (inside a user namespace nodev/nosuid/noexec of the source cannot be
/// cleared and asking to would fail with EPERM).
pub fn remount(target: BorrowedFd, flags: MsFlags, what: &str) -> Result<()> {
    let path = sys::fd_path(target);
    let base = MsFlags::MS_REMOUNT | MsFlags::MS_BIND;
    match mount(
        None::<&str>,
        path.as_str(),
        None::<&str>,
        base | flags,
        None::<&str>,
    ) {
        Err(nix::errno::Errno::EPERM) => {
            let st = nix::sys::statvfs::fstatvfs(target).sys("statvfs", what)?;
            let f = st.flags();
            use nix::sys::statvfs::FsFlags;
            let mut locked = MsFlags::empty();
            for (s, m) in [
                (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
                (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
                (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
                (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
                (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
                (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
                (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
            ] {
                if f.contains(s) {
                    locked |= m;
                }
            }
            mount(
                None::<&str>,
                path.as_str(),
                None::<&str>,
                base | flags | locked,
                None::<&str>,
            )
            .sys("remount", what)
        }
        r => r.sys("remount", what),
    }
}

/// Mount one planned filesystem inside the rootfs. `prepared` is what
/// create made ready for a bind: the detached tree of an idmapped one, or
/// the source opened for the init of a user namespace (bindsrc.rs).
/// Says whether the mount went over the root itself, which the caller's
/// rootfs fd no longer reaches.
pub fn apply(
    at: At,
    m: &MountPlan,
    cgroup_sources: &[(String, PathBuf)],
    prepared: Option<BorrowedFd>,
) -> Result<bool> {
    let root = at.root;
    let mut at = at;
    match &m.kind {
        Kind::Bind { source, recursive } => {
            // The target is made like the source: a directory or a file.
            let want = match prepared {
                Some(fd) => {
                    let st = nix::sys::stat::fstat(fd).sys("stat", source.display())?;
                    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                        Want::Dir
                    } else {
                        Want::File
                    }
                }
                None => want_like(source)?,
            };
            let target = resolve_create(root, &m.dest, want)?;
            at.over_root = resolves_to_root(target.as_fd(), at, &m.dest)?;
            if m.idmap.is_some() {
                let detached = prepared
                    .ok_or_else(|| Error::msg("idmapped mount was not prepared by create"))?;
                sys::move_mount_fds(detached, target.as_fd()).sys(
                    "move_mount idmapped",
                    format!("{} on {}", source.display(), m.dest),
                )?;
                let bits = remount_bits(m.flags);
                if !bits.is_empty() {
                    let top = top(at, &m.dest)?;
                    remount(top.as_fd(), bits, &m.dest)?;
                }
            } else if let Some(fd) = prepared {
                let opened = PathBuf::from(sys::fd_path(fd));
                bind(&opened, target.as_fd(), *recursive, m.flags, at, &m.dest)
                    .map_err(|e| e.context(format!("source {}", source.display())))?;
            } else {
                bind(source, target.as_fd(), *recursive, m.flags, at, &m.dest)?;
            }
        }
        Kind::Fs { fstype, source } => {
            if fstype == "proc" || fstype == "sysfs" {
                ordinary_directory(root, &m.dest, fstype)?;
            }
            // A tmpfs given no mode keeps the mode of the directory the
            // image has there, as with runc (the kernel's default, which a
            // new mount point gets, is 1777).
            let tmpfs_mode =
                if fstype == "tmpfs" && !m.data.split(',').any(|o| o.starts_with("mode=")) {
                    lookup(root, &m.dest)
                        .ok()
                        .map(|fd| nix::sys::stat::fstat(fd.as_fd()).sys("stat", &m.dest))
                        .transpose()?
                        .map(|st| format!("mode={:o}", st.st_mode & 0o7777))
                } else {
                    None
                };
            let target = resolve_create(root, &m.dest, Want::Dir)?;
            not_the_root(target.as_fd(), at, &m.dest)?;
            let data = match (&tmpfs_mode, m.data.is_empty()) {
                (Some(mode), true) => mode.clone(),
                (Some(mode), false) => format!("{},{mode}", m.data),
                (None, _) => m.data.clone(),
            };
            let below = if m.tmpcopyup {
                Some(
                    nix::fcntl::openat(
                        target.as_fd(),
                        ".",
                        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    )
                    .sys("open for tmpcopyup", &m.dest)?,
                )
            } else {
                None
            };
            let r = mount(
                opt(source).or(Some(fstype.as_str())),
                sys::fd_path(target.as_fd()).as_str(),
                Some(fstype.as_str()),
                m.flags & !MsFlags::MS_REMOUNT,
                opt(&data),
            );
            match r {
                // A user namespace may mount sysfs only along with a
                // network namespace of its own. Without one (a rootless
                // container on the host's network, or one joined by path),
                // the host's /sys is bound instead, with the same options,
                // as runc does and as runc's rootless spec asks.
                Err(nix::errno::Errno::EPERM) if fstype == "sysfs" => {
                    crate::logging::debug(&format!(
                        "mount sysfs on {}: not permitted here, binding the host's /sys",
                        m.dest
                    ));
                    bind(
                        Path::new("/sys"),
                        target.as_fd(),
                        true,
                        m.flags,
                        at,
                        &m.dest,
                    )?;
                }
                Err(nix::errno::Errno::ENODEV) => return Err(no_such_fstype(fstype, &m.dest)),
                r => r.sys(&format!("mount {fstype}"), &m.dest)?,
            }
            if let Some(below) = below {
                let top = top(at, &m.dest)?;
                copy_tree(
                    Path::new(&sys::fd_path(below.as_fd())),
                    Path::new(&sys::fd_path(top.as_fd())),
                )
                .map_err(|e| e.context(format!("tmpcopyup {}", m.dest)))?;
            }
        }
        Kind::Cgroup => {
            let target = resolve_create(root, &m.dest, Want::Dir)?;
            not_the_root(target.as_fd(), at, &m.dest)?;
            mount(
                Some("tmpfs"),
                sys::fd_path(target.as_fd()).as_str(),
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                Some("mode=755"),
            )
            .sys("mount tmpfs for cgroups", &m.dest)?;
            for (name, host) in cgroup_sources {
                let dest = format!("{}/{}", m.dest.trim_end_matches('/'), name);
                let t = resolve_create(root, &dest, Want::Dir)?;
                bind(host, t.as_fd(), false, MsFlags::empty(), at, &dest)?;
            }
            // One recursive mount_setattr applies the options to the tmpfs
            // and every hierarchy under it.
            let mut set = sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOEXEC;
            if m.flags.contains(MsFlags::MS_RDONLY) {
                set |= sys::MOUNT_ATTR_RDONLY;
            }
            let top = top(at, &m.dest)?;
            sys::mount_setattr(top.as_fd(), set, true)
                .sys("set options of cgroup mount", &m.dest)?;
        }
    }
    if let Some((set, clr)) = m.recursive_attrs {
        let top = top(at, &m.dest)?;
        sys::mount_setattr_clr(top.as_fd(), set, clr, true)
            .sys("set recursive mount options of", &m.dest)?;
    }
    if !m.propagation.is_empty() {
        let top = top(at, &m.dest)?;
        for p in &m.propagation {
            mount(
                None::<&str>,
                sys::fd_path(top.as_fd()).as_str(),
                None::<&str>,
                *p,
                None::<&str>,
            )
            .sys("set mount propagation", &m.dest)?;
        }
    }
    Ok(at.over_root)
}

/// proc and sysfs go only on a directory the image really has there, not
/// on a symlink (whatever it resolves to) nor a file: mounting through a
/// link is how more than one escape began. runc and youki refuse it too.
fn ordinary_directory(root: BorrowedFd, dest: &str, fstype: &str) -> Result<()> {
    let path = Path::new(dest);
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(());
    };
    let dir = resolve_create(root, &parent.to_string_lossy(), Want::Dir)?;
    match nix::sys::stat::fstatat(dir.as_fd(), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(e) => Err(Error::sys("stat", dest, e)),
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => Ok(()),
        Ok(st) => Err(Error::config(
            "mounts",
            format!(
                "{fstype} on {dest}: the image has a {} there, not a directory",
                if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                    "symlink"
                } else {
                    "file"
                }
            ),
        )),
    }
}

/// Copy a directory tree (tmpcopyup): contents, modes, owners, symlinks.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::symlink_metadata(from).sys("stat", from.display())?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
        .sys("chmod", to.display())?;
    nix::unistd::chown(to, Some(meta.uid().into()), Some(meta.gid().into()))
        .sys("chown", to.display())?;
    for entry in std::fs::read_dir(from).sys("read dir", from.display())? {
        let entry = entry.sys("read dir", from.display())?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let m = std::fs::symlink_metadata(&src).sys("stat", src.display())?;
        let ft = m.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&dst).sys("mkdir", dst.display())?;
            copy_tree(&src, &dst)?;
        } else if ft.is_symlink() {
            let t = std::fs::read_link(&src).sys("readlink", src.display())?;
            std::os::unix::fs::symlink(&t, &dst).sys("symlink", dst.display())?;
            std::os::unix::fs::lchown(&dst, Some(m.uid()), Some(m.gid()))
                .sys("chown", dst.display())?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst).sys("copy", src.display())?;
            nix::unistd::chown(&dst, Some(m.uid().into()), Some(m.gid().into()))
                .sys("chown", dst.display())?;
        }
    }
    Ok(())
}

/// A filesystem type the kernel does not have: mount's ENODEV, said so.
pub fn no_such_fstype(fstype: &str, dest: &str) -> Error {
    Error::sys(format!("mount {fstype}"), dest, nix::errno::Errno::ENODEV)
        .context(format!("{fstype:?} is not a filesystem this kernel has"))
}

/// Whether a mount of `fstype` can find it: listed in /proc/filesystems,
/// or a module the kernel loads on demand (modules.alias "fs-TYPE").
pub fn fstype_known(fstype: &str) -> bool {
    // fuse.sshfs is fuse to the kernel.
    let fstype = fstype.split('.').next().unwrap_or(fstype);
    let listed = std::fs::read_to_string("/proc/filesystems").is_ok_and(|t| {
        t.lines()
            .any(|l| l.split_whitespace().last() == Some(fstype))
    });
    listed
        || nix::sys::utsname::uname().is_ok_and(|u| {
            let alias = Path::new("/lib/modules")
                .join(u.release())
                .join("modules.alias");
            std::fs::read_to_string(alias).is_ok_and(|t| {
                t.lines()
                    .any(|l| l.starts_with(&format!("alias fs-{fstype} ")))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::Mount;

    fn mnt(json: &str) -> Mount {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_root_is_named_many_ways_and_only_a_bind_goes_over_it() {
        for d in ["/", "//", "/.", "/a/..", "/.."] {
            assert!(is_root(d), "{d}");
        }
        for d in ["/a", "/a/../b", "/..a"] {
            assert!(!is_root(d), "{d}");
        }
        let e = plan(
            &mnt(r#"{"destination": "/", "type": "tmpfs", "source": "tmpfs"}"#),
            Path::new("/"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("only a bind mount"), "{e}");
        let p = plan(
            &mnt(r#"{"destination": "/", "type": "bind", "source": "/tmp"}"#),
            Path::new("/"),
        )
        .unwrap();
        assert!(matches!(p.kind, Kind::Bind { .. }));
    }

    #[test]
    fn options_split_into_flags_propagation_and_data() {
        let p = plan(
            &mnt(r#"{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k","rprivate"]}"#),
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(p.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(p.data, "mode=755,size=65536k");
        assert_eq!(p.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
    }

    #[test]
    fn later_options_override_earlier_ones() {
        let p = plan(
            &mnt(r#"{"destination":"/x","type":"tmpfs","source":"tmpfs","options":["ro","rw","noexec"]}"#),
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(p.flags, MsFlags::MS_NOEXEC);
    }

    #[test]
    fn bind_sources_are_bundle_relative_and_must_exist() {
        let p = plan(
            &mnt(r#"{"destination":"/x","type":"bind","source":"tmp","options":["rbind","ro"]}"#),
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(
            p.kind,
            Kind::Bind {
                source: PathBuf::from("/tmp"),
                recursive: true
            }
        );
        assert_eq!(p.flags, MsFlags::MS_RDONLY);
        let e = plan(
            &mnt(r#"{"destination":"/x","source":"/no/such/dir","options":["bind"]}"#),
            Path::new("/"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("/no/such/dir: no such file or directory"), "{e}");
    }
}
