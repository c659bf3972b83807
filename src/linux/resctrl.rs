//! linux.intelRdt needs the resctrl filesystem (Intel RDT, AMD PQoS):
//! berth does not implement it, and says which of the two is missing.

use crate::error::Error;

/// Where resctrl is mounted, from /proc/self/mountinfo.
pub fn mount_point(mountinfo: &str) -> Option<String> {
    crate::linux::mountinfo::parse(mountinfo)
        .into_iter()
        .find(|m| m.fstype == "resctrl")
        .map(|m| m.mountpoint)
}

/// The error for a config that asks for intelRdt.
pub fn refuse() -> Error {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    match mount_point(&info) {
        None => Error::config(
            "linux.intelRdt",
            "needs the resctrl filesystem, which is not mounted on this host (no resctrl in /proc/self/mountinfo; the CPU or kernel may lack RDT, or mount -t resctrl resctrl /sys/fs/resctrl)",
        ),
        Some(at) => Error::config(
            "linux.intelRdt",
            format!("resctrl is mounted at {at}, but this berth does not implement intelRdt"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resctrl_is_found_by_type() {
        let info = "22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
                    40 22 0:36 / /sys/fs/resctrl rw,relatime shared:20 - resctrl resctrl rw\n";
        assert_eq!(mount_point(info).as_deref(), Some("/sys/fs/resctrl"));
        assert_eq!(mount_point("22 1 0:21 / /proc rw - proc proc rw\n"), None);
    }
}
