//! The daemon's HTTP API (axum): thin handlers that turn requests into operations
//! ([`crate::ops`]) and their outcomes into responses. The wire types are in
//! [`crate::protocol`], which lists the routes.
//!
//! Two routers: [`router`], the whole API, for the owner-only Unix socket; [`web_router`], what
//! the web page uses, for the web UI's TCP listener (behind `web`'s checks).

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream;
use futures_util::{Stream, StreamExt};
use tokio::sync::broadcast;

use super::DaemonState;
use super::sse::{self as event_stream, SseEvent};
use crate::board::StatusBoard;
use crate::ops::OpError;
use crate::orchestrator::OrchestratorError;
use crate::protocol::{
    ApiError, ControlRequest, DownReport, DownRequest, ErrorKind, Event, Info, LogsParams,
    StatusResponse, UpRequest, Verb,
};

fn error(status: StatusCode, kind: ErrorKind, message: impl Into<String>) -> Response {
    (
        status,
        Json(ApiError {
            error: message.into(),
            kind,
        }),
    )
        .into_response()
}

/// An operation's failure as a response: its kind decides the status (and the CLI's exit code).
fn op_error(e: &OpError) -> Response {
    let status = match e {
        OpError::Stack(_) => StatusCode::UNPROCESSABLE_ENTITY,
        OpError::Orchestrator(OrchestratorError::UnknownService { .. }) => StatusCode::NOT_FOUND,
        OpError::Orchestrator(OrchestratorError::NotAContainerVerb(_)) => StatusCode::BAD_REQUEST,
        OpError::Engine(_) | OpError::Orchestrator(OrchestratorError::Engine(_)) => {
            StatusCode::BAD_GATEWAY
        }
        OpError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::CONFLICT,
    };
    error(status, e.kind(), e.to_string())
}

fn bad_body(rejection: &JsonRejection) -> Response {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::BadInput,
        format!("unreadable request: {}", rejection.body_text()),
    )
}

/// The whole API, for the owner-only Unix socket.
pub fn router(state: Arc<DaemonState>) -> Router {
    page_routes()
        .route("/v1/up", post(up))
        .route("/v1/down", post(down))
        .route("/v1/shutdown", post(shutdown))
        .route("/v1/services/{service}/{verb}", post(control))
        .layer(middleware::from_fn(writes_need_json))
        .with_state(state)
}

/// What the web page uses, and nothing more: read-only status, events and logs, and the four
/// verbs on a service of the loaded stack (never a stack, a path or a command). For the web UI's
/// TCP listener (`web`).
pub fn web_router(state: Arc<DaemonState>) -> Router {
    page_routes()
        .route("/v1/services/{service}/{verb}", post(control_from_page))
        .layer(middleware::from_fn(writes_need_json))
        .with_state(state)
}

fn page_routes() -> Router<Arc<DaemonState>> {
    Router::new()
        .route("/v1/stats", get(stats))
        .route("/v1/info", get(info))
        .route("/v1/status", get(status))
        .route("/v1/events", get(events))
        .route("/v1/logs", get(logs))
        .route("/v1/connection", get(connection))
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
                ErrorKind::BadInput,
                "writes must be sent as `Content-Type: application/json`",
            );
        }
    }
    next.run(request).await
}

fn info_of(state: &DaemonState) -> Info {
    let engine = state.ops.engine();
    let stack = state.ops.stack();
    let (web_ui, web_ui_error) = match &state.web_ui {
        Ok(web) => (Some(web.clone()), None),
        Err(e) => (None, Some(e.clone())),
    };
    Info {
        project: state.ops.project().to_string(),
        pid: std::process::id(),
        started_ms: state.started_ms,
        engine_version: engine.version().to_string(),
        engine_api_version: engine.api_version().to_string(),
        engine: state.ops.board().engine(),
        cluster: match state.ops.target() {
            crate::ops::Target::Docker => None,
            crate::ops::Target::Kubernetes(k) => {
                Some(format!("{} ({})", k.cluster.server(), k.cluster.version()))
            }
        },
        stack_files: stack
            .as_ref()
            .map(|s| s.files.iter().map(|f| f.display().to_string()).collect())
            .unwrap_or_default(),
        build_id: state.build_id.clone(),
        tiers: stack
            .as_ref()
            .map(|s| s.novadev.tiers.iter().map(|(t, _)| t.clone()).collect())
            .unwrap_or_default(),
        web_ui,
        web_ui_error,
        stack_error: state.ops.stack_error(),
    }
}

