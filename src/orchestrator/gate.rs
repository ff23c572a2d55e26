//! Gates: what one service has reached during an `up`, as its dependents see it, and whether that
//! satisfies a `depends_on` condition. Pure, so every Compose rule here is unit-tested.

use crate::protocol::{DependencyProblem, ServiceFailure};
use crate::stack::model::Condition;

/// What a service has reached so far in this `up`. `touched` says whether its container was
/// created, recreated or (re)started in this `up` (dependents may need to follow).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Pending,
    Started {
        touched: bool,
    },
    Healthy {
        touched: bool,
    },
    /// Ready, but it has no healthcheck (fine for `service_started`, not for `service_healthy`).
    NoHealthcheck {
        touched: bool,
    },
    /// It exited; `log` holds its last lines when the code is not 0.
    Completed {
        touched: bool,
        code: i64,
        log: Vec<String>,
    },
    Failed(ServiceFailure),
}

/// `Some(Ok(touched))` when `condition` on a dependency is met, `Some(Err(problem))` when it never
/// will be, `None` to keep waiting.
pub fn satisfies(gate: &Gate, condition: Condition) -> Option<Result<bool, DependencyProblem>> {
    match (gate, condition) {
        (Gate::Pending, _) => None,
        (Gate::Failed(failure), _) => Some(Err(DependencyProblem::Failed {
            failure: Box::new(failure.clone()),
        })),
        (
            Gate::Started { touched }
            | Gate::Healthy { touched }
            | Gate::NoHealthcheck { touched }
            | Gate::Completed { touched, .. },
            Condition::ServiceStarted,
        ) => Some(Ok(*touched)),
        (Gate::Started { .. }, Condition::ServiceHealthy) => None,
        (Gate::Healthy { touched }, Condition::ServiceHealthy) => Some(Ok(*touched)),
        (Gate::NoHealthcheck { .. }, Condition::ServiceHealthy) => {
            Some(Err(DependencyProblem::NoHealthcheck))
        }
        (Gate::Completed { code, log, .. }, Condition::ServiceHealthy) => {
            Some(Err(DependencyProblem::ExitedInsteadOfHealthy {
                code: *code,
                last_lines: log.clone(),
            }))
        }
        (
            Gate::Completed {
                touched, code: 0, ..
            },
            Condition::ServiceCompletedSuccessfully,
        ) => Some(Ok(*touched)),
        (Gate::Completed { code, log, .. }, Condition::ServiceCompletedSuccessfully) => {
            Some(Err(DependencyProblem::ExitedNonZero {
                code: *code,
                last_lines: log.clone(),
            }))
        }
        (
            Gate::Started { .. } | Gate::Healthy { .. } | Gate::NoHealthcheck { .. },
            Condition::ServiceCompletedSuccessfully,
        ) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Condition::*;

    #[test]
    fn started_condition_is_met_by_any_start() {
        for g in [
            Gate::Started { touched: true },
            Gate::Healthy { touched: true },
            Gate::NoHealthcheck { touched: true },
            Gate::Completed {
                touched: true,
                code: 0,
                log: Vec::new(),
            },
        ] {
            assert_eq!(satisfies(&g, ServiceStarted), Some(Ok(true)));
        }
        assert_eq!(satisfies(&Gate::Pending, ServiceStarted), None);
    }

    #[test]
    fn healthy_condition_waits_past_start_and_rejects_missing_healthcheck() {
        assert_eq!(
            satisfies(&Gate::Started { touched: false }, ServiceHealthy),
            None
        );
        assert_eq!(
            satisfies(&Gate::Healthy { touched: false }, ServiceHealthy),
            Some(Ok(false))
        );
        assert_eq!(
            satisfies(&Gate::NoHealthcheck { touched: false }, ServiceHealthy),
            Some(Err(DependencyProblem::NoHealthcheck))
        );
    }

    #[test]
    fn completed_condition_needs_exit_zero_and_carries_the_log_otherwise() {
        assert_eq!(
            satisfies(
                &Gate::Started { touched: true },
                ServiceCompletedSuccessfully
            ),
            None
        );
        let ok = Gate::Completed {
            touched: true,
            code: 0,
            log: Vec::new(),
        };
        assert_eq!(satisfies(&ok, ServiceCompletedSuccessfully), Some(Ok(true)));
        let bad = Gate::Completed {
            touched: true,
            code: 3,
            log: vec!["relation missing".into()],
        };
        assert_eq!(
            satisfies(&bad, ServiceCompletedSuccessfully),
            Some(Err(DependencyProblem::ExitedNonZero {
                code: 3,
                last_lines: vec!["relation missing".into()]
            }))
        );
    }

    #[test]
    fn failure_propagates_with_the_reason() {
        let failure = ServiceFailure::Image {
            image: "x".into(),
            reason: "missing".into(),
        };
        assert_eq!(
            satisfies(&Gate::Failed(failure.clone()), ServiceStarted),
            Some(Err(DependencyProblem::Failed {
                failure: Box::new(failure)
            }))
        );
    }
}
