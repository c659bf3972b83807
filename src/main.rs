//! berth: a low-level OCI container runtime with runc's command line.
//! main parses the command line, sets up logging and dispatches; nothing
//! else.

use berth::cli::{self, Cli, Command};
use berth::commands::{self, Global};
use berth::{COMMIT, SPEC_VERSION, error, launch, linux, logging, state};
use clap::Parser;

fn main() {
    // First of all: a command whose processes a container can see runs,
    // with all it forks, from a binary nobody can write (CVE-2019-5736;
    // linux/selfcopy.rs).
    let guard = linux::selfcopy::needed(std::env::args_os()).then(linux::selfcopy::protect);
    let args = cli::normalize_args(std::env::args());
    let cli = Cli::parse_from(args);
    // Before berth opens any file: a gap among stdio or the fds handed on
    // to the container would otherwise be filled by one of ours, which
    // would then leak into the container.
    let handed_on = match &cli.command {
        Some(Command::Create(a)) => a.preserve_fds,
        Some(Command::Run(a)) => a.create.preserve_fds,
        Some(Command::Exec(a)) => a.preserve_fds,
        _ => 0,
    }
    .saturating_add(launch::listen_fds());
    if handed_on >= 65_536 {
        eprintln!("berth: --preserve-fds {handed_on}: too many fds");
        std::process::exit(1);
    }
    if let Err(e) = linux::sys::fill_fd_gaps(3 + handed_on as i32) {
        eprintln!("berth: check inherited fds: {}", error::errno_text(e));
        std::process::exit(1);
    }
    let format = if cli.log_format == "json" {
        logging::Format::Json
    } else {
        logging::Format::Text
    };
    if let Err(e) = logging::init(cli.log.as_deref(), format, cli.debug) {
        eprintln!("berth: {e}");
        std::process::exit(1);
    }
    match guard {
        None => {}
        Some(Ok(g)) => logging::debug_with(|| format!("berth runs from a guarded binary: {g:?}")),
        Some(Err(e)) => {
            logging::error(
                &e.context("keep berth's binary from being written")
                    .to_string(),
            );
            std::process::exit(1);
        }
    }
    if cli.version {
        let text = format!(
            "berth version {}\ncommit: {COMMIT}\nspec: {SPEC_VERSION}",
            env!("CARGO_PKG_VERSION")
        );
        if let Err(e) = commands::print(&text) {
            logging::error(&e.to_string());
            std::process::exit(1);
        }
        return;
    }
    // exec's own failures exit 255, as runc's do, so that a caller can
    // tell them from its process's exit status 1.
    let failed = if matches!(cli.command, Some(Command::Exec(_))) {
        255
    } else {
        1
    };
    let code = match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            logging::error(&e.to_string());
            failed
        }
    };
    std::process::exit(code);
}

fn dispatch(cli: Cli) -> error::Result<i32> {
    // As runc's --rootless: whether cgroups the user may not write are
    // skipped rather than fatal. The user namespace itself is the
    // config's business; a non-root berth insists on one at create.
    let rootless = match cli.rootless.as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    let Some(command) = cli.command else {
        use clap::CommandFactory;
        let _ = Cli::command().print_help();
        return Ok(0);
    };
    let root = match cli.root.clone() {
        Some(r) => r,
        None => {
            let d = state::default_root();
            // spec and features never touch the state; check looks at it
            // as it is.
            if !matches!(
                command,
                Command::Spec(_) | Command::Features | Command::Check(_) | Command::Completion(_)
            ) {
                state::ensure_private_root(&d)?;
            }
            d.path().to_path_buf()
        }
    };
    let g = Global {
        root,
        systemd_cgroup: cli.systemd_cgroup,
        rootless,
        criu: cli.criu.clone(),
    };
    match command {
        Command::Create(a) => commands::create::run(&g, &a),
        Command::Start(a) => commands::start::run(&g, &a.id),
        Command::State(a) => commands::state::run(&g, &a.id),
        Command::Kill(a) => commands::kill::run(&g, &a),
        Command::Delete(a) => commands::delete::run(&g, &a),
        Command::Run(a) => commands::run::run(&g, &a),
        Command::List(a) => commands::list::run(&g, &a),
        Command::Spec(a) => commands::spec::run(&a),
        Command::Features => commands::features::run(),
        Command::Pause(a) => commands::pause::pause(&g, &a.id),
        Command::Resume(a) => commands::pause::resume(&g, &a.id),
        Command::Ps(a) => commands::ps::run(&g, &a),
        Command::Update(a) => commands::update::run(&g, &a),
        Command::Exec(a) => commands::exec::run(&g, &a),
        Command::Events(a) => commands::events::run(&g, &a),
        Command::Checkpoint(a) => commands::checkpoint::run(&g, &a),
        Command::Restore(a) => commands::restore::run(&g, &a),
        Command::Check(a) => commands::check::run(&g, &a),
        Command::Completion(a) => commands::completion::run(&a.shell),
    }
}
