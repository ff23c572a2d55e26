//! Shared runtime of the Nova services.
//!
//! A service describes itself (name, default ports, which dependencies it
//! uses, extra readiness checks, its own HTTP routes) and calls
//! [`Service::run`]. The runtime reads the environment, serves
//! `/health/live` and `/health/ready` over HTTP and `grpc.health.v1.Health`
//! over gRPC, keeps the gRPC status in step with readiness, and stops cleanly
//! on SIGTERM or SIGINT.
//!
//! Which dependencies are checked follows the environment: `DATABASE_URL`
//! set means Postgres is checked, `REDIS_SENTINEL_ENDPOINTS` Redis,
//! `KAFKA_BROKERS` Kafka. A dependency the service uses but that is not
//! configured is reported at startup and its endpoints answer 503.

pub mod config;
pub mod grpc;
pub mod http;
pub mod jwt;
pub mod kafka;
pub mod postgres;
pub mod readiness;
pub mod sentinel;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub use axum;
pub use redis;
pub use serde_json;
pub use tokio_postgres;
pub use tracing;

pub use config::Config;
pub use http::{ApiError, ApiResult};
pub use kafka::Kafka;
pub use postgres::Postgres;
pub use readiness::{check_fn, error_chain, Check, Readiness, Report};
pub use sentinel::Sentinel;

use axum::Router;
use tokio::sync::watch;

/// How long in-flight requests get to finish after SIGTERM.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(400);

/// A dependency a service uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dependency {
    Postgres,
    Redis,
    Kafka,
}

impl Dependency {
    pub fn name(self) -> &'static str {
        match self {
            Dependency::Postgres => "postgres",
            Dependency::Redis => "redis",
            Dependency::Kafka => "kafka",
        }
    }
    pub fn env_var(self) -> &'static str {
        match self {
            Dependency::Postgres => "DATABASE_URL",
            Dependency::Redis => "REDIS_SENTINEL_ENDPOINTS",
            Dependency::Kafka => "KAFKA_BROKERS",
        }
    }
}

/// The configured dependencies, handed to the service's routes.
pub struct Deps {
    pub config: Config,
    pub postgres: Option<Arc<Postgres>>,
    pub redis: Option<Arc<Sentinel>>,
    pub kafka: Option<Arc<Kafka>>,
}

fn not_configured(d: Dependency) -> ApiError {
    ApiError::unavailable(format!(
        "{} is not configured ({} is not set)",
        d.name(),
        d.env_var()
    ))
}

impl Deps {
    fn from_config(config: Config) -> Deps {
        Deps {
            postgres: config.postgres.clone().map(|p| Arc::new(Postgres::new(p))),
            redis: config.redis.clone().map(|r| Arc::new(Sentinel::new(r))),
            kafka: config
                .kafka
                .clone()
                .map(|k| Arc::new(Kafka::new(k, &config.service))),
            config,
        }
    }

    /// Postgres, or a 503 saying it is not configured.
    pub fn postgres(&self) -> ApiResult<&Postgres> {
        self.postgres
            .as_deref()
            .ok_or_else(|| not_configured(Dependency::Postgres))
    }
    /// Redis (through the sentinels), or a 503 saying it is not configured.
    pub fn redis(&self) -> ApiResult<&Sentinel> {
        self.redis
            .as_deref()
            .ok_or_else(|| not_configured(Dependency::Redis))
    }
    /// Kafka, or a 503 saying it is not configured.
    pub fn kafka(&self) -> ApiResult<&Kafka> {
        self.kafka
            .as_deref()
            .ok_or_else(|| not_configured(Dependency::Kafka))
    }

    fn checks(&self) -> Vec<Arc<dyn Check>> {
        let mut checks: Vec<Arc<dyn Check>> = Vec::new();
        if let Some(p) = &self.postgres {
            checks.push(p.clone());
        }
        if let Some(r) = &self.redis {
            checks.push(r.clone());
        }
        if let Some(k) = &self.kafka {
            checks.push(k.clone());
        }
        checks
    }
}

type RoutesFn = Box<dyn FnOnce(Arc<Deps>) -> Router>;

/// A Nova service, described by its `main`.
pub struct Service {
    name: &'static str,
    default_grpc_port: u16,
    default_http_port: u16,
    uses: Vec<Dependency>,
    checks: Vec<Arc<dyn Check>>,
    routes: Option<RoutesFn>,
}

impl Service {
    pub fn new(name: &'static str, default_grpc_port: u16, default_http_port: u16) -> Self {
        Service {
            name,
            default_grpc_port,
            default_http_port,
            uses: Vec::new(),
            checks: Vec::new(),
            routes: None,
        }
    }

