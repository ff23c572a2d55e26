//! The orchestrator's part of the dev loop: rebuilding one service's image while its container
//! keeps serving, syncing changed files into a running container, and restarting crashed
//! containers with growing delays (the stack's `restart:` policy, applied by novadev so that the
//! status can show the crash loop and the next retry).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::status::{Phase, now_ms};
use super::{Orchestrator, build_image};
use crate::engine::events::ContainerEvent;
use crate::stack::model::{RestartPolicy, Stack, WatchAction};

/// First restart delay of a crash loop, and its cap.
pub const BACKOFF_START: Duration = Duration::from_secs(1);
pub const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// A container that ran at least this long before dying starts a new streak.
pub const STABLE_AFTER: Duration = Duration::from_secs(10);

/// Restart bookkeeping of one service.
#[derive(Debug, Default, Clone)]
pub struct CrashState {
    /// Consecutive quick exits.
    pub streak: u32,
    /// Restarts under `on-failure:N`.
    pub attempts: u32,
}

/// Delay before the restart that follows `streak` quick exits: 1 s, 2 s, 4 s, ... capped.
pub fn backoff(streak: u32) -> Duration {
    let factor = 2u32.saturating_pow(streak.min(16));
    (BACKOFF_START * factor).min(BACKOFF_CAP)
}

/// Whether a container that exited with `code` is restarted under `policy`.
pub fn wants_restart(policy: RestartPolicy, code: i64, attempts: u32) -> bool {
    match policy {
        RestartPolicy::No => false,
        RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        RestartPolicy::OnFailure(max) => code != 0 && max.is_none_or(|m| attempts < m),
    }
}