async fn info(State(state): State<Arc<DaemonState>>) -> Json<Info> {
    Json(info_of(&state))
}

async fn status(State(state): State<Arc<DaemonState>>) -> Json<StatusResponse> {
    Json(StatusResponse {
        info: info_of(&state),
        services: state.ops.board().snapshot(),
    })
}

fn sse(state: &DaemonState, s: impl Stream<Item = SseEvent> + Send + 'static) -> Response {
    event_stream::response(s, state.shutdown_signal())
}

/// The board's changes from now on, as `event` messages. A subscriber that falls behind gets the
/// whole picture again rather than a gap; it never holds anything up.
fn board_events(board: Arc<StatusBoard>) -> impl Stream<Item = SseEvent> + Send + 'static {
    let rx = board.subscribe();
    stream::unfold((rx, board), |(mut rx, board)| async move {
        match rx.recv().await {
            Ok(ev) => Some((vec![SseEvent::json("event", &ev)], (rx, board))),
            Err(broadcast::error::RecvError::Lagged(_)) => {
                let all = snapshot_events(&board);
                Some((all, (rx, board)))
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    })
    .flat_map(stream::iter)
}

/// Every service's current status, as `event` messages.
fn snapshot_events(board: &StatusBoard) -> Vec<SseEvent> {
    board
        .snapshot()
        .into_iter()
        .map(|status| {
            SseEvent::json(
                "event",
                &Event::Service {
                    seq: 0,
                    time_ms: status.since_ms,
                    status: Box::new(status),
                },
            )
        })
        .collect()
}

async fn up(
    State(state): State<Arc<DaemonState>>,
    body: Result<Json<UpRequest>, JsonRejection>,
) -> Response {
    let req = match body {
        Ok(Json(req)) => req,
        Err(rejection) => return bad_body(&rejection),
    };
    let stack = match state.ops.load(req.stack).await {
        Ok(stack) => stack,
        Err(e) => return op_error(&e),
    };
    // Subscribed before the `up` starts, so that no change of it is missed.
    let progress = board_events(state.ops.board().clone());
    let outcome = state.ops.start_up(stack, req.options);
    let last = stream::once(async move {
        match outcome.await {
            Ok(Ok(report)) => SseEvent::json("done", &report),
            Ok(Err(e)) => SseEvent::json(
                "error",
                &ApiError {
                    error: e.to_string(),
                    kind: e.kind(),
                },
            ),
            Err(_) => SseEvent::json(
                "error",
                &ApiError {
                    error: OpError::ShuttingDown.to_string(),
                    kind: ErrorKind::Runtime,
                },
            ),
        }
    });
    // Progress until the outcome is there, then the outcome. The `up` itself runs on its own
    // task: a client that reads slowly (`up | less`) only falls behind.
    sse(&state, progress_then(progress, last))
}

/// `progress` until `last` yields, then `last`'s item, then the end. Progress already queued is
/// sent first, so the last changes of an `up` arrive before its report.
fn progress_then(
    progress: impl Stream<Item = SseEvent> + Send + 'static,
    last: impl Stream<Item = SseEvent> + Send + 'static,
) -> impl Stream<Item = SseEvent> + Send + 'static {
    let prefer_progress = |_: &mut ()| stream::PollNext::Left;
    stream::select_with_strategy(
        progress.map(Step::Progress),
        last.map(Step::Last),
        prefer_progress,
    )
    .scan(false, |done, step| {
        if *done {
            return futures_util::future::ready(None);
        }
        let ev = match step {
            Step::Progress(ev) => ev,
            Step::Last(ev) => {
                *done = true;
                ev
            }
        };
        futures_util::future::ready(Some(ev))
    })
}

