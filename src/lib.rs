//! berth's runtime, as a library so that the fuzz targets (fuzz/) reach
//! the same code the binary runs. src/main.rs is the command line.

pub mod cgroups;
pub mod check;
pub mod checkpoint;
pub mod cli;
pub mod commands;
pub mod console;
pub mod dbus;
pub mod error;
pub mod hooks;
pub mod launch;
pub mod linux;
pub mod logging;
pub mod notify;
pub mod spec;
pub mod state;
#[cfg(test)]
mod tempdir;

pub const SPEC_VERSION: &str = "1.3.0";
pub const COMMIT: &str = env!("BERTH_COMMIT");
