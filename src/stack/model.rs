//! The resolved stack: what the loader produces after interpolation, merge and validation.
//!
//! Everything here is plain data. Paths are absolute, `${VAR}`s are substituted, `env_file`s are
//! folded into `environment`, and every service that is in the model is active (profiles applied).
//! Source positions ride along (`Pos`) so later stages can point at the line that caused a problem;
//! they are skipped by serde so that the config hash only changes when the configuration does.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A place in a stack file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Pos {
    pub file: Arc<PathBuf>,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A whole stack (Compose project), resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stack {
    /// Project name: `-p`, else `name:`, else the directory of the first file; normalized to
    /// `[a-z0-9_-]`, as Compose does.
    pub name: String,
    /// Directory of the first stack file; relative paths resolve against it.
    pub project_dir: PathBuf,
    /// The files merged, in order.
    pub files: Vec<PathBuf>,
    pub services: BTreeMap<String, Service>,
    pub networks: BTreeMap<String, Network>,
    pub volumes: BTreeMap<String, Volume>,
    /// Top-level `x-novadev` settings.
    #[serde(default)]
    pub novadev: ProjectExt,
}

/// Top-level `x-novadev:` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProjectExt {
    /// Display tiers, in order: (tier name, service names). Services not named go to a last group.
    #[serde(default)]
    pub tiers: Vec<(String, Vec<String>)>,
    /// The connection info block `up` prints, in order: (section, [(label, value)]). Values are
    /// interpolated like the rest of the file.
    #[serde(default)]
    pub connection: ConnectionSections,
    /// What the stack needs of the machine, checked before `up`.
    #[serde(default)]
    pub requirements: Requirements,
    /// `x-novadev.k8s`, kept as written: its meaning belongs to the Kubernetes runtime (src/k8s),
    /// which checks it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k8s: Option<serde_json::Value>,
}

/// Connection info sections: (section title, [(label, value)]), in the stack's order.
pub type ConnectionSections = Vec<(String, Vec<(String, String)>)>;

/// `x-novadev.requirements`: the machine a stack needs (checked, warned about, never enforced).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Requirements {
    pub cpus: Option<f64>,
    pub memory_bytes: Option<u64>,
}

impl Eq for Requirements {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    /// Where the service is declared (the key in the last file that mentioned it).
    #[serde(skip)]
    pub pos: Pos,
    pub image: Option<String>,
    pub build: Option<Build>,
    /// `command`; the string form is split like a shell would (Compose semantics).
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// Final environment: env_file entries, then `environment` on top. A bare `KEY` in
    /// `environment` takes the host's value, and is dropped if the host has none.
    pub environment: BTreeMap<String, String>,
    pub ports: Vec<PortMapping>,
    /// Container ports exposed to other containers only.
    pub expose: Vec<String>,
    pub volumes: Vec<VolumeMount>,
    /// Networks the service joins, with aliases. Empty in a file means the project's `default`
    /// network; the loader fills that in, so this is never empty.
    pub networks: BTreeMap<String, ServiceNetwork>,
    pub depends_on: BTreeMap<String, Dependency>,
    pub healthcheck: Option<Healthcheck>,
    pub restart: RestartPolicy,
    pub profiles: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub container_name: Option<String>,
    pub pull_policy: PullPolicy,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub stop_signal: Option<String>,
    pub stop_grace_period: Option<Duration>,
    /// `extra_hosts` as `host:ip` pairs.
    pub extra_hosts: Vec<String>,
    pub init: Option<bool>,
    pub tty: bool,
    pub stdin_open: bool,
    pub develop: Option<Develop>,
    /// Container-level settings beyond the basics (resources, privileges, namespaces, files,
    /// logging, DNS, lifecycle hooks). Skipped in serde when unset, so that stacks which do not
    /// use them keep the configuration hash they had.
    #[serde(default, skip_serializing_if = "Runtime::is_empty")]
    pub runtime: Runtime,
    /// The service's `x-novadev` settings.
    pub novadev: ServiceExt,
}

