//! berth's src/linux modules that the targets compile in (see config.rs).

#[path = "../../src/linux/mounts.rs"]
pub mod mounts;
#[path = "../../src/linux/seccomp.rs"]
pub mod seccomp;
#[path = "../../src/linux/sys.rs"]
pub mod sys;
