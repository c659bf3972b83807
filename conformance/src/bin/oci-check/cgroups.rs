//! linux.resources as the container's own cgroup files show them.

use super::tap::{Tap, read};
use serde_json::Value;

/// The directory of this process's own cgroup for a v1 controller (or
/// v2 with `None`), as mounted in the container: the path from
/// /proc/self/cgroup under the mount, or the mount itself when the runtime
/// bound the container's cgroup there.
fn own_cgroup_dir(controller: Option<&str>) -> Option<String> {
    let text = read("/proc/self/cgroup");
    let (base, path) = match controller {
        Some(c) => (
            format!("/sys/fs/cgroup/{c}"),
            text.lines().find_map(|l| {
                let mut f = l.splitn(3, ':');
                let (_, list, p) = (f.next()?, f.next()?, f.next()?);
                list.split(',').any(|x| x == c).then(|| p.to_string())
            })?,
        ),
        None => (
            "/sys/fs/cgroup".to_string(),
            text.lines()
                .find_map(|l| l.strip_prefix("0::").map(String::from))?,
        ),
    };
    let me = std::process::id().to_string();
    [format!("{base}{}", path.trim_end_matches('/')), base]
        .into_iter()
        .find(|d| read(&format!("{d}/cgroup.procs")).lines().any(|l| l == me))
}

/// linux.resources as the container's own cgroup files show them: v1
/// files on a v1 or hybrid host, v2 files on a pure v2 one.
pub fn check_limits(t: &mut Tap, l: &Value) {
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let res = l.get("resources");
    let mem_dir = own_cgroup_dir(if v2 { None } else { Some("memory") });
    let pids_dir = own_cgroup_dir(if v2 { None } else { Some("pids") });
    let file = |dir: &Option<String>, name: &str| {
        dir.as_ref()
            .map(|d| read(&format!("{d}/{name}")).trim().to_string())
    };
    let (mem_file, unlimited) = if v2 {
        ("memory.max", "max".to_string())
    } else {
        // v1's "no limit" is the largest page-aligned long.
        (
            "memory.limit_in_bytes",
            (i64::MAX as u64 & !4095).to_string(),
        )
    };
    let want_mem = match res {
        None => Some(unlimited),
        Some(r) => r["memory"]["limit"].as_i64().map(|v| v.to_string()),
    };
    let want_pids = match res {
        None => Some("max".to_string()),
        Some(r) => r["pids"]["limit"]
            .as_i64()
            .map(|v| if v <= 0 { "max".into() } else { v.to_string() }),
    };
    let what = |k: &str| {
        if res.is_none() {
            format!("no linux.resources: {k} unlimited")
        } else {
            format!("resources {k} limit")
        }
    };
    for (k, want, dir, name) in [
        ("memory", want_mem, &mem_dir, mem_file),
        ("pids", want_pids, &pids_dir, "pids.max"),
    ] {
        let Some(want) = want else { continue };
        match file(dir, name) {
            Some(got) => t.check("cgroups", &what(k), want, got),
            None => t.skip(
                "cgroups",
                &what(k),
                "not visible in this container: no /sys/fs/cgroup with its own cgroup",
            ),
        }
    }
    for (k, v) in res
        .and_then(|r| r["unified"].as_object())
        .into_iter()
        .flatten()
    {
        match file(&mem_dir, k).filter(|_| v2) {
            Some(got) => t.check(
                "cgroups",
                &format!("unified {k}"),
                v.as_str().unwrap_or(""),
                got,
            ),
            None => t.skip(
                "cgroups",
                &format!("unified {k}"),
                "not visible in this container: no cgroup v2 directory of its own",
            ),
        }
    }
}
