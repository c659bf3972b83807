//! The device policy on cgroup v2: there are no devices.allow/deny files,
//! so berth generates a BPF_PROG_TYPE_CGROUP_DEVICE program from the
//! rules and attaches it to the container's cgroup, in place of the one
//! attached before.
//!
//! The kernel runs the program at every open and mknod of a device node,
//! with r1 pointing at a struct bpf_cgroup_dev_ctx: access_type (the
//! device type, BPF_DEVCG_DEV_BLOCK or _CHAR, in the low 16 bits and the
//! BPF_DEVCG_ACC_* bits in the high 16), major, minor. 1 lets the access
//! through, 0 makes it fail with EPERM.
//!
//! The rules are first replayed as the v1 controller would take them
//! (devices::Policy), so a config means the same on v1 and v2: what is
//! left is a default and exceptions to it that all say the opposite. The
//! program tests the exceptions, the latest first, and falls through to
//! the default.

use super::devices::{Exception, Kind, Policy, RWM, Rule};
use crate::error::{Error, Result, SysContext};
use crate::linux::bpf::{self, Insn};
use nix::errno::Errno;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

// Opcodes: class | operation | source.
const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const MOV64_X: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
const MOV64_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const AND64_K: u8 = 0x57; // BPF_ALU64 | BPF_AND | BPF_K
const RSH64_K: u8 = 0x77; // BPF_ALU64 | BPF_RSH | BPF_K
// 32-bit compares (Linux 5.1): the fields are u32, and a 64-bit compare
// would sign-extend an immediate of 2^31 or more.
const JNE32_K: u8 = 0x56; // BPF_JMP32 | BPF_JNE | BPF_K
const JEQ32_K: u8 = 0x16; // BPF_JMP32 | BPF_JEQ | BPF_K
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

const R0: u8 = 0;
const R_CTX: u8 = 1;
const R_TYPE: u8 = 2;
const R_ACCESS: u8 = 3;
const R_MAJOR: u8 = 4;
const R_MINOR: u8 = 5;

const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

const PROG_NAME: &str = "berth_devices";

fn is_jump(i: &Insn) -> bool {
    i.code == JNE32_K || i.code == JEQ32_K
}

fn verdict(allow: bool) -> [Insn; 2] {
    [
        Insn::new(MOV64_K, R0, 0, 0, i32::from(allow)),
        Insn::new(EXIT, 0, 0, 0, 0),
    ]
}

/// The tests that an access must pass to fall under `e`; each jump's
/// offset is left 0, to be aimed past the block.
fn checks(e: &Exception, default_allow: bool) -> Vec<Insn> {
    let mut out = Vec::new();
    match e.kind {
        Kind::All => {}
        Kind::Block => out.push(Insn::new(JNE32_K, R_TYPE, 0, 0, DEV_BLOCK)),
        Kind::Char => out.push(Insn::new(JNE32_K, R_TYPE, 0, 0, DEV_CHAR)),
    }
    if default_allow {
        // A refusal applies when any of the access asked for is refused.
        out.push(Insn::new(MOV64_X, R0, R_ACCESS, 0, 0));
        out.push(Insn::new(AND64_K, R0, 0, 0, i32::from(e.access)));
        out.push(Insn::new(JEQ32_K, R0, 0, 0, 0));
    } else if e.access & RWM != RWM {
        // A grant applies when it covers all of the access asked for.
        out.push(Insn::new(MOV64_X, R0, R_ACCESS, 0, 0));
        out.push(Insn::new(AND64_K, R0, 0, 0, i32::from(!e.access & RWM)));
        out.push(Insn::new(JNE32_K, R0, 0, 0, 0));
    }
    if let Some(m) = e.major {
        out.push(Insn::new(JNE32_K, R_MAJOR, 0, 0, m as i32));
    }
    if let Some(m) = e.minor {
        out.push(Insn::new(JNE32_K, R_MINOR, 0, 0, m as i32));
    }
    out
}

