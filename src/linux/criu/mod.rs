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

mod external;
pub use external::*;

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What berth writes into the images directory beside CRIU's images.
pub const RECORD: &str = "berth-criu.json";
/// Key of an external network namespace, as runc names it.
pub(crate) const NET_KEY: &str = "extRootNetNS";
pub(crate) const PID_KEY: &str = "extRootPidNS";

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

    /// Whether the binary is there to run: a path, or a name on PATH.
    fn resolves(&self) -> bool {
        let runnable = |p: &Path| {
            nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok() && p.is_file()
        };
        if self.bin.contains('/') {
            return runnable(Path::new(&self.bin));
        }
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| runnable(&d.join(&self.bin))))
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
        let out = cmd.output().map_err(|e| {
            // std hands back only the errno of a failed child_setup, as if
            // exec had failed: an ENOENT there is not a missing criu.
            if e.kind() == std::io::ErrorKind::NotFound && self.resolves() {
                Error::msg(format!(
                    "criu {what}: prepare criu's process (its inherited fds, the container's cgroups, the rootfs bound at the restore root): {}",
                    crate::error::errno_text(nix::errno::Errno::from_raw(
                        e.raw_os_error().unwrap_or(libc::ENOENT)
                    ))
                ))
            } else {
                self.spawn_error(e)
            }
        })?;
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
        // SAFETY: a write of one byte from a static buffer.
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

/// What berth records at dump time for the restore.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub mounts: Vec<ExtMount>,
    pub stdio: Vec<Inherit>,
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

    #[test]
    fn a_binary_resolves_by_path_or_on_path() {
        assert!(Criu::new(Some("/bin/sh")).resolves());
        assert!(Criu::new(Some("sh")).resolves());
        assert!(!Criu::new(Some("/nonexistent/criu")).resolves());
        assert!(!Criu::new(Some("berth-no-such-criu")).resolves());
        // A directory is not a binary.
        assert!(!Criu::new(Some("/bin")).resolves());
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
        let mounts = [ExtMount {
            mountpoint: "/data".into(),
            key: "/data".into(),
            source: "/srv/data".into(),
        }];
        let a = dump_args(&Dump {
            pid: 42,
            images: Path::new("/img"),
            work: Path::new("/work"),
            parent: Some(Path::new("../pre")),
            pre_dump: false,
            rootfs: Path::new("/b/rootfs"),
            mounts: &mounts,
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
