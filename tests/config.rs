//! Each config.json field, checked from inside the container (and from
//! the host where only the host can see it).

mod common;
use common::*;
use serde_json::json;
use std::process::Stdio;

#[test]
fn hostname_domainname_env_and_cwd() {
    let mut b = bundle(&[
        "sh",
        "-c",
        "hostname; cat /proc/sys/kernel/domainname; echo $FOO; pwd; echo $HOME",
    ]);
    b.config["domainname"] = json!("example.org");
    b.config["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz"]);
    b.config["process"]["cwd"] = json!("/made/for/you");
    b.config["root"]["readonly"] = json!(false);
    let own = b.own_rootfs();
    let out = b.run_ok();
    assert_eq!(
        out,
        "berth-test\nexample.org\nbar baz\n/made/for/you\n/root\n"
    );
    assert!(own.join("made/for/you").is_dir());
    b.assert_no_leftovers();
}

#[test]
fn user_groups_and_umask() {
    let mut b = bundle(&["sh", "-c", "id -u; id -g; id -G; umask"]);
    b.config["process"]["user"] =
        json!({"uid": 1000, "gid": 1001, "additionalGids": [5, 20], "umask": 63});
    let out = b.run_ok();
    assert_eq!(out, "1000\n1001\n1001 5 20\n0077\n");
}

#[test]
fn capabilities_all_five_sets() {
    let mut b = bundle(&["cat", "/proc/self/status"]);
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_TIME"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
        "inheritable": ["CAP_KILL", "CAP_NET_RAW"],
        "ambient": ["CAP_KILL"]
    });
    // As a non-root user, exec keeps only ambient capabilities.
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let out = b.run();
    assert!(out.status.success(), "{}", stderr(&out));
    let s = stdout(&out);
    let bit = |n: u32| 1u64 << n;
    let (chown, kill, net_raw, sys_time) = (bit(0), bit(5), bit(13), bit(25));
    let hex = |k| u64::from_str_radix(&status_field(&s, k), 16).unwrap();
    assert_eq!(hex("CapBnd"), chown | kill | net_raw | sys_time);
    assert_eq!(hex("CapInh"), kill | net_raw);
    assert_eq!(hex("CapAmb"), kill);
    assert_eq!(hex("CapPrm"), kill);
    assert_eq!(hex("CapEff"), kill);
    assert_eq!(status_field(&s, "NoNewPrivs"), "0");
}

#[test]
fn root_keeps_its_configured_sets_and_no_new_privs() {
    let b = bundle(&["cat", "/proc/self/status"]);
    let s = b.run_ok();
    let want = (1u64 << 29) | (1 << 5) | (1 << 10); // AUDIT_WRITE, KILL, NET_BIND_SERVICE
    for k in ["CapBnd", "CapEff", "CapPrm"] {
        assert_eq!(
            u64::from_str_radix(&status_field(&s, k), 16).unwrap(),
            want,
            "{k}"
        );
    }
    assert_eq!(status_field(&s, "NoNewPrivs"), "1");
}

#[test]
fn rlimits_oom_score_personality() {
    let mut b = bundle(&[
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; uname -m",
    ]);
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000}]);
    b.config["process"]["oomScoreAdj"] = json!(321);
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    let out = b.run_ok();
    assert_eq!(out, "512\n1000\n321\ni686\n");
}

#[test]
fn scheduler_and_io_priority() {
    let mut b = bundle(&["sh", "-c", "cut -d' ' -f41 /proc/self/stat; ionice"]);
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
    let out = b.run_ok();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("3"), "policy SCHED_BATCH is 3: {out}");
    assert!(lines.next().unwrap().starts_with("idle"), "{out}");
}

/// process.scheduler.flags take the spec's names: SCHED_FLAG_RESET_ON_FORK
/// shows in what sched_getscheduler(2) returns (SCHED_RESET_ON_FORK,
/// 0x40000000, or'ed with the policy).
#[test]
fn scheduler_flags_take_the_specs_names() {
    let mut b = peer_bundle(&["/tmp/sysprobe", "145", "0"]);
    b.with_sysprobe();
    b.config["process"]["scheduler"] =
        json!({"policy": "SCHED_BATCH", "flags": ["SCHED_FLAG_RESET_ON_FORK"]});
    let out = b.run_ok();
    assert_eq!(
        out.trim(),
        format!("ret={} errno=0", 0x4000_0000 | 3),
        "{out}"
    );
}

fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn new_namespaces_differ_from_the_host() {
    let kinds = ["pid", "net", "ipc", "uts", "mnt", "cgroup", "time"];
    let script = kinds
        .iter()
        .map(|k| format!("readlink /proc/self/ns/{k}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut b = bundle(&["sh", "-c", &format!("{script}; echo $$")]);
    b.config["linux"]["namespaces"] = json!([
        {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
        {"type": "mount"}, {"type": "cgroup"}, {"type": "time"}
    ]);
    let out = b.run_ok();
    let lines: Vec<&str> = out.lines().collect();
    for (i, k) in kinds.iter().enumerate() {
        assert_ne!(lines[i], host_ns(k), "{k} namespace is the host's");
    }
    assert_eq!(lines[kinds.len()], "1", "the entrypoint is pid 1");
}

#[test]
fn cgroup_namespace_is_rooted_at_the_container_cgroup() {
    let mut b = bundle(&["cat", "/proc/self/cgroup"]);
    b.config["linux"]["namespaces"] =
        json!([{"type": "pid"}, {"type": "mount"}, {"type": "cgroup"}]);
    b.config.as_object_mut().unwrap().remove("hostname");
    let out = b.run_ok();
    for line in out.lines() {
        assert!(line.ends_with(":/"), "{line}");
    }
}

#[test]
fn cgroups_path_places_the_container() {
    let mut b = bundle(&["cat", "/proc/self/cgroup"]);
    let path = format!("/berth-it/{}", b.id);
    b.config["linux"]["cgroupsPath"] = json!(path);
    let out = b.run_ok();
    // The pids hierarchy on v1; the one v2 hierarchy when there is no v1.
    let line = out
        .lines()
        .find(|l| l.contains(":pids:"))
        .or_else(|| out.lines().find(|l| l.starts_with("0::")))
        .unwrap();
    assert!(line.ends_with(&path), "{line}");
    let parent = if line.starts_with("0::") {
        "/sys/fs/cgroup/berth-it"
    } else {
        "/sys/fs/cgroup/pids/berth-it"
    };
    assert!(
        !std::path::Path::new(parent).exists(),
        "the parent berth made is removed too"
    );
}

#[test]
fn time_namespace_offsets() {
    time_namespace_offsets_with(false);
}

/// The offsets of a time namespace owned by the container's user
/// namespace, which berth writes from outside (the init stays
/// non-dumpable).
#[test]
fn time_namespace_offsets_in_a_user_namespace() {
    time_namespace_offsets_with(true);
}

fn time_namespace_offsets_with(userns: bool) {
    let mut b = bundle(&[
        "sh",
        "-c",
        "cat /proc/self/timens_offsets; cut -d. -f1 /proc/uptime",
    ]);
    b.config["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "mount"}, {"type": "time"}]);
    if userns {
        b.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .extend([
                json!({"type": "user"}),
                json!({"type": "network"}),
                json!({"type": "ipc"}),
            ]);
        let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        b.config["linux"]["uidMappings"] = map.clone();
        b.config["linux"]["gidMappings"] = map;
    }
    b.config.as_object_mut().unwrap().remove("hostname");
    b.config["linux"]["timeOffsets"] =
        json!({"boottime": {"secs": 864000, "nanosecs": 0}, "monotonic": {"secs": 7200}});
    let out = b.run_ok();
    let words: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(words.contains(&vec!["monotonic", "7200", "0"]), "{out}");
    assert!(words.contains(&vec!["boottime", "864000", "0"]), "{out}");
    let uptime: u64 = out.lines().last().unwrap().parse().unwrap();
    assert!(uptime >= 864000, "uptime {uptime}");
}

#[test]
fn joining_namespaces_by_path() {
    // Another container's namespaces, joined as a pod's containers join
    // its sandbox's.
    let mut holder = bundle(&["sleep", "100"]);
    holder.config["hostname"] = json!("joined-host");
    let out = holder.create(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pid = holder.state()["pid"].as_i64().unwrap();
    let ns = |k: &str| format!("/proc/{pid}/ns/{k}");
    let mut b = bundle(&[
        "sh",
        "-c",
        "readlink /proc/self/ns/net; readlink /proc/self/ns/pid; hostname",
    ]);
    b.config["linux"]["namespaces"] = json!([
        {"type": "network", "path": ns("net")},
        {"type": "uts", "path": ns("uts")},
        {"type": "pid", "path": ns("pid_for_children")},
        {"type": "mount"}, {"type": "ipc"}
    ]);
    b.config.as_object_mut().unwrap().remove("hostname");
    // sysfs needs a net namespace of our own; this one is joined.
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["type"] != "sysfs");
    let out = b.run_ok();
    let want_net = std::fs::read_link(ns("net")).unwrap();
    let want_pid = std::fs::read_link(ns("pid")).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], want_net.to_str().unwrap());
    assert_eq!(lines[1], want_pid.to_str().unwrap());
    assert_eq!(lines[2], "joined-host");
    holder.ok(&["delete", "--force", &holder.id]);
    b.assert_no_leftovers();
    holder.assert_no_leftovers();
}

#[test]
fn user_namespace_with_mappings() {
    let mut b = bundle(&[
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map; id -u; ls -ln /dev/null",
    ]);
    b.config["linux"]["namespaces"] = json!([
        {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}
    ]);
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let out = b.run_ok();
    let lines: Vec<&str> = out.lines().collect();
    let words = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
    assert_eq!(words(lines[0]), ["0", "100000", "65536"]);
    assert_eq!(words(lines[1]), ["0", "100000", "65536"]);
    assert_eq!(lines[2], "0");
    // /dev/null is the host's node bound in (mknod is not allowed).
    assert!(lines[3].starts_with("crw-rw-rw-"), "{}", lines[3]);
    b.assert_no_leftovers();
}

#[test]
fn dev_has_default_devices_links_and_config_devices() {
    let mut b = bundle(&[
        "sh",
        "-c",
        "ls -ln /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/mydev | tr -s ' ' | cut -d' ' -f1,3,4,5,6,10; for l in ptmx fd stdin stdout stderr; do readlink /dev/$l; done",
    ]);
    b.config["linux"]["devices"] = json!([{"path": "/dev/mydev", "type": "c", "major": 1, "minor": 3, "fileMode": 384, "uid": 7, "gid": 8}]);
    let out = b.run_ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..7],
        [
            "crw-rw-rw- 0 0 1, 7 /dev/full",
            "crw------- 7 8 1, 3 /dev/mydev",
            "crw-rw-rw- 0 0 1, 3 /dev/null",
            "crw-rw-rw- 0 0 1, 8 /dev/random",
            "crw-rw-rw- 0 0 5, 0 /dev/tty",
            "crw-rw-rw- 0 0 1, 9 /dev/urandom",
            "crw-rw-rw- 0 0 1, 5 /dev/zero",
        ]
    );
    assert_eq!(
        lines[7..],
        [
            "pts/ptmx",
            "/proc/self/fd",
            "/proc/self/fd/0",
            "/proc/self/fd/1",
            "/proc/self/fd/2"
        ]
    );
}

