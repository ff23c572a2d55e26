//! novadev: bring a Compose stack (by default the Nova platform) up on a local Docker engine, in
//! dependency order, gated on real readiness; keep it running behind a per-project daemon.
//!
//! The map of the modules, what each owns and must not do, and the flow of an `up` and of a saved
//! file are in ARCHITECTURE.md at the root of the repository.

// No panic on what a user, a file, a socket or the engine can cause: the compiler checks it.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod board;
pub mod build;
pub mod cli;
pub mod client;
pub mod connection;
pub mod daemon;
pub mod engine;
pub mod k8s;
pub mod ops;
pub mod orchestrator;
pub mod paths;
pub mod presentation;
pub mod protocol;
pub mod readiness;
pub mod secrets;
pub mod stack;
pub mod target;
pub mod tui;
pub mod watch;
