use super::{Global, print};
use crate::check::{self, Context};
use crate::cli::CheckArgs;
use crate::error::Result;

/// Print what this host lets containers do; exit 1 when something every
/// container needs is missing.
pub fn run(g: &Global, a: &CheckArgs) -> Result<i32> {
    let findings = check::host(&Context {
        root: &g.root,
        criu: g.criu.as_deref(),
    });
    if a.format == "json" {
        print(&check::json(&findings).to_string())?;
    } else {
        for f in &findings {
            print(&f.line())?;
        }
    }
    Ok(if check::passes(&findings) { 0 } else { 1 })
}
