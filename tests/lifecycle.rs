//! create / start / state / kill / delete / run / list, as engines and
//! people drive them.

mod common;
use common::*;
use serde_json::json;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn wait_status(b: &Bundle, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = b.state();
        if s["status"] == want {
            return;
        }
        assert!(Instant::now() < deadline, "status stuck at {s}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn run_returns_output_and_exit_code() {
    let b = bundle(&["sh", "-c", "echo hello; echo oops >&2; exit 3"]);
    let out = b.run();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), "hello\n");
    assert_eq!(stderr(&out), "oops\n");
    b.assert_no_leftovers();
}

#[test]
fn run_forwards_signals_and_returns_128_plus_n() {
    // Without a pid namespace the program is not an init, so TERM's
    // default action applies.
    let mut b = bundle(&["sleep", "100"]);
    b.config["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "uts"}, {"type": "ipc"}]);
    b.write();
    let child = b
        .cmd(&["run", "-b", b.dir.to_str().unwrap(), &b.id])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the container is running, then TERM berth itself.
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.cmd(&["state", &b.id]).output().unwrap().stdout.is_empty()
        || b.state()["status"] != "running"
    {
        assert!(Instant::now() < deadline, "container never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(128 + 15));
    b.assert_no_leftovers();
}

#[test]
fn create_start_kill_delete_with_states_and_pid_file() {
    let b = bundle(&["sleep", "100"]);
    let pid_file = b.dir.join("pid");
    let out = b.create(&["--pid-file", pid_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pid_text = std::fs::read_to_string(&pid_file).unwrap();
    assert!(pid_text.chars().all(|c| c.is_ascii_digit()), "{pid_text:?}");
    let s = b.state();
    assert_eq!(s["status"], "created");
    assert_eq!(s["pid"].to_string(), pid_text);
    assert_eq!(s["id"], b.id.as_str());
    assert_eq!(s["bundle"], b.dir.to_str().unwrap());
    assert_eq!(s["ociVersion"], "1.2.0");
    assert_eq!(s["owner"], "root");
    assert!(s["created"].as_str().unwrap().ends_with('Z'));
    for d in b.cgroup_dirs() {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|l| l == pid_text),
            "{} lacks the init",
            d.display()
        );
    }
    b.ok(&["start", &b.id]);
    assert_eq!(b.state()["status"], "running");
    let again = b.cmd(&["start", &b.id]).output().unwrap();
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already running"),
        "{}",
        stderr(&again)
    );
    let del = b.cmd(&["delete", &b.id]).output().unwrap();
    assert!(!del.status.success());
    assert!(stderr(&del).contains("not stopped"), "{}", stderr(&del));
    b.ok(&["kill", &b.id, "KILL"]);
    wait_status(&b, "stopped");
    let k = b.cmd(&["kill", &b.id, "TERM"]).output().unwrap();
    assert!(!k.status.success());
    assert!(
        stderr(&k).contains("container not running"),
        "{}",
        stderr(&k)
    );
    b.ok(&["delete", &b.id]);
    b.assert_no_leftovers();
}

/// runtime.md, Delete: deleting a container that is not stopped MUST
/// fail and leave it as it was, a created one included (runc deletes it);
/// --force deletes it, killing its init.
#[test]
fn a_created_container_is_deleted_only_with_force() {
    let b = peer_bundle(&["true"]);
    assert!(b.create(&[]).status.success());
    let pid = b.state()["pid"].as_i64().unwrap();
    let out = b.cmd(&["delete", &b.id]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not stopped: created"),
        "{}",
        stderr(&out)
    );
    assert_eq!(b.state()["status"], "created");
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z"),
        "init still alive: {stat}"
    );
}

#[test]
fn delete_force_kills_a_running_container_and_ignores_missing_ones() {
    let b = bundle(&["sleep", "100"]);
    assert!(b.create(&[]).status.success());
    b.ok(&["start", &b.id]);
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
    b.ok(&["delete", "--force", &b.id]);
    let out = b.cmd(&["delete", &b.id]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("does not exist"));
}

#[test]
fn run_detached_then_list() {
    let b = bundle(&["sleep", "100"]);
    b.write();
    let out = b
        .cmd(&["run", "-d", "-b", b.dir.to_str().unwrap(), &b.id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(b.state()["status"], "running");
    assert_eq!(b.ok(&["list", "-q"]), format!("{}\n", b.id));
    let table = b.ok(&["list"]);
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("ID"));
    let row = lines.next().unwrap();
    assert!(row.starts_with(&b.id) && row.contains("running"), "{row}");
    let json: serde_json::Value =
        serde_json::from_str(&b.ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(json[0]["id"], b.id.as_str());
    assert_eq!(json[0]["status"], "running");
    // runc's single-dash spelling of global flags.
    let single = std::process::Command::new(berth())
        .arg("-root")
        .arg(&b.root)
        .args(["state", &b.id])
        .output()
        .unwrap();
    assert!(single.status.success(), "{}", stderr(&single));
    b.ok(&["kill", &b.id, "9"]);
    wait_status(&b, "stopped");
    b.ok(&["delete", &b.id]);
    b.assert_no_leftovers();
}

#[test]
fn run_keep_leaves_a_stopped_container() {
    let b = bundle(&["true"]);
    b.write();
    let out = b
        .cmd(&["run", "--keep", "-b", b.dir.to_str().unwrap(), &b.id])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(b.state()["status"], "stopped");
    assert_eq!(b.state()["pid"], 0);
    b.ok(&["delete", &b.id]);
    b.assert_no_leftovers();
}

#[test]
fn hooks_run_in_order_with_the_state_on_stdin() {
    let b = peer_bundle(&["true"]);
    let mut b = b;
    let log = b.dir.join("hooks.log");
    let hook = |stage: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("read s; echo \"{stage} $s\" >> {}", log.display())]});
    // createContainer and startContainer run in the container's mount
    // namespace; the log path is on the host, reachable before pivot_root
    // for createContainer. startContainer writes to the container's /tmp.
    b.config["hooks"] = json!({
        "prestart": [hook("prestart")],
        "createRuntime": [hook("createRuntime")],
        "createContainer": [hook("createContainer")],
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "read s; echo \"startContainer $s\" > /tmp/start.log"]}],
        "poststart": [hook("poststart")],
        "poststop": [hook("poststop")]
    });
    b.write();
    assert!(b.create(&[]).status.success());
    let pid = b.state()["pid"].as_i64().unwrap();
    b.ok(&["start", &b.id]);
    b.ok(&["delete", "--force", &b.id]);
    let text = std::fs::read_to_string(&log).unwrap();
    let stages: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        stages,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "poststop"
        ]
    );
    for line in text.lines() {
        let (stage, json) = line.split_once(' ').unwrap();
        let s: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(s["id"], b.id.as_str(), "{stage}");
        let want = match stage {
            "poststart" => "running",
            "poststop" => "stopped",
            // runtime.md: created once the environment is made (step 2),
            // before prestart, as crun says (runc: "creating").
            _ => "created",
        };
        assert_eq!(s["status"], want, "{stage}");
        // createContainer runs in the container: its pid as seen there.
        match stage {
            "poststop" => {}
            "createContainer" => assert_eq!(s["pid"], 1, "{stage}"),
            _ => assert_eq!(s["pid"], pid, "{stage}"),
        }
    }
    b.assert_no_leftovers();
}

