//! linux.resources into cgroup files: on create, and on `update`, where
//! only what is given is written. Which file takes a limit depends on the
//! host's layout, not on whether a rootless container got a directory.

use super::{Cgroup, devices, ebpf, parents_from_root, systemd, v1, v2};
use crate::error::{Error, Result, SysContext};
use oci_spec::runtime::LinuxResources;
use std::path::Path;

/// One cgroup file write: which controller's directory, which file, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWrite {
    /// "" for a v2 core file (cgroup.*) that belongs to no controller.
    pub controller: &'static str,
    pub file: String,
    pub value: String,
    /// Where the BFQ scheduler is, it keeps the I/O weights in files of its
    /// own, which take blkio's 10..1000 as it is: the file and the value
    /// to write there instead, as runc does (v1 blkio.bfq.*, v2
    /// io.bfq.weight in place of io.weight's 1..10000).
    pub bfq: Option<(&'static str, String)>,
}

pub(super) fn w(
    controller: &'static str,
    file: impl Into<String>,
    value: impl ToString,
) -> FileWrite {
    FileWrite {
        controller,
        file: file.into(),
        value: value.to_string(),
        bfq: None,
    }
}

impl FileWrite {
    /// The file and value this write goes to in `dir`.
    fn target(&self, dir: &Path) -> (&str, &str) {
        match &self.bfq {
            Some((file, value)) if dir.join(file).exists() => (file, value),
            _ => (&self.file, &self.value),
        }
    }

    /// The same write, or `value` to `file` where BFQ keeps the weights.
    pub(super) fn or_bfq(self, file: &'static str, value: impl ToString) -> FileWrite {
        FileWrite {
            bfq: Some((file, value.to_string())),
            ..self
        }
    }
}

/// Engines written in Go send 0 for "not set" (Docker's blkio weight,
/// shares, quota, pids limit...); runc skips zeros, and so does berth.
pub(super) fn set<T: Default + PartialEq + Copy>(v: Option<T>) -> Option<T> {
    v.filter(|x| *x != T::default())
}

/// The writes that v1 and v2 spell alike: cpuset, pids, rdma.
pub fn same_on_both(r: &LinuxResources) -> Vec<FileWrite> {
    let mut out = Vec::new();
    if let Some(c) = r.cpu() {
        if let Some(v) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            out.push(w("cpuset", "cpuset.cpus", v));
        }
        if let Some(v) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            out.push(w("cpuset", "cpuset.mems", v));
        }
    }
    // 0 is "not set" (Docker sends it); a negative limit is "max".
    if let Some(p) = r.pids().filter(|p| p.limit() != 0) {
        let v = p.limit();
        out.push(w(
            "pids",
            "pids.max",
            if v < 0 { "max".into() } else { v.to_string() },
        ));
    }
    for (dev, l) in r.rdma().iter().flatten() {
        out.push(w("rdma", "rdma.max", rdma_line(dev, l)));
    }
    out
}

fn rdma_line(dev: &str, l: &oci_spec::runtime::LinuxRdma) -> String {
    let mut s = dev.to_string();
    if let Some(h) = l.hca_handles() {
        s.push_str(&format!(" hca_handle={h}"));
    }
    if let Some(o) = l.hca_objects() {
        s.push_str(&format!(" hca_object={o}"));
    }
    s
}

impl Cgroup {
    /// The v2 directory if `controller` can be used there, enabling it in
    /// the ancestors' cgroup.subtree_control when it is not yet.
    fn v2_dir_with(&self, controller: &str) -> Result<Option<&Path>> {
        let Some(d) = self.dirs.iter().find(|d| d.hierarchy.v2) else {
            return Ok(None);
        };
        if controller.is_empty() {
            return Ok(Some(d.path.as_path()));
        }
        if !v2_offers(d, controller) {
            return Ok(None);
        }
        for dir in parents_from_root(d) {
            let f = dir.join("cgroup.subtree_control");
            let now = std::fs::read_to_string(&f).unwrap_or_default();
            if !now.split_whitespace().any(|c| c == controller) {
                std::fs::write(&f, format!("+{controller}"))
                    .sys("enable controller: write", f.display())?;
            }
        }
        Ok(Some(d.path.as_path()))
    }

