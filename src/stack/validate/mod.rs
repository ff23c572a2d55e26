//! Merged raw files → the resolved `Stack`: profiles applied, defaults filled, env files folded
//! in, and every check that needs the whole stack or the disk (unknown services, networks and
//! volumes, build contexts, port clashes, duplicate container names).
//!
//! Problems are collected into the `Report`; a `Stack` is returned even when there are errors so
//! that the caller can run further checks (e.g. the dependency graph) and report everything at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

mod runtime;

use crate::stack::convert::{RawBuild, RawFileSource, RawRuntime, RawService, resolve};
use crate::stack::envfile::parse_env_file;
use crate::stack::error::Report;
use crate::stack::merge::Merged;
use crate::stack::model::{
    Build, Condition, Dependency, FileKind, Healthcheck, HostBuild, MountSource, Network,
    NetworkMode, Pos, ProjectExt, Service, ServiceExt, ServiceNetwork, Stack, Volume,
};
use crate::stack::source::{ReadError, Sources};

pub struct Finalize<'a> {
    pub name: String,
    pub project_dir: PathBuf,
    pub files: Vec<PathBuf>,
    pub profiles: &'a [String],
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    pub sources: &'a dyn Sources,
    /// Every stack file was read and parsed (else "no services" is not worth saying).
    pub all_files_read: bool,
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
        let declared = Declared {
            networks: &merged.networks,
            volumes: &merged.volumes,
            file_sources: &merged.file_sources,
        };
        let service = service(raw, f, &declared, report);
        services.insert(name, service);
    }
    // Dependencies need the full set of active services, so they are checked after the loop.
    let names: BTreeSet<String> = services.keys().cloned().collect();
    for service in services.values_mut() {
        check_dependencies(service, &names, &inactive, report);
    }
    check_health_conditions(&services, report);
    if services.is_empty() && f.all_files_read {
        let first = Pos {
            file: std::sync::Arc::new(f.files.first().cloned().unwrap_or_default()),
            line: 1,
            column: 1,
        };
        if inactive.is_empty() {
            report.error(&first, "the stack has no services");
        } else {
            let names: Vec<&str> = inactive.keys().map(String::as_str).collect();
            report.error(
                &first,
                format!(
                    "no service is active: {} need a profile; enable one with --profile",
                    names.join(", ")
                ),
            );
        }
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

    let tiers = tiers(
        merged.tiers.unwrap_or_default(),
        &services,
        &inactive,
        report,
    );

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

/// The top-level resources services refer to.
struct Declared<'a> {
    networks: &'a BTreeMap<String, crate::stack::convert::RawNetwork>,
    volumes: &'a BTreeMap<String, crate::stack::convert::RawVolume>,
    file_sources: &'a BTreeMap<(FileKind, String), RawFileSource>,
}

fn service(
    raw: RawService,
    f: &Finalize<'_>,
    declared: &Declared<'_>,
    report: &mut Report,
) -> Service {
    let name = raw.name.clone();
    // `image: ${UNSET}` is the empty string, which names no image (Compose treats it so too).
    let image = raw.image.map(|(i, _)| i).filter(|i| !i.is_empty());
    if image.is_none() && raw.build.is_none() && !raw.broken {
        report.error(
            &raw.pos,
            format!("service `{name}` has neither `image` nor `build`"),
        );
    }

    let build = raw.build.map(|b| build(&name, b, f, report));

    let mut environment = BTreeMap::new();
    for env_file in raw.env_file.unwrap_or_default() {
        environment.extend(read_env_file(&name, &env_file, f, report));
    }
    environment.extend(raw.environment);

    let mut depends_on = raw.depends_on;
    implied_dependencies(&raw.runtime, &mut depends_on);
    let mode = raw.runtime.network_mode.clone();
    let service_networks = service_networks(&name, raw.networks, mode.as_ref(), declared, report);
    let runtime = runtime::resolve(raw.runtime, &name, f, declared.file_sources, report);

    for mount in &raw.volumes {
        if let MountSource::Volume { name: volume } = &mount.source
            && !declared.volumes.contains_key(volume)
        {
            report.error(
                &mount.pos,
                format!(
                    "service `{name}` mounts volume `{volume}`, which is not declared under top-level `volumes:`"
                ),
            );
        }
    }

    let healthcheck = raw.healthcheck.map(healthcheck);
    let host_build = raw.host_build.map(|h| host_build(&name, h, f));

    Service {
        name: name.clone(),
        pos: raw.pos,
        image,
        build,
        command: raw.command,
        entrypoint: raw.entrypoint,
        environment,
        ports: raw.ports,
        expose: raw.expose,
        volumes: raw.volumes,
        networks: service_networks,
        depends_on,
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
        runtime,
        novadev: ServiceExt {
            tier: raw.tier,
            rebuild_on_change: raw.rebuild_on_change,
            host_build,
            keys: raw.keys.unwrap_or_default(),
            k8s: raw.k8s,
        },
    }
}

