//! Removing what novadev created for a project, found by its labels (never by name), in every
//! namespace: workloads first (their pods go with them), then Services, config, access rights,
//! claims only when asked, and the project's namespaces — except one still holding a kept claim,
//! since deleting a namespace deletes its claims.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolumeClaim, Pod, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{DeleteParams, ListParams, PropagationPolicy};
use kube::discovery::ApiResource;

use crate::k8s::cluster::Cluster;
use crate::k8s::error::K8sError;
use crate::k8s::labels;

#[derive(Debug, Clone, Default)]
pub struct CleanupOptions {
    /// Also delete the PersistentVolumeClaims (the data).
    pub volumes: bool,
    /// Wait, at most this long, until everything deleted is gone (pods included).
    pub wait: Option<Duration>,
}

#[derive(Debug, Clone, Default)]
pub struct CleanupReport {
    /// `Kind namespace/name` of everything deleted, in deletion order.
    pub deleted: Vec<String>,
    /// Namespaces kept because claims stay in them.
    pub kept_namespaces: Vec<String>,
}

/// What novadev renders, in deletion order, and whether it lives in a namespace.
fn created_kinds(volumes: bool) -> Vec<(&'static str, ApiResource)> {
    let mut kinds = vec![
        ("Deployment", ApiResource::erase::<Deployment>(&())),
        ("StatefulSet", ApiResource::erase::<StatefulSet>(&())),
        ("Job", ApiResource::erase::<Job>(&())),
        ("Service", ApiResource::erase::<Service>(&())),
        ("ConfigMap", ApiResource::erase::<ConfigMap>(&())),
        ("Secret", ApiResource::erase::<Secret>(&())),
        ("RoleBinding", ApiResource::erase::<RoleBinding>(&())),
        ("Role", ApiResource::erase::<Role>(&())),
        ("ServiceAccount", ApiResource::erase::<ServiceAccount>(&())),
    ];
    if volumes {
        kinds.push((
            "PersistentVolumeClaim",
            ApiResource::erase::<PersistentVolumeClaim>(&()),
        ));
    }
    kinds
}

/// Every labelled kind, also those the cluster makes from novadev's objects (ReplicaSets, pods):
/// what must be gone after a cleanup.
pub fn labelled_kinds(volumes: bool) -> Vec<(&'static str, ApiResource)> {
    let mut kinds = created_kinds(volumes);
    kinds.push(("ReplicaSet", ApiResource::erase::<ReplicaSet>(&())));
    kinds.push(("Pod", ApiResource::erase::<Pod>(&())));
    kinds
}

pub async fn cleanup(
    cluster: &Cluster,
    project: &str,
    options: &CleanupOptions,
) -> Result<CleanupReport, K8sError> {
    let selector = labels::project_selector(project);
    let params = ListParams::default().labels(&selector);
    let delete = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    let mut report = CleanupReport::default();
    for (kind, resource) in created_kinds(options.volumes) {
        let api = cluster.api(&resource, None);
        let list = api
            .list(&params)
            .await
            .map_err(|e| cluster.error("listing", kind, &selector, e))?;
        for object in list.items {
            let name = object.metadata.name.clone().unwrap_or_default();
            let namespace = object.metadata.namespace.clone().unwrap_or_default();
            let object_ref = format!("{namespace}/{name}");
            let namespaced = cluster.api(&resource, Some(&namespace));
            match namespaced.delete(&name, &delete).await {
                Ok(_) => report.deleted.push(format!("{kind} {object_ref}")),
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(e) => return Err(cluster.error("deleting", kind, &object_ref, e)),
            }
        }
    }

    let namespaces = cluster
        .api(&ApiResource::erase::<Namespace>(&()), None)
        .list(&params)
        .await
        .map_err(|e| cluster.error("listing", "Namespace", &selector, e))?;
    let claim_resource = ApiResource::erase::<PersistentVolumeClaim>(&());
    let mut deleted_namespaces = Vec::new();
    for ns in namespaces.items {
        let name = ns.metadata.name.clone().unwrap_or_default();
        let kept_claims = cluster
            .api(&claim_resource, Some(&name))
            .list(&ListParams::default())
            .await
            .map_err(|e| cluster.error("listing", "PersistentVolumeClaim", &name, e))?;
        if !options.volumes && !kept_claims.items.is_empty() {
            report.kept_namespaces.push(name);
            continue;
        }
        match cluster
            .api(&ApiResource::erase::<Namespace>(&()), None)
            .delete(&name, &delete)
            .await
        {
            Ok(_) => {
                report.deleted.push(format!("Namespace {name}"));
                deleted_namespaces.push(name);
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => return Err(cluster.error("deleting", "Namespace", &name, e)),
        }
    }

    if let Some(timeout) = options.wait {
        wait_gone(
            cluster,
            project,
            options.volumes,
            &deleted_namespaces,
            timeout,
        )
        .await?;
    }
    Ok(report)
}

/// What is still there of a project: `Kind namespace/name` of every labelled object (claims only
/// if `volumes`), and every namespace in `namespaces` that still exists.
pub async fn remaining(
    cluster: &Cluster,
    project: &str,
    volumes: bool,
    namespaces: &[String],
) -> Result<Vec<String>, K8sError> {
    let selector = labels::project_selector(project);
    let params = ListParams::default().labels(&selector);
    let mut left = Vec::new();
    for (kind, resource) in labelled_kinds(volumes) {
        let list = cluster
            .api(&resource, None)
            .list(&params)
            .await
            .map_err(|e| cluster.error("listing", kind, &selector, e))?;
        for object in list.items {
            left.push(format!(
                "{kind} {}/{}",
                object.metadata.namespace.unwrap_or_default(),
                object.metadata.name.unwrap_or_default()
            ));
        }
    }
    let api = cluster.api(&ApiResource::erase::<Namespace>(&()), None);
    for ns in namespaces {
        if api
            .get_opt(ns)
            .await
            .map_err(|e| cluster.error("reading", "Namespace", ns, e))?
            .is_some()
        {
            left.push(format!("Namespace {ns}"));
        }
    }
    Ok(left)
}

async fn wait_gone(
    cluster: &Cluster,
    project: &str,
    volumes: bool,
    namespaces: &[String],
    timeout: Duration,
) -> Result<(), K8sError> {
    let started = tokio::time::Instant::now();
    loop {
        let left = remaining(cluster, project, volumes, namespaces).await?;
        if left.is_empty() {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            return Err(K8sError::Timeout {
                waited: timeout,
                pending: left
                    .into_iter()
                    .map(|l| format!("{l} (still there)"))
                    .collect(),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
