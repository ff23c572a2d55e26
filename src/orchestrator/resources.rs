//! What an `up` needs before any service: the stack's networks and volumes, and the project's
//! containers as the engine has them (orphans and duplicates removed).

use std::collections::{BTreeSet, HashMap};

use futures_util::future::join_all;

use super::OrchestratorError;
use crate::board::StatusBoard;
use crate::engine::Engine;
use crate::engine::containers::ContainerInfo;
use crate::engine::resources::Ensured;
use crate::stack::model::{MountSource, Stack};

/// Networks and volumes the selected services use, made where missing.
pub(super) async fn ensure(
    engine: &Engine,
    board: &StatusBoard,
    stack: &Stack,
    selected: &BTreeSet<String>,
) -> Result<(), OrchestratorError> {
    let services = || selected.iter().filter_map(|s| stack.services.get(s));
    let networks: BTreeSet<&String> = services().flat_map(|s| s.networks.keys()).collect();
    let volumes: BTreeSet<&String> = services()
        .flat_map(|s| s.volumes.iter())
        .filter_map(|v| match &v.source {
            MountSource::Volume { name } => Some(name),
            _ => None,
        })
        .collect();
    let (nets, vols) = tokio::join!(
        join_all(networks.iter().map(|k| engine.ensure_network(stack, k))),
        join_all(volumes.iter().map(|k| engine.ensure_volume(stack, k)))
    );
    for (key, result) in networks.iter().zip(nets) {
        if result? == Ensured::Created {
            board.message(format!("network {} created", stack.network_name(key)));
        }
    }
    for (key, result) in volumes.iter().zip(vols) {
        if result? == Ensured::Created {
            board.message(format!("volume {} created", stack.volume_name(key)));
        }
    }
    Ok(())
}

/// The project's containers by service. Containers of services no longer in the stack
/// (orphans) and extra containers of one service (duplicates, e.g. from a crash between create
/// and label check) are removed.
pub(super) async fn adopt(
    engine: &Engine,
    board: &StatusBoard,
    stack: &Stack,
) -> Result<HashMap<String, ContainerInfo>, OrchestratorError> {
    let (by_service, doomed) = sort_out(stack, engine.list_containers(&stack.name).await?);
    for (c, why) in &doomed {
        board.message(match why {
            Doomed::Orphan => format!(
                "removing orphan container {} (service `{}` is not in the stack)",
                c.name, c.service
            ),
            Doomed::Duplicate => format!("removing duplicate container {}", c.name),
        });
    }
    for result in join_all(doomed.iter().map(|(c, _)| engine.remove_container(&c.id))).await {
        result?;
    }
    Ok(by_service)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Doomed {
    Orphan,
    Duplicate,
}

/// Which containers to keep (one per service, the one with the expected name when there are
/// several) and which to remove. Pure.
fn sort_out(
    stack: &Stack,
    containers: Vec<ContainerInfo>,
) -> (HashMap<String, ContainerInfo>, Vec<(ContainerInfo, Doomed)>) {
    let mut by_service: HashMap<String, ContainerInfo> = HashMap::new();
    let mut doomed = Vec::new();
    for c in containers {
        if !stack.services.contains_key(&c.service) {
            doomed.push((c, Doomed::Orphan));
            continue;
        }
        let wanted_name = stack.container_name(&c.service);
        match by_service.remove(&c.service) {
            None => {
                by_service.insert(c.service.clone(), c);
            }
            Some(prev) => {
                let (keep, drop) = if prev.name == wanted_name {
                    (prev, c)
                } else {
                    (c, prev)
                };
                doomed.push((drop, Doomed::Duplicate));
                by_service.insert(keep.service.clone(), keep);
            }
        }
    }
    (by_service, doomed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::model::Service;

    fn container(id: &str, name: &str, service: &str) -> ContainerInfo {
        ContainerInfo {
            id: id.into(),
            name: name.into(),
            service: service.into(),
            config_hash: String::new(),
            state: "running".into(),
            status: String::new(),
            labels: Default::default(),
            created: 0,
        }
    }

    #[test]
    fn orphans_and_duplicates_go_and_the_expected_name_stays() {
        let mut stack = Stack {
            name: "p".into(),
            project_dir: Default::default(),
            files: vec![],
            services: Default::default(),
            networks: Default::default(),
            volumes: Default::default(),
            novadev: Default::default(),
        };
        stack.services.insert("db".into(), Service::new("db"));
        let (kept, doomed) = sort_out(
            &stack,
            vec![
                container("a", "p-db-x", "db"),
                container("b", "p-db-1", "db"),
                container("c", "p-old-1", "old"),
            ],
        );
        assert_eq!(kept["db"].id, "b");
        let mut gone: Vec<(&str, Doomed)> =
            doomed.iter().map(|(c, d)| (c.id.as_str(), *d)).collect();
        gone.sort_by_key(|(id, _)| *id);
        assert_eq!(gone, vec![("a", Doomed::Duplicate), ("c", Doomed::Orphan)]);
    }
}
