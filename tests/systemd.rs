//! The systemd cgroup driver where systemd is not running (this host):
//! create must fail saying which sockets it tried and why, and leave
//! nothing behind. The driver itself is checked against a real systemd
//! by tests/vm/systemd-check.sh, inside a VM.

mod common;
use common::*;
use serde_json::json;
use std::path::Path;
use std::process::Stdio;

/// create --systemd-cgroup, with the system bus pointed at `bus`.
fn create_systemd(b: &Bundle, bus: &Path) -> (bool, String) {
    b.write();
    let err_path = b.dir.join("create.stderr");
    let status = b
        .cmd(&[
            "--systemd-cgroup",
            "create",
            "-b",
            b.dir.to_str().unwrap(),
            &b.id,
        ])
        .env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            format!("unix:path={}", bus.display()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .status()
        .unwrap();
    (
        status.success(),
        std::fs::read_to_string(&err_path).unwrap(),
    )
}

/// No scope, slice or directory named after the container anywhere.
fn assert_no_cgroup_named(id: &str) {
    let mut stack = vec![std::path::PathBuf::from("/sys/fs/cgroup")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let name = e.file_name().to_string_lossy().into_owned();
                assert!(
                    !name.contains(id),
                    "cgroup {} left behind",
                    e.path().display()
                );
                stack.push(e.path());
            }
        }
    }
}

#[test]
fn without_systemd_create_fails_naming_the_sockets_and_leaves_nothing() {
    if Path::new("/run/systemd/private").exists() {
        eprintln!("skipped: systemd runs here (tests/vm/systemd-check.sh covers it)");
        return;
    }
    let mut b = bundle(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("system.slice:berth:{}", b.id));
    b.config["linux"]["resources"] = json!({"memory": {"limit": 67108864}, "pids": {"limit": 10}});
    let bus = b.dir.join("no-bus-here");
    let (ok, err) = create_systemd(&b, &bus);
    assert!(!ok, "create succeeded without systemd");
    for w in [
        "--systemd-cgroup",
        "connect /run/systemd/private: no such file or directory",
        &format!("connect {}: no such file or directory", bus.display()),
    ] {
        assert!(err.contains(w), "{w:?} not in {err:?}");
    }
    b.assert_no_leftovers();
    assert_no_cgroup_named(&b.id);
    // The same with the default cgroupsPath (system.slice:berth:ID).
    b.config["linux"]
        .as_object_mut()
        .unwrap()
        .remove("cgroupsPath");
    let (ok, err) = create_systemd(&b, &bus);
    assert!(!ok);
    assert!(err.contains("/run/systemd/private"), "{err}");
    b.assert_no_leftovers();
    assert_no_cgroup_named(&b.id);
}

#[test]
fn cgroups_path_must_be_slice_prefix_name_with_the_driver_and_not_without() {
    let mut b = bundle(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!("/plain/path");
    let (ok, err) = create_systemd(&b, &b.dir.join("bus"));
    assert!(!ok);
    assert!(err.contains("linux.cgroupsPath"), "{err}");
    assert!(err.contains("slice:prefix:name"), "{err}");
    b.assert_no_leftovers();
    // A bad slice is refused before systemd is asked anything.
    b.config["linux"]["cgroupsPath"] = json!("bad--name.slice:berth:x");
    let (ok, err) = create_systemd(&b, &b.dir.join("bus"));
    assert!(!ok);
    assert!(err.contains("invalid slice name"), "{err}");
    // The systemd form without the flag.
    b.config["linux"]["cgroupsPath"] = json!("system.slice:berth:x");
    let out = b.create(&[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--systemd-cgroup"),
        "{}",
        stderr(&out)
    );
    b.assert_no_leftovers();
}

#[test]
fn unreadable_systemd_property_annotations_are_refused_by_name() {
    // Refused before systemd is asked anything (there is none here), and
    // only with the driver: the cgroupfs one ignores them, as runc does.
    for (key, value, want) in [
        ("org.systemd.property.CollectMode", "inactive", "inactive"),
        (
            "org.systemd.property.Collect_Mode",
            "'x'",
            "systemd property name",
        ),
        ("org.systemd.property.TimeoutStopSec", "'5s'", "seconds"),
        ("org.systemd.property.Wants", "@as [1]", "is not a value"),
    ] {
        let mut b = bundle(&["true"]);
        b.config["annotations"] = json!({ key: value });
        let (ok, err) = create_systemd(&b, &b.dir.join("bus"));
        assert!(!ok);
        assert!(
            err.contains(&format!("annotations[{key:?}]")) && err.contains(want),
            "{key}={value}: {err}"
        );
        assert!(!err.contains("/run/systemd/private"), "{err}");
        b.assert_no_leftovers();
        assert_eq!(b.run_ok(), "");
    }
}

#[test]
fn features_say_systemd() {
    let out = std::process::Command::new(berth())
        .arg("features")
        .output()
        .unwrap();
    let f: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(f["linux"]["cgroup"]["systemd"], true);
}
