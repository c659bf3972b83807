//! Checkpoint and restore through CRIU's RPC (`criu swrk`, rpc.rs), as
//! runc and crun drive it: the command line cannot hand back the pty
//! master CRIU makes when it restores a terminal.
//!
//! What is not CRIU's to dump is named external, and given back on
//! restore:
//! - bind mounts from the host (config binds, the cgroup binds, and host
//!   device nodes: masked paths and devices bound into a user namespace)
//!   by `mnt[MOUNTPOINT]:KEY`, rebound on restore from the config's
//!   current sources (`mnt[KEY]:SOURCE`);
//! - namespaces joined by path (net and pid, the two CRIU can take in),
//!   by inode, and handed back as an open fd (inherit_fd);
//! - the init's stdio: pipes and host files become the stdio of the
//!   `berth restore` that brings the container back, as with runc.
//!
//! What berth recorded at dump time for the restore goes into the images
//! directory as `berth-criu.json`.

mod external;
pub mod rpc;
pub use external::*;

use crate::error::{Error, Result, SysContext};
use nix::sys::socket;
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, OwnedFd};
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

    /// One RPC exchange with `criu swrk`: send `opts` as a request of
    /// `kind`, with `work` as CRIU's work directory, answer CRIU's
    /// notifications through `notified` (with the fd one may carry), and
    /// return its final response. On failure, the error carries CRIU's own
    /// complaint (its first error, else its log).
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        &self,
        what: &str,
        kind: u64,
        opts: &rpc::Opts,
        work: &Path,
        setup: Setup,
        notified: &mut dyn FnMut(&rpc::Resp, Option<OwnedFd>) -> Result<()>,
    ) -> Result<rpc::Resp> {
        use std::os::unix::process::CommandExt;
        let (ours, theirs) = socket::socketpair(
            socket::AddressFamily::Unix,
            socket::SockType::SeqPacket,
            None,
            socket::SockFlag::SOCK_CLOEXEC,
        )
        .sys("socketpair", "for criu swrk")?;
        let mut cmd = Command::new(&self.bin);
        cmd.arg("swrk")
            .arg(theirs.as_raw_fd().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut keep: Vec<i32> = setup.inherit.clone();
        keep.push(theirs.as_raw_fd());
        let join = setup.join_cgroups;
        let private_root = setup.private_root;
        let own_ns = private_root.is_some();
        // SAFETY: the closure runs in the forked child before exec and
        // only makes raw syscalls on memory prepared before the fork.
        unsafe {
            cmd.pre_exec(move || child_setup(&keep, &join, private_root.as_ref()));
        }
        let mut child = cmd.spawn().map_err(|e| {
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
        drop(theirs);
        // CRIU reaches the work directory through our fd, and mounts in
        // it (its cgroup yard): with a mount namespace of its own, the
        // directory must be one of that namespace's, which its root
        // (/proc/PID/root, there once exec has succeeded) leads to.
        let work_fd = if own_ns {
            open_dir(
                &Path::new(&format!("/proc/{}/root", child.id()))
                    .join(work.strip_prefix("/").unwrap_or(work)),
            )
        } else {
            open_dir(work)
        };
        let log = work.join(&opts.log_file);
        let outcome = work_fd.and_then(|fd| {
            let opts = rpc::Opts {
                work_dir_fd: Some(fd.as_raw_fd()),
                ..opts.clone()
            };
            crate::logging::debug(&format!("{} swrk: {what} {opts:?}", self.bin));
            exchange(&ours, kind, &opts, notified)
        });
        // CRIU exits once it has answered (a pre-dump waits for a next
        // request, and ends when it finds the socket closed).
        drop(ours);
        let status = child.wait().sys("wait for", &self.bin)?;
        let resp = match outcome {
            Ok(Some(r)) => r,
            Ok(None) => {
                return Err(Error::msg(format!(
                    "criu {what}: criu exited ({status}) without answering: {} (log: {})",
                    logged_complaint(&log).unwrap_or_else(|| "nothing logged".into()),
                    log.display()
                )));
            }
            Err(e) => return Err(e.context(format!("criu {what}"))),
        };
        if resp.success {
            return Ok(resp);
        }
        let why = resp
            .cr_errmsg
            .clone()
            .filter(|m| !m.is_empty())
            .or_else(|| {
                resp.cr_errno
                    .map(|e| crate::error::errno_text(nix::errno::Errno::from_raw(e)))
            })
            .or_else(|| logged_complaint(&log))
            .unwrap_or_else(|| "no reason given".into());
        Err(Error::msg(format!(
            "criu {what} failed: {why} (log: {})",
            log.display()
        )))
    }
}

/// Send the request, answer notifications, return the final response
/// (None if CRIU hung up first). A notification whose handler fails is
/// answered as failed, which makes CRIU give up; the handler's error is
/// the one returned.
fn exchange(
    sock: &OwnedFd,
    kind: u64,
    opts: &rpc::Opts,
    notified: &mut dyn FnMut(&rpc::Resp, Option<OwnedFd>) -> Result<()>,
) -> Result<Option<rpc::Resp>> {
    send(sock, &rpc::request(kind, Some(opts), None))?;
    let mut failed: Option<Error> = None;
    loop {
        let Some((bytes, fd)) = receive(sock)? else {
            return failed.map_or(Ok(None), Err);
        };
        let resp = rpc::Resp::decode(&bytes)?;
        if resp.kind != rpc::NOTIFY {
            return failed.map_or(Ok(Some(resp)), Err);
        }
        crate::logging::debug(&format!(
            "criu notifies {}",
            resp.notify.as_deref().unwrap_or("")
        ));
        let ok = if failed.is_none() {
            notified(&resp, fd).map_err(|e| failed = Some(e)).is_ok()
        } else {
            false
        };
        send(sock, &rpc::request(rpc::NOTIFY, None, Some(ok)))?;
    }
}

/// An open directory, for CRIU to reach through /proc/OUR_PID/fd.
pub fn open_dir(p: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        p,
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .sys("open", p.display())
}

fn logged_complaint(log: &Path) -> Option<String> {
    complaint(&std::fs::read_to_string(log).ok()?)
}

fn send(sock: &OwnedFd, msg: &[u8]) -> Result<()> {
    socket::send(sock.as_raw_fd(), msg, socket::MsgFlags::MSG_NOSIGNAL)
        .sys("send to", "criu swrk")?;
    Ok(())
}

/// One packet and the fd it carries, if any; None once CRIU has closed.
fn receive(sock: &OwnedFd) -> Result<Option<(Vec<u8>, Option<OwnedFd>)>> {
    use socket::{ControlMessageOwned, MsgFlags};
    // A packet's whole length, without taking it.
    let len = socket::recv(
        sock.as_raw_fd(),
        &mut [],
        MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC,
    )
    .sys("receive from", "criu swrk")?;
    let mut buf = vec![0u8; len.max(1)];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = socket::recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .sys("receive from", "criu swrk")?;
    let n = msg.bytes;
    let mut fd = None;
    for c in msg.cmsgs().sys("receive from", "criu swrk")? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for f in fds {
                // SAFETY: an fd received with SCM_RIGHTS belongs to us alone.
                let f = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(f) };
                fd.get_or_insert(f);
            }
        }
    }
    if n == 0 && fd.is_none() {
        return Ok(None);
    }
    buf.truncate(n);
    Ok(Some((buf, fd)))
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
    /// --manage-cgroups-mode; CRIU's soft when not given.
    pub manage_cgroups: Option<rpc::CgMode>,
    /// --empty-ns network.
    pub empty_net: bool,
}

