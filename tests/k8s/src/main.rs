//! What the kubelet does to a runtime through CRI, in the kubelet's
//! order, against containerd's CRI plugin and one runtime handler: a pod
//! with a pause sandbox and two containers sharing its namespaces, exec
//! probes, stats, an in-place resize, an OOM kill, log reopening, an exit
//! code, and the teardown, after which nothing of the pod may be left.
//! tests/k8s/run.sh starts containerd and runs this once per handler
//! (berth, then runc as the control).
//!
//! usage: cri-pod --socket S --handler H --image I --logs DIR
//!                --cgroup-parent P --runtime-root DIR

mod host;
mod steps;

use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use steps::*;
use tonic::transport::Channel;

type Res<T> = Result<T, String>;

/// The kubelet's default /proc and /sys masks (its DefaultProcMount).
const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];
const READONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

struct Args {
    socket: String,
    handler: String,
    image: String,
    logs: PathBuf,
    cgroup_parent: String,
    runtime_root: PathBuf,
}

fn args() -> Res<Args> {
    let mut m: HashMap<String, String> = HashMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let k = k.trim_start_matches("--").to_string();
        let v = it.next().ok_or(format!("--{k} wants a value"))?;
        m.insert(k, v);
    }
    let mut get = |k: &str| m.remove(k).ok_or(format!("--{k} is required"));
    Ok(Args {
        socket: get("socket")?,
        handler: get("handler")?,
        image: get("image")?,
        logs: get("logs")?.into(),
        cgroup_parent: get("cgroup-parent")?,
        runtime_root: get("runtime-root")?.into(),
    })
}

