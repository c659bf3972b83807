//! The six hooks from outside (config.md "POSIX-platform Hooks",
//! runtime.md "Lifecycle"): order, the state each gets on stdin, the
//! namespaces each runs in, args and env exactly as given, what a failing
//! hook of each stage does, and timeouts.
//!
//! Every hook is oci-check in its recording mode (`--hook`): it writes
//! what it was given and saw to a log directory the driver reads. The
//! startContainer hook runs in the container, so its path is the checker's
//! path there and its log directory is the same one bind-mounted in.

mod failing;

use crate::Runtime;
use crate::outside::{Driver, host_cgroup_dir, ns_of};
use crate::report::Report;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

const STAGES: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Extra arguments after the recorder's own: an empty one, one with a
/// space, one that looks like an option.
const FREE_ARGS: [&str; 4] = ["--", "two words", "", "x=1"];

pub struct Ctx<'a> {
    pub rt: &'a Runtime,
    pub work: &'a Path,
    pub rootfs: &'a Path,
    /// Holds oci-check; bind-mounted at /conformance in the container.
    pub bin: PathBuf,
}

/// One container's hooks and what they recorded.
pub(crate) struct Scenario {
    name: String,
    id: String,
    bundle: PathBuf,
    log: PathBuf,
    cg_path: String,
    config: Value,
}

impl Scenario {
    fn record(&self, name: &str) -> Option<Value> {
        std::fs::read_to_string(self.log.join(format!("{name}.json")))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
    }

    /// The state the hook got on stdin.
    fn state(&self, name: &str) -> Value {
        self.record(name)
            .and_then(|r| serde_json::from_str(r["stdin"].as_str()?).ok())
            .unwrap_or(Value::Null)
    }

