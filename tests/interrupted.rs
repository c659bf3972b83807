//! A create or start that never finishes: killed midway (an engine
//! restarted, the OOM killer), or stuck in a hook that never returns or
//! on a program that never says READY=1. Whatever it left must be
//! visible (`list`), deletable (`delete --force` exits 0 and leaves
//! nothing) and its id reusable; and `kill` and `delete --force` must
//! never wait on such a command forever: they end what it waits on, and
//! it fails and rolls back.

mod common;
use common::*;
use serde_json::json;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The runtime with `args` in the background, stderr to a file of its own.
fn spawn(b: &Bundle, args: &[&str], name: &str) -> Child {
    b.write();
    b.cmd(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(b.dir.join(name)).unwrap())
        .spawn()
        .unwrap()
}

/// Wait for `child` at most `secs`; None (and the child killed) if it
/// does not exit by then.
fn wait_for(child: &mut Child, secs: u64) -> Option<std::process::ExitStatus> {
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if let Some(st) = child.try_wait().unwrap() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < end, "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// `delete --force`, which must return promptly and succeed. When it
/// does not, the stuck command and `also` are killed first, so that the
/// bundle's own cleanup does not wait on them too.
fn force_delete(b: &Bundle, stuck: Option<&mut Child>, also: &[i32]) {
    let mut d = spawn(b, &["delete", "--force", &b.id], "delete.stderr");
    let st = wait_for(&mut d, 20);
    if st.is_none() {
        for pid in also {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if let Some(c) = stuck {
            let _ = c.kill();
            let _ = c.wait();
        }
        panic!("delete --force waited on the stuck command");
    }
    let e = std::fs::read_to_string(b.dir.join("delete.stderr")).unwrap();
    assert!(
        st.unwrap().success(),
        "delete --force of a half-made container failed: {e}"
    );
}

/// A create of the same id succeeds, and its container deletes cleanly.
fn id_is_free_again(b: &Bundle) {
    let out = b.create(&[]);
    assert!(
        out.status.success(),
        "the id is still taken: {}",
        stderr(&out)
    );
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}

#[test]
fn a_create_killed_midway_is_listed_deleted_and_its_id_reused() {
    let b = peer_bundle(&["sleep", "100"]);
    let dir = b.root.join(&b.id);
    for round in 0..10 {
        let mut c = spawn(
            &b,
            &["create", "-b", b.dir.to_str().unwrap(), &b.id],
            "create.stderr",
        );
        // SIGKILL as soon as the state dir appears: at a different step
        // of create in each round.
        while !dir.exists() && c.try_wait().unwrap().is_none() {
            std::hint::spin_loop();
        }
        if round % 2 == 1 {
            std::thread::sleep(Duration::from_micros(300 * round));
        }
        let _ = c.kill();
        let _ = c.wait();
        // runc's list skips a state dir without its state file.
        if runtime_is_berth() {
            let list = b.ok(&["list", "-q"]);
            assert!(
                !dir.exists() || list.lines().any(|l| l == b.id),
                "list hides the half-made container: {list:?}"
            );
        }
        force_delete(&b, None, &[]);
        b.assert_no_leftovers();
        id_is_free_again(&b);
    }
}

/// A create stuck in a prestart hook that never returns: the bundle, the
/// running create, and the hook's pid (the hook writes it).
fn stuck_in_a_hook() -> (Bundle, Child, i32) {
    let mut b = peer_bundle(&["sleep", "100"]);
    let pidfile = b.dir.join("hook.pid");
    b.config["hooks"] = json!({"prestart": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("echo $$ > {}.tmp; mv {0}.tmp {0}; exec sleep 1000", pidfile.display())]
    }]});
    let c = spawn(
        &b,
        &["create", "-b", b.dir.to_str().unwrap(), &b.id],
        "create.stderr",
    );
    until(10, "the prestart hook never started", || pidfile.exists());
    let hook = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (b, c, hook)
}

