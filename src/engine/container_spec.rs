//! The translation of a service into a container: `Stack` → `ContainerSpec` (the engine's create
//! body, the networks to join after creation, the platform). Pure: it makes no Docker call
//! (`containers.rs` does) and decides nothing about whether a container should exist.
//!
//! One function per concern: labels, ports, mounts, healthcheck, resources and privileges (the
//! `HostConfig`), networking.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, EndpointSettings, HealthConfig, HostConfig,
    HostConfigLogConfig, Mount, MountBindOptions, MountBindOptionsPropagationEnum,
    MountTmpfsOptions, MountType, MountVolumeOptions, NetworkingConfig, PortBinding,
    ResourcesUlimits, RestartPolicy as DockerRestart, RestartPolicyNameEnum,
};

use super::labels;
use crate::stack::model::{
    HealthTest, Healthcheck, MountSource, NetworkMode, PortMapping, Protocol, Runtime, Service,
    Stack, VolumeMount,
};

/// A container to create: the engine body plus the networks to join after creation (API 1.41
/// accepts only one endpoint at create time).
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub name: String,
    pub body: ContainerCreateBody,
    pub extra_networks: Vec<(String, EndpointSettings)>,
    /// `platform:` (e.g. `linux/amd64`), passed with the create call.
    pub platform: Option<String>,
}

/// Translate a service of the stack into a container spec. `config_hash` is stored as a label so
/// the next `up` can tell whether the container is still what the stack asks for.
///
/// `read_only_binds` are extra host directories mounted read-only (generated dev keys).
pub fn spec_for(
    stack: &Stack,
    service: &str,
    image: &str,
    config_hash: &str,
    read_only_binds: &[(std::path::PathBuf, String)],
) -> ContainerSpec {
    // The orchestrator only asks for services of the stack; a name it does not know gets a bare
    // container of the image rather than a panic.
    let fallback;
    let svc = match stack.services.get(service) {
        Some(svc) => svc,
        None => {
            fallback = Service::new(service);
            &fallback
        }
    };
    let (exposed, bindings) = ports(svc);
    let (mounts, binds) = mounts(stack, svc, read_only_binds);
    let network = networking(stack, svc);
    let mut host_config = host_config(&svc.runtime);
    host_config.restart_policy = Some(restart_policy_for(svc.restart));
    host_config.port_bindings = (!bindings.is_empty()).then_some(bindings);
    host_config.mounts = (!mounts.is_empty()).then_some(mounts);
    host_config.binds = (!binds.is_empty()).then_some(binds);
    host_config.init = svc.init;
    host_config.extra_hosts = (!svc.extra_hosts.is_empty()).then(|| svc.extra_hosts.clone());
    host_config.network_mode = network.mode;

    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: svc.command.clone(),
        entrypoint: svc.entrypoint.clone(),
        env: Some(
            svc.environment
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        ),
        labels: Some(container_labels(stack, svc, config_hash)),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        healthcheck: svc.healthcheck.as_ref().map(healthcheck),
        working_dir: svc.working_dir.clone(),
        user: svc.user.clone(),
        hostname: svc.hostname.clone(),
        stop_signal: svc.stop_signal.clone(),
        stop_timeout: svc
            .stop_grace_period
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        tty: Some(svc.tty),
        open_stdin: Some(svc.stdin_open),
        host_config: Some(host_config),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(network.endpoints),
        }),
        ..Default::default()
    };
    ContainerSpec {
        name: stack.container_name(service),
        body,
        extra_networks: network.extra,
        platform: svc.runtime.platform.clone(),
    }
}

fn nanos(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The service's labels plus novadev's: project, service, configuration hash, stack files.
fn container_labels(stack: &Stack, svc: &Service, config_hash: &str) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = svc
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.insert(labels::PROJECT.into(), stack.name.clone());
    out.insert(labels::SERVICE.into(), svc.name.clone());
    out.insert(labels::CONFIG_HASH.into(), config_hash.to_string());
    out.insert(
        labels::STACK_FILES.into(),
        stack
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    out
}

/// Bindings per container port, as the engine wants them.
type PortBindings = HashMap<String, Option<Vec<PortBinding>>>;

/// Exposed ports (published and `expose:`) and the host bindings of the published ones. A host
/// range onto one container port is passed as the range: the engine picks a free port in it.
fn ports(svc: &Service) -> (Vec<String>, PortBindings) {
    let mut exposed: Vec<String> = Vec::new();
    let mut bindings: PortBindings = HashMap::new();
    for port in &svc.ports {
        let key = format!("{}/{}", port.container_port, protocol(port));
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(port.host_ip.clone()),
                host_port: Some(host_port(port)),
            });
    }
    for e in &svc.expose {
        let key = if e.contains('/') {
            e.clone()
        } else {
            format!("{e}/tcp")
        };
        if !exposed.contains(&key) {
            exposed.push(key);
        }
    }
    (exposed, bindings)
}

fn protocol(port: &PortMapping) -> &'static str {
    match port.protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

