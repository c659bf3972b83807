//! One small file per subcommand.

pub mod checkpoint;
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