#[test]
fn start_container_hook_runs_inside_the_container() {
    let mut b = bundle(&["cat", "/tmp/start.log"]);
    b.config["hooks"] = json!({
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "read s; echo \"$s\" > /tmp/start.log"]}]
    });
    let out = b.run_ok();
    let s: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(s["id"], b.id.as_str());
    b.assert_no_leftovers();
}

#[test]
fn a_failing_hook_fails_create_and_leaves_nothing() {
    for stage in ["prestart", "createRuntime", "createContainer"] {
        let mut b = bundle(&["true"]);
        let log = b.dir.join("poststop.log");
        b.config["hooks"] = json!({
            stage: [{"path": "/bin/sh", "args": ["sh", "-c", "exit 7"]}],
            "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}", log.display())]}]
        });
        let out = b.create(&[]);
        assert!(!out.status.success(), "{stage}");
        // runtime.md: the lifecycle goes on at step 12, destroy, then poststop.
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&log).unwrap()).unwrap();
        assert_eq!(s["status"], "stopped", "{stage}");
        let e = stderr(&out);
        assert!(
            e.contains(&format!("{stage} hook #0")) && e.contains("exit status 7"),
            "{e}"
        );
        b.assert_no_leftovers();
    }
}

#[test]
fn a_failing_start_container_hook_fails_start() {
    let mut b = bundle(&["true"]);
    let log = b.dir.join("poststart.log");
    b.config["hooks"] = json!({
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 7"]}],
        "poststart": [{"path": "/bin/sh", "args": ["sh", "-c", format!("touch {}", log.display())]}]
    });
    b.write();
    assert!(b.create(&[]).status.success());
    let out = b.cmd(&["start", &b.id]).output().unwrap();
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains("startContainer hook #0") && e.contains("exit status 7"),
        "{e}"
    );
    assert!(!log.exists(), "poststart ran after a failed startContainer");
    wait_status(&b, "stopped");
    b.ok(&["delete", &b.id]);
    b.assert_no_leftovers();
}

