//! The dev loop, in one place: what the watcher found, a `rebuild` asked for over the API, the
//! restart of dependents declared with `depends_on: {restart: true}`, and `develop.watch` syncs.
//!
//! Rebuilds go through the service's queue on the board: one build at a time, and every request
//! that arrives during a build is served by one follow-up build. Builds of different services
//! run in parallel up to `NOVADEV_BUILD_JOBS`. A failed build leaves the running container alone
//! (the status says `build_failed` with the first compiler error); a successful one replaces
//! that service's container only (through the same `up` as any other), waits for its readiness,
//! then restarts the dependents that asked for it. Replacements, restarts and syncs take the
//! operations lock like every other change to containers.
//!
//! Crash loops are the engine's: restart policies are set on the containers, so they hold with
//! no daemon running; the board shows them from the engine's events (`orchestrator::events`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{CONTROL_TIMEOUT, OpError, Operations};
use crate::board::{Began, BuildTicket, ContainerRef, Transition};
use crate::orchestrator::OrchestratorError;
use crate::orchestrator::image::{build_image, buildable};
use crate::protocol::{
    LoopKind, LoopOutcome, LoopRecord, LoopTrigger, ServiceFailure, ServiceStatus, UpOptions, Verb,
    now_ms,
};
use crate::stack::model::{Stack, WatchAction};
use crate::watch::Change;

/// How long a replaced container gets to become ready.
const REPLACE_TIMEOUT: Duration = Duration::from_secs(300);

mod live;

/// Consume changes from the watcher until the channel closes.
pub async fn run(ops: Arc<Operations>, mut changes: mpsc::Receiver<Change>) {
    while let Some(change) = changes.recv().await {
        tracing::info!(service = %change.service, action = ?change.action, files = change.paths.len(), first = ?change.paths.first(), "change");
        let ops2 = ops.clone();
        let began = Began {
            at_ms: change.first_event_ms,
            trigger: LoopTrigger::FileChange,
        };
        match change.action {
            WatchAction::Rebuild => {
                ops.tasks.spawn(async move {
                    if let Err(e) = rebuild(&ops2, &change.service, began).await {
                        tracing::warn!(service = %change.service, error = %e, "rebuild failed");
                    }
                });
            }
            WatchAction::Restart => {
                ops.tasks.spawn(async move {
                    let Some(stack) = ops2.stack() else { return };
                    if let Err(e) = restart(&ops2, &stack, &change.service, began).await {
                        tracing::warn!(service = %change.service, error = %e, "restart on change failed");
                    }
                });
            }
            WatchAction::Sync | WatchAction::SyncRestart | WatchAction::SyncExec => {
                ops.tasks.spawn(async move {
                    let Some(rule) = change.rule else { return };
                    if let Err(e) = sync(&ops2, &change.service, rule, &change.paths).await {
                        ops2.board()
                            .output(&change.service, "sync", format!("sync failed: {e}"));
                        tracing::warn!(service = %change.service, error = %e, "sync failed");
                    }
                });
            }
        }
    }
}

/// Rebuild `service` through its queue and return its status once the build serving this
/// request (and, when it succeeded, the replacement) is over. `began`: when and why it was asked
/// for, for the history.
pub async fn rebuild(
    ops: &Arc<Operations>,
    service: &str,
    began: Began,
) -> Result<ServiceStatus, OpError> {
    let stack = ops.stack().ok_or(OpError::NoStack)?;
    if !stack.services.contains_key(service) {
        return Err(OrchestratorError::UnknownService {
            service: service.to_string(),
            project: stack.name.clone(),
        }
        .into());
    }
    if !buildable(&stack, service) {
        return Err(OrchestratorError::NothingToBuild {
            service: service.to_string(),
        }
        .into());
    }
    let board = ops.board().clone();
    let mut request = board.request_build(service, began);
    if let BuildTicket::Run {
        mut upto,
        mut began,
    } = request.ticket
    {
        // This request runs the queue: build, then once more for whatever arrived meanwhile.
        let ops = ops.clone();
        let name = service.to_string();
        ops.tasks.clone().spawn(async move {
            loop {
                if let Err(e) = build_and_replace(&ops, &name, began).await {
                    tracing::warn!(service = %name, error = %e, "rebuild failed");
                }
                match ops.board().build_done(&name, upto) {
                    Some((next, next_began)) => (upto, began) = (next, next_began),
                    None => break,
                }
            }
        });
    }
    let generation = request.generation;
    let served = request
        .completed
        .wait_for(|(done, _)| *done >= generation)
        .await
        .map_err(|_| OpError::ShuttingDown)?
        .1
        .clone();
    // The status right after the build that served this request, not after a later one.
    Ok(served
        .or_else(|| board.get(service))
        .unwrap_or_else(|| ServiceStatus::new(service)))
}

