//! The dev loop: the daemon keeps watching the source tree after `up` and turns each coalesced
//! change into a rebuild, a sync or a restart of the service concerned.
//!
//! Rebuilds: at most one per service at a time; a change that arrives during a build queues at
//! most one follow-up build. Builds of different services run in parallel up to
//! `NOVADEV_BUILD_JOBS` (default 2). A failed build leaves the running container alone; a
//! successful one recreates that service only, waits for its readiness, and restarts the
//! dependents declared with `depends_on: {restart: true}`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};

use super::DaemonState;
use crate::orchestrator::UpOptions;
use crate::orchestrator::control::Control;
use crate::orchestrator::status::{Phase, ServiceStatus};
use crate::stack::model::WatchAction;
use crate::watch::Change;

#[derive(Debug, Default)]
struct Slot {
    running: bool,
    again: bool,
}

/// What the dev loop shares between its tasks.
pub struct DevLoop {
    slots: Mutex<HashMap<String, Slot>>,
    builds: Semaphore,
}

impl Default for DevLoop {
    fn default() -> Self {
        DevLoop::new()
    }
}

impl DevLoop {
    pub fn new() -> DevLoop {
        let jobs = std::env::var("NOVADEV_BUILD_JOBS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|n: &usize| *n > 0)
            .unwrap_or(2);
        DevLoop {
            slots: Mutex::new(HashMap::new()),
            builds: Semaphore::new(jobs),
        }
    }
}

/// Consume changes from the watcher until the channel closes.
pub async fn run(state: Arc<DaemonState>, mut changes: mpsc::Receiver<Change>) {
    while let Some(change) = changes.recv().await {
        tracing::info!(service = %change.service, action = ?change.action, files = change.paths.len(), "change");
        match change.action {
            WatchAction::Rebuild => request_rebuild(&state, &change.service),
            WatchAction::Restart => {
                let state = state.clone();
                tokio::spawn(async move {
                    let Some(stack) = state.stack.borrow().clone() else {
                        return;
                    };
                    let _op = state.op_lock.lock().await;
                    if let Err(e) = state
                        .orchestrator
                        .control(
                            &stack,
                            &change.service,
                            Control::Restart,
                            Duration::from_secs(120),
                        )
                        .await
                    {
                        tracing::warn!(service = %change.service, error = %e, "restart on change failed");
                    }
                });
            }
            WatchAction::Sync | WatchAction::SyncRestart | WatchAction::SyncExec => {
                let state = state.clone();
                tokio::spawn(async move {
                    let Some(stack) = state.stack.borrow().clone() else {
                        return;
                    };
                    let Some(rule) = change.rule else { return };
                    if let Err(e) = state
                        .orchestrator
                        .sync(&stack, &change.service, rule, &change.paths)
                        .await
                    {
                        state.orchestrator.board().output(
                            &change.service,
                            "sync",
                            format!("sync failed: {e}"),
                        );
                        tracing::warn!(service = %change.service, error = %e, "sync failed");
                    }
                });
            }
        }
    }
}

/// Start a rebuild of `service`, or queue one follow-up if one is running.
fn request_rebuild(state: &Arc<DaemonState>, service: &str) {
    {
        let mut slots = state
            .devloop
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let slot = slots.entry(service.to_string()).or_default();
        if slot.running {
            slot.again = true;
            return;
        }
        slot.running = true;
    }
    let state = state.clone();
    let service = service.to_string();
    tokio::spawn(async move {
        loop {
            if let Err(e) = rebuild(&state, &service).await {
                tracing::warn!(service = %service, error = %e, "rebuild failed");
            }
            let mut slots = state
                .devloop
                .slots
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let slot = slots.entry(service.clone()).or_default();
            if slot.again {
                slot.again = false;
                continue;
            }
            slot.running = false;
            break;
        }
    });
}

/// Rebuild one service and, when the build succeeds, replace its container and restart the
/// dependents that asked for it. Returns the service's status afterwards.
pub async fn rebuild(state: &Arc<DaemonState>, service: &str) -> Result<ServiceStatus, String> {
    let Some(stack) = state.stack.borrow().clone() else {
        return Err("the daemon has no stack yet; run `novadev up` first".into());
    };
    if !stack.services.contains_key(service) {
        return Err(format!(
            "no service `{service}` in project `{}`",
            stack.name
        ));
    }
    let svc = &stack.services[service];
    if svc.build.is_none() && svc.novadev.host_build.is_none() {
        return Err(format!(
            "service `{service}` has nothing to build (no build: or x-novadev.host_build)"
        ));
    }
    {
        let _permit = state
            .devloop
            .builds
            .acquire()
            .await
            .map_err(|e| e.to_string())?;
        if state
            .orchestrator
            .rebuild_image(&stack, service)
            .await
            .is_err()
        {
            return state
                .orchestrator
                .board()
                .get(service)
                .ok_or_else(|| format!("service `{service}` vanished"));
        }
    }
    let _op = state.op_lock.lock().await;
    let options = UpOptions {
        services: vec![service.to_string()],
        wait_timeout: Duration::from_secs(300),
        build: false,
    };
    state
        .orchestrator
        .up(stack.clone(), &options)
        .await
        .map_err(|e| e.to_string())?;
    let recreated = state
        .orchestrator
        .board()
        .get(service)
        .is_some_and(|s| s.phase == Phase::Ready || s.phase == Phase::Completed);
    if recreated {
        for (name, dependent) in &stack.services {
            if dependent.depends_on.get(service).is_some_and(|d| d.restart) {
                let _ = state
                    .orchestrator
                    .control(&stack, name, Control::Restart, Duration::from_secs(120))
                    .await;
            }
        }
    }
    state
        .orchestrator
        .board()
        .get(service)
        .ok_or_else(|| format!("service `{service}` vanished"))
}
