use super::Global;
use crate::cli::ExecArgs;
use crate::error::{Error, Result, SysContext};
use crate::launch::exec::{self, ExecPlan};
use crate::state::{self, Status};
use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
use oci_spec::runtime::Process;
use serde_json::{Value, json};

/// The process to run: --process JSON, or the container's own process
/// with the command line's changes (as runc builds it).
fn build(a: &ExecArgs, base: Option<&Process>) -> Result<Process> {
    if let Some(path) = &a.process {
        let text = std::fs::read(path).sys("read --process", path.display())?;
        return crate::spec::parse_process(&text, &path.display().to_string());
    }
    if a.command.is_empty() {
        return Err(Error::msg("exec: a command (or --process) is required"));
    }
    let mut p = serde_json::to_value(base.cloned().unwrap_or_default()).unwrap_or_default();
    p["args"] = json!(a.command);
    p["terminal"] = json!(a.tty);
    if let Some(profile) = &a.apparmor {
        p["apparmorProfile"] = json!(profile);
    }
    if let Some(label) = &a.process_label {
        p["selinuxLabel"] = json!(label);
    }
    if let Some(cwd) = &a.cwd {
        p["cwd"] = json!(cwd);
    }
    if !a.env.is_empty() {
        let mut env: Vec<String> = p["env"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str().map(String::from))
            .collect();
        for kv in &a.env {
            let key = kv.split('=').next().unwrap_or(kv);
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(kv.clone());
        }
        p["env"] = json!(env);
    }
    if let Some(u) = &a.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
        let num = |s: &str, what: &str| {
            s.parse::<u32>()
                .map_err(|_| Error::msg(format!("--user {u:?}: {what} must be a number")))
        };
        p["user"]["uid"] = json!(num(uid, "uid")?);
        p["user"]["gid"] = json!(num(gid, "gid")?);
    }
    if !a.additional_gids.is_empty() {
        p["user"]["additionalGids"] = json!(a.additional_gids);
    }
    if a.no_new_privs {
        p["noNewPrivileges"] = json!(true);
    }
    // Bounding, effective and permitted only: in the inheritable and
    // ambient sets the capability would pass on to every program the
    // process runs (the class runc fixed as CVE-2022-29162).
    for cap in &a.cap {
        let name = caps::to_canonical(cap);
        for set in ["bounding", "effective", "permitted"] {
            if !p["capabilities"].is_object() {
                p["capabilities"] = json!({});
            }
            let list = &mut p["capabilities"][set];
            if !list.is_array() {
                *list = json!([]);
            }
            if let Some(l) = list.as_array_mut()
                && !l.contains(&Value::from(name.clone()))
            {
                l.push(Value::from(name.clone()));
            }
        }
    }
    crate::spec::parse_process(p.to_string().as_bytes(), "exec process")
}