/// One build of `service` with the stack loaded now; on success, its container replaced and its
/// `restart: true` dependents restarted. The turn goes into the history.
async fn build_and_replace(
    ops: &Arc<Operations>,
    service: &str,
    began: Began,
) -> Result<(), OpError> {
    let stack = ops.stack().ok_or(OpError::NoStack)?;
    let Some(svc) = stack.services.get(service) else {
        return Ok(());
    };
    let image = svc.image_ref(&stack.name);
    let mut turn = Turn::new(service, LoopKind::Rebuild, began);
    if let Some(container) = live_target(ops, &stack, service) {
        match live::update(ops, &stack, service, &container, &image, turn).await {
            Ok(()) => return Ok(()),
            // Not possible in this container (read-only, no shell, …): the usual way instead.
            Err(back) => {
                tracing::info!(service, reason = %back.reason, "live update not possible; replacing the container");
                ops.board().output(
                    service,
                    "build",
                    format!(
                        "live update not possible ({}); replacing the container",
                        back.reason
                    ),
                );
                turn = back.turn;
            }
        }
    }
    {
        let _permit = ops
            .builds
            .acquire()
            .await
            .map_err(|_| OpError::ShuttingDown)?;
        turn.work_starts();
        match build_image(ops.engine(), ops.board(), &stack, service, &image, None).await {
            Ok(built) => {
                turn.build_ms = Some(built.command_ms);
                turn.package_ms = built.package_ms;
            }
            Err(failure) => {
                let error = match failure {
                    ServiceFailure::Build { error } => error,
                    other => other.to_string(),
                };
                build_failed(ops, service, turn, error);
                return Ok(());
            }
        }
    }
    let _op = ops.op_lock.lock().await;
    let options = UpOptions {
        services: vec![service.to_string()],
        wait_timeout: REPLACE_TIMEOUT,
        build: false,
    };
    let replacing = now_ms();
    let outcome = ops.orchestrator.up(stack.clone(), &options).await;
    let status = ops.board().get(service);
    let ready = status.as_ref().is_some_and(|s| s.phase.is_good());
    ops.record_turn(turn.replaced(replacing, status.as_ref(), outcome.as_ref().err()));
    outcome?;
    if ready {
        restart_dependents(ops, &stack, service, began).await;
    }
    Ok(())
}

/// A failed build: the service says so (its container keeps running) and the turn is recorded.
fn build_failed(ops: &Operations, service: &str, turn: Turn, error: String) {
    ops.board().apply(
        service,
        Transition::BuildFailed {
            error: error.clone(),
        },
    );
    ops.record_turn(turn.end(LoopOutcome::BuildFailed, Some(error), None));
}

/// The running container of a live host build (`x-novadev.host_build.live`), if `service` has one.
fn live_target(ops: &Operations, stack: &Stack, service: &str) -> Option<ContainerRef> {
    let live = crate::orchestrator::image::on_host(stack, service)
        && stack
            .services
            .get(service)?
            .novadev
            .host_build
            .as_ref()?
            .live;
    let status = ops.board().get(service)?;
    if !live || !status.phase.is_good() || status.phase == crate::protocol::Phase::Completed {
        return None;
    }
    Some(ContainerRef {
        id: status.container_id?,
        name: status.container_name?,
    })
}

