//! Rootless berth: a real unprivileged user runs the berth binary on a
//! busybox bundle of its own. The user (`berth-rootless`) is made here if
//! missing, with subuid/subgid ranges, and berth runs as it through
//! setpriv, with nothing of root's left (no capabilities, its own groups,
//! an environment of its own with XDG_RUNTIME_DIR when a test wants one).
#![allow(dead_code)]

mod common;

use common::{berth, unique};
use serde_json::{Value, json};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[path = "rootless/cgroups.rs"]
mod cgroups;

const USER: &str = "berth-rootless";
const RANGE: u32 = 65536;

/// The user and what it runs, made once per test process.
struct Setup {
    uid: u32,
    gid: u32,
    subuid: u32,
    subgid: u32,
    /// Root-owned, world-readable: the binary and the rootfs live here.
    dir: PathBuf,
    berth: PathBuf,
    /// A busybox rootfs owned by the user, as a rootless engine unpacks
    /// images (the user's own id is root in the container).
    rootfs: PathBuf,
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The user's first range in /etc/subuid or /etc/subgid.
fn range_of(file: &str) -> Option<u32> {
    std::fs::read_to_string(file).ok()?.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() == 3 && f[0] == USER && f[2].parse::<u32>().ok()? >= RANGE)
            .then(|| f[1].parse().ok())
            .flatten()
    })
}

/// A range no other entry of the file uses.
fn free_range(file: &str) -> u32 {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(f.get(1)?.parse::<u64>().ok()? + f.get(2)?.parse::<u64>().ok()?)
        })
        .max()
        .unwrap_or(0)
        .max(100_000) as u32
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the rootless tests make their user: run them as root"
        );
        // Other test processes may be making the user at the same time.
        let lock = std::fs::File::create("/tmp/berth-rootless-setup.lock").unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&lock);
        // SAFETY: flock on an fd we own; released when `lock` is dropped.
        let locked = unsafe { libc::flock(fd, libc::LOCK_EX) };
        assert_eq!(locked, 0);
        let exists = Command::new("getent")
            .args(["passwd", USER])
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        if !exists {
            // Debian's useradd gives a new user subordinate ranges itself.
            run_ok(Command::new("useradd").args([
                "--no-create-home",
                "--user-group",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                USER,
            ]));
        }
        for (file, flag) in [
            ("/etc/subuid", "--add-subuids"),
            ("/etc/subgid", "--add-subgids"),
        ] {
            if range_of(file).is_none() {
                let s = free_range(file);
                run_ok(Command::new("usermod").args([
                    flag,
                    &format!("{s}-{}", s + RANGE - 1),
                    USER,
                ]));
            }
        }
        drop(lock);
        let id = |flag: &str| -> u32 {
            run_ok(Command::new("id").args([flag, USER]))
                .trim()
                .parse()
                .unwrap()
        };
        let (uid, gid) = (id("-u"), id("-g"));

        // Leftovers of earlier runs whose process is gone.
        for e in std::fs::read_dir("/tmp").unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("berth-rootless-")
                && pid.parse::<u32>().is_ok()
                && !Path::new("/proc").join(pid).exists()
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let dir = PathBuf::from(format!("/tmp/berth-rootless-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        // The build tree may not be the user's to read: a copy is.
        let bin = dir.join("berth");
        std::fs::copy(berth(), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let rootfs = dir.join("rootfs");
        run_ok(
            Command::new("cp")
                .arg("-a")
                .arg(common::rootfs())
                .arg(&rootfs),
        );
        run_ok(
            Command::new("chown")
                .args(["-R", &format!("{uid}:{gid}")])
                .arg(&rootfs),
        );
        Setup {
            uid,
            gid,
            subuid: range_of("/etc/subuid").unwrap(),
            subgid: range_of("/etc/subgid").unwrap(),
            dir,
            berth: bin,
            rootfs,
        }
    })
}

