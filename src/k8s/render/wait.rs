//! `depends_on` on Kubernetes: each pod gets initContainers that wait, through the API server,
//! until its dependencies hold their condition; the app container starts only after them.
//!
//! Why the API server and not a TCP probe of the dependency's Service: (1) it waits for exactly
//! what Compose names — `service_healthy` is the dependency's readiness (Deployment Available,
//! StatefulSet ready replicas), `service_completed_successfully` is a Job's Complete condition,
//! which no port can tell; an open port is neither; (2) it needs neither cluster DNS nor Service
//! routing (kube-proxy) to the dependency, only the API server, which every cluster has.
//!
//! How: `kubectl wait` (image `x-novadev.k8s.wait_image`, whose entrypoint is kubectl ≥ 1.31;
//! default registry.k8s.io/kubectl): first
//! `--for=create` for every dependency (objects may be applied in any order, e.g. by
//! `kubectl apply -f DIR`), then one container per dependency with its condition. The
//! credentials are least privilege: a ServiceAccount `<project>-wait` whose Role may only read
//! Deployments, StatefulSets and Jobs, and whose token is mounted (projected) into the wait
//! containers only; the app container gets no API token.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    ConfigMapProjection, Container, DownwardAPIProjection, DownwardAPIVolumeFile,
    EmptyDirVolumeSource, EnvVar, KeyToPath, ObjectFieldSelector, ProjectedVolumeSource,
    ServiceAccount, ServiceAccountTokenProjection, Volume, VolumeMount, VolumeProjection,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::k8s::labels;
use crate::k8s::manifest::Manifest;
use crate::k8s::render::workload::restricted_security;
use crate::k8s::render::{Context, Placement, Warnings};
use crate::k8s::settings::WorkloadKind;
use crate::stack::model::{Condition, Service};

const TOKEN_VOLUME: &str = "novadev-wait-token";
const TMP_VOLUME: &str = "novadev-wait-tmp";
/// Where in-cluster kubectl looks for its credentials.
const TOKEN_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The ServiceAccount, Role and RoleBinding name.
pub fn account_name(project: &str) -> String {
    format!("{}-wait", project.replace('_', "-"))
}

/// What a waiting pod needs: its initContainers, the volumes they mount.
pub struct Waits {
    pub init_containers: Vec<Container>,
    pub volumes: Vec<Volume>,
}

/// The dependencies of a service that are in the stack, as (condition, placement).
fn dependencies<'a>(cx: &'a Context<'_>, service: &Service) -> Vec<(Condition, &'a Placement)> {
    service
        .depends_on
        .iter()
        .filter_map(|(dep, d)| cx.placements.get(dep).map(|p| (d.condition, p)))
        .collect()
}

/// `deployment/x`, `statefulset/x`, `job/x`.
fn object_ref(p: &Placement) -> String {
    let kind = match p.kind {
        WorkloadKind::Deployment => "deployment",
        WorkloadKind::Statefulset => "statefulset",
        WorkloadKind::Job => "job",
    };
    format!("{kind}/{}", p.name)
}

pub fn waits(cx: &Context<'_>, service: &Service, warnings: &mut Warnings) -> Option<Waits> {
    for (dep, _) in service
        .depends_on
        .iter()
        .filter(|(d, _)| !cx.placements.contains_key(*d))
    {
        warnings.service(
            &service.name,
            format!("depends on `{dep}`, which is not in the stack: not waited for"),
        );
    }
    let deps = dependencies(cx, service);
    if deps.is_empty() {
        return None;
    }
    let mut by_namespace: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (_, p) in &deps {
        by_namespace
            .entry(p.namespace.as_str())
            .or_default()
            .push(object_ref(p));
    }
    let mut init_containers = Vec::new();
    let several = by_namespace.len() > 1;
    for (i, (namespace, refs)) in by_namespace.into_iter().enumerate() {
        let name = if several {
            format!("wait-created-{}", i + 1)
        } else {
            "wait-created".to_string()
        };
        let mut args = kubectl_wait("--for=create", namespace);
        args.extend(refs);
        init_containers.push(wait_container(cx, name, args));
    }
    for (condition, p) in deps {
        let for_arg = match (p.kind, condition) {
            (_, Condition::ServiceStarted) => continue,
            (WorkloadKind::Job, Condition::ServiceHealthy) => {
                warnings.service(
                    &service.name,
                    format!(
                        "waits for `{}` to complete: a Job has no health of its own",
                        p.service
                    ),
                );
                "--for=condition=Complete".to_string()
            }
            (WorkloadKind::Job, Condition::ServiceCompletedSuccessfully) => {
                "--for=condition=Complete".to_string()
            }
            (WorkloadKind::Deployment, _) => "--for=condition=Available".to_string(),
            (WorkloadKind::Statefulset, _) => {
                format!("--for=jsonpath={{.status.readyReplicas}}={}", p.replicas)
            }
        };
        if condition == Condition::ServiceCompletedSuccessfully && p.kind != WorkloadKind::Job {
            warnings.service(
                &service.name,
                format!(
                    "waits for `{}` to be ready: it is not a Job, so it never completes",
                    p.service
                ),
            );
        }
        let mut args = kubectl_wait(&for_arg, &p.namespace);
        args.push(object_ref(p));
        init_containers.push(wait_container(cx, format!("wait-{}", p.name), args));
    }
    Some(Waits {
        init_containers,
        volumes: vec![token_volume(), tmp_volume()],
    })
}

