//! The commands that act on a running container's cgroups, checked from
//! the host side on whatever layout the tests run on: pause and resume,
//! update (flags, JSON, negative values, device rules, CPU period and
//! quota under a parent's), ps, and events (stats and a real OOM kill).

mod common;
use common::cgroup::*;
use common::*;
use serde_json::json;
use std::path::PathBuf;
use std::process::Stdio;

#[test]
fn pause_and_resume() {
    let b = bundle(&["sleep", "100"]);
    start_detached(&b);
    b.ok(&["pause", &b.id]);
    assert_eq!(b.state()["status"], "paused");
    if pure_v2() {
        assert_eq!(key_of(&v2_dir(&b), "cgroup.events", "frozen"), 1);
    } else {
        assert_eq!(file(&dir_of(&b, "freezer"), "freezer.state"), "FROZEN");
    }
    let again = b.cmd(&["pause", &b.id]).output().unwrap();
    assert!(
        !again.status.success() && stderr(&again).contains("already paused"),
        "{}",
        stderr(&again)
    );
    let list = b.ok(&["list"]);
    assert!(list.contains("paused"), "{list}");
    b.ok(&["resume", &b.id]);
    assert_eq!(b.state()["status"], "running");
    let again = b.cmd(&["resume", &b.id]).output().unwrap();
    assert!(
        !again.status.success() && stderr(&again).contains("not paused"),
        "{}",
        stderr(&again)
    );
    b.ok(&["pause", &b.id]);
    let del = b.cmd(&["delete", &b.id]).output().unwrap();
    assert!(
        stderr(&del).contains("not stopped: paused"),
        "{}",
        stderr(&del)
    );
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}

/// A device the config gives (linux.devices) with a read-only rule, as
/// Docker's `--device /dev/fuse:r`, device plugins and CDI write it: the
/// container may open it for reading only; berth adds no rule of its own
/// that would let it write (runc: "Operation not permitted"). New rules
/// from `update` then replace the config's, exactly as given.
#[test]
fn a_device_allowed_read_only_stays_read_only_and_update_replaces_the_rules() {
    let mut b = peer_bundle(&["sleep", "100"]);
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438}]);
    b.config["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "r"}]});
    let caps = json!(["CAP_MKNOD", "CAP_DAC_OVERRIDE"]);
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set] = caps.clone();
    }
    start_detached(&b);
    if !pure_v2() {
        let list = file(&dir_of(&b, "devices"), "devices.list");
        assert!(list.lines().any(|l| l == "c 10:229 r"), "{list}");
        assert!(!list.contains("c 10:229 rwm"), "widened: {list}");
    }
    // Seen from inside, on v1 and v2 alike: reading is not refused (a
    // kernel without fuse says ENODEV, not EPERM); writing is.
    let probe = "(true < /dev/fuse) 2>&1 | grep -q 'not permitted' && echo read-refused; (true > /dev/fuse) 2>&1 | grep -q 'not permitted' && echo write-refused; true";
    let out = b.ok(&["exec", &b.id, "sh", "-c", probe]);
    assert_eq!(out, "write-refused\n", "the device was widened beyond r");
    let rules = b.dir.join("rules.json");
    std::fs::write(
        &rules,
        json!({"devices": [{"allow": false, "access": "rwm"},
                           {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "rm"}]})
        .to_string(),
    )
    .unwrap();
    b.ok(&["update", "--resources", rules.to_str().unwrap(), &b.id]);
    if !pure_v2() {
        let list = file(&dir_of(&b, "devices"), "devices.list");
        assert!(!list.contains("c 10:229"), "the old rule stayed: {list}");
        assert!(list.lines().any(|l| l == "c 1:11 rm"), "{list}");
        assert!(list.contains("c 1:3 rwm"), "defaults lost: {list}");
        assert!(!list.contains("a *:* rwm"), "{list}");
    }
    // The new rule's device (kmsg, which anyone may write) can be made but
    // not written; fuse, which no rule names now, not even read.
    let out = b.ok(&[
        "exec",
        &b.id,
        "sh",
        "-c",
        &format!("{probe}; mknod /dev/k c 1 11 && echo made; (echo x > /dev/k) 2>&1; true"),
    ]);
    assert!(
        out.starts_with("read-refused\nwrite-refused\nmade\n"),
        "{out}"
    );
    assert!(
        out.contains("can't create /dev/k: Operation not permitted"),
        "{out}"
    );
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}