    /// The dependencies this service is meant to have.
    pub fn uses(mut self, deps: &[Dependency]) -> Self {
        self.uses.extend_from_slice(deps);
        self
    }

    /// An extra readiness check (e.g. "keys loaded").
    pub fn check(mut self, check: Arc<dyn Check>) -> Self {
        self.checks.push(check);
        self
    }

    /// The service's own HTTP routes, merged beside the health routes.
    pub fn routes(mut self, f: impl FnOnce(Arc<Deps>) -> Router + 'static) -> Self {
        self.routes = Some(Box::new(f));
        self
    }

    /// Runs the service until SIGTERM/SIGINT, or, with `--health-check`,
    /// probes a running instance and exits.
    pub async fn run(self) -> ExitCode {
        let args: Vec<String> = std::env::args().skip(1).collect();
        match args.first().map(String::as_str) {
            None => {}
            Some("--health-check") => return self.health_check(args.get(1).cloned()).await,
            Some("--version" | "-V") => {
                println!("{} {}", self.name, env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            Some("--help" | "-h") => {
                println!("{}", self.usage());
                return ExitCode::SUCCESS;
            }
            Some(other) => {
                eprintln!(
                    "{}: unknown argument {other:?}\n\n{}",
                    self.name,
                    self.usage()
                );
                return ExitCode::from(2);
            }
        }
        init_logging();
        match self.serve().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(code) => ExitCode::from(code),
        }
    }

    fn usage(&self) -> String {
        format!(
            "usage: {name}                      run the service\n       \
             {name} --health-check [ADDR]  gRPC health check of a running {name} \
             (default 127.0.0.1:$GRPC_PORT, else {grpc}); exit 0 when SERVING\n\n\
             env: GRPC_PORT (default {grpc}), HTTP_PORT (default {http}), DATABASE_URL, \
             REDIS_SENTINEL_ENDPOINTS, REDIS_SENTINEL_MASTER_NAME (default mymaster), \
             KAFKA_BROKERS, RUST_LOG",
            name = self.name,
            grpc = self.default_grpc_port,
            http = self.default_http_port
        )
    }

    async fn health_check(&self, addr: Option<String>) -> ExitCode {
        let addr = addr.unwrap_or_else(|| {
            let port = std::env::var("GRPC_PORT")
                .ok()
                .and_then(|p| p.trim().parse::<u16>().ok())
                .unwrap_or(self.default_grpc_port);
            format!("127.0.0.1:{port}")
        });
        report_probe(grpc::probe(&addr, self.name, Duration::from_secs(2)).await)
    }

    async fn serve(self) -> Result<(), u8> {
        let config = Config::from_env(self.name, self.default_grpc_port, self.default_http_port)
            .map_err(|errors| {
                for e in &errors {
                    tracing::error!("configuration: {e}");
                }
                2u8
            })?;
        let deps = Arc::new(Deps::from_config(config));
        let cfg = &deps.config;
        for d in &self.uses {
            let configured = match d {
                Dependency::Postgres => cfg.postgres.is_some(),
                Dependency::Redis => cfg.redis.is_some(),
                Dependency::Kafka => cfg.kafka.is_some(),
            };
            if !configured {
                tracing::warn!(
                    "{} is not set: {} is not checked and endpoints that need it answer 503",
                    d.env_var(),
                    d.name()
                );
            }
        }

        let mut checks = deps.checks();
        checks.extend(self.checks.iter().cloned());
        let readiness = Arc::new(Readiness::new(checks));

        let http_listener = bind(cfg.http_port, "HTTP").await?;
        let grpc_listener = bind(cfg.grpc_port, "gRPC").await?;

        let uses: Vec<&str> = self.uses.iter().map(|d| d.name()).collect();
        let info = serde_json::json!({
            "service": self.name,
            "version": env!("CARGO_PKG_VERSION"),
            "grpc_port": cfg.grpc_port,
            "http_port": cfg.http_port,
            "uses": uses,
            "checks": readiness.check_names(),
        });
        let mut app = http::health_router(readiness.clone(), info);
        if let Some(routes) = self.routes {
            app = app.merge(routes(deps.clone()));
        }

        tracing::info!(
            "{} {} starting: grpc 0.0.0.0:{}, http 0.0.0.0:{}, checks: {}",
            self.name,
            env!("CARGO_PKG_VERSION"),
            cfg.grpc_port,
            cfg.http_port,
            describe_checks(cfg, &self.checks),
        );

        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = move |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };

        let http_task = tokio::spawn({
            let stop = stopped(stop_rx.clone());
            async move {
                axum::serve(http_listener, app)
                    .with_graceful_shutdown(stop)
                    .await
                    .map_err(|e| format!("HTTP server: {e}"))
            }
        });
        let (rep_tx, rep_rx) = tokio::sync::oneshot::channel();
        let grpc_task = tokio::spawn({
            let stop = stopped(stop_rx.clone());
            async move {
                grpc::serve(grpc_listener, rep_tx, stop)
                    .await
                    .map_err(|e| format!("gRPC server: {e}"))
            }
        });
        let loop_task = match rep_rx.await {
            Ok(reporter) => tokio::spawn(grpc::update_loop(
                reporter,
                readiness.clone(),
                self.name.to_string(),
            )),
            Err(_) => {
                tracing::error!("gRPC server did not start");
                return Err(1);
            }
        };

        // Run until a signal, or until a server fails on its own.
        let mut http_task = http_task;
        let mut grpc_task = grpc_task;
        let failure = tokio::select! {
            sig = shutdown_signal() => {
                tracing::info!("{sig} received, shutting down");
                None
            }
            r = &mut http_task => Some(flatten(r)),
            r = &mut grpc_task => Some(flatten(r)),
        };
        loop_task.abort();
        let _ = stop_tx.send(true);
        if let Some(result) = failure {
            let msg = result.err().unwrap_or_else(|| "server stopped".into());
            tracing::error!("{msg}");
            return Err(1);
        }
        // Give in-flight requests a moment; long-lived streams (gRPC Watch)
        // do not hold the exit up beyond the grace period.
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            let _ = http_task.await;
            let _ = grpc_task.await;
        })
        .await;
        if drained.is_err() {
            tracing::info!("grace period over, closing remaining connections");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

fn flatten(r: Result<Result<(), String>, tokio::task::JoinError>) -> Result<(), String> {
    match r {
        Ok(inner) => inner,
        Err(e) => Err(e.to_string()),
    }
}

fn describe_checks(cfg: &Config, extra: &[Arc<dyn Check>]) -> String {
    let mut s = cfg.describe_checks();
    for c in extra {
        if s == "none" {
            s.clear();
        } else {
            s.push(' ');
        }
        s.push_str(c.name());
    }
    s
}

async fn bind(port: u16, what: &str) -> Result<tokio::net::TcpListener, u8> {
    tokio::net::TcpListener::bind(grpc::any_addr(port))
        .await
        .map_err(|e| {
            tracing::error!("cannot listen for {what} on 0.0.0.0:{port}: {e}");
            1u8
        })
}

/// Prints a probe result and turns it into an exit code (0 only if SERVING).
pub fn report_probe(result: grpc::ProbeResult) -> ExitCode {
    match result {
        grpc::ProbeResult::Serving => {
            println!("SERVING");
            ExitCode::SUCCESS
        }
        grpc::ProbeResult::NotServing(status) => {
            println!("{status}");
            ExitCode::FAILURE
        }
        grpc::ProbeResult::Failed(e) => {
            eprintln!("health check failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGTERM or SIGINT and names the signal.
pub async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// The default filter when `RUST_LOG` is unset: our info lines, and only
/// warnings from the libraries underneath.
pub const DEFAULT_LOG_FILTER: &str = "info,rskafka=error,h2=warn,hyper=warn,tower=warn,tonic=warn";

/// Logs go to stdout, one line per event; `RUST_LOG` is honoured
/// (`level`, `target=level`, comma-separated).
pub fn init_logging() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;

    let (filter, bad) = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => match v.parse::<Targets>() {
            Ok(t) => (t, None),
            Err(e) => (
                DEFAULT_LOG_FILTER.parse().expect("default filter"),
                Some((v, e)),
            ),
        },
        _ => (DEFAULT_LOG_FILTER.parse().expect("default filter"), None),
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stdout)
        .with_ansi(std::io::stdout().is_terminal())
        .with_target(false);
    tracing_subscriber::registry().with(fmt).with(filter).init();
    if let Some((v, e)) = bad {
        tracing::warn!("RUST_LOG={v:?} not understood ({e}); using {DEFAULT_LOG_FILTER:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_log_filter_parses() {
        let t: tracing_subscriber::filter::Targets = DEFAULT_LOG_FILTER.parse().unwrap();
        assert!(t.would_enable("social_service", &tracing::Level::INFO));
        assert!(!t.would_enable("rskafka::client", &tracing::Level::INFO));
        assert!("debug,social_service=trace"
            .parse::<tracing_subscriber::filter::Targets>()
            .is_ok());
    }

    #[test]
    fn deps_answer_503_when_not_configured() {
        let cfg = Config::from_lookup("x", 1, 2, |_| None).unwrap();
        let deps = Deps::from_config(cfg);
        let e = deps.postgres().err().unwrap();
        assert_eq!(e.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(e.message.contains("DATABASE_URL"));
        assert!(deps.redis().is_err() && deps.kafka().is_err());
        assert!(deps.checks().is_empty());
    }
}
