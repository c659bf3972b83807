//! checkpoint and restore through CRIU. Each test asks `criu check`
//! first and asserts what must then happen: where CRIU works (the systemd
//! VM, which sets BERTH_EXPECT_CRIU=1 so that a broken CRIU fails the
//! test rather than passing as a refusal), a real checkpoint and restore;
//! where it cannot (this host's kernel: "Unexpected rt vDSO area
//! bounds"), a clear refusal that leaves the container as it was.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `criu check`: Ok, or criu's complaint.
fn criu_check() -> Result<(), String> {
    let out = match Command::new("criu").arg("check").output() {
        Ok(o) => o,
        Err(e) => return Err(format!("criu: {e}")),
    };
    if out.status.success() {
        return Ok(());
    }
    Err(String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout))
}

/// Whether CRIU works here; with BERTH_EXPECT_CRIU=1 it must.
fn criu_works() -> Result<(), String> {
    let probe = criu_check();
    if std::env::var("BERTH_EXPECT_CRIU").as_deref() == Ok("1") {
        assert!(
            probe.is_ok(),
            "BERTH_EXPECT_CRIU=1 but `criu check` fails: {probe:?}"
        );
    }
    eprintln!("criu check: {probe:?}");
    probe
}

/// What berth must say when CRIU cannot work: that criu is missing, or
/// the first of criu's own error messages.
fn first_complaint(why: &str) -> String {
    if why.starts_with("criu: ") {
        return "criu: not found".into();
    }
    why.lines()
        .find_map(|l| l.split_once("): ").map(|(_, m)| m.trim().to_string()))
        .unwrap_or_else(|| why.lines().next().unwrap_or("").trim().to_string())
}

