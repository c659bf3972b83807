//! bpf(2), for the cgroup v2 device policy: load a program, attach it to
//! a cgroup, list and detach what is attached. Only the commands berth
//! uses, each with the leading part of `union bpf_attr` it reads; the
//! kernel takes a shorter attr as long as it knows the fields given.

use nix::errno::Errno;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;

pub const PROG_TYPE_CGROUP_DEVICE: u32 = 15;
pub const ATTACH_CGROUP_DEVICE: u32 = 6;
pub const F_ALLOW_MULTI: u32 = 2;

/// struct bpf_insn: opcode, dst and src registers in one byte (dst in the
/// low nibble on little-endian), a jump offset and an immediate.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src << 4) | (dst & 0x0f),
            off,
            imm,
        }
    }

    #[cfg(test)]
    pub fn dst(&self) -> u8 {
        self.regs & 0x0f
    }
}

/// # Safety
/// `attr` must be a `#[repr(C)]` leading part of `union bpf_attr` for
/// `cmd`, with every pointer in it valid for what the kernel does with it
/// during the call.
unsafe fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> nix::Result<libc::c_long> {
    // SAFETY: the caller vouches for attr; its size is the one passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    Errno::result(r)
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// A refused program: the errno and what the verifier said about it.
pub struct LoadError {
    pub errno: Errno,
    pub log: String,
}

/// Load a cgroup device program. On failure it is loaded once more with
/// the verifier's log on, so the error can say why; a program that loads
/// costs no log.
pub fn prog_load_cgroup_device(insns: &[Insn], name: &str) -> Result<OwnedFd, LoadError> {
    let license = c"Apache-2.0";
    let mut prog_name = [0u8; 16];
    // The kernel takes up to 15 bytes of [A-Za-z0-9_.] and a NUL.
    for (d, s) in prog_name.iter_mut().zip(name.bytes().take(15)) {
        *d = s;
    }
    let attr = |log: &mut [u8]| ProgLoadAttr {
        prog_type: PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: u32::from(!log.is_empty()),
        log_size: log.len() as u32,
        log_buf: if log.is_empty() {
            0
        } else {
            log.as_mut_ptr() as u64
        },
        prog_name,
        expected_attach_type: ATTACH_CGROUP_DEVICE,
        ..Default::default()
    };
    let load = |log: &mut [u8]| {
        let mut a = attr(log);
        // SAFETY: a is the BPF_PROG_LOAD attr; insns, license and the log
        // buffer it points at outlive the call, with their sizes given.
        let r = unsafe { bpf(BPF_PROG_LOAD, &mut a) };
        // SAFETY: a new program fd from the kernel, owned by nobody else.
        r.map(|fd| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    };
    match load(&mut []) {
        Ok(fd) => Ok(fd),
        Err(errno) => {
            let mut log = vec![0u8; 64 * 1024];
            let log = match load(&mut log) {
                Ok(_) => String::from("(loaded with the log on)"),
                Err(_) => {
                    let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
                    String::from_utf8_lossy(&log[..end]).trim().to_string()
                }
            };
            Err(LoadError { errno, log })
        }
    }
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

pub fn prog_attach(
    cgroup: BorrowedFd,
    prog: BorrowedFd,
    attach_type: u32,
    flags: u32,
) -> nix::Result<()> {
    let mut a = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        attach_flags: flags,
        ..Default::default()
    };
    // SAFETY: a is the BPF_PROG_ATTACH attr and holds no pointers.
    unsafe { bpf(BPF_PROG_ATTACH, &mut a) }.map(drop)
}

pub fn prog_detach(cgroup: BorrowedFd, prog: BorrowedFd, attach_type: u32) -> nix::Result<()> {
    let mut a = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        ..Default::default()
    };
    // SAFETY: a is the BPF_PROG_DETACH attr and holds no pointers.
    unsafe { bpf(BPF_PROG_DETACH, &mut a) }.map(drop)
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    // Explicit, so the bytes the kernel sees past prog_cnt are zero.
    _pad: u32,
}

/// The programs attached to the cgroup itself (not inherited ones), and
/// the flags they were attached with.
pub fn prog_query(cgroup: BorrowedFd, attach_type: u32) -> nix::Result<(u32, Vec<u32>)> {
    let mut ids = vec![0u32; 16];
    loop {
        let mut a = QueryAttr {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_type,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        // SAFETY: a is the BPF_PROG_QUERY attr; prog_ids has room for
        // prog_cnt ids and outlives the call.
        match unsafe { bpf(BPF_PROG_QUERY, &mut a) } {
            Ok(_) => {
                ids.truncate(a.prog_cnt as usize);
                return Ok((a.attach_flags, ids));
            }
            // More than asked for: the kernel said how many there are.
            Err(Errno::ENOSPC) if a.prog_cnt as usize > ids.len() => {
                ids = vec![0; a.prog_cnt as usize];
            }
            Err(e) => return Err(e),
        }
    }
}

#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

pub fn prog_get_fd_by_id(id: u32) -> nix::Result<OwnedFd> {
    let mut a = GetFdAttr {
        prog_id: id,
        ..Default::default()
    };
    // SAFETY: a is the BPF_PROG_GET_FD_BY_ID attr and holds no pointers.
    let fd = unsafe { bpf(BPF_PROG_GET_FD_BY_ID, &mut a) }?;
    // SAFETY: a new program fd from the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
