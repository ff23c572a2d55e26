//! One service's part of an `up`: prepare what does not need the dependencies (image, keys,
//! configuration hash, a created container) while they come up, wait for their conditions, then
//! keep / start / create / recreate the container and wait for its readiness. Every step is a
//! transition on the board; the outcome goes to the service's gate for its dependents.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::sync::watch;

use super::gate::{self, Gate};
use super::image::obtain_image;
use super::plan::{self, Action, Context};
use super::{grace_secs, last_lines};
use crate::board::{ContainerRef, StatusBoard, Transition};
use crate::engine::containers::{ContainerInfo, spec_for};
use crate::engine::{Engine, EngineError};
use crate::protocol::{DependencyProblem, PublishedPort, ServiceFailure, Taken};
use crate::readiness::{self, Health};
use crate::stack::model::{Dependency, Service, Stack};

/// A dependency as one service waits for it.
pub(super) struct DependencyWait {
    pub name: String,
    pub decl: Dependency,
    pub gate: watch::Receiver<Gate>,
}

pub(super) struct ServiceJob {
    pub engine: Engine,
    pub board: Arc<StatusBoard>,
    pub stack: Arc<Stack>,
    pub name: String,
    pub deps: Vec<DependencyWait>,
    pub gate: Arc<watch::Sender<Gate>>,
    pub existing: Option<ContainerInfo>,
    pub is_one_shot: bool,
    pub limit: WaitLimit,
    pub force_build: bool,
    /// The container novadev had seen ready before this `up` began, if any: kept, it is ready
    /// again without a new probe (see [`readiness::still_ready`]).
    pub seen_ready: Option<String>,
    /// What this `up` found out about the image before the job began (a workspace build it
    /// started for this service and others, whether a build is needed).
    pub prior: super::image::Prior,
    /// The `up`'s first wave; the job is a member when it has no dependencies.
    pub first_wave: FirstWave,
    /// Set once this member has told the first wave it is past its start.
    pub wave_passed: std::sync::atomic::AtomicBool,
}

/// The first wave of an `up`: the services that wait for nothing. Their containers are created
/// and started before the other services' containers are created: the engine answers a burst of
/// requests slowly, and every other service waits on these starts (the rest are created while
/// the first wave comes up).
#[derive(Clone)]
pub(super) struct FirstWave(Arc<watch::Sender<usize>>);

impl FirstWave {
    pub fn new() -> FirstWave {
        FirstWave(Arc::new(watch::Sender::new(0)))
    }

    /// One more member, counted before any job runs.
    pub fn join(&self) {
        self.0.send_modify(|n| *n += 1);
    }

    /// A member is past its start (started, kept, or failed).
    fn passed(&self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }

    async fn wait(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}

/// How long an operation waits for readiness: until `deadline`, which is `timeout` after it
/// began (kept to say so when it runs out).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WaitLimit {
    pub deadline: Instant,
    pub timeout: Duration,
}

impl WaitLimit {
    pub fn from_now(timeout: Duration) -> WaitLimit {
        WaitLimit {
            deadline: Instant::now() + timeout,
            timeout,
        }
    }

