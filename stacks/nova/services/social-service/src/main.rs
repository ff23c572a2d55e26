//! social-service: who follows whom, kept in Redis (the master found through
//! Sentinel, so writes follow a failover).
//!
//!   PUT    /v1/users/{user}/following/{target}   follow
//!   DELETE /v1/users/{user}/following/{target}   unfollow
//!   GET    /v1/users/{user}/following            -> {"user": "...", "following": [...]}

use std::sync::Arc;

use nova_runtime::axum::extract::{Path, State};
use nova_runtime::axum::routing::{get, put};
use nova_runtime::axum::{Json, Router};
use nova_runtime::{redis, ApiError, ApiResult, Dependency, Deps, Service};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    Service::new("social-service", 50052, 8081)
        .uses(&[Dependency::Redis, Dependency::Kafka])
        .routes(|deps| {
            Router::new()
                .route("/v1/users/{user}/following", get(following))
                .route(
                    "/v1/users/{user}/following/{target}",
                    put(follow).delete(unfollow),
                )
                .with_state(deps)
        })
        .run()
        .await
}

fn user_id(s: &str) -> ApiResult<&str> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
    if ok {
        Ok(s)
    } else {
        Err(ApiError::bad_request(format!("bad user id {s:?}")))
    }
}

fn key(user: &str) -> String {
    format!("nova:social:following:{user}")
}

async fn set_op(deps: &Deps, op: &str, user: &str, target: &str) -> ApiResult<i64> {
    let mut master = deps
        .redis()?
        .master()
        .await
        .map_err(ApiError::unavailable)?;
    redis::cmd(op)
        .arg(key(user))
        .arg(target)
        .query_async(&mut master.conn)
        .await
        .map_err(|e| ApiError::unavailable(format!("redis {op}: {e}")))
}

async fn follow(
    State(deps): State<Arc<Deps>>,
    Path((user, target)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (user, target) = (user_id(&user)?, user_id(&target)?);
    if user == target {
        return Err(ApiError::bad_request("a user cannot follow themselves"));
    }
    let added = set_op(&deps, "SADD", user, target).await?;
    Ok(Json(
        json!({ "user": user, "follows": target, "new": added == 1 }),
    ))
}

async fn unfollow(
    State(deps): State<Arc<Deps>>,
    Path((user, target)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (user, target) = (user_id(&user)?, user_id(&target)?);
    let removed = set_op(&deps, "SREM", user, target).await?;
    Ok(Json(
        json!({ "user": user, "unfollowed": target, "was_following": removed == 1 }),
    ))
}

async fn following(
    State(deps): State<Arc<Deps>>,
    Path(user): Path<String>,
) -> ApiResult<Json<Value>> {
    let user = user_id(&user)?;
    let mut master = deps
        .redis()?
        .master()
        .await
        .map_err(ApiError::unavailable)?;
    let mut list: Vec<String> = redis::cmd("SMEMBERS")
        .arg(key(user))
        .query_async(&mut master.conn)
        .await
        .map_err(|e| ApiError::unavailable(format!("redis SMEMBERS: {e}")))?;
    list.sort();
    Ok(Json(json!({ "user": user, "following": list })))
}
