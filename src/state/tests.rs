//! Records, claims, locks and status, against a temp dir.

use super::*;

fn saved(pid: i32, start_time: u64) -> Saved {
    Saved {
        id: "c1".into(),
        pid,
        start_time,
        bundle: "/b".into(),
        rootfs: "/b/rootfs".into(),
        created: "2026-01-01T00:00:00.000000000Z".into(),
        owner: "root".into(),
        annotations: HashMap::new(),
        cgroup: Cgroup::default(),
        hooks: None,
        oci_version: "1.2.0".into(),
        resources: None,
        process: None,
        seccomp: None,
        memory_policy: None,
        personality: None,
        no_new_keyring: false,
        shares_mount_ns: false,
    }
}

#[test]
fn default_root_follows_runc_then_a_per_user_dir() {
    let x = Some(Path::new("/run/user/1000"));
    let never = |_: &Path| false;
    let root_user = |p: &Path| p == Path::new("/run/user/1000");
    // Not root: XDG_RUNTIME_DIR when set.
    assert_eq!(
        default_root_for(1000, x, || false, Some("u"), never),
        DefaultRoot::Xdg("/run/user/1000/berth".into())
    );
    // Root on the host keeps /run/berth even with XDG_RUNTIME_DIR.
    assert_eq!(
        default_root_for(
            0,
            Some(Path::new("/run/user/0")),
            || false,
            Some("root"),
            never
        ),
        DefaultRoot::System("/run/berth".into())
    );
    // Root in a user namespace (rootlesskit) is a user, unless USER=root.
    assert_eq!(
        default_root_for(0, x, || true, Some("u"), never),
        DefaultRoot::Xdg("/run/user/1000/berth".into())
    );
    assert_eq!(
        default_root_for(0, x, || true, Some("root"), never),
        DefaultRoot::System("/run/berth".into())
    );
    // Unset: /run/user/UID when it is ours, else /tmp/berth-UID.
    assert_eq!(
        default_root_for(1000, None, || false, None, root_user),
        DefaultRoot::PerUser("/run/user/1000/berth".into())
    );
    assert_eq!(
        default_root_for(1000, None, || false, None, never),
        DefaultRoot::PerUser("/tmp/berth-1000".into())
    );
}

/// `list` reads what `load` reads, for as many containers as there
/// are (two threads past 64), in id order; its slim parse keeps what
/// `state` shows and the freezer that tells a pause, and a directory
/// that is not a container is not listed.
#[test]
fn list_reads_what_load_reads_for_every_container() {
    let t = crate::tempdir::TempDir::new();
    let freezer = t.path().join("freezer/c");
    std::fs::create_dir_all(&freezer).unwrap();
    std::fs::write(freezer.join("freezer.state"), "FROZEN\n").unwrap();
    let mut s = saved(std::process::id() as i32, 0);
    s.start_time = proc_start_time(s.pid).unwrap().0;
    s.annotations.insert("a".into(), "b".into());
    s.cgroup = crate::cgroups::locate_in(
        &crate::cgroups::parse_mountinfo(&format!(
            "32 31 0:29 / {} rw - cgroup cgroup rw,freezer\n33 31 0:30 / {} rw - cgroup cgroup rw,memory\n",
            t.path().join("freezer").display(),
            t.path().join("memory").display()
        )),
        "1:freezer:/\n2:memory:/\n",
        Some(Path::new("/c")),
        "x",
        false,
    )
    .unwrap();
    let ids: Vec<String> = (0..70).map(|i| format!("c{i:02}")).collect();
    let root = t.path().join("root");
    for id in &ids {
        let (dir, _lock) = create_dir(&root, id).unwrap();
        save(
            &dir,
            &Saved {
                id: id.clone(),
                ..s.clone()
            },
        )
        .unwrap();
        finish_creating(&dir).unwrap();
    }
    std::fs::create_dir(root.join("other")).unwrap();
    std::fs::write(root.join("other/file"), "x").unwrap();
    let listed = list(&root, |c, status| (c.oci_state(status.as_str()), status)).unwrap();
    assert_eq!(listed.len(), 70);
    for ((row, status), id) in listed.iter().zip(&ids) {
        let full = load(&root, id, false).unwrap();
        assert_eq!(*status, full.status());
        assert_eq!(*status, Status::Paused);
        assert_eq!(*row, full.oci_state(status.as_str()));
    }
}

