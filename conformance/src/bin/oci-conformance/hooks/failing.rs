//! Hooks that fail or outlive their timeout, stage by stage: what create,
//! start and delete do then, which hooks still run, and what is left.

use super::{Ctx, o, scenario};
use crate::outside::{Driver, gone, host_cgroup_dir};
use crate::report::Report;
use std::time::Duration;

/// A failing prestart, createRuntime or createContainer hook: create fails,
/// the hooks after it do not run, the container is stopped and destroyed
/// and poststop runs (runtime.md: "continue the lifecycle at step 12").
pub fn create_stage(ctx: &Ctx, d: &Driver, report: &mut Report, fail: &str) {
    let case = format!("hooks: failing {fail}");
    let mut hooks: Vec<(&str, String, Vec<String>)> = Vec::new();
    for stage in ["prestart", "createRuntime", "createContainer"] {
        if stage == fail {
            hooks.push((stage, format!("{stage}.0"), vec![]));
            hooks.push((stage, format!("{stage}.1"), o(&["--exit", "3"])));
            hooks.push((stage, format!("{stage}.2"), vec![]));
        } else {
            hooks.push((stage, format!("{stage}.0"), vec![]));
        }
    }
    hooks.push(("startContainer", "startContainer".into(), vec![]));
    hooks.push(("poststart", "poststart".into(), vec![]));
    hooks.push(("poststop", "poststop".into(), vec![]));
    let hooks: Vec<(&str, &str, Vec<String>)> = hooks
        .iter()
        .map(|(s, n, o)| (*s, n.as_str(), o.clone()))
        .collect();
    let s = scenario(ctx, &format!("fail-{fail}"), None, &hooks);
    let r = d.run(&["create", "--bundle", s.bundle.to_str().unwrap(), &s.id]);
    let mut check = |what: &str, ok: bool, detail: String| {
        report.truth(
            &case,
            "hook failures",
            &format!("failing {fail}: {what}"),
            ok,
            detail,
        )
    };
    check("create fails", !r.ok, String::new());
    let mut want: Vec<String> = Vec::new();
    for stage in ["prestart", "createRuntime", "createContainer"] {
        if stage == fail {
            want.push(format!("{stage}.0"));
            want.push(format!("{stage}.1"));
            break;
        }
        want.push(format!("{stage}.0"));
    }
    let before_poststop: Vec<String> = s.order().into_iter().filter(|n| n != "poststop").collect();
    check(
        "the hooks after it do not run",
        before_poststop == want,
        format!("{before_poststop:?}"),
    );
    check(
        "poststop runs (the lifecycle goes on at step 12)",
        s.order().iter().filter(|n| *n == "poststop").count() == 1,
        format!("{:?}", s.order()),
    );
    check("the program never runs", !s.program_ran(), String::new());
    check(
        "no container is left (state fails)",
        d.state(&s.id).is_none(),
        String::new(),
    );
    match s.host_pid() {
        Some(pid) => check(
            "the container's process is gone",
            gone(pid, Duration::from_secs(2)),
            format!("pid {pid} still there"),
        ),
        None => check(
            "the container's process is gone",
            false,
            "no hook told its pid".into(),
        ),
    }
    let cg = host_cgroup_dir(&s.cg_path);
    check(
        "its cgroup is removed",
        !cg.exists(),
        cg.display().to_string(),
    );
    // Nothing left means the id is free: the same id, without hooks, works.
    let mut plain = s.config.clone();
    plain.as_object_mut().unwrap().remove("hooks");
    let again = ctx.work.join(format!("hooks-{}-again", s.name));
    std::fs::create_dir_all(&again).unwrap();
    std::fs::write(again.join("config.json"), plain.to_string()).unwrap();
    let r2 = d.run(&["create", "--bundle", again.to_str().unwrap(), &s.id]);
    check("the id can be used again", r2.ok, r2.stderr);
    d.force_delete(&s.id);
    if let Some(pid) = s.host_pid() {
        kill_leftover(pid);
    }
}

