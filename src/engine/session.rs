//! Interactive sessions with a container: a command run inside it (`exec`) or its own main
//! process (attached, for `run`), with stdin, stdout and stderr wired through, a TTY when asked
//! for, resizable. What a session carries is bytes; the CLI decides what to do with a terminal.

use std::pin::Pin;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::{AttachContainerOptions, ResizeContainerTTYOptions, TopOptions};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWrite;

use super::{Engine, EngineError};

/// A chunk of what the session printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout(Bytes),
    Stderr(Bytes),
}

/// An open session: what it prints, and where to write its input.
pub struct Session {
    pub output: Pin<Box<dyn Stream<Item = Result<Output, EngineError>> + Send>>,
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

/// What to run in an `exec`.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub cmd: Vec<String>,
    pub tty: bool,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
}

fn output_stream(
    raw: Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>,
    context: String,
) -> Pin<Box<dyn Stream<Item = Result<Output, EngineError>> + Send>> {
    raw.filter_map(move |item| {
        let context = context.clone();
        async move {
            match item {
                Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                    Some(Ok(Output::Stdout(message)))
                }
                Ok(LogOutput::StdErr { message }) => Some(Ok(Output::Stderr(message))),
                Ok(LogOutput::StdIn { .. }) => None,
                Err(e) => Some(Err(EngineError::api(context)(e))),
            }
        }
    })
    .boxed()
}

impl Engine {
    /// Start `request` in container `id`, attached. Returns the exec's id (for its exit code and
    /// resizes) and the session.
    pub async fn exec_session(
        &self,
        id: &str,
        request: ExecRequest,
    ) -> Result<(String, Session), EngineError> {
        let context = format!("exec in {id}");
        let exec = self
            .docker()
            .create_exec(
                id,
                CreateExecOptions {
                    cmd: Some(request.cmd),
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(request.tty),
                    env: (!request.env.is_empty()).then_some(request.env),
                    user: request.user,
                    working_dir: request.working_dir,
                    ..Default::default()
                },
            )
            .await
            .map_err(EngineError::api(context.clone()))?;
        let started = self
            .docker()
            .start_exec(
                &exec.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: request.tty,
                    output_capacity: None,
                }),
            )
            .await
            .map_err(EngineError::api(context.clone()))?;
        match started {
            StartExecResults::Attached { output, input } => Ok((
                exec.id,
                Session {
                    output: output_stream(output, context),
                    input,
                },
            )),
            StartExecResults::Detached => Err(EngineError::Unexpected(format!(
                "the engine started the command in {id} detached"
            ))),
        }
    }

    /// The exit code of a finished exec.
    pub async fn exec_exit_code(&self, exec_id: &str) -> Result<i64, EngineError> {
        let inspect = self
            .docker()
            .inspect_exec(exec_id)
            .await
            .map_err(EngineError::api(format!("inspecting exec {exec_id}")))?;
        Ok(inspect.exit_code.unwrap_or(-1))
    }

    pub async fn resize_exec(
        &self,
        exec_id: &str,
        cols: u16,
        rows: u16,
    ) -> Result<(), EngineError> {
        self.docker()
            .resize_exec(
                exec_id,
                bollard::exec::ResizeExecOptions {
                    height: rows,
                    width: cols,
                },
            )
            .await
            .map_err(EngineError::api(format!("resizing exec {exec_id}")))
    }

    /// Attach to a container's main process (before it starts, so nothing it prints is missed).
    pub async fn attach(&self, id: &str) -> Result<Session, EngineError> {
        let context = format!("attaching to {id}");
        let attached = self
            .docker()
            .attach_container(
                id,
                Some(AttachContainerOptions {
                    stdin: true,
                    stdout: true,
                    stderr: true,
                    stream: true,
                    logs: true,
                    detach_keys: None,
                }),
            )
            .await
            .map_err(EngineError::api(context.clone()))?;
        Ok(Session {
            output: output_stream(attached.output, context),
            input: attached.input,
        })
    }

    pub async fn resize_container(
        &self,
        id: &str,
        cols: u16,
        rows: u16,
    ) -> Result<(), EngineError> {
        self.docker()
            .resize_container_tty(
                id,
                ResizeContainerTTYOptions {
                    h: i32::from(rows),
                    w: i32::from(cols),
                },
            )
            .await
            .map_err(EngineError::api(format!("resizing {id}")))
    }

    /// The processes running in a container: the column titles and one row per process.
    pub async fn top(&self, id: &str) -> Result<(Vec<String>, Vec<Vec<String>>), EngineError> {
        let top = self
            .docker()
            .top_processes(
                id,
                Some(TopOptions {
                    ps_args: "-ef".into(),
                }),
            )
            .await
            .map_err(EngineError::api(format!("listing the processes of {id}")))?;
        Ok((
            top.titles.unwrap_or_default(),
            top.processes.unwrap_or_default(),
        ))
    }
}

impl Engine {
    /// Load `image` into the containerd of a node that runs as the container `node` (a local
    /// one-node Kubernetes cluster): the image's `docker save` archive piped into
    /// `ctr -n k8s.io images import -` inside it.
    pub async fn load_into_containerd(&self, image: &str, node: &str) -> Result<(), EngineError> {
        use tokio::io::AsyncWriteExt;
        let request = ExecRequest {
            cmd: ["ctr", "-n", "k8s.io", "images", "import", "-"]
                .map(String::from)
                .to_vec(),
            ..ExecRequest::default()
        };
        let (exec_id, session) = self.exec_session(node, request).await?;
        let Session { output, mut input } = session;
        let mut archive = self.docker().export_image(image);
        let context = format!("saving {image}");
        while let Some(chunk) = archive.next().await {
            let chunk = chunk.map_err(EngineError::api(context.clone()))?;
            input.write_all(&chunk).await.map_err(|e| {
                EngineError::Unexpected(format!("loading {image} into {node}: {e}"))
            })?;
        }
        let _ = input.shutdown().await;
        let said: Vec<String> = output
            .filter_map(|o| async move {
                match o {
                    Ok(Output::Stdout(b) | Output::Stderr(b)) => {
                        Some(String::from_utf8_lossy(&b).into_owned())
                    }
                    Err(_) => None,
                }
            })
            .collect()
            .await;
        let code = self.exec_exit_code(&exec_id).await?;
        if code == 0 {
            Ok(())
        } else {
            Err(EngineError::Unexpected(format!(
                "loading {image} into {node}: ctr import exited {code}: {}",
                said.join("").trim()
            )))
        }
    }
}
