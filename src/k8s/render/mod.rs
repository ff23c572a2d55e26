//! Stack → Kubernetes manifests, typed (k8s-openapi structs, never text templates), deterministic
//! (sorted; the same stack gives the same bytes) and pure apart from reading the files a service
//! bind-mounts (they become ConfigMaps).
//!
//! The translation, service by service (see README "Kubernetes"):
//! - workload: a one-shot (some dependent waits for it with `service_completed_successfully`) →
//!   Job; a long-running service with a named volume → StatefulSet with volumeClaimTemplates;
//!   anything else → Deployment. `x-novadev.k8s.kind` overrides.
//! - `ports`/`expose` → a ClusterIP Service named like the service (every port with its
//!   protocol); gRPC ports (50051–50059, or `grpc_ports`) also → a headless `<svc>-grpc`;
//!   a StatefulSet gets its governing headless `<svc>-headless`.
//! - `environment` → ConfigMap `<svc>-env`, secret-looking values → Secret `<svc>-env`;
//!   bind-mounted files → ConfigMap `<svc>-files`; `x-novadev.keys` → a Secret volume.
//! - healthcheck → readinessProbe (exec); `x-novadev.k8s.probes` → httpGet readiness/liveness.
//! - `depends_on` → initContainers that wait, through the API server, for each dependency's
//!   condition (see `wait`).
//!
//! Anything that has no Kubernetes meaning is named in a `Warning`, never dropped silently.

mod config;
mod network;
mod wait;
mod workload;

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::k8s::error::RenderError;
use crate::k8s::labels;
use crate::k8s::manifest::Manifest;
use crate::k8s::names;
use crate::k8s::settings::{self, ProjectSettings, ServiceSettings, WorkloadKind};
use crate::stack::model::{Condition, MountSource, Service, Stack};

pub use config::key_secret;

/// The initContainers' image when the stack names none: kubectl ≥ 1.31 (for `--for=create`).
pub const DEFAULT_WAIT_IMAGE: &str = "registry.k8s.io/kubectl:v1.33.0";

/// What the caller may decide besides the stack.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// `--namespace`: replaces the default namespace (not per-tier or per-service ones).
    pub namespace: Option<String>,
}

/// Something of the stack that has no (exact) Kubernetes equivalent.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Warning {
    /// `None` for project-wide remarks.
    pub service: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.service {
            Some(service) => write!(f, "{service}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A Secret that holds a generated key pair (`x-novadev.keys`). Its content is never rendered:
/// whoever applies creates it from the project's dev keys (`crate::secrets`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeySecretRef {
    pub namespace: String,
    /// The Secret's name.
    pub secret: String,
    /// The key pair's name in the stack.
    pub key: String,
}

/// Where a service lives on the cluster and what runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub service: String,
    /// The objects' name (the service's name as an RFC 1035 label).
    pub name: String,
    pub namespace: String,
    pub kind: WorkloadKind,
    pub replicas: i32,
}

#[derive(Debug, Clone)]
pub struct Rendered {
    pub project: String,
    /// Sorted in apply order (`Manifest::sort_key`).
    pub manifests: Vec<Manifest>,
    /// Sorted by service, then text.
    pub warnings: Vec<Warning>,
    /// Per service (by stack name), sorted.
    pub placements: BTreeMap<String, Placement>,
    pub key_secrets: Vec<KeySecretRef>,
}

impl Rendered {
    /// Every namespace the stack uses, sorted.
    pub fn namespaces(&self) -> BTreeSet<String> {
        self.placements
            .values()
            .map(|p| p.namespace.clone())
            .collect()
    }
}

/// Collects warnings while rendering.
#[derive(Default)]
pub(crate) struct Warnings(Vec<Warning>);

impl Warnings {
    pub(crate) fn service(&mut self, service: &str, message: impl Into<String>) {
        self.0.push(Warning {
            service: Some(service.to_string()),
            message: message.into(),
        });
    }

    pub(crate) fn project(&mut self, message: impl Into<String>) {
        self.0.push(Warning {
            service: None,
            message: message.into(),
        });
    }
}

/// What the per-service renderers share.
pub(crate) struct Context<'a> {
    pub stack: &'a Stack,
    pub project: ProjectSettings,
    pub placements: BTreeMap<String, Placement>,
    pub settings: BTreeMap<String, ServiceSettings>,
    pub tiers: BTreeMap<String, String>,
    pub wait_image: String,
}

