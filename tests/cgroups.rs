//! linux.resources checked from the host side, on whatever cgroup layout
//! the tests run on: hybrid here (v1 controllers, v2 with hugetlb only),
//! pure v2 in the VM stage (tests/vm/). The commands that act on a
//! running container's cgroups are tests/cgroup_commands.rs.

mod common;
use common::cgroup::*;
use common::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;

#[test]
fn resources_land_in_their_files() {
    let mut b = bundle(&["sleep", "100"]);
    b.config["linux"]["resources"] = json!({
        "memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728, "swappiness": 10},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 42},
        "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}]
    });
    start_detached(&b);
    let mem = dir_of(&b, "memory");
    let cpu = dir_of(&b, "cpu");
    if pure_v2() {
        // runc's conversions: swap is memory+swap, shares map to weight.
        assert_eq!(file(&mem, "memory.max"), "67108864");
        assert_eq!(file(&mem, "memory.low"), "33554432");
        assert_eq!(file(&mem, "memory.swap.max"), "67108864");
        assert_eq!(file(&cpu, "cpu.weight"), "20");
        assert_eq!(file(&cpu, "cpu.max"), "50000 100000");
    } else {
        assert_eq!(file(&mem, "memory.limit_in_bytes"), "67108864");
        assert_eq!(file(&mem, "memory.soft_limit_in_bytes"), "33554432");
        assert_eq!(file(&mem, "memory.memsw.limit_in_bytes"), "134217728");
        assert_eq!(file(&mem, "memory.swappiness"), "10");
        assert_eq!(file(&cpu, "cpu.shares"), "512");
        assert_eq!(file(&cpu, "cpu.cfs_quota_us"), "50000");
        assert_eq!(file(&cpu, "cpu.cfs_period_us"), "100000");
        let devices = file(&dir_of(&b, "devices"), "devices.list");
        assert!(!devices.contains("a *:* rwm"), "{devices}");
        assert!(devices.contains("c 10:229 rw"), "{devices}");
        assert!(devices.contains("c 1:3 rwm"), "{devices}");
    }
    assert_eq!(file(&dir_of(&b, "cpuset"), "cpuset.cpus"), "0");
    assert_eq!(file(&dir_of(&b, "pids"), "pids.max"), "42");
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}

#[test]
fn the_device_policy_applies_without_any_resources() {
    let b = bundle(&["sleep", "100"]);
    start_detached(&b);
    if !pure_v2() {
        let devices = file(&dir_of(&b, "devices"), "devices.list");
        assert!(
            !devices.contains("a *:* rwm"),
            "default deny missing: {devices}"
        );
        assert!(devices.contains("c 136:* rwm"), "{devices}");
    }
    b.ok(&["delete", "--force", &b.id]);
}

/// The policy as the container meets it (v1 devices controller or the v2
/// eBPF program alike): nodes of any device can be made, but only the
/// allowed ones opened, and only for the allowed access. Loop devices
/// serve as a block device nobody allows by default: when allowed, opening
/// one fails at most for want of a driver, never with EPERM.
#[test]
fn the_device_policy_is_enforced_inside_the_container() {
    let mut b = bundle(&[
        "sh",
        "-c",
        "mknod /dev/allowed b 7 0 && mknod /dev/denied b 7 1 && mknod /dev/mine c 1 7 || exit 9
         cat /dev/allowed >/dev/null 2>/tmp/e; echo allowed-read: $(cat /tmp/e)
         (echo x >/dev/allowed) 2>/tmp/e; echo allowed-write: $(cat /tmp/e)
         cat /dev/denied >/dev/null 2>/tmp/e; echo denied-read: $(cat /tmp/e)
         head -c 1 /dev/mine >/dev/null 2>/tmp/e; echo default-read: $(cat /tmp/e)",
    ]);
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_MKNOD"));
    }
    b.config["linux"]["resources"] =
        json!({"devices": [{"allow": true, "type": "b", "major": 7, "minor": 0, "access": "r"}]});
    let out = b.run_ok();
    let line = |key: &str| {
        out.lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key} in {out}"))
            .to_string()
    };
    let eperm = "Operation not permitted";
    assert!(!line("allowed-read:").contains(eperm), "{out}");
    assert!(line("allowed-write:").contains(eperm), "{out}");
    assert!(line("denied-read:").contains(eperm), "{out}");
    assert_eq!(line("default-read:"), "default-read:", "{out}");
    b.assert_no_leftovers();
}

