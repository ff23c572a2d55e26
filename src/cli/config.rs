//! `novadev config`: the fully resolved stack (after interpolation and merge), or every error.

use std::process::ExitCode;

use clap::Args;

use super::{CmdResult, Global, load_stack};

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// JSON instead of Compose YAML.
    #[arg(long)]
    pub json: bool,
    /// Only the service names, one per line.
    #[arg(long)]
    pub services: bool,
}

pub fn run(global: &Global, args: ConfigArgs) -> CmdResult {
    let loaded = load_stack(global)?;
    if args.services {
        for name in loaded.stack.services.keys() {
            println!("{name}");
        }
    } else if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&loaded.stack).unwrap_or_default()
        );
    } else {
        print!("{}", crate::stack::render_yaml(&loaded.stack));
    }
    Ok(ExitCode::SUCCESS)
}
