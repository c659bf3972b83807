//! AppArmor, SELinux and the systemd cgroupsPath form.

use super::mounts::{MountEntry, top_mount};
use super::tap::{Tap, read};
use serde_json::Value;

/// AppArmor profile, SELinux labels and a systemd cgroupsPath, each only
/// when config.json asks for it (the driver asks only on a host that has
/// the feature, and says why not elsewhere).
pub fn check(t: &mut Tap, config: &Value, mounts: &[MountEntry]) {
    let p = &config["process"];
    let l = &config["linux"];
    let attr = |f: &str| read(f).trim_end_matches(['\0', '\n']).to_string();
    if let Some(want) = p["apparmorProfile"].as_str() {
        let mut cur = attr("/proc/self/attr/apparmor/current");
        if cur.is_empty() {
            cur = attr("/proc/self/attr/current");
        }
        // "name (enforce)": the mode is not part of the name.
        let got = cur.split(" (").next().unwrap_or("").to_string();
        t.check("apparmor", "process.apparmorProfile", want, got);
    }
    if let Some(want) = p["selinuxLabel"].as_str() {
        t.check(
            "selinux",
            "process.selinuxLabel",
            want,
            attr("/proc/self/attr/current"),
        );
    }
    if let Some(label) = l["mountLabel"].as_str() {
        for m in config["mounts"].as_array().into_iter().flatten() {
            let dest = m["destination"].as_str().unwrap_or("");
            if m["type"] != "tmpfs" {
                continue;
            }
            let got = top_mount(mounts, dest)
                .map(|e| e.super_opts.join(","))
                .unwrap_or_default();
            t.truth(
                "selinux",
                &format!("linux.mountLabel on {dest}"),
                got.contains(&format!("context=\"{label}\""))
                    || got.contains(&format!("context={label}")),
                got,
            );
        }
    }
    // slice:prefix:name puts the container in <prefix>-<name>.scope under
    // the slice.
    let systemd: Vec<&str> = l["cgroupsPath"]
        .as_str()
        .unwrap_or("/")
        .split(':')
        .collect();
    if let [slice, prefix, name] = systemd[..] {
        let text = read("/proc/self/cgroup");
        let scope = format!("/{prefix}-{name}.scope");
        let line = text
            .lines()
            .find(|x| x.starts_with("0::"))
            .or_else(|| text.lines().find(|x| x.contains(":name=systemd:")))
            .unwrap_or("");
        t.truth(
            "systemd cgroups",
            "cgroupsPath slice:prefix:name is a scope in the slice",
            line.ends_with(&scope) && line.contains(slice),
            line,
        );
    }
}
