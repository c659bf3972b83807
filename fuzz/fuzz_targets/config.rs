//! config.json bytes through berth's parse and validate, the path every
//! `create` takes before the first fork (seccomp profile compiled
//! included). Nothing may panic, whatever the bytes.
#![no_main]

use berth::spec;
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
/// Podman's 8), or two on one syscall with several conditions, and the
/// profile is dropped: libseccomp 2.5.4 can take minutes on many and never
/// returns on some such pairs (fuzz/known-hangs/). The seccomp target
/// covers the compiler with bounded profiles.
const MAX_CONDITIONAL: usize = 10;

fn heavy(s: &oci_spec::runtime::LinuxSeccomp) -> bool {
    let rules = s.syscalls().as_deref().unwrap_or_default();
    let conditional: Vec<_> = rules
        .iter()
        .filter(|r| r.args().as_ref().is_some_and(|a| !a.is_empty()))
        .collect();
    // Per syscall: (conditional rules so far, one of them had several).
    let mut seen = std::collections::HashMap::<&str, (usize, bool)>::new();
    let mut pair = false;
    for r in &conditional {
        let several = r.args().as_ref().is_some_and(|a| a.len() > 1);
        for n in r.names() {
            let (count, multi) = seen.entry(n.as_str()).or_default();
            pair |= *count > 0 && (several || *multi);
            *count += 1;
            *multi |= several;
        }
    }
    conditional.len() > MAX_CONDITIONAL || pair
}

fuzz_target!(|data: &[u8]| {
    if let Ok(mut spec) = spec::parse(data, "config.json") {
        let heavy = spec
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().as_ref())
            .is_some_and(heavy);
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
