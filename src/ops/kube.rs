//! The operations on a Kubernetes cluster: the same verbs and the same board as on Docker, fed by
//! the Kubernetes runtime (`crate::k8s`). `up` renders the stack, applies it with server-side
//! apply and waits on the workloads' conditions; the follower reads the services' states once a
//! second; `logs` reads the pods' logs; `down` deletes what novadev created (claims only on
//! request). Each service's `ServiceState` becomes the board's `ServiceStatus` through one pure
//! function, [`status_of`].

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};

use super::{OpError, Operations};
use crate::board::Transition;
use crate::k8s::{self, Cluster, K8sError, ServiceState};
use crate::protocol::{
    DownReport, DownRequest, LogLine, LogsParams, Phase, PublishedPort, ServiceFailure,
    ServiceStatus, UpOptions, UpReport, Verb,
};
use crate::stack::model::Stack;

/// How often the follower reads the services' states.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// Where on Kubernetes a project runs.
pub struct KubeTarget {
    pub cluster: Cluster,
    /// The default namespace (else `x-novadev.k8s.namespace`, else the project's name).
    pub namespace: Option<String>,
    /// A Docker container running a containerd node (a local one-node cluster): images the stack
    /// builds are loaded into it.
    pub node: Option<String>,
}

/// A service's state on the cluster as the board shows it. Pure.
pub fn status_of(state: &ServiceState, stack: Option<&Stack>) -> ServiceStatus {
    let mut s = ServiceStatus::new(&state.service);
    s.phase = match state.phase {
        k8s::Phase::Waiting => Phase::Waiting,
        k8s::Phase::Starting => Phase::Starting,
        k8s::Phase::Ready => Phase::Ready,
        k8s::Phase::Completed => Phase::Completed,
        k8s::Phase::Failed => Phase::Failed,
    };
    s.detail = (!state.detail.is_empty()).then(|| state.detail.clone());
    s.container_name = Some(format!(
        "{}/{}/{}",
        state.namespace,
        state.kind.to_lowercase(),
        state.service
    ));
    s.restarts = state.restarts;
    s.ports = state
        .ports
        .iter()
        .map(|p| PublishedPort {
            // A ClusterIP Service: reachable inside the cluster, on its own port.
            host_ip: format!("{}.{}", state.service, state.namespace),
            host_port: p.port,
            container_port: p.port,
            protocol: p.protocol.to_lowercase(),
        })
        .collect();
    s.tier = stack.and_then(|st| st.tier_of(&state.service));
    s.has_healthcheck = stack
        .and_then(|st| st.services.get(&state.service))
        .and_then(|svc| svc.healthcheck.as_ref())
        .is_some_and(|h| !h.disable && h.test.is_some());
    s
}

/// Whether the board should take `seen` over `current`: the phase, the detail, the restarts or
/// the ports differ.
fn changed(current: Option<&ServiceStatus>, seen: &ServiceStatus) -> bool {
    current.is_none_or(|c| {
        c.phase != seen.phase
            || c.detail != seen.detail
            || c.restarts != seen.restarts
            || c.ports != seen.ports
    })
}

impl Operations {
    fn observe(&self, states: &[ServiceState], stack: Option<&Stack>) {
        for state in states {
            let seen = status_of(state, stack);
            if changed(self.board().get(&state.service).as_ref(), &seen) {
                self.board()
                    .apply(&state.service, Transition::Observed(Box::new(seen)));
            }
        }
    }
}

