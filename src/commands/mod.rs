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
    /// --rootless (or its auto-detection): cgroups the user may not write
    /// are skipped.
    pub rootless: bool,
    /// --criu: the criu binary for checkpoint and restore.
    pub criu: Option<String>,
}
