//! The kubelet's steps, in its order: each does what the kubelet does
//! through CRI and asserts what must then be true, inside the pod and on
//! the node.

use crate::host::*;
use crate::{Kubelet, Res, call, check};
use k8s_cri::v1::*;
use std::path::Path;
use std::time::{Duration, Instant};

pub async fn version_and_status(k: &mut Kubelet) -> Res<()> {
    let v = call(
        "Version",
        k.rt.version(VersionRequest {
            version: "v1".into(),
        }),
    )
    .await?;
    check("Version", v.runtime_api_version == "v1", format!("{v:?}"))?;
    let s = call("Status", k.rt.status(StatusRequest { verbose: false })).await?;
    let conds = s.status.map(|s| s.conditions).unwrap_or_default();
    for want in ["RuntimeReady", "NetworkReady"] {
        let c = conds.iter().find(|c| c.r#type == want);
        check(
            &format!("Status {want}"),
            c.is_some_and(|c| c.status),
            format!("{c:?}"),
        )?;
    }
    k.ok(&format!(
        "Version ({} {}), Status: runtime and network ready",
        v.runtime_name, v.runtime_version
    ));
    Ok(())
}

pub async fn run_pod(k: &mut Kubelet) -> Res<serde_json::Value> {
    let r = call(
        "RunPodSandbox",
        k.rt.run_pod_sandbox(RunPodSandboxRequest {
            config: Some(k.sandbox_config.clone()),
            runtime_handler: k.a.handler.clone(),
        }),
    )
    .await?;
    k.sandbox = r.pod_sandbox_id;
    let s = call(
        "PodSandboxStatus",
        k.rt.pod_sandbox_status(PodSandboxStatusRequest {
            pod_sandbox_id: k.sandbox.clone(),
            verbose: true,
        }),
    )
    .await?;
    let st = s.status.ok_or("PodSandboxStatus without a status")?;
    check(
        "the sandbox is ready",
        st.state == PodSandboxState::SandboxReady as i32,
        format!("{st:?}"),
    )?;
    let ip = st.network.map(|n| n.ip).unwrap_or_default();
    check("the pod has an IP", !ip.is_empty(), "no IP")?;
    let info: serde_json::Value = s
        .info
        .get("info")
        .and_then(|i| serde_json::from_str(i).ok())
        .unwrap_or_default();
    k.ok(&format!("RunPodSandbox: ready, IP {ip}"));
    Ok(info)
}

/// Two containers: one long-running, one that reports from inside
/// whether it shares the pod's namespaces with the pause process (PID 1
/// of the shared PID namespace).
pub async fn two_containers(k: &mut Kubelet) -> Res<(String, String)> {
    let long = k
        .container(
            "long",
            "i=0; while :; do i=$((i+1)); echo line$i; sleep 0.2; done",
            0,
            Some(1000),
        )
        .await?;
    let script = "for n in net ipc uts pid; do \
        if [ \"$(readlink /proc/1/ns/$n)\" = \"$(readlink /proc/self/ns/$n)\" ]; \
        then echo \"$n shared\"; else echo \"$n apart\"; fi; done; \
        echo \"hostname $(hostname)\"; \
        grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status | tr -d '\\t'; \
        [ -s /proc/kcore ] || echo kcore-masked; \
        echo 1 2>/dev/null > /proc/sys/kernel/domainname || echo sys-readonly; \
        echo checked; exec sleep 1000";
    let checker = k.container("checker", script, 0, None).await?;
    let log = k.log("checker");
    wait_for("the checker's report", || {
        log_lines(&log).iter().any(|l| l == "checked")
    })
    .await?;
    let lines = log_lines(&log);
    for n in ["net", "ipc", "uts", "pid"] {
        let want = format!("{n} shared");
        check(
            &format!("the checker shares the pod's {n} namespace"),
            lines.contains(&want),
            format!("{lines:?}"),
        )?;
    }
    for want in [
        "hostname berth-pod",
        "Seccomp:2",
        "NoNewPrivs:1",
        "kcore-masked",
        "sys-readonly",
    ] {
        check(
            &format!("the checker sees {want}"),
            lines.iter().any(|l| l == want),
            format!("{lines:?}"),
        )?;
    }
    let uid = k.exec(&long, &["id", "-u"]).await?;
    check(
        "runAsUser 1000",
        String::from_utf8_lossy(&uid.stdout).trim() == "1000",
        String::from_utf8_lossy(&uid.stdout),
    )?;
    // And the two containers share one network namespace with each other.
    let a = k.exec(&long, &["readlink", "/proc/self/ns/net"]).await?;
    let b = k.exec(&checker, &["readlink", "/proc/self/ns/net"]).await?;
    check(
        "both containers are in one network namespace",
        a.stdout == b.stdout && !a.stdout.is_empty(),
        format!(
            "{:?} vs {:?}",
            String::from_utf8_lossy(&a.stdout),
            String::from_utf8_lossy(&b.stdout)
        ),
    )?;
    k.ok("two containers share the pod's net, ipc, uts and pid namespaces; seccomp, masks, runAsUser applied");
    Ok((long, checker))
}

/// What must not grow with execs: processes and subdirectories of the
/// container's cgroup, fds of its init and of the pod's shim, entries in
/// the runtime's state.
pub fn footprint(k: &Kubelet, pid: i64, shims: &[i64]) -> Vec<(String, usize)> {
    let dir = cgroup_dir(pid, "pids")
        .or_else(|| cgroup_dir(pid, ""))
        .unwrap_or_default();
    let state = k.a.runtime_root.join("k8s.io");
    let mut v = vec![
        ("processes in the cgroup".into(), procs_in(&dir).len()),
        ("cgroup subdirectories".into(), subdirs(&dir)),
        ("fds of the container's init".into(), fd_count(pid)),
        (
            "runtime state entries".into(),
            std::fs::read_dir(&state).map_or(0, |d| d.count()),
        ),
    ];
    for s in shims {
        v.push((format!("fds of shim {s}"), fd_count(*s)));
    }
    v
}

pub async fn exec_probes(k: &mut Kubelet, id: &str) -> Res<()> {
    let pid = k.pid(id).await?;
    let shims = processes_naming(&k.sandbox);
    let before = footprint(k, pid, &shims);
    let mut times = Vec::new();
    for i in 0..50 {
        let t = Instant::now();
        let r = k.exec(id, &["cat", "/proc/1/comm"]).await?;
        times.push(t.elapsed());
        check(
            &format!("exec probe {i}"),
            r.exit_code == 0 && String::from_utf8_lossy(&r.stdout).trim() == "pause",
            format!(
                "exit {} stdout {:?} stderr {:?}",
                r.exit_code,
                String::from_utf8_lossy(&r.stdout),
                String::from_utf8_lossy(&r.stderr)
            ),
        )?;
    }
    // A probe that fails says so with its exit code, not an error.
    let r = k.exec(id, &["sh", "-c", "exit 7"]).await?;
    check("a failing probe's exit code", r.exit_code == 7, r.exit_code)?;
    // The shim closes an exec's pipes as it reaps it, a moment after
    // answering.
    let mut after = footprint(k, pid, &shims);
    let end = Instant::now() + Duration::from_secs(5);
    while after != before && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = footprint(k, pid, &shims);
    }
    check(
        "50 execs leave nothing behind",
        before == after,
        format!("before {before:?}\nafter  {after:?}"),
    )?;
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = times.iter().map(|d| ms(*d)).sum::<f64>() / times.len() as f64;
    println!(
        "exec-latency {}: n={} min={:.1}ms median={:.1}ms p90={:.1}ms max={:.1}ms mean={:.1}ms",
        k.a.handler,
        times.len(),
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() * 9 / 10]),
        ms(times[times.len() - 1]),
        mean
    );
    k.ok("ExecSync 50 times: all answered, no process, fd or cgroup left");
    Ok(())
}