impl Context<'_> {
    pub(crate) fn tier(&self, service: &str) -> Option<&str> {
        self.tiers.get(service).map(String::as_str)
    }

    /// A path as messages show it: relative to the project directory when inside it.
    pub(crate) fn shown(&self, path: &std::path::Path) -> String {
        match path.strip_prefix(&self.stack.project_dir) {
            Ok(relative) => format!("./{}", relative.display()),
            Err(_) => path.display().to_string(),
        }
    }

    pub(crate) fn labels(&self, service: &str) -> BTreeMap<String, String> {
        labels::service_labels(&self.stack.name, service, self.tier(service))
    }

    pub(crate) fn meta(&self, service: &str, name: String, namespace: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(namespace.to_string()),
            labels: Some(self.labels(service)),
            ..ObjectMeta::default()
        }
    }
}

/// Renders a loaded stack.
pub fn render(stack: &Stack, options: &RenderOptions) -> Result<Rendered, RenderError> {
    if !labels::is_label_value(&stack.name) {
        return Err(RenderError::Name {
            what: "project",
            name: stack.name.clone(),
            reason: "it must be a label value (at most 63 characters, starting and ending with a letter or digit)".into(),
        });
    }
    let project = settings::project(stack.novadev.k8s.as_ref())?;
    let mut service_settings = BTreeMap::new();
    for (name, service) in &stack.services {
        service_settings.insert(
            name.clone(),
            settings::service(name, service.novadev.k8s.as_ref())?,
        );
    }
    let tiers = tiers_of(stack);
    let default_namespace = names::namespace(
        options
            .namespace
            .as_deref()
            .or(project.namespace.as_deref())
            .unwrap_or(&stack.name),
    )?;

    let mut warnings = Warnings::default();
    let placements = place(
        stack,
        &project,
        &service_settings,
        &tiers,
        &default_namespace,
    )?;
    project_warnings(stack, &project, &tiers, &mut warnings);

    let wait_image = project
        .wait_image
        .clone()
        .unwrap_or_else(|| DEFAULT_WAIT_IMAGE.to_string());
    let cx = Context {
        stack,
        project,
        placements,
        settings: service_settings,
        tiers,
        wait_image,
    };

    let mut manifests = Vec::new();
    let mut key_secrets = Vec::new();
    for namespace in cx
        .placements
        .values()
        .map(|p| &p.namespace)
        .collect::<BTreeSet<_>>()
    {
        manifests.push(Manifest::Namespace(Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.clone()),
                labels: Some(labels::project_labels(&stack.name)),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        }));
    }
    manifests.extend(wait::rbac(&cx));
    for (name, service) in &stack.services {
        let out = workload::render_service(&cx, service, &mut warnings)?;
        manifests.extend(out.manifests);
        key_secrets.extend(out.key_secrets);
        service_warnings(&cx, name, service, &mut warnings);
    }
    manifests.extend(workload::standalone_claims(&cx, &mut warnings));

    manifests.sort_by_key(Manifest::sort_key);
    key_secrets.sort();
    key_secrets.dedup();
    let mut warnings = warnings.0;
    warnings.sort();
    warnings.dedup();
    Ok(Rendered {
        project: stack.name.clone(),
        manifests,
        warnings,
        placements: cx.placements,
        key_secrets,
    })
}

/// Where each service goes (namespace), what runs it (kind) and its Kubernetes name.
fn place(
    stack: &Stack,
    project: &ProjectSettings,
    service_settings: &BTreeMap<String, ServiceSettings>,
    tiers: &BTreeMap<String, String>,
    default_namespace: &str,
) -> Result<BTreeMap<String, Placement>, RenderError> {
    let mut placements = BTreeMap::new();
    for (name, service) in &stack.services {
        let own = &service_settings[name];
        if !labels::is_label_value(name) {
            return Err(RenderError::Name {
                what: "service",
                name: name.clone(),
                reason: "it must be a label value (at most 63 characters, starting and ending with a letter or digit)".into(),
            });
        }
        let namespace = match own.namespace.as_deref().or_else(|| {
            tiers
                .get(name)
                .and_then(|tier| project.namespaces.get(tier))
                .map(String::as_str)
        }) {
            Some(ns) => names::namespace(ns)?,
            None => default_namespace.to_string(),
        };
        let kind = own.kind.unwrap_or_else(|| infer_kind(stack, service));
        placements.insert(
            name.clone(),
            Placement {
                service: name.clone(),
                name: names::service_name(name)?,
                namespace,
                kind,
                replicas: if kind == WorkloadKind::Job {
                    1
                } else {
                    own.replicas.unwrap_or(1)
                },
            },
        );
    }
    check_unique_names(&placements)?;
    Ok(placements)
}

