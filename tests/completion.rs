//! `berth completion SHELL` and the man pages, both generated from the
//! command line's definition when berth is built: bash really completes
//! with the script (a command, a flag of one), zsh and fish scripts name
//! every command, and there is a man page per command with its flags.

mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};

/// runc's commands, and berth's own.
const COMMANDS: &[&str] = &[
    "checkpoint",
    "create",
    "delete",
    "events",
    "exec",
    "features",
    "kill",
    "list",
    "pause",
    "ps",
    "restore",
    "resume",
    "run",
    "spec",
    "start",
    "state",
    "update",
    "check",
    "completion",
];

fn script(shell: &str) -> String {
    let out = Command::new(berth())
        .args(["completion", shell])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

/// What bash's completion offers for `words`, the last being completed.
fn bash_completes(words: &[&str]) -> Vec<String> {
    let dir = std::env::temp_dir().join(unique("berth-completion"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("berth.bash");
    std::fs::write(&file, script("bash")).unwrap();
    let line = words.join(" ");
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let prog = format!(
        "source {f}; COMP_WORDS=({array}); COMP_CWORD={n}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; _berth berth '{cur}' '{prev}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        f = file.display(),
        array = quoted.join(" "),
        n = words.len() - 1,
        cur = words[words.len() - 1],
        prev = words[words.len() - 2],
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &prog])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).lines().map(str::to_string).collect()
}

#[test]
fn bash_completes_commands_and_their_flags() {
    assert_eq!(bash_completes(&["berth", "cre"]), ["create"]);
    let all = bash_completes(&["berth", ""]);
    for c in COMMANDS {
        assert!(all.iter().any(|w| w == c), "{c} not offered: {all:?}");
    }
    assert!(bash_completes(&["berth", "check", "--bu"]).contains(&"--bundle".to_string()));
    assert!(bash_completes(&["berth", "--log-f"]).contains(&"--log-format".to_string()));
}

#[test]
fn zsh_and_fish_scripts_name_every_command() {
    for (shell, head) in [("zsh", "#compdef berth"), ("fish", "")] {
        let s = script(shell);
        assert!(s.starts_with(head), "{shell}: {}", &s[..80]);
        for c in COMMANDS {
            assert!(s.contains(c), "{shell}: {c} missing");
        }
        // The shell itself, where it is installed, reads it.
        if Command::new(shell).arg("--version").output().is_ok() {
            let dir = std::env::temp_dir().join(unique("berth-completion"));
            std::fs::create_dir_all(&dir).unwrap();
            let f = dir.join("script");
            std::fs::write(&f, &s).unwrap();
            let st = Command::new(shell).arg("-n").arg(&f).status().unwrap();
            let _ = std::fs::remove_dir_all(&dir);
            assert!(st.success(), "{shell} -n refused the script");
        }
    }
    let out = Command::new(berth())
        .args(["completion", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("tcsh"), "{}", stderr(&out));
}

#[test]
fn there_is_a_man_page_per_command() {
    let man = Path::new(env!("OUT_DIR")).join("man");
    let top = std::fs::read_to_string(man.join("berth.8")).unwrap();
    assert!(top.contains(".TH berth 8"), "{}", &top[..200]);
    for c in COMMANDS {
        let page = std::fs::read_to_string(man.join(format!("berth-{c}.8")))
            .unwrap_or_else(|e| panic!("berth-{c}.8: {e}"));
        assert!(page.contains(&format!(".TH berth-{c} 8")), "{c}");
        assert!(page.contains(".SH SYNOPSIS"), "{c}");
    }
    let check = std::fs::read_to_string(man.join("berth-check.8")).unwrap();
    assert!(check.contains("\\-\\-bundle"), "{check}");
    let create = std::fs::read_to_string(man.join("berth-create.8")).unwrap();
    assert!(create.contains("\\-\\-console\\-socket"), "{create}");
}
