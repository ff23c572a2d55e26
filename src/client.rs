//! The CLI side of the daemon API: HTTP/1.1 over the project's Unix socket, JSON bodies, SSE
//! streams; and starting a daemon when none answers.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http_body_util::{BodyExt, BodyStream, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::UnixStream;

use crate::paths::ProjectPaths;
use crate::protocol::{
    ApiError, ControlRequest, DownReport, DownRequest, ErrorKind, Info, ServiceStatus, StackRef,
    Verb,
};
use crate::target::DaemonTarget;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no novadev daemon answers at {0}")]
    NotRunning(PathBuf),
    #[error("talking to the daemon: {0}")]
    Transport(String),
    #[error("{message}")]
    Api {
        status: u16,
        kind: ErrorKind,
        message: String,
    },
    #[error("the daemon sent something unreadable: {0}")]
    Decode(String),
    #[error("could not start the daemon: {message}")]
    Spawn { message: String },
    #[error("cannot start the daemon: {0}")]
    StateDir(#[from] crate::paths::PathsError),
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseMessage {
    pub event: String,
    pub data: String,
}

#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    pub fn new(socket: impl Into<PathBuf>) -> Client {
        Client {
            socket: socket.into(),
        }
    }

    /// A client for the daemon whose state dir is `key` (a project's name, or a project on
    /// Kubernetes: `crate::target::DaemonTarget::key`), if one answers.
    pub async fn connect(key: &str) -> Option<(Client, Info)> {
        let paths = ProjectPaths::for_project(key);
        if !paths.socket.exists() {
            return None;
        }
        let client = Client::new(&paths.socket);
        match client.get::<Info>("/v1/info").await {
            Ok(info) => Some((client, info)),
            Err(_) => None,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, ClientError> {
        let stream = UnixStream::connect(&self.socket)
            .await
            .map_err(|_| ClientError::NotRunning(self.socket.clone()))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "daemon connection ended");
            }
        });
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "novadev")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let (message, kind) = match serde_json::from_slice::<ApiError>(&bytes) {
            Ok(e) => (e.error, e.kind),
            Err(_) => (
                format!(
                    "the daemon answered {status}: {}",
                    String::from_utf8_lossy(&bytes)
                ),
                ErrorKind::Runtime,
            ),
        };
        Err(ClientError::Api {
            status: status.as_u16(),
            kind,
            message,
        })
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T, ClientError> {
        let response = self.send(method, path, body).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return serde_json::from_slice(b"null").map_err(|e| ClientError::Decode(e.to_string()));
        }
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?
            .to_bytes();
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.json(Method::GET, path, None).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Decode(e.to_string()))?;
        self.json(Method::POST, path, Some(bytes)).await
    }

    /// Restart, stop, start or rebuild one service; the status once settled. `stack` lets a
    /// daemon that has no stack loaded yet load it.
    pub async fn control(
        &self,
        service: &str,
        verb: Verb,
        stack: Option<StackRef>,
    ) -> Result<ServiceStatus, ClientError> {
        self.post(
            &format!("/v1/services/{service}/{verb}"),
            &ControlRequest { stack },
        )
        .await
    }

    /// Take the project down; the daemon exits afterwards.
    pub async fn down(&self, request: &DownRequest) -> Result<DownReport, ClientError> {
        self.post("/v1/down", request).await
    }

    /// Ask the daemon to exit (containers keep running).
    pub async fn shutdown(&self) -> Result<(), ClientError> {
        self.post::<_, ()>("/v1/shutdown", &()).await
    }

    /// Open an SSE stream (GET when `body` is None, else POST with a JSON body).
    pub async fn sse<B: Serialize>(
        &self,
        path: &str,
        body: Option<&B>,
    ) -> Result<impl Stream<Item = Result<SseMessage, ClientError>> + use<B>, ClientError> {
        let (method, bytes) = match body {
            Some(b) => (
                Method::POST,
                Some(serde_json::to_vec(b).map_err(|e| ClientError::Decode(e.to_string()))?),
            ),
            None => (Method::GET, None),
        };
        let response = self.send(method, path, bytes).await?;
        let frames = BodyStream::new(response.into_body());
        Ok(sse_messages(frames.filter_map(|frame| async move {
            match frame {
                Ok(frame) => frame.into_data().ok().map(Ok),
                Err(e) => Some(Err(ClientError::Transport(e.to_string()))),
            }
        })))
    }
}

