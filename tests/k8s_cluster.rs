//! The Kubernetes runtime against a real kube-apiserver + kube-controller-manager (v1.20.2,
//! built offline by scripts/k8s-local.sh). Without a cluster these tests FAIL, saying how to
//! start one; they never skip.
//!
//! Each test works in its own project and namespace, so they run in parallel and leave nothing.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::Api;
use novadev::k8s::apply::Outcome;
use novadev::k8s::cleanup::remaining;
use novadev::k8s::{
    CleanupOptions, Cluster, ConnectOptions, K8sError, Manifest, Phase, RenderOptions, Rendered,
    apply, apply_rendered, cleanup, key_secrets, read_states, render, wait_ready,
};
use novadev::stack::{LoadOptions, load};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const HOW_TO_START: &str = "no local Kubernetes control plane: start one with `scripts/k8s-local.sh start` \
     (it builds v1.20.2 from Debian's sources first if needed, ~10 min cold), or point \
     NOVADEV_K8S_KUBECONFIG at a cluster these tests may create namespaces in";

/// The kubeconfig of the cluster under test: `NOVADEV_K8S_KUBECONFIG`, else the one
/// scripts/k8s-local.sh wrote.
fn kubeconfig() -> PathBuf {
    if let Some(path) = std::env::var_os("NOVADEV_K8S_KUBECONFIG") {
        return PathBuf::from(path);
    }
    let output = Command::new(repo().join("scripts/k8s-local.sh"))
        .arg("env")
        .output()
        .unwrap_or_else(|e| panic!("{HOW_TO_START}\n(running scripts/k8s-local.sh env: {e})"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.trim().strip_prefix("export KUBECONFIG=") {
        Some(path) if output.status.success() => PathBuf::from(path),
        _ => panic!(
            "{HOW_TO_START}\n{}",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    }
}

async fn cluster() -> Cluster {
    let options = ConnectOptions {
        kubeconfig: Some(kubeconfig()),
        context: None,
    };
    Cluster::connect(&options)
        .await
        .unwrap_or_else(|e| panic!("{HOW_TO_START}\n({e})"))
}

/// A project name no other test (or earlier run) uses.
fn project(test: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "it-{test}-{}-{:x}",
        N.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

/// The apply fixture rendered as project `name`, into namespace `name`.
fn rendered(name: &str) -> Rendered {
    let opts = LoadOptions {
        files: vec![repo().join("tests/fixtures/k8s/apply/compose.yaml")],
        working_dir: repo(),
        ..LoadOptions::default()
    };
    let mut stack = load(&opts)
        .unwrap_or_else(|e| panic!("loading the fixture: {e}"))
        .stack;
    stack.name = name.to_string();
    let options = RenderOptions {
        namespace: Some(name.to_string()),
    };
    render(&stack, &options).unwrap_or_else(|e| panic!("rendering: {e}"))
}

async fn clean(cluster: &Cluster, project: &str) {
    let options = CleanupOptions {
        volumes: true,
        wait: Some(Duration::from_secs(120)),
    };
    if let Err(e) = cleanup(cluster, project, &options).await {
        panic!("cleanup of {project}: {e}");
    }
}

#[tokio::test]
async fn apply_creates_every_object_and_a_second_apply_changes_nothing() {
    let cluster = cluster().await;
    let name = project("apply");
    let r = rendered(&name);
    let keys = tempfile::tempdir().expect("tempdir");
    let extra = key_secrets(&r, keys.path()).expect("key secrets");
    let first = apply_rendered(&cluster, &r, extra.clone())
        .await
        .unwrap_or_else(|e| panic!("first apply: {e}"));
    assert_eq!(
        first.applied.len(),
        r.manifests.len() + 1,
        "the key Secret too"
    );
    assert!(
        first.applied.iter().all(|a| a.outcome == Outcome::Created),
        "{:?}",
        first.applied
    );

    // Every object is there, labelled.
    let left = remaining(&cluster, &name, true, std::slice::from_ref(&name))
        .await
        .expect("list");
    for m in &r.manifests {
        let wanted = format!(
            "{} {}/{}",
            m.kind(),
            m.namespace().unwrap_or_default(),
            m.name()
        );
        if m.kind() != "Namespace" {
            assert!(left.contains(&wanted), "{wanted} not found in {left:?}");
        }
    }
    let secret = Api::<Secret>::namespaced(cluster.client().clone(), &name)
        .get(&format!("{name}-key-signing"))
        .await
        .expect("key Secret");
    let data = secret.data.unwrap_or_default();
    assert!(data.contains_key("private.pem") && data.contains_key("public.pem"));

    // A new second on the clock: a server that stamps the apply time into managedFields would
    // rewrite every object now, unless the apply notices there is nothing to change.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = apply_rendered(&cluster, &r, extra.clone())
        .await
        .unwrap_or_else(|e| panic!("second apply: {e}"));
    let changed: Vec<_> = second
        .applied
        .iter()
        .filter(|a| a.outcome != Outcome::Unchanged)
        .collect();
    assert!(changed.is_empty(), "a second apply changed {changed:?}");
    // Objects no controller writes to keep the resourceVersion the first apply gave them; the
    // workloads' spec was written once (generation 1).
    for (a, b) in first.applied.iter().zip(&second.applied) {
        assert_eq!(a.object, b.object);
        if matches!(
            a.kind,
            "ConfigMap" | "Secret" | "Service" | "Role" | "RoleBinding"
        ) {
            assert_eq!(
                a.resource_version, b.resource_version,
                "{} {}",
                a.kind, a.object
            );
        }
    }
    let deployments = Api::<Deployment>::namespaced(cluster.client().clone(), &name);
    let web = deployments.get("web").await.expect("web");
    assert_eq!(
        web.metadata.generation,
        Some(1),
        "the spec was written once"
    );

    // A changed environment changes its ConfigMap and, through the config hash, rolls the pods.
    let mut stack = load(&LoadOptions {
        files: vec![repo().join("tests/fixtures/k8s/apply/compose.yaml")],
        working_dir: repo(),
        ..LoadOptions::default()
    })
    .unwrap_or_else(|e| panic!("loading the fixture: {e}"))
    .stack;
    stack.name = name.clone();
    if let Some(web) = stack.services.get_mut("web") {
        web.environment.insert("MODE".into(), "changed".into());
    }
    let changed = render(
        &stack,
        &RenderOptions {
            namespace: Some(name.clone()),
        },
    )
    .unwrap_or_else(|e| panic!("rendering: {e}"));
    let third = apply_rendered(&cluster, &changed, extra)
        .await
        .unwrap_or_else(|e| panic!("third apply: {e}"));
    let mut touched: Vec<String> = third
        .applied
        .iter()
        .filter(|a| a.outcome != Outcome::Unchanged)
        .map(|a| format!("{} {:?}", a.kind, a.outcome))
        .collect();
    touched.sort();
    assert_eq!(touched, ["ConfigMap Changed", "Deployment Changed"]);

    clean(&cluster, &name).await;
}

#[tokio::test]
async fn a_job_whose_template_changed_is_replaced() {
    let cluster = cluster().await;
    let name = project("job");
    let r = rendered(&name);
    apply_rendered(&cluster, &r, Vec::new())
        .await
        .unwrap_or_else(|e| panic!("apply: {e}"));
    let mut changed = r.clone();
    for m in &mut changed.manifests {
        if let Manifest::Job(job) = m {
            let container = job
                .spec
                .as_mut()
                .and_then(|s| s.template.spec.as_mut())
                .map(|s| &mut s.containers[0])
                .expect("container");
            container.args = Some(vec!["psql".into(), "--command=SELECT 2".into()]);
        }
    }
    let report = apply_rendered(&cluster, &changed, Vec::new())
        .await
        .unwrap_or_else(|e| panic!("second apply: {e}"));
    let job = report
        .applied
        .iter()
        .find(|a| a.kind == "Job")
        .expect("job");
    assert_eq!(job.outcome, Outcome::Replaced);
    clean(&cluster, &name).await;
}

#[tokio::test]
async fn an_invalid_object_gets_the_servers_message_and_what_was_applied_before() {
    let cluster = cluster().await;
    let name = project("invalid");
    let r = rendered(&name);
    let namespace = r
        .manifests
        .iter()
        .find(|m| m.kind() == "Namespace")
        .cloned()
        .expect("namespace");
    let mut bad = r
        .manifests
        .iter()
        .find(|m| m.kind() == "Deployment")
        .cloned()
        .expect("deployment");
    if let Manifest::Deployment(d) = &mut bad
        && let Some(spec) = d.spec.as_mut()
    {
        spec.replicas = Some(-1);
    }
    let err = apply(&cluster, &[namespace, bad])
        .await
        .expect_err("replicas -1 is invalid");
    let K8sError::Partial { applied, source } = &err else {
        panic!("expected a partial apply, got {err}");
    };
    assert_eq!(applied, &[format!("Namespace {name}")]);
    let K8sError::Rejected {
        code,
        message,
        object,
        kind,
    } = source.as_ref()
    else {
        panic!("expected a rejection, got {source}");
    };
    assert_eq!((*code, kind.as_str()), (422, "Deployment"));
    assert_eq!(object, &format!("{name}/web"));
    assert!(message.contains("spec.replicas"), "{message}");
    let sentence = err.to_string();
    assert!(
        sentence.contains("rejected Deployment") && sentence.contains("applied before it"),
        "{sentence}"
    );
    clean(&cluster, &name).await;
}

#[tokio::test]
async fn cleanup_keeps_claims_unless_asked_and_then_leaves_nothing() {
    let cluster = cluster().await;
    let name = project("cleanup");
    let r = rendered(&name);
    apply_rendered(&cluster, &r, Vec::new())
        .await
        .unwrap_or_else(|e| panic!("apply: {e}"));
    // The StatefulSet controller makes db's claim; wait for it.
    let mut claim_made = false;
    for _ in 0..60 {
        let left = remaining(&cluster, &name, true, &[]).await.expect("list");
        if left.iter().any(|l| l.starts_with("PersistentVolumeClaim ")) {
            claim_made = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(claim_made, "the StatefulSet's claim was not created");

    let keep = cleanup(
        &cluster,
        &name,
        &CleanupOptions {
            volumes: false,
            wait: Some(Duration::from_secs(120)),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("cleanup without volumes: {e}"));
    assert_eq!(keep.kept_namespaces, std::slice::from_ref(&name));
    let left = remaining(&cluster, &name, true, &[]).await.expect("list");
    assert!(
        !left.is_empty() && left.iter().all(|l| l.starts_with("PersistentVolumeClaim ")),
        "only the claim stays: {left:?}"
    );

    let all = cleanup(
        &cluster,
        &name,
        &CleanupOptions {
            volumes: true,
            wait: Some(Duration::from_secs(120)),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("cleanup with volumes: {e}"));
    assert!(
        all.deleted.contains(&format!("Namespace {name}")),
        "{:?}",
        all.deleted
    );
    let left = remaining(&cluster, &name, true, std::slice::from_ref(&name))
        .await
        .expect("list");
    assert!(left.is_empty(), "left behind: {left:?}");
    let ns = Api::<Namespace>::all(cluster.client().clone())
        .get_opt(&name)
        .await
        .expect("get namespace");
    assert!(ns.is_none(), "namespace {name} still exists");
}

#[tokio::test]
async fn states_say_what_each_service_waits_for_and_waiting_times_out_naming_them() {
    let cluster = cluster().await;
    let name = project("state");
    let r = rendered(&name);
    apply_rendered(&cluster, &r, Vec::new())
        .await
        .unwrap_or_else(|e| panic!("apply: {e}"));
    // This plane has no node: pods are made by the controllers and stay Pending.
    let mut states = Vec::new();
    for _ in 0..60 {
        states = read_states(&cluster, &name).await.expect("states");
        if states.len() == 3 && states.iter().all(|s| s.detail.starts_with("Pending")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let summary: Vec<(String, &str, Phase)> = states
        .iter()
        .map(|s| (s.service.clone(), s.kind, s.phase))
        .collect();
    assert_eq!(
        summary,
        [
            ("db".to_string(), "StatefulSet", Phase::Starting),
            ("init".to_string(), "Job", Phase::Starting),
            ("web".to_string(), "Deployment", Phase::Starting),
        ]
    );
    assert!(
        states.iter().all(|s| s.detail.starts_with("Pending")),
        "{states:?}"
    );
    let web = states.iter().find(|s| s.service == "web").expect("web");
    let ports: Vec<u16> = web.ports.iter().map(|p| p.port).collect();
    assert_eq!(ports, [8080, 50051]);
    assert_eq!((web.ready_replicas, web.replicas), (0, 1));

    let wanted: BTreeSet<String> = ["db", "web", "absent"].map(String::from).into();
    let mut updates = 0;
    let err = wait_ready(&cluster, &name, &wanted, Duration::from_secs(2), |_| {
        updates += 1
    })
    .await
    .expect_err("nothing can be ready without a node");
    let K8sError::Timeout { pending, .. } = &err else {
        panic!("expected a timeout, got {err}");
    };
    assert!(updates >= 1);
    assert!(
        pending.iter().any(|p| p.starts_with("db (Pending")),
        "{pending:?}"
    );
    assert!(
        pending.iter().any(|p| p.starts_with("web (Pending")),
        "{pending:?}"
    );
    assert!(
        pending.contains(&"absent (not on the cluster)".to_string()),
        "{pending:?}"
    );
    clean(&cluster, &name).await;
}

#[tokio::test]
async fn an_unknown_context_and_an_unreachable_server_are_named() {
    let err = Cluster::connect(&ConnectOptions {
        kubeconfig: Some(kubeconfig()),
        context: Some("no-such-context".into()),
    })
    .await
    .expect_err("unknown context");
    assert!(
        matches!(&err, K8sError::UnknownContext { context, known } if context == "no-such-context" && known == &["novadev-local"]),
        "{err}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("kubeconfig");
    // Port 1 on loopback: nothing listens there.
    std::fs::write(
        &config,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n\
         users:\n- name: u\n  user: {token: t}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n\
         current-context: x\n",
    )
    .expect("write kubeconfig");
    let err = Cluster::connect(&ConnectOptions {
        kubeconfig: Some(config),
        context: None,
    })
    .await
    .expect_err("unreachable");
    let sentence = err.to_string();
    assert!(matches!(err, K8sError::Unreachable { .. }), "{sentence}");
    assert!(sentence.contains("127.0.0.1:1"), "{sentence}");
}

/// Every object rendered for stacks/nova and the fixtures passes the real API server's
/// validation (`kubectl apply --server-side --dry-run=server`), in a namespace made for it.
#[tokio::test]
async fn rendered_manifests_pass_the_servers_dry_run() {
    let cluster = cluster().await;
    let name = project("dryrun");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = 0;
    for (label, file) in [
        ("nova", "stacks/nova/compose.yaml"),
        ("small", "tests/fixtures/k8s/small/compose.yaml"),
        ("apply", "tests/fixtures/k8s/apply/compose.yaml"),
    ] {
        let opts = LoadOptions {
            files: vec![repo().join(file)],
            working_dir: repo(),
            ..LoadOptions::default()
        };
        let mut stack = load(&opts).unwrap_or_else(|e| panic!("{file}: {e}")).stack;
        stack.name = name.clone();
        // One namespace for everything, also the small fixture's per-tier one.
        if let Some(serde_json::Value::Object(k8s)) = stack.novadev.k8s.as_mut() {
            k8s.remove("namespaces");
        }
        let r = render(
            &stack,
            &RenderOptions {
                namespace: Some(name.clone()),
            },
        )
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        let (namespaces, rest): (Vec<Manifest>, Vec<Manifest>) = r
            .manifests
            .into_iter()
            .partition(|m| m.kind() == "Namespace");
        apply(&cluster, &namespaces)
            .await
            .unwrap_or_else(|e| panic!("namespace: {e}"));
        files += novadev::k8s::manifest::write_dir(&rest, &dir.path().join(label))
            .expect("write")
            .len();
    }
    let output = Command::new("kubectl")
        .args([
            "apply",
            "--server-side",
            "--dry-run=server",
            "--recursive",
            "-f",
        ])
        .arg(dir.path())
        .env("KUBECONFIG", kubeconfig())
        .output()
        .expect("run kubectl");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "kubectl: {stdout}\n{stderr}");
    assert_eq!(
        stdout
            .matches("serverside-applied (server dry run)")
            .count(),
        files,
        "{stdout}"
    );
    clean(&cluster, &name).await;
}