#[test]
fn masked_readonly_paths_and_readonly_root() {
    let b = bundle(&[
        "sh",
        "-c",
        "wc -c < /proc/keys; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null || echo ro-sys; touch /newfile 2>/dev/null || echo ro-root; touch /tmp/ok && echo tmp-rw",
    ]);
    let out = b.run_ok();
    assert_eq!(out, "0\n0\nro-sys\nro-root\ntmp-rw\n");
}

#[test]
fn sysctl_in_the_container_namespaces_only() {
    let mut b = bundle(&[
        "sh",
        "-c",
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni",
    ]);
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"});
    let host_before = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    assert_eq!(b.run_ok(), "1\n1234\n");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_before
    );
}

#[test]
fn preserved_fds_pass_and_others_do_not() {
    let b = bundle(&[
        "sh",
        "-c",
        "ls /proc/self/fd | sort -n | tr '\\n' ' '; cat <&3",
    ]);
    b.write();
    let f3 = std::fs::File::open(b.dir.join("config.json")).unwrap();
    let f4 = std::fs::File::open("/etc/hostname").unwrap();
    use std::os::fd::AsRawFd;
    let (r3, r4) = (f3.as_raw_fd(), f4.as_raw_fd());
    let mut cmd = b.cmd(&[
        "run",
        "--preserve-fds",
        "1",
        "-b",
        b.dir.to_str().unwrap(),
        &b.id,
    ]);
    // SAFETY (test): dup2 in the child between fork and exec only.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            for (from, to) in [(r3, 3), (r4, 4)] {
                if from != to && libc::dup2(from, to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::fcntl(to, libc::F_SETFD, 0);
            }
            Ok(())
        });
    }
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // ls itself opens one fd for the directory it lists.
    assert!(text.starts_with("0 1 2 3 "), "{text}");
    assert!(!text.starts_with("0 1 2 3 4 5"), "fd 4 leaked: {text}");
    assert!(text.contains("\"ociVersion\""), "{text}");
}

