//! config.json in, a checked plan out. Everything that can be known to be
//! wrong before the first fork is found here, so a bad config costs one
//! read and leaves nothing behind.

use crate::error::{Error, Result, SysContext};
use crate::linux::mounts::{self, MountPlan};
use crate::logging;
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The namespaces a container gets: created fresh, or joined by path.
#[derive(Debug, Default, Clone)]
pub struct Namespaces {
    pub new: Vec<LinuxNamespaceType>,
    pub join: Vec<(LinuxNamespaceType, PathBuf)>,
}

impl Namespaces {
    pub fn creates(&self, t: LinuxNamespaceType) -> bool {
        self.new.contains(&t)
    }
    /// The container has its own (new or joined) namespace of this type.
    pub fn private(&self, t: LinuxNamespaceType) -> bool {
        self.creates(t) || self.join.iter().any(|(j, _)| *j == t)
    }
}

/// The five capability sets, already checked against this kernel.
#[derive(Debug, Default, Clone)]
pub struct CapSets {
    pub bounding: caps::CapsHashSet,
    pub effective: caps::CapsHashSet,
    pub inheritable: caps::CapsHashSet,
    pub permitted: caps::CapsHashSet,
    pub ambient: caps::CapsHashSet,
}

/// A bundle after validation: what `create` executes.
#[derive(Debug)]
pub struct Bundle {
    pub dir: PathBuf,
    pub rootfs: PathBuf,
    pub spec: Spec,
    pub process: Process,
    pub namespaces: Namespaces,
    pub mounts: Vec<MountPlan>,
    pub caps: CapSets,
    /// linux.seccomp, compiled.
    pub seccomp: Option<crate::linux::seccomp::Filter>,
    /// linux.netDevices: (host name, name in the container).
    pub net_devices: Vec<(String, String)>,
    /// linux.memoryPolicy, checked.
    pub mempolicy: Option<crate::linux::numa::Policy>,
}

pub const CAPSETS: [&str; 5] = [
    "bounding",
    "effective",
    "inheritable",
    "permitted",
    "ambient",
];

/// Read config.json from the bundle and validate it.
pub fn load_bundle(dir: &Path) -> Result<Bundle> {
    let dir = std::fs::canonicalize(dir).sys("open bundle", dir.display())?;
    let path = dir.join("config.json");
    let text = std::fs::read(&path).sys("open", path.display())?;
    let spec = parse(&text, &path.display().to_string())?;
    validate(dir, spec)
}

/// Parse config.json text the way runc reads it: unknown capabilities are
/// dropped with a warning (the spec says so; oci-spec would reject the
/// whole file), and a wrong field is reported by its JSON path.
pub fn parse(text: &[u8], name: &str) -> Result<Spec> {
    let mut value: Value = serde_json::from_slice(text)
        .map_err(|e| Error::msg(format!("parse {name}: invalid JSON: {e}")))?;
    if let Some(p) = value.get_mut("process") {
        drop_unknown_capabilities(p)?;
        drop_empty_affinity(p);
        scheduler_flag_names(p);
        default_user(p);
    }
    serde_path_to_error::deserialize(&value).map_err(|e| {
        let field = e.path().to_string();
        Error::config(field, e.into_inner().to_string())
    })
}

/// Capability names the kernel knows: the caps crate's list, cut at
/// /proc/sys/kernel/cap_last_cap so that a newer name on an older kernel
/// is treated as unknown, as runc does.
fn known_capability(name: &str) -> Option<caps::Capability> {
    let canonical = caps::to_canonical(name);
    let cap = caps::Capability::from_str(&canonical).ok()?;
    static LAST: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    let last = *LAST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse::<u8>().ok())
            .unwrap_or(40)
    });
    (cap.index() <= last).then_some(cap)
}

