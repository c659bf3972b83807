use super::Global;
use crate::checkpoint::{self, Paths, Restore};
use crate::cli::RestoreArgs;
use crate::error::{Error, Result, SysContext};
use crate::linux::criu::Criu;
use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
use std::os::fd::AsFd;

/// Restore a container; in the foreground (without --detach), forward
/// signals to it (and relay its terminal when no console socket took
/// it), wait, delete it and exit with its status, as `run`.
pub fn run(g: &Global, a: &RestoreArgs) -> Result<i32> {
    if a.criu.help {
        return super::checkpoint::help(g, "restore");
    }
    let id = a.id.as_deref().expect("clap: id required without --help");
    if a.no_pivot {
        return Err(Error::msg(
            "--no-pivot is not supported: CRIU restores the mount namespace with pivot_root",
        ));
    }
    let o = Restore {
        id,
        bundle: &a.bundle,
        paths: Paths::new(a.criu.image_path.as_deref(), a.criu.work_path.as_deref())?,
        pid_file: a.pid_file.as_deref(),
        options: super::checkpoint::options(&a.criu, false)?,
        rootless: g.rootless(),
        systemd_cgroup: g.systemd_cgroup,
        console_socket: a.console_socket.as_deref(),
        detach: a.detach,
    };
    let all = SigSet::all();
    let mut old = SigSet::empty();
    if !a.detach {
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), Some(&mut old))
            .sys("sigprocmask", "block")?;
    }
    let r = checkpoint::restore(&g.root, &Criu::new(g.criu.as_deref()), &o)?;
    if a.detach {
        return Ok(0);
    }
    let code = match r.master {
        Some(m) => crate::console::relay_and_wait(m, r.pid, r.pidfd.as_fd()),
        None => super::run::forward_and_wait(r.pid, &r.pidfd),
    };
    super::run::cleanup(g, id);
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None).sys("sigprocmask", "restore")?;
    code
}
