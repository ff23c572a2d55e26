//! A service's workload: the pod (container, probes, volumes, security, waits) inside a
//! Deployment, StatefulSet or Job, plus the claims of named volumes outside StatefulSets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapEnvSource, ConfigMapVolumeSource, Container, EmptyDirVolumeSource,
    EnvFromSource, ExecAction, HTTPGetAction, HostAlias, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe, SecretEnvSource, SecretVolumeSource, SecurityContext, Volume,
    VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::k8s::error::RenderError;
use crate::k8s::labels;
use crate::k8s::manifest::Manifest;
use crate::k8s::names;
use crate::k8s::render::config::{self, MountedFile};
use crate::k8s::render::network;
use crate::k8s::render::wait;
use crate::k8s::render::{Context, KeySecretRef, Warnings};
use crate::k8s::settings::{Security, Storage, WorkloadKind};
use crate::stack::model::{HealthTest, MountSource, PullPolicy, RestartPolicy, Service};

const DEFAULT_STORAGE: &str = "1Gi";

pub struct ServiceOutput {
    pub manifests: Vec<Manifest>,
    pub key_secrets: Vec<KeySecretRef>,
}

/// The container security context of novadev's own containers (the waits): the restricted
/// profile.
pub fn restricted_security() -> SecurityContext {
    SecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(65532),
        read_only_root_filesystem: Some(true),
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Capabilities::default()
        }),
        ..SecurityContext::default()
    }
}

/// A pod's volumes and mounts, and what they bring along.
#[derive(Default)]
struct PodStorage {
    volumes: Vec<Volume>,
    mounts: Vec<VolumeMount>,
    claim_templates: Vec<PersistentVolumeClaim>,
    key_secrets: Vec<KeySecretRef>,
    files_object: Option<Manifest>,
}

pub fn render_service(
    cx: &Context<'_>,
    service: &Service,
    warnings: &mut Warnings,
) -> Result<ServiceOutput, RenderError> {
    let placement = &cx.placements[&service.name];
    let settings = &cx.settings[&service.name];
    let env = config::split_environment(service, settings);
    let env_objects = config::environment_objects(cx, &service.name, &env, warnings);
    let security = settings
        .security
        .clone()
        .unwrap_or_default()
        .over(&cx.project.security.clone().unwrap_or_default());
    let mut storage = PodStorage::default();
    compose_volumes(cx, service, &mut storage, warnings)?;
    key_volumes(cx, service, &mut storage);
    if security.read_only_root_filesystem == Some(true)
        && !storage.mounts.iter().any(|m| m.mount_path == "/tmp")
    {
        // Most programs need a writable /tmp; a read-only root would take it away.
        storage.volumes.push(Volume {
            name: "novadev-tmp".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        });
        storage.mounts.push(mount("novadev-tmp", "/tmp", false));
    }

    let ports = network::ports(cx, service, warnings);
    let mut manifests = network::services(cx, service, &ports);
    let (readiness, liveness) = probes(cx, service, warnings);
    let mounts = std::mem::take(&mut storage.mounts);
    let container = Container {
        name: placement.name.clone(),
        image: Some(image(cx, service, warnings)),
        image_pull_policy: Some(pull_policy(cx, service).into()),
        command: service.entrypoint.clone(),
        args: service.command.clone(),
        working_dir: service.working_dir.clone(),
        env_from: env_from(&env_objects),
        ports: network::container_ports(&ports),
        readiness_probe: readiness,
        liveness_probe: liveness,
        resources: resources(cx, &service.name),
        security_context: container_security(service, &security, warnings),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        tty: service.tty.then_some(true),
        stdin: service.stdin_open.then_some(true),
        ..Container::default()
    };
    let volumes = std::mem::take(&mut storage.volumes);
    let pod = pod_spec(cx, service, container, volumes, &security, warnings);

    let mut config_parts: Vec<&Manifest> = env_objects.iter().collect();
    config_parts.extend(&storage.files_object);
    let template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(cx.labels(&service.name)),
            annotations: Some(pod_annotations(
                service,
                config::config_hash(&config_parts),
                warnings,
            )),
            ..ObjectMeta::default()
        }),
        spec: Some(pod),
    };
    manifests.extend(env_objects.iter().cloned());
    manifests.extend(storage.files_object);
    manifests.push(workload(
        cx,
        service,
        template,
        storage.claim_templates,
        warnings,
    ));
    Ok(ServiceOutput {
        manifests,
        key_secrets: storage.key_secrets,
    })
}

