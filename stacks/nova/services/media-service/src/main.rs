//! media-service: small binary objects, kept in memory (a stand-in for object
//! storage; at most 1 MiB each, 64 MiB in all).
//!
//!   PUT /v1/media/{name}   body = the bytes  -> {"name": "...", "size": n, "etag": "..."}
//!   GET /v1/media/{name}                     -> the bytes, or 404

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nova_runtime::axum::body::Bytes;
use nova_runtime::axum::extract::{DefaultBodyLimit, Path, State};
use nova_runtime::axum::http::{header, StatusCode};
use nova_runtime::axum::response::IntoResponse;
use nova_runtime::axum::routing::get;
use nova_runtime::axum::{Json, Router};
use nova_runtime::{ApiError, ApiResult, Dependency, Service};
use serde_json::{json, Value};

const MAX_OBJECT: usize = 1 << 20;
const MAX_TOTAL: usize = 64 << 20;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    Service::new("media-service", 50056, 8085)
        .uses(&[Dependency::Redis, Dependency::Kafka])
        .routes(|_deps| {
            Router::new()
                .route("/v1/media/{name}", get(download).put(upload))
                .layer(DefaultBodyLimit::max(MAX_OBJECT))
                .with_state(Arc::new(Store::default()))
        })
        .run()
        .await
}

#[derive(Default)]
struct Store {
    objects: Mutex<HashMap<String, Bytes>>,
}

/// FNV-1a, enough for an ETag.
fn etag(data: &[u8]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

async fn upload(
    State(store): State<Arc<Store>>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !valid_name(&name) {
        return Err(ApiError::bad_request(
            "name: 1-200 characters of [A-Za-z0-9._-]",
        ));
    }
    let mut objects = store.objects.lock().expect("store lock");
    let total: usize = objects
        .iter()
        .filter(|(k, _)| **k != name)
        .map(|(_, v)| v.len())
        .sum();
    if total + body.len() > MAX_TOTAL {
        return Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "media store is full",
        ));
    }
    let reply = json!({ "name": name, "size": body.len(), "etag": etag(&body) });
    let created = objects.insert(name, body).is_none();
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(reply),
    ))
}

async fn download(
    State(store): State<Arc<Store>>,
    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let data = store
        .objects
        .lock()
        .expect("store lock")
        .get(&name)
        .cloned();
    let data = data.ok_or_else(|| ApiError::not_found(format!("no media {name:?}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::ETAG, format!("\"{}\"", etag(&data))),
        ],
        data,
    ))
}