/// Parse a byte stream of `text/event-stream` into messages (comments and keep-alives skipped).
pub fn sse_messages(
    chunks: impl Stream<Item = Result<Bytes, ClientError>> + Send + 'static,
) -> impl Stream<Item = Result<SseMessage, ClientError>> + Send + 'static {
    struct Parser {
        buf: BytesMut,
        event: String,
        data: Vec<String>,
    }
    let parser = Parser {
        buf: BytesMut::new(),
        event: String::new(),
        data: Vec::new(),
    };
    chunks
        .scan(parser, |p, chunk| {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => return futures_util::future::ready(Some(vec![Err(e)])),
            };
            p.buf.extend_from_slice(&chunk);
            let mut out = Vec::new();
            while let Some(nl) = p.buf.iter().position(|b| *b == b'\n') {
                let line = p.buf.split_to(nl + 1);
                let line = String::from_utf8_lossy(&line);
                let line = line.trim_end_matches(['\n', '\r']);
                if line.is_empty() {
                    if !p.data.is_empty() || !p.event.is_empty() {
                        out.push(Ok(SseMessage {
                            event: std::mem::take(&mut p.event),
                            data: std::mem::take(&mut p.data).join("\n"),
                        }));
                    }
                } else if let Some(rest) = line.strip_prefix("data:") {
                    p.data
                        .push(rest.strip_prefix(' ').unwrap_or(rest).to_string());
                } else if let Some(rest) = line.strip_prefix("event:") {
                    p.event = rest.trim().to_string();
                }
                // `:` comments (keep-alives), `id:` and `retry:` are not used.
            }
            futures_util::future::ready(Some(out))
        })
        .flat_map(futures_util::stream::iter)
}

/// The target's daemon, started if none answers (or if the one answering is from another build
/// of novadev). `exe` is the novadev binary to run as `novadev daemon --project NAME …`.
pub async fn ensure_daemon(target: &DaemonTarget, exe: &Path) -> Result<Client, ClientError> {
    let me = crate::paths::build_id();
    let key = target.key();
    if let Some((client, info)) = Client::connect(&key).await {
        if info.build_id == me {
            return Ok(client);
        }
        tracing::info!(old = %info.build_id, "replacing a daemon from another build of novadev");
        let _ = client.shutdown().await;
        wait_gone(&target.paths().socket).await;
    }
    let paths = target.paths();
    paths.prepare()?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&paths.log)
        .map_err(|e| ClientError::Spawn {
            message: format!("{}: {e}", paths.log.display()),
        })?;
    let log2 = log.try_clone().map_err(|e| ClientError::Spawn {
        message: e.to_string(),
    })?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(target.daemon_args())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    {
        use std::os::unix::process::CommandExt;
        // Its own process group: a Ctrl-C at the terminal that ran `up` must not reach it.
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(|e| ClientError::Spawn {
        message: format!("{}: {e}", exe.display()),
    })?;
    let started = Instant::now();
    loop {
        if let Some((client, _)) = Client::connect(&key).await {
            // Reap the child in the background; it lives on as the daemon.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
            return Ok(client);
        }
        if let Ok(Some(status)) = child.try_wait() {
            let tail = std::fs::read_to_string(&paths.log).unwrap_or_default();
            let last: Vec<&str> = tail.lines().rev().take(5).collect();
            let last: Vec<&str> = last.into_iter().rev().collect();
            // Lost a race with another `up` that started the daemon first: use that one.
            if let Some((client, _)) = Client::connect(&key).await {
                return Ok(client);
            }
            return Err(ClientError::Spawn {
                message: format!("it exited ({status}); {}", last.join(" / ")),
            });
        }
        if started.elapsed() > Duration::from_secs(15) {
            return Err(ClientError::Spawn {
                message: format!("it did not answer within 15 s; see {}", paths.log.display()),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Wait (bounded) until nobody answers on `socket`.
pub async fn wait_gone(socket: &Path) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if UnixStream::connect(socket).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sse_messages_are_split_across_chunks() {
        let chunks = vec![
            Ok(Bytes::from_static(
                b": keep-alive\n\nevent: log\ndata: {\"a\"",
            )),
            Ok(Bytes::from_static(
                b":1}\n\nevent: done\ndata: x\ndata: y\n\n",
            )),
        ];
        let messages: Vec<_> = sse_messages(futures_util::stream::iter(chunks))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .map(|m| m.unwrap())
            .collect();
        assert_eq!(
            messages,
            vec![
                SseMessage {
                    event: "log".into(),
                    data: "{\"a\":1}".into()
                },
                SseMessage {
                    event: "done".into(),
                    data: "x\ny".into()
                },
            ]
        );
    }
}