#[test]
fn no_pivot_runs_the_container_too() {
    let b = bundle(&["sh", "-c", "cat /proc/self/mountinfo | head -1"]);
    b.write();
    let out = b
        .cmd(&["run", "--no-pivot", "-b", b.dir.to_str().unwrap(), &b.id])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    b.assert_no_leftovers();
}

/// Without pivot_root the host's proc and sysfs would stay in the
/// container's mount namespace, under its root. In a user namespace of
/// its own the container's proc, with maskedPaths' covers locked onto it,
/// is not "fully visible", so the kernel lets a new proc be mounted only
/// if a bare one is: the host's would do (runc's no_pivot.bats attack).
/// The container's own /proc still works.
#[test]
fn no_pivot_leaves_no_bare_host_proc_or_sysfs_behind() {
    let mut b = peer_bundle(&[
        "sh",
        "-c",
        "unshare -mrpf sh -c 'mount -t proc none /proc 2>&1 && echo proc-mounted; mount -t sysfs none /sys 2>&1 && echo sysfs-mounted'; head -c 4 /proc/self/stat >/dev/null && echo own-proc",
    ]);
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SETFCAP"));
    }
    b.write();
    let out = b
        .cmd(&["run", "--no-pivot", "-b", b.dir.to_str().unwrap(), &b.id])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("permission denied"), "{text}");
    assert!(!text.contains("proc-mounted"), "{text}");
    assert!(!text.contains("sysfs-mounted"), "{text}");
    assert!(text.contains("own-proc"), "{text}");
    b.assert_no_leftovers();
}

#[test]
fn socket_activation_fds_are_passed_on() {
    // systemd hands berth LISTEN_FDS fds for its own pid; the container's
    // init (pid 1) gets them with LISTEN_PID=1.
    let b = bundle(&["sh", "-c", "echo $LISTEN_FDS $LISTEN_PID; cat <&3"]);
    b.write();
    std::fs::write(b.dir.join("sock"), "activated\n").unwrap();
    let script = format!(
        "exec 3<{sock}; LISTEN_PID=$$ LISTEN_FDS=1 exec {berth} --root {root} run -b {dir} {id}",
        sock = b.dir.join("sock").display(),
        berth = berth(),
        root = b.root.display(),
        dir = b.dir.display(),
        id = b.id
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "1 1\nactivated\n");
    b.assert_no_leftovers();
}

#[test]
fn the_process_starts_with_default_signal_dispositions() {
    // SigIgn in /proc/self/status: nothing ignored (SIGPIPE included).
    let b = bundle(&["grep", "SigIgn", "/proc/self/status"]);
    assert_eq!(b.run_ok(), "SigIgn:\t0000000000000000\n");
}

/// process.apparmorProfile: applied on exec where AppArmor is enabled
/// (the systemd VM), refused with the reason where it is not (here); a
/// program never runs unconfined when a profile was asked for.
#[test]
fn apparmor_profile_applies_or_is_refused() {
    let enabled = std::path::Path::new("/sys/kernel/security/apparmor").is_dir()
        && std::fs::read("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|v| v.starts_with(b"Y"));
    let mut b = bundle(&["cat", "/proc/self/attr/apparmor/current"]);
    b.config["process"]["apparmorProfile"] = json!("unconfined");
    if enabled {
        assert_eq!(b.run_ok().trim(), "unconfined");
    } else {
        let out = b.run();
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("process.apparmorProfile")
                && stderr(&out).contains("AppArmor is not enabled on this host"),
            "{}",
            stderr(&out)
        );
        b.assert_no_leftovers();
        // exec --apparmor says the same, and runs nothing.
        let mut c = bundle(&["sleep", "100"]);
        c.config["process"]["args"] = json!(["sleep", "100"]);
        let out = c.create(&[]);
        assert!(out.status.success(), "{}", stderr(&out));
        c.ok(&["start", &c.id]);
        let out = c
            .cmd(&["exec", "--apparmor", "unconfined", &c.id, "true"])
            .output()
            .unwrap();
        assert!(
            !out.status.success() && stderr(&out).contains("AppArmor is not enabled"),
            "{}",
            stderr(&out)
        );
        c.ok(&["delete", "--force", &c.id]);
    }
}