/// runc's --manage-cgroups-mode names, checked.
pub fn cgroups_mode(m: &str) -> Result<rpc::CgMode> {
    rpc::CgMode::parse(m).ok_or_else(|| {
        Error::msg(format!(
            "--manage-cgroups-mode {m}: expected soft, full, strict or ignore"
        ))
    })
}

/// runc's --empty-ns takes a namespace type; CRIU leaves only the network
/// namespace empty.
pub fn empty_ns(n: &str) -> Result<()> {
    match n {
        "network" | "net" => Ok(()),
        _ => Err(Error::msg(format!(
            "--empty-ns {n}: CRIU can leave only the network namespace empty"
        ))),
    }
}

/// The options dump and restore share.
fn common(o: &Options, log_file: &str, terminal: bool) -> rpc::Opts {
    rpc::Opts {
        tcp_established: o.tcp_established,
        ext_unix_sk: o.ext_unix_sk,
        shell_job: o.shell_job,
        file_locks: o.file_locks,
        auto_dedup: o.auto_dedup,
        manage_cgroups_mode: Some(o.manage_cgroups.unwrap_or(rpc::CgMode::Soft)),
        empty_ns: if o.empty_net { rpc::EMPTY_NET } else { 0 },
        log_level: 4,
        log_file: log_file.into(),
        // Every notification is answered; the one berth acts on is the
        // pty master of a restored terminal.
        notify_scripts: true,
        // A terminal's slave is in the container's devpts while its master
        // is in the engine's hands, outside what CRIU dumps: CRIU dumps
        // the slave alone, and on restore makes a new pair and sends the
        // master over the RPC socket.
        orphan_pts_master: terminal,
        ..Default::default()
    }
}

