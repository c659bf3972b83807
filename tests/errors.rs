//! Bad input: each failure names what failed, where and why, on stderr
//! and as one JSON line in --log, and leaves nothing behind.

mod common;
use common::*;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

/// create must fail with all of `words` in its message and leave nothing.
/// Another runtime (`make compat-peers`) words its errors its own way:
/// there only the refusal counts.
fn create_fails(b: &Bundle, words: &[&str]) -> String {
    let out = b.create(&[]);
    let e = stderr(&out);
    assert!(!out.status.success(), "create succeeded unexpectedly");
    for w in words
        .iter()
        .filter(|_| b.runtime == std::path::Path::new(berth()))
    {
        assert!(e.contains(w), "{w:?} not in {e:?}");
    }
    b.assert_no_leftovers();
    e
}

/// create with whatever is in the bundle dir now (no config.json written).
fn create_as_is(b: &Bundle) -> std::process::Output {
    b.cmd(&["create", "-b", b.dir.to_str().unwrap(), &b.id])
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn missing_config() {
    let b = bundle(&["true"]);
    let out = create_as_is(&b);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("config.json: no such file or directory"),
        "{}",
        stderr(&out)
    );
    b.assert_no_leftovers();
}

#[test]
fn unreadable_config() {
    let b = bundle(&["true"]);
    std::fs::create_dir(b.dir.join("config.json")).unwrap();
    let out = create_as_is(&b);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("config.json: is a directory"),
        "{}",
        stderr(&out)
    );
    b.assert_no_leftovers();
}

#[test]
fn invalid_json_and_wrong_types() {
    let b = bundle(&["true"]);
    std::fs::write(b.dir.join("config.json"), "{\"ociVersion\": \"1.0\",").unwrap();
    let out = create_as_is(&b);
    assert!(stderr(&out).contains("invalid JSON"), "{}", stderr(&out));
    b.assert_no_leftovers();
    let mut b = bundle(&["true"]);
    b.config["process"]["user"]["uid"] = json!("root");
    create_fails(&b, &["process.user.uid", "invalid type"]);
}

#[test]
fn relative_paths_where_absolute_are_required() {
    let mut b = bundle(&["true"]);
    b.config["process"]["cwd"] = json!("relative");
    create_fails(&b, &["process.cwd", "absolute"]);
    let mut b = bundle(&["true"]);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "data", "type": "tmpfs", "source": "tmpfs"}));
    create_fails(&b, &["mounts[7]", "absolute"]);
    let mut b = bundle(&["true"]);
    b.config["hooks"] = json!({"prestart": [{"path": "bin/hook"}]});
    create_fails(&b, &["hooks.prestart[0].path", "absolute"]);
}

#[test]
fn missing_rootfs() {
    let mut b = bundle(&["true"]);
    b.config["root"]["path"] = json!("/nonexistent/rootfs");
    create_fails(
        &b,
        &[
            "root.path",
            "/nonexistent/rootfs",
            "no such file or directory",
        ],
    );
}

#[test]
fn entrypoint_missing_or_not_executable() {
    let b = bundle(&["no-such-program"]);
    create_fails(
        &b,
        &["exec: \"no-such-program\": executable file not found in $PATH"],
    );
    let b = bundle(&["/bin/nope"]);
    create_fails(&b, &["/bin/nope", "no such file or directory"]);
    let b = bundle(&["/etc/passwd"]);
    create_fails(&b, &["/etc/passwd", "permission denied"]);
}

#[test]
fn duplicate_and_invalid_ids() {
    let b = bundle(&["sleep", "10"]);
    assert!(b.create(&[]).status.success());
    let again = b.create(&[]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        b.state()["status"],
        "created",
        "the first container is untouched"
    );
    b.ok(&["delete", "--force", &b.id]);
    for bad in ["a/b", "..", "../x"] {
        let out = b
            .cmd(&["create", "-b", b.dir.to_str().unwrap(), bad])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("invalid container id"),
            "{}",
            stderr(&out)
        );
    }
    assert!(!b.root.join("b").exists() && !b.dir.join("x").exists());
}

