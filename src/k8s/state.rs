//! What each service of a project is doing on the cluster, as a small value of its own
//! (`ServiceState`) that knows nothing of Docker or of the status board: read from the
//! workloads, their pods and Services (found by label), and derived by a pure function.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod, Service};
use kube::Api;
use kube::api::ListParams;
use serde::Serialize;

use crate::k8s::cluster::Cluster;
use crate::k8s::error::K8sError;
use crate::k8s::labels;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Its pods wait for dependencies (the initContainers), or it is not on the cluster yet.
    Waiting,
    /// Pods are being scheduled, pulled, started, or are not ready yet.
    Starting,
    Ready,
    /// A one-shot that finished successfully.
    Completed,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortState {
    pub port: u16,
    /// `TCP` or `UDP`.
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceState {
    pub service: String,
    pub namespace: String,
    /// `Deployment`, `StatefulSet` or `Job`.
    pub kind: &'static str,
    pub phase: Phase,
    /// Why, in a few words (`waiting for postgres`, `CrashLoopBackOff: …`, `Pending: …`).
    pub detail: String,
    pub ready_replicas: i32,
    pub replicas: i32,
    /// Container restarts, summed over the service's pods.
    pub restarts: u32,
    /// The ports of the service's ClusterIP Service.
    pub ports: Vec<PortState>,
}

/// A workload as the state reader sees it.
#[derive(Debug, Clone)]
pub enum Workload {
    Deployment(Deployment),
    StatefulSet(StatefulSet),
    Job(Job),
}

impl Workload {
    fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        match self {
            Workload::Deployment(o) => &o.metadata,
            Workload::StatefulSet(o) => &o.metadata,
            Workload::Job(o) => &o.metadata,
        }
    }

    fn service(&self) -> Option<&str> {
        self.meta()
            .labels
            .as_ref()
            .and_then(|l| l.get(labels::SERVICE))
            .map(String::as_str)
    }
}

/// The state of every service of `project` on the cluster, sorted by service.
pub async fn read_states(cluster: &Cluster, project: &str) -> Result<Vec<ServiceState>, K8sError> {
    let selector = labels::project_selector(project);
    let params = ListParams::default().labels(&selector);
    let client = cluster.client().clone();
    let selector = selector.as_str();
    let list_error = |kind: &'static str| move |e| cluster.error("listing", kind, selector, e);
    let deployments = Api::<Deployment>::all(client.clone())
        .list(&params)
        .await
        .map_err(list_error("Deployment"))?;
    let stateful_sets = Api::<StatefulSet>::all(client.clone())
        .list(&params)
        .await
        .map_err(list_error("StatefulSet"))?;
    let jobs = Api::<Job>::all(client.clone())
        .list(&params)
        .await
        .map_err(list_error("Job"))?;
    let pods = Api::<Pod>::all(client.clone())
        .list(&params)
        .await
        .map_err(list_error("Pod"))?;
    let services = Api::<Service>::all(client)
        .list(&params)
        .await
        .map_err(list_error("Service"))?;

    let workloads = deployments
        .items
        .into_iter()
        .map(Workload::Deployment)
        .chain(stateful_sets.items.into_iter().map(Workload::StatefulSet))
        .chain(jobs.items.into_iter().map(Workload::Job));
    let mut states = BTreeMap::new();
    for workload in workloads {
        let Some(service) = workload.service().map(str::to_string) else {
            continue;
        };
        let namespace = workload.meta().namespace.clone().unwrap_or_default();
        let of_service = |labels: &Option<BTreeMap<String, String>>, ns: &Option<String>| {
            ns.as_deref() == Some(namespace.as_str())
                && labels.as_ref().and_then(|l| l.get(labels::SERVICE)) == Some(&service)
        };
        let own_pods: Vec<Pod> = pods
            .items
            .iter()
            .filter(|p| of_service(&p.metadata.labels, &p.metadata.namespace))
            .cloned()
            .collect();
        let own_services: Vec<Service> = services
            .items
            .iter()
            .filter(|s| of_service(&s.metadata.labels, &s.metadata.namespace))
            .cloned()
            .collect();
        states.insert(service.clone(), derive(&workload, &own_pods, &own_services));
    }
    Ok(states.into_values().collect())
}

