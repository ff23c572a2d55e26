//! The named transitions of a service's status and the one pure reducer that applies them. Every
//! rule of how a service's state changes is here, each in a small function named after what
//! happened.

use crate::protocol::{BuildRecord, Phase, PublishedPort, ServiceFailure, ServiceStatus, Taken};

/// A container (or pod) as the board names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRef {
    pub id: String,
    pub name: String,
}

/// Everything that can happen to a service, by name. Each is applied by [`apply`].
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// The service is in the loaded stack: its display tier and whether it declares a
    /// healthcheck. Changes no phase.
    Declared {
        tier: Option<String>,
        has_healthcheck: bool,
    },
    /// Chosen for an `up`: back to pending, the last outcome forgotten.
    Queued,
    /// Waiting for its dependencies (`on`: "db (service_healthy), ...").
    Waiting {
        on: String,
    },
    Pulling {
        image: String,
    },
    BuildStarted {
        image: String,
        on_host: bool,
    },
    /// How far a build has come, in words (kept only while the service is building).
    BuildProgress {
        detail: String,
    },
    /// A build ended (the phase is left to what follows: a start, or [`Transition::BuildFailed`]).
    BuildFinished {
        error: Option<String>,
    },
    /// A rebuild failed; the previous container, if any, keeps running.
    BuildFailed {
        error: String,
    },
    Creating {
        detail: String,
    },
    /// An operation is starting (or restarting) the container.
    Starting {
        detail: String,
    },
    /// The container runs (created, recreated, started, restarted or kept by an `up`).
    Started {
        container: ContainerRef,
        image: String,
        ports: Vec<PublishedPort>,
        taken: Taken,
        /// The container was (re)started now, not kept running.
        fresh: bool,
    },
    /// Restarted on request (`restart`, a dependency with `restart: true`).
    RestartedOnRequest,
    /// Readiness established; `healthy` when by a healthcheck.
    Ready {
        healthy: bool,
    },
    /// A one-shot exited 0 (now, or earlier with the same configuration: `kept`).
    Completed {
        container: Option<ContainerRef>,
        image: Option<String>,
        kept: bool,
    },
    Failed(ServiceFailure),
    /// The healthcheck turned unhealthy after the service was up.
    TurnedUnhealthy,
    /// The healthcheck passes again.
    TurnedHealthy,
    /// The container exited on its own and will not be restarted.
    Exited {
        code: i64,
    },
    /// The container exited and the engine's restart policy brings it back.
    CrashLoop {
        code: i64,
        restarts: u32,
        next_retry_ms: Option<u64>,
    },
    /// The engine restarted the container after it exited.
    RestartedByEngine {
        restarts: u32,
    },
    /// Being stopped by an operation of ours.
    Stopping,
    /// Stopped on request (`stop`).
    StoppedOnRequest,
    /// Stopped by something else (`docker stop`): not restarted.
    StoppedOutside,
    /// Its container is gone (removed by `down`, or by hand).
    Removed {
        by_us: bool,
    },
    /// What the runtime shows, read afresh (daemon start, engine back after an outage).
    Observed(Box<ServiceStatus>),
}

