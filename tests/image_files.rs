//! Files the runtime reads from the container's image are the
//! container's to make: /etc/passwd (read for HOME when process.env has
//! none) may be a link to /dev/zero, which never ends, or a fifo, which
//! nobody writes. The runtime must refuse such a file, naming it, instead
//! of growing until the OOM killer comes or waiting forever.

mod common;
use common::*;
use serde_json::json;
use std::os::unix::fs::OpenOptionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// `run` on a bundle whose /etc/passwd `plant` made; kills the runtime
/// after 30 s. The container's memory is limited so that a runtime that
/// reads without bound meets its own cgroup's limit, not the host's.
fn run_with_passwd(plant: impl FnOnce(&std::path::Path)) -> (Bundle, Option<std::process::Output>) {
    let mut b = peer_bundle(&["true"]);
    let root = b.own_rootfs();
    let passwd = root.join("etc/passwd");
    std::fs::remove_file(&passwd).unwrap();
    plant(&passwd);
    b.config["linux"]["resources"] = json!({"memory": {"limit": 268435456}});
    b.write();
    let err = b.dir.join("run.stderr");
    let mut child = b
        .cmd(&["run", "-b", b.dir.to_str().unwrap(), &b.id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let stderr = std::fs::read(&err).unwrap();
            let out = std::process::Output {
                status,
                stdout: Vec::new(),
                stderr,
            };
            return (b, Some(out));
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            return (b, None);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn check(kind: &str, b: &Bundle, out: Option<std::process::Output>) {
    let out = out.unwrap_or_else(|| panic!("the runtime hung on the image's /etc/passwd ({kind})"));
    if runtime_name().starts_with("berth") {
        let e = stderr(&out);
        assert!(
            !out.status.success() && e.contains("/etc/passwd") && e.contains(kind),
            "the runtime did not refuse the image's /etc/passwd ({kind}): {e}"
        );
        b.assert_no_leftovers();
    }
}

#[test]
fn an_image_passwd_linked_to_dev_zero_is_refused() {
    let (b, out) = run_with_passwd(|p| std::os::unix::fs::symlink("/dev/zero", p).unwrap());
    check("character device", &b, out);
}

#[test]
fn an_image_passwd_that_is_a_fifo_is_refused() {
    let (b, out) = run_with_passwd(|p| {
        nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap()
    });
    if out.is_none() {
        // Let the hung runtime's process go: a writer that closes at once
        // ends its open with EOF.
        let fifo = b.dir.join("rootfs/etc/passwd");
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo);
        std::thread::sleep(Duration::from_millis(500));
    }
    check("fifo", &b, out);
}