/// Parse a process JSON (`exec --process`) with the same tolerance.
pub fn parse_process(text: &[u8], name: &str) -> Result<Process> {
    let mut value: Value = serde_json::from_slice(text)
        .map_err(|e| Error::msg(format!("parse {name}: invalid JSON: {e}")))?;
    drop_unknown_capabilities(&mut value)?;
    drop_empty_affinity(&mut value);
    scheduler_flag_names(&mut value);
    default_user(&mut value);
    serde_path_to_error::deserialize(&value).map_err(|e| {
        let field = e.path().to_string();
        Error::config(format!("{name}: {field}"), e.into_inner().to_string())
    })
}

/// An empty execCPUAffinity list means "leave the affinity alone" (the
/// spec), which oci-spec's pattern would refuse: drop it before parsing.
fn drop_empty_affinity(process: &mut Value) {
    if let Some(a) = process
        .pointer_mut("/execCPUAffinity")
        .and_then(Value::as_object_mut)
    {
        a.retain(|_, v| v.as_str() != Some(""));
    }
}

/// process.user is optional (the schema requires only args and cwd): its
/// absence is uid 0, gid 0, which oci-spec, requiring it, needs spelled out.
fn default_user(process: &mut Value) {
    if let Some(p) = process.as_object_mut() {
        p.entry("user")
            .or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
    }
}

/// process.scheduler.flags as the spec spells them: oci-spec's enum knows
/// two of them by other names (SCHED_RESET_ON_FORK, and
/// SCHED_FLAG_D_L_OVERRUN from its case conversion). Anything else is
/// left for deserialization to refuse, by its path.
fn scheduler_flag_names(process: &mut Value) {
    const NAMES: [(&str, &str); 2] = [
        ("SCHED_FLAG_RESET_ON_FORK", "SCHED_RESET_ON_FORK"),
        ("SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_D_L_OVERRUN"),
    ];
    let Some(flags) = process
        .pointer_mut("/scheduler/flags")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for f in flags {
        if let Some((_, ours)) = NAMES.iter().find(|(spec, _)| f.as_str() == Some(spec)) {
            *f = Value::from(*ours);
        }
    }
}

/// A capability this kernel lacks is dropped with a warning (engines send
/// newer names to older kernels); a name that is no capability at all is
/// an error: it maps to no kernel interface (config.md).
fn drop_unknown_capabilities(process: &mut Value) -> Result<()> {
    let Some(sets) = process
        .pointer_mut("/capabilities")
        .and_then(Value::as_object_mut)
    else {
        return Ok(());
    };
    let mut unknown = Vec::new();
    for set in CAPSETS {
        if let Some(Value::Array(list)) = sets.get_mut(set) {
            if let Some(bad) = list
                .iter()
                .filter_map(Value::as_str)
                .find(|n| caps::Capability::from_str(&caps::to_canonical(n)).is_err())
            {
                return Err(Error::config(
                    format!("process.capabilities.{set}"),
                    format!("{bad:?} is not a capability"),
                ));
            }
            list.retain(|v| match v.as_str() {
                Some(n) if known_capability(n).is_some() => true,
                Some(n) => {
                    if !unknown.contains(&n.to_string()) {
                        unknown.push(n.to_string());
                    }
                    false
                }
                None => true, // a wrong type is reported by deserialization
            });
        }
    }
    if !unknown.is_empty() {
        logging::warn(&format!(
            "ignoring capabilities this kernel does not have: {}",
            unknown.join(", ")
        ));
    }
    Ok(())
}

