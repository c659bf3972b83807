//! Checkpoint and restore through CRIU's command line (`criu dump`,
//! `criu restore`), as runc and crun do through its RPC. The command line
//! carries everything berth needs (external mounts, namespaces and files,
//! cgroup roots, a sibling restore), so no protobuf is involved.
//!
//! What is not CRIU's to dump is named external, and given back on
//! restore:
//! - bind mounts from the host (config binds, the cgroup binds, and host
//!   device nodes: masked paths and devices bound into a user namespace)
//!   by `--external mnt[MOUNTPOINT]:KEY`, rebound on restore from the
//!   config's current sources (`--external mnt[KEY]:SOURCE`);
//! - namespaces joined by path (net and pid, the two CRIU can take in),
//!   by inode, and handed back as an open fd (`--inherit-fd`);
//! - the init's stdio: pipes and host files become the stdio of the
//!   `berth restore` that brings the container back, as with runc.
//!
//! What berth recorded at dump time for the restore goes into the images
//! directory as `berth-criu.json`.

use crate::error::{Error, Result};
use oci_spec::runtime::LinuxNamespaceType;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What berth writes into the images directory beside CRIU's images.
pub const RECORD: &str = "berth-criu.json";
/// Key of an external network namespace, as runc names it.
const NET_KEY: &str = "extRootNetNS";
const PID_KEY: &str = "extRootPidNS";

/// The criu binary and how to reach it.
pub struct Criu {
    pub bin: String,
}

impl Criu {
    pub fn new(bin: Option<&str>) -> Criu {
        Criu {
            bin: bin.unwrap_or("criu").to_string(),
        }
    }

    /// `criu check`: whether CRIU can work with this kernel at all. It
    /// is what CRIU itself offers as the answer to that question, and it
    /// fails fast where it cannot (this host's vDSO, for one).
    pub fn check(&self) -> Result<()> {
        let out = Command::new(&self.bin)
            .arg("check")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| self.spawn_error(e))?;
        if out.status.success() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        Err(Error::msg(format!(
            "CRIU cannot checkpoint on this system: `{} check` failed: {}",
            self.bin,
            complaint(&text).unwrap_or_else(|| format!("{}", out.status))
        )))
    }

    fn spawn_error(&self, e: std::io::Error) -> Error {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "not found (install criu, or give --criu PATH)".into(),
            _ => e.to_string(),
        };
        Error::msg(format!("run {}: {why}", self.bin))
    }

    /// Run criu with `args`; on failure, the error carries CRIU's own
    /// complaint from its log (or its stderr).
    pub fn run(&self, what: &str, args: &[String], log: &Path, setup: Setup) -> Result<()> {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).stdin(Stdio::null());
        let keep: Vec<i32> = setup.inherit.clone();
        let join = setup.join_cgroups;
        let private_root = setup.private_root;
        // SAFETY: the closure runs in the forked child before exec and
        // only makes raw syscalls on memory prepared before the fork.
        unsafe {
            cmd.pre_exec(move || child_setup(&keep, &join, private_root.as_ref()));
        }
        crate::logging::debug(&format!("{} {}", self.bin, args.join(" ")));
        let out = cmd.output().map_err(|e| self.spawn_error(e))?;
        if out.status.success() {
            return Ok(());
        }
        let logged = std::fs::read_to_string(log).unwrap_or_default();
        let text = format!("{logged}\n{}", String::from_utf8_lossy(&out.stderr));
        Err(Error::msg(format!(
            "criu {what} failed: {} (log: {})",
            complaint(&text).unwrap_or_else(|| format!("{}", out.status)),
            log.display()
        )))
    }
}

/// What the criu child does between fork and exec.
#[derive(Default)]
pub struct Setup {
    /// fds criu inherits (their close-on-exec flag is cleared).
    pub inherit: Vec<i32>,
    /// Open cgroup.procs files the child joins by writing "0", so that
    /// what it restores is born in the container's cgroups (runc does the
    /// same with its criu).
    pub join_cgroups: Vec<std::fs::File>,
    /// (rootfs, mountpoint): a mount namespace of its own in which the
    /// rootfs is bound at the mountpoint CRIU restores onto; CRIU wants a
    /// mount point whose parent is not overmounted, and the host never
    /// sees it. Slave, not private: the container's mounts were slaves of
    /// the host's (rslave), and CRIU copies that sharing from the sources
    /// of external mounts, which a private namespace would not have.
    pub private_root: Option<(std::ffi::CString, std::ffi::CString)>,
}

