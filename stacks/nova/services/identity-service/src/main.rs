//! identity-service: issues and verifies dev JWTs (EdDSA) signed with the key
//! pair at JWT_PRIVATE_KEY_PATH / JWT_PUBLIC_KEY_PATH (PEM). Not ready until
//! the keys load ("jwt_keys" check); key material is never logged.
//!
//!   POST /v1/token   {"sub": "alice"}  -> {"token": "...", "token_type": "Bearer", "expires_in": 3600}
//!   POST /v1/verify  {"token": "..."}  -> 200 {"valid": true, "claims": {...}}, or 401
//!
//! JWT_TTL_SECONDS sets the lifetime (default 3600).

use std::sync::{Arc, RwLock};

use nova_runtime::axum::extract::State;
use nova_runtime::axum::http::StatusCode;
use nova_runtime::axum::routing::post;
use nova_runtime::axum::{Json, Router};
use nova_runtime::jwt::Signer;
use nova_runtime::{check_fn, ApiError, ApiResult, Dependency, Service};
use serde::Deserialize;
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let keys = Arc::new(KeyStore::from_env());
    let check_keys = keys.clone();
    Service::new("identity-service", 50051, 8080)
        .uses(&[Dependency::Postgres, Dependency::Redis, Dependency::Kafka])
        .check(check_fn("jwt_keys", move || {
            let keys = check_keys.clone();
            async move { keys.ensure_loaded() }
        }))
        .routes(move |_deps| {
            Router::new()
                .route("/v1/token", post(issue))
                .route("/v1/verify", post(verify))
                .with_state(keys)
        })
        .run()
        .await
}

/// The key pair: loaded by the readiness check on its first success, then kept.
struct KeyStore {
    private_path: Option<String>,
    public_path: Option<String>,
    ttl_seconds: u64,
    signer: RwLock<Option<Arc<Signer>>>,
}

impl KeyStore {
    fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        KeyStore {
            private_path: var("JWT_PRIVATE_KEY_PATH"),
            public_path: var("JWT_PUBLIC_KEY_PATH"),
            ttl_seconds: var("JWT_TTL_SECONDS")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(3600),
            signer: RwLock::new(None),
        }
    }

    fn signer(&self) -> Option<Arc<Signer>> {
        self.signer.read().ok()?.clone()
    }

    fn ensure_loaded(&self) -> Result<String, String> {
        if self.signer().is_some() {
            return Ok("EdDSA".into());
        }
        let private = self
            .private_path
            .as_deref()
            .ok_or("JWT_PRIVATE_KEY_PATH is not set")?;
        let public = self
            .public_path
            .as_deref()
            .ok_or("JWT_PUBLIC_KEY_PATH is not set")?;
        let signer = Signer::from_files(private, public)?;
        if let Ok(mut slot) = self.signer.write() {
            *slot = Some(Arc::new(signer));
        }
        tracing::info!("JWT key pair loaded from {private} and {public}");
        Ok("EdDSA".into())
    }

    fn loaded(&self) -> ApiResult<Arc<Signer>> {
        self.signer()
            .ok_or_else(|| ApiError::unavailable("JWT keys are not loaded"))
    }
}

#[derive(Deserialize)]
struct TokenRequest {
    sub: String,
}

async fn issue(
    State(keys): State<Arc<KeyStore>>,
    Json(req): Json<TokenRequest>,
) -> ApiResult<Json<Value>> {
    let sub = req.sub.trim();
    if sub.is_empty() || sub.len() > 256 {
        return Err(ApiError::bad_request("sub must be 1 to 256 characters"));
    }
    let token = keys
        .loaded()?
        .issue(sub, keys.ttl_seconds)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    tracing::info!(sub, "token issued");
    Ok(Json(
        json!({ "token": token, "token_type": "Bearer", "expires_in": keys.ttl_seconds }),
    ))
}

#[derive(Deserialize)]
struct VerifyRequest {
    token: String,
}

async fn verify(
    State(keys): State<Arc<KeyStore>>,
    Json(req): Json<VerifyRequest>,
) -> ApiResult<Json<Value>> {
    let claims = keys
        .loaded()?
        .verifier()
        .verify(&req.token)
        .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, format!("invalid token: {e}")))?;
    Ok(Json(json!({ "valid": true, "claims": claims })))
}
