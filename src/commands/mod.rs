//! One small file per subcommand.

pub mod check;
pub mod checkpoint;
pub mod completion;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod pause;
pub mod ps;
pub mod restore;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

use std::path::PathBuf;

/// A command's output, one line. When the reader has gone (EPIPE: `berth
/// list | head -1`) the command ends quietly, as `events` does and as a
/// Unix tool killed by SIGPIPE would (berth ignores SIGPIPE: a hook that
/// exits without reading its state must not kill create halfway). Any
/// other failure to write is an error.
pub fn print(line: &str) -> crate::error::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(crate::error::Error::sys(
            "write",
            "stdout",
            nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        )),
    }
}

/// Global flags every subcommand may need.
pub struct Global {
    pub root: PathBuf,
    /// --systemd-cgroup: new containers get a systemd unit. Later commands
    /// go by what the container's state says.
    pub systemd_cgroup: bool,
    /// --rootless true|false; None is auto, decided by `rootless()` only
    /// where it matters, since deciding reads /proc.
    pub rootless: Option<bool>,
    /// --criu: the criu binary for checkpoint and restore.
    pub criu: Option<String>,
}

impl Global {
    /// Whether cgroups the user may not write are skipped: as given, or
    /// auto-detected as runc does.
    pub fn rootless(&self) -> bool {
        self.rootless
            .unwrap_or_else(crate::linux::userns::rootless_auto)
    }
}