    fn order(&self) -> Vec<String> {
        std::fs::read_to_string(self.log.join("order"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn program_ran(&self) -> bool {
        self.log.join("program-ran").exists()
    }

    /// The hook as config.json gives it, for comparing args and env.
    fn hook_config(&self, stage: &str, name: &str) -> Value {
        self.config["hooks"][stage]
            .as_array()
            .into_iter()
            .flatten()
            .find(|h| h["args"][3] == name)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// The pid of the container's init as the runtime's namespace sees it,
    /// from the first hook that runs there.
    fn host_pid(&self) -> Option<i64> {
        self.order()
            .iter()
            .filter(|n| n.starts_with("prestart") || n.starts_with("createRuntime"))
            .find_map(|n| self.state(n)["pid"].as_i64())
    }
}

/// A recording hook for `stage` named `name`; `opts` go to the recorder
/// (--exit N, --sleep S, --cmdline PID, --probe PATH).
pub(crate) fn hook(ctx: &Ctx, log: &Path, stage: &str, name: &str, opts: &[&str]) -> Value {
    let inside = stage == "startContainer";
    let (path, dir) = if inside {
        ("/conformance/oci-check".to_string(), "/hooklog".to_string())
    } else {
        (
            ctx.bin.join("oci-check").display().to_string(),
            log.display().to_string(),
        )
    };
    let mut args = vec![format!("hook {name}"), "--hook".into(), dir, name.into()];
    args.extend(opts.iter().map(|s| s.to_string()));
    args.extend(FREE_ARGS.iter().map(|s| s.to_string()));
    json!({
        "path": path,
        "args": args,
        "env": [format!("HOOK={name}"), "SPACED=a b", "EMPTY="],
    })
}

/// Write a bundle whose program leaves a mark when it runs (or is
/// `program` when given), with `hooks` built from (stage, name, opts).
pub(crate) fn scenario(
    ctx: &Ctx,
    name: &str,
    program: Option<&[&str]>,
    hooks: &[(&str, &str, Vec<String>)],
) -> Scenario {
    let bundle = ctx.work.join(format!("hooks-{name}"));
    let log = bundle.join("log");
    std::fs::create_dir_all(&log).unwrap();
    let cg_path = format!("/oci-conformance-{}/hooks-{name}", std::process::id());
    let mut config = crate::base(ctx.rootfs);
    config["process"]["args"] = match program {
        Some(p) => json!(p),
        None => json!(["sh", "-c", "touch /hooklog/program-ran; exec sleep 1000"]),
    };
    config["linux"]["cgroupsPath"] = json!(cg_path);
    config["linux"]["resources"] = json!({"pids": {"limit": 64}});
    config["annotations"]["conformance.scenario"] = json!(name);
    let mounts = config["mounts"].as_array_mut().unwrap();
    mounts.push(
        json!({"destination": "/hooklog", "type": "bind", "source": log, "options": ["rbind"]}),
    );
    mounts.push(json!({"destination": "/conformance", "type": "bind", "source": ctx.bin, "options": ["rbind", "ro"]}));
    let mut h = serde_json::Map::new();
    for (stage, hname, opts) in hooks {
        // --timeout is the hook's own field, the rest go to the recorder.
        let mut timeout = None;
        let mut rec_opts = Vec::new();
        let mut it = opts.iter();
        while let Some(x) = it.next() {
            if x == "--timeout" {
                timeout = it.next().map(|t| t.parse::<u64>().unwrap());
            } else {
                rec_opts.push(x.as_str());
            }
        }
        let mut one = hook(ctx, &log, stage, hname, &rec_opts);
        if let Some(t) = timeout {
            one["timeout"] = json!(t);
        }
        let entry = h.entry(stage.to_string()).or_insert_with(|| json!([]));
        entry.as_array_mut().unwrap().push(one);
    }
    config["hooks"] = Value::Object(h);
    std::fs::write(bundle.join("config.json"), config.to_string()).unwrap();
    Scenario {
        id: format!("hooks-{name}-{}", std::process::id()),
        name: name.into(),
        bundle,
        log,
        cg_path,
        config,
    }
}

pub(crate) fn o(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub fn run(ctx: &Ctx, report: &mut Report) {
    let d = Driver {
        rt: ctx.rt,
        root: ctx.work.join("state-hooks"),
        scratch: ctx.work.to_path_buf(),
    };
    all_six(ctx, &d, report);
    for stage in ["prestart", "createRuntime", "createContainer"] {
        failing::create_stage(ctx, &d, report, stage);
    }
    failing::start_container(ctx, &d, report);
    failing::post_hooks(ctx, &d, report);
    failing::timeouts(ctx, &d, report);
}

/// One container with every stage, run through its whole life.
fn all_six(ctx: &Ctx, d: &Driver, report: &mut Report) {
    let case = "hooks: all six";
    let cg_dir = host_cgroup_dir(&format!(
        "/oci-conformance-{}/hooks-all",
        std::process::id()
    ));
    let probe = cg_dir.display().to_string();
    let s = scenario(
        ctx,
        "all",
        Some(&["sleep", "1000"]),
        &[
            ("prestart", "prestart.0", vec![]),
            ("prestart", "prestart.1", vec![]),
            // A timeout that is not reached changes nothing.
            ("createRuntime", "createRuntime", o(&["--timeout", "30"])),
            ("createContainer", "createContainer", vec![]),
            ("startContainer", "startContainer", o(&["--cmdline", "1"])),
            (
                "poststart",
                "poststart",
                o(&["--cmdline", "state", "--timeout", "30"]),
            ),
            ("poststop", "poststop", o(&["--probe", &probe])),
        ],
    );
    let b = s.bundle.to_str().unwrap();
    let r = d.run(&["create", "--bundle", b, &s.id]);
    report.truth(
        case,
        "hooks",
        "create with all six hooks succeeds",
        r.ok,
        r.stderr,
    );
    let pid = d
        .state(&s.id)
        .and_then(|st| st["pid"].as_i64())
        .unwrap_or(0);
    // The container's namespaces, while its init is there to show them.
    let container_ns: std::collections::HashMap<&str, String> = ["mnt", "pid", "net", "ipc", "uts"]
        .into_iter()
        .map(|k| (k, ns_of(pid, k)))
        .collect();
    let r = d.run(&["start", &s.id]);
    report.truth(case, "hooks", "start succeeds", r.ok, r.stderr);
    // startContainer comes before the program and poststart after it,
    // both before start returns.
    for n in ["startContainer", "poststart"] {
        report.truth(
            case,
            "hooks",
            &format!("{n}: has run when start returns"),
            s.record(n).is_some(),
            format!("order so far: {:?}", s.order()),
        );
    }
    // Judge the rest on what comes, even if late.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while s.record("startContainer").is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = d.run(&["kill", &s.id, "KILL"]);
    let _ = d.status_after(&s.id, "stopped", Duration::from_secs(5));
    let r = d.run(&["delete", &s.id]);
    report.truth(case, "hooks", "delete succeeds", r.ok, r.stderr);
    report.truth(
        case,
        "hooks",
        "poststop: has run when delete returns",
        s.record("poststop").is_some(),
        String::new(),
    );
    let want_order = [
        "prestart.0",
        "prestart.1",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ];
    report.truth(
        case,
        "hooks",
        "all six run once each, in the listed order (stages and hooks)",
        s.order() == want_order,
        format!("{:?}", s.order()),
    );

    let runtime_ns = |k: &str| crate::ns_link(&format!("/proc/self/ns/{k}"));
    for stage in STAGES {
        let name = if stage == "prestart" {
            "prestart.0"
        } else {
            stage
        };
        let Some(rec) = s.record(name) else {
            report.truth(
                case,
                "hooks",
                &format!("{stage}: ran"),
                false,
                format!("no record; order {:?}", s.order()),
            );
            continue;
        };
        let conf = s.hook_config(stage, name);
        report.truth(
            case,
            "hooks",
            &format!("{stage}: args exactly as given, args[0] included"),
            rec["argv"] == conf["args"],
            format!("got {}", rec["argv"]),
        );
        let sorted = |v: &Value| {
            let mut l: Vec<String> = v
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(String::from))
                .collect();
            l.sort();
            l
        };
        report.truth(
            case,
            "hooks",
            &format!("{stage}: env exactly as given, nothing more"),
            sorted(&rec["env"]) == sorted(&conf["env"]),
            format!("got {}", rec["env"]),
        );
        // config.md: createContainer and startContainer run in the
        // container namespace, the others in the runtime namespace.
        let in_container = matches!(stage, "createContainer" | "startContainer");
        let kinds: &[&str] = if in_container {
            &["mnt", "pid", "net", "ipc", "uts"]
        } else {
            &["mnt", "pid", "net"]
        };
        let wrong: Vec<String> = kinds
            .iter()
            .filter(|k| {
                let want = if in_container {
                    container_ns[**k].clone()
                } else {
                    runtime_ns(k)
                };
                rec["ns"][**k] != want.as_str() || want.is_empty()
            })
            .map(|k| k.to_string())
            .collect();
        report.truth(
            case,
            "hooks",
            &format!(
                "{stage}: runs in the {}'s namespaces",
                if in_container { "container" } else { "runtime" }
            ),
            wrong.is_empty(),
            format!("differs: {wrong:?}"),
        );
        state_checks(&s, stage, name, pid, report);
    }
    // What each stage can see of the container when it runs.
    for n in ["prestart.0", "createRuntime"] {
        let rec = s.record(n).unwrap_or(Value::Null);
        let net = container_ns["net"].clone();
        report.truth(
            case,
            "hooks",
            &format!(
                "{}: runs after the container's namespaces exist",
                n.trim_end_matches(".0")
            ),
            rec["target_ns"]["net"] == net.as_str() && net != runtime_ns("net"),
            format!("saw {}", rec["target_ns"]["net"]),
        );
    }
    let program = json!(["sleep", "1000"]);
    let sc = s.record("startContainer").unwrap_or(Value::Null);
    report.truth(
        case,
        "hooks",
        "startContainer: runs before the program is executed",
        sc["cmdline"].as_array().is_some_and(|c| !c.is_empty()) && sc["cmdline"] != program,
        format!("pid 1 was {}", sc["cmdline"]),
    );
    let ps = s.record("poststart").unwrap_or(Value::Null);
    report.truth(
        case,
        "hooks",
        "poststart: runs after the program is executed",
        ps["cmdline"] == program,
        format!("the container's process was {}", ps["cmdline"]),
    );
    let pp = s.record("poststop").unwrap_or(Value::Null);
    report.truth(
        case,
        "hooks",
        "poststop: runs after the container is deleted (its cgroup is gone)",
        pp["probes"][&probe] == false,
        format!("{probe} existed"),
    );
    d.force_delete(&s.id);
}

/// The state document a hook got, as runtime.md's State section and the
/// lifecycle put it: status by the step it runs at, pid as seen from the
/// namespace it runs in.
pub(crate) fn state_checks(
    s: &Scenario,
    stage: &str,
    name: &str,
    host_pid: i64,
    report: &mut Report,
) {
    let case = "hooks: all six";
    let st = s.state(name);
    let mut check =
        |what: &str, ok: bool, detail: String| report.truth(case, "hook state", what, ok, detail);
    // prestart, createRuntime, createContainer run "as part of the create
    // operation" (config.md), which makes them "creating"; runtime.md's
    // State puts "created" after step 2, which they follow: either is
    // read here. startContainer runs before the program is executed:
    // created, not yet running.
    let status: &[&str] = match stage {
        "prestart" | "createRuntime" | "createContainer" => &["creating", "created"],
        "startContainer" => &["created"],
        "poststart" => &["running"],
        _ => &["stopped"],
    };
    check(
        &format!("{stage}: status {}", status.join(" or ")),
        status.iter().any(|x| st["status"] == *x),
        format!("got {}", st["status"]),
    );
    check(
        &format!("{stage}: id, bundle, ociVersion"),
        st["id"] == s.id.as_str()
            && st["bundle"] == s.bundle.to_str().unwrap()
            && st["ociVersion"].is_string(),
        st.to_string(),
    );
    check(
        &format!("{stage}: annotations as in config.json"),
        st["annotations"] == s.config["annotations"],
        st["annotations"].to_string(),
    );
    // A stopped container need not have a pid.
    if stage != "poststop" {
        let (want, seen) = if matches!(stage, "createContainer" | "startContainer") {
            (1, "container (pid 1 in its pid namespace)")
        } else {
            (host_pid, "runtime")
        };
        check(
            &format!("{stage}: pid as the {seen} sees it"),
            st["pid"] == want && want > 0,
            format!("got {}, want {want}", st["pid"]),
        );
    }
}
