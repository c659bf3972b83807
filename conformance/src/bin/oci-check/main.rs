//! oci-check: runs as the container's process, reads the config.json it
//! was started from, and checks from inside that each property took
//! effect. Prints TAP, one line per property, "area: what" in the
//! description and expected vs got on failure. Static, so it runs in a
//! busybox rootfs.
//!
//! `oci-check --hook DIR NAME [--exit N] [--sleep S] [--cmdline PID|state]
//! [--probe PATH]... [-- ARGS...]` is the other mode: run as an OCI hook,
//! it records what it was given (argv, environ, the state on stdin, its
//! namespaces, what it sees of the container) in DIR/NAME.json, appends
//! NAME to DIR/order, then sleeps or exits as told. The driver judges the
//! records; the hook itself checks nothing.

mod cgroups;
mod devices;
mod hook;
mod lsm;
mod mounts;
mod namespaces;
mod process;
mod tap;

use serde_json::Value;
use tap::{Tap, read, status};

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--hook") {
        hook::record();
    }
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/config.json".into());
    let config: Value = match std::fs::read(&path).map(|t| serde_json::from_slice(&t)) {
        Ok(Ok(v)) => v,
        _ => {
            println!("Bail out! cannot read {path}");
            std::process::exit(2);
        }
    };
    let mut t = Tap { n: 0, failed: 0 };
    // Without /proc in mounts the container has none: see that, then mount
    // one (such a case grants CAP_SYS_ADMIN) so the other checks can read.
    let mut own_proc = false;
    let proc_listed = config["mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m["destination"] == "/proc");
    if !proc_listed {
        let had = std::path::Path::new("/proc/self").exists();
        t.truth(
            "mounts",
            "no /proc when mounts lists none",
            !had,
            "/proc/self exists",
        );
        if !had {
            // SAFETY: plain C strings, no data.
            let r = unsafe {
                libc::mount(
                    c"proc".as_ptr(),
                    c"/proc".as_ptr(),
                    c"proc".as_ptr(),
                    0,
                    std::ptr::null(),
                )
            };
            if r != 0 {
                println!(
                    "Bail out! cannot mount /proc: {}",
                    std::io::Error::last_os_error()
                );
                std::process::exit(2);
            }
            own_proc = true;
        }
    }
    let st = status();
    process::check(&mut t, &config, &st);
    namespaces::check(&mut t, &config);
    cgroups::check_limits(&mut t, &config["linux"]);
    let mounts = mounts::mountinfo();
    lsm::check(&mut t, &config, &mounts);
    mounts::check(&mut t, &config, &mounts, own_proc);
    devices::check(&mut t, &config);

    for (k, v) in config["linux"]["sysctl"].as_object().into_iter().flatten() {
        let got = read(&format!("/proc/sys/{}", k.replace('.', "/")));
        t.check("sysctl", k, v.as_str().unwrap_or(""), got.trim());
    }

    println!("1..{}", t.n);
    std::process::exit(if t.failed == 0 { 0 } else { 1 });
}
