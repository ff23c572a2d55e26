//! The operations layer: the one path of every verb. The daemon owns one [`Operations`]; its API
//! handlers, the dev loop and the watcher all act through it, and the CLI reaches it through the
//! daemon. It loads stacks itself (nothing else hands it one), serializes what changes containers
//! (`up`, `down`, a verb, a rebuild's replacement, a sync) and tracks every task it starts so that
//! a shutdown can wait for them.
//!
//! Read-only views for when no daemon runs (`status`, `logs` straight from the engine) are in
//! [`read`], and the daemon uses the same code.

pub mod devloop;
pub mod history;
pub mod kube;
pub mod read;
pub mod reload;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::BoxStream;
use futures_util::{StreamExt, stream};
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot, watch};
use tokio_util::task::TaskTracker;

use crate::board::StatusBoard;
use crate::engine::{Engine, EngineError};
use crate::orchestrator::{Orchestrator, OrchestratorError};
use crate::protocol::{
    DownReport, DownRequest, ErrorKind, Event, LogLine, LogsParams, ServiceStatus, StackRef,
    UpOptions, UpReport, Verb,
};
use crate::stack::model::Stack;
use crate::stack::{LoadOptions, StackError};
use crate::watch::{Change, WatchHandle};

/// How long a restart/start waits for readiness before answering.
pub const CONTROL_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("the daemon has no stack yet; run `novadev up` first")]
    NoStack,
    #[error("this daemon serves project `{daemon}`, not `{asked}`")]
    WrongProject { daemon: String, asked: String },
    #[error("the stack is not valid:\n{0}")]
    Stack(#[from] StackError),
    #[error(transparent)]
    Orchestrator(#[from] OrchestratorError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("the daemon is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Kube(#[from] crate::k8s::K8sError),
    #[error(
        "`{0}` works on Docker only; on Kubernetes use `restart`, or `up --k8s` (with --build) again"
    )]
    NotOnKubernetes(Verb),
}

impl OpError {
    /// Bad input (exit 2) or a runtime failure (exit 1).
    pub fn kind(&self) -> ErrorKind {
        match self {
            OpError::Stack(_)
            | OpError::Orchestrator(OrchestratorError::UnknownService { .. })
            | OpError::Orchestrator(OrchestratorError::NotAContainerVerb(_)) => ErrorKind::BadInput,
            _ => ErrorKind::Runtime,
        }
    }
}

pub struct Operations {
    project: String,
    orchestrator: Orchestrator,
    /// The stack of the last `up` (None until one arrives).
    stack: watch::Sender<Option<Arc<Stack>>>,
    /// Serializes what changes containers.
    op_lock: tokio::sync::Mutex<()>,
    /// Image builds running at once (`NOVADEV_BUILD_JOBS`, default 2).
    builds: Semaphore,
    /// The running source-tree watch (replaced on every `up`) and where it sends changes.
    watch: Mutex<Option<WatchHandle>>,
    changes: mpsc::Sender<Change>,
    tasks: TaskTracker,
    /// The dev loop's history (rebuilds and restarts with their breakdown).
    history: history::History,
    /// Where the project runs: the local Docker engine, or a Kubernetes cluster.
    target: Target,
    /// How the stack was loaded (to load it again when its files change) and the watch on them.
    loaded_from: Mutex<Option<StackRef>>,
    stack_watch: Mutex<Option<reload::StackWatch>>,
    stack_changes: mpsc::Sender<()>,
    stack_changes_rx: Mutex<Option<mpsc::Receiver<()>>>,
    /// Why the stack's files, changed while running, do not load (the running stack is kept).
    stack_error: Mutex<Option<String>>,
}

/// Where a daemon's project runs.
pub enum Target {
    Docker,
    Kubernetes(kube::KubeTarget),
}

