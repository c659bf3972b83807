//! The git commit for `berth --version`, as runc prints it; and what is
//! generated from the command line's definition (src/cli.rs, included
//! here as it is): the shell completion scripts `berth completion`
//! prints, and the man pages `make install` installs (section 8, as
//! runc's), all in OUT_DIR.

use clap::CommandFactory;
use std::path::Path;

#[allow(dead_code)]
#[path = "src/cli.rs"]
mod cli;

fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=BERTH_COMMIT={commit}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs");
    println!("cargo:rerun-if-changed=src/cli.rs");

    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    completions(&out);
    man_pages(&out.join("man"));
}

fn completions(out: &Path) {
    use clap_complete::Shell;
    for (shell, file) in [
        (Shell::Bash, "berth.bash"),
        (Shell::Zsh, "_berth"),
        (Shell::Fish, "berth.fish"),
    ] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cli::Cli::command(), "berth", &mut script);
        std::fs::write(out.join(file), script).expect("write a completion script");
    }
}

/// berth.8, and berth-COMMAND.8 for each command.
fn man_pages(dir: &Path) {
    std::fs::create_dir_all(dir).expect("make the man page directory");
    let top = cli::Cli::command();
    let page = |cmd: clap::Command, name: &str| {
        let mut text = Vec::new();
        clap_mangen::Man::new(cmd)
            .section("8")
            .manual("berth")
            .render(&mut text)
            .expect("render a man page");
        std::fs::write(dir.join(format!("{name}.8")), text).expect("write a man page");
    };
    for sub in top.get_subcommands() {
        // clap names take &'static str; the build script ends soon.
        let name: &'static str = format!("berth-{}", sub.get_name()).leak();
        page(sub.clone().name(name), name);
    }
    page(top, "berth");
}
