//! The typed content of one stack file before merge: `RawFile`, `RawService` and their parts.
//! Fields are `Option`s where merge must know whether a file set them.

use super::*;

#[derive(Debug, Clone, Default)]
pub struct RawFile {
    pub name: Option<(String, Pos)>,
    pub services: Vec<RawService>,
    pub networks: Vec<RawNetwork>,
    pub volumes: Vec<RawVolume>,
    pub tiers: Option<Vec<(String, Vec<String>, Pos)>>,
    pub connection: Option<crate::stack::model::ConnectionSections>,
    pub requirements: Option<Requirements>,
    /// Top-level `x-novadev.k8s`, as written.
    pub k8s: Option<serde_json::Value>,
    /// Top-level `secrets:` and `configs:`.
    pub file_sources: Vec<RawFileSource>,
    /// Top-level `include:`, loaded by the loader before this file's own content is merged.
    pub includes: Vec<RawInclude>,
}

/// One `include:` entry.
#[derive(Debug, Clone)]
pub struct RawInclude {
    /// The included files (several are merged like `-f a -f b`), absolute.
    pub paths: Vec<PathBuf>,
    /// Env files for the included files' interpolation; default: the `.env` of its directory.
    pub env_files: Option<Vec<PathBuf>>,
    /// Where the included files' relative paths resolve; default: the first file's directory.
    pub project_directory: Option<PathBuf>,
    pub pos: Pos,
}

/// A top-level `secrets:` / `configs:` entry: a host file.
#[derive(Debug, Clone)]
pub struct RawFileSource {
    pub kind: FileKind,
    pub key: String,
    pub pos: Pos,
    /// Absolute host path; `None` when the entry is of a kind novadev cannot use (warned about).
    pub file: Option<PathBuf>,
}

/// A service's reference to a secret or config.
#[derive(Debug, Clone)]
pub struct RawFileRef {
    pub kind: FileKind,
    pub source: String,
    pub target: Option<String>,
    pub pos: Pos,
}

/// The runtime settings as one file wrote them (see `model::Runtime`).
#[derive(Debug, Clone, Default)]
pub struct RawRuntime {
    pub tmpfs: BTreeMap<String, String>,
    pub resources: Resources,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: Option<bool>,
    pub read_only: Option<bool>,
    pub network_mode: Option<(NetworkMode, Pos)>,
    pub security_opt: Vec<String>,
    pub file_refs: Vec<RawFileRef>,
    pub logging: Option<Logging>,
    pub ulimits: BTreeMap<String, Ulimit>,
    pub links: Vec<(String, String, Pos)>,
    pub shm_size: Option<u64>,
    pub platform: Option<String>,
    pub sysctls: BTreeMap<String, String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_opt: Vec<String>,
    pub devices: Vec<String>,
    pub hooks: Hooks,
    /// `deploy.replicas` / `scale`.
    pub replicas: Option<(u32, Pos)>,
}

#[derive(Debug, Clone)]
pub struct RawService {
    pub name: String,
    pub pos: Pos,
    /// The directory of the file that declared the service last (defaults resolve against it).
    pub dir: PathBuf,
    /// A value of this service failed to convert; suppresses follow-up errors such as "no image".
    pub broken: bool,
    pub image: Option<(String, Pos)>,
    pub build: Option<RawBuild>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub environment: BTreeMap<String, String>,
    pub env_file: Option<Vec<EnvFileRef>>,
    pub ports: Vec<PortMapping>,
    pub expose: Vec<String>,
    pub volumes: Vec<VolumeMount>,
    pub networks: BTreeMap<String, (ServiceNetwork, Pos)>,
    pub depends_on: BTreeMap<String, Dependency>,
    pub healthcheck: Option<RawHealthcheck>,
    pub restart: Option<RestartPolicy>,
    pub profiles: Option<Vec<String>>,
    pub labels: BTreeMap<String, String>,
    pub container_name: Option<(String, Pos)>,
    pub pull_policy: Option<(PullPolicy, Pos)>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub stop_signal: Option<String>,
    pub stop_grace_period: Option<Duration>,
    pub extra_hosts: BTreeMap<String, String>,
    pub init: Option<bool>,
    pub tty: Option<bool>,
    pub stdin_open: Option<bool>,
    pub develop: Option<Develop>,
    pub tier: Option<String>,
    pub rebuild_on_change: Option<bool>,
    pub host_build: Option<RawHostBuild>,
    pub keys: Option<Vec<GeneratedKey>>,
    /// `x-novadev.k8s`, as written.
    pub k8s: Option<serde_json::Value>,
    pub runtime: RawRuntime,
    /// `extends:`, resolved by the loader before merge.
    pub extends: Option<RawExtends>,
}

/// `extends: {service, file}` (or `extends: service`).
#[derive(Debug, Clone)]
pub struct RawExtends {
    pub service: String,
    /// Absolute path of the other file; `None` for the same file.
    pub file: Option<PathBuf>,
    pub pos: Pos,
}

impl RawService {
    pub(super) fn new(name: String, pos: Pos, dir: PathBuf) -> RawService {
        RawService {
            name,
            pos,
            dir,
            broken: false,
            image: None,
            build: None,
            command: None,
            entrypoint: None,
            environment: BTreeMap::new(),
            env_file: None,
            ports: Vec::new(),
            expose: Vec::new(),
            volumes: Vec::new(),
            networks: BTreeMap::new(),
            depends_on: BTreeMap::new(),
            healthcheck: None,
            restart: None,
            profiles: None,
            labels: BTreeMap::new(),
            container_name: None,
            pull_policy: None,
            working_dir: None,
            user: None,
            hostname: None,
            stop_signal: None,
            stop_grace_period: None,
            extra_hosts: BTreeMap::new(),
            init: None,
            tty: None,
            stdin_open: None,
            develop: None,
            tier: None,
            rebuild_on_change: None,
            host_build: None,
            keys: None,
            k8s: None,
            runtime: RawRuntime::default(),
            extends: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RawBuild {
    pub pos: Pos,
    /// Directory of the declaring file: the context when none is given.
    pub dir: PathBuf,
    pub context: Option<(PathBuf, Pos)>,
    pub dockerfile: Option<(String, Pos)>,
    pub args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub dockerfile_inline: Option<String>,
    pub cache_from: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct EnvFileRef {
    pub path: PathBuf,
    pub required: bool,
    pub pos: Pos,
}

#[derive(Debug, Clone, Default)]
pub struct RawHealthcheck {
    /// `Some(None)` is `["NONE"]`.
    pub test: Option<Option<HealthTest>>,
    pub disable: Option<bool>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub start_period: Option<Duration>,
    pub start_interval: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct RawHostBuild {
    pub command: Vec<String>,
    pub workdir: Option<PathBuf>,
    /// As written; resolved against the workdir by `validate`.
    pub artifact: String,
    pub base_image: Option<String>,
    pub install_path: Option<String>,
    pub live: bool,
}

#[derive(Debug, Clone)]
pub struct RawNetwork {
    pub key: String,
    pub pos: Pos,
    pub name: Option<String>,
    pub external: Option<bool>,
    pub driver: Option<String>,
    pub internal: Option<bool>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct RawVolume {
    pub key: String,
    pub pos: Pos,
    pub name: Option<String>,
    pub external: Option<bool>,
    pub driver: Option<String>,
    pub labels: BTreeMap<String, String>,
}