#[test]
fn update_with_flags_and_with_json_on_stdin() {
    let b = bundle(&["sleep", "100"]);
    start_detached(&b);
    b.ok(&[
        "update",
        "--memory",
        "128m",
        "--memory-swap",
        "256m",
        "--cpu-share",
        "256",
        "--pids-limit",
        "20",
        &b.id,
    ]);
    let (mem, cpu) = (dir_of(&b, "memory"), dir_of(&b, "cpu"));
    let mib128 = (128u64 << 20).to_string();
    if pure_v2() {
        assert_eq!(file(&mem, "memory.max"), mib128);
        assert_eq!(file(&mem, "memory.swap.max"), mib128);
        assert_eq!(file(&cpu, "cpu.weight"), "10");
    } else {
        assert_eq!(file(&mem, "memory.limit_in_bytes"), mib128);
        assert_eq!(
            file(&mem, "memory.memsw.limit_in_bytes"),
            (256u64 << 20).to_string()
        );
        assert_eq!(file(&cpu, "cpu.shares"), "256");
    }
    assert_eq!(file(&dir_of(&b, "pids"), "pids.max"), "20");
    // Docker sends LinuxResources JSON on stdin.
    let mut child = b
        .cmd(&["update", "--resources", "-", &b.id])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"cpu":{"quota":20000,"period":100000},"pids":{"limit":30}}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    if pure_v2() {
        assert_eq!(file(&cpu, "cpu.max"), "20000 100000");
    } else {
        assert_eq!(file(&cpu, "cpu.cfs_quota_us"), "20000");
    }
    assert_eq!(file(&dir_of(&b, "pids"), "pids.max"), "30");
    let bad = b
        .cmd(&["update", "--memory", "lots", &b.id])
        .output()
        .unwrap();
    assert!(
        !bad.status.success() && stderr(&bad).contains("--memory"),
        "{}",
        stderr(&bad)
    );
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}

#[test]
fn ps_lists_the_container_processes() {
    let b = bundle(&["sleep", "100"]);
    start_detached(&b);
    let pid = b.state()["pid"].as_i64().unwrap();
    let out = b.cmd(&["ps", "--format", "json", &b.id]).output().unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "ps --format json must print nothing on stderr"
    );
    let pids: Vec<i64> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pids, [pid]);
    let table = b.ok(&["ps", &b.id]);
    let mut lines = table.lines();
    assert!(lines.next().unwrap().contains("PID"));
    let row = lines.next().unwrap();
    assert!(
        row.contains("sleep 100") && row.contains(&pid.to_string()),
        "{table}"
    );
    assert!(lines.next().is_none(), "{table}");
    b.ok(&["delete", "--force", &b.id]);
}

#[test]
fn events_stats_and_interval() {
    let mut b = bundle(&[
        "sh",
        "-c",
        "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 100",
    ]);
    b.config["linux"]["resources"] = json!({"memory": {"limit": 67108864}, "pids": {"limit": 50}});
    start_detached(&b);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let out = b.ok(&["events", "--stats", &b.id]);
    let e: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(e["type"], "stats");
    assert_eq!(e["id"], b.id.as_str());
    assert_eq!(e["data"]["memory"]["usage"]["limit"], 67108864);
    assert!(
        e["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0,
        "{e}"
    );
    assert_eq!(e["data"]["pids"]["limit"], 50);
    assert!(e["data"]["pids"]["current"].as_u64().unwrap() >= 1, "{e}");
    assert!(
        e["data"]["cpu"]["usage"]["total"].as_u64().unwrap() > 0,
        "{e}"
    );
    // A stream, ended by the container's end.
    let mut child = b
        .cmd(&["events", "--interval", "100ms", &b.id])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let pipe = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(pipe)
            .lines()
            .map_while(|l| l.ok())
            .inspect(|_| {
                let _ = tx.send(());
            })
            .count()
    });
    for _ in 0..2 {
        rx.recv_timeout(std::time::Duration::from_secs(20))
            .expect("events --interval printed no stats");
    }
    // A reader that goes away (`events | head -1`) ends the stream
    // quietly: exit 0, no panic about a broken pipe.
    let mut gone = b
        .cmd(&["events", "--interval", "100ms", &b.id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::BufRead;
        let mut first = String::new();
        std::io::BufReader::new(gone.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.contains("\"stats\""), "{first}");
    }
    let out = gone.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    b.ok(&["kill", &b.id, "KILL"]);
    assert!(child.wait().unwrap().success());
    assert!(reader.join().unwrap() >= 2);
    b.ok(&["delete", &b.id]);
    b.assert_no_leftovers();
}

