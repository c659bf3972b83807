//! seccomp profiles, checked from inside the container by what each
//! syscall returns.

mod common;
use common::*;
use serde_json::{Value, json};

fn with_profile(script: &str, profile: Value) -> Bundle {
    let mut b = bundle(&["sh", "-c", script]);
    b.config["linux"]["seccomp"] = profile;
    b
}

#[test]
fn errno_actions_and_custom_errno() {
    let b = with_profile(
        "grep Seccomp: /proc/self/status; mkdir /tmp/x 2>&1; cat /proc/self/status > /dev/null; echo ok",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}),
    );
    let out = b.run_ok();
    assert!(out.starts_with("Seccomp:\t2\n"), "{out}");
    assert!(
        out.contains("Function not implemented"),
        "errnoRet 38 is ENOSYS: {out}"
    );
    assert!(out.ends_with("ok\n"), "{out}");
}

#[test]
fn argument_operators() {
    // kill(pid, sig): deny sig == 0 (EQ) and odd signals (MASKED_EQ).
    let b = with_profile(
        "kill -0 $$ 2>/dev/null; echo zero=$?; kill -HUP $$ 2>/dev/null; echo hup=$?; kill -CONT $$; echo cont=$?",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 1, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}]}
        ]}),
    );
    assert_eq!(b.run_ok(), "zero=1\nhup=1\ncont=0\n");
    // Two conditions on one argument: each becomes a rule of its own
    // (either matches), as runc compiles them. SIGWINCH (28) is ignored by
    // default, so the allowed kill leaves the shell running.
    let b = with_profile(
        "for s in 2 28 30; do kill -$s $$ 2>/dev/null; echo -n \"$s=$? \"; done",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [
                {"index": 1, "value": 3, "op": "SCMP_CMP_LT"}, {"index": 1, "value": 29, "op": "SCMP_CMP_GT"}]}]}),
    );
    assert_eq!(b.run_ok(), "2=1 28=0 30=1 ");
}

#[test]
fn kill_process_and_trap_end_the_process_with_sigsys() {
    for action in ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_KILL"] {
        // No pid namespace: the program is not an init, so SIGSYS kills it.
        let mut b = with_profile(
            "mkdir /tmp/never",
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": action}]}),
        );
        b.config["linux"]["namespaces"] =
            json!([{"type": "mount"}, {"type": "uts"}, {"type": "ipc"}]);
        let out = b.run();
        assert_eq!(
            out.status.code(),
            Some(128 + 31),
            "{action}: {}",
            stderr(&out)
        );
        b.assert_no_leftovers();
    }
}

#[test]
fn default_errno_with_an_allow_list_and_log_flag() {
    // Deny by default with defaultErrnoRet; allow everything busybox needs
    // by listing every syscall but one family.
    let allowed: Vec<&str> = SYSCALLS
        .iter()
        .copied()
        .filter(|s| !s.starts_with("mkdir"))
        .collect();
    let b = with_profile(
        "mkdir /tmp/y 2>&1; echo after",
        json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "flags": ["SECCOMP_FILTER_FLAG_LOG"],
               "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}, {"names": ["getppid"], "action": "SCMP_ACT_LOG"}]}),
    );
    let out = b.run_ok();
    assert!(
        out.contains("Operation not permitted") && out.ends_with("after\n"),
        "{out}"
    );
}

#[test]
fn without_no_new_privs_a_non_root_process_is_filtered_too() {
    let mut b = with_profile(
        "id -u; grep -E 'Seccomp:|NoNewPrivs' /proc/self/status; mkdir /tmp/z 2>/dev/null || echo denied",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}),
    );
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    assert_eq!(b.run_ok(), "1000\nNoNewPrivs:\t0\nSeccomp:\t2\ndenied\n");
}

#[test]
fn exec_gets_the_container_filter() {
    let b = with_profile(
        "sleep 100",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}),
    );
    assert!(b.create(&[]).status.success());
    b.ok(&["start", &b.id]);
    let out = b.ok(&[
        "exec",
        &b.id,
        "sh",
        "-c",
        "grep Seccomp: /proc/self/status; mkdir /tmp/w 2>/dev/null || echo denied",
    ]);
    assert_eq!(out, "Seccomp:\t2\ndenied\n");
    b.ok(&["delete", "--force", &b.id]);
}

