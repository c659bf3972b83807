use super::Global;
use crate::cli::PsArgs;
use crate::error::{Error, Result};
use crate::state;

/// The container's processes: `--format json` prints the pids as a JSON
/// array (and nothing on stderr: engines read both streams together);
/// the table is ps(1)'s output cut to the container's processes.
pub fn run(g: &Global, a: &PsArgs) -> Result<i32> {
    let c = state::load(&g.root, &a.id, false)?;
    let pids = c.pids();
    if a.format == "json" {
        super::print(&serde_json::to_string(&pids).unwrap_or_else(|_| "[]".into()))?;
        return Ok(0);
    }
    let args = if a.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        a.ps_args.clone()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| Error::msg(format!("run ps: {e}")))?;
    if !out.status.success() {
        return Err(Error::msg(format!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::msg("ps output has no PID column"))?;
    super::print(header)?;
    for l in lines {
        let pid = l
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            super::print(l)?;
        }
    }
    Ok(0)
}