pub async fn stats(k: &mut Kubelet, id: &str) -> Res<()> {
    // CPU time must have been used first: the container counts.
    let s = call(
        "ContainerStats",
        k.rt.container_stats(ContainerStatsRequest {
            container_id: id.into(),
        }),
    )
    .await?
    .stats
    .ok_or("ContainerStats without stats")?;
    let cpu = s
        .cpu
        .as_ref()
        .and_then(|c| c.usage_core_nano_seconds.as_ref())
        .map_or(0, |v| v.value);
    let mem = s
        .memory
        .as_ref()
        .and_then(|m| m.working_set_bytes.as_ref())
        .map_or(0, |v| v.value);
    check("ContainerStats cpu", cpu > 0, format!("{s:?}"))?;
    check("ContainerStats memory", mem > 0, format!("{s:?}"))?;
    let list = call(
        "ListContainerStats",
        k.rt.list_container_stats(ListContainerStatsRequest {
            filter: Some(ContainerStatsFilter {
                pod_sandbox_id: k.sandbox.clone(),
                ..Default::default()
            }),
        }),
    )
    .await?
    .stats;
    check(
        "ListContainerStats: both containers, with memory",
        list.len() >= 2
            && list.iter().all(|s| {
                s.memory
                    .as_ref()
                    .and_then(|m| m.working_set_bytes.as_ref())
                    .is_some_and(|v| v.value > 0)
            }),
        format!("{list:?}"),
    )?;
    k.ok(&format!(
        "ContainerStats: cpu {cpu} ns, working set {mem} bytes; ListContainerStats: {}",
        list.len()
    ));
    Ok(())
}