#[test]
fn events_report_a_real_oom_kill() {
    let mut b = bundle(&[
        "sh",
        "-c",
        "sleep 0.5; dd if=/dev/zero of=/dev/shm/fill bs=1M count=48; sleep 100",
    ]);
    b.config["linux"]["resources"] = json!({"memory": {"limit": 16777216, "swap": 16777216}});
    start_detached(&b);
    let mut child = b
        .cmd(&["events", "--interval", "1s", &b.id])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout_pipe = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout_pipe)
            .lines()
            .map_while(|l| l.ok())
            .find(|l| l.contains("\"type\":\"oom\""))
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !reader.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    b.ok(&["kill", &b.id, "KILL"]);
    let _ = child.wait();
    let line = reader.join().unwrap().expect("no oom event");
    let e: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(e["id"], b.id.as_str());
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}

/// update takes runc's negative values as separate arguments (-1 is
/// "unlimited"), and on v1 lifts a memory limit while a memory+swap limit
/// is set (memsw goes to unlimited first, as runc does).
#[test]
fn update_takes_negative_values_and_lifts_a_memory_limit() {
    let mut b = peer_bundle(&["sleep", "100"]);
    let mut memory = json!({"limit": 67108864});
    if !pure_v2()
        && std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists()
    {
        memory["swap"] = json!(134217728);
    }
    b.config["linux"]["resources"] =
        json!({"memory": memory, "cpu": {"quota": 50000, "period": 100000}});
    start_detached(&b);
    b.ok(&[
        "update",
        "--memory",
        "-1",
        "--cpu-quota",
        "-1",
        "--pids-limit",
        "-1",
        &b.id,
    ]);
    if pure_v2() {
        let d = dir_of(&b, "memory");
        assert_eq!(file(&d, "memory.max"), "max");
        assert!(
            file(&d, "cpu.max").starts_with("max "),
            "{}",
            file(&d, "cpu.max")
        );
    } else {
        let unlimited = |v: String| v.parse::<u64>().unwrap() > 1 << 60;
        let m = dir_of(&b, "memory");
        assert!(unlimited(file(&m, "memory.limit_in_bytes")));
        if m.join("memory.memsw.limit_in_bytes").exists() {
            assert!(unlimited(file(&m, "memory.memsw.limit_in_bytes")));
        }
        assert_eq!(file(&dir_of(&b, "cpu"), "cpu.cfs_quota_us"), "-1");
    }
    b.ok(&["update", "--memory-swap", "-1", "--memory", "32m", &b.id]);
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}

/// Under a parent with a CPU quota, v1 checks each new period against the
/// old quota: update --cpu-period --cpu-quota works whatever order the
/// kernel needs (the quota goes first when the period alone would exceed
/// the parent's ratio), as runc's retry does.
#[test]
fn cpu_period_and_quota_fit_under_a_parents_quota() {
    let mut b = peer_bundle(&["sleep", "100"]);
    let parent = format!("{}-quota", b.id);
    let v1 = !pure_v2();
    let cpu = PathBuf::from("/sys/fs/cgroup/cpu").join(&parent);
    if v1 {
        std::fs::create_dir(&cpu).unwrap();
        std::fs::write(cpu.join("cpu.cfs_quota_us"), "50000").unwrap();
    }
    b.config["linux"]["cgroupsPath"] = json!(format!("/{parent}/c"));
    b.config["linux"]["resources"] = json!({"cpu": {"quota": 40000, "period": 100000}});
    start_detached(&b);
    let out = b
        .cmd(&[
            "update",
            "--cpu-period",
            "50000",
            "--cpu-quota",
            "20000",
            &b.id,
        ])
        .output()
        .unwrap();
    let c = if v1 {
        cpu.join("c")
    } else {
        PathBuf::from("/sys/fs/cgroup").join(&parent).join("c")
    };
    let got = if v1 {
        (file(&c, "cpu.cfs_period_us"), file(&c, "cpu.cfs_quota_us"))
    } else {
        (file(&c, "cpu.max"), String::new())
    };
    b.ok(&["delete", "--force", &b.id]);
    remove_parent_everywhere(&parent, true);
    assert!(out.status.success(), "{}", stderr(&out));
    if v1 {
        assert_eq!(got, ("50000".into(), "20000".into()));
    } else {
        assert_eq!(got.0, "20000 50000");
    }
}
