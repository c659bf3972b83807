//! runc's command line, so that berth drops in wherever runc is configured.
//! Flags are long-only in clap; runc's single-dash spellings (`-root X`,
//! `-log-format=json`) are rewritten to double dashes before parsing.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "berth",
    about = "berth: a low-level OCI container runtime",
    disable_version_flag = true
)]
pub struct Cli {
    /// Root directory for container state.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Log file (engines read the last error line from it).
    #[arg(long, value_name = "FILE")]
    pub log: Option<String>,
    /// Log format: text or json.
    #[arg(long = "log-format", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Enable debug logging.
    #[arg(long)]
    pub debug: bool,
    /// Use systemd to manage cgroups.
    #[arg(long = "systemd-cgroup")]
    pub systemd_cgroup: bool,
    /// Rootless mode: auto, true or false.
    #[arg(long, default_value = "auto", value_parser = ["auto", "true", "false"])]
    pub rootless: String,
    /// The criu binary for checkpoint and restore (default: criu on PATH).
    #[arg(long, value_name = "PATH")]
    pub criu: Option<String>,
    /// Print the version.
    #[arg(short = 'v', long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container from a bundle; the process waits for `start`.
    Create(CreateArgs),
    /// Run the user process of a created container.
    Start(IdArg),
    /// Print the state of a container as JSON.
    State(IdArg),
    /// Send a signal to a container's init (or every process with --all).
    Kill(KillArgs),
    /// Delete a container and everything it holds.
    Delete(DeleteArgs),
    /// Create and start a container, and wait for it unless --detach.
    Run(RunArgs),
    /// List containers.
    List(ListArgs),
    /// Write a default config.json.
    Spec(SpecArgs),
    /// Print the features berth implements, as runtime-spec features JSON.
    Features,
    /// Freeze every process of a running container.
    Pause(IdArg),
    /// Thaw a paused container.
    Resume(IdArg),
    /// List the processes of a container.
    Ps(PsArgs),
    /// Run a new process inside a running container.
    Exec(Box<ExecArgs>),
    /// Print container statistics (runc's JSON events).
    Events(EventsArgs),
    /// Change a running container's resource limits.
    Update(Box<UpdateArgs>),
    /// Checkpoint a running container with CRIU.
    // --help is berth's own here: it answers whether checkpointing can
    // work (Podman's probe), so clap's must not exit first.
    #[command(disable_help_flag = true)]
    Checkpoint(Box<CheckpointArgs>),
    /// Restore a container from a CRIU checkpoint.
    #[command(disable_help_flag = true)]
    Restore(Box<RestoreArgs>),
    /// Examine this host: what containers can and cannot do here, and why.
    Check(CheckArgs),
    /// Print the shell completion script for bash, zsh or fish.
    Completion(CompletionArgs),
}

#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell the script is for.
    #[arg(value_parser = ["bash", "zsh", "fish"])]
    pub shell: String,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Also check this bundle's config.json against the host: every field
    /// create would fail on, at once.
    #[arg(short, long)]
    pub bundle: Option<std::path::PathBuf>,
    /// The id create will be given, which names the cgroup when the
    /// config has no cgroupsPath (default: the bundle directory's name).
    #[arg(long, requires = "bundle")]
    pub id: Option<String>,
    /// Output format: text (a line per finding) or json.
    #[arg(short = 'f', long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

