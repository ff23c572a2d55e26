//! `novadev port SERVICE PORT` (where a container port is published on the host) and `novadev
//! top [SERVICE…]` (the processes in the services' containers). Read straight from the engine.

use std::process::ExitCode;

use clap::Args;

use super::output::{BOLD, DIM, paint};
use super::{CmdResult, Failure, Global, project_name};
use crate::engine::Engine;

#[derive(Debug, Args)]
pub struct PortArgs {
    /// The service.
    pub service: String,
    /// The container port, optionally with its protocol (`5432`, `53/udp`).
    pub port: String,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// Services to show; default all that run.
    pub services: Vec<String>,
}

/// `5432` → (5432, "tcp"); `53/udp` → (53, "udp").
fn parse_port(text: &str) -> Result<(u16, String), Failure> {
    let (port, proto) = text.split_once('/').unwrap_or((text, "tcp"));
    let port = port
        .parse::<u16>()
        .map_err(|_| Failure::bad_input(format!("`{text}` is not a port (e.g. 5432 or 53/udp)")))?;
    match proto {
        "tcp" | "udp" | "sctp" => Ok((port, proto.to_string())),
        other => Err(Failure::bad_input(format!(
            "`{other}` is not a protocol (tcp, udp, sctp)"
        ))),
    }
}

pub async fn port(global: &Global, args: PortArgs) -> CmdResult {
    let (port, proto) = parse_port(&args.port)?;
    let (project, loaded) = project_name(global)?;
    if let Some(loaded) = &loaded
        && !loaded.stack.services.contains_key(&args.service)
    {
        return Err(Failure::bad_input(format!(
            "no service `{}` in the stack",
            args.service
        )));
    }
    let engine = Engine::connect().await?;
    let containers = engine.list_containers(&project).await?;
    let Some(container) = containers.iter().find(|c| c.service == args.service) else {
        return Err(Failure::runtime(format!(
            "service `{}` has no container; `novadev up {}` starts it",
            args.service, args.service
        )));
    };
    let details = engine.inspect(&container.id).await?;
    let bound: Vec<String> = details
        .ports
        .iter()
        .filter(|p| p.container_port == port && p.protocol == proto)
        .map(|p| format!("{}:{}", p.host_ip, p.host_port))
        .collect();
    if bound.is_empty() {
        return Err(Failure::runtime(format!(
            "service `{}` does not publish {port}/{proto}",
            args.service
        )));
    }
    for b in bound {
        println!("{b}");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn top(global: &Global, args: TopArgs) -> CmdResult {
    let (project, _) = project_name(global)?;
    let engine = Engine::connect().await?;
    let mut containers: Vec<_> = engine
        .list_containers(&project)
        .await?
        .into_iter()
        .filter(|c| c.is_running())
        .filter(|c| args.services.is_empty() || args.services.contains(&c.service))
        .collect();
    containers.sort_by(|a, b| a.service.cmp(&b.service));
    if let Some(missing) = args
        .services
        .iter()
        .find(|s| !containers.iter().any(|c| &c.service == *s))
    {
        return Err(Failure::runtime(format!(
            "service `{missing}` has no running container"
        )));
    }
    for (i, c) in containers.iter().enumerate() {
        let (titles, processes) = engine.top(&c.id).await?;
        if i > 0 {
            anstream::println!();
        }
        anstream::println!("{} {}", paint(BOLD, &c.service), paint(DIM, &c.name));
        let header: Vec<&str> = titles.iter().map(String::as_str).collect();
        anstream::print!("{}", super::output::table(&header, &processes));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_read_with_or_without_their_protocol() {
        assert_eq!(parse_port("5432").unwrap(), (5432, "tcp".to_string()));
        assert_eq!(parse_port("53/udp").unwrap(), (53, "udp".to_string()));
        assert!(parse_port("http").is_err());
        assert!(parse_port("80/xyz").is_err());
        assert!(parse_port("70000").is_err());
    }
}
