//! Image builds: a tar of the build context that honors `.dockerignore`, sent to the engine.
//!
//! `.dockerignore` patterns are matched with the `ignore` crate's gitignore matcher. Docker anchors
//! every pattern at the context root, so patterns are anchored here too (`foo` matches `./foo`,
//! not `./a/foo`); `**`, `!` exceptions and trailing `/` work as in Docker.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use sha2::Digest;

use crate::engine::{Engine, EngineError, labels};
use crate::stack::model::{Build, Stack};

pub mod cargo;
pub mod inputs;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("service `{service}`: cannot read build context {path}: {source}")]
    Context {
        service: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("service `{service}`: bad .dockerignore in {path}: {message}")]
    DockerIgnore {
        service: String,
        path: PathBuf,
        message: String,
    },
    #[error("service `{service}`: host build `{command}` failed ({status}){}", first_error.as_deref().map(|e| format!(":\n{e}")).unwrap_or_default())]
    HostCommand {
        service: String,
        command: String,
        status: String,
        /// The first compiler error (`error...` and the lines that explain it), if any.
        first_error: Option<String>,
    },
    #[error("service `{service}`: host build did not produce {path}: {source}")]
    Artifact {
        service: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no service `{0}` in the stack")]
    UnknownService(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// A built image and where the build's time went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub image_id: String,
    /// The build command (cargo on the host, or the engine's Dockerfile build).
    pub command_ms: u64,
    /// Putting a host build's artifact into its image.
    pub package_ms: Option<u64>,
}

fn ms_since(start: std::time::Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Label on a thin image: the sha256 of the artifact inside, so an unchanged binary is not
/// packaged again.
pub const ARTIFACT_LABEL: &str = "dev.novadev.artifact-sha256";

/// The matcher for a context's `.dockerignore` (an empty matcher when there is none).
pub fn dockerignore(context: &Path) -> Result<Gitignore, String> {
    let mut builder = GitignoreBuilder::new(context);
    let file = context.join(".dockerignore");
    if let Ok(text) = std::fs::read_to_string(&file) {
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negate, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let pattern = pattern.trim_start_matches("./");
            let anchored = if pattern.starts_with('/') || pattern.starts_with("**") {
                pattern.to_string()
            } else {
                format!("/{pattern}")
            };
            let full = if negate {
                format!("!{anchored}")
            } else {
                anchored
            };
            builder
                .add_line(Some(file.clone()), &full)
                .map_err(|e| e.to_string())?;
        }
    }
    builder.build().map_err(|e| e.to_string())
}

/// Whether `rel` (relative to the context) is excluded, also when one of its parents is.
fn excluded(matcher: &Gitignore, rel: &Path, is_dir: bool) -> bool {
    matcher.matched_path_or_any_parents(rel, is_dir).is_ignore()
}

/// One entry of a build context: its path in the context, on disk, and whether it is a folder.
pub(crate) struct ContextEntry {
    pub rel: PathBuf,
    pub path: PathBuf,
    pub is_dir: bool,
}

/// The entries of a build context as the engine gets them, sorted: everything but what
/// `.dockerignore` excludes, and the Dockerfile and `.dockerignore` themselves always, as
/// Docker does.
pub(crate) fn context_entries(
    service: &str,
    build: &Build,
) -> Result<Vec<ContextEntry>, BuildError> {
    let context = &build.context;
    let matcher = dockerignore(context).map_err(|message| BuildError::DockerIgnore {
        service: service.to_string(),
        path: context.clone(),
        message,
    })?;
    let always: [PathBuf; 2] = [
        PathBuf::from(build.dockerfile_in_context()),
        PathBuf::from(".dockerignore"),
    ];
    let walker = ignore::WalkBuilder::new(context)
        .standard_filters(false)
        .hidden(false)
        .follow_links(false)
        .sort_by_file_path(|a, b| a.cmp(b))
        .build();
    let mut entries = Vec::new();
    for entry in walker {
        let entry = entry.map_err(|e| BuildError::Context {
            service: service.to_string(),
            path: context.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let Ok(rel) = entry.path().strip_prefix(context) else {
            continue;
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        if excluded(&matcher, rel, is_dir) && !always.iter().any(|a| a == rel) {
            continue;
        }
        entries.push(ContextEntry {
            rel: rel.to_path_buf(),
            path: entry.path().to_path_buf(),
            is_dir,
        });
    }
    Ok(entries)
}

/// A tar of the build context ([`context_entries`], and a `dockerfile_inline`'s text).
pub fn context_tar(service: &str, build: &Build) -> Result<Bytes, BuildError> {
    let ctx_err = |source| BuildError::Context {
        service: service.to_string(),
        path: build.context.clone(),
        source,
    };
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    for entry in context_entries(service, build)? {
        if entry.is_dir {
            tar.append_dir(&entry.rel, &entry.path).map_err(ctx_err)?;
        } else {
            tar.append_path_with_name(&entry.path, &entry.rel)
                .map_err(ctx_err)?;
        }
    }
    if let Some(text) = &build.dockerfile_inline {
        // `dockerfile_inline`: the text travels in the context under a name of its own.
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(
            &mut header,
            crate::stack::model::INLINE_DOCKERFILE,
            text.as_bytes(),
        )
        .map_err(ctx_err)?;
    }
    tar.finish().map_err(ctx_err)?;
    let bytes = tar.into_inner().map_err(ctx_err)?;
    Ok(Bytes::from(bytes))
}

/// Build a service's image from its `build:` section, streaming builder output to `on_line`.
/// Returns the image id.
pub async fn build_service(
    engine: &Engine,
    stack: &Stack,
    service: &str,
    on_line: impl FnMut(&str) + Send,
) -> Result<Built, BuildError> {
    let started = std::time::Instant::now();
    let svc = stack
        .services
        .get(service)
        .ok_or_else(|| BuildError::UnknownService(service.to_string()))?;
    let Some(build) = &svc.build else {
        return Err(BuildError::Engine(EngineError::Build {
            service: service.to_string(),
            message: "the service has no `build:` section".into(),
        }));
    };
    let tar = {
        let owned = build.clone();
        let service = service.to_string();
        tokio::task::spawn_blocking(move || context_tar(&service, &owned))
            .await
            .map_err(|e| BuildError::Context {
                service: svc.name.clone(),
                path: build.context.clone(),
                source: std::io::Error::other(e.to_string()),
            })??
    };
    let mut image_labels = HashMap::new();
    image_labels.insert(labels::PROJECT.to_string(), stack.name.clone());
    image_labels.insert(labels::SERVICE.to_string(), service.to_string());
    let id = engine
        .build_image(
            service,
            &svc.image_ref(&stack.name),
            tar,
            build.dockerfile_in_context(),
            &build.args,
            build.target.as_deref(),
            &build.cache_from,
            image_labels,
            on_line,
        )
        .await?;
    Ok(Built {
        image_id: id,
        command_ms: ms_since(started),
        package_ms: None,
    })
}

/// The first compiler error in build output: from the first line that starts with `error` up to
/// the next blank line (rustc's layout), at most 30 lines.
pub fn first_error(lines: &[String]) -> Option<String> {
    let start = lines.iter().position(|l| {
        let t = l.trim_start();
        t.starts_with("error:") || t.starts_with("error[")
    })?;
    let block: Vec<&str> = lines[start..]
        .iter()
        .take_while(|l| !l.trim().is_empty())
        .take(30)
        .map(String::as_str)
        .collect();
    Some(block.join("\n"))
}

/// The entrypoint of a live host build's image: a supervisor (`sh -c SUPERVISOR ARTIFACT NEXT
/// ARGS…`) that runs the artifact and, when the container gets SIGHUP with a new artifact at
/// NEXT (see [`next_path`]), moves it in place and starts it again; any other exit of the
/// artifact ends the container with the artifact's exit code, and SIGTERM/SIGINT are passed on,
/// as before.
const SUPERVISOR: &str = r#"next=$1
shift
trap 'stop=1; kill -TERM "$child" 2>/dev/null' TERM INT
trap 'kill -TERM "$child" 2>/dev/null' HUP
while :; do
    if [ -f "$next" ]; then mv -f "$next" "$0" || exit 1; fi
    "$0" "$@" &
    child=$!
    while :; do
        wait "$child"
        code=$?
        kill -0 "$child" 2>/dev/null || break
    done
    if [ -n "$stop" ] || [ ! -f "$next" ]; then exit "$code"; fi
done"#;

/// The image entrypoint of a host build: the artifact, or for a live one the supervisor that runs
/// it (see [`SUPERVISOR`]).
pub fn entrypoint(hb: &crate::stack::model::HostBuild) -> Vec<String> {
    if hb.live {
        vec![
            "/bin/sh".into(),
            "-c".into(),
            SUPERVISOR.into(),
            hb.install_path.clone(),
            next_path(hb),
        ]
    } else {
        vec![hb.install_path.clone()]
    }
}

/// Where a live update puts the new artifact in the container, for the supervisor to take.
pub fn next_path(hb: &crate::stack::model::HostBuild) -> String {
    format!("{}.novadev-next", hb.install_path)
}

/// The host build of `service`, or why there is none.
fn host_build_of<'a>(
    stack: &'a Stack,
    service: &str,
) -> Result<&'a crate::stack::model::HostBuild, BuildError> {
    let svc = stack
        .services
        .get(service)
        .ok_or_else(|| BuildError::UnknownService(service.to_string()))?;
    svc.novadev.host_build.as_ref().ok_or_else(|| {
        BuildError::Engine(EngineError::Build {
            service: service.to_string(),
            message: "the service has no `x-novadev.host_build`".into(),
        })
    })
}

/// Build a service's artifact on the host (`x-novadev.host_build.command` in its workdir), then
/// package it into a thin image: `base_image` plus one layer with the artifact, as entrypoint
/// (a classic `FROM`/`COPY`/`ENTRYPOINT` build where the engine cannot load that layer). Output
/// lines go to `on_line`, cargo's progress to `on_progress`. A `cargo build … -p X` command runs
/// with cargo's JSON messages, or is served by `shared`: the workspace's build an `up` started
/// for several services at once. Returns the image id.
pub async fn host_build(
    engine: &Engine,
    stack: &Stack,
    service: &str,
    shared: Option<std::sync::Arc<cargo::WorkspaceBuild>>,
    on_line: impl Fn(&str) + Send + Sync + 'static,
    on_progress: impl Fn(&cargo::Progress) + Send + Sync + 'static,
) -> Result<Built, BuildError> {
    let hb = host_build_of(stack, service)?;
    let on_line = std::sync::Arc::new(on_line);
    let lines = on_line.clone();
    let command_ms = host_compile(
        stack,
        service,
        shared,
        move |line: &str| lines(line),
        on_progress,
    )
    .await?;
    let packaging = std::time::Instant::now();
    let binary = tokio::fs::read(&hb.artifact)
        .await
        .map_err(|source| BuildError::Artifact {
            service: service.to_string(),
            path: hb.artifact.clone(),
            source,
        })?;
    let image_id = package(engine, stack, service, hb, &binary, |line: &str| {
        on_line(line)
    })
    .await?;
    Ok(Built {
        image_id,
        command_ms,
        package_ms: Some(ms_since(packaging)),
    })
}

/// Run a service's host build command (see [`host_build`]) and nothing else; the artifact is
/// then at `x-novadev.host_build.artifact`. Returns how long the command took.
pub async fn host_compile(
    stack: &Stack,
    service: &str,
    shared: Option<std::sync::Arc<cargo::WorkspaceBuild>>,
    on_line: impl Fn(&str) + Send + Sync + 'static,
    on_progress: impl Fn(&cargo::Progress) + Send + Sync + 'static,
) -> Result<u64, BuildError> {
    let hb = host_build_of(stack, service)?;
    let started = std::time::Instant::now();
    let on_line = std::sync::Arc::new(on_line);
    match cargo::cargo_package(hb) {
        Some((key, package)) => {
            let run = match shared.filter(|b| b.packages.contains(&package)) {
                Some(shared) => shared,
                None => {
                    let lines = on_line.clone();
                    cargo::WorkspaceBuild::start(
                        &key,
                        std::collections::BTreeSet::from([package.clone()]),
                        std::sync::Arc::new(move |report: cargo::Report<'_>| match report {
                            cargo::Report::Line(line) => lines(line),
                            cargo::Report::Progress(p) => on_progress(p),
                        }),
                    )
                }
            };
            let outcome = run.finished().await;
            outcome
                .for_artifact(&package, &hb.artifact)
                .map_err(|(status, first_error)| BuildError::HostCommand {
                    service: service.to_string(),
                    command: hb.command.join(" "),
                    status,
                    first_error,
                })?;
        }
        None => {
            let lines = on_line.clone();
            run_host_command(service, hb, &mut |line: &str| lines(line)).await?;
        }
    }
    Ok(ms_since(started))
}

/// `program args…` in `dir`, with no input and both outputs piped, killed when dropped.
pub(crate) fn piped_command(program: &str, args: &[String], dir: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Run the host build's command in its workdir, its output lines to `on_line`; a failure carries
/// the first compiler error.
async fn run_host_command(
    service: &str,
    hb: &crate::stack::model::HostBuild,
    on_line: &mut (impl FnMut(&str) + Send),
) -> Result<(), BuildError> {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let command_text = hb.command.join(" ");
    let host_err = |status: String, lines: &[String]| BuildError::HostCommand {
        service: service.to_string(),
        command: command_text.clone(),
        status,
        first_error: first_error(lines),
    };
    let (program, args) = match hb.command.split_first() {
        Some(split) => split,
        None => return Err(host_err("empty command".into(), &[])),
    };
    let mut child = piped_command(program, args, &hb.workdir)
        .spawn()
        .map_err(|e| host_err(format!("cannot run it: {e}"), &[]))?;
    let mut out = child.stdout.take().map(|s| BufReader::new(s).lines());
    let mut err = child.stderr.take().map(|s| BufReader::new(s).lines());
    let mut kept: Vec<String> = Vec::new();
    // Both pipes are read to the end (a full pipe would block the compiler).
    loop {
        let line = tokio::select! {
            l = async { match out.as_mut() { Some(o) => o.next_line().await, None => Ok(None) } }, if out.is_some() => {
                if !matches!(l, Ok(Some(_))) { out = None; }
                l
            }
            l = async { match err.as_mut() { Some(e) => e.next_line().await, None => Ok(None) } }, if err.is_some() => {
                if !matches!(l, Ok(Some(_))) { err = None; }
                l
            }
            else => break,
        };
        if let Ok(Some(line)) = line {
            on_line(&line);
            // Keep the start (where rustc's first error is) and a bounded tail.
            if kept.len() < 2000 {
                kept.push(line);
            }
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|e| host_err(format!("waiting for it: {e}"), &kept))?;
    if status.success() {
        Ok(())
    } else {
        Err(host_err(status.to_string(), &kept))
    }
}

/// Put the artifact into the service's thin image (unless the image already holds this very
/// artifact). Returns the image id.
async fn package(
    engine: &Engine,
    stack: &Stack,
    service: &str,
    hb: &crate::stack::model::HostBuild,
    binary: &[u8],
    mut on_line: impl FnMut(&str) + Send,
) -> Result<String, BuildError> {
    let sha = hex::encode(sha2::Sha256::digest(binary));
    let tag = stack
        .services
        .get(service)
        .map(|svc| svc.image_ref(&stack.name))
        .ok_or_else(|| BuildError::UnknownService(service.to_string()))?;
    if engine.image_label(&tag, ARTIFACT_LABEL).await?.as_deref() == Some(sha.as_str())
        && let Some(id) = engine.image_id(&tag).await?
    {
        on_line("artifact unchanged; image is up to date");
        return Ok(id);
    }
    let mut image_labels = HashMap::new();
    image_labels.insert(labels::PROJECT.to_string(), stack.name.clone());
    image_labels.insert(labels::SERVICE.to_string(), service.to_string());
    image_labels.insert(ARTIFACT_LABEL.to_string(), sha);
    let mtime = std::fs::metadata(&hb.artifact)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    // The fast way: the base image plus one layer with the binary, loaded as an archive.
    let layered = engine
        .add_layer(
            service,
            &hb.base_image,
            &tag,
            crate::engine::image_archive::File {
                path: &hb.install_path,
                data: binary,
                mode: 0o755,
                mtime,
            },
            &entrypoint(hb),
            &image_labels,
        )
        .await;
    match layered {
        Ok(id) => {
            on_line(&format!(
                "packaged {} into {tag} (FROM {}, one layer)",
                hb.artifact.display(),
                hb.base_image
            ));
            return Ok(id);
        }
        // An engine whose image store cannot load a partial archive: build it the classic way.
        Err(e) => {
            tracing::debug!(service, error = %e, "layer load failed; building the thin image");
            on_line(&format!("{e}; building the thin image instead"));
        }
    }
    let tar = thin_image_context(hb, binary).map_err(|source| BuildError::Context {
        service: service.to_string(),
        path: hb.artifact.clone(),
        source,
    })?;
    let id = engine
        .build_image(
            service,
            &tag,
            tar,
            "Dockerfile",
            &Default::default(),
            None,
            &[],
            image_labels,
            on_line,
        )
        .await?;
    Ok(id)
}

/// The build context of a thin image: a Dockerfile and the artifact.
fn thin_image_context(
    hb: &crate::stack::model::HostBuild,
    binary: &[u8],
) -> std::io::Result<Bytes> {
    let entrypoint = serde_json::to_string(&entrypoint(hb)).map_err(std::io::Error::other)?;
    let dockerfile = format!(
        "FROM {base}\nCOPY artifact {path}\nENTRYPOINT {entrypoint}\n",
        base = hb.base_image,
        path = hb.install_path
    );
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data, mode) in [
        ("Dockerfile", dockerfile.as_bytes(), 0o644),
        ("artifact", binary, 0o755),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        tar.append_data(&mut header, name, data)?;
    }
    tar.finish()?;
    Ok(Bytes::from(tar.into_inner()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::fs;

    fn tar_names(bytes: &[u8]) -> BTreeSet<String> {
        let mut archive = tar::Archive::new(bytes);
        archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect()
    }

    fn build_for(dir: &Path) -> Build {
        Build {
            context: dir.to_path_buf(),
            dockerfile: "Dockerfile".into(),
            args: Default::default(),
            target: None,
            dockerfile_inline: None,
            cache_from: Vec::new(),
            pos: Default::default(),
        }
    }

    #[test]
    fn dockerignore_excludes_anchored_patterns_and_honors_exceptions() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("Dockerfile"), "FROM scratch\n").unwrap();
        fs::write(
            root.join(".dockerignore"),
            "# comment\ntarget\n*.log\n!keep.log\nsecret/\nDockerfile\n",
        )
        .unwrap();
        fs::create_dir_all(root.join("target/debug")).unwrap();
        fs::write(root.join("target/debug/big"), "x").unwrap();
        fs::create_dir_all(root.join("src/target")).unwrap();
        fs::write(root.join("src/target/kept.rs"), "x").unwrap();
        fs::write(root.join("a.log"), "x").unwrap();
        fs::write(root.join("keep.log"), "x").unwrap();
        fs::create_dir_all(root.join("secret")).unwrap();
        fs::write(root.join("secret/key"), "x").unwrap();
        fs::write(root.join("main.rs"), "x").unwrap();

        let tar = context_tar("web", &build_for(root)).unwrap();
        let names = tar_names(&tar);
        assert!(names.contains("main.rs"));
        assert!(names.contains("keep.log"));
        assert!(
            names.contains("src/target/kept.rs"),
            "patterns are anchored: {names:?}"
        );
        assert!(
            names.contains("Dockerfile"),
            "the Dockerfile is always sent"
        );
        assert!(!names.iter().any(|n| n.starts_with("target")), "{names:?}");
        assert!(!names.contains("a.log"));
        assert!(!names.iter().any(|n| n.starts_with("secret")), "{names:?}");
    }

    #[test]
    fn first_compiler_error_is_the_first_error_block() {
        let lines: Vec<String> = [
            "   Compiling social-service v0.1.0",
            "warning: unused variable: `x`",
            "",
            "error[E0308]: mismatched types",
            " --> src/main.rs:3:18",
            "  |",
            "3 |     let n: u32 = \"three\";",
            "",
            "error: aborting due to 1 previous error",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let e = first_error(&lines).unwrap();
        assert!(e.starts_with("error[E0308]: mismatched types"));
        assert!(e.contains("src/main.rs:3:18"));
        assert!(!e.contains("aborting"));
        assert_eq!(first_error(&lines[..3]), None);
    }

    #[test]
    fn thin_image_context_holds_dockerfile_and_executable_artifact() {
        let hb = crate::stack::model::HostBuild {
            command: vec!["true".into()],
            workdir: "/".into(),
            artifact: "/bin/true".into(),
            base_image: "debian:bookworm-slim".into(),
            install_path: "/usr/local/bin/svc".into(),
            live: false,
        };
        let tar = thin_image_context(&hb, b"ELF").unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().display().to_string();
            let mode = entry.header().mode().unwrap();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
            seen.push((name, mode, text));
        }
        assert_eq!(seen[0].0, "Dockerfile");
        assert!(seen[0].2.contains("FROM debian:bookworm-slim"));
        assert!(seen[0].2.contains("ENTRYPOINT [\"/usr/local/bin/svc\"]"));
        assert_eq!((seen[1].0.as_str(), seen[1].1), ("artifact", 0o755));
    }

    #[test]
    fn context_without_dockerignore_sends_everything() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        fs::create_dir_all(dir.path().join(".git")).unwrap();
        fs::write(dir.path().join(".git/HEAD"), "x").unwrap();
        let names = tar_names(&context_tar("web", &build_for(dir.path())).unwrap());
        assert!(names.contains("Dockerfile"));
        assert!(names.contains(".git/HEAD"));
    }
}