#[test]
fn unknown_id_for_every_command() {
    let b = bundle(&["true"]);
    for args in [
        vec!["start", "ghost"],
        vec!["state", "ghost"],
        vec!["kill", "ghost"],
        vec!["delete", "ghost"],
    ] {
        let out = b.cmd(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).contains("container ghost does not exist"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn user_namespace_without_mappings() {
    let mut b = bundle(&["true"]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    create_fails(&b, &["linux.uidMappings", "needs uid mappings"]);
}

#[test]
fn mount_destination_symlink_is_resolved_inside_the_rootfs() {
    // The static half of CVE-2021-30465 (its race swaps the symlink in
    // between a runtime's check and its mount; berth mounts through the
    // fd it resolved, so there is no second lookup to race).
    let outside = std::env::temp_dir().join(unique("outside"));
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("keep"), "host\n").unwrap();
    let mut b = peer_bundle(&["sh", "-c", "ls /evil/; ls /trap-target"]);
    let r = b.own_rootfs();
    // Absolute and relative escapes: both must land inside the rootfs.
    std::os::unix::fs::symlink(&outside, r.join("evil")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../trap-target", r.join("trap")).unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/evil", "type": "tmpfs", "source": "tmpfs"}));
    mounts.push(json!({"destination": "/trap", "type": "tmpfs", "source": "tmpfs"}));
    b.config["root"]["readonly"] = json!(false);
    let out = b.run();
    // The host directory still holds its file: nothing was mounted over it.
    assert_eq!(
        std::fs::read_to_string(outside.join("keep")).unwrap(),
        "host\n"
    );
    assert!(!std::path::Path::new("/trap-target").exists());
    if !runtime_is_berth() && !out.status.success() {
        // Another runtime may refuse a destination whose target is
        // missing (crun 1.8.1 does): as safe as resolving it inside.
        std::fs::remove_dir_all(&outside).unwrap();
        b.assert_no_leftovers();
        return;
    }
    assert!(out.status.success(), "{}", stderr(&out));
    // The container saw both mounts (its ls of each succeeded), made at
    // the symlinks' targets inside its own tree (/tmp is its tmpfs).
    assert!(
        r.join("trap-target").is_dir(),
        "target made inside the rootfs"
    );
    std::fs::remove_dir_all(&outside).unwrap();
    b.assert_no_leftovers();
}

#[test]
fn errors_are_one_json_line_in_the_log() {
    let b = bundle(&["no-such-program"]);
    b.write();
    let log = b.dir.join("log.json");
    // A stale line from an earlier call must not be mistaken for ours.
    std::fs::write(
        &log,
        "{\"level\":\"info\",\"msg\":\"old\",\"time\":\"x\"}\n",
    )
    .unwrap();
    let out = std::process::Command::new(berth())
        .arg("--root")
        .arg(&b.root)
        .arg("--log")
        .arg(&log)
        .args([
            "--log-format",
            "json",
            "create",
            "--bundle",
            b.dir.to_str().unwrap(),
            &b.id,
        ])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(v["level"], "error");
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("executable file not found"),
        "{v}"
    );
    assert!(v["time"].as_str().unwrap().ends_with('Z'));
    assert!(stderr(&out).contains("executable file not found"));
    b.assert_no_leftovers();
}

#[test]
fn terminal_without_console_socket_is_refused() {
    let mut b = bundle(&["true"]);
    b.config["process"]["terminal"] = json!(true);
    create_fails(&b, &["process.terminal", "console-socket"]);
}