fn build(name: &str, b: RawBuild, f: &Finalize<'_>, report: &mut Report) -> Build {
    let (context, context_pos) = b.context.unwrap_or_else(|| (b.dir.clone(), b.pos.clone()));
    let (dockerfile, dockerfile_pos) = b
        .dockerfile
        .unwrap_or_else(|| ("Dockerfile".to_string(), context_pos.clone()));
    if !f.sources.is_dir(&context) {
        report.error(
            &context_pos,
            format!(
                "service `{name}`: build context `{}` does not exist or is not a directory",
                context.display()
            ),
        );
    } else if b.dockerfile_inline.is_none() && !f.sources.is_file(&context.join(&dockerfile)) {
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
        dockerfile_inline: b.dockerfile_inline,
        cache_from: b.cache_from.unwrap_or_default(),
        pos: b.pos,
    }
}

/// The display tiers, keeping only active services (an unknown name is a warning).
fn tiers(
    written: Vec<(String, Vec<String>, Pos)>,
    services: &BTreeMap<String, Service>,
    inactive: &BTreeMap<String, RawService>,
    report: &mut Report,
) -> Vec<(String, Vec<String>)> {
    let mut tiers = Vec::new();
    for (tier, members, pos) in written {
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
    tiers
}

fn healthcheck(h: crate::stack::convert::RawHealthcheck) -> Healthcheck {
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
}

fn host_build(name: &str, h: crate::stack::convert::RawHostBuild, f: &Finalize<'_>) -> HostBuild {
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
        live: h.live,
    }
}

/// `network_mode: service:x` and `links: [x]` need `x` running first, as `depends_on` would
/// (Compose adds the same dependencies). An explicit `depends_on` entry keeps its settings.
fn implied_dependencies(runtime: &RawRuntime, depends_on: &mut BTreeMap<String, Dependency>) {
    let implied = runtime
        .links
        .iter()
        .map(|(service, _, pos)| (service.clone(), pos.clone()))
        .chain(match &runtime.network_mode {
            Some((NetworkMode::Service(service), pos)) => Some((service.clone(), pos.clone())),
            _ => None,
        });
    for (service, pos) in implied {
        depends_on.entry(service).or_insert(Dependency {
            condition: Condition::ServiceStarted,
            required: true,
            restart: false,
            pos,
        });
    }
}

/// The networks a service joins: as written, else `default`; none with a `network_mode`.
fn service_networks(
    name: &str,
    raw: BTreeMap<String, (ServiceNetwork, Pos)>,
    network_mode: Option<&(NetworkMode, Pos)>,
    declared: &Declared<'_>,
    report: &mut Report,
) -> BTreeMap<String, ServiceNetwork> {
    if let Some((mode, pos)) = network_mode {
        if !raw.is_empty() {
            report.error(
                pos,
                format!(
                    "service `{name}` has both `network_mode: {mode}` and `networks:`; they cannot be combined"
                ),
            );
        }
        return BTreeMap::new();
    }
    let mut out: BTreeMap<String, ServiceNetwork> = BTreeMap::new();
    for (net, (settings, pos)) in raw {
        if net != "default" && !declared.networks.contains_key(&net) {
            report.error(
                &pos,
                format!(
                    "service `{name}` uses network `{net}`, which is not declared under top-level `networks:`"
                ),
            );
        }
        out.insert(net, settings);
    }
    if out.is_empty() {
        out.insert("default".to_string(), ServiceNetwork::default());
    }
    out
}

