//! The ENOSYS prologue: classic BPF put in front of libseccomp's program
//! so that syscalls newer than a profile fail with ENOSYS (libc then falls
//! back, as glibc does from clone3 to clone) instead of the default action.

use super::{INSN_SIZE, name};
use libseccomp::{ScmpAction, ScmpArch, ScmpSyscall};
use oci_spec::runtime::LinuxSeccomp;
use std::str::FromStr;

/// The prologue for profile `s` with default action `default`: empty
/// when syscalls newer than the profile need no ENOSYS.
pub(super) fn prologue(
    s: &LinuxSeccomp,
    default: &ScmpAction,
) -> std::result::Result<Vec<u8>, String> {
    if newer_is_enosys(default) {
        enosys_stub(&newest_per_arch(s))
    } else {
        Ok(Vec::new())
    }
}

/// Whether syscalls newer than the profile should fail with ENOSYS rather
/// than the default action. A profile is written against the syscalls that
/// existed then; one the kernel (or libseccomp) gained since is one the
/// profile could not have allowed, and the default errno (EPERM, usually)
/// would make libc treat it as refused instead of falling back: glibc
/// tries clone3 and falls back to clone only on ENOSYS. Permissive
/// defaults (allow, log, and trace, whose tracer handles new syscalls
/// itself) let new syscalls through already; a default of ENOSYS needs
/// nothing more.
fn newer_is_enosys(default: &ScmpAction) -> bool {
    match default {
        ScmpAction::Allow | ScmpAction::Log | ScmpAction::Trace(_) => false,
        ScmpAction::Errno(e) => *e != libc::ENOSYS,
        _ => true,
    }
}

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// x32 shares AUDIT_ARCH_X86_64 and marks its syscall numbers with this.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// The kernel's name for a libseccomp architecture (AUDIT_ARCH_*), which
/// is what seccomp_data.arch holds. Architectures not listed here get no
/// ENOSYS treatment: their syscalls go straight to the profile.
fn audit_arch(a: ScmpArch) -> Option<u32> {
    Some(match a {
        ScmpArch::X8664 | ScmpArch::X32 => AUDIT_ARCH_X86_64,
        ScmpArch::X86 => 0x4000_0003,
        ScmpArch::Aarch64 => 0xC000_00B7,
        ScmpArch::Arm => 0x4000_0028,
        ScmpArch::Riscv64 => 0xC000_00F3,
        ScmpArch::Ppc64Le => 0xC000_0015,
        ScmpArch::Ppc64 => 0x8000_0015,
        ScmpArch::Ppc => 0x0000_0014,
        ScmpArch::Loongarch64 => 0xC000_0102,
        _ => return None,
    })
}

/// Which syscall numbers one ENOSYS check covers on an architecture: x86_64
/// and x32 share one AUDIT_ARCH and are told apart by X32_SYSCALL_BIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Abi {
    All,
    X32BitClear,
    X32BitSet,
}

/// The highest syscall number the profile names, per architecture and ABI
/// (whatever the rule's action: a syscall the profile mentions is one its
/// author knew of). Names libseccomp does not know are not counted.
fn newest_per_arch(s: &LinuxSeccomp) -> Vec<(u32, Abi, u32)> {
    let mut archs: Vec<ScmpArch> = s
        .architectures()
        .iter()
        .flatten()
        .filter_map(|a| ScmpArch::from_str(&name(a)).ok())
        .map(|a| {
            if a == ScmpArch::Native {
                ScmpArch::native()
            } else {
                a
            }
        })
        .collect();
    // libseccomp's filter always has the native architecture (listed or
    // not), so the profile's rules, and its horizon, apply there too.
    archs.push(ScmpArch::native());
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for arch in archs {
        if seen.contains(&arch) {
            continue;
        }
        seen.push(arch);
        let Some(audit) = audit_arch(arch) else {
            continue;
        };
        let abi = match arch {
            ScmpArch::X8664 => Abi::X32BitClear,
            ScmpArch::X32 => Abi::X32BitSet,
            _ => Abi::All,
        };
        let newest = s
            .syscalls()
            .iter()
            .flatten()
            .flat_map(|r| r.names())
            .filter_map(|n| ScmpSyscall::from_name_by_arch(n, arch).ok())
            .map(i32::from)
            .filter(|nr| *nr >= 0)
            .max();
        if let Some(nr) = newest {
            out.push((audit, abi, nr as u32));
        }
    }
    out
}

