//! A service's status and the events that publish its changes.

use serde::{Deserialize, Serialize};

use super::ServiceFailure;

/// Where a service is in its life, as a person would name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Known from the stack, nothing done yet.
    Pending,
    /// Waiting for its dependencies' conditions.
    Waiting,
    Pulling,
    Building,
    Creating,
    /// Container started; readiness not yet established.
    Starting,
    Ready,
    /// A one-shot service that exited 0.
    Completed,
    Unhealthy,
    /// The container stopped by itself.
    Exited,
    /// novadev could not bring it up (dependency failed, image missing, exit non-zero, timeout).
    Failed,
    /// Stopped on purpose (`down`, `stop`, `docker stop`) or not created.
    Stopped,
    /// The last rebuild failed; the previous container (if any) keeps running.
    BuildFailed,
    /// The container keeps exiting; the engine restarts it with growing delays.
    CrashLoop,
}

impl Phase {
    pub fn as_str(&self) -> &'static str {
        match self {
            Phase::Pending => "pending",
            Phase::Waiting => "waiting",
            Phase::Pulling => "pulling",
            Phase::Building => "building",
            Phase::Creating => "creating",
            Phase::Starting => "starting",
            Phase::Ready => "ready",
            Phase::Completed => "completed",
            Phase::Unhealthy => "unhealthy",
            Phase::Exited => "exited",
            Phase::Failed => "failed",
            Phase::Stopped => "stopped",
            Phase::BuildFailed => "build_failed",
            Phase::CrashLoop => "crash_loop",
        }
    }

    /// A phase an `up` ends in.
    pub fn is_settled(&self) -> bool {
        matches!(
            self,
            Phase::Ready | Phase::Completed | Phase::Failed | Phase::Unhealthy | Phase::Exited
        )
    }

    pub fn is_good(&self) -> bool {
        matches!(self, Phase::Ready | Phase::Completed)
    }

    /// A container runs (or is being restarted) in this phase.
    pub fn is_running(&self) -> bool {
        matches!(self, Phase::Starting | Phase::Ready | Phase::Unhealthy)
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `up` did with a service's container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Taken {
    Created,
    Recreated,
    Started,
    Restarted,
    Kept,
}

impl Taken {
    pub fn as_str(self) -> &'static str {
        match self {
            Taken::Created => "created",
            Taken::Recreated => "recreated",
            Taken::Started => "started",
            Taken::Restarted => "restarted",
            Taken::Kept => "kept",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: String,
}

impl std::fmt::Display for PublishedPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}->{}/{}",
            self.host_ip, self.host_port, self.container_port, self.protocol
        )
    }
}

/// The last image build of a service (during `up`, a rebuild on change, or `novadev rebuild`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRecord {
    pub ok: bool,
    pub started_ms: u64,
    pub finished_ms: Option<u64>,
    /// Why it failed: the first compiler error when there is one.
    pub error: Option<String>,
}

/// Everything a UI shows about one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub service: String,
    pub phase: Phase,
    /// Why it is in this phase (failure reason, what it waits for, ...), in words.
    pub detail: Option<String>,
    /// Why it failed, typed (what `detail` says in words when the phase is a failure).
    #[serde(default)]
    pub failure: Option<ServiceFailure>,
    pub container_name: Option<String>,
    pub container_id: Option<String>,
    pub image: Option<String>,
    pub ports: Vec<PublishedPort>,
    pub has_healthcheck: bool,
    pub exit_code: Option<i64>,
    pub restarts: u32,
    pub taken: Option<Taken>,
    /// Unix milliseconds of the last phase change, of the container start and of readiness.
    pub since_ms: u64,
    pub started_ms: Option<u64>,
    pub ready_ms: Option<u64>,
    /// Unix milliseconds of novadev's last request to the engine to start the container: with
    /// `started_ms`, how long the engine took to start it.
    #[serde(default)]
    pub start_asked_ms: Option<u64>,
    /// Display tier (from `x-novadev`), if any.
    pub tier: Option<String>,
    /// The last build, if novadev built this service's image.
    #[serde(default)]
    pub last_build: Option<BuildRecord>,
    /// Builds since the daemon started.
    #[serde(default)]
    pub builds: u32,
    /// In a crash loop: when the next restart is due (Unix ms), as far as it can be told.
    #[serde(default)]
    pub next_retry_ms: Option<u64>,
}

impl ServiceStatus {
    /// The published ports as one line (`127.0.0.1:5432->5432/tcp, ...`).
    pub fn ports_text(&self) -> String {
        self.ports
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn new(service: &str) -> ServiceStatus {
        ServiceStatus {
            service: service.to_string(),
            phase: Phase::Pending,
            detail: None,
            failure: None,
            container_name: None,
            container_id: None,
            image: None,
            ports: Vec::new(),
            has_healthcheck: false,
            exit_code: None,
            restarts: 0,
            taken: None,
            since_ms: super::now_ms(),
            started_ms: None,
            ready_ms: None,
            start_asked_ms: None,
            tier: None,
            last_build: None,
            builds: 0,
            next_retry_ms: None,
        }
    }
}

/// Whether the runtime's engine answers. Kept on the board so that `status` can say that what it
/// shows may be stale, and since when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineHealth {
    pub reachable: bool,
    /// Since when it has not answered (Unix ms), while it does not.
    pub unreachable_since_ms: Option<u64>,
    /// The last outage that ended: (from, to), Unix ms.
    pub last_outage_ms: Option<(u64, u64)>,
    /// Why it does not answer (the engine's or the transport's words).
    pub error: Option<String>,
}

/// One change, as published to subscribers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A service's new status.
    Service {
        seq: u64,
        time_ms: u64,
        status: Box<ServiceStatus>,
    },
    /// A project-level message (network created, orphan removed, ...).
    Message {
        seq: u64,
        time_ms: u64,
        text: String,
    },
    /// A line novadev produced for a service (build output), for its log view.
    Output {
        seq: u64,
        time_ms: u64,
        service: String,
        stream: String,
        text: String,
    },
    /// The engine stopped or started answering.
    Engine {
        seq: u64,
        time_ms: u64,
        health: EngineHealth,
    },
    /// A turn of the dev loop ended (a rebuild or a restart), with its breakdown.
    Loop {
        seq: u64,
        time_ms: u64,
        record: Box<super::LoopRecord>,
    },
}

impl Event {
    pub fn seq(&self) -> u64 {
        match self {
            Event::Service { seq, .. }
            | Event::Message { seq, .. }
            | Event::Output { seq, .. }
            | Event::Engine { seq, .. }
            | Event::Loop { seq, .. } => *seq,
        }
    }
}
