//! runtime-spec features.json: exactly what this berth implements.

use crate::error::Result;
use serde_json::json;

pub fn document() -> serde_json::Value {
    let caps: Vec<String> = {
        let mut v: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
        v.sort();
        v
    };
    let mut actions = vec![
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_LOG",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_TRAP",
    ];
    // A listener needs the kernel's user notification (libseccomp API
    // level 5: Linux 5.0 and libseccomp 2.5 or later).
    if libseccomp::get_api() >= 5 {
        actions.insert(6, "SCMP_ACT_NOTIFY");
    }
    let mut mount_options = vec![
        "async",
        "atime",
        "bind",
        "defaults",
        "dev",
        "diratime",
        "dirsync",
        "exec",
        "idmap",
        "iversion",
        "lazytime",
        "mand",
        "noatime",
        "nodev",
        "nodiratime",
        "noexec",
        "noiversion",
        "nolazytime",
        "nomand",
        "norelatime",
        "nostrictatime",
        "nosuid",
        "private",
        "rbind",
        "relatime",
        "remount",
        "ridmap",
        "ro",
        "rprivate",
        "rshared",
        "rslave",
        "runbindable",
        "rw",
        "shared",
        "slave",
        "strictatime",
        "suid",
        "sync",
        "tmpcopyup",
        "unbindable",
    ];
    mount_options.extend(crate::linux::mounts::RECURSIVE_OPTIONS.map(|(n, ..)| n));
    mount_options.sort_unstable();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::SPEC_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": mount_options,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": false, "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": actions,
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
                "knownFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
            },
            "apparmor": {"enabled": crate::linux::apparmor::enabled()},
            "selinux": {"enabled": crate::linux::selinux::enabled()},
            "intelRdt": {"enabled": false, "schemata": false, "monitoring": false},
            "memoryPolicy": {"modes": crate::linux::numa::MODES, "flags": crate::linux::numa::FLAGS},
            "mountExtensions": {"idmap": {"enabled": true}},
            "netDevices": {"enabled": true}
        },
        "annotations": {
            "io.github.berth.version": env!("CARGO_PKG_VERSION"),
            "io.github.berth.commit": crate::COMMIT
        }
    })
}

pub fn run() -> Result<i32> {
    super::print(&serde_json::to_string_pretty(&document()).unwrap_or_default())?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_parse_as_the_spec_type() {
        let f: oci_spec::runtime::Features = serde_json::from_value(document()).unwrap();
        assert_eq!(f.hooks().as_ref().unwrap().len(), 6);
        let actions = document()["linux"]["seccomp"]["actions"].clone();
        // Linux 5.0 and libseccomp 2.5 or later, as on every host berth is
        // tested on.
        assert!(
            actions
                .as_array()
                .unwrap()
                .contains(&"SCMP_ACT_NOTIFY".into()),
            "{actions}"
        );
    }
}