/// poststart comes after the exec: the hook finds the container's program
/// in /proc, not berth (the init closed the exec fifo by hand before its
/// execve, and start could take that for the exec). A poststart hook that
/// fails stops the container now, so a race here is not harmless.
#[test]
fn poststart_sees_the_program_not_berth() {
    let check = r#"pid=$(grep -o '"pid":[0-9]*' | cut -d: -f2); tr '\0' ' ' < /proc/$pid/cmdline | grep -q '^sleep 100'"#;
    for _ in 0..20 {
        let mut b = bundle(&["sleep", "100"]);
        b.config["hooks"] =
            json!({"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", check]}]});
        // A filter loaded between that close and the execve widened the
        // window.
        b.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["acct", "add_key", "bpf", "kexec_load", "keyctl",
                "mbind", "move_pages", "perf_event_open", "quotactl", "request_key",
                "swapon", "swapoff", "syslog", "userfaultfd", "vhangup"], "action": "SCMP_ACT_ERRNO"}]});
        b.write();
        assert!(b.create(&[]).status.success());
        let out = b.cmd(&["start", &b.id]).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        b.ok(&["delete", "--force", &b.id]);
    }
}

/// runtime-spec 1.3: a failing poststart hook fails start, and stops and
/// destroys the container (the hooks after it do not run, the poststop
/// hooks do); a failing poststop hook is a warning and the hooks after it
/// run.
#[test]
fn failing_poststart_destroys_the_container_and_poststop_only_warns() {
    let mut b = peer_bundle(&["sleep", "100"]);
    let log = b.dir.join("hooks.log");
    let fail = json!({"path": "/bin/sh", "args": ["sh", "-c", "exit 7"]});
    let note = |s: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {s} >> {}", log.display())]});
    b.config["hooks"] = json!({
        "poststart": [fail, note("poststart")],
        "poststop": [fail, note("poststop")]
    });
    b.write();
    assert!(b.create(&[]).status.success());
    let out = b.cmd(&["start", &b.id]).output().unwrap();
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains("poststart hook #0") && e.contains("exit status 7"),
        "{e}"
    );
    // Stopped and destroyed by start itself, poststop hooks run, before
    // it returned (runtime.md step 9 continues at step 12).
    assert!(e.contains("poststop hook #0"), "{e}");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "poststop\n");
    let out = b.cmd(&["state", &b.id]).output().unwrap();
    assert!(!out.status.success(), "still there: {}", stdout(&out));
    b.assert_no_leftovers();

    // run: the same error, and nothing is left.
    let mut b = peer_bundle(&["sleep", "100"]);
    b.config["hooks"] = json!({"poststart": [fail]});
    let out = b.run();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("poststart hook #0"),
        "{}",
        stderr(&out)
    );
    b.assert_no_leftovers();
}

#[test]
fn hook_timeout_is_enforced() {
    let mut b = bundle(&["true"]);
    b.config["hooks"] =
        json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]});
    let t = Instant::now();
    let out = b.create(&[]);
    assert!(!out.status.success());
    assert!(t.elapsed() < Duration::from_secs(10));
    assert!(stderr(&out).contains("timed out"), "{}", stderr(&out));
    b.assert_no_leftovers();
}

#[test]
fn version_and_features() {
    let out = std::process::Command::new(berth())
        .arg("--version")
        .output()
        .unwrap();
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("berth version "), "{text}");
    assert!(lines[1].starts_with("commit: "), "{text}");
    assert_eq!(lines[2], "spec: 1.3.0", "{text}");
    let out = std::process::Command::new(berth())
        .arg("features")
        .output()
        .unwrap();
    let f: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    assert_eq!(f["linux"]["namespaces"].as_array().unwrap().len(), 8);
    assert_eq!(f["ociVersionMax"], "1.3.0");
}