#[test]
fn a_memory_limit_is_enforced() {
    // 48 MiB of tmpfs pages cannot fit in 16 MiB without swap: the
    // cgroup's limit is hit (and its OOM killer runs).
    let mut b = bundle(&[
        "sh",
        "-c",
        "dd if=/dev/zero of=/dev/shm/fill bs=1M count=48; sleep 100",
    ]);
    b.config["linux"]["resources"] = json!({"memory": {"limit": 16777216, "swap": 16777216}});
    start_detached(&b);
    let mem = dir_of(&b, "memory");
    let peak = if pure_v2() {
        "memory.peak"
    } else {
        "memory.max_usage_in_bytes"
    };
    let hits = |d: &Path| -> u64 {
        if pure_v2() {
            key_of(d, "memory.events", "max")
        } else {
            file(d, "memory.failcnt").parse().unwrap()
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let max: u64 = file(&mem, peak).parse().unwrap();
        if hits(&mem) > 0 || max >= 16777216 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the limit was never hit"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let max: u64 = file(&mem, peak).parse().unwrap();
    assert!(max <= 16777216, "usage {max} went past the limit");
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}

#[test]
fn hugetlb_limits_go_to_the_v2_hierarchy() {
    let mut b = bundle(&["sleep", "100"]);
    b.config["linux"]["resources"] =
        json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]});
    start_detached(&b);
    assert_eq!(file(&v2_dir(&b), "hugetlb.2MB.max"), "4194304");
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}

#[test]
fn a_value_the_kernel_lacks_is_an_error_naming_the_file() {
    // blkio.leaf_weight exists only with CFQ, gone from this kernel; v2
    // has no such file at all, and runc ignores the field there.
    let mut b = bundle(&["true"]);
    let (field, missing) = if pure_v2() {
        (
            json!({"unified": {"memory.no_such_file": "1"}}),
            "memory.no_such_file",
        )
    } else {
        (json!({"blockIO": {"leafWeight": 500}}), "blkio.leaf_weight")
    };
    b.config["linux"]["resources"] = field;
    let out = b.create(&[]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains(missing) && e.contains("no such file or directory"),
        "{e}"
    );
    b.assert_no_leftovers();
    let mut b = bundle(&["true"]);
    b.config["linux"]["resources"] = json!({"network": {"classID": 7}});
    let out = b.create(&[]);
    assert!(stderr(&out).contains("net_cls"), "{}", stderr(&out));
    b.assert_no_leftovers();
    // On a hybrid host, a unified file of a controller that lives on v1
    // has no v2 directory to go to: an error, not a value dropped.
    if !pure_v2() {
        let mut b = bundle(&["true"]);
        b.config["linux"]["resources"] = json!({"unified": {"memory.high": "50331648"}});
        let out = b.create(&[]);
        assert!(!out.status.success(), "memory.high silently dropped");
        let e = stderr(&out);
        assert!(
            e.contains("linux.resources.unified.memory.high") && e.contains("cgroup v1"),
            "{e}"
        );
        b.assert_no_leftovers();
    }
}

