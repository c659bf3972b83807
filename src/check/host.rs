//! The host's findings: cgroups, privileges, kernel features, the state
//! root. Each probe asks the kernel the way create would, without
//! changing anything.

use super::{Context, Finding, Level};
use crate::cgroups::{self, Hierarchy};
use nix::errno::Errno;
use std::path::{Path, PathBuf};

/// Controllers a config commonly needs, and what asks for each.
const WANTED: &[(&str, &str)] = &[
    ("cpu", "linux.resources.cpu shares, quota and period"),
    ("cpuset", "linux.resources.cpu cpus and mems"),
    ("memory", "linux.resources.memory, and OOM reporting"),
    ("pids", "linux.resources.pids"),
    ("io", "linux.resources.blockIO (blkio on v1)"),
    ("hugetlb", "linux.resources.hugepageLimits"),
];

fn finding(check: &'static str, level: Level, found: impl Into<String>) -> Finding {
    Finding::new("cgroups", check, level, found.into())
}

pub fn cgroups(out: &mut Vec<Finding>) {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let hs = cgroups::parse_mountinfo(&mountinfo);
    let v1: Vec<&Hierarchy> = hs.iter().filter(|h| !h.v2).collect();
    let v2 = hs.iter().find(|h| h.v2);
    let layout = match (v1.is_empty(), v2) {
        (true, None) => {
            out.push(
                finding("layout", Level::Fail, "no cgroup hierarchy is mounted")
                    .means("create cannot place a container anywhere")
                    .fix("mount cgroup2 at /sys/fs/cgroup (or the v1 controllers below it)"),
            );
            return;
        }
        (true, Some(h)) => format!("v2 (unified) at {}", h.mountpoint.display()),
        (false, None) => format!("v1: {} hierarchies", v1.len()),
        (false, Some(h)) => format!(
            "hybrid: {} v1 hierarchies, cgroup2 at {}",
            v1.len(),
            h.mountpoint.display()
        ),
    };
    out.push(finding("layout", Level::Ok, layout));

    // Where each controller is: a v1 hierarchy binds it, else v2 offers
    // it at its root.
    let v2_ctrls: Vec<String> = v2
        .and_then(|h| std::fs::read_to_string(h.mountpoint.join("cgroup.controllers")).ok())
        .map(|t| t.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let on_v1 = |c: &str| v1.iter().any(|h| h.controllers.iter().any(|x| x == c));
    let mut listed: Vec<String> = Vec::new();
    let mut v1_all: Vec<&str> = v1
        .iter()
        .flat_map(|h| h.controllers.iter().map(String::as_str))
        .filter(|c| !c.starts_with("name="))
        .collect();
    v1_all.sort_unstable();
    if !v1_all.is_empty() {
        listed.push(format!("v1: {}", v1_all.join(" ")));
    }
    if !v2_ctrls.is_empty() {
        listed.push(format!("v2: {}", v2_ctrls.join(" ")));
    }
    out.push(finding(
        "controllers",
        Level::Ok,
        if listed.is_empty() {
            "none".into()
        } else {
            listed.join("; ")
        },
    ));
    let missing: Vec<&(&str, &str)> = WANTED
        .iter()
        .filter(|(c, _)| {
            let v1_name = if *c == "io" { "blkio" } else { c };
            !on_v1(v1_name) && !v2_ctrls.iter().any(|x| x == c)
        })
        .collect();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|(c, _)| *c).collect();
        let uses: Vec<String> = missing
            .iter()
            .map(|(c, why)| format!("{c}: {why}"))
            .collect();
        out.push(
            finding("missing-controllers", Level::Warn, names.join(" "))
                .means(format!(
                    "configs that set these fail at create ({})",
                    uses.join("; ")
                ))
                .fix("enable the controllers in the kernel and mount them (v1), or enable them in the root's cgroup.subtree_control (v2)"),
        );
    }
    systemd(out);
    delegation(out, v2);
}