#[test]
fn failures_inside_the_init_roll_back() {
    // Fails late: after cgroups, namespaces and mounts exist.
    let mut b = bundle(&["true"]);
    b.config["process"]["rlimits"] =
        json!([{"type": "RLIMIT_NOFILE", "soft": 1, "hard": u64::MAX}]);
    create_fails(
        &b,
        &["setrlimit", "RLIMIT_NOFILE", "operation not permitted"],
    );
    let mut b = bundle(&["true"]);
    b.own_rootfs();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/x", "type": "nosuchfs", "source": "none"}));
    create_fails(&b, &["mounts[7]", "mount nosuchfs", "no such device"]);
}

#[test]
fn host_sysctls_and_unsupported_features_are_refused() {
    let mut b = bundle(&["true"]);
    b.config["linux"]["sysctl"] = json!({"kernel.panic": "1"});
    create_fails(&b, &["linux.sysctl.kernel.panic"]);
    let mut b = bundle(&["true"]);
    b.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_NOPE"});
    create_fails(&b, &["linux.seccomp.defaultAction"]);
}

#[test]
fn cwd_through_a_leaked_fd_is_refused() {
    // CVE-2024-21626: while the init sets up, it holds fds on host
    // directories (cgroups, /proc, the state dir). A cwd naming one of them
    // through /proc/self/fd must never put the process outside its root.
    // (Another runtime's refusal is worded its own way.)
    for n in 3..10 {
        let mut b = peer_bundle(&["pwd"]);
        b.config["process"]["cwd"] = json!(format!("/proc/self/fd/{n}"));
        b.config["root"]["readonly"] = json!(false);
        b.own_rootfs();
        let out = b.run();
        if out.status.success() {
            let pwd = stdout(&out);
            assert!(
                pwd.starts_with('/') && !pwd.contains("unreachable") && !pwd.contains("cgroup"),
                "fd {n}: cwd escaped to {pwd:?}"
            );
        } else if runtime_is_berth() {
            assert!(
                stderr(&out).contains("process.cwd"),
                "fd {n}: {}",
                stderr(&out)
            );
        }
        b.assert_no_leftovers();
    }
}

#[test]
fn the_program_path_cannot_reach_the_host_through_a_leaked_fd() {
    // While the init sets up it holds fds on host directories; execve
    // must not resolve a path through them (a CVE-2024-21626 variant).
    // The program is a script only the host has: enough `..` climb from
    // any host directory to the host's root (from a directory inside the
    // container they stop at its root, where the script is not).
    let host = std::env::temp_dir().join(unique("leak"));
    std::fs::create_dir_all(&host).unwrap();
    let script = host.join("escape");
    std::fs::write(&script, "#!/bin/sh\necho escaped\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    for n in 3..12 {
        let path = format!("/proc/self/fd/{n}{}{}", "/..".repeat(16), script.display());
        let b = peer_bundle(&[&path]);
        let out = b.run();
        assert!(
            !stdout(&out).contains("escaped"),
            "fd {n} reached the host: {}",
            stderr(&out)
        );
        b.assert_no_leftovers();
    }
    std::fs::remove_dir_all(&host).unwrap();
}

#[test]
fn masked_paths_never_bind_a_swapped_dev_null() {
    // CVE-2025-31133: the image's /dev/null is a symlink to a file; berth
    // masks with the host's verified null device, never the image's. A
    // runtime that uses the image's may also swap the container's stdio
    // for it (runc 1.1.5 does): then the output lands in the secret file.
    // Reads are bounded: the secret may be the reader's own stdout.
    let mut b = peer_bundle(&["sh", "-c", "head -c 64 /proc/keys; echo end"]);
    let r = b.own_rootfs();
    std::fs::write(r.join("etc/secret"), "secret\n").unwrap();
    let _ = std::fs::remove_file(r.join("dev/null"));
    std::os::unix::fs::symlink("/etc/secret", r.join("dev/null")).unwrap();
    b.config["mounts"].as_array_mut().unwrap().retain(|m| {
        m["destination"] != "/dev" && !m["destination"].as_str().unwrap().starts_with("/dev/")
    });
    b.config["linux"]["maskedPaths"] = json!(["/proc/keys"]);
    b.config["root"]["readonly"] = json!(false);
    let out = b.run();
    assert_eq!(
        std::fs::read_to_string(r.join("etc/secret")).unwrap(),
        "secret\n",
        "the image's /dev/null target was written"
    );
    assert_eq!(stdout(&out), "end\n", "{}", stderr(&out));
    assert!(out.status.success(), "{}", stderr(&out));
    b.assert_no_leftovers();
}

