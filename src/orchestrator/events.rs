//! Following the engine: its container events keep the board current after an operation is
//! over (crashes, the engine's restarts, health changes, containers stopped or removed by hand),
//! and after every (re)connection the project's containers are listed and reconciled, so that
//! what changed while the engine was unreachable shows within moments of its return.
//!
//! What an event or a listing means for a service is decided by pure functions
//! ([`transition_for`], [`observed_status`], [`needs_reconcile`]), unit-tested here; the
//! follower only feeds them. Services an operation is acting on are left to it.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;

use super::Orchestrator;
use crate::board::Transition;
use crate::engine::EngineError;
use crate::engine::containers::{ContainerDetails, ContainerInfo};
use crate::engine::events::ContainerEvent;
use crate::protocol::{Phase, ServiceStatus};
use crate::stack::model::{RestartPolicy, Stack};

/// First reconnection delay and its cap: an engine that is back is seen within the cap.
const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_CAP: Duration = Duration::from_secs(2);

/// Whether the engine restarts a container that exited with `code` under `policy`, having
/// restarted it `restarts` times already (Docker's rules).
pub fn engine_restarts(policy: RestartPolicy, code: i64, restarts: u32) -> bool {
    match policy {
        RestartPolicy::No => false,
        RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        RestartPolicy::OnFailure(max) => code != 0 && max.is_none_or(|m| restarts < m),
    }
}

/// What an engine event means for a service in `current` state: the transition, if any.
/// `policy` is the service's restart policy, `seen` the container as inspected right after the
/// event (for its restart count), when it could be.
pub fn transition_for(
    current: &ServiceStatus,
    ev: &ContainerEvent,
    policy: RestartPolicy,
    seen: Option<&ContainerDetails>,
) -> Option<Transition> {
    // Events about another container of the service (an old one being replaced) don't count.
    if current
        .container_id
        .as_ref()
        .is_some_and(|id| id != &ev.container_id)
    {
        return None;
    }
    let restarts = seen.map_or(current.restarts, |d| d.restart_count);
    let up = matches!(
        current.phase,
        Phase::Ready | Phase::Starting | Phase::Unhealthy
    );
    match ev.action.as_str() {
        "die" if up => {
            let code = ev.exit_code.unwrap_or(-1);
            Some(if engine_restarts(policy, code, restarts) {
                Transition::CrashLoop {
                    code,
                    restarts,
                    next_retry_ms: None,
                }
            } else {
                Transition::Exited { code }
            })
        }
        "start"
            if matches!(
                current.phase,
                Phase::Exited | Phase::Failed | Phase::Unhealthy | Phase::CrashLoop
            ) =>
        {
            Some(Transition::RestartedByEngine { restarts })
        }
        // `docker stop` (or anything else stopping it on purpose) follows its `die` with a
        // `stop`: a container stopped on purpose is not restarted, by Docker's own rules.
        "stop"
            if matches!(
                current.phase,
                Phase::CrashLoop
                    | Phase::Ready
                    | Phase::Starting
                    | Phase::Unhealthy
                    | Phase::Exited
            ) =>
        {
            Some(Transition::StoppedOutside)
        }
        "health_status: healthy" if matches!(current.phase, Phase::Starting | Phase::Unhealthy) => {
            Some(Transition::TurnedHealthy)
        }
        "health_status: unhealthy" if matches!(current.phase, Phase::Ready | Phase::Starting) => {
            Some(Transition::TurnedUnhealthy)
        }
        "destroy"
            if current.container_id.as_deref() == Some(ev.container_id.as_str())
                && !matches!(current.phase, Phase::Creating | Phase::Stopped) =>
        {
            Some(Transition::Removed { by_us: false })
        }
        _ => None,
    }
}

