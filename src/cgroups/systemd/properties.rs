//! The systemd unit properties a container's unit gets: runc's defaults,
//! linux.resources converted to property names, and the device policy as
//! DevicePolicy=/DeviceAllow=. Pure functions of the config (and of the
//! systemd version), so they are tested without a systemd.

use super::Unit;
use crate::cgroups::{devices, v1, v2};
use crate::dbus::Value;
use crate::error::Result;
use oci_spec::runtime::LinuxResources;

/// One (name, value) entry of a unit's a(sv) properties.
fn prop(name: &str, v: Value) -> Value {
    Value::Struct(vec![Value::str(name), Value::variant(v)])
}

pub(super) fn t(name: &str, v: u64) -> Value {
    prop(name, Value::U64(v))
}

fn b(name: &str, v: bool) -> Value {
    prop(name, Value::Bool(v))
}

/// What every container unit gets, as runc sets it.
pub fn unit_properties(u: &Unit, pid: i32, unified: bool) -> Vec<Value> {
    let mut out = vec![prop(
        "Description",
        Value::str(format!("berth container {}", u.container)),
    )];
    if u.is_slice() {
        // A slice's place is given by its name; Wants= orders it after
        // the parent the config names.
        out.push(prop(
            "Wants",
            Value::Array("s".into(), vec![Value::str(&u.slice)]),
        ));
    } else {
        out.push(prop("Slice", Value::str(&u.slice)));
        out.push(b("Delegate", true));
        out.push(prop(
            "PIDs",
            Value::Array("u".into(), vec![Value::U32(pid as u32)]),
        ));
    }
    // Accounting on makes systemd enable every controller for the unit,
    // as the cgroupfs driver has them.
    out.push(b("MemoryAccounting", true));
    out.push(b("CPUAccounting", true));
    out.push(b(
        if unified {
            "IOAccounting"
        } else {
            "BlockIOAccounting"
        },
        true,
    ));
    out.push(b("TasksAccounting", true));
    // No implicit ordering against shutdown.target & co.
    out.push(b("DefaultDependencies", false));
    out
}

/// A cgroup file value as a systemd number: "max" and -1 are infinity.
fn number(v: &str) -> Option<u64> {
    match v.trim() {
        "max" | "-1" => Some(u64::MAX),
        n => n.parse().ok(),
    }
}

/// "0-3,8" as systemd's CPU/NUMA node mask: bit n of byte n/8. The list
/// is read as exec's CPU lists are; `field` names it in errors.
pub fn cpu_mask(list: &str, field: &str) -> Result<Vec<u8>> {
    let set = crate::linux::process::cpu_list(list, field)?;
    let mut out: Vec<u8> = Vec::new();
    for n in (0..nix::sched::CpuSet::count()).filter(|n| set.is_set(*n).unwrap_or(false)) {
        if out.len() <= n / 8 {
            out.resize(n / 8 + 1, 0);
        }
        out[n / 8] |= 1 << (n % 8);
    }
    Ok(out)
}

