//! The runtime driven from outside (runtime.md): state of an unknown id,
//! create, state fields and status transitions, the pid file, a duplicate
//! id, start twice, delete of a running container, kill, delete and its
//! aftermath, and the cgroup placement, limits and removal seen from the
//! host. Also the helpers the hook scenarios share.

use crate::Runtime;
use crate::report::Report;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// What one runtime call did.
pub struct Ran {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

/// One runtime, one state root, one scratch dir for its output.
pub struct Driver<'a> {
    pub rt: &'a Runtime,
    pub root: PathBuf,
    pub scratch: PathBuf,
}

impl Driver<'_> {
    /// Run the runtime with `args`. Files, not pipes, take its output: a
    /// created container inherits stdio and outlives the command, so a
    /// pipe would never reach end of file.
    pub fn run(&self, args: &[&str]) -> Ran {
        let out_path = self.scratch.join("runtime.stdout");
        let err_path = self.scratch.join("runtime.stderr");
        let out = std::fs::File::create(&out_path).unwrap();
        let err = std::fs::File::create(&err_path).unwrap();
        let t0 = Instant::now();
        let ok = self
            .rt
            .command(&self.root, &[])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .status()
            .is_ok_and(|s| s.success());
        Ran {
            ok,
            took: t0.elapsed(),
            stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
            stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        }
    }

    pub fn state(&self, id: &str) -> Option<Value> {
        let r = self.run(&["state", id]);
        if r.ok {
            serde_json::from_str(&r.stdout).ok()
        } else {
            None
        }
    }

    /// The status after waiting up to `wait` for it to become `want`
    /// ("" when the container is gone).
    pub fn status_after(&self, id: &str, want: &str, wait: Duration) -> String {
        let deadline = Instant::now() + wait;
        loop {
            let s = self
                .state(id)
                .and_then(|s| s["status"].as_str().map(String::from))
                .unwrap_or_default();
            if s == want || Instant::now() >= deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Best effort: whatever is left of `id` goes.
    pub fn force_delete(&self, id: &str) {
        let _ = self.run(&["kill", id, "KILL"]);
        let _ = self.run(&["delete", "--force", id]);
    }
}

/// The cgroup directory the host shows for a cgroupsPath: the v1 memory
/// hierarchy on a v1 or hybrid host, the unified one on a pure v2 host.
pub fn host_cgroup_dir(path: &str) -> PathBuf {
    let v1 = Path::new("/sys/fs/cgroup/memory");
    if v1.is_dir() {
        v1.join(path.trim_start_matches('/'))
    } else {
        Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'))
    }
}

/// Remove cgroup directories a runtime left behind under `top` (one per
/// hierarchy), deepest first, so the host stays as it was.
pub fn remove_cgroups(top: &str) {
    let Ok(hier) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let mut dirs: Vec<PathBuf> = vec![Path::new("/sys/fs/cgroup").join(top)];
    for h in hier.flatten() {
        dirs.push(h.path().join(top));
    }
    for d in dirs {
        remove_tree(&d);
    }
}

fn remove_tree(d: &Path) {
    if let Ok(rd) = std::fs::read_dir(d) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(d);
}

/// Whether a process is gone (or only a zombie), waiting up to `wait`.
pub fn gone(pid: i64, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next());
        if matches!(state, None | Some("Z") | Some("X")) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn ns_of(pid: impl std::fmt::Display, kind: &str) -> String {
    crate::ns_link(&format!("/proc/{pid}/ns/{kind}"))
}

pub fn lifecycle(rt: &Runtime, work: &Path, rootfs: &Path, report: &mut Report) {
    let case = "lifecycle";
    let dir = work.join("outside");
    std::fs::create_dir_all(&dir).unwrap();
    let d = Driver {
        rt,
        root: work.join("state-outside"),
        scratch: dir.clone(),
    };
    let cg_path = format!("/oci-conformance-{}/lifecycle", std::process::id());
    let mut config = crate::base(rootfs);
    config["process"]["args"] = json!(["sleep", "1000"]);
    config["linux"]["cgroupsPath"] = json!(cg_path);
    config["linux"]["resources"] = json!({"memory": {"limit": 33554432}, "pids": {"limit": 64}});
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let b = dir.to_str().unwrap();
    let id = format!("outside-{}", std::process::id());
    let mut check = |area: &str, what: &str, ok: bool, detail: String| {
        report.truth(case, area, what, ok, detail)
    };
    check(
        "lifecycle",
        "state of an unknown id fails",
        d.state("no-such-container-x").is_none(),
        String::new(),
    );
    let pid_file = dir.join("pid");
    let r = d.run(&[
        "create",
        "--bundle",
        b,
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
    ]);
    check("lifecycle", "create succeeds", r.ok, r.stderr);
    let s = d.state(&id).unwrap_or(Value::Null);
    check(
        "state",
        "status is created after create",
        s["status"] == "created",
        s.to_string(),
    );
    check("state", "id", s["id"] == id.as_str(), s.to_string());
    check(
        "state",
        "bundle is the bundle's absolute path",
        s["bundle"] == b,
        s.to_string(),
    );
    check(
        "state",
        "ociVersion present",
        s["ociVersion"].is_string(),
        s.to_string(),
    );
    check(
        "state",
        "annotations as in config.json",
        s["annotations"] == config["annotations"],
        s["annotations"].to_string(),
    );
    let pid = s["pid"].as_i64().unwrap_or(0);
    check(
        "state",
        "pid of a created container",
        pid > 0,
        s.to_string(),
    );
    let pf = std::fs::read_to_string(&pid_file).unwrap_or_default();
    check(
        "pid file",
        "digits only, the init's pid",
        pf == pid.to_string(),
        format!("{pf:?}"),
    );
    let dup = d.run(&["create", "--bundle", b, &id]);
    check(
        "lifecycle",
        "create with an id in use fails",
        !dup.ok,
        String::new(),
    );
    check(
        "lifecycle",
        "and leaves the first container alone",
        d.state(&id).is_some_and(|s| s["status"] == "created"),
        String::new(),
    );
    let cg = host_cgroup_dir(&cg_path);
    let read = |f: &str| {
        std::fs::read_to_string(cg.join(f))
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    check(
        "cgroups (host)",
        "init in cgroupsPath",
        read("cgroup.procs").lines().any(|l| l == pid.to_string()),
        cg.display().to_string(),
    );
    let mem = if cg.starts_with("/sys/fs/cgroup/memory") {
        "memory.limit_in_bytes"
    } else {
        "memory.max"
    };
    check(
        "cgroups (host)",
        "memory limit",
        read(mem) == "33554432",
        read(mem),
    );
    let r = d.run(&["start", &id]);
    check("lifecycle", "start succeeds", r.ok, r.stderr);
    check(
        "state",
        "status is running after start",
        d.state(&id).is_some_and(|s| s["status"] == "running"),
        String::new(),
    );
    let again = d.run(&["start", &id]);
    check(
        "lifecycle",
        "start of a running container fails",
        !again.ok,
        String::new(),
    );
    let del = d.run(&["delete", &id]);
    check(
        "lifecycle",
        "delete of a running container fails",
        !del.ok,
        String::new(),
    );
    let r = d.run(&["kill", &id, "KILL"]);
    check("lifecycle", "kill succeeds", r.ok, r.stderr);
    let st = d.status_after(&id, "stopped", Duration::from_secs(5));
    check(
        "state",
        "status is stopped after the process exits",
        st == "stopped",
        st,
    );
    let r = d.run(&["delete", &id]);
    check(
        "lifecycle",
        "delete of a stopped container succeeds",
        r.ok,
        r.stderr,
    );
    check(
        "lifecycle",
        "the container is gone after delete",
        d.state(&id).is_none(),
        String::new(),
    );
    check(
        "cgroups (host)",
        "cgroup removed on delete",
        !cg.exists(),
        cg.display().to_string(),
    );
    d.force_delete(&id);
}
