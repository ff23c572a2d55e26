//! `x-novadev.k8s`: what a Compose file cannot say about Kubernetes. The loader keeps the mapping
//! as written (`ProjectExt::k8s`, `ServiceExt::k8s`); this module gives it types and checks it, so
//! a typo is an error naming the service and the key, never a setting silently ignored.
//!
//! ```yaml
//! x-novadev:
//!   k8s:
//!     namespace: nova                       # default: the project name
//!     namespaces: {Redis: nova-redis}       # per display tier (x-novadev.tiers / tier)
//!     registry: registry.example.com/nova   # where built images are pushed, prefix of their name
//!     wait_image: registry.k8s.io/kubectl:v1.33.0
//!     storage: {size: 1Gi, class: standard} # defaults for every claim
//!     security: {run_as_non_root: true}     # defaults for every service
//! services:
//!   web:
//!     x-novadev:
//!       k8s:
//!         kind: deployment                  # or statefulset / job: overrides the inference
//!         replicas: 2
//!         resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 256Mi}}
//!         security: {run_as_non_root: true, run_as_user: 10001,
//!                    read_only_root_filesystem: true, drop_all: true}
//!         storage: {size: 5Gi, class: fast}
//!         probes: {port: 8080, readiness: /health/ready, liveness: /health/live}
//!         grpc_ports: [50051]
//!         secret_env: [DATABASE_URL]        # forced into the Secret
//! ```

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;
use serde::Deserialize;

use crate::k8s::error::RenderError;

/// Project-level `x-novadev.k8s`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProjectSettings {
    /// The namespace of every service not placed elsewhere; default: the project name.
    pub namespace: Option<String>,
    /// Namespace per display tier (tier name → namespace).
    #[serde(default)]
    pub namespaces: BTreeMap<String, String>,
    /// Registry (and path) that images built by novadev are pushed to; their names get it as a
    /// prefix. Without it they must be loaded into the cluster's nodes.
    pub registry: Option<String>,
    /// The image of the initContainers that wait for dependencies: its entrypoint must be
    /// `kubectl` ≥ 1.31 (for `wait --for=create`).
    pub wait_image: Option<String>,
    /// Defaults for every claim.
    pub storage: Option<Storage>,
    /// Defaults for every service's container.
    pub security: Option<Security>,
}

/// Service-level `x-novadev.k8s`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettings {
    pub namespace: Option<String>,
    pub kind: Option<WorkloadKind>,
    pub replicas: Option<i32>,
    pub resources: Option<Resources>,
    pub security: Option<Security>,
    pub storage: Option<Storage>,
    pub probes: Option<HttpProbes>,
    /// Container ports that speak gRPC (besides 50051–50059, recognised by number).
    #[serde(default)]
    pub grpc_ports: Vec<u16>,
    /// Environment variables that go into the Secret whatever their name.
    #[serde(default)]
    pub secret_env: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    Deployment,
    #[serde(alias = "stateful_set")]
    Statefulset,
    Job,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default)]
    pub requests: BTreeMap<String, String>,
    #[serde(default)]
    pub limits: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Security {
    pub run_as_non_root: Option<bool>,
    pub run_as_user: Option<i64>,
    pub run_as_group: Option<i64>,
    pub fs_group: Option<i64>,
    pub read_only_root_filesystem: Option<bool>,
    /// Drop every Linux capability (and forbid privilege escalation).
    pub drop_all: Option<bool>,
}