fn systemd(out: &mut Vec<Finding>) {
    let pid1 = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
    let pid1 = pid1.trim();
    if pid1 == "systemd" && Path::new("/run/systemd/system").is_dir() {
        out.push(finding(
            "systemd",
            Level::Ok,
            "systemd is PID 1: --systemd-cgroup can ask it for units",
        ));
    } else {
        out.push(
            finding(
                "systemd",
                Level::Info,
                format!(
                    "PID 1 is {}, not systemd",
                    if pid1.is_empty() { "unknown" } else { pid1 }
                ),
            )
            .means("--systemd-cgroup is refused here; berth manages cgroups itself (cgroupfs), the default")
            .fix("configure engines with the cgroupfs driver"),
        );
    }
}

/// A rootless caller on v2 can have limits only in a cgroup it was
/// delegated (one it owns, with controllers enabled for it).
fn delegation(out: &mut Vec<Finding>, v2: Option<&Hierarchy>) {
    if nix::unistd::geteuid().is_root() && !crate::linux::userns::in_user_namespace() {
        return;
    }
    let Some(h) = v2 else {
        out.push(
            finding(
                "delegation",
                Level::Warn,
                "no cgroup v2: nothing can be delegated",
            )
            .means("rootless containers run without resource limits")
            .fix("boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1)"),
        );
        return;
    };
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let rel = cgroups::own_path(&own, h).unwrap_or_else(|| "/".into());
    let dir = h.mountpoint.join(rel.trim_start_matches('/'));
    // Rootless containers go beside our cgroup: its parent must be ours
    // (at the hierarchy's root, the root itself).
    let parent = match dir.parent() {
        Some(up) if dir != h.mountpoint => up.to_path_buf(),
        _ => dir.clone(),
    };
    let writable = nix::unistd::access(&parent, nix::unistd::AccessFlags::W_OK).is_ok();
    let ctrls = std::fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap_or_default();
    if writable {
        out.push(finding(
            "delegation",
            Level::Ok,
            format!(
                "{} is delegated to us, controllers: {}",
                parent.display(),
                if ctrls.trim().is_empty() {
                    "none"
                } else {
                    ctrls.trim()
                }
            ),
        ));
    } else {
        out.push(
            finding("delegation", Level::Warn, format!("{} is not ours to write", parent.display()))
                .means("rootless containers run without resource limits (cgroups skipped)")
                .fix("log in through systemd-logind (user@.service delegates a subtree) or run under `systemd-run --user --scope -p Delegate=yes`"),
        );
    }
}

fn pfinding(check: &'static str, level: Level, found: impl Into<String>) -> Finding {
    Finding::new("privileges", check, level, found.into())
}

/// What a capability missing from the bounding set takes away.
fn without(cap: caps::Capability) -> (&'static str, Level) {
    use caps::Capability::*;
    match cap {
        CAP_SYS_ADMIN => (
            "no mounts, no namespaces: no container can be created",
            Level::Fail,
        ),
        CAP_SYS_RESOURCE => (
            "raising a hard rlimit (process.rlimits above the current hard limit) fails with EPERM, and so does an oomScoreAdj below the caller's (containerd's CRI needs restrict_oom_score_adj); no container can be given CAP_SYS_RESOURCE (Docker --privileged fails)",
            Level::Warn,
        ),
        CAP_SETUID | CAP_SETGID => (
            "process.user cannot be switched and user namespace maps beyond our own id need newuidmap",
            Level::Fail,
        ),
        CAP_MKNOD => (
            "linux.devices cannot be created; they are bind-mounted from the host's /dev instead",
            Level::Warn,
        ),
        _ => ("no container can be given it", Level::Warn),
    }
}