    /// Apply linux.resources. On update only what is given is written,
    /// and the device policy only when rules are given.
    pub fn apply(&self, r: &LinuxResources, update: bool) -> Result<()> {
        // The host's layout decides where a limit goes, whether or not a
        // rootless container got a directory there.
        if let Some(m) = r.memory()
            && m.kernel().is_some()
        {
            crate::logging::warn(
                "linux.resources.memory.kernel: kernel memory limits are deprecated and ignored, as runc does",
            );
        }
        if update
            && let Some(m) = r.memory()
            && m.check_before_update() == Some(true)
            && let Some(limit) = m.limit().filter(|l| *l >= 0)
        {
            self.check_usage_below(limit)?;
        }
        // A systemd unit's own properties first: systemd writes them back
        // to the files whenever it reloads.
        if update && let Some(unit) = &self.systemd {
            systemd::update(unit, r, self.dirs.iter().all(|d| d.hierarchy.v2))?;
        }
        let writes = self.placed_writes(r)?;
        let mut i = 0;
        while i < writes.len() {
            let (w, on_v2) = &writes[i];
            let dir = if *on_v2 {
                self.v2_dir_with(w.controller)
                    .map_err(|e| self.not_delegated(w, e))?
            } else {
                self.v1_dir(w.controller)
            };
            let Some(dir) = dir else {
                return Err(self.nowhere(w, *on_v2));
            };
            let (file, value) = w.target(dir);
            let r = write_file(dir, file, value);
            // Pairs the kernel checks against each other, whose new values
            // fit only in one order: raising the memory limit above
            // memory+swap needs memory+swap raised first; a new CFS period
            // whose ratio with the old quota a parent's quota forbids needs
            // the quota first. On EINVAL the second goes first, as runc
            // retries.
            const PAIRS: [(&str, &str); 2] = [
                ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"),
                ("cpu.cfs_period_us", "cpu.cfs_quota_us"),
            ];
            if r.as_ref().err().and_then(|e| e.errno()) == Some(nix::errno::Errno::EINVAL)
                && let Some((sw, _)) = writes
                    .get(i + 1)
                    .filter(|(n, _)| PAIRS.iter().any(|(a, b)| w.file == *a && n.file == *b))
            {
                write_file(dir, &sw.file, &sw.value)?;
                write_file(dir, &w.file, &w.value)?;
                i += 2;
                continue;
            }
            r.map_err(|e| e.context("linux.resources"))?;
            i += 1;
        }
        if !update || r.devices().is_some() {
            self.apply_devices(r.devices().as_deref().unwrap_or_default())?;
        }
        Ok(())
    }

    /// Each write linux.resources makes on this host's layout, and
    /// whether it goes to the v2 hierarchy.
    fn placed_writes(&self, r: &LinuxResources) -> Result<Vec<(FileWrite, bool)>> {
        if self.hierarchies().any(|h| !h.v2) {
            // Hybrid: what no v1 hierarchy has (hugetlb, rdma here) may be
            // on the v2 one; the rest must be on v1. A unified file of a
            // controller that is on v1 here has nowhere to go: an error,
            // not a value silently dropped.
            for k in r.unified().iter().flatten().map(|(k, _)| k) {
                let controller = k.split('.').next().unwrap_or("");
                if controller != "cgroup" && self.has_v1_controller(controller) {
                    return Err(Error::config(
                        format!("linux.resources.unified.{k}"),
                        format!(
                            "the {controller} controller is on cgroup v1 on this host, not on v2"
                        ),
                    ));
                }
            }
            let v2w: Vec<FileWrite> = if self.hierarchies().any(|h| h.v2) {
                v2::writes(&v2_subset(r))?
                    .into_iter()
                    .filter(|w| !self.has_v1_controller(w.controller))
                    .collect()
            } else {
                Vec::new()
            };
            let mut out: Vec<(FileWrite, bool)> = v1::writes(r)?
                .into_iter()
                .filter(|w| !v2w.iter().any(|x| x.controller == w.controller))
                .map(|w| (w, false))
                .collect();
            out.extend(v2w.into_iter().map(|w| (w, true)));
            Ok(out)
        } else {
            Ok(v2::writes(r)?.into_iter().map(|w| (w, true)).collect())
        }
    }