pub async fn resize(k: &mut Kubelet, id: &str) -> Res<()> {
    let pid = k.pid(id).await?;
    let memory = 96 << 20;
    call(
        "UpdateContainerResources",
        k.rt.update_container_resources(UpdateContainerResourcesRequest {
            container_id: id.into(),
            linux: Some(LinuxContainerResources {
                cpu_period: 100_000,
                cpu_quota: 50_000,
                cpu_shares: 512,
                memory_limit_in_bytes: memory,
                ..Default::default()
            }),
            ..Default::default()
        }),
    )
    .await?;
    let quota = cgroup_value(pid, ("cpu", "cpu.cfs_quota_us"), "cpu.max")?;
    let mem = cgroup_value(pid, ("memory", "memory.limit_in_bytes"), "memory.max")?;
    check(
        "the CPU quota lands",
        quota == "50000" || quota == "50000 100000",
        &quota,
    )?;
    check("the memory limit lands", mem == memory.to_string(), &mem)?;
    k.ok(&format!(
        "UpdateContainerResources: cpu quota {quota}, memory limit {mem}"
    ));
    Ok(())
}

pub async fn oom(k: &mut Kubelet) -> Res<()> {
    // A string doubled until it no longer fits in 32 MiB; the pause lets
    // the shim watch the cgroup's OOM events before they come.
    let id = k
        .container(
            "hog",
            "sleep 1; x=0123456789abcdef; while :; do x=$x$x; done",
            32 << 20,
            None,
        )
        .await?;
    let s = k.exited(&id).await?;
    check(
        "the hog is OOM-killed",
        s.reason == "OOMKilled",
        format!("reason {:?}, exit code {}", s.reason, s.exit_code),
    )?;
    k.ok(&format!(
        "a 32 MiB container that allocates more: {} (exit code {})",
        s.reason, s.exit_code
    ));
    remove(k, &id).await
}

pub async fn reopen_log(k: &mut Kubelet, id: &str) -> Res<()> {
    let log = k.log("long");
    wait_for("the container's output in its log", || {
        log_lines(&log).iter().any(|l| l.starts_with("line"))
    })
    .await?;
    let raw = std::fs::read_to_string(&log).unwrap_or_default();
    let first = raw.lines().next().unwrap_or("");
    let f: Vec<&str> = first.splitn(4, ' ').collect();
    check(
        "CRI log format: time, stream, tag, text",
        f.len() == 4 && f[1] == "stdout" && f[2] == "F" && f[0].contains('T'),
        first,
    )?;
    let rotated = log.with_extension("log.1");
    std::fs::rename(&log, &rotated).map_err(|e| format!("rotate the log: {e}"))?;
    call(
        "ReopenContainerLog",
        k.rt.reopen_container_log(ReopenContainerLogRequest {
            container_id: id.into(),
        }),
    )
    .await?;
    wait_for("output in the reopened log", || {
        log_lines(&log).iter().any(|l| l.starts_with("line"))
    })
    .await?;
    k.ok("ReopenContainerLog: stdout goes on in the new file");
    Ok(())
}

pub async fn exit_code(k: &mut Kubelet) -> Res<()> {
    let id = k.container("three", "echo bye; exit 3", 0, None).await?;
    let s = k.exited(&id).await?;
    check("exit code 3", s.exit_code == 3, format!("{s:?}"))?;
    k.ok("a container that exits with 3: ContainerStatus says 3");
    remove(k, &id).await
}

pub async fn remove(k: &mut Kubelet, id: &str) -> Res<()> {
    call(
        "StopContainer",
        k.rt.stop_container(StopContainerRequest {
            container_id: id.into(),
            timeout: 2,
        }),
    )
    .await?;
    call(
        "RemoveContainer",
        k.rt.remove_container(RemoveContainerRequest {
            container_id: id.into(),
        }),
    )
    .await?;
    Ok(())
}

pub async fn stop_and_remove_pod(k: &mut Kubelet) -> Res<()> {
    call(
        "StopPodSandbox",
        k.rt.stop_pod_sandbox(StopPodSandboxRequest {
            pod_sandbox_id: k.sandbox.clone(),
        }),
    )
    .await?;
    call(
        "RemovePodSandbox",
        k.rt.remove_pod_sandbox(RemovePodSandboxRequest {
            pod_sandbox_id: k.sandbox.clone(),
        }),
    )
    .await?;
    Ok(())
}

