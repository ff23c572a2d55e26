//! The Kubernetes renderer: golden files (insta) of stacks/nova and of the fixtures, strict
//! schema validation of everything rendered (scripts/k8s-validate.sh: kubernetes-validate,
//! Kubernetes 1.33), and the translation rules checked on the typed objects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PodSpec, Secret, Service};
use novadev::k8s::manifest::{self, Manifest};
use novadev::k8s::{RenderError, RenderOptions, Rendered, render};
use novadev::stack::{LoadOptions, Stack, load};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Loads with an empty environment: only the stack and its `.env` decide, so the golden files
/// do not depend on the shell the tests run in.
fn load_files(files: &[&str]) -> Stack {
    let opts = LoadOptions {
        files: files.iter().map(|f| repo().join(f)).collect(),
        working_dir: repo(),
        ..LoadOptions::default()
    };
    match load(&opts) {
        Ok(loaded) => loaded.stack,
        Err(e) => panic!("loading {files:?}: {e}"),
    }
}

fn rendered(files: &[&str]) -> Rendered {
    let stack = load_files(files);
    render(&stack, &RenderOptions::default()).unwrap_or_else(|e| panic!("rendering {files:?}: {e}"))
}

/// What `novadev k8s render` prints, plus its warnings, with the checkout's path made neutral.
fn golden(rendered: &Rendered) -> String {
    let mut out = String::from("# warnings\n");
    for w in &rendered.warnings {
        out.push_str(&format!("# {w}\n"));
    }
    out.push_str(&manifest::to_yaml_stream(&rendered.manifests).expect("YAML"));
    out.replace(repo().to_string_lossy().as_ref(), "<repo>")
}

fn find<'a>(rendered: &'a Rendered, kind: &str, name: &str) -> &'a Manifest {
    rendered
        .manifests
        .iter()
        .find(|m| m.kind() == kind && m.name() == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {:?}", names(rendered)))
}

fn names(rendered: &Rendered) -> Vec<String> {
    rendered
        .manifests
        .iter()
        .map(|m| format!("{} {}", m.kind(), m.object_ref()))
        .collect()
}

fn pod_of(m: &Manifest) -> &PodSpec {
    let spec = match m {
        Manifest::Deployment(Deployment { spec: Some(s), .. }) => s.template.spec.as_ref(),
        Manifest::StatefulSet(StatefulSet { spec: Some(s), .. }) => s.template.spec.as_ref(),
        Manifest::Job(Job { spec: Some(s), .. }) => s.template.spec.as_ref(),
        other => panic!("{} is not a workload", other.kind()),
    };
    spec.expect("pod spec")
}

fn init_names(m: &Manifest) -> Vec<String> {
    pod_of(m)
        .init_containers
        .iter()
        .flatten()
        .map(|c| c.name.clone())
        .collect()
}

#[test]
fn nova_renders_like_the_golden_file() {
    insta::assert_snapshot!("nova", golden(&rendered(&["stacks/nova/compose.yaml"])));
}

#[test]
fn small_fixture_renders_like_the_golden_file() {
    insta::assert_snapshot!(
        "small",
        golden(&rendered(&["tests/fixtures/k8s/small/compose.yaml"]))
    );
}

#[test]
fn rendering_twice_gives_the_same_bytes() {
    let a = golden(&rendered(&["stacks/nova/compose.yaml"]));
    let b = golden(&rendered(&["stacks/nova/compose.yaml"]));
    assert_eq!(a, b);
}

/// Every object of stacks/nova and of the fixtures, one file each, through kubernetes-validate
/// --strict (types, required fields, unknown fields) for Kubernetes 1.33.
#[test]
fn every_rendered_manifest_validates_against_kubernetes_1_33() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut count = 0;
    for (label, files) in [
        ("nova", vec!["stacks/nova/compose.yaml"]),
        ("small", vec!["tests/fixtures/k8s/small/compose.yaml"]),
        (
            "small-override",
            vec![
                "tests/fixtures/k8s/small/compose.yaml",
                "tests/fixtures/k8s/small/compose.override.yaml",
            ],
        ),
    ] {
        let r = rendered(&files);
        count += manifest::write_dir(&r.manifests, &dir.path().join(label))
            .expect("write")
            .len();
    }
    let output = Command::new(repo().join("scripts/k8s-validate.sh"))
        .arg(dir.path())
        .output()
        .expect("run scripts/k8s-validate.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "kubernetes-validate failed:\n{stdout}\n{stderr}"
    );
    let passed = format!("{stdout}{stderr}")
        .matches(" passed for resource ")
        .count();
    assert_eq!(passed, count, "every file validated:\n{stdout}\n{stderr}");
}