/// One test's container: its bundle and XDG_RUNTIME_DIR, both the user's.
struct Rootless {
    s: &'static Setup,
    id: String,
    bundle: PathBuf,
    xdg: PathBuf,
    /// A cgroup.procs file root moves berth into before it becomes the
    /// user (a leaf of a delegated cgroup, as a login or systemd does).
    cgroup: Option<PathBuf>,
}

impl Drop for Rootless {
    fn drop(&mut self) {
        // Wherever the test put it: under XDG_RUNTIME_DIR or the per-user
        // default.
        for xdg in [true, false] {
            let _ = self
                .cmd(xdg, &["delete", "--force", &self.id])
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(self.bundle.parent().unwrap());
    }
}

fn mkdir_for(s: &Setup, p: &Path, mode: u32) {
    std::fs::create_dir_all(p).unwrap();
    std::os::unix::fs::chown(p, Some(s.uid), Some(s.gid)).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

impl Rootless {
    fn new() -> Rootless {
        let s = setup();
        let id = unique("rl");
        let top = s.dir.join(&id);
        std::fs::create_dir(&top).unwrap();
        let bundle = top.join("bundle");
        let xdg = top.join("xdg");
        mkdir_for(s, &bundle, 0o755);
        mkdir_for(s, &xdg, 0o700);
        Rootless {
            s,
            id,
            bundle,
            xdg,
            cgroup: None,
        }
    }

    /// berth as the user; `xdg` sets XDG_RUNTIME_DIR.
    fn cmd(&self, xdg: bool, args: &[&str]) -> Command {
        self.cmd_via(&[], xdg, args)
    }

    /// berth as the user, started through `wrapper` (nsenter ...).
    fn cmd_via(&self, wrapper: &[&str], xdg: bool, args: &[&str]) -> Command {
        let mut c = match &self.cgroup {
            // Only root may move a process into the delegated subtree from
            // outside it.
            Some(procs) => {
                let mut c = Command::new("sh");
                c.args(["-c", r#"echo $$ > "$0" && exec "$@""#])
                    .arg(procs)
                    .arg("setpriv");
                c
            }
            None => Command::new("setpriv"),
        };
        c.args([
            "--reuid",
            &self.s.uid.to_string(),
            "--regid",
            &self.s.gid.to_string(),
            "--init-groups",
            "--",
        ])
        .args(wrapper)
        .arg(&self.s.berth)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", "/")
        .env("USER", USER)
        .env("LOGNAME", USER)
        .current_dir(&self.bundle)
        .stdin(Stdio::null());
        if xdg {
            c.env("XDG_RUNTIME_DIR", &self.xdg);
        }
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        run_ok(&mut self.cmd(true, args))
    }

    /// `spec --rootless` as the user, then the test's changes (as root,
    /// in place: the file stays the user's).
    fn spec(&self, args: &[&str], patch: impl FnOnce(&mut Value)) -> Value {
        let _ = std::fs::remove_file(self.bundle.join("config.json"));
        self.ok(&[
            "spec",
            "--rootless",
            "--bundle",
            self.bundle.to_str().unwrap(),
        ]);
        let path = self.bundle.join("config.json");
        let mut c: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        c["process"]["terminal"] = json!(false);
        c["process"]["args"] = json!(args);
        c["root"]["path"] = json!(self.s.rootfs);
        patch(&mut c);
        std::fs::write(&path, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
        c
    }

    /// berth run in the foreground (it waits for the container, so pipes
    /// reach EOF).
    fn run(&self, global: &[&str]) -> Output {
        let mut args = global.to_vec();
        args.extend(["run", "--bundle", self.bundle.to_str().unwrap(), &self.id]);
        self.cmd(true, &args).output().unwrap()
    }

    /// berth run -d: the container's init inherits stdio and outlives
    /// berth, so its output goes to files, never to pipes.
    fn run_detached(&self, xdg: bool) {
        let out = self.bundle.parent().unwrap().join("detached.out");
        let err = self.bundle.parent().unwrap().join("detached.err");
        let st = self
            .cmd(
                xdg,
                &[
                    "run",
                    "-d",
                    "--bundle",
                    self.bundle.to_str().unwrap(),
                    &self.id,
                ],
            )
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .status()
            .unwrap();
        assert!(
            st.success(),
            "run -d: {st}: {}",
            std::fs::read_to_string(&err).unwrap()
        );
    }

    fn state(&self, xdg: bool) -> Value {
        serde_json::from_str(&run_ok(&mut self.cmd(xdg, &["state", &self.id]))).unwrap()
    }

    fn state_root(&self) -> PathBuf {
        self.xdg.join("berth")
    }

    /// The default root without XDG_RUNTIME_DIR (berth's per-user one).
    fn per_user_root(&self) -> PathBuf {
        let run_user = PathBuf::from(format!("/run/user/{}", self.s.uid));
        match std::fs::metadata(&run_user) {
            Ok(m) if m.is_dir() && m.uid() == self.s.uid => run_user.join("berth"),
            _ => PathBuf::from(format!("/tmp/berth-{}", self.s.uid)),
        }
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn words(l: &str) -> Vec<String> {
    l.split_whitespace().map(String::from).collect()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(10), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn spec_rootless_then_hello() {
    let r = Rootless::new();
    let c = r.spec(
        &[
            "sh",
            "-c",
            "echo hello from $(id -u):$(id -g); cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups",
        ],
        |_| {},
    );
    // runc's rootless config, with the user's own ids.
    let uid = r.s.uid.to_string();
    let gid = r.s.gid.to_string();
    assert_eq!(
        c["linux"]["uidMappings"],
        json!([{"containerID": 0, "hostID": r.s.uid, "size": 1}])
    );
    assert_eq!(
        c["linux"]["gidMappings"],
        json!([{"containerID": 0, "hostID": r.s.gid, "size": 1}])
    );
    let ns = c["linux"]["namespaces"].to_string();
    assert!(
        ns.contains("\"user\"") && !ns.contains("\"network\""),
        "{ns}"
    );
    assert!(c["linux"].get("resources").is_none());

    let out = r.run(&[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "hello from 0:0");
    assert_eq!(words(lines[1]), ["0", uid.as_str(), "1"]);
    assert_eq!(words(lines[2]), ["0", gid.as_str(), "1"]);
    // A direct gid map needs setgroups denied.
    assert_eq!(lines[3], "deny");
    // The state went under XDG_RUNTIME_DIR, sticky, and is gone again.
    let root = r.state_root();
    let m = std::fs::metadata(&root).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o7777), (r.s.uid, 0o1700));
    assert!(!root.join(&r.id).exists());
}

#[test]
fn detached_then_exec_kill_delete() {
    let r = Rootless::new();
    r.spec(&["sh", "-c", "sleep 999 & exec sleep 1000"], |_| {});
    r.run_detached(true);
    let st = r.state(true);
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(st["owner"], USER);
    let pid = st["pid"].as_i64().unwrap();
    // Root in the container is the user on the host.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uids = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let me = r.s.uid.to_string();
    assert_eq!(words(uids)[1..], [me.as_str(); 4]);
    assert!(r.state_root().join(&r.id).join("state.json").exists());

    // exec joins the container's user namespace (and the others).
    let out = r.ok(&[
        "exec",
        &r.id,
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; tr '\\0' ' ' < /proc/1/cmdline",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0");
    assert_eq!(words(lines[1]), ["0", r.s.uid.to_string().as_str(), "1"]);
    assert_eq!(lines[2].trim(), "sleep 1000");
    // No cgroup of its own: its processes are its pid namespace's.
    let ps: Vec<i64> = serde_json::from_str(&r.ok(&["ps", "--format", "json", &r.id])).unwrap();
    assert!(ps.len() == 2 && ps.contains(&pid), "{ps:?}");

    r.ok(&["kill", &r.id, "KILL"]);
    wait_until("the container stops", || {
        r.state(true)["status"] == "stopped"
    });
    // Its pid namespace went with its init.
    for p in ps {
        wait_until("the container's processes go", || {
            !Path::new(&format!("/proc/{p}")).exists()
        });
    }
    r.ok(&["delete", &r.id]);
    assert!(!r.state_root().join(&r.id).exists());
    let out = r.cmd(true, &["state", &r.id]).output().unwrap();
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

#[test]
fn several_ranges_go_through_newuidmap() {
    let r = Rootless::new();
    let (uid, gid, subuid, subgid) = (r.s.uid, r.s.gid, r.s.subuid, r.s.subgid);
    r.spec(
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id -u; id -g; id -G",
        ],
        |c| {
            c["linux"]["uidMappings"] = json!([
                {"containerID": 0, "hostID": uid, "size": 1},
                {"containerID": 1, "hostID": subuid, "size": RANGE}
            ]);
            c["linux"]["gidMappings"] = json!([
                {"containerID": 0, "hostID": gid, "size": 1},
                {"containerID": 1, "hostID": subgid, "size": RANGE}
            ]);
            // A user other than root, with a supplementary group: only
            // possible with more than one id mapped.
            c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5]});
        },
    );
    let out = r.run(&[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(words(lines[0]), ["0", uid.to_string().as_str(), "1"]);
    assert_eq!(
        words(lines[1]),
        ["1", subuid.to_string().as_str(), RANGE.to_string().as_str()]
    );
    assert_eq!(words(lines[2]), ["0", gid.to_string().as_str(), "1"]);
    assert_eq!(
        words(lines[3]),
        ["1", subgid.to_string().as_str(), RANGE.to_string().as_str()]
    );
    // newgidmap leaves setgroups allowed, so the group could be set.
    assert_eq!(lines[4], "allow");
    assert_eq!(lines[5..], ["1000", "1000", "1000 5"]);
}

#[test]
fn a_range_outside_subuid_is_refused_by_newuidmap() {
    let r = Rootless::new();
    let uid = r.s.uid;
    r.spec(&["true"], |c| {
        c["linux"]["uidMappings"] = json!([
            {"containerID": 0, "hostID": uid, "size": 1},
            {"containerID": 1, "hostID": 4_000_000_000u32, "size": 10}
        ]);
    });
    let out = r.run(&[]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains("linux.uidMappings") && e.contains("newuidmap") && e.contains("/etc/subuid"),
        "{e}"
    );
    assert!(!r.state_root().join(&r.id).exists());
}

#[test]
fn a_memory_limit_is_refused_and_nothing_is_left() {
    let r = Rootless::new();
    r.spec(&["true"], |c| {
        c["linux"]["resources"] = json!({"memory": {"limit": 67108864}});
    });
    let out = r.run(&[]);
    assert!(!out.status.success(), "a memory limit without a cgroup ran");
    let e = stderr(&out);
    assert!(
        e.contains("linux.resources")
            && e.contains("memory")
            && e.contains("rootless")
            && e.contains("permission denied"),
        "{e}"
    );
    assert!(!r.state_root().join(&r.id).exists(), "state dir left");
    for d in common::cgroup_dirs_for(&r.id) {
        assert!(!d.exists(), "{} left", d.display());
    }
    assert_eq!(r.ok(&["list", "-q"]).trim(), "");
    // Without the limit, the same container runs (without a cgroup).
    r.spec(&["true"], |_| {});
    let out = r.run(&[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
}

#[test]
fn rootless_is_detected_and_picks_the_state_dir() {
    // Not root: rootless without asking; the state goes to the per-user
    // directory when XDG_RUNTIME_DIR is unset.
    let r = Rootless::new();
    r.spec(&["sleep", "1000"], |_| {});
    r.run_detached(false);
    let dir = r.per_user_root().join(&r.id);
    assert!(dir.join("state.json").exists(), "no {}", dir.display());
    let m = std::fs::metadata(r.per_user_root()).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o077), (r.s.uid, 0));
    assert_eq!(r.state(false)["status"], "running");
    assert!(!r.state_root().join(&r.id).exists());
    run_ok(&mut r.cmd(false, &["delete", "--force", &r.id]));
    assert!(!dir.exists());

    // --rootless false: cgroups the user may not write are fatal again.
    let r = Rootless::new();
    r.spec(&["true"], |_| {});
    let out = r.run(&["--rootless", "false"]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains("create cgroup") && e.contains("permission denied"),
        "{e}"
    );
    assert!(!r.state_root().join(&r.id).exists());
}

/// A user namespace with a network namespace of its own, as a rootless
/// engine makes them (Podman's pause process; slirp4netns or pasta then
/// gives it a network).
struct Holder(std::process::Child);

impl Holder {
    fn new(r: &Rootless) -> Holder {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid",
            &r.s.uid.to_string(),
            "--regid",
            &r.s.gid.to_string(),
            "--init-groups",
            "--",
            "unshare",
            "--user",
            "--map-root-user",
            "--net",
            "sleep",
            "1000",
        ])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
        let h = Holder(c.spawn().unwrap());
        let ours = std::fs::read_link("/proc/self/ns/user").unwrap();
        wait_until("unshare makes its namespaces", || {
            std::fs::read_link(h.ns("user")).is_ok_and(|n| n != ours)
                && std::fs::read_to_string(format!("/proc/{}/uid_map", h.0.id()))
                    .is_ok_and(|m| !m.trim().is_empty())
                && std::fs::read_to_string(format!("/proc/{}/comm", h.0.id()))
                    .is_ok_and(|c| c.trim() == "sleep")
        });
        h
    }

    fn ns(&self, t: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/{t}", self.0.id()))
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_network_namespace_path_is_honoured() {
    let r = Rootless::new();
    let h = Holder::new(&r);
    let net = std::fs::read_link(h.ns("net")).unwrap();
    // The engine's namespaces joined by path: the user namespace that owns
    // the network one first.
    let (user_ns, net_ns) = (h.ns("user"), h.ns("net"));
    r.spec(&["sh", "-c", "readlink /proc/self/ns/net; id -u"], |c| {
        let linux = c["linux"].as_object_mut().unwrap();
        linux.remove("uidMappings");
        linux.remove("gidMappings");
        let ns = linux["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "user");
        ns.push(json!({"type": "user", "path": user_ns}));
        ns.push(json!({"type": "network", "path": net_ns}));
    });
    let out = r.run(&[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    assert_eq!(stdout(&out), format!("{}\n0\n", net.display()));
}

#[test]
fn berth_inside_an_engines_user_namespace() {
    // As Podman runs it: berth is root of the engine's user namespace, the
    // config asks for no user namespace, and the network namespace (owned
    // by that user namespace) is given by path. auto means rootless here
    // too, so cgroups are skipped, and XDG_RUNTIME_DIR is honoured.
    let r = Rootless::new();
    let h = Holder::new(&r);
    let net = std::fs::read_link(h.ns("net")).unwrap();
    let net_ns = h.ns("net");
    r.spec(
        &[
            "sh",
            "-c",
            "readlink /proc/self/ns/net; ls /sys/class/net; ls -l /dev/null",
        ],
        |c| {
            let linux = c["linux"].as_object_mut().unwrap();
            linux.remove("uidMappings");
            linux.remove("gidMappings");
            let ns = linux["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "user");
            ns.push(json!({"type": "network", "path": net_ns}));
            // With a network namespace of the user's, sysfs mounts.
            for m in c["mounts"].as_array_mut().unwrap() {
                if m["destination"] == "/sys" {
                    *m = json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]});
                }
            }
        },
    );
    let pid = h.0.id().to_string();
    let out = r
        .cmd_via(
            &[
                "nsenter",
                "--user",
                "--target",
                &pid,
                "--preserve-credentials",
            ],
            true,
            &["run", "--bundle", r.bundle.to_str().unwrap(), &r.id],
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "run: {}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], net.to_str().unwrap());
    // The holder's own network: only lo, seen through a real sysfs.
    assert_eq!(lines[1], "lo");
    // /dev nodes are bound from the host: no mknod in a user namespace.
    assert!(lines[2].starts_with("crw-rw-rw-"), "{}", lines[2]);
    assert!(r.state_root().exists());
    assert!(!r.state_root().join(&r.id).exists());
}