/// Busybox's syscalls without the 43x ones (clone3, close_range,
/// faccessat2): a profile from before Linux 5.3, whose newest is rseq (334).
fn old_syscalls() -> Vec<&'static str> {
    SYSCALLS
        .iter()
        .copied()
        .filter(|s| !["clone3", "close_range", "faccessat2"].contains(s) && !s.starts_with("mkdir"))
        .collect()
}

const ARCHS: [&str; 3] = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];

#[test]
fn syscalls_newer_than_the_profile_fail_with_enosys() {
    // mkdir (83): older and not named, the default errno. mkdirat (258):
    // named and denied. clone3 (435), openat2 (437): newer than anything
    // named, ENOSYS, so that libc falls back (posix_spawn and
    // pthread_create try clone3 first, then clone).
    let script = "P=/tmp/sysprobe; $P 83 0 0; $P 258 0 0 0; $P 435 0 0; $P 437 0 0 0 0; $P spawn /bin/true; $P thread";
    let mut b = with_profile(
        script,
        json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "architectures": ARCHS,
               "syscalls": [{"names": old_syscalls(), "action": "SCMP_ACT_ALLOW"},
                            {"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}),
    );
    b.with_sysprobe();
    assert_eq!(
        b.run_ok(),
        "ret=-1 errno=1\nret=-1 errno=13\nret=-1 errno=38\nret=-1 errno=38\nspawn status=0\nthread ok\n"
    );

    // A profile that names clone3 (to deny it) keeps its own answer for
    // it, and glibc does not fall back from EPERM: posix_spawn fails.
    // openat2 is still newer than anything named.
    let mut b = with_profile(
        script,
        json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "architectures": ARCHS,
               "syscalls": [{"names": old_syscalls(), "action": "SCMP_ACT_ALLOW"},
                            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}),
    );
    b.with_sysprobe();
    assert_eq!(
        b.run_ok(),
        "ret=-1 errno=1\nret=-1 errno=1\nret=-1 errno=1\nret=-1 errno=38\nspawn errno=1\nthread errno=1\n"
    );
}

/// Syscalls a busybox shell may make on x86_64 (a superset is fine).
const SYSCALLS: &[&str] = &[
    "read",
    "write",
    "open",
    "close",
    "stat",
    "fstat",
    "lstat",
    "poll",
    "lseek",
    "mmap",
    "mprotect",
    "munmap",
    "brk",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "ioctl",
    "pread64",
    "pwrite64",
    "readv",
    "writev",
    "access",
    "pipe",
    "select",
    "sched_yield",
    "mremap",
    "msync",
    "mincore",
    "madvise",
    "dup",
    "dup2",
    "pause",
    "nanosleep",
    "getitimer",
    "alarm",
    "setitimer",
    "getpid",
    "sendfile",
    "socket",
    "connect",
    "clone",
    "fork",
    "vfork",
    "execve",
    "exit",
    "wait4",
    "kill",
    "uname",
    "fcntl",
    "flock",
    "fsync",
    "fdatasync",
    "truncate",
    "ftruncate",
    "getdents",
    "getcwd",
    "chdir",
    "fchdir",
    "rename",
    "rmdir",
    "creat",
    "link",
    "unlink",
    "symlink",
    "readlink",
    "chmod",
    "fchmod",
    "chown",
    "fchown",
    "lchown",
    "umask",
    "gettimeofday",
    "getrlimit",
    "getrusage",
    "sysinfo",
    "times",
    "getuid",
    "getgid",
    "setuid",
    "setgid",
    "geteuid",
    "getegid",
    "setpgid",
    "getppid",
    "getpgrp",
    "setsid",
    "setreuid",
    "setregid",
    "getgroups",
    "setgroups",
    "setresuid",
    "getresuid",
    "setresgid",
    "getresgid",
    "getpgid",
    "getsid",
    "capget",
    "capset",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigsuspend",
    "sigaltstack",
    "statfs",
    "fstatfs",
    "prctl",
    "arch_prctl",
    "setrlimit",
    "sync",
    "gettid",
    "futex",
    "getdents64",
    "set_tid_address",
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "exit_group",
    "tgkill",
    "openat",
    "newfstatat",
    "unlinkat",
    "renameat",
    "linkat",
    "symlinkat",
    "readlinkat",
    "fchmodat",
    "faccessat",
    "pselect6",
    "ppoll",
    "set_robust_list",
    "get_robust_list",
    "dup3",
    "pipe2",
    "prlimit64",
    "getrandom",
    "execveat",
    "statx",
    "rseq",
    "clone3",
    "faccessat2",
    "close_range",
    "wait4",
    "waitid",
    "sched_getaffinity",
    "getpriority",
    "setpriority",
];

#[test]
fn a_profile_that_refuses_close_range_still_works() {
    // Older profiles do not know close_range; without no_new_privs the
    // filter is loaded before berth closes fds, so it must cope.
    let mut b = with_profile(
        "ls /proc/self/fd | wc -l",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["close_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}),
    );
    b.config["process"]["noNewPrivileges"] = json!(false);
    // 0, 1, 2 and ls's own directory fd.
    assert_eq!(b.run_ok().trim(), "4");
}

/// A seccomp agent, as an engine would run one: it accepts on a unix
/// socket, takes the notify fd and the container process state from each
/// connection (one per create or exec), and answers notifications:
/// mkdir/mkdirat fail with EXDEV (nothing is created), getppid returns 4242.
struct Agent {
    path: std::path::PathBuf,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<(Value, String)>>>,
}

#[repr(C)]
#[derive(Default)]
struct Notif {
    id: u64,
    pid: u32,
    flags: u32,
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

#[repr(C)]
struct NotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

const NOTIF_RECV: u64 = 0xc050_2100; // _IOWR('!', 0, struct seccomp_notif)
const NOTIF_SEND: u64 = 0xc018_2101; // _IOWR('!', 1, struct seccomp_notif_resp)
const USER_NOTIF_FLAG_CONTINUE: u32 = 1;

impl Agent {
    fn start(dir: &std::path::Path) -> Agent {
        use std::os::unix::net::UnixListener;
        use std::sync::atomic::Ordering;
        let path = dir.join("agent.sock");
        let sock = UnixListener::bind(&path).unwrap();
        sock.set_nonblocking(true).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut servers = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let conn = match sock.accept() {
                    Ok((c, _)) => c,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(std::time::Duration::from_millis(10));
                        continue;
                    }
                    Err(e) => panic!("accept: {e}"),
                };
                conn.set_nonblocking(false).unwrap();
                let (state, fd) = receive(&conn);
                let kind = std::fs::read_link(format!("/proc/self/fd/{}", fd_raw(&fd)))
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                got.push((state, kind));
                let flag = flag.clone();
                servers.push(std::thread::spawn(move || serve(fd, &flag)));
            }
            for s in servers {
                s.join().unwrap();
            }
            got
        });
        Agent {
            path,
            stop,
            thread: Some(thread),
        }
    }

    /// Every connection's state and what its fd was.
    fn finish(mut self) -> Vec<(Value, String)> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn fd_raw(fd: &std::os::fd::OwnedFd) -> i32 {
    std::os::fd::AsRawFd::as_raw_fd(fd)
}

