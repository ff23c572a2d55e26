//! The daemon's HTTP API (axum). Served on the Unix socket, and on the web UI's TCP listener
//! behind its token check (`web`). Types here are the wire format the client and the UIs share.
//!
//! ```text
//! GET  /v1/info                  daemon and engine facts
//! GET  /v1/status                every service's status
//! POST /v1/up        UpRequest   (files and options; the daemon loads them) SSE: `event` (status changes) ... then `done` (UpReport) or `error`
//! POST /v1/down      DownRequest stop and remove containers and networks; the daemon then exits
//! POST /v1/shutdown              the daemon exits; containers keep running
//! GET  /v1/events                SSE: `event` for each service now, then every change
//! GET  /v1/logs?services=a,b&follow=true&tail=N&since=UNIX   SSE: `log` (LogLine) ...
//! POST /v1/services/{service}/{restart|stop|start|rebuild}   the service's status once settled
//! GET  /v1/connection            the connection info and common commands blocks
//! ```

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::{self, BoxStream};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::DaemonState;
use crate::engine::logs::{LogLine, LogQuery};
use crate::orchestrator::status::{Event, ServiceStatus};
use crate::orchestrator::{DownReport, UpOptions, UpReport};
use crate::stack::{self, LoadOptions};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Info {
    pub project: String,
    pub pid: u32,
    pub started_ms: u64,
    pub engine_version: String,
    pub engine_api_version: String,
    pub stack_files: Vec<String>,
    pub build_id: String,
    /// Display tiers of the stack, in order (`x-novadev.tiers`).
    #[serde(default)]
    pub tiers: Vec<String>,
    /// Where the web UI listens; None when it could not be served (see `web_ui_error`).
    #[serde(default)]
    pub web_ui: Option<WebUiInfo>,
    #[serde(default)]
    pub web_ui_error: Option<String>,
}

/// The web UI's address. The token is not part of it: it sits owner-only in the state dir.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebUiInfo {
    /// `http://127.0.0.1:PORT/`
    pub url: String,
    pub port: u16,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusResponse {
    pub info: Info,
    pub services: Vec<ServiceStatus>,
}

/// What `up` sends: where the stack is and how to read it, never the stack itself. The daemon
/// loads and validates the files on its own, so it runs nothing a request made up.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpRequest {
    /// Stack files, merged in order (absolute, or relative to `working_dir`).
    pub files: Vec<PathBuf>,
    pub working_dir: PathBuf,
    pub project_name: Option<String>,
    pub profiles: Vec<String>,
    /// The caller's environment, for interpolation (it beats `.env`, as in Compose).
    pub env: BTreeMap<String, String>,
    pub options: UpOptions,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DownRequest {
    #[serde(default)]
    pub volumes: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogsParams {
    /// Comma-separated service names; empty = all.
    #[serde(default)]
    pub services: String,
    #[serde(default)]
    pub follow: bool,
    pub tail: Option<u64>,
    pub since: Option<i64>,
}

/// Body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(ApiError {
            error: message.into(),
        }),
    )
        .into_response()
}

/// The whole API, for the owner-only Unix socket.
pub fn router(state: Arc<DaemonState>) -> Router {
    page_routes()
        .route("/v1/up", post(up))
        .route("/v1/down", post(down))
        .route("/v1/shutdown", post(shutdown))
        .layer(middleware::from_fn(writes_need_json))
        .with_state(state)
}

/// What the web page uses, and nothing more: read-only status, events and logs, and the four
/// verbs on a service of the loaded stack. For the web UI's TCP listener (`web`).
pub fn web_router(state: Arc<DaemonState>) -> Router {
    page_routes()
        .layer(middleware::from_fn(writes_need_json))
        .with_state(state)
}

fn page_routes() -> Router<Arc<DaemonState>> {
    Router::new()
        .route("/v1/info", get(info))
        .route("/v1/status", get(status))
        .route("/v1/events", get(events))
        .route("/v1/logs", get(logs))
        .route("/v1/connection", get(connection))
        .route("/v1/services/{service}/{action}", post(control))
}

/// Every write must say it is JSON: a browser sends a cross-origin form or `text/plain` POST
/// without asking, but never one with `Content-Type: application/json` (that needs a CORS
/// preflight, which this API never grants).
async fn writes_need_json(request: axum::extract::Request, next: Next) -> Response {
    if request.method() == axum::http::Method::POST {
        let json = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "writes must be sent as `Content-Type: application/json`",
            );
        }
    }
    next.run(request).await
}

fn info_of(state: &DaemonState) -> Info {
    let engine = state.orchestrator.engine();
    let (web_ui, web_ui_error) = match &state.web_ui {
        Ok(web) => (Some(web.clone()), None),
        Err(e) => (None, Some(e.clone())),
    };
    Info {
        project: state.project.clone(),
        pid: std::process::id(),
        started_ms: state.started_ms,
        engine_version: engine.version().to_string(),
        engine_api_version: engine.api_version().to_string(),
        stack_files: state
            .stack
            .borrow()
            .as_ref()
            .map(|s| s.files.iter().map(|f| f.display().to_string()).collect())
            .unwrap_or_default(),
        build_id: state.build_id.clone(),
        tiers: state
            .stack
            .borrow()
            .as_ref()
            .map(|s| s.novadev.tiers.iter().map(|(t, _)| t.clone()).collect())
            .unwrap_or_default(),
        web_ui,
        web_ui_error,
    }
}