/// Compose's `volumes`: named ones (claims), bind-mounted files (a ConfigMap), scratch space.
fn compose_volumes(
    cx: &Context<'_>,
    service: &Service,
    storage: &mut PodStorage,
    warnings: &mut Warnings,
) -> Result<(), RenderError> {
    let placement = &cx.placements[&service.name];
    let mut files: Vec<(&Path, &str, bool)> = Vec::new();
    for (i, v) in service.volumes.iter().enumerate() {
        match &v.source {
            MountSource::Volume { name } => {
                let claim = names::volume_name(name)?;
                storage.mounts.push(mount(&claim, &v.target, v.read_only));
                if placement.kind == WorkloadKind::Statefulset {
                    let sharing = volumes_share(cx, name, &service.name);
                    if !sharing.is_empty() {
                        warnings.service(
                            &service.name,
                            format!(
                                "volume `{name}` is shared with {}: this StatefulSet gets its own claim",
                                sharing.join(", ")
                            ),
                        );
                    }
                    storage
                        .claim_templates
                        .push(claim_template(cx, &service.name, &claim));
                } else {
                    storage.volumes.push(Volume {
                        name: claim.clone(),
                        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                            claim_name: claim,
                            read_only: v.read_only.then_some(true),
                        }),
                        ..Volume::default()
                    });
                }
            }
            MountSource::Bind { path } if path.is_file() => {
                files.push((path.as_path(), v.target.as_str(), v.read_only));
            }
            MountSource::Bind { path } => warnings.service(
                &service.name,
                format!(
                    "bind mount of {} at {} is not translated: a host directory does not exist on a cluster's nodes (bake it into the image)",
                    cx.shown(path),
                    v.target
                ),
            ),
            MountSource::Anonymous | MountSource::Tmpfs => {
                let name = format!("novadev-scratch-{i}");
                storage.volumes.push(Volume {
                    name: name.clone(),
                    empty_dir: Some(EmptyDirVolumeSource {
                        medium: matches!(v.source, MountSource::Tmpfs).then(|| "Memory".into()),
                        ..EmptyDirVolumeSource::default()
                    }),
                    ..Volume::default()
                });
                storage.mounts.push(mount(&name, &v.target, v.read_only));
            }
        }
    }
    let (files_object, mounted) = config::files_object(cx, service, &files, warnings)?;
    if let Some(cm) = &files_object {
        storage.volumes.push(Volume {
            name: "novadev-files".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: cm.name().to_string(),
                default_mode: Some(0o444),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
        for MountedFile { key, target } in &mounted {
            storage.mounts.push(VolumeMount {
                name: "novadev-files".into(),
                mount_path: target.clone(),
                sub_path: Some(key.clone()),
                read_only: Some(true),
                ..VolumeMount::default()
            });
        }
    }
    storage.files_object = files_object;
    Ok(())
}

/// `x-novadev.keys`: a Secret volume per generated key pair (the Secret is made when applying).
fn key_volumes(cx: &Context<'_>, service: &Service, storage: &mut PodStorage) {
    let placement = &cx.placements[&service.name];
    for key in &service.novadev.keys {
        let secret = config::key_secret_name(&cx.stack.name, &key.name);
        let volume = format!("novadev-key-{}", key.name.replace('_', "-"));
        storage.volumes.push(Volume {
            name: volume.clone(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.clone()),
                default_mode: Some(0o444),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        storage.mounts.push(mount(&volume, &key.target, true));
        storage.key_secrets.push(KeySecretRef {
            namespace: placement.namespace.clone(),
            secret: secret.clone(),
            key: key.name.clone(),
        });
    }
}

/// The environment's ConfigMap and Secret, as the container's `envFrom`.
fn env_from(env_objects: &[Manifest]) -> Option<Vec<EnvFromSource>> {
    let sources: Vec<EnvFromSource> = env_objects
        .iter()
        .filter_map(|object| match object {
            Manifest::ConfigMap(cm) => Some(EnvFromSource {
                config_map_ref: Some(ConfigMapEnvSource {
                    name: cm.metadata.name.clone().unwrap_or_default(),
                    ..ConfigMapEnvSource::default()
                }),
                ..EnvFromSource::default()
            }),
            Manifest::Secret(s) => Some(EnvFromSource {
                secret_ref: Some(SecretEnvSource {
                    name: s.metadata.name.clone().unwrap_or_default(),
                    ..SecretEnvSource::default()
                }),
                ..EnvFromSource::default()
            }),
            _ => None,
        })
        .collect();
    (!sources.is_empty()).then_some(sources)
}

/// The pod around the app container: the waits, the Compose process and host settings.
fn pod_spec(
    cx: &Context<'_>,
    service: &Service,
    container: Container,
    mut volumes: Vec<Volume>,
    security: &Security,
    warnings: &mut Warnings,
) -> PodSpec {
    let mut pod = PodSpec {
        containers: vec![container],
        // The app gets no API token; the waits mount their own (see `wait`).
        automount_service_account_token: Some(false),
        termination_grace_period_seconds: service.stop_grace_period.map(|d| i64::from(seconds(d))),
        // Compose's `init: true` (an init process reaping zombies): with a shared process
        // namespace the pod's pause process is PID 1 and does that.
        share_process_namespace: service.init.filter(|i| *i),
        hostname: hostname(service, warnings),
        host_aliases: host_aliases(service, warnings),
        security_context: security.fs_group.map(|g| PodSecurityContext {
            fs_group: Some(g),
            ..PodSecurityContext::default()
        }),
        ..PodSpec::default()
    };
    if let Some(waits) = wait::waits(cx, service, warnings) {
        pod.service_account_name = Some(wait::account_name(&cx.stack.name));
        pod.init_containers = Some(waits.init_containers);
        volumes.extend(waits.volumes);
    }
    pod.volumes = (!volumes.is_empty()).then_some(volumes);
    pod
}

/// The Deployment, StatefulSet or Job that runs the pod template.
fn workload(
    cx: &Context<'_>,
    service: &Service,
    template: PodTemplateSpec,
    claim_templates: Vec<PersistentVolumeClaim>,
    warnings: &mut Warnings,
) -> Manifest {
    let placement = &cx.placements[&service.name];
    let meta = cx.meta(&service.name, placement.name.clone(), &placement.namespace);
    let selector = LabelSelector {
        match_labels: Some(labels::selector(&cx.stack.name, &service.name)),
        ..LabelSelector::default()
    };
    match placement.kind {
        WorkloadKind::Deployment => {
            restart_warning(service, "Deployment", warnings);
            Manifest::Deployment(Deployment {
                metadata: meta,
                spec: Some(DeploymentSpec {
                    replicas: Some(placement.replicas),
                    selector,
                    template,
                    ..DeploymentSpec::default()
                }),
                ..Deployment::default()
            })
        }
        WorkloadKind::Statefulset => {
            restart_warning(service, "StatefulSet", warnings);
            Manifest::StatefulSet(StatefulSet {
                metadata: meta,
                spec: Some(StatefulSetSpec {
                    replicas: Some(placement.replicas),
                    selector,
                    service_name: Some(network::headless_name(&placement.name)),
                    // Compose starts replicas together; ordered start-up only slows them.
                    pod_management_policy: Some("Parallel".into()),
                    template,
                    volume_claim_templates: (!claim_templates.is_empty())
                        .then_some(claim_templates),
                    ..StatefulSetSpec::default()
                }),
                ..StatefulSet::default()
            })
        }
        WorkloadKind::Job => {
            let (restart_policy, backoff) = job_restart(service, warnings);
            let mut template = template;
            if let Some(spec) = template.spec.as_mut() {
                spec.restart_policy = Some(restart_policy.into());
            }
            Manifest::Job(Job {
                metadata: meta,
                spec: Some(JobSpec {
                    backoff_limit: Some(backoff),
                    template,
                    ..JobSpec::default()
                }),
                ..Job::default()
            })
        }
    }
}

fn mount(name: &str, target: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_string(),
        mount_path: target.to_string(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

/// The other services that mount named volume `volume`.
fn volumes_share(cx: &Context<'_>, volume: &str, except: &str) -> Vec<String> {
    cx.stack
        .services
        .values()
        .filter(|s| s.name != except)
        .filter(|s| {
            s.volumes
                .iter()
                .any(|v| matches!(&v.source, MountSource::Volume { name } if name == volume))
        })
        .map(|s| format!("`{}`", s.name))
        .collect()
}

fn storage(cx: &Context<'_>, service: Option<&str>) -> Storage {
    let project = cx.project.storage.clone().unwrap_or_default();
    let own = service
        .and_then(|s| cx.settings[s].storage.clone())
        .unwrap_or_default();
    Storage {
        size: own.size.or(project.size),
        class: own.class.or(project.class),
    }
}

fn claim_spec(storage: Storage) -> PersistentVolumeClaimSpec {
    PersistentVolumeClaimSpec {
        access_modes: Some(vec!["ReadWriteOnce".into()]),
        storage_class_name: storage.class,
        resources: Some(VolumeResourceRequirements {
            requests: Some(BTreeMap::from([(
                "storage".to_string(),
                Quantity(storage.size.unwrap_or_else(|| DEFAULT_STORAGE.to_string())),
            )])),
            ..VolumeResourceRequirements::default()
        }),
        ..PersistentVolumeClaimSpec::default()
    }
}

fn claim_template(cx: &Context<'_>, service: &str, claim: &str) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(claim.to_string()),
            labels: Some(cx.labels(service)),
            ..ObjectMeta::default()
        },
        spec: Some(claim_spec(storage(cx, Some(service)))),
        ..PersistentVolumeClaim::default()
    }
}

/// Claims for named volumes mounted by Deployments and Jobs (a StatefulSet has its own): one per
/// volume and namespace, shared by the services that mount it.
pub fn standalone_claims(cx: &Context<'_>, warnings: &mut Warnings) -> Vec<Manifest> {
    let mut users: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for service in cx.stack.services.values() {
        let placement = &cx.placements[&service.name];
        if placement.kind == WorkloadKind::Statefulset {
            continue;
        }
        for v in &service.volumes {
            if let MountSource::Volume { name } = &v.source {
                users
                    .entry((placement.namespace.clone(), name.clone()))
                    .or_default()
                    .insert(service.name.clone());
            }
        }
    }
    let mut out = Vec::new();
    for ((namespace, volume), services) in users {
        let Ok(claim) = names::volume_name(&volume) else {
            continue; // reported by render_service
        };
        let only = (services.len() == 1)
            .then(|| services.iter().next().cloned())
            .flatten();
        if services.len() > 1 {
            warnings.project(format!(
                "volume `{volume}` is mounted by {}: its claim is ReadWriteOnce, so their pods must share a node",
                services.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
            ));
        }
        let mut meta_labels = labels::project_labels(&cx.stack.name);
        if let Some(service) = &only {
            meta_labels = cx.labels(service);
        }
        out.push(Manifest::PersistentVolumeClaim(PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(claim),
                namespace: Some(namespace),
                labels: Some(meta_labels),
                ..ObjectMeta::default()
            },
            spec: Some(claim_spec(storage(cx, only.as_deref()))),
            ..PersistentVolumeClaim::default()
        }));
    }
    out
}

/// Images novadev builds get the registry's prefix, if the stack names one.
fn image(cx: &Context<'_>, service: &Service, warnings: &mut Warnings) -> String {
    let image = service.image_ref(&cx.stack.name);
    let built = service.build.is_some() || service.novadev.host_build.is_some();
    if !built {
        return image;
    }
    match &cx.project.registry {
        Some(registry) => format!("{}/{image}", registry.trim_end_matches('/')),
        None => {
            warnings.service(
                &service.name,
                format!(
                    "image `{image}` is built by novadev: load it into the cluster's nodes (docker save | ctr import) or set x-novadev.k8s.registry"
                ),
            );
            image
        }
    }
}

fn pull_policy(cx: &Context<'_>, service: &Service) -> &'static str {
    let built = service.build.is_some() || service.novadev.host_build.is_some();
    match service.pull_policy {
        PullPolicy::Always => "Always",
        PullPolicy::Never => "Never",
        // A built image without a registry exists only where it was loaded: never pull it.
        _ if built && cx.project.registry.is_none() => "Never",
        PullPolicy::Missing | PullPolicy::Build => "IfNotPresent",
    }
}

/// Whole seconds, rounded up, at least 1 (probe fields cannot say less).
fn seconds(d: Duration) -> i32 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(s.max(1)).unwrap_or(i32::MAX)
}

/// readinessProbe from the healthcheck (or httpGet from `x-novadev.k8s.probes`), livenessProbe
/// only from `probes.liveness`: Compose's healthcheck never restarts a container.
fn probes(
    cx: &Context<'_>,
    service: &Service,
    warnings: &mut Warnings,
) -> (Option<Probe>, Option<Probe>) {
    let hc = service.healthcheck.as_ref().filter(|h| !h.disable);
    let timing = Probe {
        period_seconds: Some(hc.and_then(|h| h.interval).map_or(10, seconds)),
        timeout_seconds: Some(hc.and_then(|h| h.timeout).map_or(5, seconds)),
        failure_threshold: Some(
            hc.and_then(|h| h.retries)
                .map_or(3, |r| i32::try_from(r.max(1)).unwrap_or(i32::MAX)),
        ),
        ..Probe::default()
    };
    if let Some(h) = hc
        && (h.start_period.is_some() || h.start_interval.is_some())
    {
        warnings.service(
            &service.name,
            "healthcheck start_period/start_interval have no readinessProbe equivalent: the probe runs every period from the start",
        );
    }
    let http = cx.settings[&service.name].probes.clone();
    let http_probe = |path: &str, port: u16| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::Int(i32::from(port)),
            scheme: Some("HTTP".into()),
            ..HTTPGetAction::default()
        }),
        ..timing.clone()
    };
    let readiness = match (&http, hc.and_then(|h| h.test.as_ref())) {
        (Some(p), _) if p.readiness.is_some() => {
            p.readiness.as_deref().map(|path| http_probe(path, p.port))
        }
        (_, Some(test)) => Some(Probe {
            exec: Some(ExecAction {
                command: Some(match test {
                    HealthTest::Cmd(argv) => argv.clone(),
                    HealthTest::Shell(script) => {
                        vec!["/bin/sh".into(), "-c".into(), script.clone()]
                    }
                }),
            }),
            ..timing.clone()
        }),
        _ => None,
    };
    let liveness = http.as_ref().and_then(|p| {
        p.liveness.as_deref().map(|path| Probe {
            // Restarting is drastic: a liveness probe gets more slack than readiness.
            failure_threshold: Some(6),
            ..http_probe(path, p.port)
        })
    });
    (readiness, liveness)
}