/// linux.resources as unit properties, derived from the very file writes
/// the cgroupfs driver makes (so conversions such as shares to weight
/// and v2 swap are done once). Devices are left to `device_properties`.
/// `version` is systemd's: older ones lack some properties.
pub fn resource_properties(r: &LinuxResources, unified: bool, version: u32) -> Result<Vec<Value>> {
    let writes = if unified {
        v2::writes(r)?
    } else {
        v1::writes(r)?
    };
    let mut out = Vec::new();
    let (mut quota, mut period): (Option<i64>, Option<u64>) = (None, None);
    for w in &writes {
        let name = match w.file.as_str() {
            "memory.limit_in_bytes" => "MemoryLimit",
            "memory.max" => "MemoryMax",
            "memory.low" => "MemoryLow",
            "memory.high" => "MemoryHigh",
            "memory.min" => "MemoryMin",
            "memory.swap.max" => "MemorySwapMax",
            "cpu.shares" => "CPUShares",
            "cpu.weight" => "CPUWeight",
            "blkio.weight" => "BlockIOWeight",
            "pids.max" => "TasksMax",
            "cpu.cfs_quota_us" => {
                quota = w.value.parse().ok();
                continue;
            }
            "cpu.cfs_period_us" => {
                period = w.value.parse().ok();
                continue;
            }
            "cpu.max" => {
                let mut f = w.value.split_whitespace();
                quota = f.next().map(|q| q.parse().unwrap_or(-1));
                period = f.next().and_then(|p| p.parse().ok());
                continue;
            }
            "cpuset.cpus" | "cpuset.mems" if version >= 244 => {
                let name = if w.file == "cpuset.cpus" {
                    "AllowedCPUs"
                } else {
                    "AllowedMemoryNodes"
                };
                let field = if w.file == "cpuset.cpus" {
                    "linux.resources.cpu.cpus"
                } else {
                    "linux.resources.cpu.mems"
                };
                let mask = cpu_mask(&w.value, field)?;
                out.push(prop(
                    name,
                    Value::Array("y".into(), mask.into_iter().map(Value::Byte).collect()),
                ));
                continue;
            }
            // The rest has no property; the file write does it.
            _ => continue,
        };
        match number(&w.value) {
            Some(n) => out.push(t(name, n)),
            None => crate::logging::debug(&format!(
                "systemd: {}={:?} is not a number; left to the file write",
                w.file, w.value
            )),
        }
    }
    let period = period.filter(|p| *p != 0);
    if let Some(p) = period
        && version >= 242
    {
        out.push(t("CPUQuotaPeriodUSec", p));
    }
    if quota.is_some() || period.is_some() {
        // systemd keeps the quota as a whole percentage of a CPU: round
        // up to 10 ms per second so that the kernel's quota is not below
        // the config's.
        let per_sec = match quota {
            Some(q) if q > 0 => {
                let v = q as u64 * 1_000_000 / period.unwrap_or(100_000);
                v.div_ceil(10_000) * 10_000
            }
            _ => u64::MAX,
        };
        out.push(t("CPUQuotaPerSecUSec", per_sec));
    }
    Ok(out)
}

/// The device policy as DevicePolicy= and DeviceAllow=, from the same
/// rules the v1 devices files get. systemd has no deny list: a policy
/// that allows all but some devices becomes deny-all here (the v1 files
/// still carry it), as runc does.
pub fn device_properties(rules: &[devices::Rule], version: u32) -> Vec<Value> {
    let entries = |list: Vec<Value>| prop("DeviceAllow", Value::Array("(ss)".into(), list));
    let policy = devices::Policy::replay(rules);
    let only = match (policy.default_allow, policy.exceptions.is_empty()) {
        (true, true) => {
            return vec![prop("DevicePolicy", Value::str("auto")), entries(vec![])];
        }
        (true, false) => {
            crate::logging::warn(
                "systemd cannot deny some devices and allow the rest: its device policy is deny-all",
            );
            Vec::new()
        }
        (false, _) => policy.exceptions,
    };
    let mut allow = Vec::new();
    for a in only {
        let (group, kind) = match a.kind {
            devices::Kind::Block => ("block", 'b'),
            devices::Kind::Char => ("char", 'c'),
            // "a" resets the policy: it is never an exception.
            devices::Kind::All => continue,
        };
        let path = match (a.major, a.minor) {
            (None, None) => format!("{group}-*"),
            (None, Some(_)) => {
                crate::logging::debug(&format!(
                    "systemd has no rule for {} *:{} devices; left to the devices files",
                    kind,
                    a.minor.unwrap_or_default()
                ));
                continue;
            }
            (Some(major), None) if version >= 240 => format!("{group}-{major}"),
            (Some(_), None) => continue,
            (Some(major), Some(minor)) => format!("/dev/{group}/{major}:{minor}"),
        };
        let perms: String = [
            (devices::READ, 'r'),
            (devices::WRITE, 'w'),
            (devices::MKNOD, 'm'),
        ]
        .iter()
        .filter(|(bit, _)| a.access & bit != 0)
        .map(|(_, c)| *c)
        .collect();
        allow.push(Value::Struct(vec![Value::str(path), Value::str(perms)]));
    }
    // An empty DeviceAllow first clears what the unit had.
    vec![
        prop("DevicePolicy", Value::str("strict")),
        entries(vec![]),
        entries(allow),
    ]
}