/// Restart `service` (under the operations lock) and keep the turn in the history.
pub async fn restart(
    ops: &Arc<Operations>,
    stack: &Stack,
    service: &str,
    began: Began,
) -> Result<ServiceStatus, OpError> {
    let _op = ops.op_lock.lock().await;
    restart_locked(ops, stack, service, began).await
}

async fn restart_locked(
    ops: &Operations,
    stack: &Stack,
    service: &str,
    began: Began,
) -> Result<ServiceStatus, OpError> {
    let mut turn = Turn::new(service, LoopKind::Restart, began);
    turn.work_starts();
    let replacing = now_ms();
    let outcome = ops
        .orchestrator
        .control(stack, service, Verb::Restart, CONTROL_TIMEOUT)
        .await;
    let status = ops.board().get(service);
    ops.record_turn(turn.replaced(replacing, status.as_ref(), outcome.as_ref().err()));
    Ok(outcome?)
}

/// A turn of the dev loop being timed.
struct Turn {
    service: String,
    kind: LoopKind,
    began: Began,
    work_ms: u64,
    build_ms: Option<u64>,
    package_ms: Option<u64>,
}

impl Turn {
    fn new(service: &str, kind: LoopKind, began: Began) -> Turn {
        Turn {
            service: service.to_string(),
            kind,
            began,
            work_ms: began.at_ms,
            build_ms: None,
            package_ms: None,
        }
    }

    /// The debounce and the queue are over: the build (or restart) starts now.
    fn work_starts(&mut self) {
        self.work_ms = now_ms();
    }

    /// The record once the container was replaced (or restarted) from `replacing` (Unix ms) on:
    /// the service's status afterwards tells when it started and became ready.
    fn replaced(
        self,
        replacing: u64,
        status: Option<&ServiceStatus>,
        error: Option<&impl std::fmt::Display>,
    ) -> LoopRecord {
        let started = status
            .and_then(|s| s.started_ms)
            .filter(|t| *t >= replacing);
        let ready_at = status
            .filter(|s| s.phase.is_good())
            .and_then(|s| s.ready_ms)
            .filter(|t| *t >= replacing);
        let replace_ms = started.map(|t| t - replacing);
        let ready_ms = match (started, ready_at) {
            (Some(s), Some(r)) => Some(r.saturating_sub(s)),
            _ => None,
        };
        let (outcome, why) = match (ready_at, error) {
            (Some(_), None) => (LoopOutcome::Ready, None),
            (_, Some(e)) => (LoopOutcome::Failed, Some(e.to_string())),
            (None, None) => (LoopOutcome::Failed, status.and_then(|s| s.detail.clone())),
        };
        let mut record = self.end(outcome, why, ready_at);
        record.replace_ms = replace_ms;
        record.ready_ms = ready_ms;
        record
    }

    fn end(self, outcome: LoopOutcome, error: Option<String>, ended_ms: Option<u64>) -> LoopRecord {
        let end = ended_ms.unwrap_or_else(now_ms);
        LoopRecord {
            service: self.service,
            kind: self.kind,
            trigger: self.began.trigger,
            began_ms: self.began.at_ms,
            wait_ms: self.work_ms.saturating_sub(self.began.at_ms),
            build_ms: self.build_ms,
            package_ms: self.package_ms,
            replace_ms: None,
            ready_ms: None,
            total_ms: end.saturating_sub(self.began.at_ms),
            outcome,
            error,
        }
    }
}

/// Restart the services that declared `depends_on: {service: {restart: true}}`. The caller holds
/// the operations lock.
async fn restart_dependents(ops: &Operations, stack: &Stack, service: &str, began: Began) {
    for (name, dependent) in &stack.services {
        if dependent.depends_on.get(service).is_some_and(|d| d.restart)
            && let Err(e) = restart_locked(ops, stack, name, began).await
        {
            tracing::warn!(service = %name, error = %e, "restarting a dependent failed");
        }
    }
}

/// Why a sync could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("service `{service}` has no watch rule {rule}")]
    NoRule { service: String, rule: usize },
    #[error("service `{0}`: a sync rule needs a target")]
    NoTarget(String),
    #[error("service `{0}` has no running container to sync into")]
    NotRunning(String),
    #[error(transparent)]
    Op(#[from] OpError),
}