impl Security {
    /// Service settings over project defaults, field by field.
    pub fn over(&self, defaults: &Security) -> Security {
        Security {
            run_as_non_root: self.run_as_non_root.or(defaults.run_as_non_root),
            run_as_user: self.run_as_user.or(defaults.run_as_user),
            run_as_group: self.run_as_group.or(defaults.run_as_group),
            fs_group: self.fs_group.or(defaults.fs_group),
            read_only_root_filesystem: self
                .read_only_root_filesystem
                .or(defaults.read_only_root_filesystem),
            drop_all: self.drop_all.or(defaults.drop_all),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    pub size: Option<String>,
    pub class: Option<String>,
}

/// HTTP probes on a container port: the readiness one replaces the healthcheck's exec probe.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpProbes {
    pub port: u16,
    pub readiness: Option<String>,
    pub liveness: Option<String>,
}

/// Parses the project's settings (absent = defaults).
pub fn project(value: Option<&serde_json::Value>) -> Result<ProjectSettings, RenderError> {
    let settings: ProjectSettings = match value {
        None | Some(serde_json::Value::Null) => ProjectSettings::default(),
        Some(v) => ProjectSettings::deserialize(v).map_err(|e| RenderError::Settings {
            scope: "x-novadev.k8s".into(),
            message: e.to_string(),
        })?,
    };
    let scope = "x-novadev.k8s";
    if let Some(storage) = &settings.storage {
        check_storage(scope, storage)?;
    }
    Ok(settings)
}

/// Parses one service's settings (absent = defaults).
pub fn service(
    name: &str,
    value: Option<&serde_json::Value>,
) -> Result<ServiceSettings, RenderError> {
    let scope = format!("service `{name}`: x-novadev.k8s");
    let settings: ServiceSettings = match value {
        None | Some(serde_json::Value::Null) => ServiceSettings::default(),
        Some(v) => ServiceSettings::deserialize(v).map_err(|e| RenderError::Settings {
            scope: scope.clone(),
            message: e.to_string(),
        })?,
    };
    if let Some(replicas) = settings.replicas
        && replicas < 0
    {
        return Err(RenderError::Settings {
            scope,
            message: format!("replicas must be 0 or more, got {replicas}"),
        });
    }
    if let Some(resources) = &settings.resources {
        for (which, map) in [
            ("requests", &resources.requests),
            ("limits", &resources.limits),
        ] {
            for (resource, quantity) in map {
                if !is_quantity(quantity) {
                    return Err(RenderError::Settings {
                        scope,
                        message: format!(
                            "resources.{which}.{resource}: `{quantity}` is not a Kubernetes quantity (e.g. 100m, 128Mi, 1)"
                        ),
                    });
                }
            }
        }
    }
    if let Some(storage) = &settings.storage {
        check_storage(&scope, storage)?;
    }
    if let Some(probes) = &settings.probes {
        for path in [&probes.readiness, &probes.liveness].into_iter().flatten() {
            if !path.starts_with('/') {
                return Err(RenderError::Settings {
                    scope,
                    message: format!("probes: `{path}` must be an absolute HTTP path"),
                });
            }
        }
    }
    Ok(settings)
}

fn check_storage(scope: &str, storage: &Storage) -> Result<(), RenderError> {
    match &storage.size {
        Some(size) if !is_quantity(size) => Err(RenderError::Settings {
            scope: scope.to_string(),
            message: format!("storage.size: `{size}` is not a Kubernetes quantity (e.g. 1Gi)"),
        }),
        _ => Ok(()),
    }
}

/// Kubernetes' quantity syntax (a number with an optional SI, binary or exponent suffix).
pub fn is_quantity(text: &str) -> bool {
    static QUANTITY: OnceLock<Option<Regex>> = OnceLock::new();
    QUANTITY
        .get_or_init(|| {
            Regex::new(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$")
                .ok()
        })
        .as_ref()
        .is_some_and(|re| re.is_match(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_errors_naming_the_service() {
        let value = serde_json::json!({"replica": 2});
        let err = service("web", Some(&value)).unwrap_err().to_string();
        assert!(err.contains("service `web`"), "{err}");
        assert!(err.contains("replica"), "{err}");
    }

    #[test]
    fn quantities_are_checked() {
        assert!(
            is_quantity("100m") && is_quantity("128Mi") && is_quantity("1") && is_quantity("1.5Gi")
        );
        assert!(!is_quantity("128MB") && !is_quantity("") && !is_quantity("lots"));
        let value = serde_json::json!({"resources": {"limits": {"memory": "128MB"}}});
        let err = service("web", Some(&value)).unwrap_err().to_string();
        assert!(err.contains("resources.limits.memory"), "{err}");
    }

    #[test]
    fn service_security_overrides_project_defaults_field_by_field() {
        let defaults = Security {
            run_as_non_root: Some(true),
            drop_all: Some(true),
            ..Security::default()
        };
        let own = Security {
            drop_all: Some(false),
            run_as_user: Some(10001),
            ..Security::default()
        };
        let merged = own.over(&defaults);
        assert_eq!(merged.run_as_non_root, Some(true));
        assert_eq!(merged.drop_all, Some(false));
        assert_eq!(merged.run_as_user, Some(10001));
    }
}
