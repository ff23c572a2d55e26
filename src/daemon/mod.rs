//! The per-project daemon: owns the orchestrator and its status board, follows the engine's
//! events, and serves the API on a Unix socket that only its owner can open, and the web UI (the
//! same API plus the page) on 127.0.0.1 behind a per-daemon token (`web`).
//!
//! One daemon per project: a lock file held for the daemon's life keeps a second one out. It keeps
//! no state of its own beyond what Docker's labels can rebuild, so `kill -9` loses nothing.

pub mod api;
pub mod devloop;
pub mod serve;
pub mod web;

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use tokio::net::UnixListener;
use tokio::sync::{Mutex, watch};

use crate::engine::{Engine, EngineError};
use crate::orchestrator::Orchestrator;
use crate::orchestrator::status::StatusBoard;
use crate::paths::ProjectPaths;
use crate::stack::model::Stack;

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
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> DaemonError {
    let context = context.into();
    move |source| DaemonError::Io { context, source }
}

/// Shared by every request handler.
pub struct DaemonState {
    pub project: String,
    pub orchestrator: Orchestrator,
    /// The stack of the last `up` (None until one arrives).
    pub stack: watch::Sender<Option<Arc<Stack>>>,
    /// Serializes operations that change containers (up, down).
    pub op_lock: Mutex<()>,
    pub started_ms: u64,
    pub build_id: String,
    /// Flips to true when the daemon should stop serving.
    pub shutdown: watch::Sender<bool>,
    pub devloop: devloop::DevLoop,
    /// The running source-tree watch (replaced on every `up`) and where it sends changes.
    watch: std::sync::Mutex<Option<crate::watch::WatchHandle>>,
    changes: tokio::sync::mpsc::Sender<crate::watch::Change>,
    /// Where the web UI listens, or why it does not.
    pub web_ui: Result<api::WebUiInfo, String>,
}

impl DaemonState {
    pub fn request_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// (Re)start watching the source tree of `stack`.
    pub fn restart_watch(&self, stack: &Stack) {
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

    /// A future that resolves once shutdown is requested.
    pub fn shutdown_signal(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.shutdown.subscribe();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }
}

/// Run the daemon for `project` until asked to stop (API `down`/`shutdown`, SIGTERM, SIGINT).
pub async fn run(project: String) -> Result<(), DaemonError> {
    let paths = ProjectPaths::for_project(&project);
    paths.prepare()?;
    let lock =
        File::create(&paths.lock).map_err(io(format!("opening {}", paths.lock.display())))?;
    // A daemon being replaced (another build of novadev) closes its socket a moment before it
    // exits and releases the lock: wait a little for it rather than give up at once.
    let lock_deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while lock.try_lock().is_err() {
        if std::time::Instant::now() > lock_deadline {
            return Err(DaemonError::AlreadyRunning(project));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let engine = Engine::connect().await?;
    let (socket_limits, web_limits) = serve::Limits::for_listeners(serve::raise_open_file_limit());

    // Before the socket answers, so that whoever finds the daemon also finds its token. A web UI
    // that cannot be served (port taken) leaves the daemon and its CLI working; `info` says why.
    let web = match web::port_from_env() {
        Ok(port) => web::WebUi::bind(port, &paths.ui_token).await,
        Err(e) => Err(e),
    };
    let (web, web_ui) = match web {
        Ok(web) => {
            let info = api::WebUiInfo {
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

    let board = Arc::new(StatusBoard::new());
    let (stack_tx, stack_rx) = watch::channel(None);
    let (shutdown_tx, _) = watch::channel(false);
    let (changes_tx, changes_rx) = tokio::sync::mpsc::channel(256);
    let state = Arc::new(DaemonState {
        project: project.clone(),
        orchestrator: Orchestrator::new(engine, board),
        stack: stack_tx,
        op_lock: Mutex::new(()),
        started_ms: crate::orchestrator::status::now_ms(),
        build_id: crate::paths::build_id(),
        shutdown: shutdown_tx,
        devloop: devloop::DevLoop::new(),
        watch: std::sync::Mutex::new(None),
        changes: changes_tx,
        web_ui,
    });
    let dev_loop = tokio::spawn(devloop::run(state.clone(), changes_rx));
    tracing::info!(project = %project, socket = %paths.socket.display(), "daemon listening");
    let web_server = web.map(|web| {
        tracing::info!(url = %web.url(), "web UI listening");
        let app = web::router(api::web_router(state.clone()), web.token, web.port);
        let stop = state.shutdown_signal();
        tokio::spawn(serve::serve(web.listener, app, web_limits, stop))
    });

    let watcher = {
        let state = state.clone();
        tokio::spawn(async move {
            state
                .orchestrator
                .watch_events(state.project.clone(), stack_rx)
                .await;
        })
    };
    let signals = {
        let state = state.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("signal received; shutting down");
            state.request_shutdown();
        })
    };

    let app = api::router(state.clone());
    serve::serve(listener, app, socket_limits, state.shutdown_signal()).await;
    watcher.abort();
    signals.abort();
    dev_loop.abort();
    state.watch.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(mut server) = web_server {
        // Its streams end with the shutdown signal; a browser that holds on is not waited for.
        if tokio::time::timeout(std::time::Duration::from_secs(5), &mut server)
            .await
            .is_err()
        {
            server.abort();
        }
    }
    let _ = std::fs::remove_file(&paths.socket);
    let _ = std::fs::remove_file(&paths.pid);
    let _ = std::fs::remove_file(&paths.ui_token);
    drop(lock);
    tracing::info!("daemon stopped");
    Ok(())
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