/// `..` in the paths of an attacker's config (mount destinations, device
/// paths, the working directory) resolves inside the rootfs, as if the
/// rootfs were `/`: nothing is mounted or created on the host.
#[test]
fn dotdot_in_config_paths_stays_inside_the_rootfs() {
    let tag = unique("escape");
    let mut b = peer_bundle(&[
        "sh",
        "-c",
        &format!("ls -d /tmp/{tag}-mnt /tmp/{tag}-dev && pwd"),
    ]);
    b.own_rootfs();
    b.config["root"]["readonly"] = json!(false);
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": format!("/../../../tmp/{tag}-mnt"), "type": "tmpfs", "source": "tmpfs"
    }));
    b.config["linux"]["devices"] = json!([{
        "path": format!("/dev/../../../tmp/{tag}-dev"), "type": "c", "major": 1, "minor": 3
    }]);
    b.config["process"]["cwd"] = json!("/../../tmp");
    let out = b.run();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.ends_with("/tmp\n"), "{text}");
    for what in ["mnt", "dev"] {
        let host = std::path::PathBuf::from(format!("/tmp/{tag}-{what}"));
        assert!(!host.exists(), "{} was made on the host", host.display());
    }
    b.assert_no_leftovers();
}

/// `berth list | head -1`: a reader that has gone ends the command
/// quietly, with no panic and no abort, whatever the command prints.
#[test]
fn output_to_a_reader_that_has_gone_ends_quietly() {
    let b = bundle(&["sleep", "100"]);
    assert!(b.create(&[]).status.success());
    for args in [
        vec!["state", b.id.as_str()],
        vec!["list"],
        vec!["list", "--format", "json"],
        vec!["list", "-q"],
        vec!["ps", b.id.as_str()],
        vec!["ps", "--format", "json", b.id.as_str()],
        vec!["features"],
        vec!["--version"],
    ] {
        let (r, w) = nix::unistd::pipe().unwrap();
        drop(r);
        let out = b
            .cmd(&args)
            .stdout(std::process::Stdio::from(w))
            .output()
            .unwrap();
        let e = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {:?} {e}", out.status);
        assert!(e.is_empty(), "{args:?}: {e}");
    }
    b.ok(&["delete", "--force", &b.id]);
}

/// What maps to no kernel interface is an error (config.md): an ociVersion
/// that is not SemVer, a capability name that is no capability.
#[test]
fn a_non_semver_version_and_a_non_capability_are_refused() {
    let mut b = peer_bundle(&["true"]);
    b.config["ociVersion"] = json!("invalid");
    b.write();
    create_fails(&b, &["ociVersion", "not a SemVer"]);
    let mut b = peer_bundle(&["true"]);
    b.config["process"]["capabilities"]["bounding"]
        .as_array_mut()
        .unwrap()
        .push(json!("CAP_TEST"));
    b.write();
    create_fails(
        &b,
        &[
            "process.capabilities.bounding",
            "\"CAP_TEST\" is not a capability",
        ],
    );
}

/// kernel.hostname and kernel.domainname through linux.sysctl would go
/// around the config's hostname and domainname fields: refused, as runc
/// and crun refuse them.
#[test]
fn hostname_sysctls_are_refused_for_the_fields() {
    for key in ["kernel.hostname", "kernel.domainname"] {
        let mut b = peer_bundle(&["true"]);
        b.config["linux"]["sysctl"] = json!({key: "x"});
        b.write();
        create_fails(&b, &[&format!("linux.sysctl.{key}"), "field"]);
    }
}
