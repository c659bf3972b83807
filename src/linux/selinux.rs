//! SELinux labels (`process.selinuxLabel`, `linux.mountLabel`, `exec
//! --process-label`). Where SELinux is off, runc ignores them (its label
//! library does nothing then), and so does berth, with a warning. Where
//! it is on, berth does not write labels yet and says so rather than run
//! the container unlabelled. Neither this host nor the test VM has it.

use crate::error::{Error, Result};

/// selinuxfs is mounted: the kernel enforces or audits SELinux.
pub fn enabled() -> bool {
    std::path::Path::new("/sys/fs/selinux/enforce").exists()
}

/// Decide about a label before anything is created.
pub fn check(field: &str, label: Option<&str>) -> Result<()> {
    let Some(l) = label.filter(|l| !l.is_empty()) else {
        return Ok(());
    };
    if enabled() {
        return Err(Error::config(
            field,
            format!("{l:?}: SELinux labels are not supported by this berth yet"),
        ));
    }
    crate::logging::warn(&format!(
        "{field} {l:?} ignored: SELinux is not enabled on this host (as runc does)"
    ));
    Ok(())
}
