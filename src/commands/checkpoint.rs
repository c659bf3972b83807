use super::Global;
use crate::checkpoint::{self, Checkpoint, Paths};
use crate::cli::{CheckpointArgs, CriuArgs};
use crate::error::{Error, Result};
use crate::linux::criu::{self, Criu};

pub fn run(g: &Global, a: &CheckpointArgs) -> Result<i32> {
    if a.criu.help {
        return help(g, "checkpoint");
    }
    let id = a.id.as_deref().expect("clap: id required without --help");
    let o = Checkpoint {
        paths: Paths::new(a.criu.image_path.as_deref(), a.criu.work_path.as_deref())?,
        parent: a.parent_path.clone(),
        pre_dump: a.pre_dump,
        options: options(&a.criu, a.leave_running)?,
    };
    checkpoint::checkpoint(&g.root, &Criu::new(g.criu.as_deref()), id, &o)?;
    Ok(0)
}

/// `checkpoint --help` and `restore --help` exit 0 only when CRIU can
/// work here: Podman probes checkpoint support that way.
pub fn help(g: &Global, which: &str) -> Result<i32> {
    use clap::CommandFactory;
    let mut cmd = crate::cli::Cli::command();
    // Built, so that the usage line reads "berth checkpoint".
    cmd.build();
    if let Some(sub) = cmd.find_subcommand_mut(which) {
        let _ = sub.print_help();
    }
    Criu::new(g.criu.as_deref()).check()?;
    Ok(0)
}

/// The flags both commands pass on to CRIU, checked.
pub fn options(a: &CriuArgs, leave_running: bool) -> Result<criu::Options> {
    if a.lazy_pages {
        return Err(Error::msg(
            "--lazy-pages is not supported: it needs CRIU's page server and lazy-pages daemon, which berth does not run",
        ));
    }
    Ok(criu::Options {
        leave_running,
        tcp_established: a.tcp_established,
        ext_unix_sk: a.ext_unix_sk,
        shell_job: a.shell_job,
        file_locks: a.file_locks,
        auto_dedup: a.auto_dedup,
        manage_cgroups: a
            .manage_cgroups_mode
            .as_deref()
            .map(criu::cgroups_mode)
            .transpose()?,
        empty_net: {
            for n in &a.empty_ns {
                criu::empty_ns(n)?;
            }
            !a.empty_ns.is_empty()
        },
    })
}
