//! The Kubernetes runtime's errors: one sentence each, naming the object, context or file.

use std::path::PathBuf;
use std::time::Duration;

/// Turning a stack into manifests failed (bad `x-novadev.k8s`, an unreadable bind-mounted file…).
/// These are input errors: the CLI exits 2 for them.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{scope}: {message}")]
    Settings { scope: String, message: String },
    #[error("{what} `{name}` cannot be a Kubernetes name: {reason}")]
    Name {
        what: &'static str,
        name: String,
        reason: String,
    },
    #[error("service `{service}`: reading {path} (bind-mounted at {target}): {source}")]
    File {
        service: String,
        path: PathBuf,
        target: String,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {kind} `{name}`: {message}")]
    Yaml {
        kind: &'static str,
        name: String,
        message: String,
    },
    #[error("writing {path}: {source}")]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Talking to a cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Key(#[from] crate::secrets::SecretError),
    #[error("reading {path}: {source}")]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{source} (applied before it: {})", applied.join(", "))]
    Partial {
        applied: Vec<String>,
        source: Box<K8sError>,
    },
    #[error("no usable kubeconfig: {message}")]
    Kubeconfig { message: String },
    #[error("kubeconfig context `{context}` does not exist (known: {})", if known.is_empty() { "none".to_string() } else { known.join(", ") })]
    UnknownContext { context: String, known: Vec<String> },
    #[error("cluster at {server} is unreachable: {message}")]
    Unreachable { server: String, message: String },
    #[error("the API server rejected {kind} `{object}`: {message}")]
    Rejected {
        kind: String,
        /// `namespace/name`, or the name of a cluster-wide object.
        object: String,
        message: String,
        /// The HTTP status (422 for an invalid object).
        code: u16,
    },
    #[error("{action} {kind} `{object}`: {message}")]
    Api {
        action: &'static str,
        kind: String,
        object: String,
        message: String,
    },
    #[error("service `{service}` failed: {reason}")]
    ServiceFailed { service: String, reason: String },
    #[error("not ready after {}s: {}", waited.as_secs(), pending.join(", "))]
    Timeout {
        waited: Duration,
        /// `service (state: detail)` for each service still not there.
        pending: Vec<String>,
    },
    #[error("service `{service}` has no pod to read logs from")]
    NoPod { service: String },
    #[error(
        "service `{service}` has no Deployment or StatefulSet to restart (a one-shot Job runs again with `up --k8s`)"
    )]
    NothingToRestart { service: String },
    #[error("unknown service `{service}` (known: {})", known.join(", "))]
    UnknownService { service: String, known: Vec<String> },
}
