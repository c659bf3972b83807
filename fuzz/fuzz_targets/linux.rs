//! berth's src/linux modules that the targets compile in (see config.rs):
//! what spec.rs's validation reaches, and what those reach in turn.

#[path = "../../src/linux/apparmor.rs"]
pub mod apparmor;
#[path = "../../src/linux/idmap.rs"]
pub mod idmap;
#[path = "../../src/linux/mounts.rs"]
pub mod mounts;
#[path = "../../src/linux/netdev.rs"]
pub mod netdev;
#[path = "../../src/linux/numa.rs"]
pub mod numa;
#[path = "../../src/linux/procfs.rs"]
pub mod procfs;
#[path = "../../src/linux/resctrl.rs"]
pub mod resctrl;
#[path = "../../src/linux/seccomp.rs"]
pub mod seccomp;
#[path = "../../src/linux/selinux.rs"]
pub mod selinux;
#[path = "../../src/linux/sys.rs"]
pub mod sys;
#[path = "../../src/linux/userns.rs"]
pub mod userns;