fn child_setup(
    keep: &[i32],
    join: &[std::fs::File],
    root: Option<&(std::ffi::CString, std::ffi::CString)>,
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    for fd in keep {
        // SAFETY: plain fcntl on an fd number the parent opened for us.
        if unsafe { libc::fcntl(*fd, libc::F_SETFD, 0) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    for f in join {
        // SAFETY: a write of two bytes from a static buffer.
        if unsafe { libc::write(f.as_raw_fd(), c"0".as_ptr().cast(), 1) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    if let Some((src, dst)) = root {
        // SAFETY: unshare and mount with C strings made before the fork.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNS) < 0
                || libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_SLAVE,
                    std::ptr::null(),
                ) < 0
                || libc::mount(
                    src.as_ptr(),
                    dst.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// The lines CRIU marks as errors, which say what went wrong; the first
/// ones are the cause, later ones the consequences.
pub fn complaint(log: &str) -> Option<String> {
    let mut seen = Vec::new();
    for l in log.lines() {
        let Some(i) = l.find("Error (") else { continue };
        let line = l[i..].trim().to_string();
        if !seen.contains(&line) {
            seen.push(line);
        }
    }
    if seen.is_empty() {
        let rest: Vec<&str> = log
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        return rest.last().map(|l| l.to_string());
    }
    seen.truncate(4);
    Some(seen.join("; "))
}

/// A mount CRIU must not dump: `key` names it in the images, `source` is
/// the host path it was bound from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtMount {
    pub mountpoint: String,
    pub key: String,
    pub source: PathBuf,
}

/// One stdio fd of the init to hand back on restore: the restoring
/// berth's own fd `fd` stands in for the resource `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inherit {
    pub fd: i32,
    pub key: String,
}

/// What berth records at dump time for the restore.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub mounts: Vec<ExtMount>,
    pub stdio: Vec<Inherit>,
}

/// The host's side of the container's mounts, for `external_mounts`.
pub struct HostMounts<'a> {
    /// Config bind mounts: (destination, source).
    pub binds: Vec<(String, PathBuf)>,
    /// The config's cgroup mount destination and the host directories
    /// bound below it, by name (empty name: the destination itself).
    pub cgroup: Option<(String, Vec<(String, PathBuf)>)>,
    /// Where the host's devtmpfs is mounted (its nodes are bound in for
    /// masked paths and, in a user namespace, for devices).
    pub dev: &'a str,
}

fn cgroup_mountpoint(dest: &str, name: &str) -> String {
    let d = dest.trim_end_matches('/');
    if name.is_empty() {
        d.to_string()
    } else {
        format!("{d}/{name}")
    }
}

/// The external mounts among the init's mounts (its mountinfo, paths as
/// the container sees them), as runc finds them from the config: binds,
/// the cgroup binds and host device nodes.
pub fn external_mounts(mountinfo: &str, host: &HostMounts) -> Vec<ExtMount> {
    let mut out = Vec::new();
    for m in parse_mountinfo(mountinfo) {
        if m.mountpoint == "/" {
            continue;
        }
        let found = if let Some((_, src)) = host.binds.iter().find(|(d, _)| *d == m.mountpoint) {
            Some((m.mountpoint.clone(), src.clone()))
        } else if let Some((name, src)) = host.cgroup.as_ref().and_then(|(dest, list)| {
            list.iter()
                .find(|(n, _)| cgroup_mountpoint(dest, n) == m.mountpoint)
        }) {
            let dest = &host.cgroup.as_ref().expect("matched above").0;
            Some((cgroup_mountpoint(dest, name), src.clone()))
        } else if m.fstype == "devtmpfs" {
            // A node of the host's /dev: one key per node, so that every
            // mount of /dev/null (masked paths) shares one.
            let src = PathBuf::from(format!(
                "{}/{}",
                host.dev.trim_end_matches('/'),
                m.root.trim_start_matches('/')
            ));
            Some((src.display().to_string(), src))
        } else {
            None
        };
        if let Some((key, source)) = found {
            out.push(ExtMount {
                mountpoint: m.mountpoint,
                key,
                source,
            });
        }
    }
    out
}

/// On restore, binds come from the config's current sources and the
/// cgroup binds from the new cgroup, as runc rebinds them; the rest as
/// recorded.
pub fn restore_mounts(recorded: &[ExtMount], host: &HostMounts) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for m in recorded {
        let src = host
            .binds
            .iter()
            .find(|(d, _)| *d == m.key)
            .map(|(_, s)| s.clone())
            .or_else(|| {
                let (dest, list) = host.cgroup.as_ref()?;
                list.iter()
                    .find(|(n, _)| cgroup_mountpoint(dest, n) == m.key)
                    .map(|(_, s)| s.clone())
            })
            .unwrap_or_else(|| m.source.clone());
        if !out.iter().any(|(k, _)| *k == m.key) {
            out.push((m.key.clone(), src));
        }
    }
    out
}

struct MountLine {
    root: String,
    mountpoint: String,
    fstype: String,
}

/// mountinfo's octal escapes (\040 for a space) undone.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_mountinfo(text: &str) -> Vec<MountLine> {
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            Some(MountLine {
                root: unescape(f.get(3)?),
                mountpoint: unescape(f.get(4)?),
                fstype: right.split(' ').next()?.to_string(),
            })
        })
        .collect()
}

