//! linux.memoryPolicy: the NUMA memory policy of the container's process
//! (set_mempolicy). A task's policy survives fork and execve, so the init
//! sets it on itself just before the exec and the program starts with it.

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxMemoryPolicy, MemoryPolicyFlagType, MemoryPolicyModeType};

/// Node numbers beyond this are refused before the kernel sees them (its
/// own limit, MAX_NUMNODES, is at most 1024 on x86_64).
const MAX_NODES: u32 = 1024;

const MPOL_F_STATIC_NODES: i32 = 1 << 15;
const MPOL_F_RELATIVE_NODES: i32 = 1 << 14;
const MPOL_F_NUMA_BALANCING: i32 = 1 << 13;

/// The modes and flags berth knows, for `berth features`.
pub const MODES: [&str; 7] = [
    "MPOL_DEFAULT",
    "MPOL_PREFERRED",
    "MPOL_BIND",
    "MPOL_INTERLEAVE",
    "MPOL_LOCAL",
    "MPOL_PREFERRED_MANY",
    "MPOL_WEIGHTED_INTERLEAVE",
];
pub const FLAGS: [&str; 3] = [
    "MPOL_F_NUMA_BALANCING",
    "MPOL_F_RELATIVE_NODES",
    "MPOL_F_STATIC_NODES",
];

/// set_mempolicy's arguments, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The mode with its flags or'ed in, as the syscall takes it.
    mode: i32,
    /// The node mask, 64 nodes a word; empty for none.
    mask: Vec<u64>,
}

fn mode_number(m: MemoryPolicyModeType) -> i32 {
    use MemoryPolicyModeType::*;
    // The kernel's enum order (include/uapi/linux/mempolicy.h).
    match m {
        MpolDefault => 0,
        MpolPreferred => 1,
        MpolBind => 2,
        MpolInterleave => 3,
        MpolLocal => 4,
        MpolPreferredMany => 5,
        MpolWeightedInterleave => 6,
    }
}

/// "0-3,7" to a node mask.
fn parse_nodes(s: &str) -> Result<Vec<u64>> {
    let field = "linux.memoryPolicy.nodes";
    let mut mask = Vec::new();
    for r in crate::linux::process::id_list(s, field, "node")? {
        if *r.end() >= MAX_NODES as usize {
            return Err(Error::config(
                field,
                format!("node {} is beyond {}", r.end(), MAX_NODES - 1),
            ));
        }
        for n in r {
            let w = n / 64;
            if mask.len() <= w {
                mask.resize(w + 1, 0);
            }
            mask[w] |= 1 << (n % 64);
        }
    }
    Ok(mask)
}

/// Check the config the way the kernel will, so that a wrong one fails
/// before anything is created.
pub fn plan(p: &LinuxMemoryPolicy) -> Result<Policy> {
    use MemoryPolicyModeType::*;
    let mode = p.mode();
    let mask = match p.nodes().as_deref().map(str::trim) {
        None | Some("") => Vec::new(),
        Some(s) => parse_nodes(s)?,
    };
    let mut flags = 0;
    for f in p.flags().iter().flatten() {
        flags |= match f {
            MemoryPolicyFlagType::MpolFNumaBalancing => MPOL_F_NUMA_BALANCING,
            MemoryPolicyFlagType::MpolFRelativeNodes => MPOL_F_RELATIVE_NODES,
            MemoryPolicyFlagType::MpolFStaticNodes => MPOL_F_STATIC_NODES,
        };
    }
    match mode {
        MpolDefault | MpolLocal if !mask.is_empty() => {
            return Err(Error::config(
                "linux.memoryPolicy.nodes",
                format!("{mode} takes no nodes"),
            ));
        }
        MpolDefault if flags != 0 => {
            return Err(Error::config(
                "linux.memoryPolicy.flags",
                "MPOL_DEFAULT takes no flags",
            ));
        }
        MpolBind | MpolInterleave | MpolWeightedInterleave | MpolPreferredMany
            if mask.is_empty() =>
        {
            return Err(Error::config(
                "linux.memoryPolicy.nodes",
                format!("{mode} needs nodes"),
            ));
        }
        _ => {}
    }
    if flags & MPOL_F_STATIC_NODES != 0 && flags & MPOL_F_RELATIVE_NODES != 0 {
        return Err(Error::config(
            "linux.memoryPolicy.flags",
            "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other",
        ));
    }
    Ok(Policy {
        mode: mode_number(mode) | flags,
        mask,
    })
}

/// set_mempolicy for this process (and so for what it execs).
pub fn apply(p: &Policy) -> Result<()> {
    let (ptr, maxnode) = if p.mask.is_empty() {
        (std::ptr::null(), 0)
    } else {
        // The kernel reads maxnode - 1 bits.
        (p.mask.as_ptr(), p.mask.len() * 64 + 1)
    };
    // SAFETY: ptr is null or points at mask's words, which cover the
    // maxnode - 1 bits the kernel reads; mask outlives the call.
    let r = unsafe { libc::syscall(libc::SYS_set_mempolicy, p.mode, ptr, maxnode) };
    nix::errno::Errno::result(r).map(drop).map_err(|e| {
        let hint = if e == nix::errno::Errno::EINVAL {
            " (a node that is offline or outside the container's cpuset.mems, or a flag this mode or kernel does not take)"
        } else {
            ""
        };
        Error::sys("set_mempolicy", "linux.memoryPolicy", e).context(format!("memory policy{hint}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pol(json: &str) -> Result<Policy> {
        plan(&serde_json::from_str(json).unwrap())
    }

    #[test]
    fn nodes_and_flags_become_the_syscall_arguments() {
        let p =
            pol(r#"{"mode":"MPOL_INTERLEAVE","nodes":"0-2,65","flags":["MPOL_F_STATIC_NODES"]}"#)
                .unwrap();
        assert_eq!(p.mode, 3 | MPOL_F_STATIC_NODES);
        assert_eq!(p.mask, vec![0b111, 0b10]);
        assert_eq!(
            pol(r#"{"mode":"MPOL_LOCAL"}"#).unwrap().mask,
            Vec::<u64>::new()
        );
    }

    #[test]
    fn wrong_policies_are_refused() {
        for (json, words) in [
            (r#"{"mode":"MPOL_BIND"}"#, "needs nodes"),
            (r#"{"mode":"MPOL_DEFAULT","nodes":"0"}"#, "takes no nodes"),
            (r#"{"mode":"MPOL_BIND","nodes":"3-1"}"#, "backwards"),
            (r#"{"mode":"MPOL_BIND","nodes":"x"}"#, "not a node"),
            (r#"{"mode":"MPOL_BIND","nodes":"4096"}"#, "beyond"),
            (
                r#"{"mode":"MPOL_BIND","nodes":"0","flags":["MPOL_F_STATIC_NODES","MPOL_F_RELATIVE_NODES"]}"#,
                "exclude each other",
            ),
        ] {
            let e = pol(json).unwrap_err().to_string();
            assert!(
                e.contains("linux.memoryPolicy") && e.contains(words),
                "{json}: {e}"
            );
        }
    }
}