async fn info(State(state): State<Arc<DaemonState>>) -> Json<Info> {
    Json(info_of(&state))
}

async fn status(State(state): State<Arc<DaemonState>>) -> Json<StatusResponse> {
    Json(StatusResponse {
        info: info_of(&state),
        services: state.orchestrator.board().snapshot(),
    })
}

fn sse_json(name: &str, value: &impl Serialize) -> SseEvent {
    match SseEvent::default().event(name).json_data(value) {
        Ok(ev) => ev,
        Err(e) => SseEvent::default().event("error").data(e.to_string()),
    }
}

type SseStream = BoxStream<'static, Result<SseEvent, Infallible>>;

/// End a stream when the daemon shuts down, so graceful shutdown doesn't wait on followers.
fn until_shutdown<S>(state: &DaemonState, s: S) -> SseStream
where
    S: Stream<Item = Result<SseEvent, Infallible>> + Send + 'static,
{
    s.take_until(state.shutdown_signal()).boxed()
}

async fn up(State(state): State<Arc<DaemonState>>, Json(req): Json<UpRequest>) -> Response {
    let load = LoadOptions {
        files: req.files,
        working_dir: req.working_dir,
        project_name: req.project_name,
        profiles: req.profiles,
        env: req.env,
    };
    let stack = match tokio::task::spawn_blocking(move || stack::load(&load)).await {
        Ok(Ok(loaded)) => loaded.stack,
        Ok(Err(e)) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the stack is not valid:\n{e}"),
            );
        }
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    if stack.name != state.project {
        return error(
            StatusCode::CONFLICT,
            format!(
                "this daemon serves project `{}`, not `{}`",
                state.project, stack.name
            ),
        );
    }
    let options = req.options;
    let (tx, rx) = mpsc::channel::<Result<SseEvent, Infallible>>(1024);
    let worker = state.clone();
    // The work runs on its own task: a client that goes away (Ctrl-C) does not stop the `up`.
    tokio::spawn(async move {
        let _op = worker.op_lock.lock().await;
        let stack = Arc::new(stack);
        worker.stack.send_replace(Some(stack.clone()));
        // Watching starts with the `up`: changes made while services come up are not lost.
        worker.restart_watch(&stack);
        let mut events = worker.orchestrator.board().subscribe();
        let up = worker.orchestrator.up(stack, &options);
        tokio::pin!(up);
        let outcome: Result<UpReport, String> = loop {
            tokio::select! {
                result = &mut up => break result.map_err(|e| e.to_string()),
                ev = events.recv() => match ev {
                    Ok(ev) => { let _ = tx.send(Ok(sse_json("event", &ev))).await; }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => {}
                },
            }
        };
        while let Ok(ev) = events.try_recv() {
            let _ = tx.send(Ok(sse_json("event", &ev))).await;
        }
        let last = match outcome {
            Ok(report) => sse_json("done", &report),
            Err(message) => sse_json("error", &ApiError { error: message }),
        };
        let _ = tx.send(Ok(last)).await;
    });
    Sse::new(until_shutdown(&state, ReceiverStream::new(rx)))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
        .into_response()
}