fn receive(conn: &std::os::unix::net::UnixStream) -> (Value, std::os::fd::OwnedFd) {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut buf = vec![0u8; 64 * 1024];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .unwrap();
    let mut fd = None;
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY (test): a fresh fd from SCM_RIGHTS, owned by nobody else.
            fd = Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fds[0]) });
        }
    }
    let n = msg.bytes;
    let state = serde_json::from_slice(&buf[..n]).unwrap();
    (state, fd.expect("no fd came with the state"))
}

fn serve(fd: std::os::fd::OwnedFd, stop: &std::sync::atomic::AtomicBool) {
    use std::sync::atomic::Ordering;
    loop {
        let mut pfd = libc::pollfd {
            fd: fd_raw(&fd),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY (test): one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, 50) };
        if pfd.revents & libc::POLLHUP != 0 || (r == 0 && stop.load(Ordering::Relaxed)) {
            return;
        }
        if r <= 0 {
            continue;
        }
        let mut n = Notif::default();
        // SAFETY (test): n is a zeroed struct seccomp_notif.
        if unsafe { libc::ioctl(fd_raw(&fd), NOTIF_RECV, &mut n) } != 0 {
            continue; // the caller died meanwhile
        }
        let (val, error, flags) = match n.nr as i64 {
            libc::SYS_mkdir | libc::SYS_mkdirat => (0, -libc::EXDEV, 0),
            libc::SYS_getppid => (4242, 0, 0),
            _ => (0, 0, USER_NOTIF_FLAG_CONTINUE),
        };
        let mut resp = NotifResp {
            id: n.id,
            val,
            error,
            flags,
        };
        // SAFETY (test): resp is a valid struct seccomp_notif_resp.
        unsafe { libc::ioctl(fd_raw(&fd), NOTIF_SEND, &mut resp) };
    }
}

