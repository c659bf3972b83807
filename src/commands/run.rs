use super::Global;
use crate::cli::RunArgs;
use crate::error::{Error, Result, SysContext};
use crate::linux::sys;
use crate::state;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use std::os::fd::AsFd;

/// create + start; in the foreground, forward signals to the container,
/// wait for it, delete it (unless --keep) and exit with its status
/// (128+N when killed by signal N).
pub fn run(g: &Global, a: &RunArgs) -> Result<i32> {
    // Block every signal before the init exists, so none is lost between
    // its birth and our wait; the init unblocks them before exec.
    let all = SigSet::all();
    let mut old = SigSet::empty();
    if !a.detach {
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), Some(&mut old))
            .sys("sigprocmask", "block")?;
    }
    // A foreground run with a terminal and no console socket relays the
    // pty itself: the init sends the master to our end of a socketpair.
    let pair = if !a.detach && a.create.console_socket.is_none() {
        Some(crate::console::local_pair()?)
    } else {
        None
    };
    let mut opts = super::create::options(g, &a.create);
    opts.console_fd = pair.as_ref().map(|(_, theirs)| theirs);
    let created = crate::launch::create(&opts)?;
    let master = match &pair {
        Some((ours, _)) if created.terminal => match crate::console::receive_master(ours) {
            Ok(m) => Some(m),
            Err(e) => {
                cleanup_or_kill(g, &a.create.id, &created.pidfd);
                return Err(e);
            }
        },
        _ => None,
    };
    drop(pair);
    if let Err(e) = super::start::start(g, &a.create.id) {
        cleanup_or_kill(g, &a.create.id, &created.pidfd);
        return Err(e);
    }
    if a.detach {
        return Ok(0);
    }
    let code = match master {
        Some(m) => crate::console::relay_and_wait(m, created.pid, created.pidfd.as_fd()),
        None => forward_and_wait(created.pid, &created.pidfd),
    };
    if !a.keep {
        cleanup(g, &a.create.id);
    }
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None).sys("sigprocmask", "restore")?;
    code
}

pub fn cleanup(g: &Global, id: &str) {
    if let Ok(c) = state::load(&g.root, id, true) {
        let _ = super::delete::kill_and_wait(&c);
        if let Err(e) = super::delete::destroy(c) {
            crate::logging::warn(&e.to_string());
        }
    }
}

/// `cleanup`, and if the container's record cannot be read (the very
/// failure that ended the run may be that), its init is killed all the
/// same through the handle create gave us: nothing of ours runs on.
fn cleanup_or_kill(g: &Global, id: &str, init: &std::os::fd::OwnedFd) {
    if state::load(&g.root, id, false).is_err() {
        let _ = crate::linux::sys::pidfd_send_signal(init.as_fd(), libc::SIGKILL);
    }
    cleanup(g, id);
}

/// Forward every signal to `pid` (through its pidfd) until it exits;
/// its exit status, or 128+N when killed by signal N.
pub fn forward_and_wait(pid: i32, pidfd: &std::os::fd::OwnedFd) -> Result<i32> {
    let all = SigSet::all();
    loop {
        let sig = all.wait().sys("sigwait", "")?;
        if sig == Signal::SIGCHLD {
            loop {
                match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::Exited(p, code)) if p.as_raw() == pid => return Ok(code),
                    Ok(WaitStatus::Signaled(p, s, _)) if p.as_raw() == pid => {
                        return Ok(128 + s as i32);
                    }
                    Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => break,
                    Ok(_) => continue,
                    Err(e) => return Err(Error::sys("wait", "container init", e)),
                }
            }
        } else {
            // The init may already be gone; its exit comes as SIGCHLD.
            let _ = sys::pidfd_send_signal(pidfd.as_fd(), sig as i32);
        }
    }
}
