//! The compile watchdog must leave the caller's ITIMER_REAL and SIGALRM
//! alone. It first borrowed them for the length of a compile; libFuzzer
//! keeps an interval alarm running, and when it fell due as the watchdog
//! handed the timer back it reached berth's handler, and the fuzzer exited
//! with "did not compile the profile within 10s" on a profile that
//! compiled in microseconds. This loop hit that within its first rounds.
//! A test binary of its own, so that nothing else moves the timer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static FIRED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count(_: libc::c_int) {
    FIRED.fetch_add(1, Ordering::SeqCst);
}

fn set_timer(usec: libc::suseconds_t) {
    let t = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: libc::timeval {
            tv_sec: 0,
            tv_usec: usec,
        },
    };
    // SAFETY: t is a valid itimerval; the old value is not wanted.
    let rc = unsafe { libc::setitimer(libc::ITIMER_REAL, &t, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "setitimer: {}", std::io::Error::last_os_error());
}

#[test]
fn a_callers_alarm_due_during_compile_reaches_the_caller() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let act = SigAction::new(
        SigHandler::Handler(count),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler only bumps an atomic.
    unsafe { sigaction(Signal::SIGALRM, &act) }.expect("sigaction");
    let profile: oci_spec::runtime::LinuxSeccomp = serde_json::from_str(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}"#,
    )
    .unwrap();
    // Alarms due from 1 µs to 2 ms after arming: the short ones fall due
    // while the watchdog hands the timer back.
    let mut expected = 0;
    for round in 0..20 {
        for usec in [1, 2, 3, 5, 8, 13, 21, 50, 200, 2000] {
            set_timer(usec);
            let filter = berth::linux::seccomp::compile(&profile)
                .unwrap_or_else(|e| panic!("round {round}, {usec} µs: {e}"));
            assert!(!filter.bpf.is_empty());
            expected += 1;
            let deadline = Instant::now() + Duration::from_secs(2);
            while FIRED.load(Ordering::SeqCst) < expected {
                assert!(
                    Instant::now() < deadline,
                    "round {round}: the caller's alarm due {usec} µs on never came"
                );
                std::thread::sleep(Duration::from_micros(100));
            }
        }
    }
    assert_eq!(FIRED.load(Ordering::SeqCst), expected);
    // Nor may its own timer outlive a compile: one left armed fires 10 s
    // on and ends the caller (the first timer's id is 0, which a null
    // check once took for "no timer").
    let timers = std::fs::read_to_string("/proc/self/timers").unwrap();
    assert!(timers.is_empty(), "timers left behind:\n{timers}");
}
