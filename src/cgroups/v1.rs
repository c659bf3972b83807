//! linux.resources as cgroup v1 file writes: a pure mapping, unit-tested
//! against the file names; `Cgroup::apply` carries them out.

use super::{FileWrite, set, w};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;

/// -1 means "no limit"; v1 files take -1 for that too.
fn limit(v: i64) -> String {
    if v < 0 { "-1".into() } else { v.to_string() }
}

pub fn writes(r: &LinuxResources) -> Result<Vec<FileWrite>> {
    let mut out = Vec::new();
    if let Some(m) = r.memory() {
        if let Some(v) = set(m.reservation()) {
            out.push(w("memory", "memory.soft_limit_in_bytes", limit(v)));
        }
        // memsw (memory+swap) must never be below the memory limit: when
        // both are set, the caller writes them in an order that works.
        if let Some(v) = set(m.limit()) {
            out.push(w("memory", "memory.limit_in_bytes", limit(v)));
        }
        if let Some(v) = set(m.swap()) {
            out.push(w("memory", "memory.memsw.limit_in_bytes", limit(v)));
        }
        if let Some(v) = set(m.kernel_tcp()) {
            out.push(w("memory", "memory.kmem.tcp.limit_in_bytes", limit(v)));
        }
        if let Some(v) = m.swappiness() {
            if v > 100 {
                return Err(Error::config(
                    "linux.resources.memory.swappiness",
                    format!("{v} is above 100"),
                ));
            }
            out.push(w("memory", "memory.swappiness", v));
        }
        if let Some(v) = m.disable_oom_killer() {
            out.push(w("memory", "memory.oom_control", u8::from(v)));
        }
        if m.use_hierarchy() == Some(true) {
            out.push(w("memory", "memory.use_hierarchy", 1));
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(v) = set(c.shares()) {
            out.push(w("cpu", "cpu.shares", v));
        }
        // The period first: a quota is checked against the current period.
        if let Some(v) = set(c.period()) {
            out.push(w("cpu", "cpu.cfs_period_us", v));
        }
        if let Some(v) = set(c.quota()) {
            out.push(w("cpu", "cpu.cfs_quota_us", limit(v)));
        }
        if let Some(v) = set(c.burst()) {
            out.push(w("cpu", "cpu.cfs_burst_us", v));
        }
        if let Some(v) = set(c.realtime_period()) {
            out.push(w("cpu", "cpu.rt_period_us", v));
        }
        if let Some(v) = set(c.realtime_runtime()) {
            out.push(w("cpu", "cpu.rt_runtime_us", v));
        }
        if let Some(v) = c.idle() {
            out.push(w("cpu", "cpu.idle", v));
        }
    }
    out.extend(super::same_on_both(r));
    if let Some(b) = r.block_io() {
        if let Some(v) = set(b.weight()) {
            out.push(w("blkio", "blkio.weight", v).or_bfq("blkio.bfq.weight", v));
        }
        if let Some(v) = set(b.leaf_weight()) {
            out.push(w("blkio", "blkio.leaf_weight", v));
        }
        for d in b.weight_device().iter().flatten() {
            if let Some(v) = d.weight() {
                let line = format!("{}:{} {v}", d.major(), d.minor());
                out.push(
                    w("blkio", "blkio.weight_device", &line)
                        .or_bfq("blkio.bfq.weight_device", &line),
                );
            }
            if let Some(v) = d.leaf_weight() {
                out.push(w(
                    "blkio",
                    "blkio.leaf_weight_device",
                    format!("{}:{} {v}", d.major(), d.minor()),
                ));
            }
        }
        for (file, list) in [
            (
                "blkio.throttle.read_bps_device",
                b.throttle_read_bps_device(),
            ),
            (
                "blkio.throttle.write_bps_device",
                b.throttle_write_bps_device(),
            ),
            (
                "blkio.throttle.read_iops_device",
                b.throttle_read_iops_device(),
            ),
            (
                "blkio.throttle.write_iops_device",
                b.throttle_write_iops_device(),
            ),
        ] {
            for d in list.iter().flatten() {
                out.push(w(
                    "blkio",
                    file,
                    format!("{}:{} {}", d.major(), d.minor(), d.rate()),
                ));
            }
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        out.push(w(
            "hugetlb",
            format!("hugetlb.{}.limit_in_bytes", h.page_size()),
            h.limit(),
        ));
    }
    if let Some(n) = r.network() {
        if let Some(id) = n.class_id() {
            out.push(w("net_cls", "net_cls.classid", id));
        }
        for p in n.priorities().iter().flatten() {
            out.push(w(
                "net_prio",
                "net_prio.ifpriomap",
                format!("{} {}", p.name(), p.priority()),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn files(r: &LinuxResources) -> Vec<String> {
        writes(r)
            .unwrap()
            .iter()
            .map(|w| format!("{}/{}={}", w.controller, w.file, w.value))
            .collect()
    }

    #[test]
    fn memory_cpu_pids_map_to_their_v1_files() {
        let r = res(
            r#"{"memory":{"limit":1048576,"reservation":524288,"swap":2097152,"swappiness":10,"disableOOMKiller":true},
            "cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0","mems":"0"},"pids":{"limit":-1}}"#,
        );
        assert_eq!(
            files(&r),
            [
                "memory/memory.soft_limit_in_bytes=524288",
                "memory/memory.limit_in_bytes=1048576",
                "memory/memory.memsw.limit_in_bytes=2097152",
                "memory/memory.swappiness=10",
                "memory/memory.oom_control=1",
                "cpu/cpu.shares=512",
                "cpu/cpu.cfs_period_us=100000",
                "cpu/cpu.cfs_quota_us=50000",
                "cpuset/cpuset.cpus=0",
                "cpuset/cpuset.mems=0",
                "pids/pids.max=max",
            ]
        );
    }

    #[test]
    fn block_io_hugetlb_network() {
        let r = res(
            r#"{"blockIO":{"weight":500,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1000}]},
            "hugepageLimits":[{"pageSize":"2MB","limit":4194304}],"network":{"classID":7,"priorities":[{"name":"eth0","priority":3}]}}"#,
        );
        assert_eq!(
            files(&r),
            [
                "blkio/blkio.weight=500",
                "blkio/blkio.throttle.read_bps_device=8:0 1000",
                "hugetlb/hugetlb.2MB.limit_in_bytes=4194304",
                "net_cls/net_cls.classid=7",
                "net_prio/net_prio.ifpriomap=eth0 3",
            ]
        );
    }

    #[test]
    fn zeros_mean_unset_as_docker_sends_them() {
        let r = res(
            r#"{"memory":{"limit":0,"reservation":0,"swap":0},"cpu":{"shares":0,"quota":0,"period":0},
            "pids":{"limit":0},"blockIO":{"weight":0}}"#,
        );
        assert!(files(&r).is_empty(), "{:?}", files(&r));
    }

    #[test]
    fn swappiness_above_100_is_refused() {
        let e = writes(&res(r#"{"memory":{"swappiness":101}}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("swappiness"), "{e}");
    }
}
