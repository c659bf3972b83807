use super::Global;
use crate::error::{Error, Result};
use crate::state::{self, Status};

/// Freeze every process of a running container (v1 freezer or v2
/// cgroup.freeze).
pub fn pause(g: &Global, id: &str) -> Result<i32> {
    let c = state::load(&g.root, id, true)?;
    match c.status() {
        Status::Running => {}
        Status::Paused => return Err(Error::msg(format!("container {id} is already paused"))),
        s => {
            return Err(Error::msg(format!(
                "container {id} is not running: {}",
                s.as_str()
            )));
        }
    }
    c.saved.cgroup.freeze(true)?;
    Ok(0)
}

pub fn resume(g: &Global, id: &str) -> Result<i32> {
    let c = state::load(&g.root, id, true)?;
    match c.status() {
        Status::Paused => {}
        s => {
            return Err(Error::msg(format!(
                "container {id} is not paused: {}",
                s.as_str()
            )));
        }
    }
    c.saved.cgroup.freeze(false)?;
    Ok(0)
}