#[test]
fn delete_force_ends_a_create_stuck_in_a_prestart_hook() {
    let (b, mut c, hook) = stuck_in_a_hook();
    if runtime_is_berth() {
        // The hooks run: the container is not "created" yet.
        let list = b.ok(&["list", "--format", "json"]);
        let rows: serde_json::Value = serde_json::from_str(&list).unwrap();
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == b.id.as_str())
            .cloned();
        assert_eq!(row.unwrap()["status"], "creating", "{list}");
    }
    force_delete(&b, Some(&mut c), &[hook]);
    if runtime_is_berth() {
        // berth also ends what the create waited on, and the create then
        // fails, saying why, and rolls back.
        let st = wait_for(&mut c, 20).expect("the stuck create never ended");
        assert!(!st.success(), "the interrupted create succeeded");
        let e = std::fs::read_to_string(b.dir.join("create.stderr")).unwrap();
        assert!(
            e.contains("prestart") && e.contains("killed by signal 9"),
            "{e}"
        );
        until(5, "the hook outlived delete --force", || !alive(hook));
    } else {
        // runc's delete returns at once and leaves its create waiting on
        // the hook: end both here.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(hook),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = wait_for(&mut c, 20);
        let _ = b
            .cmd(&["delete", "--force", &b.id])
            .stderr(Stdio::null())
            .status();
    }
    b.assert_no_leftovers();
    // (for a container without the stuck hook)
    let mut b = b;
    b.config["hooks"] = json!({});
    id_is_free_again(&b);
}

/// berth's own: runc and crun refuse to kill a container being created.
#[test]
fn kill_ends_a_create_stuck_in_a_prestart_hook() {
    let (b, mut c, hook) = stuck_in_a_hook();
    let mut k = spawn(&b, &["kill", &b.id, "KILL"], "kill.stderr");
    let killed = wait_for(&mut k, 20);
    let ended = wait_for(&mut c, 20);
    if ended.is_none() {
        // Left for the test to end, before it fails.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(hook),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let e = std::fs::read_to_string(b.dir.join("kill.stderr")).unwrap();
    assert!(
        killed.expect("kill waited on the stuck create").success(),
        "{e}"
    );
    let st = ended.expect("the stuck create never ended");
    assert!(!st.success(), "the interrupted create succeeded");
    until(5, "the hook outlived kill", || !alive(hook));
    // The create rolled back all it made.
    b.assert_no_leftovers();
}

/// start waits for READY=1 from a program that never sends it: delete
/// --force must not wait for that start, which then fails.
#[test]
fn delete_force_ends_a_start_waiting_for_ready() {
    use std::os::unix::net::UnixDatagram;
    let b = peer_bundle(&["sleep", "1000"]);
    let host = b.dir.join("host.sock");
    let _sock = UnixDatagram::bind(&host).unwrap();
    b.write();
    let notify = |args: &[&str], name: &str| {
        b.cmd(args)
            .env("NOTIFY_SOCKET", &host)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(b.dir.join(name)).unwrap())
            .spawn()
            .unwrap()
    };
    let mut c = notify(
        &["create", "-b", b.dir.to_str().unwrap(), &b.id],
        "create.stderr",
    );
    let st = wait_for(&mut c, 20).expect("create hung");
    assert!(
        st.success(),
        "{}",
        std::fs::read_to_string(b.dir.join("create.stderr")).unwrap()
    );
    let mut s = notify(&["start", &b.id], "start.stderr");
    // start is now waiting for READY=1, which never comes.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        s.try_wait().unwrap().is_none(),
        "start did not wait for READY=1"
    );
    force_delete(&b, Some(&mut s), &[]);
    let st = wait_for(&mut s, 20).expect("the waiting start never ended");
    // runc's start says nothing of the container it was waiting for.
    if runtime_is_berth() {
        assert!(!st.success(), "start succeeded without READY=1");
    }
    b.assert_no_leftovers();
}
