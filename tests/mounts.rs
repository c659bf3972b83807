//! Mounts: config.json's mounts, rootfsPropagation and what goes below
//! /dev, checked from inside the container.

mod common;
use common::*;
use serde_json::json;

#[test]
fn mounts_with_options_and_propagation() {
    let host_dir = std::env::temp_dir().join(unique("bindsrc"));
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("file"), "from host\n").unwrap();
    let mut b = bundle(&[
        "sh",
        "-c",
        "cat /data/ro/file; touch /data/ro/x 2>&1 | grep -c Read-only; cat /etc/hostfile; grep -E ' /(data/tmp|data/ro) ' /proc/self/mountinfo",
    ]);
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/data/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["noexec", "nosuid", "size=1m", "mode=700", "rprivate"]}));
    mounts.push(json!({"destination": "/data/ro", "type": "bind", "source": host_dir, "options": ["rbind", "ro", "nodev"]}));
    mounts.push(json!({"destination": "/etc/hostfile", "type": "bind", "source": host_dir.join("file"), "options": ["bind"]}));
    b.config["root"]["readonly"] = json!(false);
    b.own_rootfs();
    let out = b.run_ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "from host");
    assert_eq!(lines[1], "1");
    assert_eq!(lines[2], "from host");
    let tmp = lines.iter().find(|l| l.contains(" /data/tmp ")).unwrap();
    assert!(
        tmp.contains("noexec")
            && tmp.contains("nosuid")
            && tmp.contains("size=1024k")
            && tmp.contains("mode=700"),
        "{tmp}"
    );
    let ro = lines.iter().find(|l| l.contains(" /data/ro ")).unwrap();
    assert!(ro.contains(" ro,") && ro.contains("nodev"), "{ro}");
    std::fs::remove_dir_all(&host_dir).unwrap();
}

#[test]
fn tmpcopyup_copies_the_image_content() {
    let mut b = bundle(&["cat", "/etc/copied/hello"]);
    b.config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/etc/copied", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}));
    let r = b.own_rootfs();
    std::fs::create_dir_all(r.join("etc/copied")).unwrap();
    std::fs::write(r.join("etc/copied/hello"), "image content\n").unwrap();
    assert_eq!(b.run_ok(), "image content\n");
}

#[test]
fn rootfs_propagation_values() {
    // A slave of a private host mount is private: only "shared" is certain.
    for (prop, shared) in [
        ("rshared", true),
        ("shared", true),
        ("rprivate", false),
        ("rslave", false),
    ] {
        let mut b = bundle(&["sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo"]);
        b.config["linux"]["rootfsPropagation"] = json!(prop);
        let out = b.run_ok();
        assert_eq!(out.contains("shared:"), shared, "{prop}: {out}");
        b.assert_no_leftovers();
    }
}

/// Unbindable goes on the new root once it is bound and switched to:
/// applied first, it kept the rootfs from being bound (EINVAL).
#[test]
fn an_unbindable_rootfs_propagation_goes_on_the_new_root() {
    for prop in ["unbindable", "runbindable"] {
        let mut b = peer_bundle(&["sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo"]);
        b.config["linux"]["rootfsPropagation"] = json!(prop);
        let out = b.run_ok();
        assert!(out.contains("unbindable"), "{prop}: {out}");
        b.assert_no_leftovers();
    }
}

/// A tmpfs whose options give no mode keeps the mode of the directory the
/// image has at its mount point (runc: a 0712 mount point stays 0712); on
/// a mount point the image lacks it is the kernel's 1777.
#[test]
fn a_tmpfs_without_mode_keeps_its_mount_points() {
    let mut b = peer_bundle(&["stat", "-c", "%a", "/m", "/new"]);
    let root = b.own_rootfs();
    std::fs::create_dir(root.join("m")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.join("m"), std::fs::Permissions::from_mode(0o712)).unwrap();
    for dest in ["/m", "/new"] {
        b.config["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs"}));
    }
    assert_eq!(b.run_ok(), "712\n1777\n");
}

/// proc and sysfs are mounted only on a directory: a symlink the image
/// has at the destination is refused whatever it points to (runc, youki).
#[test]
fn proc_and_sysfs_on_a_symlink_in_the_image_are_refused() {
    for (dest, fstype) in [("/proc", "proc"), ("/sys", "sysfs")] {
        let mut b = peer_bundle(&["true"]);
        let root = b.own_rootfs();
        let _ = std::fs::remove_dir_all(root.join(&dest[1..]));
        std::fs::create_dir_all(root.join("elsewhere")).unwrap();
        std::os::unix::fs::symlink("elsewhere", root.join(&dest[1..])).unwrap();
        let out = b.run();
        assert!(!out.status.success(), "{fstype} mounted through a symlink");
        let e = stderr(&out);
        if runtime_is_berth() {
            assert!(e.contains(fstype) && e.contains("symlink"), "{e}");
        }
        b.assert_no_leftovers();
    }
}

