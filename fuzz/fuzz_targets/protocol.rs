//! What berth reads back from its own kind, which a bug or a hostile
//! process could corrupt: the parent/init messages, frame by frame over a
//! real SOCK_SEQPACKET pair, and state.json as `state`, `list`, `kill`
//! and `delete` parse it. Nothing may panic or grow without bound.
//!
//! Input: frames separated by 0xff bytes (each sent as one datagram, as
//! the other side would), and the whole input also as state.json.
#![no_main]

use berth::launch::protocol::{self, Channel};
use libfuzzer_sys::fuzz_target;
use std::os::fd::AsRawFd;

fuzz_target!(|data: &[u8]| {
    if let Ok(saved) = berth::state::parse_saved(data) {
        let _ = berth::state::oci_state(&saved, "running");
    }
    let _ = protocol::decode(data);
    let Ok((a, b)) = protocol::pair() else { return };
    // A datagram bigger than the socket buffer would block: the frames
    // here are the fuzzer's, at most its input's size.
    for frame in data.split(|c| *c == 0xff).take(64) {
        // SAFETY: a plain send of a borrowed buffer on a socket we own.
        unsafe {
            libc::send(
                a.0.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
    }
    drop(a);
    let b: Channel = b;
    for _ in 0..65 {
        match b.recv_with_fd() {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
});
