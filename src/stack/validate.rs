//! Merged raw files → the resolved `Stack`: profiles applied, defaults filled, env files folded
//! in, and every check that needs the whole stack or the disk (unknown services, networks and
//! volumes, build contexts, port clashes, duplicate container names).
//!
//! Problems are collected into the `Report`; a `Stack` is returned even when there are errors so
//! that the caller can run further checks (e.g. the dependency graph) and report everything at once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::stack::convert::{RawService, resolve};
use crate::stack::envfile::parse_env_file;
use crate::stack::error::Report;
use crate::stack::merge::Merged;
use crate::stack::model::{
    Build, Healthcheck, HostBuild, MountSource, Network, Pos, ProjectExt, Service, ServiceExt,
    ServiceNetwork, Stack, Volume,
};

pub struct Finalize<'a> {
    pub name: String,
    pub project_dir: PathBuf,
    pub files: Vec<PathBuf>,
    pub profiles: &'a [String],
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
}

/// Is a service with these `profiles:` enabled by the active profiles?
pub fn is_active(service_profiles: Option<&[String]>, active: &[String]) -> bool {
    match service_profiles {
        None | Some([]) => true,
        Some(list) => active
            .iter()
            .any(|a| a == "*" || list.iter().any(|p| p == a)),
    }
}

pub fn finalize(merged: Merged, f: &Finalize<'_>, report: &mut Report) -> Stack {
    let (active, inactive): (BTreeMap<_, _>, BTreeMap<_, _>) = merged
        .services
        .into_iter()
        .partition(|(_, s)| is_active(s.profiles.as_deref(), f.profiles));

    let mut services = BTreeMap::new();
    for (name, raw) in active {
        let service = service(raw, f, &merged.networks, &merged.volumes, report);
        services.insert(name, service);
    }
    // Dependencies need the full set of active services, so they are checked after the loop.
    let names: BTreeSet<String> = services.keys().cloned().collect();
    for service in services.values_mut() {
        check_dependencies(service, &names, &inactive, report);
    }
    check_container_names(&services, &f.files, report);
    check_host_ports(&services, &f.files, report);

    let mut networks: BTreeMap<String, Network> = merged
        .networks
        .into_iter()
        .map(|(key, n)| {
            (
                key,
                Network {
                    name: n.name,
                    external: n.external.unwrap_or(false),
                    driver: n.driver,
                    internal: n.internal.unwrap_or(false),
                    labels: n.labels,
                },
            )
        })
        .collect();
    if services
        .values()
        .any(|s| s.networks.contains_key("default"))
    {
        networks.entry("default".to_string()).or_default();
    }
    let volumes = merged
        .volumes
        .into_iter()
        .map(|(key, v)| {
            (
                key,
                Volume {
                    name: v.name,
                    external: v.external.unwrap_or(false),
                    driver: v.driver,
                    labels: v.labels,
                },
            )
        })
        .collect();

    let mut tiers = Vec::new();
    for (tier, members, pos) in merged.tiers.unwrap_or_default() {
        let mut kept = Vec::new();
        for member in members {
            if services.contains_key(&member) {
                kept.push(member);
            } else if !inactive.contains_key(&member) {
                report.warn(
                    &pos,
                    format!("tier `{tier}` names `{member}`, which is not a service"),
                );
            }
        }
        tiers.push((tier, kept));
    }

    Stack {
        name: f.name.clone(),
        project_dir: f.project_dir.clone(),
        files: f.files.clone(),
        services,
        networks,
        volumes,
        novadev: ProjectExt {
            tiers,
            connection: merged.connection.unwrap_or_default(),
            requirements: merged.requirements.unwrap_or_default(),
            k8s: merged.k8s,
        },
    }
}