    fn timed_out(&self) -> ServiceFailure {
        ServiceFailure::Timeout {
            waited_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// What `prepare` made ready for the start.
struct Prepared {
    hash: String,
    key_binds: Vec<(std::path::PathBuf, String)>,
    /// The container created ahead of the start (the service had none).
    created: Option<String>,
}

/// What the dependencies' conditions said.
#[derive(Debug, Clone, Copy, Default)]
struct DependenciesMet {
    /// A dependency was created, recreated or (re)started in this `up`.
    touched: bool,
    /// ... and it is declared with `restart: true`.
    restart: bool,
}

/// A failure of the engine while acting on the service.
fn engine_failure(e: EngineError) -> ServiceFailure {
    ServiceFailure::Engine {
        reason: e.to_string(),
    }
}

/// The engine's create/start errors, named by their likely cause.
fn create_failure(e: EngineError) -> ServiceFailure {
    let reason = e.to_string();
    let port_taken =
        reason.contains("port is already allocated") || reason.contains("address already in use");
    ServiceFailure::Create { reason, port_taken }
}

/// However the job ends (even by a panic), a member of the first wave leaves it.
impl Drop for ServiceJob {
    fn drop(&mut self) {
        self.pass_first_wave();
    }
}

impl ServiceJob {
    /// Bring the service up within the `up`'s wait limit, recording the outcome.
    pub async fn run(self) {
        let deadline = tokio::time::Instant::from_std(self.limit.deadline);
        let outcome = tokio::time::timeout_at(deadline, self.bring_up()).await;
        let failure = match outcome {
            Ok(Ok(())) => return,
            Ok(Err(failure)) => failure,
            Err(_) => self.limit.timed_out(),
        };
        self.board
            .apply(&self.name, Transition::Failed(failure.clone()));
        self.gate.send_replace(Gate::Failed(failure));
    }

    /// A member of the first wave is past its start (at most once).
    fn pass_first_wave(&self) {
        if self.deps.is_empty()
            && !self
                .wave_passed
                .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            self.first_wave.passed();
        }
    }

    fn service(&self) -> Result<&Service, ServiceFailure> {
        self.stack
            .services
            .get(&self.name)
            .ok_or_else(|| ServiceFailure::Engine {
                reason: format!("service `{}` is not in the stack", self.name),
            })
    }

    async fn bring_up(&self) -> Result<(), ServiceFailure> {
        let svc = self.service()?;
        let image = svc.image_ref(&self.stack.name);
        let (met, prepared) = self.prepare_while_waiting(&image).await?;
        let action = self.decide(&prepared, met).await;
        tracing::debug!(service = %self.name, ?action, "reconcile");
        let acted = self.act(action, &image, &prepared).await;
        self.pass_first_wave();
        let Some((id, taken)) = acted? else {
            return Ok(());
        };
        let touched = taken != Taken::Kept;
        let ports = self.published_ports(&id).await;
        self.board.apply(
            &self.name,
            Transition::Started {
                container: ContainerRef {
                    id: id.clone(),
                    name: self.stack.container_name(&self.name),
                },
                image: image.clone(),
                ports,
                taken,
                fresh: touched,
            },
        );
        self.gate.send_replace(Gate::Started { touched });
        if self.is_one_shot {
            return self.await_completion(&id, touched).await;
        }
        let start_interval = svc.healthcheck.as_ref().and_then(|h| h.start_interval);
        let seen_ready = !touched && self.seen_ready.as_deref() == Some(id.as_str());
        let gate = settle(
            &self.engine,
            &self.board,
            &self.name,
            &id,
            start_interval,
            self.limit,
            touched,
            seen_ready,
        )
        .await?;
        self.gate.send_replace(gate);
        Ok(())
    }

    /// What does not depend on the dependencies is prepared while they come up, as Compose
    /// builds and creates before it starts: the image, the keys and, for a service with no
    /// container yet, the container itself. Only the start waits for the conditions.
    async fn prepare_while_waiting(
        &self,
        image: &str,
    ) -> Result<(DependenciesMet, Prepared), ServiceFailure> {
        let waits = self.wait_for_dependencies();
        let prepare = self.prepare(image);
        tokio::pin!(waits, prepare);
        let (met, prepared) = tokio::select! {
            prepared = &mut prepare => {
                let prepared = prepared?;
                if !self.deps.is_empty() {
                    // A build or pull showed its own phase meanwhile: back to waiting.
                    self.show_waiting();
                }
                (waits.await, prepared)
            }
            met = &mut waits => (met, prepare.await?),
        };
        match met {
            Ok(met) => Ok((met, prepared)),
            Err(failure) => {
                // Leave no container that never started behind.
                if let Some(id) = &prepared.created {
                    let _ = self.engine.remove_container(id).await;
                }
                Err(failure)
            }
        }
    }

    /// Keep, start, create or recreate: the pure decision, given what the engine has.
    async fn decide(&self, prepared: &Prepared, met: DependenciesMet) -> Action {
        let exit_code = match &self.existing {
            Some(c) if c.state == "exited" && self.is_one_shot => self
                .engine
                .inspect(&c.id)
                .await
                .ok()
                .and_then(|d| d.exit_code),
            _ => None,
        };
        let ctx = Context {
            is_one_shot: self.is_one_shot,
            dependency_touched: met.touched,
            restart_requested: met.restart,
            exit_code,
        };
        if prepared.created.is_some() {
            return Action::Create;
        }
        plan::decide(self.existing.as_ref(), &prepared.hash, ctx)
    }

    /// Carry the decision out. `None` when the service is done without a running container (a
    /// one-shot that completed earlier).
    async fn act(
        &self,
        action: Action,
        image: &str,
        prepared: &Prepared,
    ) -> Result<Option<(String, Taken)>, ServiceFailure> {
        let grace = grace_secs(Some(&self.stack), &self.name);
        let acted = match action {
            Action::KeepCompleted { id } => {
                let name = self.existing.as_ref().map(|c| c.name.clone());
                self.board.apply(
                    &self.name,
                    Transition::Completed {
                        container: name.map(|name| ContainerRef { id, name }),
                        image: Some(image.to_string()),
                        kept: true,
                    },
                );
                self.gate.send_replace(Gate::Completed {
                    touched: false,
                    code: 0,
                    log: Vec::new(),
                });
                return Ok(None);
            }
            Action::Keep { id } => (id, Taken::Kept),
            Action::Start { id } => {
                self.starting("starting");
                self.engine
                    .start_container(&id)
                    .await
                    .map_err(create_failure)?;
                (id, Taken::Started)
            }
            Action::Restart { id } => {
                self.starting("restarting: a dependency changed");
                self.engine
                    .stop_container(&id, grace)
                    .await
                    .map_err(engine_failure)?;
                self.engine
                    .start_container(&id)
                    .await
                    .map_err(create_failure)?;
                (id, Taken::Restarted)
            }
            Action::Create => {
                let id = match &prepared.created {
                    Some(id) => id.clone(),
                    None => self.create(image, prepared).await?,
                };
                (self.start_created(id).await?, Taken::Created)
            }
            Action::Recreate { old } => {
                self.board.apply(
                    &self.name,
                    Transition::Creating {
                        detail: "configuration changed; replacing the container".into(),
                    },
                );
                self.engine
                    .stop_container(&old, grace)
                    .await
                    .map_err(engine_failure)?;
                self.engine
                    .remove_container(&old)
                    .await
                    .map_err(engine_failure)?;
                let id = self.create(image, prepared).await?;
                (self.start_created(id).await?, Taken::Recreated)
            }
        };
        Ok(Some(acted))
    }

    fn starting(&self, detail: &str) {
        self.board.apply(
            &self.name,
            Transition::Starting {
                detail: detail.to_string(),
            },
        );
    }

    /// A one-shot: wait for its exit and record it.
    async fn await_completion(&self, id: &str, touched: bool) -> Result<(), ServiceFailure> {
        let code = self.engine.wait_exit(id).await.map_err(engine_failure)?;
        if code == 0 {
            self.board.apply(
                &self.name,
                Transition::Completed {
                    container: None,
                    image: None,
                    kept: false,
                },
            );
            self.gate.send_replace(Gate::Completed {
                touched,
                code,
                log: Vec::new(),
            });
            return Ok(());
        }
        let log = last_lines(&self.engine, id, &self.name).await;
        self.board.apply(
            &self.name,
            Transition::Failed(ServiceFailure::Exited {
                code,
                before_ready: false,
                last_lines: log.clone(),
            }),
        );
        self.gate
            .send_replace(Gate::Completed { touched, code, log });
        Ok(())
    }

    /// Wait for every dependency's condition.
    async fn wait_for_dependencies(&self) -> Result<DependenciesMet, ServiceFailure> {
        if self.deps.is_empty() {
            return Ok(DependenciesMet::default());
        }
        self.show_waiting();
        let waits = self.deps.iter().map(|dep| {
            let mut rx = dep.gate.clone();
            async move {
                loop {
                    let verdict = gate::satisfies(&rx.borrow(), dep.decl.condition);
                    if let Some(verdict) = verdict {
                        return verdict
                            .map(|touched| (touched, touched && dep.decl.restart))
                            .map_err(|problem| ServiceFailure::Dependency {
                                dependency: dep.name.clone(),
                                // Where the condition that cannot be met is written.
                                problem: match problem {
                                    DependencyProblem::NoHealthcheck { .. } => {
                                        DependencyProblem::NoHealthcheck {
                                            at: Some(dep.decl.pos.to_string()),
                                        }
                                    }
                                    other => other,
                                },
                            });
                    }
                    if rx.changed().await.is_err() {
                        return Err(ServiceFailure::Dependency {
                            dependency: dep.name.clone(),
                            problem: DependencyProblem::Vanished,
                        });
                    }
                }
            }
        });
        let mut met = DependenciesMet::default();
        for result in join_all(waits).await {
            let (touched, restart) = result?;
            met.touched |= touched;
            met.restart |= restart;
        }
        Ok(met)
    }

    fn show_waiting(&self) {
        let names: Vec<String> = self
            .deps
            .iter()
            .map(|d| format!("{} ({})", d.name, d.decl.condition))
            .collect();
        self.board.apply(
            &self.name,
            Transition::Waiting {
                on: names.join(", "),
            },
        );
    }

    /// Everything that can be done before the dependencies are there.
    async fn prepare(&self, image: &str) -> Result<Prepared, ServiceFailure> {
        let svc = self.service()?;
        let image_id = obtain_image(
            &self.engine,
            &self.board,
            &self.stack,
            &self.name,
            image,
            self.force_build,
            self.prior.clone(),
        )
        .await?;
        let mut key_binds = Vec::new();
        let mut fingerprints = String::new();
        for key in &svc.novadev.keys {
            let (dir, fingerprint) = crate::secrets::ensure_key_pair(
                &crate::secrets::keys_dir(&self.stack.name),
                &key.name,
            )
            .map_err(|e| ServiceFailure::Engine {
                reason: e.to_string(),
            })?;
            key_binds.push((dir, key.target.clone()));
            fingerprints.push_str(&fingerprint);
        }
        let hash = plan::config_hash(&self.stack, svc, &format!("{image_id}{fingerprints}"));
        let mut prepared = Prepared {
            hash,
            key_binds,
            created: None,
        };
        if self.existing.is_none() {
            if self.deps.is_empty() {
                self.board.apply(
                    &self.name,
                    Transition::Creating {
                        detail: "creating container".into(),
                    },
                );
            } else {
                self.first_wave.wait().await;
            }
            prepared.created = Some(self.create(image, &prepared).await?);
        }
        Ok(prepared)
    }

    async fn create(&self, image: &str, prepared: &Prepared) -> Result<String, ServiceFailure> {
        let spec = spec_for(
            &self.stack,
            &self.name,
            image,
            &prepared.hash,
            &prepared.key_binds,
        );
        self.engine
            .create_container(&spec)
            .await
            .map_err(create_failure)
    }

    async fn start_created(&self, id: String) -> Result<String, ServiceFailure> {
        self.starting("starting");
        if let Err(e) = self.engine.start_container(&id).await {
            // Leave no half-made container behind: the next `up` would adopt it.
            let _ = self.engine.remove_container(&id).await;
            return Err(create_failure(e));
        }
        Ok(id)
    }

    async fn published_ports(&self, id: &str) -> Vec<PublishedPort> {
        published_ports(&self.engine, id).await
    }
}

/// A container's published ports, as the board shows them.
pub(crate) async fn published_ports(engine: &Engine, id: &str) -> Vec<PublishedPort> {
    let Ok(details) = engine.inspect(id).await else {
        return Vec::new();
    };
    details
        .ports
        .into_iter()
        .map(|p| PublishedPort {
            host_ip: p.host_ip,
            host_port: p.host_port,
            container_port: p.container_port,
            protocol: p.protocol,
        })
        .collect()
}

/// Wait for a started container's readiness and record the outcome on the board. Returns the
/// gate its dependents see. `seen_ready`: the container was kept, and novadev saw it ready.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn settle(
    engine: &Engine,
    board: &StatusBoard,
    name: &str,
    id: &str,
    start_interval: Option<Duration>,
    limit: WaitLimit,
    touched: bool,
    seen_ready: bool,
) -> Result<Gate, ServiceFailure> {
    let still = if seen_ready {
        readiness::still_ready(engine, id)
            .await
            .map_err(engine_failure)?
    } else {
        None
    };
    let health = match still {
        Some(health) => health,
        None => readiness::wait_healthy(engine, id, start_interval, limit.deadline)
            .await
            .map_err(engine_failure)?,
    };
    if health == Health::TimedOut {
        return Err(limit.timed_out());
    }
    Ok(
        match record_verdict(engine, board, name, id, health, limit.timeout).await {
            Ok(true) => Gate::Healthy { touched },
            Ok(false) => Gate::NoHealthcheck { touched },
            Err(failure) => Gate::Failed(failure),
        },
    )
}

/// A readiness verdict on the board: ready (healthy, or with no healthcheck at all) or failed,
/// with the container's last lines when it exited. Returns whether it is healthy, or the failure;
/// a timeout says it waited `waited`.
pub(crate) async fn record_verdict(
    engine: &Engine,
    board: &StatusBoard,
    name: &str,
    id: &str,
    health: Health,
    waited: Duration,
) -> Result<bool, ServiceFailure> {
    let failure = match health {
        Health::Healthy | Health::NoHealthcheck => {
            let healthy = health == Health::Healthy;
            board.apply(name, Transition::Ready { healthy });
            return Ok(healthy);
        }
        Health::Unhealthy(output) => ServiceFailure::Unhealthy { output },
        Health::Exited(code) => ServiceFailure::Exited {
            code,
            before_ready: true,
            last_lines: last_lines(engine, id, name).await,
        },
        Health::TimedOut => ServiceFailure::Timeout {
            waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
        },
    };
    board.apply(name, Transition::Failed(failure.clone()));
    Err(failure)
}

#[cfg(test)]
mod tests {
    use super::FirstWave;
    use futures_util::FutureExt;

    #[tokio::test]
    async fn the_first_wave_opens_once_every_member_passed() {
        let wave = FirstWave::new();
        assert!(wave.wait().now_or_never().is_some(), "no members: open");
        wave.join();
        wave.join();
        let waiting = wave.clone();
        let opened = tokio::spawn(async move { waiting.wait().await });
        wave.passed();
        tokio::task::yield_now().await;
        assert!(
            !opened.is_finished(),
            "one member is still before its start"
        );
        wave.passed();
        tokio::time::timeout(std::time::Duration::from_secs(5), opened)
            .await
            .expect("open after the last member")
            .expect("task");
    }
}
