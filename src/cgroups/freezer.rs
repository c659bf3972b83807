//! The freezer: `pause`, `resume`, a paused container's status, the
//! thaw a SIGKILL needs, and a cgroup frozen before create. v1's freezer
//! controller where the host has it, else v2's files.

use super::{Cgroup, apply};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

impl Cgroup {
    /// The freezer of this cgroup: v1's freezer controller, else v2's
    /// files. One place decides, for pausing, thawing and asking.
    fn freezer(&self) -> Option<Freezer<'_>> {
        if let Some(dir) = self.v1_dir("freezer") {
            Some(Freezer { dir, v1: true })
        } else {
            self.v2_dir().map(|dir| Freezer { dir, v1: false })
        }
    }

    /// Freeze or thaw every process, waiting until the kernel says done.
    pub fn freeze(&self, frozen: bool) -> Result<()> {
        let Some(f) = self.freezer() else {
            return Err(Error::msg(if self.skipped.is_empty() {
                "no freezer: neither the v1 freezer controller nor cgroup v2 is mounted"
            } else {
                "no freezer: berth runs rootless and the container has no cgroup of its own here"
            }));
        };
        let (file, value, check, want) = match (f.v1, frozen) {
            (true, true) => ("freezer.state", "FROZEN", "freezer.state", "FROZEN"),
            (true, false) => ("freezer.state", "THAWED", "freezer.state", "THAWED"),
            (false, true) => ("cgroup.freeze", "1", "cgroup.events", "frozen 1"),
            (false, false) => ("cgroup.freeze", "0", "cgroup.events", "frozen 0"),
        };
        for _ in 0..1000 {
            apply::write_file(f.dir, file, value)?;
            let now = std::fs::read_to_string(f.dir.join(check)).unwrap_or_default();
            if now.lines().any(|l| l.trim() == want) {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Err(Error::msg(format!(
            "{} did not reach {want}",
            f.dir.join(check).display()
        )))
    }

    /// The directory whose freezer stops every process.
    pub fn freezer_dir(&self) -> Option<PathBuf> {
        self.freezer().map(|f| f.dir.to_path_buf())
    }

    /// A cgroup frozen before the container's create (a pause of its own,
    /// or an ancestor's freeze) would freeze the init as it joins, and
    /// create would wait on it forever: say so instead, naming the cgroup
    /// whose order holds it. Before the directory is made (`berth check
    /// --bundle`), its nearest existing ancestor tells: a child is born
    /// frozen there.
    pub fn check_not_frozen(&self) -> Result<()> {
        let Some(f) = self.freezer() else {
            return Ok(());
        };
        let nearest = Freezer {
            dir: nearest_existing(f.dir),
            v1: f.v1,
        };
        let Some(held) = nearest.held() else {
            return Ok(());
        };
        let top = self
            .dirs
            .iter()
            .find(|d| d.path == f.dir)
            .map(|d| d.hierarchy.mountpoint.as_path())
            .unwrap_or(Path::new("/"));
        let by = nearest
            .dir
            .ancestors()
            .take_while(|dir| dir.starts_with(top))
            .map(|dir| Freezer { dir, v1: f.v1 })
            .find(|f| f.ordered())
            .map(|f| f.order_file())
            .unwrap_or(held);
        Err(Error::msg(format!(
            "the container's cgroup is frozen ({}): thaw it first",
            by.display()
        )))
    }

    /// Paused: frozen by an order to this cgroup (`pause`).
    pub fn is_frozen(&self) -> bool {
        self.freezer().is_some_and(|f| f.paused())
    }

    /// A frozen process dies of SIGKILL only once thawed: after a SIGKILL
    /// a paused container is thawed (as runc does), or it would stay
    /// paused, its processes frozen, forever.
    pub fn thaw_to_die(&self) -> Result<()> {
        if self.is_frozen() {
            self.freeze(false)?;
        }
        Ok(())
    }
}

/// `dir`, or its nearest ancestor that exists.
fn nearest_existing(dir: &Path) -> &Path {
    dir.ancestors().find(|p| p.exists()).unwrap_or(dir)
}

/// A cgroup's freezer files (`Cgroup::freezer`).
struct Freezer<'a> {
    dir: &'a Path,
    v1: bool,
}

impl Freezer<'_> {
    /// Paused: v2's cgroup.freeze, this cgroup's own order; v1's
    /// freezer.state, the state it is in (FROZEN under a frozen parent
    /// too, as runc reports it).
    fn paused(&self) -> bool {
        let (file, frozen) = if self.v1 {
            ("freezer.state", "FROZEN")
        } else {
            ("cgroup.freeze", "1")
        };
        crate::linux::sys::read_small(&self.dir.join(file), 64)
            .is_ok_and(|s| s.trim_ascii() == frozen.as_bytes())
    }

    /// Frozen by an order to this very cgroup, not an ancestor's.
    fn ordered(&self) -> bool {
        let file = if self.v1 {
            "freezer.self_freezing"
        } else {
            "cgroup.freeze"
        };
        std::fs::read_to_string(self.dir.join(file)).is_ok_and(|s| s.trim() == "1")
    }

    /// The file that orders a freeze, and lifts it.
    fn order_file(&self) -> PathBuf {
        self.dir.join(if self.v1 {
            "freezer.state"
        } else {
            "cgroup.freeze"
        })
    }

    /// Held frozen now, or on the way, by its own order or a parent's:
    /// the file that says so.
    fn held(&self) -> Option<PathBuf> {
        let (file, held): (&str, fn(&str) -> bool) = if self.v1 {
            ("freezer.state", |s| s.trim() != "THAWED")
        } else {
            ("cgroup.events", |s| {
                s.lines().any(|l| l.trim() == "frozen 1")
            })
        };
        let path = self.dir.join(file);
        std::fs::read_to_string(&path)
            .is_ok_and(|s| held(&s))
            .then_some(path)
    }
}