/// Everything `criu dump` (or `pre-dump`) needs.
pub struct Dump<'a> {
    pub pid: i32,
    /// Our open fd of the images directory.
    pub images: i32,
    pub parent: Option<&'a Path>,
    pub pre_dump: bool,
    pub rootfs: &'a Path,
    pub mounts: &'a [ExtMount],
    /// (type, inode, key) of namespaces joined by path.
    pub namespaces: &'a [(&'static str, u64, &'static str)],
    pub files: &'a [String],
    pub freeze_cgroup: Option<&'a Path>,
    pub terminal: bool,
    pub options: &'a Options,
}

pub fn dump_opts(d: &Dump) -> rpc::Opts {
    let log = if d.pre_dump {
        "pre-dump.log"
    } else {
        "dump.log"
    };
    let mut o = common(d.options, log, d.terminal);
    o.images_dir_fd = d.images;
    o.pid = Some(d.pid);
    o.root = Some(d.rootfs.display().to_string());
    o.leave_running = !d.pre_dump && d.options.leave_running;
    o.parent_img = d.parent.map(|p| p.display().to_string());
    // Memory tracking is what makes a pre-dump, and a dump on top of one,
    // incremental.
    o.track_mem = d.pre_dump || d.parent.is_some();
    o.freeze_cgroup = d.freeze_cgroup.map(|f| f.display().to_string());
    o.external = d
        .mounts
        .iter()
        .map(|m| format!("mnt[{}]:{}", m.mountpoint, m.key))
        .chain(
            d.namespaces
                .iter()
                .map(|(kind, inode, key)| format!("{kind}[{inode}]:{key}")),
        )
        .chain(d.files.iter().cloned())
        .collect();
    o
}

/// Everything `criu restore` needs.
pub struct Restore<'a> {
    pub images: i32,
    pub root: &'a Path,
    /// (key, host source) of the external mounts.
    pub mounts: &'a [(String, PathBuf)],
    /// (fd in criu, key): stdio and namespaces handed back.
    pub inherit: &'a [(i32, String)],
    /// cgroup roots: (controllers or "" for all, path).
    pub cgroup_roots: &'a [(String, String)],
    pub terminal: bool,
    pub options: &'a Options,
}