fn host_port(port: &PortMapping) -> String {
    match (port.host_port, port.host_port_end) {
        (Some(lo), Some(hi)) => format!("{lo}-{hi}"),
        (Some(p), None) => p.to_string(),
        (None, _) => String::new(),
    }
}

/// Mounts (API objects) and binds (the `src:dst:options` strings, only for bind mounts asking for
/// SELinux relabelling with `:z`/`:Z`, which the Mount API cannot express).
fn mounts(
    stack: &Stack,
    svc: &Service,
    read_only_binds: &[(std::path::PathBuf, String)],
) -> (Vec<Mount>, Vec<String>) {
    let mut mounts = Vec::new();
    let mut binds = Vec::new();
    for v in &svc.volumes {
        match (&v.source, &v.selinux) {
            (MountSource::Bind { path }, Some(label)) => {
                let mode = if v.read_only { "ro" } else { "rw" };
                let mut options = format!("{mode},{label}");
                if let Some(p) = &v.propagation {
                    options.push(',');
                    options.push_str(p);
                }
                binds.push(format!("{}:{}:{options}", path.display(), v.target));
            }
            _ => mounts.push(mount(stack, v)),
        }
    }
    let files = svc
        .runtime
        .files
        .iter()
        .map(|f| (f.source.clone(), f.target.clone()));
    let extra = read_only_binds.iter().cloned().chain(files);
    for (host, target) in extra {
        mounts.push(Mount {
            target: Some(target),
            source: Some(host.display().to_string()),
            typ: Some(MountType::BIND),
            read_only: Some(true),
            ..Default::default()
        });
    }
    (mounts, binds)
}

fn mount(stack: &Stack, v: &VolumeMount) -> Mount {
    let base = Mount {
        target: Some(v.target.clone()),
        read_only: Some(v.read_only),
        ..Default::default()
    };
    let volume_options = v.nocopy.then(|| MountVolumeOptions {
        no_copy: Some(true),
        ..Default::default()
    });
    match &v.source {
        MountSource::Volume { name } => Mount {
            source: Some(stack.volume_name(name)),
            typ: Some(MountType::VOLUME),
            volume_options,
            ..base
        },
        MountSource::Anonymous => Mount {
            typ: Some(MountType::VOLUME),
            volume_options,
            ..base
        },
        MountSource::Bind { path } => Mount {
            source: Some(path.display().to_string()),
            typ: Some(MountType::BIND),
            bind_options: v.propagation.as_deref().map(|p| MountBindOptions {
                propagation: Some(propagation(p)),
                ..Default::default()
            }),
            ..base
        },
        MountSource::Tmpfs => Mount {
            typ: Some(MountType::TMPFS),
            tmpfs_options: v.tmpfs_size.map(|size| MountTmpfsOptions {
                size_bytes: Some(signed(size)),
                ..Default::default()
            }),
            ..base
        },
    }
}

fn propagation(text: &str) -> MountBindOptionsPropagationEnum {
    match text {
        "private" => MountBindOptionsPropagationEnum::PRIVATE,
        "rprivate" => MountBindOptionsPropagationEnum::RPRIVATE,
        "shared" => MountBindOptionsPropagationEnum::SHARED,
        "rshared" => MountBindOptionsPropagationEnum::RSHARED,
        "slave" => MountBindOptionsPropagationEnum::SLAVE,
        "rslave" => MountBindOptionsPropagationEnum::RSLAVE,
        _ => MountBindOptionsPropagationEnum::EMPTY,
    }
}

fn healthcheck(h: &Healthcheck) -> HealthConfig {
    HealthConfig {
        test: Some(match (&h.test, h.disable) {
            (_, true) | (None, _) => vec!["NONE".to_string()],
            (Some(HealthTest::Cmd(args)), false) => {
                let mut t = vec!["CMD".to_string()];
                t.extend(args.iter().cloned());
                t
            }
            (Some(HealthTest::Shell(cmd)), false) => vec!["CMD-SHELL".to_string(), cmd.clone()],
        }),
        interval: h.interval.map(nanos),
        timeout: h.timeout.map(nanos),
        retries: h.retries.map(i64::from),
        start_period: h.start_period.map(nanos),
        // Engines before API 1.44 ignore this; novadev's readiness runs the test at this pace itself.
        start_interval: h.start_interval.map(nanos),
    }
}

/// The stack's restart policy, applied by the engine itself: so that, as with Compose, services
/// with `restart: always` or `unless-stopped` come back after the engine or the host restarts,
/// with no daemon of ours running. novadev shows the crash loop from the engine's restart count.
pub fn restart_policy_for(policy: crate::stack::model::RestartPolicy) -> DockerRestart {
    use crate::stack::model::RestartPolicy;
    let (name, maximum_retry_count) = match policy {
        RestartPolicy::No => (RestartPolicyNameEnum::NO, None),
        RestartPolicy::Always => (RestartPolicyNameEnum::ALWAYS, None),
        RestartPolicy::UnlessStopped => (RestartPolicyNameEnum::UNLESS_STOPPED, None),
        RestartPolicy::OnFailure(max) => (RestartPolicyNameEnum::ON_FAILURE, max.map(i64::from)),
    };
    DockerRestart {
        name: Some(name),
        maximum_retry_count,
    }
}

