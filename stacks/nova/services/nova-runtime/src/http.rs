//! The HTTP side: health endpoints every service has, and a small error type
//! for the services' own endpoints.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::readiness::Readiness;

struct HealthState {
    readiness: Arc<Readiness>,
    info: serde_json::Value,
}

/// `GET /health/live`, `GET /health/ready` and `GET /` (what this service is).
pub fn health_router(readiness: Arc<Readiness>, info: serde_json::Value) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/", get(about))
        .with_state(Arc::new(HealthState { readiness, info }))
}

async fn live() -> &'static str {
    "ok"
}

async fn ready(State(s): State<Arc<HealthState>>) -> Response {
    let report = s.readiness.report().await;
    let status = if report.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report.to_json())).into_response()
}

async fn about(State(s): State<Arc<HealthState>>) -> Json<serde_json::Value> {
    Json(s.info.clone())
}

/// An error answer of a service endpoint: a status and `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    /// A dependency is missing or failing.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
