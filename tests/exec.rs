//! exec: a new process inside a running container, in all its
//! namespaces and cgroups, with the container's process as the base.

mod common;
use common::*;
use serde_json::json;
use std::process::Stdio;

fn running(args: &[&str]) -> Bundle {
    started(bundle(args))
}

/// `running` on the runtime under test (`make compat-peers`).
fn peer_running(args: &[&str]) -> Bundle {
    started(peer_bundle(args))
}

fn started(b: Bundle) -> Bundle {
    let out = b.create(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    b.ok(&["start", &b.id]);
    b
}

fn exec(b: &Bundle, args: &[&str]) -> std::process::Output {
    let mut all = vec!["exec"];
    all.extend_from_slice(args);
    b.cmd(&all).stdin(Stdio::null()).output().unwrap()
}

#[test]
fn exec_joins_every_namespace_and_returns_the_exit_code() {
    let mut b = bundle(&["sleep", "100"]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .extend([json!({"type": "cgroup"}), json!({"type": "time"})]);
    let out = b.create(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    b.ok(&["start", &b.id]);
    let init = b.state()["pid"].as_i64().unwrap();
    let kinds = ["pid", "net", "ipc", "uts", "mnt", "cgroup", "time"];
    let script: Vec<String> = kinds
        .iter()
        .map(|k| format!("readlink /proc/self/ns/{k}"))
        .collect();
    let out = exec(
        &b,
        &[
            &b.id,
            "sh",
            "-c",
            &format!("{}; echo $$; hostname; exit 9", script.join("; ")),
        ],
    );
    assert_eq!(out.status.code(), Some(9), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    for (i, k) in kinds.iter().enumerate() {
        let want = std::fs::read_link(format!("/proc/{init}/ns/{k}")).unwrap();
        assert_eq!(lines[i], want.to_str().unwrap(), "{k}");
    }
    assert_ne!(lines[kinds.len()], "1", "exec'd process is not the init");
    assert_eq!(lines[kinds.len() + 1], "berth-test");
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}

#[test]
fn exec_changes_user_env_cwd_and_groups_on_top_of_the_container_process() {
    let b = running(&["sleep", "100"]);
    let out = exec(
        &b,
        &[
            "-u",
            "1000:1000",
            "-g",
            "5,20",
            "-e",
            "FOO=bar",
            "-e",
            "TERM=dumb",
            "--cwd",
            "/tmp",
            &b.id,
            "sh",
            "-c",
            "id -u; id -G; echo $FOO $TERM $PATH; pwd",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "1000\n1000 5 20\nbar dumb /bin:/sbin\n/tmp\n");
    b.ok(&["delete", "--force", &b.id]);
}

#[test]
fn exec_with_a_process_file() {
    let mut b = bundle(&["sleep", "100"]);
    b.with_sysprobe();
    let out = b.create(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    b.ok(&["start", &b.id]);
    let p = b.dir.join("process.json");
    // ioprio_get(IOPRIO_WHO_PROCESS, self); stat fields 19 and 41 are the
    // nice value and the scheduling policy.
    let script = "echo from-file $X; grep NoNewPrivs /proc/self/status; /tmp/sysprobe 252 1 0; cut -d' ' -f19,41 /proc/self/stat";
    std::fs::write(
        &p,
        json!({"args": ["sh", "-c", script], "cwd": "/", "env": ["X=1", "PATH=/bin"],
               "user": {"uid": 0, "gid": 0}, "noNewPrivileges": true,
               "ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 0},
               "scheduler": {"policy": "SCHED_BATCH", "nice": 7}})
        .to_string(),
    )
    .unwrap();
    let out = exec(&b, &["--process", p.to_str().unwrap(), &b.id]);
    assert!(out.status.success(), "{}", stderr(&out));
    // IOPRIO_CLASS_IDLE is 3, in the top bits: 3 << 13; SCHED_BATCH is 3.
    assert_eq!(
        stdout(&out),
        "from-file 1\nNoNewPrivs:\t1\nret=24576 errno=0\n7 3\n"
    );
    b.ok(&["delete", "--force", &b.id]);
}

#[test]
fn detached_exec_writes_its_pid_and_joins_the_cgroups() {
    let b = running(&["sleep", "100"]);
    let pid_file = b.dir.join("exec.pid");
    let out = b
        .cmd(&[
            "exec",
            "-d",
            "--pid-file",
            pid_file.to_str().unwrap(),
            &b.id,
            "sleep",
            "50",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(out.success());
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert!(pid.chars().all(|c| c.is_ascii_digit()), "{pid:?}");
    for d in b.cgroup_dirs() {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|l| l == pid),
            "{} lacks {pid}",
            d.display()
        );
    }
    let ps: Vec<i64> = serde_json::from_str(&b.ok(&["ps", "--format", "json", &b.id])).unwrap();
    assert!(ps.contains(&pid.parse().unwrap()));
    // The exec'd process is berth's child (CLONE_PARENT), not the stage-1's.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    assert!(!stat.is_empty());
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}

#[test]
fn exec_errors_are_clear() {
    let b = running(&["sleep", "100"]);
    // The runtime's own failures exit 255, as runc's exec does, so that
    // they differ from a process's exit status 1.
    let out = exec(&b, &[&b.id, "no-such-program"]);
    assert_eq!(out.status.code(), Some(255));
    assert!(
        stderr(&out).contains("executable file not found"),
        "{}",
        stderr(&out)
    );
    let out = exec(&b, &[&b.id]);
    assert!(stderr(&out).contains("command"), "{}", stderr(&out));
    let out = exec(&b, &["--user", "root", &b.id, "true"]);
    assert!(stderr(&out).contains("--user"), "{}", stderr(&out));
    let out = exec(&b, &["--pid-file", "/nonexistent/dir/pid", &b.id, "true"]);
    assert_eq!(out.status.code(), Some(255), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/nonexistent/dir"),
        "{}",
        stderr(&out)
    );
    b.ok(&["pause", &b.id]);
    let out = exec(&b, &[&b.id, "true"]);
    assert!(stderr(&out).contains("paused"), "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(255));
    b.ok(&["resume", &b.id]);
    b.ok(&["kill", &b.id, "KILL"]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let out = exec(&b, &[&b.id, "true"]);
    assert!(
        stderr(&out).contains("cannot exec in a stopped container"),
        "{}",
        stderr(&out)
    );
    let out = exec(&b, &["ghost", "true"]);
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    b.ok(&["delete", &b.id]);
    b.assert_no_leftovers();
}

/// The program passes every check and then fails in execve itself (a
/// file that is not a program: ENOEXEC), after the process has closed
/// berth's fds: the reason still reaches stderr and the log.
#[test]
fn an_exec_that_fails_in_execve_says_why() {
    let mut b = bundle(&["sleep", "100"]);
    let root = b.own_rootfs();
    let bad = root.join("bin/not-a-program");
    std::fs::write(&bad, "\x7fELF but not really\n").unwrap();
    std::fs::set_permissions(&bad, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = b.create(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    b.ok(&["start", &b.id]);
    let log = b.dir.join("exec.log");
    let out = b
        .cmd(&[])
        .arg("--log")
        .arg(&log)
        .args(["--log-format", "json", "exec", &b.id, "/bin/not-a-program"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains("/bin/not-a-program") && e.contains("exec format error"),
        "{e}"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(v["level"], "error", "{text}");
    assert!(
        v["msg"].as_str().unwrap().contains("exec format error"),
        "{text}"
    );
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}

#[test]
fn exec_leaks_no_fd_but_preserved_ones() {
    let b = running(&["sleep", "100"]);
    let f = std::fs::File::open("/etc/hostname").unwrap();
    use std::os::fd::AsRawFd;
    let raw = f.as_raw_fd();
    let mut cmd = b.cmd(&["exec", &b.id, "ls", "/proc/self/fd"]);
    // SAFETY (test): dup2 between fork and exec only.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            if raw != 7 && libc::dup2(raw, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::fcntl(7, libc::F_SETFD, 0);
            Ok(())
        });
    }
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // 0-2, and ls's own directory fd.
    assert_eq!(stdout(&out).lines().count(), 4, "{}", stdout(&out));
    b.ok(&["delete", "--force", &b.id]);
}

/// --ignore-paused: the process is set up at once, joins the frozen
/// cgroup last, and runs only after resume. Without the flag, a clear no.
#[test]
fn exec_ignore_paused_runs_after_resume() {
    let b = running(&["sleep", "100"]);
    b.ok(&["pause", &b.id]);
    let refused = exec(&b, &[&b.id, "true"]);
    assert!(
        !refused.status.success() && stderr(&refused).contains("paused"),
        "{}",
        stderr(&refused)
    );
    // Detached, so nothing of ours may be inherited: it will be frozen.
    let err = std::fs::File::create(b.dir.join("exec.stderr")).unwrap();
    let st = b
        .cmd(&[
            "exec",
            "-d",
            "--ignore-paused",
            &b.id,
            "sh",
            "-c",
            "echo ran > /tmp/marker",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .status()
        .unwrap();
    let e = std::fs::read_to_string(b.dir.join("exec.stderr")).unwrap();
    assert!(st.success(), "{e}");
    let init = b.state()["pid"].as_i64().unwrap();
    let marker = format!("/proc/{init}/root/tmp/marker");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        !std::path::Path::new(&marker).exists(),
        "the process ran in a paused container"
    );
    assert_eq!(b.state()["status"], "paused");
    b.ok(&["resume", &b.id]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::read_to_string(&marker).unwrap_or_default() != "ran\n" {
        assert!(
            std::time::Instant::now() < deadline,
            "the process never ran after resume"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}

/// --cgroup: an existing cgroup below the container's, on every
/// hierarchy or (v1) on the named controllers' only.
#[test]
fn exec_cgroup_runs_in_a_sub_cgroup() {
    let b = running(&["sleep", "100"]);
    let dirs = b.cgroup_dirs();
    let mkdir = |d: &std::path::Path| {
        std::fs::create_dir(d).unwrap();
        // A new v1 cpuset is empty: nothing could run in it.
        if d.starts_with("/sys/fs/cgroup/cpuset/") {
            for f in ["cpuset.cpus", "cpuset.mems"] {
                let v = std::fs::read_to_string(d.parent().unwrap().join(f)).unwrap();
                std::fs::write(d.join(f), v).unwrap();
            }
        }
    };
    for d in &dirs {
        mkdir(&d.join("sub"));
    }
    let out = exec(&b, &["--cgroup", "sub", &b.id, "cat", "/proc/self/cgroup"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for line in text.lines().filter(|l| !l.contains("name=")) {
        assert!(line.ends_with(&format!("/{}/sub", b.id)), "{text}");
    }
    let v1_pids = dirs
        .iter()
        .find(|d| d.starts_with("/sys/fs/cgroup/pids/"))
        .cloned();
    if let Some(pids) = v1_pids {
        mkdir(&pids.join("only"));
        let out = exec(
            &b,
            &["--cgroup", "pids:only", &b.id, "cat", "/proc/self/cgroup"],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        let line = |c: &str| text.lines().find(|l| l.contains(c)).unwrap().to_string();
        assert!(line(":pids:").ends_with("/only"), "{text}");
        assert!(line(":memory:").ends_with(&b.id), "{text}");
    } else {
        let out = exec(&b, &["--cgroup", "pids:only", &b.id, "true"]);
        assert!(
            stderr(&out).contains("no v1 hierarchy has the pids controller"),
            "{}",
            stderr(&out)
        );
    }
    let out = exec(&b, &["--cgroup", "ghost", &b.id, "true"]);
    assert!(
        !out.status.success() && stderr(&out).contains("ghost"),
        "{}",
        stderr(&out)
    );
    let out = exec(&b, &["--cgroup", "../escape", &b.id, "true"]);
    assert!(!out.status.success(), "{}", stderr(&out));
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}

/// The session keyring: the init makes the container's own and exec'd
/// processes join it, as runc's do, so no process of the container holds
/// its caller's (the host's) keys; with create --no-new-keyring both keep
/// the caller's, as runc's do.
#[test]
fn exec_joins_the_containers_session_keyring() {
    // keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
    let probe = "/tmp/sysprobe 250 0 -3 0";
    // SAFETY: keyctl with integer arguments only.
    let ours = unsafe { libc::syscall(libc::SYS_keyctl, 0, -3, 0) };
    assert!(ours > 0, "no session keyring here");
    for no_new in [false, true] {
        let mut b = bundle(&["sh", "-c", &format!("{probe} > /tmp/init; sleep 100")]);
        b.with_sysprobe();
        let out = b.create(if no_new { &["--no-new-keyring"] } else { &[] });
        assert!(out.status.success(), "{}", stderr(&out));
        b.ok(&["start", &b.id]);
        let out = exec(
            &b,
            &[
                &b.id,
                "sh",
                "-c",
                &format!("sleep 0.2; cat /tmp/init; {probe}"),
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        let ids: Vec<&str> = text.lines().collect();
        let caller = format!("ret={ours} errno=0");
        assert_eq!(ids.len(), 2, "{text}");
        assert!(
            ids[0].starts_with("ret=") && ids[0].ends_with("errno=0"),
            "{text}"
        );
        if no_new {
            assert_eq!(ids, [caller.as_str(), caller.as_str()], "--no-new-keyring");
        } else {
            assert_ne!(ids[0], caller, "the init holds its caller's keyring");
            assert_eq!(
                ids[1], ids[0],
                "exec'd process is not in the container's keyring"
            );
        }
        b.ok(&["delete", "--force", &b.id]);
        b.assert_no_leftovers();
    }
}

/// `exec --cap X` gives X to the process (bounding, effective, permitted)
/// and not to the programs it runs: nothing in the inheritable or ambient
/// sets (the class runc fixed as CVE-2022-29162). As uid 1000, with X in
/// the ambient set every program the shell started would hold it.
#[test]
fn exec_cap_stays_with_the_process_and_is_not_inherited() {
    let b = peer_running(&["sleep", "100"]);
    let bit = 1u64 << 13; // CAP_NET_RAW
    let field = |status: &str, name: &str| {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {status}"));
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    let out = exec(
        &b,
        &["--cap", "CAP_NET_RAW", &b.id, "cat", "/proc/self/status"],
    );
    let root = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    for set in ["CapBnd:", "CapPrm:", "CapEff:"] {
        assert_ne!(field(&root, set) & bit, 0, "{set} lacks it: {root}");
    }
    for set in ["CapInh:", "CapAmb:"] {
        assert_eq!(field(&root, set) & bit, 0, "{set} has it: {root}");
    }
    // A program run by the exec'd process of an unprivileged user.
    let out = exec(
        &b,
        &[
            "--cap",
            "CAP_NET_RAW",
            "-u",
            "1000:1000",
            &b.id,
            "sh",
            "-c",
            "cat /proc/self/status",
        ],
    );
    let child = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    for set in ["CapAmb:", "CapEff:", "CapPrm:"] {
        assert_eq!(
            field(&child, set) & bit,
            0,
            "{set} of a program it ran: {child}"
        );
    }
    b.ok(&["delete", "--force", &b.id]);
}

/// An exec'd process leads a session and a process group of its own, as
/// under runc: its pid, seen from inside, is its session and group id.
#[test]
fn an_exec_process_leads_its_own_session() {
    let b = peer_running(&["sleep", "100"]);
    let out = exec(
        &b,
        &[&b.id, "sh", "-c", "cut -d' ' -f1,5,6 /proc/self/stat"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let f: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(f.len(), 3, "{text}");
    assert_eq!((f[1], f[2]), (f[0], f[0]), "pid pgrp session: {text}");
    b.ok(&["delete", "--force", &b.id]);
}

/// linux.personality belongs to each process, not to a namespace: an
/// exec'd process gets the container's LINUX32 too (uname -m says i686).
#[test]
fn an_exec_process_gets_the_containers_personality() {
    let mut b = peer_bundle(&["sh", "-c", "uname -m > /tmp/init; sleep 100"]);
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    let out = b.create(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    b.ok(&["start", &b.id]);
    let out = exec(
        &b,
        &[&b.id, "sh", "-c", "sleep 0.2; cat /tmp/init; uname -m"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "i686\ni686\n");
    b.ok(&["delete", "--force", &b.id]);
}

/// A created container can be exec'd into, as under runc: its init waits,
/// set up, for start.
#[test]
fn exec_into_a_created_container() {
    let b = peer_bundle(&["sleep", "100"]);
    assert!(b.create(&[]).status.success());
    let out = exec(&b, &[&b.id, "sh", "-c", "cat /proc/1/cmdline; exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(b.state()["status"], "created");
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}
