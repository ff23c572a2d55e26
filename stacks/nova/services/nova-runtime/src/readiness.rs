//! Readiness: a set of named checks, run concurrently with a per-check
//! timeout, whose combined result is cached briefly.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::sync::Mutex;

/// Longest time one check may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_millis(1000);
/// How long a result is reused before the checks run again.
pub const CACHE_FOR: Duration = Duration::from_millis(500);

pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

/// An error and its sources, `outer: inner: innermost`; a source whose text
/// the message already holds is not repeated.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !text.is_empty() && !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        src = s.source();
    }
    msg
}

/// One readiness check. `Ok(detail)` is reported as `ok` or `ok (detail)`,
/// `Err(reason)` as `error: reason`.
pub trait Check: Send + Sync {
    fn name(&self) -> &str;
    fn run(&self) -> CheckFuture<'_>;
}

/// A check made of a name and an async closure.
pub struct FnCheck<F> {
    name: String,
    f: F,
}

impl<F, Fut> Check for FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<String, String>> + Send + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }
    fn run(&self) -> CheckFuture<'_> {
        Box::pin((self.f)())
    }
}

/// Wraps an async closure as a [`Check`].
pub fn check_fn<F, Fut>(name: impl Into<String>, f: F) -> Arc<dyn Check>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, String>> + Send + 'static,
{
    Arc::new(FnCheck {
        name: name.into(),
        f,
    })
}

/// The result of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok(String),
    Failed(String),
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok(_))
    }

    /// The text shown in the readiness JSON.
    pub fn text(&self) -> String {
        match self {
            Outcome::Ok(d) if d.is_empty() => "ok".into(),
            Outcome::Ok(d) => format!("ok ({d})"),
            Outcome::Failed(reason) => format!("error: {reason}"),
        }
    }
}

/// The combined result of all checks. No checks at all means ready.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub checks: BTreeMap<String, Outcome>,
}

impl Report {
    pub fn ready(&self) -> bool {
        self.checks.values().all(Outcome::is_ok)
    }

    /// `{"postgres":"ok","redis":"ok (master redis-master:6379)"}`
    pub fn to_json(&self) -> serde_json::Value {
        let map: serde_json::Map<String, serde_json::Value> = self
            .checks
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.text())))
            .collect();
        serde_json::Value::Object(map)
    }

    /// `postgres: error: ...; kafka: error: ...` for the failing checks.
    pub fn failures(&self) -> String {
        self.checks
            .iter()
            .filter(|(_, o)| !o.is_ok())
            .map(|(k, o)| format!("{k}: {}", o.text()))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

struct Cached {
    at: Instant,
    report: Arc<Report>,
}

/// Runs the checks and caches the result for [`CACHE_FOR`]. Callers that
/// arrive while a run is in progress wait for it instead of starting another.
pub struct Readiness {
    checks: Vec<Arc<dyn Check>>,
    timeout: Duration,
    cache_for: Duration,
    cache: Mutex<Option<Cached>>,
}

impl Readiness {
    pub fn new(checks: Vec<Arc<dyn Check>>) -> Self {
        Self::with_timings(checks, CHECK_TIMEOUT, CACHE_FOR)
    }

    pub fn with_timings(
        checks: Vec<Arc<dyn Check>>,
        timeout: Duration,
        cache_for: Duration,
    ) -> Self {
        Readiness {
            checks,
            timeout,
            cache_for,
            cache: Mutex::new(None),
        }
    }

    pub fn check_names(&self) -> Vec<String> {
        self.checks.iter().map(|c| c.name().to_string()).collect()
    }

    /// The latest report, running the checks if the cached one is too old.
    pub async fn report(&self) -> Arc<Report> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref() {
            if c.at.elapsed() < self.cache_for {
                return c.report.clone();
            }
        }
        let report = Arc::new(self.run_all().await);
        if let Some(prev) = cache.as_ref() {
            log_changes(Some(&prev.report), &report);
        } else {
            log_changes(None, &report);
        }
        *cache = Some(Cached {
            at: Instant::now(),
            report: report.clone(),
        });
        report
    }

    async fn run_all(&self) -> Report {
        let timeout = self.timeout;
        let runs = self.checks.iter().map(|c| async move {
            let outcome = match tokio::time::timeout(timeout, c.run()).await {
                Ok(Ok(detail)) => Outcome::Ok(detail),
                Ok(Err(reason)) => Outcome::Failed(reason),
                Err(_) => Outcome::Failed(format!("timed out after {} ms", timeout.as_millis())),
            };
            (c.name().to_string(), outcome)
        });
        Report {
            checks: join_all(runs).await.into_iter().collect(),
        }
    }
}

