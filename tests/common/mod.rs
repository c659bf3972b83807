//! Helpers for the integration tests: they run the real berth binary as
//! root on busybox bundles and look at the result from inside the
//! container and from the host.
#![allow(dead_code)]

pub mod cgroup;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

pub fn berth() -> &'static str {
    env!("CARGO_BIN_EXE_berth")
}

/// The runtime the CVE regression tests attack: berth, unless
/// BERTH_TEST_RUNTIME names another runtime with runc's command line
/// (`make cve-peers` runs them on runc and crun to show that they catch a
/// runtime lacking the fix). BERTH_TEST_RUNTIME_PRELOAD is LD_PRELOAD for
/// it (crun needs a shim on this hybrid host). Only bundles made with
/// `peer_bundle` use it: every other test is about berth's own behaviour.
pub fn runtime() -> PathBuf {
    std::env::var_os("BERTH_TEST_RUNTIME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(berth()))
}

/// Whether the CVE tests drive berth itself: berth's own error messages
/// and internals are checked only then.
pub fn runtime_is_berth() -> bool {
    runtime() == Path::new(berth())
}

/// The runtime's file name ("berth", "runc", ...): the start of its
/// processes' comm.
pub fn runtime_name() -> String {
    runtime()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// A command running `bin` with the runtime's preload, if any.
pub fn runtime_command(bin: &Path) -> Command {
    let mut c = Command::new(bin);
    if bin != Path::new(berth())
        && let Some(p) = std::env::var_os("BERTH_TEST_RUNTIME_PRELOAD")
    {
        c.env("LD_PRELOAD", p);
    }
    c
}

/// The shared busybox rootfs, built once from Debian's busybox-static.
pub fn rootfs() -> PathBuf {
    static BUILD: Once = Once::new();
    let path = std::env::var_os("BERTH_TEST_ROOTFS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-rootfs"));
    BUILD.call_once(|| {
        if !path.join("bin/sd-notify").exists() {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mkrootfs.sh");
            let st = Command::new("sh").arg(script).arg(&path).status().unwrap();
            assert!(st.success(), "building the test rootfs failed");
        }
    });
    path
}

/// tests/sysprobe.c, built static once (gcc comes with the build deps):
/// it makes one syscall by number, or a posix_spawn or a pthread_create,
/// and prints what the kernel answered.
pub fn sysprobe() -> PathBuf {
    static BUILD: Once = Once::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("tests/sysprobe.c");
    let out = root.join("target/sysprobe");
    BUILD.call_once(|| {
        let fresh = |o: &Path| {
            let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
            m(o).is_some() && m(o) >= m(&src)
        };
        if fresh(&out) {
            return;
        }
        // Test binaries build it concurrently: each into its own file, then
        // an atomic rename.
        let tmp = out.with_extension(format!("tmp{}", std::process::id()));
        let st = Command::new("gcc")
            .args(["-static", "-O2", "-Wall", "-pthread", "-o"])
            .arg(&tmp)
            .arg(&src)
            .status()
            .unwrap();
        assert!(st.success(), "building tests/sysprobe.c failed");
        std::fs::rename(&tmp, &out).unwrap();
    });
    out
}

static N: AtomicUsize = AtomicUsize::new(0);

/// A unique container id for this test process.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A bundle directory (config.json only; root.path points at the shared
/// rootfs unless the test makes its own) plus a private --root.
pub struct Bundle {
    /// The runtime binary every command of this bundle runs.
    pub runtime: PathBuf,
    pub dir: PathBuf,
    pub root: PathBuf,
    pub id: String,
    pub config: Value,
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = runtime_command(&self.runtime)
            .arg("--root")
            .arg(&self.root)
            .args(["delete", "--force", &self.id])
            .stderr(Stdio::null())
            .status();
        // A peer runtime killed mid-run (the CVE tests' hangs) leaves its
        // cgroups, which its delete does not know of: empty, they go.
        if self.runtime != Path::new(berth()) {
            for d in self.cgroup_dirs() {
                let _ = std::fs::remove_dir(d);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn bundle(args: &[&str]) -> Bundle {
    let id = unique("it");
    let dir = std::env::temp_dir().join(format!("berth-it-{id}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let root = dir.join("state");
    let config = json!({
        "ociVersion": "1.2.0",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin:/sbin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "noNewPrivileges": true
        },
        "root": {"path": rootfs(), "readonly": true},
        "hostname": "berth-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
        }
    });
    Bundle {
        runtime: PathBuf::from(berth()),
        dir,
        root,
        id,
        config,
    }
}

/// A bundle whose commands run `runtime()`: for the CVE tests. Its
/// ociVersion is the oldest every runtime here knows (crun 1.8.1 refuses
/// 1.2.0). The first one in a test process checks that the runtime runs
/// a plain container: a test that accepts a refusal must not pass only
/// because the runtime refuses everything.
pub fn peer_bundle(args: &[&str]) -> Bundle {
    static WORKS: Once = Once::new();
    WORKS.call_once(|| {
        let mut b = bundle(&["true"]);
        b.runtime = runtime();
        b.config["ociVersion"] = json!("1.0.2");
        let out = b.run();
        assert!(
            out.status.success(),
            "{} cannot run a plain container: {}",
            b.runtime.display(),
            stderr(&out)
        );
    });
    let mut b = bundle(args);
    b.runtime = runtime();
    b.config["ociVersion"] = json!("1.0.2");
    b
}

impl Bundle {
    pub fn write(&self) {
        std::fs::write(
            self.dir.join("config.json"),
            serde_json::to_string_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// sysprobe at /tmp/sysprobe in the container (bound over the tmpfs,
    /// so the shared rootfs stays untouched).
    pub fn with_sysprobe(&mut self) {
        let m = json!({"destination": "/tmp/sysprobe", "type": "bind", "source": sysprobe(), "options": ["bind", "ro"]});
        self.config["mounts"].as_array_mut().unwrap().push(m);
    }

    /// A private copy of the rootfs, for tests that change it.
    pub fn own_rootfs(&mut self) -> PathBuf {
        let r = self.dir.join("rootfs");
        let st = Command::new("cp")
            .args(["-a"])
            .arg(rootfs())
            .arg(&r)
            .status()
            .unwrap();
        assert!(st.success());
        self.config["root"]["path"] = json!(r);
        r
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = runtime_command(&self.runtime);
        c.arg("--root").arg(&self.root).args(args);
        c
    }

    /// berth run in the foreground, stdin closed.
    pub fn run(&self) -> Output {
        self.write();
        self.cmd(&["run", "-b", self.dir.to_str().unwrap(), &self.id])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// berth run that must succeed; returns stdout.
    pub fn run_ok(&self) -> String {
        let out = self.run();
        assert!(
            out.status.success(),
            "{} run failed: {:?}\nstdout: {}\nstderr: {}",
            self.runtime.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn create(&self, extra: &[&str]) -> Output {
        self.write();
        let mut args = vec!["create", "-b", self.dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(&self.id);
        // The init inherits stdio and outlives create: a pipe would never
        // reach EOF, so stderr goes to a file.
        let err_path = self.dir.join("create.stderr");
        let err = std::fs::File::create(&err_path).unwrap();
        let status = self
            .cmd(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .status()
            .unwrap();
        Output {
            status,
            stdout: Vec::new(),
            stderr: std::fs::read(&err_path).unwrap(),
        }
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).stdin(Stdio::null()).output().unwrap();
        assert!(
            out.status.success(),
            "{} {args:?} failed: {}",
            self.runtime.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn state(&self) -> Value {
        serde_json::from_str(&self.ok(&["state", &self.id])).unwrap()
    }

    /// The cgroup directories a container with this id would have (the
    /// default cgroupsPath: the id under our own cgroup, beside it on v2).
    pub fn cgroup_dirs(&self) -> Vec<PathBuf> {
        cgroup_dirs_for(&self.id)
    }

    /// Nothing of the container is left: no state dir, no cgroup.
    pub fn assert_no_leftovers(&self) {
        assert!(
            !self.root.join(&self.id).exists(),
            "state dir of {} left behind",
            self.id
        );
        for d in self.cgroup_dirs() {
            assert!(!d.exists(), "cgroup {} left behind", d.display());
        }
    }
}

/// The default cgroup of container `id` on each hierarchy here.
pub fn cgroup_dirs_for(id: &str) -> Vec<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let mut out = Vec::new();
    for line in own.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrl, path) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        let mnt = if ctrl.is_empty() {
            if Path::new("/sys/fs/cgroup/unified").exists() {
                "/sys/fs/cgroup/unified".to_string()
            } else {
                "/sys/fs/cgroup".to_string()
            }
        } else {
            format!("/sys/fs/cgroup/{}", ctrl.trim_start_matches("name="))
        };
        // On pure v2 berth goes beside its caller's cgroup, as runc does.
        let path = if ctrl.is_empty() && own.lines().count() == 1 {
            Path::new(path).parent().unwrap_or(Path::new("/"))
        } else {
            Path::new(path)
        };
        out.push(
            PathBuf::from(mnt)
                .join(path.strip_prefix("/").unwrap_or(path))
                .join(id),
        );
    }
    out
}

/// Run `c` as nobody (uid and gid 65534, no supplementary groups): the
/// rootless caller of the tests that need one.
pub fn as_nobody(c: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY (test): plain syscalls between fork and exec, no allocation.
    unsafe {
        c.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setresgid(65534, 65534, 65534) != 0
                || libc::setresuid(65534, 65534, 65534) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// `c`'s output, for a binary copied just now: another test's fork may
/// still hold the copy open for writing until its exec (ETXTBSY), and a
/// moment later does not.
pub fn output_once_not_busy(c: &mut Command) -> Output {
    (0..50)
        .find_map(|_| match c.output() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
                None
            }
            r => Some(r.unwrap()),
        })
        .expect("the copy stayed busy")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Docker's default capability set, as it hands it to the runtime.
pub const DOCKER_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// The value of `key` in a "Key:\tvalue" file such as /proc/PID/status.
pub fn status_field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("{key} missing in {text}"))
        .trim()
        .to_string()
}

/// What a console socket bound at `path` receives: the (payload, fds)
/// of the one message its one connection sends.
pub fn console_master(
    path: &std::path::Path,
) -> std::thread::JoinHandle<(String, Vec<std::os::fd::OwnedFd>)> {
    let _ = std::fs::remove_file(path);
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        let (conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 4]);
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::empty(),
        )
        .unwrap();
        let mut fds = Vec::new();
        for c in msg.cmsgs().unwrap() {
            if let ControlMessageOwned::ScmRights(r) = c {
                // SAFETY (test): fds received with SCM_RIGHTS are ours.
                fds.extend(r.into_iter().map(|f| unsafe { OwnedFd::from_raw_fd(f) }));
            }
        }
        let n = msg.bytes;
        (String::from_utf8_lossy(&buf[..n]).into_owned(), fds)
    })
}
