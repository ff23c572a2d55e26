//! The Docker runtime: reconciles what the stack asks for with what the engine has, and reports
//! every change to the status board as a named transition.
//!
//! By phase: `up` (here) ensures networks and volumes, adopts the project's containers
//! ([`resources`]), then runs one [`service_job`] per service, each gated on its dependencies'
//! conditions ([`gate`]) and deciding keep / start / create / recreate ([`plan`]), with images
//! from [`image`]. [`control`] restarts, stops and starts one service; [`teardown`] takes the
//! project down; [`events`] follows the engine's events (and reconciles after an outage).
//!
//! All it needs to resume after a crash is in Docker's labels; its only state is the board's.
//! Must not know about sockets, the CLI or the UIs.

pub mod control;
pub mod events;
pub mod gate;
pub mod image;
pub mod plan;
mod resources;
mod service_job;
pub mod teardown;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::join_all;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::board::{StatusBoard, Transition};
use crate::engine::{Engine, EngineError};
use crate::protocol::{Phase, ServiceFailure, ServiceStatus, UpOptions, UpReport};
use crate::stack::Diagnostic;
use crate::stack::graph::Graph;
use crate::stack::model::{Condition, Stack};
use gate::Gate;
use service_job::{DependencyWait, FirstWave, ServiceJob};
pub(crate) use service_job::{WaitLimit, published_ports, record_verdict, settle};

#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("the stack's dependencies are not valid: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Graph(Vec<Diagnostic>),
    #[error("no service `{service}` in project `{project}`")]
    UnknownService { service: String, project: String },
    #[error("service `{service}` has no container yet; run `novadev up {service}` first")]
    NoContainer { service: String },
    #[error("service `{service}` has nothing to build (no build: or x-novadev.host_build)")]
    NothingToBuild { service: String },
    #[error("`{0}` is not an operation on a container")]
    NotAContainerVerb(crate::protocol::Verb),
    #[error("service `{service}`: {failure}")]
    Service {
        service: String,
        failure: ServiceFailure,
    },
}

/// Number of log lines kept when a container fails.
const FAILURE_LOG_LINES: u64 = 12;

pub struct Orchestrator {
    engine: Engine,
    board: Arc<StatusBoard>,
}

impl Orchestrator {
    pub fn new(engine: Engine, board: Arc<StatusBoard>) -> Orchestrator {
        Orchestrator { engine, board }
    }

