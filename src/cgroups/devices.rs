//! The device cgroup policy: deny everything, then the config's rules in
//! order, then the devices every container needs (runc's allowlist).
//! linux.devices add no rule: a device is created there and usable as far
//! as linux.resources.devices allows, so that "c 10:229 r" stays read-only
//! (Docker's --device X:r, device plugins and CDI write both lists).
//!
//! The rules are kept structured: v1 gets them as devices.allow/deny text
//! in order and the kernel keeps the state; v2 has no such files, so
//! `Policy` replays them the way the v1 controller does and the eBPF
//! program is generated from the result. Both hosts then decide alike.

use crate::error::{Error, Result};
use oci_spec::runtime::LinuxDeviceCgroup;

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

pub fn rules(config: &[LinuxDeviceCgroup]) -> Result<Vec<Rule>> {
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

/// One entry of the v1 controller's exception list: a device pattern and
/// the access it grants (default deny) or refuses (default allow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exception {
    pub kind: Kind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

/// Where a rule list leaves the v1 device controller: a default and the
/// exceptions to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub default_allow: bool,
    pub exceptions: Vec<Exception>,
}

impl Policy {
    /// Replay `rules` as the v1 controller takes devices.allow and
    /// devices.deny writes. A rule of the default's own verdict only takes
    /// back access from an exception with the very same pattern: denying
    /// "c 1:3" after allowing "c 1:*" leaves 1:3 allowed on v1, and so it
    /// does here (runc refuses such a list instead; berth's v1 path has
    /// always handed it to the kernel, and both paths must agree).
    pub fn replay(rules: &[Rule]) -> Policy {
        let mut p = Policy {
            default_allow: true,
            exceptions: Vec::new(),
        };
        for r in rules {
            if r.kind == Kind::All {
                p.default_allow = r.allow;
                p.exceptions.clear();
                continue;
            }
            let pos = p
                .exceptions
                .iter()
                .position(|e| (e.kind, e.major, e.minor) == (r.kind, r.major, r.minor));
            if r.allow != p.default_allow {
                match pos {
                    Some(i) => p.exceptions[i].access |= r.access,
                    None => p.exceptions.push(Exception {
                        kind: r.kind,
                        major: r.major,
                        minor: r.minor,
                        access: r.access,
                    }),
                }
            } else if let Some(i) = pos {
                p.exceptions[i].access &= !r.access;
                if p.exceptions[i].access == 0 {
                    p.exceptions.remove(i);
                }
            }
        }
        p
    }

    /// Whether the v1 controller would let `access` through, as its
    /// permission check decides: with a default deny one exception must
    /// grant all of it; with a default allow any overlap refuses.
    #[cfg(test)]
    pub fn allows(&self, kind: Kind, major: u32, minor: u32, access: u8) -> bool {
        let hit = |e: &&Exception, need_all: bool| {
            (e.kind == Kind::All || e.kind == kind)
                && e.major.is_none_or(|m| m == major)
                && e.minor.is_none_or(|m| m == minor)
                && if need_all {
                    access & !e.access == 0
                } else {
                    access & e.access != 0
                }
        };
        if self.default_allow {
            !self.exceptions.iter().any(|e| hit(&e, false))
        } else {
            self.exceptions.iter().any(|e| hit(&e, true))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(json: &str) -> Vec<Rule> {
        let cfg: Vec<LinuxDeviceCgroup> = serde_json::from_str(json).unwrap();
        rules(&cfg).unwrap()
    }

    #[test]
    fn deny_all_then_config_then_defaults() {
        let cfg: Vec<LinuxDeviceCgroup> = serde_json::from_str(
            r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":10,"minor":229,"access":"r"}]"#,
        )
        .unwrap();
        let r = rules(&cfg).unwrap();
        let t: Vec<String> = r
            .iter()
            .map(|r| format!("{} {}", if r.allow { "allow" } else { "deny" }, r.v1_text()))
            .collect();
        // Only what the config says about 10:229: no rwm rule of berth's
        // own for a device it creates, which would widen "r".
        assert_eq!(t[..3], ["deny a", "deny a", "allow c 10:229 r"]);
        assert!(!t[3..].iter().any(|r| r.contains("10:229")), "{t:?}");
        assert!(t.contains(&"allow c 1:3 rwm".to_string()));
        assert!(t.contains(&"allow c 136:* rwm".to_string()));
        assert!(t.contains(&"allow c *:* m".to_string()));
    }

    #[test]
    fn bad_types_and_access_are_config_errors() {
        let cfg: Vec<LinuxDeviceCgroup> =
            serde_json::from_str(r#"[{"allow":true,"type":"c","access":"rx"}]"#).unwrap();
        let e = rules(&cfg).unwrap_err().to_string();
        assert!(e.contains("linux.resources.devices[0].access"), "{e}");
        let cfg: Vec<LinuxDeviceCgroup> =
            serde_json::from_str(r#"[{"allow":true,"type":"p"}]"#).unwrap();
        assert!(rules(&cfg).is_err());
    }

    #[test]
    fn the_default_policy_is_the_allowlist() {
        let p = Policy::replay(&list("[]"));
        assert!(!p.default_allow);
        assert_eq!(p.exceptions.len(), DEFAULT_ALLOW.len());
        assert!(p.allows(Kind::Char, 1, 3, READ | WRITE));
        assert!(p.allows(Kind::Char, 136, 4, READ | WRITE));
        assert!(p.allows(Kind::Block, 8, 0, MKNOD));
        assert!(!p.allows(Kind::Block, 8, 0, READ));
        assert!(!p.allows(Kind::Char, 10, 229, READ));
    }

    #[test]
    fn replay_follows_the_v1_controller() {
        // Denying a device the default already denies takes access back
        // from the exact exception only.
        let p = Policy::replay(&list(
            r#"[{"allow":true,"type":"c","major":10,"minor":229,"access":"rwm"},
                {"allow":false,"type":"c","major":10,"minor":229,"access":"w"},
                {"allow":true,"type":"c","major":4,"access":"r"},
                {"allow":false,"type":"c","major":4,"minor":1,"access":"r"}]"#,
        ));
        assert!(p.allows(Kind::Char, 10, 229, READ | MKNOD));
        assert!(!p.allows(Kind::Char, 10, 229, READ | WRITE));
        // No hole can be punched in a wildcard, on v1 or here.
        assert!(p.allows(Kind::Char, 4, 1, READ));
        // "allow a" turns the policy into a denylist and forgets the rest;
        // the defaults after it then only remove exact matches.
        let p = Policy::replay(&list(
            r#"[{"allow":true,"type":"c","major":99,"minor":1},
                {"allow":true},
                {"allow":false,"type":"c","major":1,"minor":3,"access":"w"},
                {"allow":false,"type":"b","access":"r"}]"#,
        ));
        assert!(p.default_allow);
        // The defaults' "c 1:3 rwm" allow removed the deny of its writes.
        assert_eq!(
            p.exceptions,
            [Exception {
                kind: Kind::Block,
                major: None,
                minor: None,
                access: READ
            }]
        );
        assert!(p.allows(Kind::Char, 1, 3, WRITE));
        assert!(!p.allows(Kind::Block, 8, 1, READ | WRITE));
        assert!(p.allows(Kind::Block, 8, 1, WRITE | MKNOD));
    }
}
