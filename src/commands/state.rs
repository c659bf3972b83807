use super::Global;
use crate::error::Result;
use crate::state;

pub fn run(g: &Global, id: &str) -> Result<i32> {
    let c = state::load(&g.root, id, false)?;
    let doc = c.oci_state(c.status().as_str());
    super::print(&serde_json::to_string_pretty(&doc).unwrap_or_default())?;
    Ok(0)
}
