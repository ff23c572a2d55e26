//! Server-side apply of rendered manifests (field manager `novadev`), in apply order, each
//! object reported as created, changed, unchanged or replaced. A Job whose pod template changed
//! is deleted and created again (its template is immutable), as Compose re-runs a one-shot whose
//! configuration changed. On a failure, the error says what was applied before it.

use std::path::Path;
use std::time::Duration;

use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PropagationPolicy};

use crate::k8s::cluster::Cluster;
use crate::k8s::error::K8sError;
use crate::k8s::labels;
use crate::k8s::manifest::Manifest;
use crate::k8s::render::{Rendered, key_secret};

/// How long a replaced Job may take to go away.
const JOB_DELETE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Changed,
    Unchanged,
    /// Deleted and created again (a Job with a new template).
    Replaced,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub kind: &'static str,
    /// `namespace/name`, or the name of a cluster-wide object.
    pub object: String,
    pub outcome: Outcome,
    /// The object's resourceVersion after the apply.
    pub resource_version: String,
}

#[derive(Debug, Clone, Default)]
pub struct ApplyReport {
    pub applied: Vec<Applied>,
}

impl ApplyReport {
    /// True when the apply changed nothing on the server.
    pub fn unchanged(&self) -> bool {
        self.applied.iter().all(|a| a.outcome == Outcome::Unchanged)
    }
}

/// The Secrets of the generated key pairs a rendered stack mounts (`x-novadev.keys`), made from
/// the project's dev keys under `keys_dir` (created there if missing, as the Docker side does).
pub fn key_secrets(rendered: &Rendered, keys_dir: &Path) -> Result<Vec<Manifest>, K8sError> {
    let mut out = Vec::new();
    for k in &rendered.key_secrets {
        let (dir, _) = crate::secrets::ensure_key_pair(keys_dir, &k.key)?;
        let read = |file: &str| {
            let path = dir.join(file);
            std::fs::read(&path).map_err(|source| K8sError::KeyFile { path, source })
        };
        out.push(key_secret(
            &rendered.project,
            &k.namespace,
            &k.key,
            &read("private.pem")?,
            &read("public.pem")?,
        ));
    }
    Ok(out)
}

/// Applies a rendered stack: its manifests, plus `extra` (e.g. `key_secrets`), in apply order.
pub async fn apply_rendered(
    cluster: &Cluster,
    rendered: &Rendered,
    extra: Vec<Manifest>,
) -> Result<ApplyReport, K8sError> {
    let mut all: Vec<Manifest> = rendered.manifests.clone();
    all.extend(extra);
    all.sort_by_key(Manifest::sort_key);
    apply(cluster, &all).await
}

/// Applies manifests in the order given.
pub async fn apply(cluster: &Cluster, manifests: &[Manifest]) -> Result<ApplyReport, K8sError> {
    let mut report = ApplyReport::default();
    for manifest in manifests {
        match apply_one(cluster, manifest).await {
            Ok(applied) => report.applied.push(applied),
            Err(source) => {
                return Err(if report.applied.is_empty() {
                    source
                } else {
                    K8sError::Partial {
                        applied: report
                            .applied
                            .iter()
                            .map(|a| format!("{} {}", a.kind, a.object))
                            .collect(),
                        source: Box::new(source),
                    }
                });
            }
        }
    }
    Ok(report)
}

async fn apply_one(cluster: &Cluster, manifest: &Manifest) -> Result<Applied, K8sError> {
    let api = cluster.api(&manifest.api_resource(), manifest.namespace());
    let name = manifest.name();
    let object = manifest.object_ref();
    let kind = manifest.kind();
    let body = manifest.to_json()?;
    let live = api
        .get_opt(name)
        .await
        .map_err(|e| cluster.error("reading", kind, &object, e))?;
    // force: novadev owns what it renders, also fields someone changed with kubectl since.
    let params = PatchParams::apply(labels::MANAGER).force();
    let mut replaced = false;
    if let Some(live) = &live {
        // An apply that changes nothing still rewrites a workload on some servers (v1.20 stamps
        // a new time into managedFields), so ask first, without writing, what the apply would
        // give; if that is what is there, nothing is written.
        match api
            .patch(name, &params.clone().dry_run(), &Patch::Apply(&body))
            .await
        {
            Ok(would_be) if same_object(live, &would_be) => {
                return Ok(Applied {
                    kind,
                    object,
                    outcome: Outcome::Unchanged,
                    resource_version: live.metadata.resource_version.clone().unwrap_or_default(),
                });
            }
            Ok(_) => {}
            Err(e) => {
                let error = cluster.error("applying", kind, &object, e);
                if !immutable_job(manifest, &error) {
                    return Err(error);
                }
                delete_and_wait(cluster, manifest).await?;
                replaced = true;
            }
        }
    }
    let after = match api.patch(name, &params, &Patch::Apply(&body)).await {
        Ok(after) => after,
        Err(e) => {
            let error = cluster.error("applying", kind, &object, e);
            if replaced || !immutable_job(manifest, &error) {
                return Err(error);
            }
            delete_and_wait(cluster, manifest).await?;
            replaced = true;
            api.patch(name, &params, &Patch::Apply(&body))
                .await
                .map_err(|e| cluster.error("applying", kind, &object, e))?
        }
    };
    let resource_version = after.metadata.resource_version.unwrap_or_default();
    let before = live.and_then(|l| l.metadata.resource_version);
    let outcome = match before {
        _ if replaced => Outcome::Replaced,
        None => Outcome::Created,
        Some(v) if v == resource_version => Outcome::Unchanged,
        Some(_) => Outcome::Changed,
    };
    Ok(Applied {
        kind,
        object,
        outcome,
        resource_version,
    })
}

/// A Job's pod template is immutable: a changed one is replaced, not patched.
fn immutable_job(manifest: &Manifest, error: &K8sError) -> bool {
    matches!(manifest, Manifest::Job(_))
        && matches!(error, K8sError::Rejected { message, .. } if message.contains("field is immutable"))
}

/// Equal apart from what the server keeps about writes (managed fields, resourceVersion) and
/// what controllers write (status).
fn same_object(a: &DynamicObject, b: &DynamicObject) -> bool {
    let strip = |o: &DynamicObject| {
        let mut o = o.clone();
        o.metadata.managed_fields = None;
        o.metadata.resource_version = None;
        if let Some(data) = o.data.as_object_mut() {
            data.remove("status");
        }
        o
    };
    let (a, b) = (strip(a), strip(b));
    a.metadata == b.metadata && a.data == b.data && a.types == b.types
}

async fn delete_and_wait(cluster: &Cluster, manifest: &Manifest) -> Result<(), K8sError> {
    let api = cluster.api(&manifest.api_resource(), manifest.namespace());
    let object = manifest.object_ref();
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    if let Err(e) = api.delete(manifest.name(), &params).await {
        let error = cluster.error("deleting", manifest.kind(), &object, e);
        if !matches!(&error, K8sError::Api { message, .. } if message.ends_with("(HTTP 404)")) {
            return Err(error);
        }
    }
    let deadline = tokio::time::Instant::now() + JOB_DELETE_TIMEOUT;
    loop {
        let gone = api
            .get_opt(manifest.name())
            .await
            .map_err(|e| cluster.error("reading", manifest.kind(), &object, e))?
            .is_none();
        if gone {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(K8sError::Timeout {
                waited: JOB_DELETE_TIMEOUT,
                pending: vec![format!("{} {object} (being deleted)", manifest.kind())],
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