fn service(
    raw: RawService,
    f: &Finalize<'_>,
    networks: &BTreeMap<String, crate::stack::convert::RawNetwork>,
    volumes: &BTreeMap<String, crate::stack::convert::RawVolume>,
    report: &mut Report,
) -> Service {
    let name = raw.name.clone();
    if raw.image.is_none() && raw.build.is_none() && !raw.broken {
        report.error(
            &raw.pos,
            format!("service `{name}` has neither `image` nor `build`"),
        );
    }

    let build = raw.build.map(|b| {
        let (context, context_pos) = b.context.unwrap_or_else(|| (b.dir.clone(), b.pos.clone()));
        let (dockerfile, dockerfile_pos) = b
            .dockerfile
            .unwrap_or_else(|| ("Dockerfile".to_string(), context_pos.clone()));
        if !context.is_dir() {
            report.error(
                &context_pos,
                format!(
                    "service `{name}`: build context `{}` does not exist or is not a directory",
                    context.display()
                ),
            );
        } else if !context.join(&dockerfile).is_file() {
            report.error(
                &dockerfile_pos,
                format!(
                    "service `{name}`: Dockerfile `{}` not found in build context `{}`",
                    dockerfile,
                    context.display()
                ),
            );
        }
        Build {
            context,
            dockerfile,
            args: b.args,
            target: b.target,
            pos: b.pos,
        }
    });

    let mut environment = BTreeMap::new();
    for env_file in raw.env_file.unwrap_or_default() {
        match std::fs::read_to_string(&env_file.path) {
            Ok(content) => match parse_env_file(&content, f.lookup) {
                Ok(pairs) => environment.extend(pairs),
                Err(e) => report.error(
                    &Pos {
                        file: std::sync::Arc::new(env_file.path.clone()),
                        line: e.line,
                        column: 1,
                    },
                    format!("in env_file of service `{name}`: {}", e.message),
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !env_file.required => {}
            Err(e) => report.error(
                &env_file.pos,
                format!(
                    "service `{name}`: cannot read env_file `{}`: {e}",
                    env_file.path.display()
                ),
            ),
        }
    }
    environment.extend(raw.environment);

    let mut service_networks: BTreeMap<String, ServiceNetwork> = BTreeMap::new();
    for (net, (settings, pos)) in raw.networks {
        if net != "default" && !networks.contains_key(&net) {
            report.error(
                &pos,
                format!(
                    "service `{name}` uses network `{net}`, which is not declared under top-level `networks:`"
                ),
            );
        }
        service_networks.insert(net, settings);
    }
    if service_networks.is_empty() {
        service_networks.insert("default".to_string(), ServiceNetwork::default());
    }

    for mount in &raw.volumes {
        if let MountSource::Volume { name: volume } = &mount.source
            && !volumes.contains_key(volume)
        {
            report.error(
                &mount.pos,
                format!(
                    "service `{name}` mounts volume `{volume}`, which is not declared under top-level `volumes:`"
                ),
            );
        }
    }

    let healthcheck = raw.healthcheck.map(|h| {
        let none = matches!(h.test, Some(None));
        let disable = h.disable.unwrap_or(false) || none;
        Healthcheck {
            test: if disable { None } else { h.test.flatten() },
            disable,
            interval: h.interval,
            timeout: h.timeout,
            retries: h.retries,
            start_period: h.start_period,
            start_interval: h.start_interval,
        }
    });

    let host_build = raw.host_build.map(|h| {
        let workdir = h.workdir.unwrap_or_else(|| f.project_dir.clone());
        HostBuild {
            artifact: resolve(&workdir, &h.artifact),
            command: h.command,
            workdir,
            base_image: h
                .base_image
                .unwrap_or_else(|| "debian:bookworm-slim".to_string()),
            install_path: h
                .install_path
                .unwrap_or_else(|| format!("/usr/local/bin/{name}")),
        }
    });

    Service {
        name: name.clone(),
        pos: raw.pos,
        image: raw.image.map(|(i, _)| i),
        build,
        command: raw.command,
        entrypoint: raw.entrypoint,
        environment,
        ports: raw.ports,
        expose: raw.expose,
        volumes: raw.volumes,
        networks: service_networks,
        depends_on: raw.depends_on,
        healthcheck,
        restart: raw.restart.unwrap_or_default(),
        profiles: raw.profiles.unwrap_or_default(),
        labels: raw.labels,
        container_name: raw.container_name.map(|(c, _)| c),
        pull_policy: raw.pull_policy.map(|(p, _)| p).unwrap_or_default(),
        working_dir: raw.working_dir,
        user: raw.user,
        hostname: raw.hostname,
        stop_signal: raw.stop_signal,
        stop_grace_period: raw.stop_grace_period,
        extra_hosts: raw
            .extra_hosts
            .into_iter()
            .map(|(host, ip)| format!("{host}:{ip}"))
            .collect(),
        init: raw.init,
        tty: raw.tty.unwrap_or(false),
        stdin_open: raw.stdin_open.unwrap_or(false),
        develop: raw.develop,
        novadev: ServiceExt {
            tier: raw.tier,
            rebuild_on_change: raw.rebuild_on_change,
            host_build,
            keys: raw.keys.unwrap_or_default(),
            k8s: raw.k8s,
        },
    }
}

fn check_dependencies(
    service: &mut Service,
    active: &BTreeSet<String>,
    inactive: &BTreeMap<String, RawService>,
    report: &mut Report,
) {
    let name = service.name.clone();
    service.depends_on.retain(|dep, d| {
        if active.contains(dep) {
            return true;
        }
        let problem = match inactive.get(dep) {
            Some(other) => format!(
                "service `{name}` depends on `{dep}`, which is not active (profiles: {}); enable one with --profile",
                other.profiles.as_deref().unwrap_or_default().join(", ")
            ),
            None => {
                let hint = crate::stack::keys::suggest(dep, active.iter().map(String::as_str))
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                format!("service `{name}` depends on unknown service `{dep}`{hint}")
            }
        };
        if d.required {
            report.error(&d.pos, problem);
        } else {
            report.warn(&d.pos, format!("{problem} (required: false; ignored)"));
        }
        false
    });
}

/// Orders positions the way the user reads them: files in load order, then line and column.
fn reading_order<'p>(files: &'p [PathBuf]) -> impl Fn(&Pos) -> (usize, usize, usize) + 'p {
    move |pos| {
        let file = files
            .iter()
            .position(|f| f.as_path() == pos.file.as_path())
            .unwrap_or(usize::MAX);
        (file, pos.line, pos.column)
    }
}