/// What an update sets: the resources given and, when it has device
/// rules, a new DevicePolicy= and DeviceAllow= list that holds them and
/// the defaults, as create's did.
pub(super) fn update_properties(
    r: &LinuxResources,
    unified: bool,
    version: u32,
) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    if let Some(list) = r.devices() {
        out.extend(device_properties(&devices::rules(list)?, version));
    }
    out.extend(resource_properties(r, unified, version)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn unit(path: &str) -> Result<Unit> {
        Unit::parse(Some(Path::new(path)), "c1")
    }

    fn show(props: &[Value]) -> Vec<String> {
        props
            .iter()
            .map(|p| {
                let Value::Struct(f) = p else { panic!() };
                let Value::Variant(v) = &f[1] else { panic!() };
                let v = match v.as_ref() {
                    Value::Str(s) => s.clone(),
                    Value::Bool(b) => b.to_string(),
                    Value::U64(n) if *n == u64::MAX => "infinity".into(),
                    Value::U64(n) => n.to_string(),
                    other => format!("{other:?}"),
                };
                format!("{}={v}", f[0].as_str().unwrap())
            })
            .collect()
    }

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_scope_gets_runcs_unit_properties() {
        let u = unit("system.slice:berth:x").unwrap();
        let p = show(&unit_properties(&u, 42, true));
        assert_eq!(
            p,
            [
                "Description=berth container x",
                "Slice=system.slice",
                "Delegate=true",
                "PIDs=Array(\"u\", [U32(42)])",
                "MemoryAccounting=true",
                "CPUAccounting=true",
                "IOAccounting=true",
                "TasksAccounting=true",
                "DefaultDependencies=false",
            ]
        );
        let p = show(&unit_properties(&u, 42, false));
        assert!(p.contains(&"BlockIOAccounting=true".to_string()), "{p:?}");
        let s = unit("system.slice::pod.slice").unwrap();
        let p = show(&unit_properties(&s, 42, true));
        assert!(p[1].starts_with("Wants="), "{p:?}");
        assert!(
            !p.iter()
                .any(|x| x.starts_with("PIDs") || x.starts_with("Delegate"))
        );
    }

    #[test]
    fn resources_map_to_v2_properties() {
        let r = res(
            r#"{"memory":{"limit":67108864,"reservation":1048576,"swap":134217728},
            "cpu":{"shares":1024,"quota":50000,"period":100000,"cpus":"0-1,3"},"pids":{"limit":42},
            "unified":{"memory.high":"max"}}"#,
        );
        let p = resource_properties(&r, true, 252).unwrap();
        let text = show(&p);
        assert_eq!(
            text,
            [
                "MemoryLow=1048576",
                "MemoryMax=67108864",
                "MemorySwapMax=67108864",
                "CPUWeight=39",
                "AllowedCPUs=Array(\"y\", [Byte(11)])",
                "TasksMax=42",
                "MemoryHigh=infinity",
                "CPUQuotaPeriodUSec=100000",
                "CPUQuotaPerSecUSec=500000",
            ]
        );
        // Old systemd: no period property, no AllowedCPUs.
        let text = show(&resource_properties(&r, true, 241).unwrap());
        assert!(
            !text
                .iter()
                .any(|x| x.starts_with("CPUQuotaPeriod") || x.starts_with("Allowed"))
        );
    }

    #[test]
    fn resources_map_to_v1_properties() {
        let r = res(
            r#"{"memory":{"limit":-1},"cpu":{"shares":512,"quota":12345},"pids":{"limit":-1},"blockIO":{"weight":300}}"#,
        );
        let text = show(&resource_properties(&r, false, 252).unwrap());
        assert_eq!(
            text,
            [
                "MemoryLimit=infinity",
                "CPUShares=512",
                "TasksMax=infinity",
                "BlockIOWeight=300",
                // 12345 per 100000 is 123450 us/s: rounded up to 130000.
                "CPUQuotaPerSecUSec=130000",
            ]
        );
        // A period alone: unlimited quota with that period.
        let text =
            show(&resource_properties(&res(r#"{"cpu":{"period":50000}}"#), false, 252).unwrap());
        assert_eq!(
            text,
            ["CPUQuotaPeriodUSec=50000", "CPUQuotaPerSecUSec=infinity"]
        );
        // Zeros are unset, as Docker sends them.
        let zeros =
            res(r#"{"memory":{"limit":0},"cpu":{"shares":0,"quota":0},"pids":{"limit":0}}"#);
        assert!(resource_properties(&zeros, false, 252).unwrap().is_empty());
    }

    #[test]
    fn cpu_masks_are_little_endian_bits() {
        assert_eq!(cpu_mask("0", "f").unwrap(), [1]);
        assert_eq!(cpu_mask("0-3,8", "f").unwrap(), [0x0f, 0x01]);
        assert_eq!(cpu_mask("9", "f").unwrap(), [0, 2]);
        assert!(cpu_mask("3-1", "f").is_err());
        assert!(cpu_mask("x", "f").is_err());
    }

    #[test]
    fn the_device_policy_becomes_device_allow() {
        let cfg: Vec<oci_spec::runtime::LinuxDeviceCgroup> = serde_json::from_str(
            r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":10,"minor":229,"access":"rw"},
                {"allow":true,"type":"b","major":8,"access":"r"},{"allow":true,"type":"c","minor":3,"access":"r"}]"#,
        )
        .unwrap();
        let p = device_properties(&devices::rules(&cfg).unwrap(), 252);
        let text = show(&p);
        assert_eq!(text[0], "DevicePolicy=strict");
        assert_eq!(text[1], "DeviceAllow=Array(\"(ss)\", [])");
        let Value::Struct(f) = &p[2] else { panic!() };
        let Value::Variant(v) = &f[1] else { panic!() };
        let Value::Array(_, list) = v.as_ref() else {
            panic!()
        };
        let pairs: Vec<(String, String)> = list
            .iter()
            .map(|e| {
                let Value::Struct(f) = e else { panic!() };
                (f[0].as_str().unwrap().into(), f[1].as_str().unwrap().into())
            })
            .collect();
        let has = |path: &str, perms: &str| pairs.contains(&(path.into(), perms.into()));
        assert!(has("/dev/char/10:229", "rw"), "{pairs:?}");
        assert!(has("block-8", "r"), "{pairs:?}");
        assert!(has("char-*", "m"), "{pairs:?}");
        assert!(has("block-*", "m"), "{pairs:?}");
        assert!(has("char-136", "rwm"), "{pairs:?}");
        assert!(has("/dev/char/1:3", "rwm"), "{pairs:?}");
        // "c *:3" has no systemd spelling.
        assert!(!pairs.iter().any(|(p, _)| p.contains("*:3")));
        // Allow-all: DevicePolicy=auto with no list.
        let all: Vec<oci_spec::runtime::LinuxDeviceCgroup> =
            serde_json::from_str(r#"[{"allow":true,"access":"rwm"}]"#).unwrap();
        let rules: Vec<devices::Rule> = devices::rules(&all).unwrap();
        let text = show(&device_properties(&rules, 252));
        assert_eq!(text[0], "DevicePolicy=auto");
    }

    #[test]
    fn an_update_with_device_rules_sends_the_whole_device_policy() {
        // No rules: the unit's device policy is left as it is.
        let r = res(r#"{"pids":{"limit":5}}"#);
        assert_eq!(
            show(&update_properties(&r, true, 252).unwrap()),
            ["TasksMax=5"]
        );
        // Rules: policy and list again, exactly as given (and the defaults).
        let r = res(r#"{"devices":[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","major":1,"minor":11,"access":"rm"},
            {"allow":true,"type":"c","major":10,"minor":229,"access":"r"}]}"#);
        let p = update_properties(&r, true, 252).unwrap();
        let text = show(&p).join("\n");
        assert_eq!(show(&p)[0], "DevicePolicy=strict");
        assert!(
            !text.contains(r#"Str("/dev/char/10:229"), Str("rwm")"#),
            "{text}"
        );
        for want in [
            r#"Str("/dev/char/1:11"), Str("rm")"#,
            r#"Str("/dev/char/10:229"), Str("r")"#,
        ] {
            assert!(text.contains(want), "{want} not in {text}");
        }
    }
}
