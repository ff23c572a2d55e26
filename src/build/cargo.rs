//! Cargo host builds: the services of one Cargo workspace built by one `cargo build` (not one
//! per service behind cargo's lock), cargo's JSON messages turned into progress ("compiling
//! 231/412 crates, 2m10s"), and each service's outcome told apart: its own executable produced,
//! or the first compiler error of its package (else of the build).
//!
//! A host build takes part when its command is `cargo [+toolchain] build … -p PACKAGE` with no
//! `--message-format` of its own; any other command runs as written, one per service.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;

use crate::stack::model::HostBuild;

/// What the services of one workspace share: where cargo runs and its command without the
/// `-p PACKAGE` pair. Services with equal keys are built by one cargo invocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkspaceKey {
    pub workdir: PathBuf,
    /// The command with its `-p PACKAGE` pair taken out.
    pub command: Vec<String>,
}

/// The workspace key and package of a host build that is `cargo build … -p PACKAGE`.
pub fn cargo_package(hb: &HostBuild) -> Option<(WorkspaceKey, String)> {
    let (program, args) = hb.command.split_first()?;
    if Path::new(program).file_name()? != "cargo" {
        return None;
    }
    let mut command = vec![program.clone()];
    let mut rest = args.iter().peekable();
    if let Some(toolchain) = rest.next_if(|a| a.starts_with('+')) {
        command.push(toolchain.clone());
    }
    if !matches!(rest.next().map(String::as_str), Some("build" | "b")) {
        return None;
    }
    command.push("build".into());
    let mut packages = Vec::new();
    while let Some(arg) = rest.next() {
        if arg == "-p" || arg == "--package" {
            packages.push(rest.next()?.clone());
        } else if let Some(p) = arg.strip_prefix("--package=") {
            packages.push(p.to_string());
        } else if arg.starts_with("--message-format") || arg == "--workspace" || arg == "--all" {
            return None;
        } else if let Some(p) = arg.strip_prefix("-p").filter(|p| !p.is_empty()) {
            packages.push(p.to_string());
        } else {
            command.push(arg.clone());
        }
    }
    match <[String; 1]>::try_from(packages) {
        Ok([package]) => Some((
            WorkspaceKey {
                workdir: hb.workdir.clone(),
                command,
            },
            package,
        )),
        Err(_) => None,
    }
}

/// The parts of cargo's JSON messages read here (`--message-format=json`).
#[derive(Debug, Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    target: Option<Target>,
    #[serde(default)]
    executable: Option<PathBuf>,
    #[serde(default)]
    message: Option<Diagnostic>,
}

#[derive(Debug, Deserialize)]
struct Target {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Diagnostic {
    level: String,
    #[serde(default)]
    rendered: Option<String>,
}

/// What one line of cargo's stdout says.
#[derive(Debug, PartialEq)]
enum Said {
    /// A target compiled (or found fresh); its executable, if it is one.
    Artifact { executable: Option<PathBuf> },
    /// A compiler diagnostic, rendered as rustc prints it, and the target it belongs to.
    Diagnostic {
        target: String,
        error: bool,
        rendered: String,
    },
    /// Anything else (a build script ran, the build finished, or not JSON at all).
    Other(String),
}

fn read_line(line: &str) -> Said {
    let Ok(msg) = serde_json::from_str::<Message>(line) else {
        return Said::Other(line.to_string());
    };
    match msg.reason.as_str() {
        "compiler-artifact" => Said::Artifact {
            executable: msg.executable,
        },
        "compiler-message" => {
            let Some(diag) = msg.message else {
                return Said::Other(String::new());
            };
            Said::Diagnostic {
                target: msg.target.map(|t| t.name).unwrap_or_default(),
                error: diag.level == "error",
                rendered: diag.rendered.unwrap_or_default(),
            }
        }
        _ => Said::Other(String::new()),
    }
}

/// How far a cargo invocation has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Targets compiled or found fresh.
    pub done: u32,
    /// Targets the build needs, once `cargo metadata` told (an estimate: never below `done`).
    pub total: Option<u32>,
    pub elapsed: Duration,
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs();
        let took = if secs >= 60 {
            format!("{}m{:02}s", secs / 60, secs % 60)
        } else {
            format!("{secs}s")
        };
        match self.total {
            Some(total) => write!(
                f,
                "compiling {}/{} crates, {took}",
                self.done,
                total.max(self.done)
            ),
            None => write!(f, "compiling {} crates, {took}", self.done),
        }
    }
}

