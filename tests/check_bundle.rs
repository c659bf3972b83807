//! `berth check --bundle`: a config asking for what this host lacks is
//! found, every misfit at once, in the words `create` then fails with.
//! Each misfit is made real (a capability and a hard limit beyond what
//! the caller has, a filesystem and a sysctl the kernel lacks, a cgroup
//! file or controller this host has not, a frozen parent cgroup, a cgroup
//! holding a process), then `create` is run on the same bundle with the
//! same privileges: it must fail exactly when check says so, with check's
//! words, and leave nothing behind.

mod common;
use common::*;
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const CAP_SYS_RESOURCE: i32 = 24;

/// Run as this host runs berth without CAP_SYS_RESOURCE (so that the
/// outcome is the same on hosts that have it).
fn without_sys_resource(c: &mut Command) -> &mut Command {
    // SAFETY (test): one prctl between fork and exec.
    unsafe {
        c.pre_exec(|| {
            if libc::prctl(libc::PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// `berth check --bundle` on `b`: the bundle's findings, and whether
/// check passed.
fn check(b: &Bundle) -> (Vec<Value>, bool) {
    check_with(b, &[])
}

fn check_with(b: &Bundle, global: &[&str]) -> (Vec<Value>, bool) {
    b.write();
    let mut args = global.to_vec();
    args.extend_from_slice(&[
        "check",
        "--format",
        "json",
        "--bundle",
        b.dir.to_str().unwrap(),
        "--id",
        &b.id,
    ]);
    let out = without_sys_resource(&mut b.cmd(&args))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)));
    assert_eq!(out.status.success(), v["ok"] == true, "{v}");
    let mine: Vec<Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["area"] == "bundle")
        .cloned()
        .collect();
    (mine, out.status.success())
}

fn failed(findings: &[Value]) -> Vec<&Value> {
    findings.iter().filter(|f| f["level"] == "fail").collect()
}

/// `berth create` with the privileges check had; the error it printed,
/// with pids in /proc paths made /proc/self (check names its own).
fn create(b: &Bundle) -> (Output, String) {
    create_with(b, &[])
}

fn create_with(b: &Bundle, global: &[&str]) -> (Output, String) {
    let err_path = b.dir.join("create.stderr");
    let mut args = global.to_vec();
    args.extend_from_slice(&["create", "-b", b.dir.to_str().unwrap(), &b.id]);
    let status = without_sys_resource(&mut b.cmd(&args))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .status()
        .unwrap();
    let text = std::fs::read_to_string(&err_path).unwrap();
    let mut norm = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("/proc/") {
        norm.push_str(&rest[..i + 6]);
        rest = &rest[i + 6..];
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
        if digits > 0 && rest[digits..].starts_with('/') {
            norm.push_str("self");
            rest = &rest[digits..];
        }
    }
    norm.push_str(rest);
    let out = Output {
        status,
        stdout: Vec::new(),
        stderr: text.into_bytes(),
    };
    (out, norm)
}

/// check's verdict on `b` is create's: both fine, or both failing, create
/// with check's words for `what`, and nothing left of the attempt.
fn check_then_create(b: &Bundle, what: &str) -> Option<String> {
    check_then_create_with(b, what, &[])
}

fn check_then_create_with(b: &Bundle, what: &str, global: &[&str]) -> Option<String> {
    let (findings, _) = check_with(b, global);
    let fails = failed(&findings);
    let (out, err) = create_with(b, global);
    if fails.is_empty() {
        assert!(
            out.status.success(),
            "{what}: check found nothing, yet create failed: {err}\n{findings:?}"
        );
        assert!(
            findings.iter().any(|f| f["check"] == "fits"),
            "{findings:?}"
        );
        let _ = b
            .cmd(&["delete", "--force", &b.id])
            .stderr(Stdio::null())
            .status();
        return None;
    }
    assert_eq!(fails.len(), 1, "{what}: one misfit, one finding: {fails:?}");
    let f = fails[0];
    assert_eq!(f["check"], what, "{f}");
    let found = f["found"].as_str().unwrap();
    assert!(
        !out.status.success(),
        "{what}: check found {found:?}, yet create succeeded"
    );
    assert!(
        err.contains(found),
        "{what}: create failed otherwise:\n  create: {err}\n  check:  {found}"
    );
    b.assert_no_leftovers();
    Some(found.to_string())
}

/// The current hard limit on open files.
fn nofile_hard() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY (test): getrlimit fills the struct.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
    r.rlim_max
}

fn add_cap(b: &mut Bundle, cap: &str) {
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!(cap));
    }
}

/// Does the v1 hierarchy of `controller` show `file` at its root (or is
/// there no v1 hierarchy of it)?
fn v1_root_has(controller: &str, files: &[&str]) -> Option<bool> {
    let root = Path::new("/sys/fs/cgroup").join(controller);
    root.join("cgroup.procs")
        .exists()
        .then(|| files.iter().any(|f| root.join(f).exists()))
}

