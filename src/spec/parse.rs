//! config.json's text into oci-spec's types, mending on the way what
//! engines really send and oci-spec would refuse or misread: empty CPU
//! affinities, a process without user, the spec's names of scheduler
//! flags, capability names this kernel does not know.

use super::CAPSETS;
pub use super::culprit::typed;
use crate::error::{Error, Result};
use crate::logging;
use oci_spec::runtime::{Process, Spec};
use serde_json::Value;
use std::str::FromStr;

/// Parse config.json text the way runc reads it: unknown capabilities are
/// dropped with a warning (the spec says so; oci-spec would reject the
/// whole file), and a wrong field is reported by its JSON path.
pub fn parse(text: &[u8], name: &str) -> Result<Spec> {
    let mut value: Value = serde_json::from_slice(text)
        .map_err(|e| Error::msg(format!("parse {name}: invalid JSON: {e}")))?;
    if let Some(p) = value.get_mut("process") {
        drop_unknown_capabilities(p)?;
        drop_empty_affinity(p);
        scheduler_flag_names(p);
        default_user(p);
    }
    typed(&value).map_err(|(field, msg)| Error::config(field, msg))
}

/// Capability names the kernel knows: the caps crate's list, cut at
/// /proc/sys/kernel/cap_last_cap so that a newer name on an older kernel
/// is treated as unknown, as runc does.
pub(super) fn known_capability(name: &str) -> Option<caps::Capability> {
    let canonical = caps::to_canonical(name);
    let cap = caps::Capability::from_str(&canonical).ok()?;
    static LAST: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    let last = *LAST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse::<u8>().ok())
            .unwrap_or(40)
    });
    (cap.index() <= last).then_some(cap)
}

/// Parse a process JSON (`exec --process`) with the same tolerance.
pub fn parse_process(text: &[u8], name: &str) -> Result<Process> {
    let mut value: Value = serde_json::from_slice(text)
        .map_err(|e| Error::msg(format!("parse {name}: invalid JSON: {e}")))?;
    drop_unknown_capabilities(&mut value)?;
    drop_empty_affinity(&mut value);
    scheduler_flag_names(&mut value);
    default_user(&mut value);
    typed(&value).map_err(|(field, msg)| Error::config(format!("{name}: {field}"), msg))
}

/// An empty execCPUAffinity list means "leave the affinity alone" (the
/// spec), which oci-spec's pattern would refuse: drop it before parsing.
fn drop_empty_affinity(process: &mut Value) {
    if let Some(a) = process
        .pointer_mut("/execCPUAffinity")
        .and_then(Value::as_object_mut)
    {
        a.retain(|_, v| v.as_str() != Some(""));
    }
}

/// process.user is optional (the schema requires only args and cwd): its
/// absence is uid 0, gid 0, which oci-spec, requiring it, needs spelled out.
fn default_user(process: &mut Value) {
    if let Some(p) = process.as_object_mut() {
        p.entry("user")
            .or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
    }
}

/// process.scheduler.flags as the spec spells them: oci-spec's enum knows
/// two of them by other names (SCHED_RESET_ON_FORK, and
/// SCHED_FLAG_D_L_OVERRUN from its case conversion). Anything else is
/// left for deserialization to refuse, by its path.
fn scheduler_flag_names(process: &mut Value) {
    const NAMES: [(&str, &str); 2] = [
        ("SCHED_FLAG_RESET_ON_FORK", "SCHED_RESET_ON_FORK"),
        ("SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_D_L_OVERRUN"),
    ];
    let Some(flags) = process
        .pointer_mut("/scheduler/flags")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for f in flags {
        if let Some((_, ours)) = NAMES.iter().find(|(spec, _)| f.as_str() == Some(spec)) {
            *f = Value::from(*ours);
        }
    }
}

/// A capability this kernel lacks is dropped with a warning (engines send
/// newer names to older kernels); a name that is no capability at all is
/// an error: it maps to no kernel interface (config.md).
fn drop_unknown_capabilities(process: &mut Value) -> Result<()> {
    let Some(sets) = process
        .pointer_mut("/capabilities")
        .and_then(Value::as_object_mut)
    else {
        return Ok(());
    };
    let mut unknown = Vec::new();
    for set in CAPSETS {
        if let Some(Value::Array(list)) = sets.get_mut(set) {
            if let Some(bad) = list
                .iter()
                .filter_map(Value::as_str)
                .find(|n| caps::Capability::from_str(&caps::to_canonical(n)).is_err())
            {
                return Err(Error::config(
                    format!("process.capabilities.{set}"),
                    format!("{bad:?} is not a capability"),
                ));
            }
            list.retain(|v| match v.as_str() {
                Some(n) if known_capability(n).is_some() => true,
                Some(n) => {
                    if !unknown.contains(&n.to_string()) {
                        unknown.push(n.to_string());
                    }
                    false
                }
                None => true, // a wrong type is reported by deserialization
            });
        }
    }
    if !unknown.is_empty() {
        logging::warn(&format!(
            "ignoring capabilities this kernel does not have: {}",
            unknown.join(", ")
        ));
    }
    Ok(())
}

/// MAJOR.MINOR.PATCH, numbers without leading zeros, then an optional
/// -pre-release and +build of dot-separated [0-9A-Za-z-] identifiers
/// (semver.org 2.0.0, which config.md requires of ociVersion).
pub(super) fn is_semver(v: &str) -> bool {
    let ids = |s: &str, numeric_rule: bool| {
        !s.is_empty()
            && s.split('.').all(|id| {
                !id.is_empty()
                    && id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                    && !(numeric_rule
                        && id.len() > 1
                        && id.starts_with('0')
                        && id.bytes().all(|c| c.is_ascii_digit()))
            })
    };
    let (rest, build) = match v.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (v, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let nums: Vec<&str> = core.split('.').collect();
    nums.len() == 3
        && nums.iter().all(|n| {
            !n.is_empty()
                && n.bytes().all(|c| c.is_ascii_digit())
                && (n.len() == 1 || !n.starts_with('0'))
        })
        && pre.is_none_or(|p| ids(p, true))
        && build.is_none_or(|b| ids(b, false))
}
