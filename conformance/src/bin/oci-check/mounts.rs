//! Mounts as config.json lists them: types, options, propagation, order,
//! nothing extra; root.readonly, maskedPaths and readonlyPaths.

use super::tap::{Tap, read};
use serde_json::Value;

pub struct MountEntry {
    pub id: u64,
    pub parent: u64,
    pub point: String,
    pub opts: Vec<String>,
    /// Optional fields: shared:N, master:N, propagate_from:N, unbindable.
    pub tags: Vec<String>,
    pub fstype: String,
    /// The superblock's options (sync, dirsync, context=... live here).
    pub super_opts: Vec<String>,
}

pub fn mountinfo() -> Vec<MountEntry> {
    read("/proc/self/mountinfo")
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            Some(MountEntry {
                id: f.first()?.parse().ok()?,
                parent: f.get(1)?.parse().ok()?,
                point: f.get(4)?.replace("\\040", " "),
                opts: f.get(5)?.split(',').map(String::from).collect(),
                tags: f.iter().skip(6).map(|x| x.to_string()).collect(),
                fstype: r.first()?.to_string(),
                super_opts: r
                    .get(2)
                    .map(|o| o.split(',').map(String::from).collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// The mount visible at `point`: the one no other mount there sits on.
/// (The table's order is no guide: since Linux 6.8 it follows mount ids,
/// the order mounts were made, not stacked.)
pub fn top_mount<'a>(mounts: &'a [MountEntry], point: &str) -> Option<&'a MountEntry> {
    let here: Vec<&MountEntry> = mounts.iter().filter(|m| m.point == point).collect();
    here.iter()
        .find(|m| !here.iter().any(|o| o.parent == m.id))
        .copied()
}

/// Whether `a` is `m` or a mount below it in the tree.
pub fn under(mounts: &[MountEntry], m: &MountEntry, a: &MountEntry) -> bool {
    let mut cur = Some(m);
    for _ in 0..mounts.len() + 1 {
        match cur {
            Some(c) if c.id == a.id => return true,
            Some(c) if c.parent != c.id => {
                cur = mounts.iter().find(|x| x.id == c.parent);
            }
            _ => return false,
        }
    }
    false
}

pub fn check(t: &mut Tap, config: &Value, mounts: &[MountEntry], own_proc: bool) {
    let l = &config["linux"];
    let ann = &config["annotations"];
    let readonly_root = config["root"]["readonly"].as_bool().unwrap_or(false);
    let root_ro = top_mount(mounts, "/").is_some_and(|m| m.opts.iter().any(|o| o == "ro"));
    t.check("rootfs", "root.readonly", readonly_root, root_ro);
    for m in config["mounts"].as_array().into_iter().flatten() {
        let dest = m["destination"].as_str().unwrap_or("");
        let Some(e) = top_mount(mounts, dest) else {
            t.truth(
                "mounts",
                &format!("{dest} mounted"),
                false,
                "not in /proc/self/mountinfo",
            );
            continue;
        };
        t.truth("mounts", &format!("{dest} mounted"), true, "");
        let opts: Vec<&str> = m["options"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let typ = m["type"].as_str().unwrap_or("");
        let bind = typ == "bind" || opts.iter().any(|o| *o == "bind" || *o == "rbind");
        if !bind && !matches!(typ, "cgroup" | "cgroup2" | "none") {
            t.check("mounts", &format!("{dest} type"), typ, &e.fstype);
        }
        check_mount_options(t, dest, &opts, bind, e, mounts);
        if bind {
            // The driver puts a mount under some bind sources and says so
            // in an annotation: rbind must carry it, bind must not.
            let src = m["source"].as_str().unwrap_or("");
            if let Some(sub) = ann[format!("conformance.submount:{src}")].as_str() {
                let at = format!("{dest}/{sub}");
                let rec = opts.contains(&"rbind");
                t.truth(
                    "mounts",
                    &format!(
                        "{dest} {} the source's submount",
                        if rec {
                            "rbind carries"
                        } else {
                            "bind leaves out"
                        }
                    ),
                    top_mount(mounts, &at).is_some() == rec,
                    format!("{at} mounted: {}", top_mount(mounts, &at).is_some()),
                );
            }
        }
    }
    // mounts are made in the listed order: a destination below an earlier
    // one is mounted over it, not hidden under it. (A runtime may make a
    // bind's mount early and attach it later, so mount ids say nothing.)
    let dests: Vec<&str> = config["mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["destination"].as_str())
        .collect();
    let mut misplaced = Vec::new();
    for (j, d) in dests.iter().enumerate() {
        let parent = dests[..j]
            .iter()
            .filter(|p| d.starts_with(&format!("{}/", p.trim_end_matches('/'))))
            .max_by_key(|p| p.len());
        if let (Some(p), Some(mj)) = (parent, top_mount(mounts, d))
            && let Some(mi) = top_mount(mounts, p)
            && !under(mounts, mj, mi)
        {
            misplaced.push(format!("{d} not over {p}"));
        }
    }
    t.truth(
        "mounts",
        "mounted in the listed order (each over the earlier one it is under)",
        misplaced.is_empty(),
        misplaced.join(", "),
    );
    // Nothing is mounted that config.json does not ask for: each mount
    // point is the root, a destination or below one, a masked or read-only
    // path, or the /proc this checker mounted itself.
    let mut asked: Vec<String> = config["mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["destination"].as_str().map(String::from))
        .collect();
    for key in ["maskedPaths", "readonlyPaths"] {
        asked.extend(
            l[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(String::from)),
        );
    }
    if own_proc {
        asked.push("/proc".into());
    }
    let extra: Vec<&str> = mounts
        .iter()
        .map(|e| e.point.as_str())
        .filter(|p| {
            *p != "/"
                && !asked
                    .iter()
                    .any(|a| p == a || p.starts_with(&format!("{}/", a.trim_end_matches('/'))))
        })
        .collect();
    t.truth(
        "mounts",
        "nothing mounted that config.json does not ask for",
        extra.is_empty(),
        extra.join(" "),
    );
    for path in l["maskedPaths"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        match std::fs::metadata(path) {
            Err(_) => t.skip("maskedPaths", path, "absent in this container"),
            Ok(md) if md.is_dir() => {
                let n = std::fs::read_dir(path)
                    .map(|d| d.count())
                    .unwrap_or(usize::MAX);
                t.check("maskedPaths", &format!("{path} empty"), 0, n);
            }
            Ok(_) => t.check(
                "maskedPaths",
                &format!("{path} reads empty"),
                0,
                std::fs::read(path).map(|b| b.len()).unwrap_or(usize::MAX),
            ),
        }
    }
    for path in l["readonlyPaths"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        match top_mount(mounts, path) {
            _ if std::fs::metadata(path).is_err() => {
                t.skip("readonlyPaths", path, "absent in this container")
            }
            Some(e) => t.truth(
                "readonlyPaths",
                path,
                e.opts.iter().any(|o| o == "ro"),
                e.opts.join(","),
            ),
            None => t.truth("readonlyPaths", path, false, "not a mount point"),
        }
    }
}

/// The flags a mount's options ask for, with mount(8)'s meaning: of each
/// pair (ro/rw, nosuid/suid, ...) the last one given wins.
fn check_mount_options(
    t: &mut Tap,
    dest: &str,
    opts: &[&str],
    bind: bool,
    e: &MountEntry,
    mounts: &[MountEntry],
) {
    let last = |names: &[&str]| opts.iter().rev().find(|o| names.contains(o)).copied();
    let has = |flag: &str| e.opts.iter().any(|x| x == flag);
    for (on, off) in [
        ("ro", "rw"),
        ("nosuid", "suid"),
        ("nodev", "dev"),
        ("noexec", "exec"),
    ] {
        if let Some(o) = last(&[on, off]) {
            t.truth(
                "mounts",
                &format!("{dest} {o}"),
                has(on) == (o == on),
                e.opts.join(","),
            );
        }
    }
    if let Some(o) = last(&["noatime", "relatime", "strictatime"]) {
        // strictatime shows as neither of the other two.
        let got = if has("noatime") {
            "noatime"
        } else if has("relatime") {
            "relatime"
        } else {
            "strictatime"
        };
        t.check("mounts", &format!("{dest} {o}"), o, got);
    }
    // sync belongs to the superblock: a bind shares its source's, so only
    // a fresh mount can be asked for it.
    if !bind && let Some(o) = last(&["sync", "async"]) {
        t.truth(
            "mounts",
            &format!("{dest} {o}"),
            e.super_opts.iter().any(|x| x == "sync") == (o == "sync"),
            e.super_opts.join(","),
        );
    }
    let props = [
        "private",
        "rprivate",
        "shared",
        "rshared",
        "slave",
        "rslave",
        "unbindable",
        "runbindable",
    ];
    if let Some(o) = last(&props) {
        let kind = o
            .strip_prefix('r')
            .filter(|k| props.contains(k))
            .unwrap_or(o);
        let below = format!("{dest}/");
        // The r- forms reach the mounts below too.
        let targets: Vec<&MountEntry> = mounts
            .iter()
            .filter(|m| m.point == dest || (kind != o && m.point.starts_with(&below)))
            .collect();
        let tagged = |m: &MountEntry, p: &str| m.tags.iter().any(|x| x.starts_with(p));
        let wrong: Vec<String> = targets
            .iter()
            .filter(|m| {
                !match kind {
                    "shared" => tagged(m, "shared:"),
                    // A slave of a mount that is not shared is private:
                    // either way it must not be shared.
                    "slave" => !tagged(m, "shared:") && !tagged(m, "unbindable"),
                    "unbindable" => tagged(m, "unbindable"),
                    _ => m.tags.is_empty(),
                }
            })
            .map(|m| format!("{} [{}]", m.point, m.tags.join(" ")))
            .collect();
        t.truth(
            "mounts",
            &format!("{dest} {o}"),
            wrong.is_empty(),
            wrong.join(", "),
        );
    }
}
