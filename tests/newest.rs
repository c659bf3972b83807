//! The newest runtime-spec features: idmapped mounts, linux.memoryPolicy,
//! process.execCPUAffinity, linux.netDevices and linux.intelRdt, each
//! seen from where it shows (inside the container, or the host).

mod common;
use common::*;
use serde_json::json;
use std::os::unix::fs::chown;
use std::process::{Command, Stdio};

/// A source tree owned by uid/gid 1000 (the file `f`), with `sub` to mount
/// something over (holding `g`, also 1000's).
fn idmap_source(b: &Bundle) -> (std::path::PathBuf, std::path::PathBuf) {
    let src = b.dir.join("src");
    let other = b.dir.join("other");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(src.join("f"), "x").unwrap();
    std::fs::write(other.join("g"), "y").unwrap();
    chown(src.join("f"), Some(1000), Some(1000)).unwrap();
    chown(other.join("g"), Some(1000), Some(1000)).unwrap();
    (src, other)
}

/// berth run in a private mount namespace where `other` is bound over
/// `src/sub`, so the host's own mounts stay untouched.
fn run_with_submount(b: &Bundle, src: &std::path::Path, other: &std::path::Path) -> String {
    b.write();
    let script = format!(
        "mount --bind {other} {src}/sub && exec {berth} --root {root} run -b {dir} {id}",
        other = other.display(),
        src = src.display(),
        berth = berth(),
        root = b.root.display(),
        dir = b.dir.display(),
        id = b.id
    );
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "berth run failed: {}\n{}",
        stderr(&out),
        stdout(&out)
    );
    stdout(&out)
}

fn map(from: u32, to: u32) -> serde_json::Value {
    json!([{"containerID": from, "hostID": to, "size": 1}])
}

#[test]
fn idmapped_bind_shows_mapped_owners() {
    let mut b = bundle(&["stat", "-c", "%u:%g", "/tmp/mnt/f"]);
    let (src, _) = idmap_source(&b);
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp/mnt", "type": "bind", "source": src,
        "options": ["bind", "ro"],
        "uidMappings": map(1000, 4000), "gidMappings": map(1000, 4001)
    }));
    // A single file bound with maps too, read-only.
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp/f", "type": "bind", "source": src.join("f"),
        "options": ["bind", "ro"],
        "uidMappings": map(1000, 5000), "gidMappings": map(1000, 5001)
    }));
    b.config["process"]["args"] = json!([
        "sh",
        "-c",
        "stat -c %u:%g /tmp/mnt/f /tmp/f; touch /tmp/mnt/f 2>/dev/null || echo ro"
    ]);
    assert_eq!(b.run_ok(), "4000:4001\n5000:5001\nro\n");
    // On the host, the file keeps its owner.
    let st = std::fs::metadata(src.join("f")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&st), 1000);
    b.assert_no_leftovers();
}

/// An idmapped bind whose source is a symlink binds what the link points
/// to, as a plain bind does: a directory and a file, given by absolute and
/// bundle-relative paths, with and without a user namespace.
#[test]
fn an_idmapped_bind_follows_a_symlink_source() {
    for userns in [false, true] {
        let mut b = peer_bundle(&["stat", "-c", "%u:%g", "/tmp/mnt/f", "/tmp/f"]);
        let (src, _) = idmap_source(&b);
        let (dir_link, file_link) = (b.dir.join("dir-link"), b.dir.join("file-link"));
        std::os::unix::fs::symlink(&src, &dir_link).unwrap();
        std::os::unix::fs::symlink("src/f", &file_link).unwrap();
        // Host ids as the container sees them: itself, or through its maps.
        let base = if userns { 100000 } else { 0 };
        let mounts = b.config["mounts"].as_array_mut().unwrap();
        mounts.push(json!({
            "destination": "/tmp/mnt", "type": "bind", "source": dir_link, "options": ["bind"],
            "uidMappings": map(1000, base + 4000), "gidMappings": map(1000, base + 4001)
        }));
        mounts.push(json!({
            "destination": "/tmp/f", "type": "bind", "source": "file-link", "options": ["bind"],
            "uidMappings": map(1000, base + 5000), "gidMappings": map(1000, base + 5001)
        }));
        if userns {
            b.config["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            let m = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            b.config["linux"]["uidMappings"] = m.clone();
            b.config["linux"]["gidMappings"] = m;
        }
        assert_eq!(
            b.run_ok(),
            "4000:4001\n5000:5001\n",
            "user namespace: {userns}"
        );
        b.assert_no_leftovers();
    }
}

#[test]
fn ridmap_maps_submounts_and_idmap_only_the_top() {
    for (opt, want) in [
        ("ridmap", "4000:4001\n4000:4001\n"),
        ("idmap", "4000:4001\n1000:1000\n"),
    ] {
        let mut b = bundle(&["stat", "-c", "%u:%g", "/tmp/mnt/f", "/tmp/mnt/sub/g"]);
        let (src, other) = idmap_source(&b);
        b.config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/tmp/mnt", "type": "bind", "source": src,
            "options": ["rbind", opt],
            "uidMappings": map(1000, 4000), "gidMappings": map(1000, 4001)
        }));
        assert_eq!(run_with_submount(&b, &src, &other), want, "{opt}");
    }
}