/// One log line per check whose result changed, and one when readiness flips.
fn log_changes(prev: Option<&Report>, now: &Report) {
    for (name, outcome) in &now.checks {
        if prev.and_then(|p| p.checks.get(name)) == Some(outcome) {
            continue;
        }
        match outcome {
            Outcome::Ok(_) => tracing::info!("{name}: {}", outcome.text()),
            Outcome::Failed(_) => tracing::warn!("{name}: {}", outcome.text()),
        }
    }
    let was_ready = prev.map(Report::ready);
    match (was_ready, now.ready()) {
        (Some(true), true) | (Some(false), false) => {}
        (_, true) => tracing::info!("ready"),
        (_, false) => tracing::warn!("not ready: {}", now.failures()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn report(items: &[(&str, Outcome)]) -> Report {
        Report {
            checks: items
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    #[test]
    fn json_shape_and_readiness() {
        let r = report(&[
            ("redis", Outcome::Ok("master redis-master:6379".into())),
            ("postgres", Outcome::Ok(String::new())),
            ("kafka", Outcome::Ok(String::new())),
        ]);
        assert!(r.ready());
        assert_eq!(
            r.to_json().to_string(),
            r#"{"kafka":"ok","postgres":"ok","redis":"ok (master redis-master:6379)"}"#
        );
        let r = report(&[
            ("postgres", Outcome::Failed("connection refused".into())),
            ("redis", Outcome::Ok(String::new())),
        ]);
        assert!(!r.ready());
        assert_eq!(
            r.to_json().to_string(),
            r#"{"postgres":"error: connection refused","redis":"ok"}"#
        );
        assert_eq!(r.failures(), "postgres: error: connection refused");
        assert!(Report::default().ready());
        assert_eq!(Report::default().to_json().to_string(), "{}");
    }

    #[test]
    fn error_chain_joins_sources_once() {
        #[derive(Debug)]
        struct Outer(std::io::Error, bool);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                if self.1 {
                    write!(f, "connect failed: {}", self.0)
                } else {
                    write!(f, "connect failed")
                }
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let io = || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(error_chain(&Outer(io(), false)), "connect failed: refused");
        assert_eq!(error_chain(&Outer(io(), true)), "connect failed: refused");
    }

    #[tokio::test]
    async fn checks_run_concurrently_with_timeout_and_are_cached() {
        let runs = Arc::new(AtomicUsize::new(0));
        let r2 = runs.clone();
        let checks = vec![
            check_fn("fast", move || {
                let r = r2.clone();
                async move {
                    r.fetch_add(1, Ordering::SeqCst);
                    Ok(String::new())
                }
            }),
            check_fn("slow", || async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(String::new())
            }),
            check_fn("slow2", || async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(String::new())
            }),
            check_fn("bad", || async { Err("nope".to_string()) }),
        ];
        let readiness = Readiness::with_timings(
            checks,
            Duration::from_millis(100),
            Duration::from_millis(300),
        );
        let t = Instant::now();
        let rep = readiness.report().await;
        // Two 5 s checks cut at 100 ms each, concurrently.
        assert!(
            t.elapsed() < Duration::from_millis(1000),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(
            rep.checks["slow"],
            Outcome::Failed("timed out after 100 ms".into())
        );
        assert_eq!(rep.checks["bad"].text(), "error: nope");
        assert_eq!(rep.checks["fast"].text(), "ok");
        assert!(!rep.ready());
        // Cached: no new run within cache_for.
        readiness.report().await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(350)).await;
        readiness.report().await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