fn resources(
    cx: &Context<'_>,
    service: &str,
) -> Option<k8s_openapi::api::core::v1::ResourceRequirements> {
    let r = cx.settings[service].resources.as_ref()?;
    let map = |m: &BTreeMap<String, String>| {
        (!m.is_empty()).then(|| {
            m.iter()
                .map(|(k, v)| (k.clone(), Quantity(v.clone())))
                .collect::<BTreeMap<_, _>>()
        })
    };
    Some(k8s_openapi::api::core::v1::ResourceRequirements {
        requests: map(&r.requests),
        limits: map(&r.limits),
        ..k8s_openapi::api::core::v1::ResourceRequirements::default()
    })
}

/// The container's securityContext: `x-novadev.k8s.security`, and Compose's numeric `user`.
fn container_security(
    service: &Service,
    security: &Security,
    warnings: &mut Warnings,
) -> Option<SecurityContext> {
    let (mut user, mut group) = (None, None);
    if let Some(spec) = &service.user {
        let (u, g) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec.as_str(), None),
        };
        match (u.parse::<i64>(), g.map(str::parse::<i64>)) {
            (Ok(u), None) => user = Some(u),
            (Ok(u), Some(Ok(g))) => (user, group) = (Some(u), Some(g)),
            _ => warnings.service(
                &service.name,
                format!("user `{spec}` is not numeric: Kubernetes takes only ids (set x-novadev.k8s.security.run_as_user)"),
            ),
        }
    }
    let drop_all = security.drop_all == Some(true);
    let context = SecurityContext {
        run_as_non_root: security.run_as_non_root,
        run_as_user: security.run_as_user.or(user),
        run_as_group: security.run_as_group.or(group),
        read_only_root_filesystem: security.read_only_root_filesystem,
        allow_privilege_escalation: drop_all.then_some(false),
        capabilities: drop_all.then(|| Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Capabilities::default()
        }),
        ..SecurityContext::default()
    };
    (context != SecurityContext::default()).then_some(context)
}