#[test]
fn idmap_option_alone_takes_the_container_maps() {
    // The container maps its 0..65535 to the host's 100000..: a file the
    // host's 1000 owns, seen through the same maps, is 1000's inside.
    let mut b = bundle(&["stat", "-c", "%u:%g", "/tmp/m/f"]);
    let (src, _) = idmap_source(&b);
    let maps = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = maps.clone();
    b.config["linux"]["gidMappings"] = maps;
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp/m", "type": "bind", "source": src, "options": ["bind", "idmap"]
    }));
    assert_eq!(b.run_ok(), "1000:1000\n");
}

#[test]
fn idmapped_mounts_are_validated() {
    let mut b = bundle(&["true"]);
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp/mnt", "type": "tmpfs", "source": "tmpfs",
        "uidMappings": map(0, 1000), "gidMappings": map(0, 1000)
    }));
    let e = stderr(&b.run());
    assert!(e.contains("bind mounts only"), "{e}");

    let mut b = bundle(&["true"]);
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp/mnt", "type": "bind", "source": "/tmp", "options": ["bind"],
        "uidMappings": map(0, 1000)
    }));
    let e = stderr(&b.run());
    assert!(e.contains("go together"), "{e}");

    let mut b = bundle(&["true"]);
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp/mnt", "type": "bind", "source": "/tmp", "options": ["bind", "idmap"]
    }));
    let e = stderr(&b.run());
    assert!(e.contains("no new user namespace"), "{e}");
    b.assert_no_leftovers();
}

fn features() -> serde_json::Value {
    let out = Command::new(berth()).arg("features").output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn features_say_idmapped_mounts() {
    let f = features();
    assert_eq!(f["linux"]["mountExtensions"]["idmap"]["enabled"], true);
    let opts = f["mountOptions"].as_array().unwrap();
    assert!(opts.contains(&json!("idmap")) && opts.contains(&json!("ridmap")));
}

/// The policy /proc/self/numa_maps shows for the container's own
/// anonymous mappings (heap, stack), which follow the task's policy.
fn stack_policy(out: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.contains(" stack"))
        .unwrap_or_else(|| panic!("no stack in {out}"));
    line.split_whitespace().nth(1).unwrap().to_string()
}

#[test]
fn memory_policy_is_the_process_policy() {
    for (policy, want) in [
        (
            json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"}),
            "interleave:0",
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}),
            "bind=static:0",
        ),
        (json!({"mode": "MPOL_PREFERRED", "nodes": "0"}), "prefer:0"),
    ] {
        let mut b = bundle(&["cat", "/proc/self/numa_maps"]);
        b.config["linux"]["memoryPolicy"] = policy;
        assert_eq!(stack_policy(&b.run_ok()), want);
    }
    // Without one, the kernel's default.
    let b = bundle(&["cat", "/proc/self/numa_maps"]);
    assert_eq!(stack_policy(&b.run_ok()), "default");
}

#[test]
fn memory_policy_is_validated() {
    let mut b = bundle(&["true"]);
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND"});
    let e = stderr(&b.run());
    assert!(
        e.contains("linux.memoryPolicy.nodes: MPOL_BIND needs nodes"),
        "{e}"
    );
    let mut b = bundle(&["true"]);
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_NOPE"});
    let e = stderr(&b.run());
    assert!(e.contains("linux.memoryPolicy.mode"), "{e}");
    // A node this machine lacks: the kernel's refusal, named.
    let mut b = bundle(&["true"]);
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "63"});
    let e = stderr(&b.run());
    assert!(e.contains("set_mempolicy"), "{e}");
    b.assert_no_leftovers();
}