/// One CRI call, bounded: a runtime that hangs fails the step instead of
/// the stage.
async fn call<T>(
    what: &str,
    f: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Res<T> {
    match tokio::time::timeout(Duration::from_secs(90), f).await {
        Err(_) => Err(format!("{what}: no answer in 90 s")),
        Ok(Err(s)) => Err(format!("{what}: {} ({:?})", s.message(), s.code())),
        Ok(Ok(r)) => Ok(r.into_inner()),
    }
}

fn check(what: &str, good: bool, detail: impl std::fmt::Display) -> Res<()> {
    if good {
        Ok(())
    } else {
        Err(format!("{what}: {detail}"))
    }
}

struct Kubelet {
    rt: RuntimeServiceClient<Channel>,
    a: Args,
    sandbox: String,
    sandbox_config: PodSandboxConfig,
}

impl Kubelet {
    fn ok(&self, what: &str) {
        println!("ok - {}: {what}", self.a.handler);
    }

    /// A container of the pod, created and started, with what the kubelet
    /// asks of every container: the pod's PID namespace (as
    /// shareProcessNamespace makes it ask), the runtime's default seccomp
    /// profile, the default masked and read-only /proc paths, no new
    /// privileges; `uid` as runAsUser.
    async fn container(
        &mut self,
        name: &str,
        script: &str,
        memory: i64,
        uid: Option<i64>,
    ) -> Res<String> {
        let config = ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: name.into(),
                attempt: 0,
            }),
            image: Some(ImageSpec {
                image: self.a.image.clone(),
                ..Default::default()
            }),
            command: vec!["sh".into(), "-c".into(), script.into()],
            log_path: format!("{name}.log"),
            linux: Some(LinuxContainerConfig {
                resources: Some(LinuxContainerResources {
                    memory_limit_in_bytes: memory,
                    ..Default::default()
                }),
                security_context: Some(LinuxContainerSecurityContext {
                    namespace_options: Some(NamespaceOption {
                        pid: NamespaceMode::Pod as i32,
                        ..Default::default()
                    }),
                    run_as_user: uid.map(|value| Int64Value { value }),
                    no_new_privs: true,
                    masked_paths: MASKED.iter().map(|p| p.to_string()).collect(),
                    readonly_paths: READONLY.iter().map(|p| p.to_string()).collect(),
                    seccomp: Some(SecurityProfile {
                        profile_type: security_profile::ProfileType::RuntimeDefault as i32,
                        localhost_ref: String::new(),
                    }),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        };
        let id = call(
            &format!("CreateContainer {name}"),
            self.rt.create_container(CreateContainerRequest {
                pod_sandbox_id: self.sandbox.clone(),
                config: Some(config),
                sandbox_config: Some(self.sandbox_config.clone()),
            }),
        )
        .await?
        .container_id;
        call(
            &format!("StartContainer {name}"),
            self.rt.start_container(StartContainerRequest {
                container_id: id.clone(),
            }),
        )
        .await?;
        Ok(id)
    }

    async fn status(&mut self, id: &str) -> Res<(ContainerStatus, serde_json::Value)> {
        let r = call(
            "ContainerStatus",
            self.rt.container_status(ContainerStatusRequest {
                container_id: id.into(),
                verbose: true,
            }),
        )
        .await?;
        let info = r
            .info
            .get("info")
            .and_then(|i| serde_json::from_str(i).ok())
            .unwrap_or_default();
        Ok((r.status.ok_or("ContainerStatus without a status")?, info))
    }

    async fn pid(&mut self, id: &str) -> Res<i64> {
        let (_, info) = self.status(id).await?;
        info["pid"]
            .as_i64()
            .filter(|p| *p > 0)
            .ok_or(format!("no pid in the verbose status of {id}: {info}"))
    }

    /// Poll until the container has exited.
    async fn exited(&mut self, id: &str) -> Res<ContainerStatus> {
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            let (s, _) = self.status(id).await?;
            if s.state == ContainerState::ContainerExited as i32 {
                return Ok(s);
            }
            if Instant::now() > end {
                return Err(format!("container {id} did not exit: {s:?}"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn exec(&mut self, id: &str, cmd: &[&str]) -> Res<ExecSyncResponse> {
        call(
            "ExecSync",
            self.rt.exec_sync(ExecSyncRequest {
                container_id: id.into(),
                cmd: cmd.iter().map(|s| s.to_string()).collect(),
                timeout: 10,
            }),
        )
        .await
    }

    fn log(&self, name: &str) -> PathBuf {
        self.a.logs.join(format!("{name}.log"))
    }
}

async fn pod(k: &mut Kubelet) -> Res<()> {
    version_and_status(k).await?;
    let info = run_pod(k).await?;
    let (long, checker) = two_containers(k).await?;
    // Probes go to the checker, whose one process makes a footprint
    // that holds still.
    exec_probes(k, &checker).await?;
    stats(k, &long).await?;
    resize(k, &long).await?;
    oom(k).await?;
    reopen_log(k, &long).await?;
    exit_code(k).await?;
    teardown(k, &[long, checker], &info).await?;
    user_namespace_pod(k).await
}

async fn connect(socket: &str) -> Res<RuntimeServiceClient<Channel>> {
    let path = socket.to_string();
    let channel = tonic::transport::Endpoint::try_from("http://[::]:50051")
        .map_err(|e| e.to_string())?
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let path = path.clone();
            async move {
                let s = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(s))
            }
        }))
        .await
        .map_err(|e| format!("connect to {socket}: {e}"))?;
    Ok(RuntimeServiceClient::new(channel))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let result = async {
        let a = args()?;
        let rt = connect(&a.socket).await?;
        let sandbox_config = PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: "berth-pod".into(),
                uid: format!("uid-{}-{}", a.handler, std::process::id()),
                namespace: "berth-test".into(),
                attempt: 0,
            }),
            hostname: "berth-pod".into(),
            log_directory: a.logs.display().to_string(),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: a.cgroup_parent.clone(),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(NamespaceOption {
                        network: NamespaceMode::Pod as i32,
                        pid: NamespaceMode::Pod as i32,
                        ipc: NamespaceMode::Pod as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut k = Kubelet {
            rt,
            a,
            sandbox: String::new(),
            sandbox_config,
        };
        pod(&mut k).await
    }
    .await;
    if let Err(e) = result {
        println!("not ok - {e}");
        std::process::exit(1);
    }
}
