//! linux.resources as cgroup v2 file writes, converting v1-style values
//! the way runc does (shares to weight, swap as memory+swap).

use super::{FileWrite, set, w};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;

fn max_or(v: i64) -> String {
    if v < 0 { "max".into() } else { v.to_string() }
}

/// cpu.shares (2..262144) to cpu.weight (1..10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// blkio.weight (10..1000) to io.weight (1..10000).
pub fn blkio_to_io_weight(weight: u16) -> u64 {
    1 + (u64::from(weight).clamp(10, 1000) - 10) * 9999 / 990
}

pub fn writes(r: &LinuxResources) -> Result<Vec<FileWrite>> {
    let mut out = Vec::new();
    if let Some(m) = r.memory() {
        if let Some(v) = set(m.reservation()) {
            out.push(w("memory", "memory.low", max_or(v)));
        }
        if let Some(v) = set(m.limit()) {
            out.push(w("memory", "memory.max", max_or(v)));
        }
        // v1's swap is memory+swap; v2 limits swap alone.
        if let Some(swap) = set(m.swap()) {
            let v = match m.limit() {
                _ if swap < 0 => "max".to_string(),
                Some(limit) if limit > 0 => {
                    if swap < limit {
                        return Err(Error::config(
                            "linux.resources.memory.swap",
                            format!(
                                "{swap} is below the memory limit {limit} (swap counts memory+swap)"
                            ),
                        ));
                    }
                    (swap - limit).to_string()
                }
                _ => swap.to_string(),
            };
            out.push(w("memory", "memory.swap.max", v));
        }
        if m.kernel_tcp().is_some()
            || m.swappiness().is_some()
            || m.disable_oom_killer() == Some(true)
        {
            crate::logging::warn(
                "linux.resources.memory: kernelTCP, swappiness and disableOOMKiller do not exist on cgroup v2; ignored as runc does",
            );
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(v) = set(c.shares()) {
            out.push(w("cpu", "cpu.weight", shares_to_weight(v)));
        }
        if set(c.quota()).is_some() || set(c.period()).is_some() {
            let quota = set(c.quota()).map_or("max".into(), max_or);
            let period = set(c.period()).unwrap_or(100_000);
            out.push(w("cpu", "cpu.max", format!("{quota} {period}")));
        }
        if let Some(v) = set(c.burst()) {
            out.push(w("cpu", "cpu.max.burst", v));
        }
        if let Some(v) = c.idle() {
            out.push(w("cpu", "cpu.idle", v));
        }
        if set(c.realtime_period()).is_some() || set(c.realtime_runtime()).is_some() {
            return Err(Error::config(
                "linux.resources.cpu.realtimeRuntime",
                "realtime scheduling limits do not exist on cgroup v2",
            ));
        }
    }
    out.extend(super::same_on_both(r));
    if let Some(b) = r.block_io() {
        if let Some(v) = set(b.weight()) {
            out.push(w("io", "io.weight", blkio_to_io_weight(v)).or_bfq("io.bfq.weight", v));
        }
        for d in b.weight_device().iter().flatten() {
            if let Some(v) = d.weight() {
                let dev = format!("{}:{}", d.major(), d.minor());
                out.push(
                    w(
                        "io",
                        "io.weight",
                        format!("{dev} {}", blkio_to_io_weight(v)),
                    )
                    .or_bfq("io.bfq.weight", format!("{dev} {v}")),
                );
            }
        }
        for (key, list) in [
            ("rbps", b.throttle_read_bps_device()),
            ("wbps", b.throttle_write_bps_device()),
            ("riops", b.throttle_read_iops_device()),
            ("wiops", b.throttle_write_iops_device()),
        ] {
            for d in list.iter().flatten() {
                out.push(w(
                    "io",
                    "io.max",
                    format!("{}:{} {key}={}", d.major(), d.minor(), d.rate()),
                ));
            }
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        out.push(w(
            "hugetlb",
            format!("hugetlb.{}.max", h.page_size()),
            h.limit(),
        ));
    }
    if r.network().is_some() {
        return Err(Error::config(
            "linux.resources.network",
            "net_cls and net_prio do not exist on cgroup v2",
        ));
    }
    let mut unified: Vec<_> = r.unified().iter().flatten().collect();
    unified.sort();
    for (k, v) in unified {
        if k.contains('/') || k.starts_with('.') || !k.contains('.') {
            return Err(Error::config(
                format!("linux.resources.unified.{k}"),
                "not a cgroup v2 file name",
            ));
        }
        let controller = k.split('.').next().unwrap_or("");
        // "cgroup.*" files belong to no controller; "" means any v2 dir.
        let controller: &'static str = match controller {
            "memory" => "memory",
            "cpu" => "cpu",
            "cpuset" => "cpuset",
            "pids" => "pids",
            "io" => "io",
            "hugetlb" => "hugetlb",
            "rdma" => "rdma",
            "misc" => "misc",
            _ => "",
        };
        out.push(w(controller, k.clone(), v));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(json: &str) -> Vec<String> {
        let r: LinuxResources = serde_json::from_str(json).unwrap();
        writes(&r)
            .unwrap()
            .iter()
            .map(|w| format!("{}={}", w.file, w.value))
            .collect()
    }

    #[test]
    fn conversions_match_runc() {
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
    }

    #[test]
    fn memory_swap_is_the_difference() {
        assert_eq!(
            files(r#"{"memory":{"limit":1000,"swap":3000}}"#),
            ["memory.max=1000", "memory.swap.max=2000"]
        );
        assert_eq!(
            files(r#"{"memory":{"limit":-1,"swap":-1}}"#),
            ["memory.max=max", "memory.swap.max=max"]
        );
    }

    #[test]
    fn cpu_max_and_unified() {
        assert_eq!(
            files(
                r#"{"cpu":{"shares":1024,"quota":50000,"period":200000},"unified":{"memory.high":"5000","cgroup.max.depth":"3"}}"#
            ),
            [
                "cpu.weight=39",
                "cpu.max=50000 200000",
                "cgroup.max.depth=3",
                "memory.high=5000"
            ]
        );
        let r: LinuxResources = serde_json::from_str(r#"{"unified":{"../escape":"1"}}"#).unwrap();
        assert!(writes(&r).is_err());
    }
}