/// A service's state from its workload, pods and Services. Pure.
pub fn derive(workload: &Workload, pods: &[Pod], services: &[Service]) -> ServiceState {
    let meta = workload.meta();
    let service = workload.service().unwrap_or_default().to_string();
    let (kind, replicas, ready_replicas) = match workload {
        Workload::Deployment(d) => (
            "Deployment",
            d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            d.status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0),
        ),
        Workload::StatefulSet(s) => (
            "StatefulSet",
            s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            s.status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0),
        ),
        Workload::Job(_) => (
            "Job",
            1,
            pods.iter()
                .filter(|p| pod_ready(p))
                .count()
                .try_into()
                .unwrap_or(0),
        ),
    };
    let restarts = pods
        .iter()
        .flat_map(|p| {
            p.status
                .iter()
                .flat_map(|s| s.container_statuses.iter().flatten())
        })
        .map(|c| u32::try_from(c.restart_count).unwrap_or(0))
        .sum();
    let (phase, detail) = phase_of(workload, replicas, ready_replicas, pods);
    ServiceState {
        service,
        namespace: meta.namespace.clone().unwrap_or_default(),
        kind,
        phase,
        detail,
        ready_replicas,
        replicas,
        restarts,
        ports: ports(services),
    }
}

fn phase_of(workload: &Workload, replicas: i32, ready: i32, pods: &[Pod]) -> (Phase, String) {
    if let Workload::Job(job) = workload {
        let conditions = job
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten());
        for c in conditions {
            if c.status == "True" && c.type_ == "Complete" {
                return (Phase::Completed, "completed".into());
            }
            if c.status == "True" && c.type_ == "Failed" {
                let why = c.message.clone().or(c.reason.clone()).unwrap_or_default();
                return (Phase::Failed, format!("job failed: {why}"));
            }
        }
    } else if replicas > 0 && ready >= replicas {
        let available = match workload {
            Workload::Deployment(d) => d
                .status
                .iter()
                .flat_map(|s| s.conditions.iter().flatten())
                .any(|c| c.type_ == "Available" && c.status == "True"),
            _ => true,
        };
        if available {
            return (Phase::Ready, format!("{ready}/{replicas} ready"));
        }
    } else if replicas == 0 {
        return (Phase::Ready, "scaled to 0".into());
    }
    // Not there yet: the most telling pod decides (a failure beats waiting beats starting).
    let mut best: Option<(Phase, String)> = None;
    for pod in pods {
        let candidate = pod_phase(pod);
        let rank = |p: Phase| match p {
            Phase::Failed => 3,
            Phase::Waiting => 2,
            _ => 1,
        };
        if best
            .as_ref()
            .is_none_or(|(p, _)| rank(candidate.0) > rank(*p))
        {
            best = Some(candidate);
        }
    }
    best.unwrap_or_else(|| (Phase::Starting, "no pod yet".into()))
}