/// A failing startContainer hook: start fails, the program never runs,
/// the container is stopped; delete then leaves nothing and poststop runs
/// once.
pub fn start_container(ctx: &Ctx, d: &Driver, report: &mut Report) {
    let case = "hooks: failing startContainer";
    let s = scenario(
        ctx,
        "fail-startContainer",
        None,
        &[
            ("prestart", "prestart.0", vec![]),
            ("startContainer", "startContainer.0", vec![]),
            ("startContainer", "startContainer.1", o(&["--exit", "3"])),
            ("startContainer", "startContainer.2", vec![]),
            ("poststart", "poststart", vec![]),
            ("poststop", "poststop", vec![]),
        ],
    );
    let mut check = |what: &str, ok: bool, detail: String| {
        report.truth(
            case,
            "hook failures",
            &format!("failing startContainer: {what}"),
            ok,
            detail,
        )
    };
    let r = d.run(&["create", "--bundle", s.bundle.to_str().unwrap(), &s.id]);
    check("create succeeds", r.ok, r.stderr);
    // Judge only what start runs: some runtimes run poststart in create,
    // which the all-six case already counts.
    let before = s.order().len();
    let r = d.run(&["start", &s.id]);
    check("start fails", !r.ok, String::new());
    std::thread::sleep(Duration::from_millis(100));
    let after: Vec<String> = s
        .order()
        .into_iter()
        .skip(before)
        .filter(|n| n != "poststop")
        .collect();
    check(
        "the hooks after it (and poststart) do not run",
        after == ["startContainer.0", "startContainer.1"],
        format!("{after:?}"),
    );
    check("the program never runs", !s.program_ran(), String::new());
    let st = d.status_after(&s.id, "stopped", Duration::from_secs(2));
    check(
        "the container is stopped (or already destroyed)",
        st == "stopped" || st.is_empty(),
        format!("status {st:?}"),
    );
    if let Some(pid) = s.host_pid() {
        check(
            "its process is gone",
            gone(pid, Duration::from_secs(2)),
            format!("pid {pid}"),
        );
    }
    let _ = d.run(&["delete", &s.id]);
    check(
        "after delete no container is left",
        d.state(&s.id).is_none(),
        String::new(),
    );
    let cg = host_cgroup_dir(&s.cg_path);
    check(
        "after delete its cgroup is removed",
        !cg.exists(),
        cg.display().to_string(),
    );
    check(
        "poststop runs once",
        s.order().iter().filter(|n| *n == "poststop").count() == 1,
        format!("{:?}", s.order()),
    );
    d.force_delete(&s.id);
    if let Some(pid) = s.host_pid() {
        kill_leftover(pid);
    }
}

/// runtime-spec 1.3 (runtime.md step 9): a failing poststart hook fails
/// start, stops the container and continues at step 12: it is destroyed,
/// then the poststop hooks run (up to 1.2 it was a warning). A failing
/// poststop hook is a warning: the remaining hooks run.
pub fn post_hooks(ctx: &Ctx, d: &Driver, report: &mut Report) {
    let case = "hooks: failing poststart, poststop";
    let s = scenario(
        ctx,
        "fail-post",
        None,
        &[
            ("poststart", "poststart.0", o(&["--exit", "3"])),
            ("poststart", "poststart.1", vec![]),
            ("poststop", "poststop.0", o(&["--exit", "3"])),
            ("poststop", "poststop.1", vec![]),
        ],
    );
    let mut check = |what: &str, ok: bool, detail: String| {
        report.truth(case, "hook failures", what, ok, detail)
    };
    let r = d.run(&["create", "--bundle", s.bundle.to_str().unwrap(), &s.id]);
    check("failing poststart: create succeeds", r.ok, r.stderr);
    let r = d.run(&["start", &s.id]);
    check(
        "failing poststart: start fails (1.3)",
        !r.ok,
        r.stderr.clone(),
    );
    check(
        "failing poststart: the later poststart hooks do not run (1.3)",
        !s.order().iter().any(|n| n == "poststart.1"),
        format!("{:?}", s.order()),
    );
    check(
        "failing poststart: the container is stopped and destroyed (1.3, step 12)",
        d.state(&s.id).is_none(),
        format!("{:?}", d.state(&s.id)),
    );
    let post: Vec<String> = s
        .order()
        .into_iter()
        .filter(|n| n.starts_with("poststop"))
        .collect();
    check(
        "failing poststop: the later poststop hooks run (step 13)",
        post == ["poststop.0", "poststop.1"],
        format!("{post:?}"),
    );
    check(
        "failing poststop: a warning is printed",
        r.stderr.contains("poststop"),
        r.stderr.clone(),
    );
    d.force_delete(&s.id);
}

