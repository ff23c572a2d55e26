//! The verbs on Kubernetes, through the CLI and a daemon, against a real kube-apiserver and
//! kube-controller-manager (scripts/k8s-local.sh; no node, so pods are never scheduled and no
//! service ever becomes ready). Without a cluster these tests FAIL, saying how to start one.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Project;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const HOW_TO_START: &str = "no local Kubernetes control plane: start one with `scripts/k8s-local.sh start` \
     (it builds v1.20.2 from Debian's sources first if needed), or point NOVADEV_K8S_KUBECONFIG \
     at a cluster these tests may create namespaces in";

fn kubeconfig() -> String {
    if let Ok(path) = std::env::var("NOVADEV_K8S_KUBECONFIG") {
        return path;
    }
    let output = Command::new(repo().join("scripts/k8s-local.sh"))
        .arg("env")
        .output()
        .unwrap_or_else(|e| panic!("{HOW_TO_START}\n({e})"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.trim().strip_prefix("export KUBECONFIG=") {
        Some(path) if output.status.success() => path.to_string(),
        _ => panic!("{HOW_TO_START}"),
    }
}

/// `kubectl get` of the project's labelled objects in its namespace, as `kind/name` lines.
fn objects(kubeconfig: &str, project: &str) -> Vec<String> {
    let out = Command::new("kubectl")
        .args([
            "--kubeconfig",
            kubeconfig,
            "get",
            "deployments,statefulsets,jobs,services,configmaps,secrets,persistentvolumeclaims",
            "--all-namespaces",
            "-l",
            &format!("dev.novadev.project={project}"),
            "-o",
            "name",
        ])
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    names.sort();
    names
}

fn fixture(tag: &str) -> Project {
    let p = Project::new(tag, "services: {}\n");
    let text = std::fs::read_to_string(repo().join("tests/fixtures/k8s/apply/compose.yaml"))
        .expect("fixture");
    // The project's own name (`-p`) names the namespace too.
    p.write("compose.yaml", &text.replace("name: apply-fixture\n", ""));
    p.write(
        "web.toml",
        &std::fs::read_to_string(repo().join("tests/fixtures/k8s/apply/web.toml"))
            .expect("fixture"),
    );
    p
}

#[test]
fn up_status_logs_and_cleanup_on_a_cluster_through_the_daemon() {
    let kc = kubeconfig();
    let p = fixture("k8scli");
    let k8s = ["--k8s", "--kubeconfig", kc.as_str()];
    let up = |extra: &[&str]| {
        let mut args = vec!["up", "--wait-timeout", "5s"];
        args.extend_from_slice(&k8s);
        args.extend_from_slice(extra);
        p.novadev(&args)
    };

    // No node: nothing gets ready, so `up` ends not ready (exit 1), but everything is applied.
    let first = up(&[]);
    assert_eq!(first.code, 1, "{}\n{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("Kubernetes v1.20"),
        "{}",
        first.stdout
    );
    let applied = objects(&kc, &p.name);
    for expected in [
        "deployment.apps/web",
        "statefulset.apps/db",
        "job.batch/init",
        "service/web",
    ] {
        assert!(
            applied.contains(&expected.to_string()),
            "{expected}: {applied:?}"
        );
    }
    assert!(
        first.stdout.contains("not ready within the wait timeout"),
        "the services that did not get ready are named: {}",
        first.stdout
    );

    // The daemon on the cluster serves status like the Docker one.
    let status = p.novadev(&["status", "--k8s", "--kubeconfig", &kc, "--json"]);
    assert!(status.ok(), "{}", status.stderr);
    let json: Value = serde_json::from_str(&status.stdout).expect("json");
    assert!(
        json["daemon"]["pid"].as_u64().is_some(),
        "through the daemon: {json}"
    );
    let web = json["services"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["service"] == "web"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        web["container_name"],
        format!("{}/deployment/web", p.name),
        "{web}"
    );
    assert!(
        matches!(
            web["phase"].as_str(),
            Some("waiting" | "starting" | "failed")
        ),
        "{web}"
    );

    // A second `up` changes nothing on the server.
    let second = up(&[]);
    assert!(second.stdout.contains("(0 changed)"), "{}", second.stdout);
    assert_eq!(objects(&kc, &p.name), applied);

    // No pod, no log: not an error.
    let logs = p.novadev(&["logs", "--k8s", "--kubeconfig", &kc, "web"]);
    assert!(logs.ok(), "{}", logs.stderr);

    // Cleanup deletes what novadev made; the claim only with --volumes.
    let cleanup = p.novadev(&["cleanup", "--k8s", "--kubeconfig", &kc, "--yes"]);
    assert!(cleanup.ok(), "{}\n{}", cleanup.stdout, cleanup.stderr);
    let left = objects(&kc, &p.name);
    assert!(
        left.iter().all(|o| o.starts_with("persistentvolumeclaim/")),
        "only claims are kept: {left:?}"
    );
    let all = p.novadev(&[
        "cleanup",
        "--k8s",
        "--kubeconfig",
        &kc,
        "--yes",
        "--volumes",
    ]);
    assert!(all.ok(), "{}\n{}", all.stdout, all.stderr);
    assert!(objects(&kc, &p.name).is_empty());
}

#[test]
fn an_object_the_server_rejects_is_its_message_and_exit_1() {
    let kc = kubeconfig();
    let p = Project::new(
        "k8sbad",
        r#"services:
  web:
    image: debian:bookworm-slim
    command: ["sleep", "infinity"]
    x-novadev:
      k8s:
        # Well-formed, so novadev renders it; the API server refuses a request over the limit.
        resources: {requests: {memory: 512Mi}, limits: {memory: 64Mi}}
"#,
    );
    let run = p.novadev(&["up", "--k8s", "--kubeconfig", &kc, "--wait-timeout", "5s"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("rejected Deployment") && run.stderr.contains("limit"),
        "{}",
        run.stderr
    );
    let _ = p.novadev(&[
        "cleanup",
        "--k8s",
        "--kubeconfig",
        &kc,
        "--yes",
        "--volumes",
    ]);
}

#[test]
fn a_bad_kubernetes_setting_is_bad_input_before_anything_is_applied() {
    let kc = kubeconfig();
    let p = Project::new(
        "k8sinput",
        r#"services:
  web:
    image: debian:bookworm-slim
    x-novadev:
      k8s:
        replicas: -1
"#,
    );
    let run = p.novadev(&["up", "--k8s", "--kubeconfig", &kc]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("replicas must be 0 or more"),
        "{}",
        run.stderr
    );
    assert!(objects(&kc, &p.name).is_empty(), "nothing applied");
}

#[test]
fn an_unknown_context_is_one_sentence() {
    let kc = kubeconfig();
    let p = fixture("k8sctx");
    let run = p.novadev(&[
        "up",
        "--k8s",
        "--kubeconfig",
        &kc,
        "--context",
        "no-such-context",
    ]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("context `no-such-context` does not exist"),
        "{}",
        run.stderr
    );
    let errors = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .count();
    assert_eq!(errors, 1, "{}", run.stderr);
}

#[test]
fn the_old_deploy_script_takes_its_verbs_to_the_cluster_with_k8s() {
    let kc = kubeconfig();
    // The script runs `novadev` from PATH: this build's.
    let bin = tempfile::tempdir().expect("bin dir");
    std::os::unix::fs::symlink(common::BIN, bin.path().join("novadev")).expect("symlink");
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let state = tempfile::tempdir().expect("state");
    let run = Command::new(repo().join("scripts/deploy-local-k8s.sh"))
        .args(["--k8s", "status"])
        .env("PATH", path)
        .env("KUBECONFIG", &kc)
        .env("NOVADEV_STATE_DIR", state.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("run the script");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // The Nova stack, read from the cluster (where nothing of it runs): every service listed.
    assert!(stdout.contains("project nova"), "{stdout}");
    assert!(
        stdout.contains("no daemon running"),
        "read from the cluster itself: {stdout}"
    );
}