pub fn restore_opts(r: &Restore) -> rpc::Opts {
    let mut o = common(r.options, "restore.log", r.terminal);
    o.images_dir_fd = r.images;
    o.root = Some(r.root.display().to_string());
    // The restored init a child of berth, which leaves it to its caller
    // (the engine's subreaper) as create does.
    o.rst_sibling = true;
    o.external = r
        .mounts
        .iter()
        .map(|(key, src)| format!("mnt[{key}]:{}", src.display()))
        .collect();
    o.inherit_fd = r.inherit.iter().map(|(fd, k)| (k.clone(), *fd)).collect();
    o.cg_root = r.cgroup_roots.to_vec();
    o
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
    fn dump_options() {
        let o = Options {
            leave_running: true,
            tcp_established: true,
            manage_cgroups: Some(rpc::CgMode::Full),
            empty_net: true,
            ..Default::default()
        };
        let mounts = [ExtMount {
            mountpoint: "/data".into(),
            key: "/data".into(),
            source: "/srv/data".into(),
        }];
        let d = dump_opts(&Dump {
            pid: 42,
            images: 7,
            parent: Some(Path::new("../pre")),
            pre_dump: false,
            rootfs: Path::new("/b/rootfs"),
            mounts: &mounts,
            namespaces: &[("net", 4026532000, NET_KEY)],
            files: &["file[1a:2b]".into()],
            freeze_cgroup: Some(Path::new("/sys/fs/cgroup/freezer/c1")),
            terminal: true,
            options: &o,
        });
        assert_eq!(
            d,
            rpc::Opts {
                images_dir_fd: 7,
                pid: Some(42),
                leave_running: true,
                tcp_established: true,
                log_level: 4,
                log_file: "dump.log".into(),
                notify_scripts: true,
                root: Some("/b/rootfs".into()),
                parent_img: Some("../pre".into()),
                track_mem: true,
                manage_cgroups_mode: Some(rpc::CgMode::Full),
                external: vec![
                    "mnt[/data]:/data".into(),
                    "net[4026532000]:extRootNetNS".into(),
                    "file[1a:2b]".into()
                ],
                empty_ns: rpc::EMPTY_NET,
                freeze_cgroup: Some("/sys/fs/cgroup/freezer/c1".into()),
                orphan_pts_master: true,
                ..Default::default()
            }
        );
        let pre = dump_opts(&Dump {
            pid: 42,
            images: 7,
            parent: None,
            pre_dump: true,
            rootfs: Path::new("/r"),
            mounts: &[],
            namespaces: &[],
            files: &[],
            freeze_cgroup: None,
            terminal: false,
            options: &o,
        });
        assert_eq!(pre.log_file, "pre-dump.log");
        assert!(pre.track_mem && !pre.leave_running && !pre.orphan_pts_master);
    }

    #[test]
    fn restore_options() {
        let o = Options::default();
        let r = restore_opts(&Restore {
            images: 7,
            root: Path::new("/run/berth/c1/criu-root"),
            mounts: &[("/data".into(), "/srv/data".into())],
            inherit: &[(5, "pipe:[77]".into()), (6, NET_KEY.into())],
            cgroup_roots: &[
                (String::new(), "/berth/c1".into()),
                ("cpu,cpuacct".into(), "/c1".into()),
            ],
            terminal: false,
            options: &o,
        });
        assert_eq!(
            r,
            rpc::Opts {
                images_dir_fd: 7,
                log_level: 4,
                log_file: "restore.log".into(),
                notify_scripts: true,
                root: Some("/run/berth/c1/criu-root".into()),
                rst_sibling: true,
                external: vec!["mnt[/data]:/srv/data".into()],
                inherit_fd: vec![("pipe:[77]".into(), 5), (NET_KEY.into(), 6)],
                cg_root: vec![
                    (String::new(), "/berth/c1".into()),
                    ("cpu,cpuacct".into(), "/c1".into())
                ],
                manage_cgroups_mode: Some(rpc::CgMode::Soft),
                ..Default::default()
            }
        );
    }

    /// The exchange against the real criu, where there is one: a VERSION
    /// request answered over the socket (this needs no kernel support).
    #[test]
    fn criu_swrk_answers_a_version_request() {
        let criu = Criu::new(None);
        if !criu.resolves() {
            eprintln!("criu is not installed: the RPC exchange is tested in the VM stage");
            return;
        }
        let mut notified = |_: &rpc::Resp, _: Option<OwnedFd>| Ok(());
        let r = criu
            .call(
                "version",
                rpc::VERSION,
                &rpc::Opts::default(),
                Path::new("/"),
                Setup::default(),
                &mut notified,
            )
            .unwrap();
        let (major, _) = r.version.expect("a version in the answer");
        assert!(major >= 3, "{r:?}");
    }

    #[test]
    fn criu_complaints_and_flag_names() {
        let log = "(00.001) Version: 3.17\n(00.002) Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds\n(00.003) Error (criu/crtools.c:260): Could not initialize kernel features detection.\n";
        assert_eq!(
            complaint(log).unwrap(),
            "Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds; Error (criu/crtools.c:260): Could not initialize kernel features detection."
        );
        assert_eq!(complaint("boom\n").unwrap(), "boom");
        assert_eq!(cgroups_mode("strict").unwrap(), rpc::CgMode::Strict);
        assert!(cgroups_mode("props").is_err());
        assert!(empty_ns("network").is_ok());
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