/// Mount ids in a mountinfo text.
pub fn mount_ids(mountinfo: &str) -> HashSet<u64> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect()
}

/// Namespaces joined by path that CRIU must leave alone: (type, key).
/// CRIU can restore into an existing net or pid namespace only.
pub fn external_namespaces(
    join: &[(LinuxNamespaceType, PathBuf)],
) -> Result<Vec<(&'static str, &'static str, PathBuf)>> {
    join.iter()
        .map(|(t, p)| match t {
            LinuxNamespaceType::Network => Ok(("net", NET_KEY, p.clone())),
            LinuxNamespaceType::Pid => Ok(("pid", PID_KEY, p.clone())),
            other => Err(Error::config(
                "linux.namespaces",
                format!(
                    "the container joins the {other:?} namespace {}: CRIU can restore into an existing network or pid namespace only",
                    p.display()
                ),
            )),
        })
        .collect()
}

/// What a stdio fd of the init is, from its /proc link and fdinfo: the
/// key to inherit it by, and whether the dump must name it external.
pub fn stdio_key(
    link: &str,
    mnt_id: u64,
    inode: u64,
    ours: &HashSet<u64>,
) -> Option<(String, bool)> {
    if link.starts_with("pipe:[") {
        return Some((link.to_string(), false));
    }
    if link.starts_with('/') && !ours.contains(&mnt_id) {
        // A host file (often /dev/null or a log): not reachable from the
        // container's mounts, so CRIU cannot reopen it by path.
        return Some((format!("file[{mnt_id:x}:{inode:x}]"), true));
    }
    None
}

/// runc's checkpoint options, as berth passes them on.
#[derive(Debug, Default, Clone)]
pub struct Options {
    pub leave_running: bool,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub auto_dedup: bool,
    pub manage_cgroups: Option<String>,
    pub empty_ns: Vec<String>,
}

/// runc's --manage-cgroups-mode names, checked.
pub fn cgroups_mode(m: &str) -> Result<String> {
    match m {
        "soft" | "full" | "strict" | "ignore" => Ok(m.to_string()),
        _ => Err(Error::msg(format!(
            "--manage-cgroups-mode {m}: expected soft, full, strict or ignore"
        ))),
    }
}

/// runc's --empty-ns takes a namespace type; CRIU leaves only the network
/// namespace empty.
pub fn empty_ns(n: &str) -> Result<String> {
    match n {
        "network" | "net" => Ok("net".into()),
        _ => Err(Error::msg(format!(
            "--empty-ns {n}: CRIU can leave only the network namespace empty"
        ))),
    }
}

fn common(o: &Options, a: &mut Vec<String>) {
    let mut flag = |on: bool, f: &str| {
        if on {
            a.push(f.into());
        }
    };
    flag(o.tcp_established, "--tcp-established");
    flag(o.ext_unix_sk, "--ext-unix-sk");
    flag(o.shell_job, "--shell-job");
    flag(o.file_locks, "--file-locks");
    flag(o.auto_dedup, "--auto-dedup");
    a.push(format!(
        "--manage-cgroups={}",
        o.manage_cgroups.as_deref().unwrap_or("soft")
    ));
    for n in &o.empty_ns {
        a.extend(["--empty-ns".into(), n.clone()]);
    }
}

