//! `berth check --bundle DIR`: every field of a config this host cannot
//! honour, found at once and without making anything, in the words
//! `create` fails with, one at a time. Each misfit comes from the same
//! function create's own check or failure goes through, asked instead of
//! acted on: validation, the cgroup writes as this layout places them, a
//! cgroup frozen or in use in the way, the capabilities, rlimits and oom
//! score this process could give its child, the kernel's namespaces,
//! seccomp flags and filesystems, the LSMs, idmapped binds (tried, on a
//! detached copy), sysctls.

use super::{Context, Finding, Level};
use crate::cgroups;
use crate::error::{Error, SysContext};
use crate::linux::{apparmor, idmap, mounts, namespaces, process, procfs::Proc, seccomp, selinux};
use crate::spec::{self, Bundle, Namespaces};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::path::Path;

fn misfit(check: &'static str, e: Error) -> Finding {
    Finding::new("bundle", check, Level::Fail, e.to_string()).means("create fails with this")
}

/// Every finding about the bundle in `dir`.
pub fn bundle(cx: &Context, dir: &Path, id: Option<&str>) -> Vec<Finding> {
    let mut out = Vec::new();
    // An id create would refuse names no cgroup.
    let id = match id.map(|i| (i, spec::validate_id(i))) {
        Some((_, Err(e))) => {
            out.push(misfit("id", e));
            None
        }
        Some((i, Ok(()))) => Some(i),
        None => None,
    };
    let Some((dir, spec)) = read(dir, &mut out) else {
        return out;
    };
    // create's first step: what is wrong whatever the host.
    let valid = match spec::validate(dir.clone(), spec.clone()) {
        Ok(b) => Some(b),
        Err(e) => {
            out.push(misfit("config", e));
            None
        }
    };
    let linux = spec.linux().clone().unwrap_or_default();
    let ns = valid
        .as_ref()
        .map(|b| b.namespaces.clone())
        .or_else(|| spec::validate_namespaces(&linux).ok())
        .unwrap_or_default();
    privileges(&spec, &ns, &mut out);
    kernel(&dir, &spec, &ns, valid.as_ref(), &mut out);
    cgroups(cx, &dir, id, &spec, &mut out);
    // One cause can surface twice (validation compiles the seccomp
    // profile too): say it once.
    let mut seen = std::collections::HashSet::new();
    out.retain(|f| seen.insert(f.found.clone()));
    if !out.iter().any(|f| f.level == Level::Fail) {
        out.push(Finding::new(
            "bundle",
            "fits",
            Level::Ok,
            format!(
                "{}: nothing in config.json is beyond this host",
                dir.display()
            ),
        ));
    }
    out
}

/// config.json, parsed as create parses it.
fn read(dir: &Path, out: &mut Vec<Finding>) -> Option<(std::path::PathBuf, Spec)> {
    let parsed = std::fs::canonicalize(dir)
        .sys("open bundle", dir.display())
        .and_then(|dir| {
            let path = dir.join("config.json");
            let text = std::fs::read(&path).sys("open", path.display())?;
            Ok((dir, spec::parse(&text, &path.display().to_string())?))
        });
    match parsed {
        Ok(p) => Some(p),
        Err(e) => {
            out.push(misfit("config", e));
            None
        }
    }
}

/// What this process could give the container: root or a user
/// namespace, capabilities, rlimits, the oom score.
fn privileges(spec: &Spec, ns: &Namespaces, out: &mut Vec<Finding>) {
    if let Err(e) = spec::rootless_fits(ns) {
        out.push(misfit("rootless", e));
    }
    let Some(p) = spec.process() else {
        return;
    };
    // A user namespace of its own starts the init from a full set.
    let own_userns = ns.private(LinuxNamespaceType::User);
    let have = caps::read(None, caps::CapSet::Permitted).ok();
    if let Some(e) = process::caps_beyond(
        &spec::capability_sets(p),
        have.as_ref().filter(|_| !own_userns),
    ) {
        out.push(misfit("capabilities", e));
    }
    for e in process::rlimits_refused(p, own_userns) {
        out.push(misfit("rlimits", e));
    }
    if let Some(e) = process::oom_score_refused(p) {
        out.push(misfit("oom-score-adj", e));
    }
    if let Err(e) = apparmor::check(p.apparmor_profile().as_deref()) {
        out.push(misfit("apparmor", e));
    }
    let linux = spec.linux().as_ref();
    for (field, label) in [
        ("process.selinuxLabel", p.selinux_label().as_deref()),
        (
            "linux.mountLabel",
            linux.and_then(|l| l.mount_label().as_deref()),
        ),
    ] {
        if let Some(w) = selinux::ignored(field, label) {
            out.push(
                Finding::new("bundle", "selinux", Level::Warn, w)
                    .means("create goes on, the container unlabelled"),
            );
        }
    }
}

