//! `novadev status`: the full-screen TUI (`crate::tui`) when stdout is a terminal; else, and with
//! `--plain` / `--json`, the services and their state printed once — from the daemon when one
//! runs, else from Docker's labels alone.

use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::output::{self, BOLD, DIM, GREEN, YELLOW, paint, phase_style};
use super::{CmdResult, Failure, Global, project_name};
use crate::client::Client;
use crate::engine::Engine;
use crate::presentation::{NO_TIER, health_label, state_label, tier_rank};
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
    if let Some(error) = daemon.as_ref().and_then(|i| i.stack_error.as_deref()) {
        anstream::println!(
            "{}\n{}",
            paint(
                super::output::YELLOW,
                "the stack files changed but do not load; the running stack is kept:"
            ),
            error
        );
    }
    let tier_order: Vec<String> = match (&daemon, &loaded) {
        (Some(info), _) => info.tiers.clone(),
        (None, Some(l)) => l
            .stack
            .novadev
            .tiers
            .iter()
            .map(|(t, _)| t.clone())
            .collect(),
        (None, None) => Vec::new(),
    };
    anstream::print!("{}", plain_table(&services, &tier_order));
    Ok(ExitCode::SUCCESS)
}

/// The services as a table, grouped as the old deploy script's status was: a heading line per
/// tier (in the stack's order, with how many of its services are up), then its services. Without
/// tiers, one plain list.
fn plain_table(services: &[ServiceStatus], tier_order: &[String]) -> String {
    let mut sorted: Vec<&ServiceStatus> = services.iter().collect();
    sorted.sort_by_cached_key(|s| (tier_rank(s.tier.as_deref(), tier_order), s.service.clone()));
    let tiered = sorted.iter().any(|s| s.tier.is_some());
    let indent = if tiered { "  " } else { "" };
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .map(|s| {
            vec![
                format!("{indent}{}", s.service),
                paint(phase_style(s.phase), state_label(s)),
                health_label(s).to_string(),
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
    let service = format!("{indent}SERVICE");
    let header = [
        service.as_str(),
        "STATE",
        "HEALTH",
        "PORTS",
        "RESTARTS",
        "CONTAINER",
        "DETAIL",
    ];
    let table = output::table(&header, &rows);
    let mut lines = table.lines();
    let mut out = String::new();
    if let Some(first) = lines.next() {
        out.push_str(first);
        out.push('\n');
    }
    let mut previous: Option<Option<&str>> = None;
    for (s, line) in sorted.iter().zip(lines) {
        let tier = s.tier.as_deref();
        if tiered && previous != Some(tier) {
            previous = Some(tier);
            let members: Vec<&&ServiceStatus> = sorted
                .iter()
                .filter(|m| m.tier.as_deref() == tier)
                .collect();
            let up = members.iter().filter(|m| m.phase.is_good()).count();
            let count = format!("{up}/{} ready", members.len());
            let count_style = if up == members.len() { GREEN } else { YELLOW };
            out.push_str(&format!(
                "{} {}\n",
                paint(BOLD, tier.unwrap_or(NO_TIER)),
                paint(count_style, count)
            ));
        }
        out.push_str(line);
        out.push('\n');
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Phase, PublishedPort};

    fn status(name: &str, phase: Phase, tier: Option<&str>) -> ServiceStatus {
        let mut s = ServiceStatus::new(name);
        s.phase = phase;
        s.tier = tier.map(String::from);
        s.container_name = Some(format!("nova-{name}-1"));
        s
    }

    fn plain(services: &[ServiceStatus], order: &[&str]) -> String {
        let order: Vec<String> = order.iter().map(|s| s.to_string()).collect();
        strip_ansi_escapes::strip_str(plain_table(services, &order))
    }

    #[test]
    fn the_plain_table_groups_services_by_tier_in_the_stacks_order_with_health() {
        let mut master = status("redis-master", Phase::Ready, Some("Redis"));
        master.has_healthcheck = true;
        master.ports = vec![PublishedPort {
            host_ip: "127.0.0.1".into(),
            host_port: 6379,
            container_port: 6379,
            protocol: "tcp".into(),
        }];
        let mut sentinel = status("redis-sentinel-1", Phase::Unhealthy, Some("Redis"));
        sentinel.has_healthcheck = true;
        sentinel.restarts = 2;
        let mut social = status("social-service", Phase::CrashLoop, Some("Services"));
        social.detail = Some("exited with code 101; restarting in 8s\nmore".into());
        let services = vec![
            social,
            status("postgres-init", Phase::Completed, Some("PostgreSQL")),
            sentinel,
            master,
            status("adminer", Phase::Starting, None),
        ];
        let text = plain(&services, &["Redis", "PostgreSQL", "Services"]);
        let expected = [
            "  SERVICE           STATE       HEALTH     PORTS                     RESTARTS  CONTAINER                DETAIL",
            "Redis 1/2 ready",
            "  redis-master      ready       healthy    127.0.0.1:6379->6379/tcp  0         nova-redis-master-1",
            "  redis-sentinel-1  unhealthy   unhealthy                            2         nova-redis-sentinel-1-1",
            "PostgreSQL 1/1 ready",
            "  postgres-init     completed   —                                    0         nova-postgres-init-1",
            "Services 0/1 ready",
            "  social-service    crash-loop  —                                    0         nova-social-service-1    exited with code 101; restarting in 8s",
            "other 0/1 ready",
            "  adminer           starting    —                                    0         nova-adminer-1",
            "",
        ]
        .join("\n");
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn without_tiers_the_plain_table_is_one_list() {
        let services = vec![
            status("web", Phase::Ready, None),
            status("db", Phase::Waiting, None),
        ];
        let text = plain(&services, &[]);
        let expected = [
            "SERVICE  STATE    HEALTH  PORTS  RESTARTS  CONTAINER   DETAIL",
            "db       waiting  —              0         nova-db-1",
            "web      ready    —              0         nova-web-1",
            "",
        ]
        .join("\n");
        assert_eq!(text, expected, "\n{text}");
    }
}