    /// A write with no directory to go to: no such controller here, or
    /// (rootless) none of ours.
    fn nowhere(&self, w: &FileWrite, on_v2: bool) -> Error {
        if let Some(e) = self.skipped_error(w, on_v2) {
            return e;
        }
        Error::msg(format!(
            "linux.resources: the {} cgroup controller is not available on this host (needed for {})",
            if w.controller.is_empty() {
                "v2"
            } else {
                w.controller
            },
            w.file
        ))
    }

    /// What `apply` would refuse on this host, found without making or
    /// writing anything (`berth check --bundle`), in the words `apply`
    /// fails with: a controller that is not here, or a file its kernel
    /// lacks (blkio.weight without BFQ or CFQ, memsw without swap
    /// accounting), as the nearest existing cgroup of that controller
    /// shows (a v2 root shows none of the limits, so only below it).
    pub fn misfits(&self, r: &LinuxResources) -> Vec<Error> {
        let writes = match self.placed_writes(r) {
            Ok(w) => w,
            Err(e) => return vec![e],
        };
        let mut out = Vec::new();
        for (w, on_v2) in &writes {
            let d = self.dirs.iter().find(|d| {
                d.hierarchy.v2 == *on_v2
                    && (*on_v2 || d.hierarchy.controllers.iter().any(|c| c == w.controller))
            });
            let Some(d) =
                d.filter(|d| !*on_v2 || w.controller.is_empty() || v2_offers(d, w.controller))
            else {
                out.push(self.nowhere(w, *on_v2));
                continue;
            };
            // A root shows no pids.max (v1), nor any limit (v2).
            let shows = d.path.ancestors().find(|p| p.is_dir()).filter(|p| {
                (!*on_v2 && (*p != d.hierarchy.mountpoint || w.controller != "pids"))
                    || (*p != d.hierarchy.mountpoint
                        && std::fs::read_to_string(p.join("cgroup.controllers"))
                            .is_ok_and(|c| c.split_whitespace().any(|c| c == w.controller)))
            });
            if let Some(p) = shows {
                let (file, value) = w.target(p);
                if !p.join(file).exists() {
                    out.push(
                        Error::sys(
                            format!("write {value:?} to"),
                            d.path.join(file).display(),
                            nix::errno::Errno::ENOENT,
                        )
                        .context("linux.resources"),
                    );
                }
            }
        }
        out
    }

    /// The hierarchy a write needed was skipped (rootless): refuse the
    /// limit, saying why there is no cgroup to put it in.
    fn skipped_error(&self, w: &FileWrite, on_v2: bool) -> Option<Error> {
        let s = self.skipped.iter().find(|s| {
            s.hierarchy.v2 == on_v2
                && (on_v2 || s.hierarchy.controllers.iter().any(|c| c == w.controller))
        })?;
        Some(Error::msg(format!(
            "linux.resources: cannot set {}: berth runs rootless and the container has no {} cgroup ({}); remove the limit from the config, or give this user a cgroup it may write (cgroup v2 delegation)",
            w.file,
            s.hierarchy.mount_name(),
            s.reason
        )))
    }

    /// A rootless container's v2 cgroup lacks a controller whose parent
    /// will not enable it for the user: the limit is refused, saying which
    /// controller the delegation is missing (runc's rootless rule: use what
    /// was delegated, refuse what was not).
    fn not_delegated(&self, w: &FileWrite, e: Error) -> Error {
        if !self.rootless || !super::is_permission(&e) {
            return e.context("linux.resources");
        }
        Error::msg(format!(
            "linux.resources: cannot set {}: berth runs rootless and the {} controller is not delegated to this user ({e}); delegate it (systemd Delegate=, or enable it in that cgroup.subtree_control as root) or remove the limit",
            w.file, w.controller
        ))
    }

    fn check_usage_below(&self, limit: i64) -> Result<()> {
        let usage = if let Some(d) = self.v1_dir("memory") {
            std::fs::read_to_string(d.join("memory.usage_in_bytes"))
        } else if let Some(d) = self.v2_dir() {
            std::fs::read_to_string(d.join("memory.current"))
        } else {
            return Ok(());
        };
        let usage: i64 = usage.unwrap_or_default().trim().parse().unwrap_or(0);
        if usage > limit {
            return Err(Error::msg(format!(
                "linux.resources.memory.limit: {limit} is below the current usage {usage} (checkBeforeUpdate)"
            )));
        }
        Ok(())
    }