pub fn privileges(out: &mut Vec<Finding>) {
    let root = nix::unistd::geteuid().is_root();
    let bounding = caps::read(None, caps::CapSet::Bounding).unwrap_or_default();
    let effective = caps::read(None, caps::CapSet::Effective).unwrap_or_default();
    let kernel = caps::runtime::thread_all_supported();
    let mut missing: Vec<caps::Capability> = kernel
        .into_iter()
        .filter(|c| !bounding.contains(c))
        .collect();
    missing.sort_by_key(|c| c.to_string());
    if missing.is_empty() {
        out.push(pfinding(
            "bounding",
            Level::Ok,
            "every capability this kernel has is in the bounding set",
        ));
    }
    for c in missing {
        let (means, level) = without(c);
        let level = if root { level } else { Level::Info };
        out.push(
            pfinding("bounding", level, format!("{c} is not in the bounding set"))
                .means(means)
                .fix("run berth from a process that keeps it (a container runtime needs the full bounding set; check the service or container that starts berth)"),
        );
    }
    if root && !effective.contains(&caps::Capability::CAP_SYS_ADMIN) {
        out.push(
            pfinding(
                "effective",
                Level::Fail,
                "root without CAP_SYS_ADMIN in effect",
            )
            .means("no mount or namespace can be made")
            .fix("run berth with its capabilities in effect"),
        );
    } else if !root {
        out.push(
            pfinding(
                "effective",
                Level::Info,
                format!("not root (uid {})", nix::unistd::geteuid()),
            )
            .means(
                "containers must have a user namespace (rootless); cgroups only where delegated",
            ),
        );
    }
    // SAFETY: PR_GET_NO_NEW_PRIVS takes no pointers.
    let nnp = unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) };
    if nnp == 1 {
        out.push(
            pfinding("no-new-privs", Level::Warn, "no_new_privs is already set on this process")
                .means("every container inherits it: set-user-ID programs gain nothing inside, and SELinux or AppArmor transitions at exec are refused")
                .fix("start berth from a process without it (systemd NoNewPrivileges=, a parent container's setting)"),
        );
    }
    user_namespaces(out, root);
}

fn read_number(path: &str) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()))
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The caller's subordinate id ranges in /etc/subuid or /etc/subgid.
fn sub_ids(file: &str, user: &str, uid: u32) -> u64 {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let (who, _, count) = (f.next()?, f.next()?, f.next()?);
            (who == user || who == uid.to_string())
                .then(|| count.trim().parse::<u64>().ok())
                .flatten()
        })
        .sum()
}

fn user_namespaces(out: &mut Vec<Finding>, root: bool) {
    let exists = Path::new("/proc/self/ns/user").exists();
    let max = read_number("/proc/sys/user/max_user_namespaces");
    let unpriv = read_number("/proc/sys/kernel/unprivileged_userns_clone");
    if !exists || max == Some(0) {
        out.push(
            pfinding(
                "user-namespaces",
                if root { Level::Warn } else { Level::Fail },
                if exists {
                    "user.max_user_namespaces is 0".to_string()
                } else {
                    "this kernel has no user namespaces".to_string()
                },
            )
            .means("configs with a user namespace (rootless, Kubernetes hostUsers: false, Podman --userns) fail")
            .fix("sysctl user.max_user_namespaces=15000"),
        );
    } else {
        let mut found = format!(
            "available (user.max_user_namespaces {})",
            max.map_or("unknown".into(), |m| m.to_string())
        );
        if let Some(u) = unpriv {
            found.push_str(&format!(", kernel.unprivileged_userns_clone {u}"));
        }
        let level = if !root && unpriv == Some(0) {
            Level::Fail
        } else {
            Level::Ok
        };
        let mut f = pfinding("user-namespaces", level, found);
        if level == Level::Fail {
            f = f
                .means(
                    "an unprivileged user cannot create a user namespace: rootless containers fail",
                )
                .fix("sysctl kernel.unprivileged_userns_clone=1");
        }
        out.push(f);
    }
    if root {
        return;
    }
    let uid = nix::unistd::geteuid().as_raw();
    let user = crate::state::user_name(uid);
    let subuid = sub_ids("/etc/subuid", &user, uid);
    let subgid = sub_ids("/etc/subgid", &user, uid);
    let helpers = on_path("newuidmap").is_some() && on_path("newgidmap").is_some();
    if subuid == 0 || subgid == 0 || !helpers {
        out.push(
            pfinding(
                "id-ranges",
                Level::Warn,
                format!(
                    "{user}: {subuid} subordinate uids, {subgid} gids; newuidmap and newgidmap {}",
                    if helpers { "installed" } else { "missing" }
                ),
            )
            .means("a rootless container can map only your own id: images with other owners or a process.user other than 0 fail")
            .fix(format!(
                "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}; apt-get install uidmap"
            )),
        );
    } else {
        out.push(pfinding(
            "id-ranges",
            Level::Ok,
            format!("{user}: {subuid} subordinate uids, {subgid} gids; newuidmap and newgidmap installed"),
        ));
    }
}

