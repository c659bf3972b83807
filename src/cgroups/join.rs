//! A process joining the container's cgroups after create: `exec`, with
//! `--cgroup` for a sub-cgroup, and `--ignore-paused`, which joins last.

use super::Cgroup;
use crate::error::{Error, Result, SysContext};
use std::path::Path;

impl Cgroup {
    /// `exec --cgroup`: an existing cgroup below the container's, as runc
    /// takes it: "path" for every hierarchy, or "ctrl[,ctrl]:path" for the
    /// v1 hierarchies of those controllers (the others keep the
    /// container's own).
    pub fn below(&self, specs: &[String]) -> Result<Cgroup> {
        let mut all = None;
        let mut by_controller = Vec::new();
        for s in specs {
            let (ctrls, path) = match s.split_once(':') {
                Some((c, p)) => (Some(c), p),
                None => (None, s.as_str()),
            };
            let rel = Path::new(path.trim_start_matches('/'));
            if rel.as_os_str().is_empty()
                || rel
                    .components()
                    .any(|c| c == std::path::Component::ParentDir)
            {
                return Err(Error::msg(format!(
                    "exec --cgroup {s:?}: the path must be below the container's cgroup"
                )));
            }
            match ctrls {
                None => all = Some(rel),
                Some(c) => by_controller.extend(c.split(',').map(|c| (c, rel))),
            }
        }
        let mut out = self.clone();
        for d in &mut out.dirs {
            let chosen = by_controller
                .iter()
                .find(|(c, _)| !d.hierarchy.v2 && d.hierarchy.controllers.iter().any(|h| h == c))
                .map(|(_, p)| *p)
                .or(all);
            if let Some(rel) = chosen {
                d.path = d.path.join(rel);
                d.created_from = None;
                if !d.path.is_dir() {
                    return Err(Error::sys(
                        "exec --cgroup",
                        d.path.display(),
                        nix::errno::Errno::ENOENT,
                    ));
                }
            }
        }
        if let Some((c, _)) = by_controller.iter().find(|(c, _)| {
            !self
                .dirs
                .iter()
                .any(|d| !d.hierarchy.v2 && d.hierarchy.controllers.iter().any(|h| h == c))
        }) {
            return Err(Error::msg(format!(
                "exec --cgroup: no v1 hierarchy has the {c} controller here"
            )));
        }
        Ok(out)
    }

    /// The files a process writes "0" to to join every hierarchy, opened
    /// now: `exec --ignore-paused` joins last, from inside the container.
    pub fn open_join_files(&self) -> Result<Vec<std::fs::File>> {
        self.dirs
            .iter()
            .map(|d| {
                let f = d.join_file();
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&f)
                    .sys("open", f.display())
            })
            .collect()
    }

    /// Move the calling (single-threaded) process into its v1 cgroups.
    pub fn join_v1_self(&self) -> Result<()> {
        for d in self.dirs.iter().filter(|d| !d.hierarchy.v2) {
            let tasks = d.path.join("tasks");
            std::fs::write(&tasks, b"0").sys("join cgroup: write", tasks.display())?;
        }
        Ok(())
    }
}
