//! Live updates of a host-built service (`x-novadev.host_build.live: true`): after a successful
//! build the new artifact goes into the running container beside the old one, the container gets
//! SIGHUP, and the supervisor its image runs as entrypoint (`build::entrypoint`) restarts the
//! process with it. No image is packaged and no container replaced: what costs the engine most
//! (stopping, creating and starting a container, loading an image) is skipped.
//!
//! The image then lags the container until the next `up`, which sees the service's build inputs
//! changed and builds and replaces as usual. Where the container cannot take the artifact
//! (read-only root, no shell, stopped meanwhile) the caller falls back to building an image
//! and replacing the container.

use std::time::{Duration, Instant};

use super::{Operations, REPLACE_TIMEOUT, Turn};
use crate::board::{ContainerRef, Transition};
use crate::protocol::{ServiceFailure, Taken, now_ms};
use crate::readiness;
use crate::stack::model::Stack;

/// How long one exec waits, in the container, for the supervisor to take the new artifact and
/// then for the healthcheck to pass (past that, novadev's usual readiness wait takes over).
const TAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// Run in the container after the signal: wait (10 s at most) until the supervisor took the new
/// artifact (exit 3 if not), then run the healthcheck given as arguments every 20 ms until it
/// passes (exit 4 after 10 s). One exec instead of a round trip per check: the process is seen
/// ready within about 20 ms of being so.
const TAKE_AND_CHECK: &str = r#"next=$1; shift
i=0; while [ -e "$next" ]; do i=$((i+1)); [ "$i" -gt 1000 ] && exit 3; sleep 0.01; done
[ "$#" -eq 0 ] && exit 0
i=0; until "$@" >/dev/null 2>&1; do i=$((i+1)); [ "$i" -gt 500 ] && exit 4; sleep 0.02; done"#;

/// Why a live update did not happen, with the turn to go on with.
pub(super) struct Fallback {
    pub reason: String,
    pub turn: Turn,
}

/// Build `service` on the host and, on success, restart its process in `container` with the new
/// artifact, recording the turn. A failed build is recorded like any other; `Err` means the
/// container could not take the artifact, and nothing was recorded yet.
pub(super) async fn update(
    ops: &Operations,
    stack: &Stack,
    service: &str,
    container: &ContainerRef,
    image: &str,
    turn: Turn,
) -> Result<(), Fallback> {
    let Some(hb) = stack
        .services
        .get(service)
        .and_then(|s| s.novadev.host_build.clone())
    else {
        return Err(Fallback {
            reason: "no host build".into(),
            turn,
        });
    };
    let Some(turn) = compile(ops, stack, service, image, turn).await else {
        return Ok(());
    };
    let _op = ops.op_lock.lock().await;
    let replacing = now_ms();
    let checked = match hand_over(ops, &hb, container).await {
        Ok(checked) => checked,
        Err(reason) => return Err(Fallback { reason, turn }),
    };
    let board = ops.board();
    let status = board.get(service);
    board.apply(
        service,
        Transition::Started {
            container: container.clone(),
            image: image.to_string(),
            ports: status.map(|s| s.ports).unwrap_or_default(),
            taken: Taken::Restarted,
            fresh: true,
        },
    );
    let failure = settle(ops, stack, service, container, checked).await;
    let status = board.get(service);
    let began = turn.began;
    ops.record_turn(turn.replaced(replacing, status.as_ref(), failure.as_ref()));
    if failure.is_none() {
        super::restart_dependents(ops, stack, service, began).await;
    }
    Ok(())
}

/// The build command, recorded on the board and in the turn; the turn to go on with, or `None`
/// when the build failed (and was recorded) or the daemon is shutting down.
async fn compile(
    ops: &Operations,
    stack: &Stack,
    service: &str,
    image: &str,
    mut turn: Turn,
) -> Option<Turn> {
    let Ok(_permit) = ops.builds.acquire().await else {
        return None;
    };
    let board = ops.board();
    turn.work_starts();
    board.apply(
        service,
        Transition::BuildStarted {
            image: image.to_string(),
            on_host: true,
        },
    );
    let (on_line, on_progress) = crate::orchestrator::image::host_build_reporters(board, service);
    let compiled = crate::build::host_compile(stack, service, None, on_line, on_progress).await;
    board.apply(
        service,
        Transition::BuildFinished {
            error: compiled.as_ref().err().map(ToString::to_string),
        },
    );
    match compiled {
        Ok(ms) => {
            turn.build_ms = Some(ms);
            Some(turn)
        }
        Err(e) => {
            super::build_failed(ops, service, turn, e.to_string());
            None
        }
    }
}

/// Put the new artifact beside the running one, signal the supervisor, and wait in one exec until
/// it took the artifact and the healthcheck passes. `Ok(true)`: ready; `Ok(false)`: taken, not
/// ready yet; `Err`: the container cannot take it (nothing was signalled, or it did not move).
async fn hand_over(
    ops: &Operations,
    hb: &crate::stack::model::HostBuild,
    container: &ContainerRef,
) -> Result<bool, String> {
    let engine = ops.engine();
    let next = crate::build::next_path(hb);
    let details = engine
        .inspect(&container.id)
        .await
        .map_err(|e| e.to_string())?;
    // A container made before `live` was set runs the artifact itself, which SIGHUP would stop.
    if details.entrypoint != crate::build::entrypoint(hb) {
        return Err("the container does not run the live supervisor yet".to_string());
    }
    let check = readiness::probe_of(&details, None)
        .map(|p| p.command)
        .unwrap_or_default();
    let copied = engine
        .copy_into(&container.id, &[(hb.artifact.clone(), next.clone())])
        .await
        .map_err(|e| e.to_string())?;
    if copied != 1 {
        return Err(format!("{} could not be read", hb.artifact.display()));
    }
    engine
        .signal_container(&container.id, "SIGHUP")
        .await
        .map_err(|e| e.to_string())?;
    let mut command: Vec<String> = vec![
        "/bin/sh".into(),
        "-c".into(),
        TAKE_AND_CHECK.into(),
        "sh".into(),
        next,
    ];
    command.extend(check);
    let taken = engine
        .exec(&container.id, command, TAKE_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    match taken.exit_code {
        0 => Ok(true),
        3 => Err("the container's supervisor did not take the new artifact".to_string()),
        // Taken, not healthy yet: the usual wait decides.
        _ => Ok(false),
    }
}

/// The restarted process's readiness on the board; the failure, if it did not get ready.
async fn settle(
    ops: &Operations,
    stack: &Stack,
    service: &str,
    container: &ContainerRef,
    checked: bool,
) -> Option<ServiceFailure> {
    let (engine, board) = (ops.engine(), ops.board());
    let start_interval = stack
        .services
        .get(service)
        .and_then(|s| s.healthcheck.as_ref())
        .and_then(|h| h.start_interval);
    let deadline = Instant::now() + REPLACE_TIMEOUT;
    let seen = if checked {
        readiness::still_ready(engine, &container.id)
            .await
            .ok()
            .flatten()
    } else {
        None
    };
    let health = match seen {
        Some(health) => Ok(health),
        None => readiness::wait_restarted(engine, &container.id, start_interval, deadline).await,
    };
    match health {
        Ok(health) => crate::orchestrator::record_verdict(
            engine,
            board,
            service,
            &container.id,
            health,
            REPLACE_TIMEOUT,
        )
        .await
        .err(),
        Err(e) => {
            let failure = ServiceFailure::Engine {
                reason: e.to_string(),
            };
            board.apply(service, Transition::Failed(failure.clone()));
            Some(failure)
        }
    }
}