#[test]
fn spec_writes_a_config_that_runs() {
    let b = bundle(&["true"]);
    let d = b.dir.join("specdir");
    std::fs::create_dir(&d).unwrap();
    b.ok(&["spec", "--bundle", d.to_str().unwrap()]);
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("config.json")).unwrap()).unwrap();
    assert_eq!(c["process"]["args"], json!(["sh"]));
    assert_eq!(c["process"]["terminal"], true);
    let again = b
        .cmd(&["spec", "--bundle", d.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        !again.status.success(),
        "spec must not overwrite config.json"
    );
}

#[test]
fn quick_exits_are_never_lost() {
    // A container that exits at once races berth's wait: its SIGCHLD must
    // not be missed (a peer once hung here).
    for i in 0..20 {
        let b = bundle(&["sh", "-c", &format!("exit {}", i % 5)]);
        let out = b.run();
        assert_eq!(out.status.code(), Some(i % 5), "{}", stderr(&out));
    }
}

#[test]
fn commands_on_other_containers_do_not_wait_for_a_busy_one() {
    // A slow createRuntime hook holds container A's create; B's whole
    // lifecycle must go on meanwhile.
    let mut a = bundle(&["true"]);
    a.config["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "3"]}]});
    a.write();
    let mut slow = a
        .cmd(&["create", "-b", a.dir.to_str().unwrap(), &a.id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    let mut b = bundle(&["true"]);
    b.root = a.root.clone();
    let out = b.run();
    assert!(out.status.success(), "{}", stderr(&out));
    b.ok(&["list", "-q"]);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "waited {:?}",
        t.elapsed()
    );
    assert!(slow.wait().unwrap().success());
    a.ok(&["delete", "--force", &a.id]);
}

#[test]
fn term_ends_a_created_container() {
    // Podman's stop is TERM, then KILL after a timeout: a created
    // container must not make it wait.
    let b = bundle(&["sleep", "100"]);
    assert!(b.create(&[]).status.success());
    b.ok(&["kill", &b.id, "TERM"]);
    wait_status(&b, "stopped");
    b.ok(&["delete", &b.id]);
    b.assert_no_leftovers();
}

/// With NOTIFY_SOCKET set, the container gets a socket of berth's own and
/// `start` returns once the program has said READY=1, which reaches the
/// caller's socket with MAINPID set to the init (runc's behaviour).
#[test]
fn notify_socket_ready_is_passed_on_with_the_init_pid() {
    use std::os::unix::net::UnixDatagram;
    let mut b = bundle(&[
        "sh",
        "-c",
        "[ \"$NOTIFY_SOCKET\" = /run/notify/notify.sock ] || exit 3
         sleep 0.2; sd-notify STATUS=warming; sleep 0.2; sd-notify READY=1; sleep 100",
    ]);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/run", "type": "tmpfs", "source": "tmpfs"}));
    let host = b.dir.join("host.sock");
    let sock = UnixDatagram::bind(&host).unwrap();
    sock.set_nonblocking(true).unwrap();
    b.write();
    let with_env = |b: &Bundle, args: &[&str]| {
        let err = std::fs::File::create(b.dir.join("cmd.stderr")).unwrap();
        let st = b
            .cmd(args)
            .env("NOTIFY_SOCKET", &host)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .status()
            .unwrap();
        (
            st,
            std::fs::read_to_string(b.dir.join("cmd.stderr")).unwrap(),
        )
    };
    let (st, err) = with_env(&b, &["create", "-b", b.dir.to_str().unwrap(), &b.id]);
    assert!(st.success(), "{err}");
    let (st, err) = with_env(&b, &["start", &b.id]);
    assert!(st.success(), "{err}");
    // start has returned: the message must already be there, and only it.
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).expect("start returned before READY=1");
    let pid = b.state()["pid"].as_i64().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&buf[..n]),
        format!("READY=1\nMAINPID={pid}\n")
    );
    assert!(sock.recv(&mut buf).is_err(), "STATUS= was passed on");
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();

    // A program that dies without READY=1 makes start fail.
    b.config["process"]["args"] = json!(["sh", "-c", "sleep 0.2; exit 1"]);
    b.write();
    let (st, err) = with_env(&b, &["create", "-b", b.dir.to_str().unwrap(), &b.id]);
    assert!(st.success(), "{err}");
    let (st, err) = with_env(&b, &["start", &b.id]);
    assert!(
        !st.success() && err.contains("exited before sending READY=1"),
        "{err}"
    );
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}