enum Step {
    Progress(SseEvent),
    Last(SseEvent),
}

async fn down(
    State(state): State<Arc<DaemonState>>,
    body: Result<Json<DownRequest>, JsonRejection>,
) -> Response {
    let req = match body {
        Ok(Json(req)) => req,
        Err(rejection) => return bad_body(&rejection),
    };
    match state.ops.down(req).await {
        Ok(report) => {
            state.request_shutdown();
            Json::<DownReport>(report).into_response()
        }
        Err(e) => op_error(&e),
    }
}

async fn shutdown(State(state): State<Arc<DaemonState>>) -> StatusCode {
    state.request_shutdown();
    StatusCode::NO_CONTENT
}

async fn events(State(state): State<Arc<DaemonState>>) -> Response {
    let board = state.ops.board().clone();
    // Subscribed before the snapshot: a change in between is sent twice, never lost.
    let live = board_events(board.clone());
    let now = snapshot_events(&board);
    sse(&state, stream::iter(now).chain(live))
}

async fn logs(State(state): State<Arc<DaemonState>>, Query(params): Query<LogsParams>) -> Response {
    match state.ops.logs(&params).await {
        Ok(lines) => sse(&state, lines.map(|line| SseEvent::json("log", &line))),
        Err(e) => op_error(&e),
    }
}

async fn control(
    State(state): State<Arc<DaemonState>>,
    Path((service, verb)): Path<(String, String)>,
    body: Result<Json<ControlRequest>, JsonRejection>,
) -> Response {
    let req = match body {
        Ok(Json(req)) => req,
        Err(rejection) => return bad_body(&rejection),
    };
    run_verb(&state, &service, &verb, req).await
}

/// The page's verbs: on a service of the stack the daemon already has, never with a stack.
async fn control_from_page(
    State(state): State<Arc<DaemonState>>,
    Path((service, verb)): Path<(String, String)>,
    body: Result<Json<ControlRequest>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(ControlRequest { stack: None })) => {
            run_verb(&state, &service, &verb, ControlRequest::default()).await
        }
        Ok(Json(ControlRequest { stack: Some(_) })) => error(
            StatusCode::BAD_REQUEST,
            ErrorKind::BadInput,
            "the web UI acts on the loaded stack only",
        ),
        Err(rejection) => bad_body(&rejection),
    }
}

async fn run_verb(
    state: &Arc<DaemonState>,
    service: &str,
    verb: &str,
    req: ControlRequest,
) -> Response {
    let Some(verb) = Verb::parse(verb) else {
        return error(
            StatusCode::NOT_FOUND,
            ErrorKind::BadInput,
            format!("unknown action `{verb}` (restart, stop, start, rebuild)"),
        );
    };
    match state.ops.control(service, verb, req.stack).await {
        Ok(status) => Json(status).into_response(),
        Err(e) => op_error(&e),
    }
}

#[derive(Debug, serde::Deserialize)]
struct StatsParams {
    service: Option<String>,
}

async fn stats(
    State(state): State<Arc<DaemonState>>,
    Query(params): Query<StatsParams>,
) -> Json<crate::protocol::StatsResponse> {
    Json(crate::protocol::StatsResponse {
        records: state.ops.history(params.service.as_deref()),
    })
}

