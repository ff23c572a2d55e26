//! The Kubernetes runtime: the same stack, on a cluster.
//!
//! - `render`: stack → typed manifests (pure; `novadev k8s render`).
//! - `cluster`: connecting (kubeconfig, context) and the errors of talking to a server.
//! - `apply`, `wait`, `state`, `logs`, `restart`, `cleanup`: server-side apply (field manager `novadev`),
//!   waiting on conditions, per-service states for the status board, pod logs, and removing what
//!   novadev created, found by label.
//!
//! Knows nothing of Docker, the daemon or the board: `state::ServiceState` is its own small
//! value, for the caller to map.

pub mod apply;
pub mod cleanup;
pub mod cluster;
pub mod error;
pub mod labels;
pub mod logs;
pub mod manifest;
pub mod names;
pub mod render;
pub mod restart;
pub mod settings;
pub mod state;
pub mod wait;

pub use apply::{ApplyReport, Outcome, apply, apply_rendered, key_secrets};
pub use cleanup::{CleanupOptions, CleanupReport, cleanup};
pub use cluster::{Cluster, ConnectOptions};
pub use error::{K8sError, RenderError};
pub use logs::{LogLine, LogOptions, logs};
pub use manifest::Manifest;
pub use render::{RenderOptions, Rendered, Warning, render};
pub use restart::restart;
pub use state::{Phase, ServiceState, read_states};
pub use wait::wait_ready;