/// Signal 0 probes: it succeeds while the container's process is there,
/// with or without --all, and fails once it is gone.
#[test]
fn kill_0_probes_whether_the_container_runs() {
    let b = peer_bundle(&["sleep", "100"]);
    assert!(b.create(&[]).status.success());
    b.ok(&["kill", &b.id, "0"]);
    b.ok(&["start", &b.id]);
    b.ok(&["kill", &b.id, "0"]);
    b.ok(&["kill", "--all", &b.id, "0"]);
    assert_eq!(b.state()["status"], "running", "signal 0 did something");
    b.ok(&["kill", &b.id, "KILL"]);
    wait_status(&b, "stopped");
    let k = b.cmd(&["kill", &b.id, "0"]).output().unwrap();
    assert!(!k.status.success());
    assert!(stderr(&k).contains("not running"), "{}", stderr(&k));
    b.ok(&["delete", &b.id]);
    b.assert_no_leftovers();
}

/// SIGKILL to a paused container kills it (`ctr task kill` on a paused
/// task): a frozen process dies only once thawed, so kill thaws it after
/// the signal, as runc does. Another signal leaves it paused.
#[test]
fn kill_ends_a_paused_container() {
    for all in [false, true] {
        let b = peer_bundle(&["sleep", "100"]);
        assert!(b.create(&[]).status.success());
        b.ok(&["start", &b.id]);
        b.ok(&["pause", &b.id]);
        b.ok(&["kill", &b.id, "CONT"]);
        assert_eq!(b.state()["status"], "paused");
        let mut args = vec!["kill"];
        if all {
            args.push("--all");
        }
        args.extend([b.id.as_str(), "KILL"]);
        b.ok(&args);
        wait_status(&b, "stopped");
        b.ok(&["delete", &b.id]);
        b.assert_no_leftovers();
    }
}

/// Hooks of one stage run one at a time, in the order listed: each starts
/// after the one before it has exited, however long that one takes (the
/// first sleeps longest) and whatever it leaves behind (a child of its
/// own still running when it exits does not delay the next).
#[test]
fn hooks_of_a_stage_run_strictly_one_after_another() {
    let mut b = peer_bundle(&["true"]);
    let log = b.dir.join("order.log");
    let hook = |stage: &str, i: usize| {
        let nap = format!("0.{}", 3 - i);
        json!({"path": "/bin/sh", "args": ["sh", "-c", format!(
            "echo \"{stage} {i} start\" >> {log}; sleep {nap}; (sleep 2 &); echo \"{stage} {i} end\" >> {log}",
            log = log.display()
        )]})
    };
    let stages = [
        "prestart",
        "createRuntime",
        "createContainer",
        "poststart",
        "poststop",
    ];
    let mut hooks = serde_json::Map::new();
    for s in stages {
        hooks.insert(
            s.into(),
            json!((0..3).map(|i| hook(s, i)).collect::<Vec<_>>()),
        );
    }
    b.config["hooks"] = serde_json::Value::Object(hooks);
    assert!(b.create(&[]).status.success(), "{}", stderr(&b.create(&[])));
    b.ok(&["start", &b.id]);
    wait_status(&b, "stopped");
    b.ok(&["delete", &b.id]);
    let text = std::fs::read_to_string(&log).unwrap();
    let want: Vec<String> = stages
        .iter()
        .flat_map(|s| (0..3).flat_map(move |i| [format!("{s} {i} start"), format!("{s} {i} end")]))
        .collect();
    assert_eq!(text.lines().collect::<Vec<_>>(), want);
    b.assert_no_leftovers();
}

/// kill of a stopped container fails, every time: right after its
/// process exits (before and after it is reaped) as well as later.
#[test]
fn kill_of_a_stopped_container_always_fails() {
    for i in 0..20 {
        let b = peer_bundle(&["true"]);
        assert!(b.create(&[]).status.success());
        b.ok(&["start", &b.id]);
        wait_status(&b, "stopped");
        for sig in ["KILL", "TERM", "0"] {
            let k = b.cmd(&["kill", &b.id, sig]).output().unwrap();
            assert!(
                !k.status.success(),
                "round {i}: kill {sig} of a stopped container succeeded"
            );
            assert!(stderr(&k).contains("not running"), "{}", stderr(&k));
        }
        b.ok(&["delete", &b.id]);
        b.assert_no_leftovers();
    }
}
