//! What CRIU must leave alone and berth hands back: bind mounts from
//! the host, namespaces joined by path, and the init's stdio.

use super::{NET_KEY, PID_KEY};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxNamespaceType;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::PathBuf;

/// A mount CRIU must not dump: `key` names it in the images, `source` is
/// the host path it was bound from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtMount {
    pub mountpoint: String,
    pub key: String,
    pub source: PathBuf,
}

/// One stdio fd of the init to hand back on restore: the restoring
/// berth's own fd `fd` stands in for the resource `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inherit {
    pub fd: i32,
    pub key: String,
}

/// The host's side of the container's mounts, for `external_mounts`.
pub struct HostMounts<'a> {
    /// Config bind mounts: (destination, source).
    pub binds: Vec<(String, PathBuf)>,
    /// The config's cgroup mount destination and the host directories
    /// bound below it, by name (empty name: the destination itself).
    pub cgroup: Option<(String, Vec<(String, PathBuf)>)>,
    /// Where the host's devtmpfs is mounted (its nodes are bound in for
    /// masked paths and, in a user namespace, for devices).
    pub dev: &'a str,
}

fn cgroup_mountpoint(dest: &str, name: &str) -> String {
    let d = dest.trim_end_matches('/');
    if name.is_empty() {
        d.to_string()
    } else {
        format!("{d}/{name}")
    }
}

/// The external mounts among the init's mounts (its mountinfo, paths as
/// the container sees them), as runc finds them from the config: binds,
/// the cgroup binds and host device nodes.
pub fn external_mounts(mountinfo: &str, host: &HostMounts) -> Vec<ExtMount> {
    let mut out = Vec::new();
    for m in crate::linux::mountinfo::parse(mountinfo) {
        if m.mountpoint == "/" {
            continue;
        }
        let found = if let Some((_, src)) = host.binds.iter().find(|(d, _)| *d == m.mountpoint) {
            Some((m.mountpoint.clone(), src.clone()))
        } else if let Some((name, src)) = host.cgroup.as_ref().and_then(|(dest, list)| {
            list.iter()
                .find(|(n, _)| cgroup_mountpoint(dest, n) == m.mountpoint)
        }) {
            let dest = &host.cgroup.as_ref().expect("matched above").0;
            Some((cgroup_mountpoint(dest, name), src.clone()))
        } else if m.fstype == "devtmpfs" {
            // A node of the host's /dev: one key per node, so that every
            // mount of /dev/null (masked paths) shares one.
            let src = PathBuf::from(format!(
                "{}/{}",
                host.dev.trim_end_matches('/'),
                m.root.trim_start_matches('/')
            ));
            Some((src.display().to_string(), src))
        } else {
            None
        };
        if let Some((key, source)) = found {
            out.push(ExtMount {
                mountpoint: m.mountpoint,
                key,
                source,
            });
        }
    }
    out
}

/// On restore, binds come from the config's current sources and the
/// cgroup binds from the new cgroup, as runc rebinds them; the rest as
/// recorded.
pub fn restore_mounts(recorded: &[ExtMount], host: &HostMounts) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for m in recorded {
        let src = host
            .binds
            .iter()
            .find(|(d, _)| *d == m.key)
            .map(|(_, s)| s.clone())
            .or_else(|| {
                let (dest, list) = host.cgroup.as_ref()?;
                list.iter()
                    .find(|(n, _)| cgroup_mountpoint(dest, n) == m.key)
                    .map(|(_, s)| s.clone())
            })
            .unwrap_or_else(|| m.source.clone());
        if !out.iter().any(|(k, _)| *k == m.key) {
            out.push((m.key.clone(), src));
        }
    }
    out
}

/// Mount ids in a mountinfo text.
pub fn mount_ids(mountinfo: &str) -> HashSet<u64> {
    crate::linux::mountinfo::parse(mountinfo)
        .into_iter()
        .map(|m| m.id)
        .collect()
}

/// Namespaces joined by path that CRIU must leave alone: (type, key).
/// CRIU can restore into an existing net or pid namespace only.
pub fn external_namespaces(
    join: &[(LinuxNamespaceType, PathBuf)],
) -> Result<Vec<(&'static str, &'static str, PathBuf)>> {
    join.iter()
        .map(|(t, p)| match t {
            LinuxNamespaceType::Network => Ok(("net", NET_KEY, p.clone())),
            LinuxNamespaceType::Pid => Ok(("pid", PID_KEY, p.clone())),
            other => Err(Error::config(
                "linux.namespaces",
                format!(
                    "the container joins the {other:?} namespace {}: CRIU can restore into an existing network or pid namespace only",
                    p.display()
                ),
            )),
        })
        .collect()
}

