//! Why a service failed, typed: decisions are taken on the variant, and the words are made only
//! where a person reads them (`Display`).

use serde::{Deserialize, Serialize};

/// Why novadev could not bring a service up (or keep it up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServiceFailure {
    /// A dependency will never meet the condition this service waits for.
    Dependency {
        dependency: String,
        problem: DependencyProblem,
    },
    /// The image is not there and could not be pulled (or must not be). `reason` completes the
    /// sentence "image `x` …".
    Image { image: String, reason: String },
    /// Building the image failed: what the build said (with the first compiler error when there
    /// is one).
    Build { error: String },
    /// The engine refused to create or start the container.
    Create {
        reason: String,
        /// A published host port is taken by something else.
        port_taken: bool,
    },
    /// The container exited with a non-zero code (a one-shot that failed, a service that died
    /// before it was ready).
    Exited {
        code: i64,
        before_ready: bool,
        last_lines: Vec<String>,
    },
    /// Its healthcheck reports unhealthy.
    Unhealthy { output: String },
    /// Not ready within the wait timeout.
    Timeout { waited_ms: u64 },
    /// The engine failed mid-way (an API error that is none of the above).
    Engine { reason: String },
}

/// Why a dependency's condition can never be met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DependencyProblem {
    /// The dependency itself failed.
    Failed { failure: Box<ServiceFailure> },
    /// `service_healthy` on a service that has no healthcheck.
    NoHealthcheck,
    /// It exited although it was expected to stay up and turn healthy.
    ExitedInsteadOfHealthy { code: i64, last_lines: Vec<String> },
    /// A one-shot (`service_completed_successfully`) exited non-zero.
    ExitedNonZero { code: i64, last_lines: Vec<String> },
    /// Its task ended without a verdict (the operation was cut short).
    Vanished,
}

impl ServiceFailure {
    /// The container's last lines, where the failure carries them.
    pub fn last_lines(&self) -> &[String] {
        match self {
            ServiceFailure::Exited { last_lines, .. }
            | ServiceFailure::Dependency {
                problem:
                    DependencyProblem::ExitedInsteadOfHealthy { last_lines, .. }
                    | DependencyProblem::ExitedNonZero { last_lines, .. },
                ..
            } => last_lines,
            _ => &[],
        }
    }

    /// The one-line headline, without the log lines.
    pub fn headline(&self) -> String {
        match self {
            ServiceFailure::Dependency {
                dependency,
                problem,
            } => match problem {
                DependencyProblem::Failed { failure } => {
                    format!("dependency `{dependency}` failed: {}", failure.headline())
                }
                DependencyProblem::NoHealthcheck => format!(
                    "dependency `{dependency}` has no healthcheck, so condition service_healthy can never be met"
                ),
                DependencyProblem::ExitedInsteadOfHealthy { code, .. } => format!(
                    "dependency `{dependency}` exited with code {code} instead of becoming healthy"
                ),
                DependencyProblem::ExitedNonZero { code, .. } => {
                    format!("dependency `{dependency}` exited with code {code}")
                }
                DependencyProblem::Vanished => {
                    format!("dependency `{dependency}` ended without a result")
                }
            },
            ServiceFailure::Image { image, reason } => format!("image `{image}` {reason}"),
            ServiceFailure::Build { error } => error.clone(),
            ServiceFailure::Create { reason, port_taken } => {
                if *port_taken {
                    format!("a published host port is already in use ({reason})")
                } else {
                    reason.clone()
                }
            }
            ServiceFailure::Exited {
                code,
                before_ready: true,
                ..
            } => format!("exited with code {code} before it was ready"),
            ServiceFailure::Exited { code, .. } => format!("exited with code {code}"),
            ServiceFailure::Unhealthy { output } if output.is_empty() => {
                "healthcheck reports unhealthy".to_string()
            }
            ServiceFailure::Unhealthy { output } => {
                format!("healthcheck reports unhealthy: {output}")
            }
            ServiceFailure::Timeout { waited_ms } => format!(
                "not ready within the wait timeout ({})",
                human_ms(*waited_ms)
            ),
            ServiceFailure::Engine { reason } => reason.clone(),
        }
    }
}

impl std::fmt::Display for ServiceFailure {
    /// The headline, then the container's last lines when there are any.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.headline())?;
        let lines = self.last_lines();
        if !lines.iter().all(|l| l.trim().is_empty()) {
            f.write_str("; last log lines:")?;
            for line in lines {
                write!(f, "\n{line}")?;
            }
        }
        Ok(())
    }
}

fn human_ms(ms: u64) -> String {
    let secs = ms as f64 / 1000.0;
    if secs < 1.0 {
        format!("{ms}ms")
    } else if secs < 120.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{}s", ms / 60_000, (ms / 1000) % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_one_shot_reads_with_its_last_lines() {
        let f = ServiceFailure::Exited {
            code: 3,
            before_ready: false,
            last_lines: vec!["relation missing".into(), "bye".into()],
        };
        assert_eq!(
            f.to_string(),
            "exited with code 3; last log lines:\nrelation missing\nbye"
        );
    }

    #[test]
    fn a_dependency_failure_names_the_dependency_and_the_cause() {
        let f = ServiceFailure::Dependency {
            dependency: "db".into(),
            problem: DependencyProblem::Failed {
                failure: Box::new(ServiceFailure::Image {
                    image: "nope:1".into(),
                    reason: "is not present locally and could not be pulled".into(),
                }),
            },
        };
        assert_eq!(
            f.headline(),
            "dependency `db` failed: image `nope:1` is not present locally and could not be pulled"
        );
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(serde_json::from_str::<ServiceFailure>(&json).unwrap(), f);
    }

    #[test]
    fn timeouts_read_in_human_units() {
        let f = ServiceFailure::Timeout { waited_ms: 90_000 };
        assert_eq!(f.to_string(), "not ready within the wait timeout (90.0s)");
        let f = ServiceFailure::Timeout { waited_ms: 300_000 };
        assert_eq!(f.to_string(), "not ready within the wait timeout (5m0s)");
    }
}
