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
}
