//! `novadev restart|stop|start|rebuild SERVICE…`: through the project's daemon (started if none
//! runs), the one path every verb takes.

use std::process::ExitCode;

use clap::Args;

use super::output::{GREEN, RED, paint, phase_style};
use super::{CmdResult, Failure, Global, load_stack, stack_ref};
use crate::protocol::{ServiceStatus, Verb};

#[derive(Debug, Args)]
pub struct ControlArgs {
    /// The services to act on.
    #[arg(required = true)]
    pub services: Vec<String>,
    /// Print the resulting statuses as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub k8s: super::K8sFlags,
}

pub async fn run(global: &Global, args: ControlArgs, verb: Verb) -> CmdResult {
    let loaded = load_stack(global)?;
    for s in &args.services {
        if !loaded.stack.services.contains_key(s) {
            return Err(Failure::bad_input(format!("no service `{s}` in the stack")));
        }
    }
    let client = super::daemon_for(&args.k8s.target(&loaded.stack.name)).await?;
    let stack = stack_ref(global, &loaded)?;
    let mut results: Vec<ServiceStatus> = Vec::new();
    for s in &args.services {
        results.push(client.control(s, verb, Some(stack.clone())).await?);
    }
    let ok = results
        .iter()
        .all(|s| verb == Verb::Stop || s.phase.is_good());
    if args.json {
        super::print_json(&results)?;
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