fn kfinding(check: &'static str, level: Level, found: impl Into<String>) -> Finding {
    Finding::new("kernel", check, level, found.into())
}

/// Probe a system call with every argument -1 or 0 (an invalid fd, null
/// pointers, sizes of 0), which it must refuse: ENOSYS means the kernel
/// lacks it, any other answer that it has it.
fn has_syscall(nr: libc::c_long, first: libc::c_long) -> bool {
    // SAFETY: the kernel refuses these arguments (EBADF, EFAULT, EINVAL)
    // before it touches memory or state.
    let r = unsafe { libc::syscall(nr, first, 0, 0, 0, 0, 0) };
    r >= 0 || Errno::last() != Errno::ENOSYS
}

/// (flag, name, what needs it)
const SECCOMP_FLAGS: &[(u32, &str, &str)] = &[
    (1 << 0, "TSYNC", "filters on every thread"),
    (1 << 1, "LOG", "linux.seccomp.flags SECCOMP_FILTER_FLAG_LOG"),
    (
        1 << 2,
        "SPEC_ALLOW",
        "linux.seccomp.flags SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    ),
    (
        1 << 3,
        "NEW_LISTENER",
        "SCMP_ACT_NOTIFY and linux.seccomp.listenerPath",
    ),
];

fn seccomp(out: &mut Vec<Finding>) {
    let actions = std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").ok();
    let Some(actions) = actions else {
        out.push(
            kfinding("seccomp", Level::Warn, "no seccomp in this kernel")
                .means("configs with linux.seccomp (every engine's default profile) fail")
                .fix("a kernel with CONFIG_SECCOMP_FILTER"),
        );
        return;
    };
    let mut have = Vec::new();
    let mut lack = Vec::new();
    for (flag, name, need) in SECCOMP_FLAGS {
        if crate::linux::seccomp::kernel_knows(*flag) {
            have.push(*name);
        } else {
            lack.push(format!("{name} ({need})"));
        }
    }
    if crate::linux::seccomp::kernel_knows(
        crate::linux::seccomp::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
            | crate::linux::seccomp::SECCOMP_FILTER_FLAG_NEW_LISTENER,
    ) {
        have.push("WAIT_KILLABLE_RECV");
    } else {
        lack.push(
            "WAIT_KILLABLE_RECV (a notify listener's target stays killable while it waits)".into(),
        );
    }
    out.push(kfinding(
        "seccomp",
        Level::Ok,
        format!("actions: {}; flags: {}", actions.trim(), have.join(" ")),
    ));
    if !lack.is_empty() {
        out.push(
            kfinding(
                "seccomp-flags",
                Level::Warn,
                format!("missing: {}", lack.join(", ")),
            )
            .means("configs that ask for these fail at create")
            .fix("a newer kernel"),
        );
    }
}

/// Filesystems no container binds from, left out of the idmap probe.
const PSEUDO_FS: &[&str] = &[
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "devpts",
    "mqueue",
    "securityfs",
    "debugfs",
    "tracefs",
    "bpf",
    "pstore",
    "configfs",
    "fusectl",
    "binfmt_misc",
    "autofs",
    "nsfs",
    "efivarfs",
    "rpc_pipefs",
    "selinuxfs",
    "hugetlbfs",
];

/// Filesystems whose probe could hang on a dead server or a stuck daemon.
const REMOTE_FS: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "9p",
    "ceph",
    "glusterfs",
    "afs",
];