/// MAJOR.MINOR.PATCH, numbers without leading zeros, then an optional
/// -pre-release and +build of dot-separated [0-9A-Za-z-] identifiers
/// (semver.org 2.0.0, which config.md requires of ociVersion).
fn is_semver(v: &str) -> bool {
    let ids = |s: &str, numeric_rule: bool| {
        !s.is_empty()
            && s.split('.').all(|id| {
                !id.is_empty()
                    && id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                    && !(numeric_rule
                        && id.len() > 1
                        && id.starts_with('0')
                        && id.bytes().all(|c| c.is_ascii_digit()))
            })
    };
    let (rest, build) = match v.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (v, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let nums: Vec<&str> = core.split('.').collect();
    nums.len() == 3
        && nums.iter().all(|n| {
            !n.is_empty()
                && n.bytes().all(|c| c.is_ascii_digit())
                && (n.len() == 1 || !n.starts_with('0'))
        })
        && pre.is_none_or(|p| ids(p, true))
        && build.is_none_or(|b| ids(b, false))
}

fn require_absolute(field: &str, p: &Path) -> Result<()> {
    if p.is_absolute() {
        Ok(())
    } else {
        Err(Error::config(
            field,
            format!("{} must be an absolute path", p.display()),
        ))
    }
}

/// Check everything berth can check without touching the system beyond
/// reads, and build the plan `create` follows.
pub fn validate(dir: PathBuf, spec: Spec) -> Result<Bundle> {
    if !is_semver(spec.version()) {
        return Err(Error::config(
            "ociVersion",
            format!("{:?} is not a SemVer 2.0.0 version", spec.version()),
        ));
    }
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::config("root", "missing: a bundle needs a root filesystem"))?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        dir.join(root.path())
    };
    let meta = std::fs::metadata(&rootfs).sys("root.path: stat rootfs", rootfs.display())?;
    if !meta.is_dir() {
        return Err(Error::config(
            "root.path",
            format!("{} is not a directory", rootfs.display()),
        ));
    }
    let rootfs = std::fs::canonicalize(&rootfs).sys("root.path: resolve", rootfs.display())?;

    let process = spec
        .process()
        .clone()
        .ok_or_else(|| Error::config("process", "missing: nothing to run"))?;
    validate_process(&process)?;

    let linux = spec
        .linux()
        .clone()
        .ok_or_else(|| Error::config("linux", "missing: berth runs Linux containers only"))?;

    let namespaces = validate_namespaces(&linux)?;
    validate_ids(&linux, &namespaces, &process)?;
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty())
        && !namespaces.private(LinuxNamespaceType::Uts)
    {
        return Err(Error::config(
            "hostname",
            "setting a hostname needs a private uts namespace",
        ));
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty())
        && !namespaces.private(LinuxNamespaceType::Uts)
    {
        return Err(Error::config(
            "domainname",
            "setting a domainname needs a private uts namespace",
        ));
    }
    if let Some(sysctl) = linux.sysctl() {
        for key in sysctl.keys() {
            validate_sysctl(key, &namespaces)?;
        }
    }
    for (field, list) in [
        ("linux.maskedPaths", linux.masked_paths()),
        ("linux.readonlyPaths", linux.readonly_paths()),
    ] {
        for p in list.iter().flatten() {
            require_absolute(field, Path::new(p))?;
        }
    }
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        require_absolute(&format!("linux.devices[{i}].path"), d.path())?;
    }
    if let Some(p) = linux.rootfs_propagation() {
        mounts::propagation_flag(p).ok_or_else(|| {
            Error::config("linux.rootfsPropagation", format!("unknown value {p:?}"))
        })?;
    }
    if let Some(offsets) = linux.time_offsets() {
        if !namespaces.creates(LinuxNamespaceType::Time) {
            return Err(Error::config(
                "linux.timeOffsets",
                "time offsets need a new time namespace",
            ));
        }
        for clock in offsets.keys() {
            if clock != "monotonic" && clock != "boottime" {
                return Err(Error::config(
                    "linux.timeOffsets",
                    format!("unknown clock {clock:?} (monotonic or boottime)"),
                ));
            }
        }
    }
    if let Some(p) = linux.personality()
        && p.flags().as_ref().is_some_and(|f| !f.is_empty())
    {
        return Err(Error::config(
            "linux.personality.flags",
            "no personality flags are supported",
        ));
    }
    let seccomp = linux
        .seccomp()
        .as_ref()
        .map(crate::linux::seccomp::compile)
        .transpose()?;
    crate::linux::selinux::check("linux.mountLabel", linux.mount_label().as_deref())?;

    if linux.intel_rdt().is_some() {
        return Err(crate::linux::resctrl::refuse());
    }
    let mempolicy = linux
        .memory_policy()
        .as_ref()
        .map(crate::linux::numa::plan)
        .transpose()?;

    let net_devices = validate_net_devices(&linux, &namespaces)?;

    let mut plans = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let mut p = mounts::plan(m, &dir).map_err(|e| e.context(format!("mounts[{i}]")))?;
        // `idmap`/`ridmap` without maps: the container's own, as runc does.
        if let Some(idmap) = p.idmap.as_mut().filter(|m| m.uid.is_empty()) {
            if !namespaces.creates(LinuxNamespaceType::User) {
                return Err(Error::config(
                    format!("mounts[{i}].uidMappings"),
                    "the idmap option without maps takes the container's user namespace maps, and there is no new user namespace",
                ));
            }
            idmap.uid = linux.uid_mappings().clone().unwrap_or_default();
            idmap.gid = linux.gid_mappings().clone().unwrap_or_default();
        }
        if let Some(label) = crate::linux::selinux::active(linux.mount_label().as_deref())
            && let mounts::Kind::Fs { fstype, .. } = &p.kind
        {
            p.data = crate::linux::selinux::mount_data(fstype, &p.data, label);
        }
        plans.push(p);
    }

    for (stage, hooks) in hook_lists(&spec) {
        for (i, h) in hooks.iter().enumerate() {
            require_absolute(&format!("hooks.{stage}[{i}].path"), h.path())?;
            if h.timeout().is_some_and(|t| t <= 0) {
                return Err(Error::config(
                    format!("hooks.{stage}[{i}].timeout"),
                    "must be a positive number of seconds",
                ));
            }
        }
    }

    let caps = capability_sets(&process);
    Ok(Bundle {
        dir,
        rootfs,
        spec,
        process,
        namespaces,
        mounts: plans,
        caps,
        seccomp,
        mempolicy,
        net_devices,
    })
}