#[test]
fn workload_kinds_follow_the_compose_semantics() {
    let r = rendered(&["tests/fixtures/k8s/small/compose.yaml"]);
    // A dependent waits for migrate's successful completion: a Job.
    assert!(matches!(find(&r, "Job", "migrate"), Manifest::Job(_)));
    // db keeps data in a named volume: a StatefulSet with a claim template.
    let Manifest::StatefulSet(db) = find(&r, "StatefulSet", "db") else {
        unreachable!()
    };
    let spec = db.spec.as_ref().expect("spec");
    assert_eq!(spec.service_name.as_deref(), Some("db-headless"));
    let claims = spec.volume_claim_templates.as_ref().expect("claims");
    let claim = claims[0].spec.as_ref().expect("claim spec");
    assert_eq!(claims[0].metadata.name.as_deref(), Some("db-data"));
    assert_eq!(claim.storage_class_name.as_deref(), Some("fast"));
    let requests = claim.resources.as_ref().and_then(|r| r.requests.as_ref());
    assert_eq!(
        requests
            .and_then(|r| r.get("storage"))
            .map(|q| q.0.as_str()),
        Some("5Gi")
    );
    // api and worker are stateless: Deployments, api with the replicas it asked for.
    let Manifest::Deployment(api) = find(&r, "Deployment", "api") else {
        unreachable!()
    };
    assert_eq!(api.spec.as_ref().and_then(|s| s.replicas), Some(2));
    assert!(matches!(
        find(&r, "Deployment", "worker"),
        Manifest::Deployment(_)
    ));
}

#[test]
fn dependencies_become_init_containers_waiting_for_their_condition() {
    let r = rendered(&["tests/fixtures/k8s/small/compose.yaml"]);
    let api = find(&r, "Deployment", "api");
    assert_eq!(init_names(api), ["wait-created", "wait-db", "wait-migrate"]);
    let args: BTreeMap<String, Vec<String>> = pod_of(api)
        .init_containers
        .iter()
        .flatten()
        .map(|c| (c.name.clone(), c.args.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        args["wait-created"],
        [
            "wait",
            "--for=create",
            "--timeout=-1s",
            "--namespace=shop-data",
            "statefulset/db",
            "job/migrate"
        ]
    );
    assert!(args["wait-migrate"].contains(&"--for=condition=Complete".to_string()));
    assert!(args["wait-db"].contains(&"--for=jsonpath={.status.readyReplicas}=1".to_string()));
    // The app container gets no API token; the waits mount their own.
    let pod = pod_of(api);
    assert_eq!(pod.automount_service_account_token, Some(false));
    assert_eq!(pod.service_account_name.as_deref(), Some("shop-wait"));
    let app_mounts: Vec<&str> = pod.containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| m.name.as_str())
        .collect();
    assert!(
        !app_mounts.contains(&"novadev-wait-token"),
        "{app_mounts:?}"
    );
    // worker waits for api (service_started): only for it to exist.
    assert_eq!(
        init_names(find(&r, "Deployment", "worker")),
        ["wait-created"]
    );
    // db waits for nothing.
    assert!(init_names(find(&r, "StatefulSet", "db")).is_empty());
    // The waiting accounts live where the waiting pods are; the Role where the dependencies are.
    let bindings: Vec<&Manifest> = r
        .manifests
        .iter()
        .filter(|m| m.kind() == "RoleBinding")
        .collect();
    let where_: Vec<String> = bindings.iter().map(|m| m.object_ref()).collect();
    assert_eq!(where_, ["shop/shop-wait", "shop-data/shop-wait"]);
    let Manifest::RoleBinding(binding) = bindings[1] else {
        unreachable!()
    };
    let mut subjects: Vec<String> = binding
        .subjects
        .iter()
        .flatten()
        .map(|s| format!("{}/{}", s.namespace.clone().unwrap_or_default(), s.name))
        .collect();
    subjects.sort();
    assert_eq!(subjects, ["shop-data/shop-wait", "shop/shop-wait"]);
}

#[test]
fn tiers_pick_namespaces_and_every_namespace_is_rendered() {
    let r = rendered(&["tests/fixtures/k8s/small/compose.yaml"]);
    assert_eq!(r.placements["db"].namespace, "shop-data");
    assert_eq!(r.placements["migrate"].namespace, "shop-data");
    assert_eq!(r.placements["api"].namespace, "shop");
    let namespaces: Vec<&str> = r
        .manifests
        .iter()
        .filter(|m| m.kind() == "Namespace")
        .map(Manifest::name)
        .collect();
    assert_eq!(namespaces, ["shop", "shop-data"]);
    // Namespaces come first in the apply order.
    assert_eq!(r.manifests[0].kind(), "Namespace");
}