/// Idmapped mounts per filesystem: each type mounted here, tried on its
/// first mount point as create would (a detached copy, idmapped through
/// a user namespace made for it, gone with its fd). Network and FUSE
/// filesystems are named, not probed.
fn idmapped_mounts(out: &mut Vec<Finding>) {
    if !nix::unistd::geteuid().is_root() {
        out.push(kfinding(
            "idmap",
            Level::Info,
            "not probed: idmapping a mount needs root over its filesystem",
        ));
        return;
    }
    let mut seen: Vec<(String, String)> = Vec::new();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for m in crate::linux::mountinfo::parse(&mountinfo) {
        if !PSEUDO_FS.contains(&m.fstype.as_str()) && !seen.iter().any(|(f, _)| *f == m.fstype) {
            seen.push((m.fstype, m.mountpoint));
        }
    }
    let Ok(proc) = crate::linux::procfs::Proc::open_host() else {
        return;
    };
    let range: Vec<oci_spec::runtime::LinuxIdMapping> = serde_json::from_value(
        serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
    )
    .unwrap_or_default();
    let map = crate::linux::idmap::Idmap {
        uid: range.clone(),
        gid: range,
        recursive: false,
    };
    let (mut yes, mut no, mut unprobed) = (Vec::new(), Vec::new(), Vec::new());
    for (fs, mp) in seen {
        if REMOTE_FS.contains(&fs.as_str()) || fs.starts_with("fuse") {
            unprobed.push(format!("{fs} ({mp})"));
            continue;
        }
        match crate::linux::idmap::prepare(&proc, Path::new(&mp), false, &map) {
            Ok(_) => yes.push(format!("{fs} ({mp})")),
            Err(e) => {
                crate::logging::debug(&format!("idmap probe: {e}"));
                no.push(format!("{fs} ({mp})"));
            }
        }
    }
    let mut found = match (yes.is_empty(), no.is_empty()) {
        (false, true) => format!("idmapped mounts on: {}", yes.join(", ")),
        (false, false) => format!(
            "idmapped mounts on: {}; not on: {}",
            yes.join(", "),
            no.join(", ")
        ),
        (true, false) => format!("idmapped mounts on none of: {}", no.join(", ")),
        (true, true) => "no filesystem here to probe idmapped mounts on".to_string(),
    };
    if !unprobed.is_empty() {
        found.push_str(&format!(
            "; not probed (network, FUSE): {}",
            unprobed.join(", ")
        ));
    }
    out.push(if no.is_empty() {
        kfinding("idmap", Level::Ok, found)
    } else {
        kfinding("idmap", Level::Info, found).means(
            "binds with idmap or ridmap from those filesystems fail (mount_setattr refuses them)",
        )
    });
}

pub fn kernel(cx: &Context, out: &mut Vec<Finding>) {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    out.push(kfinding("release", Level::Info, release));
    seccomp(out);
    // open_tree(-1, NULL, 0) and mount_setattr(-1, NULL, 0, NULL, 0).
    let mount_api =
        has_syscall(libc::SYS_open_tree, -1) && has_syscall(libc::SYS_mount_setattr, -1);
    out.push(if mount_api {
        kfinding("mount-api", Level::Ok, "open_tree, move_mount and mount_setattr")
    } else {
        kfinding("mount-api", Level::Warn, "no new mount API (open_tree, mount_setattr)")
            .means("idmapped mounts, recursive mount options (rro, rnosuid...) and configs without a mount namespace fail")
            .fix("Linux 5.12 or later")
    });
    if mount_api {
        idmapped_mounts(out);
    }
    // clone3(NULL, 0): EINVAL where it exists.
    out.push(if has_syscall(libc::SYS_clone3, 0) {
        kfinding(
            "clone3",
            Level::Ok,
            "clone3 with CLONE_INTO_CGROUP: the init is born in its cgroup",
        )
    } else {
        kfinding("clone3", Level::Info, "no clone3")
            .means("the init is moved into its cgroup after it starts")
    });
    out.push(if Path::new("/proc/self/ns/time").exists() {
        kfinding("time-namespace", Level::Ok, "time namespaces")
    } else {
        kfinding("time-namespace", Level::Warn, "no time namespaces")
            .means("configs with a time namespace or linux.timeOffsets fail")
            .fix("Linux 5.6 or later")
    });
    out.push(
        match crate::linux::sys::pidfd_open(std::process::id() as i32) {
            Ok(_) => kfinding(
                "pidfd",
                Level::Ok,
                "pidfd_open: processes are signalled by handle, never by a reused pid",
            ),
            Err(e) => kfinding(
                "pidfd",
                Level::Fail,
                format!("pidfd_open: {}", crate::error::errno_text(e)),
            )
            .means("berth cannot follow its processes safely")
            .fix("Linux 5.3 or later"),
        },
    );
    // landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION).
    // SAFETY: the version query takes no memory.
    let abi = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, 0, 0, 1) };
    out.push(kfinding(
        "landlock",
        Level::Info,
        if abi > 0 {
            format!("Landlock ABI {abi} (berth does not use it; configs cannot ask for it)")
        } else {
            "no Landlock (berth does not use it)".into()
        },
    ));
    let apparmor = crate::linux::apparmor::enabled();
    let selinux = crate::linux::selinux::enabled().then(|| {
        match std::fs::read_to_string("/sys/fs/selinux/enforce")
            .ok()
            .as_deref()
            .map(str::trim)
        {
            Some("1") => "enforcing",
            _ => "permissive",
        }
    });
    out.push(
        kfinding(
            "lsm",
            Level::Info,
            format!(
                "AppArmor {}; SELinux {}",
                if apparmor { "enabled" } else { "off" },
                selinux.unwrap_or("off")
            ),
        )
        .means(match (apparmor, selinux.is_some()) {
            (false, false) => {
                "process.apparmorProfile is refused; SELinux labels are ignored with a warning"
            }
            (true, false) => "SELinux labels are ignored with a warning",
            (false, true) => "process.apparmorProfile is refused",
            (true, true) => "",
        }),
    );
    let criu = crate::linux::criu::Criu::new(cx.criu);
    out.push(match criu.check() {
        Ok(()) => kfinding(
            "criu",
            Level::Ok,
            format!("`{} check` passes: checkpoint and restore work", criu.bin),
        ),
        Err(e) => kfinding("criu", Level::Info, e.to_string())
            .means("checkpoint and restore fail (nothing else needs CRIU)")
            .fix("install criu, or a kernel CRIU supports"),
    });
}