type Misfit = (&'static str, fn(&mut Bundle));

/// Each misfit alone, and what it is on this host.
fn misfits() -> Vec<Misfit> {
    vec![
        ("capabilities", |b| add_cap(b, "CAP_SYS_RESOURCE")),
        ("rlimits", |b| {
            b.config["process"]["rlimits"] =
                json!([{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": nofile_hard() + 1}]);
        }),
        ("mounts", |b| {
            b.config["mounts"]
                .as_array_mut()
                .unwrap()
                .push(json!({"destination": "/tmp/x", "type": "berthfs", "source": "none"}));
        }),
        ("sysctl", |b| {
            b.config["linux"]["sysctl"] = json!({"fs.mqueue.berth_none": "1"});
        }),
        ("cgroups", |b| {
            b.config["linux"]["resources"] = json!({"network": {"classID": 7}});
        }),
    ]
}

#[test]
fn each_misfit_is_found_in_the_words_create_fails_with() {
    // What this host can run is said to fit, and runs.
    let b = bundle(&["true"]);
    assert_eq!(check_then_create(&b, "fits"), None);

    for (what, make) in misfits() {
        let mut b = bundle(&["true"]);
        make(&mut b);
        let found = check_then_create(&b, what);
        match what {
            // No CAP_SYS_RESOURCE (dropped above): neither the capability
            // nor a hard limit above ours can be given.
            "capabilities" | "rlimits" | "mounts" | "sysctl" => {
                assert!(found.is_some(), "{what} must not fit")
            }
            // A classID needs v1's net_cls, which this host may lack.
            "cgroups" => {
                let net_cls = Path::new("/sys/fs/cgroup/net_cls/cgroup.procs").exists()
                    || Path::new("/sys/fs/cgroup/net_cls,net_prio/cgroup.procs").exists();
                assert_eq!(found.is_none(), net_cls, "{found:?}");
            }
            _ => unreachable!(),
        }
    }
}

#[test]
fn an_io_weight_the_kernel_has_no_file_for_is_found() {
    let mut b = bundle(&["true"]);
    b.config["linux"]["resources"] = json!({"blockIO": {"weight": 300}});
    let found = check_then_create(&b, "cgroups");
    // Without BFQ (or CFQ) there is no weight file on v1 here.
    if let Some(has) = v1_root_has("blkio", &["blkio.weight", "blkio.bfq.weight"]) {
        assert_eq!(found.is_none(), has, "{found:?}");
        if let Some(f) = found {
            assert!(f.contains("blkio.weight: no such file"), "{f}");
        }
    }
}

#[test]
fn an_oom_score_below_the_floor_is_found() {
    // Whether lowering works depends on the floor this process inherited,
    // which nothing shows: check must agree with create either way.
    let mut b = bundle(&["true"]);
    b.config["process"]["oomScoreAdj"] = json!(-999);
    if let Some(f) = check_then_create(&b, "oom-score-adj") {
        assert!(f.contains("needs CAP_SYS_RESOURCE"), "{f}");
    }
}

#[test]
fn every_misfit_is_found_at_once() {
    let mut b = bundle(&["true"]);
    for (_, make) in misfits() {
        make(&mut b);
    }
    // A config validation refuses (a profile without AppArmor) stops
    // create at once; check goes on to the rest.
    let apparmor = Path::new("/sys/kernel/security/apparmor").is_dir();
    if !apparmor {
        b.config["process"]["apparmorProfile"] = json!("berth-none");
    }
    let (findings, ok) = check(&b);
    assert!(!ok, "{findings:?}");
    let fails = failed(&findings);
    if !apparmor {
        assert!(fails.iter().any(|f| f["check"] == "config"), "{fails:?}");
    }
    for (what, _) in misfits() {
        if what == "cgroups" && fails.iter().all(|f| f["check"] != "cgroups") {
            continue; // net_cls is here: see the test above
        }
        assert!(
            fails.iter().any(|f| f["check"] == what),
            "{what} missing from {fails:?}"
        );
    }
    // create stops at the first, which check listed with the others.
    let (out, err) = create(&b);
    assert!(!out.status.success());
    let matched: Vec<_> = fails
        .iter()
        .filter(|f| err.contains(f["found"].as_str().unwrap()))
        .collect();
    assert_eq!(matched.len(), 1, "create: {err}\ncheck: {fails:?}");
    b.assert_no_leftovers();
}

/// A cgroup `/NAME` of our own on the hierarchy that holds the freezer
/// (v1's, else the v2 one), removed on drop.
struct Parent(std::path::PathBuf);

impl Parent {
    fn on(controller: &str) -> Parent {
        let v1 = Path::new("/sys/fs/cgroup").join(controller);
        let base = if v1.join("cgroup.procs").exists() {
            v1
        } else if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            Path::new("/sys/fs/cgroup").to_path_buf()
        } else {
            Path::new("/sys/fs/cgroup/unified").to_path_buf()
        };
        let p = base.join(unique("berth-check-parent"));
        std::fs::create_dir(&p).unwrap();
        Parent(p)
    }
    fn name(&self) -> String {
        self.0.file_name().unwrap().to_string_lossy().into_owned()
    }
    fn v1(&self) -> bool {
        !self.0.join("cgroup.freeze").exists() && self.0.join("freezer.state").exists()
    }
}

impl Drop for Parent {
    fn drop(&mut self) {
        let _ = std::fs::write(self.0.join("freezer.state"), "THAWED");
        let _ = std::fs::write(self.0.join("cgroup.freeze"), "0");
        for _ in 0..100 {
            if std::fs::remove_dir(&self.0).is_ok() || !self.0.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // berth made the parent on the other hierarchies, under the name.
        let name = self.name();
        for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
            let _ = std::fs::remove_dir(h.path().join(&name));
        }
    }
}

#[test]
fn a_frozen_parent_cgroup_is_found_before_create_would_hang() {
    let parent = Parent::on("freezer");
    let (file, frozen) = if parent.v1() {
        ("freezer.state", "FROZEN")
    } else {
        ("cgroup.freeze", "1")
    };
    std::fs::write(parent.0.join(file), frozen).unwrap();
    let mut b = bundle(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("/{}/c", parent.name()));
    let found = check_then_create(&b, "cgroups").expect("a frozen parent must not fit");
    assert!(
        found.contains(&format!("frozen ({})", parent.0.join(file).display())),
        "{found}"
    );
    assert!(!parent.0.join("c").exists(), "create left its cgroup");
    // Thawed, the same bundle fits and runs.
    std::fs::write(
        parent.0.join(file),
        if parent.v1() { "THAWED" } else { "0" },
    )
    .unwrap();
    assert_eq!(check_then_create(&b, "fits"), None);
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let _ = std::fs::remove_dir(h.path().join(parent.name()).join("c"));
    }
    let _ = std::fs::remove_dir(parent.0.join("c"));
}

#[test]
fn a_cgroup_holding_a_process_is_found() {
    let parent = Parent::on("pids");
    let mut sleeper = Command::new("sleep").arg("100").spawn().unwrap();
    std::fs::write(parent.0.join("cgroup.procs"), sleeper.id().to_string()).unwrap();
    let mut b = bundle(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("/{}", parent.name()));
    let found = check_then_create(&b, "cgroups");
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    let found = found.expect("a cgroup in use must not fit");
    assert!(
        found.contains("already exists and holds processes"),
        "{found}"
    );
}

#[test]
fn a_systemd_cgroup_without_systemd_is_found() {
    // Where systemd is PID 1 the unit is made (and the bundle fits);
    // elsewhere there is no bus to ask, in create's words.
    let mut b = bundle(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("system.slice:berth:{}", b.id));
    let found = check_then_create_with(&b, "cgroups", &["--systemd-cgroup"]);
    let systemd = Path::new("/run/systemd/system").is_dir();
    assert_eq!(found.is_none(), systemd, "{found:?}");
}

/// berth as nobody (a copy every user may run) with a state root of its
/// own: a rootless caller.
struct Nobody {
    dir: std::path::PathBuf,
}

impl Nobody {
    fn new() -> Nobody {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(unique("berth-check-nobody"));
        std::fs::create_dir_all(dir.join("root")).unwrap();
        std::fs::copy(berth(), dir.join("berth")).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(dir.join("root"), Some(65534), Some(65534)).unwrap();
        Nobody { dir }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(self.dir.join("berth"));
        c.arg("--root")
            .arg(self.dir.join("root"))
            .args(args)
            .current_dir("/")
            .env_remove("XDG_RUNTIME_DIR")
            .stdin(Stdio::null());
        as_nobody(&mut c);
        c
    }
}

impl Drop for Nobody {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_rootless_limit_without_a_cgroup_to_hold_it_is_found() {
    let nobody = Nobody::new();
    let mut b = bundle(&["true"]);
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.push(json!({"type": "user"}));
    ns.retain(|n| n["type"] != "network");
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 65534, "size": 1}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 65534, "size": 1}]);
    b.config["linux"]["resources"] = json!({"pids": {"limit": 50}});
    b.write();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&b.dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = b.dir.to_str().unwrap();
    let out = output_once_not_busy(
        &mut nobody.cmd(&["check", "--format", "json", "--bundle", dir, "--id", &b.id]),
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)));
    let fails: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["area"] == "bundle" && f["level"] == "fail")
        .collect();
    // The init outlives create: its stderr goes to a file, not a pipe.
    let err_path = nobody.dir.join("create.stderr");
    let mut c = nobody.cmd(&["create", "-b", dir, &b.id]);
    c.stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let created = output_once_not_busy(&mut c);
    let err = std::fs::read_to_string(&err_path).unwrap();
    let _ = output_once_not_busy(&mut nobody.cmd(&["delete", "--force", &b.id]));
    if created.status.success() {
        // nobody was given a cgroup it may write (delegation): it fits.
        assert!(fails.is_empty(), "{fails:?}");
        return;
    }
    assert_eq!(fails.len(), 1, "{fails:?}\ncreate: {err}");
    let found = fails[0]["found"].as_str().unwrap();
    assert!(found.contains("berth runs rootless"), "{found}");
    assert!(err.contains(found), "create: {err}\ncheck: {found}");
}
