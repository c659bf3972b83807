//! The container's root filesystem: propagation, the rootfs bind, config
//! mounts in order, /dev, masked and read-only paths, then pivot_root.
//! Every path inside the rootfs is resolved under the rootfs fd.

use crate::error::{Error, Result, SysContext};
use crate::linux::mounts::{self, Kind, MountPlan, Want, resolve_create};
use crate::linux::{selinux, sys};
use crate::spec::Bundle;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::{Mode, SFlag, makedev, mknodat};
use oci_spec::runtime::LinuxDeviceType;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Devices every container gets, as runc gives them: (name, major, minor).
const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

const DEV_LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// Make the rootfs a mount of its own under the chosen propagation and
/// return an O_PATH fd on it.
pub fn prepare_root(b: &Bundle) -> Result<OwnedFd> {
    let linux = b.spec.linux().as_ref();
    let prop = linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(mounts::propagation_flag)
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    // Nothing done below may propagate back to the host. pivot_root also
    // refuses a shared root or parent, and an unbindable tree cannot be
    // bound onto itself: shared and unbindable propagations are applied
    // to the new root after the switch (`finish_propagation`).
    let initial = if prop.intersects(MsFlags::MS_SHARED | MsFlags::MS_UNBINDABLE) {
        MsFlags::MS_SLAVE
    } else {
        prop
    };
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        initial | MsFlags::MS_REC,
        None::<&str>,
    )
    .sys("set propagation of", "/")?;
    mount(
        Some(&b.rootfs),
        &b.rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .sys("bind mount rootfs", b.rootfs.display())?;
    let fd = nix::fcntl::open(
        &b.rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .sys("open rootfs", b.rootfs.display())?;
    Ok(fd)
}

/// rootfsPropagation shared/rshared and unbindable/runbindable, applied
/// once the root is switched.
pub fn finish_propagation(b: &Bundle) -> Result<()> {
    let prop = b
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(mounts::propagation_flag);
    match prop {
        Some(p) if p.intersects(MsFlags::MS_SHARED | MsFlags::MS_UNBINDABLE) => {
            mount(None::<&str>, "/", None::<&str>, p, None::<&str>)
                .sys("set rootfsPropagation of", "/")
        }
        _ => Ok(()),
    }
}

/// Config mounts, in order, then /dev. A read-only /dev is mounted
/// writable, for the mounts and nodes made below it: the flags to remount
/// it with once the root is switched (`readonly_dev`) are returned. A
/// bind over the root itself replaces `root` with the new mount.
pub fn mount_all(
    b: &Bundle,
    root: &mut OwnedFd,
    cgroup_sources: &[(String, PathBuf)],
    in_userns: bool,
    prepared: &[Option<BorrowedFd>],
) -> Result<Option<MsFlags>> {
    let linux = b.spec.linux().as_ref();
    let mount_label = selinux::active(linux.and_then(|l| l.mount_label().as_deref()));
    let mut dev_ro = None;
    let mut root_id = sys::mount_and_inode(root.as_fd()).sys("statx", b.rootfs.display())?;
    for (i, m) in b.mounts.iter().enumerate() {
        let prepared = prepared.get(i).copied().flatten();
        let writable;
        let m = if m.dest.trim_end_matches('/') == "/dev" && m.flags.contains(MsFlags::MS_RDONLY) {
            dev_ro = Some(mounts::remount_bits(m.flags));
            writable = MountPlan {
                flags: m.flags - MsFlags::MS_RDONLY,
                ..m.clone()
            };
            &writable
        } else {
            m
        };
        let at = mounts::At {
            root: root.as_fd(),
            rootfs: &b.rootfs,
            over_root: false,
            root_id,
        };
        let over_root = mounts::apply(at, m, cgroup_sources, prepared)
            .map_err(|e| e.context(format!("mounts[{i}] ({})", m.dest)))?;
        if over_root {
            *root = nix::fcntl::open(
                &b.rootfs,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .sys("open rootfs", b.rootfs.display())?;
            root_id = sys::mount_and_inode(root.as_fd()).sys("statx", b.rootfs.display())?;
        }
        let root = root.as_fd();
        if let Some(label) = mount_label
            && matches!(&m.kind, Kind::Fs { fstype, .. } if fstype == "mqueue")
        {
            let top = resolve_create(root, &m.dest, Want::Dir)?;
            selinux::label_mount(top.as_fd(), &m.dest, label)?;
        }
    }
    let dev_is_host_bind = b
        .mounts
        .iter()
        .any(|m| m.dest.trim_end_matches('/') == "/dev" && matches!(m.kind, Kind::Bind { .. }));
    let root = root.as_fd();
    if !dev_is_host_bind {
        default_dev(root, in_userns)?;
    }
    for (i, d) in b
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(Error::config(
                    format!("linux.devices[{i}].type"),
                    "\"a\" is not a device type",
                ));
            }
        };
        // "/dev/fuse/" names /dev/fuse, as runc reads it.
        let path = path_str(d.path());
        make_device(
            root,
            path.trim_end_matches('/'),
            kind,
            d.major() as u64,
            d.minor() as u64,
            d.file_mode().unwrap_or(0o666),
            d.uid(),
            d.gid(),
            in_userns,
        )
        .map_err(|e| e.context(format!("linux.devices[{i}]")))?;
    }
    Ok(dev_ro)
}

