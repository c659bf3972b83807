//! `berth spec`: a starting config.json with the same defaults as runc's,
//! so bundles made for one run on the other.

use crate::cli::SpecArgs;
use crate::error::{Error, Result, SysContext};
use serde_json::{Value, json};

pub fn default_config(rootless: bool) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let masked = json!([
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/sys/firmware",
        "/proc/scsi"
    ]);
    let readonly = json!([
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger"
    ]);
    let mut devpts = vec![
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
    ];
    if !rootless {
        devpts.push("gid=5");
    }
    let sys = if rootless {
        json!({"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
    } else {
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]})
    };
    let mut config = json!({
        // The oldest version that has every field written here, so that
        // runtimes which only take 1.0.x (crun 1.8) run the bundle too.
        "ociVersion": "1.0.2",
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "berth",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": devpts},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            sys,
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
            "maskedPaths": masked,
            "readonlyPaths": readonly
        }
    });
    if rootless {
        // runc's rootless changes: the caller's own ids mapped to root
        // (written without any helper), no network namespace (the engine
        // brings one: slirp4netns, pasta), a user namespace, /sys bound
        // from the host (sysfs needs a network namespace of the user's),
        // no uid=/gid= mount options (ids the map lacks), no resources
        // (no cgroup to hold them where the user may not write cgroups).
        let uid = nix::unistd::geteuid().as_raw();
        let gid = nix::unistd::getegid().as_raw();
        let linux = &mut config["linux"];
        linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
        linux["namespaces"] = json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}, {"type": "user"}]);
        linux.as_object_mut().map(|o| o.remove("resources"));
    }
    config
}

pub fn run(a: &SpecArgs) -> Result<i32> {
    let path = a.bundle.join("config.json");
    if path.exists() {
        return Err(Error::msg(format!(
            "{} exists: remove it first",
            path.display()
        )));
    }
    let text = serde_json::to_string_pretty(&default_config(a.rootless)).unwrap_or_default();
    std::fs::write(&path, text + "\n").sys("write", path.display())?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_configs_pass_our_own_parser() {
        for rootless in [false, true] {
            let text = default_config(rootless).to_string();
            let spec = crate::spec::parse(text.as_bytes(), "config.json").unwrap();
            assert_eq!(spec.mounts().as_ref().unwrap().len(), 7);
        }
    }

    #[test]
    fn the_rootless_config_is_runcs() {
        let c = default_config(true);
        let ns: Vec<&str> = c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["pid", "ipc", "uts", "mount", "cgroup", "user"]);
        let uid = nix::unistd::geteuid().as_raw();
        assert_eq!(
            c["linux"]["uidMappings"],
            json!([{"containerID": 0, "hostID": uid, "size": 1}])
        );
        assert!(c["linux"].get("resources").is_none());
        let sys = c["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/sys")
            .unwrap();
        assert_eq!(sys["source"], "/sys");
        assert_eq!(
            sys["options"],
            json!(["rbind", "nosuid", "noexec", "nodev", "ro"])
        );
        let text = c["mounts"].to_string();
        assert!(!text.contains("gid=") && !text.contains("uid="), "{text}");
    }
}
