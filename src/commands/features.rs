//! runtime-spec features.json: exactly what this berth implements.

use crate::error::Result;
use serde_json::json;

pub fn document() -> serde_json::Value {
    let caps: Vec<String> = {
        let mut v: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
        v.sort();
        v
    };
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::SPEC_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": [
            "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
            "iversion", "lazytime", "mand", "noatime", "nodev", "nodiratime", "noexec",
            "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid",
            "private", "rbind", "relatime", "remount", "ro", "rprivate", "rshared", "rslave",
            "runbindable", "rw", "shared", "slave", "strictatime", "suid", "sync",
            "tmpcopyup", "unbindable"
        ],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false},
            "seccomp": {"enabled": false},
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "memoryPolicy": {"modes": [], "flags": []},
            "mountExtensions": {"idmap": {"enabled": false}},
            "netDevices": {"enabled": false}
        },
        "annotations": {
            "io.github.berth.version": env!("CARGO_PKG_VERSION"),
            "io.github.berth.commit": crate::COMMIT
        }
    })
}

pub fn run() -> Result<i32> {
    println!(
        "{}",
        serde_json::to_string_pretty(&document()).unwrap_or_default()
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_parse_as_the_spec_type() {
        let f: oci_spec::runtime::Features = serde_json::from_value(document()).unwrap();
        assert_eq!(f.hooks().as_ref().unwrap().len(), 6);
    }
}
