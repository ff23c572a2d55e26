//! `novadev logs [SERVICE…] [-f] [--tail N] [--since DUR] [--timestamps] [--grep RE]`: through
//! the daemon when one runs, else straight from Docker.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt};
use regex::Regex;

use super::output::{DIM, paint, service_style};
use super::{CmdResult, Failure, Global, project_name};
use crate::client::Client;
use crate::engine::Engine;
use crate::presentation::clean_text;
use crate::protocol::{LogLine, MAX_LINE_BYTES};

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Services to show; default all.
    pub services: Vec<String>,
    /// Keep following new lines.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only the last N lines of each service.
    #[arg(long, short = 'n', value_name = "N")]
    pub tail: Option<u64>,
    /// Only lines newer than this: a duration (`5m`, `1h30m`), an RFC 3339 time or Unix seconds.
    #[arg(long, value_name = "WHEN", value_parser = parse_since)]
    pub since: Option<i64>,
    /// Show Docker's timestamp of each line.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Only lines matching this regular expression.
    #[arg(long, value_name = "RE")]
    pub grep: Option<Regex>,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub k8s: super::K8sFlags,
}

/// `--since` as Unix seconds.
pub fn parse_since(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<i64>() {
        return Ok(secs);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    let ago = crate::stack::parse_duration(s).map_err(|e| {
        format!("`{s}` is neither a duration (5m), an RFC 3339 time nor Unix seconds: {e}")
    })?;
    let now = chrono::Utc::now().timestamp();
    Ok(now - i64::try_from(ago.as_secs()).unwrap_or(i64::MAX / 2))
}

pub async fn run(global: &Global, args: LogsArgs) -> CmdResult {
    let (project, loaded) = project_name(global)?;
    if let Some(loaded) = &loaded {
        for s in &args.services {
            if !loaded.stack.services.contains_key(s) {
                return Err(Failure::bad_input(format!(
                    "no service `{s}` in project `{project}`"
                )));
            }
        }
    }
    let known: Vec<String> = loaded
        .as_ref()
        .map(|l| l.stack.services.keys().cloned().collect())
        .unwrap_or_default();
    let lines = source(&project, &known, &args).await?;
    let width = args
        .services
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max(
            loaded
                .as_ref()
                .map(|l| l.stack.services.keys().map(String::len).max().unwrap_or(0))
                .unwrap_or(0),
        );
    let keep = |line: &LogLine| args.grep.as_ref().is_none_or(|re| re.is_match(&line.text));
    // A reader that goes away (`| head`) ends the command quietly, as with any Unix tool.
    // Written through a buffer: one write per line was the bottleneck of a long backlog.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, anstream::stdout().lock());
    let written = if args.follow {
        let mut lines = lines;
        let mut result = Ok(());
        loop {
            // What has arrived is shown before waiting for more.
            let next = match lines.next().now_or_never() {
                Some(next) => next,
                None => match out.flush() {
                    Ok(()) => lines.next().await,
                    Err(e) => break result = Err(e),
                },
            };
            let Some(line) = next else { break };
            if keep(&line) {
                result = print_line(&mut out, &line, &args, width);
                if result.is_err() {
                    break;
                }
            }
        }
        result
    } else {
        // Without follow, show the services' histories interleaved by time.
        let mut all: Vec<LogLine> = lines.collect().await;
        all.sort_by(|a, b| a.time.cmp(&b.time));
        all.iter()
            .filter(|l| keep(l))
            .try_for_each(|line| print_line(&mut out, line, &args, width))
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(Failure::runtime(format!("writing the log: {e}"))),
    }
}

/// The lines to show: from the daemon when one runs (Docker's or the cluster's), else straight
/// from the engine or the cluster.
async fn source(
    project: &str,
    known: &[String],
    args: &LogsArgs,
) -> Result<BoxStream<'static, LogLine>, Failure> {
    let params = crate::protocol::LogsParams {
        services: args.services.join(","),
        follow: args.follow,
        tail: args.tail,
        since: args.since,
    };
    let target = args.k8s.target(project);
    if let Some((client, _)) = Client::connect(&target.key()).await {
        let mut path = format!(
            "/v1/logs?services={}&follow={}",
            params.services, args.follow
        );
        if let Some(n) = args.tail {
            path.push_str(&format!("&tail={n}"));
        }
        if let Some(s) = args.since {
            path.push_str(&format!("&since={s}"));
        }
        return Ok(client
            .sse::<()>(&path, None)
            .await?
            .filter_map(|m| async move {
                let m = m.ok()?;
                (m.event == "log")
                    .then(|| serde_json::from_str::<LogLine>(&m.data).ok())
                    .flatten()
            })
            .boxed());
    }
    Ok(match &target.kube {
        Some(spec) => crate::ops::read::kube_log_lines(spec, project, known, &params).await?,
        None => {
            let engine = Engine::connect().await?;
            crate::ops::read::log_lines(&engine, project, &args.services, known, &params.query())
                .await?
        }
    })
}

fn print_line(
    out: &mut impl Write,
    line: &LogLine,
    args: &LogsArgs,
    width: usize,
) -> std::io::Result<()> {
    if args.json {
        let json = serde_json::to_string(line).map_err(std::io::Error::other)?;
        return writeln!(out, "{json}");
    }
    let prefix = paint(
        service_style(&line.service),
        format!("{:<width$} |", line.service),
    );
    // What a container prints is data, not terminal commands: no escape sequence gets through.
    let text = clean_text(line.text.clone(), usize::MAX);
    let cut = if line.truncated {
        paint(DIM, format!(" … [cut at {} KiB]", MAX_LINE_BYTES / 1024))
    } else {
        String::new()
    };
    if args.timestamps {
        writeln!(out, "{prefix} {} {text}{cut}", paint(DIM, &line.time))
    } else {
        writeln!(out, "{prefix} {text}{cut}")
    }
}
