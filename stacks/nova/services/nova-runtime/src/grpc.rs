//! gRPC: the standard `grpc.health.v1.Health` service, and a client for it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tonic::transport::{Endpoint, Server};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus as Status;

use crate::readiness::Readiness;

/// How often the background loop re-evaluates readiness for gRPC.
pub const UPDATE_EVERY: Duration = Duration::from_millis(1000);

/// Serves gRPC health on `addr` until `shutdown` resolves. Returns the
/// reporter so the caller can drive it with [`update_loop`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    reporter_out: tokio::sync::oneshot::Sender<HealthReporter>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let (reporter, health) = tonic_health::server::health_reporter();
    // Nothing is known until the first check: start NOT_SERVING.
    reporter.set_service_status("", Status::NotServing).await;
    let _ = reporter_out.send(reporter);
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    Server::builder()
        .add_service(health)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| e.to_string())
}

/// Re-checks readiness every [`UPDATE_EVERY`] and publishes SERVING or
/// NOT_SERVING for "" and for `service`.
pub async fn update_loop(reporter: HealthReporter, readiness: Arc<Readiness>, service: String) {
    let mut tick = tokio::time::interval(UPDATE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let status = if readiness.report().await.ready() {
            Status::Serving
        } else {
            Status::NotServing
        };
        reporter.set_service_status("", status).await;
        reporter.set_service_status(&service, status).await;
    }
}

/// The answer of a health check call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeResult {
    Serving,
    NotServing(String),
    Failed(String),
}

/// Calls `grpc.health.v1.Health/Check` for `service` ("" = the whole server)
/// on `addr` (`host:port` or `http://host:port`).
pub async fn probe(addr: &str, service: &str, timeout: Duration) -> ProbeResult {
    let uri = if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    };
    let endpoint = match Endpoint::from_shared(uri) {
        Ok(e) => e.connect_timeout(timeout).timeout(timeout),
        Err(e) => return ProbeResult::Failed(format!("bad address {addr:?}: {e}")),
    };
    let call = async {
        let channel = endpoint.connect().await.map_err(|e| {
            format!(
                "cannot connect to {addr}: {}",
                crate::readiness::error_chain(&e)
            )
        })?;
        let mut client = HealthClient::new(channel);
        let resp = client
            .check(HealthCheckRequest {
                service: service.to_string(),
            })
            .await
            .map_err(|s| format!("{addr}: {:?}: {}", s.code(), s.message()))?;
        Ok::<i32, String>(resp.into_inner().status)
    };
    match tokio::time::timeout(timeout, call).await {
        Err(_) => ProbeResult::Failed(format!(
            "{addr}: timed out after {} ms",
            timeout.as_millis()
        )),
        Ok(Err(e)) => ProbeResult::Failed(e),
        Ok(Ok(code)) => match ServingStatus::try_from(code) {
            Ok(ServingStatus::Serving) => ProbeResult::Serving,
            Ok(other) => ProbeResult::NotServing(other.as_str_name().to_string()),
            Err(_) => ProbeResult::NotServing(format!("status {code}")),
        },
    }
}

/// A `SocketAddr` on all interfaces.
pub fn any_addr(port: u16) -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], port))
}
