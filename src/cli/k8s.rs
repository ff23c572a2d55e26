//! `novadev k8s …`: the Kubernetes runtime's own commands. `render` prints the stack's manifests
//! (deterministic, one YAML stream, or one file per object with `-o DIR`); the warnings, naming
//! what could not be translated, go to stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::output::{YELLOW, paint};
use super::{CmdResult, Failure, Global, load_stack};
use crate::k8s::{self, RenderError, RenderOptions};

#[derive(Debug, Subcommand)]
pub enum K8sCommand {
    /// Print the stack's Kubernetes manifests (kubectl-appliable), or write them to a directory.
    Render {
        #[command(flatten)]
        stack: Global,
        #[command(flatten)]
        args: RenderArgs,
    },
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Write one file per object into DIR (created if needed) instead of printing.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// The default namespace (instead of x-novadev.k8s.namespace or the project name).
    #[arg(long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
}

pub fn run(global: &Global, command: K8sCommand) -> CmdResult {
    match command {
        K8sCommand::Render { stack, args } => render(&global.with(&stack), args),
    }
}

fn render(global: &Global, args: RenderArgs) -> CmdResult {
    let loaded = load_stack(global)?;
    let options = RenderOptions {
        namespace: args.namespace,
    };
    let rendered = k8s::render(&loaded.stack, &options).map_err(Failure::bad_input)?;
    for warning in &rendered.warnings {
        anstream::eprintln!("{} {warning}", paint(YELLOW, "warning:"));
    }
    // Generated key pairs are secrets of the developer's machine: `up --k8s` creates their
    // Secrets from the project's dev keys; rendered manifests only refer to them.
    for k in &rendered.key_secrets {
        anstream::eprintln!(
            "{} Secret `{}` (generated key pair `{}`) is not in the manifests: `novadev up --k8s` creates it from the project's dev keys",
            paint(YELLOW, "note:"),
            k.secret,
            k.key
        );
    }
    match &args.output {
        Some(dir) => {
            let written =
                k8s::manifest::write_dir(&rendered.manifests, dir).map_err(output_failure)?;
            anstream::eprintln!("wrote {} manifests to {}", written.len(), dir.display());
        }
        None => {
            let stream =
                k8s::manifest::to_yaml_stream(&rendered.manifests).map_err(output_failure)?;
            print!("{stream}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn output_failure(e: RenderError) -> Failure {
    Failure::runtime(e)
}