#[derive(Args, Debug)]
pub struct IdArg {
    pub id: String,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Path to the bundle directory.
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master when process.terminal is set.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// File to write the container's pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Use MS_MOVE and chroot instead of pivot_root.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N extra fds (3 .. 3+N-1) to the container.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return once the container has started.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the container's state after it exits.
    #[arg(long)]
    pub keep: bool,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal every process in the container.
    #[arg(short = 'a', long)]
    pub all: bool,
    pub id: String,
    /// Signal name (TERM, SIGTERM) or number.
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Kill a running container first; succeed when it does not exist.
    #[arg(short = 'f', long)]
    pub force: bool,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Output format: table or json.
    #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Print only the container ids.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Args, Debug, Default)]
pub struct ExecArgs {
    /// The process as runtime-spec process JSON (args and all).
    #[arg(short = 'p', long)]
    pub process: Option<std::path::PathBuf>,
    /// Give the process a terminal.
    #[arg(short = 't', long)]
    pub tty: bool,
    #[arg(long = "console-socket")]
    pub console_socket: Option<std::path::PathBuf>,
    /// Working directory inside the container.
    #[arg(long)]
    pub cwd: Option<String>,
    /// KEY=value added to (or replacing in) the container's environment.
    #[arg(short = 'e', long)]
    pub env: Vec<String>,
    /// uid[:gid]
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional gids (repeat or comma-separate).
    #[arg(short = 'g', long = "additional-gids", value_delimiter = ',')]
    pub additional_gids: Vec<u32>,
    /// Add a capability (to every set).
    #[arg(short = 'c', long)]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process.
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    #[arg(long)]
    pub apparmor: Option<String>,
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// Return once the process has started.
    #[arg(short = 'd', long)]
    pub detach: bool,
    #[arg(long = "pid-file")]
    pub pid_file: Option<std::path::PathBuf>,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Exec even into a paused container.
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Run in an existing cgroup below the container's: PATH, or
    /// CONTROLLER[,CONTROLLER]:PATH for v1 hierarchies (repeatable).
    #[arg(long)]
    pub cgroup: Vec<String>,
    pub id: String,
    /// The command and its arguments, unless --process is given.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Print one stats event and exit.
    #[arg(long)]
    pub stats: bool,
    /// Time between stats events.
    #[arg(long, default_value = "5s")]
    pub interval: String,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Output format: table (ps output) or json (an array of pids).
    #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    pub id: String,
    /// Arguments for ps(1) in table format (default -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug, Default)]
pub struct UpdateArgs {
    /// LinuxResources JSON from a file, or "-" for stdin.
    #[arg(short = 'r', long)]
    pub resources: Option<String>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpu-quota", allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime", allow_negative_numbers = true)]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit (bytes, or with a k/m/g/t suffix); -1 for unlimited.
    #[arg(long, allow_negative_numbers = true)]
    pub memory: Option<String>,
    #[arg(long = "memory-reservation", allow_negative_numbers = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit; -1 for unlimited.
    #[arg(long = "memory-swap", allow_negative_numbers = true)]
    pub memory_swap: Option<String>,
    #[arg(long = "kernel-memory", allow_negative_numbers = true)]
    pub kernel_memory: Option<String>,
    #[arg(long = "kernel-memory-tcp", allow_negative_numbers = true)]
    pub kernel_memory_tcp: Option<String>,
    #[arg(long = "pids-limit", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    pub id: String,
}

/// What checkpoint and restore share (runc's flags).
#[derive(Args, Debug, Default, Clone)]
pub struct CriuArgs {
    /// Directory of the checkpoint images (default: ./checkpoint).
    #[arg(long = "image-path", value_name = "DIR")]
    pub image_path: Option<PathBuf>,
    /// Directory for CRIU's logs and work files (default: the image path).
    #[arg(long = "work-path", value_name = "DIR")]
    pub work_path: Option<PathBuf>,
    /// Allow open TCP connections.
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets.
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow shell jobs (a terminal shared with the caller).
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks.
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// cgroups mode: soft, full, strict or ignore.
    #[arg(long = "manage-cgroups-mode", value_name = "MODE")]
    pub manage_cgroups_mode: Option<String>,
    /// Create a namespace without restoring its properties (network).
    #[arg(long = "empty-ns", value_name = "NS")]
    pub empty_ns: Vec<String>,
    /// Deduplicate the images against the parent's as they are written.
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    /// Lazy migration of memory pages (refused: needs CRIU's page server).
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
    /// Print help, and exit 0 only if checkpointing can work here.
    #[arg(short = 'h', long)]
    pub help: bool,
}

#[derive(Args, Debug, Default)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Directory of a previous (pre-)dump, relative to the image path.
    #[arg(long = "parent-path", value_name = "DIR")]
    pub parent_path: Option<PathBuf>,
    /// Leave the container running after the checkpoint.
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Dump the memory only, leaving the container running (for a later
    /// dump with --parent-path).
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    #[arg(required_unless_present = "help")]
    pub id: Option<String>,
}

#[derive(Args, Debug, Default)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Path to the bundle directory.
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Return once the container is restored.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the restored init's pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Console socket (refused: terminal containers are not checkpointed).
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Do not become a subreaper (berth never does).
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Refused: CRIU restores the mount namespace with pivot_root.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    #[arg(required_unless_present = "help")]
    pub id: Option<String>,
}

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// Directory to write config.json into.
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write a config for an unprivileged user.
    #[arg(long)]
    pub rootless: bool,
}

