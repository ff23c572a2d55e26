//! The status board: the one owner of "what state is each service in", publishing every change
//! as an event. The daemon's API, the TUI and the web UI only read snapshots and subscribe.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

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
    /// Stopped on purpose (`down`) or not created.
    Stopped,
    /// The last rebuild failed; the previous container (if any) keeps running.
    BuildFailed,
    /// The container keeps exiting; novadev restarts it with growing delays.
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
    /// Why it is in this phase (failure reason, what it waits for, ...).
    pub detail: Option<String>,
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
    /// Display tier (from `x-novadev`), if any.
    pub tier: Option<String>,
    /// The last build, if novadev built this service's image.
    #[serde(default)]
    pub last_build: Option<BuildRecord>,
    /// Builds since the daemon started.
    #[serde(default)]
    pub builds: u32,
    /// In a crash loop: when the next restart is due (Unix ms).
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
            container_name: None,
            container_id: None,
            image: None,
            ports: Vec::new(),
            has_healthcheck: false,
            exit_code: None,
            restarts: 0,
            taken: None,
            since_ms: now_ms(),
            started_ms: None,
            ready_ms: None,
            tier: None,
            last_build: None,
            builds: 0,
            next_retry_ms: None,
        }
    }
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
}

impl Event {
    pub fn seq(&self) -> u64 {
        match self {
            Event::Service { seq, .. } | Event::Message { seq, .. } | Event::Output { seq, .. } => {
                *seq
            }
        }
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

struct Inner {
    seq: u64,
    services: BTreeMap<String, ServiceStatus>,
}

/// The board. Cheap to share behind an `Arc`; the lock is held only to copy or change a status.
pub struct StatusBoard {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Event>,
}

impl Default for StatusBoard {
    fn default() -> Self {
        StatusBoard::new()
    }
}

impl StatusBoard {
    pub fn new() -> StatusBoard {
        let (tx, _) = broadcast::channel(4096);
        StatusBoard {
            inner: Mutex::new(Inner {
                seq: 0,
                services: BTreeMap::new(),
            }),
            tx,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// All services, sorted by name.
    pub fn snapshot(&self) -> Vec<ServiceStatus> {
        self.lock().services.values().cloned().collect()
    }

    pub fn get(&self, service: &str) -> Option<ServiceStatus> {
        self.lock().services.get(service).cloned()
    }

    /// Change a service's status (creating it if new) and publish the result.
    pub fn update(&self, service: &str, change: impl FnOnce(&mut ServiceStatus)) {
        let event = {
            let mut inner = self.lock();
            inner.seq += 1;
            let seq = inner.seq;
            let status = inner
                .services
                .entry(service.to_string())
                .or_insert_with(|| ServiceStatus::new(service));
            let before = status.phase;
            change(status);
            if status.phase != before {
                status.since_ms = now_ms();
            }
            Event::Service {
                seq,
                time_ms: now_ms(),
                status: Box::new(status.clone()),
            }
        };
        // No subscribers is fine.
        let _ = self.tx.send(event);
    }

    /// Set a phase with its detail.
    pub fn set(&self, service: &str, phase: Phase, detail: Option<String>) {
        self.update(service, |s| {
            s.phase = phase;
            s.detail = detail;
            match phase {
                Phase::Ready | Phase::Completed => s.ready_ms = Some(now_ms()),
                Phase::Starting => s.started_ms = Some(now_ms()),
                _ => {}
            }
        });
    }

    /// Forget services that are no longer in the stack.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.lock().services.retain(|k, _| keep(k));
    }

    /// A line of output novadev produced for a service (e.g. its build).
    pub fn output(&self, service: &str, stream: &str, text: impl Into<String>) {
        let event = {
            let mut inner = self.lock();
            inner.seq += 1;
            Event::Output {
                seq: inner.seq,
                time_ms: now_ms(),
                service: service.to_string(),
                stream: stream.to_string(),
                text: text.into(),
            }
        };
        let _ = self.tx.send(event);
    }

    pub fn message(&self, text: impl Into<String>) {
        let event = {
            let mut inner = self.lock();
            inner.seq += 1;
            Event::Message {
                seq: inner.seq,
                time_ms: now_ms(),
                text: text.into(),
            }
        };
        let _ = self.tx.send(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_update_is_published_in_order() {
        let board = StatusBoard::new();
        let mut rx = board.subscribe();
        board.set("db", Phase::Creating, None);
        board.set("db", Phase::Ready, None);
        board.message("network created");
        let a = rx.try_recv().unwrap();
        let b = rx.try_recv().unwrap();
        let c = rx.try_recv().unwrap();
        assert!(a.seq() < b.seq() && b.seq() < c.seq());
        match b {
            Event::Service { status, .. } => {
                assert_eq!(status.phase, Phase::Ready);
                assert!(status.ready_ms.is_some());
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(board.snapshot().len(), 1);
    }
}