/// The program for a replayed policy.
pub fn program(p: &Policy) -> Vec<Insn> {
    let mut out = vec![
        Insn::new(LDX_W, R_TYPE, R_CTX, 0, 0),
        Insn::new(MOV64_X, R_ACCESS, R_TYPE, 0, 0),
        Insn::new(AND64_K, R_TYPE, 0, 0, 0xffff),
        Insn::new(RSH64_K, R_ACCESS, 0, 0, 16),
        Insn::new(LDX_W, R_MAJOR, R_CTX, 4, 0),
        Insn::new(LDX_W, R_MINOR, R_CTX, 8, 0),
    ];
    // An exception with no access never matches an access.
    for e in p.exceptions.iter().rev().filter(|e| e.access != 0) {
        let mut block = checks(e, p.default_allow);
        if block.is_empty() {
            // It matches everything: what would follow is unreachable,
            // which the verifier refuses.
            out.extend(verdict(!p.default_allow));
            return out;
        }
        block.extend(verdict(!p.default_allow));
        let n = block.len();
        for (i, insn) in block.iter_mut().enumerate() {
            if is_jump(insn) {
                insn.off = (n - 1 - i) as i16;
            }
        }
        out.extend(block);
    }
    out.extend(verdict(p.default_allow));
    out
}

/// The verifier's last words, on one line for the error message.
fn log_tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return "(no verifier log)".into();
    }
    lines[lines.len().saturating_sub(20)..].join("; ")
}