/// Classic BPF, as much of it as the stub needs, with symbolic targets.
#[derive(Clone, Copy)]
enum Op {
    LoadNr,
    LoadArch,
    /// Jump to .1 if A == k, else fall through.
    IfArch(u32, usize),
    /// Jump to the first target if A > k, else to the second.
    IfAbove(u32, Target, Target),
    /// Jump to the first target if A & k, else to the second.
    IfBits(u32, Target, Target),
    Goto(Target),
    Enosys,
}

#[derive(Clone, Copy)]
enum Target {
    /// The n-th instruction of the stub.
    At(usize),
    Enosys,
    /// The first instruction of libseccomp's program, right after the stub.
    Filter,
}

/// The program that goes in front of libseccomp's: per architecture the
/// profile covers, a syscall number above the newest it names returns
/// ENOSYS; everything else falls through to the profile unchanged.
///
/// ```text
///     ld  [arch]
///     jeq ARCH_1, sec_1          (one per architecture)
///     ja  filter
/// sec_1:
///     ld  [nr]
///     jset X32_SYSCALL_BIT, ..   (x86_64 and x32 only)
///     jgt NEWEST, enosys, filter
///     ...
/// enosys:
///     ret ERRNO(ENOSYS)
/// filter:
///     (libseccomp's program)
/// ```
fn enosys_stub(newest: &[(u32, Abi, u32)]) -> std::result::Result<Vec<u8>, String> {
    let mut audits: Vec<u32> = Vec::new();
    for (a, _, _) in newest {
        if !audits.contains(a) {
            audits.push(*a);
        }
    }
    if audits.is_empty() {
        return Ok(Vec::new());
    }
    // Sections first, then the dispatch that jumps to them.
    let dispatch_len = 1 + audits.len() + 1;
    let mut sections: Vec<Op> = Vec::new();
    let mut starts = Vec::new();
    for audit in &audits {
        starts.push(dispatch_len + sections.len());
        let here = |sections: &Vec<Op>, n: usize| Target::At(dispatch_len + sections.len() + n);
        let max = |abi: Abi| {
            newest
                .iter()
                .find(|n| n.0 == *audit && n.1 == abi)
                .map(|n| n.2)
        };
        sections.push(Op::LoadNr);
        match (max(Abi::X32BitClear), max(Abi::X32BitSet), max(Abi::All)) {
            (Some(x64), Some(x32), _) => {
                let x32_check = here(&sections, 2);
                let x64_check = here(&sections, 1);
                sections.push(Op::IfBits(X32_SYSCALL_BIT, x32_check, x64_check));
                sections.push(Op::IfAbove(x64, Target::Enosys, Target::Filter));
                sections.push(Op::IfAbove(x32, Target::Enosys, Target::Filter));
            }
            (Some(x64), None, _) => {
                // x32 calls are the profile's to refuse (as a bad arch).
                let check = here(&sections, 1);
                sections.push(Op::IfBits(X32_SYSCALL_BIT, Target::Filter, check));
                sections.push(Op::IfAbove(x64, Target::Enosys, Target::Filter));
            }
            (None, Some(x32), _) => {
                let check = here(&sections, 1);
                sections.push(Op::IfBits(X32_SYSCALL_BIT, check, Target::Filter));
                sections.push(Op::IfAbove(x32, Target::Enosys, Target::Filter));
            }
            (None, None, Some(all)) => {
                sections.push(Op::IfAbove(all, Target::Enosys, Target::Filter));
            }
            (None, None, None) => sections.push(Op::Goto(Target::Filter)),
        }
    }
    let mut ops = vec![Op::LoadArch];
    ops.extend(audits.iter().zip(&starts).map(|(a, s)| Op::IfArch(*a, *s)));
    ops.push(Op::Goto(Target::Filter));
    ops.extend(sections);
    let enosys_at = ops.len();
    ops.push(Op::Enosys);
    let filter_at = ops.len();
    assemble(&ops, enosys_at, filter_at)
}

