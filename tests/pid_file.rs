//! The pid file lands in a directory the runtime may not own: a rootless
//! engine's state dir, a shared /tmp without protected_symlinks. Whoever
//! owns it can plant symlinks at every name the runtime might write, to a
//! host file that owner could never write itself. The runtime, as root,
//! must write only a file of its own and put it in place atomically.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn a_pid_file_never_follows_a_planted_symlink() {
    let b = peer_bundle(&["sleep", "100"]);
    // The host file the planted links aim at, which only root may write.
    let decoy = b.dir.join("decoy");
    std::fs::write(&decoy, "precious\n").unwrap();
    std::fs::set_permissions(&decoy, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The other user's directory, with links at the target's name and at
    // every temporary name a runtime here has been seen to use.
    let dir = b.dir.join("theirs");
    std::fs::create_dir(&dir).unwrap();
    let target = dir.join("pidfile");
    for name in [
        "pidfile",
        ".pidfile",
        ".pidfile.berth-tmp",
        "pidfile.tmp",
        ".pidfile.tmp",
    ] {
        let link = dir.join(name);
        std::os::unix::fs::symlink(&decoy, &link).unwrap();
        std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
    }
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    let out = b.create(&["--pid-file", target.to_str().unwrap()]);
    let after = std::fs::read_to_string(&decoy).unwrap();
    assert_eq!(
        after, "precious\n",
        "the decoy was written through a planted link"
    );
    if runtime_is_berth() {
        assert!(out.status.success(), "{}", stderr(&out));
    } else if !out.status.success() {
        // A refusal (runc: "file exists") is safe, if not helpful.
        return;
    }
    let meta = std::fs::symlink_metadata(&target).unwrap();
    assert!(meta.is_file(), "the pid file is not a file of its own");
    let pid = b.state()["pid"].as_i64().unwrap();
    assert_eq!(
        std::fs::read_to_string(&target).unwrap().trim(),
        pid.to_string()
    );
    b.ok(&["delete", "--force", &b.id]);
}

/// A directory on the way to the pid file may be somebody else's link
/// too (planted in a directory of theirs that the engine's path crosses):
/// it is not followed, and nothing is written where it leads. berth
/// refuses with the link's name; the container is not created.
#[test]
fn a_pid_file_never_follows_a_planted_link_on_the_way() {
    let b = peer_bundle(&["sleep", "100"]);
    // Where the link leads: a directory of root's.
    let decoy = b.dir.join("decoy");
    std::fs::create_dir(&decoy).unwrap();
    let theirs = b.dir.join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    let link = theirs.join("run");
    std::os::unix::fs::symlink(&decoy, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let target = link.join("pidfile");
    let out = b.create(&["--pid-file", target.to_str().unwrap()]);
    let written: Vec<_> = std::fs::read_dir(&decoy)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        written.is_empty(),
        "the pid file went where a planted link leads: {written:?}"
    );
    if runtime_is_berth() {
        assert!(!out.status.success(), "create followed the link");
        let e = stderr(&out);
        assert!(e.contains("not followed") && e.contains("uid 65534"), "{e}");
        b.assert_no_leftovers();
    }
}
