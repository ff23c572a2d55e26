//! Gates: what one service has reached during an `up`, as its dependents see it, and whether that
//! satisfies a `depends_on` condition. Pure, so every Compose rule here is unit-tested.

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
        log: String,
    },
    Failed(String),
}

/// `Some(Ok(touched))` when `condition` on `dep` is met, `Some(Err(why))` when it never will be,
/// `None` to keep waiting.
pub fn satisfies(gate: &Gate, condition: Condition, dep: &str) -> Option<Result<bool, String>> {
    match (gate, condition) {
        (Gate::Pending, _) => None,
        (Gate::Failed(why), _) => Some(Err(format!("dependency `{dep}` failed: {why}"))),
        (
            Gate::Started { touched }
            | Gate::Healthy { touched }
            | Gate::NoHealthcheck { touched }
            | Gate::Completed { touched, .. },
            Condition::ServiceStarted,
        ) => Some(Ok(*touched)),
        (Gate::Started { .. }, Condition::ServiceHealthy) => None,
        (Gate::Healthy { touched }, Condition::ServiceHealthy) => Some(Ok(*touched)),
        (Gate::NoHealthcheck { .. }, Condition::ServiceHealthy) => Some(Err(format!(
            "dependency `{dep}` has no healthcheck, so condition service_healthy can never be met"
        ))),
        (Gate::Completed { code, log, .. }, Condition::ServiceHealthy) => Some(Err(with_log(
            format!("dependency `{dep}` exited with code {code} instead of becoming healthy"),
            log,
        ))),
        (
            Gate::Completed {
                touched, code: 0, ..
            },
            Condition::ServiceCompletedSuccessfully,
        ) => Some(Ok(*touched)),
        (Gate::Completed { code, log, .. }, Condition::ServiceCompletedSuccessfully) => Some(Err(
            with_log(format!("dependency `{dep}` exited with code {code}"), log),
        )),
        (
            Gate::Started { .. } | Gate::Healthy { .. } | Gate::NoHealthcheck { .. },
            Condition::ServiceCompletedSuccessfully,
        ) => None,
    }
}

fn with_log(headline: String, log: &str) -> String {
    if log.trim().is_empty() {
        headline
    } else {
        format!("{headline}; its last log lines:\n{log}")
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
                log: String::new(),
            },
        ] {
            assert_eq!(satisfies(&g, ServiceStarted, "db"), Some(Ok(true)));
        }
        assert_eq!(satisfies(&Gate::Pending, ServiceStarted, "db"), None);
    }

    #[test]
    fn healthy_condition_waits_past_start_and_rejects_missing_healthcheck() {
        assert_eq!(
            satisfies(&Gate::Started { touched: false }, ServiceHealthy, "db"),
            None
        );
        assert_eq!(
            satisfies(&Gate::Healthy { touched: false }, ServiceHealthy, "db"),
            Some(Ok(false))
        );
        let err = satisfies(
            &Gate::NoHealthcheck { touched: false },
            ServiceHealthy,
            "db",
        )
        .unwrap()
        .unwrap_err();
        assert!(err.contains("no healthcheck"), "{err}");
    }

    #[test]
    fn completed_condition_needs_exit_zero_and_shows_the_log_otherwise() {
        assert_eq!(
            satisfies(
                &Gate::Started { touched: true },
                ServiceCompletedSuccessfully,
                "init"
            ),
            None
        );
        let ok = Gate::Completed {
            touched: true,
            code: 0,
            log: String::new(),
        };
        assert_eq!(
            satisfies(&ok, ServiceCompletedSuccessfully, "init"),
            Some(Ok(true))
        );
        let bad = Gate::Completed {
            touched: true,
            code: 3,
            log: "relation missing".into(),
        };
        let err = satisfies(&bad, ServiceCompletedSuccessfully, "init")
            .unwrap()
            .unwrap_err();
        assert!(
            err.contains("exited with code 3") && err.contains("relation missing"),
            "{err}"
        );
    }

    #[test]
    fn failure_propagates_with_the_reason() {
        let err = satisfies(&Gate::Failed("image missing".into()), ServiceStarted, "db")
            .unwrap()
            .unwrap_err();
        assert!(err.contains("`db` failed: image missing"), "{err}");
    }
}