/// Which of `candidates` the kernel gives a container's cgroup: BFQ's
/// weight, the CFQ/iocost one, or none (this kernel: no BFQ, no CFQ).
/// Asked of a real container's directory, since the hierarchy's root
/// does not carry the per-cgroup files.
fn weight_files_here(controller: &str, candidates: &[&'static str]) -> Vec<&'static str> {
    let probe = bundle(&["sleep", "100"]);
    start_detached(&probe);
    let d = dir_of(&probe, controller);
    let present = candidates
        .iter()
        .copied()
        .filter(|f| d.join(f).exists())
        .collect();
    probe.ok(&["delete", "--force", &probe.id]);
    probe.assert_no_leftovers();
    present
}

#[test]
fn blkio_weight_lands_where_the_kernel_keeps_it_or_fails_naming_the_file() {
    let mut b = bundle(&["sleep", "100"]);
    b.config["linux"]["resources"] = json!({"blockIO": {"weight": 500}});
    // BFQ's file when there, with blkio's scale, as runc does; else on
    // v2 io.weight (500 of blkio's 10..1000 is 4950 of its 1..10000).
    let (controller, written, want) = if pure_v2() {
        let files = weight_files_here("io", &["io.bfq.weight", "io.weight"]);
        let want = if files.first() == Some(&"io.bfq.weight") {
            "500"
        } else {
            "4950"
        };
        ("io", files, want)
    } else {
        (
            "blkio",
            weight_files_here("blkio", &["blkio.bfq.weight", "blkio.weight"]),
            "500",
        )
    };
    match written.first() {
        Some(file) => {
            start_detached(&b);
            let got = file_of(&dir_of(&b, controller), file);
            assert!(got.contains(want), "{file}: {got}");
            b.ok(&["delete", "--force", &b.id]);
        }
        None => {
            // No file to write: create fails as runc's does, naming the
            // file and the errno, and leaves nothing behind.
            let out = b.create(&[]);
            assert!(
                !out.status.success(),
                "a weight with no file to go to was accepted"
            );
            let e = stderr(&out);
            let file = if pure_v2() {
                "io.weight"
            } else {
                "blkio.weight"
            };
            assert!(
                e.contains(file) && e.contains("no such file or directory"),
                "{e}"
            );
        }
    }
    b.assert_no_leftovers();
}

fn file_of(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// A block device of this machine as "major:minor", for throttling.
fn a_block_device() -> Option<(u64, u64)> {
    let mut names: Vec<_> = std::fs::read_dir("/sys/block").ok()?.flatten().collect();
    names.sort_by_key(|e| e.file_name());
    names.iter().find_map(|e| {
        let dev = std::fs::read_to_string(e.path().join("dev")).ok()?;
        let (a, b) = dev.trim().split_once(':')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    })
}

/// The rest of linux.resources, each in its file on this layout: CPU
/// burst and idle, the OOM killer switch (v1), `unified` (v2), and I/O
/// throttling when the machine has a block device to throttle.
#[test]
fn more_resources_land_in_their_files() {
    let mut b = bundle(&["sleep", "100"]);
    let mut r = json!({
        "cpu": {"quota": 50000, "period": 100000, "burst": 10000, "idle": 1},
        "memory": {"limit": 67108864}
    });
    if pure_v2() {
        r["unified"] = json!({"memory.high": "50331648"});
    } else {
        r["memory"]["disableOOMKiller"] = json!(true);
    }
    let block = a_block_device();
    if let Some((major, minor)) = block {
        r["blockIO"] = json!({
            "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
            "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]
        });
    }
    b.config["linux"]["resources"] = r;
    start_detached(&b);
    let cpu = dir_of(&b, "cpu");
    assert_eq!(file(&cpu, "cpu.idle"), "1");
    if pure_v2() {
        assert_eq!(file(&cpu, "cpu.max.burst"), "10000");
        assert_eq!(file(&dir_of(&b, "memory"), "memory.high"), "50331648");
    } else {
        assert_eq!(file(&cpu, "cpu.cfs_burst_us"), "10000");
        let oom = file(&dir_of(&b, "memory"), "memory.oom_control");
        assert!(oom.contains("oom_kill_disable 1"), "{oom}");
    }
    if let Some((major, minor)) = block {
        let dev = format!("{major}:{minor}");
        if pure_v2() {
            let io = file(&dir_of(&b, "io"), "io.max");
            assert!(
                io.contains(&format!("{dev} rbps=1048576")) && io.contains("wiops=100"),
                "{io}"
            );
        } else {
            let blkio = dir_of(&b, "blkio");
            assert_eq!(
                file(&blkio, "blkio.throttle.read_bps_device"),
                format!("{dev} 1048576")
            );
            assert_eq!(
                file(&blkio, "blkio.throttle.write_iops_device"),
                format!("{dev} 100")
            );
        }
    }
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}

/// berth started from a cgroup that holds processes, as from a login
/// session or a service, with a relative cgroupsPath. On v2 such a cgroup
/// can enable no controller for a child, so the container's cgroup goes
/// beside it, as runc's does, and its memory limit lands; on v1 (here)
/// it goes below the caller's cgroup, as before.
#[test]
fn a_caller_in_a_busy_cgroup_still_gets_limits() {
    let v2 = pure_v2();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let own_path = |ctrl: &str| -> String {
        own.lines()
            .find_map(|l| {
                let mut f = l.splitn(3, ':');
                let (_, c, p) = (f.next()?, f.next()?, f.next()?);
                (c == ctrl || c.split(',').any(|x| x == ctrl)).then(|| p.to_string())
            })
            .unwrap()
    };
    // The caller's cgroup: a new one beside ours, with a sleeper in it.
    let (mnt, caller_rel) = if v2 {
        ("/sys/fs/cgroup", own_path(""))
    } else {
        ("/sys/fs/cgroup/memory", own_path("memory"))
    };
    let mut b = bundle(&["sleep", "100"]);
    let busy = Path::new(mnt)
        .join(caller_rel.trim_start_matches('/'))
        .join(format!("busy-{}", b.id));
    std::fs::create_dir(&busy).unwrap();
    let mut sleeper = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {}/cgroup.procs && exec sleep 100",
            busy.display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    b.config["linux"]["cgroupsPath"] = json!(format!("rel-{}", b.id));
    b.config["linux"]["resources"] = json!({"memory": {"limit": 67108864}});
    b.write();
    let err_path = b.dir.join("create.stderr");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {}/cgroup.procs && exec \"$@\"",
            busy.display()
        ))
        .arg("sh")
        .arg(berth())
        .args(["--root", b.root.to_str().unwrap(), "create", "-b"])
        .arg(&b.dir)
        .arg(&b.id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .status()
        .unwrap();
    let e = std::fs::read_to_string(&err_path).unwrap();
    let (want, limit_file) = if v2 {
        (
            busy.parent().unwrap().join(format!("rel-{}", b.id)),
            "memory.max",
        )
    } else {
        (busy.join(format!("rel-{}", b.id)), "memory.limit_in_bytes")
    };
    let limit = std::fs::read_to_string(want.join(limit_file));
    b.ok(&["delete", "--force", &b.id]);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let _ = std::fs::remove_dir(&busy);
    assert!(status.success(), "create from a busy cgroup failed: {e}");
    assert_eq!(
        limit.map(|l| l.trim().to_string()).ok().as_deref(),
        Some("67108864"),
        "{}",
        want.display()
    );
    assert!(!want.exists(), "{} left behind", want.display());
}

/// A cgroup frozen before create (here its parent, frozen by someone
/// else) would freeze the init as it joins: run fails at once, naming
/// the freezer file, instead of hanging, and leaves nothing behind.
#[test]
fn a_cgroup_frozen_before_create_fails_run_instead_of_hanging() {
    let mut b = peer_bundle(&["true"]);
    let parent = format!("{}-frozen", b.id);
    let (dir, file, value, thawed) = if pure_v2() {
        (
            PathBuf::from("/sys/fs/cgroup").join(&parent),
            "cgroup.freeze",
            "1",
            "0",
        )
    } else {
        (
            PathBuf::from("/sys/fs/cgroup/freezer").join(&parent),
            "freezer.state",
            "FROZEN",
            "THAWED",
        )
    };
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join(file), value).unwrap();
    b.config["linux"]["cgroupsPath"] = json!(format!("/{parent}/c"));
    b.write();
    // A runtime that hangs here is killed after a while: the thaw below
    // then lets what it left finish.
    let err_path = b.dir.join("run.stderr");
    let mut child = b
        .cmd(&["run", "-b", b.dir.to_str().unwrap(), &b.id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    std::fs::write(dir.join(file), thawed).unwrap();
    let e = std::fs::read_to_string(&err_path).unwrap_or_default();
    let Some(status) = status else {
        // What the hung runtime left goes first.
        let _ = b.cmd(&["delete", "--force", &b.id]).status();
        remove_parent_everywhere(&parent, false);
        panic!("run hung in the frozen cgroup");
    };
    assert!(!status.success(), "ran in a frozen cgroup");
    if b.runtime == std::path::Path::new(berth()) {
        assert!(e.contains("frozen") && e.contains(&parent), "{e}");
    }
    b.assert_no_leftovers();
    // No container cgroup left; the parents berth made on the other
    // hierarchies, and the test's own, go.
    remove_parent_everywhere(&parent, true);
}

/// A cgroupsPath below an existing cgroup whose v1 cpuset is empty (a pod
/// cgroup someone else made): its cpus and mems are filled from above, or
/// no task could join below it. On v2 an empty cpuset inherits anyway.
#[test]
fn a_cgroup_below_an_empty_cpuset_parent_gets_cpus_from_above() {
    let mut b = peer_bundle(&["true"]);
    let pod = format!("{}-pod", b.id);
    let cpuset = PathBuf::from("/sys/fs/cgroup/cpuset").join(&pod);
    let made = !pure_v2() && cpuset.parent().unwrap().is_dir();
    if made {
        std::fs::create_dir(&cpuset).unwrap();
        assert_eq!(file(&cpuset, "cpuset.cpus"), "", "a new v1 cpuset is empty");
    }
    b.config["linux"]["cgroupsPath"] = json!(format!("/{pod}/c"));
    let out = b.run();
    let cpus = made.then(|| file(&cpuset, "cpuset.cpus"));
    remove_parent_everywhere(&pod, false);
    assert!(out.status.success(), "{}", stderr(&out));
    if let Some(cpus) = cpus {
        assert!(!cpus.is_empty(), "the pod's cpuset stayed empty");
    }
}
