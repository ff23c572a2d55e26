//! The engine's events stream, narrowed to one project's containers.

use std::collections::HashMap;

use bollard::query_parameters::EventsOptions;
use futures_util::{Stream, StreamExt};

use super::{Engine, EngineError, labels};

/// A container event of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    pub container_id: String,
    pub service: String,
    /// Docker's action: create, start, die, stop, destroy, health_status: healthy, ...
    pub action: String,
    /// Exit code, for `die`.
    pub exit_code: Option<i64>,
    /// Unix nanoseconds.
    pub time_nano: i64,
}

impl Engine {
    /// Container events of `project` from `since` (Unix seconds; the engine replays what happened
    /// after it) or from now on. The stream ends when the engine connection breaks; callers
    /// reconnect with backoff.
    pub fn container_events(
        &self,
        project: &str,
        since: Option<i64>,
    ) -> impl Stream<Item = Result<ContainerEvent, EngineError>> + Send + 'static {
        let mut filters = HashMap::new();
        filters.insert("type".to_string(), vec!["container".to_string()]);
        filters.insert("label".to_string(), vec![labels::project_filter(project)]);
        let options = EventsOptions {
            filters: Some(filters),
            since: since.map(|s| s.to_string()),
            ..Default::default()
        };
        self.docker()
            .events(Some(options))
            .filter_map(|item| async move {
                match item {
                    Ok(msg) => {
                        let actor = msg.actor?;
                        let attrs = actor.attributes.unwrap_or_default();
                        Some(Ok(ContainerEvent {
                            container_id: actor.id.unwrap_or_default(),
                            service: attrs.get(labels::SERVICE).cloned()?,
                            action: msg.action.unwrap_or_default(),
                            exit_code: attrs.get("exitCode").and_then(|c| c.parse().ok()),
                            time_nano: msg.time_nano.unwrap_or_default(),
                        }))
                    }
                    Err(e) => Some(Err(EngineError::api("reading engine events")(e))),
                }
            })
    }
}
