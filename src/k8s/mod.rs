//! The Kubernetes runtime: the same stack, on a cluster.
//!
//! - `render`: stack → typed manifests (pure; `novadev k8s render`).
//! - `cluster`: connecting (kubeconfig, context) and the errors of talking to a server.
//! - `apply`, `wait`, `state`, `logs`, `cleanup`: server-side apply (field manager `novadev`),
//!   waiting on conditions, per-service states for the status board, pod logs, and removing what
//!   novadev created, found by label.
//!
//! Knows nothing of Docker, the daemon or the board: `state::ServiceState` is its own small
//! value, for the caller to map.

pub mod error;
pub mod labels;
pub mod manifest;
pub mod names;
pub mod render;
pub mod settings;

pub use error::{K8sError, RenderError};
pub use manifest::Manifest;
pub use render::{RenderOptions, Rendered, Warning, render};