    pub fn board(&self) -> &Arc<StatusBoard> {
        &self.board
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Bring `opts.services` (and what they need) up, and wait until each is ready or failed.
    pub async fn up(
        &self,
        stack: Arc<Stack>,
        opts: &UpOptions,
    ) -> Result<UpReport, OrchestratorError> {
        let started = Instant::now();
        let limit = WaitLimit::from_now(opts.wait_timeout);
        let graph = Graph::build(&stack).map_err(OrchestratorError::Graph)?;
        let selected = select(&stack, &graph, &opts.services)?;
        // What novadev saw ready before: kept as it is, it is not probed again.
        let mut seen_ready: HashMap<String, String> = self
            .board
            .snapshot()
            .into_iter()
            .filter(|s| s.phase == Phase::Ready)
            .filter_map(|s| Some((s.service, s.container_id?)))
            .collect();
        self.declare(&stack, &selected);

        // Networks and volumes, what containers the project already has, and which host builds
        // to start are independent.
        let (ensured, adopted, mut priors) = tokio::join!(
            resources::ensure(&self.engine, &self.board, &stack, &selected),
            resources::adopt(&self.engine, &self.board, &stack),
            image::start_workspace_builds(&self.engine, &self.board, &stack, &selected, opts.build)
        );
        ensured?;
        let mut existing = adopted?;

        // One gate per selected service; dependents watch their dependencies' gates.
        let gates: HashMap<String, (Arc<watch::Sender<Gate>>, watch::Receiver<Gate>)> = selected
            .iter()
            .map(|name| {
                let (tx, rx) = watch::channel(Gate::Pending);
                (name.clone(), (Arc::new(tx), rx))
            })
            .collect();
        let first_wave = FirstWave::new();
        let mut jobs = Vec::new();
        for name in &selected {
            let (Some(svc), Some((gate, _))) = (stack.services.get(name), gates.get(name)) else {
                continue;
            };
            let deps = graph
                .dependencies(name)
                .into_iter()
                .filter_map(|(dep, _)| {
                    let gate = gates.get(&dep)?.1.clone();
                    let decl = svc.depends_on.get(&dep)?.clone();
                    Some(DependencyWait {
                        name: dep,
                        decl,
                        gate,
                    })
                })
                .collect();
            let job = ServiceJob {
                engine: self.engine.clone(),
                board: self.board.clone(),
                stack: stack.clone(),
                name: name.clone(),
                deps,
                gate: gate.clone(),
                existing: existing.remove(name),
                is_one_shot: is_one_shot(&stack, &graph, &selected, name),
                limit,
                force_build: opts.build,
                seen_ready: seen_ready.remove(name),
                prior: priors.remove(name).unwrap_or_default(),
                first_wave: first_wave.clone(),
                wave_passed: Default::default(),
            };
            if job.deps.is_empty() {
                first_wave.join();
            }
            jobs.push(job);
        }
        let mut tasks = JoinSet::new();
        for job in jobs {
            let busy = self.board.busy(&job.name);
            tasks.spawn(async move {
                let _busy = busy;
                job.run().await;
            });
        }
        while let Some(joined) = tasks.join_next().await {
            if let Err(e) = joined {
                tracing::error!(error = %e, "a service task panicked");
            }
        }
        self.settle_exits(&selected).await;

        let services: Vec<ServiceStatus> = self
            .board
            .snapshot()
            .into_iter()
            .filter(|s| selected.contains(&s.service))
            .collect();
        Ok(UpReport {
            ok: services.iter().all(|s| s.phase.is_good()),
            project: stack.name.clone(),
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            services,
        })
    }

    /// Remove the containers of services that are no longer in the stack (and duplicates).
    pub async fn remove_orphans(&self, stack: &Stack) -> Result<(), OrchestratorError> {
        self.board.retain(|s| stack.services.contains_key(s));
        resources::adopt(&self.engine, &self.board, stack).await?;
        Ok(())
    }

    /// Put the stack's services on the board (forgetting those that left it); the selected ones
    /// are queued for this `up`.
    fn declare(&self, stack: &Stack, selected: &BTreeSet<String>) {
        self.board.retain(|s| stack.services.contains_key(s));
        for (name, svc) in &stack.services {
            self.board.apply(
                name,
                Transition::Declared {
                    tier: stack.tier_of(name),
                    has_healthcheck: svc
                        .healthcheck
                        .as_ref()
                        .is_some_and(|h| !h.disable && h.test.is_some()),
                },
            );
            if selected.contains(name) {
                self.board.apply(name, Transition::Queued);
            }
        }
    }

    /// A container that died while `up` was acting on its service had its engine events set
    /// aside: look again now (all at once), and record what exited.
    async fn settle_exits(&self, selected: &BTreeSet<String>) {
        let ready: Vec<(String, String)> = self
            .board
            .snapshot()
            .into_iter()
            .filter(|s| selected.contains(&s.service) && s.phase == Phase::Ready)
            .filter_map(|s| Some((s.service, s.container_id?)))
            .collect();
        let states = join_all(ready.iter().map(|(_, id)| self.engine.inspect(id))).await;
        for ((service, _), details) in ready.iter().zip(states) {
            let Ok(details) = details else { continue };
            if details.running {
                continue;
            }
            let code = details.exit_code.unwrap_or(-1);
            let t = if details.restarting {
                Transition::CrashLoop {
                    code,
                    restarts: details.restart_count,
                    next_retry_ms: None,
                }
            } else if code == 0 {
                Transition::Completed {
                    container: None,
                    image: None,
                    kept: false,
                }
            } else {
                Transition::Failed(ServiceFailure::Exited {
                    code,
                    before_ready: false,
                    last_lines: vec!["(it exited right after it started)".to_string()],
                })
            };
            self.board.apply(service, t);
        }
    }
}

/// The services an `up` of `asked` brings up: all, or those asked for and what they need.
fn select(
    stack: &Stack,
    graph: &Graph,
    asked: &[String],
) -> Result<BTreeSet<String>, OrchestratorError> {
    if asked.is_empty() {
        return Ok(stack.services.keys().cloned().collect());
    }
    if let Some(unknown) = asked.iter().find(|s| !stack.services.contains_key(*s)) {
        return Err(OrchestratorError::UnknownService {
            service: unknown.clone(),
            project: stack.name.clone(),
        });
    }
    graph
        .closure(asked)
        .map_err(|_| OrchestratorError::UnknownService {
            service: asked.join(", "),
            project: stack.name.clone(),
        })
}

/// A one-shot: some selected dependent waits for it with `service_completed_successfully`.
fn is_one_shot(stack: &Stack, graph: &Graph, selected: &BTreeSet<String>, name: &str) -> bool {
    graph.dependents(name).iter().any(|d| {
        selected.contains(d)
            && stack.services.get(d).is_some_and(|svc| {
                svc.depends_on
                    .get(name)
                    .is_some_and(|dep| dep.condition == Condition::ServiceCompletedSuccessfully)
            })
    })
}

/// The last lines a container printed, for failure messages.
pub(crate) async fn last_lines(engine: &Engine, id: &str, service: &str) -> Vec<String> {
    use futures_util::StreamExt;
    let query = crate::protocol::LogQuery {
        follow: false,
        tail: Some(FAILURE_LOG_LINES),
        since: None,
    };
    engine
        .log_lines(id, service, &query)
        .map(|l| l.text)
        .collect()
        .await
}

/// Grace period for stopping a service's container, in the engine's unit.
pub(crate) fn grace_secs(stack: Option<&Stack>, service: &str) -> Option<i32> {
    stack
        .and_then(|s| s.services.get(service))
        .and_then(|s| s.stop_grace_period)
        .map(|d| i32::try_from(d.as_secs()).unwrap_or(i32::MAX))
}
