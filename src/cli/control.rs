//! `novadev restart|stop|start SERVICE`: through the daemon when one runs, else directly.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::output::{GREEN, RED, paint, phase_style};
use super::{CmdResult, Failure, Global, load_stack};
use crate::client::Client;
use crate::engine::Engine;
use crate::orchestrator::Orchestrator;
use crate::orchestrator::control::Control;
use crate::orchestrator::status::{ServiceStatus, StatusBoard};

#[derive(Debug, Args)]
pub struct ControlArgs {
    /// The services to act on.
    #[arg(required = true)]
    pub services: Vec<String>,
    /// Print the resulting statuses as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What a control command asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Control(Control),
    Rebuild,
}

pub async fn run(global: &Global, args: ControlArgs, verb: Verb) -> CmdResult {
    let loaded = load_stack(global)?;
    let stack = loaded.stack;
    for s in &args.services {
        if !stack.services.contains_key(s) {
            return Err(Failure::bad_input(format!("no service `{s}` in the stack")));
        }
    }
    let path_verb = match verb {
        Verb::Control(Control::Restart) => "restart",
        Verb::Control(Control::Stop) => "stop",
        Verb::Control(Control::Start) => "start",
        Verb::Rebuild => "rebuild",
    };
    let mut results: Vec<ServiceStatus> = Vec::new();
    match Client::connect(&stack.name).await {
        Some((client, _)) => {
            for s in &args.services {
                let status: ServiceStatus = client
                    .post(&format!("/v1/services/{s}/{path_verb}"), &())
                    .await?;
                results.push(status);
            }
        }
        None => {
            let engine = Engine::connect().await?;
            let orchestrator = Orchestrator::new(engine, std::sync::Arc::new(StatusBoard::new()));
            for s in &args.services {
                let status = match verb {
                    Verb::Control(action) => {
                        orchestrator
                            .control(&stack, s, action, Duration::from_secs(120))
                            .await?
                    }
                    Verb::Rebuild => rebuild_here(&orchestrator, &stack, s).await?,
                };
                results.push(status);
            }
        }
    }
    let ok = results.iter().all(|s| match verb {
        Verb::Control(Control::Stop) => true,
        _ => s.phase.is_good(),
    });
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&results).unwrap_or_default()
        );
    } else {
        for s in &results {
            let mark = if ok {
                paint(GREEN, "✓")
            } else {
                paint(RED, "✗")
            };
            anstream::println!(
                "{mark} {} {}{}",
                s.service,
                paint(phase_style(s.phase), s.phase),
                s.detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `rebuild` without a daemon: build, then bring that service up again in this process.
async fn rebuild_here(
    orchestrator: &Orchestrator,
    stack: &crate::stack::model::Stack,
    service: &str,
) -> Result<ServiceStatus, Failure> {
    let svc = &stack.services[service];
    if svc.build.is_none() && svc.novadev.host_build.is_none() {
        return Err(Failure::bad_input(format!(
            "service `{service}` has nothing to build (no build: or x-novadev.host_build)"
        )));
    }
    if orchestrator.rebuild_image(stack, service).await.is_ok() {
        let options = crate::orchestrator::UpOptions {
            services: vec![service.to_string()],
            wait_timeout: Duration::from_secs(300),
            build: false,
        };
        orchestrator
            .up(std::sync::Arc::new(stack.clone()), &options)
            .await?;
    }
    orchestrator
        .board()
        .get(service)
        .ok_or_else(|| Failure::runtime(format!("service `{service}` vanished")))
}