pub fn run(g: &Global, a: &ExecArgs) -> Result<i32> {
    let c = state::load(&g.root, &a.id, false)?;
    let paused = match c.status() {
        // A created container's init waits, set up, for start: what is
        // exec'd joins it as it would a running one (runc allows it too).
        Status::Running | Status::Created => false,
        Status::Paused if a.ignore_paused => true,
        Status::Paused => {
            return Err(Error::msg(format!(
                "cannot exec in a paused container {} (resume it, or use --ignore-paused)",
                a.id
            )));
        }
        s => {
            return Err(Error::msg(format!(
                "cannot exec in a {} container {}",
                s.as_str(),
                a.id
            )));
        }
    };
    let process = build(a, c.saved.process.as_ref())?;
    crate::spec::validate_process(&process)?;
    // A foreground exec with a terminal and no socket relays it itself.
    let mut pair = None;
    let console = match (process.terminal().unwrap_or(false), &a.console_socket) {
        (true, Some(path)) => Some(crate::console::connect(path)?),
        (true, None) if !a.detach => {
            let (ours, theirs) = crate::console::local_pair()?;
            pair = Some(ours);
            Some(theirs)
        }
        (true, None) => return Err(crate::console::no_socket()),
        (false, _) => None,
    };
    let cgroup = if a.cgroup.is_empty() {
        c.saved.cgroup.clone()
    } else {
        c.saved.cgroup.below(&a.cgroup)?
    };
    if paused
        && c.saved
            .seccomp
            .as_ref()
            .is_some_and(|s| s.listener_path().is_some())
    {
        // The notify fd would come after the process froze: nobody could
        // answer its notified syscalls until resume.
        return Err(Error::msg(
            "exec --ignore-paused: not with a seccomp profile that has a listenerPath",
        ));
    }
    let join_late = if paused {
        Some(cgroup.open_join_files()?)
    } else {
        None
    };
    let pidfd = c
        .pidfd()
        .ok_or_else(|| Error::msg(format!("container {} is not running", a.id)))?;
    let caps = crate::spec::capability_sets(&process);
    if c.saved.shares_mount_ns {
        crate::spec::fits_a_shared_mount_namespace(&caps)?;
    }
    let seccomp = c
        .saved
        .seccomp
        .as_ref()
        .map(crate::linux::seccomp::compile)
        .transpose()?;
    let mempolicy = c
        .saved
        .memory_policy
        .as_ref()
        .map(crate::linux::numa::plan)
        .transpose()?;
    let mut old = SigSet::empty();
    if !a.detach {
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&SigSet::all()), Some(&mut old))
            .sys("sigprocmask", "block")?;
    }
    let pid = exec::spawn(&ExecPlan {
        process: &process,
        // Only an LSM label needs procfs once in the container.
        proc: if process
            .apparmor_profile()
            .as_deref()
            .is_some_and(|p| !p.is_empty())
            || crate::linux::selinux::active(process.selinux_label().as_deref()).is_some()
        {
            Some(crate::linux::procfs::Proc::open_host()?)
        } else {
            None
        },
        caps,
        init_pid: c.saved.pid,
        init_pidfd: &pidfd,
        cgroup: &cgroup,
        preserve_fds: a.preserve_fds,
        console: console.as_ref(),
        seccomp,
        mempolicy,
        personality: c.saved.personality.as_ref(),
        join_late,
        state: c.oci_state("running"),
        keyring: (!c.saved.no_new_keyring).then_some(c.saved.id.as_str()),
        shares_mount_ns: c.saved.shares_mount_ns,
    })?;
    if let Some(p) = &a.pid_file {
        crate::launch::write_pid_file(p, pid)?;
    }
    if a.detach {
        return Ok(0);
    }
    let fd = crate::linux::sys::pidfd_open(pid).sys("pidfd_open", pid)?;
    let code = match &pair {
        Some(ours) => {
            drop(console);
            let master = crate::console::receive_master(ours)?;
            crate::console::relay_and_wait(master, pid, std::os::fd::AsFd::as_fd(&fd))
        }
        None => super::run::forward_and_wait(pid, &fd),
    };
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None).sys("sigprocmask", "restore")?;
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_changes_the_container_process() {
        let base: Process = serde_json::from_str(
            r#"{"args":["sh"],"cwd":"/","env":["PATH=/bin","A=1"],"user":{"uid":0,"gid":0},
                "capabilities":{"bounding":["CAP_KILL"],"effective":["CAP_KILL"]}}"#,
        )
        .unwrap();
        let a = ExecArgs {
            command: vec!["ls".into(), "-l".into()],
            env: vec!["A=2".into(), "B=3".into()],
            user: Some("1000:100".into()),
            cwd: Some("/tmp".into()),
            cap: vec!["NET_RAW".into()],
            ..Default::default()
        };
        let p = build(&a, Some(&base)).unwrap();
        assert_eq!(p.args().as_ref().unwrap(), &["ls", "-l"]);
        assert_eq!(p.env().as_ref().unwrap(), &["PATH=/bin", "A=2", "B=3"]);
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 100));
        assert_eq!(p.cwd().to_str(), Some("/tmp"));
        let caps = crate::spec::capability_sets(&p);
        assert!(caps.bounding.contains(&caps::Capability::CAP_NET_RAW));
        assert!(caps.permitted.contains(&caps::Capability::CAP_NET_RAW));
        assert!(!caps.ambient.contains(&caps::Capability::CAP_NET_RAW));
        assert!(!caps.inheritable.contains(&caps::Capability::CAP_NET_RAW));
        assert!(caps.effective.contains(&caps::Capability::CAP_KILL));
    }
}