fn hostname(service: &Service, warnings: &mut Warnings) -> Option<String> {
    let h = service.hostname.as_ref()?;
    match names::service_name(h) {
        Ok(name) if name == *h => Some(name),
        _ => {
            warnings.service(
                &service.name,
                format!("hostname `{h}` is not an RFC 1035 label: not translated"),
            );
            None
        }
    }
}

/// `extra_hosts` (`host:ip`) → hostAliases, grouped by address.
fn host_aliases(service: &Service, warnings: &mut Warnings) -> Option<Vec<HostAlias>> {
    let mut by_ip: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in &service.extra_hosts {
        // The address may be IPv6 (with colons): the host name is what comes before the first one.
        let Some((host, ip)) = entry.split_once(':') else {
            continue;
        };
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        if ip.parse::<std::net::IpAddr>().is_ok() {
            by_ip
                .entry(ip.to_string())
                .or_default()
                .push(host.to_string());
        } else {
            warnings.service(
                &service.name,
                format!("extra_hosts `{entry}`: `{ip}` is not an IP address (host-gateway has no Kubernetes meaning): not translated"),
            );
        }
    }
    (!by_ip.is_empty()).then(|| {
        by_ip
            .into_iter()
            .map(|(ip, hostnames)| HostAlias {
                ip,
                hostnames: Some(hostnames),
            })
            .collect()
    })
}