/// What the kernel must have: the namespace types, seccomp's flags, the
/// filesystems mounted, idmapped binds, the sysctls.
fn kernel(
    dir: &Path,
    spec: &Spec,
    ns: &Namespaces,
    valid: Option<&Bundle>,
    out: &mut Vec<Finding>,
) {
    if let Some(e) = namespaces::kernel_lacks(&ns.new) {
        out.push(misfit("namespaces", e));
    }
    let linux = spec.linux().clone().unwrap_or_default();
    if let Some(s) = linux.seccomp() {
        match seccomp::compile(s) {
            Ok(f) => out.extend(seccomp::unknown_flags(f.flags).map(|e| misfit("seccomp", e))),
            Err(e) => out.push(misfit("seccomp", e)),
        }
    }
    // The filesystems create would mount, each planned as validation
    // plans it (a mount validation refuses is reported with it).
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if let Ok(plan) = mounts::plan(m, dir)
            && let mounts::Kind::Fs { fstype, .. } = &plan.kind
            && !mounts::fstype_known(fstype)
        {
            out.push(misfit(
                "mounts",
                mounts::no_such_fstype(fstype, &plan.dest)
                    .context(format!("mounts[{i}] ({})", plan.dest)),
            ));
        }
    }
    if let Some(b) = valid {
        idmapped_binds(b, out);
    }
    for k in linux.sysctl().iter().flat_map(|s| s.keys()) {
        let rel = format!("sys/{}", k.replace('.', "/"));
        if !Path::new("/proc").join(&rel).exists() {
            let e = Error::sys("open", format!("/proc/{rel}"), nix::errno::Errno::ENOENT)
                .context(format!("linux.sysctl.{k}"));
            // The host's network namespace is not the container's: a key
            // of an interface only the container has is there, not here.
            if k.starts_with("net.") && ns.private(LinuxNamespaceType::Network) {
                out.push(
                    Finding::new("bundle", "sysctl", Level::Warn, e.to_string()).means(
                        "not in the host's network namespace; create fails unless the container's has it",
                    ),
                );
            } else {
                out.push(misfit("sysctl", e));
            }
        }
    }
}

/// An idmapped bind works only where the source's filesystem supports
/// it: made as create makes it, on a detached copy that goes with its fd.
fn idmapped_binds(b: &Bundle, out: &mut Vec<Finding>) {
    let wanted: Vec<_> = b
        .mounts
        .iter()
        .enumerate()
        .filter_map(|(i, m)| match (&m.kind, &m.idmap) {
            (mounts::Kind::Bind { source, recursive }, Some(map)) => {
                Some((i, &m.dest, source, *recursive, map))
            }
            _ => None,
        })
        .collect();
    if wanted.is_empty() {
        return;
    }
    let proc = match Proc::open_host() {
        Ok(p) => p,
        Err(e) => return out.push(misfit("idmap", e)),
    };
    for (i, dest, source, recursive, map) in wanted {
        if let Err(e) = idmap::prepare(&proc, source, recursive, map) {
            out.push(misfit("idmap", e.context(format!("mounts[{i}] ({dest})"))));
        }
    }
}

/// The container's cgroup as create would place it: what is in the way,
/// and each limit this layout has no controller or file for.
fn cgroups(cx: &Context, dir: &Path, id: Option<&str>, spec: &Spec, out: &mut Vec<Finding>) {
    let linux = spec.linux().clone().unwrap_or_default();
    let path = linux.cgroups_path().as_deref();
    // Without a cgroupsPath, create names the cgroup after the container:
    // the bundle's directory stands in for an id not given.
    let id = id.map(str::to_string).unwrap_or_else(|| {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "berth-check".into())
    });
    if cx.systemd_cgroup {
        if let Err(e) = cgroups::systemd::Unit::parse(path, &id) {
            out.push(misfit("cgroups", e));
        }
        if let Err(e) = cgroups::systemd::annotation_properties(
            spec.annotations().as_ref().unwrap_or(&Default::default()),
        ) {
            out.push(misfit("cgroups", e));
        }
        if let Err(e) = cgroups::systemd::Systemd::connect() {
            out.push(misfit("cgroups", e));
        }
        return;
    }
    let cgroup = match cgroups::locate(path, &id, cx.rootless) {
        Ok(c) => c.as_rootless_create_would(),
        Err(e) => return out.push(misfit("cgroups", e)),
    };
    for e in cgroup.in_the_way() {
        out.push(misfit("cgroups", e));
    }
    let resources = linux.resources().clone().unwrap_or_default();
    for e in cgroup.misfits(&resources) {
        out.push(misfit("cgroups", e));
    }
    for (i, h) in resources.hugepage_limits().iter().flatten().enumerate() {
        if let Some(e) = cgroups::missing_page_size(h.page_size()) {
            out.push(misfit(
                "cgroups",
                e.context(format!("linux.resources.hugepageLimits[{i}]")),
            ));
        }
    }
}
