use super::Global;
use crate::cli::KillArgs;
use crate::error::{Error, Result};
use crate::linux::sys;
use crate::state::{self, Status};
use nix::sys::signal::Signal;
use std::os::fd::AsFd;
use std::str::FromStr;

/// SIGTERM, TERM, term or 15.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=64).contains(&n) {
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
    if a.all {
        for pid in c.pids() {
            // libc::kill takes realtime signals too, which nix's Signal does not.
            // SAFETY: plain syscall with integer arguments.
            let r = unsafe { libc::kill(pid, sig) };
            if r != 0 && nix::errno::Errno::last() != nix::errno::Errno::ESRCH {
                return Err(Error::sys("kill", pid, nix::errno::Errno::last()));
            }
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
    Ok(0)
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
        assert!(parse_signal("0").is_err());
    }
}