pub async fn teardown(k: &mut Kubelet, ids: &[String], info: &serde_json::Value) -> Res<()> {
    let mut pids: Vec<i64> = processes_naming(&k.sandbox);
    if let Some(p) = info["pid"].as_i64() {
        pids.push(p);
    }
    for id in ids {
        pids.push(k.pid(id).await?);
    }
    let netns = netns_path(info);
    stop_and_remove_pod(k).await?;
    // The shim exits once its last container is gone, a moment later.
    wait_for("the pod's processes to end", || {
        !pids.iter().any(|p| alive(*p))
    })
    .await
    .map_err(|e| {
        let left: Vec<_> = pids.iter().filter(|p| alive(**p)).collect();
        format!("{e}: still there: {left:?}")
    })?;
    let state = k.a.runtime_root.join("k8s.io");
    let entries: Vec<_> = std::fs::read_dir(&state)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    check(
        "no runtime state left",
        entries.is_empty(),
        format!("{}: {entries:?}", state.display()),
    )?;
    let mut left = Vec::new();
    for h in std::fs::read_dir("/sys/fs/cgroup").map_err(|e| e.to_string())? {
        let h = h.map_err(|e| e.to_string())?.path();
        let dir = h.join(k.a.cgroup_parent.trim_start_matches('/'));
        if subdirs(&dir) > 0 {
            left.push(dir.display().to_string());
        }
    }
    check("no cgroup left", left.is_empty(), format!("{left:?}"))?;
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mounts: Vec<&str> = mi
        .lines()
        .filter(|l| {
            l.contains(&k.sandbox)
                || ids.iter().any(|i| l.contains(i.as_str()))
                || netns.as_deref().is_some_and(|n| l.contains(n))
        })
        .collect();
    check("no mount left", mounts.is_empty(), format!("{mounts:?}"))?;
    if let Some(n) = &netns {
        check(
            "the pod's network namespace is gone",
            !Path::new(n).exists(),
            n,
        )?;
    }
    k.ok("StopPodSandbox, RemovePodSandbox: no state, cgroup, mount or process left");
    Ok(())
}

/// hostUsers: false, as the kubelet asks it: a pod whose sandbox config
/// carries user namespace mappings. containerd learned to honour them in
/// 1.7; what this one does is reported, and the pod must run and go
/// either way. (berth's user namespaces are tested through config.json
/// in tests/: rootless.rs, mounts.rs, config.rs.)
pub async fn user_namespace_pod(k: &mut Kubelet) -> Res<()> {
    let map = |host_id| IdMapping {
        host_id,
        container_id: 0,
        length: 65536,
    };
    let mut config = k.sandbox_config.clone();
    if let Some(m) = config.metadata.as_mut() {
        m.name = "berth-userns-pod".into();
        m.uid.push_str("-userns");
    }
    if let Some(ns) = config
        .linux
        .as_mut()
        .and_then(|l| l.security_context.as_mut())
        .and_then(|s| s.namespace_options.as_mut())
    {
        ns.userns_options = Some(UserNamespace {
            mode: NamespaceMode::Pod as i32,
            uids: vec![map(200_000)],
            gids: vec![map(200_000)],
        });
    }
    let (main_sandbox, main_config) = (k.sandbox.clone(), k.sandbox_config.clone());
    k.sandbox_config = config;
    let outcome = async {
        let r = call(
            "RunPodSandbox (user namespace)",
            k.rt.run_pod_sandbox(RunPodSandboxRequest {
                config: Some(k.sandbox_config.clone()),
                runtime_handler: k.a.handler.clone(),
            }),
        )
        .await?;
        k.sandbox = r.pod_sandbox_id;
        let id = k.container("mapped", "exec sleep 1000", 0, None).await?;
        let map = k.exec(&id, &["cat", "/proc/self/uid_map"]).await?;
        let first: Vec<String> = String::from_utf8_lossy(&map.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let what = match first.as_slice() {
            [c, h, l, ..] if c == "0" && h == "200000" && l == "65536" => {
                "mapped as asked (0 -> 200000, 65536 ids)".to_string()
            }
            [c, h, l, ..] if c == "0" && h == "0" && l == "4294967295" => format!(
                "not honoured by this containerd: the pod runs in the host's user namespace (uid_map {first:?})"
            ),
            _ => return Err(format!("user namespace pod: uid_map {first:?}")),
        };
        remove(k, &id).await?;
        stop_and_remove_pod(k).await?;
        Ok(what)
    }
    .await;
    k.sandbox = main_sandbox;
    k.sandbox_config = main_config;
    k.ok(&format!("a pod with hostUsers: false: {}", outcome?));
    Ok(())
}
