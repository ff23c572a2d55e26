//! Taking a project down: its containers (dependents first when the stack is known), its
//! networks, and on request its volumes and the images novadev built for it.

use futures_util::future::join_all;

use super::{Orchestrator, OrchestratorError, grace_secs};
use crate::board::{BusyGuard, Transition};
use crate::engine::EngineError;
use crate::engine::containers::ContainerInfo;
use crate::protocol::{DownReport, DownRequest};
use crate::stack::graph::Graph;
use crate::stack::model::Stack;

impl Orchestrator {
    /// Stop and remove the project's containers, then its networks, and what `what` adds.
    /// Named volumes survive unless `what.volumes`.
    pub async fn down(
        &self,
        project: &str,
        stack: Option<&Stack>,
        what: DownRequest,
    ) -> Result<DownReport, OrchestratorError> {
        let containers = self.engine.list_all_containers(project).await?;
        // Their `die` events are this operation's doing, not crashes.
        let _busy: Vec<BusyGuard> = containers
            .iter()
            .map(|c| self.board.busy(&c.service))
            .collect();
        let mut report = DownReport::default();
        for batch in stop_order(stack, containers) {
            let results = join_all(batch.iter().map(|c| async {
                self.board.apply(&c.service, Transition::Stopping);
                self.engine
                    .stop_container(&c.id, grace_secs(stack, &c.service))
                    .await?;
                self.engine.remove_container(&c.id).await?;
                self.board
                    .apply(&c.service, Transition::Removed { by_us: true });
                Ok::<_, EngineError>(c.name.clone())
            }))
            .await;
            for r in results {
                report.containers.push(r?);
            }
        }
        for net in self.engine.list_networks(project).await? {
            self.engine.remove_network(&net).await?;
            report.networks.push(net);
        }
        if what.volumes {
            for vol in self.engine.list_volumes(project).await? {
                self.engine.remove_volume(&vol).await?;
                report.volumes.push(vol);
            }
        }
        if what.images {
            for (id, tag) in self.engine.list_project_images(project).await? {
                self.engine.remove_image(&id).await?;
                report.images.push(tag);
            }
        }
        Ok(report)
    }
}

/// Batches to stop one after the other: containers of services the stack doesn't know first,
/// then dependents before their dependencies. Without a (valid) stack, one batch.
fn stop_order(stack: Option<&Stack>, containers: Vec<ContainerInfo>) -> Vec<Vec<ContainerInfo>> {
    let mut order: Vec<Vec<String>> = match stack.map(Graph::build) {
        Some(Ok(graph)) => graph.waves(None),
        _ => Vec::new(),
    };
    order.reverse();
    let mut remaining = containers;
    let mut batches = Vec::new();
    for wave in &order {
        let (batch, rest): (Vec<_>, Vec<_>) = remaining
            .into_iter()
            .partition(|c| wave.contains(&c.service));
        remaining = rest;
        batches.push(batch);
    }
    batches.insert(0, remaining);
    batches.retain(|b| !b.is_empty());
    batches
}
