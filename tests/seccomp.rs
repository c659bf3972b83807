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
