//! events-service: the front door to Kafka. Posting an event appends it to
//! partition 0 of the named topic (the topic must exist).
//!
//!   POST /v1/events/{topic}   body = the event (any bytes, e.g. JSON)   -> {"topic": "...", "partition": 0, "offset": n}
//!   GET  /v1/topics                                                    -> {"topics": [...]}

use std::sync::Arc;

use nova_runtime::axum::body::Bytes;
use nova_runtime::axum::extract::{Path, State};
use nova_runtime::axum::http::{HeaderMap, StatusCode};
use nova_runtime::axum::routing::{get, post};
use nova_runtime::axum::{Json, Router};
use nova_runtime::{ApiError, ApiResult, Dependency, Deps, Service};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    Service::new("events-service", 50058, 8087)
        .uses(&[Dependency::Kafka, Dependency::Redis])
        .routes(|deps| {
            Router::new()
                .route("/v1/events/{topic}", post(publish))
                .route("/v1/topics", get(topics))
                .with_state(deps)
        })
        .run()
        .await
}

fn valid_topic(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 249
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

async fn publish(
    State(deps): State<Arc<Deps>>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !valid_topic(&topic) {
        return Err(ApiError::bad_request(
            "topic: 1-249 characters of [A-Za-z0-9._-]",
        ));
    }
    if body.is_empty() {
        return Err(ApiError::bad_request("empty event"));
    }
    // An optional key, e.g. a user id, from the X-Event-Key header.
    let key = headers.get("x-event-key").map(|v| v.as_bytes().to_vec());
    let offset = deps
        .kafka()?
        .produce(&topic, key, body.to_vec())
        .await
        .map_err(|e| ApiError::unavailable(format!("kafka: {e}")))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "topic": topic, "partition": 0, "offset": offset })),
    ))
}

async fn topics(State(deps): State<Arc<Deps>>) -> ApiResult<Json<Value>> {
    let mut topics = deps
        .kafka()?
        .topics()
        .await
        .map_err(|e| ApiError::unavailable(format!("kafka: {e}")))?;
    topics.sort();
    Ok(Json(json!({ "topics": topics })))
}
