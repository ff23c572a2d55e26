//! The status board: the one owner of "what state is each service in". One record per service;
//! every change is a named [`Transition`] applied by one pure reducer ([`apply`]) and published
//! to subscribers in the order the records changed (the event is sent while the record is still
//! locked, so two racing changes cannot reach a subscriber swapped).
//!
//! Besides the published status, a record holds what the operations need to coordinate on one
//! service: whether an operation is acting on it right now (`busy`: the engine's events about it
//! are then that operation's doing), and the dev loop's queue (one build at a time, at most one
//! follow-up). It also holds whether the engine answers.
//!
//! Must not know Docker, Kubernetes or the stack model: runtimes tell it what happened in its
//! own words.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast;

mod transition;

pub use transition::{ContainerRef, Transition, apply};

use crate::protocol::{EngineHealth, Event, ServiceStatus, now_ms};

/// The dev loop's queue of one service: builds asked for (`requested`, a generation count) and
/// done (`completed`: the last generation built and the service's status right after it, watched
/// by whoever waits for theirs). One build runs at a time; every request that arrives meanwhile
/// is served by one follow-up build.
#[derive(Debug)]
struct DevQueue {
    building: bool,
    requested: u64,
    completed: tokio::sync::watch::Sender<(u64, Option<ServiceStatus>)>,
}

impl Default for DevQueue {
    fn default() -> Self {
        DevQueue {
            building: false,
            requested: 0,
            completed: tokio::sync::watch::Sender::new((0, None)),
        }
    }
}

#[derive(Debug)]
struct Record {
    status: ServiceStatus,
    busy: usize,
    dev: DevQueue,
}

impl Record {
    fn new(service: &str) -> Record {
        Record {
            status: ServiceStatus::new(service),
            busy: 0,
            dev: DevQueue::default(),
        }
    }
}

struct Inner {
    seq: u64,
    records: BTreeMap<String, Record>,
    engine: EngineHealth,
}

/// The board. Share it behind an `Arc`; the lock is held only to change or copy a record.
pub struct StatusBoard {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Event>,
}

impl Default for StatusBoard {
    fn default() -> Self {
        StatusBoard::new()
    }
}

/// What a build request for a service should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildTicket {
    /// Nothing is building it: the caller builds generation `upto` (and reports it with
    /// [`StatusBoard::build_done`]).
    Run { upto: u64 },
    /// A build runs: a follow-up will serve this request.
    Queued,
}

/// A build request: what to do, and how to learn that the build serving it is over.
#[derive(Debug)]
pub struct BuildRequest {
    pub ticket: BuildTicket,
    /// The generation that serves this request.
    pub generation: u64,
    /// The last generation built, and the service's status right after that build (and its
    /// replacement) ended.
    pub completed: tokio::sync::watch::Receiver<(u64, Option<ServiceStatus>)>,
}

