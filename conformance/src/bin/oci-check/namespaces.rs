//! Each namespace new or joined as asked, and what lives in them: pid 1,
//! hostname and domainname, id maps, time offsets, cgroup placement.

use super::tap::{Tap, read};
use serde_json::Value;

pub fn check(t: &mut Tap, config: &Value) {
    let l = &config["linux"];
    let ann = &config["annotations"];
    let mut types = Vec::new();
    for ns in l["namespaces"].as_array().into_iter().flatten() {
        let typ = ns["type"].as_str().unwrap_or("");
        let file = match typ {
            "network" => "net",
            "mount" => "mnt",
            t => t,
        };
        types.push(typ.to_string());
        let got = std::fs::read_link(format!("/proc/self/ns/{file}"))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        match (
            ns["path"].as_str(),
            ann[format!("conformance.ns.{file}")].as_str(),
            ann[format!("conformance.hostns.{file}")].as_str(),
        ) {
            (Some(_), Some(want), _) => {
                t.check("namespaces", &format!("{typ} joined by path"), want, got)
            }
            (None, _, Some(host)) => t.truth(
                "namespaces",
                &format!("{typ} is new"),
                got != host && !got.is_empty(),
                format!("{got} is the host's"),
            ),
            _ => t.skip(
                "namespaces",
                typ,
                "the driver gave no host namespace to compare with",
            ),
        }
    }
    if types.iter().any(|t| t == "pid")
        && l["namespaces"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|n| n["type"] == "pid" && n.get("path").is_none())
    {
        t.check("namespaces", "process is pid 1", 1, std::process::id());
    }
    if types.iter().any(|t| t == "uts") {
        if let Some(h) = config["hostname"].as_str() {
            t.check(
                "uts",
                "hostname",
                h,
                read("/proc/sys/kernel/hostname").trim(),
            );
        }
        if let Some(d) = config["domainname"].as_str() {
            t.check(
                "uts",
                "domainname",
                d,
                read("/proc/sys/kernel/domainname").trim(),
            );
        }
    }
    for (key, file) in [
        ("uidMappings", "/proc/self/uid_map"),
        ("gidMappings", "/proc/self/gid_map"),
    ] {
        if let Some(maps) = l[key].as_array() {
            let want: Vec<String> = maps
                .iter()
                .map(|m| format!("{} {} {}", m["containerID"], m["hostID"], m["size"]))
                .collect();
            let got: Vec<String> = read(file)
                .lines()
                .map(|x| x.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            t.check("user namespace", key, want.join(","), got.join(","));
        }
    }
    if let Some(offsets) = l["timeOffsets"].as_object() {
        let text = read("/proc/self/timens_offsets");
        for (clock, o) in offsets {
            let got = text
                .lines()
                .find(|x| x.starts_with(clock.as_str()))
                .map(|x| x.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
                .unwrap_or_default();
            t.check(
                "time namespace",
                clock,
                format!(
                    "{} {}",
                    o["secs"].as_i64().unwrap_or(0),
                    o["nanosecs"].as_i64().unwrap_or(0)
                ),
                got,
            );
        }
    }
    if types.iter().any(|t| t == "cgroup") {
        let text = read("/proc/self/cgroup");
        t.truth(
            "cgroups",
            "cgroup namespace rooted at the container's cgroup",
            text.lines().all(|x| x.ends_with(":/")),
            text.replace('\n', " "),
        );
    } else if let Some(cg) = l["cgroupsPath"].as_str().filter(|c| c.starts_with('/')) {
        let text = read("/proc/self/cgroup");
        t.truth(
            "cgroups",
            "placed in cgroupsPath on every hierarchy",
            text.lines().all(|x| x.ends_with(cg)),
            text.replace('\n', " "),
        );
    }
}
