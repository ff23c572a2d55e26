//! Readiness: when is a started container ready for its dependents?
//!
//! A container with a healthcheck (the stack's or its image's) is ready when healthy. Docker runs
//! a check only every `interval` (30 s by default) and engines before API 1.44 ignore
//! `start_interval`, so readiness seen through Docker alone lags the service by up to an interval.
//! While a container starts, novadev therefore runs the same healthcheck test itself, through exec,
//! every `start_interval` (default 250 ms), and takes the first pass as ready. Docker's own verdict
//! still counts: `unhealthy` fails the wait, and an exit ends it.

use std::time::{Duration, Instant};

use crate::engine::{Engine, EngineError};

/// Pace of novadev's own probe while a container starts, when the stack sets no start_interval.
pub const DEFAULT_START_INTERVAL: Duration = Duration::from_millis(100);

/// How a wait for health ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Healthy,
    /// The container has no healthcheck at all (neither in the stack nor in its image).
    NoHealthcheck,
    /// Docker declared it unhealthy; the last check's output.
    Unhealthy(String),
    /// The container stopped while we waited.
    Exited(i64),
    TimedOut,
}

/// The probe derived from a container's effective healthcheck.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub command: Vec<String>,
    pub timeout: Duration,
    pub pace: Duration,
}

/// Turn Docker's healthcheck test (`["CMD", ...]`, `["CMD-SHELL", "..."]`, `["NONE"]`) into a
/// command to exec. `None` when there is nothing to run.
pub fn probe_command(test: &[String]) -> Option<Vec<String>> {
    match test.split_first() {
        Some((first, rest)) if first == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
        Some((first, rest)) if first == "CMD-SHELL" && !rest.is_empty() => {
            Some(vec!["/bin/sh".into(), "-c".into(), rest.join(" ")])
        }
        _ => None,
    }
}

fn duration_from_nanos(n: Option<i64>) -> Option<Duration> {
    n.filter(|n| *n > 0)
        .map(|n| Duration::from_nanos(u64::try_from(n).unwrap_or(0)))
}

/// The effective probe of a created container: what `docker inspect` shows as its healthcheck
/// (the stack's, or the image's when the stack sets none).
pub async fn probe_of(
    engine: &Engine,
    id: &str,
    start_interval: Option<Duration>,
) -> Result<Option<Probe>, EngineError> {
    let inspect = engine.inspect_container(id).await?;
    let Some(hc) = inspect.config.and_then(|c| c.healthcheck) else {
        return Ok(None);
    };
    let Some(command) = hc.test.as_deref().and_then(probe_command) else {
        return Ok(None);
    };
    Ok(Some(Probe {
        command,
        timeout: duration_from_nanos(hc.timeout).unwrap_or(Duration::from_secs(30)),
        pace: start_interval
            .or(duration_from_nanos(hc.start_interval))
            .unwrap_or(DEFAULT_START_INTERVAL),
    }))
}

/// Wait until container `id` is healthy, by Docker's verdict or by our own probe, whichever says
/// so first. `deadline` bounds the wait.
pub async fn wait_healthy(
    engine: &Engine,
    id: &str,
    start_interval: Option<Duration>,
    deadline: Instant,
) -> Result<Health, EngineError> {
    let Some(probe) = probe_of(engine, id, start_interval).await? else {
        // Nothing to probe: started is ready, unless it is already gone again.
        let state = engine
            .inspect_container(id)
            .await?
            .state
            .unwrap_or_default();
        if state.running != Some(true) && state.restarting != Some(true) {
            return Ok(Health::Exited(state.exit_code.unwrap_or(-1)));
        }
        return Ok(Health::NoHealthcheck);
    };
    loop {
        let inspect = engine.inspect_container(id).await?;
        let state = inspect.state.unwrap_or_default();
        if state.running != Some(true) && state.restarting != Some(true) {
            return Ok(Health::Exited(state.exit_code.unwrap_or(-1)));
        }
        if let Some(health) = state.health {
            match health.status.map(|s| s.to_string()).as_deref() {
                Some("healthy") => return Ok(Health::Healthy),
                Some("unhealthy") => {
                    let last = health
                        .log
                        .unwrap_or_default()
                        .last()
                        .and_then(|r| r.output.clone())
                        .unwrap_or_default();
                    return Ok(Health::Unhealthy(last.trim().to_string()));
                }
                _ => {}
            }
        }
        let started = Instant::now();
        let remaining = deadline.saturating_duration_since(started);
        if remaining.is_zero() {
            return Ok(Health::TimedOut);
        }
        let outcome = engine
            .exec(id, probe.command.clone(), probe.timeout.min(remaining))
            .await;
        match outcome {
            Ok(o) if o.exit_code == 0 => return Ok(Health::Healthy),
            Ok(_) => {}
            // The container may have stopped between inspect and exec (409): re-inspect.
            Err(e) => tracing::debug!(container = id, error = %e, "probe exec failed"),
        }
        let spent = started.elapsed();
        if spent < probe.pace {
            tokio::time::sleep((probe.pace - spent).min(remaining)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::probe_command;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cmd_test_runs_its_arguments() {
        assert_eq!(
            probe_command(&v(&["CMD", "pg_isready", "-U", "nova"])),
            Some(v(&["pg_isready", "-U", "nova"]))
        );
    }

    #[test]
    fn cmd_shell_test_runs_through_sh() {
        assert_eq!(
            probe_command(&v(&["CMD-SHELL", "redis-cli ping | grep PONG"])),
            Some(v(&["/bin/sh", "-c", "redis-cli ping | grep PONG"]))
        );
    }

    #[test]
    fn none_or_empty_test_has_no_probe() {
        assert_eq!(probe_command(&v(&["NONE"])), None);
        assert_eq!(probe_command(&[]), None);
        assert_eq!(probe_command(&v(&["CMD"])), None);
    }
}
