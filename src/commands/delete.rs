use super::Global;
use crate::cli::DeleteArgs;
use crate::error::{Error, Result, SysContext};
use crate::linux::sys;
use crate::state::{self, Container, Status};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::os::fd::AsFd;

/// How long delete --force waits for a busy container's lock once it has
/// killed what the holder was waiting on.
const BUSY_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

pub fn run(g: &Global, a: &DeleteArgs) -> Result<i32> {
    let c = if a.force {
        match force_lock(g, &a.id)? {
            Some(c) => c,
            None => return Ok(0),
        }
    } else {
        state::load(&g.root, &a.id, true)?
    };
    match c.status() {
        Status::Stopped => {}
        Status::Creating => unreachable!("we hold the lock a create would hold"),
        // runtime.md: deleting a container that is not stopped MUST fail,
        // a created one included (runc deletes that); --force kills first.
        Status::Created | Status::Running | Status::Paused if a.force => kill_and_wait(&c)?,
        s @ (Status::Created | Status::Running | Status::Paused) => {
            return Err(Error::msg(format!(
                "cannot delete container {} that is not stopped: {}",
                a.id,
                s.as_str()
            )));
        }
    }
    destroy(c)?;
    Ok(0)
}

/// The container, locked, for delete --force; None when there is nothing
/// to delete. Never waits unboundedly: when another command holds the
/// lock (a create stuck in a hook, a start waiting for READY=1), what it
/// waits on is killed, and the holder gets BUSY_LIMIT to give the lock
/// up (a create rolls back and takes the container with it).
fn force_lock(g: &Global, id: &str) -> Result<Option<Container>> {
    let c = match state::load(&g.root, id, false) {
        Ok(c) => c,
        // Engines delete --force after every exit: a missing container is fine.
        Err(_) if !g.root.join(id).exists() => return Ok(None),
        Err(e) => return Err(e),
    };
    if let Some(c) = state::lock_within(&g.root, id, std::time::Duration::ZERO)
        .ok()
        .flatten()
    {
        return Ok(Some(c));
    }
    super::kill::interrupt(&c, libc::SIGKILL);
    state::lock_within(&g.root, id, BUSY_LIMIT)
}

/// SIGKILL the init and wait (through its pidfd) until it has exited.
pub fn kill_and_wait(c: &Container) -> Result<()> {
    let Some(fd) = c.pidfd() else {
        return Ok(());
    };
    match sys::pidfd_send_signal(fd.as_fd(), libc::SIGKILL) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => return Err(Error::sys("kill", format!("container {}", c.saved.id), e)),
    }
    c.saved.cgroup.thaw_to_die()?;
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(10_000u16)) {
        Ok(0) => Err(Error::msg(format!(
            "container {} did not die after SIGKILL",
            c.saved.id
        ))),
        _ => Ok(()),
    }
}

/// Remove what a stopped container holds: its cgroups and state dir, then
/// run poststop hooks.
pub fn destroy(c: Container) -> Result<()> {
    c.saved.cgroup.destroy()?;
    std::fs::remove_dir_all(&c.dir).sys("remove state dir", c.dir.display())?;
    if let Some(h) = &c.saved.hooks
        && let Some(list) = h.poststop()
    {
        crate::hooks::run_all_warn("poststop", list, &c.oci_state("stopped"));
    }
    Ok(())
}