/// netDevices: a private network namespace to move them into, names the
/// kernel takes, each container name once, and host interfaces that exist.
fn validate_net_devices(
    linux: &oci_spec::runtime::Linux,
    ns: &Namespaces,
) -> Result<Vec<(String, String)>> {
    use crate::linux::netdev::check_name;
    let Some(devices) = linux.net_devices().as_ref().filter(|d| !d.is_empty()) else {
        return Ok(Vec::new());
    };
    if !ns.private(LinuxNamespaceType::Network) {
        return Err(Error::config(
            "linux.netDevices",
            "moving interfaces needs a network namespace of the container's own (the host's would lose them)",
        ));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    let mut hosts: Vec<&String> = devices.keys().collect();
    hosts.sort();
    for host in hosts {
        let field = format!("linux.netDevices.{host}");
        check_name(&field, host)?;
        let name = devices[host]
            .name()
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| host.clone());
        check_name(&format!("{field}.name"), &name)?;
        if out.iter().any(|(_, n)| *n == name) {
            return Err(Error::config(
                format!("{field}.name"),
                format!("{name:?} is given to two interfaces"),
            ));
        }
        let sys = Path::new("/sys/class/net").join(host);
        std::fs::symlink_metadata(&sys).sys(
            &format!("{field}: no such interface on the host:"),
            sys.display(),
        )?;
        out.push((host.clone(), name));
    }
    Ok(out)
}