/// A status from what the engine's container listing says (no daemon knowledge).
pub fn observed_status(service: &str, c: Option<&ContainerInfo>) -> ServiceStatus {
    let mut s = ServiceStatus::new(service);
    let Some(c) = c else {
        s.phase = Phase::Stopped;
        s.detail = Some("no container".into());
        return s;
    };
    s.container_id = Some(c.id.clone());
    s.container_name = Some(c.name.clone());
    s.phase = match c.state.as_str() {
        "running" if c.status.contains("(unhealthy)") => Phase::Unhealthy,
        "running" if c.status.contains("(health: starting)") => Phase::Starting,
        "running" => Phase::Ready,
        // Between the exits of a crash loop the engine shows it as restarting.
        "restarting" => Phase::CrashLoop,
        "exited" | "dead" => {
            let code = exit_code_from_status(&c.status);
            s.exit_code = code;
            if code == Some(0) {
                Phase::Completed
            } else {
                Phase::Exited
            }
        }
        _ => Phase::Stopped,
    };
    s.has_healthcheck = c.status.contains("healthy") || c.status.contains("health:");
    s.detail = Some(c.status.clone());
    s
}

/// Docker's "Exited (137) 5 minutes ago" → 137.
fn exit_code_from_status(status: &str) -> Option<i64> {
    let open = status.find('(')?;
    let close = status[open..].find(')')? + open;
    status[open + 1..close].trim().parse().ok()
}

/// Whether what the engine shows (`seen`) contradicts the board (`current`) enough to replace
/// it: another container (or none), or one that runs where the board says it does not, or the
/// reverse. A failure stays as the board has it (it knows why); a failed build stays while the
/// previous container still runs.
pub fn needs_reconcile(current: &ServiceStatus, seen: &ServiceStatus) -> bool {
    let runs = |p: Phase| p.is_running() || p == Phase::CrashLoop;
    if current.container_id != seen.container_id {
        return true;
    }
    match current.phase {
        Phase::Failed => false,
        Phase::BuildFailed => !runs(seen.phase),
        phase => {
            runs(phase) != runs(seen.phase)
                || (phase == Phase::CrashLoop) != (seen.phase == Phase::CrashLoop)
        }
    }
}