/// What a service asks of the container beyond image, command, environment, ports, volumes and
/// networks: everything here maps onto the engine's container create body (mostly `HostConfig`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Runtime {
    /// `tmpfs:` mounts: container path → mount options (`size=64m,mode=1777`, or empty).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tmpfs: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
    /// Read-only root file system.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<NetworkMode>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    /// `secrets:` and `configs:` of the service, resolved to host files mounted read-only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileMount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// `ulimits:` by name (`nofile`, `nproc`, …).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, Ulimit>,
    /// `links:` as (service, alias): the alias resolves to that service from this container.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_opt: Vec<String>,
    /// `devices:` as `host[:container[:permissions]]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// `post_start` / `pre_stop` hooks: kept in the model (and in `config`), not run by novadev.
    #[serde(skip_serializing_if = "Hooks::is_empty")]
    pub hooks: Hooks,
}

impl Runtime {
    pub fn is_empty(&self) -> bool {
        *self == Runtime::default()
    }
}

/// CPU and memory limits (`deploy.resources`, `mem_limit`, `cpus`, …).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Resources {
    /// Hard memory limit in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// Soft memory limit in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<u64>,
    /// CPUs, fractional (`0.5` = half a core).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids: Option<i64>,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }
}

/// `network_mode:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", content = "target", rename_all = "snake_case")]
pub enum NetworkMode {
    Host,
    None,
    /// Share the network namespace of another service of the stack (implies a dependency on it).
    Service(String),
    /// Share the network namespace of a container by name or id, outside the stack.
    Container(String),
    /// `bridge`, or another engine network named directly.
    Network(String),
}

impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkMode::Host => f.write_str("host"),
            NetworkMode::None => f.write_str("none"),
            NetworkMode::Service(s) => write!(f, "service:{s}"),
            NetworkMode::Container(c) => write!(f, "container:{c}"),
            NetworkMode::Network(n) => f.write_str(n),
        }
    }
}

/// Whether a mounted file is a secret or a config (they differ in default target only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Secret,
    Config,
}

/// A file-based secret or config, mounted read-only into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMount {
    pub kind: FileKind,
    /// The top-level `secrets:` / `configs:` entry it comes from.
    pub name: String,
    /// Absolute host path.
    pub source: PathBuf,
    /// Absolute container path (`/run/secrets/NAME` for a secret, `/NAME` for a config, unless
    /// given).
    pub target: String,
}

/// `logging:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logging {
    pub driver: Option<String>,
    pub options: BTreeMap<String, String>,
}

/// One `ulimits:` entry (a single number sets both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    pub soft: i64,
    pub hard: i64,
}

/// Lifecycle hooks (`post_start`, `pre_stop`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Hooks {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub post_start: Vec<Hook>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pre_stop: Vec<Hook>,
}

impl Hooks {
    pub fn is_empty(&self) -> bool {
        self.post_start.is_empty() && self.pre_stop.is_empty()
    }
}

/// One hook: a command run in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub command: Vec<String>,
    pub user: Option<String>,
    pub privileged: bool,
    pub working_dir: Option<String>,
    pub environment: BTreeMap<String, String>,
}

impl Service {
    /// A service with nothing set: the defaults the loader fills in (restart `no`, pull policy
    /// `missing`, the `default` network). Handy for tests and for building stacks in code.
    pub fn new(name: impl Into<String>) -> Service {
        let mut networks = BTreeMap::new();
        networks.insert("default".to_string(), ServiceNetwork::default());
        Service {
            name: name.into(),
            pos: Pos::default(),
            image: None,
            build: None,
            command: None,
            entrypoint: None,
            environment: BTreeMap::new(),
            ports: Vec::new(),
            expose: Vec::new(),
            volumes: Vec::new(),
            networks,
            depends_on: BTreeMap::new(),
            healthcheck: None,
            restart: RestartPolicy::default(),
            profiles: Vec::new(),
            labels: BTreeMap::new(),
            container_name: None,
            pull_policy: PullPolicy::default(),
            working_dir: None,
            user: None,
            hostname: None,
            stop_signal: None,
            stop_grace_period: None,
            extra_hosts: Vec::new(),
            init: None,
            tty: false,
            stdin_open: false,
            develop: None,
            runtime: Runtime::default(),
            novadev: ServiceExt::default(),
        }
    }