/// One `env_file` of a service: its pairs, or nothing (with the problem reported).
fn read_env_file(
    service: &str,
    env_file: &crate::stack::convert::EnvFileRef,
    f: &Finalize<'_>,
    report: &mut Report,
) -> Vec<(String, String)> {
    let content = match f.sources.read(&env_file.path) {
        Ok(content) => content,
        Err(ReadError::NotFound) if !env_file.required => return Vec::new(),
        Err(e) => {
            report.error(
                &env_file.pos,
                format!(
                    "service `{service}`: cannot read env_file `{}`: {e}",
                    env_file.path.display()
                ),
            );
            return Vec::new();
        }
    };
    let file_pos = |line: usize| Pos {
        file: std::sync::Arc::new(env_file.path.clone()),
        line,
        column: 1,
    };
    let Ok(content) = String::from_utf8(content) else {
        report.error(
            &file_pos(1),
            format!("in env_file of service `{service}`: not valid UTF-8"),
        );
        return Vec::new();
    };
    match parse_env_file(&content, f.lookup, &mut report.budget) {
        Ok(pairs) => pairs,
        Err(e) => {
            report.error(
                &file_pos(e.line),
                format!("in env_file of service `{service}`: {}", e.message),
            );
            Vec::new()
        }
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

/// `condition: service_healthy` on a service that cannot become healthy. A disabled healthcheck
/// never reports healthy (Compose v2 refuses it at `up`): an error at the `depends_on` entry. With
/// no `healthcheck:` at all, the image may still define one (Compose then waits on it, and so
/// does novadev), so the loader can only warn.
fn check_health_conditions(services: &BTreeMap<String, Service>, report: &mut Report) {
    for service in services.values() {
        for (dep, d) in &service.depends_on {
            if d.condition != Condition::ServiceHealthy {
                continue;
            }
            let Some(target) = services.get(dep) else {
                continue;
            };
            let name = &service.name;
            match &target.healthcheck {
                Some(h) if h.disable => report.error(
                    &d.pos,
                    format!(
                        "service `{name}` waits for `{dep}` to be healthy (service_healthy), \
                         but the healthcheck of `{dep}` is disabled"
                    ),
                ),
                Some(h) if h.test.is_some() => {}
                // No test of its own (at most new timings for the image's): the image decides.
                _ => report.warn(
                    &d.pos,
                    format!(
                        "service `{name}` waits for `{dep}` to be healthy (service_healthy), \
                         but `{dep}` has no `healthcheck:`; unless its image defines a \
                         HEALTHCHECK, `up` will fail on this dependency"
                    ),
                ),
            }
        }
    }
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
    use crate::stack::model::{PortMapping, Protocol};
    let order = reading_order(files);
    // A host range (`6005-6015:80`) lets the engine pick a free port: it claims none of its own.
    let mut all: Vec<(&Service, &PortMapping)> = services
        .values()
        .flat_map(|s| s.ports.iter().map(move |p| (s, p)))
        .filter(|(_, p)| p.host_port.is_some() && p.host_port_end.is_none())
        .collect();
    all.sort_by_key(|(_, p)| order(&p.pos));
    // By port and protocol, so that a range of thousands of ports is not compared pairwise.
    type Published<'s> = (&'s Service, &'s PortMapping);
    let mut seen: HashMap<(Option<u16>, Protocol), Vec<Published<'_>>> = HashMap::new();
    for (service, port) in all {
        let same = seen.entry((port.host_port, port.protocol)).or_default();
        let clash = same.iter().find(|(_, q)| {
            q.host_ip == port.host_ip || is_wildcard(&q.host_ip) || is_wildcard(&port.host_ip)
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
            None => same.push((service, port)),
        }
    }
}
