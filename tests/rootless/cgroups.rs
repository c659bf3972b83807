//! Rootless cgroups through delegation: root gives the test user a cgroup
//! v2 subtree, as systemd's Delegate= and runc's rootless docs do (the
//! directory and its cgroup.procs, cgroup.threads and cgroup.subtree_control
//! chowned to the user), and berth runs in a leaf of it. Where the host
//! offers memory, pids and cpu on v2 (the VMs), the limits are written and
//! enforced; where it does not (this hybrid host: v1 holds them), they are
//! refused, and the container still gets its v2 cgroup (freezer, ps,
//! delete). BERTH_ROOTLESS_DELEGATION=1 (set in the VM) says the limits
//! must be delegable: a host that cannot then fails the test.

use super::*;
use std::sync::atomic::{AtomicU32, Ordering};

const LIMITED: [&str; 3] = ["memory", "pids", "cpu"];

fn v2_mount() -> Option<PathBuf> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mi.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let mnt = left.split(' ').nth(4)?;
        right.starts_with("cgroup2 ").then(|| PathBuf::from(mnt))
    })
}

fn has(list: &str, c: &str) -> bool {
    list.split_whitespace().any(|x| x == c)
}

/// Whether the limits can be delegated here: pure v2 (no v1 controller
/// takes them) with memory, pids and cpu at the root.
fn limits_delegable() -> bool {
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers");
    let offered = std::fs::read_to_string(v2).unwrap_or_default();
    let ok = LIMITED.iter().all(|c| has(&offered, c));
    if std::env::var("BERTH_ROOTLESS_DELEGATION").as_deref() == Ok("1") {
        assert!(
            ok,
            "BERTH_ROOTLESS_DELEGATION=1, but {} offers [{}], not {LIMITED:?}",
            v2.display(),
            offered.trim()
        );
    }
    ok
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

/// `top` (root's: it decides which controllers the delegation gets) /
/// `deleg` (the user's) / `caller` (the leaf berth runs in).
struct Delegated {
    top: PathBuf,
    deleg: PathBuf,
}

impl Delegated {
    fn new(s: &Setup, enable: &[&str]) -> Delegated {
        static N: AtomicU32 = AtomicU32::new(0);
        let mnt = v2_mount().expect("no cgroup2 mounted");
        let top = mnt.join(format!(
            "berth-rootless-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let offered = std::fs::read_to_string(mnt.join("cgroup.controllers")).unwrap();
        let enable: Vec<&str> = enable
            .iter()
            .copied()
            .filter(|c| has(&offered, c))
            .collect();
        // The root cgroup may hold processes (the no-internal-process rule
        // spares it); a pure v2 host without systemd enables nothing.
        for c in &enable {
            let f = mnt.join("cgroup.subtree_control");
            if !has(&std::fs::read_to_string(&f).unwrap(), c) {
                std::fs::write(&f, format!("+{c}")).unwrap();
            }
        }
        std::fs::create_dir(&top).unwrap();
        let d = Delegated {
            deleg: top.join("deleg"),
            top,
        };
        for c in &enable {
            std::fs::write(d.top.join("cgroup.subtree_control"), format!("+{c}")).unwrap();
        }
        std::fs::create_dir(&d.deleg).unwrap();
        std::fs::create_dir(d.deleg.join("caller")).unwrap();
        for f in [
            "",
            "cgroup.procs",
            "cgroup.threads",
            "cgroup.subtree_control",
            "caller",
            "caller/cgroup.procs",
        ] {
            let p = if f.is_empty() {
                d.deleg.clone()
            } else {
                d.deleg.join(f)
            };
            std::os::unix::fs::chown(&p, Some(s.uid), Some(s.gid)).unwrap();
        }
        d
    }

    fn caller_procs(&self) -> PathBuf {
        self.deleg.join("caller/cgroup.procs")
    }
}

impl Drop for Delegated {
    fn drop(&mut self) {
        let mut dirs = Vec::new();
        let mut stack = vec![self.top.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(e.path());
                }
            }
            dirs.push(d);
        }
        for d in dirs.iter().rev() {
            for p in std::fs::read_to_string(d.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
            {
                let _ = Command::new("kill").args(["-9", p]).status();
            }
            for _ in 0..200 {
                if std::fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

fn in_delegation(d: &Delegated) -> Rootless {
    let mut r = Rootless::new();
    r.cgroup = Some(d.caller_procs());
    r
}

#[test]
fn a_delegated_cgroup_holds_the_container_and_its_limits() {
    let delegable = limits_delegable();
    let d = Delegated::new(setup(), &LIMITED);
    let r = in_delegation(&d);
    let limits = json!({
        "memory": {"limit": 67108864},
        "pids": {"limit": 8},
        "cpu": {"quota": 50000, "period": 100000}
    });
    let cg = d.deleg.join(&r.id);
    if !delegable {
        // This host's limits live on v1 hierarchies the user cannot write.
        r.spec(&["true"], |c| c["linux"]["resources"] = limits.clone());
        let out = r.run(&[]);
        assert!(!out.status.success(), "limits without delegation ran");
        let e = stderr(&out);
        assert!(
            e.contains("linux.resources") && e.contains("rootless"),
            "{e}"
        );
        assert!(!cg.exists() && !r.state_root().join(&r.id).exists());
        println!("refused without delegation: {}", e.trim());
    }
    r.spec(&["sleep", "1000"], |c| {
        if delegable {
            c["linux"]["resources"] = limits.clone();
        }
    });
    r.run_detached(true);
    let pid = r.state(true)["pid"].as_i64().unwrap();
    // Its own cgroup, beside berth's leaf inside the delegation.
    assert_eq!(read(&cg.join("cgroup.procs")), pid.to_string());
    assert_eq!(read(&d.deleg.join("caller/cgroup.procs")), "");
    if delegable {
        assert_eq!(read(&cg.join("memory.max")), "67108864");
        assert_eq!(read(&cg.join("pids.max")), "8");
        assert_eq!(read(&cg.join("cpu.max")), "50000 100000");
        println!(
            "limits: memory.max={} pids.max={} cpu.max={}",
            read(&cg.join("memory.max")),
            read(&cg.join("pids.max")),
            read(&cg.join("cpu.max"))
        );
        // pids.max is enforced: forks beyond it fail.
        let out = r
            .cmd(
                true,
                &[
                    "exec",
                    &r.id,
                    "sh",
                    "-c",
                    // The sleeps must not hold exec's pipes: sh's own
                    // "can't fork" is what the test reads.
                    "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 100 </dev/null >/dev/null 2>&1 & done",
                ],
            )
            .output()
            .unwrap();
        let current: u32 = read(&cg.join("pids.current")).parse().unwrap();
        assert!(current <= 8, "pids.current {current}");
        assert!(stderr(&out).contains("fork"), "{}", stderr(&out));
        println!(
            "fork bomb-lite: pids.current={current}, {}",
            stderr(&out).lines().next().unwrap_or_default()
        );
        r.ok(&[
            "update",
            "--pids-limit",
            "20",
            "--memory",
            "134217728",
            &r.id,
        ]);
        assert_eq!(read(&cg.join("pids.max")), "20");
        assert_eq!(read(&cg.join("memory.max")), "134217728");
        let ev: Value = serde_json::from_str(&r.ok(&["events", "--stats", &r.id])).unwrap();
        assert_eq!(ev["data"]["pids"]["limit"], 20, "{ev}");
        assert!(
            ev["data"]["memory"]["usage"]["usage"].as_u64() > Some(0),
            "{ev}"
        );
    }
    // The v2 freezer is the container's own.
    r.ok(&["pause", &r.id]);
    assert_eq!(read(&cg.join("cgroup.freeze")), "1");
    assert_eq!(r.state(true)["status"], "paused");
    r.ok(&["resume", &r.id]);
    assert_eq!(read(&cg.join("cgroup.freeze")), "0");
    assert_eq!(r.state(true)["status"], "running");
    let ps: Vec<i64> = serde_json::from_str(&r.ok(&["ps", "--format", "json", &r.id])).unwrap();
    assert!(ps.contains(&pid), "{ps:?}");
    r.ok(&["kill", &r.id, "KILL"]);
    wait_until("the container stops", || {
        r.state(true)["status"] == "stopped"
    });
    r.ok(&["delete", &r.id]);
    assert!(!cg.exists(), "{} left", cg.display());
    assert!(d.deleg.join("caller").is_dir());
}

#[test]
fn a_controller_not_delegated_is_refused() {
    let delegable = limits_delegable();
    // The delegation gets pids only.
    let d = Delegated::new(setup(), &["pids"]);
    let r = in_delegation(&d);
    r.spec(&["true"], |c| {
        c["linux"]["resources"] = json!({"cpu": {"quota": 50000, "period": 100000}});
    });
    let out = r.run(&[]);
    assert!(!out.status.success(), "an undelegated cpu limit ran");
    let e = stderr(&out);
    assert!(
        e.contains("linux.resources") && e.contains("rootless"),
        "{e}"
    );
    if delegable {
        assert!(
            e.contains("cpu.max") && e.contains("cpu controller is not delegated"),
            "{e}"
        );
    }
    println!("refused: {}", e.trim());
    assert!(!d.deleg.join(&r.id).exists());
    assert!(!r.state_root().join(&r.id).exists());
    // What was delegated is used.
    r.spec(&["cat", "/proc/self/cgroup"], |c| {
        if delegable {
            c["linux"]["resources"] = json!({"pids": {"limit": 5}});
        }
    });
    let out = r.run(&[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    assert!(!d.deleg.join(&r.id).exists());
}

/// Stops the user's manager that the test started.
struct UserManager(u32);

impl Drop for UserManager {
    fn drop(&mut self) {
        let _ = Command::new("systemctl")
            .args(["stop", &format!("user@{}.service", self.0)])
            .status();
    }
}

/// --systemd-cgroup as the user: the user's own systemd (systemd --user)
/// makes the scope, as with runc. Under systemd with delegation expected
/// (the VM), root starts user@UID.service and berth runs in a scope of the
/// user's (systemd-run --user --scope); without systemd (here) there is no
/// user manager, and berth says so.
#[test]
fn systemd_cgroup_uses_the_users_manager() {
    let s = setup();
    let r = Rootless::new();
    r.spec(&["sleep", "1000"], |c| {
        c["linux"]["resources"] = json!({"memory": {"limit": 67108864}, "pids": {"limit": 16}});
    });
    let systemd = Path::new("/run/systemd/system").is_dir();
    if !systemd {
        let out = r.run(&["--systemd-cgroup"]);
        assert!(
            !out.status.success(),
            "--systemd-cgroup without systemd ran"
        );
        let e = stderr(&out);
        assert!(
            e.contains("--systemd-cgroup")
                && e.contains("the user's systemd")
                && e.contains("not reachable"),
            "{e}"
        );
        assert!(!r.state_root().join(&r.id).exists());
        println!("no user manager: {}", e.trim());
        return;
    }
    assert!(
        limits_delegable(),
        "systemd as PID 1 but memory, pids, cpu not offered"
    );
    let _m = UserManager(s.uid);
    run_ok(Command::new("systemctl").args(["start", &format!("user@{}.service", s.uid)]));
    let run_dir = format!("/run/user/{}", s.uid);
    let as_user = |args: &[&str]| {
        let mut c = r.cmd_via(
            &["systemd-run", "--user", "--scope", "--quiet", "--"],
            false,
            args,
        );
        c.env("XDG_RUNTIME_DIR", &run_dir);
        c
    };
    let err = r.bundle.parent().unwrap().join("sd.err");
    let st = as_user(&[
        "--systemd-cgroup",
        "run",
        "-d",
        "--bundle",
        r.bundle.to_str().unwrap(),
        &r.id,
    ])
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(&err).unwrap())
    .status()
    .unwrap();
    assert!(
        st.success(),
        "run -d: {}",
        std::fs::read_to_string(&err).unwrap()
    );
    let st = r.state(false);
    let pid = st["pid"].as_i64().unwrap();
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = own.trim().strip_prefix("0::").unwrap().to_string();
    assert!(
        path.ends_with(&format!(
            "/user@{}.service/user.slice/berth-{}.scope",
            s.uid, r.id
        )),
        "{path}"
    );
    let cg = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    assert_eq!(read(&cg.join("memory.max")), "67108864");
    assert_eq!(read(&cg.join("pids.max")), "16");
    println!(
        "user manager scope {path}: memory.max={} pids.max={}",
        read(&cg.join("memory.max")),
        read(&cg.join("pids.max"))
    );
    let sd = |a: &[&str]| {
        let mut v = vec!["--systemd-cgroup"];
        v.extend(a);
        run_ok(&mut r.cmd(false, &v))
    };
    sd(&["update", "--pids-limit", "30", &r.id]);
    assert_eq!(read(&cg.join("pids.max")), "30");
    let ev: Value = serde_json::from_str(&sd(&["events", "--stats", &r.id])).unwrap();
    assert_eq!(ev["data"]["pids"]["limit"], 30, "{ev}");
    let ps: Vec<i64> = serde_json::from_str(&sd(&["ps", "--format", "json", &r.id])).unwrap();
    assert_eq!(ps, [pid]);
    sd(&["pause", &r.id]);
    assert_eq!(read(&cg.join("cgroup.freeze")), "1");
    sd(&["resume", &r.id]);
    sd(&["kill", &r.id, "KILL"]);
    wait_until("the container stops", || {
        r.state(false)["status"] == "stopped"
    });
    sd(&["delete", &r.id]);
    wait_until("the scope goes", || !cg.exists());
}