#[test]
fn secret_looking_environment_goes_to_a_secret() {
    let r = rendered(&["tests/fixtures/k8s/small/compose.yaml"]);
    let Manifest::Secret(Secret { data: Some(db), .. }) = find(&r, "Secret", "db-env") else {
        panic!("db-env Secret without data")
    };
    assert_eq!(db.keys().collect::<Vec<_>>(), ["POSTGRES_PASSWORD"]);
    let Manifest::ConfigMap(ConfigMap {
        data: Some(db_cm), ..
    }) = find(&r, "ConfigMap", "db-env")
    else {
        panic!("db-env ConfigMap without data")
    };
    assert_eq!(db_cm.keys().collect::<Vec<_>>(), ["POSTGRES_DB"]);
    // A URL with a password in it is a secret whatever its name.
    let Manifest::Secret(Secret {
        data: Some(migrate),
        ..
    }) = find(&r, "Secret", "migrate-env")
    else {
        panic!("migrate-env Secret without data")
    };
    assert!(migrate.contains_key("DATABASE_URL"));
}

#[test]
fn ports_become_services_with_protocols_and_grpc_gets_a_headless_one() {
    let r = rendered(&["tests/fixtures/k8s/small/compose.yaml"]);
    let Manifest::Service(Service {
        spec: Some(api), ..
    }) = find(&r, "Service", "api")
    else {
        panic!("api Service without spec")
    };
    let ports: Vec<(i32, String)> = api
        .ports
        .iter()
        .flatten()
        .map(|p| (p.port, p.protocol.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        ports,
        [
            (5353, "UDP".into()),
            (8080, "TCP".into()),
            (9090, "TCP".into()),
            (50051, "TCP".into())
        ]
    );
    let Manifest::Service(Service {
        spec: Some(grpc), ..
    }) = find(&r, "Service", "api-grpc")
    else {
        panic!("api-grpc Service without spec")
    };
    assert_eq!(grpc.cluster_ip.as_deref(), Some("None"));
    let grpc_ports: Vec<i32> = grpc.ports.iter().flatten().map(|p| p.port).collect();
    assert_eq!(grpc_ports, [50051]);
}

#[test]
fn bind_mounted_files_become_a_config_map_and_directories_a_warning() {
    let r = rendered(&["tests/fixtures/k8s/small/compose.yaml"]);
    let Manifest::ConfigMap(ConfigMap {
        data: Some(files), ..
    }) = find(&r, "ConfigMap", "migrate-files")
    else {
        panic!("migrate-files without data")
    };
    let sql = std::fs::read_to_string(repo().join("tests/fixtures/k8s/small/migrations/001.sql"))
        .expect("fixture");
    assert_eq!(files.get("001.sql"), Some(&sql));
    let mount = pod_of(find(&r, "Job", "migrate")).containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.mount_path == "/migrations/001.sql")
        .cloned()
        .expect("mount");
    assert_eq!(mount.sub_path.as_deref(), Some("001.sql"));
    assert!(
        r.warnings
            .iter()
            .any(|w| w.service.as_deref() == Some("worker")
                && w.message.contains("./config")
                && w.message.contains("not translated"))
    );
}

#[test]
fn built_images_get_the_registry_and_compose_runtime_keys_translate() {
    let r = rendered(&["tests/fixtures/k8s/small/compose.yaml"]);
    let pod = pod_of(find(&r, "Deployment", "api"));
    let app = &pod.containers[0];
    assert_eq!(
        app.image.as_deref(),
        Some("registry.example.com/shop/shop-api")
    );
    assert_eq!(app.image_pull_policy.as_deref(), Some("IfNotPresent"));
    let security = app.security_context.as_ref().expect("securityContext");
    assert_eq!(
        (security.run_as_user, security.run_as_group),
        (Some(1000), Some(1000))
    );
    assert_eq!(
        security.run_as_non_root,
        Some(true),
        "project default applies"
    );
    assert_eq!(pod.share_process_namespace, Some(true), "init: true");
    assert_eq!(pod.termination_grace_period_seconds, Some(3));
    let aliases = pod.host_aliases.as_ref().expect("hostAliases");
    assert_eq!(aliases[0].ip, "10.1.2.3");
    let readiness = app
        .readiness_probe
        .as_ref()
        .and_then(|p| p.http_get.as_ref());
    assert_eq!(readiness.and_then(|h| h.path.as_deref()), Some("/ready"));
    // The service's own setting beats the project default.
    let db = pod_of(find(&r, "StatefulSet", "db")).containers[0]
        .security_context
        .clone()
        .expect("db securityContext");
    assert_eq!(
        (db.run_as_non_root, db.run_as_user),
        (Some(false), Some(999))
    );
}