#[test]
fn features_say_memory_policy() {
    let f = features();
    let modes = f["linux"]["memoryPolicy"]["modes"].as_array().unwrap();
    assert!(modes.contains(&json!("MPOL_INTERLEAVE")) && modes.len() == 7);
    assert_eq!(
        f["linux"]["memoryPolicy"]["flags"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn exec_cpu_affinity_initial_and_final() {
    let mut b = bundle(&["sleep", "100"]);
    b.config["process"]["execCPUAffinity"] = json!({"initial": "1", "final": "0"});
    let out = b.create(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    b.ok(&["start", &b.id]);
    // The spec keeps it off the init: it runs where berth did.
    let init = b.state()["pid"].as_i64().unwrap();
    let ours = std::fs::read_to_string("/proc/self/status").unwrap();
    let theirs = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    assert_eq!(
        status_field(&theirs, "Cpus_allowed_list"),
        status_field(&ours, "Cpus_allowed_list")
    );
    // exec with the container's process as the base: final inside, and
    // stage-1 (before the container's cgroups) on the initial CPUs.
    let out = b
        .cmd(&["--debug", "exec", &b.id, "cat", "/proc/self/status"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(status_field(&stdout(&out), "Cpus_allowed_list"), "0");
    assert!(
        stderr(&out).contains("berth: debug: exec: stage-1 starts on CPUs 1\n"),
        "{}",
        stderr(&out)
    );
    // exec --process with `args` and execCPUAffinity.final `cpus`.
    let p = b.dir.join("p.json");
    let exec_process = |args: &[&str], cpus: &str| {
        std::fs::write(
            &p,
            json!({"args": args, "cwd": "/", "user": {"uid": 0, "gid": 0},
                   "execCPUAffinity": {"final": cpus}})
            .to_string(),
        )
        .unwrap();
        b.cmd(&["exec", "--process", p.to_str().unwrap(), &b.id])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // A --process of its own: its own affinity.
    let out = exec_process(&["cat", "/proc/self/status"], "1");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(status_field(&stdout(&out), "Cpus_allowed_list"), "1");
    // A CPU that is not there: refused, naming the field.
    let out = exec_process(&["true"], "5000");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("process.execCPUAffinity.final"),
        "{}",
        stderr(&out)
    );
    b.ok(&["delete", "--force", &b.id]);
}

/// A veth pair on the host for one test (this kernel has no dummy
/// driver): the first end is the one to move, `<name>p` stays. Deleted
/// at the end if the container did not take it along.
struct Dummy(String);

impl Dummy {
    fn new() -> Dummy {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("bdum{}x{n}", std::process::id() % 100_000);
        let st = Command::new("ip")
            .args(["link", "add", &name, "type", "veth", "peer", "name"])
            .arg(format!("{name}p"))
            .status()
            .unwrap();
        assert!(st.success(), "ip link add {name}");
        Dummy(name)
    }
    fn on_host(&self) -> bool {
        std::path::Path::new("/sys/class/net")
            .join(&self.0)
            .exists()
    }
}

impl Drop for Dummy {
    fn drop(&mut self) {
        // Either end takes the other along.
        for end in [self.0.clone(), format!("{}p", self.0)] {
            if std::path::Path::new("/sys/class/net").join(&end).exists() {
                let _ = Command::new("ip")
                    .args(["link", "del", &end])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

#[test]
fn net_devices_move_into_the_container_renamed() {
    let d = Dummy::new();
    let mut b = bundle(&[
        "sh",
        "-c",
        "ls /sys/class/net; cat /sys/class/net/ctr0/type",
    ]);
    b.config["linux"]["netDevices"] = json!({ &d.0: {"name": "ctr0"} });
    // Seen inside: lo and the renamed veth end (ARPHRD_ETHER, 1), nothing
    // else.
    assert_eq!(b.run_ok(), "ctr0\nlo\n1\n");
    // A virtual interface dies with the namespace it was moved into (and
    // a veth takes its peer along); the kernel frees namespaces in the
    // background, so give it a moment.
    let peer = std::path::Path::new("/sys/class/net").join(format!("{}p", d.0));
    for _ in 0..100 {
        if !peer.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!d.on_host(), "{} came back", d.0);
    assert!(!peer.exists(), "the veth peer outlived the container");

    // While the container lives, the host has lost it and the container's
    // namespace has it.
    let d = Dummy::new();
    let mut b = bundle(&["sleep", "100"]);
    b.config["linux"]["netDevices"] = json!({ &d.0: {} });
    let out = b.create(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pid = b.state()["pid"].as_i64().unwrap();
    assert!(!d.on_host());
    let dev = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap();
    assert!(dev.contains(&format!("{}:", d.0)), "{dev}");
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}

/// A create that fails after the move (here in a createRuntime hook) gives
/// the interface back to the host under its own name, with its address
/// and up state: in a namespace of the container's own, the veth would
/// die with it; in a joined one, it would stay there.
#[test]
fn a_failed_create_gives_net_devices_back() {
    let netns = Netns::new();
    for joined in [false, true] {
        let d = Dummy::new();
        let addr = if joined {
            "10.213.7.1/24"
        } else {
            "10.213.6.1/24"
        };
        for args in [
            vec!["addr", "add", addr, "dev", &d.0],
            vec!["link", "set", &d.0, "up"],
        ] {
            assert!(
                Command::new("ip").args(&args).status().unwrap().success(),
                "ip {args:?}"
            );
        }
        let mut b = bundle(&["true"]);
        b.config["linux"]["netDevices"] = json!({ &d.0: {"name": "ctr0"} });
        b.config["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]});
        if joined {
            let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "network");
            ns.push(json!({"type": "network", "path": netns.path()}));
        }
        let out = b.create(&[]);
        assert!(
            !out.status.success(),
            "create with a failing hook succeeded"
        );
        assert!(stderr(&out).contains("createRuntime"), "{}", stderr(&out));
        b.assert_no_leftovers();
        assert!(d.on_host(), "{} was not given back (joined: {joined})", d.0);
        let shown = Command::new("ip")
            .args(["-o", "addr", "show", "dev", &d.0])
            .output()
            .unwrap();
        assert!(stdout(&shown).contains(addr), "{}", stdout(&shown));
        let flags = std::fs::read_to_string(format!("/sys/class/net/{}/flags", d.0)).unwrap();
        let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).unwrap();
        assert!(flags & 1 != 0, "{} is not up again: flags {flags:#x}", d.0);
    }
}

#[test]
fn net_devices_are_validated() {
    let d = Dummy::new();
    // The host's network namespace would lose the interface.
    let mut b = bundle(&["true"]);
    b.config["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "mount"}]);
    b.config.as_object_mut().unwrap().remove("hostname");
    b.config["linux"]["netDevices"] = json!({ &d.0: {} });
    let e = stderr(&b.run());
    assert!(
        e.contains("network namespace of the container's own"),
        "{e}"
    );
    let mut b = bundle(&["true"]);
    b.config["linux"]["netDevices"] = json!({ &d.0: {"name": "a/b"} });
    let e = stderr(&b.run());
    assert!(e.contains(&format!("linux.netDevices.{}.name", d.0)), "{e}");
    let mut b = bundle(&["true"]);
    b.config["linux"]["netDevices"] = json!({"berthnosuch0": {}});
    let e = stderr(&b.run());
    assert!(
        e.contains("linux.netDevices.berthnosuch0") && e.contains("no such file or directory"),
        "{e}"
    );
    b.assert_no_leftovers();
    assert!(
        d.on_host(),
        "a refused config must leave the interface alone"
    );
}

#[test]
fn features_say_net_devices() {
    assert_eq!(features()["linux"]["netDevices"]["enabled"], true);
}

#[test]
fn intel_rdt_is_refused_naming_resctrl() {
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.contains(" - resctrl "));
    let mut b = bundle(&["true"]);
    b.config["linux"]["intelRdt"] = json!({"closID": "berth", "l3CacheSchema": "L3:0=f"});
    let out = b.run();
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(e.contains("linux.intelRdt") && e.contains("resctrl"), "{e}");
    if !mounted {
        assert!(e.contains("not mounted"), "{e}");
    }
    b.assert_no_leftovers();
    assert!(!std::path::Path::new("/sys/fs/resctrl/berth").exists());
    // features.md 1.3: neither of intelRdt's newer fields either.
    let rdt = &features()["linux"]["intelRdt"];
    assert_eq!(rdt["enabled"], false);
    assert_eq!(rdt["schemata"], false);
    assert_eq!(rdt["monitoring"], false);
}

/// A network namespace held by a process of the test's own (no `ip
/// netns add`, which would leave a mount at /run/netns on the host).
struct Netns(std::process::Child);

impl Netns {
    fn new() -> Netns {
        let child = Command::new("unshare")
            .args(["-n", "sleep", "100"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let ns = Netns(child);
        // Wait until unshare is done and sleep runs in the new namespace.
        let host = std::fs::read_link("/proc/self/ns/net").unwrap();
        for _ in 0..100 {
            if std::fs::read_link(ns.path()).is_ok_and(|l| l != host) {
                return ns;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("unshare -n did not make a namespace");
    }
    fn path(&self) -> String {
        format!("/proc/{}/ns/net", self.0.id())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn net_devices_stay_in_a_joined_namespace() {
    let ns = Netns::new();
    let d = Dummy::new();
    let mut b = bundle(&["ls", "/sys/class/net"]);
    b.config["linux"]["namespaces"] = json!([
        {"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "ipc"},
        {"type": "network", "path": ns.path()}
    ]);
    b.config["linux"]["netDevices"] = json!({ &d.0: {"name": "ctr1"} });
    assert_eq!(b.run_ok(), "ctr1\nlo\n");
    // The namespace outlives the container, and the interface stays in it.
    let dev = std::fs::read_to_string(format!("/proc/{}/net/dev", ns.0.id())).unwrap();
    assert!(dev.contains("ctr1:"), "{dev}");
    assert!(!d.on_host());
}

/// A persistent namespace as `ip netns add` makes it (nsfs bind-mounted
/// on a file), in a private mount namespace so that the host keeps no
/// mount: create, start, delete, then look into the namespace. The spec
/// (config-linux.md, 1.3) has the runtime leave the device there, under
/// its container name: it MUST NOT move it back on delete.
#[test]
fn net_devices_stay_in_a_bind_mounted_namespace_after_delete() {
    let d = Dummy::new();
    let mut b = bundle(&["sleep", "100"]);
    let ns = b.dir.join("netns");
    b.config["linux"]["namespaces"] = json!([
        {"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "ipc"},
        {"type": "network", "path": ns}
    ]);
    b.config["linux"]["netDevices"] = json!({ &d.0: {"name": "ctr3"} });
    b.write();
    let berth = format!("{} --root {}", berth(), b.root.display());
    let script = format!(
        "set -e; touch {ns}; unshare --net={ns} true; \
         {berth} create -b {dir} {id} >/dev/null; {berth} start {id}; \
         ls /sys/class/net | grep -qx {host} && echo on-host-while-running; \
         {berth} delete --force {id}; \
         nsenter --net={ns} sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d \" \" | sort'; \
         ls /sys/class/net | grep -qx {host} && echo back-on-host; \
         nsenter --net={ns} ip link del ctr3",
        ns = ns.display(),
        dir = b.dir.display(),
        id = b.id,
        host = d.0,
    );
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stderr(&out), stdout(&out));
    // After delete: still in the namespace, renamed; not on the host.
    assert_eq!(stdout(&out), "ctr3\nlo\n");
    assert!(!d.on_host());
    b.assert_no_leftovers();
}

#[test]
fn net_devices_keep_their_addresses_and_up_state() {
    let d = Dummy::new();
    for args in [
        vec!["addr", "add", "10.213.77.1/24", "dev", &d.0],
        vec![
            "-6",
            "addr",
            "add",
            "fd00:b5e:7::1/64",
            "dev",
            &d.0,
            "nodad",
        ],
        vec!["link", "set", &d.0, "up"],
    ] {
        let st = Command::new("ip").args(&args).status().unwrap();
        assert!(st.success(), "ip {args:?}");
    }
    let mut b = bundle(&[
        "sh",
        "-c",
        "ip -o addr show dev ctr2 scope global | awk '{print $4}'; cat /sys/class/net/ctr2/flags",
    ]);
    b.config["linux"]["netDevices"] = json!({ &d.0: {"name": "ctr2"} });
    let out = b.run_ok();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"10.213.77.1/24"), "{out}");
    assert!(lines.contains(&"fd00:b5e:7::1/64"), "{out}");
    let flags = u32::from_str_radix(lines.last().unwrap().trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & 1, 1, "IFF_UP: {out}");
}

#[test]
fn exec_gets_the_container_memory_policy() {
    let mut b = bundle(&["sleep", "100"]);
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"});
    let out = b.create(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    b.ok(&["start", &b.id]);
    let out = b.ok(&["exec", &b.id, "cat", "/proc/self/numa_maps"]);
    assert_eq!(stack_policy(&out), "interleave:0");
    b.ok(&["delete", "--force", &b.id]);
}
