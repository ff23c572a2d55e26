//! The orchestrator reconciles what the stack asks for with what Docker has.
//!
//! `up` ensures networks and volumes, removes orphans and duplicates, then runs one task per
//! service. Each task waits for its dependencies' conditions (not for a whole "wave": a service
//! starts the moment its own dependencies are satisfied), gets its image, decides keep / start /
//! create / recreate from the config-hash label, and publishes readiness to its dependents.
//! Every change goes to the [`status::StatusBoard`]. All it needs to resume after a crash is in
//! Docker's labels; the orchestrator keeps no other state.

pub mod control;
pub mod devloop;
pub mod gate;
pub mod plan;
pub mod status;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::engine::containers::{ContainerInfo, spec_for};
use crate::engine::events::ContainerEvent;
use crate::engine::logs::LogQuery;
use crate::engine::resources::Ensured;
use crate::engine::{Engine, EngineError};
use crate::graph::Graph;
use crate::readiness::{self, Health};
use crate::stack::model::{Condition, PullPolicy, Stack};
use gate::Gate;
use plan::{Action, Context};
use status::{Phase, PublishedPort, ServiceStatus, StatusBoard, Taken};

#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{0}")]
    Stack(String),
}

/// What `up` was asked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpOptions {
    /// Services asked for (their dependencies come along); empty = all.
    pub services: Vec<String>,
    /// How long to wait for everything to be ready.
    pub wait_timeout: Duration,
    /// Rebuild images of services with `build:` even when present.
    pub build: bool,
}

/// How `up` ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpReport {
    pub ok: bool,
    pub project: String,
    pub elapsed_ms: u64,
    pub services: Vec<ServiceStatus>,
}

/// How `down`/`cleanup` ended.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DownReport {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    #[serde(default)]
    pub images: Vec<String>,
}

/// What `down` removes beyond containers and networks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Teardown {
    /// The project's volumes (their data is lost).
    pub volumes: bool,
    /// The images novadev built for the project.
    pub images: bool,
}

pub struct Orchestrator {
    engine: Engine,
    board: Arc<StatusBoard>,
    /// Services an operation (up, restart, ...) is acting on right now: their engine events are
    /// that operation's doing, and the event follower leaves their status to it.
    busy: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    /// Crash-loop bookkeeping per service (restart policies are applied by novadev).
    crashes: devloop::CrashBook,
}

/// Marks a service busy for as long as it lives.
pub(crate) struct BusyGuard {
    busy: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    service: String,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = busy.get_mut(&self.service) {
            *n -= 1;
            if *n == 0 {
                busy.remove(&self.service);
            }
        }
    }
}

/// Number of log lines shown when a container fails.
const FAILURE_LOG_LINES: u64 = 12;

impl Orchestrator {
    pub fn new(engine: Engine, board: Arc<StatusBoard>) -> Orchestrator {
        Orchestrator {
            engine,
            board,
            busy: Arc::default(),
            crashes: Arc::default(),
        }
    }

    pub(crate) fn mark_busy(&self, service: &str) -> BusyGuard {
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        *busy.entry(service.to_string()).or_default() += 1;
        BusyGuard {
            busy: self.busy.clone(),
            service: service.to_string(),
        }
    }

