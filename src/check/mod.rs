//! `berth check`: what this host lets containers do, found before a
//! create fails on it. Each finding says what was found, what it means
//! for containers and, where something is missing, what to do. A `fail`
//! is something every container needs; a `warn` is something some
//! configs need; `info` and `ok` are what the host has.
//!
//! The JSON form is stable, for engines and installers:
//! `{"ok": BOOL, "findings": [{"area", "check", "level", "found",
//! "means"?, "fix"?}]}`, `ok` false exactly when a finding is `fail`.

mod bundle;
mod host;

pub use bundle::bundle;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Info,
    Warn,
    Fail,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// cgroups, privileges, kernel or state.
    pub area: &'static str,
    /// What was looked at, within the area.
    pub check: &'static str,
    pub level: Level,
    pub found: String,
    /// What it means for containers.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub means: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fix: String,
}

impl Finding {
    pub fn new(area: &'static str, check: &'static str, level: Level, found: String) -> Finding {
        Finding {
            area,
            check,
            level,
            found,
            means: String::new(),
            fix: String::new(),
        }
    }
    pub fn means(mut self, m: impl Into<String>) -> Finding {
        self.means = m.into();
        self
    }
    pub fn fix(mut self, f: impl Into<String>) -> Finding {
        self.fix = f.into();
        self
    }

    /// One line: level, area/check, what was found, what it means, what
    /// to do.
    pub fn line(&self) -> String {
        let mut s = format!(
            "{:<4} {}/{}: {}",
            self.level.word(),
            self.area,
            self.check,
            self.found
        );
        if !self.means.is_empty() {
            s.push_str(" -- ");
            s.push_str(&self.means);
        }
        if !self.fix.is_empty() {
            s.push_str(" -- fix: ");
            s.push_str(&self.fix);
        }
        s
    }
}

/// What berth needs to know of the caller to judge the host.
pub struct Context<'a> {
    pub root: &'a std::path::Path,
    pub criu: Option<&'a str>,
    /// --systemd-cgroup: a bundle's cgroup would be a systemd unit.
    pub systemd_cgroup: bool,
    /// Cgroups the user may not write would be skipped.
    pub rootless: bool,
}

/// Every finding about the host.
pub fn host(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    host::cgroups(&mut out);
    host::privileges(&mut out);
    host::kernel(cx, &mut out);
    host::state_root(cx, &mut out);
    out
}

/// Whether containers can run, given these findings.
pub fn passes(findings: &[Finding]) -> bool {
    !findings.iter().any(|f| f.level == Level::Fail)
}

pub fn json(findings: &[Finding]) -> serde_json::Value {
    serde_json::json!({"ok": passes(findings), "findings": findings})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_what_it_means_and_what_to_do() {
        let f = Finding::new("privileges", "bounding", Level::Warn, "no CAP_X".into())
            .means("y fails")
            .fix("do z");
        assert_eq!(
            f.line(),
            "warn privileges/bounding: no CAP_X -- y fails -- fix: do z"
        );
        let j = json(std::slice::from_ref(&f));
        assert_eq!(j["ok"], true);
        assert_eq!(j["findings"][0]["level"], "warn");
        assert_eq!(j["findings"][0]["fix"], "do z");
        let ok = Finding::new("kernel", "pidfd", Level::Ok, "yes".into());
        assert!(ok.line().starts_with("ok   kernel/pidfd: yes"));
        assert!(json(&[ok])["findings"][0].get("means").is_none());
        let bad = Finding::new("cgroups", "layout", Level::Fail, "none".into());
        assert!(!passes(&[f, bad]));
    }
}