pub fn validate_process(p: &Process) -> Result<()> {
    crate::linux::apparmor::check(p.apparmor_profile().as_deref())?;
    crate::linux::selinux::check("process.selinuxLabel", p.selinux_label().as_deref())?;
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(Error::config("process.args", "must not be empty"));
    }
    require_absolute("process.cwd", p.cwd())?;
    if let Some(env) = p.env() {
        for e in env {
            if !e.contains('=') {
                return Err(Error::config(
                    "process.env",
                    format!("{e:?} is not of the form KEY=value"),
                ));
            }
        }
    }
    let mut seen = HashSet::new();
    for r in p.rlimits().iter().flatten() {
        if !seen.insert(r.typ().to_string()) {
            return Err(Error::config(
                "process.rlimits",
                format!("{} is given twice", r.typ()),
            ));
        }
        if r.soft() > r.hard() {
            return Err(Error::config(
                "process.rlimits",
                format!(
                    "{}: soft limit {} is above hard limit {}",
                    r.typ(),
                    r.soft(),
                    r.hard()
                ),
            ));
        }
    }
    if let Some(io) = p.io_priority()
        && !(0..=7).contains(&io.priority())
    {
        return Err(Error::config(
            "process.ioPriority.priority",
            format!("{} is outside 0..7", io.priority()),
        ));
    }
    if let Some(adj) = p.oom_score_adj()
        && !(-1000..=1000).contains(&adj)
    {
        return Err(Error::config(
            "process.oomScoreAdj",
            format!("{adj} is outside -1000..1000"),
        ));
    }
    Ok(())
}

fn validate_namespaces(linux: &oci_spec::runtime::Linux) -> Result<Namespaces> {
    let mut ns = Namespaces::default();
    let mut seen = HashSet::new();
    for (i, n) in linux.namespaces().iter().flatten().enumerate() {
        if !seen.insert(n.typ()) {
            return Err(Error::config(
                format!("linux.namespaces[{i}]"),
                format!("namespace {} is given twice", n.typ()),
            ));
        }
        match n.path() {
            Some(p) if !p.as_os_str().is_empty() => {
                require_absolute(&format!("linux.namespaces[{i}].path"), p)?;
                std::fs::metadata(p)
                    .sys(&format!("linux.namespaces[{i}].path: stat"), p.display())?;
                ns.join.push((n.typ(), p.clone()));
            }
            _ => ns.new.push(n.typ()),
        }
    }
    // Without a mount namespace the init builds the tree in one of its
    // own and comes back to berth's (rootfs::build_apart), which takes
    // the privileges over it that a user namespace of its own would lose.
    if ns.private(LinuxNamespaceType::User) && !ns.private(LinuxNamespaceType::Mount) {
        return Err(Error::config(
            "linux.namespaces",
            "a user namespace needs a mount namespace too: from inside it the container could not be given a root in the runtime's mount namespace",
        ));
    }
    Ok(ns)
}

fn validate_ids(linux: &oci_spec::runtime::Linux, ns: &Namespaces, p: &Process) -> Result<()> {
    let has_maps = |m: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        m.as_ref().is_some_and(|v| !v.is_empty())
    };
    if ns.creates(LinuxNamespaceType::User) {
        if !has_maps(linux.uid_mappings()) {
            return Err(Error::config(
                "linux.uidMappings",
                "a new user namespace needs uid mappings",
            ));
        }
        if !has_maps(linux.gid_mappings()) {
            return Err(Error::config(
                "linux.gidMappings",
                "a new user namespace needs gid mappings",
            ));
        }
        // An id the maps lack cannot be switched to (EINVAL from setresuid
        // at the very end): say so before anything is made. A rootless
        // map of one id only has root.
        let mapped = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>, id: u32| {
            maps.iter().flatten().any(|m| {
                id >= m.container_id()
                    && u64::from(id) < u64::from(m.container_id()) + u64::from(m.size())
            })
        };
        let user = p.user();
        if !mapped(linux.uid_mappings(), user.uid()) {
            return Err(Error::config(
                "process.user.uid",
                format!("{} is not mapped by linux.uidMappings", user.uid()),
            ));
        }
        for (field, gid) in std::iter::once(("process.user.gid", user.gid())).chain(
            user.additional_gids()
                .iter()
                .flatten()
                .map(|g| ("process.user.additionalGids", *g)),
        ) {
            if !mapped(linux.gid_mappings(), gid) {
                return Err(Error::config(
                    field,
                    format!("{gid} is not mapped by linux.gidMappings"),
                ));
            }
        }
    } else if has_maps(linux.uid_mappings()) || has_maps(linux.gid_mappings()) {
        return Err(Error::config(
            "linux.uidMappings",
            "id mappings are given but no new user namespace is asked for",
        ));
    }
    Ok(())
}

