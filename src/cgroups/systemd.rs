//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup
//! is a transient scope that systemd makes over D-Bus, as runc does.
//!
//! cgroupsPath is `slice:prefix:name`; the unit is `prefix-name.scope`
//! in `slice` (system.slice when empty), or a slice of its own when
//! `name` ends in ".slice". StartTransientUnit needs the init's pid, so
//! it runs once the init exists and before it is released. The paths
//! the scope got (read back from /proc/PID/cgroup) then become the
//! container's `Cgroup` dirs, and from there everything works as with
//! the cgroupfs driver: resources are written to files too (they cover
//! what systemd has no property for), freeze, ps, events and delete.
//! On v1 berth makes and joins the controllers systemd leaves alone
//! (freezer, cpuset, ...) itself; delete stops the unit. Annotations
//! `org.systemd.property.<Name>` add unit properties (annotations.rs).

mod annotations;

pub use annotations::properties as annotation_properties;

use super::{Cgroup, Dir, Hierarchy, devices, own_path, parse_mountinfo, read_proc, v1, v2};
use crate::dbus::{self, Connection, Value};
use crate::error::{Error, Result, SysContext};
use oci_spec::runtime::{LinuxDevice, LinuxResources};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long systemd gets for a call, or to finish a job (runc's 30 s).
const TIMEOUT: Duration = Duration::from_secs(30);

const DEST: &str = "org.freedesktop.systemd1";
const OBJECT: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

/// The unit a container gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// The slice a scope goes in; a slice unit's parent.
    pub slice: String,
    /// prefix-name.scope, or name when it is a slice.
    pub name: String,
    /// The name part of cgroupsPath, for the Description.
    pub container: String,
}

impl Unit {
    pub fn is_slice(&self) -> bool {
        self.name.ends_with(".slice")
    }

    /// Parse cgroupsPath (`slice:prefix:name`); none means
    /// `system.slice:berth:ID`.
    pub fn parse(cgroups_path: Option<&Path>, id: &str) -> Result<Unit> {
        let field = "linux.cgroupsPath";
        let text = match cgroups_path {
            Some(p) if !p.as_os_str().is_empty() => p
                .to_str()
                .ok_or_else(|| Error::config(field, "not UTF-8"))?
                .to_string(),
            _ => format!(":berth:{id}"),
        };
        let parts: Vec<&str> = text.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            return Err(Error::config(
                field,
                format!(
                    "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got {text:?} instead"
                ),
            ));
        };
        let slice = if slice.is_empty() {
            "system.slice"
        } else {
            slice
        };
        expand_slice(slice).map_err(|e| Error::config(field, e))?;
        if name.is_empty() {
            return Err(Error::config(field, format!("{text:?} has an empty name")));
        }
        let unit = if name.ends_with(".slice") {
            expand_slice(name).map_err(|e| Error::config(field, e))?;
            name.to_string()
        } else if prefix.is_empty() {
            // runc would make "-name.scope"; the dash alone says nothing.
            format!("{name}.scope")
        } else {
            format!("{prefix}-{name}.scope")
        };
        // systemd's unit name alphabet (unit_name_is_valid).
        if let Some(c) = unit
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-_.\\@".contains(*c)))
        {
            return Err(Error::config(
                field,
                format!("{c:?} cannot be in a systemd unit name ({unit:?})"),
            ));
        }
        Ok(Unit {
            slice: slice.to_string(),
            name: unit,
            container: name.to_string(),
        })
    }
}

/// A slice's cgroup path: systemd nests slices by their dashes, so
/// "a-b.slice" is /a.slice/a-b.slice, and "-.slice" is the root.
pub fn expand_slice(slice: &str) -> std::result::Result<String, String> {
    let invalid = || format!("invalid slice name {slice:?}");
    let stem = slice
        .strip_suffix(".slice")
        .filter(|s| !s.is_empty() && !slice.contains('/'))
        .ok_or_else(invalid)?;
    if stem == "-" {
        return Ok("/".into());
    }
    let mut path = String::new();
    let mut prefix = String::new();
    for part in stem.split('-') {
        if part.is_empty() {
            return Err(invalid());
        }
        path.push_str(&format!("/{prefix}{part}.slice"));
        prefix.push_str(&format!("{part}-"));
    }
    Ok(path)
}

