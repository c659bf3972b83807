//! The device cgroup policy: deny everything, then the config's rules in
//! order, then the devices every container needs (runc's allowlist).

use oci_spec::runtime::LinuxDeviceCgroup;

/// One rule in the v1 text form, e.g. "c 1:3 rwm", and whether it allows.
pub struct Rule {
    pub allow: bool,
    pub text: String,
}

fn text(kind: &str, major: Option<i64>, minor: Option<i64>, access: &str) -> String {
    let n = |v: Option<i64>| {
        v.filter(|v| *v >= 0)
            .map_or("*".to_string(), |v| v.to_string())
    };
    if kind == "a" {
        return "a".into();
    }
    format!("{kind} {}:{} {access}", n(major), n(minor))
}

/// Character devices a container always gets: null, zero, full, random,
/// urandom, tty, console, ptmx and the pts slaves, plus mknod of anything
/// (creating a node is harmless when opening it is denied).
const DEFAULT_ALLOW: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
    "c 10:200 rwm",
];

pub fn rules(
    config: &[LinuxDeviceCgroup],
    devices: &[oci_spec::runtime::LinuxDevice],
) -> Vec<Rule> {
    let mut out = vec![Rule {
        allow: false,
        text: "a".into(),
    }];
    for r in config {
        let kind = r.typ().map_or("a".to_string(), |t| t.as_str().to_string());
        let access = r.access().as_deref().unwrap_or("rwm");
        out.push(Rule {
            allow: r.allow(),
            text: text(&kind, r.major(), r.minor(), access),
        });
    }
    for d in devices {
        let kind = match d.typ().as_str() {
            "u" => "c".to_string(),
            k => k.to_string(),
        };
        if kind != "p" {
            out.push(Rule {
                allow: true,
                text: text(&kind, Some(d.major()), Some(d.minor()), "rwm"),
            });
        }
    }
    out.extend(DEFAULT_ALLOW.iter().map(|t| Rule {
        allow: true,
        text: t.to_string(),
    }));
    out
}

/// One device access an allow list grants: type 'c' or 'b', None for a
/// wildcard number, and the permissions, a subset of "rwm" in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub kind: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub perms: String,
}

/// What a rule list comes to once every rule has been applied in order,
/// as the v1 kernel would: for consumers that only take an end result
/// (systemd's DevicePolicy/DeviceAllow).
#[derive(Debug, PartialEq, Eq)]
pub enum Policy {
    /// Every device, every access.
    AllowAll,
    /// Nothing but these.
    Only(Vec<Access>),
    /// Everything except some devices: systemd cannot say that.
    AllExcept(Vec<Access>),
}

fn parse_rule(text: &str) -> Option<Access> {
    if text == "a" {
        return None;
    }
    let mut parts = text.split(' ');
    let kind = parts.next()?.chars().next()?;
    let (major, minor) = parts.next()?.split_once(':')?;
    let num = |s: &str| s.parse::<i64>().ok();
    Some(Access {
        kind,
        major: num(major),
        minor: num(minor),
        perms: parts.next().unwrap_or("rwm").to_string(),
    })
}

/// `a` covers `b`: same or wildcard type and numbers.
fn covers(a: &Access, b: &Access) -> bool {
    (a.kind == 'a' || a.kind == b.kind)
        && (a.major.is_none() || a.major == b.major)
        && (a.minor.is_none() || a.minor == b.minor)
}

/// Apply the rules in order: "a" resets to deny-all or allow-all; a rule
/// that goes against the default adds an exception (merging permissions
/// into an identical one); a rule that goes with it takes its permissions
/// away from the exceptions it covers.
pub fn effective(rules: &[Rule]) -> Policy {
    let mut default_allow = false;
    let mut exceptions: Vec<Access> = Vec::new();
    for r in rules {
        let Some(a) = parse_rule(&r.text) else {
            default_allow = r.allow;
            exceptions.clear();
            continue;
        };
        if r.allow != default_allow {
            match exceptions
                .iter_mut()
                .find(|e| (e.kind, e.major, e.minor) == (a.kind, a.major, a.minor))
            {
                Some(e) => {
                    e.perms = "rwm"
                        .chars()
                        .filter(|c| e.perms.contains(*c) || a.perms.contains(*c))
                        .collect()
                }
                None => exceptions.push(a),
            }
        } else {
            for e in exceptions.iter_mut().filter(|e| covers(&a, e)) {
                e.perms.retain(|c| !a.perms.contains(c));
            }
            exceptions.retain(|e| !e.perms.is_empty());
        }
    }
    match (default_allow, exceptions.is_empty()) {
        (true, true) => Policy::AllowAll,
        (true, false) => Policy::AllExcept(exceptions),
        (false, _) => Policy::Only(exceptions),
    }
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
        let r = rules(&cfg, &devs);
        let t: Vec<String> = r
            .iter()
            .map(|r| format!("{} {}", if r.allow { "allow" } else { "deny" }, r.text))
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
    }

    fn rule(allow: bool, text: &str) -> Rule {
        Rule {
            allow,
            text: text.into(),
        }
    }

    #[test]
    fn the_effective_policy_follows_the_rules_in_order() {
        let p = effective(&[
            rule(false, "a"),
            rule(true, "c 1:3 rw"),
            rule(true, "c 1:3 m"),
            rule(true, "c 10:229 rwm"),
            rule(false, "c 10:229 w"),
            rule(true, "b *:* m"),
            rule(true, "c 5:1 r"),
            rule(false, "c *:* r"),
        ]);
        let a = |kind, major, minor, perms: &str| Access {
            kind,
            major,
            minor,
            perms: perms.into(),
        };
        assert_eq!(
            p,
            Policy::Only(vec![
                a('c', Some(1), Some(3), "wm"),
                a('c', Some(10), Some(229), "m"),
                a('b', None, None, "m"),
            ])
        );
        assert_eq!(
            effective(&[rule(false, "a"), rule(true, "a")]),
            Policy::AllowAll
        );
        assert!(matches!(
            effective(&[rule(true, "a"), rule(false, "c 1:3 rwm")]),
            Policy::AllExcept(_)
        ));
    }

    #[test]
    fn berths_default_rules_come_to_an_allow_list() {
        let Policy::Only(list) = effective(&rules(&[], &[])) else {
            panic!("not an allow list");
        };
        assert_eq!(list.len(), DEFAULT_ALLOW.len());
        assert!(list.contains(&Access {
            kind: 'c',
            major: Some(136),
            minor: None,
            perms: "rwm".into()
        }));
    }
}