/// Apply one transition to a status, at time `now` (Unix ms). Pure.
pub fn apply(s: &mut ServiceStatus, t: Transition, now: u64) {
    let before = s.phase;
    match t {
        Transition::Declared {
            tier,
            has_healthcheck,
        } => {
            s.tier = tier;
            s.has_healthcheck = has_healthcheck;
        }
        Transition::Queued => queued(s),
        Transition::Waiting { on } => set(s, Phase::Waiting, format!("waiting for {on}")),
        Transition::Pulling { image } => set(s, Phase::Pulling, format!("pulling {image}")),
        Transition::BuildStarted { image, on_host } => build_started(s, &image, on_host, now),
        Transition::BuildProgress { detail } => {
            if s.phase == Phase::Building {
                s.detail = Some(detail);
            }
        }
        Transition::BuildFinished { error } => build_finished(s, error, now),
        Transition::BuildFailed { error } => build_failed(s, error),
        Transition::Creating { detail } => set(s, Phase::Creating, detail),
        Transition::Starting { detail } => {
            set(s, Phase::Starting, detail);
            s.exit_code = None;
            s.failure = None;
            s.start_asked_ms = Some(now);
        }
        Transition::Started {
            container,
            image,
            ports,
            taken,
            fresh,
        } => started(s, container, image, ports, taken, fresh, now),
        Transition::RestartedOnRequest => {
            s.restarts += 1;
            s.started_ms = Some(now);
        }
        Transition::Ready { healthy } => ready(s, healthy, now),
        Transition::Completed {
            container,
            image,
            kept,
        } => completed(s, container, image, kept, now),
        Transition::Failed(failure) => failed(s, failure),
        Transition::TurnedUnhealthy => set(s, Phase::Unhealthy, "healthcheck failing".into()),
        Transition::TurnedHealthy => {
            s.phase = Phase::Ready;
            s.detail = None;
            s.ready_ms = Some(now);
        }
        Transition::Exited { code } => exited(s, code),
        Transition::CrashLoop {
            code,
            restarts,
            next_retry_ms,
        } => crash_loop(s, code, restarts, next_retry_ms, now),
        Transition::RestartedByEngine { restarts } => restarted_by_engine(s, restarts, now),
        Transition::Stopping => set(s, Phase::Stopped, "stopping".into()),
        Transition::StoppedOnRequest => stopped(s, "stopped on request"),
        Transition::StoppedOutside => stopped(s, "stopped outside novadev (e.g. docker stop)"),
        Transition::Removed { by_us } => removed(s, by_us),
        Transition::Observed(seen) => observed(s, *seen),
    }
    if s.phase != before {
        s.since_ms = now;
    }
}

fn set(s: &mut ServiceStatus, phase: Phase, detail: String) {
    s.phase = phase;
    s.detail = Some(detail);
}

fn queued(s: &mut ServiceStatus) {
    s.phase = Phase::Pending;
    s.detail = None;
    s.failure = None;
    s.taken = None;
    s.exit_code = None;
}

fn build_started(s: &mut ServiceStatus, image: &str, on_host: bool, now: u64) {
    let detail = if on_host {
        format!("building {image} on the host")
    } else {
        format!("building {image}")
    };
    set(s, Phase::Building, detail);
    s.builds += 1;
    s.last_build = Some(BuildRecord {
        ok: false,
        started_ms: now,
        finished_ms: None,
        error: None,
    });
}

fn build_finished(s: &mut ServiceStatus, error: Option<String>, now: u64) {
    let started_ms = s.last_build.as_ref().map_or(now, |b| b.started_ms);
    s.last_build = Some(BuildRecord {
        ok: error.is_none(),
        started_ms,
        finished_ms: Some(now),
        error,
    });
}

fn build_failed(s: &mut ServiceStatus, error: String) {
    s.phase = Phase::BuildFailed;
    let failure = ServiceFailure::Build { error };
    s.detail = Some(if s.container_id.is_some() {
        format!("{failure}\n(the previous container keeps running)")
    } else {
        failure.to_string()
    });
    s.failure = Some(failure);
}

fn started(
    s: &mut ServiceStatus,
    container: ContainerRef,
    image: String,
    ports: Vec<PublishedPort>,
    taken: Taken,
    fresh: bool,
    now: u64,
) {
    s.phase = Phase::Starting;
    s.detail = None;
    s.failure = None;
    s.exit_code = None;
    s.next_retry_ms = None;
    s.container_id = Some(container.id);
    s.container_name = Some(container.name);
    s.image = Some(image);
    s.ports = ports;
    s.taken = Some(taken);
    if fresh || s.started_ms.is_none() {
        s.started_ms = Some(now);
    }
}

fn ready(s: &mut ServiceStatus, healthy: bool, now: u64) {
    s.phase = Phase::Ready;
    s.detail = None;
    s.failure = None;
    s.has_healthcheck = healthy;
    s.ready_ms = Some(now);
}