impl Operations {
    /// The operations of `project`. Changes the watcher finds go to `changes` (the dev loop); the
    /// dev loop's history is kept in `history`.
    pub fn new(
        engine: Engine,
        project: String,
        changes: mpsc::Sender<Change>,
        history: std::path::PathBuf,
        target: Target,
    ) -> Arc<Operations> {
        let (stack_changes, stack_changes_rx) = mpsc::channel(16);
        let jobs = std::env::var("NOVADEV_BUILD_JOBS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|n: &usize| *n > 0)
            .unwrap_or(2);
        Arc::new(Operations {
            project,
            orchestrator: Orchestrator::new(engine, Arc::new(StatusBoard::new())),
            stack: watch::Sender::new(None),
            op_lock: tokio::sync::Mutex::new(()),
            builds: Semaphore::new(jobs),
            watch: Mutex::new(None),
            changes,
            tasks: TaskTracker::new(),
            history: history::History::open(history),
            target,
            loaded_from: Mutex::new(None),
            stack_watch: Mutex::new(None),
            stack_changes,
            stack_changes_rx: Mutex::new(Some(stack_changes_rx)),
            stack_error: Mutex::new(None),
        })
    }

    /// The changes to the stack's files, for the reload task (once).
    pub fn take_stack_changes(&self) -> Option<mpsc::Receiver<()>> {
        self.stack_changes_rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// How the running stack was loaded.
    pub fn loaded_from(&self) -> Option<StackRef> {
        self.loaded_from
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Why the stack's files, changed while running, do not load.
    pub fn stack_error(&self) -> Option<String> {
        self.stack_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_stack_error(&self, error: Option<String>) {
        *self.stack_error.lock().unwrap_or_else(|p| p.into_inner()) = error;
    }

    /// Watch the files the stack depends on (on Docker, where edits are applied as they come).
    fn watch_stack_files(&self, inputs: &[std::path::PathBuf]) {
        let mut slot = self.stack_watch.lock().unwrap_or_else(|p| p.into_inner());
        *slot = None;
        if !matches!(self.target, Target::Docker)
            || std::env::var("NOVADEV_WATCH").is_ok_and(|v| v == "0")
        {
            return;
        }
        match reload::watch(inputs, self.stack_changes.clone()) {
            Ok(w) => *slot = Some(w),
            Err(e) => tracing::warn!(error = %e, "not watching the stack files"),
        }
    }

    /// Load `r`'s files: the stack (or why it does not load, or belongs to another project) and
    /// every file it depends on.
    async fn load_files(
        &self,
        r: StackRef,
    ) -> Result<(Result<Arc<Stack>, OpError>, Vec<std::path::PathBuf>), OpError> {
        let options = LoadOptions {
            files: r.files,
            working_dir: r.working_dir,
            project_name: r.project_name,
            profiles: r.profiles,
            env: r.env,
        };
        let (loaded, inputs) =
            tokio::task::spawn_blocking(move || crate::stack::load_with_inputs(&options))
                .await
                .map_err(|_| OpError::ShuttingDown)?;
        let stack = match loaded {
            Ok(loaded) if loaded.stack.name != self.project => Err(OpError::WrongProject {
                daemon: self.project.clone(),
                asked: loaded.stack.name,
            }),
            Ok(loaded) => Ok(Arc::new(loaded.stack)),
            Err(e) => Err(OpError::from(e)),
        };
        Ok((stack, inputs))
    }

    /// The stack's new version where no service changed (tiers, connection info, ...).
    fn replace_stack(&self, stack: Arc<Stack>) {
        self.stack.send_replace(Some(stack));
    }

    /// Bring a changed stack in: `options.services` (the changed and added ones) up, and the
    /// containers of services that left it removed. Under the operations lock, like any change.
    async fn apply_change(&self, stack: Arc<Stack>, options: UpOptions) -> Result<(), OpError> {
        let _op = self.op_lock.lock().await;
        self.stack.send_replace(Some(stack.clone()));
        self.restart_watch(&stack);
        if options.services.is_empty() {
            self.orchestrator.remove_orphans(&stack).await?;
            return Ok(());
        }
        self.orchestrator.up(stack, &options).await?;
        Ok(())
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Follow what the project runs on (the engine's events, or the cluster's states) until
    /// dropped, keeping the board current.
    pub async fn follow(&self) {
        match &self.target {
            Target::Docker => {
                self.orchestrator
                    .follow_engine(self.project.clone(), self.stack_updates())
                    .await;
            }
            Target::Kubernetes(k) => kube::follow(self, k).await,
        }
    }

    /// The dev loop's records of `service` (all when `None`), oldest first.
    pub fn history(&self, service: Option<&str>) -> Vec<crate::protocol::LoopRecord> {
        self.history.records(service)
    }

    /// Keep a turn of the dev loop and tell the subscribers.
    fn record_turn(&self, record: crate::protocol::LoopRecord) {
        tracing::info!(service = %record.service, total_ms = record.total_ms, outcome = ?record.outcome, "dev loop turn");
        self.history.record(record.clone());
        self.board().dev_loop_turn(record);
    }

    pub fn project(&self) -> &str {
        &self.project
    }

    pub fn board(&self) -> &Arc<StatusBoard> {
        self.orchestrator.board()
    }

    pub fn engine(&self) -> &Engine {
        self.orchestrator.engine()
    }

    pub fn orchestrator(&self) -> &Orchestrator {
        &self.orchestrator
    }

    /// The loaded stack, if any.
    pub fn stack(&self) -> Option<Arc<Stack>> {
        self.stack.borrow().clone()
    }

    pub fn stack_updates(&self) -> watch::Receiver<Option<Arc<Stack>>> {
        self.stack.subscribe()
    }

    /// Every task started here (ups, rebuilds, syncs): closed and waited for at shutdown.
    pub fn tasks(&self) -> &TaskTracker {
        &self.tasks
    }

    /// Load and validate a stack from its files, as the CLI would.
    pub async fn load(&self, r: StackRef) -> Result<Arc<Stack>, OpError> {
        let (stack, inputs) = self.load_files(r.clone()).await?;
        let stack = stack?;
        // Loaded by a verb: the files it came from are the ones to follow from now on.
        *self.loaded_from.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
        self.set_stack_error(None);
        self.watch_stack_files(&inputs);
        Ok(stack)
    }

    /// The loaded stack, else the one `r` names (loaded now and kept, with the board filled from
    /// the engine), else [`OpError::NoStack`].
    async fn stack_or_load(&self, r: Option<StackRef>) -> Result<Arc<Stack>, OpError> {
        if let Some(stack) = self.stack() {
            return Ok(stack);
        }
        let Some(r) = r else {
            return Err(OpError::NoStack);
        };
        let stack = self.load(r).await?;
        self.stack.send_replace(Some(stack.clone()));
        if let Target::Docker = self.target {
            self.orchestrator
                .reconcile(&self.project, Some(&stack))
                .await?;
            self.restart_watch(&stack);
        }
        Ok(stack)
    }

    /// Start an `up` of `stack` in a task of its own: a client that stops reading its progress
    /// (or goes away) neither stops nor slows it. Progress is on the board; the outcome comes on
    /// the returned channel.
    pub fn start_up(
        self: &Arc<Self>,
        stack: Arc<Stack>,
        options: UpOptions,
    ) -> oneshot::Receiver<Result<UpReport, OpError>> {
        let (tx, rx) = oneshot::channel();
        let ops = self.clone();
        self.tasks.spawn(async move {
            let outcome = {
                let _op = ops.op_lock.lock().await;
                ops.stack.send_replace(Some(stack.clone()));
                match &ops.target {
                    Target::Docker => {
                        // Watching starts with the `up`: changes made while services come up count.
                        ops.restart_watch(&stack);
                        ops.orchestrator
                            .up(stack, &options)
                            .await
                            .map_err(OpError::from)
                    }
                    Target::Kubernetes(k) => kube::up(&ops, k, stack, &options).await,
                }
            };
            let _ = tx.send(outcome);
        });
        rx
    }

    /// Stop and remove the project's containers and networks (and what `what` adds).
    pub async fn down(&self, what: DownRequest) -> Result<DownReport, OpError> {
        let _op = self.op_lock.lock().await;
        self.stop_watching();
        let stack = match (self.stack(), &what.stack) {
            (Some(stack), _) => Some(stack),
            // Only for the order of the stops: a stack that does not load is no reason to
            // leave containers running.
            (None, Some(r)) => self.load(r.clone()).await.ok(),
            (None, None) => None,
        };
        match &self.target {
            Target::Docker => Ok(self
                .orchestrator
                .down(&self.project, stack.as_deref(), what)
                .await?),
            Target::Kubernetes(k) => kube::down(k, &self.project, &what).await,
        }
    }

    /// Restart, stop, start or rebuild one service of the stack. Returns its status once settled.
    pub async fn control(
        self: &Arc<Self>,
        service: &str,
        verb: Verb,
        stack: Option<StackRef>,
    ) -> Result<ServiceStatus, OpError> {
        let stack = self.stack_or_load(stack).await?;
        if !stack.services.contains_key(service) {
            return Err(OrchestratorError::UnknownService {
                service: service.to_string(),
                project: self.project.clone(),
            }
            .into());
        }
        if let Target::Kubernetes(k) = &self.target {
            let _op = self.op_lock.lock().await;
            return kube::control(self, k, &stack, service, verb).await;
        }
        let began = crate::board::Began {
            at_ms: crate::protocol::now_ms(),
            trigger: crate::protocol::LoopTrigger::Request,
        };
        match verb {
            Verb::Rebuild => devloop::rebuild(self, service, began).await,
            Verb::Restart => devloop::restart(self, &stack, service, began).await,
            Verb::Stop | Verb::Start => {
                let _op = self.op_lock.lock().await;
                Ok(self
                    .orchestrator
                    .control(&stack, service, verb, CONTROL_TIMEOUT)
                    .await?)
            }
        }
    }

    /// The project's logs: the engine's lines of its containers and, when following, the lines
    /// novadev itself produces for a service (build, sync).
    pub async fn logs(&self, params: &LogsParams) -> Result<BoxStream<'static, LogLine>, OpError> {
        let wanted = params.service_list();
        let known: Vec<String> = self
            .stack()
            .map(|s| s.services.keys().cloned().collect())
            .unwrap_or_default();
        if let Target::Kubernetes(k) = &self.target {
            return kube::logs(k, &self.project, &known, params).await;
        }
        let engine_lines = read::log_lines(
            self.engine(),
            &self.project,
            &wanted,
            &known,
            &params.query(),
        )
        .await?;
        if !params.follow {
            return Ok(engine_lines);
        }
        let output = own_output(self.board().subscribe(), wanted);
        // The engine's streams decide when the response ends (a followed container stopping ends
        // it, so a client reopens it for the restarted container); `None` marks that end.
        let engine_lines = engine_lines.map(Some).chain(stream::once(async { None }));
        Ok(stream::select(engine_lines, output.map(Some))
            .take_while(|line| futures_util::future::ready(line.is_some()))
            .filter_map(futures_util::future::ready)
            .boxed())
    }

    /// (Re)start watching the source tree of `stack`.
    fn restart_watch(&self, stack: &Stack) {
        let mut slot = self.watch.lock().unwrap_or_else(|p| p.into_inner());
        *slot = None;
        if std::env::var("NOVADEV_WATCH").is_ok_and(|v| v == "0") {
            return;
        }
        match crate::watch::spawn(stack, self.changes.clone()) {
            Ok(handle) => *slot = handle,
            Err(e) => tracing::warn!(error = %e, "not watching the source tree"),
        }
    }

    /// Stop watching the source tree (shutdown).
    pub fn stop_watching(&self) {
        self.watch.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// Lines novadev produces for the `wanted` services (all when empty), as log lines.
fn own_output(
    rx: broadcast::Receiver<Event>,
    wanted: Vec<String>,
) -> impl futures_util::Stream<Item = LogLine> + Send + 'static {
    stream::unfold(rx, move |mut rx| {
        let wanted = wanted.clone();
        async move {
            loop {
                match rx.recv().await {
                    Ok(Event::Output {
                        time_ms,
                        service,
                        stream,
                        text,
                        ..
                    }) if wanted.is_empty() || wanted.contains(&service) => {
                        let time = chrono::DateTime::from_timestamp_millis(
                            i64::try_from(time_ms).unwrap_or(i64::MAX),
                        )
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
                        .unwrap_or_default();
                        let line = LogLine {
                            service,
                            stream,
                            time,
                            text,
                            truncated: false,
                        };
                        return Some((line, rx));
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    })
}
