//! Structure-aware: arbitrary seccomp profiles (any action, operator,
//! architecture and flag, known and unknown syscall names, listeners)
//! through berth's compiler. A profile must compile or be refused without
//! a panic; a compiled program must be whole BPF within the kernel's
//! limit, run to a decision for any syscall (berth's BPF interpreter
//! panics on a jump out of the program), and, when berth adds its ENOSYS
//! prologue, answer ENOSYS above the newest syscall the profile names.
#![no_main]

use arbitrary::Arbitrary;
use berth::linux::seccomp::{SECCOMP_FILTER_FLAG_NEW_LISTENER, compile, eval::decide};
use libfuzzer_sys::fuzz_target;
use libseccomp::{ScmpArch, ScmpSyscall};
use serde_json::{Value, json};
use std::sync::OnceLock;

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Act {
    Kill,
    KillThread,
    KillProcess,
    Trap,
    Errno,
    Trace,
    Allow,
    Log,
    Notify,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Arch {
    Native,
    X86,
    X8664,
    X32,
    Aarch64,
    Arm,
    Riscv64,
    Ppc64le,
    S390x,
}

#[derive(Arbitrary, Debug)]
enum Name {
    Known(u16),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct Arg {
    index: u8,
    value: u64,
    value_two: Option<u64>,
    op: Op,
}

#[derive(Arbitrary, Debug)]
struct Rule {
    names: Vec<Name>,
    action: Act,
    errno: Option<u16>,
    args: Vec<Arg>,
}

#[derive(Arbitrary, Debug)]
struct Profile {
    default: Act,
    default_errno: Option<u16>,
    archs: Vec<Arch>,
    flags: Vec<u8>,
    listener: Option<bool>,
    rules: Vec<Rule>,
}

/// Real syscall names: the Docker fixture's, and the newest ones.
fn names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let docker: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/seccomp-docker-default.json"
        ))
        .unwrap();
        let mut v: Vec<String> = docker["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["names"].as_array().unwrap().iter())
            .map(|n| n.as_str().unwrap().to_string())
            .collect();
        v.extend(
            [
                "clone3", "openat2", "mount", "unshare", "keyctl", "sendmsg", "mseal",
            ]
            .map(String::from),
        );
        v
    })
}

fn act_name(a: Act) -> &'static str {
    match a {
        Act::Kill => "SCMP_ACT_KILL",
        Act::KillThread => "SCMP_ACT_KILL_THREAD",
        Act::KillProcess => "SCMP_ACT_KILL_PROCESS",
        Act::Trap => "SCMP_ACT_TRAP",
        Act::Errno => "SCMP_ACT_ERRNO",
        Act::Trace => "SCMP_ACT_TRACE",
        Act::Allow => "SCMP_ACT_ALLOW",
        Act::Log => "SCMP_ACT_LOG",
        Act::Notify => "SCMP_ACT_NOTIFY",
    }
}

fn arch_name(a: Arch) -> &'static str {
    match a {
        Arch::Native => "SCMP_ARCH_NATIVE",
        Arch::X86 => "SCMP_ARCH_X86",
        Arch::X8664 => "SCMP_ARCH_X86_64",
        Arch::X32 => "SCMP_ARCH_X32",
        Arch::Aarch64 => "SCMP_ARCH_AARCH64",
        Arch::Arm => "SCMP_ARCH_ARM",
        Arch::Riscv64 => "SCMP_ARCH_RISCV64",
        Arch::Ppc64le => "SCMP_ARCH_PPC64LE",
        Arch::S390x => "SCMP_ARCH_S390X",
    }
}

const MAX_RULES: usize = 24;
const MAX_CONDITIONAL: usize = 4;

const FLAGS: [&str; 5] = [
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    "SECCOMP_FILTER_FLAG_NOT_A_FLAG",
];