/// A read-only /dev: what goes below it (devpts, shm, mqueue, the device
/// nodes) is made first, and the read-only bit comes last, as with runc.
#[test]
fn a_read_only_dev_still_gets_what_goes_below_it() {
    let mut b = peer_bundle(&[
        "sh",
        "-c",
        "touch /dev/x 2>&1 | grep -q 'Read-only' && echo ro; test -c /dev/null && echo null; grep -c ' /dev/pts \\| /dev/shm ' /proc/self/mountinfo",
    ]);
    let dev = b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["destination"] == "/dev")
        .expect("the test bundle mounts /dev");
    dev["options"].as_array_mut().unwrap().push(json!("ro"));
    assert_eq!(b.run_ok(), "ro\nnull\n2\n");
    b.assert_no_leftovers();
}

/// runtime-spec's recursive mount options reach every submount of an
/// rbind (mount_setattr with AT_RECURSIVE), and `features` lists them.
/// The host's /sys serves as a bind source with submounts (its cgroup
/// mount at least, on every layout).
#[test]
fn recursive_mount_options_reach_every_submount() {
    let mut b = peer_bundle(&[
        "sh",
        "-c",
        "awk '$5 ~ \"^/mnt/sys/.\" {print $6}' /proc/self/mountinfo",
    ]);
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/mnt/sys", "type": "bind", "source": "/sys",
        "options": ["rbind", "rro", "rnoexec", "rnosuid", "rnodev", "rnoatime", "rnosymfollow"]
    }));
    let out = b.run_ok();
    let subs: Vec<&str> = out.lines().collect();
    assert!(!subs.is_empty(), "no submounts seen");
    for opts in &subs {
        let o: Vec<&str> = opts.split(',').collect();
        for want in ["ro", "noexec", "nosuid", "nodev", "noatime", "nosymfollow"] {
            assert!(o.contains(&want), "{want} missing: {opts}");
        }
    }
    let f: serde_json::Value = serde_json::from_str(&b.ok(&["features"])).unwrap();
    let listed = f["mountOptions"].as_array().unwrap();
    for name in ["rro", "rrw", "rnosymfollow", "rstrictatime", "ratime"] {
        assert!(listed.iter().any(|v| v == name), "features lacks {name}");
    }
}

