//! Running a command inside a running container (readiness probes, `sync+exec`).

use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt;

use super::{Engine, EngineError};

/// The outcome of one exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutcome {
    pub exit_code: i64,
    /// Combined stdout/stderr, truncated to a few KiB.
    pub output: String,
}

const MAX_OUTPUT: usize = 4096;

impl Engine {
    /// Run `cmd` in container `id`, wait (at most `timeout`) and return its exit code and output.
    /// A timeout is reported as exit code -1.
    pub async fn exec(
        &self,
        id: &str,
        cmd: Vec<String>,
        timeout: Duration,
    ) -> Result<ExecOutcome, EngineError> {
        let exec = self
            .docker()
            .create_exec(
                id,
                CreateExecOptions {
                    cmd: Some(cmd),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(EngineError::api(format!("exec in {id}")))?;
        let run = async {
            let mut output = String::new();
            if let StartExecResults::Attached {
                output: mut out, ..
            } = self
                .docker()
                .start_exec(&exec.id, None::<StartExecOptions>)
                .await
                .map_err(EngineError::api(format!("exec in {id}")))?
            {
                while let Some(chunk) = out.next().await {
                    match chunk {
                        Ok(msg) => {
                            if output.len() < MAX_OUTPUT {
                                output.push_str(&String::from_utf8_lossy(&msg.into_bytes()));
                            }
                        }
                        Err(_) => break,
                    }
                }
            }
            let inspect = self
                .docker()
                .inspect_exec(&exec.id)
                .await
                .map_err(EngineError::api(format!("exec in {id}")))?;
            Ok::<_, EngineError>(ExecOutcome {
                exit_code: inspect.exit_code.unwrap_or(-1),
                output,
            })
        };
        match tokio::time::timeout(timeout, run).await {
            Ok(result) => result,
            Err(_) => Ok(ExecOutcome {
                exit_code: -1,
                output: format!("timed out after {timeout:?}"),
            }),
        }
    }
}

impl Engine {
    /// Copy files into a container: `files` are (host path, absolute container path). Missing host
    /// files are skipped (the caller removes those in the container).
    pub async fn copy_into(
        &self,
        id: &str,
        files: &[(std::path::PathBuf, String)],
    ) -> Result<usize, EngineError> {
        let mut tar = tar::Builder::new(Vec::new());
        let mut count = 0;
        for (host, target) in files {
            let Ok(data) = std::fs::read(host) else {
                continue;
            };
            let mode = std::fs::metadata(host)
                .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
                .unwrap_or(0o644);
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(mode & 0o7777);
            header.set_cksum();
            let name = target.trim_start_matches('/');
            tar.append_data(&mut header, name, data.as_slice())
                .map_err(|e| EngineError::Build {
                    service: id.to_string(),
                    message: format!("packing {}: {e}", host.display()),
                })?;
            count += 1;
        }
        let bytes = tar.into_inner().map_err(|e| EngineError::Build {
            service: id.to_string(),
            message: format!("packing files: {e}"),
        })?;
        if count == 0 {
            return Ok(0);
        }
        let options = bollard::query_parameters::UploadToContainerOptions {
            path: "/".to_string(),
            ..Default::default()
        };
        self.docker()
            .upload_to_container(id, Some(options), bollard::body_full(bytes.into()))
            .await
            .map_err(EngineError::api(format!("copying files into {id}")))?;
        Ok(count)
    }
}