    /// Where the device policy goes: v1's devices controller when it is
    /// mounted (on a hybrid host too, as runc does), else an eBPF program
    /// on the v2 directory.
    fn device_policy_at(&self) -> DevicePolicyAt<'_> {
        if let Some(d) = self.v1_dir("devices") {
            DevicePolicyAt::V1(d)
        } else if self.has_v1_controller("devices") {
            // Rootless without a devices cgroup: nothing to hold a policy
            // (nor could the user mknod in a user namespace).
            DevicePolicyAt::Nowhere
        } else if let Some(d) = self.v2_dir() {
            DevicePolicyAt::Ebpf(d)
        } else {
            DevicePolicyAt::Nowhere
        }
    }

    fn apply_devices(&self, config: &[oci_spec::runtime::LinuxDeviceCgroup]) -> Result<()> {
        let rules = devices::rules(config)?;
        let r = self.write_device_policy(&rules);
        match r {
            // runc's rule: the device policy is best effort when rootless
            // (an unprivileged user may not attach BPF programs, and the
            // container cannot mknod anyway).
            Err(e) if self.rootless => {
                crate::logging::debug(&format!("rootless: no device policy: {e}"));
                Ok(())
            }
            r => r,
        }
    }

    fn write_device_policy(&self, rules: &[devices::Rule]) -> Result<()> {
        match self.device_policy_at() {
            DevicePolicyAt::V1(dir) => {
                for rule in rules {
                    let file = if rule.allow {
                        "devices.allow"
                    } else {
                        "devices.deny"
                    };
                    write_file(dir, file, &rule.v1_text())
                        .map_err(|e| e.context("linux.resources.devices"))?;
                }
                Ok(())
            }
            DevicePolicyAt::Ebpf(dir) => {
                ebpf::install(dir, rules).map_err(|e| e.context("linux.resources.devices"))
            }
            DevicePolicyAt::Nowhere => Ok(()),
        }
    }
}

/// The v2 hierarchy's root offers this controller.
fn v2_offers(d: &super::Dir, controller: &str) -> bool {
    std::fs::read_to_string(d.hierarchy.mountpoint.join("cgroup.controllers"))
        .is_ok_and(|c| c.split_whitespace().any(|c| c == controller))
}

pub(super) fn write_file(dir: &Path, file: &str, value: &str) -> Result<()> {
    use std::io::Write;
    let p = dir.join(file);
    // No O_CREAT: a file the kernel lacks is ENOENT, not EACCES.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .sys(&format!("write {value:?} to"), p.display())
}

