//! Container statistics in runc's `events --stats` JSON shape, read from
//! whichever hierarchy has each controller (v1 or v2).

use super::Cgroup;
use serde_json::{Value, json};
use std::path::Path;

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

fn num(dir: &Path, file: &str) -> u64 {
    read(dir, file)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// "key value" lines into a map of numbers.
fn flat_keyed(text: &str) -> serde_json::Map<String, Value> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), json!(v.trim().parse::<u64>().ok()?)))
        })
        .collect()
}

/// Clock ticks (cpuacct.stat) to nanoseconds.
fn ticks_to_ns(t: u64) -> u64 {
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    t * (1_000_000_000 / hz)
}

/// Where OOM kills show: a v1 eventfd on memory.oom_control, or the v2
/// oom_kill counter in memory.events.
pub enum OomWatch {
    V1(std::os::fd::OwnedFd),
    V2 {
        events: std::path::PathBuf,
        seen: u64,
    },
    None,
}

fn oom_kills(events: &Path) -> u64 {
    read(events.parent().unwrap_or(events), "memory.events")
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("oom_kill ")
                    .and_then(|v| v.trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

impl OomWatch {
    /// The fd to poll (v1), if any.
    pub fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        match self {
            OomWatch::V1(fd) => Some(fd.as_fd()),
            _ => None,
        }
    }

    /// Whether OOM kills happened since the last call.
    pub fn fired(&mut self) -> bool {
        match self {
            OomWatch::V1(fd) => {
                let mut buf = [0u8; 8];
                matches!(nix::unistd::read(&*fd, &mut buf), Ok(8))
            }
            OomWatch::V2 { events, seen } => {
                let now = oom_kills(events);
                let fired = now > *seen;
                *seen = now;
                fired
            }
            OomWatch::None => false,
        }
    }
}

impl Cgroup {
    /// Register for OOM notifications.
    pub fn watch_oom(&self) -> crate::error::Result<OomWatch> {
        use crate::error::SysContext;
        use std::os::fd::AsRawFd;
        if let Some(d) = self.v1_dir("memory") {
            let efd = nix::sys::eventfd::EventFd::from_flags(
                nix::sys::eventfd::EfdFlags::EFD_CLOEXEC
                    | nix::sys::eventfd::EfdFlags::EFD_NONBLOCK,
            )
            .sys("eventfd", "oom")?;
            let oc = std::fs::File::open(d.join("memory.oom_control"))
                .sys("open", d.join("memory.oom_control").display())?;
            let ctl = d.join("cgroup.event_control");
            std::fs::write(&ctl, format!("{} {}", efd.as_raw_fd(), oc.as_raw_fd()))
                .sys("write", ctl.display())?;
            return Ok(OomWatch::V1(efd.into()));
        }
        if let Some(d) = self.v2_dir() {
            let events = d.join("memory.events");
            let seen = oom_kills(&events);
            return Ok(OomWatch::V2 { events, seen });
        }
        Ok(OomWatch::None)
    }

    pub fn stats(&self) -> Value {
        let mut data = json!({"cpu": {}, "memory": {}, "pids": {}, "blkio": {}, "hugetlb": {}});
        if let Some(d) = self.v1_dir("cpuacct") {
            let percpu: Vec<u64> = read(d, "cpuacct.usage_percpu")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            let stat = flat_keyed(&read(d, "cpuacct.stat").unwrap_or_default());
            let get = |k: &str| stat.get(k).and_then(Value::as_u64).unwrap_or(0);
            data["cpu"]["usage"] = json!({
                "total": num(d, "cpuacct.usage"),
                "percpu": percpu,
                "kernel": ticks_to_ns(get("system")),
                "user": ticks_to_ns(get("user")),
            });
        } else if let Some(d) = self.v2_dir() {
            let stat = flat_keyed(&read(d, "cpu.stat").unwrap_or_default());
            let get = |k: &str| stat.get(k).and_then(Value::as_u64).unwrap_or(0);
            data["cpu"]["usage"] = json!({
                "total": get("usage_usec") * 1000,
                "kernel": get("system_usec") * 1000,
                "user": get("user_usec") * 1000,
            });
        }
        let throttle_dir = self.v1_dir("cpu").or(self.v2_dir());
        if let Some(d) = throttle_dir {
            let stat = flat_keyed(&read(d, "cpu.stat").unwrap_or_default());
            let get = |k: &str| stat.get(k).and_then(Value::as_u64).unwrap_or(0);
            let time = if stat.contains_key("throttled_usec") {
                get("throttled_usec") * 1000
            } else {
                get("throttled_time")
            };
            data["cpu"]["throttling"] = json!({
                "periods": get("nr_periods"),
                "throttled_periods": get("nr_throttled"),
                "throttled_time": time,
            });
        }
        if let Some(d) = self.v1_dir("memory") {
            let entry = |prefix: &str| {
                json!({
                    "usage": num(d, &format!("{prefix}usage_in_bytes")),
                    "max": num(d, &format!("{prefix}max_usage_in_bytes")),
                    "failcnt": num(d, &format!("{prefix}failcnt")),
                    "limit": num(d, &format!("{prefix}limit_in_bytes")),
                })
            };
            data["memory"] = json!({
                "usage": entry("memory."),
                "swap": entry("memory.memsw."),
                "kernel": entry("memory.kmem."),
                "kernelTCP": entry("memory.kmem.tcp."),
                "raw": flat_keyed(&read(d, "memory.stat").unwrap_or_default()),
            });
        } else if let Some(d) = self.v2_dir() {
            let limit = read(d, "memory.max")
                .map(|s| s.trim().parse::<u64>().unwrap_or(u64::MAX))
                .unwrap_or(0);
            data["memory"] = json!({
                "usage": {"usage": num(d, "memory.current"), "max": num(d, "memory.peak"), "limit": limit, "failcnt": 0},
                "swap": {"usage": num(d, "memory.swap.current")},
                "raw": flat_keyed(&read(d, "memory.stat").unwrap_or_default()),
            });
        }
        let pids_dir = self.v1_dir("pids").or(self.v2_dir());
        if let Some(d) = pids_dir {
            let limit = read(d, "pids.max")
                .map(|s| s.trim().parse::<u64>().unwrap_or(0))
                .unwrap_or(0);
            data["pids"] = json!({"current": num(d, "pids.current"), "limit": limit});
        }
        data
    }
}