/// A /dev the config wants read-only, made so once everything below it is
/// in place (runc does the same).
pub fn readonly_dev(flags: MsFlags) -> Result<()> {
    let dev = nix::fcntl::open(
        "/dev",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .sys("open", "/dev")?;
    mounts::remount(dev.as_fd(), flags, "/dev")
}

fn default_dev(root: BorrowedFd, in_userns: bool) -> Result<()> {
    for (name, major, minor) in DEFAULT_DEVICES {
        make_device(
            root,
            &format!("/dev/{name}"),
            SFlag::S_IFCHR,
            *major,
            *minor,
            0o666,
            None,
            None,
            in_userns,
        )?;
    }
    let dev = resolve_create(root, "/dev", Want::Dir)?;
    for (name, target) in DEV_LINKS {
        symlink_fresh(dev.as_fd(), name, target)?;
    }
    if std::path::Path::new("/proc/kcore").exists() {
        symlink_fresh(dev.as_fd(), "core", "/proc/kcore")?;
    }
    // ptmx follows the container's own devpts instance.
    symlink_fresh(dev.as_fd(), "ptmx", "pts/ptmx")?;
    for d in ["pts", "shm"] {
        resolve_create(root, &format!("/dev/{d}"), Want::Dir)?;
    }
    Ok(())
}

fn symlink_fresh(dir: BorrowedFd, name: &str, target: &str) -> Result<()> {
    // A device or link the image ships in /dev is replaced, never followed.
    match nix::unistd::unlinkat(dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(nix::errno::Errno::ENOENT) | Err(nix::errno::Errno::EISDIR) => {}
        Err(e) => return Err(Error::sys("remove", format!("/dev/{name}"), e)),
    }
    nix::unistd::symlinkat(target, dir, name).sys("symlink", format!("/dev/{name}"))
}

#[allow(clippy::too_many_arguments)]
fn make_device(
    root: BorrowedFd,
    path: &str,
    kind: SFlag,
    major: u64,
    minor: u64,
    mode: u32,
    uid: Option<u32>,
    gid: Option<u32>,
    in_userns: bool,
) -> Result<()> {
    let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
    if name.is_empty() {
        return Err(Error::msg(format!("device path {path} has no file name")));
    }
    let dir = resolve_create(root, parent, Want::Dir)?;
    match nix::unistd::unlinkat(dir.as_fd(), name, nix::unistd::UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(Error::sys("remove", path, e)),
    }
    if in_userns {
        // mknod is not allowed in a user namespace: bind the host's node.
        nix::fcntl::openat(
            dir.as_fd(),
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .sys("create", path)?;
        let target = resolve_create(root, path, Want::File)?;
        let host = host_device_path(kind, major, minor, path);
        mount(
            Some(host.as_str()),
            sys::fd_path(target.as_fd()).as_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .sys("bind device", format!("{host} on {path}"))?;
        return Ok(());
    }
    let perm = Mode::from_bits_truncate(mode & 0o7777);
    mknodat(dir.as_fd(), name, kind, perm, makedev(major, minor)).sys("mknod", path)?;
    // mknod honours the umask; set the asked-for mode exactly.
    nix::sys::stat::fchmodat(
        dir.as_fd(),
        name,
        perm,
        nix::sys::stat::FchmodatFlags::NoFollowSymlink,
    )
    .sys("chmod", path)?;
    if uid.is_some() || gid.is_some() {
        nix::unistd::fchownat(
            dir.as_fd(),
            name,
            uid.map(Into::into),
            gid.map(Into::into),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .sys("chown", path)?;
    }
    Ok(())
}

fn host_device_path(kind: SFlag, major: u64, minor: u64, path: &str) -> String {
    let t = if kind == SFlag::S_IFBLK {
        "block"
    } else {
        "char"
    };
    let by_number = format!("/dev/{t}/{major}:{minor}");
    if Path::new(&by_number).exists() {
        by_number
    } else {
        path.to_string()
    }
}

/// Bind the pty slave (by fd, never by path) over a fresh /dev/console:
/// whatever the image left there, a symlink included, is replaced first,
/// so the bind cannot be redirected (CVE-2025-52565).
pub fn bind_console(root: BorrowedFd, slave: BorrowedFd) -> Result<()> {
    let dev = resolve_create(root, "/dev", Want::Dir)?;
    match nix::unistd::unlinkat(
        dev.as_fd(),
        "console",
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    ) {
        Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(Error::sys("remove", "/dev/console", e)),
    }
    nix::fcntl::openat(
        dev.as_fd(),
        "console",
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .sys("create", "/dev/console")?;
    let console = sys::openat2(
        dev.as_fd(),
        "console",
        libc::O_PATH | libc::O_NOFOLLOW,
        0,
        sys::RESOLVE_NO_SYMLINKS,
    )
    .sys("open", "/dev/console")?;
    mount(
        Some(sys::fd_path(slave).as_str()),
        sys::fd_path(console.as_fd()).as_str(),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .sys("bind pty over", "/dev/console")
}

/// Open a maskedPaths/readonlyPaths entry inside the root, or None when
/// the image does not have it.
fn open_if_present(root: BorrowedFd, p: &str, what: &str) -> Result<Option<OwnedFd>> {
    match sys::openat2(
        root,
        p.trim_start_matches('/'),
        libc::O_PATH,
        0,
        sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS,
    ) {
        Ok(fd) => Ok(Some(fd)),
        Err(nix::errno::Errno::ENOENT) => Ok(None),
        Err(e) => Err(Error::sys(format!("open {what}"), p, e)),
    }
}

/// maskedPaths: a directory gets an empty read-only tmpfs, anything else
/// the verified /dev/null bound over it. Missing paths are skipped.
pub fn mask_paths(root: BorrowedFd, paths: &[String], null: BorrowedFd) -> Result<()> {
    for p in paths {
        let Some(fd) = open_if_present(root, p, "masked path")? else {
            continue;
        };
        let st = nix::sys::stat::fstat(&fd).sys("stat", p)?;
        let target = sys::fd_path(fd.as_fd());
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
            mount(
                Some("tmpfs"),
                target.as_str(),
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                Some("size=0k,nr_inodes=1"),
            )
            .sys("mask", p)?;
        } else {
            mount(
                Some(sys::fd_path(null).as_str()),
                target.as_str(),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .sys("mask", p)?;
        }
    }
    Ok(())
}

/// readonlyPaths: bind each onto itself, then remount read-only.
pub fn readonly_paths(root: BorrowedFd, paths: &[String]) -> Result<()> {
    for p in paths {
        let Some(fd) = open_if_present(root, p, "read-only path")? else {
            continue;
        };
        let target = sys::fd_path(fd.as_fd());
        mount(
            Some(target.as_str()),
            target.as_str(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .sys("bind read-only path", p)?;
        let top = sys::openat2(
            root,
            p.trim_start_matches('/'),
            libc::O_PATH,
            0,
            sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS,
        )
        .sys("open read-only path", p)?;
        mounts::remount(
            top.as_fd(),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            p,
        )?;
    }
    Ok(())
}

/// Open the host's /dev/null and check it is the real null device, so a
/// swapped node or symlink is never bound over a masked path
/// (CVE-2025-31133).
pub fn verified_null() -> Result<OwnedFd> {
    let fd = nix::fcntl::open(
        "/dev/null",
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .sys("open", "/dev/null")?;
    let st = nix::sys::stat::fstat(&fd).sys("stat", "/dev/null")?;
    let is_chr = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR;
    if !is_chr || st.st_rdev != makedev(1, 3) {
        return Err(Error::msg(
            "/dev/null is not the null device (char 1:3): refusing to use it",
        ));
    }
    Ok(fd)
}

/// Switch the root: pivot_root and drop the old root, or with --no-pivot
/// move the rootfs over / and chroot.
pub fn switch_root(rootfs: &Path, no_pivot: bool) -> Result<()> {
    if no_pivot {
        hide_host_proc_and_sys(rootfs)?;
    }
    nix::unistd::chdir(rootfs).sys("chdir", rootfs.display())?;
    if no_pivot {
        mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .sys("move rootfs to", "/")?;
        nix::unistd::chroot(".").sys("chroot", rootfs.display())?;
    } else {
        let old_root = nix::fcntl::open(
            "/",
            OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .sys("open", "old root")?;
        nix::unistd::pivot_root(".", ".").sys("pivot_root", rootfs.display())?;
        // The old root now sits on top of the new one. "." must name the
        // old root, not the new one under it: made a slave recursively,
        // the new tree would lose the shared mounts config.json asked for.
        nix::unistd::fchdir(&old_root).sys("fchdir", "old root")?;
        drop(old_root);
        // Keep its unmount from reaching the host, then detach it.
        mount(
            None::<&str>,
            ".",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )
        .sys("set propagation of", "old root")?;
        umount2(".", MntFlags::MNT_DETACH).sys("unmount", "old root")?;
    }
    nix::unistd::chdir("/").sys("chdir", "/")
}

/// Without pivot_root the host's mounts stay in the container's mount
/// namespace, under the moved rootfs. The kernel lets a new proc or sysfs
/// be mounted wherever one of that type is already fully visible in the
/// namespace, hidden or not: the host's would let the container mount a
/// proc with none of maskedPaths' and readonlyPaths' covers. So each proc
/// and sysfs outside the rootfs goes (with what is below it), or where it
/// cannot be unmounted (locked in a user namespace) a tmpfs covers it, as
/// runc does.
fn hide_host_proc_and_sys(rootfs: &Path) -> Result<()> {
    // Mountinfo names paths without symlinks.
    let rootfs = std::fs::canonicalize(rootfs).sys("resolve", rootfs.display())?;
    let text =
        std::fs::read_to_string("/proc/self/mountinfo").sys("read", "/proc/self/mountinfo")?;
    let mut points: Vec<String> = super::mountinfo::parse(&text)
        .into_iter()
        .filter(|m| m.fstype == "proc" || m.fstype == "sysfs")
        .map(|m| m.mountpoint)
        .filter(|p| !Path::new(p).starts_with(&rootfs))
        .collect();
    // Deepest first: an unmount of /proc takes /proc/sys/fs/binfmt_misc
    // with it, and a later attempt on that would only fail.
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        match umount2(p.as_str(), MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => {}
            Err(_) => mount(
                Some("tmpfs"),
                p.as_str(),
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY,
                Some("size=0"),
            )
            .sys("cover the host's", &p)?,
        }
    }
    Ok(())
}

/// A config without a mount namespace shares berth's, yet what berth
/// mounts for the container must not show there: runc and crun leave
/// those mounts in the host's table for good. So the tree is built in a
/// namespace of the init's own (this one, made here) and the container
/// ends up in berth's namespace again, its root a detached copy of the
/// tree (`enter_detached`), which goes when its last process does. The
/// fd returned is berth's namespace, to go back to.
pub fn build_apart() -> Result<OwnedFd> {
    // A magic link: the verified procfs handle would not follow it.
    let own = nix::fcntl::open(
        "/proc/self/ns/mnt",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .sys("open", "/proc/self/ns/mnt")?;
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .sys("unshare", "a mount namespace to build the root in")?;
    Ok(own)
}

/// Back into berth's mount namespace (`build_apart`), rooted in a
/// detached copy of the finished tree: nothing is attached to the
/// namespace's own table, and the namespace the tree was built in ends
/// with us leaving it.
pub fn enter_detached(own: OwnedFd) -> Result<()> {
    let tree =
        sys::open_tree_clone(Path::new("/"), true).sys("open_tree", "the container's root")?;
    nix::sched::setns(&own, nix::sched::CloneFlags::CLONE_NEWNS)
        .sys("setns", "back to berth's mount namespace")?;
    nix::unistd::fchdir(&tree).sys("fchdir", "the container's root")?;
    nix::unistd::chroot(".").sys("chroot", "the container's root")?;
    nix::unistd::chdir("/").sys("chdir", "/")
}

pub fn readonly_root() -> Result<()> {
    let base = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
    match mount(None::<&str>, "/", None::<&str>, base, None::<&str>) {
        // Inside a user namespace the root's locked flags must be kept.
        Err(nix::errno::Errno::EPERM) => {
            let st = nix::sys::statvfs::statvfs("/").sys("statvfs", "/")?;
            let locked = MsFlags::from_bits_truncate(st.flags().bits() as _)
                & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
            mount(None::<&str>, "/", None::<&str>, base | locked, None::<&str>)
                .sys("remount read-only", "/")
        }
        r => r.sys("remount read-only", "/"),
    }
}
