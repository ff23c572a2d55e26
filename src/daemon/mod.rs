//! The per-project daemon: owns the operations layer (and through it the orchestrator and the
//! status board), follows the engine, runs the dev loop, and serves the API on a Unix socket that
//! only its owner can open, and the web UI (the page and what it uses) on 127.0.0.1 behind a
//! per-daemon token (`web`). Both listeners go through [`serve::serve`] (timeouts, caps).
//!
//! One daemon per project: a lock file held for the daemon's life keeps a second one out. Its
//! state is the board's, which the engine's labels and a reconcile rebuild, so `kill -9` loses
//! nothing that matters.

pub mod api;
pub mod serve;
mod sse;
pub mod web;

use std::fs::File;
use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixListener;
use tokio::sync::{mpsc, watch};
use tokio_util::task::TaskTracker;

use crate::engine::{Engine, EngineError};
use crate::ops::Operations;
use crate::protocol::WebUiInfo;
use crate::target::DaemonTarget;
use crate::watch::Change;

/// How long a shutdown waits for operations still running (an `up`, a rebuild) to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("another novadev daemon already runs for project `{0}`")]
    AlreadyRunning(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    StateDir(#[from] crate::paths::PathsError),
    #[error(transparent)]
    Kube(#[from] crate::k8s::K8sError),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> DaemonError {
    let context = context.into();
    move |source| DaemonError::Io { context, source }
}

/// Shared by every request handler.
pub struct DaemonState {
    pub ops: Arc<Operations>,
    pub started_ms: u64,
    pub build_id: String,
    /// Flips to true when the daemon should stop serving.
    pub shutdown: watch::Sender<bool>,
    /// Where the web UI listens, or why it does not.
    pub web_ui: Result<WebUiInfo, String>,
}

impl DaemonState {
    /// The state of a daemon for `engine`'s `project`, keeping the dev loop's history in
    /// `history`; the watcher's changes go to the returned receiver (hand it to [`serve`]).
    pub fn new(
        engine: Engine,
        project: String,
        history: std::path::PathBuf,
        target: crate::ops::Target,
        web_ui: Result<WebUiInfo, String>,
    ) -> (Arc<DaemonState>, mpsc::Receiver<Change>) {
        let (changes_tx, changes_rx) = mpsc::channel(256);
        let state = Arc::new(DaemonState {
            ops: Operations::new(engine, project, changes_tx, history, target),
            started_ms: crate::protocol::now_ms(),
            build_id: crate::paths::build_id(),
            shutdown: watch::Sender::new(false),
            web_ui,
        });
        (state, changes_rx)
    }

    pub fn request_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// A future that resolves once shutdown is requested.
    pub fn shutdown_signal(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.shutdown.subscribe();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }
}

/// Run the daemon for `target` until asked to stop (API `down`/`shutdown`, SIGTERM, SIGINT).
pub async fn run(target: DaemonTarget) -> Result<(), DaemonError> {
    let project = target.project.clone();
    let paths = target.paths();
    paths.prepare()?;
    let lock =
        File::create(&paths.lock).map_err(io(format!("opening {}", paths.lock.display())))?;
    // A daemon being replaced (another build of novadev) closes its socket a moment before it
    // exits and releases the lock: wait a little for it rather than give up at once.
    let lock_deadline = std::time::Instant::now() + Duration::from_secs(5);
    while lock.try_lock().is_err() {
        if std::time::Instant::now() > lock_deadline {
            return Err(DaemonError::AlreadyRunning(project));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let engine = Engine::connect().await?;
    let runtime = match &target.kube {
        None => crate::ops::Target::Docker,
        Some(spec) => {
            let cluster = crate::k8s::Cluster::connect(&spec.connect_options()).await?;
            crate::ops::Target::Kubernetes(crate::ops::kube::KubeTarget {
                cluster,
                namespace: spec.namespace.clone(),
                node: spec.node.clone(),
            })
        }
    };
    let (socket_limits, web_limits) = serve::Limits::for_listeners(serve::raise_open_file_limit());

    // Before the socket answers, so that whoever finds the daemon also finds its token. A web UI
    // that cannot be served (port taken) leaves the daemon and its CLI working; `info` says why.
    let web = match web::port_from_env() {
        Ok(port) => web::WebUi::bind(port, &paths.ui_token).await,
        Err(e) => Err(e),
    };
    let (web, web_ui) = match web {
        Ok(web) => {
            let info = WebUiInfo {
                url: web.url(),
                port: web.port,
            };
            (Some(web), Ok(info))
        }
        Err(e) => {
            tracing::error!(error = %e, "the web UI is not served");
            (None, Err(e.to_string()))
        }
    };

    // The lock is ours, so a socket file left here belongs to a dead daemon.
    let _ = std::fs::remove_file(&paths.socket);
    let listener = UnixListener::bind(&paths.socket)
        .map_err(io(format!("binding {}", paths.socket.display())))?;
    std::fs::set_permissions(&paths.socket, std::fs::Permissions::from_mode(0o600))
        .map_err(io("restricting the socket"))?;
    crate::paths::write_atomic(&paths.pid, std::process::id().to_string().as_bytes(), 0o600)
        .map_err(io(format!("writing {}", paths.pid.display())))?;

    let (state, changes) = DaemonState::new(
        engine,
        project.clone(),
        paths.history.clone(),
        runtime,
        web_ui,
    );
    tracing::info!(project = %project, socket = %paths.socket.display(), "daemon listening");
    {
        let state = state.clone();
        tokio::spawn(async move {
            let stop = state.shutdown_signal();
            tokio::select! {
                () = wait_for_signal() => {
                    tracing::info!("signal received; shutting down");
                    state.request_shutdown();
                }
                () = stop => {}
            }
        });
    }
    let listeners = Listeners {
        socket: listener,
        socket_limits,
        web: web.map(|w| (w, web_limits)),
    };
    serve(state, listeners, changes).await;
    let _ = std::fs::remove_file(&paths.socket);
    let _ = std::fs::remove_file(&paths.pid);
    let _ = std::fs::remove_file(&paths.ui_token);
    drop(lock);
    tracing::info!("daemon stopped");
    Ok(())
}

/// Where a daemon serves.
pub struct Listeners {
    pub socket: UnixListener,
    pub socket_limits: serve::Limits,
    pub web: Option<(web::WebUi, serve::Limits)>,
}

/// Serve `state` until its shutdown is requested: the API on the socket, the web UI, the engine
/// follower and the dev loop, each a tracked task. Then stop accepting, end the background work,
/// and wait (bounded) for operations in flight.
pub async fn serve(state: Arc<DaemonState>, listeners: Listeners, changes: mpsc::Receiver<Change>) {
    let ops = state.ops.clone();
    let background = TaskTracker::new();
    {
        let ops = ops.clone();
        let stop = state.shutdown_signal();
        background.spawn(async move {
            tokio::select! {
                () = crate::ops::devloop::run(ops, changes) => {}
                () = stop => {}
            }
        });
    }
    {
        let ops = ops.clone();
        let stop = state.shutdown_signal();
        background.spawn(async move {
            tokio::select! {
                () = ops.follow() => {}
                () = stop => {}
            }
        });
    }
    if let Some(changes) = ops.take_stack_changes() {
        let ops = ops.clone();
        let stop = state.shutdown_signal();
        background.spawn(async move {
            tokio::select! {
                () = crate::ops::reload::run(ops, changes) => {}
                () = stop => {}
            }
        });
    }
    if let Some((web, limits)) = listeners.web {
        tracing::info!(url = %web.url(), "web UI listening");
        let app = web::router(api::web_router(state.clone()), web.token, web.port);
        background.spawn(serve::serve(
            web.listener,
            app,
            limits,
            state.shutdown_signal(),
        ));
    }
    let app = api::router(state.clone());
    serve::serve(
        listeners.socket,
        app,
        listeners.socket_limits,
        state.shutdown_signal(),
    )
    .await;

    ops.stop_watching();
    background.close();
    ops.tasks().close();
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        background.wait().await;
        ops.tasks().wait().await;
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "operations still running after {SHUTDOWN_GRACE:?}; stopping without them (the next `up` picks up where they left)"
        );
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
}
