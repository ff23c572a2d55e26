//! user-service: user accounts live in Postgres (nova_auth). Its own endpoint
//! reports what it sees of the database, which makes the schema visible.
//!
//!   GET /v1/db  -> {"database": "nova_auth", "user": "nova", "server_version": "15.x", "tables": ["public.users", ...]}

use std::sync::Arc;

use nova_runtime::axum::extract::State;
use nova_runtime::axum::routing::get;
use nova_runtime::axum::{Json, Router};
use nova_runtime::{error_chain, ApiError, ApiResult, Dependency, Deps, Service};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    Service::new("user-service", 50054, 8083)
        .uses(&[Dependency::Postgres, Dependency::Redis, Dependency::Kafka])
        .routes(|deps| Router::new().route("/v1/db", get(db_info)).with_state(deps))
        .run()
        .await
}

async fn db_info(State(deps): State<Arc<Deps>>) -> ApiResult<Json<Value>> {
    let pg = deps.postgres()?;
    let client = pg.client().await.map_err(ApiError::unavailable)?;
    let fail = |e: nova_runtime::tokio_postgres::Error| {
        ApiError::unavailable(format!("postgres: {}", error_chain(&e)))
    };
    let row = client
        .query_one(
            "SELECT current_database(), current_user::text, current_setting('server_version')",
            &[],
        )
        .await
        .map_err(fail)?;
    let tables: Vec<String> = client
        .query(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables \
             WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
            &[],
        )
        .await
        .map_err(fail)?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    Ok(Json(json!({
        "database": row.get::<_, String>(0),
        "user": row.get::<_, String>(1),
        "server_version": row.get::<_, String>(2),
        "tables": tables,
    })))
}