/// What a cargo invocation reports while it runs.
pub enum Report<'a> {
    /// A line for the build's log (cargo's own lines and the rendered diagnostics).
    Line(&'a str),
    Progress(&'a Progress),
}

/// How a cargo invocation ended.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Why cargo failed (its exit status, or why it could not run); `None` when it succeeded.
    pub failed: Option<String>,
    /// Every executable it produced or found fresh.
    pub executables: BTreeSet<PathBuf>,
    /// Rendered errors, with the target each belongs to, in order.
    pub errors: Vec<(String, String)>,
    pub elapsed_ms: u64,
}

impl Outcome {
    /// The outcome for one service: its artifact is there (even when another package failed),
    /// else the status and the first error of its own package, else the build's first error.
    pub fn for_artifact(
        &self,
        package: &str,
        artifact: &Path,
    ) -> Result<(), (String, Option<String>)> {
        let produced = self.executables.iter().any(|e| {
            e == artifact || (e.file_name().is_some() && e.file_name() == artifact.file_name())
        });
        if produced {
            return Ok(());
        }
        let normalized = package.replace('-', "_");
        let own = self
            .errors
            .iter()
            .find(|(target, _)| target.replace('-', "_") == normalized);
        let first = own
            .or(self.errors.first())
            .map(|(_, e)| e.trim_end().to_string());
        let status = self
            .failed
            .clone()
            .unwrap_or_else(|| format!("it did not produce {}", artifact.display()));
        Err((status, first))
    }
}

/// One cargo invocation building several packages of a workspace; every service of it awaits
/// the same [`Outcome`].
pub struct WorkspaceBuild {
    pub packages: BTreeSet<String>,
    outcome: watch::Receiver<Option<Arc<Outcome>>>,
}