pub fn state_root(cx: &Context, out: &mut Vec<Finding>) {
    use std::os::unix::fs::MetadataExt;
    let root = cx.root;
    let sfinding = |level, found: String| Finding::new("state", "root", level, found);
    let meta = match std::fs::symlink_metadata(root) {
        Ok(m) => m,
        Err(_) => {
            out.push(sfinding(
                Level::Ok,
                format!(
                    "{} is not there yet: the first create makes it",
                    root.display()
                ),
            ));
            return;
        }
    };
    let euid = nix::unistd::geteuid().as_raw();
    let mode = meta.mode() & 0o7777;
    let fs = nix::sys::statfs::statfs(root)
        .map(|s| s.filesystem_type())
        .ok();
    let tmpfs = fs == Some(nix::sys::statfs::TMPFS_MAGIC);
    let found = format!(
        "{}: mode {mode:04o}, owner {}, {}",
        root.display(),
        meta.uid(),
        if tmpfs { "tmpfs" } else { "not tmpfs" }
    );
    if !meta.is_dir() || meta.uid() != euid || mode & 0o022 != 0 {
        out.push(
            sfinding(Level::Fail, found)
                .means("others could plant or change container state that berth then trusts")
                .fix(format!(
                    "chown {euid} {0}; chmod 700 {0} (or a --root of your own)",
                    root.display()
                )),
        );
    } else if !tmpfs {
        out.push(
            sfinding(Level::Warn, found)
                .means("state outlives a reboot: containers from before it show as stopped until deleted")
                .fix("put --root on a tmpfs (/run)"),
        );
    } else {
        out.push(sfinding(Level::Ok, found));
    }
    let ids = crate::state::list_ids(root).unwrap_or_default();
    let mut stale = Vec::new();
    for id in &ids {
        // A create killed before its init was made (no pid) is as stale:
        // its claim holds the id until deleted.
        if let Ok(c) = crate::state::load(root, id, false)
            && c.status() == crate::state::Status::Stopped
        {
            stale.push(id.clone());
        }
    }
    if stale.is_empty() {
        out.push(Finding::new(
            "state",
            "stale",
            Level::Ok,
            match ids.len() {
                1 => "1 container, not stopped".to_string(),
                n => format!("{n} containers, none whose init is gone"),
            },
        ));
    } else {
        out.push(
            Finding::new("state", "stale", Level::Warn, stale.join(" "))
                .means("their init is gone: they are stopped, and hold their state (and cgroups) until deleted")
                .fix(format!("berth delete {}", stale.join(" "))),
        );
    }
}
