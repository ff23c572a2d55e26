//! Networks and volumes of a project.

use std::collections::HashMap;

use bollard::models::{NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::{
    InspectNetworkOptions, ListNetworksOptions, ListVolumesOptions, RemoveVolumeOptions,
};

use super::{Engine, EngineError, is_404, labels};
use crate::stack::model::Stack;

/// What `ensure_*` did, for progress output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    Existed,
    Created,
}

fn project_labels(
    project: &str,
    key: &str,
    extra: &std::collections::BTreeMap<String, String>,
) -> HashMap<String, String> {
    let mut l: HashMap<String, String> =
        extra.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    l.insert(labels::PROJECT.into(), project.into());
    l.insert(labels::RESOURCE_KEY.into(), key.into());
    l
}

impl Engine {
    /// Make sure the stack's network `key` exists. External networks must exist already.
    pub async fn ensure_network(&self, stack: &Stack, key: &str) -> Result<Ensured, EngineError> {
        let name = stack.network_name(key);
        let def = stack.networks.get(key).cloned().unwrap_or_default();
        match self
            .docker()
            .inspect_network(&name, None::<InspectNetworkOptions>)
            .await
        {
            Ok(_) => return Ok(Ensured::Existed),
            Err(e) if is_404(&e) => {}
            Err(e) => return Err(EngineError::api(format!("inspecting network {name}"))(e)),
        }
        if def.external {
            return Err(EngineError::Api {
                context: format!("network `{name}` is declared external but does not exist"),
                source: bollard::errors::Error::DockerResponseServerError {
                    status_code: 404,
                    message: format!("network {name} not found"),
                },
            });
        }
        let request = NetworkCreateRequest {
            name: name.clone(),
            driver: Some(def.driver.clone().unwrap_or_else(|| "bridge".into())),
            internal: Some(def.internal),
            labels: Some(project_labels(&stack.name, key, &def.labels)),
            ..Default::default()
        };
        match self.docker().create_network(request).await {
            Ok(_) => Ok(Ensured::Created),
            // Created concurrently by someone else between inspect and create.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(Ensured::Existed),
            Err(e) => Err(EngineError::api(format!("creating network {name}"))(e)),
        }
    }

    /// Make sure the stack's volume `key` exists. Creating an existing volume is a no-op in Docker.
    pub async fn ensure_volume(&self, stack: &Stack, key: &str) -> Result<Ensured, EngineError> {
        let name = stack.volume_name(key);
        let def = stack.volumes.get(key).cloned().unwrap_or_default();
        match self.docker().inspect_volume(&name).await {
            Ok(_) => return Ok(Ensured::Existed),
            Err(e) if is_404(&e) => {}
            Err(e) => return Err(EngineError::api(format!("inspecting volume {name}"))(e)),
        }
        if def.external {
            return Err(EngineError::Api {
                context: format!("volume `{name}` is declared external but does not exist"),
                source: bollard::errors::Error::DockerResponseServerError {
                    status_code: 404,
                    message: format!("volume {name} not found"),
                },
            });
        }
        let request = VolumeCreateRequest {
            name: Some(name.clone()),
            driver: def.driver.clone(),
            labels: Some(project_labels(&stack.name, key, &def.labels)),
            ..Default::default()
        };
        self.docker()
            .create_volume(request)
            .await
            .map_err(EngineError::api(format!("creating volume {name}")))?;
        Ok(Ensured::Created)
    }

    /// Names of the project's networks (by label).
    pub async fn list_networks(&self, project: &str) -> Result<Vec<String>, EngineError> {
        let mut filters = HashMap::new();
        filters.insert("label".to_string(), vec![labels::project_filter(project)]);
        let nets = self
            .docker()
            .list_networks(Some(ListNetworksOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(EngineError::api("listing networks"))?;
        Ok(nets.into_iter().filter_map(|n| n.name).collect())
    }

    /// Names of the project's volumes (by label).
    pub async fn list_volumes(&self, project: &str) -> Result<Vec<String>, EngineError> {
        let mut filters = HashMap::new();
        filters.insert("label".to_string(), vec![labels::project_filter(project)]);
        let vols = self
            .docker()
            .list_volumes(Some(ListVolumesOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(EngineError::api("listing volumes"))?;
        Ok(vols
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect())
    }

    pub async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        match self.docker().remove_network(name).await {
            Ok(()) => Ok(()),
            Err(e) if is_404(&e) => Ok(()),
            Err(e) => Err(EngineError::api(format!("removing network {name}"))(e)),
        }
    }

    pub async fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        match self
            .docker()
            .remove_volume(name, None::<RemoveVolumeOptions>)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_404(&e) => Ok(()),
            Err(e) => Err(EngineError::api(format!("removing volume {name}"))(e)),
        }
    }
}