/// One (name, value) entry of a unit's a(sv) properties.
fn prop(name: &str, v: Value) -> Value {
    Value::Struct(vec![Value::str(name), Value::variant(v)])
}

fn t(name: &str, v: u64) -> Value {
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

/// "0-3,8" as systemd's CPU/NUMA node mask: bit n of byte n/8.
pub fn cpu_mask(list: &str) -> Result<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    let bad = || Error::config("linux.resources.cpu", format!("{list:?} is not a CPU list"));
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (lo, hi): (usize, usize) = (
            lo.trim().parse().map_err(|_| bad())?,
            hi.trim().parse().map_err(|_| bad())?,
        );
        if lo > hi || hi >= 1 << 16 {
            return Err(bad());
        }
        for n in lo..=hi {
            if out.len() <= n / 8 {
                out.resize(n / 8 + 1, 0);
            }
            out[n / 8] |= 1 << (n % 8);
        }
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
                let mask = cpu_mask(&w.value)?;
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

/// A connection to systemd's manager.
pub struct Systemd {
    conn: Connection,
    /// The major version (252 for "252.30-1~deb12u2"), 0 if unknown.
    pub version: u32,
}

fn parse_version(v: &str) -> u32 {
    v.trim_start_matches(['"', 'v'])
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl Systemd {
    /// Connect to systemd: its private socket, else the system bus. The
    /// error names every socket tried and why it failed.
    pub fn connect() -> Result<Systemd> {
        let deadline = Instant::now() + TIMEOUT;
        let mut tried = Vec::new();
        let bus = std::env::var("DBUS_SYSTEM_BUS_ADDRESS").ok();
        let candidates = std::iter::once((PathBuf::from(dbus::SYSTEMD_PRIVATE), false)).chain(
            dbus::system_bus_paths(bus.as_deref())
                .into_iter()
                .map(|p| (p, true)),
        );
        for (path, on_bus) in candidates {
            match Connection::open(&path, on_bus, deadline) {
                Ok(conn) => {
                    let mut sd = Systemd { conn, version: 0 };
                    sd.subscribe(deadline)?;
                    sd.version = sd.manager_version(deadline);
                    crate::logging::debug(&format!(
                        "systemd {} reached through {}",
                        sd.version,
                        path.display()
                    ));
                    return Ok(sd);
                }
                Err(e) => tried.push(e.to_string()),
            }
        }
        Err(Error::msg(format!(
            "--systemd-cgroup: systemd is not reachable over D-Bus: {}",
            tried.join("; ")
        )))
    }

    fn call(&mut self, member: &str, args: Vec<Value>, deadline: Instant) -> Result<Vec<Value>> {
        self.conn
            .call(DEST, OBJECT, MANAGER, member, args, deadline)
    }

    /// Ask for job signals. On the bus, dbus-daemon also needs a match
    /// rule to route them to us; systemd's private peers get them all.
    fn subscribe(&mut self, deadline: Instant) -> Result<()> {
        if self.conn.on_bus {
            let rule = format!(
                "type='signal',sender='{DEST}',path='{OBJECT}',interface='{MANAGER}',member='JobRemoved'"
            );
            self.conn.call(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "AddMatch",
                vec![Value::str(rule)],
                deadline,
            )?;
        }
        self.call("Subscribe", vec![], deadline).map(drop)
    }

    fn manager_version(&mut self, deadline: Instant) -> u32 {
        let v = self.conn.call(
            DEST,
            OBJECT,
            "org.freedesktop.DBus.Properties",
            "Get",
            vec![Value::str(MANAGER), Value::str("Version")],
            deadline,
        );
        match v.as_deref() {
            Ok([Value::Variant(s)]) => parse_version(s.as_str().unwrap_or_default()),
            _ => 0,
        }
    }

    /// Wait for the job to finish; its result ("done", "failed", ...).
    fn wait_job(&mut self, job: &str, deadline: Instant) -> Result<String> {
        let m = self.conn.wait_signal(deadline, |m| {
            m.member.as_deref() == Some("JobRemoved")
                && m.interface.as_deref() == Some(MANAGER)
                && m.body.get(1).and_then(Value::as_str) == Some(job)
        })?;
        Ok(m.body
            .get(3)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }

    /// StartTransientUnit(name, "replace", properties) and wait until the
    /// job is done. A failed unit left with the same name is reset and
    /// the start tried once more.
    pub fn start(&mut self, name: &str, properties: Vec<Value>) -> Result<()> {
        let deadline = Instant::now() + TIMEOUT;
        let args = vec![
            Value::str(name),
            Value::str("replace"),
            Value::Array("(sv)".into(), properties),
            Value::Array("(sa(sv))".into(), vec![]),
        ];
        let mut retried = false;
        let job = loop {
            match self.conn.try_call(
                DEST,
                OBJECT,
                MANAGER,
                "StartTransientUnit",
                args.clone(),
                deadline,
            )? {
                Ok(body) => match body.first().and_then(Value::as_str) {
                    Some(job) => break job.to_string(),
                    None => return Err(Error::msg("systemd: StartTransientUnit returned no job")),
                },
                Err(e) if e.name == "org.freedesktop.systemd1.UnitExists" && !retried => {
                    retried = true;
                    self.reset_failed(name);
                }
                Err(e) => {
                    return Err(Error::msg(format!(
                        "systemd: start unit {name}: {}: {}",
                        e.name, e.message
                    )));
                }
            }
        };
        let result = self.wait_job(&job, deadline).map_err(|e| {
            self.reset_failed(name);
            e.context(format!("systemd: start unit {name}"))
        })?;
        if result != "done" {
            self.reset_failed(name);
            return Err(Error::msg(format!(
                "systemd: start unit {name}: job {result} (see journalctl -u {name})"
            )));
        }
        Ok(())
    }

    /// StopUnit(name, "replace") and wait; a unit that is gone already
    /// (a scope ends with its last process) is fine.
    pub fn stop(&mut self, name: &str) -> Result<()> {
        let deadline = Instant::now() + TIMEOUT;
        let r = self.conn.try_call(
            DEST,
            OBJECT,
            MANAGER,
            "StopUnit",
            vec![Value::str(name), Value::str("replace")],
            deadline,
        )?;
        let r = match r {
            Ok(body) => match body.first().and_then(Value::as_str) {
                Some(job) => {
                    let job = job.to_string();
                    let result = self.wait_job(&job, deadline);
                    match result.as_deref() {
                        Ok("done") => Ok(()),
                        Ok(other) => {
                            crate::logging::warn(&format!(
                                "systemd: stop unit {name}: job {other}"
                            ));
                            Ok(())
                        }
                        Err(_) => result.map(drop),
                    }
                }
                None => Ok(()),
            },
            Err(e) if e.name == "org.freedesktop.systemd1.NoSuchUnit" => Ok(()),
            Err(e) => Err(Error::msg(format!(
                "systemd: stop unit {name}: {}: {}",
                e.name, e.message
            ))),
        };
        // A unit that failed stays loaded until reset.
        self.reset_failed(name);
        r
    }

    /// SetUnitProperties(name, runtime, properties).
    pub fn set(&mut self, name: &str, properties: Vec<Value>) -> Result<()> {
        if properties.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + TIMEOUT;
        self.call(
            "SetUnitProperties",
            vec![
                Value::str(name),
                Value::Bool(true),
                Value::Array("(sv)".into(), properties),
            ],
            deadline,
        )
        .map(drop)
        .map_err(|e| e.context(format!("systemd: set properties of {name}")))
    }

    fn reset_failed(&mut self, name: &str) {
        let deadline = Instant::now() + TIMEOUT;
        let _ = self.conn.try_call(
            DEST,
            OBJECT,
            MANAGER,
            "ResetFailedUnit",
            vec![Value::str(name)],
            deadline,
        );
    }
}

/// Whether the host has cgroup v2 alone (runc's "unified mode"): then the
/// v2 property names apply, else the v1 ones.
fn unified(hierarchies: &[Hierarchy]) -> bool {
    !hierarchies.is_empty() && hierarchies.iter().all(|h| h.v2)
}

/// Start the container's unit with `pid` in it and return its cgroup. On
/// failure nothing of it is left. `extra` are the properties the config's
/// annotations ask for (`annotation_properties`); they come last, so that
/// they win over berth's own, as with runc.
pub fn create(
    sd: &mut Systemd,
    unit: &Unit,
    pid: i32,
    r: &LinuxResources,
    devices: &[LinuxDevice],
    extra: Vec<Value>,
) -> Result<Cgroup> {
    let hierarchies = parse_mountinfo(&read_proc("/proc/self/mountinfo")?);
    let unified = unified(&hierarchies);
    let mut properties = unit_properties(unit, pid, unified);
    let rules = devices::rules(r.devices().as_deref().unwrap_or_default(), devices)?;
    properties.extend(device_properties(&rules, sd.version));
    properties.extend(resource_properties(r, unified, sd.version)?);
    // Without a TasksMax of its own the scope gets systemd's
    // DefaultTasksMax (15% of pid_max), a limit the config never asked
    // for: no pids limit given means none.
    if r.pids().as_ref().is_none_or(|p| p.limit() == 0) {
        properties.push(t("TasksMax", u64::MAX));
    }
    properties.extend(extra);
    sd.start(&unit.name, properties)?;
    let own = read_proc(&format!("/proc/{pid}/cgroup"));
    let own = match own {
        Ok(o) => o,
        Err(e) => {
            let _ = sd.stop(&unit.name);
            return Err(e);
        }
    };
    let mut cgroup = Cgroup {
        systemd: Some(unit.name.clone()),
        ..Default::default()
    };
    let joined =
        plan(&hierarchies, &own, unit).and_then(|planned| join_the_rest(&mut cgroup, planned, pid));
    if let Err(e) = joined {
        let made = Cgroup {
            dirs: cgroup.dirs,
            ..Default::default()
        };
        let _ = made.destroy();
        let _ = sd.stop(&unit.name);
        return Err(e);
    }
    crate::logging::step("systemd unit started");
    Ok(cgroup)
}

/// The container's directory on every hierarchy, and whether the init
/// still has to be moved there (true where systemd did not put it).
fn plan(hierarchies: &[Hierarchy], proc_cgroup: &str, unit: &Unit) -> Result<Vec<(Dir, bool)>> {
    let unit_path = if unit.is_slice() {
        expand_slice(&unit.name).map_err(Error::msg)?
    } else {
        // Where systemd keeps its units: name=systemd on a v1 host, else v2.
        let tracking = hierarchies
            .iter()
            .find(|h| h.controllers == ["name=systemd"])
            .or_else(|| hierarchies.iter().find(|h| h.v2))
            .ok_or_else(|| {
                Error::msg("systemd: neither a name=systemd nor a cgroup v2 hierarchy is mounted")
            })?;
        let path = own_path(proc_cgroup, tracking).unwrap_or_default();
        if !path.ends_with(&format!("/{}", unit.name)) {
            return Err(Error::msg(format!(
                "systemd started {} but the container's init is in cgroup {path:?}",
                unit.name
            )));
        }
        path
    };
    let from_root = PathBuf::from(&unit_path);
    Ok(hierarchies
        .iter()
        .map(|h| {
            let below = from_root.strip_prefix(&h.root).unwrap_or(&from_root);
            let rel = below.strip_prefix("/").unwrap_or(below);
            let placed = own_path(proc_cgroup, h).as_deref() == Some(unit_path.as_str());
            let dir = Dir {
                hierarchy: h.clone(),
                path: h.mountpoint.join(rel),
                created_from: None,
            };
            (dir, !placed)
        })
        .collect())
}

/// Make the directories systemd did not and move the init into them.
/// Only a leaf berth made is berth's: the slices above it are shared
/// with other containers.
fn join_the_rest(cgroup: &mut Cgroup, planned: Vec<(Dir, bool)>, pid: i32) -> Result<()> {
    for (mut d, join) in planned {
        if join {
            let existed = d.path.exists();
            let made = super::mkdir_p(&mut d);
            if !existed && d.path.exists() {
                d.created_from = Some(d.path.clone());
            } else {
                d.created_from = None;
            }
            cgroup.dirs.push(d.clone());
            made?;
            let procs = d.path.join("cgroup.procs");
            std::fs::write(&procs, pid.to_string()).sys("join cgroup: write", procs.display())?;
        } else {
            cgroup.dirs.push(d);
        }
    }
    Ok(())
}

/// Stop a container's unit (delete, or a failed create).
pub fn stop_unit(name: &str) -> Result<()> {
    Systemd::connect()?.stop(name)
}

/// `update` on a systemd container: the unit's properties first, so that
/// systemd does not put the old values back later (the files follow).
pub fn update(
    name: &str,
    r: &LinuxResources,
    devices: &[LinuxDevice],
    unified: bool,
) -> Result<()> {
    let mut sd = Systemd::connect()?;
    let properties = update_properties(r, devices, unified, sd.version)?;
    sd.set(name, properties)
}

/// What an update sets: the resources given and, when it has device
/// rules, a new DevicePolicy= and DeviceAllow= list that holds the
/// config's linux.devices (`devices`) and the defaults, as create's did.
fn update_properties(
    r: &LinuxResources,
    devices: &[LinuxDevice],
    unified: bool,
    version: u32,
) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    if let Some(list) = r.devices() {
        out.extend(device_properties(&devices::rules(list, devices)?, version));
    }
    out.extend(resource_properties(r, unified, version)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(path: &str) -> Result<Unit> {
        Unit::parse(Some(Path::new(path)), "c1")
    }

    #[test]
    fn cgroups_path_forms() {
        let u = unit("system.slice:berth:abc").unwrap();
        assert_eq!(
            (u.slice.as_str(), u.name.as_str()),
            ("system.slice", "berth-abc.scope")
        );
        assert!(!u.is_slice());
        let u = Unit::parse(None, "c1").unwrap();
        assert_eq!(
            (u.slice.as_str(), u.name.as_str()),
            ("system.slice", "berth-c1.scope")
        );
        let u = unit(":docker:x").unwrap();
        assert_eq!(u.slice, "system.slice");
        let u = unit("machine-pod.slice:libpod:deadbeef").unwrap();
        assert_eq!(u.name, "libpod-deadbeef.scope");
        let u = unit("kubepods.slice::kubepods-pod1.slice").unwrap();
        assert!(u.is_slice());
        assert_eq!(u.name, "kubepods-pod1.slice");
        assert_eq!(unit("system.slice::x").unwrap().name, "x.scope");
        for bad in [
            "/a/b",
            "a:b",
            "a:b:c:d",
            "system.slice:p:",
            "sys:p:n",
            "a/b.slice:p:n",
            "system.slice:p:n m",
            "x--y.slice:p:n",
        ] {
            let e = unit(bad).unwrap_err().to_string();
            assert!(e.starts_with("config: linux.cgroupsPath:"), "{bad}: {e}");
        }
        let e = unit("/a/b").unwrap_err().to_string();
        assert!(e.contains("slice:prefix:name"), "{e}");
    }

    #[test]
    fn slices_expand_by_their_dashes() {
        assert_eq!(expand_slice("system.slice").unwrap(), "/system.slice");
        assert_eq!(
            expand_slice("a-b-c.slice").unwrap(),
            "/a.slice/a-b.slice/a-b-c.slice"
        );
        assert_eq!(expand_slice("-.slice").unwrap(), "/");
        for bad in [
            ".slice",
            "a",
            "-a.slice",
            "a-.slice",
            "a--b.slice",
            "a/b.slice",
        ] {
            assert!(expand_slice(bad).is_err(), "{bad}");
        }
    }

    /// Properties as "Name=value" text, for comparing.
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
        assert_eq!(cpu_mask("0").unwrap(), [1]);
        assert_eq!(cpu_mask("0-3,8").unwrap(), [0x0f, 0x01]);
        assert_eq!(cpu_mask("9").unwrap(), [0, 2]);
        assert!(cpu_mask("3-1").is_err());
        assert!(cpu_mask("x").is_err());
    }

    #[test]
    fn the_device_policy_becomes_device_allow() {
        let cfg: Vec<oci_spec::runtime::LinuxDeviceCgroup> = serde_json::from_str(
            r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":10,"minor":229,"access":"rw"},
                {"allow":true,"type":"b","major":8,"access":"r"},{"allow":true,"type":"c","minor":3,"access":"r"}]"#,
        )
        .unwrap();
        let p = device_properties(&devices::rules(&cfg, &[]).unwrap(), 252);
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
        let rules: Vec<devices::Rule> = devices::rules(&all, &[]).unwrap();
        let text = show(&device_properties(&rules, 252));
        assert_eq!(text[0], "DevicePolicy=auto");
    }

    const HYBRID: &str = "1 0 0:1 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
2 0 0:2 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer
3 0 0:3 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
4 0 0:4 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";

    #[test]
    fn an_update_with_device_rules_sends_the_whole_device_policy() {
        // No rules: the unit's device policy is left as it is.
        let r = res(r#"{"pids":{"limit":5}}"#);
        assert_eq!(
            show(&update_properties(&r, &[], true, 252).unwrap()),
            ["TasksMax=5"]
        );
        // Rules: policy and list again, with linux.devices still allowed.
        let dev: LinuxDevice =
            serde_json::from_str(r#"{"path":"/dev/fuse","type":"c","major":10,"minor":229}"#)
                .unwrap();
        let r = res(r#"{"devices":[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","major":1,"minor":11,"access":"rm"}]}"#);
        let p = update_properties(&r, &[dev], true, 252).unwrap();
        let text = show(&p).join("\n");
        assert_eq!(show(&p)[0], "DevicePolicy=strict");
        for want in [
            r#"Str("/dev/char/1:11"), Str("rm")"#,
            r#"Str("/dev/char/10:229"), Str("rwm")"#,
        ] {
            assert!(text.contains(want), "{want} not in {text}");
        }
    }

    #[test]
    fn the_scope_paths_come_from_the_inits_cgroups() {
        let h = parse_mountinfo(HYBRID);
        let u = unit("system.slice:berth:x").unwrap();
        let own = "4:memory:/system.slice/berth-x.scope\n3:freezer:/\n1:name=systemd:/system.slice/berth-x.scope\n0::/system.slice/berth-x.scope\n";
        let p = plan(&h, own, &u).unwrap();
        let got: Vec<(String, bool)> = p
            .iter()
            .map(|(d, join)| (d.path.display().to_string(), *join))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "/sys/fs/cgroup/memory/system.slice/berth-x.scope".into(),
                    false
                ),
                (
                    "/sys/fs/cgroup/freezer/system.slice/berth-x.scope".into(),
                    true
                ),
                (
                    "/sys/fs/cgroup/systemd/system.slice/berth-x.scope".into(),
                    false
                ),
                (
                    "/sys/fs/cgroup/unified/system.slice/berth-x.scope".into(),
                    false
                ),
            ]
        );
        // Pure v2.
        let v2 = parse_mountinfo("1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        let p = plan(&v2, "0::/system.slice/berth-x.scope\n", &u).unwrap();
        assert_eq!(
            p[0].0.path,
            PathBuf::from("/sys/fs/cgroup/system.slice/berth-x.scope")
        );
        assert!(!p[0].1);
        // The init elsewhere: systemd did not do what was asked.
        let e = plan(&v2, "0::/user.slice\n", &u).unwrap_err().to_string();
        assert!(e.contains("berth-x.scope"), "{e}");
        // A slice: its expanded path, and the init goes there by hand.
        let s = unit("system.slice::a-b.slice").unwrap();
        let p = plan(&v2, "0::/\n", &s).unwrap();
        assert_eq!(
            p[0].0.path,
            PathBuf::from("/sys/fs/cgroup/a.slice/a-b.slice")
        );
        assert!(p[0].1);
    }

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("252.30-1~deb12u2"), 252);
        assert_eq!(parse_version("\"v245.4-1.fc32\""), 245);
        assert_eq!(parse_version("junk"), 0);
    }
}
