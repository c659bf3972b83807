//! config.json bytes through berth's parse and validate, the path every
//! `create` takes before the first fork (seccomp profile compiled
//! included). Nothing may panic, whatever the bytes.
#![no_main]
// berth is a binary crate: the modules validation needs are compiled in
// here at the crate root, where their `crate::` paths expect them.
#![allow(dead_code)]

#[path = "../../src/error.rs"]
mod error;
mod linux;
#[path = "../../src/logging.rs"]
mod logging;
#[path = "../../src/spec.rs"]
mod spec;

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

/// One bundle directory with a rootfs for every run: validation looks at
/// the filesystem (root.path, bind sources, namespace paths) but only looks.
fn bundle() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join("berth-fuzz-bundle");
        std::fs::create_dir_all(d.join("rootfs")).unwrap();
        d
    })
}

/// More argument-conditioned seccomp rules than this (Docker's has 7,
/// Podman's 8) and the profile is
/// dropped: libseccomp 2.5 can take minutes on a few overlapping ones (see
/// the seccomp target, which covers the compiler with bounded profiles).
const MAX_CONDITIONAL: usize = 10;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut spec) = spec::parse(data, "config.json") {
        let heavy = spec
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().as_ref())
            .and_then(|s| s.syscalls().as_ref())
            .is_some_and(|r| {
                r.iter()
                    .filter(|r| r.args().as_ref().is_some_and(|a| !a.is_empty()))
                    .count()
                    > MAX_CONDITIONAL
            });
        if heavy && let Some(mut linux) = spec.linux().clone() {
            linux.set_seccomp(None);
            spec.set_linux(Some(linux));
        }
        let _ = spec::validate(bundle().clone(), spec);
    }
    if let Ok(p) = spec::parse_process(data, "process.json") {
        let _ = spec::validate_process(&p);
    }
});