/// SELinux labels: where SELinux is on (the SELinux VM boot, permissive,
/// Debian's reference policy) the program runs in process.selinuxLabel
/// and fresh mounts carry linux.mountLabel as their context; where it is
/// off (here) both are ignored with a warning, as runc's label library
/// ignores them. BERTH_EXPECT_SELINUX=1 says this boot has it on.
#[test]
fn selinux_labels_apply_or_are_ignored_as_runc_does() {
    let enabled = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    if std::env::var_os("BERTH_EXPECT_SELINUX").is_some() {
        assert!(
            enabled,
            "BERTH_EXPECT_SELINUX is set but selinuxfs is absent"
        );
    }
    // Types Debian's reference policy has (it has no container_t).
    let process = "system_u:system_r:unconfined_t:s0:c1,c2";
    let mount = "system_u:object_r:tmpfs_t:s0:c1,c2";
    let mut b = bundle(&[
        "sh",
        "-c",
        "cat /proc/self/attr/current; echo; grep ' /run ' /proc/self/mountinfo",
    ]);
    b.config["process"]["selinuxLabel"] = json!(process);
    b.config["linux"]["mountLabel"] = json!(mount);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}));
    let out = b.run();
    let e = stderr(&out);
    let o = stdout(&out);
    assert!(out.status.success(), "{e}");
    if enabled {
        assert_eq!(
            o.lines().next().unwrap_or("").trim_end_matches('\0'),
            process,
            "{o}"
        );
        let run = o.lines().find(|l| l.contains(" /run ")).unwrap_or("");
        assert!(run.contains("context=") && run.contains(mount), "{o}");
        // exec --process-label: the exec'd program's own context.
        let mut c = bundle(&["sleep", "100"]);
        c.config["process"]["selinuxLabel"] = json!(process);
        let out = c.create(&[]);
        assert!(out.status.success(), "{}", stderr(&out));
        c.ok(&["start", &c.id]);
        let other = "system_u:system_r:unconfined_t:s0:c3,c4";
        let out = c
            .cmd(&[
                "exec",
                "--process-label",
                other,
                &c.id,
                "cat",
                "/proc/self/attr/current",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out).trim_end_matches('\0').trim(), other);
        c.ok(&["delete", "--force", &c.id]);
        c.assert_no_leftovers();
    } else {
        assert!(o.contains("tmpfs"), "{o}");
        for field in ["process.selinuxLabel", "linux.mountLabel"] {
            assert!(
                e.contains(field) && e.contains("SELinux is not enabled"),
                "{e}"
            );
        }
    }
    b.assert_no_leftovers();
}

/// A label SELinux could never take is refused before anything is made
/// where SELinux is on; where it is off, nothing looks at it.
#[test]
fn a_malformed_selinux_label_is_refused_where_selinux_is_on() {
    let enabled = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    let mut b = bundle(&["true"]);
    b.config["process"]["selinuxLabel"] = json!("container_t");
    let out = b.run();
    let e = stderr(&out);
    if enabled {
        assert!(
            !out.status.success()
                && e.contains("process.selinuxLabel")
                && e.contains("user:role:type"),
            "{e}"
        );
    } else {
        assert!(
            out.status.success() && e.contains("SELinux is not enabled"),
            "{e}"
        );
    }
    b.assert_no_leftovers();
}

/// A network namespace berth makes has its loopback up (IFF_UP in its
/// flags), as runc and crun leave it: 127.0.0.1 works without CNI.
#[test]
fn a_new_network_namespace_has_its_loopback_up() {
    let b = peer_bundle(&["cat", "/sys/class/net/lo/flags"]);
    let flags = b.run_ok();
    let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & 1, 1, "lo is down: {flags:#x}");
    b.assert_no_leftovers();
}

/// process.user may be left out (the schema requires only args and cwd):
/// the process runs as uid 0, gid 0.
#[test]
fn a_process_without_user_runs_as_root() {
    let mut b = peer_bundle(&["id"]);
    b.config["process"].as_object_mut().unwrap().remove("user");
    let out = b.run_ok();
    assert!(out.starts_with("uid=0(root) gid=0(root)"), "{out}");
}

/// A linux.devices path with a trailing slash names the device, as runc
/// reads it; it is not refused.
#[test]
fn a_device_path_with_a_trailing_slash_is_the_device() {
    let mut b = peer_bundle(&["sh", "-c", "ls -l /dev/mynull | cut -c1"]);
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/mynull/", "type": "c", "major": 1, "minor": 3, "fileMode": 438}]);
    assert_eq!(b.run_ok(), "c\n");
}
