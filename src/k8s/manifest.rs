//! One rendered Kubernetes object, typed (k8s-openapi), with what the writer and the applier need
//! to know about it: kind, name, namespace, its place in the apply order, its YAML.

use std::path::Path;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::discovery::ApiResource;

use crate::k8s::error::RenderError;

#[derive(Debug, Clone, PartialEq)]
pub enum Manifest {
    Namespace(Namespace),
    ServiceAccount(ServiceAccount),
    Role(Role),
    RoleBinding(RoleBinding),
    ConfigMap(ConfigMap),
    Secret(Secret),
    PersistentVolumeClaim(PersistentVolumeClaim),
    Service(Service),
    StatefulSet(StatefulSet),
    Deployment(Deployment),
    Job(Job),
}

impl Manifest {
    pub fn kind(&self) -> &'static str {
        match self {
            Manifest::Namespace(_) => "Namespace",
            Manifest::ServiceAccount(_) => "ServiceAccount",
            Manifest::Role(_) => "Role",
            Manifest::RoleBinding(_) => "RoleBinding",
            Manifest::ConfigMap(_) => "ConfigMap",
            Manifest::Secret(_) => "Secret",
            Manifest::PersistentVolumeClaim(_) => "PersistentVolumeClaim",
            Manifest::Service(_) => "Service",
            Manifest::StatefulSet(_) => "StatefulSet",
            Manifest::Deployment(_) => "Deployment",
            Manifest::Job(_) => "Job",
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Manifest::Namespace(o) => &o.metadata,
            Manifest::ServiceAccount(o) => &o.metadata,
            Manifest::Role(o) => &o.metadata,
            Manifest::RoleBinding(o) => &o.metadata,
            Manifest::ConfigMap(o) => &o.metadata,
            Manifest::Secret(o) => &o.metadata,
            Manifest::PersistentVolumeClaim(o) => &o.metadata,
            Manifest::Service(o) => &o.metadata,
            Manifest::StatefulSet(o) => &o.metadata,
            Manifest::Deployment(o) => &o.metadata,
            Manifest::Job(o) => &o.metadata,
        }
    }

    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// `None` for cluster-wide objects (namespaces).
    pub fn namespace(&self) -> Option<&str> {
        self.metadata().namespace.as_deref()
    }

    /// The novadev service an object belongs to (its `dev.novadev.service` label).
    pub fn service(&self) -> Option<&str> {
        self.metadata()
            .labels
            .as_ref()
            .and_then(|l| l.get(crate::k8s::labels::SERVICE))
            .map(String::as_str)
    }

    /// `namespace/name`, or the name of a cluster-wide object.
    pub fn object_ref(&self) -> String {
        match self.namespace() {
            Some(ns) => format!("{ns}/{}", self.name()),
            None => self.name().to_string(),
        }
    }

    /// Apply order: namespaces first, then what pods refer to (service accounts and their rights,
    /// config, claims, Services), then the workloads. `kubectl apply -f DIR` follows the file
    /// names, which start with this rank.
    pub fn rank(&self) -> u8 {
        match self {
            Manifest::Namespace(_) => 0,
            Manifest::ServiceAccount(_) => 1,
            Manifest::Role(_) => 2,
            Manifest::RoleBinding(_) => 3,
            Manifest::ConfigMap(_) => 4,
            Manifest::Secret(_) => 5,
            Manifest::PersistentVolumeClaim(_) => 6,
            Manifest::Service(_) => 7,
            Manifest::StatefulSet(_) => 8,
            Manifest::Deployment(_) => 8,
            Manifest::Job(_) => 8,
        }
    }

    /// Total order of the output: by rank, namespace, kind, name.
    pub fn sort_key(&self) -> (u8, String, &'static str, String) {
        (
            self.rank(),
            self.namespace().unwrap_or_default().to_string(),
            self.kind(),
            self.name().to_string(),
        )
    }

    /// The file this object is written to by `render -o DIR`.
    pub fn file_name(&self) -> String {
        let kind = self.kind().to_lowercase();
        match self.namespace() {
            Some(ns) => format!("{}-{kind}-{ns}-{}.yaml", self.rank(), self.name()),
            None => format!("{}-{kind}-{}.yaml", self.rank(), self.name()),
        }
    }

    /// The API resource (group, version, plural) the object is served as.
    pub fn api_resource(&self) -> ApiResource {
        match self {
            Manifest::Namespace(_) => ApiResource::erase::<Namespace>(&()),
            Manifest::ServiceAccount(_) => ApiResource::erase::<ServiceAccount>(&()),
            Manifest::Role(_) => ApiResource::erase::<Role>(&()),
            Manifest::RoleBinding(_) => ApiResource::erase::<RoleBinding>(&()),
            Manifest::ConfigMap(_) => ApiResource::erase::<ConfigMap>(&()),
            Manifest::Secret(_) => ApiResource::erase::<Secret>(&()),
            Manifest::PersistentVolumeClaim(_) => ApiResource::erase::<PersistentVolumeClaim>(&()),
            Manifest::Service(_) => ApiResource::erase::<Service>(&()),
            Manifest::StatefulSet(_) => ApiResource::erase::<StatefulSet>(&()),
            Manifest::Deployment(_) => ApiResource::erase::<Deployment>(&()),
            Manifest::Job(_) => ApiResource::erase::<Job>(&()),
        }
    }

    /// The object as JSON (apiVersion and kind included), the body of a server-side apply.
    pub fn to_json(&self) -> Result<serde_json::Value, RenderError> {
        let result = match self {
            Manifest::Namespace(o) => serde_json::to_value(o),
            Manifest::ServiceAccount(o) => serde_json::to_value(o),
            Manifest::Role(o) => serde_json::to_value(o),
            Manifest::RoleBinding(o) => serde_json::to_value(o),
            Manifest::ConfigMap(o) => serde_json::to_value(o),
            Manifest::Secret(o) => serde_json::to_value(o),
            Manifest::PersistentVolumeClaim(o) => serde_json::to_value(o),
            Manifest::Service(o) => serde_json::to_value(o),
            Manifest::StatefulSet(o) => serde_json::to_value(o),
            Manifest::Deployment(o) => serde_json::to_value(o),
            Manifest::Job(o) => serde_json::to_value(o),
        };
        result.map_err(|e| RenderError::Yaml {
            kind: self.kind(),
            name: self.object_ref(),
            message: format!("as JSON: {e}"),
        })
    }

    /// The object as one YAML document (without the `---` separator).
    pub fn to_yaml(&self) -> Result<String, RenderError> {
        let result = match self {
            Manifest::Namespace(o) => serde_saphyr::to_string(o),
            Manifest::ServiceAccount(o) => serde_saphyr::to_string(o),
            Manifest::Role(o) => serde_saphyr::to_string(o),
            Manifest::RoleBinding(o) => serde_saphyr::to_string(o),
            Manifest::ConfigMap(o) => serde_saphyr::to_string(o),
            Manifest::Secret(o) => serde_saphyr::to_string(o),
            Manifest::PersistentVolumeClaim(o) => serde_saphyr::to_string(o),
            Manifest::Service(o) => serde_saphyr::to_string(o),
            Manifest::StatefulSet(o) => serde_saphyr::to_string(o),
            Manifest::Deployment(o) => serde_saphyr::to_string(o),
            Manifest::Job(o) => serde_saphyr::to_string(o),
        };
        result.map_err(|e| RenderError::Yaml {
            kind: self.kind(),
            name: self.object_ref(),
            message: e.to_string(),
        })
    }
}

/// All objects as one multi-document YAML stream, in the given (sorted) order.
pub fn to_yaml_stream(manifests: &[Manifest]) -> Result<String, RenderError> {
    let mut out = String::new();
    for manifest in manifests {
        out.push_str("---\n");
        out.push_str(&manifest.to_yaml()?);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// Writes one file per object into `dir` (created if needed); returns the files written.
pub fn write_dir(
    manifests: &[Manifest],
    dir: &Path,
) -> Result<Vec<std::path::PathBuf>, RenderError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RenderError::Output { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = Vec::with_capacity(manifests.len());
    for manifest in manifests {
        let path = dir.join(manifest.file_name());
        std::fs::write(&path, manifest.to_yaml()?).map_err(io(&path))?;
        written.push(path);
    }
    Ok(written)
}