fn notify_profile(agent: &Agent) -> Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": agent.path, "listenerMetadata": "from-the-config",
           "syscalls": [{"names": ["mkdir", "mkdirat", "getppid"], "action": "SCMP_ACT_NOTIFY"}]})
}

#[test]
fn notify_hands_the_listener_its_fd_and_the_state_and_it_answers() {
    // Loaded before the user switch (no noNewPrivileges) and right before
    // "created" (with it): either way the fd reaches the agent through
    // berth create.
    for nnp in [true, false] {
        let mut b = bundle(&[
            "sh",
            "-c",
            "echo ppid=$PPID; mkdir /tmp/n 2>&1; test -d /tmp/n || echo absent",
        ]);
        let agent = Agent::start(&b.dir);
        b.config["linux"]["seccomp"] = notify_profile(&agent);
        b.config["process"]["noNewPrivileges"] = json!(nnp);
        let out = b.run_ok();
        assert_eq!(
            out,
            "ppid=4242\nmkdir: can't create directory '/tmp/n': Invalid cross-device link\nabsent\n",
            "noNewPrivileges {nnp}"
        );
        let got = agent.finish();
        assert_eq!(got.len(), 1, "{got:?}");
        let (s, kind) = &got[0];
        assert_eq!(kind, "anon_inode:seccomp notify");
        assert_eq!(s["fds"], json!(["seccompFd"]), "{s}");
        assert_eq!(s["metadata"], "from-the-config", "{s}");
        assert_eq!(s["ociVersion"], "1.2.0", "{s}");
        assert_eq!(s["state"]["id"], b.id.as_str(), "{s}");
        assert_eq!(s["state"]["status"], "creating", "{s}");
        assert!(
            s["pid"].as_i64().unwrap() > 0 && s["pid"] == s["state"]["pid"],
            "{s}"
        );
        b.assert_no_leftovers();
    }
}

#[test]
fn exec_sends_its_own_listener_fd() {
    let mut b = bundle(&["sleep", "100"]);
    let agent = Agent::start(&b.dir);
    b.config["linux"]["seccomp"] = notify_profile(&agent);
    let out = b.create(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    b.ok(&["start", &b.id]);
    let out = b.ok(&[
        "exec",
        &b.id,
        "sh",
        "-c",
        "echo $PPID; mkdir /tmp/e 2>/dev/null || echo refused",
    ]);
    assert_eq!(out, "4242\nrefused\n");
    let init = b.state()["pid"].as_i64().unwrap();
    b.ok(&["delete", "--force", &b.id]);
    let got = agent.finish();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0["state"]["status"], "creating");
    assert_eq!(got[0].0["pid"], init);
    let (s, kind) = &got[1];
    assert_eq!(kind, "anon_inode:seccomp notify");
    assert_eq!(s["state"]["status"], "running", "{s}");
    assert_eq!(s["state"]["pid"], init, "{s}");
    assert!(
        s["pid"] != init && s["pid"].as_i64().unwrap() > 0,
        "exec's own pid: {s}"
    );
}

#[test]
fn notify_without_a_listener_path_is_refused_before_anything_runs() {
    let b = with_profile(
        "true",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    let out = b.create(&[]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(e.contains("linux.seccomp.listenerPath"), "{e}");
    b.assert_no_leftovers();
}

#[test]
fn an_absent_listener_fails_create_and_leaves_nothing() {
    let b = with_profile(
        "true",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/nonexistent/agent.sock",
               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    let out = b.create(&[]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains("/nonexistent/agent.sock") && e.contains("no such file or directory"),
        "{e}"
    );
    b.assert_no_leftovers();
}

#[test]
fn a_profile_libseccomp_never_finishes_fails_create_after_the_limit() {
    // libseccomp 2.5.4 spins forever on these two rules (fuzz/known-hangs/).
    let hang: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fuzz/known-hangs/libseccomp-2.5.4-db_rule_add-32bit.config.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let b = with_profile("true", hang["linux"]["seccomp"].clone());
    // create, and run, which blocks every signal while it sets up (to
    // forward them later): the watchdog's own signal must still reach it.
    let commands: [&dyn Fn() -> std::process::Output; 2] = [&|| b.create(&[]), &|| b.run()];
    for command in commands {
        let started = std::time::Instant::now();
        let out = command();
        assert!(!out.status.success());
        let e = stderr(&out);
        assert!(
            e.contains("linux.seccomp: libseccomp did not compile the profile within 10s"),
            "{e}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        b.assert_no_leftovers();
    }
}
