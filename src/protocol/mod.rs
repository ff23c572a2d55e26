//! What crosses the daemon's socket: requests, responses, the events of the status board, log
//! lines and the verbs. The client, the CLI, the TUI and the web page speak these types; the
//! daemon's handlers turn them into operations.
//!
//! Owns the wire format only. Must not know Docker, Kubernetes, files or the stack model's
//! internals: a second runtime feeds the same types.
//!
//! ```text
//! GET  /v1/info                  Info
//! GET  /v1/status                StatusResponse
//! POST /v1/up        UpRequest   SSE: `event` (Event) ... then `done` (UpReport) or `error` (ApiError)
//! POST /v1/down      DownRequest DownReport; the daemon then exits
//! POST /v1/shutdown              the daemon exits; containers keep running
//! GET  /v1/events                SSE: `event` for each service now, then every change
//! GET  /v1/logs?services=a,b&follow=true&tail=N&since=UNIX   SSE: `log` (LogLine) ...
//! POST /v1/services/{service}/{verb}  ControlRequest → ServiceStatus once settled
//! GET  /v1/connection            ConnectionInfo
//! GET  /v1/stats?service=X       StatsResponse: the dev loop's history (rebuilds, restarts)
//! ```
//! The web UI's listener serves only info, status, events, logs, connection and the service
//! verbs; `up`, `down` and `shutdown` exist on the owner-only Unix socket alone.

mod failure;
mod logs;
mod stats;
mod status;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use failure::{DependencyProblem, ServiceFailure};
pub use logs::{LogLine, LogQuery, MAX_LINE_BYTES};
pub use stats::{LoopKind, LoopOutcome, LoopRecord, LoopSummary, LoopTrigger, StatsResponse};
pub use status::{BuildRecord, EngineHealth, Event, Phase, PublishedPort, ServiceStatus, Taken};

/// Unix milliseconds now (the clock every timestamp on the wire uses).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// What can be done to one service of a running stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verb {
    /// Stop and start the existing container, then wait until it is ready.
    Restart,
    /// Stop it (the container stays).
    Stop,
    /// Start the existing container and wait until it is ready.
    Start,
    /// Build its image again and replace the container once the build succeeded.
    Rebuild,
}

impl Verb {
    pub const ALL: [Verb; 4] = [Verb::Restart, Verb::Stop, Verb::Start, Verb::Rebuild];

    /// The path segment and the word the CLI takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Restart => "restart",
            Verb::Stop => "stop",
            Verb::Start => "start",
            Verb::Rebuild => "rebuild",
        }
    }

    pub fn parse(word: &str) -> Option<Verb> {
        Verb::ALL.into_iter().find(|v| v.as_str() == word)
    }

    /// "restarting", for progress.
    pub fn doing(self) -> &'static str {
        match self {
            Verb::Restart => "restarting",
            Verb::Stop => "stopping",
            Verb::Start => "starting",
            Verb::Rebuild => "rebuilding",
        }
    }

    /// "restarted", for outcomes.
    pub fn done(self) -> &'static str {
        match self {
            Verb::Restart => "restarted",
            Verb::Stop => "stopped",
            Verb::Start => "started",
            Verb::Rebuild => "rebuilt",
        }
    }
}

impl std::fmt::Display for Verb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a stack is and how to read it: files, never the stack itself. The daemon loads and
/// validates the files on its own, so it runs nothing a request made up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackRef {
    /// Stack files, merged in order (absolute, or relative to `working_dir`).
    pub files: Vec<PathBuf>,
    pub working_dir: PathBuf,
    pub project_name: Option<String>,
    pub profiles: Vec<String>,
    /// The caller's environment, for interpolation (it beats `.env`, as in Compose).
    pub env: BTreeMap<String, String>,
}

/// What `up` was asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpOptions {
    /// Services asked for (their dependencies come along); empty = all.
    pub services: Vec<String>,
    /// How long to wait for everything to be ready.
    pub wait_timeout: Duration,
    /// Rebuild images of services with `build:` even when present.
    pub build: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpRequest {
    pub stack: StackRef,
    pub options: UpOptions,
}

/// How `up` ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpReport {
    pub ok: bool,
    pub project: String,
    pub elapsed_ms: u64,
    pub services: Vec<ServiceStatus>,
}

