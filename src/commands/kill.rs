use super::Global;
use crate::cli::KillArgs;
use crate::error::{Error, Result};
use crate::linux::sys;
use crate::state::{self, Status};
use nix::sys::signal::Signal;
use std::os::fd::AsFd;
use std::str::FromStr;

/// SIGTERM, TERM, term or 15; 0 asks only whether the container's
/// process is there (engines probe with it, as kill(1) does).
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return if (0..=64).contains(&n) {
            Ok(n)
        } else {
            Err(Error::msg(format!("invalid signal {s:?}")))
        };
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    Signal::from_str(&name)
        .map(|s| s as i32)
        .map_err(|_| Error::msg(format!("invalid signal {s:?}")))
}

pub fn run(g: &Global, a: &KillArgs) -> Result<i32> {
    let sig = parse_signal(&a.signal)?;
    let c = state::load(&g.root, &a.id, false)?;
    // A create still at work (a prestart hook that never returns, say)
    // holds the container's lock: kill takes none, and acts on what the
    // create runs for the container. The create then fails and rolls back.
    if c.being_created() {
        interrupt(&c, sig);
        return Ok(0);
    }
    if a.all {
        for pid in c.pids() {
            // libc::kill takes realtime signals too, which nix's Signal does not.
            // SAFETY: plain syscall with integer arguments.
            let r = unsafe { libc::kill(pid, sig) };
            if r != 0 && nix::errno::Errno::last() != nix::errno::Errno::ESRCH {
                return Err(Error::sys("kill", pid, nix::errno::Errno::last()));
            }
        }
        if sig == libc::SIGKILL {
            c.saved.cgroup.thaw_to_die()?;
        }
        return Ok(0);
    }
    if c.status() == Status::Stopped {
        return Err(Error::msg("container not running"));
    }
    let fd = c
        .pidfd()
        .ok_or_else(|| Error::msg("container not running"))?;
    sys::pidfd_send_signal(fd.as_fd(), sig)
        .map_err(|e| Error::sys("kill", format!("container {}", a.id), e))?;
    // Other signals wait for `resume`, as with runc.
    if sig == libc::SIGKILL {
        c.saved.cgroup.thaw_to_die()?;
    }
    Ok(0)
}

/// Signal what a busy container's lock holder (its create, start, ...)
/// runs on its behalf, and the container's init with all it started:
/// hooks, newuidmap, the init of a create, a startContainer hook. Not the
/// holder itself, which must live to roll back. Children before their
/// parents, each only while still its parent's (see `signal_child`).
pub fn interrupt(c: &state::Container, sig: i32) {
    // The init first: whatever the walks below meet (a container of
    // thousands of processes), what a start waits on ends at once.
    let init = c.pidfd();
    if let Some(fd) = &init {
        let _ = sys::pidfd_send_signal(fd.as_fd(), sig);
    }
    let mut targets = Vec::new();
    if init.is_some() {
        targets.extend(crate::linux::proctree::descendants(c.saved.pid));
    }
    let holders = state::lock_holders(&c.dir);
    for holder in &holders {
        targets.extend(crate::linux::proctree::descendants(*holder));
    }
    crate::logging::debug_with(|| {
        format!(
            "container {} is busy (lock held by {holders:?}): signal {sig} to its init and {targets:?}",
            c.saved.id
        )
    });
    for (pid, parent) in targets.iter().rev() {
        crate::linux::proctree::signal_child(*pid, *parent, sig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_or_number() {
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("hup").unwrap(), 1);
        assert!(parse_signal("NOPE").is_err());
        assert_eq!(parse_signal("0").unwrap(), 0);
        assert!(parse_signal("65").is_err());
        assert!(parse_signal("-1").is_err());
    }
}
