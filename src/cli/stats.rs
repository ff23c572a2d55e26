//! `novadev stats [SERVICE] [--json]`: the dev loop's history, which no peer keeps: how long each
//! rebuild and restart took from the saved file (or the request) to the service ready again, and
//! where the time went. From the daemon when one runs, else from the history file it keeps.

use std::process::ExitCode;

use clap::Args;

use super::output::{self, DIM, GREEN, RED, paint};
use super::{CmdResult, Failure, Global, project_name};
use crate::client::Client;
use crate::paths::ProjectPaths;
use crate::presentation::human_ms;
use crate::protocol::{LoopOutcome, LoopRecord, LoopSummary, StatsResponse};

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Only this service, with its last turns one by one.
    pub service: Option<String>,
    /// Print the summaries and the records as JSON.
    #[arg(long)]
    pub json: bool,
}

/// How many of a service's last turns are listed.
const LAST: usize = 20;

#[derive(Debug, serde::Serialize)]
struct StatsJson {
    project: String,
    summaries: Vec<LoopSummary>,
    records: Vec<LoopRecord>,
}

pub async fn run(global: &Global, args: StatsArgs) -> CmdResult {
    let (project, loaded) = project_name(global)?;
    if let (Some(service), Some(loaded)) = (&args.service, &loaded)
        && !loaded.stack.services.contains_key(service)
    {
        return Err(Failure::bad_input(format!(
            "no service `{service}` in the stack"
        )));
    }
    let records = match Client::connect(&project).await {
        Some((client, _)) => {
            let path = match &args.service {
                Some(s) => format!("/v1/stats?service={s}"),
                None => "/v1/stats".to_string(),
            };
            client.get::<StatsResponse>(&path).await?.records
        }
        None => crate::ops::history::read(&ProjectPaths::for_project(&project).history)
            .into_iter()
            .filter(|r| args.service.as_ref().is_none_or(|s| &r.service == s))
            .collect(),
    };
    let mut services: Vec<String> = records.iter().map(|r| r.service.clone()).collect();
    services.sort();
    services.dedup();
    let summaries: Vec<LoopSummary> = services
        .iter()
        .map(|s| LoopSummary::of(s, &records))
        .collect();
    if args.json {
        super::print_json(&StatsJson {
            project,
            summaries,
            records,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    if records.is_empty() {
        anstream::println!(
            "no rebuild or restart recorded for {} yet (they are recorded while the daemon watches)",
            args.service.as_deref().unwrap_or(&project)
        );
        return Ok(ExitCode::SUCCESS);
    }
    print_summaries(&summaries);
    if let Some(service) = &args.service {
        print_last(service, &records);
    }
    Ok(ExitCode::SUCCESS)
}

fn ms(v: Option<u64>) -> String {
    v.map(human_ms).unwrap_or_else(|| "—".into())
}

fn print_summaries(summaries: &[LoopSummary]) {
    let rows: Vec<Vec<String>> = summaries
        .iter()
        .map(|s| {
            vec![
                s.service.clone(),
                s.count.to_string(),
                s.ok.to_string(),
                ms(s.median_total_ms),
                ms(s.median_wait_ms),
                ms(s.median_build_ms),
                ms(s.median_package_ms),
                ms(s.median_replace_ms),
                ms(s.median_ready_ms),
                ms(s.last_total_ms),
            ]
        })
        .collect();
    anstream::print!(
        "{}",
        output::table(
            &[
                "SERVICE", "TURNS", "READY", "MEDIAN", "WAIT", "BUILD", "PACKAGE", "REPLACE",
                "TO READY", "LAST"
            ],
            &rows
        )
    );
    anstream::println!(
        "{}",
        paint(
            DIM,
            "medians of the turns that ended ready: file event (or request) → ready; WAIT is the debounce and the build queue"
        )
    );
}

fn print_last(service: &str, records: &[LoopRecord]) {
    let mine: Vec<&LoopRecord> = records.iter().filter(|r| r.service == service).collect();
    let skip = mine.len().saturating_sub(LAST);
    let rows: Vec<Vec<String>> = mine
        .into_iter()
        .skip(skip)
        .map(|r| {
            let when = chrono::DateTime::from_timestamp_millis(
                i64::try_from(r.began_ms).unwrap_or(i64::MAX),
            )
            .map(|t| {
                t.with_timezone(&chrono::Local)
                    .format("%H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default();
            let outcome = match r.outcome {
                LoopOutcome::Ready => paint(GREEN, "ready"),
                LoopOutcome::BuildFailed => paint(RED, "build failed"),
                LoopOutcome::Failed => paint(RED, "failed"),
            };
            vec![
                when,
                format!("{:?}", r.kind).to_lowercase(),
                format!("{:?}", r.trigger)
                    .to_lowercase()
                    .replace("filechange", "file"),
                human_ms(r.total_ms),
                human_ms(r.wait_ms),
                ms(r.build_ms),
                ms(r.package_ms),
                ms(r.replace_ms),
                ms(r.ready_ms),
                outcome,
            ]
        })
        .collect();
    anstream::println!("\nlast {} of {service}:", rows.len());
    anstream::print!(
        "{}",
        output::table(
            &[
                "WHEN", "KIND", "BY", "TOTAL", "WAIT", "BUILD", "PACKAGE", "REPLACE", "TO READY",
                "OUTCOME"
            ],
            &rows
        )
    );
}