/// The profile as config.json carries it. Sizes are bounded to what real
/// profiles have, only the first MAX_CONDITIONAL rules keep their
/// argument conditions, and a syscall's second conditional rule keeps one:
/// libseccomp 2.5.4 never returns from db_rule_add on some pairs of
/// multi-condition rules on one syscall (fuzz/known-hangs/), and grows
/// badly with many. That is libseccomp's, paid by runc too; here it would
/// only make every run end in a timeout.
fn render(p: &Profile) -> (Value, Vec<String>) {
    let known = names();
    let mut all_names = Vec::new();
    let mut conditional = 0;
    let mut conditioned = std::collections::HashSet::new();
    let rules: Vec<Value> = p
        .rules
        .iter()
        .take(MAX_RULES)
        .map(|r| {
            let names: Vec<String> = r
                .names
                .iter()
                .take(8)
                .map(|n| match n {
                    Name::Known(i) => known[*i as usize % known.len()].clone(),
                    Name::Raw(s) => s.chars().take(40).collect(),
                })
                .collect();
            all_names.extend(names.iter().cloned());
            let ops = [
                "SCMP_CMP_NE",
                "SCMP_CMP_LT",
                "SCMP_CMP_LE",
                "SCMP_CMP_EQ",
                "SCMP_CMP_GE",
                "SCMP_CMP_GT",
                "SCMP_CMP_MASKED_EQ",
            ];
            let keep = if r.args.is_empty() || conditional >= MAX_CONDITIONAL {
                0
            } else if names.iter().any(|n| conditioned.contains(n)) {
                // A second conditional rule on a syscall: one condition
                // only (fuzz/known-hangs/).
                1
            } else {
                conditional += 1;
                3
            };
            if keep > 0 {
                conditioned.extend(names.iter().cloned());
            }
            let args: Vec<Value> = r
                .args
                .iter()
                .take(keep)
                .map(|a| {
                    let mut v = json!({"index": a.index % 8, "value": a.value,
                        "op": ops[a.op as usize]});
                    if let Some(t) = a.value_two {
                        v["valueTwo"] = t.into();
                    }
                    v
                })
                .collect();
            let mut v = json!({"names": names, "action": act_name(r.action), "args": args});
            if let Some(e) = r.errno {
                v["errnoRet"] = e.into();
            }
            v
        })
        .collect();
    let mut v = json!({
        "defaultAction": act_name(p.default),
        "architectures": p.archs.iter().take(6).map(|a| arch_name(*a)).collect::<Vec<_>>(),
        "flags": p.flags.iter().take(4).map(|f| FLAGS[*f as usize % FLAGS.len()]).collect::<Vec<_>>(),
        "syscalls": rules,
    });
    if let Some(e) = p.default_errno {
        v["defaultErrnoRet"] = e.into();
    }
    match p.listener {
        Some(true) => v["listenerPath"] = "/run/berth-fuzz.sock".into(),
        Some(false) => v["listenerPath"] = "relative.sock".into(),
        None => {}
    }
    (v, all_names)
}

const AUDIT_X86_64: u32 = 0xC000_003E;
const AUDIT_I386: u32 = 0x4000_0003;
const X32_BIT: u32 = 0x4000_0000;
const RET_ENOSYS: u32 = 0x0005_0000 | libc::ENOSYS as u32;

fuzz_target!(|p: Profile| {
    let (json, names) = render(&p);
    // BERTH_FUZZ_DUMP=1 prints the profile, to turn an artifact into a
    // config.json.
    if std::env::var_os("BERTH_FUZZ_DUMP").is_some() {
        eprintln!("{json}");
    }
    let Ok(profile) = serde_json::from_value::<oci_spec::runtime::LinuxSeccomp>(json) else {
        return;
    };
    let Ok(f) = compile(&profile) else {
        return;
    };
    assert!(f.bpf.len() % 8 == 0 && !f.bpf.is_empty(), "not whole BPF");
    assert!(f.bpf.len() / 8 <= 4096, "longer than the kernel takes");
    let notify = p
        .rules
        .iter()
        .take(MAX_RULES)
        .any(|r| r.action == Act::Notify && !r.names.is_empty());
    assert_eq!(
        f.flags & SECCOMP_FILTER_FLAG_NEW_LISTENER != 0,
        f.listener.is_some(),
        "a listener needs the flag, and only a listener"
    );
    if f.listener.is_some() {
        assert!(notify || p.rules.iter().any(|r| r.action == Act::Notify));
    }
    for arch in [AUDIT_X86_64, AUDIT_I386, 0xC000_00B7, 0] {
        for nr in [
            0,
            1,
            59,
            334,
            435,
            437,
            462,
            1000,
            u32::MAX,
            X32_BIT,
            X32_BIT | 435,
        ] {
            decide(&f.bpf, arch, nr);
        }
    }
    // The prologue: above the newest syscall named for x86_64, ENOSYS,
    // unless the default lets everything through or already is ENOSYS.
    let permissive = matches!(p.default, Act::Allow | Act::Log | Act::Trace)
        || (p.default == Act::Errno && p.default_errno == Some(libc::ENOSYS as u16));
    // The native architecture (x86_64 here) is always in the filter.
    if !permissive {
        let newest = names
            .iter()
            .filter_map(|n| ScmpSyscall::from_name_by_arch(n, ScmpArch::X8664).ok())
            .map(i32::from)
            .filter(|n| *n >= 0)
            .max();
        if let Some(max) = newest {
            for nr in [max as u32 + 1, max as u32 + 7, 0x3fff_ffff] {
                assert_eq!(
                    decide(&f.bpf, AUDIT_X86_64, nr),
                    RET_ENOSYS,
                    "nr {nr} above {max}"
                );
            }
        }
    }
});
