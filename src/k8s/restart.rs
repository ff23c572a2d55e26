//! Restarting a service on the cluster: a rollout, as `kubectl rollout restart` does it: the pod
//! template gets a `restartedAt` annotation, so the controller replaces the pods one by one.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};

use crate::k8s::cluster::Cluster;
use crate::k8s::error::K8sError;
use crate::k8s::labels;

/// The annotation `kubectl rollout restart` sets.
const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// Roll `service`'s Deployment or StatefulSet. A Job (a one-shot) has nothing to roll.
pub async fn restart(cluster: &Cluster, project: &str, service: &str) -> Result<(), K8sError> {
    let selector = labels::service_selector(project, service);
    let params = ListParams::default().labels(&selector);
    let patch = serde_json::json!({
        "spec": {"template": {"metadata": {"annotations": {
            RESTARTED_AT: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        }}}}
    });
    let client = cluster.client().clone();
    let deployments = Api::<Deployment>::all(client.clone())
        .list(&params)
        .await
        .map_err(|e| cluster.error("listing", "Deployment", &selector, e))?;
    for d in deployments.items {
        let (Some(name), Some(ns)) = (d.metadata.name, d.metadata.namespace) else {
            continue;
        };
        Api::<Deployment>::namespaced(client.clone(), &ns)
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| cluster.error("restarting", "Deployment", &format!("{ns}/{name}"), e))?;
        return Ok(());
    }
    let sets = Api::<StatefulSet>::all(client.clone())
        .list(&params)
        .await
        .map_err(|e| cluster.error("listing", "StatefulSet", &selector, e))?;
    for s in sets.items {
        let (Some(name), Some(ns)) = (s.metadata.name, s.metadata.namespace) else {
            continue;
        };
        Api::<StatefulSet>::namespaced(client.clone(), &ns)
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| cluster.error("restarting", "StatefulSet", &format!("{ns}/{name}"), e))?;
        return Ok(());
    }
    Err(K8sError::NothingToRestart {
        service: service.to_string(),
    })
}
