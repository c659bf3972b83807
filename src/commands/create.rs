use super::Global;
use crate::cli::CreateArgs;
use crate::error::Result;
use crate::launch;

pub fn options<'a>(g: &'a Global, a: &'a CreateArgs) -> launch::Options<'a> {
    launch::Options {
        root: &g.root,
        id: &a.id,
        bundle: &a.bundle,
        pid_file: a.pid_file.as_deref(),
        console_socket: a.console_socket.as_deref(),
        console_fd: None,
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        systemd_cgroup: g.systemd_cgroup,
        rootless: g.rootless(),
    }
}

/// Create the container and leave its init waiting for `start`,
/// reparented to our caller.
pub fn run(g: &Global, a: &CreateArgs) -> Result<i32> {
    launch::create(&options(g, a))?;
    Ok(0)
}
