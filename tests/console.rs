//! Terminals through --console-socket, as engines use them: one message,
//! one SCM_RIGHTS fd (the pty master), a non-empty payload.

mod common;
use common::*;
use serde_json::json;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::process::Stdio;

fn read_all(master: OwnedFd) -> String {
    let mut f = std::fs::File::from(master);
    let mut out = Vec::new();
    // EIO once the slave side is closed: that is the end of output.
    let mut buf = [0u8; 4096];
    loop {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn create_sends_the_pty_master_and_the_container_gets_a_terminal() {
    let mut b = bundle(&[
        "sh",
        "-c",
        "tty; stty size; ls -l /dev/console | cut -c1; echo done",
    ]);
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["consoleSize"] = json!({"height": 33, "width": 77});
    let sock = b.dir.join("console.sock");
    let rx = console_master(&sock);
    let out = b.create(&["--console-socket", sock.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (payload, mut fds) = rx.join().unwrap();
    assert!(!payload.is_empty(), "the payload must not be empty");
    assert_eq!(fds.len(), 1, "exactly one fd");
    b.ok(&["start", &b.id]);
    let text = read_all(fds.remove(0));
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert!(lines[0].starts_with("/dev/pts/"), "{text:?}");
    assert_eq!(lines[1], "33 77");
    assert_eq!(lines[2], "c", "/dev/console is the pty: {text:?}");
    assert_eq!(lines[3], "done");
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}

/// `exec -t -d --console-socket` of `sh -c script` (with `extra` flags):
/// the payload and fds the socket received.
fn exec_with_console(b: &Bundle, extra: &[&str], script: &str) -> (String, Vec<OwnedFd>) {
    let sock = b.dir.join("exec.sock");
    let _ = std::fs::remove_file(&sock);
    let rx = console_master(&sock);
    let mut args = vec!["exec", "-t", "-d"];
    args.extend_from_slice(extra);
    args.extend([
        "--console-socket",
        sock.to_str().unwrap(),
        &b.id,
        "sh",
        "-c",
        script,
    ]);
    let status = b
        .cmd(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    rx.join().unwrap()
}

#[test]
fn exec_with_a_terminal() {
    let b = bundle(&["sleep", "100"]);
    assert!(b.create(&[]).status.success());
    b.ok(&["start", &b.id]);
    let (payload, mut fds) = exec_with_console(&b, &[], "tty; echo exec-done");
    assert!(!payload.is_empty());
    assert_eq!(fds.len(), 1);
    let text = read_all(fds.remove(0));
    assert!(
        text.contains("/dev/pts/") && text.contains("exec-done"),
        "{text:?}"
    );
    b.ok(&["delete", "--force", &b.id]);
}

#[test]
fn a_terminal_without_a_socket_and_a_missing_socket_are_errors() {
    let mut b = bundle(&["true"]);
    b.config["process"]["terminal"] = json!(true);
    let out = b.create(&["--console-socket", "/nonexistent/console.sock"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("/nonexistent/console.sock") && stderr(&out).contains("no such file"),
        "{}",
        stderr(&out)
    );
    b.assert_no_leftovers();
}

#[test]
fn foreground_run_relays_the_terminal_itself() {
    // No console socket: berth relays between its own stdio and the pty.
    let mut b = bundle(&["sh"]);
    b.config["process"]["terminal"] = json!(true);
    b.write();
    let mut child = b
        .cmd(&["run", "-b", b.dir.to_str().unwrap(), &b.id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"tty\necho relayed-$((6*7))\nexit 3\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("/dev/pts/0"), "{text:?}");
    assert!(text.contains("relayed-42"), "{text:?}");
    b.assert_no_leftovers();
    let d = b
        .cmd(&["run", "-d", "-b", b.dir.to_str().unwrap(), &b.id])
        .output()
        .unwrap();
    assert!(
        !d.status.success() && stderr(&d).contains("console-socket"),
        "{}",
        stderr(&d)
    );
    b.assert_no_leftovers();
}

#[test]
fn foreground_exec_with_a_terminal_relays_too() {
    let b = bundle(&["sleep", "100"]);
    assert!(b.create(&[]).status.success());
    b.ok(&["start", &b.id]);
    let out = b
        .cmd(&["exec", "-t", &b.id, "sh", "-c", "tty; exit 5"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stdout(&out).contains("/dev/pts/"), "{}", stdout(&out));
    b.ok(&["delete", "--force", &b.id]);
}

#[test]
fn a_console_symlink_in_the_image_is_replaced_not_followed() {
    // CVE-2025-52565: /dev/console as a symlink must not aim the pty bind
    // at another file. Here /dev is the image's own directory. The victim's
    // type is what tells (reading a pty bound over it would block).
    let mut b = peer_bundle(&[
        "sh",
        "-c",
        "ls -l /dev/console | cut -c1; ls -lL /etc/victim | cut -c1",
    ]);
    let r = b.own_rootfs();
    std::fs::write(r.join("etc/victim"), "untouched\n").unwrap();
    std::os::unix::fs::symlink("/etc/victim", r.join("dev/console")).unwrap();
    b.config["mounts"].as_array_mut().unwrap().retain(|m| {
        m["destination"] != "/dev" && !m["destination"].as_str().unwrap().starts_with("/dev/")
    });
    b.config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["newinstance", "ptmxmode=0666"]}));
    b.config["process"]["terminal"] = json!(true);
    b.config["root"]["readonly"] = json!(false);
    // Through a console socket, as engines do (a foreground run with a
    // terminal needs one of its own on stdin with runc).
    let sock = b.dir.join("console.sock");
    let rx = console_master(&sock);
    let out = b.create(&["--console-socket", sock.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, mut fds) = rx.join().unwrap();
    b.ok(&["start", &b.id]);
    let text = read_all(fds.remove(0)).replace('\r', "");
    assert_eq!(
        text, "c\n-\n",
        "types of /dev/console and /etc/victim: the pty went to the link's target"
    );
    assert_eq!(
        std::fs::read_to_string(r.join("etc/victim")).unwrap(),
        "untouched\n"
    );
    b.ok(&["delete", "--force", &b.id]);
    b.assert_no_leftovers();
}

/// The terminal belongs to the process's user and to the image's tty
/// group, for the container's process and for exec -t alike (runc).
#[test]
fn the_terminal_belongs_to_the_processs_user_and_the_tty_group() {
    let mut b = peer_bundle(&["sh", "-c", "stat -c '%u %g' $(tty); sleep 100"]);
    let root = b.own_rootfs();
    let group = root.join("etc/group");
    let mut g = std::fs::read_to_string(&group).unwrap_or_default();
    g.push_str("tty:x:5:\n");
    std::fs::write(&group, g).unwrap();
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let sock = b.dir.join("console.sock");
    let rx = console_master(&sock);
    let out = b.create(&["--console-socket", sock.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, mut fds) = rx.join().unwrap();
    b.ok(&["start", &b.id]);
    let mut master = std::fs::File::from(fds.remove(0));
    let mut buf = [0u8; 64];
    let n = master.read(&mut buf).unwrap();
    assert_eq!(String::from_utf8_lossy(&buf[..n]).trim(), "1000 5");
    let (_, mut fds) = exec_with_console(&b, &["-u", "1001:1001"], "stat -c '%u %g' $(tty)");
    assert_eq!(read_all(fds.remove(0)).trim(), "1001 5");
    b.ok(&["delete", "--force", &b.id]);
}