/// Flags that take a value, so that the token after them is not mistaken
/// for the subcommand or the first positional argument.
const VALUE_FLAGS: &[&str] = &[
    "root",
    "log",
    "log-format",
    "criu",
    "rootless",
    "bundle",
    "console-socket",
    "pid-file",
    "preserve-fds",
    "format",
    "resources",
    "blkio-weight",
    "cpu-period",
    "cpu-quota",
    "cpu-rt-period",
    "cpu-rt-runtime",
    "cpu-share",
    "cpuset-cpus",
    "cpuset-mems",
    "memory",
    "memory-reservation",
    "memory-swap",
    "kernel-memory",
    "kernel-memory-tcp",
    "pids-limit",
    "interval",
    "process",
    "cwd",
    "env",
    "user",
    "additional-gids",
    "cap",
    "apparmor",
    "process-label",
    "cgroup",
    "image-path",
    "work-path",
    "parent-path",
    "manage-cgroups-mode",
    "empty-ns",
];
const BOOL_FLAGS: &[&str] = &[
    "debug",
    "systemd-cgroup",
    "version",
    "help",
    "no-pivot",
    "no-new-keyring",
    "detach",
    "keep",
    "all",
    "force",
    "quiet",
    "tty",
    "no-new-privs",
    "ignore-paused",
    "stats",
    "leave-running",
    "tcp-established",
    "ext-unix-sk",
    "shell-job",
    "file-locks",
    "pre-dump",
    "auto-dedup",
    "lazy-pages",
    "no-subreaper",
];
const SHORT_VALUE_FLAGS: &[&str] = &["-b", "-f", "-r", "-p", "-e", "-u", "-g", "-c"];

/// Rewrite runc's single-dash long flags (`-root`, `-log-format=json`) to
/// `--root`, up to the first positional argument after the subcommand, so
/// that a container's own arguments are never touched.
pub fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.into_iter();
    if let Some(arg0) = it.next() {
        out.push(arg0);
    }
    let mut seen_subcommand = false;
    let mut expect_value = false;
    let mut done = false;
    for a in it {
        if done {
            out.push(a);
            continue;
        }
        if expect_value {
            expect_value = false;
            out.push(a);
            continue;
        }
        if a == "--" {
            done = true;
            out.push(a);
            continue;
        }
        let rewritten = match a.strip_prefix('-') {
            Some(rest) if !rest.starts_with('-') && rest.len() > 1 => {
                let name = rest.split('=').next().unwrap_or(rest);
                if VALUE_FLAGS.contains(&name) || BOOL_FLAGS.contains(&name) {
                    format!("-{a}")
                } else {
                    a
                }
            }
            _ => a,
        };
        if let Some(name) = rewritten.strip_prefix("--") {
            if !name.contains('=') && VALUE_FLAGS.contains(&name) {
                expect_value = true;
            }
        } else if SHORT_VALUE_FLAGS.contains(&rewritten.as_str()) {
            expect_value = true;
        } else if !rewritten.starts_with('-') {
            if seen_subcommand {
                done = true;
            }
            seen_subcommand = true;
        }
        out.push(rewritten);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn norm(s: &str) -> Vec<String> {
        normalize_args(s.split_whitespace().map(String::from))
    }

    #[test]
    fn single_dash_long_flags_become_double() {
        assert_eq!(
            norm("berth -root /r -log-format=json create -bundle b x"),
            norm("berth --root /r --log-format=json create --bundle b x")
        );
    }

    #[test]
    fn container_arguments_are_left_alone() {
        assert_eq!(
            norm("berth --root /r kill x -root"),
            norm("berth --root /r kill x -root")
        );
        assert_eq!(norm("berth run -b b x")[1..], ["run", "-b", "b", "x"]);
    }

    #[test]
    fn parses_runc_invocations() {
        let cli = Cli::try_parse_from(norm(
            "berth --root /run/x --log /b/log.json --log-format json create --bundle /b --pid-file /b/pid --preserve-fds 2 abc",
        ))
        .unwrap();
        assert_eq!(cli.log_format, "json");
        match cli.command {
            Some(Command::Create(c)) => {
                assert_eq!(c.id, "abc");
                assert_eq!(c.preserve_fds, 2);
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(norm(
            "berth --criu /opt/criu checkpoint -image-path /img --leave-running --manage-cgroups-mode soft c1",
        ))
        .unwrap();
        assert_eq!(cli.criu.as_deref(), Some("/opt/criu"));
        match cli.command {
            Some(Command::Checkpoint(c)) => {
                assert_eq!(c.id.as_deref(), Some("c1"));
                assert!(c.leave_running && !c.criu.help);
                assert_eq!(c.criu.image_path.as_deref(), Some(Path::new("/img")));
            }
            other => panic!("{other:?}"),
        }
        // --help is a flag of berth's own, and the id is then optional.
        let cli = Cli::try_parse_from(norm("berth checkpoint --help")).unwrap();
        assert!(matches!(cli.command, Some(Command::Checkpoint(c)) if c.criu.help));
        assert!(Cli::try_parse_from(norm("berth restore")).is_err());
        let cli = Cli::try_parse_from(norm("berth kill abc 9")).unwrap();
        match cli.command {
            Some(Command::Kill(k)) => assert_eq!((k.id.as_str(), k.signal.as_str()), ("abc", "9")),
            other => panic!("{other:?}"),
        }
    }
}