/// `up` on the cluster: build what the stack builds (and load it into a local node), render,
/// apply, then wait until the selected services are ready or completed.
pub async fn up(
    ops: &Arc<Operations>,
    kube: &KubeTarget,
    stack: Arc<Stack>,
    options: &UpOptions,
) -> Result<UpReport, OpError> {
    let started = Instant::now();
    let graph = crate::stack::graph::Graph::build(&stack)
        .map_err(crate::orchestrator::OrchestratorError::Graph)?;
    let selected: BTreeSet<String> = if options.services.is_empty() {
        stack.services.keys().cloned().collect()
    } else {
        graph.closure(&options.services).map_err(|_| {
            crate::orchestrator::OrchestratorError::UnknownService {
                service: options.services.join(", "),
                project: stack.name.clone(),
            }
        })?
    };
    ops.board().retain(|s| stack.services.contains_key(s));
    for name in stack.services.keys() {
        ops.board().apply(
            name,
            Transition::Declared {
                tier: stack.tier_of(name),
                has_healthcheck: false,
            },
        );
        if selected.contains(name) {
            ops.board().apply(name, Transition::Queued);
        }
    }
    build_images(ops, kube, &stack, &selected, options.build).await?;

    let rendered = k8s::render(
        &stack,
        &k8s::RenderOptions {
            namespace: kube.namespace.clone(),
        },
    )
    .map_err(K8sError::from)?;
    let keys = k8s::key_secrets(&rendered, &crate::secrets::keys_dir(&stack.name))?;
    let applied = k8s::apply_rendered(&kube.cluster, &rendered, keys).await?;
    let changed = applied
        .applied
        .iter()
        .filter(|a| a.outcome != k8s::Outcome::Unchanged)
        .count();
    ops.board().message(format!(
        "applied {} objects to {} ({changed} changed)",
        applied.applied.len(),
        kube.cluster.server()
    ));
    let waited = k8s::wait_ready(
        &kube.cluster,
        &stack.name,
        &selected,
        options.wait_timeout,
        |states| ops.observe(states, Some(&stack)),
    )
    .await;
    match waited {
        Ok(states) => ops.observe(&states, Some(&stack)),
        Err(K8sError::ServiceFailed { service, reason }) => {
            ops.board().apply(
                &service,
                Transition::Failed(ServiceFailure::Engine { reason }),
            );
        }
        Err(K8sError::Timeout { waited, .. }) => {
            for s in ops.board().snapshot() {
                if selected.contains(&s.service) && !s.phase.is_good() {
                    ops.board().apply(
                        &s.service,
                        Transition::Failed(ServiceFailure::Timeout {
                            waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                        }),
                    );
                }
            }
        }
        Err(other) => return Err(other.into()),
    }
    let services: Vec<ServiceStatus> = ops
        .board()
        .snapshot()
        .into_iter()
        .filter(|s| selected.contains(&s.service))
        .collect();
    Ok(UpReport {
        ok: services.iter().all(|s| s.phase.is_good()),
        project: stack.name.clone(),
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        services,
    })
}

/// The images of the selected services that novadev builds, built with the local engine (as on
/// Docker), then loaded into the cluster's node when there is one.
async fn build_images(
    ops: &Operations,
    kube: &KubeTarget,
    stack: &Stack,
    selected: &BTreeSet<String>,
    force: bool,
) -> Result<(), OpError> {
    for name in selected {
        if !crate::orchestrator::image::buildable(stack, name) {
            continue;
        }
        let Some(svc) = stack.services.get(name) else {
            continue;
        };
        let image = svc.image_ref(&stack.name);
        crate::orchestrator::image::obtain_image(
            ops.engine(),
            ops.board(),
            stack,
            name,
            &image,
            force,
            Default::default(),
        )
        .await
        .map_err(|failure| crate::orchestrator::OrchestratorError::Service {
            service: name.clone(),
            failure,
        })?;
        if let Some(node) = &kube.node {
            ops.board().output(
                name,
                "build",
                format!("loading {image} into the node {node}"),
            );
            ops.engine().load_into_containerd(&image, node).await?;
        }
    }
    Ok(())
}

/// Delete what novadev created on the cluster (claims too with `what.volumes`).
pub async fn down(
    kube: &KubeTarget,
    project: &str,
    what: &DownRequest,
) -> Result<DownReport, OpError> {
    let report = k8s::cleanup(
        &kube.cluster,
        project,
        &k8s::CleanupOptions {
            volumes: what.volumes,
            wait: Some(Duration::from_secs(60)),
        },
    )
    .await?;
    let mut out = DownReport::default();
    for object in report.deleted {
        if object.starts_with("PersistentVolumeClaim ") {
            out.volumes.push(object);
        } else if object.starts_with("Deployment ")
            || object.starts_with("StatefulSet ")
            || object.starts_with("Job ")
        {
            out.containers.push(object);
        } else {
            out.networks.push(object);
        }
    }
    Ok(out)
}

/// The verbs on a cluster: a restart is a rollout (the pods are replaced); stop, start and
/// rebuild are Docker's (scale the workload, or `up --k8s --build`, on a cluster).
pub async fn control(
    ops: &Operations,
    kube: &KubeTarget,
    stack: &Stack,
    service: &str,
    verb: Verb,
) -> Result<ServiceStatus, OpError> {
    match verb {
        Verb::Restart => {
            ops.board().apply(
                service,
                Transition::Starting {
                    detail: "restarting (rollout)".into(),
                },
            );
            k8s::restart(&kube.cluster, &stack.name, service).await?;
            let states = k8s::wait_ready(
                &kube.cluster,
                &stack.name,
                &BTreeSet::from([service.to_string()]),
                super::CONTROL_TIMEOUT,
                |states| ops.observe(states, Some(stack)),
            )
            .await?;
            ops.observe(&states, Some(stack));
            Ok(ops
                .board()
                .get(service)
                .unwrap_or_else(|| ServiceStatus::new(service)))
        }
        other => Err(OpError::NotOnKubernetes(other)),
    }
}