/// In a user namespace, bind sources that only the host's root can reach
/// (below a directory of mode 0700 owned by root, outside the maps) are
/// bound all the same, as runc binds them: the init, root of its own
/// user namespace only, could not open them itself. A read-only one
/// stays read-only, and a flag the host's mount has stays locked.
#[test]
fn a_user_namespace_binds_sources_only_the_hosts_root_can_reach() {
    let mut b = peer_bundle(&[
        "sh",
        "-c",
        "cat /tmp/a/foo.txt /tmp/d/foo.txt; stat -c %a /tmp/b; touch /tmp/c/x 2>&1 | grep -c Read-only; \
         mount -o remount,bind,rw /tmp/c 2>/dev/null && echo remounted; touch /tmp/c/y 2>/dev/null && echo wrote; true",
    ]);
    b.config["linux"]["namespaces"] = json!([
        {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}
    ]);
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["process"]["capabilities"]["bounding"] = json!(["CAP_SYS_ADMIN"]);
    b.config["process"]["capabilities"]["effective"] = json!(["CAP_SYS_ADMIN"]);
    b.config["process"]["capabilities"]["permitted"] = json!(["CAP_SYS_ADMIN"]);
    let secret = b.dir.join("secret");
    std::fs::create_dir_all(secret.join("dir")).unwrap();
    std::fs::write(secret.join("dir/foo.txt"), "only root could read this\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o700)).unwrap();
    // A read-only mount on the host, as a volume the engine made read-only:
    // the container, root of its own namespace, must not make it writable.
    let ro_src = b.dir.join("ro-src");
    std::fs::create_dir_all(&ro_src).unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/tmp/a", "type": "bind", "source": secret.join("dir"), "options": ["rbind"]}));
    mounts.push(json!({"destination": "/tmp/b", "type": "bind", "source": secret, "options": ["bind", "ro"]}));
    mounts.push(
        json!({"destination": "/tmp/c", "type": "bind", "source": ro_src, "options": ["bind"]}),
    );
    // A link of the host's root's on the way is followed as mount(2) would.
    let root_link = b.dir.join("root-link");
    std::os::unix::fs::symlink(secret.join("dir"), &root_link).unwrap();
    mounts.push(
        json!({"destination": "/tmp/d", "type": "bind", "source": root_link, "options": ["bind"]}),
    );
    let host_mount = HostMount::bind_ro(&ro_src);
    let out = b.run_ok();
    drop(host_mount);
    assert_eq!(
        out,
        "only root could read this\nonly root could read this\n700\n1\n"
    );
    b.assert_no_leftovers();
}

/// The host's root, opening bind sources for a user namespace, follows
/// no link that anybody else owns: one the container could have planted
/// (in a volume it writes) would lead it to what the container's root may
/// not reach. Such a source is left to the init, whose credentials are
/// the container's: a link into a root-only directory fails.
#[test]
fn a_user_namespace_bind_never_follows_a_planted_link_as_the_hosts_root() {
    let mut b = peer_bundle(&["cat", "/tmp/a/foo.txt"]);
    b.config["linux"]["namespaces"] = json!([
        {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}
    ]);
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let secret = b.dir.join("secret");
    std::fs::create_dir_all(secret.join("dir")).unwrap();
    std::fs::write(secret.join("dir/foo.txt"), "only root could read this\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o700)).unwrap();
    // The volume the container writes, with the link it planted there.
    let volume = b.dir.join("volume");
    std::fs::create_dir_all(&volume).unwrap();
    std::os::unix::fs::chown(&volume, Some(100000), Some(100000)).unwrap();
    let planted = volume.join("link");
    std::os::unix::fs::symlink(secret.join("dir"), &planted).unwrap();
    std::os::unix::fs::lchown(&planted, Some(100000), Some(100000)).unwrap();
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/tmp/a", "type": "bind", "source": planted, "options": ["bind"]}),
    );
    let out = b.run();
    assert!(
        !out.status.success(),
        "the planted link was followed to a root-only directory: {}",
        stdout(&out)
    );
    if runtime_is_berth() {
        let e = stderr(&out);
        assert!(e.contains("permission denied"), "{e}");
    }
    b.assert_no_leftovers();
}

/// A read-only bind of a directory onto itself in the host's mount
/// namespace, undone on drop.
struct HostMount(std::path::PathBuf);

impl HostMount {
    fn bind_ro(dir: &std::path::Path) -> HostMount {
        let ok = |args: &[&str]| {
            let s = std::process::Command::new("mount")
                .args(args)
                .status()
                .unwrap();
            assert!(s.success(), "mount {args:?}");
        };
        let d = dir.to_str().unwrap();
        ok(&["--bind", d, d]);
        let m = HostMount(dir.to_path_buf());
        ok(&["-o", "remount,bind,ro", d, d]);
        m
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// The host's mounts at or below `dir`, as its mount table lists them.
fn host_mounts_below(dir: &std::path::Path) -> Vec<String> {
    let dir = std::fs::canonicalize(dir).unwrap();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| {
            l.split(' ')
                .nth(4)
                .is_some_and(|p| std::path::Path::new(p).starts_with(&dir))
        })
        .map(String::from)
        .collect()
}

/// What a runtime left mounted below a directory goes when the test ends,
/// passed or not.
struct UnmountBelow(std::path::PathBuf);

impl Drop for UnmountBelow {
    fn drop(&mut self) {
        let mut points: Vec<String> = host_mounts_below(&self.0)
            .iter()
            .filter_map(|l| l.split(' ').nth(4).map(String::from))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = std::process::Command::new("umount")
                .args(["-l", &p])
                .status();
        }
    }
}

/// A namespace type absent from linux.namespaces is the runtime's own
/// (config-linux.md), the mount namespace included: a config with none
/// runs, and exec reaches its root. Nothing mounted for it shows in the
/// host's mount table, while it runs or after (runc 1.1.5 and crun 1.8.1
/// leave its proc, /dev, sysfs... mounted there for good).
#[test]
fn a_config_without_namespaces_shares_the_runtimes_and_leaves_no_mounts() {
    let mut b = peer_bundle(&["sleep", "30"]);
    b.config["linux"]["namespaces"] = json!([]);
    b.config.as_object_mut().unwrap().remove("hostname");
    let root = b.own_rootfs();
    let _leftovers = UnmountBelow(root.clone());
    std::fs::write(root.join("marker"), "the container's root\n").unwrap();
    let out = b.create(&[]);
    assert!(out.status.success(), "create: {}", stderr(&out));
    let pid = b.state()["pid"].as_i64().unwrap();
    for ns in ["mnt", "pid", "net", "ipc", "uts", "cgroup"] {
        let ours = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        assert_eq!(
            ours, theirs,
            "the container has a {ns} namespace of its own"
        );
    }
    assert_eq!(
        host_mounts_below(&root),
        Vec::<String>::new(),
        "while created"
    );
    b.ok(&["start", &b.id]);
    let seen = b.ok(&["exec", &b.id, "cat", "/marker"]);
    assert_eq!(seen, "the container's root\n");
    let proc_mounted = b.ok(&[
        "exec",
        &b.id,
        "sh",
        "-c",
        "test -r /proc/self/status && echo proc",
    ]);
    assert_eq!(proc_mounted, "proc\n");
    // exec from another mount namespace (an engine's private one) lands
    // in the container's root too, not in that namespace's.
    let elsewhere = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private"])
        .arg(&b.runtime)
        .arg("--root")
        .arg(&b.root)
        .args(["exec", &b.id, "cat", "/marker"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        stdout(&elsewhere),
        "the container's root\n",
        "{}",
        stderr(&elsewhere)
    );
    // CAP_SYS_ADMIN would let a process leave the root for the host's.
    if runtime_is_berth() {
        let out = b
            .cmd(&["exec", "--cap", "CAP_SYS_ADMIN", &b.id, "true"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "exec --cap CAP_SYS_ADMIN without a mount namespace"
        );
        assert!(stderr(&out).contains("CAP_SYS_ADMIN"), "{}", stderr(&out));
    }
    b.ok(&["kill", &b.id, "KILL"]);
    for _ in 0..100 {
        if b.state()["status"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    b.ok(&["delete", &b.id]);
    assert_eq!(
        host_mounts_below(&root),
        Vec::<String>::new(),
        "after delete"
    );
    b.assert_no_leftovers();
}

/// A bind mount onto the root itself replaces the image's tree, as with
/// runc, and its options hold; what the config mounts after it goes on
/// the new tree.
#[test]
fn a_bind_over_the_root_replaces_the_image() {
    let mut b = over_the_root_bundle();
    bind_another_tree_at(&mut b, "/");
    assert_eq!(b.run_ok(), "the bound tree\n1\nproc\n");
    b.assert_no_leftovers();
}

/// A bundle whose process says which tree it sees, whether its root is
/// read-only and whether /proc is mounted.
fn over_the_root_bundle() -> Bundle {
    let mut b = peer_bundle(&[
        "sh",
        "-c",
        "cat /which; touch /x 2>&1 | grep -c Read-only; test -r /proc/self/status && echo proc",
    ]);
    b.config["root"]["readonly"] = json!(false);
    b
}

/// A copy of the rootfs that says so in /which, bound read-only at `dest`
/// first of all mounts.
fn bind_another_tree_at(b: &mut Bundle, dest: &str) {
    let other = b.dir.join("other");
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(rootfs())
        .arg(&other)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::write(other.join("which"), "the bound tree\n").unwrap();
    b.config["mounts"].as_array_mut().unwrap().insert(
        0,
        json!({"destination": dest, "type": "bind", "source": other, "options": ["rbind", "ro"]}),
    );
}

/// A destination the image links to the root (`/data -> /`) is the root
/// too: a bind there replaces the tree with its options, and what comes
/// after goes on the new tree; anything but a bind there is refused.
#[test]
fn a_destination_linked_to_the_root_is_the_root() {
    let mut b = over_the_root_bundle();
    let root = b.own_rootfs();
    std::os::unix::fs::symlink("/", root.join("data")).unwrap();
    bind_another_tree_at(&mut b, "/data");
    assert_eq!(b.run_ok(), "the bound tree\n1\nproc\n");
    b.assert_no_leftovers();

    let mut b = peer_bundle(&["true"]);
    let root = b.own_rootfs();
    std::os::unix::fs::symlink("/", root.join("data")).unwrap();
    b.config["mounts"].as_array_mut().unwrap().insert(
        0,
        json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs"}),
    );
    let out = b.run();
    assert!(!out.status.success(), "a tmpfs went over the root");
    if runtime_is_berth() {
        let e = stderr(&out);
        assert!(e.contains("resolves to the root"), "{e}");
    }
    b.assert_no_leftovers();
}
