//! The device cgroup policy: deny everything, then the config's rules in
//! order, then the devices every container needs (runc's allowlist).
//!
//! The rules are kept structured, checked once, and written to v1 as
//! devices.allow/deny text.

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// "a": every device; in v1 it resets the whole policy.
    All,
    Block,
    Char,
}

/// Access bits, valued as the kernel's BPF_DEVCG_ACC_* so the eBPF
/// program can test them as they come.
pub const MKNOD: u8 = 1;
pub const READ: u8 = 2;
pub const WRITE: u8 = 4;
pub const RWM: u8 = MKNOD | READ | WRITE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    pub kind: Kind,
    /// None is the "*" wildcard.
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

impl Rule {
    /// The line for devices.allow or devices.deny, e.g. "c 1:3 rwm".
    pub fn v1_text(&self) -> String {
        let kind = match self.kind {
            // The kernel reads only the "a"; anything after it is ignored.
            Kind::All => return "a".into(),
            Kind::Block => 'b',
            Kind::Char => 'c',
        };
        let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
        let access: String = [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')]
            .iter()
            .filter(|(bit, _)| self.access & bit != 0)
            .map(|(_, c)| *c)
            .collect();
        format!("{kind} {}:{} {access}", n(self.major), n(self.minor))
    }
}

fn parse_access(field: &str, s: &str) -> Result<u8> {
    s.chars().try_fold(0, |acc, c| match c {
        'r' => Ok(acc | READ),
        'w' => Ok(acc | WRITE),
        'm' => Ok(acc | MKNOD),
        _ => Err(Error::config(
            field,
            format!("{s:?}: access is made of r, w and m"),
        )),
    })
}

/// A negative number is the wildcard, as runc reads it.
fn number(field: &str, v: Option<i64>) -> Result<Option<u32>> {
    match v.filter(|v| *v >= 0) {
        None => Ok(None),
        Some(v) => u32::try_from(v)
            .map(Some)
            .map_err(|_| Error::config(field, format!("{v} is not a device number"))),
    }
}

/// Character devices a container always gets: null, zero, full, random,
/// urandom, tty, console, ptmx and the pts slaves, plus mknod of anything
/// (creating a node is harmless when opening it is denied).
const DEFAULT_ALLOW: &[(Kind, Option<u32>, Option<u32>, u8)] = &[
    (Kind::Char, None, None, MKNOD),
    (Kind::Block, None, None, MKNOD),
    (Kind::Char, Some(1), Some(3), RWM),
    (Kind::Char, Some(1), Some(5), RWM),
    (Kind::Char, Some(1), Some(7), RWM),
    (Kind::Char, Some(1), Some(8), RWM),
    (Kind::Char, Some(1), Some(9), RWM),
    (Kind::Char, Some(5), Some(0), RWM),
    (Kind::Char, Some(5), Some(1), RWM),
    (Kind::Char, Some(5), Some(2), RWM),
    (Kind::Char, Some(136), None, RWM),
    (Kind::Char, Some(10), Some(200), RWM),
];

pub fn rules(config: &[LinuxDeviceCgroup], devices: &[LinuxDevice]) -> Result<Vec<Rule>> {
    let mut out = vec![Rule {
        allow: false,
        kind: Kind::All,
        major: None,
        minor: None,
        access: RWM,
    }];
    for (i, r) in config.iter().enumerate() {
        let field = |f: &str| format!("linux.resources.devices[{i}].{f}");
        let typ = r.typ();
        let kind = match typ.as_ref().map(|t| t.as_str()) {
            None | Some("a") => Kind::All,
            Some("b") => Kind::Block,
            Some("c") => Kind::Char,
            Some(t) => {
                return Err(Error::config(
                    field("type"),
                    format!("{t:?}: the device cgroup knows a, b and c"),
                ));
            }
        };
        let access = match r.access().as_deref() {
            None => RWM,
            Some(s) => parse_access(&field("access"), s)?,
        };
        out.push(Rule {
            allow: r.allow(),
            kind,
            major: number(&field("major"), r.major())?,
            minor: number(&field("minor"), r.minor())?,
            access,
        });
    }
    for (i, d) in devices.iter().enumerate() {
        let kind = match d.typ().as_str() {
            "b" => Kind::Block,
            "c" | "u" => Kind::Char,
            // FIFOs are not devices to the cgroup.
            _ => continue,
        };
        let field = |f: &str| format!("linux.devices[{i}].{f}");
        out.push(Rule {
            allow: true,
            kind,
            major: number(&field("major"), Some(d.major()))?,
            minor: number(&field("minor"), Some(d.minor()))?,
            access: RWM,
        });
    }
    out.extend(
        DEFAULT_ALLOW
            .iter()
            .map(|&(kind, major, minor, access)| Rule {
                allow: true,
                kind,
                major,
                minor,
                access,
            }),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_all_then_config_then_defaults() {
        let cfg: Vec<LinuxDeviceCgroup> = serde_json::from_str(
            r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":10,"minor":229,"access":"rw"}]"#,
        )
        .unwrap();
        let devs: Vec<oci_spec::runtime::LinuxDevice> =
            serde_json::from_str(r#"[{"path":"/dev/fuse","type":"c","major":10,"minor":229}]"#)
                .unwrap();
        let r = rules(&cfg, &devs).unwrap();
        let t: Vec<String> = r
            .iter()
            .map(|r| format!("{} {}", if r.allow { "allow" } else { "deny" }, r.v1_text()))
            .collect();
        assert_eq!(
            t[..4],
            [
                "deny a",
                "deny a",
                "allow c 10:229 rw",
                "allow c 10:229 rwm"
            ]
        );
        assert!(t.contains(&"allow c 1:3 rwm".to_string()));
        assert!(t.contains(&"allow c 136:* rwm".to_string()));
        assert!(t.contains(&"allow c *:* m".to_string()));
    }

    #[test]
    fn bad_types_and_access_are_config_errors() {
        let cfg: Vec<LinuxDeviceCgroup> =
            serde_json::from_str(r#"[{"allow":true,"type":"c","access":"rx"}]"#).unwrap();
        let e = rules(&cfg, &[]).unwrap_err().to_string();
        assert!(e.contains("linux.resources.devices[0].access"), "{e}");
        let cfg: Vec<LinuxDeviceCgroup> =
            serde_json::from_str(r#"[{"allow":true,"type":"p"}]"#).unwrap();
        assert!(rules(&cfg, &[]).is_err());
    }
}
