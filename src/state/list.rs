//! `list`: every container's status and what `state` shows of it, for
//! hundreds of containers at once. Each costs three small reads (its
//! record, its init's /proc stat, its freezer) and a parse of only what
//! is shown: the record's exec and hook parts are skipped unparsed, and
//! of its cgroup only the freezer's directory is kept.

use super::{Container, STATE, Saved, Status, claimed, not_found};
use crate::cgroups::{Cgroup, Dir, Hierarchy};
use crate::error::{Error, Result, SysContext};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What `row` makes of every container under `root` and its status, by
/// id; one deleted meanwhile is simply not there. Each directory's record
/// is what tells a container (no stat first: `list` pays per container),
/// and each record goes as soon as its row is made.
pub fn list<T: Send>(root: &Path, row: impl Fn(&Container, Status) -> T + Sync) -> Result<Vec<T>> {
    let ids = dir_ids(root)?;
    // Each container costs a few reads and a parse, independent of the
    // others: past a few dozen, two threads take them in turn (whoever is
    // free takes the next), and the rows are put back in id order.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || -> Vec<(usize, T)> {
        let mut out = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(id) = ids.get(i) else {
                return out;
            };
            if let Ok(c) = load_listed(id, root.join(id)) {
                out.push((i, row(&c, c.status())));
            }
        }
    };
    let mut rows = if ids.len() < 64 {
        work()
    } else {
        std::thread::scope(|s| {
            // No second thread to be had (a pids limit): one does it all.
            let other = std::thread::Builder::new().spawn_scoped(s, work).ok();
            let mut out = work();
            if let Some(t) = other {
                out.extend(t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            }
            out
        })
    };
    rows.sort_unstable_by_key(|(i, _)| *i);
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}

/// Ids of every container under root.
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let mut ids = dir_ids(root)?;
    ids.retain(|id| {
        let dir = root.join(id);
        dir.join(STATE).exists() || claimed(&dir)
    });
    Ok(ids)
}

/// The directories under root named as a container may be, sorted: the
/// candidates, which their record (or create's claim) confirms.
fn dir_ids(root: &Path) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Err::<(), _>(e).sys("read", root.display()).unwrap_err()),
    };
    let mut ids: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| crate::spec::validate_id(id).is_ok())
        .collect();
    ids.sort();
    Ok(ids)
}

/// state.json as `list` reads it.
#[derive(Deserialize)]
struct Listed<'a> {
    id: String,
    pid: i32,
    start_time: u64,
    bundle: PathBuf,
    rootfs: PathBuf,
    created: String,
    owner: String,
    #[serde(default)]
    annotations: HashMap<String, String>,
    #[serde(borrow)]
    cgroup: ListedCgroup<'a>,
    oci_version: String,
}

#[derive(Deserialize)]
struct ListedCgroup<'a> {
    #[serde(borrow)]
    dirs: Vec<ListedDir<'a>>,
}

#[derive(Deserialize)]
struct ListedDir<'a> {
    #[serde(borrow)]
    hierarchy: ListedHierarchy<'a>,
    #[serde(borrow)]
    path: Cow<'a, str>,
}

#[derive(Deserialize)]
struct ListedHierarchy<'a> {
    v2: bool,
    #[serde(borrow)]
    controllers: Vec<Cow<'a, str>>,
}

/// A container as `list` needs it: a `Saved` whose cgroup is the one
/// directory that tells whether it is paused (Cgroup::is_frozen), and
/// nothing for exec or hooks.
fn load_listed(id: &str, dir: PathBuf) -> Result<Container> {
    let path = dir.join(STATE);
    let text = match crate::linux::sys::read_small(&path, 8192) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && claimed(&dir) => {
            return Ok(Container {
                dir,
                saved: Saved::claimed(id),
                _lock: None,
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found(id)),
        Err(e) => return Err(Err::<(), _>(e).sys("read", path.display()).unwrap_err()),
    };
    let l: Listed = serde_json::from_slice(&text)
        .map_err(|e| Error::msg(format!("parse {}: {e}", path.display())))?;
    let freezer = l
        .cgroup
        .dirs
        .iter()
        .find(|d| !d.hierarchy.v2 && d.hierarchy.controllers.iter().any(|c| c == "freezer"))
        .or_else(|| l.cgroup.dirs.iter().find(|d| d.hierarchy.v2));
    let cgroup = Cgroup {
        dirs: freezer
            .map(|d| Dir {
                hierarchy: Hierarchy {
                    mountpoint: PathBuf::new(),
                    root: String::new(),
                    v2: d.hierarchy.v2,
                    controllers: d
                        .hierarchy
                        .controllers
                        .iter()
                        .map(|c| c.to_string())
                        .collect(),
                },
                path: PathBuf::from(d.path.as_ref()),
                created_from: None,
            })
            .into_iter()
            .collect(),
        ..Cgroup::default()
    };
    Ok(Container {
        dir,
        saved: Saved {
            pid: l.pid,
            start_time: l.start_time,
            bundle: l.bundle,
            rootfs: l.rootfs,
            created: l.created,
            owner: l.owner,
            annotations: l.annotations,
            cgroup,
            oci_version: l.oci_version,
            ..Saved::claimed(&l.id)
        },
        _lock: None,
    })
}
