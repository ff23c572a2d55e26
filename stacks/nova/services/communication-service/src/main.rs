//! communication-service: direct messages. A message is appended to the
//! recipient's inbox in Redis (last 100 kept) and published on the channel
//! `nova:messages:{to}` for live subscribers.
//!
//!   POST /v1/messages {"from": "alice", "to": "bob", "body": "hi"}  -> {"delivered_live": n}
//!   GET  /v1/messages/{user}                                        -> {"user": "bob", "messages": [...]}

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use nova_runtime::axum::extract::{Path, State};
use nova_runtime::axum::http::StatusCode;
use nova_runtime::axum::routing::{get, post};
use nova_runtime::axum::{Json, Router};
use nova_runtime::{redis, ApiError, ApiResult, Dependency, Deps, Service};
use serde::Deserialize;
use serde_json::{json, Value};

const INBOX_LEN: isize = 100;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    Service::new("communication-service", 50053, 8082)
        .uses(&[Dependency::Postgres, Dependency::Redis, Dependency::Kafka])
        .routes(|deps| {
            Router::new()
                .route("/v1/messages", post(send))
                .route("/v1/messages/{user}", get(inbox))
                .with_state(deps)
        })
        .run()
        .await
}

#[derive(Deserialize)]
struct Message {
    from: String,
    to: String,
    body: String,
}

fn inbox_key(user: &str) -> String {
    format!("nova:messages:inbox:{user}")
}

fn valid_user(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && !s.contains(char::is_whitespace)
}

async fn send(
    State(deps): State<Arc<Deps>>,
    Json(m): Json<Message>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !valid_user(&m.from) || !valid_user(&m.to) {
        return Err(ApiError::bad_request(
            "from and to must be user ids (1-64 characters, no blanks)",
        ));
    }
    if m.body.is_empty() || m.body.len() > 4096 {
        return Err(ApiError::bad_request("body must be 1 to 4096 bytes"));
    }
    let sent_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let payload =
        json!({ "from": m.from, "to": m.to, "body": m.body, "sent_at_ms": sent_at }).to_string();
    let mut master = deps
        .redis()?
        .master()
        .await
        .map_err(ApiError::unavailable)?;
    let key = inbox_key(&m.to);
    let (_, _, live): (i64, (), i64) = redis::pipe()
        .atomic()
        .cmd("LPUSH")
        .arg(&key)
        .arg(&payload)
        .cmd("LTRIM")
        .arg(&key)
        .arg(0)
        .arg(INBOX_LEN - 1)
        .cmd("PUBLISH")
        .arg(format!("nova:messages:{}", m.to))
        .arg(&payload)
        .query_async(&mut master.conn)
        .await
        .map_err(|e| ApiError::unavailable(format!("redis: {e}")))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "to": m.to, "sent_at_ms": sent_at, "delivered_live": live })),
    ))
}

async fn inbox(State(deps): State<Arc<Deps>>, Path(user): Path<String>) -> ApiResult<Json<Value>> {
    if !valid_user(&user) {
        return Err(ApiError::bad_request("bad user id"));
    }
    let mut master = deps
        .redis()?
        .master()
        .await
        .map_err(ApiError::unavailable)?;
    let raw: Vec<String> = redis::cmd("LRANGE")
        .arg(inbox_key(&user))
        .arg(0)
        .arg(INBOX_LEN - 1)
        .query_async(&mut master.conn)
        .await
        .map_err(|e| ApiError::unavailable(format!("redis LRANGE: {e}")))?;
    let messages: Vec<Value> = raw
        .iter()
        .filter_map(|s| serde_json::from_str(s).ok())
        .collect();
    Ok(Json(json!({ "user": user, "messages": messages })))
}
