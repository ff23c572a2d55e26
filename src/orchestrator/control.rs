//! On-demand actions on one running project's service: restart, stop, start. Used by the CLI,
//! the TUI and the web UI through the daemon API.

use std::time::{Duration, Instant};

use super::status::{Phase, ServiceStatus};
use super::{Orchestrator, OrchestratorError, settle};
use crate::stack::model::Stack;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Restart,
    Stop,
    Start,
}

impl Orchestrator {
    /// Restart, stop or start a service's existing container; for restart and start, wait (at
    /// most `timeout`) until it is ready again. Returns the service's status afterwards.
    pub async fn control(
        &self,
        stack: &Stack,
        service: &str,
        action: Control,
        timeout: Duration,
    ) -> Result<ServiceStatus, OrchestratorError> {
        let Some(svc) = stack.services.get(service) else {
            return Err(OrchestratorError::Stack(format!(
                "no service `{service}` in project `{}`",
                stack.name
            )));
        };
        let containers = self.engine.list_containers(&stack.name).await?;
        let Some(container) = containers.into_iter().find(|c| c.service == service) else {
            return Err(OrchestratorError::Stack(format!(
                "service `{service}` has no container yet; run `novadev up {service}` first"
            )));
        };
        let grace = svc
            .stop_grace_period
            .map(|d| i32::try_from(d.as_secs()).unwrap_or(i32::MAX));
        let id = container.id.clone();
        let _busy = self.mark_busy(service);
        match action {
            Control::Stop => {
                self.board
                    .set(service, Phase::Stopped, Some("stopping".into()));
                self.engine.stop_container(&id, grace).await?;
                self.board
                    .set(service, Phase::Stopped, Some("stopped on request".into()));
            }
            Control::Restart | Control::Start => {
                let verb = if action == Control::Restart {
                    "restarting"
                } else {
                    "starting"
                };
                self.board.update(service, |s| {
                    s.phase = Phase::Starting;
                    s.detail = Some(format!("{verb} on request"));
                    s.container_id = Some(id.clone());
                    s.container_name = Some(container.name.clone());
                    s.exit_code = None;
                });
                if action == Control::Restart {
                    self.engine.stop_container(&id, grace).await?;
                }
                self.engine.start_container(&id).await?;
                self.board.update(service, |s| {
                    s.started_ms = Some(super::status::now_ms());
                    if action == Control::Restart {
                        s.restarts += 1;
                    }
                });
                let start_interval = svc.healthcheck.as_ref().and_then(|h| h.start_interval);
                let deadline = Instant::now() + timeout;
                if let Err(why) = settle(
                    &self.engine,
                    &self.board,
                    service,
                    &id,
                    start_interval,
                    deadline,
                    true,
                )
                .await
                {
                    self.board.set(service, Phase::Failed, Some(why));
                }
            }
        }
        self.board.get(service).ok_or_else(|| {
            OrchestratorError::Stack(format!("service `{service}` vanished from the board"))
        })
    }
}