/// What a stdio fd of the init is, from its /proc link and fdinfo: the
/// key to inherit it by, and whether the dump must name it external.
pub fn stdio_key(
    link: &str,
    mnt_id: u64,
    inode: u64,
    ours: &HashSet<u64>,
) -> Option<(String, bool)> {
    if link.starts_with("pipe:[") {
        return Some((link.to_string(), false));
    }
    if link.starts_with('/') && !ours.contains(&mnt_id) {
        // A host file (often /dev/null or a log): not reachable from the
        // container's mounts, so CRIU cannot reopen it by path.
        return Some((format!("file[{mnt_id:x}:{inode:x}]"), true));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const MOUNTINFO: &str = "\
600 500 0:50 / / ro,relatime master:1 - ext4 /dev/vda1 rw
601 600 0:51 / /proc rw,nosuid - proc proc rw
602 600 0:52 / /dev rw,nosuid - tmpfs tmpfs rw,mode=755
603 601 0:5 /null /proc/kcore rw,nosuid - devtmpfs udev rw
604 601 0:5 /null /proc/keys rw,nosuid - devtmpfs udev rw
605 600 0:40 /srv/data /data rw - ext4 /dev/vda1 rw
606 600 0:53 / /sys/fs/cgroup ro - tmpfs tmpfs rw
607 606 0:30 /berth/c1 /sys/fs/cgroup/unified ro - cgroup2 cgroup2 rw
608 600 0:54 / /my\\040dir rw - ext4 /dev/vda1 rw
";

    fn host() -> HostMounts<'static> {
        HostMounts {
            binds: vec![
                ("/data".into(), "/srv/data".into()),
                ("/my dir".into(), "/srv/my dir".into()),
            ],
            cgroup: Some((
                "/sys/fs/cgroup".into(),
                vec![("unified".into(), "/sys/fs/cgroup/unified/berth/c1".into())],
            )),
            dev: "/dev",
        }
    }

    #[test]
    fn external_mounts_are_binds_cgroups_and_host_nodes() {
        let m = external_mounts(MOUNTINFO, &host());
        let got: Vec<(&str, &str)> = m
            .iter()
            .map(|m| (m.mountpoint.as_str(), m.key.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("/proc/kcore", "/dev/null"),
                ("/proc/keys", "/dev/null"),
                ("/data", "/data"),
                ("/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified"),
                ("/my dir", "/my dir"),
            ]
        );
        assert_eq!(m[0].source, Path::new("/dev/null"));
    }

    #[test]
    fn restore_rebinds_from_the_current_config() {
        let recorded = external_mounts(MOUNTINFO, &host());
        let mut now = host();
        now.binds[0].1 = "/srv/moved".into();
        now.cgroup.as_mut().unwrap().1[0].1 = "/sys/fs/cgroup/unified/new".into();
        let r = restore_mounts(&recorded, &now);
        assert_eq!(
            r,
            [
                ("/dev/null".to_string(), PathBuf::from("/dev/null")),
                ("/data".into(), "/srv/moved".into()),
                (
                    "/sys/fs/cgroup/unified".into(),
                    "/sys/fs/cgroup/unified/new".into()
                ),
                ("/my dir".into(), "/srv/my dir".into()),
            ]
        );
    }

    #[test]
    fn namespaces_joined_by_path() {
        let j = vec![
            (LinuxNamespaceType::Network, PathBuf::from("/run/netns/a")),
            (LinuxNamespaceType::Pid, PathBuf::from("/proc/1/ns/pid")),
        ];
        let e = external_namespaces(&j).unwrap();
        assert_eq!((e[0].0, e[0].1), ("net", NET_KEY));
        assert_eq!((e[1].0, e[1].1), ("pid", PID_KEY));
        let ipc = vec![(LinuxNamespaceType::Ipc, PathBuf::from("/proc/1/ns/ipc"))];
        let err = external_namespaces(&ipc).unwrap_err().to_string();
        assert!(err.contains("network or pid namespace only"), "{err}");
    }

    #[test]
    fn stdio_keys() {
        let ours: HashSet<u64> = mount_ids(MOUNTINFO);
        assert_eq!(
            stdio_key("pipe:[123]", 0, 0, &ours),
            Some(("pipe:[123]".into(), false))
        );
        assert_eq!(
            stdio_key("/dev/null", 24, 5, &ours),
            Some(("file[18:5]".into(), true))
        );
        // A file on the container's own mounts is CRIU's to reopen.
        assert_eq!(stdio_key("/tmp/log", 601, 9, &ours), None);
        assert_eq!(stdio_key("socket:[9]", 0, 0, &ours), None);
    }
}
