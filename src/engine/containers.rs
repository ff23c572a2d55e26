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

/// A container's health as the engine judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
}

/// The healthcheck a container runs (the stack's, or its image's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    /// Docker's form: `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`.
    pub test: Vec<String>,
    pub timeout: Option<std::time::Duration>,
    pub start_interval: Option<std::time::Duration>,
}

/// A published port of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundPort {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: String,
}

/// What novadev reads of an inspected container (bollard's types stay inside the engine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerDetails {
    pub running: bool,
    pub restarting: bool,
    pub exit_code: Option<i64>,
    /// How often the engine restarted it under its restart policy.
    pub restart_count: u32,
    pub health: Option<HealthStatus>,
    /// The last healthcheck's output, when there was one.
    pub health_output: Option<String>,
    pub healthcheck: Option<Healthcheck>,
    /// The entrypoint it runs (its image's, or the one it was created with).
    pub entrypoint: Vec<String>,
    pub ports: Vec<BoundPort>,
    /// When it last exited (RFC 3339), if it has.
    pub finished_at: Option<String>,
}

impl ContainerDetails {
    /// Running, or being restarted by the engine.
    pub fn is_up(&self) -> bool {
        self.running || self.restarting
    }
}

fn duration_from_nanos(n: Option<i64>) -> Option<std::time::Duration> {
    n.filter(|n| *n > 0)
        .and_then(|n| u64::try_from(n).ok())
        .map(std::time::Duration::from_nanos)
}

fn details_of(inspect: ContainerInspectResponse) -> ContainerDetails {
    let state = inspect.state.unwrap_or_default();
    let (health, health_output) = match state.health {
        Some(h) => {
            let status = match h.status.map(|s| s.to_string()).as_deref() {
                Some("healthy") => Some(HealthStatus::Healthy),
                Some("unhealthy") => Some(HealthStatus::Unhealthy),
                Some("starting") => Some(HealthStatus::Starting),
                _ => None,
            };
            let output = h
                .log
                .unwrap_or_default()
                .last()
                .and_then(|r| r.output.clone())
                .map(|o| o.trim().to_string());
            (status, output)
        }
        None => (None, None),
    };
    let entrypoint = inspect
        .config
        .as_ref()
        .and_then(|c| c.entrypoint.clone())
        .unwrap_or_default();
    let healthcheck = inspect
        .config
        .and_then(|c| c.healthcheck)
        .map(|hc| Healthcheck {
            test: hc.test.unwrap_or_default(),
            timeout: duration_from_nanos(hc.timeout),
            start_interval: duration_from_nanos(hc.start_interval),
        });
    let mut ports = Vec::new();
    for (key, bindings) in inspect
        .network_settings
        .and_then(|n| n.ports)
        .unwrap_or_default()
    {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let Ok(container_port) = port.parse::<u16>() else {
            continue;
        };
        for b in bindings.unwrap_or_default() {
            if let Some(host_port) = b.host_port.and_then(|p| p.parse().ok()) {
                ports.push(BoundPort {
                    host_ip: b.host_ip.unwrap_or_default(),
                    host_port,
                    container_port,
                    protocol: proto.to_string(),
                });
            }
        }
    }
    ports.sort_by_key(|p| (p.container_port, p.host_port));
    ContainerDetails {
        running: state.running == Some(true),
        restarting: state.restarting == Some(true),
        exit_code: state.exit_code,
        restart_count: inspect
            .restart_count
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        health,
        health_output,
        healthcheck,
        entrypoint,
        ports,
        finished_at: state
            .finished_at
            .filter(|t| !t.is_empty() && !t.starts_with("0001-")),
    }
}

impl Engine {
    /// Every service container of a project, running or not (not the one-offs of `run`).
    pub async fn list_containers(&self, project: &str) -> Result<Vec<ContainerInfo>, EngineError> {
        let all = self.list_all_containers(project).await?;
        Ok(all
            .into_iter()
            .filter(|c| !c.labels.contains_key(labels::ONEOFF))
            .collect())
    }

    /// Every container of a project, the one-offs of `run` included (for `down`).
    pub async fn list_all_containers(
        &self,
        project: &str,
    ) -> Result<Vec<ContainerInfo>, EngineError> {
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

    /// Send a signal (e.g. `SIGHUP`) to the container's main process.
    pub async fn signal_container(&self, id: &str, signal: &str) -> Result<(), EngineError> {
        let options = bollard::query_parameters::KillContainerOptions {
            signal: signal.to_string(),
        };
        self.docker()
            .kill_container(id, Some(options))
            .await
            .map_err(EngineError::api(format!("signalling container {id}")))
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

    /// What novadev needs to know of one container.
    pub async fn inspect(&self, id: &str) -> Result<ContainerDetails, EngineError> {
        self.inspect_raw(id).await.map(details_of)
    }

    async fn inspect_raw(&self, id: &str) -> Result<ContainerInspectResponse, EngineError> {
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
            None => Ok(self.inspect(id).await?.exit_code.unwrap_or(-1)),
        }
    }
}
