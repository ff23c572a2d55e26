//! Waiting until a project's services are ready on the cluster: Deployments Available with their
//! replicas ready, StatefulSets with their ready replicas, Jobs Complete. Polls the state reader
//! (twice a second), tells the caller each time the states change, and stops at the first
//! failure or at the deadline, naming what is still not there.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::k8s::cluster::Cluster;
use crate::k8s::error::K8sError;
use crate::k8s::state::{Phase, ServiceState, read_states};

const POLL: Duration = Duration::from_millis(500);

/// Waits for `services` of `project` (every one in the set must be on the cluster) to be ready
/// or completed. `on_change` sees the states of those services whenever they change.
pub async fn wait_ready(
    cluster: &Cluster,
    project: &str,
    services: &BTreeSet<String>,
    timeout: Duration,
    mut on_change: impl FnMut(&[ServiceState]),
) -> Result<Vec<ServiceState>, K8sError> {
    let started = tokio::time::Instant::now();
    let mut last: Option<Vec<ServiceState>> = None;
    loop {
        let states: Vec<ServiceState> = read_states(cluster, project)
            .await?
            .into_iter()
            .filter(|s| services.contains(&s.service))
            .collect();
        if last.as_ref() != Some(&states) {
            on_change(&states);
        }
        if let Some(failed) = states.iter().find(|s| s.phase == Phase::Failed) {
            return Err(K8sError::ServiceFailed {
                service: failed.service.clone(),
                reason: failed.detail.clone(),
            });
        }
        let present: BTreeSet<&str> = states.iter().map(|s| s.service.as_str()).collect();
        let done = present.len() == services.len()
            && states
                .iter()
                .all(|s| matches!(s.phase, Phase::Ready | Phase::Completed));
        if done {
            return Ok(states);
        }
        if started.elapsed() >= timeout {
            let mut pending: Vec<String> = states
                .iter()
                .filter(|s| !matches!(s.phase, Phase::Ready | Phase::Completed))
                .map(|s| format!("{} ({})", s.service, s.detail))
                .collect();
            pending.extend(
                services
                    .iter()
                    .filter(|s| !present.contains(s.as_str()))
                    .map(|s| format!("{s} (not on the cluster)")),
            );
            return Err(K8sError::Timeout {
                waited: timeout,
                pending,
            });
        }
        last = Some(states);
        tokio::time::sleep(POLL).await;
    }
}
