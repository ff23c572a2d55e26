//! Reconcile, the pure part: given what the stack wants and what Docker has, what to do with one
//! service's container. No I/O here, so every rule is unit-tested.

use sha2::{Digest, Sha256};

use crate::engine::containers::ContainerInfo;
use crate::stack::model::{Service, Stack};

/// What to do with a service's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create,
    /// The configuration changed: remove `old`, create anew.
    Recreate {
        old: String,
    },
    /// Same configuration, not running: start it again.
    Start {
        id: String,
    },
    /// Running, but a dependency declared with `restart: true` was recreated or restarted.
    Restart {
        id: String,
    },
    /// Running with the same configuration: leave it alone.
    Keep {
        id: String,
    },
    /// A one-shot that already completed successfully with this configuration, and none of its
    /// dependencies changed since: its work is done.
    KeepCompleted {
        id: String,
    },
}

/// Facts about the rest of the `up` that the decision depends on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Context {
    /// Some dependent waits for this service with `service_completed_successfully`.
    pub is_one_shot: bool,
    /// A dependency was created, recreated or (re)started during this `up`.
    pub dependency_touched: bool,
    /// ... and that dependency is declared with `restart: true`.
    pub restart_requested: bool,
    /// The existing container's exit code, when it has exited.
    pub exit_code: Option<i64>,
}

pub fn decide(existing: Option<&ContainerInfo>, desired_hash: &str, ctx: Context) -> Action {
    let Some(c) = existing else {
        return Action::Create;
    };
    if c.config_hash != desired_hash {
        return Action::Recreate { old: c.id.clone() };
    }
    if c.is_running() {
        if ctx.restart_requested {
            return Action::Restart { id: c.id.clone() };
        }
        return Action::Keep { id: c.id.clone() };
    }
    if ctx.is_one_shot && c.state == "exited" && ctx.exit_code == Some(0) && !ctx.dependency_touched
    {
        return Action::KeepCompleted { id: c.id.clone() };
    }
    Action::Start { id: c.id.clone() }
}

/// The hash stored on a container: everything that shapes it. The resolved service (positions
/// are not serialized), the image id (a rebuilt or re-tagged image recreates the container) and
/// the engine names of its networks and volumes.
pub fn config_hash(stack: &Stack, service: &Service, image_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"novadev-config-v1\0");
    hasher.update(serde_json::to_vec(service).unwrap_or_default());
    hasher.update(b"\0");
    hasher.update(image_id.as_bytes());
    for key in service.networks.keys() {
        hasher.update(b"\0net=");
        hasher.update(stack.network_name(key).as_bytes());
    }
    for v in &service.volumes {
        if let crate::stack::model::MountSource::Volume { name } = &v.source {
            hasher.update(b"\0vol=");
            hasher.update(stack.volume_name(name).as_bytes());
        }
    }
    hex::encode(&hasher.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(hash: &str, state: &str) -> ContainerInfo {
        ContainerInfo {
            id: "c1".into(),
            name: "p-web-1".into(),
            service: "web".into(),
            config_hash: hash.into(),
            state: state.into(),
            status: String::new(),
            labels: Default::default(),
            created: 0,
        }
    }

    #[test]
    fn missing_container_is_created() {
        assert_eq!(decide(None, "h", Context::default()), Action::Create);
    }

    #[test]
    fn changed_configuration_recreates() {
        let c = container("old", "running");
        assert_eq!(
            decide(Some(&c), "new", Context::default()),
            Action::Recreate { old: "c1".into() }
        );
    }

    #[test]
    fn running_container_with_same_configuration_is_kept() {
        let c = container("h", "running");
        assert_eq!(
            decide(Some(&c), "h", Context::default()),
            Action::Keep { id: "c1".into() }
        );
    }

    #[test]
    fn running_container_restarts_when_dependency_asks_for_it() {
        let c = container("h", "running");
        let ctx = Context {
            dependency_touched: true,
            restart_requested: true,
            ..Default::default()
        };
        assert_eq!(
            decide(Some(&c), "h", ctx),
            Action::Restart { id: "c1".into() }
        );
    }

    #[test]
    fn stopped_container_is_started_again() {
        let c = container("h", "exited");
        let ctx = Context {
            exit_code: Some(137),
            ..Default::default()
        };
        assert_eq!(
            decide(Some(&c), "h", ctx),
            Action::Start { id: "c1".into() }
        );
        let created = container("h", "created");
        assert_eq!(
            decide(Some(&created), "h", Context::default()),
            Action::Start { id: "c1".into() }
        );
    }

    #[test]
    fn completed_one_shot_is_not_rerun_unless_a_dependency_changed() {
        let c = container("h", "exited");
        let ctx = Context {
            is_one_shot: true,
            exit_code: Some(0),
            ..Default::default()
        };
        assert_eq!(
            decide(Some(&c), "h", ctx),
            Action::KeepCompleted { id: "c1".into() }
        );
        let touched = Context {
            dependency_touched: true,
            ..ctx
        };
        assert_eq!(
            decide(Some(&c), "h", touched),
            Action::Start { id: "c1".into() }
        );
        let failed = Context {
            exit_code: Some(1),
            ..ctx
        };
        assert_eq!(
            decide(Some(&c), "h", failed),
            Action::Start { id: "c1".into() }
        );
    }
}
