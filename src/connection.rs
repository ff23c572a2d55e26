//! The "connection info" and "common commands" blocks `up` prints at the end (as the old deploy
//! script did), also served by the daemon for the TUI and the web UI.
//!
//! Sections come from the stack's `x-novadev.connection`; a last section lists the published
//! ports of services the stack's sections don't name.

use crate::protocol::ServiceStatus;
pub use crate::protocol::{CommandHint, ConnectionInfo, Section};
use crate::stack::model::Stack;

/// The service to use in example commands: the first of the last tier (the application
/// services, in the deploy script's order), else the first service.
fn example_service(stack: &Stack) -> Option<String> {
    stack
        .novadev
        .tiers
        .iter()
        .rev()
        .find_map(|(_, members)| members.first().cloned())
        .or_else(|| stack.services.keys().next().cloned())
}

/// Build the blocks. `novadev` is how the user invokes novadev for this stack (e.g. `novadev`
/// or `novadev -f other.yaml`).
pub fn connection_info(stack: &Stack, statuses: &[ServiceStatus], novadev: &str) -> ConnectionInfo {
    let mut sections: Vec<Section> = stack
        .novadev
        .connection
        .iter()
        .map(|(title, entries)| Section {
            title: title.clone(),
            entries: entries.clone(),
        })
        .collect();
    let named: Vec<&str> = stack
        .novadev
        .connection
        .iter()
        .flat_map(|(_, entries)| entries.iter().map(|(label, _)| label.as_str()))
        .collect();
    let ports: Vec<(String, String)> = statuses
        .iter()
        .filter(|s| !s.ports.is_empty() && !named.contains(&s.service.as_str()))
        .map(|s| {
            (
                s.service.clone(),
                s.ports
                    .iter()
                    .map(|p| {
                        format!(
                            "{}:{} ({}/{})",
                            p.host_ip, p.host_port, p.container_port, p.protocol
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })
        .collect();
    if !ports.is_empty() {
        sections.push(Section {
            title: "Published ports".into(),
            entries: ports,
        });
    }
    let mut commands = Vec::new();
    if let Some(svc) = example_service(stack) {
        commands.push(CommandHint {
            command: format!("{novadev} logs -f {svc}"),
            what: format!("follow {svc}'s logs"),
        });
    }
    commands.push(CommandHint {
        command: format!("{novadev} status"),
        what: "live status of every service".into(),
    });
    if let Some(svc) = example_service(stack) {
        commands.push(CommandHint {
            command: format!("{novadev} restart {svc}"),
            what: "restart one service".into(),
        });
    }
    commands.push(CommandHint {
        command: format!("{novadev} down"),
        what: "stop everything (data volumes are kept)".into(),
    });
    commands.push(CommandHint {
        command: format!("{novadev} cleanup"),
        what: "remove every container, network and image the project made".into(),
    });
    ConnectionInfo {
        project: stack.name.clone(),
        sections,
        commands,
    }
}

/// The blocks as plain text (the CLI adds color on a terminal).
pub fn render_text(info: &ConnectionInfo) -> String {
    let mut out = String::new();
    if !info.sections.is_empty() {
        out.push_str("Connection info\n");
    }
    for section in &info.sections {
        out.push_str(&format!("  {}\n", section.title));
        let width = section
            .entries
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0);
        for (label, value) in &section.entries {
            out.push_str(&format!("    {label:<width$}  {value}\n"));
        }
    }
    if !info.sections.is_empty() {
        out.push('\n');
    }
    out.push_str("Common commands\n");
    let width = info
        .commands
        .iter()
        .map(|c| c.command.chars().count())
        .max()
        .unwrap_or(0);
    for c in &info.commands {
        out.push_str(&format!("  {:<width$}  # {}\n", c.command, c.what));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::PublishedPort;
    use crate::stack::model::Service;

    fn stack() -> Stack {
        let mut services = std::collections::BTreeMap::new();
        for name in ["postgres", "social-service", "tool"] {
            services.insert(name.to_string(), Service::new(name));
        }
        Stack {
            name: "nova".into(),
            project_dir: "/tmp".into(),
            files: vec![],
            services,
            networks: Default::default(),
            volumes: Default::default(),
            novadev: crate::stack::model::ProjectExt {
                tiers: vec![
                    ("PostgreSQL".into(), vec!["postgres".into()]),
                    ("Services".into(), vec!["social-service".into()]),
                ],
                connection: vec![(
                    "PostgreSQL".into(),
                    vec![(
                        "postgres".into(),
                        "postgres://nova@127.0.0.1:5432/nova_auth".into(),
                    )],
                )],
                requirements: Default::default(),
                k8s: None,
            },
        }
    }

    fn status(service: &str, port: u16) -> ServiceStatus {
        let mut s = ServiceStatus::new(service);
        s.ports.push(PublishedPort {
            host_ip: "127.0.0.1".into(),
            host_port: port,
            container_port: port,
            protocol: "tcp".into(),
        });
        s
    }

    #[test]
    fn declared_sections_come_first_and_unnamed_ports_are_listed() {
        let info = connection_info(
            &stack(),
            &[status("postgres", 5432), status("social-service", 8081)],
            "novadev",
        );
        assert_eq!(info.sections[0].title, "PostgreSQL");
        assert_eq!(info.sections[1].title, "Published ports");
        assert_eq!(
            info.sections[1].entries,
            vec![(
                "social-service".to_string(),
                "127.0.0.1:8081 (8081/tcp)".to_string()
            )]
        );
    }

    #[test]
    fn commands_use_the_first_application_service_and_the_invocation() {
        let info = connection_info(&stack(), &[], "novadev -f dev.yaml");
        assert_eq!(
            info.commands[0].command,
            "novadev -f dev.yaml logs -f social-service"
        );
        let text = render_text(&info);
        assert!(text.contains("Common commands"));
        assert!(text.contains("novadev -f dev.yaml cleanup"));
    }
}
