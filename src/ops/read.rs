//! Reading a project straight from the engine: its services' statuses and its logs. The daemon
//! serves the same views from this code, and the CLI uses it directly when no daemon runs.

use futures_util::stream::BoxStream;
use futures_util::{StreamExt, stream};

use super::OpError;
use crate::engine::Engine;
use crate::orchestrator::OrchestratorError;
use crate::orchestrator::events::observed_status;
use crate::protocol::{LogLine, LogQuery, ServiceStatus};
use crate::stack::model::Stack;

/// Every service of `project` as the engine shows it: the stack's (in tier groups when it has
/// them) and any other container labelled with the project, sorted by name.
pub async fn statuses(
    engine: &Engine,
    project: &str,
    stack: Option<&Stack>,
) -> Result<Vec<ServiceStatus>, OpError> {
    let containers = engine.list_containers(project).await?;
    let mut names: Vec<String> = stack
        .map(|s| s.services.keys().cloned().collect())
        .unwrap_or_default();
    for c in &containers {
        if !names.contains(&c.service) {
            names.push(c.service.clone());
        }
    }
    names.sort();
    Ok(names
        .iter()
        .map(|name| {
            let mut s = observed_status(name, containers.iter().find(|c| &c.service == name));
            s.tier = stack.and_then(|st| st.tier_of(name));
            s
        })
        .collect())
}

/// The logs of `project`'s containers (of the `wanted` services; all when empty), merged. A
/// wanted service must be in `known` (the stack's) or have a container.
pub async fn log_lines(
    engine: &Engine,
    project: &str,
    wanted: &[String],
    known: &[String],
    query: &LogQuery,
) -> Result<BoxStream<'static, LogLine>, OpError> {
    let containers = engine.list_containers(project).await?;
    if let Some(unknown) = wanted
        .iter()
        .find(|w| !known.contains(w) && !containers.iter().any(|c| &c.service == *w))
    {
        return Err(OrchestratorError::UnknownService {
            service: unknown.clone(),
            project: project.to_string(),
        }
        .into());
    }
    let streams: Vec<_> = containers
        .iter()
        .filter(|c| wanted.is_empty() || wanted.contains(&c.service))
        .map(|c| engine.log_lines(&c.id, &c.service, query).boxed())
        .collect();
    Ok(stream::select_all(streams).boxed())
}

/// Every service of `project` as the cluster shows it (no daemon needed).
pub async fn kube_statuses(
    spec: &crate::target::KubeSpec,
    project: &str,
    stack: Option<&Stack>,
) -> Result<Vec<ServiceStatus>, OpError> {
    let cluster = crate::k8s::Cluster::connect(&spec.connect_options()).await?;
    let states = crate::k8s::read_states(&cluster, project).await?;
    Ok(states
        .iter()
        .map(|s| super::kube::status_of(s, stack))
        .collect())
}

/// The logs of `project`'s pods on the cluster (no daemon needed).
pub async fn kube_log_lines(
    spec: &crate::target::KubeSpec,
    project: &str,
    known: &[String],
    params: &crate::protocol::LogsParams,
) -> Result<BoxStream<'static, LogLine>, OpError> {
    let cluster = crate::k8s::Cluster::connect(&spec.connect_options()).await?;
    let target = super::kube::KubeTarget {
        cluster,
        namespace: spec.namespace.clone(),
        node: None,
    };
    super::kube::logs(&target, project, known, params).await
}
