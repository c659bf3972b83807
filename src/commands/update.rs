use super::Global;
use crate::cli::UpdateArgs;
use crate::error::{Error, Result};
use crate::spec;
use crate::state::{self, Status};
use oci_spec::runtime::LinuxResources;
use serde_json::{Value, json};

/// "512m", "1G", "1024", "-1": bytes, binary suffixes as runc and Docker.
pub fn parse_bytes(field: &str, s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| Error::msg(format!("--{field}: {s:?} is not a size")))?;
    Ok(if n < 0.0 {
        -1
    } else {
        (n * mult as f64) as i64
    })
}

/// The update as LinuxResources JSON: --resources first, flags on top.
fn requested(a: &UpdateArgs) -> Result<Value> {
    let mut v = match a.resources.as_deref() {
        None => json!({}),
        Some("-") => serde_json::from_reader(std::io::stdin())
            .map_err(|e| Error::msg(format!("--resources -: invalid JSON on stdin: {e}")))?,
        Some(path) => {
            let text =
                std::fs::read(path).map_err(|e| Error::msg(format!("--resources {path}: {e}")))?;
            serde_json::from_slice(&text)
                .map_err(|e| Error::msg(format!("--resources {path}: invalid JSON: {e}")))?
        }
    };
    if !v.is_object() {
        return Err(Error::msg(
            "--resources: expected a JSON object (LinuxResources)",
        ));
    }
    let mut set = |section: &str, key: &str, val: Value| {
        if !v[section].is_object() {
            v[section] = json!({});
        }
        v[section][key] = val;
    };
    if let Some(x) = a.blkio_weight {
        set("blockIO", "weight", json!(x));
    }
    if let Some(x) = a.cpu_period {
        set("cpu", "period", json!(x));
    }
    if let Some(x) = a.cpu_quota {
        set("cpu", "quota", json!(x));
    }
    if let Some(x) = a.cpu_rt_period {
        set("cpu", "realtimePeriod", json!(x));
    }
    if let Some(x) = a.cpu_rt_runtime {
        set("cpu", "realtimeRuntime", json!(x));
    }
    if let Some(x) = a.cpu_share {
        set("cpu", "shares", json!(x));
    }
    if let Some(x) = &a.cpuset_cpus {
        set("cpu", "cpus", json!(x));
    }
    if let Some(x) = &a.cpuset_mems {
        set("cpu", "mems", json!(x));
    }
    for (flag, key, val) in [
        ("memory", "limit", &a.memory),
        ("memory-reservation", "reservation", &a.memory_reservation),
        ("memory-swap", "swap", &a.memory_swap),
        ("kernel-memory", "kernel", &a.kernel_memory),
        ("kernel-memory-tcp", "kernelTCP", &a.kernel_memory_tcp),
    ] {
        if let Some(s) = val {
            set("memory", key, json!(parse_bytes(flag, s)?));
        }
    }
    if let Some(x) = a.pids_limit {
        set("pids", "limit", json!(x));
    }
    Ok(v)
}

fn merge(base: &mut Value, top: &Value) {
    match (base, top) {
        (Value::Object(b), Value::Object(t)) => {
            for (k, v) in t {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, t) => *b = t.clone(),
    }
}

pub fn run(g: &Global, a: &UpdateArgs) -> Result<i32> {
    let mut c = state::load(&g.root, &a.id, true)?;
    if c.status() == Status::Stopped {
        return Err(Error::msg(format!("container {} is not running", a.id)));
    }
    let mut req = requested(a)?;
    // Unlimited memory with swap unsaid is unlimited memory+swap too where
    // v1 keeps memsw at or above the memory limit, as runc does: else the
    // limit could not be lifted while a memory+swap limit is set.
    if req["memory"]["limit"] == json!(-1)
        && req["memory"]["swap"].is_null()
        && c.saved.cgroup.v1_memsw()
    {
        req["memory"]["swap"] = json!(-1);
    }
    let update: LinuxResources = spec::typed(&req)
        .map_err(|(field, msg)| Error::config(format!("resources.{field}"), msg))?;
    c.saved.cgroup.apply(&update, true)?;
    let mut all =
        serde_json::to_value(c.saved.resources.clone().unwrap_or_default()).unwrap_or_default();
    merge(&mut all, &req);
    c.saved.resources = serde_json::from_value(all).ok();
    state::save(&c.dir, &c.saved)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_suffixes() {
        assert_eq!(parse_bytes("memory", "1024").unwrap(), 1024);
        assert_eq!(parse_bytes("memory", "512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("memory", "1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("memory", "2kb").unwrap(), 2048);
        assert_eq!(parse_bytes("memory", "-1").unwrap(), -1);
        assert!(parse_bytes("memory", "lots").is_err());
    }

    #[test]
    fn flags_go_over_the_resources_file() {
        let a = UpdateArgs {
            memory: Some("64m".into()),
            cpu_share: Some(512),
            pids_limit: Some(10),
            ..Default::default()
        };
        let v = requested(&a).unwrap();
        assert_eq!(v["memory"]["limit"], 64 << 20);
        assert_eq!(v["cpu"]["shares"], 512);
        assert_eq!(v["pids"]["limit"], 10);
    }
}