async fn down(State(state): State<Arc<DaemonState>>, body: Option<Json<DownRequest>>) -> Response {
    let req = body.map(|Json(b)| b).unwrap_or_default();
    let result = {
        let _op = state.op_lock.lock().await;
        let stack = state.stack.borrow().clone();
        state
            .orchestrator
            .down(
                &state.project,
                stack.as_deref(),
                crate::orchestrator::Teardown {
                    volumes: req.volumes,
                    images: false,
                },
            )
            .await
    };
    match result {
        Ok(report) => {
            state.request_shutdown();
            Json::<DownReport>(report).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn shutdown(State(state): State<Arc<DaemonState>>) -> StatusCode {
    state.request_shutdown();
    StatusCode::NO_CONTENT
}

/// Every service's current status, as `event` messages.
fn snapshot_events(
    board: &crate::orchestrator::status::StatusBoard,
) -> Vec<Result<SseEvent, Infallible>> {
    board
        .snapshot()
        .into_iter()
        .map(|status| {
            Ok(sse_json(
                "event",
                &Event::Service {
                    seq: 0,
                    time_ms: status.since_ms,
                    status: Box::new(status),
                },
            ))
        })
        .collect()
}

async fn events(State(state): State<Arc<DaemonState>>) -> Response {
    let board = state.orchestrator.board().clone();
    let rx = board.subscribe();
    let now = snapshot_events(&board);
    let live = stream::unfold((rx, board), |(mut rx, board)| async move {
        match rx.recv().await {
            Ok(ev) => Some((vec![Ok(sse_json("event", &ev))], (rx, board))),
            // Fell behind: send the whole picture again rather than a gap.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                let all = snapshot_events(&board);
                Some((all, (rx, board)))
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    })
    .flat_map(stream::iter);
    Sse::new(until_shutdown(&state, stream::iter(now).chain(live)))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
        .into_response()
}

async fn logs(State(state): State<Arc<DaemonState>>, Query(params): Query<LogsParams>) -> Response {
    let engine = state.orchestrator.engine().clone();
    let containers = match engine.list_containers(&state.project).await {
        Ok(c) => c,
        Err(e) => return error(StatusCode::BAD_GATEWAY, e.to_string()),
    };
    let wanted: Vec<String> = params
        .services
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let known: Vec<String> = state
        .stack
        .borrow()
        .as_ref()
        .map(|s| s.services.keys().cloned().collect())
        .unwrap_or_default();
    for w in &wanted {
        if !known.contains(w) && !containers.iter().any(|c| &c.service == w) {
            return error(
                StatusCode::NOT_FOUND,
                format!("no service `{w}` in project `{}`", state.project),
            );
        }
    }
    let query = LogQuery {
        follow: params.follow,
        tail: params.tail,
        since: params.since,
    };
    let streams: Vec<_> = containers
        .iter()
        .filter(|c| wanted.is_empty() || wanted.contains(&c.service))
        .map(|c| engine.log_lines(&c.id, &c.service, &query).boxed())
        .collect();
    // Docker's streams decide when the response ends (a followed container stopping ends it, so
    // a client reopens it for the restarted container); `None` marks that end.
    let docker_lines = stream::select_all(streams)
        .map(Some)
        .chain(stream::once(async { None }))
        .boxed();
    let lines: BoxStream<'static, LogLine> = if params.follow {
        // Lines novadev itself produces for a service (build, sync) join its log while following.
        let rx = state.orchestrator.board().subscribe();
        let wanted_out = wanted.clone();
        let output = stream::unfold(rx, move |mut rx| {
            let wanted = wanted_out.clone();
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
                            return Some((
                                LogLine {
                                    service,
                                    stream,
                                    time,
                                    text,
                                    truncated: false,
                                },
                                rx,
                            ));
                        }
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            }
        });
        stream::select(docker_lines, output.map(Some))
            .take_while(|line| futures_util::future::ready(line.is_some()))
            .filter_map(futures_util::future::ready)
            .boxed()
    } else {
        docker_lines.filter_map(futures_util::future::ready).boxed()
    };
    let lines = lines.map(|line: LogLine| Ok(sse_json("log", &line)));
    Sse::new(until_shutdown(&state, lines))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
        .into_response()
}

/// How long a restart/start waits for readiness before answering.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(120);

async fn control(
    State(state): State<Arc<DaemonState>>,
    Path((service, action)): Path<(String, String)>,
) -> Response {
    use crate::orchestrator::control::Control;
    if action == "rebuild" {
        return match super::devloop::rebuild(&state, &service).await {
            Ok(status) => Json(status).into_response(),
            Err(e) => error(StatusCode::CONFLICT, e),
        };
    }
    let action = match action.as_str() {
        "restart" => Control::Restart,
        "stop" => Control::Stop,
        "start" => Control::Start,
        other => {
            return error(
                StatusCode::NOT_FOUND,
                format!("unknown action `{other}` (restart, stop, start, rebuild)"),
            );
        }
    };
    let Some(stack) = state.stack.borrow().clone() else {
        return error(
            StatusCode::CONFLICT,
            "the daemon has no stack yet; run `novadev up` first",
        );
    };
    if !stack.services.contains_key(&service) {
        return error(
            StatusCode::NOT_FOUND,
            format!("no service `{service}` in project `{}`", state.project),
        );
    }
    let _op = state.op_lock.lock().await;
    match state
        .orchestrator
        .control(&stack, &service, action, CONTROL_TIMEOUT)
        .await
    {
        Ok(status) => Json(status).into_response(),
        Err(e) => error(StatusCode::CONFLICT, e.to_string()),
    }
}

async fn connection(State(state): State<Arc<DaemonState>>) -> Response {
    let Some(stack) = state.stack.borrow().clone() else {
        return error(
            StatusCode::CONFLICT,
            "the daemon has no stack yet; run `novadev up` first",
        );
    };
    let statuses = state.orchestrator.board().snapshot();
    // The default stack needs no -f; any other is named, so the commands work from anywhere.
    let mut novadev = String::from("novadev");
    if !stack
        .files
        .iter()
        .all(|f| f.ends_with("stacks/nova/compose.yaml"))
    {
        for f in &stack.files {
            novadev.push_str(&format!(" -f {}", f.display()));
        }
    }
    Json(crate::connection::connection_info(
        &stack, &statuses, &novadev,
    ))
    .into_response()
}