fn check_container_names(
    services: &BTreeMap<String, Service>,
    files: &[PathBuf],
    report: &mut Report,
) {
    let mut seen: BTreeMap<&str, &Service> = BTreeMap::new();
    let mut sorted: Vec<&Service> = services.values().collect();
    let order = reading_order(files);
    sorted.sort_by_key(|s| order(&s.pos));
    for service in sorted {
        let Some(container) = service.container_name.as_deref() else {
            continue;
        };
        match seen.get(container) {
            Some(first) => report.error(
                &service.pos,
                format!(
                    "container_name `{container}` of service `{}` is already used by service `{}` ({})",
                    service.name, first.name, first.pos
                ),
            ),
            None => {
                seen.insert(container, service);
            }
        }
    }
}

fn is_wildcard(ip: &str) -> bool {
    matches!(ip, "0.0.0.0" | "::" | "")
}

/// The same host port (same protocol, same address or a wildcard on either side) published twice.
fn check_host_ports(services: &BTreeMap<String, Service>, files: &[PathBuf], report: &mut Report) {
    let order = reading_order(files);
    let mut all: Vec<(&Service, &crate::stack::model::PortMapping)> = services
        .values()
        .flat_map(|s| s.ports.iter().map(move |p| (s, p)))
        .filter(|(_, p)| p.host_port.is_some())
        .collect();
    all.sort_by_key(|(_, p)| order(&p.pos));
    let mut seen: Vec<(&Service, &crate::stack::model::PortMapping)> = Vec::new();
    for (service, port) in all {
        let clash = seen.iter().find(|(_, q)| {
            q.host_port == port.host_port
                && q.protocol == port.protocol
                && (q.host_ip == port.host_ip
                    || is_wildcard(&q.host_ip)
                    || is_wildcard(&port.host_ip))
        });
        match clash {
            Some((first_service, first)) => report.error(
                &port.pos,
                format!(
                    "host port {}:{} is published twice: by service `{}` here and by service `{}` at {}",
                    port.host_ip,
                    port.host_port.unwrap_or_default(),
                    service.name,
                    first_service.name,
                    first.pos
                ),
            ),
            None => seen.push((service, port)),
        }
    }
}
