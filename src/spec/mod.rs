//! config.json in, a checked plan out. Everything that can be known to be
//! wrong before the first fork is found here, so a bad config costs one
//! read and leaves nothing behind.

mod culprit;
mod parse;

use crate::error::{Error, Result, SysContext};
use crate::linux::mounts::{self, MountPlan};
use nix::mount::MsFlags;
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};
use parse::{is_semver, known_capability};
pub use parse::{parse, parse_process, typed};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

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
    if !namespaces.private(LinuxNamespaceType::Mount) {
        fits_a_shared_mount_namespace(&caps)?;
        no_unbindable_mounts(&linux, &plans)?;
    }
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

/// Without root, only a user namespace of its own gives the container a
/// root to set itself up with (runc refuses the same way).
pub fn rootless_fits(ns: &Namespaces) -> Result<()> {
    let euid = nix::unistd::geteuid();
    if !euid.is_root() && !ns.private(LinuxNamespaceType::User) {
        return Err(Error::config(
            "linux.namespaces",
            format!(
                "berth runs as uid {euid}, not root: a rootless container needs a user namespace (berth spec --rootless writes one)"
            ),
        ));
    }
    Ok(())
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

pub fn validate_namespaces(linux: &oci_spec::runtime::Linux) -> Result<Namespaces> {
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

/// A process in berth's own mount namespace, rooted in a detached tree,
/// leaves that root for the host's with one setns into its namespace if
/// it holds CAP_SYS_ADMIN (with CAP_SYS_CHROOT): refused, for the
/// container's config and for exec into it alike.
pub fn fits_a_shared_mount_namespace(caps: &CapSets) -> Result<()> {
    if caps.bounding.contains(&caps::Capability::CAP_SYS_ADMIN) {
        return Err(Error::config(
            "process.capabilities.bounding",
            "CAP_SYS_ADMIN without a mount namespace in linux.namespaces: the process could leave its root for the host's (setns into the runtime's mount namespace)",
        ));
    }
    Ok(())
}

/// Without a mount namespace the container's root is a copy of the tree
/// berth built (rootfs::enter_detached), and an unbindable mount cannot
/// be copied: the root would fail, a mount below it would be left out.
fn no_unbindable_mounts(linux: &oci_spec::runtime::Linux, plans: &[MountPlan]) -> Result<()> {
    let unbindable = |f: MsFlags| f.contains(MsFlags::MS_UNBINDABLE);
    if linux
        .rootfs_propagation()
        .as_deref()
        .and_then(mounts::propagation_flag)
        .is_some_and(unbindable)
    {
        return Err(Error::config(
            "linux.rootfsPropagation",
            "an unbindable root needs a mount namespace of its own",
        ));
    }
    if let Some(i) = plans
        .iter()
        .position(|p| p.propagation.iter().any(|f| unbindable(*f)))
    {
        return Err(Error::config(
            format!("mounts[{i}].options"),
            "an unbindable mount needs a mount namespace of its own",
        ));
    }
    Ok(())
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
mod tests;
