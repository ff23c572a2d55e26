//! `novadev status`: the full-screen TUI (`crate::tui`) when stdout is a terminal; else, and with
//! `--plain` / `--json`, the services and their state printed once — from the daemon when one
//! runs, else from Docker's labels alone.

use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::output::{self, DIM, paint, phase_style};
use super::{CmdResult, Failure, Global, project_name};
use crate::client::Client;
use crate::engine::Engine;
use crate::protocol::{Info, ServiceStatus, StatusResponse, now_ms};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// One-shot table (the default when stdout is not a terminal).
    #[arg(long, conflicts_with = "json")]
    pub plain: bool,
    /// Machine-readable state.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub k8s: super::K8sFlags,
}

#[derive(Debug, Serialize)]
struct StatusJson {
    project: String,
    daemon: Option<Info>,
    services: Vec<ServiceStatus>,
}

pub async fn run(global: &Global, args: StatusArgs) -> CmdResult {
    let (project, loaded) = project_name(global)?;
    let target = args.k8s.target(&project);
    if !args.plain && !args.json && crate::tui::wanted() {
        return tui(&target, loaded).await;
    }
    let (daemon, services) = match Client::connect(&target.key()).await {
        Some((client, _)) => {
            let status: StatusResponse = client.get("/v1/status").await?;
            (Some(status.info), status.services)
        }
        None => {
            let stack = loaded.as_ref().map(|l| &l.stack);
            let services = match &target.kube {
                Some(spec) => crate::ops::read::kube_statuses(spec, &project, stack).await?,
                None => {
                    let engine = Engine::connect().await?;
                    crate::ops::read::statuses(&engine, &project, stack).await?
                }
            };
            (None, services)
        }
    };
    if args.json {
        let out = StatusJson {
            project,
            daemon,
            services,
        };
        super::print_json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    match &daemon {
        Some(info) => anstream::println!(
            "project {} · daemon pid {} up {} · {}",
            project,
            info.pid,
            output::human_ms(now_ms().saturating_sub(info.started_ms)),
            match &info.cluster {
                Some(cluster) => format!("Kubernetes {cluster}"),
                None => format!("engine {}", info.engine_version),
            }
        ),
        None => anstream::println!(
            "project {} · {}",
            project,
            paint(
                DIM,
                if target.kube.is_some() {
                    "no daemon running (state from the cluster)"
                } else {
                    "no daemon running (state from Docker)"
                }
            )
        ),
    }
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|s| {
            vec![
                s.service.clone(),
                paint(phase_style(s.phase), s.phase),
                s.ports_text(),
                s.restarts.to_string(),
                s.container_name.clone().unwrap_or_default(),
                s.detail
                    .as_deref()
                    .and_then(|d| d.lines().next())
                    .unwrap_or("")
                    .to_string(),
            ]
        })
        .collect();
    anstream::print!(
        "{}",
        output::table(
            &[
                "SERVICE",
                "STATE",
                "PORTS",
                "RESTARTS",
                "CONTAINER",
                "DETAIL"
            ],
            &rows
        )
    );
    Ok(ExitCode::SUCCESS)
}

/// The TUI needs a daemon: its state and logs come from the daemon's streams. Without one, say
/// how to start it rather than show a screen that can never fill.
async fn tui(
    target: &crate::target::DaemonTarget,
    loaded: Option<crate::stack::Loaded>,
) -> CmdResult {
    let project = target.project.clone();
    let Some((client, info)) = Client::connect(&target.key()).await else {
        return Err(Failure::runtime(match target.kube {
            None => format!(
                "no daemon runs for project {project}; start it with `novadev up` (`novadev status --plain` shows what Docker has)"
            ),
            Some(_) => format!(
                "no daemon runs for project {project} on Kubernetes; start it with `novadev up --k8s` (`novadev status --k8s --plain` shows what the cluster has)"
            ),
        }));
    };
    let tiers = loaded
        .map(|l| {
            l.stack
                .novadev
                .tiers
                .into_iter()
                .map(|(tier, _)| tier)
                .collect()
        })
        .unwrap_or_default();
    crate::tui::run(project, client, info, tiers)
        .await
        .map_err(|e| Failure::runtime(format!("terminal: {e}")))
}