#[test]
fn override_files_merge_x_novadev_k8s_key_by_key() {
    let r = rendered(&[
        "tests/fixtures/k8s/small/compose.yaml",
        "tests/fixtures/k8s/small/compose.override.yaml",
    ]);
    assert_eq!(r.placements["api"].replicas, 3);
    // The override's storage.class joined the base file's storage.size.
    let Manifest::StatefulSet(db) = find(&r, "StatefulSet", "db") else {
        unreachable!()
    };
    let claims = db
        .spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.as_ref());
    let claim = claims.and_then(|c| c[0].spec.as_ref()).expect("claim");
    // db's own storage (5Gi, fast) beats both project defaults.
    assert_eq!(claim.storage_class_name.as_deref(), Some("fast"));
    let stack = load_files(&[
        "tests/fixtures/k8s/small/compose.yaml",
        "tests/fixtures/k8s/small/compose.override.yaml",
    ]);
    let project = stack.novadev.k8s.expect("project k8s");
    assert_eq!(project["storage"]["size"], "2Gi");
    assert_eq!(project["storage"]["class"], "standard");
    assert_eq!(project["namespaces"]["Data"], "shop-data");
}

#[test]
fn what_cannot_be_translated_is_named_in_a_warning() {
    let r = rendered(&["tests/fixtures/k8s/small/compose.yaml"]);
    let of = |service: &str| -> Vec<String> {
        r.warnings
            .iter()
            .filter(|w| w.service.as_deref() == Some(service))
            .map(|w| w.message.clone())
            .collect()
    };
    assert!(
        of("worker")
            .iter()
            .any(|m| m.contains("restart policy is not kept"))
    );
    assert!(of("db").iter().any(|m| m.contains("127.0.0.1:15432")));
    // Generated key pairs are no loss: `up --k8s` makes their Secrets (`k8s render` says so).
    let nova = rendered(&["stacks/nova/compose.yaml"]);
    assert_eq!(
        nova.key_secrets
            .iter()
            .map(|k| k.secret.as_str())
            .collect::<Vec<_>>(),
        ["nova-key-jwt"]
    );
}

#[test]
fn a_misspelt_setting_is_an_error_naming_the_service_and_key() {
    let mut stack = load_files(&["tests/fixtures/k8s/small/compose.yaml"]);
    let api = stack.services.get_mut("api").expect("api");
    api.novadev.k8s = Some(serde_json::json!({"replica": 2}));
    let err = render(&stack, &RenderOptions::default()).expect_err("unknown key");
    assert!(matches!(err, RenderError::Settings { .. }));
    let message = err.to_string();
    assert!(
        message.contains("service `api`") && message.contains("`replica`"),
        "{message}"
    );
}

#[test]
fn render_writes_one_file_per_object_in_apply_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(env!("CARGO_BIN_EXE_novadev"))
        .args(["k8s", "render", "-f"])
        .arg(repo().join("tests/fixtures/k8s/small/compose.yaml"))
        .arg("-o")
        .arg(dir.path())
        .output()
        .expect("run novadev");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("warning: worker: bind mount of ./config"),
        "{stderr}"
    );
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let r = rendered(&["tests/fixtures/k8s/small/compose.yaml"]);
    assert_eq!(files.len(), r.manifests.len());
    assert_eq!(
        files[..2],
        ["0-namespace-shop-data.yaml", "0-namespace-shop.yaml"]
    );
    assert!(
        files.iter().any(|f| f == "8-job-shop-data-migrate.yaml"),
        "{files:?}"
    );
    let first = std::fs::read_to_string(Path::new(dir.path()).join(&files[0])).expect("read");
    assert!(
        first.starts_with("apiVersion: v1\nkind: Namespace\n"),
        "{first}"
    );
}

#[test]
fn bad_stack_settings_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("compose.yaml");
    std::fs::write(
        &file,
        "services:\n  web:\n    image: nginx\n    x-novadev:\n      k8s: {replicas: -1}\n",
    )
    .expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_novadev"))
        .args(["k8s", "render", "-f"])
        .arg(&file)
        .output()
        .expect("run novadev");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("replicas must be 0 or more"), "{stderr}");
}