    /// The image name the engine runs: `image:` or, for a build without one, `<project>-<service>`
    /// as Compose names it.
    pub fn image_ref(&self, project: &str) -> String {
        match &self.image {
            Some(image) => image.clone(),
            None => format!("{project}-{}", self.name),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Build {
    /// Absolute path of the build context directory.
    pub context: PathBuf,
    /// Dockerfile path relative to the context (default `Dockerfile`).
    pub dockerfile: String,
    pub args: BTreeMap<String, String>,
    pub target: Option<String>,
    /// `dockerfile_inline`: the Dockerfile's text, used instead of `dockerfile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile_inline: Option<String>,
    /// `cache_from`: images whose layers the build may reuse.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cache_from: Vec<String>,
    #[serde(skip)]
    pub pos: Pos,
}

/// Where a `dockerfile_inline` goes in the build context sent to the engine.
pub const INLINE_DOCKERFILE: &str = ".novadev-inline.Dockerfile";

impl Build {
    /// The Dockerfile's path inside the build context as sent to the engine.
    pub fn dockerfile_in_context(&self) -> &str {
        if self.dockerfile_inline.is_some() {
            INLINE_DOCKERFILE
        } else {
            &self.dockerfile
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

/// One published port. A range in the file (`8000-8002:8000-8002`) becomes one mapping per port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// Host address to bind; the loader defaults it to `127.0.0.1` (novadev's rule, unlike Compose).
    pub host_ip: String,
    /// `None` lets the engine pick a free port.
    pub host_port: Option<u16>,
    /// With `host_port`, a range (`6005-6015:80`): the engine picks a free port in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port_end: Option<u16>,
    pub container_port: u16,
    pub protocol: Protocol,
    #[serde(skip)]
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MountSource {
    /// A named volume of the stack (key of `Stack::volumes`).
    Volume {
        name: String,
    },
    /// A host path, absolute.
    Bind {
        path: PathBuf,
    },
    /// An anonymous volume (only a target given).
    Anonymous,
    Tmpfs,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeMount {
    pub source: MountSource,
    /// Path inside the container.
    pub target: String,
    pub read_only: bool,
    /// Bind mounts: `z` (shared) or `Z` (private) SELinux relabelling, from `:z` / `:Z`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selinux: Option<String>,
    /// Bind mounts: mount propagation (`rshared`, `rslave`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation: Option<String>,
    /// Volumes: do not copy the image's content at the target into a new volume.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nocopy: bool,
    /// tmpfs mounts: size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs_size: Option<u64>,
    #[serde(skip)]
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ServiceNetwork {
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Condition::ServiceStarted => "service_started",
            Condition::ServiceHealthy => "service_healthy",
            Condition::ServiceCompletedSuccessfully => "service_completed_successfully",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    pub condition: Condition,
    /// Compose's `required` (default true).
    pub required: bool,
    /// Compose's `restart`: restart this service when the dependency is recreated/restarted.
    pub restart: bool,
    /// Where the dependency is declared (for cycle and unknown-service messages).
    #[serde(skip)]
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum HealthTest {
    /// `["CMD", ...]` or a list without a recognised first word.
    Cmd(Vec<String>),
    /// `["CMD-SHELL", "..."]` or the string form.
    Shell(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Healthcheck {
    /// `None` together with `disable: true` (or `test: ["NONE"]`) turns the image's check off.
    pub test: Option<HealthTest>,
    pub disable: bool,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub start_period: Option<Duration>,
    pub start_interval: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "policy", content = "max_retries", rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    OnFailure(Option<u32>),
    UnlessStopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PullPolicy {
    Always,
    Never,
    /// Pull only when absent (Compose's default; `if_not_present` is its alias).
    #[default]
    Missing,
    /// Build the image (needs `build:`).
    Build,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Develop {
    pub watch: Vec<WatchRule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WatchAction {
    Rebuild,
    Sync,
    #[serde(rename = "sync+restart")]
    SyncRestart,
    Restart,
    #[serde(rename = "sync+exec")]
    SyncExec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchRule {
    /// Absolute host path watched.
    pub path: PathBuf,
    pub action: WatchAction,
    /// Container path for the sync actions.
    pub target: Option<String>,
    /// Ignore patterns, relative to `path` (gitignore syntax).
    pub ignore: Vec<String>,
    /// Command for `sync+exec`.
    pub exec: Option<Vec<String>>,
    #[serde(skip)]
    pub pos: Pos,
}

/// A service's `x-novadev:` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ServiceExt {
    /// Display tier (overrides the project's `tiers`).
    pub tier: Option<String>,
    /// Rebuild when files of the build context change (default true for services with `build`).
    pub rebuild_on_change: Option<bool>,
    /// Build the artifact on the host, then package it into a thin image (Rust fast path).
    pub host_build: Option<HostBuild>,
    /// Dev key pairs novadev generates on first `up` into the project's state dir and mounts
    /// read-only into the container (never printed).
    #[serde(default)]
    pub keys: Vec<GeneratedKey>,
    /// `x-novadev.k8s`, kept as written: its meaning belongs to the Kubernetes runtime (src/k8s),
    /// which checks it.
    /// Not serialized when absent, so the Docker side's config hash of a stack without it stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k8s: Option<serde_json::Value>,
}

/// A key pair novadev makes for a service: `<target>/private.pem` (PKCS#8) and
/// `<target>/public.pem` (SPKI), Ed25519.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedKey {
    /// Name of the pair, `[a-z0-9_-]+`; pairs with the same name are shared between services.
    pub name: String,
    /// Directory inside the container holding the two files.
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostBuild {
    /// Command run on the host, e.g. `cargo build --release -p social-service`.
    pub command: Vec<String>,
    /// Directory the command runs in (absolute).
    pub workdir: PathBuf,
    /// The file the command produces (absolute).
    pub artifact: PathBuf,
    /// Base image of the thin image (default `debian:bookworm-slim`).
    pub base_image: String,
    /// Where the artifact goes in the image (default `/usr/local/bin/<service>`).
    pub install_path: String,
    /// Live updates: a rebuild puts the new artifact into the running container and restarts
    /// the process in place (the image's entrypoint is a small supervisor, which needs `/bin/sh`
    /// in the base image) instead of packaging an image and replacing the container.
    #[serde(default)]
    pub live: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Network {
    /// Engine-side name; default `<project>_<key>`.
    pub name: Option<String>,
    pub external: bool,
    pub driver: Option<String>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Volume {
    /// Engine-side name; default `<project>_<key>`.
    pub name: Option<String>,
    pub external: bool,
    pub driver: Option<String>,
    pub labels: BTreeMap<String, String>,
}

/// A service name as Compose allows it: a letter or digit, then letters, digits, `_`, `.`, `-`.
/// It also makes a safe path component (never empty, `.`, `..`, hidden, or with `/` or NUL).
pub fn is_valid_service_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// A generated key pair's name: lowercase letters, digits, `-` and `_`, starting with a letter or
/// digit. It names a directory under the project's state dir.
pub fn is_valid_key_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'))
}

impl Stack {
    /// The names in a stack that become host paths or engine names, checked as the loader checks
    /// them: for a `Stack` that did not come from the loader (deserialized), before it is used.
    /// Returns one message per problem.
    pub fn check_names(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.name.is_empty() || crate::stack::normalize_project_name(&self.name) != self.name {
            problems.push(format!("invalid project name `{}`", self.name));
        }
        for (key, service) in &self.services {
            if !is_valid_service_name(key) {
                problems.push(format!("invalid service name `{key}`"));
            }
            if service.name != *key {
                problems.push(format!(
                    "service `{key}` is named `{}` inside",
                    service.name
                ));
            }
            for k in &service.novadev.keys {
                if !is_valid_key_name(&k.name) {
                    problems.push(format!("service `{key}`: invalid key name `{}`", k.name));
                }
                if !k.target.starts_with('/') {
                    problems.push(format!(
                        "service `{key}`: key target `{}` must be an absolute path",
                        k.target
                    ));
                }
            }
        }
        problems
    }

    /// Engine-side name of a stack network.
    pub fn network_name(&self, key: &str) -> String {
        match self.networks.get(key).and_then(|n| n.name.clone()) {
            Some(name) => name,
            None => format!("{}_{key}", self.name),
        }
    }

    /// Engine-side name of a stack volume.
    pub fn volume_name(&self, key: &str) -> String {
        match self.volumes.get(key).and_then(|v| v.name.clone()) {
            Some(name) => name,
            None => format!("{}_{key}", self.name),
        }
    }

    /// The container name of a service: `container_name:` or `<project>-<service>-1`.
    pub fn container_name(&self, service: &str) -> String {
        match self
            .services
            .get(service)
            .and_then(|s| s.container_name.clone())
        {
            Some(name) => name,
            None => format!("{}-{service}-1", self.name),
        }
    }

    /// A service's display tier: its own `x-novadev.tier`, else the project's `tiers` list.
    pub fn tier_of(&self, service: &str) -> Option<String> {
        if let Some(t) = self
            .services
            .get(service)
            .and_then(|s| s.novadev.tier.clone())
        {
            return Some(t);
        }
        self.novadev
            .tiers
            .iter()
            .find(|(_, members)| members.iter().any(|m| m == service))
            .map(|(tier, _)| tier.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack_with(service: Service) -> Stack {
        let mut services = BTreeMap::new();
        services.insert(service.name.clone(), service);
        Stack {
            name: "demo".into(),
            project_dir: PathBuf::from("/p"),
            files: Vec::new(),
            services,
            networks: BTreeMap::new(),
            volumes: BTreeMap::new(),
            novadev: ProjectExt::default(),
        }
    }

    #[test]
    fn names_that_would_escape_a_directory_are_invalid() {
        for bad in ["", ".", "..", ".x", "a/b", "../x", "a\0b", "-x"] {
            assert!(!is_valid_service_name(bad), "{bad:?}");
            assert!(!is_valid_key_name(bad), "{bad:?}");
        }
        assert!(is_valid_service_name("web.v2_a-1"));
        assert!(is_valid_key_name("jwt-2_a"));
        assert!(!is_valid_key_name("Jwt"));
    }

    #[test]
    fn check_names_flags_what_a_deserialized_stack_could_carry() {
        let mut web = Service::new("web");
        web.novadev.keys.push(GeneratedKey {
            name: "../../../etc".into(),
            target: "relative".into(),
        });
        let mut stack = stack_with(web);
        stack.name = "../evil".into();
        let problems = stack.check_names().join("\n");
        assert!(problems.contains("invalid project name"), "{problems}");
        assert!(
            problems.contains("invalid key name `../../../etc`"),
            "{problems}"
        );
        assert!(problems.contains("must be an absolute path"), "{problems}");
        let mut ok = Service::new("web");
        ok.novadev.keys.push(GeneratedKey {
            name: "jwt".into(),
            target: "/run/secrets/jwt".into(),
        });
        assert!(stack_with(ok).check_names().is_empty());
    }

    #[test]
    fn check_names_flags_a_service_keyed_under_another_name() {
        let mut stack = stack_with(Service::new("web"));
        let service = Service::new("a/b");
        stack.services.insert("x/y".into(), service);
        let problems = stack.check_names().join("\n");
        assert!(
            problems.contains("invalid service name `x/y`"),
            "{problems}"
        );
        assert!(problems.contains("named `a/b` inside"), "{problems}");
    }
}