/// Project-wide settings that have no effect, or no Kubernetes meaning.
fn project_warnings(
    stack: &Stack,
    project: &ProjectSettings,
    tiers: &BTreeMap<String, String>,
    warnings: &mut Warnings,
) {
    for unknown in project
        .namespaces
        .keys()
        .filter(|t| !tiers.values().any(|v| v == *t))
    {
        warnings.project(format!(
            "x-novadev.k8s.namespaces names tier `{unknown}`, which no service is in"
        ));
    }
    if stack.networks.len() > 1
        || stack
            .services
            .values()
            .any(|s| s.networks.values().any(|n| !n.aliases.is_empty()))
    {
        warnings.project(
            "networks and network aliases are not translated: every pod shares the cluster network, and a service is reached by its own name only",
        );
    }
}

/// One-shot if something waits for its successful completion; stateful if it keeps data in a
/// named volume; else stateless.
fn infer_kind(stack: &Stack, service: &Service) -> WorkloadKind {
    let waited_to_complete = stack.services.values().any(|other| {
        other
            .depends_on
            .get(&service.name)
            .is_some_and(|d| d.condition == Condition::ServiceCompletedSuccessfully)
    });
    if waited_to_complete {
        WorkloadKind::Job
    } else if service
        .volumes
        .iter()
        .any(|v| matches!(v.source, MountSource::Volume { .. }))
    {
        WorkloadKind::Statefulset
    } else {
        WorkloadKind::Deployment
    }
}

/// The display tier of each service: its own `x-novadev.tier`, else the project's `tiers`.
fn tiers_of(stack: &Stack) -> BTreeMap<String, String> {
    let mut tiers = BTreeMap::new();
    for (tier, members) in &stack.novadev.tiers {
        for member in members {
            tiers.insert(member.clone(), tier.clone());
        }
    }
    for (name, service) in &stack.services {
        if let Some(tier) = &service.novadev.tier {
            tiers.insert(name.clone(), tier.clone());
        }
    }
    tiers.retain(|name, _| stack.services.contains_key(name));
    tiers
}

/// Two Compose names may map to one Kubernetes name (`a_b` and `a-b`).
fn check_unique_names(placements: &BTreeMap<String, Placement>) -> Result<(), RenderError> {
    let mut seen: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for p in placements.values() {
        if let Some(other) = seen.insert((&p.namespace, &p.name), &p.service) {
            return Err(RenderError::Name {
                what: "service",
                name: p.service.clone(),
                reason: format!(
                    "it becomes `{}` in namespace `{}`, as `{other}` does",
                    p.name, p.namespace
                ),
            });
        }
    }
    Ok(())
}

/// Keys of a service that have no Kubernetes meaning here.
fn service_warnings(cx: &Context<'_>, name: &str, service: &Service, warnings: &mut Warnings) {
    let placement = &cx.placements[name];
    if placement.name != *name {
        warnings.service(
            name,
            format!(
                "named `{}` on Kubernetes: other services must use that hostname",
                placement.name
            ),
        );
    }
    if service.container_name.is_some() {
        warnings.service(
            name,
            "container_name is not translated (pods are named by their workload)",
        );
    }
    if service.stop_signal.is_some() {
        warnings.service(
            name,
            "stop_signal is not translated: Kubernetes stops containers with SIGTERM",
        );
    }
    if service.develop.is_some() || service.novadev.host_build.is_some() {
        warnings.service(
            name,
            "the dev loop (develop.watch, x-novadev.host_build) runs on Docker only; on Kubernetes the built image is used as is",
        );
    }
    let host_ports: Vec<String> = service
        .ports
        .iter()
        .map(|p| match p.host_port {
            Some(hp) => format!("{}:{hp}", p.host_ip),
            None => p.host_ip.clone(),
        })
        .collect();
    if !host_ports.is_empty() {
        warnings.service(
            name,
            format!(
                "host ports ({}) are not published on Kubernetes: the Service `{}` carries the container ports (use kubectl port-forward from the host)",
                host_ports.join(", "),
                placement.name
            ),
        );
    }
    for (dep, d) in &service.depends_on {
        if d.restart {
            warnings.service(
                name,
                format!("depends_on.{dep}.restart is not translated: pods are not restarted when `{dep}` is"),
            );
        }
        if !d.required {
            warnings.service(
                name,
                format!("depends_on.{dep}.required: false is not translated: the pod waits for `{dep}` anyway"),
            );
        }
    }
}
