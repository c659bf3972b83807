//! config.json through load_bundle: what is accepted, what is refused
//! and in which words.

use super::*;
use crate::tempdir;
use serde_json::Value;

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
        |v| v["mounts"] = serde_json::json!([{"destination":"proc","type":"proc","source":"proc"}]),
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
        v["linux"]["uidMappings"] = serde_json::json!([{"containerID":0,"hostID":1000,"size":1}]);
        v["linux"]["gidMappings"] = serde_json::json!([
            {"containerID":0,"hostID":1000,"size":1},
            {"containerID":1,"hostID":100000,"size":65536}
        ]);
        v["process"]["user"] = serde_json::json!({"uid": uid, "gid": 0, "additionalGids": gids});
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
            v["process"]["capabilities"] =
                serde_json::json!({"bounding":["CAP_CHOWN","CAP_TEST"],"effective":["CAP_KILL"]})
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

/// oci-spec checks the list's syntax with `regex`, which berth serves
/// from regex-lite (vendor/regex): the same lists must pass and fail.
#[test]
fn exec_cpu_affinity_syntax_is_checked() {
    for good in ["0", "0-3", "0,2,4-7", "10-11,13"] {
        let (_d, b) = bundle(&with(|v| {
            v["process"]["execCPUAffinity"] = serde_json::json!({ "initial": good })
        }));
        let a = b.unwrap().process.exec_cpu_affinity().clone().unwrap();
        assert_eq!(a.initial().as_deref(), Some(good));
    }
    for bad in ["a", "0-", "-1", "0,,1", "1 ,2", "0-1\n2", "٣"] {
        let e = err(&with(|v| {
            v["process"]["execCPUAffinity"] = serde_json::json!({ "final": bad })
        }));
        assert!(
            e.contains("process.execCPUAffinity") && e.contains("Invalid execCPUAffinity"),
            "{bad}: {e}"
        );
    }
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
fn no_mount_namespace_refuses_cap_sys_admin() {
    let e = err(&with(|v| {
        v["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}]);
        v["process"]["capabilities"] = serde_json::json!({"bounding": ["CAP_SYS_ADMIN"]});
    }));
    assert!(
        e.contains("process.capabilities.bounding") && e.contains("CAP_SYS_ADMIN"),
        "{e}"
    );
    let (_d, b) = bundle(&with(|v| {
        v["process"]["capabilities"] = serde_json::json!({"bounding": ["CAP_SYS_ADMIN"]});
    }));
    b.unwrap();
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