/// Only sysctls that live in a namespace the container owns may be set,
/// or the container would change the host.
fn validate_sysctl(key: &str, ns: &Namespaces) -> Result<()> {
    let ipc = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let field = format!("linux.sysctl.{key}");
    if key.contains('/') || key.split('.').any(|c| c.is_empty() || c == "..") {
        return Err(Error::config(field, "not a sysctl name"));
    }
    // The names the config's own fields set: through a sysctl they would
    // bypass them (and without a UTS namespace write the host's), which
    // runc and crun refuse too.
    if let Some(f) = match key {
        "kernel.hostname" => Some("hostname"),
        "kernel.domainname" => Some("domainname"),
        _ => None,
    } {
        return Err(Error::config(
            field,
            format!("set by the config's {f} field, not through a sysctl"),
        ));
    }
    let needs = if ipc.contains(&key) || key.starts_with("fs.mqueue.") {
        LinuxNamespaceType::Ipc
    } else if key.starts_with("net.") {
        LinuxNamespaceType::Network
    } else {
        return Err(Error::config(
            field,
            "not a namespaced sysctl: setting it would change the host",
        ));
    };
    if !ns.private(needs) {
        return Err(Error::config(
            field,
            format!("needs a private {needs} namespace"),
        ));
    }
    Ok(())
}

pub fn hook_lists(spec: &Spec) -> Vec<(&'static str, Vec<oci_spec::runtime::Hook>)> {
    let Some(h) = spec.hooks() else {
        return Vec::new();
    };
    #[allow(deprecated)]
    let prestart = h.prestart().clone();
    [
        ("prestart", prestart),
        ("createRuntime", h.create_runtime().clone()),
        ("createContainer", h.create_container().clone()),
        ("startContainer", h.start_container().clone()),
        ("poststart", h.poststart().clone()),
        ("poststop", h.poststop().clone()),
    ]
    .into_iter()
    .map(|(n, l)| (n, l.unwrap_or_default()))
    .collect()
}

pub fn capability_sets(p: &Process) -> CapSets {
    let convert = |set: &Option<oci_spec::runtime::Capabilities>| -> caps::CapsHashSet {
        set.iter()
            .flatten()
            .filter_map(|c| known_capability(&c.to_string()))
            .collect()
    };
    match p.capabilities() {
        None => CapSets::default(),
        Some(c) => CapSets {
            bounding: convert(c.bounding()),
            effective: convert(c.effective()),
            inheritable: convert(c.inheritable()),
            permitted: convert(c.permitted()),
            ambient: convert(c.ambient()),
        },
    }
}