fn assemble(
    ops: &[Op],
    enosys_at: usize,
    filter_at: usize,
) -> std::result::Result<Vec<u8>, String> {
    const LD_W_ABS: u16 = 0x20;
    const JA: u16 = 0x05;
    const JEQ_K: u16 = 0x15;
    const JGT_K: u16 = 0x25;
    const JSET_K: u16 = 0x45;
    const RET_K: u16 = 0x06;
    const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
    let resolve = |t: Target| match t {
        Target::At(i) => i,
        Target::Enosys => enosys_at,
        Target::Filter => filter_at,
    };
    // Conditional jumps reach 255 instructions forward at most.
    let offset = |from: usize, to: usize| -> std::result::Result<u8, String> {
        to.checked_sub(from + 1)
            .and_then(|d| u8::try_from(d).ok())
            .ok_or_else(|| format!("ENOSYS stub: no jump from {from} to {to}"))
    };
    let mut out = Vec::with_capacity(ops.len() * INSN_SIZE);
    for (i, op) in ops.iter().enumerate() {
        let (code, jt, jf, k) = match *op {
            Op::LoadNr => (LD_W_ABS, 0, 0, 0),
            Op::LoadArch => (LD_W_ABS, 0, 0, 4),
            Op::IfArch(arch, to) => (JEQ_K, offset(i, to)?, 0, arch),
            Op::IfAbove(k, t, f) => (JGT_K, offset(i, resolve(t))?, offset(i, resolve(f))?, k),
            Op::IfBits(k, t, f) => (JSET_K, offset(i, resolve(t))?, offset(i, resolve(f))?, k),
            Op::Goto(t) => {
                let d = resolve(t)
                    .checked_sub(i + 1)
                    .ok_or_else(|| format!("ENOSYS stub: no jump back from {i}"))?;
                (JA, 0, 0, d as u32)
            }
            Op::Enosys => (RET_K, 0, 0, SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        };
        out.extend_from_slice(&code.to_ne_bytes());
        out.push(jt);
        out.push(jf);
        out.extend_from_slice(&k.to_ne_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linux::seccomp::compile;
    use crate::linux::seccomp::eval::decide;

    fn profile(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).unwrap()
    }

    const X86_64: u32 = AUDIT_ARCH_X86_64;
    const I386: u32 = 0x4000_0003;
    const ALLOW: u32 = 0x7fff_0000;
    const fn errno(e: i32) -> u32 {
        0x0005_0000 | e as u32
    }

    #[test]
    fn syscalls_newer_than_the_profile_get_enosys() {
        let f = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
               "syscalls":[{"names":["read","write","getppid"],"action":"SCMP_ACT_ALLOW"},
                           {"names":["mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
                           {"names":["no_such_syscall_x"],"action":"SCMP_ACT_ALLOW"}]}"#,
        ))
        .unwrap();
        let run = |arch, nr| decide(&f.bpf, arch, nr);
        // x86_64: mkdirat (258) is the newest named.
        assert_eq!(run(X86_64, 0), ALLOW);
        assert_eq!(run(X86_64, 110), ALLOW);
        assert_eq!(run(X86_64, 83), errno(libc::EPERM), "mkdir, older");
        assert_eq!(run(X86_64, 258), errno(libc::EPERM), "mkdirat, named");
        assert_eq!(run(X86_64, 259), errno(libc::ENOSYS));
        assert_eq!(run(X86_64, 435), errno(libc::ENOSYS), "clone3");
        assert_eq!(run(X86_64, 437), errno(libc::ENOSYS), "openat2");
        assert_eq!(run(X86_64, 1000), errno(libc::ENOSYS));
        // x32 numbers carry X32_SYSCALL_BIT and are judged on their own.
        assert_eq!(run(X86_64, X32_SYSCALL_BIT), ALLOW);
        assert_eq!(run(X86_64, X32_SYSCALL_BIT | 83), errno(libc::EPERM));
        assert_eq!(run(X86_64, X32_SYSCALL_BIT | 435), errno(libc::ENOSYS));
        // i386: mkdirat is 296 there.
        assert_eq!(run(I386, 3), ALLOW);
        assert_eq!(run(I386, 39), errno(libc::EPERM), "mkdir");
        assert_eq!(run(I386, 296), errno(libc::EPERM));
        assert_eq!(run(I386, 435), errno(libc::ENOSYS));
        // An architecture the profile does not list is not ours to judge.
        assert_ne!(run(0xC000_00B7, 1000), errno(libc::ENOSYS));
    }

    #[test]
    fn a_named_new_syscall_keeps_its_action_and_raises_the_bar() {
        let f = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","exit_group"],"action":"SCMP_ACT_ALLOW"},
                {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
        ))
        .unwrap();
        // No architectures listed: the native one.
        let run = |nr| decide(&f.bpf, X86_64, nr);
        // Only x86 listed: native x86_64 is still in libseccomp's filter.
        let only_x86 = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],"syscalls":[{"names":["read","exit_group"],"action":"SCMP_ACT_ALLOW"}]}"#,
        ))
        .unwrap();
        assert_eq!(decide(&only_x86.bpf, X86_64, 0), ALLOW);
        assert_eq!(decide(&only_x86.bpf, X86_64, 100), errno(libc::EPERM));
        assert_eq!(decide(&only_x86.bpf, X86_64, 435), errno(libc::ENOSYS));
        assert_eq!(decide(&only_x86.bpf, I386, 435), errno(libc::ENOSYS));
        assert_eq!(run(0), ALLOW);
        assert_eq!(run(435), errno(libc::EACCES), "clone3 as named");
        assert_eq!(run(434), errno(libc::EPERM), "older, not named");
        assert_eq!(run(436), errno(libc::ENOSYS), "close_range is newer");
        // x32 is not in the profile: libseccomp's bad-arch action, not ENOSYS.
        assert_ne!(run(X32_SYSCALL_BIT | 500), errno(libc::ENOSYS));
    }

    #[test]
    fn permissive_or_enosys_defaults_get_no_stub() {
        for (default, nr, want) in [
            (r#""SCMP_ACT_ALLOW""#, 435, ALLOW),
            (r#""SCMP_ACT_LOG""#, 435, 0x7ffc_0000),
            (
                r#""SCMP_ACT_ERRNO","defaultErrnoRet":38"#,
                435,
                errno(libc::ENOSYS),
            ),
            (r#""SCMP_ACT_KILL_PROCESS""#, 435, errno(libc::ENOSYS)),
            (r#""SCMP_ACT_KILL_PROCESS""#, 20, 0x8000_0000),
        ] {
            let f = compile(&profile(&format!(
                r#"{{"defaultAction":{default},"syscalls":[{{"names":["getpid"],"action":"SCMP_ACT_ERRNO"}},{{"names":["read"],"action":"SCMP_ACT_ALLOW"}}]}}"#
            )))
            .unwrap();
            assert_eq!(decide(&f.bpf, X86_64, nr), want, "{default} nr {nr}");
            assert_eq!(decide(&f.bpf, X86_64, 0), ALLOW, "{default}");
        }
    }
}
