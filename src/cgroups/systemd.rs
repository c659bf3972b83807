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
//! `org.systemd.property.<Name>` add unit properties (annotations.rs);
//! properties.rs turns the config into unit properties.

mod annotations;
mod properties;

pub use annotations::properties as annotation_properties;
use properties::{device_properties, resource_properties, t, unit_properties, update_properties};

use super::{Cgroup, Dir, Hierarchy, devices, own_path, parse_mountinfo, read_proc};
use crate::dbus::{self, Connection, Value};
use crate::error::{Error, Result, SysContext};
use oci_spec::runtime::LinuxResources;
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
    /// `system.slice:berth:ID` (`user.slice:...` for the user's manager).
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
        let slice = match slice {
            // The user's manager has no system.slice: runc's rootless default.
            "" if dbus::user_manager() => "user.slice",
            "" => "system.slice",
            s => s,
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
        for (path, on_bus) in dbus::systemd_sockets() {
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
        let whose = if dbus::user_manager() {
            "berth runs rootless and needs the user's systemd (systemd --user: a login session, or loginctl enable-linger), which"
        } else {
            "systemd"
        };
        Err(Error::msg(format!(
            "--systemd-cgroup: {whose} is not reachable over D-Bus: {}",
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
    extra: Vec<Value>,
) -> Result<Cgroup> {
    let hierarchies = parse_mountinfo(&read_proc("/proc/self/mountinfo")?);
    let unified = unified(&hierarchies);
    let mut properties = unit_properties(unit, pid, unified);
    let rules = devices::rules(r.devices().as_deref().unwrap_or_default())?;
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
pub fn update(name: &str, r: &LinuxResources, unified: bool) -> Result<()> {
    let mut sd = Systemd::connect()?;
    let properties = update_properties(r, unified, sd.version)?;
    sd.set(name, properties)
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
    const HYBRID: &str = "1 0 0:1 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
2 0 0:2 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer
3 0 0:3 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
4 0 0:4 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";

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