/// Container ids become directory names under --root: no separators, no
/// dot-only names.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::msg(format!(
            "invalid container id {id:?}: use letters, digits and _ + - . only"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tempdir;

    const MIN: &str = r#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},
        "process":{"args":["/bin/true"],"cwd":"/","user":{"uid":0,"gid":0}},
        "linux":{"namespaces":[{"type":"mount"},{"type":"pid"}]}}"#;

    fn bundle(config: &str) -> (tempdir::TempDir, Result<Bundle>) {
        let d = tempdir::TempDir::new();
        std::fs::create_dir(d.path().join("rootfs")).unwrap();
        std::fs::write(d.path().join("config.json"), config).unwrap();
        let r = load_bundle(d.path());
        (d, r)
    }

    fn with(patch: impl FnOnce(&mut Value)) -> String {
        let mut v: Value = serde_json::from_str(MIN).unwrap();
        patch(&mut v);
        v.to_string()
    }

    fn err(config: &str) -> String {
        bundle(config).1.unwrap_err().to_string()
    }

    #[test]
    fn minimal_config_is_accepted() {
        let (_d, b) = bundle(MIN);
        let b = b.unwrap();
        assert!(b.namespaces.creates(LinuxNamespaceType::Pid));
        assert!(b.rootfs.ends_with("rootfs"));
    }

    #[test]
    fn runtime_spec_1_3_sections_parse() {
        // Other platforms' sections (freebsd, vm.hwConfig) are not Linux's
        // business: accepted and ignored, as runc does.
        let (_d, b) = bundle(&with(|v| {
            v["ociVersion"] = "1.3.0".into();
            v["freebsd"] = serde_json::json!({"jail": {"parent": "p", "host": "new"}});
            v["vm"] = serde_json::json!({"kernel": {"path": "/k"},
                "hwConfig": {"vcpus": 2, "memory": 1024, "dtdevs": ["/a"]}});
        }));
        b.unwrap();
        // intelRdt's new fields parse, and intelRdt is refused by name.
        let e = err(&with(|v| {
            v["linux"]["intelRdt"] = serde_json::json!({"closID": "/",
                "schemata": ["L3:0=f", "MB:0=20"], "enableMonitoring": true});
        }));
        assert!(e.contains("linux.intelRdt") && e.contains("resctrl"), "{e}");
    }

    #[test]
    fn missing_config_names_the_path_and_errno() {
        let d = tempdir::TempDir::new();
        let e = load_bundle(d.path()).unwrap_err().to_string();
        assert!(e.contains("config.json: no such file or directory"), "{e}");
    }

    #[test]
    fn invalid_json_is_reported() {
        let e = err("{\"ociVersion\": ");
        assert!(e.contains("invalid JSON"), "{e}");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let e = err(&with(|v| v["process"]["user"]["uid"] = "root".into()));
        assert!(e.contains("process.user.uid"), "{e}");
    }

    #[test]
    fn relative_cwd_and_mount_destination_are_refused() {
        let e = err(&with(|v| v["process"]["cwd"] = "tmp".into()));
        assert!(e.contains("process.cwd") && e.contains("absolute"), "{e}");
        let e = err(&with(
            |v| {
                v["mounts"] =
                    serde_json::json!([{"destination":"proc","type":"proc","source":"proc"}])
            },
        ));
        assert!(e.contains("mounts[0]") && e.contains("absolute"), "{e}");
    }

    #[test]
    fn missing_rootfs_is_reported() {
        let d = tempdir::TempDir::new();
        std::fs::write(d.path().join("config.json"), MIN).unwrap();
        let e = load_bundle(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("root.path") && e.contains("no such file or directory"),
            "{e}"
        );
    }

    #[test]
    fn user_namespace_needs_mappings() {
        let e = err(&with(|v| {
            v["linux"]["namespaces"] = serde_json::json!([{"type":"mount"},{"type":"user"}])
        }));
        assert!(e.contains("uid mappings"), "{e}");
    }

    #[test]
    fn the_process_user_must_be_mapped() {
        let userns = |v: &mut Value, uid: u32, gids: Value| {
            v["linux"]["namespaces"] = serde_json::json!([{"type":"mount"},{"type":"user"}]);
            v["linux"]["uidMappings"] =
                serde_json::json!([{"containerID":0,"hostID":1000,"size":1}]);
            v["linux"]["gidMappings"] = serde_json::json!([
                {"containerID":0,"hostID":1000,"size":1},
                {"containerID":1,"hostID":100000,"size":65536}
            ]);
            v["process"]["user"] =
                serde_json::json!({"uid": uid, "gid": 0, "additionalGids": gids});
        };
        let (_d, b) = bundle(&with(|v| userns(v, 0, serde_json::json!([5, 65536]))));
        b.unwrap();
        let e = err(&with(|v| userns(v, 1, serde_json::json!([]))));
        assert!(e.contains("process.user.uid: 1 is not mapped"), "{e}");
        let e = err(&with(|v| userns(v, 0, serde_json::json!([65537]))));
        assert!(
            e.contains("process.user.additionalGids: 65537 is not mapped"),
            "{e}"
        );
    }

    #[test]
    fn oci_version_is_semver() {
        for good in [
            "1.0.0",
            "1.2.0",
            "1.3.0-rc.1",
            "1.0.2-dev",
            "10.20.30+build.5",
            "1.0.0-0.3.7",
        ] {
            assert!(is_semver(good), "{good}");
        }
        for bad in [
            "invalid",
            "1.0",
            "1.0.0.0",
            "01.0.0",
            "1.0.0-",
            "1.0.0-01",
            "1.0.0+",
            "",
            "1.0.0-a..b",
        ] {
            assert!(!is_semver(bad), "{bad}");
        }
        let e = err(&with(|v| v["ociVersion"] = "invalid".into()));
        assert!(e.contains("ociVersion") && e.contains("SemVer"), "{e}");
    }

    #[test]
    fn a_name_that_is_no_capability_is_an_error() {
        let e = err(&with(
            |v| {
                v["process"]["capabilities"] = serde_json::json!({"bounding":["CAP_CHOWN","CAP_TEST"],"effective":["CAP_KILL"]})
            },
        ));
        assert!(e.contains("process.capabilities.bounding"), "{e}");
        assert!(e.contains("\"CAP_TEST\" is not a capability"), "{e}");
        let (_d, b) =
            bundle(&with(
                |v| {
                    v["process"]["capabilities"] =
                        serde_json::json!({"bounding":["CAP_CHOWN"],"effective":["KILL"]})
                },
            ));
        let b = b.unwrap();
        assert!(b.caps.bounding.contains(&caps::Capability::CAP_CHOWN));
        assert!(b.caps.effective.contains(&caps::Capability::CAP_KILL));
    }

    #[test]
    fn empty_exec_cpu_affinity_means_unchanged() {
        let (_d, b) = bundle(&with(|v| {
            v["process"]["execCPUAffinity"] = serde_json::json!({"initial": "", "final": "0-1"})
        }));
        let a = b.unwrap().process.exec_cpu_affinity().clone().unwrap();
        assert_eq!(a.initial(), &None);
        assert_eq!(a.cpu_affinity_final().as_deref(), Some("0-1"));
    }

    #[test]
    fn host_sysctls_are_refused() {
        let e = err(&with(|v| {
            v["linux"]["sysctl"] = serde_json::json!({"kernel.panic":"1"})
        }));
        assert!(e.contains("linux.sysctl.kernel.panic"), "{e}");
        let e = err(&with(|v| {
            v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward":"1"})
        }));
        assert!(e.contains("net namespace"), "{e}");
        for (key, field) in [
            ("kernel.hostname", "hostname"),
            ("kernel.domainname", "domainname"),
        ] {
            let e = err(&with(|v| {
                v["linux"]["sysctl"] = serde_json::json!({key: "x"})
            }));
            assert!(e.contains(&format!("linux.sysctl.{key}")), "{e}");
            assert!(e.contains(&format!("config's {field} field")), "{e}");
        }
    }

    #[test]
    fn no_namespaces_at_all_is_valid_but_a_user_one_needs_a_mount_one() {
        let (_d, b) = bundle(&with(|v| v["linux"]["namespaces"] = serde_json::json!([])));
        assert!(!b.unwrap().namespaces.private(LinuxNamespaceType::Mount));
        let e = err(&with(|v| {
            v["linux"]["namespaces"] = serde_json::json!([{"type": "user"}]);
            v["linux"]["uidMappings"] =
                serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
            v["linux"]["gidMappings"] =
                serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        }));
        assert!(
            e.contains("linux.namespaces") && e.contains("mount namespace"),
            "{e}"
        );
    }

    #[test]
    fn hostname_needs_uts_namespace() {
        let e = err(&with(|v| v["hostname"] = "x".into()));
        assert!(e.contains("hostname"), "{e}");
    }

    #[test]
    fn ids_with_separators_are_refused() {
        for bad in ["", ".", "..", "a/b", "../x", "a b"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
        for good in ["abc", "a-b_c.d+e", "0123456789abcdef"] {
            validate_id(good).unwrap();
        }
    }
}
