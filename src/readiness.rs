//! Readiness: when is a started container ready for its dependents?
//!
//! A container with a healthcheck (the stack's or its image's) is ready when healthy. Docker runs
//! a check only every `interval` (30 s by default) and engines before API 1.44 ignore
//! `start_interval`, so readiness seen through Docker alone lags the service by up to an interval.
//! While a container starts, novadev therefore runs the same healthcheck test itself, through exec,
//! every `start_interval` (default 100 ms), and takes the first pass as ready. Docker's own verdict
//! still counts: `unhealthy` fails the wait, and an exit ends it.

use std::time::{Duration, Instant};

use crate::engine::containers::{ContainerDetails, HealthStatus};
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

/// The effective probe of a created container: what the engine shows as its healthcheck (the
/// stack's, or the image's when the stack sets none).
pub fn probe_of(details: &ContainerDetails, start_interval: Option<Duration>) -> Option<Probe> {
    let hc = details.healthcheck.as_ref()?;
    let command = probe_command(&hc.test)?;
    Some(Probe {
        command,
        timeout: hc.timeout.unwrap_or(Duration::from_secs(30)),
        pace: start_interval
            .or(hc.start_interval)
            .unwrap_or(DEFAULT_START_INTERVAL),
    })
}

/// For a container kept by `up` that novadev saw ready before: still ready, unless it stopped or
/// the engine has since found it unhealthy (then `None`, and [`wait_healthy`] decides). Saves
/// probing every kept service again on an engine whose own checks lag (`start_interval` needs
/// API 1.44).
pub async fn still_ready(engine: &Engine, id: &str) -> Result<Option<Health>, EngineError> {
    let details = engine.inspect(id).await?;
    if !details.is_up() || details.health == Some(HealthStatus::Unhealthy) {
        return Ok(None);
    }
    Ok(Some(if probe_of(&details, None).is_some() {
        Health::Healthy
    } else {
        Health::NoHealthcheck
    }))
}

/// Wait until container `id` is healthy, by the engine's verdict or by our own probe, whichever
/// says so first. `deadline` bounds the wait.
pub async fn wait_healthy(
    engine: &Engine,
    id: &str,
    start_interval: Option<Duration>,
    deadline: Instant,
) -> Result<Health, EngineError> {
    wait(engine, id, start_interval, deadline, true).await
}

/// For a process restarted inside its container (a live update): the engine's health verdict
/// is about the process before, so only novadev's own probe counts.
pub async fn wait_restarted(
    engine: &Engine,
    id: &str,
    start_interval: Option<Duration>,
    deadline: Instant,
) -> Result<Health, EngineError> {
    wait(engine, id, start_interval, deadline, false).await
}

async fn wait(
    engine: &Engine,
    id: &str,
    start_interval: Option<Duration>,
    deadline: Instant,
    engine_verdict: bool,
) -> Result<Health, EngineError> {
    let details = engine.inspect(id).await?;
    let Some(probe) = probe_of(&details, start_interval) else {
        // Nothing to probe: started is ready, unless it is already gone again.
        if !details.is_up() {
            return Ok(Health::Exited(details.exit_code.unwrap_or(-1)));
        }
        return Ok(Health::NoHealthcheck);
    };
    let mut details = Some(details);
    loop {
        let state = match details.take() {
            Some(d) => d,
            None => engine.inspect(id).await?,
        };
        if !state.is_up() {
            return Ok(Health::Exited(state.exit_code.unwrap_or(-1)));
        }
        match state.health {
            Some(HealthStatus::Healthy) if engine_verdict => return Ok(Health::Healthy),
            // Unhealthy counts either way: the process before was healthy.
            Some(HealthStatus::Unhealthy) => {
                return Ok(Health::Unhealthy(state.health_output.unwrap_or_default()));
            }
            _ => {}
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