impl Orchestrator {
    /// Follow the engine for `project` until dropped: reconcile, then apply events; on any break,
    /// mark the engine unreachable and retry with capped backoff.
    pub async fn follow_engine(&self, project: String, stack: watch::Receiver<Option<Arc<Stack>>>) {
        let mut delay = RETRY_FIRST;
        loop {
            // Replayed from just before the listing: nothing that happens in between is lost.
            let since = chrono::Utc::now().timestamp() - 1;
            let current = stack.borrow().clone();
            if let Err(e) = self.reconcile(&project, current.as_deref()).await {
                self.board.engine_unreachable(e.to_string());
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RETRY_CAP);
                continue;
            }
            if self.board.engine_reachable() {
                self.board
                    .message("the engine answers again; state reconciled");
            }
            delay = RETRY_FIRST;
            let mut events = Box::pin(self.engine.container_events(&project, Some(since)));
            while let Some(item) = events.next().await {
                match item {
                    Ok(ev) => {
                        let current = stack.borrow().clone();
                        self.apply_event(&ev, current.as_deref()).await;
                    }
                    Err(e) => {
                        self.board.engine_unreachable(e.to_string());
                        break;
                    }
                }
            }
            tokio::time::sleep(RETRY_FIRST).await;
        }
    }

    /// Bring the board in line with the project's containers as the engine lists them.
    pub async fn reconcile(&self, project: &str, stack: Option<&Stack>) -> Result<(), EngineError> {
        let containers = self.engine.list_containers(project).await?;
        let Some(stack) = stack else {
            return Ok(());
        };
        for name in stack.services.keys() {
            let seen = observed_status(name, containers.iter().find(|c| &c.service == name));
            if self.board.get(name).is_none() {
                self.board.apply(
                    name,
                    Transition::Declared {
                        tier: stack.tier_of(name),
                        has_healthcheck: seen.has_healthcheck,
                    },
                );
                self.board.apply(name, Transition::Observed(Box::new(seen)));
                continue;
            }
            self.board.apply_if(
                name,
                |current| needs_reconcile(current, &seen),
                Transition::Observed(Box::new(seen.clone())),
            );
        }
        Ok(())
    }

    /// Update the board from one engine event.
    async fn apply_event(&self, ev: &ContainerEvent, stack: Option<&Stack>) {
        let Some(current) = self.board.get(&ev.service) else {
            return;
        };
        if self.board.is_busy(&ev.service) {
            return;
        }
        let policy = stack
            .and_then(|s| s.services.get(&ev.service))
            .map(|s| s.restart)
            .unwrap_or_default();
        let seen = if matches!(ev.action.as_str(), "die" | "start") {
            self.engine.inspect(&ev.container_id).await.ok()
        } else {
            None
        };
        let Some(t) = transition_for(&current, ev, policy, seen.as_ref()) else {
            return;
        };
        // Applied only if nothing changed the service meanwhile (the inspect took a moment).
        let phase = current.phase;
        let container = current.container_id.clone();
        self.board.apply_if(
            &ev.service,
            |now| now.phase == phase && now.container_id == container,
            t,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(phase: Phase, container: Option<&str>) -> ServiceStatus {
        let mut s = ServiceStatus::new("db");
        s.phase = phase;
        s.container_id = container.map(String::from);
        s
    }

    fn event(action: &str, code: Option<i64>) -> ContainerEvent {
        ContainerEvent {
            container_id: "c1".into(),
            service: "db".into(),
            action: action.into(),
            exit_code: code,
            time_nano: 0,
        }
    }

    fn info(state: &str, status: &str) -> ContainerInfo {
        ContainerInfo {
            id: "c1".into(),
            name: "p-db-1".into(),
            service: "db".into(),
            config_hash: "h".into(),
            state: state.into(),
            status: status.into(),
            labels: Default::default(),
            created: 0,
        }
    }

    #[test]
    fn a_death_is_a_crash_loop_when_the_engine_restarts_it_else_an_exit() {
        let ready = status(Phase::Ready, Some("c1"));
        let die = event("die", Some(3));
        assert!(matches!(
            transition_for(&ready, &die, RestartPolicy::Always, None),
            Some(Transition::CrashLoop { code: 3, .. })
        ));
        assert_eq!(
            transition_for(&ready, &die, RestartPolicy::No, None),
            Some(Transition::Exited { code: 3 })
        );
        let clean = event("die", Some(0));
        assert_eq!(
            transition_for(&ready, &clean, RestartPolicy::OnFailure(None), None),
            Some(Transition::Exited { code: 0 })
        );
        // Dead already, or stopped: nothing more to say.
        let stopped = status(Phase::Stopped, Some("c1"));
        assert_eq!(
            transition_for(&stopped, &die, RestartPolicy::Always, None),
            None
        );
    }

    #[test]
    fn on_failure_stops_counting_at_its_maximum() {
        assert!(engine_restarts(RestartPolicy::OnFailure(Some(3)), 1, 2));
        assert!(!engine_restarts(RestartPolicy::OnFailure(Some(3)), 1, 3));
        assert!(!engine_restarts(RestartPolicy::OnFailure(None), 0, 0));
        assert!(engine_restarts(RestartPolicy::UnlessStopped, 0, 99));
        assert!(!engine_restarts(RestartPolicy::No, 1, 0));
    }

    #[test]
    fn the_engines_restart_reads_its_restart_count() {
        let looping = status(Phase::CrashLoop, Some("c1"));
        let seen = ContainerDetails {
            running: true,
            restarting: false,
            exit_code: Some(0),
            restart_count: 4,
            health: None,
            health_output: None,
            healthcheck: None,
            entrypoint: vec![],
            ports: vec![],
            finished_at: None,
        };
        assert_eq!(
            transition_for(
                &looping,
                &event("start", None),
                RestartPolicy::Always,
                Some(&seen)
            ),
            Some(Transition::RestartedByEngine { restarts: 4 })
        );
    }

    #[test]
    fn docker_stop_and_removal_by_hand_are_said_so() {
        let looping = status(Phase::CrashLoop, Some("c1"));
        assert_eq!(
            transition_for(&looping, &event("stop", None), RestartPolicy::Always, None),
            Some(Transition::StoppedOutside)
        );
        let ready = status(Phase::Ready, Some("c1"));
        assert_eq!(
            transition_for(&ready, &event("destroy", None), RestartPolicy::No, None),
            Some(Transition::Removed { by_us: false })
        );
    }

    #[test]
    fn health_changes_follow_the_engines_verdict() {
        let starting = status(Phase::Starting, Some("c1"));
        assert_eq!(
            transition_for(
                &starting,
                &event("health_status: healthy", None),
                RestartPolicy::No,
                None
            ),
            Some(Transition::TurnedHealthy)
        );
        let ready = status(Phase::Ready, Some("c1"));
        assert_eq!(
            transition_for(
                &ready,
                &event("health_status: unhealthy", None),
                RestartPolicy::No,
                None
            ),
            Some(Transition::TurnedUnhealthy)
        );
    }

    #[test]
    fn events_about_an_older_container_are_ignored() {
        let ready = status(Phase::Ready, Some("c2"));
        assert_eq!(
            transition_for(&ready, &event("die", Some(1)), RestartPolicy::No, None),
            None
        );
    }

    #[test]
    fn engine_listings_map_to_phases() {
        let s = |state, text| observed_status("db", Some(&info(state, text))).phase;
        assert_eq!(s("running", "Up 2 minutes (healthy)"), Phase::Ready);
        assert_eq!(
            s("running", "Up 1 second (health: starting)"),
            Phase::Starting
        );
        assert_eq!(s("running", "Up 5 minutes (unhealthy)"), Phase::Unhealthy);
        assert_eq!(s("running", "Up 5 minutes"), Phase::Ready);
        assert_eq!(
            s("restarting", "Restarting (3) 1 second ago"),
            Phase::CrashLoop
        );
        assert_eq!(s("exited", "Exited (0) 3 seconds ago"), Phase::Completed);
        assert_eq!(s("exited", "Exited (137) 3 seconds ago"), Phase::Exited);
        assert_eq!(s("created", "Created"), Phase::Stopped);
        assert_eq!(observed_status("db", None).phase, Phase::Stopped);
        assert_eq!(exit_code_from_status("Exited (2) 1 hour ago"), Some(2));
        assert_eq!(exit_code_from_status("Created"), None);
    }

    #[test]
    fn a_container_killed_during_an_outage_replaces_a_stale_ready() {
        let ready = status(Phase::Ready, Some("c1"));
        let dead = observed_status("db", Some(&info("exited", "Exited (137) 2 seconds ago")));
        assert!(needs_reconcile(&ready, &dead));
        let gone = observed_status("db", None);
        assert!(needs_reconcile(&ready, &gone));
        let same = observed_status("db", Some(&info("running", "Up 5 minutes")));
        assert!(!needs_reconcile(&ready, &same));
        let looping = observed_status("db", Some(&info("restarting", "Restarting (1)")));
        assert!(needs_reconcile(&ready, &looping));
    }

    #[test]
    fn a_failed_build_with_its_old_container_running_is_kept() {
        let failed = status(Phase::BuildFailed, Some("c1"));
        let running = observed_status("db", Some(&info("running", "Up 5 minutes")));
        assert!(!needs_reconcile(&failed, &running));
        let mut never_ran = status(Phase::Failed, None);
        never_ran.container_id = None;
        assert!(!needs_reconcile(&never_ran, &observed_status("db", None)));
    }
}