/// Everything `criu dump` (or `pre-dump`) needs.
pub struct Dump<'a> {
    pub pid: i32,
    pub images: &'a Path,
    pub work: &'a Path,
    pub parent: Option<&'a Path>,
    pub pre_dump: bool,
    pub rootfs: &'a Path,
    pub mounts: &'a [ExtMount],
    /// (type, inode, key) of namespaces joined by path.
    pub namespaces: &'a [(&'static str, u64, &'static str)],
    pub files: &'a [String],
    pub freeze_cgroup: Option<&'a Path>,
    pub options: &'a Options,
}

pub fn dump_args(d: &Dump) -> Vec<String> {
    let mut a: Vec<String> = vec![
        if d.pre_dump { "pre-dump" } else { "dump" }.into(),
        "--tree".into(),
        d.pid.to_string(),
        "--images-dir".into(),
        d.images.display().to_string(),
        "--work-dir".into(),
        d.work.display().to_string(),
        "--log-file".into(),
        if d.pre_dump {
            "pre-dump.log"
        } else {
            "dump.log"
        }
        .into(),
        "-v4".into(),
        "--root".into(),
        d.rootfs.display().to_string(),
    ];
    if !d.pre_dump && d.options.leave_running {
        a.push("--leave-running".into());
    }
    if let Some(p) = d.parent {
        a.extend(["--prev-images-dir".into(), p.display().to_string()]);
    }
    // Memory tracking is what makes a pre-dump, and a dump on top of one,
    // incremental.
    if d.pre_dump || d.parent.is_some() {
        a.push("--track-mem".into());
    }
    if let Some(f) = d.freeze_cgroup {
        a.extend(["--freeze-cgroup".into(), f.display().to_string()]);
    }
    for m in d.mounts {
        a.extend([
            "--external".into(),
            format!("mnt[{}]:{}", m.mountpoint, m.key),
        ]);
    }
    for (kind, inode, key) in d.namespaces {
        a.extend(["--external".into(), format!("{kind}[{inode}]:{key}")]);
    }
    for f in d.files {
        a.extend(["--external".into(), f.clone()]);
    }
    common(d.options, &mut a);
    a
}

/// Everything `criu restore` needs.
pub struct Restore<'a> {
    pub images: &'a Path,
    pub work: &'a Path,
    pub root: &'a Path,
    pub pid_file: &'a Path,
    /// (key, host source) of the external mounts.
    pub mounts: &'a [(String, PathBuf)],
    /// (fd in criu, key): stdio and namespaces handed back.
    pub inherit: &'a [(i32, String)],
    /// cgroup roots: (controllers or "" for all, path).
    pub cgroup_roots: &'a [(String, String)],
    pub options: &'a Options,
}

pub fn restore_args(r: &Restore) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "restore".into(),
        "--images-dir".into(),
        r.images.display().to_string(),
        "--work-dir".into(),
        r.work.display().to_string(),
        "--log-file".into(),
        "restore.log".into(),
        "-v4".into(),
        "--root".into(),
        r.root.display().to_string(),
        // Detached, the restored init a child of berth, which leaves it to
        // its caller (the engine's subreaper) as create does.
        "--restore-detached".into(),
        "--restore-sibling".into(),
        "--pidfile".into(),
        r.pid_file.display().to_string(),
    ];
    for (key, src) in r.mounts {
        a.extend(["--external".into(), format!("mnt[{key}]:{}", src.display())]);
    }
    for (fd, key) in r.inherit {
        a.extend(["--inherit-fd".into(), format!("fd[{fd}]:{key}")]);
    }
    for (ctrl, path) in r.cgroup_roots {
        let v = if ctrl.is_empty() {
            path.clone()
        } else {
            format!("{ctrl}:{path}")
        };
        a.extend(["--cgroup-root".into(), v]);
    }
    common(r.options, &mut a);
    a
}