/// Container waiting reasons after which nothing gets better by itself.
const FAILED_REASONS: &[&str] = &[
    "CrashLoopBackOff",
    "ErrImagePull",
    "ImagePullBackOff",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

fn pod_phase(pod: &Pod) -> (Phase, String) {
    let Some(status) = &pod.status else {
        return (Phase::Starting, "pod created".into());
    };
    let waiting_failure = |statuses: &Option<Vec<ContainerStatus>>| {
        statuses.iter().flatten().find_map(|c| {
            let w = c.state.as_ref()?.waiting.as_ref()?;
            let reason = w.reason.clone()?;
            FAILED_REASONS
                .contains(&reason.as_str())
                .then(|| format!("{reason}: {}", w.message.clone().unwrap_or_default()))
        })
    };
    if let Some(failure) = waiting_failure(&status.init_container_statuses)
        .or_else(|| waiting_failure(&status.container_statuses))
    {
        return (Phase::Failed, failure.trim_end_matches(": ").to_string());
    }
    // The first init container not yet done is what the pod waits on.
    let inits = status.init_container_statuses.iter().flatten();
    for c in inits {
        let done = c
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .is_some_and(|t| t.exit_code == 0);
        if !done {
            let what = match c.name.strip_prefix("wait-") {
                Some("created") => "its dependencies to be created".to_string(),
                Some(dep) if !dep.starts_with("created-") => dep.to_string(),
                _ => c.name.clone(),
            };
            return (Phase::Waiting, format!("waiting for {what}"));
        }
    }
    if status.phase.as_deref() == Some("Pending") {
        let why = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.status == "False")
            .and_then(|c| c.message.clone().or(c.reason.clone()))
            .unwrap_or_else(|| "waiting for a node".into());
        return (Phase::Starting, format!("Pending: {why}"));
    }
    if status.phase.as_deref() == Some("Failed") {
        return (
            Phase::Failed,
            status
                .message
                .clone()
                .unwrap_or_else(|| "pod failed".into()),
        );
    }
    if pod_ready(pod) {
        return (Phase::Starting, "ready, rollout in progress".into());
    }
    (Phase::Starting, "running, not ready yet".into())
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// The ports of the service's ClusterIP Service (not the headless ones).
fn ports(services: &[Service]) -> Vec<PortState> {
    let mut ports: Vec<PortState> = services
        .iter()
        .filter(|s| s.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) != Some("None"))
        .flat_map(|s| s.spec.iter().flat_map(|spec| spec.ports.iter().flatten()))
        .map(|p| PortState {
            port: u16::try_from(p.port).unwrap_or(0),
            protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
        })
        .collect();
    ports.sort_by(|a, b| (a.port, &a.protocol).cmp(&(b.port, &b.protocol)));
    ports.dedup();
    ports
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: serde_json::Value) -> Pod {
        serde_json::from_value(json).unwrap_or_else(|e| panic!("pod fixture: {e}"))
    }

    fn deployment(replicas: i32, ready: i32, available: bool) -> Workload {
        Workload::Deployment(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "api", "namespace": "shop",
                             "labels": {"dev.novadev.service": "api"}},
                "spec": {"replicas": replicas, "selector": {}, "template": {}},
                "status": {"readyReplicas": ready, "conditions": [
                    {"type": "Available", "status": if available { "True" } else { "False" }}
                ]}
            }))
            .unwrap_or_else(|e| panic!("deployment fixture: {e}")),
        )
    }

    #[test]
    fn a_pod_in_its_wait_containers_is_waiting_for_that_dependency() {
        let p = pod(
            serde_json::json!({"status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "wait-created", "ready": false, "restartCount": 0, "image": "k", "imageID": "",
                 "state": {"terminated": {"exitCode": 0}}},
                {"name": "wait-postgres", "ready": false, "restartCount": 0, "image": "k", "imageID": "",
                 "state": {"running": {}}}
            ]}}),
        );
        let state = derive(&deployment(1, 0, false), &[p], &[]);
        assert_eq!(state.phase, Phase::Waiting);
        assert_eq!(state.detail, "waiting for postgres");
    }

    #[test]
    fn a_crash_looping_container_is_failed_with_its_reason_and_restarts() {
        let p = pod(
            serde_json::json!({"status": {"phase": "Running", "containerStatuses": [
                {"name": "api", "ready": false, "restartCount": 4, "image": "i", "imageID": "",
                 "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}}
            ]}}),
        );
        let state = derive(&deployment(1, 0, false), &[p], &[]);
        assert_eq!(state.phase, Phase::Failed);
        assert_eq!(state.detail, "CrashLoopBackOff: back-off 40s");
        assert_eq!(state.restarts, 4);
    }

    #[test]
    fn enough_ready_replicas_and_available_is_ready() {
        let state = derive(&deployment(2, 2, true), &[], &[]);
        assert_eq!(
            (state.phase, state.ready_replicas, state.replicas),
            (Phase::Ready, 2, 2)
        );
        let state = derive(&deployment(2, 1, false), &[], &[]);
        assert_eq!(state.phase, Phase::Starting);
    }

    #[test]
    fn an_unschedulable_pod_says_why() {
        let p = pod(
            serde_json::json!({"status": {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": "no nodes available to schedule pods"}
            ]}}),
        );
        let state = derive(&deployment(1, 0, false), &[p], &[]);
        assert_eq!(state.phase, Phase::Starting);
        assert_eq!(state.detail, "Pending: no nodes available to schedule pods");
    }

    #[test]
    fn jobs_complete_or_fail_by_their_conditions() {
        let job = |t: &str| {
            Workload::Job(
                serde_json::from_value(serde_json::json!({
                    "metadata": {"name": "migrate", "labels": {"dev.novadev.service": "migrate"}},
                    "status": {"conditions": [{"type": t, "status": "True", "message": "BackoffLimitExceeded"}]}
                }))
                .unwrap_or_else(|e| panic!("job fixture: {e}")),
            )
        };
        assert_eq!(derive(&job("Complete"), &[], &[]).phase, Phase::Completed);
        let failed = derive(&job("Failed"), &[], &[]);
        assert_eq!(failed.phase, Phase::Failed);
        assert!(failed.detail.contains("BackoffLimitExceeded"));
    }

    #[test]
    fn ports_come_from_the_cluster_ip_service_only() {
        let svc = |headless: bool, port: i32| -> Service {
            serde_json::from_value(serde_json::json!({"spec": {
                "clusterIP": if headless { "None" } else { "10.0.0.7" },
                "ports": [{"port": port, "protocol": "TCP"}]
            }}))
            .unwrap_or_else(|e| panic!("service fixture: {e}"))
        };
        let state = derive(
            &deployment(1, 1, true),
            &[],
            &[svc(false, 8080), svc(true, 50051)],
        );
        assert_eq!(
            state.ports,
            [PortState {
                port: 8080,
                protocol: "TCP".into()
            }]
        );
    }
}
