//! process.apparmorProfile: the profile the container's program is
//! confined by, set "on exec" so that berth itself runs unconfined up to
//! the execve. Written through the verified host procfs handle, never a
//! path inside the container (CVE-2025-52881).

use crate::error::{Error, Result};
use crate::linux::procfs::Proc;

/// AppArmor is enforcing on this host: its securityfs directory is there
/// and the module says so (runc's test).
pub fn enabled() -> bool {
    std::path::Path::new("/sys/kernel/security/apparmor").is_dir()
        && std::fs::read("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|v| v.starts_with(b"Y"))
}

/// Refuse a profile where AppArmor cannot apply it, before anything is
/// created; a runtime that ran the program unconfined would be lying.
pub fn check(profile: Option<&str>) -> Result<()> {
    match profile {
        Some(p) if !p.is_empty() && !enabled() => Err(Error::config(
            "process.apparmorProfile",
            format!("{p:?}: AppArmor is not enabled on this host"),
        )),
        _ => Ok(()),
    }
}

/// Confine the next execve by `profile`. `proc` is a procfs of a pid
/// namespace this process is in, where "self" is this process.
pub fn apply_on_exec(proc: &Proc, profile: Option<&str>) -> Result<()> {
    let Some(p) = profile.filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let value = format!("exec {p}");
    // The per-LSM file first; kernels before 5.8 only have the shared one.
    proc.write("thread-self/attr/apparmor/exec", &value)
        .or_else(|_| proc.write("thread-self/attr/exec", &value))
        .map_err(|e| e.context(format!("process.apparmorProfile {p:?}")))
}
