//! `novadev down` and `novadev cleanup`: through the project's daemon (started if none runs),
//! which takes the project down and exits.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use clap::Args;

use super::output::{DIM, GREEN, paint};
use super::{CmdResult, Failure, Global, project_name, stack_ref};
use crate::client::wait_gone;
use crate::protocol::{DownReport, DownRequest};
use crate::stack::Loaded;

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Print what was removed as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub k8s: super::K8sFlags,
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Also remove the project's volumes (their data is lost). Images novadev built for the
    /// project are always removed.
    #[arg(long)]
    pub volumes: bool,
    /// Don't ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print what was removed as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub k8s: super::K8sFlags,
}

pub async fn down(global: &Global, args: DownArgs) -> CmdResult {
    let (project, loaded) = project_name(global)?;
    let target = args.k8s.target(&project);
    let report = take_down(global, &target, loaded.as_ref(), false, false).await?;
    print_report(&project, &report, args.json, "stopped")?;
    Ok(ExitCode::SUCCESS)
}

pub async fn cleanup(global: &Global, args: CleanupArgs) -> CmdResult {
    let (project, loaded) = project_name(global)?;
    if !args.yes && !confirm(&project, args.volumes)? {
        anstream::println!("nothing removed");
        return Ok(ExitCode::from(1));
    }
    let target = args.k8s.target(&project);
    // On a cluster there are no images of ours to remove.
    let images = target.kube.is_none();
    let report = take_down(global, &target, loaded.as_ref(), args.volumes, images).await?;
    print_report(&project, &report, args.json, "removed")?;
    Ok(ExitCode::SUCCESS)
}

async fn take_down(
    global: &Global,
    target: &crate::target::DaemonTarget,
    loaded: Option<&Loaded>,
    volumes: bool,
    images: bool,
) -> Result<DownReport, Failure> {
    let client = super::daemon_for(target).await?;
    let stack = match loaded {
        Some(loaded) => Some(stack_ref(global, loaded)?),
        None => None,
    };
    let report = client
        .down(&DownRequest {
            stack,
            volumes,
            images,
        })
        .await?;
    wait_gone(&target.paths().socket).await;
    Ok(report)
}

fn confirm(project: &str, volumes: bool) -> Result<bool, Failure> {
    let what = if volumes {
        "containers, networks and volumes (data is lost)"
    } else {
        "containers and networks"
    };
    if !std::io::stdin().is_terminal() {
        return Err(Failure::bad_input(format!(
            "cleanup would remove every {what} of project `{project}`; there is no terminal to ask, so pass --yes"
        )));
    }
    print!("Remove every {what} of project `{project}`? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::runtime(format!("reading the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

fn print_report(project: &str, report: &DownReport, json: bool, verb: &str) -> Result<(), Failure> {
    if json {
        return super::print_json(report);
    }
    for c in &report.containers {
        anstream::println!("  {} container {c}", paint(DIM, "removed"));
    }
    for n in &report.networks {
        anstream::println!("  {} network {n}", paint(DIM, "removed"));
    }
    for v in &report.volumes {
        anstream::println!("  {} volume {v}", paint(DIM, "removed"));
    }
    for i in &report.images {
        anstream::println!("  {} image {i}", paint(DIM, "removed"));
    }
    anstream::println!(
        "{} project {project} {verb}: {} container(s), {} network(s), {} volume(s), {} image(s)",
        paint(GREEN, "✓"),
        report.containers.len(),
        report.networks.len(),
        report.volumes.len(),
        report.images.len()
    );
    Ok(())
}