fn completed(
    s: &mut ServiceStatus,
    container: Option<ContainerRef>,
    image: Option<String>,
    kept: bool,
    now: u64,
) {
    s.phase = Phase::Completed;
    s.exit_code = Some(0);
    s.failure = None;
    s.detail = kept.then(|| "completed earlier with this configuration".to_string());
    if let Some(c) = container {
        s.container_id = Some(c.id);
        s.container_name = Some(c.name);
    }
    if image.is_some() {
        s.image = image;
    }
    if kept {
        s.taken = Some(Taken::Kept);
    } else {
        s.ready_ms = Some(now);
    }
}

fn failed(s: &mut ServiceStatus, failure: ServiceFailure) {
    // A healthcheck that fails leaves a running container: unhealthy, not failed.
    s.phase = if matches!(failure, ServiceFailure::Unhealthy { .. }) {
        Phase::Unhealthy
    } else {
        Phase::Failed
    };
    if let ServiceFailure::Exited { code, .. } = &failure {
        s.exit_code = Some(*code);
    }
    s.detail = Some(failure.to_string());
    s.failure = Some(failure);
    s.next_retry_ms = None;
}

fn exited(s: &mut ServiceStatus, code: i64) {
    s.exit_code = Some(code);
    s.next_retry_ms = None;
    if code == 0 {
        // A clean exit is a one-shot finishing its work.
        s.phase = Phase::Completed;
        s.detail = None;
    } else {
        set(s, Phase::Exited, format!("exited with code {code}"));
    }
}

fn crash_loop(
    s: &mut ServiceStatus,
    code: i64,
    restarts: u32,
    next_retry_ms: Option<u64>,
    now: u64,
) {
    s.phase = Phase::CrashLoop;
    s.exit_code = Some(code);
    s.restarts = s.restarts.max(restarts);
    s.next_retry_ms = next_retry_ms;
    let next = s.restarts + 1;
    s.detail = Some(match next_retry_ms {
        Some(at) => format!(
            "exited with code {code}; restarting in {:.0}s (restart {next})",
            (at.saturating_sub(now) as f64 / 1000.0).ceil()
        ),
        None => format!("exited with code {code}; the engine restarts it (restart {next})"),
    });
}

fn restarted_by_engine(s: &mut ServiceStatus, restarts: u32, now: u64) {
    s.restarts = s.restarts.max(restarts);
    s.exit_code = None;
    s.next_retry_ms = None;
    s.started_ms = Some(now);
    s.detail = Some(format!("restarted by the engine ({} restarts)", s.restarts));
    s.phase = if s.has_healthcheck {
        Phase::Starting
    } else {
        Phase::Ready
    };
}

fn stopped(s: &mut ServiceStatus, why: &str) {
    set(s, Phase::Stopped, why.to_string());
    s.next_retry_ms = None;
}

fn removed(s: &mut ServiceStatus, by_us: bool) {
    s.phase = Phase::Stopped;
    s.detail = (!by_us).then(|| "container removed".to_string());
    s.container_id = None;
    s.ports.clear();
    s.next_retry_ms = None;
}