/// Load the program for `rules` and make it the policy of the cgroup v2
/// directory `dir`.
pub fn install(dir: &Path, rules: &[Rule]) -> Result<()> {
    let insns = program(&Policy::replay(rules));
    let prog = bpf::prog_load_cgroup_device(&insns, PROG_NAME).map_err(|e| {
        Error::sys(
            format!(
                "load device eBPF program ({} instructions) for",
                insns.len()
            ),
            format!("{} (verifier: {})", dir.display(), log_tail(&e.log)),
            e.errno,
        )
    })?;
    let cgroup = nix::fcntl::open(
        dir,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .sys("open cgroup", dir.display())?;
    replace(cgroup.as_fd(), prog.as_fd(), dir)
}

/// Attach `prog` to the cgroup and detach whatever device programs were
/// attached to it before (a previous berth's, on create over a reused
/// cgroup or on update). The new one goes in first: in between both run
/// and both must allow, so there is never a moment without a policy.
fn replace(cgroup: BorrowedFd, prog: BorrowedFd, dir: &Path) -> Result<()> {
    let (flags, old) = bpf::prog_query(cgroup, bpf::ATTACH_CGROUP_DEVICE)
        .sys("query device eBPF programs of", dir.display())?;
    if !old.is_empty() && flags & bpf::F_ALLOW_MULTI == 0 {
        // A single program attached without ALLOW_MULTI (by another
        // manager) cannot have ours beside it; attached in its own mode,
        // ours takes its place in one step.
        return bpf::prog_attach(cgroup, prog, bpf::ATTACH_CGROUP_DEVICE, flags)
            .sys("attach device eBPF program to", dir.display());
    }
    bpf::prog_attach(cgroup, prog, bpf::ATTACH_CGROUP_DEVICE, bpf::F_ALLOW_MULTI)
        .sys("attach device eBPF program to", dir.display())?;
    for id in old {
        // Gone meanwhile (detached by a concurrent update) is as good.
        let old_prog = match bpf::prog_get_fd_by_id(id) {
            Err(Errno::ENOENT) => continue,
            r => r.sys(&format!("open device eBPF program {id} of"), dir.display())?,
        };
        match bpf::prog_detach(cgroup, old_prog.as_fd(), bpf::ATTACH_CGROUP_DEVICE) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => {
                return Err(Error::sys(
                    format!("detach old device eBPF program {id} from"),
                    dir.display(),
                    e,
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::devices::{MKNOD, READ, WRITE};
    use super::*;

    fn rule(allow: bool, kind: Kind, major: Option<u32>, minor: Option<u32>, access: u8) -> Rule {
        Rule {
            allow,
            kind,
            major,
            minor,
            access,
        }
    }

    fn deny_all() -> Rule {
        rule(false, Kind::All, None, None, RWM)
    }

    /// Jumps only go forward, land inside the program and right after an
    /// exit (at the start of the next block), and the program ends in an
    /// exit: so it has no loop, no fall-off and no unreachable code.
    fn assert_well_formed(p: &[Insn]) {
        assert_eq!(p.last().map(|i| i.code), Some(EXIT));
        for (i, insn) in p.iter().enumerate() {
            if is_jump(insn) {
                let target = i as isize + 1 + insn.off as isize;
                assert!(insn.off > 0, "insn {i} jumps back or nowhere: {insn:?}");
                assert!(target < p.len() as isize, "insn {i} jumps past the end");
                assert_eq!(
                    p[target as usize - 1].code,
                    EXIT,
                    "insn {i} lands mid-block"
                );
            }
            if insn.code == EXIT {
                assert_eq!(p[i - 1].code, MOV64_K, "exit {i} without a verdict");
                assert!(p[i - 1].dst() == R0 && (p[i - 1].imm == 0 || p[i - 1].imm == 1));
            }
        }
    }

    #[test]
    fn a_short_allowlist_has_the_expected_shape() {
        let p = program(&Policy::replay(&[
            deny_all(),
            rule(true, Kind::Char, Some(1), Some(3), READ | WRITE),
            rule(true, Kind::Char, Some(1), Some(5), READ),
        ]));
        assert_well_formed(&p);
        // Prologue 6, two blocks of 8, the default 2.
        assert_eq!(p.len(), 24);
        // The latest rule is tested first: c 1:5, read only.
        assert_eq!(
            p[6..14],
            [
                Insn::new(JNE32_K, R_TYPE, 0, 7, DEV_CHAR),
                Insn::new(MOV64_X, R0, R_ACCESS, 0, 0),
                Insn::new(AND64_K, R0, 0, 0, i32::from(MKNOD | WRITE)),
                Insn::new(JNE32_K, R0, 0, 4, 0),
                Insn::new(JNE32_K, R_MAJOR, 0, 3, 1),
                Insn::new(JNE32_K, R_MINOR, 0, 2, 5),
                Insn::new(MOV64_K, R0, 0, 0, 1),
                Insn::new(EXIT, 0, 0, 0, 0),
            ]
        );
        assert_eq!(p[16].imm, i32::from(MKNOD), "c 1:3 rw refuses only mknod");
        assert_eq!(p[22..], verdict(false));
    }

    #[test]
    fn a_denylist_tests_for_any_overlap() {
        let p = program(&Policy::replay(&[
            rule(true, Kind::All, None, None, RWM),
            rule(false, Kind::Block, Some(8), None, WRITE),
        ]));
        assert_well_formed(&p);
        assert_eq!(
            p[6..],
            [
                Insn::new(JNE32_K, R_TYPE, 0, 6, DEV_BLOCK),
                Insn::new(MOV64_X, R0, R_ACCESS, 0, 0),
                Insn::new(AND64_K, R0, 0, 0, i32::from(WRITE)),
                Insn::new(JEQ32_K, R0, 0, 3, 0),
                Insn::new(JNE32_K, R_MAJOR, 0, 2, 8),
                Insn::new(MOV64_K, R0, 0, 0, 0),
                Insn::new(EXIT, 0, 0, 0, 0),
                Insn::new(MOV64_K, R0, 0, 0, 1),
                Insn::new(EXIT, 0, 0, 0, 0),
            ]
        );
    }

    #[test]
    fn the_default_policy_is_well_formed() {
        let p = program(&Policy::replay(&super::super::devices::rules(&[]).unwrap()));
        assert_well_formed(&p);
        // Full-access grants need no access test: 4 + 2 or 3 + 2 each.
        assert!(p.len() < 6 + 12 * 8 + 2, "{}", p.len());
    }

    #[test]
    fn an_exception_matching_everything_ends_the_program() {
        let p = program(&Policy {
            default_allow: false,
            exceptions: vec![
                Exception {
                    kind: Kind::Char,
                    major: Some(1),
                    minor: Some(3),
                    access: RWM,
                },
                Exception {
                    kind: Kind::All,
                    major: None,
                    minor: None,
                    access: RWM,
                },
            ],
        });
        assert_well_formed(&p);
        assert_eq!(p.len(), 8);
    }

    // What follows runs on the real kernel: root, and a cgroup2 mount
    // (this host's is /sys/fs/cgroup/unified). Nothing is skipped.

    use super::super::{Cgroup, Dir, parse_mountinfo};
    use crate::linux::sys::{Forked, clone3, exit_now};
    use std::ffi::{CStr, CString};
    use std::os::fd::AsRawFd;

    /// A cgroup on the cgroup2 mount, as a pure-v2 host's Cgroup would
    /// be, destroyed on drop even when an assertion fails.
    struct TestCgroup(Cgroup);

    impl TestCgroup {
        fn new(tag: &str) -> TestCgroup {
            assert!(
                nix::unistd::geteuid().is_root(),
                "the device eBPF tests need root"
            );
            let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
            let h = parse_mountinfo(&info)
                .into_iter()
                .find(|h| h.v2)
                .expect("no cgroup2 mount (this host has /sys/fs/cgroup/unified): the device eBPF tests need one");
            let path = h
                .mountpoint
                .join(format!("berth-unit-ebpf-{}-{tag}", std::process::id()));
            let mut c = Cgroup {
                dirs: vec![Dir {
                    hierarchy: h,
                    path,
                    created_from: None,
                }],
                ..Default::default()
            };
            c.create().unwrap();
            TestCgroup(c)
        }

        fn dir(&self) -> &Path {
            &self.0.dirs[0].path
        }

        fn attached(&self) -> Vec<u32> {
            let fd = self.0.open_v2_dir().unwrap().unwrap();
            let (_, ids) = bpf::prog_query(fd.as_fd(), bpf::ATTACH_CGROUP_DEVICE).unwrap();
            ids
        }

        /// Run `probes` in a child born in the cgroup; Ok or the errno of
        /// each.
        fn probe(&self, probes: &[Probe]) -> Vec<std::result::Result<(), Errno>> {
            assert!(probes.len() <= 8);
            let cg = self.0.open_v2_dir().unwrap().unwrap();
            let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
            match clone3(0, Some(cg.as_raw_fd())).expect("clone3 into the test cgroup") {
                Forked::Child => {
                    // Other test threads may hold locks: only raw syscalls
                    // from here to _exit.
                    let mut out = [0i32; 8];
                    for (slot, p) in out.iter_mut().zip(probes) {
                        *slot = p.run();
                    }
                    // SAFETY: out is plain memory of the length written.
                    unsafe { libc::write(w.as_raw_fd(), out.as_ptr().cast(), probes.len() * 4) };
                    exit_now(0);
                }
                Forked::Parent { pid, .. } => {
                    drop(w);
                    let mut bytes = Vec::new();
                    std::io::Read::read_to_end(&mut std::fs::File::from(r), &mut bytes).unwrap();
                    nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).unwrap();
                    assert_eq!(bytes.len(), probes.len() * 4, "the probing child died");
                    bytes
                        .chunks(4)
                        .map(|c| match i32::from_ne_bytes(c.try_into().unwrap()) {
                            0 => Ok(()),
                            e => Err(Errno::from_raw(e)),
                        })
                        .collect()
                }
            }
        }
    }

    impl Drop for TestCgroup {
        fn drop(&mut self) {
            let r = self.0.destroy();
            if !std::thread::panicking() {
                r.unwrap();
            }
        }
    }

    enum Probe<'a> {
        Open(&'a CStr, i32),
        /// mknod of a char device at a path, removed again if made.
        Mknod(&'a CStr, u32, u32),
    }

    impl Probe<'_> {
        fn run(&self) -> i32 {
            match *self {
                Probe::Open(path, flags) => {
                    // SAFETY: path is NUL-terminated; the fd is closed here.
                    let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
                    if fd < 0 {
                        return Errno::last() as i32;
                    }
                    // SAFETY: fd was opened just above and nothing else has it.
                    unsafe { libc::close(fd) };
                    0
                }
                Probe::Mknod(path, major, minor) => {
                    let dev = libc::makedev(major, minor);
                    // SAFETY: path is NUL-terminated.
                    if unsafe { libc::mknod(path.as_ptr(), libc::S_IFCHR | 0o600, dev) } < 0 {
                        return Errno::last() as i32;
                    }
                    // SAFETY: path is NUL-terminated; the node is ours.
                    unsafe { libc::unlink(path.as_ptr()) };
                    0
                }
            }
        }
    }

    const NULL: &CStr = c"/dev/null";
    const ZERO: &CStr = c"/dev/zero";
    const FULL: &CStr = c"/dev/full";
    const EPERM: std::result::Result<(), Errno> = Err(Errno::EPERM);

    #[test]
    fn the_kernel_enforces_the_program_and_takes_a_replacement() {
        let cg = TestCgroup::new("enforce");
        let tmp = crate::tempdir::TempDir::new();
        let node = CString::new(
            tmp.path()
                .join("node")
                .into_os_string()
                .into_encoded_bytes(),
        )
        .unwrap();
        install(
            cg.dir(),
            &[
                deny_all(),
                rule(true, Kind::Char, Some(1), Some(3), READ | WRITE),
                rule(true, Kind::Char, Some(1), Some(5), READ),
            ],
        )
        .unwrap();
        let first = cg.attached();
        assert_eq!(first.len(), 1);
        assert_eq!(
            cg.probe(&[
                Probe::Open(NULL, libc::O_RDWR),
                Probe::Open(ZERO, libc::O_RDONLY),
                Probe::Open(ZERO, libc::O_WRONLY),
                Probe::Open(FULL, libc::O_RDONLY),
                Probe::Mknod(&node, 1, 9),
            ]),
            [Ok(()), Ok(()), EPERM, EPERM, EPERM]
        );

        // A denylist now: all but writes to null and anything of full.
        install(
            cg.dir(),
            &[
                rule(true, Kind::All, None, None, RWM),
                rule(false, Kind::Char, Some(1), Some(3), WRITE),
                rule(false, Kind::Char, Some(1), Some(7), RWM),
            ],
        )
        .unwrap();
        let second = cg.attached();
        assert_eq!(second.len(), 1, "the old program is still attached");
        assert_ne!(second, first);
        assert_eq!(
            cg.probe(&[
                Probe::Open(NULL, libc::O_RDONLY),
                Probe::Open(NULL, libc::O_RDWR),
                Probe::Open(FULL, libc::O_RDONLY),
                Probe::Open(ZERO, libc::O_RDWR),
                Probe::Mknod(&node, 1, 9),
            ]),
            [Ok(()), EPERM, EPERM, Ok(()), Ok(())]
        );
    }

    #[test]
    fn a_refused_program_brings_the_verifier_log() {
        // Exit with r0 never set.
        let e = match bpf::prog_load_cgroup_device(&[Insn::new(EXIT, 0, 0, 0, 0)], PROG_NAME) {
            Err(e) => e,
            Ok(_) => panic!("the verifier took a program that returns nothing"),
        };
        assert_eq!(e.errno, Errno::EACCES);
        assert!(e.log.contains("R0 !read_ok"), "{}", e.log);
    }

    /// Cgroup::apply with only a v2 hierarchy, as on a pure v2 host,
    /// installs the program (with runc's default allowlist) on create and
    /// replaces it on an update that gives device rules.
    #[test]
    fn apply_on_pure_v2_goes_through_the_program() {
        let cg = TestCgroup::new("apply");
        let kmsg = c"/dev/kmsg";
        cg.0.apply(&Default::default(), false).unwrap();
        let first = cg.attached();
        assert_eq!(first.len(), 1);
        assert_eq!(
            cg.probe(&[
                Probe::Open(NULL, libc::O_RDWR),
                Probe::Open(c"/dev/urandom", libc::O_RDONLY),
                Probe::Open(kmsg, libc::O_RDONLY),
            ]),
            [Ok(()), Ok(()), EPERM]
        );
        let update: oci_spec::runtime::LinuxResources = serde_json::from_str(
            r#"{"devices":[{"allow":true,"type":"c","major":1,"minor":11,"access":"r"}]}"#,
        )
        .unwrap();
        cg.0.apply(&update, true).unwrap();
        let second = cg.attached();
        assert_eq!(second.len(), 1);
        assert_ne!(second, first);
        assert_eq!(
            cg.probe(&[
                Probe::Open(kmsg, libc::O_RDONLY),
                Probe::Open(kmsg, libc::O_WRONLY)
            ]),
            [Ok(()), EPERM]
        );
        // An update without device rules leaves the program alone.
        let update: oci_spec::runtime::LinuxResources =
            serde_json::from_str(r#"{"unified":{}}"#).unwrap();
        cg.0.apply(&update, true).unwrap();
        assert_eq!(cg.attached(), second);
    }
}
