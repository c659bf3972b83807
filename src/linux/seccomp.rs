//! seccomp: the OCI profile compiled to BPF with libseccomp (before any
//! fork, so a bad profile costs nothing), loaded by berth itself with
//! seccomp(2) so that noNewPrivileges and the filter flags stay ours.

use crate::error::{Error, Result, SysContext};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::LinuxSeccomp;
use std::io::{Read, Seek};
use std::str::FromStr;

pub const SECCOMP_FILTER_FLAG_TSYNC: u32 = 1;
pub const SECCOMP_FILTER_FLAG_LOG: u32 = 2;
pub const SECCOMP_FILTER_FLAG_SPEC_ALLOW: u32 = 4;
pub const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: u32 = 32;

/// A compiled filter, ready for seccomp(SECCOMP_SET_MODE_FILTER).
#[derive(Debug, Clone)]
pub struct Filter {
    pub bpf: Vec<u8>,
    pub flags: u32,
}

/// The names the spec uses, as serde writes them.
fn name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn action(field: &str, name: &str, errno: Option<u32>) -> Result<ScmpAction> {
    let e = errno.map(|e| e as i32);
    Ok(match name {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(e.unwrap_or(libc::EPERM)),
        "SCMP_ACT_TRACE" => ScmpAction::Trace(e.unwrap_or(libc::EPERM) as u16),
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_NOTIFY" => {
            return Err(Error::config(
                field,
                "SCMP_ACT_NOTIFY (a user-space listener) is not supported by this berth yet",
            ));
        }
        other => return Err(Error::config(field, format!("unknown action {other:?}"))),
    })
}

fn compare(field: &str, a: &oci_spec::runtime::LinuxSeccompArg) -> Result<ScmpArgCompare> {
    let op = match name(&a.op()).as_str() {
        "SCMP_CMP_MASKED_EQ" => ScmpCompareOp::MaskedEqual(a.value()),
        other => ScmpCompareOp::from_str(other)
            .map_err(|_| Error::config(field, format!("unknown operator {other:?}")))?,
    };
    let datum = match op {
        ScmpCompareOp::MaskedEqual(_) => a.value_two().unwrap_or(0),
        _ => a.value(),
    };
    Ok(ScmpArgCompare::new(a.index() as u32, op, datum))
}

fn lib_err(field: &str, e: libseccomp::error::SeccompError) -> Error {
    Error::config(field, format!("libseccomp: {e}"))
}

/// Compile linux.seccomp. Unknown syscall names are skipped with a
/// warning (a profile may name syscalls this kernel or libseccomp lacks).
pub fn compile(s: &LinuxSeccomp) -> Result<Filter> {
    let f = "linux.seccomp";
    let default = action(
        &format!("{f}.defaultAction"),
        &name(&s.default_action()),
        s.default_errno_ret(),
    )?;
    let mut ctx = ScmpFilterContext::new(default).map_err(|e| lib_err(f, e))?;
    for arch in s.architectures().iter().flatten() {
        let n = name(arch);
        let a = ScmpArch::from_str(&n).map_err(|_| {
            Error::config(
                format!("{f}.architectures"),
                format!("unknown architecture {n:?}"),
            )
        })?;
        ctx.add_arch(a)
            .map_err(|e| lib_err(&format!("{f}.architectures ({n})"), e))?;
    }
    let mut unknown = Vec::new();
    for (i, rule) in s.syscalls().iter().flatten().enumerate() {
        let field = format!("{f}.syscalls[{i}]");
        let act = action(&field, &name(&rule.action()), rule.errno_ret())?;
        // libseccomp refuses a rule that only repeats the default.
        if act == default {
            continue;
        }
        let conds: Vec<ScmpArgCompare> = rule
            .args()
            .iter()
            .flatten()
            .map(|a| compare(&format!("{field}.args"), a))
            .collect::<Result<_>>()?;
        for n in rule.names() {
            let Ok(sc) = ScmpSyscall::from_name(n) else {
                unknown.push(n.clone());
                continue;
            };
            if ctx.add_rule_conditional(act, sc, &conds).is_err() {
                // Several conditions on one argument: as runc does, one
                // rule per condition (any of them matches).
                for c in &conds {
                    ctx.add_rule_conditional(act, sc, std::slice::from_ref(c))
                        .map_err(|e| lib_err(&format!("{field} ({n})"), e))?;
                }
            }
        }
    }
    if !unknown.is_empty() {
        crate::logging::warn(&format!(
            "linux.seccomp: ignoring unknown syscalls: {}",
            unknown.join(", ")
        ));
    }
    let mut flags = 0;
    for fl in s.flags().iter().flatten() {
        flags |= match name(fl).as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => SECCOMP_FILTER_FLAG_TSYNC,
            "SECCOMP_FILTER_FLAG_LOG" => SECCOMP_FILTER_FLAG_LOG,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
            other => {
                return Err(Error::config(
                    format!("{f}.flags"),
                    format!("unknown flag {other:?}"),
                ));
            }
        };
    }
    if s.listener_path().is_some() {
        return Err(Error::config(
            format!("{f}.listenerPath"),
            "seccomp notify listeners are not supported by this berth yet",
        ));
    }
    // libseccomp 2.5 exports to an fd only: a memfd holds the program.
    let mut mem = std::fs::File::from(
        nix::sys::memfd::memfd_create(c"berth-seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .sys("memfd_create", "seccomp")?,
    );
    ctx.export_bpf(&mem).map_err(|e| lib_err(f, e))?;
    let mut bpf = Vec::new();
    mem.rewind().sys("seek", "seccomp memfd")?;
    mem.read_to_end(&mut bpf).sys("read", "seccomp memfd")?;
    Ok(Filter { bpf, flags })
}

/// Install the filter on this process.
pub fn load(filter: &Filter) -> Result<()> {
    const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
    let prog = libc::sock_fprog {
        len: (filter.bpf.len() / std::mem::size_of::<libc::sock_filter>()) as u16,
        filter: filter.bpf.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prog points at our BPF bytes, which outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            filter.flags,
            &prog as *const libc::sock_fprog,
        )
    };
    nix::errno::Errno::result(r).sys("load seccomp filter", "")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn compiles_actions_operators_and_archs() {
        let f = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
               "flags":["SECCOMP_FILTER_FLAG_LOG"],
               "syscalls":[{"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"},
                           {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38},
                           {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},
                           {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]},
                           {"names":["kill"],"action":"SCMP_ACT_LOG","args":[{"index":1,"value":0,"op":"SCMP_CMP_GT"},{"index":1,"value":9,"op":"SCMP_CMP_LT"}]},
                           {"names":["not_a_syscall_x"],"action":"SCMP_ACT_ALLOW"},
                           {"names":["getpid"],"action":"SCMP_ACT_TRAP"},{"names":["getppid"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
        ))
        .unwrap();
        assert!(!f.bpf.is_empty() && f.bpf.len().is_multiple_of(8));
        assert_eq!(f.flags, SECCOMP_FILTER_FLAG_LOG);
    }

    #[test]
    fn unknown_actions_and_notify_are_refused() {
        let e = compile(&profile(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_NOTIFY"}]}"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("linux.seccomp.syscalls[0]") && e.contains("NOTIFY"),
            "{e}"
        );
    }
}
