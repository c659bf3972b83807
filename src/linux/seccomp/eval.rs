//! What the kernel would decide for a compiled program (unit tests, fuzzer).

use super::INSN_SIZE;

/// A classic BPF interpreter for what seccomp programs use, run on a
/// syscall with all arguments zero: what the kernel would decide. For the
/// unit tests and the fuzzer, which check the ENOSYS prologue with it; it
/// panics on anything out of line (a jump out of the program included).
pub fn decide(bpf: &[u8], arch: u32, nr: u32) -> u32 {
    let insns: Vec<(u16, u8, u8, u32)> = bpf
        .chunks_exact(INSN_SIZE)
        .map(|c| {
            (
                u16::from_ne_bytes([c[0], c[1]]),
                c[2],
                c[3],
                u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            )
        })
        .collect();
    let data = |off: u32| match off {
        0 => nr,
        4 => arch,
        _ => 0,
    };
    let (mut a, mut x, mut mem, mut pc) = (0u32, 0u32, [0u32; 16], 0usize);
    loop {
        let (code, jt, jf, k) = insns[pc];
        pc += 1;
        let jump = |cond: bool| if cond { jt as usize } else { jf as usize };
        match code {
            0x20 => a = data(k),
            0x00 => a = k,
            0x60 => a = mem[k as usize],
            0x61 => x = mem[k as usize],
            0x02 => mem[k as usize] = a,
            0x03 => mem[k as usize] = x,
            0x07 => x = a,
            0x87 => a = x,
            0x54 => a &= k,
            0x05 => pc += k as usize,
            0x15 => pc += jump(a == k),
            0x25 => pc += jump(a > k),
            0x35 => pc += jump(a >= k),
            0x45 => pc += jump(a & k != 0),
            0x06 => return k,
            other => panic!("opcode {other:#x} at {}", pc - 1),
        }
    }
}
