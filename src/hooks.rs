//! OCI hooks: a program run with the container state JSON on stdin, its
//! own args and env, and an optional timeout in seconds.

use crate::error::{Error, Result};
use oci_spec::runtime::Hook;
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run one stage's hooks in order; the first failure stops the stage.
pub fn run_all(stage: &str, hooks: &[Hook], state: &serde_json::Value) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        run(h, state)
            .map_err(|e| e.context(format!("{stage} hook #{i} ({})", h.path().display())))?;
    }
    Ok(())
}

/// Run every hook of a stage whose failure is only a warning (poststop):
/// runtime.md has the remaining hooks and the lifecycle go on as if it had
/// succeeded.
pub fn run_all_warn(stage: &str, hooks: &[Hook], state: &serde_json::Value) {
    for (i, h) in hooks.iter().enumerate() {
        if let Err(e) = run(h, state) {
            crate::logging::warn(
                &e.context(format!("{stage} hook #{i} ({})", h.path().display()))
                    .to_string(),
            );
        }
    }
}

pub fn run(h: &Hook, state: &serde_json::Value) -> Result<()> {
    let mut cmd = Command::new(h.path());
    let args = h.args().clone().unwrap_or_default();
    if let Some((arg0, rest)) = args.split_first() {
        cmd.arg0(arg0).args(rest);
    }
    // With `env` the hook gets exactly that; without, berth's own (PATH
    // included), as runc and crun do.
    if let Some(env) = h.env() {
        cmd.env_clear();
        for kv in env {
            if let Some((k, v)) = kv.split_once('=') {
                cmd.env(k, v);
            }
        }
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::msg(format!("start: {}", io_text(&e))))?;
    // The state goes in while we wait: it may be larger than the pipe
    // (annotations of a megabyte), and a hook that never reads must still
    // meet its timeout, or be killed by `kill`/`delete --force`.
    let mut stdin = child.stdin.take();
    let text = state.to_string();
    let mut unsent = text.as_bytes();
    if let Some(p) = &stdin {
        set_nonblocking(p);
    }
    let deadline = h
        .timeout()
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let mut nap = Duration::from_micros(200);
    let status = loop {
        if let Some(p) = stdin.as_mut() {
            match p.write(unsent) {
                Ok(n) => {
                    unsent = &unsent[n..];
                    nap = Duration::from_micros(200);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // A hook that exits without reading its stdin is not an error.
                Err(_) => unsent = &[],
            }
            if unsent.is_empty() {
                // EOF for the hook.
                stdin = None;
            }
        }
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => return Err(Error::msg(format!("wait: {}", io_text(&e)))),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::msg(format!(
                "timed out after {}s",
                h.timeout().unwrap_or_default()
            )));
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    };
    if status.success() {
        Ok(())
    } else if let Some(sig) = status.signal() {
        Err(Error::msg(format!("killed by signal {sig}")))
    } else {
        Err(Error::msg(format!(
            "exit status {}",
            status.code().unwrap_or(-1)
        )))
    }
}

fn set_nonblocking(p: &std::process::ChildStdin) {
    use std::os::fd::AsFd;
    let fd = p.as_fd();
    if let Ok(flags) = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL) {
        let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
        let _ = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(flags));
    }
}

fn io_text(e: &std::io::Error) -> String {
    crate::error::errno_text(nix::errno::Errno::from_raw(
        e.raw_os_error().unwrap_or(libc::EIO),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: &str) -> Hook {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn hook_reads_state_and_env() {
        let t = crate::tempdir::TempDir::new();
        let out = t.path().join("out");
        let h = hook(&format!(
            r#"{{"path":"/bin/sh","args":["sh","-c","cat > {0}; echo \" $X\" >> {0}"],"env":["X=42"]}}"#,
            out.display()
        ));
        run(&h, &serde_json::json!({"id": "c"})).unwrap();
        let got = std::fs::read_to_string(&out).unwrap();
        assert_eq!(got, "{\"id\":\"c\"} 42\n");
    }

    /// Without `env` a hook runs with berth's environment (PATH too), as
    /// under runc and crun; with `env`, even an empty one, with exactly it.
    #[test]
    fn a_hook_without_env_gets_the_runtimes_environment() {
        let t = crate::tempdir::TempDir::new();
        let out = t.path().join("out");
        let path = std::env::var("PATH").unwrap();
        let script = format!("echo \"$PATH|$X\" > {}", out.display());
        let with = |env: &str| {
            let env = if env.is_empty() {
                String::new()
            } else {
                format!(r#","env":{env}"#)
            };
            let h = hook(&format!(
                r#"{{"path":"/bin/sh","args":["sh","-c",{}]{env}}}"#,
                serde_json::Value::from(script.clone())
            ));
            run(&h, &serde_json::json!({})).unwrap();
            std::fs::read_to_string(&out).unwrap()
        };
        assert_eq!(with(""), format!("{path}|\n"));
        assert_eq!(
            with(r#"["X=1"]"#),
            "|1\n".replace('|', &format!("{}|", default_path()))
        );
        assert_eq!(with("[]"), format!("{}|\n", default_path()));
    }

    /// What sh sets PATH to when its environment has none.
    fn default_path() -> String {
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", "echo $PATH"])
            .env_clear()
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    #[test]
    fn a_state_larger_than_a_pipe_reaches_a_reader_and_never_blocks_on_others() {
        let t = crate::tempdir::TempDir::new();
        let out = t.path().join("out");
        let state = serde_json::json!({"annotations": {"big": "x".repeat(1 << 20)}});
        let h = hook(&format!(
            r#"{{"path":"/bin/sh","args":["sh","-c","cat > {}"]}}"#,
            out.display()
        ));
        run(&h, &state).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), state.to_string());
        // Never reads: done when it exits, or when its timeout comes.
        run(&hook(r#"{"path":"/bin/true"}"#), &state).unwrap();
        let started = Instant::now();
        let e = run(
            &hook(r#"{"path":"/bin/sleep","args":["sleep","5"],"timeout":1}"#),
            &state,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("timed out after 1s"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn failing_and_slow_hooks_are_errors() {
        let e = run_all(
            "prestart",
            &[hook(r#"{"path":"/bin/sh","args":["sh","-c","exit 3"]}"#)],
            &serde_json::json!({}),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "prestart hook #0 (/bin/sh): exit status 3");
        let e = run(
            &hook(r#"{"path":"/bin/sleep","args":["sleep","5"],"timeout":1}"#),
            &serde_json::json!({}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("timed out after 1s"), "{e}");
        let e = run(&hook(r#"{"path":"/no/such/hook"}"#), &serde_json::json!({}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such file or directory"), "{e}");
    }

    #[test]
    fn warn_stages_run_every_hook() {
        let t = crate::tempdir::TempDir::new();
        let out = t.path().join("out");
        let h = |cmd: &str| {
            hook(&format!(
                r#"{{"path":"/bin/sh","args":["sh","-c","{cmd}"]}}"#
            ))
        };
        run_all_warn(
            "poststop",
            &[h("exit 1"), h(&format!("echo second >> {}", out.display()))],
            &serde_json::json!({}),
        );
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "second\n");
    }
}
