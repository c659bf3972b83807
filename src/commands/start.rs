use super::Global;
use crate::error::{Error, Result, SysContext};
use crate::state::{self, Status};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;

pub fn run(g: &Global, id: &str) -> Result<i32> {
    start(g, id)?;
    Ok(0)
}

/// Release a created container's init and, when there are hooks, wait
/// until it has exec'd the container's program (failing if it could not),
/// then run poststart hooks (the first to fail stops the container).
pub fn start(g: &Global, id: &str) -> Result<()> {
    let c = state::load(&g.root, id, true)?;
    match c.status() {
        Status::Created => {}
        Status::Running | Status::Paused => {
            return Err(Error::msg("cannot start an already running container"));
        }
        Status::Stopped => return Err(Error::msg("cannot start a container that has stopped")),
        Status::Creating => unreachable!("we hold the lock a create would hold"),
    }
    // Bound before the program can run, so that no READY=1 is lost.
    let notify = crate::notify::listen(&c.dir)?;
    let fifo = c.dir.join(state::FIFO);
    // Non-blocking: with no reader left the init is gone (ENXIO).
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&fifo)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENXIO) => Error::msg("cannot start a container that has stopped"),
            _ => Err::<(), _>(e).sys("open", fifo.display()).unwrap_err(),
        })?;
    f.write_all(b"0").sys("write", fifo.display())?;
    std::fs::remove_file(&fifo).sys("remove", fifo.display())?;
    crate::logging::debug(&format!("container {id} started"));
    let poststart = c
        .saved
        .hooks
        .as_ref()
        .and_then(|h| h.poststart().clone())
        .unwrap_or_default();
    let start_container = c
        .saved
        .hooks
        .as_ref()
        .and_then(|h| h.start_container().clone())
        .unwrap_or_default();
    if poststart.is_empty() && start_container.is_empty() {
        // Like runc, return once the init is released; only hooks need
        // the outcome: poststart runs after the exec, and a failed
        // startContainer hook must fail start.
        return wait_ready(notify, c);
    }
    // The init holds the only read end, close-on-exec: POLLERR on our
    // write end means it has exec'd (or died).
    loop {
        let mut fds = [PollFd::new(f.as_fd(), PollFlags::empty())];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("poll", fifo.display(), e)),
            Ok(_) => {
                if fds[0]
                    .revents()
                    .is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP))
                {
                    break;
                }
            }
        }
    }
    // The init writes why it stopped short of its program (a failed
    // startContainer hook) before it exits, so before POLLERR.
    let err_path = c.dir.join(state::START_ERROR);
    let why = std::fs::read_to_string(&err_path).unwrap_or_default();
    if !why.is_empty() {
        return Err(Error::msg(why));
    }
    // runtime-spec 1.3 (runtime.md, step 9): a failing poststart hook
    // fails start, stops the container and continues the lifecycle at
    // step 12: the container is destroyed and the poststop hooks run. Up
    // to 1.2 it was only a warning, but runc always failed, and the spec
    // followed.
    if let Err(e) = crate::hooks::run_all("poststart", &poststart, &c.oci_state("running")) {
        let undone = super::delete::kill_and_wait(&c).and_then(|()| super::delete::destroy(c));
        if let Err(k) = undone {
            crate::logging::warn(&k.to_string());
        }
        return Err(e);
    }
    wait_ready(notify, c)
}

/// With NOTIFY_SOCKET, start returns once the program says it is ready.
/// It waits without the lock: the container is running, and pause,
/// update or delete must not wait on a program that never says so.
fn wait_ready(notify: Option<crate::notify::Listener>, mut c: state::Container) -> Result<()> {
    let Some(n) = notify else {
        return Ok(());
    };
    c.unlock();
    let pidfd = c
        .pidfd()
        .ok_or_else(|| Error::msg("the container exited before it was ready"))?;
    n.forward_ready(c.saved.pid, pidfd.as_fd())
}