fn kubectl_wait(for_arg: &str, namespace: &str) -> Vec<String> {
    // A negative timeout is kubectl's "wait for a week": the pod stays in Init until the
    // dependency is there; `novadev up --k8s` has its own, reported, deadline.
    vec![
        "wait".into(),
        for_arg.into(),
        "--timeout=-1s".into(),
        format!("--namespace={namespace}"),
    ]
}

fn wait_container(cx: &Context<'_>, name: String, args: Vec<String>) -> Container {
    Container {
        name,
        image: Some(cx.wait_image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        // Arguments only: kubectl images (registry.k8s.io/kubectl, bitnami/kubectl) have kubectl as
        // their entrypoint, wherever they keep the binary.
        args: Some(args),
        // kubectl keeps a discovery cache under $HOME; the root filesystem is read-only.
        env: Some(vec![EnvVar {
            name: "HOME".into(),
            value: Some("/tmp".into()),
            ..EnvVar::default()
        }]),
        security_context: Some(restricted_security()),
        volume_mounts: Some(vec![
            VolumeMount {
                name: TOKEN_VOLUME.into(),
                mount_path: TOKEN_DIR.into(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: TMP_VOLUME.into(),
                mount_path: "/tmp".into(),
                ..VolumeMount::default()
            },
        ]),
        ..Container::default()
    }
}

/// The same three files the automatic service account mount has, for the wait containers only.
fn token_volume() -> Volume {
    Volume {
        name: TOKEN_VOLUME.into(),
        projected: Some(ProjectedVolumeSource {
            default_mode: Some(0o444),
            sources: Some(vec![
                VolumeProjection {
                    service_account_token: Some(ServiceAccountTokenProjection {
                        path: "token".into(),
                        expiration_seconds: Some(3600),
                        ..ServiceAccountTokenProjection::default()
                    }),
                    ..VolumeProjection::default()
                },
                VolumeProjection {
                    config_map: Some(ConfigMapProjection {
                        name: "kube-root-ca.crt".into(),
                        items: Some(vec![KeyToPath {
                            key: "ca.crt".into(),
                            path: "ca.crt".into(),
                            ..KeyToPath::default()
                        }]),
                        ..ConfigMapProjection::default()
                    }),
                    ..VolumeProjection::default()
                },
                VolumeProjection {
                    downward_api: Some(DownwardAPIProjection {
                        items: Some(vec![DownwardAPIVolumeFile {
                            path: "namespace".into(),
                            field_ref: Some(ObjectFieldSelector {
                                field_path: "metadata.namespace".into(),
                                ..ObjectFieldSelector::default()
                            }),
                            ..DownwardAPIVolumeFile::default()
                        }]),
                    }),
                    ..VolumeProjection::default()
                },
            ]),
        }),
        ..Volume::default()
    }
}

fn tmp_volume() -> Volume {
    Volume {
        name: TMP_VOLUME.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

/// The ServiceAccounts (one per namespace with waiting pods), Roles (one per namespace holding
/// dependencies) and RoleBindings (granting the Role to the accounts that wait on it).
pub fn rbac(cx: &Context<'_>) -> Vec<Manifest> {
    let project = &cx.stack.name;
    let name = account_name(project);
    let mut waiting: BTreeSet<&str> = BTreeSet::new();
    let mut grants: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for service in cx.stack.services.values() {
        let own = &cx.placements[&service.name].namespace;
        for (_, dep) in dependencies(cx, service) {
            waiting.insert(own);
            grants
                .entry(dep.namespace.as_str())
                .or_default()
                .insert(own);
        }
    }
    let meta = |namespace: &str| ObjectMeta {
        name: Some(name.clone()),
        namespace: Some(namespace.to_string()),
        labels: Some(labels::project_labels(project)),
        ..ObjectMeta::default()
    };
    let mut out = Vec::new();
    for namespace in &waiting {
        out.push(Manifest::ServiceAccount(ServiceAccount {
            metadata: meta(namespace),
            automount_service_account_token: Some(false),
            ..ServiceAccount::default()
        }));
    }
    let read = ["get", "list", "watch"].map(String::from).to_vec();
    for (namespace, subjects) in grants {
        out.push(Manifest::Role(Role {
            metadata: meta(namespace),
            rules: Some(vec![
                PolicyRule {
                    api_groups: Some(vec!["apps".into()]),
                    resources: Some(vec!["deployments".into(), "statefulsets".into()]),
                    verbs: read.clone(),
                    ..PolicyRule::default()
                },
                PolicyRule {
                    api_groups: Some(vec!["batch".into()]),
                    resources: Some(vec!["jobs".into()]),
                    verbs: read.clone(),
                    ..PolicyRule::default()
                },
            ]),
        }));
        out.push(Manifest::RoleBinding(RoleBinding {
            metadata: meta(namespace),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "Role".into(),
                name: name.clone(),
            },
            subjects: Some(
                subjects
                    .into_iter()
                    .map(|ns| Subject {
                        kind: "ServiceAccount".into(),
                        name: name.clone(),
                        namespace: Some(ns.to_string()),
                        ..Subject::default()
                    })
                    .collect(),
            ),
        }));
    }
    out
}
