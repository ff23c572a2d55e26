//! Container log streams, decoded into lines.

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use super::Engine;

/// One line a container printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub service: String,
    /// `stdout`, `stderr`, or `novadev` for lines novadev itself adds (build output, events).
    pub stream: String,
    /// RFC 3339 timestamp from Docker (present when asked for), else empty.
    pub time: String,
    pub text: String,
}

/// What part of a log to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogQuery {
    pub follow: bool,
    /// Last N lines; `None` = all.
    pub tail: Option<u64>,
    /// Unix seconds.
    pub since: Option<i64>,
}

impl Engine {
    /// The log of one container as lines. With timestamps from Docker, always: callers decide
    /// whether to show them.
    pub fn log_lines(
        &self,
        container: &str,
        service: &str,
        query: &LogQuery,
    ) -> impl Stream<Item = LogLine> + Send + 'static {
        let options = LogsOptions {
            follow: query.follow,
            stdout: true,
            stderr: true,
            since: query
                .since
                .map(|s| i32::try_from(s).unwrap_or(i32::MAX))
                .unwrap_or(0),
            timestamps: true,
            tail: query
                .tail
                .map(|n| n.to_string())
                .unwrap_or_else(|| "all".into()),
            ..Default::default()
        };
        let service = service.to_string();
        let raw = self.docker().logs(container, Some(options));
        // Docker splits output into frames that need not end at a newline; carry partial lines.
        raw.scan(String::new(), move |partial, item| {
            let (stream, bytes) = match item {
                Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                    ("stdout", message)
                }
                Ok(LogOutput::StdErr { message }) => ("stderr", message),
                Ok(LogOutput::StdIn { .. }) => return futures_util::future::ready(Some(vec![])),
                Err(_) => return futures_util::future::ready(None),
            };
            partial.push_str(&String::from_utf8_lossy(&bytes));
            let mut lines = Vec::new();
            while let Some(nl) = partial.find('\n') {
                let line: String = partial.drain(..=nl).collect();
                let line = line.trim_end_matches(['\n', '\r']);
                let (time, text) = match line.split_once(' ') {
                    Some((t, rest)) if t.len() >= 20 && t.as_bytes()[4] == b'-' => {
                        (t.to_string(), rest.to_string())
                    }
                    _ => (String::new(), line.to_string()),
                };
                lines.push(LogLine {
                    service: service.clone(),
                    stream: stream.to_string(),
                    time,
                    text,
                });
            }
            futures_util::future::ready(Some(lines))
        })
        .flat_map(futures_util::stream::iter)
    }
}