impl Orchestrator {
    /// A container died outside any operation: apply the service's restart policy. Returns
    /// false when the policy doesn't restart it (the caller records the exit).
    pub(crate) fn schedule_restart(&self, ev: &ContainerEvent, stack: &Stack) -> bool {
        let Some(svc) = stack.services.get(&ev.service) else {
            return false;
        };
        let code = ev.exit_code.unwrap_or(-1);
        let started_ms = self.board.get(&ev.service).and_then(|s| s.started_ms);
        let delay = {
            let mut crashes = self.crashes.lock().unwrap_or_else(|p| p.into_inner());
            let state = crashes.entry(ev.service.clone()).or_default();
            if !wants_restart(svc.restart, code, state.attempts) {
                return false;
            }
            let ran = Duration::from_millis(now_ms().saturating_sub(started_ms.unwrap_or(0)));
            if ran >= STABLE_AFTER {
                state.streak = 0;
            }
            let delay = backoff(state.streak);
            state.streak += 1;
            state.attempts += 1;
            delay
        };
        let retry_at = now_ms() + u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.board.update(&ev.service, |s| {
            s.phase = Phase::CrashLoop;
            s.exit_code = Some(code);
            s.next_retry_ms = Some(retry_at);
            s.detail = Some(format!(
                "exited with code {code}; restarting in {:.0}s",
                delay.as_secs_f64()
            ));
        });
        let engine = self.engine.clone();
        let board = self.board.clone();
        let service = ev.service.clone();
        let container = ev.container_id.clone();
        let has_healthcheck = svc
            .healthcheck
            .as_ref()
            .is_some_and(|h| !h.disable && h.test.is_some());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            // Superseded (recreated, stopped, rebuilt) in the meantime: leave it.
            let still = board.get(&service).is_some_and(|s| {
                s.phase == Phase::CrashLoop && s.container_id.as_deref() == Some(container.as_str())
            });
            if !still {
                return;
            }
            match engine.start_container(&container).await {
                Ok(()) => board.update(&service, |s| {
                    s.restarts += 1;
                    s.next_retry_ms = None;
                    s.started_ms = Some(now_ms());
                    s.phase = if has_healthcheck {
                        Phase::Starting
                    } else {
                        Phase::Ready
                    };
                }),
                Err(e) => board.update(&service, |s| {
                    s.phase = Phase::Failed;
                    s.next_retry_ms = None;
                    s.detail = Some(format!("restart failed: {e}"));
                }),
            }
        });
        true
    }

    /// Forget a service's crash streak (after a new build).
    pub fn reset_crash_loop(&self, service: &str) {
        self.crashes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(service);
    }

    /// Build a service's image again while its container keeps running. On failure the status
    /// says `build_failed` with the first compiler error, and the container is left alone.
    pub async fn rebuild_image(&self, stack: &Stack, service: &str) -> Result<String, String> {
        let image = stack.services[service].image_ref(&stack.name);
        match build_image(&self.engine, &self.board, stack, service, &image).await {
            Ok(id) => {
                self.reset_crash_loop(service);
                Ok(id)
            }
            Err(why) => {
                self.board.update(service, |s| {
                    s.phase = Phase::BuildFailed;
                    s.detail = Some(if s.container_id.is_some() {
                        format!("{why}\n(the previous container keeps running)")
                    } else {
                        why.clone()
                    });
                });
                Err(why)
            }
        }
    }

    /// Apply a `develop.watch` sync rule: copy the changed paths (relative to the rule's path)
    /// under its target in the running container, remove the deleted ones, then restart or run
    /// the rule's command for `sync+restart` / `sync+exec`.
    pub async fn sync(
        &self,
        stack: &Stack,
        service: &str,
        rule: usize,
        paths: &[PathBuf],
    ) -> Result<usize, String> {
        let Some(rule) = stack.services[service]
            .develop
            .as_ref()
            .and_then(|d| d.watch.get(rule))
        else {
            return Err(format!("service `{service}` has no watch rule {rule}"));
        };
        let Some(target) = &rule.target else {
            return Err(format!("service `{service}`: a sync rule needs a target"));
        };
        let containers = self
            .engine
            .list_containers(&stack.name)
            .await
            .map_err(|e| e.to_string())?;
        let Some(container) = containers
            .iter()
            .find(|c| c.service == service && c.is_running())
        else {
            return Err(format!(
                "service `{service}` has no running container to sync into"
            ));
        };
        let mut copies = Vec::new();
        let mut removed = Vec::new();
        for path in paths {
            let rel = path.strip_prefix(&rule.path).unwrap_or(path.as_path());
            let dest = if rel.as_os_str().is_empty() {
                target.clone()
            } else {
                format!("{}/{}", target.trim_end_matches('/'), rel.display())
            };
            if path.is_file() {
                copies.push((path.clone(), dest));
            } else if !path.exists() {
                removed.push(dest);
            }
        }
        let copied = self
            .engine
            .copy_into(&container.id, &copies)
            .await
            .map_err(|e| e.to_string())?;
        if !removed.is_empty() {
            let mut cmd = vec!["rm".to_string(), "-rf".to_string(), "--".to_string()];
            cmd.extend(removed.iter().cloned());
            self.engine
                .exec(&container.id, cmd, Duration::from_secs(10))
                .await
                .map_err(|e| e.to_string())?;
        }
        self.board.output(
            service,
            "sync",
            format!(
                "synced {copied} file(s), removed {} into {target}",
                removed.len()
            ),
        );
        match rule.action {
            WatchAction::SyncRestart => {
                self.control(
                    stack,
                    service,
                    super::control::Control::Restart,
                    Duration::from_secs(120),
                )
                .await
                .map_err(|e| e.to_string())?;
            }
            WatchAction::SyncExec => {
                if let Some(cmd) = &rule.exec {
                    let started = Instant::now();
                    let out = self
                        .engine
                        .exec(&container.id, cmd.clone(), Duration::from_secs(300))
                        .await
                        .map_err(|e| e.to_string())?;
                    for line in out.output.lines() {
                        self.board.output(service, "exec", line);
                    }
                    self.board.output(
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
}

/// Per-service crash bookkeeping, owned by the orchestrator.
pub type CrashBook = std::sync::Arc<std::sync::Mutex<HashMap<String, CrashState>>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_and_is_capped() {
        let delays: Vec<u64> = (0..8).map(|s| backoff(s).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff(u32::MAX), BACKOFF_CAP);
    }

    #[test]
    fn restart_policies_follow_compose() {
        assert!(!wants_restart(RestartPolicy::No, 1, 0));
        assert!(wants_restart(RestartPolicy::Always, 0, 99));
        assert!(wants_restart(RestartPolicy::UnlessStopped, 0, 0));
        assert!(wants_restart(RestartPolicy::OnFailure(None), 1, 50));
        assert!(!wants_restart(RestartPolicy::OnFailure(None), 0, 0));
        assert!(wants_restart(RestartPolicy::OnFailure(Some(3)), 1, 2));
        assert!(!wants_restart(RestartPolicy::OnFailure(Some(3)), 1, 3));
    }
}
