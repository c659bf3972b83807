//! What `create` would meet of the container's cgroup, found without
//! making or writing anything, for `berth check --bundle`: directories in
//! the way (in use, or frozen), the hierarchies a rootless caller would
//! be left without, huge page sizes without a pool. (The limits this
//! layout cannot take are `Cgroup::misfits`, beside the writes.)

use super::Cgroup;
use crate::error::{Error, SysContext};
use std::path::Path;

impl Cgroup {
    /// What `create` would find in the way of these directories, without
    /// making them: one that exists and holds processes, or a freeze.
    pub fn in_the_way(&self) -> Vec<Error> {
        let mut out: Vec<Error> = self
            .dirs
            .iter()
            .filter(|d| d.path.is_dir())
            .filter_map(|d| Self::unused(&d.path).err())
            .collect();
        out.extend(self.check_not_frozen().err());
        out
    }

    /// This cgroup as `create` would leave it for a rootless caller,
    /// found without making anything (`berth check --bundle`): the
    /// hierarchies whose first missing directory the user may not make,
    /// or whose existing cgroup it may not join, skipped with the reason
    /// make_dirs would give.
    pub fn as_rootless_create_would(&self) -> Cgroup {
        use nix::unistd::{AccessFlags, access};
        let mut c = self.clone();
        if !c.rootless {
            return c;
        }
        let mut kept = Vec::new();
        for d in std::mem::take(&mut c.dirs) {
            let refused = if d.path.exists() {
                let join = d.join_file();
                access(&join, AccessFlags::W_OK)
                    .sys("join cgroup: write", join.display())
                    .err()
            } else {
                let first = d
                    .path
                    .ancestors()
                    .take_while(|p| !p.exists())
                    .last()
                    .unwrap_or(&d.path);
                let parent = first.parent().unwrap_or(first);
                access(parent, AccessFlags::W_OK | AccessFlags::X_OK)
                    .err()
                    .map(|e| Error::sys("create cgroup", first.display(), e))
            };
            match refused {
                Some(e) if c.goes_on_without(&e) => c.skip(d, e),
                // what create would fail on, it finds for itself
                _ => kept.push(d),
            }
        }
        c.dirs = kept;
        c
    }
}

/// A hugepageLimits pageSize ("2MB", "1GB") this host has no pool of,
/// so no hugetlb file to limit it with.
pub fn missing_page_size(page_size: &str) -> Option<Error> {
    let (n, unit) = page_size.split_at(page_size.find(|c: char| !c.is_ascii_digit())?);
    let kb = n.parse::<u64>().ok()?.checked_mul(match unit {
        "KB" => 1,
        "MB" => 1 << 10,
        "GB" => 1 << 20,
        _ => return None,
    })?;
    let pool = format!("/sys/kernel/mm/hugepages/hugepages-{kb}kB");
    (!Path::new(&pool).is_dir()).then(|| {
        Error::config(
            "pageSize",
            format!("{page_size}: this host has no huge pages of that size (no {pool})"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_size_without_a_pool_is_named() {
        let e = missing_page_size("3MB").expect("no host has 3 MB pages");
        assert!(e.to_string().contains("hugepages-3072kB"), "{e}");
        assert!(
            missing_page_size("2 MB").is_none(),
            "not a size: left to the write"
        );
    }
}