#[derive(Debug, PartialEq, Eq)]
enum DevicePolicyAt<'a> {
    V1(&'a Path),
    Ebpf(&'a Path),
    Nowhere,
}

/// The parts of linux.resources that only v2 can carry on a hybrid host.
fn v2_subset(r: &LinuxResources) -> LinuxResources {
    let mut v = serde_json::json!({});
    let full = serde_json::to_value(r).unwrap_or_default();
    for k in ["hugepageLimits", "rdma", "unified"] {
        if let Some(x) = full.get(k) {
            v[k] = x.clone();
        }
    }
    serde_json::from_value(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{HYBRID, OWN};
    use super::*;

    /// A blkio weight goes where the kernel keeps it: BFQ's own file when
    /// there, with blkio's scale as it is (runc does the same), else
    /// io.weight (v2, converted) or blkio.weight (v1).
    #[test]
    fn a_weight_goes_to_bfq_when_the_kernel_has_it() {
        let r: LinuxResources = serde_json::from_str(
            r#"{"blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 20}]}}"#,
        )
        .unwrap();
        let v2w = v2::writes(&r).unwrap();
        let v1w = v1::writes(&r).unwrap();
        for (bfq_files, writes, want) in [
            (
                &["io.bfq.weight"][..],
                &v2w,
                [("io.bfq.weight", "500"), ("io.bfq.weight", "8:0 20")],
            ),
            (
                &[][..],
                &v2w,
                [("io.weight", "4950"), ("io.weight", "8:0 102")],
            ),
            (
                &["blkio.bfq.weight", "blkio.bfq.weight_device"][..],
                &v1w,
                [
                    ("blkio.bfq.weight", "500"),
                    ("blkio.bfq.weight_device", "8:0 20"),
                ],
            ),
            (
                &[][..],
                &v1w,
                [("blkio.weight", "500"), ("blkio.weight_device", "8:0 20")],
            ),
        ] {
            let t = crate::tempdir::TempDir::new();
            for f in bfq_files {
                std::fs::write(t.path().join(f), "").unwrap();
            }
            let got: Vec<(&str, &str)> = writes
                .iter()
                .filter(|w| w.file.contains("weight"))
                .map(|w| w.target(t.path()))
                .collect();
            assert_eq!(got, want, "with {bfq_files:?}");
        }
    }

    #[test]
    fn the_device_policy_goes_to_v1_devices_else_to_an_ebpf_program() {
        let with_devices = format!(
            "{HYBRID}42 31 0:39 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
        );
        let own = format!("{OWN}5:devices:/\n");
        let at = |mountinfo: &str| {
            let c = super::super::locate_in(
                &super::super::parse_mountinfo(mountinfo),
                &own,
                None,
                "x",
                false,
            )
            .unwrap();
            match c.device_policy_at() {
                DevicePolicyAt::V1(p) => format!("v1 {}", p.display()),
                DevicePolicyAt::Ebpf(p) => format!("ebpf {}", p.display()),
                DevicePolicyAt::Nowhere => "nowhere".into(),
            }
        };
        // Hybrid: v1 keeps it, as runc does.
        assert_eq!(at(&with_devices), "v1 /sys/fs/cgroup/devices/x");
        assert_eq!(
            at("30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"),
            "ebpf /sys/fs/cgroup/x"
        );
        // No v1 devices controller: the v2 program still works.
        assert_eq!(at(HYBRID), "ebpf /sys/fs/cgroup/unified/x");
        assert_eq!(
            at("32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"),
            "nowhere"
        );
    }

    /// What create would refuse, found from the files a host shows: a
    /// file its kernel lacks (below the container's missing directory,
    /// in the nearest that exists), a controller it has not, and nothing
    /// once BFQ's weight file is there.
    #[test]
    fn misfits_are_read_from_the_nearest_existing_cgroup() {
        let t = crate::tempdir::TempDir::new();
        let (blkio, v2) = (t.path().join("blkio"), t.path().join("unified"));
        std::fs::create_dir_all(blkio.join("pod")).unwrap();
        std::fs::create_dir_all(v2.join("pod")).unwrap();
        std::fs::write(v2.join("cgroup.controllers"), "hugetlb\n").unwrap();
        std::fs::write(v2.join("pod/cgroup.controllers"), "hugetlb\n").unwrap();
        let mountinfo = format!(
            "32 31 0:29 / {} rw - cgroup cgroup rw,blkio\n41 31 0:38 / {} rw - cgroup2 cgroup2 rw\n",
            blkio.display(),
            v2.display()
        );
        let c = super::super::locate_in(
            &super::super::parse_mountinfo(&mountinfo),
            "7:blkio:/\n0::/\n",
            Some(Path::new("/pod/c")),
            "x",
            false,
        )
        .unwrap();
        let misfits = |json: &str| -> Vec<String> {
            c.misfits(&serde_json::from_str(json).unwrap())
                .iter()
                .map(|e| e.to_string())
                .collect()
        };
        let weight = r#"{"blockIO": {"weight": 300}}"#;
        assert_eq!(
            misfits(weight),
            [format!(
                "linux.resources: write \"300\" to {}/pod/c/blkio.weight: no such file or directory",
                blkio.display()
            )]
        );
        std::fs::write(blkio.join("pod/blkio.bfq.weight"), "").unwrap();
        assert!(misfits(weight).is_empty());
        assert_eq!(
            misfits(r#"{"pids": {"limit": 5}}"#),
            [
                "linux.resources: the pids cgroup controller is not available on this host (needed for pids.max)"
            ]
        );
        // hugetlb is on v2 here; its file shows below the root.
        let huge = r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}"#;
        assert_eq!(misfits(huge).len(), 1, "{:?}", misfits(huge));
        std::fs::write(v2.join("pod/hugetlb.2MB.max"), "").unwrap();
        assert!(misfits(huge).is_empty(), "{:?}", misfits(huge));
    }
}