/// What `down` removes beyond containers and networks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownRequest {
    /// The stack, for a daemon that has none loaded (it orders the stops); down works without.
    #[serde(default)]
    pub stack: Option<StackRef>,
    /// The project's volumes (their data is lost).
    #[serde(default)]
    pub volumes: bool,
    /// The images novadev built for the project (`cleanup`).
    #[serde(default)]
    pub images: bool,
}

/// How `down`/`cleanup` ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownReport {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    #[serde(default)]
    pub images: Vec<String>,
}

/// The body of `POST /v1/services/{service}/{verb}`. On the Unix socket it may name the stack, so
/// that a daemon the CLI just started can load it; the web UI's listener takes no stack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlRequest {
    #[serde(default)]
    pub stack: Option<StackRef>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogsParams {
    /// Comma-separated service names; empty = all.
    #[serde(default)]
    pub services: String,
    #[serde(default)]
    pub follow: bool,
    pub tail: Option<u64>,
    pub since: Option<i64>,
}

impl LogsParams {
    pub fn service_list(&self) -> Vec<String> {
        self.services
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }

    pub fn query(&self) -> LogQuery {
        LogQuery {
            follow: self.follow,
            tail: self.tail,
            since: self.since,
        }
    }
}

/// Facts about the daemon and its engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Info {
    pub project: String,
    pub pid: u32,
    pub started_ms: u64,
    pub engine_version: String,
    pub engine_api_version: String,
    /// Whether the engine answers, and since when it did not (outages are kept).
    #[serde(default)]
    pub engine: EngineHealth,
    /// The Kubernetes cluster the project runs on (`server (version)`), for a daemon of
    /// `up --k8s`; `None` on the local engine.
    #[serde(default)]
    pub cluster: Option<String>,
    pub stack_files: Vec<String>,
    pub build_id: String,
    /// Display tiers of the stack, in order (`x-novadev.tiers`).
    #[serde(default)]
    pub tiers: Vec<String>,
    /// Where the web UI listens; None when it could not be served (see `web_ui_error`).
    #[serde(default)]
    pub web_ui: Option<WebUiInfo>,
    #[serde(default)]
    pub web_ui_error: Option<String>,
    /// Why the stack's files, changed while the daemon runs, do not load (the running stack is
    /// kept until they do).
    #[serde(default)]
    pub stack_error: Option<String>,
}

/// The web UI's address. The token is not part of it: it sits owner-only in the state dir.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebUiInfo {
    /// `http://127.0.0.1:PORT/`
    pub url: String,
    pub port: u16,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusResponse {
    pub info: Info,
    pub services: Vec<ServiceStatus>,
}

/// What kind of failure an error response reports: it decides the CLI's exit code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request's input is wrong (a stack that does not load, an unknown service): exit 2.
    BadInput,
    /// Something at run time: Docker, a service, a conflict: exit 1.
    #[default]
    Runtime,
}

/// Body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
    #[serde(default)]
    pub kind: ErrorKind,
}

/// The "connection info" and "common commands" blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    pub project: String,
    pub sections: Vec<Section>,
    pub commands: Vec<CommandHint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub title: String,
    pub entries: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandHint {
    pub command: String,
    pub what: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_round_trip_through_their_words() {
        for verb in Verb::ALL {
            assert_eq!(Verb::parse(verb.as_str()), Some(verb));
            let json = serde_json::to_string(&verb).unwrap();
            assert_eq!(json, format!("\"{}\"", verb.as_str()));
        }
        assert_eq!(Verb::parse("down"), None);
    }

    #[test]
    fn an_up_request_carrying_a_stack_is_not_one() {
        let hostile = r#"{"stack": {"name": "p", "services": {}}, "options": {"services": [], "wait_timeout": {"secs": 1, "nanos": 0}, "build": false}}"#;
        assert!(serde_json::from_str::<UpRequest>(hostile).is_err());
        let control = r#"{"stack": null, "command": ["sh"]}"#;
        assert!(serde_json::from_str::<ControlRequest>(control).is_err());
    }

    #[test]
    fn an_error_without_a_kind_is_a_runtime_error() {
        let e: ApiError = serde_json::from_str(r#"{"error": "x"}"#).unwrap();
        assert_eq!(e.kind, ErrorKind::Runtime);
    }
}
