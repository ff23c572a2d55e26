//! novadev: bring a Compose stack (by default the Nova platform) up on a local Docker engine, in
//! dependency order, gated on real readiness; keep it running behind a per-project daemon.
//!
//! Modules by responsibility (see DESIGN.md): `stack` (files → model), `graph` (dependency DAG),
//! `engine` (the only Docker client), `build`, `readiness`, `orchestrator` (reconcile + status
//! board), `daemon` (API server), `client` (API client), `cli` (commands and output), `tui`
//! (the full-screen `status`).

pub mod build;
pub mod cli;
pub mod client;
pub mod connection;
pub mod daemon;
pub mod engine;
pub mod graph;
pub mod k8s;
pub mod orchestrator;
pub mod paths;
pub mod readiness;
pub mod secrets;
pub mod stack;
pub mod tui;
pub mod watch;