async fn connection(State(state): State<Arc<DaemonState>>) -> Response {
    let Some(stack) = state.ops.stack() else {
        return op_error(&OpError::NoStack);
    };
    let statuses = state.ops.board().snapshot();
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, header};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use crate::engine::Engine;
    use crate::protocol::{ApiError, StackRef};

    fn state() -> Arc<DaemonState> {
        let history = std::env::temp_dir().join(format!(
            "novadev-api-test-{}-{:?}.jsonl",
            std::process::id(),
            std::thread::current().id()
        ));
        let (state, _changes) = DaemonState::new(
            Engine::unconnected(),
            "proj".into(),
            history,
            crate::ops::Target::Docker,
            Err("none".into()),
        );
        state
    }

    async fn send(app: Router, method: &str, uri: &str, body: &str) -> (StatusCode, String) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, "novadev")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    fn api_error(body: &str) -> ApiError {
        serde_json::from_str(body).unwrap()
    }

    fn stack_ref(dir: &std::path::Path, text: &str) -> StackRef {
        std::fs::write(dir.join("compose.yaml"), text).unwrap();
        StackRef {
            files: vec![dir.join("compose.yaml")],
            working_dir: dir.to_path_buf(),
            project_name: Some("proj".into()),
            profiles: vec![],
            env: Default::default(),
        }
    }

    #[tokio::test]
    async fn an_up_that_carries_a_stack_is_refused_as_bad_input() {
        let body = r#"{"stack": {"name": "proj", "services": {"a": {"x-novadev": {"host_build": {"command": ["sh"]}}}}}, "options": {"services": [], "wait_timeout": {"secs": 1, "nanos": 0}, "build": true}}"#;
        let (status, text) = send(router(state()), "POST", "/v1/up", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
        assert_eq!(api_error(&text).kind, ErrorKind::BadInput);
    }

    #[tokio::test]
    async fn an_up_of_files_that_do_not_load_says_where_and_is_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let stack = stack_ref(
            dir.path(),
            "services:\n  a:\n    image: x\n    ports: [\"99999:1\"]\n",
        );
        let body = serde_json::to_string(&crate::protocol::UpRequest {
            stack,
            options: crate::protocol::UpOptions {
                services: vec![],
                wait_timeout: std::time::Duration::from_secs(1),
                build: false,
            },
        })
        .unwrap();
        let (status, text) = send(router(state()), "POST", "/v1/up", &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let e = api_error(&text);
        assert_eq!(e.kind, ErrorKind::BadInput);
        assert!(e.error.contains("compose.yaml:4:"), "{}", e.error);
    }

    #[tokio::test]
    async fn the_page_router_has_no_up_down_or_shutdown_and_takes_no_stack() {
        for path in ["/v1/up", "/v1/down", "/v1/shutdown"] {
            let (status, _) = send(web_router(state()), "POST", path, "{}").await;
            assert!(
                status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED,
                "{path}: {status}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let stack = stack_ref(dir.path(), "services:\n  a:\n    image: x\n");
        let body = serde_json::to_string(&ControlRequest { stack: Some(stack) }).unwrap();
        let (status, _) = send(web_router(state()), "POST", "/v1/services/a/restart", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn a_verb_needs_a_stack_and_a_service_of_it() {
        let (status, text) = send(router(state()), "POST", "/v1/services/a/restart", "{}").await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(api_error(&text).error.contains("run `novadev up` first"));
        let (status, _) = send(router(state()), "POST", "/v1/services/a/explode", "{}").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let dir = tempfile::tempdir().unwrap();
        let stack = stack_ref(dir.path(), "services:\n  a:\n    image: x\n");
        let body = serde_json::to_string(&ControlRequest { stack: Some(stack) }).unwrap();
        // The stack loads; with no engine, the board cannot be filled: a runtime error, said so.
        let (status, text) =
            send(router(state()), "POST", "/v1/services/nope/restart", &body).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{text}");
        assert!(
            api_error(&text)
                .error
                .contains("cannot reach the Docker engine")
                || api_error(&text).error.contains("listing containers"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn writes_that_are_not_json_are_refused() {
        let request = Request::builder()
            .method("POST")
            .uri("/v1/down")
            .header(header::HOST, "novadev")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("volumes=true"))
            .unwrap();
        let response = router(state()).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[tokio::test]
    async fn status_and_info_answer_without_an_engine() {
        let (status, text) = send(router(state()), "GET", "/v1/status", "").await;
        assert_eq!(status, StatusCode::OK);
        let response: StatusResponse = serde_json::from_str(&text).unwrap();
        assert_eq!(response.info.project, "proj");
        assert!(response.services.is_empty());
        let (status, _) = send(web_router(state()), "GET", "/v1/info", "").await;
        assert_eq!(status, StatusCode::OK);
    }
}
