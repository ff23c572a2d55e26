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