/// A hook that outlives its timeout is killed and counts as failed: create
/// fails for createRuntime, start for poststart (runtime-spec 1.3).
pub fn timeouts(ctx: &Ctx, d: &Driver, report: &mut Report) {
    let case = "hooks: timeout";
    // The timeout leaves the hook time to record itself even in an
    // emulated VM on a loaded host (1 s was seen too short there); the
    // sleep is long enough to tell a kill from an exit.
    let s = scenario(
        ctx,
        "timeout-create",
        None,
        &[
            ("prestart", "prestart.0", vec![]),
            (
                "createRuntime",
                "createRuntime.0",
                o(&["--sleep", "30", "--timeout", "3"]),
            ),
            ("createContainer", "createContainer.0", vec![]),
        ],
    );
    let mut check =
        |what: &str, ok: bool, detail: String| report.truth(case, "hook timeout", what, ok, detail);
    let r = d.run(&["create", "--bundle", s.bundle.to_str().unwrap(), &s.id]);
    check(
        "createRuntime past its timeout: create fails",
        !r.ok,
        String::new(),
    );
    check(
        "createRuntime past its timeout: create returns soon after it",
        r.took < Duration::from_secs(12),
        format!("took {:?}", r.took),
    );
    let hook_pid = s.record("createRuntime.0").and_then(|x| x["pid"].as_i64());
    check(
        "createRuntime past its timeout: the hook is killed",
        hook_pid.is_some_and(|p| gone(p, Duration::from_secs(1))),
        format!("hook pid {hook_pid:?}"),
    );
    check(
        "createRuntime past its timeout: the hooks after it do not run",
        s.order() == ["prestart.0", "createRuntime.0"],
        format!("{:?}", s.order()),
    );
    check(
        "createRuntime past its timeout: no container is left",
        d.state(&s.id).is_none(),
        String::new(),
    );
    d.force_delete(&s.id);
    if let Some(p) = hook_pid {
        kill_leftover(p);
    }
    if let Some(pid) = s.host_pid() {
        kill_leftover(pid);
    }

    let s = scenario(
        ctx,
        "timeout-poststart",
        None,
        &[
            (
                "poststart",
                "poststart.0",
                o(&["--sleep", "30", "--timeout", "3"]),
            ),
            ("poststart", "poststart.1", vec![]),
        ],
    );
    let r = d.run(&["create", "--bundle", s.bundle.to_str().unwrap(), &s.id]);
    check(
        "poststart past its timeout: create succeeds",
        r.ok,
        r.stderr,
    );
    let r = d.run(&["start", &s.id]);
    check(
        "poststart past its timeout: start fails (1.3)",
        !r.ok,
        r.stderr,
    );
    check(
        "poststart past its timeout: start returns soon after it",
        r.took < Duration::from_secs(12),
        format!("took {:?}", r.took),
    );
    let hook_pid = s.record("poststart.0").and_then(|x| x["pid"].as_i64());
    check(
        "poststart past its timeout: the hook is killed",
        hook_pid.is_some_and(|p| gone(p, Duration::from_secs(1))),
        format!("hook pid {hook_pid:?}"),
    );
    check(
        "poststart past its timeout: the later poststart hooks do not run (1.3)",
        !s.order().iter().any(|n| n == "poststart.1"),
        format!("{:?}", s.order()),
    );
    check(
        "poststart past its timeout: the container is stopped and destroyed (1.3)",
        d.state(&s.id).is_none(),
        format!("{:?}", d.state(&s.id)),
    );
    d.force_delete(&s.id);
    if let Some(p) = hook_pid {
        kill_leftover(p);
    }
}

/// A process this run started (a container's init or a hook) that a
/// runtime left behind: end it by its pid, once /proc shows it is ours
/// (a hook's command line, or a cgroup of this run).
fn kill_leftover(pid: i64) {
    let ours = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| c.contains("\0--hook\0"))
        || std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .is_ok_and(|c| c.contains(&format!("/oci-conformance-{}/", std::process::id())));
    if pid > 1 && ours && !gone(pid, Duration::ZERO) {
        // SAFETY: kill with a pid this run started and a constant signal.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
}