/// What the runtime shows replaces what the board had, except what only the board knows: the
/// builds, the tier, the highest restart count seen, and since when the phase holds.
fn observed(s: &mut ServiceStatus, seen: ServiceStatus) {
    let tier = s.tier.take();
    let last_build = s.last_build.take();
    let builds = s.builds;
    let restarts = s.restarts.max(seen.restarts);
    let since = s.since_ms;
    *s = seen;
    s.tier = tier.or(s.tier.take());
    s.last_build = last_build;
    s.builds = builds;
    s.restarts = restarts;
    s.since_ms = since;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> ServiceStatus {
        ServiceStatus::new("db")
    }

    fn container() -> ContainerRef {
        ContainerRef {
            id: "c1".into(),
            name: "p-db-1".into(),
        }
    }

    #[test]
    fn a_start_records_the_container_and_resets_the_last_outcome() {
        let mut s = status();
        apply(
            &mut s,
            Transition::Failed(ServiceFailure::Timeout { waited_ms: 1 }),
            1,
        );
        assert_eq!(s.phase, Phase::Failed);
        apply(
            &mut s,
            Transition::Starting {
                detail: "starting".into(),
            },
            3,
        );
        assert_eq!((s.phase, s.failure.clone()), (Phase::Starting, None));
        apply(
            &mut s,
            Transition::Started {
                container: container(),
                image: "postgres:15".into(),
                ports: vec![],
                taken: Taken::Created,
                fresh: true,
            },
            5,
        );
        assert_eq!(s.phase, Phase::Starting);
        assert_eq!(s.failure, None);
        assert_eq!(s.container_id.as_deref(), Some("c1"));
        // Still starting: the phase (and its `since`) began with the request.
        assert_eq!(
            (s.start_asked_ms, s.started_ms, s.since_ms),
            (Some(3), Some(5), 3)
        );
        // Kept running: the start time stays.
        apply(
            &mut s,
            Transition::Started {
                container: container(),
                image: "postgres:15".into(),
                ports: vec![],
                taken: Taken::Kept,
                fresh: false,
            },
            9,
        );
        assert_eq!(s.started_ms, Some(5));
    }

    #[test]
    fn a_failure_is_typed_and_in_words() {
        let mut s = status();
        apply(
            &mut s,
            Transition::Failed(ServiceFailure::Exited {
                code: 3,
                before_ready: false,
                last_lines: vec!["boom".into()],
            }),
            1,
        );
        assert_eq!(s.exit_code, Some(3));
        assert_eq!(
            s.detail.as_deref(),
            Some("exited with code 3; last log lines:\nboom")
        );
        assert!(matches!(s.failure, Some(ServiceFailure::Exited { .. })));
    }

    #[test]
    fn a_failed_rebuild_says_the_old_container_keeps_running() {
        let mut s = status();
        s.container_id = Some("c1".into());
        apply(
            &mut s,
            Transition::BuildStarted {
                image: "web".into(),
                on_host: true,
            },
            1,
        );
        assert_eq!(s.builds, 1);
        apply(
            &mut s,
            Transition::BuildFinished {
                error: Some("error[E0001]".into()),
            },
            4,
        );
        apply(
            &mut s,
            Transition::BuildFailed {
                error: "error[E0001]".into(),
            },
            4,
        );
        assert_eq!(s.phase, Phase::BuildFailed);
        let build = s.last_build.clone().unwrap();
        assert_eq!(
            (build.ok, build.started_ms, build.finished_ms),
            (false, 1, Some(4))
        );
        assert!(
            s.detail
                .unwrap()
                .ends_with("(the previous container keeps running)")
        );
    }

    #[test]
    fn crash_loops_count_the_engines_restarts() {
        let mut s = status();
        apply(
            &mut s,
            Transition::CrashLoop {
                code: 3,
                restarts: 2,
                next_retry_ms: Some(1_400),
            },
            1_000,
        );
        assert_eq!((s.phase, s.restarts), (Phase::CrashLoop, 2));
        assert_eq!(
            s.detail.as_deref(),
            Some("exited with code 3; restarting in 1s (restart 3)")
        );
        apply(&mut s, Transition::RestartedByEngine { restarts: 3 }, 1_500);
        assert_eq!(
            (s.phase, s.restarts, s.next_retry_ms),
            (Phase::Ready, 3, None)
        );
        // A lower count (a recreated container starts again at 0) never lowers what was seen.
        apply(&mut s, Transition::RestartedByEngine { restarts: 0 }, 2_000);
        assert_eq!(s.restarts, 3);
    }

    #[test]
    fn an_observed_status_keeps_what_only_the_daemon_knows() {
        let mut s = status();
        s.tier = Some("Database".into());
        s.builds = 2;
        s.restarts = 4;
        let mut seen = ServiceStatus::new("db");
        seen.phase = Phase::Exited;
        seen.exit_code = Some(137);
        apply(&mut s, Transition::Observed(Box::new(seen)), 7);
        assert_eq!(s.phase, Phase::Exited);
        assert_eq!(s.tier.as_deref(), Some("Database"));
        assert_eq!((s.builds, s.restarts, s.since_ms), (2, 4, 7));
    }
}