impl WorkspaceBuild {
    /// Start `cargo build -p A -p B …` for `packages` of the workspace `key`, reporting to
    /// `report` as it goes. The build runs in a task of its own until cargo ends.
    pub fn start(
        key: &WorkspaceKey,
        packages: BTreeSet<String>,
        report: Arc<dyn Fn(Report<'_>) + Send + Sync>,
    ) -> Arc<WorkspaceBuild> {
        let (tx, rx) = watch::channel(None);
        let key = key.clone();
        let members = packages.clone();
        tokio::spawn(async move {
            let outcome = run(&key, &members, report.as_ref()).await;
            tx.send_replace(Some(Arc::new(outcome)));
        });
        Arc::new(WorkspaceBuild {
            packages,
            outcome: rx,
        })
    }

    /// Wait for the build to end.
    pub async fn finished(&self) -> Arc<Outcome> {
        let mut rx = self.outcome.clone();
        let result = rx.wait_for(Option::is_some).await;
        match result {
            Ok(seen) => seen.clone().unwrap_or_default(),
            Err(_) => Arc::new(Outcome {
                failed: Some("the build task ended without a result".into()),
                ..Outcome::default()
            }),
        }
    }
}

/// The command line of one invocation: the workspace's command, JSON messages, every package.
fn command_line(key: &WorkspaceKey, packages: &BTreeSet<String>) -> Vec<String> {
    let mut line = key.command.clone();
    line.push("--message-format=json".into());
    for package in packages {
        line.push("-p".into());
        line.push(package.clone());
    }
    line
}

async fn run(
    key: &WorkspaceKey,
    packages: &BTreeSet<String>,
    report: &(dyn Fn(Report<'_>) + Send + Sync),
) -> Outcome {
    let started = Instant::now();
    let line = command_line(key, packages);
    report(Report::Line(&format!("$ {}", line.join(" "))));
    let mut outcome = Outcome::default();
    let (program, args) = match line.split_first() {
        Some(split) => split,
        None => {
            outcome.failed = Some("empty command".into());
            return outcome;
        }
    };
    let spawned = super::piped_command(program, args, &key.workdir).spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            outcome.failed = Some(format!("cannot run it: {e}"));
            return outcome;
        }
    };
    // The total comes from `cargo metadata`, beside the build; until then the count alone.
    let total: Arc<Mutex<Option<u32>>> = Arc::new(Mutex::new(None));
    let counter = {
        let total = total.clone();
        let key = key.clone();
        let packages = packages.clone();
        tokio::spawn(async move {
            if let Some(n) = expected_targets(&key, &packages).await
                && let Ok(mut slot) = total.lock()
            {
                *slot = Some(n);
            }
        })
    };
    let mut out = child.stdout.take().map(|s| BufReader::new(s).lines());
    let mut err = child.stderr.take().map(|s| BufReader::new(s).lines());
    let mut progress = Progress {
        done: 0,
        total: None,
        elapsed: Duration::ZERO,
    };
    let mut last_report = Instant::now();
    loop {
        tokio::select! {
            l = async { match out.as_mut() { Some(o) => o.next_line().await, None => Ok(None) } }, if out.is_some() => {
                let Ok(Some(l)) = l else { out = None; continue };
                match read_line(&l) {
                    Said::Artifact { executable } => {
                        progress.done += 1;
                        if let Some(e) = executable {
                            outcome.executables.insert(e);
                        }
                    }
                    Said::Diagnostic { target, error, rendered } => {
                        for text in rendered.lines() {
                            report(Report::Line(text));
                        }
                        if error && !rendered.starts_with("error: aborting") {
                            outcome.errors.push((target, rendered));
                        }
                    }
                    Said::Other(text) if !text.is_empty() => report(Report::Line(&text)),
                    Said::Other(_) => {}
                }
                if last_report.elapsed() >= Duration::from_millis(500) {
                    last_report = Instant::now();
                    progress.elapsed = started.elapsed();
                    progress.total = total.lock().ok().and_then(|t| *t);
                    report(Report::Progress(&progress));
                }
            }
            l = async { match err.as_mut() { Some(e) => e.next_line().await, None => Ok(None) } }, if err.is_some() => {
                let Ok(Some(l)) = l else { err = None; continue };
                report(Report::Line(&l));
            }
            else => break,
        }
    }
    counter.abort();
    match child.wait().await {
        Ok(status) if status.success() => {}
        Ok(status) => outcome.failed = Some(status.to_string()),
        Err(e) => outcome.failed = Some(format!("waiting for it: {e}")),
    }
    progress.elapsed = started.elapsed();
    progress.total = total.lock().ok().and_then(|t| *t);
    report(Report::Progress(&progress));
    outcome.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    outcome
}

/// `cargo metadata`'s view of the workspace: packages with their targets, and the resolved graph.
#[derive(Debug, Deserialize)]
struct Metadata {
    packages: Vec<MetaPackage>,
    resolve: Option<Resolve>,
}

#[derive(Debug, Deserialize)]
struct MetaPackage {
    id: String,
    name: String,
    targets: Vec<MetaTarget>,
}

#[derive(Debug, Deserialize)]
struct MetaTarget {
    kind: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
struct Node {
    id: String,
    #[serde(default)]
    deps: Vec<NodeDep>,
}

#[derive(Debug, Deserialize)]
struct NodeDep {
    pkg: String,
    #[serde(default)]
    dep_kinds: Vec<DepKind>,
}

#[derive(Debug, Deserialize)]
struct DepKind {
    kind: Option<String>,
}

/// How many targets building `packages` compiles (each dependency's library and build script,
/// the packages' own targets), from `cargo metadata` for this machine's platform.
async fn expected_targets(key: &WorkspaceKey, packages: &BTreeSet<String>) -> Option<u32> {
    let cargo = key.command.first()?;
    let mut args: Vec<String> = key
        .command
        .iter()
        .skip(1)
        .take_while(|a| a.starts_with('+'))
        .cloned()
        .collect();
    args.extend(["metadata".into(), "--format-version".into(), "1".into()]);
    if let Some(host) = host_triple().await {
        args.push("--filter-platform".into());
        args.push(host);
    }
    let out = tokio::process::Command::new(cargo)
        .args(&args)
        .current_dir(&key.workdir)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let metadata: Metadata = serde_json::from_slice(&out.stdout).ok()?;
    count_targets(&metadata, packages)
}

async fn host_triple() -> Option<String> {
    let out = tokio::process::Command::new("rustc")
        .arg("-vV")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .await
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_string())
}

fn count_targets(metadata: &Metadata, packages: &BTreeSet<String>) -> Option<u32> {
    let by_id: BTreeMap<&str, &MetaPackage> = metadata
        .packages
        .iter()
        .map(|p| (p.id.as_str(), p))
        .collect();
    let nodes: BTreeMap<&str, &Node> = metadata
        .resolve
        .as_ref()?
        .nodes
        .iter()
        .map(|n| (n.id.as_str(), n))
        .collect();
    let roots: Vec<&str> = metadata
        .packages
        .iter()
        .filter(|p| packages.contains(&p.name))
        .map(|p| p.id.as_str())
        .collect();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut todo = roots.clone();
    while let Some(id) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        let Some(node) = nodes.get(id) else { continue };
        for dep in &node.deps {
            // Dev-dependencies are not built by `cargo build`.
            let needed = dep.dep_kinds.is_empty()
                || dep
                    .dep_kinds
                    .iter()
                    .any(|k| k.kind.as_deref() != Some("dev"));
            if needed {
                todo.push(dep.pkg.as_str());
            }
        }
    }
    let mut total = 0u32;
    for id in &seen {
        let Some(package) = by_id.get(id) else {
            continue;
        };
        let root = roots.contains(id);
        for target in &package.targets {
            let counts = target.kind.iter().any(|k| {
                matches!(
                    k.as_str(),
                    "lib"
                        | "rlib"
                        | "dylib"
                        | "proc-macro"
                        | "cdylib"
                        | "staticlib"
                        | "custom-build"
                ) || (root && k == "bin")
            });
            if counts {
                total += 1;
            }
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hb(command: &[&str]) -> HostBuild {
        HostBuild {
            command: command.iter().map(|s| s.to_string()).collect(),
            workdir: "/ws".into(),
            artifact: "/ws/target/release/svc".into(),
            base_image: "debian:bookworm-slim".into(),
            install_path: "/usr/local/bin/svc".into(),
            live: false,
        }
    }

    #[test]
    fn cargo_build_of_one_package_is_recognised_in_every_spelling() {
        let (key, package) = cargo_package(&hb(&[
            "cargo",
            "build",
            "--release",
            "-p",
            "social-service",
        ]))
        .unwrap();
        assert_eq!(package, "social-service");
        assert_eq!(key.command, ["cargo", "build", "--release"]);
        for spelling in [
            &["cargo", "build", "--release", "--package", "social-service"][..],
            &["cargo", "build", "--package=social-service", "--release"],
            &["cargo", "b", "-psocial-service", "--release"],
            &[
                "/usr/bin/cargo",
                "build",
                "--release",
                "-p",
                "social-service",
            ],
        ] {
            let (other, p) = cargo_package(&hb(spelling)).unwrap();
            assert_eq!(p, "social-service", "{spelling:?}");
            assert_eq!(other.command.last().map(String::as_str), Some("--release"));
        }
        let (key, _) = cargo_package(&hb(&["cargo", "+nightly", "build", "-p", "x"])).unwrap();
        assert_eq!(key.command, ["cargo", "+nightly", "build"]);
    }

    #[test]
    fn other_commands_run_as_written() {
        for command in [
            &["make", "build"][..],
            &["cargo", "test", "-p", "x"],
            &["cargo", "build", "-p", "a", "-p", "b"],
            &["cargo", "build", "--release"],
            &["cargo", "build", "-p", "x", "--message-format", "short"],
            &["cargo", "build", "--workspace", "-p", "x"],
            &["cargo", "build", "-p"],
            &[],
        ] {
            assert_eq!(cargo_package(&hb(command)), None, "{command:?}");
        }
    }

    #[test]
    fn services_of_one_workspace_share_a_key_and_run_in_one_invocation() {
        let (a, pa) = cargo_package(&hb(&["cargo", "build", "--release", "-p", "a"])).unwrap();
        let (b, pb) = cargo_package(&hb(&["cargo", "build", "-p", "b", "--release"])).unwrap();
        let (c, _) = cargo_package(&hb(&["cargo", "build", "-p", "c"])).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c, "a different profile is a different invocation");
        let line = command_line(&a, &BTreeSet::from([pa, pb]));
        assert_eq!(
            line,
            [
                "cargo",
                "build",
                "--release",
                "--message-format=json",
                "-p",
                "a",
                "-p",
                "b"
            ]
        );
    }

    #[test]
    fn cargo_messages_are_read_into_artifacts_diagnostics_and_lines() {
        let artifact = r#"{"reason":"compiler-artifact","package_id":"path+file:///ws/svc#0.1.0","target":{"name":"svc","kind":["bin"]},"fresh":false,"executable":"/ws/target/release/svc"}"#;
        assert_eq!(
            read_line(artifact),
            Said::Artifact {
                executable: Some("/ws/target/release/svc".into())
            }
        );
        let lib = r#"{"reason":"compiler-artifact","target":{"name":"serde","kind":["lib"]},"fresh":true,"executable":null}"#;
        assert_eq!(read_line(lib), Said::Artifact { executable: None });
        let error = r#"{"reason":"compiler-message","target":{"name":"svc","kind":["bin"]},"message":{"level":"error","rendered":"error[E0308]: mismatched types\n --> src/main.rs:3:18\n"}}"#;
        assert_eq!(
            read_line(error),
            Said::Diagnostic {
                target: "svc".into(),
                error: true,
                rendered: "error[E0308]: mismatched types\n --> src/main.rs:3:18\n".into()
            }
        );
        assert_eq!(
            read_line(r#"{"reason":"build-finished","success":true}"#),
            Said::Other(String::new())
        );
        assert_eq!(
            read_line("   Compiling svc v0.1.0"),
            Said::Other("   Compiling svc v0.1.0".into())
        );
    }

    #[test]
    fn each_service_gets_its_own_outcome() {
        let outcome = Outcome {
            failed: Some("exit status: 101".into()),
            executables: BTreeSet::from([PathBuf::from("/ws/target/release/a")]),
            errors: vec![
                ("nova_runtime".into(), "error: in the runtime\n".into()),
                ("b-service".into(), "error[E0425]: in b\n".into()),
            ],
            elapsed_ms: 10,
        };
        assert_eq!(
            outcome.for_artifact("a", Path::new("/ws/target/release/a")),
            Ok(())
        );
        let (status, first) = outcome
            .for_artifact("b-service", Path::new("/ws/target/release/b-service"))
            .unwrap_err();
        assert_eq!(status, "exit status: 101");
        assert_eq!(first.as_deref(), Some("error[E0425]: in b"));
        let (_, first) = outcome
            .for_artifact("c", Path::new("/ws/target/release/c"))
            .unwrap_err();
        assert_eq!(
            first.as_deref(),
            Some("error: in the runtime"),
            "else the build's first error"
        );
    }

    #[test]
    fn progress_reads_like_a_person_would_say_it() {
        let p = Progress {
            done: 231,
            total: Some(412),
            elapsed: Duration::from_secs(130),
        };
        assert_eq!(p.to_string(), "compiling 231/412 crates, 2m10s");
        let p = Progress {
            done: 9,
            total: Some(4),
            elapsed: Duration::from_secs(3),
        };
        assert_eq!(
            p.to_string(),
            "compiling 9/9 crates, 3s",
            "the estimate never falls below the count"
        );
        let p = Progress {
            done: 3,
            total: None,
            elapsed: Duration::from_secs(0),
        };
        assert_eq!(p.to_string(), "compiling 3 crates, 0s");
    }

    #[test]
    fn expected_targets_follow_normal_and_build_dependencies_only() {
        let json = r#"{
          "packages": [
            {"id": "svc", "name": "svc", "targets": [{"kind": ["bin"]}, {"kind": ["custom-build"]}]},
            {"id": "rt", "name": "rt", "targets": [{"kind": ["lib"]}, {"kind": ["bin"]}]},
            {"id": "cc", "name": "cc", "targets": [{"kind": ["lib"]}]},
            {"id": "testing", "name": "testing", "targets": [{"kind": ["lib"]}]},
            {"id": "other", "name": "other", "targets": [{"kind": ["bin"]}]}
          ],
          "resolve": {"nodes": [
            {"id": "svc", "deps": [
              {"pkg": "rt", "dep_kinds": [{"kind": null}]},
              {"pkg": "cc", "dep_kinds": [{"kind": "build"}]},
              {"pkg": "testing", "dep_kinds": [{"kind": "dev"}]}
            ]},
            {"id": "rt", "deps": []}, {"id": "cc", "deps": []}, {"id": "testing", "deps": []},
            {"id": "other", "deps": []}
          ]}
        }"#;
        let metadata: Metadata = serde_json::from_str(json).unwrap();
        // svc: bin + build script; rt: lib (its bin is not built as a dependency); cc: lib.
        assert_eq!(
            count_targets(&metadata, &BTreeSet::from(["svc".to_string()])),
            Some(4)
        );
    }
}