/// The logs of the wanted services' pods (all services when empty), merged.
pub async fn logs(
    kube: &KubeTarget,
    project: &str,
    known: &[String],
    params: &LogsParams,
) -> Result<BoxStream<'static, LogLine>, OpError> {
    let wanted = params.service_list();
    if let Some(unknown) = wanted.iter().find(|w| !known.contains(w)) {
        return Err(crate::orchestrator::OrchestratorError::UnknownService {
            service: unknown.clone(),
            project: project.to_string(),
        }
        .into());
    }
    let services = if wanted.is_empty() {
        known.to_vec()
    } else {
        wanted
    };
    let options = k8s::LogOptions {
        follow: params.follow,
        tail: params.tail.and_then(|t| i64::try_from(t).ok()),
        since: params.since.and_then(|s| {
            let ago = chrono::Utc::now().timestamp() - s;
            u64::try_from(ago).ok().map(Duration::from_secs)
        }),
        timestamps: true,
    };
    let mut streams = Vec::new();
    for service in services {
        match k8s::logs(&kube.cluster, project, &service, &options).await {
            Ok(lines) => streams.push(lines),
            // A service without a pod (a Job cleaned up, a Deployment scaled to 0) has no log.
            Err(K8sError::NoPod { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(stream::select_all(streams)
        .filter_map(|line| async move { line.ok().map(log_line) })
        .boxed())
}

/// A pod's line (`2024-…Z text` with timestamps on) as a log line.
fn log_line(line: k8s::LogLine) -> LogLine {
    let (time, text) = match line.line.split_once(' ') {
        Some((t, rest)) if t.len() >= 20 && t.as_bytes().get(4) == Some(&b'-') => {
            (t.to_string(), rest.to_string())
        }
        _ => (String::new(), line.line),
    };
    LogLine {
        service: line.service,
        stream: "stdout".into(),
        time,
        text,
        truncated: false,
    }
}

/// Keep the board in line with the cluster until dropped: the services' states once a second,
/// and whether the API server answers.
pub async fn follow(ops: &Operations, kube: &KubeTarget) {
    let mut stacks = ops.stack_updates();
    loop {
        let stack = stacks.borrow_and_update().clone();
        match k8s::read_states(&kube.cluster, ops.project()).await {
            Ok(states) => {
                if ops.board().engine_reachable() {
                    ops.board()
                        .message("the cluster answers again; state read afresh");
                }
                if stack.is_some() {
                    ops.observe(&states, stack.as_deref());
                }
            }
            Err(e) => ops.board().engine_unreachable(e.to_string()),
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::state::PortState;

    fn state(phase: k8s::Phase) -> ServiceState {
        ServiceState {
            service: "web".into(),
            namespace: "nova".into(),
            kind: "Deployment",
            phase,
            detail: "waiting for db".into(),
            ready_replicas: 0,
            replicas: 1,
            restarts: 2,
            ports: vec![PortState {
                port: 8080,
                protocol: "TCP".into(),
            }],
        }
    }

    #[test]
    fn a_cluster_state_reads_like_a_container_status() {
        let s = status_of(&state(k8s::Phase::Waiting), None);
        assert_eq!(s.phase, Phase::Waiting);
        assert_eq!(s.detail.as_deref(), Some("waiting for db"));
        assert_eq!(s.container_name.as_deref(), Some("nova/deployment/web"));
        assert_eq!(s.restarts, 2);
        assert_eq!(s.ports[0].to_string(), "web.nova:8080->8080/tcp");
        for (k, p) in [
            (k8s::Phase::Starting, Phase::Starting),
            (k8s::Phase::Ready, Phase::Ready),
            (k8s::Phase::Completed, Phase::Completed),
            (k8s::Phase::Failed, Phase::Failed),
        ] {
            assert_eq!(status_of(&state(k,), None).phase, p);
        }
    }

    #[test]
    fn only_a_change_that_shows_replaces_the_boards_status() {
        let a = status_of(&state(k8s::Phase::Ready), None);
        assert!(changed(None, &a));
        assert!(!changed(Some(&a), &a.clone()));
        let mut b = a.clone();
        b.restarts += 1;
        assert!(changed(Some(&a), &b));
    }

    #[test]
    fn pod_lines_keep_their_timestamp_apart() {
        let line = log_line(k8s::LogLine {
            service: "web".into(),
            pod: "web-1".into(),
            line: "2024-05-01T10:00:00.000000001Z listening".into(),
        });
        assert_eq!(line.time, "2024-05-01T10:00:00.000000001Z");
        assert_eq!(line.text, "listening");
    }
}
