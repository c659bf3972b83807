//! One file per kernel concern the container touches.

pub mod apparmor;
pub mod bindsrc;
pub mod bpf;
pub mod criu;
pub mod idmap;
pub mod mountinfo;
pub mod mounts;
pub mod namespaces;
pub mod netdev;
pub mod numa;
pub mod process;
pub mod procfs;
pub mod proctree;
pub mod program;
pub mod resctrl;
pub mod resolve;
pub mod rootfs;
pub mod seccomp;
pub mod selfcopy;
pub mod selinux;
pub mod sys;
pub mod trusted;
pub mod userns;