#[test]
fn save_load_and_duplicate_ids() {
    let t = crate::tempdir::TempDir::new();
    let (dir, lock) = create_dir(t.path(), "c1").unwrap();
    save(&dir, &saved(1, 1)).unwrap();
    drop(lock);
    let e = create_dir(t.path(), "c1").unwrap_err().to_string();
    assert!(e.contains("already exists"), "{e}");
    let c = load(t.path(), "c1", true).unwrap();
    assert_eq!(c.saved.pid, 1);
    let e = load(t.path(), "nope", false).err().unwrap().to_string();
    assert_eq!(e, "container nope does not exist");
    assert_eq!(list_ids(t.path()).unwrap(), ["c1"]);
}

#[test]
fn half_made_containers_are_containers_and_nothing_else_is() {
    let t = crate::tempdir::TempDir::new();
    // A create that claimed its id and holds the lock: "creating".
    let (_dir, lock) = create_dir(t.path(), "busy").unwrap();
    let c = load(t.path(), "busy", false).unwrap();
    assert_eq!((c.saved.pid, c.status()), (0, Status::Creating));
    // The same, its create gone: "stopped", to be deleted.
    drop(lock);
    assert_eq!(
        load(t.path(), "busy", false).unwrap().status(),
        Status::Stopped
    );
    // Killed right after the mkdir: an empty dir.
    std::fs::create_dir(t.path().join("empty")).unwrap();
    assert_eq!(
        load(t.path(), "empty", false).unwrap().status(),
        Status::Stopped
    );
    // Anything else under --root is not berth's.
    std::fs::create_dir(t.path().join("other")).unwrap();
    std::fs::write(t.path().join("other/file"), "x").unwrap();
    let e = load(t.path(), "other", false).err().unwrap().to_string();
    assert_eq!(e, "container other does not exist");
    assert_eq!(list_ids(t.path()).unwrap(), ["busy", "empty"]);
}

/// A container in a temp dir whose init is this test process, and
/// that process's start time.
fn this_process_as_init(t: &crate::tempdir::TempDir) -> (Container, u64) {
    let me = std::process::id() as i32;
    let (st, _) = proc_start_time(me).unwrap();
    let c = Container {
        dir: t.path().to_path_buf(),
        saved: saved(me, st),
        _lock: None,
    };
    (c, st)
}

#[test]
fn status_is_derived_from_pid_and_start_time() {
    let t = crate::tempdir::TempDir::new();
    let (c, st) = this_process_as_init(&t);
    assert_eq!(c.status(), Status::Running);
    std::fs::write(t.path().join(FIFO), "").unwrap();
    assert_eq!(c.status(), Status::Created);
    // Same pid, other start time: a reused pid is not our container.
    let c = Container {
        dir: t.path().to_path_buf(),
        saved: saved(c.saved.pid, st + 1),
        _lock: None,
    };
    assert_eq!(c.status(), Status::Stopped);
    assert_eq!(c.oci_state("stopped")["pid"], 0);
}

#[test]
fn a_killed_create_is_told_by_its_claim_while_its_fifo_is_there() {
    let t = crate::tempdir::TempDir::new();
    let (c, _) = this_process_as_init(&t);
    // Killed after its init was ready: created, to kill and delete.
    std::fs::write(t.path().join(FIFO), "").unwrap();
    std::fs::write(t.path().join(CREATING), "").unwrap();
    assert_eq!(c.status(), Status::Created);
    let lock = lock_dir(t.path()).unwrap();
    assert_eq!(c.status(), Status::Creating, "its create still at work");
    drop(lock);
    // Started all the same: its init runs, whatever the claim says.
    std::fs::remove_file(t.path().join(FIFO)).unwrap();
    assert_eq!(c.status(), Status::Running);
}
