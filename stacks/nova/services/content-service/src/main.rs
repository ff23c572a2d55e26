//! content-service: posts, kept in memory (a stand-in: they are gone when the
//! process restarts).
//!
//!   POST /v1/posts {"author": "alice", "body": "hello"}  -> 201 {"id": 1, ...}
//!   GET  /v1/posts/{id}                                 -> the post, or 404
//!   GET  /v1/posts                                      -> the 20 newest

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use nova_runtime::axum::extract::{Path, State};
use nova_runtime::axum::http::StatusCode;
use nova_runtime::axum::routing::get;
use nova_runtime::axum::{Json, Router};
use nova_runtime::{ApiError, ApiResult, Dependency, Service};
use serde::{Deserialize, Serialize};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    Service::new("content-service", 50055, 8084)
        .uses(&[Dependency::Redis, Dependency::Kafka])
        .routes(|_deps| {
            Router::new()
                .route("/v1/posts", get(latest).post(create))
                .route("/v1/posts/{id}", get(fetch))
                .with_state(Arc::new(Posts::default()))
        })
        .run()
        .await
}

#[derive(Default)]
struct Posts {
    inner: Mutex<(u64, BTreeMap<u64, Post>)>,
}

#[derive(Clone, Serialize)]
struct Post {
    id: u64,
    author: String,
    body: String,
    created_at_ms: u64,
}

#[derive(Deserialize)]
struct NewPost {
    author: String,
    body: String,
}

async fn create(
    State(posts): State<Arc<Posts>>,
    Json(p): Json<NewPost>,
) -> ApiResult<(StatusCode, Json<Post>)> {
    if p.author.trim().is_empty() || p.body.trim().is_empty() || p.body.len() > 10_000 {
        return Err(ApiError::bad_request(
            "author and body are required; body at most 10000 bytes",
        ));
    }
    let created_at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut g = posts.inner.lock().expect("posts lock");
    g.0 += 1;
    let post = Post {
        id: g.0,
        author: p.author.trim().to_string(),
        body: p.body,
        created_at_ms,
    };
    g.1.insert(post.id, post.clone());
    Ok((StatusCode::CREATED, Json(post)))
}

async fn fetch(State(posts): State<Arc<Posts>>, Path(id): Path<u64>) -> ApiResult<Json<Post>> {
    let g = posts.inner.lock().expect("posts lock");
    g.1.get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no post {id}")))
}

async fn latest(State(posts): State<Arc<Posts>>) -> Json<Vec<Post>> {
    let g = posts.inner.lock().expect("posts lock");
    Json(g.1.values().rev().take(20).cloned().collect())
}