/// A berth command whose stdio is files, never pipes: a restored
/// container takes over the stdio of the restore that made it.
fn berth_files(b: &Bundle, args: &[&str]) -> Output {
    let err_path = b.dir.join("cmd.stderr");
    let out_path = b.dir.join("cmd.stdout");
    let status = b
        .cmd(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .status()
        .unwrap();
    Output {
        status,
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    }
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The counter the container writes to its /tmp (a tmpfs, which CRIU
/// dumps and restores with it).
fn counter(pid: i64) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/root/tmp/count"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The counter, once it reads: the shell truncates the file before each
/// write, so a read can find it empty.
fn count(pid: i64) -> u64 {
    let mut n = 0;
    wait_until("the counter to read", || {
        counter(pid).map(|c| n = c).is_some()
    });
    n
}

fn counting_bundle() -> Bundle {
    let b = bundle(&[
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 1; done",
    ]);
    let out = b.create(&[]);
    assert!(out.status.success(), "create: {}", stderr(&out));
    b.ok(&["start", &b.id]);
    b
}

fn pid_of(b: &Bundle) -> i64 {
    let s = b.state();
    assert_eq!(s["status"], "running", "{s}");
    s["pid"].as_i64().unwrap()
}

#[test]
fn help_exits_zero_only_when_criu_works() {
    let probe = criu_works();
    for sub in ["checkpoint", "restore"] {
        let out = Command::new(berth())
            .args([sub, "--help"])
            .output()
            .unwrap();
        match &probe {
            Ok(()) => {
                assert!(out.status.success(), "{sub} --help: {}", stderr(&out));
                assert!(stdout(&out).contains("--image-path"), "{}", stdout(&out));
            }
            Err(why) => {
                assert!(!out.status.success(), "{sub} --help exited 0 without CRIU");
                let e = stderr(&out);
                assert!(e.contains(&first_complaint(why)), "{e}\nwant: {why}");
            }
        }
    }
    // --criu picks the binary: a missing one is no support, said so.
    let out = Command::new(berth())
        .args(["--criu", "/nonexistent/criu", "checkpoint", "--help"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("/nonexistent/criu: not found"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn checkpoint_and_restore() {
    match criu_works() {
        Ok(()) => round_trip(),
        Err(why) => refused(&why),
    }
}

/// Without CRIU: a checkpoint fails with criu's complaint and leaves the
/// container running and deletable; a restore leaves nothing behind.
fn refused(why: &str) {
    let b = counting_bundle();
    let pid = pid_of(&b);
    let img = b.dir.join("img");
    let out = berth_files(
        &b,
        &["checkpoint", "--image-path", img.to_str().unwrap(), &b.id],
    );
    assert!(!out.status.success(), "checkpoint succeeded without CRIU");
    let e = stderr(&out);
    assert!(e.contains(&first_complaint(why)), "{e}\nwant: {why}");
    assert_eq!(
        pid_of(&b),
        pid,
        "the container changed after a failed checkpoint"
    );
    // Still counting.
    let before = counter(pid).unwrap_or(0);
    wait_until("the counter to go on", || {
        counter(pid).unwrap_or(0) > before
    });
    restore_failure_leaves_nothing(&b, &first_complaint(why));
    b.ok(&["kill", &b.id, "KILL"]);
    wait_until("the container to stop", || b.state()["status"] == "stopped");
    b.ok(&["delete", &b.id]);
    b.assert_no_leftovers();
}

/// A restore that CRIU fails (here: images without CRIU's files) takes
/// back the state dir and the cgroup it made.
fn restore_failure_leaves_nothing(b: &Bundle, want: &str) {
    let img = b.dir.join("bogus-img");
    std::fs::create_dir_all(&img).unwrap();
    std::fs::write(img.join("berth-criu.json"), r#"{"mounts":[],"stdio":[]}"#).unwrap();
    let id = format!("{}-r", b.id);
    let out = berth_files(
        b,
        &[
            "restore",
            "-d",
            "--image-path",
            img.to_str().unwrap(),
            "--bundle",
            b.dir.to_str().unwrap(),
            &id,
        ],
    );
    assert!(!out.status.success(), "restore of nothing succeeded");
    let e = stderr(&out);
    assert!(e.contains(want), "{e}\nwant: {want}");
    assert!(!b.root.join(&id).exists(), "state dir left behind");
    for d in cgroup_dirs_for(&id) {
        assert!(!d.exists(), "cgroup {} left behind", d.display());
    }
}

fn checkpoint(b: &Bundle, img: &Path, extra: &[&str]) {
    let mut args = vec!["checkpoint", "--image-path", img.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(&b.id);
    let out = berth_files(b, &args);
    let name = if extra.contains(&"--pre-dump") {
        "pre-dump.log"
    } else {
        "dump.log"
    };
    let log = std::fs::read_to_string(img.join(name)).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(30).collect();
    assert!(
        out.status.success(),
        "checkpoint {extra:?}: {}\n{name} (last lines, reversed):\n{}",
        stderr(&out),
        tail.join("\n")
    );
}

/// `restore --detach` of `img` as the bundle's container.
fn restore_detached(b: &Bundle, img: &Path, pid_file: &Path) -> Output {
    berth_files(
        b,
        &[
            "restore",
            "--detach",
            "--image-path",
            img.to_str().unwrap(),
            "--bundle",
            b.dir.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            &b.id,
        ],
    )
}

fn restore(b: &Bundle, img: &Path, pid_file: &Path) {
    restored(&restore_detached(b, img, pid_file), img);
}

/// A restore that must have succeeded; else what CRIU logged last.
fn restored(out: &Output, img: &Path) {
    let log = std::fs::read_to_string(img.join("restore.log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(30).collect();
    assert!(
        out.status.success(),
        "restore: {}\nrestore.log (last lines, reversed):\n{}",
        stderr(out),
        tail.join("\n")
    );
}

/// With CRIU: checkpoint ends the container, restore brings it back under
/// the same id, counting on from where it was; exec, a checkpoint with
/// --leave-running, kill and delete work on the restored container.
fn round_trip() {
    let mut b = counting_bundle();
    let pid = pid_of(&b);
    wait_until("the counter to reach 3", || counter(pid).unwrap_or(0) >= 3);
    // A pre-dump leaves it running; the dump on top of it is incremental.
    let pre = b.dir.join("pre");
    checkpoint(&b, &pre, &["--pre-dump"]);
    assert_eq!(pid_of(&b), pid);
    let n = count(pid);
    wait_until("the counter to go on after --pre-dump", || {
        counter(pid).unwrap_or(0) > n
    });
    let img: PathBuf = b.dir.join("img");
    checkpoint(&b, &img, &["--parent-path", "../pre"]);
    let at_dump = std::fs::read_to_string(img.join("berth-criu.json")).unwrap();
    eprintln!("berth-criu.json: {at_dump}");
    // As runc: the dumped container is gone (process, state, cgroup).
    assert!(
        std::fs::metadata(format!("/proc/{pid}/root/tmp")).is_err(),
        "the container's init still runs after checkpoint"
    );
    let st = b.cmd(&["state", &b.id]).output().unwrap();
    assert!(
        !st.status.success(),
        "state after checkpoint: {}",
        stdout(&st)
    );
    b.assert_no_leftovers();

    // A failing poststart hook undoes the restore, as it fails start: no
    // state, no cgroup (so no process in it), no pid file.
    let pid_file = b.dir.join("restored.pid");
    b.config["hooks"] =
        serde_json::json!({"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]});
    b.write();
    let out = restore_detached(&b, &img, &pid_file);
    assert!(
        !out.status.success(),
        "restore with a failing poststart succeeded"
    );
    let e = stderr(&out);
    assert!(e.contains("poststart hook #0 (/bin/sh)"), "{e}");
    b.assert_no_leftovers();
    assert!(!pid_file.exists(), "pid file left by a failed restore");

    // A failing createRuntime hook fails the restore as it fails create:
    // nothing left, and the poststop hooks run, seeing it stopped.
    let after = b.dir.join("poststop.json");
    b.config["hooks"] = serde_json::json!({
        "createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 4"]}],
        "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}", after.display())]}],
    });
    b.write();
    let out = restore_detached(&b, &img, &pid_file);
    assert!(
        !out.status.success(),
        "restore with a failing createRuntime succeeded"
    );
    let e = stderr(&out);
    assert!(e.contains("createRuntime hook #0 (/bin/sh)"), "{e}");
    b.assert_no_leftovers();
    let stopped: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&after).expect("poststop did not run"))
            .unwrap();
    assert_eq!(stopped["status"], "stopped", "{stopped}");

    // Otherwise poststart sees the restored container running, and
    // prestart and createRuntime ran before it (at CRIU's
    // setup-namespaces, as runc runs them), seeing it created.
    let seen = b.dir.join("poststart.json");
    let early = b.dir.join("create-runtime.json");
    let order = b.dir.join("order");
    let hook = |name: &str, extra: &str| {
        serde_json::json!({"path": "/bin/sh",
            "args": ["sh", "-c", format!("echo {name} >> {}; {extra}", order.display())]})
    };
    b.config["hooks"] = serde_json::json!({
        "prestart": [hook("prestart", "")],
        "createRuntime": [hook("createRuntime", &format!("cat > {}", early.display()))],
        "poststart": [hook("poststart", &format!("cat > {}", seen.display()))],
    });
    b.write();
    restore(&b, &img, &pid_file);
    assert_eq!(
        std::fs::read_to_string(&order).unwrap(),
        "prestart\ncreateRuntime\npoststart\n"
    );
    let written: i64 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    let s = b.state();
    eprintln!("state after restore: {s}");
    assert_eq!(s["status"], "running");
    assert_eq!(s["pid"].as_i64().unwrap(), written);
    let hook: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&seen).expect("poststart did not run"))
            .unwrap();
    assert_eq!(hook["status"], "running", "{hook}");
    assert_eq!(hook["pid"].as_i64(), Some(written), "{hook}");
    let hook: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&early).expect("createRuntime did not run"))
            .unwrap();
    assert_eq!(hook["status"], "created", "{hook}");
    assert_eq!(hook["pid"].as_i64(), Some(written), "{hook}");
    let new_pid = written;
    let restored = count(new_pid);
    assert!(restored >= 3, "counter after restore: {restored}");
    // It counts on from there: a fresh start would write 1, 2, ...
    wait_until("the restored counter to go on", || {
        let n = counter(new_pid).unwrap_or(0);
        assert!(n >= restored, "counter went back from {restored} to {n}");
        n > restored
    });
    // In the container's cgroup again.
    let procs: Vec<String> = cgroup_dirs_for(&b.id)
        .iter()
        .filter_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
        .collect();
    assert!(
        procs
            .iter()
            .any(|p| p.lines().any(|l| l == new_pid.to_string())),
        "restored init {new_pid} is not in the container's cgroup: {procs:?}"
    );

    // exec joins the restored namespaces.
    let out = berth_files(&b, &["exec", &b.id, "sh", "-c", "cat /tmp/count; hostname"]);
    assert!(out.status.success(), "exec: {}", stderr(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    let seen: u64 = lines.next().unwrap().trim().parse().unwrap();
    assert!(seen >= restored, "exec saw {seen}");
    assert_eq!(lines.next(), Some("berth-test"));

    // --leave-running: the same process goes on.
    let img2 = b.dir.join("img2");
    let before = count(new_pid);
    checkpoint(&b, &img2, &["--leave-running"]);
    assert_eq!(pid_of(&b), new_pid);
    wait_until("the counter to go on after --leave-running", || {
        counter(new_pid).unwrap_or(0) > before
    });
    assert!(img2.join("berth-criu.json").exists());

    b.ok(&["kill", &b.id, "KILL"]);
    wait_until("the container to stop", || b.state()["status"] == "stopped");
    b.ok(&["delete", &b.id]);
    b.assert_no_leftovers();

    foreground_restore(&b, &img2, before);
    restore_failure_leaves_nothing(&b, "criu restore failed");
}

/// Without --detach, restore waits for the container as `run` does: it
/// exits with the container's status and deletes it. The images are the
/// --leave-running ones.
fn foreground_restore(b: &Bundle, img: &Path, at_least: u64) {
    let mut child = b
        .cmd(&[
            "restore",
            "--image-path",
            img.to_str().unwrap(),
            "--bundle",
            b.dir.to_str().unwrap(),
            &b.id,
        ])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(b.dir.join("fg.stdout")).unwrap())
        .stderr(std::fs::File::create(b.dir.join("fg.stderr")).unwrap())
        .spawn()
        .unwrap();
    let fg_err = || std::fs::read_to_string(b.dir.join("fg.stderr")).unwrap_or_default();
    wait_until("the foreground restore to bring it back", || {
        if let Ok(Some(st)) = child.try_wait() {
            panic!("foreground restore exited {st}: {}", fg_err());
        }
        let out = b.cmd(&["state", &b.id]).output().unwrap();
        out.status.success()
            && serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["status"]
                == "running"
    });
    let pid = pid_of(b);
    let n = count(pid);
    assert!(n >= at_least, "counter {n} after restoring from {at_least}");
    b.ok(&["kill", &b.id, "KILL"]);
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(137), "foreground restore: {}", fg_err());
    b.assert_no_leftovers();
}