/// The container's cgroups as CRIU names them: the v2 directory as the
/// root of every controller, each v1 hierarchy by its controllers; paths
/// as /proc/self/cgroup shows them.
pub fn cgroup_roots(c: &crate::cgroups::Cgroup) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = c
        .dirs
        .iter()
        .filter_map(|d| {
            let rel = d.path.strip_prefix(&d.hierarchy.mountpoint).ok()?;
            let path = Path::new(&d.hierarchy.root).join(rel).display().to_string();
            let ctrl = if d.hierarchy.v2 {
                String::new()
            } else {
                d.hierarchy.controllers.join(",")
            };
            Some((ctrl, path))
        })
        .collect();
    // The default first, so that the per-controller roots override it.
    out.sort_by_key(|(c, _)| !c.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
600 500 0:50 / / ro,relatime master:1 - ext4 /dev/vda1 rw
601 600 0:51 / /proc rw,nosuid - proc proc rw
602 600 0:52 / /dev rw,nosuid - tmpfs tmpfs rw,mode=755
603 601 0:5 /null /proc/kcore rw,nosuid - devtmpfs udev rw
604 601 0:5 /null /proc/keys rw,nosuid - devtmpfs udev rw
605 600 0:40 /srv/data /data rw - ext4 /dev/vda1 rw
606 600 0:53 / /sys/fs/cgroup ro - tmpfs tmpfs rw
607 606 0:30 /berth/c1 /sys/fs/cgroup/unified ro - cgroup2 cgroup2 rw
608 600 0:54 / /my\\040dir rw - ext4 /dev/vda1 rw
";

    fn host() -> HostMounts<'static> {
        HostMounts {
            binds: vec![
                ("/data".into(), "/srv/data".into()),
                ("/my dir".into(), "/srv/my dir".into()),
            ],
            cgroup: Some((
                "/sys/fs/cgroup".into(),
                vec![("unified".into(), "/sys/fs/cgroup/unified/berth/c1".into())],
            )),
            dev: "/dev",
        }
    }

    #[test]
    fn external_mounts_are_binds_cgroups_and_host_nodes() {
        let m = external_mounts(MOUNTINFO, &host());
        let got: Vec<(&str, &str)> = m
            .iter()
            .map(|m| (m.mountpoint.as_str(), m.key.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("/proc/kcore", "/dev/null"),
                ("/proc/keys", "/dev/null"),
                ("/data", "/data"),
                ("/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified"),
                ("/my dir", "/my dir"),
            ]
        );
        assert_eq!(m[0].source, Path::new("/dev/null"));
    }

    #[test]
    fn restore_rebinds_from_the_current_config() {
        let recorded = external_mounts(MOUNTINFO, &host());
        let mut now = host();
        now.binds[0].1 = "/srv/moved".into();
        now.cgroup.as_mut().unwrap().1[0].1 = "/sys/fs/cgroup/unified/new".into();
        let r = restore_mounts(&recorded, &now);
        assert_eq!(
            r,
            [
                ("/dev/null".to_string(), PathBuf::from("/dev/null")),
                ("/data".into(), "/srv/moved".into()),
                (
                    "/sys/fs/cgroup/unified".into(),
                    "/sys/fs/cgroup/unified/new".into()
                ),
                ("/my dir".into(), "/srv/my dir".into()),
            ]
        );
    }

    #[test]
    fn dump_arguments() {
        let o = Options {
            leave_running: true,
            tcp_established: true,
            manage_cgroups: Some("full".into()),
            empty_ns: vec!["net".into()],
            ..Default::default()
        };
        let mounts = external_mounts(MOUNTINFO, &host());
        let a = dump_args(&Dump {
            pid: 42,
            images: Path::new("/img"),
            work: Path::new("/work"),
            parent: Some(Path::new("../pre")),
            pre_dump: false,
            rootfs: Path::new("/b/rootfs"),
            mounts: &mounts[2..3],
            namespaces: &[("net", 4026532000, NET_KEY)],
            files: &["file[1a:2b]".into()],
            freeze_cgroup: Some(Path::new("/sys/fs/cgroup/freezer/c1")),
            options: &o,
        })
        .join(" ");
        assert_eq!(
            a,
            "dump --tree 42 --images-dir /img --work-dir /work --log-file dump.log -v4 \
             --root /b/rootfs --leave-running --prev-images-dir ../pre --track-mem \
             --freeze-cgroup /sys/fs/cgroup/freezer/c1 --external mnt[/data]:/data \
             --external net[4026532000]:extRootNetNS --external file[1a:2b] \
             --tcp-established --manage-cgroups=full --empty-ns net"
        );
        let pre = dump_args(&Dump {
            pid: 42,
            images: Path::new("/img"),
            work: Path::new("/work"),
            parent: None,
            pre_dump: true,
            rootfs: Path::new("/r"),
            mounts: &[],
            namespaces: &[],
            files: &[],
            freeze_cgroup: None,
            options: &o,
        });
        assert_eq!(pre[0], "pre-dump");
        assert!(pre.contains(&"--track-mem".to_string()));
        assert!(!pre.contains(&"--leave-running".to_string()));
    }

    #[test]
    fn restore_arguments() {
        let o = Options::default();
        let a = restore_args(&Restore {
            images: Path::new("/img"),
            work: Path::new("/work"),
            root: Path::new("/run/berth/c1/criu-root"),
            pid_file: Path::new("/run/berth/c1/criu.pid"),
            mounts: &[("/data".into(), "/srv/data".into())],
            inherit: &[(5, "pipe:[77]".into()), (6, NET_KEY.into())],
            cgroup_roots: &[
                (String::new(), "/berth/c1".into()),
                ("cpu,cpuacct".into(), "/c1".into()),
            ],
            options: &o,
        })
        .join(" ");
        assert_eq!(
            a,
            "restore --images-dir /img --work-dir /work --log-file restore.log -v4 \
             --root /run/berth/c1/criu-root --restore-detached --restore-sibling \
             --pidfile /run/berth/c1/criu.pid --external mnt[/data]:/srv/data \
             --inherit-fd fd[5]:pipe:[77] --inherit-fd fd[6]:extRootNetNS \
             --cgroup-root /berth/c1 --cgroup-root cpu,cpuacct:/c1 --manage-cgroups=soft"
        );
    }

    #[test]
    fn namespaces_joined_by_path() {
        let j = vec![
            (LinuxNamespaceType::Network, PathBuf::from("/run/netns/a")),
            (LinuxNamespaceType::Pid, PathBuf::from("/proc/1/ns/pid")),
        ];
        let e = external_namespaces(&j).unwrap();
        assert_eq!((e[0].0, e[0].1), ("net", NET_KEY));
        assert_eq!((e[1].0, e[1].1), ("pid", PID_KEY));
        let ipc = vec![(LinuxNamespaceType::Ipc, PathBuf::from("/proc/1/ns/ipc"))];
        let err = external_namespaces(&ipc).unwrap_err().to_string();
        assert!(err.contains("network or pid namespace only"), "{err}");
    }

    #[test]
    fn stdio_keys() {
        let ours: HashSet<u64> = mount_ids(MOUNTINFO);
        assert_eq!(
            stdio_key("pipe:[123]", 0, 0, &ours),
            Some(("pipe:[123]".into(), false))
        );
        assert_eq!(
            stdio_key("/dev/null", 24, 5, &ours),
            Some(("file[18:5]".into(), true))
        );
        // A file on the container's own mounts is CRIU's to reopen.
        assert_eq!(stdio_key("/tmp/log", 601, 9, &ours), None);
        assert_eq!(stdio_key("socket:[9]", 0, 0, &ours), None);
    }

    #[test]
    fn criu_complaints_and_flag_names() {
        let log = "(00.001) Version: 3.17\n(00.002) Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds\n(00.003) Error (criu/crtools.c:260): Could not initialize kernel features detection.\n";
        assert_eq!(
            complaint(log).unwrap(),
            "Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds; Error (criu/crtools.c:260): Could not initialize kernel features detection."
        );
        assert_eq!(complaint("boom\n").unwrap(), "boom");
        assert!(cgroups_mode("strict").is_ok());
        assert!(cgroups_mode("props").is_err());
        assert_eq!(empty_ns("network").unwrap(), "net");
        assert!(empty_ns("ipc").is_err());
    }

    #[test]
    fn cgroup_roots_put_the_default_first() {
        use crate::cgroups::{Cgroup, Dir, Hierarchy};
        let h = |mp: &str, root: &str, v2: bool, c: &[&str]| Hierarchy {
            mountpoint: mp.into(),
            root: root.into(),
            v2,
            controllers: c.iter().map(|s| s.to_string()).collect(),
        };
        let c = Cgroup {
            dirs: vec![
                Dir {
                    hierarchy: h(
                        "/sys/fs/cgroup/cpu,cpuacct",
                        "/",
                        false,
                        &["cpu", "cpuacct"],
                    ),
                    path: "/sys/fs/cgroup/cpu,cpuacct/x/c1".into(),
                    created_from: None,
                },
                Dir {
                    hierarchy: h("/sys/fs/cgroup/unified", "/", true, &[]),
                    path: "/sys/fs/cgroup/unified/x/c1".into(),
                    created_from: None,
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            cgroup_roots(&c),
            [
                (String::new(), "/x/c1".to_string()),
                ("cpu,cpuacct".into(), "/x/c1".into())
            ]
        );
    }
}