/// Compose labels are free text: pod annotations, which are too; plus the config hash.
fn pod_annotations(
    service: &Service,
    hash: String,
    warnings: &mut Warnings,
) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::new();
    for (key, value) in &service.labels {
        if is_annotation_key(key) {
            annotations.insert(key.clone(), value.clone());
        } else {
            warnings.service(
                &service.name,
                format!("label `{key}` is not a valid annotation key: not translated"),
            );
        }
    }
    annotations.insert(labels::CONFIG_HASH.into(), hash);
    annotations
}

fn is_annotation_key(key: &str) -> bool {
    let name = key.rsplit_once('/').map_or(key, |(_, n)| n);
    !name.is_empty() && name.len() <= 63 && labels::is_label_value(name) && key.len() <= 316
}

fn restart_warning(service: &Service, kind: &str, warnings: &mut Warnings) {
    match service.restart {
        RestartPolicy::Always | RestartPolicy::UnlessStopped => {}
        RestartPolicy::No | RestartPolicy::OnFailure(_) => warnings.service(
            &service.name,
            format!("restart policy is not kept: a {kind}'s pods are always restarted"),
        ),
    }
}

/// A Job's pod restart policy and retry budget from Compose's `restart`.
fn job_restart(service: &Service, warnings: &mut Warnings) -> (&'static str, i32) {
    match service.restart {
        RestartPolicy::No => ("Never", 0),
        RestartPolicy::OnFailure(max) => (
            "OnFailure",
            max.map_or(6, |m| i32::try_from(m).unwrap_or(i32::MAX)),
        ),
        RestartPolicy::Always | RestartPolicy::UnlessStopped => {
            warnings.service(
                &service.name,
                "restart: always is not kept for a one-shot: the Job retries failures only",
            );
            ("OnFailure", 6)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_up_to_whole_seconds() {
        assert_eq!(seconds(Duration::from_millis(200)), 1);
        assert_eq!(seconds(Duration::from_secs(5)), 5);
        assert_eq!(seconds(Duration::from_millis(5100)), 6);
        assert_eq!(seconds(Duration::ZERO), 1);
    }

    #[test]
    fn compose_labels_become_annotations_when_they_can() {
        let mut service = Service::new("web");
        service
            .labels
            .insert("com.example.team".into(), "core".into());
        service.labels.insert("bad key!".into(), "x".into());
        let mut warnings = Warnings::default();
        let annotations = pod_annotations(&service, "h".into(), &mut warnings);
        assert_eq!(warnings.0.len(), 1);
        assert_eq!(
            annotations.get("com.example.team").map(String::as_str),
            Some("core")
        );
        assert!(!annotations.contains_key("bad key!"));
        assert_eq!(
            annotations.get(labels::CONFIG_HASH).map(String::as_str),
            Some("h")
        );
    }
}
