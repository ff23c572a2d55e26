//! Restart, stop or start one service's existing container, on request (the CLI, the TUI, the
//! web UI, a dependency declared with `restart: true`, a `develop.watch` restart rule).

use std::time::Duration;

use super::{Orchestrator, OrchestratorError, WaitLimit, grace_secs, settle};
use crate::board::Transition;
use crate::protocol::{ServiceStatus, Verb};
use crate::stack::model::Stack;

impl Orchestrator {
    /// Restart, stop or start a service's container; for restart and start, wait (at most
    /// `timeout`) until it is ready again. Returns the service's status afterwards. `Rebuild` is
    /// not an operation on a container (the dev loop owns it).
    pub async fn control(
        &self,
        stack: &Stack,
        service: &str,
        verb: Verb,
        timeout: Duration,
    ) -> Result<ServiceStatus, OrchestratorError> {
        let Some(svc) = stack.services.get(service) else {
            return Err(OrchestratorError::UnknownService {
                service: service.to_string(),
                project: stack.name.clone(),
            });
        };
        let containers = self.engine.list_containers(&stack.name).await?;
        let Some(container) = containers.into_iter().find(|c| c.service == service) else {
            return Err(OrchestratorError::NoContainer {
                service: service.to_string(),
            });
        };
        let grace = grace_secs(Some(stack), service);
        let id = container.id.clone();
        let _busy = self.board.busy(service);
        match verb {
            Verb::Stop => {
                self.board.apply(service, Transition::Stopping);
                self.engine.stop_container(&id, grace).await?;
                self.board.apply(service, Transition::StoppedOnRequest);
            }
            Verb::Restart | Verb::Start => {
                self.board.apply(
                    service,
                    Transition::Starting {
                        detail: format!("{} on request", verb.doing()),
                    },
                );
                if verb == Verb::Restart {
                    self.engine.stop_container(&id, grace).await?;
                }
                self.engine.start_container(&id).await?;
                let ports = super::published_ports(&self.engine, &id).await;
                let image = svc.image_ref(&stack.name);
                self.board.apply(
                    service,
                    Transition::Started {
                        container: crate::board::ContainerRef {
                            id: id.clone(),
                            name: container.name.clone(),
                        },
                        image,
                        ports,
                        taken: crate::protocol::Taken::Started,
                        fresh: true,
                    },
                );
                if verb == Verb::Restart {
                    self.board.apply(service, Transition::RestartedOnRequest);
                }
                let start_interval = svc.healthcheck.as_ref().and_then(|h| h.start_interval);
                if let Err(failure) = settle(
                    &self.engine,
                    &self.board,
                    service,
                    &id,
                    start_interval,
                    WaitLimit::from_now(timeout),
                    true,
                    false,
                )
                .await
                {
                    self.board.apply(service, Transition::Failed(failure));
                }
            }
            Verb::Rebuild => return Err(OrchestratorError::NotAContainerVerb(verb)),
        }
        Ok(self
            .board
            .get(service)
            .unwrap_or_else(|| ServiceStatus::new(service)))
    }
}