    fn is_busy(&self, service: &str) -> bool {
        self.busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(service)
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
        let deadline = started + opts.wait_timeout;
        let graph = Graph::build(&stack).map_err(|diags| {
            OrchestratorError::Stack(
                diags
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })?;
        let selected: BTreeSet<String> = if opts.services.is_empty() {
            stack.services.keys().cloned().collect()
        } else {
            graph
                .closure(&opts.services)
                .map_err(OrchestratorError::Stack)?
        };

        self.board.retain(|s| stack.services.contains_key(s));
        for name in stack.services.keys() {
            let tier = tier_of(&stack, name);
            let chosen = selected.contains(name);
            self.board.update(name, |s| {
                s.tier = tier;
                s.has_healthcheck = stack.services[name]
                    .healthcheck
                    .as_ref()
                    .is_some_and(|h| !h.disable && h.test.is_some());
                if chosen {
                    s.phase = Phase::Pending;
                    s.detail = None;
                    s.taken = None;
                    s.exit_code = None;
                }
            });
        }

        // Networks and volumes, and what containers the project already has, are independent.
        let (resources, existing) = tokio::join!(
            self.ensure_resources(&stack, &selected),
            self.adopt_containers(&stack)
        );
        resources?;
        let existing = existing?;

        // One gate per selected service; dependents watch their dependencies' gates.
        let mut senders: HashMap<String, Arc<watch::Sender<Gate>>> = HashMap::new();
        let mut receivers: HashMap<String, watch::Receiver<Gate>> = HashMap::new();
        for name in &selected {
            let (tx, rx) = watch::channel(Gate::Pending);
            senders.insert(name.clone(), Arc::new(tx));
            receivers.insert(name.clone(), rx);
        }
        let mut existing = existing;
        let mut tasks = JoinSet::new();
        for name in &selected {
            let deps = graph
                .dependencies(name)
                .into_iter()
                .filter_map(|(dep, _)| {
                    let rx = receivers.get(&dep)?.clone();
                    let decl = stack.services[name].depends_on.get(&dep)?.clone();
                    Some((dep, decl, rx))
                })
                .collect();
            let is_one_shot = graph.dependents(name).iter().any(|d| {
                selected.contains(d)
                    && stack.services[d]
                        .depends_on
                        .get(name)
                        .is_some_and(|dep| dep.condition == Condition::ServiceCompletedSuccessfully)
            });
            let job = ServiceJob {
                engine: self.engine.clone(),
                board: self.board.clone(),
                stack: stack.clone(),
                name: name.clone(),
                deps,
                gate: senders[name].clone(),
                existing: existing.remove(name),
                is_one_shot,
                deadline,
                force_build: opts.build,
            };
            let gate = senders[name].clone();
            let board = self.board.clone();
            let busy = self.mark_busy(name);
            let name = name.clone();
            let timeout = opts.wait_timeout;
            tasks.spawn(async move {
                let _busy = busy;
                let deadline = tokio::time::Instant::from_std(deadline);
                if tokio::time::timeout_at(deadline, job.run()).await.is_err() {
                    let why = format!("not ready within the wait timeout ({})", human(timeout));
                    board.set(&name, Phase::Failed, Some(why.clone()));
                    gate.send_replace(Gate::Failed(why));
                }
            });
        }
        while let Some(joined) = tasks.join_next().await {
            if let Err(e) = joined {
                tracing::error!(error = %e, "a service task panicked");
            }
        }

        // A container that died while `up` was acting on its service had its `die` event set
        // aside: look again now (all at once), and apply the service's restart policy to what
        // exited.
        let ready: Vec<(String, String)> = self
            .board
            .snapshot()
            .into_iter()
            .filter(|s| selected.contains(&s.service) && s.phase == Phase::Ready)
            .filter_map(|s| Some((s.service, s.container_id?)))
            .collect();
        let states = join_all(
            ready
                .iter()
                .map(|(_, id)| self.engine.inspect_container(id)),
        )
        .await;
        for ((service, _), inspect) in ready.iter().zip(states) {
            let Some(state) = inspect.ok().and_then(|i| i.state) else {
                continue;
            };
            if state.running == Some(true) || state.restarting == Some(true) {
                continue;
            }
            let code = state.exit_code.unwrap_or(-1);
            self.board.update(service, |s| {
                s.exit_code = Some(code);
                if code == 0 {
                    s.phase = Phase::Completed;
                } else {
                    s.phase = Phase::Failed;
                    s.detail = Some(format!("exited with code {code} right after it started"));
                }
            });
        }
        for status in self.board.snapshot() {
            if !selected.contains(&status.service) || status.phase != Phase::Failed {
                continue;
            }
            if let (Some(code), Some(id)) = (status.exit_code, status.container_id.clone()) {
                let ev = ContainerEvent {
                    container_id: id,
                    service: status.service.clone(),
                    action: "die".into(),
                    exit_code: Some(code),
                    time_nano: 0,
                };
                self.schedule_restart(&ev, &stack);
            }
        }
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

    async fn ensure_resources(
        &self,
        stack: &Stack,
        selected: &BTreeSet<String>,
    ) -> Result<(), OrchestratorError> {
        let networks: BTreeSet<&String> = selected
            .iter()
            .flat_map(|s| stack.services[s].networks.keys())
            .collect();
        let volumes: BTreeSet<&String> = selected
            .iter()
            .flat_map(|s| stack.services[s].volumes.iter())
            .filter_map(|v| match &v.source {
                crate::stack::model::MountSource::Volume { name } => Some(name),
                _ => None,
            })
            .collect();
        let (nets, vols) = tokio::join!(
            join_all(
                networks
                    .iter()
                    .map(|k| self.engine.ensure_network(stack, k)),
            ),
            join_all(volumes.iter().map(|k| self.engine.ensure_volume(stack, k)))
        );
        for (key, result) in networks.iter().zip(nets) {
            if result? == Ensured::Created {
                self.board
                    .message(format!("network {} created", stack.network_name(key)));
            }
        }
        for (key, result) in volumes.iter().zip(vols) {
            if result? == Ensured::Created {
                self.board
                    .message(format!("volume {} created", stack.volume_name(key)));
            }
        }
        Ok(())
    }

    /// The project's containers by service. Containers of services no longer in the stack
    /// (orphans) and extra containers of one service (duplicates, e.g. from a crash between
    /// create and label check) are removed.
    async fn adopt_containers(
        &self,
        stack: &Stack,
    ) -> Result<HashMap<String, ContainerInfo>, OrchestratorError> {
        let mut by_service: HashMap<String, ContainerInfo> = HashMap::new();
        let mut doomed = Vec::new();
        for c in self.engine.list_containers(&stack.name).await? {
            if !stack.services.contains_key(&c.service) {
                self.board.message(format!(
                    "removing orphan container {} (service `{}` is not in the stack)",
                    c.name, c.service
                ));
                doomed.push(c);
                continue;
            }
            let wanted_name = stack.container_name(&c.service);
            match by_service.remove(&c.service) {
                None => {
                    by_service.insert(c.service.clone(), c);
                }
                Some(prev) => {
                    let (keep, drop) = if prev.name == wanted_name {
                        (prev, c)
                    } else {
                        (c, prev)
                    };
                    self.board
                        .message(format!("removing duplicate container {}", drop.name));
                    doomed.push(drop);
                    by_service.insert(keep.service.clone(), keep);
                }
            }
        }
        for result in join_all(doomed.iter().map(|c| self.engine.remove_container(&c.id))).await {
            result?;
        }
        Ok(by_service)
    }

    /// Stop and remove the project's containers (dependents first when the stack is known), then
    /// its networks, and with `volumes` its volumes. Named volumes survive otherwise.
    pub async fn down(
        &self,
        project: &str,
        stack: Option<&Stack>,
        teardown: Teardown,
    ) -> Result<DownReport, OrchestratorError> {
        let containers = self.engine.list_containers(project).await?;
        // Their `die` events are this operation's doing, not crashes to restart.
        let _busy: Vec<BusyGuard> = containers
            .iter()
            .map(|c| self.mark_busy(&c.service))
            .collect();
        let mut report = DownReport::default();
        let order: Vec<Vec<String>> = match stack.map(Graph::build) {
            Some(Ok(graph)) => {
                let mut waves = graph.waves(None);
                waves.reverse();
                waves
            }
            _ => Vec::new(),
        };
        let mut remaining: Vec<ContainerInfo> = containers;
        let mut batches: Vec<Vec<ContainerInfo>> = Vec::new();
        for wave in &order {
            let (batch, rest): (Vec<_>, Vec<_>) = remaining
                .into_iter()
                .partition(|c| wave.contains(&c.service));
            remaining = rest;
            batches.push(batch);
        }
        // Containers of services the stack doesn't know go first.
        batches.insert(0, remaining);
        for batch in batches {
            let results = join_all(batch.iter().map(|c| async {
                let grace = stack
                    .and_then(|s| s.services.get(&c.service))
                    .and_then(|s| s.stop_grace_period)
                    .map(|d| i32::try_from(d.as_secs()).unwrap_or(i32::MAX));
                self.board
                    .set(&c.service, Phase::Stopped, Some("stopping".into()));
                self.engine.stop_container(&c.id, grace).await?;
                self.engine.remove_container(&c.id).await?;
                self.board.update(&c.service, |s| {
                    s.detail = None;
                    s.container_id = None;
                    s.ports.clear();
                });
                Ok::<_, EngineError>(c.name.clone())
            }))
            .await;
            for r in results {
                report.containers.push(r?);
            }
        }
        for net in self.engine.list_networks(project).await? {
            self.engine.remove_network(&net).await?;
            report.networks.push(net);
        }
        if teardown.volumes {
            for vol in self.engine.list_volumes(project).await? {
                self.engine.remove_volume(&vol).await?;
                report.volumes.push(vol);
            }
        }
        if teardown.images {
            for (id, tag) in self.engine.list_project_images(project).await? {
                self.engine.remove_image(&id).await?;
                report.images.push(tag);
            }
        }
        Ok(report)
    }

    /// Fill the board from Docker alone (after a daemon restart, before any `up`).
    pub async fn refresh(&self, stack: &Stack) -> Result<(), OrchestratorError> {
        let containers = self.engine.list_containers(&stack.name).await?;
        for name in stack.services.keys() {
            let tier = tier_of(stack, name);
            let found = containers.iter().find(|c| &c.service == name);
            let status = status_from_container(name, found);
            self.board.update(name, |s| {
                s.tier = tier;
                s.phase = status.phase;
                s.detail = status.detail;
                s.container_id = status.container_id;
                s.container_name = status.container_name;
                s.exit_code = status.exit_code;
            });
        }
        Ok(())
    }

    /// Follow the engine's container events for a project, keeping the board current (crashes,
    /// restarts, health changes after `up` returned). Reconnects with capped backoff.
    pub async fn watch_events(&self, project: String, stack: watch::Receiver<Option<Arc<Stack>>>) {
        let mut backoff = Duration::from_millis(200);
        loop {
            let mut events = Box::pin(self.engine.container_events(&project));
            let mut healthy_stream = false;
            while let Some(item) = events.next().await {
                match item {
                    Ok(ev) => {
                        healthy_stream = true;
                        let stack = stack.borrow().clone();
                        self.apply_event(&ev, stack.as_deref());
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "engine events stream failed");
                        break;
                    }
                }
            }
            if healthy_stream {
                backoff = Duration::from_millis(200);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }

    /// Update the board from one engine event.
    pub fn apply_event(&self, ev: &ContainerEvent, stack: Option<&Stack>) {
        if self.is_busy(&ev.service) {
            return;
        }
        let Some(current) = self.board.get(&ev.service) else {
            return;
        };
        // Events about an older container of the service (being replaced) don't count.
        if current
            .container_id
            .as_ref()
            .is_some_and(|id| id != &ev.container_id)
        {
            return;
        }
        let has_healthcheck = current.has_healthcheck;
        match ev.action.as_str() {
            "die" => {
                if matches!(
                    current.phase,
                    Phase::Ready | Phase::Starting | Phase::Unhealthy
                ) {
                    if let Some(stack) = stack
                        && self.schedule_restart(ev, stack)
                    {
                        return;
                    }
                    let code = ev.exit_code.unwrap_or(-1);
                    self.board.update(&ev.service, |s| {
                        // A clean exit is a one-shot finishing its work; anything else a crash.
                        if code == 0 {
                            s.phase = Phase::Completed;
                            s.detail = None;
                        } else {
                            s.phase = Phase::Exited;
                            s.detail = Some(format!("exited with code {code}"));
                        }
                        s.exit_code = Some(code);
                    });
                }
            }
            "start" => {
                if matches!(
                    current.phase,
                    Phase::Exited | Phase::Failed | Phase::Unhealthy
                ) {
                    let restart_policy = stack
                        .and_then(|s| s.services.get(&ev.service))
                        .map(|s| s.restart);
                    self.board.update(&ev.service, |s| {
                        s.restarts += 1;
                        s.exit_code = None;
                        s.detail = restart_policy.map(|p| format!("restarted (restart: {p:?})"));
                        s.phase = if has_healthcheck {
                            Phase::Starting
                        } else {
                            Phase::Ready
                        };
                    });
                }
            }
            // `docker stop` (or anything else stopping it on purpose) follows its `die` with a
            // `stop`: a container stopped on purpose is not restarted, as with Docker's own
            // policies. The pending restart (at least a second away) sees the phase and gives up.
            "stop"
                if matches!(
                    current.phase,
                    Phase::CrashLoop | Phase::Ready | Phase::Starting | Phase::Unhealthy
                ) =>
            {
                self.board.update(&ev.service, |s| {
                    s.phase = Phase::Stopped;
                    s.next_retry_ms = None;
                    s.detail = Some("stopped outside novadev (e.g. docker stop)".into());
                });
            }
            "health_status: healthy" => {
                if matches!(current.phase, Phase::Starting | Phase::Unhealthy) {
                    self.board.set(&ev.service, Phase::Ready, None);
                }
            }
            "health_status: unhealthy" => {
                if matches!(current.phase, Phase::Ready | Phase::Starting) {
                    self.board.set(
                        &ev.service,
                        Phase::Unhealthy,
                        Some("healthcheck failing".into()),
                    );
                }
            }
            "destroy"
                if current.container_id.as_deref() == Some(ev.container_id.as_str())
                    && !matches!(current.phase, Phase::Creating | Phase::Stopped) =>
            {
                self.board.update(&ev.service, |s| {
                    s.phase = Phase::Stopped;
                    s.detail = Some("container removed".into());
                    s.container_id = None;
                    s.ports.clear();
                });
            }
            _ => {}
        }
    }
}

/// Build the service's image (host build, else `build:`) and record the build on the board; its
/// output lines are published as the service's `build` output.
pub(crate) async fn build_image(
    engine: &Engine,
    board: &StatusBoard,
    stack: &Stack,
    name: &str,
    image: &str,
) -> Result<String, String> {
    let svc = &stack.services[name];
    let on_host = svc.novadev.host_build.is_some() && host_builds_enabled();
    let started = status::now_ms();
    board.update(name, |s| {
        s.phase = Phase::Building;
        s.detail = Some(if on_host {
            format!("building {image} on the host")
        } else {
            format!("building {image}")
        });
        s.builds += 1;
        s.last_build = Some(status::BuildRecord {
            ok: false,
            started_ms: started,
            finished_ms: None,
            error: None,
        });
    });
    let on_line = |line: &str| board.output(name, "build", line);
    let result = if on_host {
        crate::build::host_build(engine, stack, name, on_line).await
    } else {
        crate::build::build_service(engine, stack, name, on_line).await
    };
    let finished = status::now_ms();
    let error = result.as_ref().err().map(|e| e.to_string());
    board.update(name, |s| {
        s.last_build = Some(status::BuildRecord {
            ok: error.is_none(),
            started_ms: started,
            finished_ms: Some(finished),
            error: error.clone(),
        });
    });
    result.map_err(|e| e.to_string())
}

/// The image a service runs, present locally: built (when missing, forced, or
/// `pull_policy: build`), found, or pulled. Returns its id.
pub(crate) async fn obtain_image(
    engine: &Engine,
    board: &StatusBoard,
    stack: &Stack,
    name: &str,
    image: &str,
    force_build: bool,
) -> Result<String, String> {
    let svc = &stack.services[name];
    let present = engine.image_id(image).await.map_err(|e| e.to_string())?;
    let buildable =
        svc.build.is_some() || svc.novadev.host_build.is_some() && host_builds_enabled();
    let wants_build = present.is_none() || force_build || svc.pull_policy == PullPolicy::Build;
    if buildable && wants_build {
        return build_image(engine, board, stack, name, image).await;
    }
    match (present, svc.pull_policy) {
        (Some(id), PullPolicy::Missing | PullPolicy::Never | PullPolicy::Build) => Ok(id),
        (None, PullPolicy::Never) => Err(EngineError::ImageMissingNoPull {
            service: name.to_string(),
            image: image.to_string(),
        }
        .to_string()),
        (_, _) => {
            board.set(name, Phase::Pulling, Some(format!("pulling {image}")));
            engine
                .pull_image(name, image)
                .await
                .map_err(|e| e.to_string())?;
            engine
                .image_id(image)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| {
                    EngineError::ImageUnavailable {
                        service: name.to_string(),
                        image: image.to_string(),
                        reason: "the pull finished but the image is not there".into(),
                    }
                    .to_string()
                })
        }
    }
}

/// Host builds (`x-novadev.host_build`) are on unless `NOVADEV_HOST_BUILD=0`, which falls back
/// to the service's ordinary `build:` (e.g. a multi-stage Dockerfile where a registry exists).
fn host_builds_enabled() -> bool {
    std::env::var("NOVADEV_HOST_BUILD").map_or(true, |v| v != "0")
}

/// A service's display tier: its own `x-novadev.tier`, else the project's `tiers` list.
pub fn tier_of(stack: &Stack, service: &str) -> Option<String> {
    if let Some(t) = stack
        .services
        .get(service)
        .and_then(|s| s.novadev.tier.clone())
    {
        return Some(t);
    }
    stack
        .novadev
        .tiers
        .iter()
        .find(|(_, members)| members.iter().any(|m| m == service))
        .map(|(tier, _)| tier.clone())
}

/// A status from what `docker ps` says about a service's container (no daemon knowledge).
pub fn status_from_container(service: &str, c: Option<&ContainerInfo>) -> ServiceStatus {
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
        "restarting" => Phase::Starting,
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

fn human(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1.0 {
        format!("{}ms", d.as_millis())
    } else if secs < 120.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// What `prepare` made ready for the start.
struct Prepared {
    hash: String,
    key_binds: Vec<(std::path::PathBuf, String)>,
    /// The container created ahead of the start (the service had none).
    created: Option<String>,
}

/// One service's part of an `up`.
struct ServiceJob {
    engine: Engine,
    board: Arc<StatusBoard>,
    stack: Arc<Stack>,
    name: String,
    deps: Vec<(
        String,
        crate::stack::model::Dependency,
        watch::Receiver<Gate>,
    )>,
    gate: Arc<watch::Sender<Gate>>,
    existing: Option<ContainerInfo>,
    is_one_shot: bool,
    deadline: Instant,
    force_build: bool,
}

impl ServiceJob {
    async fn run(self) {
        if let Err(why) = self.bring_up().await {
            self.board.set(&self.name, Phase::Failed, Some(why.clone()));
            self.gate.send_replace(Gate::Failed(why));
        }
    }

    async fn bring_up(&self) -> Result<(), String> {
        let svc = &self.stack.services[&self.name];
        let image = svc.image_ref(&self.stack.name);
        // What does not depend on the dependencies is prepared while they come up, as Compose
        // builds and creates before it starts: the image, the keys and, for a service with no
        // container yet, the container itself. Only the start waits for the conditions.
        let waits = self.wait_for_dependencies();
        let prepare = self.prepare(&image);
        tokio::pin!(waits, prepare);
        let (deps, prepared) = tokio::select! {
            prepared = &mut prepare => {
                let prepared = prepared?;
                if !self.deps.is_empty() {
                    // A build or pull showed its own phase meanwhile: back to waiting.
                    self.show_waiting();
                }
                (waits.await, prepared)
            }
            deps = &mut waits => (deps, prepare.await?),
        };
        let (dependency_touched, restart_requested) = match deps {
            Ok(deps) => deps,
            Err(why) => {
                // Leave no container that never started behind.
                if let Some(id) = &prepared.created {
                    let _ = self.engine.remove_container(id).await;
                }
                return Err(why);
            }
        };
        let Prepared {
            hash,
            key_binds,
            created,
        } = prepared;

        let exit_code = match &self.existing {
            Some(c) if c.state == "exited" && self.is_one_shot => self
                .engine
                .inspect_container(&c.id)
                .await
                .ok()
                .and_then(|i| i.state)
                .and_then(|s| s.exit_code),
            _ => None,
        };
        let ctx = Context {
            is_one_shot: self.is_one_shot,
            dependency_touched,
            restart_requested,
            exit_code,
        };
        let action = plan::decide(self.existing.as_ref(), &hash, ctx);
        debug_assert!(created.is_none() || action == Action::Create);
        tracing::debug!(service = %self.name, ?action, "reconcile");

        let (id, taken) = match action {
            Action::KeepCompleted { id } => {
                let name = self.existing.as_ref().map(|c| c.name.clone());
                self.board.update(&self.name, |s| {
                    s.phase = Phase::Completed;
                    s.detail = Some("completed earlier with this configuration".into());
                    s.container_id = Some(id.clone());
                    s.container_name = name;
                    s.image = Some(image.clone());
                    s.exit_code = Some(0);
                    s.taken = Some(Taken::Kept);
                });
                self.gate.send_replace(Gate::Completed {
                    touched: false,
                    code: 0,
                    log: String::new(),
                });
                return Ok(());
            }
            Action::Keep { id } => (id, Taken::Kept),
            Action::Start { id } => {
                self.board
                    .set(&self.name, Phase::Starting, Some("starting".into()));
                self.engine
                    .start_container(&id)
                    .await
                    .map_err(|e| e.to_string())?;
                (id, Taken::Started)
            }
            Action::Restart { id } => {
                self.board.set(
                    &self.name,
                    Phase::Starting,
                    Some("restarting: a dependency changed".into()),
                );
                self.engine
                    .stop_container(&id, None)
                    .await
                    .map_err(|e| e.to_string())?;
                self.engine
                    .start_container(&id)
                    .await
                    .map_err(|e| e.to_string())?;
                (id, Taken::Restarted)
            }
            Action::Create => {
                let id = match created {
                    Some(id) => id,
                    None => self.create(&image, &hash, &key_binds).await?,
                };
                (self.start_created(id).await?, Taken::Created)
            }
            Action::Recreate { old } => {
                self.board.set(
                    &self.name,
                    Phase::Creating,
                    Some("configuration changed; replacing the container".into()),
                );
                let grace = svc
                    .stop_grace_period
                    .map(|d| i32::try_from(d.as_secs()).unwrap_or(i32::MAX));
                self.engine
                    .stop_container(&old, grace)
                    .await
                    .map_err(|e| e.to_string())?;
                self.engine
                    .remove_container(&old)
                    .await
                    .map_err(|e| e.to_string())?;
                let id = self.create(&image, &hash, &key_binds).await?;
                (self.start_created(id).await?, Taken::Recreated)
            }
        };
        let touched = taken != Taken::Kept;
        let ports = self.published_ports(&id).await;
        let container_name = self.stack.container_name(&self.name);
        self.board.update(&self.name, |s| {
            s.phase = Phase::Starting;
            s.detail = None;
            s.container_id = Some(id.clone());
            s.container_name = Some(container_name);
            s.image = Some(image.clone());
            s.ports = ports;
            s.taken = Some(taken);
            if touched || s.started_ms.is_none() {
                s.started_ms = Some(status::now_ms());
            }
        });
        self.gate.send_replace(Gate::Started { touched });

        if self.is_one_shot {
            let code = self
                .engine
                .wait_exit(&id)
                .await
                .map_err(|e| e.to_string())?;
            if code == 0 {
                self.board.update(&self.name, |s| {
                    s.phase = Phase::Completed;
                    s.exit_code = Some(0);
                    s.detail = None;
                    s.ready_ms = Some(status::now_ms());
                });
                self.gate.send_replace(Gate::Completed {
                    touched,
                    code,
                    log: String::new(),
                });
            } else {
                let log = last_lines(&self.engine, &id, &self.name).await;
                self.board.update(&self.name, |s| {
                    s.phase = Phase::Failed;
                    s.exit_code = Some(code);
                    s.detail = Some(with_log(format!("exited with code {code}"), &log));
                });
                self.gate
                    .send_replace(Gate::Completed { touched, code, log });
            }
            return Ok(());
        }

        let start_interval = svc.healthcheck.as_ref().and_then(|h| h.start_interval);
        let gate = settle(
            &self.engine,
            &self.board,
            &self.name,
            &id,
            start_interval,
            self.deadline,
            touched,
        )
        .await?;
        self.gate.send_replace(gate);
        Ok(())
    }

    /// Wait for every dependency's condition. Returns whether any dependency was touched, and
    /// whether one that was touched asked for a restart of its dependents.
    async fn wait_for_dependencies(&self) -> Result<(bool, bool), String> {
        if self.deps.is_empty() {
            return Ok((false, false));
        }
        self.show_waiting();
        let waits = self.deps.iter().map(|(dep, decl, rx)| {
            let mut rx = rx.clone();
            async move {
                loop {
                    let verdict = gate::satisfies(&rx.borrow(), decl.condition, dep);
                    if let Some(v) = verdict {
                        return v.map(|touched| (touched, touched && decl.restart));
                    }
                    if rx.changed().await.is_err() {
                        return Err(format!("dependency `{dep}` ended without a result"));
                    }
                }
            }
        });
        let mut touched = false;
        let mut restart = false;
        for result in join_all(waits).await {
            let (t, r) = result?;
            touched |= t;
            restart |= r;
        }
        Ok((touched, restart))
    }

    fn show_waiting(&self) {
        let names: Vec<String> = self
            .deps
            .iter()
            .map(|(d, decl, _)| format!("{d} ({})", decl.condition))
            .collect();
        self.board.set(
            &self.name,
            Phase::Waiting,
            Some(format!("waiting for {}", names.join(", "))),
        );
    }

    /// Everything that can be done before the dependencies are there: the image (built, found or
    /// pulled), the generated keys, the configuration hash and, when the service has no container
    /// yet, a created (not started) container.
    async fn prepare(&self, image: &str) -> Result<Prepared, String> {
        let svc = &self.stack.services[&self.name];
        let image_id = self.ensure_image(image).await?;
        let mut key_binds = Vec::new();
        let mut fingerprints = String::new();
        for key in &svc.novadev.keys {
            let (dir, fingerprint) = crate::secrets::ensure_key_pair(
                &crate::secrets::keys_dir(&self.stack.name),
                &key.name,
            )
            .map_err(|e| e.to_string())?;
            key_binds.push((dir, key.target.clone()));
            fingerprints.push_str(&fingerprint);
        }
        let hash = plan::config_hash(&self.stack, svc, &format!("{image_id}{fingerprints}"));
        let created = match self.existing {
            None => {
                if self.deps.is_empty() {
                    self.board.set(
                        &self.name,
                        Phase::Creating,
                        Some("creating container".into()),
                    );
                }
                Some(self.create(image, &hash, &key_binds).await?)
            }
            Some(_) => None,
        };
        Ok(Prepared {
            hash,
            key_binds,
            created,
        })
    }

    /// The image to run, present locally: built, found, or pulled. Returns its id.
    async fn ensure_image(&self, image: &str) -> Result<String, String> {
        obtain_image(
            &self.engine,
            &self.board,
            &self.stack,
            &self.name,
            image,
            self.force_build,
        )
        .await
    }

    async fn create(
        &self,
        image: &str,
        hash: &str,
        key_binds: &[(std::path::PathBuf, String)],
    ) -> Result<String, String> {
        let spec = spec_for(&self.stack, &self.name, image, hash, key_binds);
        self.engine
            .create_container(&spec)
            .await
            .map_err(|e| explain_create_error(&self.name, e))
    }

    async fn start_created(&self, id: String) -> Result<String, String> {
        self.board
            .set(&self.name, Phase::Starting, Some("starting".into()));
        if let Err(e) = self.engine.start_container(&id).await {
            // Leave no half-made container behind: the next `up` would adopt it.
            let _ = self.engine.remove_container(&id).await;
            return Err(explain_create_error(&self.name, e));
        }
        Ok(id)
    }

    async fn published_ports(&self, id: &str) -> Vec<PublishedPort> {
        let Ok(inspect) = self.engine.inspect_container(id).await else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(ports) = inspect.network_settings.and_then(|n| n.ports) {
            for (key, bindings) in ports {
                let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
                let Ok(container_port) = port.parse::<u16>() else {
                    continue;
                };
                for b in bindings.unwrap_or_default() {
                    if let Some(host_port) = b.host_port.and_then(|p| p.parse().ok()) {
                        out.push(PublishedPort {
                            host_ip: b.host_ip.unwrap_or_default(),
                            host_port,
                            container_port,
                            protocol: proto.to_string(),
                        });
                    }
                }
            }
        }
        out.sort_by_key(|p| (p.container_port, p.host_port));
        out
    }
}

/// Wait for a started container's readiness and record the outcome on the board. Returns the
/// gate its dependents see.
async fn settle(
    engine: &Engine,
    board: &StatusBoard,
    name: &str,
    id: &str,
    start_interval: Option<Duration>,
    deadline: Instant,
    touched: bool,
) -> Result<Gate, String> {
    let health = readiness::wait_healthy(engine, id, start_interval, deadline)
        .await
        .map_err(|e| e.to_string())?;
    Ok(match health {
        Health::Healthy | Health::NoHealthcheck => {
            let has_healthcheck = health == Health::Healthy;
            board.update(name, |s| {
                s.has_healthcheck = has_healthcheck;
                s.phase = Phase::Ready;
                s.detail = None;
                s.ready_ms = Some(status::now_ms());
            });
            if has_healthcheck {
                Gate::Healthy { touched }
            } else {
                Gate::NoHealthcheck { touched }
            }
        }
        Health::Unhealthy(output) => {
            let why = if output.is_empty() {
                "healthcheck reports unhealthy".to_string()
            } else {
                format!("healthcheck reports unhealthy: {output}")
            };
            board.set(name, Phase::Unhealthy, Some(why.clone()));
            Gate::Failed(why)
        }
        Health::Exited(code) => {
            let log = last_lines(engine, id, name).await;
            let why = with_log(format!("exited with code {code} before it was ready"), &log);
            board.update(name, |s| {
                s.phase = Phase::Failed;
                s.exit_code = Some(code);
                s.detail = Some(why.clone());
            });
            Gate::Failed(why)
        }
        Health::TimedOut => return Err("healthcheck did not pass within the wait timeout".into()),
    })
}

/// The last lines a container printed, for failure messages.
async fn last_lines(engine: &Engine, id: &str, service: &str) -> String {
    let query = LogQuery {
        follow: false,
        tail: Some(FAILURE_LOG_LINES),
        since: None,
    };
    let lines: Vec<_> = engine.log_lines(id, service, &query).collect().await;
    lines
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn with_log(headline: String, log: &str) -> String {
    if log.trim().is_empty() {
        headline
    } else {
        format!("{headline}; last log lines:\n{log}")
    }
}

/// Turn the engine's create/start errors into a sentence that names the likely cause.
fn explain_create_error(service: &str, e: EngineError) -> String {
    let text = e.to_string();
    if text.contains("port is already allocated") || text.contains("address already in use") {
        format!("service `{service}`: a published host port is already in use ({text})")
    } else if text.contains("No such image") {
        format!("service `{service}`: image not found ({text})")
    } else {
        format!("service `{service}`: {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(state: &str, status: &str) -> ContainerInfo {
        ContainerInfo {
            id: "id".into(),
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
    fn docker_status_maps_to_phases() {
        let s = |state, status| status_from_container("db", Some(&info(state, status))).phase;
        assert_eq!(s("running", "Up 2 minutes (healthy)"), Phase::Ready);
        assert_eq!(
            s("running", "Up 1 second (health: starting)"),
            Phase::Starting
        );
        assert_eq!(s("running", "Up 5 minutes (unhealthy)"), Phase::Unhealthy);
        assert_eq!(s("running", "Up 5 minutes"), Phase::Ready);
        assert_eq!(s("exited", "Exited (0) 3 seconds ago"), Phase::Completed);
        assert_eq!(s("exited", "Exited (137) 3 seconds ago"), Phase::Exited);
        assert_eq!(s("created", "Created"), Phase::Stopped);
        assert_eq!(status_from_container("db", None).phase, Phase::Stopped);
    }

    #[test]
    fn exit_code_is_read_from_docker_status() {
        assert_eq!(exit_code_from_status("Exited (2) 1 hour ago"), Some(2));
        assert_eq!(exit_code_from_status("Created"), None);
    }
}
