use super::{Global, print};
use crate::check::{self, Context};
use crate::cli::CheckArgs;
use crate::error::Result;

/// Print what this host lets containers do, and with --bundle what of
/// that config it cannot; exit 1 when something required is missing.
pub fn run(g: &Global, a: &CheckArgs) -> Result<i32> {
    let cx = Context {
        root: &g.root,
        criu: g.criu.as_deref(),
        systemd_cgroup: g.systemd_cgroup,
        rootless: g.rootless(),
    };
    let mut findings = check::host(&cx);
    if let Some(dir) = &a.bundle {
        findings.extend(check::bundle(&cx, dir, a.id.as_deref()));
    }
    if a.format == "json" {
        print(&check::json(&findings).to_string())?;
    } else {
        for f in &findings {
            print(&f.line())?;
        }
    }
    Ok(if check::passes(&findings) { 0 } else { 1 })
}