impl StatusBoard {
    pub fn new() -> StatusBoard {
        let (tx, _) = broadcast::channel(4096);
        StatusBoard {
            inner: Mutex::new(Inner {
                seq: 0,
                records: BTreeMap::new(),
                engine: EngineHealth {
                    reachable: true,
                    ..EngineHealth::default()
                },
            }),
            tx,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// All services, sorted by name.
    pub fn snapshot(&self) -> Vec<ServiceStatus> {
        self.lock()
            .records
            .values()
            .map(|r| r.status.clone())
            .collect()
    }

    pub fn get(&self, service: &str) -> Option<ServiceStatus> {
        self.lock().records.get(service).map(|r| r.status.clone())
    }

    /// Apply `t` to `service` (a record is made for a service not seen before) and publish the
    /// new status. Returns it.
    pub fn apply(&self, service: &str, t: Transition) -> ServiceStatus {
        let mut inner = self.lock();
        let now = now_ms();
        let record = inner
            .records
            .entry(service.to_string())
            .or_insert_with(|| Record::new(service));
        apply(&mut record.status, t, now);
        let status = record.status.clone();
        inner.seq += 1;
        let event = Event::Service {
            seq: inner.seq,
            time_ms: now,
            status: Box::new(status.clone()),
        };
        // Sent under the lock: subscribers see changes in the order they were made. No
        // subscriber is fine.
        let _ = self.tx.send(event);
        status
    }

    /// Apply `t` only when `when` holds for the service's current status (and it is not busy,
    /// unless `even_busy`). For what the engine reports, which must not undo an operation's own
    /// work. Returns whether it applied.
    pub fn apply_if(
        &self,
        service: &str,
        when: impl FnOnce(&ServiceStatus) -> bool,
        t: Transition,
    ) -> bool {
        {
            let inner = self.lock();
            let Some(record) = inner.records.get(service) else {
                return false;
            };
            if record.busy > 0 || !when(&record.status) {
                return false;
            }
        }
        // Checked and applied under two locks: an operation marking the service busy between
        // them is ordered after this change, which it then overrides as it would anyway.
        self.apply(service, t);
        true
    }

    /// Forget services that are no longer in the stack.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.lock().records.retain(|k, r| keep(k) || r.busy > 0);
    }

    /// A line of output novadev produced for a service (e.g. its build).
    pub fn output(&self, service: &str, stream: &str, text: impl Into<String>) {
        let mut inner = self.lock();
        inner.seq += 1;
        let _ = self.tx.send(Event::Output {
            seq: inner.seq,
            time_ms: now_ms(),
            service: service.to_string(),
            stream: stream.to_string(),
            text: text.into(),
        });
    }

    pub fn message(&self, text: impl Into<String>) {
        let mut inner = self.lock();
        inner.seq += 1;
        let _ = self.tx.send(Event::Message {
            seq: inner.seq,
            time_ms: now_ms(),
            text: text.into(),
        });
    }

    pub fn engine(&self) -> EngineHealth {
        self.lock().engine.clone()
    }

    /// The engine answered (again). Returns whether it had been unreachable.
    pub fn engine_reachable(&self) -> bool {
        let mut inner = self.lock();
        if inner.engine.reachable {
            return false;
        }
        let now = now_ms();
        let since = inner.engine.unreachable_since_ms.unwrap_or(now);
        inner.engine = EngineHealth {
            reachable: true,
            unreachable_since_ms: None,
            last_outage_ms: Some((since, now)),
            error: None,
        };
        self.publish_engine(&mut inner);
        true
    }

    /// The engine does not answer.
    pub fn engine_unreachable(&self, error: impl Into<String>) {
        let mut inner = self.lock();
        let error = error.into();
        if !inner.engine.reachable && inner.engine.error.as_deref() == Some(error.as_str()) {
            return;
        }
        let since = inner.engine.unreachable_since_ms.unwrap_or_else(now_ms);
        inner.engine.reachable = false;
        inner.engine.unreachable_since_ms = Some(since);
        inner.engine.error = Some(error);
        self.publish_engine(&mut inner);
    }

    fn publish_engine(&self, inner: &mut Inner) {
        inner.seq += 1;
        let _ = self.tx.send(Event::Engine {
            seq: inner.seq,
            time_ms: now_ms(),
            health: inner.engine.clone(),
        });
    }

    /// Mark `service` as acted on by an operation for as long as the guard lives.
    pub fn busy(self: &Arc<Self>, service: &str) -> BusyGuard {
        let mut inner = self.lock();
        inner
            .records
            .entry(service.to_string())
            .or_insert_with(|| Record::new(service))
            .busy += 1;
        BusyGuard {
            board: self.clone(),
            service: service.to_string(),
        }
    }

    pub fn is_busy(&self, service: &str) -> bool {
        self.lock().records.get(service).is_some_and(|r| r.busy > 0)
    }

    /// A build of `service` is wanted: run it now, or let the running build's follow-up serve it.
    pub fn request_build(&self, service: &str) -> BuildRequest {
        let mut inner = self.lock();
        let record = inner
            .records
            .entry(service.to_string())
            .or_insert_with(|| Record::new(service));
        record.dev.requested += 1;
        let generation = record.dev.requested;
        let ticket = if record.dev.building {
            BuildTicket::Queued
        } else {
            record.dev.building = true;
            BuildTicket::Run { upto: generation }
        };
        BuildRequest {
            ticket,
            generation,
            completed: record.dev.completed.subscribe(),
        }
    }

    /// The build of generations up to `upto` is over. Returns the generation of the follow-up to
    /// run when requests arrived meanwhile (one build serves them all), or `None` when the queue
    /// is empty.
    pub fn build_done(&self, service: &str, upto: u64) -> Option<u64> {
        let mut inner = self.lock();
        let record = inner.records.get_mut(service)?;
        record
            .dev
            .completed
            .send_replace((upto, Some(record.status.clone())));
        if record.dev.requested > upto {
            Some(record.dev.requested)
        } else {
            record.dev.building = false;
            None
        }
    }
}

/// Marks a service busy while it lives.
pub struct BusyGuard {
    board: Arc<StatusBoard>,
    service: String,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        let mut inner = self.board.lock();
        if let Some(record) = inner.records.get_mut(&self.service) {
            record.busy = record.busy.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Phase;

    #[test]
    fn every_change_is_published_in_order_with_its_status() {
        let board = StatusBoard::new();
        let mut rx = board.subscribe();
        board.apply(
            "db",
            Transition::Creating {
                detail: "creating".into(),
            },
        );
        board.apply("db", Transition::Ready { healthy: true });
        board.message("network created");
        let a = rx.try_recv().unwrap();
        let b = rx.try_recv().unwrap();
        let c = rx.try_recv().unwrap();
        assert!(a.seq() < b.seq() && b.seq() < c.seq());
        match b {
            Event::Service { status, .. } => {
                assert_eq!(status.phase, Phase::Ready);
                assert!(status.ready_ms.is_some() && status.has_healthcheck);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(board.snapshot().len(), 1);
    }

    #[test]
    fn racing_changes_reach_subscribers_in_the_order_they_were_made() {
        let board = Arc::new(StatusBoard::new());
        let mut rx = board.subscribe();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let board = board.clone();
                std::thread::spawn(move || {
                    for i in 0..200 {
                        board.apply(
                            "svc",
                            Transition::Exited {
                                code: i64::from(t * 1000 + i),
                            },
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut last_seq = 0;
        let mut last_code = None;
        while let Ok(Event::Service { seq, status, .. }) = rx.try_recv() {
            assert!(seq > last_seq, "sequence grows");
            last_seq = seq;
            last_code = status.exit_code;
        }
        assert_eq!(
            last_code,
            board.get("svc").unwrap().exit_code,
            "the last event is the final state"
        );
    }

    #[test]
    fn engine_reports_ignore_busy_services_and_unmet_conditions() {
        let board = Arc::new(StatusBoard::new());
        board.apply("db", Transition::Ready { healthy: false });
        let guard = board.busy("db");
        assert!(!board.apply_if("db", |_| true, Transition::Exited { code: 1 }));
        drop(guard);
        assert!(!board.apply_if(
            "db",
            |s| s.phase == Phase::Stopped,
            Transition::Exited { code: 1 }
        ));
        assert!(board.apply_if(
            "db",
            |s| s.phase == Phase::Ready,
            Transition::Exited { code: 1 }
        ));
        assert!(!board.apply_if("nosuch", |_| true, Transition::Exited { code: 1 }));
        assert_eq!(board.get("db").unwrap().phase, Phase::Exited);
    }

    #[test]
    fn one_build_at_a_time_and_at_most_one_follow_up() {
        let board = StatusBoard::new();
        let first = board.request_build("web");
        assert_eq!(first.ticket, BuildTicket::Run { upto: 1 });
        let second = board.request_build("web");
        let third = board.request_build("web");
        assert_eq!(
            (second.ticket, third.ticket),
            (BuildTicket::Queued, BuildTicket::Queued)
        );
        board.apply("web", Transition::Ready { healthy: false });
        assert_eq!(
            board.build_done("web", 1),
            Some(3),
            "one follow-up for both"
        );
        let (built, status) = first.completed.borrow().clone();
        assert_eq!(built, 1);
        assert_eq!(
            status.map(|s| s.phase),
            Some(Phase::Ready),
            "as it was after build 1"
        );
        assert!(
            second.completed.borrow().0 < second.generation,
            "not served yet"
        );
        board.apply("web", Transition::BuildFailed { error: "e".into() });
        assert_eq!(board.build_done("web", 3), None, "then the queue is empty");
        let (built, status) = third.completed.borrow().clone();
        assert!(built >= third.generation);
        assert_eq!(status.map(|s| s.phase), Some(Phase::BuildFailed));
        assert_eq!(
            board.request_build("web").ticket,
            BuildTicket::Run { upto: 4 }
        );
    }

    #[test]
    fn engine_outages_are_published_once_and_remembered() {
        let board = StatusBoard::new();
        let mut rx = board.subscribe();
        board.engine_unreachable("connection refused");
        board.engine_unreachable("connection refused");
        assert!(!board.engine().reachable);
        assert!(board.engine_reachable());
        assert!(!board.engine_reachable());
        let health = board.engine();
        assert!(health.reachable && health.last_outage_ms.is_some());
        let mut engine_events = 0;
        while let Ok(ev) = rx.try_recv() {
            if matches!(ev, Event::Engine { .. }) {
                engine_events += 1;
            }
        }
        assert_eq!(engine_events, 2, "down once, up once");
    }
}