/// Resources, privileges, files systems, kernel settings, DNS and logging: the parts of the
/// `HostConfig` that come from `Runtime`.
fn host_config(r: &Runtime) -> HostConfig {
    let some_vec = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    HostConfig {
        memory: r.resources.memory.map(signed),
        memory_reservation: r.resources.memory_reservation.map(signed),
        // Rounded to whole nano-CPUs, as the engine counts them.
        nano_cpus: r.resources.cpus.map(|c| (c * 1e9).round() as i64),
        pids_limit: r.resources.pids,
        cap_add: some_vec(&r.cap_add),
        cap_drop: some_vec(&r.cap_drop),
        privileged: r.privileged.then_some(true),
        readonly_rootfs: r.read_only.then_some(true),
        security_opt: some_vec(&r.security_opt),
        tmpfs: (!r.tmpfs.is_empty()).then(|| {
            r.tmpfs
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }),
        shm_size: r.shm_size.map(signed),
        sysctls: (!r.sysctls.is_empty()).then(|| {
            r.sysctls
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }),
        dns: some_vec(&r.dns),
        dns_search: some_vec(&r.dns_search),
        dns_options: some_vec(&r.dns_opt),
        devices: (!r.devices.is_empty()).then(|| r.devices.iter().map(|d| device(d)).collect()),
        ulimits: (!r.ulimits.is_empty()).then(|| {
            r.ulimits
                .iter()
                .map(|(name, u)| ResourcesUlimits {
                    name: Some(name.clone()),
                    soft: Some(u.soft),
                    hard: Some(u.hard),
                })
                .collect()
        }),
        log_config: r.logging.as_ref().map(|l| HostConfigLogConfig {
            typ: l.driver.clone(),
            config: (!l.options.is_empty()).then(|| {
                l.options
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }),
        }),
        ..Default::default()
    }
}

/// `host[:container[:permissions]]` (the container path defaults to the host's, permissions to
/// `rwm`).
fn device(text: &str) -> DeviceMapping {
    let mut parts = text.splitn(3, ':');
    let host = parts.next().unwrap_or_default().to_string();
    let container = parts
        .next()
        .map(str::to_string)
        .unwrap_or_else(|| host.clone());
    let permissions = parts.next().unwrap_or("rwm").to_string();
    DeviceMapping {
        path_on_host: Some(host),
        path_in_container: Some(container),
        cgroup_permissions: Some(permissions),
    }
}

/// Where a container's network comes from.
struct Networking {
    /// `HostConfig.NetworkMode`: the first network, or host/none/container:….
    mode: Option<String>,
    /// The endpoint joined at create.
    endpoints: HashMap<String, EndpointSettings>,
    /// The other networks, joined after create.
    extra: Vec<(String, EndpointSettings)>,
}

/// The first network (sorted, `default` first if present) is joined at create, the rest after;
/// with a `network_mode` there are no endpoints at all.
fn networking(stack: &Stack, svc: &Service) -> Networking {
    if let Some(mode) = &svc.runtime.network_mode {
        let mode = match mode {
            NetworkMode::Host => "host".to_string(),
            NetworkMode::None => "none".to_string(),
            NetworkMode::Service(other) => format!("container:{}", stack.container_name(other)),
            NetworkMode::Container(name) => format!("container:{name}"),
            NetworkMode::Network(name) => name.clone(),
        };
        return Networking {
            mode: Some(mode),
            endpoints: HashMap::new(),
            extra: Vec::new(),
        };
    }
    let mut nets: Vec<(&String, &crate::stack::model::ServiceNetwork)> =
        svc.networks.iter().collect();
    nets.sort_by_key(|(k, _)| (k.as_str() != "default", k.to_string()));
    // Links name a service's container; on a user-defined network the engine resolves them per
    // endpoint.
    let links: Vec<String> = svc
        .runtime
        .links
        .iter()
        .map(|(service, alias)| format!("{}:{alias}", stack.container_name(service)))
        .collect();
    let endpoint = |aliases: &Vec<String>| {
        let mut all = vec![svc.name.clone()];
        all.extend(aliases.iter().cloned());
        EndpointSettings {
            aliases: Some(all),
            links: (!links.is_empty()).then(|| links.clone()),
            ..Default::default()
        }
    };
    let mut out = Networking {
        mode: None,
        endpoints: HashMap::new(),
        extra: Vec::new(),
    };
    for (i, (key, net)) in nets.iter().enumerate() {
        let engine_name = stack.network_name(key);
        if i == 0 {
            out.mode = Some(engine_name.clone());
            out.endpoints.insert(engine_name, endpoint(&net.aliases));
        } else {
            out.extra.push((engine_name, endpoint(&net.aliases)));
        }
    }
    out
}

#[cfg(test)]
mod tests;
