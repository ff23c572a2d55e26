//! The labels novadev puts on everything it creates. Docker's labels are the daemon's memory:
//! from them alone a restarted daemon rebuilds what belongs to which project and service.

pub const PROJECT: &str = "dev.novadev.project";
pub const SERVICE: &str = "dev.novadev.service";
pub const CONFIG_HASH: &str = "dev.novadev.config-hash";
/// The stack file(s) a container was created from, for `status` without a daemon.
pub const STACK_FILES: &str = "dev.novadev.stack-files";
/// Set on the one-off containers of `novadev run`: they belong to the project (so `down` removes
/// one left behind) but are no service's container.
pub const ONEOFF: &str = "dev.novadev.oneoff";
/// Set on volumes/networks: the stack key (the engine name may be custom).
pub const RESOURCE_KEY: &str = "dev.novadev.key";

/// A Docker `label=` filter value for a project.
pub fn project_filter(project: &str) -> String {
    format!("{PROJECT}={project}")
}