impl From<crate::engine::EngineError> for SyncError {
    fn from(e: crate::engine::EngineError) -> Self {
        SyncError::Op(OpError::Engine(e))
    }
}

/// Apply a `develop.watch` sync rule: copy the changed paths (relative to the rule's path)
/// under its target in the running container, remove the deleted ones, then restart or run the
/// rule's command for `sync+restart` / `sync+exec`.
pub async fn sync(
    ops: &Arc<Operations>,
    service: &str,
    rule: usize,
    paths: &[PathBuf],
) -> Result<usize, SyncError> {
    let stack = ops.stack().ok_or(OpError::NoStack)?;
    let Some(rule) = stack
        .services
        .get(service)
        .and_then(|s| s.develop.as_ref())
        .and_then(|d| d.watch.get(rule))
    else {
        return Err(SyncError::NoRule {
            service: service.to_string(),
            rule,
        });
    };
    let Some(target) = &rule.target else {
        return Err(SyncError::NoTarget(service.to_string()));
    };
    let _op = ops.op_lock.lock().await;
    let engine = ops.engine();
    let containers = engine.list_containers(&stack.name).await?;
    let Some(container) = containers
        .iter()
        .find(|c| c.service == service && c.is_running())
    else {
        return Err(SyncError::NotRunning(service.to_string()));
    };
    let (copies, removed) = sync_plan(&rule.path, target, paths);
    let copied = engine.copy_into(&container.id, &copies).await?;
    if !removed.is_empty() {
        let mut cmd = vec!["rm".to_string(), "-rf".to_string(), "--".to_string()];
        cmd.extend(removed.iter().cloned());
        engine
            .exec(&container.id, cmd, Duration::from_secs(10))
            .await?;
    }
    ops.board().output(
        service,
        "sync",
        format!(
            "synced {copied} file(s), removed {} into {target}",
            removed.len()
        ),
    );
    match rule.action {
        WatchAction::SyncRestart => {
            ops.orchestrator
                .control(&stack, service, Verb::Restart, CONTROL_TIMEOUT)
                .await
                .map_err(OpError::from)?;
        }
        WatchAction::SyncExec => {
            if let Some(cmd) = &rule.exec {
                let started = Instant::now();
                let out = engine
                    .exec(&container.id, cmd.clone(), Duration::from_secs(300))
                    .await?;
                for line in out.output.lines() {
                    ops.board().output(service, "exec", line);
                }
                ops.board().output(
                    service,
                    "exec",
                    format!(
                        "`{}` exited {} after {:.1}s",
                        cmd.join(" "),
                        out.exit_code,
                        started.elapsed().as_secs_f64()
                    ),
                );
            }
        }
        _ => {}
    }
    Ok(copied + removed.len())
}

/// Which changed paths to copy (host path → container path) and which to remove in the
/// container. Pure apart from asking whether each path is (still) a file.
fn sync_plan(
    rule_path: &std::path::Path,
    target: &str,
    paths: &[PathBuf],
) -> (Vec<(PathBuf, String)>, Vec<String>) {
    let mut copies = Vec::new();
    let mut removed = Vec::new();
    for path in paths {
        let rel = path.strip_prefix(rule_path).unwrap_or(path.as_path());
        let dest = if rel.as_os_str().is_empty() {
            target.to_string()
        } else {
            format!("{}/{}", target.trim_end_matches('/'), rel.display())
        };
        if path.is_file() {
            copies.push((path.clone(), dest));
        } else if !path.exists() {
            removed.push(dest);
        }
    }
    (copies, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synced_paths_land_under_the_target_and_deleted_ones_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("a")).unwrap();
        std::fs::write(src.join("a/x.txt"), "x").unwrap();
        let (copies, removed) = sync_plan(
            &src,
            "/app/src/",
            &[src.join("a/x.txt"), src.join("gone.txt"), src.join("a")],
        );
        assert_eq!(
            copies,
            vec![(src.join("a/x.txt"), "/app/src/a/x.txt".to_string())]
        );
        assert_eq!(removed, vec!["/app/src/gone.txt".to_string()]);
    }
}
