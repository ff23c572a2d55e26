//! The only module that talks to Docker.
//!
//! It owns the connection (version negotiation, "is Docker there at all"), the translation of the
//! stack model into engine objects (containers, networks, volumes), images (inspect, pull, build
//! from a tar), exec, logs and the events stream. It makes no decisions: what to create, keep or
//! remove is the orchestrator's job.

pub mod containers;
pub mod events;
pub mod exec;
pub mod image_archive;
pub mod images;
pub mod labels;
pub mod logs;
pub mod resources;

use bollard::Docker;

/// Errors from the engine, phrased for the person at the terminal.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "cannot reach the Docker engine at {host} ({reason}); is Docker running? Start it, or point DOCKER_HOST at it"
    )]
    Unreachable { host: String, reason: String },
    #[error(
        "service `{service}`: image `{image}` is not present locally and could not be pulled: {reason}"
    )]
    ImageUnavailable {
        service: String,
        image: String,
        reason: String,
    },
    #[error(
        "service `{service}`: image `{image}` is not present locally and pull_policy is `never`"
    )]
    ImageMissingNoPull { service: String, image: String },
    #[error("service `{service}`: build failed: {message}")]
    Build { service: String, message: String },
    #[error("{context}: {source}")]
    Api {
        context: String,
        #[source]
        source: bollard::errors::Error,
    },
}

impl EngineError {
    pub(crate) fn api(context: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> Self {
        let context = context.into();
        move |source| EngineError::Api { context, source }
    }

    /// True when the engine answered 404 (no such container / image / network / volume).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            EngineError::Api {
                source: bollard::errors::Error::DockerResponseServerError {
                    status_code: 404,
                    ..
                },
                ..
            }
        )
    }
}

/// True when a bollard error is the engine's 404.
pub(crate) fn is_404(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// True when a bollard error is the engine's 304 (already started / already stopped).
pub(crate) fn is_304(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 304,
            ..
        }
    )
}

/// A connected, version-negotiated Docker engine.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    host: String,
    version: String,
    api_version: String,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("host", &self.host)
            .field("version", &self.version)
            .finish()
    }
}

impl Engine {
    /// Connect to the engine named by `DOCKER_HOST` (else the local socket), check that it answers
    /// and agree on an API version both sides speak.
    pub async fn connect() -> Result<Engine, EngineError> {
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string());
        let unreachable = |reason: String| EngineError::Unreachable {
            host: host.clone(),
            reason,
        };
        let docker = Docker::connect_with_defaults().map_err(|e| unreachable(short_reason(&e)))?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| unreachable(short_reason(&e)))?;
        let version = docker
            .version()
            .await
            .map_err(|e| unreachable(short_reason(&e)))?;
        Ok(Engine {
            host: host.clone(),
            version: version.version.unwrap_or_else(|| "unknown".into()),
            api_version: version.api_version.unwrap_or_else(|| "unknown".into()),
            docker,
        })
    }

    /// An engine handle that talks to nothing: every call fails as an unreachable engine does.
    /// For tests of what must work (or fail clearly) without Docker.
    #[cfg(test)]
    pub(crate) fn unconnected() -> Engine {
        // Port 1 on loopback: nothing listens, so every call is refused at once.
        let host = "http://127.0.0.1:1";
        let docker = Docker::connect_with_http(host, 1, bollard::API_DEFAULT_VERSION)
            .expect("a client for an address");
        Engine {
            docker,
            host: host.to_string(),
            version: "test".into(),
            api_version: "1.41".into(),
        }
    }

    pub(crate) fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The engine's version, e.g. `20.10.24+dfsg1`.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// CPUs and memory (bytes) the engine can use.
    pub async fn resources(&self) -> Result<(i64, u64), EngineError> {
        let info = self
            .docker
            .info()
            .await
            .map_err(EngineError::api("reading engine info"))?;
        Ok((
            info.ncpu.unwrap_or(0),
            u64::try_from(info.mem_total.unwrap_or(0)).unwrap_or(0),
        ))
    }
}

fn short_reason(err: &bollard::errors::Error) -> String {
    match err {
        bollard::errors::Error::SocketNotFoundError(path) => format!("no socket at {path}"),
        other => {
            let text = other.to_string();
            // hyper's errors chain "client error (Connect)" etc.; the source says more.
            match std::error::Error::source(other) {
                Some(source) => format!("{text}: {source}"),
                None => text,
            }
        }
    }
}