/// --parent-path is checked before anything is done, as runc checks it:
/// relative to --image-path (as CRIU reads it) and a directory there.
/// The container goes on running; no image directory is made. Needs no
/// CRIU: nothing reaches it.
#[test]
fn a_bad_parent_path_is_refused_before_anything_is_done() {
    let b = peer_bundle(&["sleep", "100"]);
    assert!(b.create(&[]).status.success(), "create");
    b.ok(&["start", &b.id]);
    let img = b.dir.join("img");
    std::fs::write(b.dir.join("a-file"), "").unwrap();
    for (parent, want) in [
        ("/abs/pre", "relative"),
        ("../missing", "no such file or directory"),
        ("../a-file", "not a directory"),
    ] {
        let out = b
            .cmd(&[
                "checkpoint",
                "--image-path",
                img.to_str().unwrap(),
                "--parent-path",
                parent,
                &b.id,
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "--parent-path {parent} was accepted");
        let e = stderr(&out).to_lowercase();
        assert!(
            e.contains("parent-path") && e.contains(want),
            "--parent-path {parent}: {e}"
        );
        assert_eq!(
            b.state()["status"],
            "running",
            "after --parent-path {parent}"
        );
        assert!(
            !img.exists(),
            "--parent-path {parent} left an image directory"
        );
    }
    b.ok(&["kill", &b.id, "KILL"]);
    wait_until("the container to stop", || b.state()["status"] == "stopped");
    b.ok(&["delete", &b.id]);
    b.assert_no_leftovers();
}

#[test]
fn a_terminal_survives_checkpoint_and_restore() {
    match criu_works() {
        Ok(()) => terminal_round_trip(),
        Err(why) => {
            // No CRIU here: what refuses the checkpoint is CRIU, not a
            // terminal berth would not take.
            let (b, _master) = terminal_bundle();
            let img = b.dir.join("img");
            let out = berth_files(
                &b,
                &["checkpoint", "--image-path", img.to_str().unwrap(), &b.id],
            );
            assert!(!out.status.success());
            let e = stderr(&out);
            assert!(e.contains(&first_complaint(&why)), "{e}\nwant: {why}");
            b.ok(&["delete", "--force", &b.id]);
            b.assert_no_leftovers();
        }
    }
}

/// A running container whose shell answers each line on its terminal
/// with the line and the terminal's name; and the pty master.
fn terminal_bundle() -> (Bundle, std::fs::File) {
    let mut b = bundle(&[
        "sh",
        "-c",
        "while read l; do echo \"got $l on $(tty)\"; done",
    ]);
    b.config["process"]["terminal"] = serde_json::json!(true);
    b.write();
    let sock = b.dir.join("console.sock");
    let rx = console_master(&sock);
    let out = b.create(&["--console-socket", sock.to_str().unwrap()]);
    assert!(out.status.success(), "create: {}", stderr(&out));
    b.ok(&["start", &b.id]);
    (b, std::fs::File::from(rx.join().unwrap().1.remove(0)))
}

/// Type `line` on the terminal and wait for the shell's answer.
fn answer(master: &mut std::fs::File, line: &str) -> String {
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    master.write_all(format!("{line}\n").as_bytes()).unwrap();
    let want = format!("got {line} on ");
    let end = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no answer to {line:?}; saw {seen:?}");
        let mut fds = [nix::poll::PollFd::new(
            master.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = left.as_millis().min(1000) as u16;
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)).unwrap() == 0 {
            continue;
        }
        let mut buf = [0u8; 1024];
        let n = master.read(&mut buf).unwrap_or(0);
        assert!(n > 0, "the terminal closed; saw {seen:?}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        if let Some(i) = seen.find(&want)
            && let Some(eol) = seen[i..].find('\n')
        {
            return seen[i..i + eol].trim_end_matches('\r').to_string();
        }
    }
}

/// With CRIU: the restored shell reads and writes the same terminal
/// (the same pty in the container's devpts), whose new master reaches
/// the restore's --console-socket.
fn terminal_round_trip() {
    let (b, mut master) = terminal_bundle();
    let before = answer(&mut master, "one");
    assert!(before.starts_with("got one on /dev/pts/"), "{before}");
    let img = b.dir.join("img");
    checkpoint(&b, &img, &[]);
    drop(master);
    b.assert_no_leftovers();

    // Detached without a console socket, the master would have nowhere
    // to go: refused before anything is made.
    let out = restore_detached(&b, &img, &b.dir.join("pid"));
    assert!(
        !out.status.success(),
        "restore -d of a terminal without a socket"
    );
    assert!(
        stderr(&out).contains("--console-socket"),
        "{}",
        stderr(&out)
    );
    b.assert_no_leftovers();

    let sock = b.dir.join("restore.sock");
    let rx = console_master(&sock);
    let out = berth_files(
        &b,
        &[
            "restore",
            "--detach",
            "--console-socket",
            sock.to_str().unwrap(),
            "--image-path",
            img.to_str().unwrap(),
            "--bundle",
            b.dir.to_str().unwrap(),
            &b.id,
        ],
    );
    restored(&out, &img);
    let mut master = std::fs::File::from(rx.join().unwrap().1.remove(0));
    assert_eq!(b.state()["status"], "running");
    let after = answer(&mut master, "two");
    let tty = |s: &str| s.rsplit(' ').next().unwrap_or("").to_string();
    assert_eq!(tty(&after), tty(&before), "{before} / {after}");
    b.ok(&["kill", &b.id, "KILL"]);
    wait_until("the container to stop", || b.state()["status"] == "stopped");
    b.ok(&["delete", &b.id]);
    b.assert_no_leftovers();
}
