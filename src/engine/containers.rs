//! Containers: the calls that manage one (list, create, start, stop, remove, inspect, wait).
//! What a service's container looks like is `container_spec`'s job.

use std::collections::HashMap;

use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, ListContainersOptions, RemoveContainerOptions,
    StartContainerOptions, StopContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

pub use super::container_spec::{ContainerSpec, spec_for};
use super::{Engine, EngineError, is_304, is_404, labels};

/// What the engine says about one of the project's containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub service: String,
    pub config_hash: String,
    /// Docker's state word: created, running, restarting, exited, paused, dead.
    pub state: String,
    /// Docker's human status, e.g. "Up 3 minutes (healthy)".
    pub status: String,
    pub labels: HashMap<String, String>,
    /// Unix seconds.
    pub created: i64,
}

impl ContainerInfo {
    pub fn is_running(&self) -> bool {
        self.state == "running" || self.state == "restarting"
    }
}

impl Engine {
    /// Every container of a project, running or not.
    pub async fn list_containers(&self, project: &str) -> Result<Vec<ContainerInfo>, EngineError> {
        let mut filters = HashMap::new();
        filters.insert("label".to_string(), vec![labels::project_filter(project)]);
        let options = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        let list = self
            .docker()
            .list_containers(Some(options))
            .await
            .map_err(EngineError::api("listing containers"))?;
        Ok(list
            .into_iter()
            .filter_map(|c| {
                let labels = c.labels.unwrap_or_default();
                let service = labels.get(labels::SERVICE)?.clone();
                Some(ContainerInfo {
                    id: c.id?,
                    name: c
                        .names
                        .and_then(|n| n.into_iter().next())
                        .map(|n| n.trim_start_matches('/').to_string())
                        .unwrap_or_default(),
                    config_hash: labels.get(labels::CONFIG_HASH).cloned().unwrap_or_default(),
                    service,
                    state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                    status: c.status.unwrap_or_default(),
                    labels,
                    created: c.created.unwrap_or_default(),
                })
            })
            .collect())
    }

    /// Create a container (and join its extra networks). Returns its id.
    pub async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        let options = CreateContainerOptions {
            name: Some(spec.name.clone()),
            platform: spec.platform.clone().unwrap_or_default(),
        };
        let created = self
            .docker()
            .create_container(Some(options), spec.body.clone())
            .await
            .map_err(EngineError::api(format!(
                "creating container {}",
                spec.name
            )))?;
        for (network, endpoint) in &spec.extra_networks {
            let request = bollard::models::NetworkConnectRequest {
                container: created.id.clone(),
                endpoint_config: Some(endpoint.clone()),
            };
            self.docker()
                .connect_network(network, request)
                .await
                .map_err(EngineError::api(format!(
                    "connecting {} to network {network}",
                    spec.name
                )))?;
        }
        Ok(created.id)
    }

    pub async fn start_container(&self, id: &str) -> Result<(), EngineError> {
        match self
            .docker()
            .start_container(id, None::<StartContainerOptions>)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_304(&e) => Ok(()),
            Err(e) => Err(EngineError::api(format!("starting container {id}"))(e)),
        }
    }

    /// Stop with a grace period (seconds); a container already stopped or gone is fine.
    pub async fn stop_container(
        &self,
        id: &str,
        grace_secs: Option<i32>,
    ) -> Result<(), EngineError> {
        let options = StopContainerOptions {
            t: grace_secs,
            ..Default::default()
        };
        match self.docker().stop_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_304(&e) || is_404(&e) => Ok(()),
            Err(e) => Err(EngineError::api(format!("stopping container {id}"))(e)),
        }
    }

    /// Remove a container (forcefully: it may be running). Anonymous volumes are removed with it,
    /// named volumes never are.
    pub async fn remove_container(&self, id: &str) -> Result<(), EngineError> {
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match self.docker().remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_404(&e) => Ok(()),
            // 409: removal already in progress.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(e) => Err(EngineError::api(format!("removing container {id}"))(e)),
        }
    }

    pub async fn inspect_container(
        &self,
        id: &str,
    ) -> Result<ContainerInspectResponse, EngineError> {
        self.docker()
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(EngineError::api(format!("inspecting container {id}")))
    }

    /// Wait until the container is not running and return its exit code.
    pub async fn wait_exit(&self, id: &str) -> Result<i64, EngineError> {
        let options = WaitContainerOptions {
            condition: "not-running".to_string(),
        };
        let mut stream = self.docker().wait_container(id, Some(options));
        match stream.next().await {
            Some(Ok(response)) => Ok(response.status_code),
            // bollard reports a non-zero exit as an error carrying the code.
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(EngineError::api(format!("waiting for container {id}"))(e)),
            None => {
                let inspect = self.inspect_container(id).await?;
                Ok(inspect.state.and_then(|s| s.exit_code).unwrap_or(-1))
            }
        }
    }
}
