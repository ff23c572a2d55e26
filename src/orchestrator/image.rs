//! The image a service runs: found, pulled, or built (a Dockerfile build, or the host build
//! fast path), with the build recorded on the board and its output published for the log view.

use std::sync::Arc;

use crate::board::{StatusBoard, Transition};
use crate::build::Built;
use crate::build::cargo::WorkspaceBuild;
use crate::engine::{Engine, EngineError};
use crate::protocol::ServiceFailure;
use crate::stack::model::{PullPolicy, Stack};

/// Host builds (`x-novadev.host_build`) are on unless `NOVADEV_HOST_BUILD=0`, which falls back
/// to the service's ordinary `build:` (e.g. a multi-stage Dockerfile where a registry exists).
pub fn host_builds_enabled() -> bool {
    std::env::var("NOVADEV_HOST_BUILD").map_or(true, |v| v != "0")
}

/// Whether novadev can build the service's image at all.
pub fn buildable(stack: &Stack, service: &str) -> bool {
    stack.services.get(service).is_some_and(|svc| {
        svc.build.is_some() || svc.novadev.host_build.is_some() && host_builds_enabled()
    })
}

fn image_failure(image: &str, e: EngineError) -> ServiceFailure {
    let reason = match e {
        EngineError::ImageUnavailable { reason, .. } => {
            format!("is not present locally and could not be pulled: {reason}")
        }
        other => format!("cannot be looked up: {other}"),
    };
    ServiceFailure::Image {
        image: image.to_string(),
        reason,
    }
}

/// Whether the service is built on the host (`x-novadev.host_build`, with host builds on).
pub fn on_host(stack: &Stack, service: &str) -> bool {
    stack
        .services
        .get(service)
        .is_some_and(|svc| svc.novadev.host_build.is_some())
        && host_builds_enabled()
}

/// Build the service's image (host build, else `build:`) and record the build on the board; its
/// output lines are published as the service's `build` output, cargo's progress as the
/// service's detail. `shared`: the workspace build an `up` started for this service and others.
/// Returns the image and the build's timings; the inputs it was built from are remembered.
pub async fn build_image(
    engine: &Engine,
    board: &Arc<StatusBoard>,
    stack: &Stack,
    name: &str,
    image: &str,
    shared: Option<Arc<WorkspaceBuild>>,
) -> Result<Built, ServiceFailure> {
    let on_host = on_host(stack, name);
    board.apply(
        name,
        Transition::BuildStarted {
            image: image.to_string(),
            on_host,
        },
    );
    // The inputs as they are when the build starts: an edit during the build is seen next time.
    let inputs = match stack.services.get(name).cloned() {
        Some(svc) => {
            tokio::task::spawn_blocking(move || crate::build::inputs::fingerprint(&svc, on_host))
                .await
                .ok()
                .flatten()
        }
        None => None,
    };
    let result = if on_host {
        let (on_line, on_progress) = host_build_reporters(board, name);
        crate::build::host_build(engine, stack, name, shared, on_line, on_progress).await
    } else {
        let on_line = |line: &str| board.output(name, "build", line);
        crate::build::build_service(engine, stack, name, on_line).await
    };
    let error = result.as_ref().err().map(ToString::to_string);
    board.apply(
        name,
        Transition::BuildFinished {
            error: error.clone(),
        },
    );
    if let (Ok(built), Some(inputs)) = (&result, inputs) {
        crate::build::inputs::remember(&stack.name, name, inputs, built.image_id.clone());
    }
    result.map_err(|e| ServiceFailure::Build {
        error: e.to_string(),
    })
}

/// Where a host build of `name` reports: its output lines to the service's `build` output, cargo's
/// progress to the service's detail.
pub fn host_build_reporters(
    board: &Arc<StatusBoard>,
    name: &str,
) -> (
    impl Fn(&str) + Send + Sync + 'static,
    impl Fn(&crate::build::cargo::Progress) + Send + Sync + 'static,
) {
    let (lines, progress) = (board.clone(), board.clone());
    let (line_name, progress_name) = (name.to_string(), name.to_string());
    (
        move |line: &str| lines.output(&line_name, "build", line),
        move |p: &crate::build::cargo::Progress| {
            progress.apply(
                &progress_name,
                Transition::BuildProgress {
                    detail: format!("building on the host: {p}"),
                },
            );
        },
    )
}

/// Whether `up` builds the service's image: it can be built and the image is missing, a build
/// is forced (`--build`, `pull_policy: build`), or the image was not built from the inputs the
/// service has now. Returns the image's id when present, and the answer.
pub async fn build_needed(
    engine: &Engine,
    stack: &Stack,
    name: &str,
    image: &str,
    force_build: bool,
) -> Result<(Option<String>, bool), ServiceFailure> {
    let present = engine
        .image_id(image)
        .await
        .map_err(|e| image_failure(image, e))?;
    if !buildable(stack, name) {
        return Ok((present, false));
    }
    let pull_policy = stack
        .services
        .get(name)
        .map(|svc| svc.pull_policy)
        .unwrap_or_default();
    let Some(id) = present.clone() else {
        return Ok((present, true));
    };
    if force_build || pull_policy == PullPolicy::Build {
        return Ok((present, true));
    }
    let Some(svc) = stack.services.get(name).cloned() else {
        return Ok((present, false));
    };
    let (project, host) = (stack.name.clone(), on_host(stack, name));
    let current = tokio::task::spawn_blocking(move || {
        crate::build::inputs::is_current(&project, &svc, host, &id)
    })
    .await
    .ok()
    .flatten();
    Ok((present, current == Some(false)))
}

/// What an `up` found out about a service's image before the service's job began.
#[derive(Clone, Default)]
pub struct Prior {
    /// The answer of [`build_needed`] (the image's id when present, and whether to build).
    pub needed: Option<(Option<String>, bool)>,
    /// The workspace build started for this service and others.
    pub shared: Option<Arc<WorkspaceBuild>>,
}

/// The image a service runs, present locally: built (see [`build_needed`]; asked here unless
/// `prior` has the answer), found, or pulled. Returns its id.
pub async fn obtain_image(
    engine: &Engine,
    board: &Arc<StatusBoard>,
    stack: &Stack,
    name: &str,
    image: &str,
    force_build: bool,
    prior: Prior,
) -> Result<String, ServiceFailure> {
    let pull_policy = stack
        .services
        .get(name)
        .map(|svc| svc.pull_policy)
        .unwrap_or_default();
    let (present, build) = match prior.needed {
        Some(needed) => needed,
        None => build_needed(engine, stack, name, image, force_build).await?,
    };
    if build {
        return build_image(engine, board, stack, name, image, prior.shared)
            .await
            .map(|built| built.image_id);
    }
    match (present, pull_policy) {
        (Some(id), PullPolicy::Missing | PullPolicy::Never | PullPolicy::Build) => Ok(id),
        (None, PullPolicy::Never) => Err(ServiceFailure::Image {
            image: image.to_string(),
            reason: "is not present locally and pull_policy is `never`".into(),
        }),
        (_, _) => {
            board.apply(
                name,
                Transition::Pulling {
                    image: image.to_string(),
                },
            );
            engine
                .pull_image(name, image)
                .await
                .map_err(|e| image_failure(image, e))?;
            engine
                .image_id(image)
                .await
                .map_err(|e| image_failure(image, e))?
                .ok_or_else(|| ServiceFailure::Image {
                    image: image.to_string(),
                    reason: "was pulled but is not there".into(),
                })
        }
    }
}

/// How often a workspace build's progress goes to `up`'s output (the services' detail follows
/// every report).
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Start one cargo invocation per workspace for the `selected` services whose host build is
/// `cargo build … -p X` and whose image this `up` will build (see [`build_needed`]): all of a
/// workspace's services are compiled together, not one after another behind cargo's lock. Each
/// service's job then awaits its workspace's build and packages its own artifact. Returns, for
/// each such service, the answer of [`build_needed`] and the build serving it.
pub async fn start_workspace_builds(
    engine: &Engine,
    board: &Arc<StatusBoard>,
    stack: &Stack,
    selected: &std::collections::BTreeSet<String>,
    force_build: bool,
) -> std::collections::HashMap<String, Prior> {
    use crate::build::cargo::{Report, WorkspaceKey, cargo_package};
    use std::collections::{BTreeMap, HashMap};

    if !host_builds_enabled() {
        return HashMap::new();
    }
    let candidates: Vec<(String, String, WorkspaceKey, String)> = selected
        .iter()
        .filter_map(|name| {
            let svc = stack.services.get(name)?;
            let (key, package) = cargo_package(svc.novadev.host_build.as_ref()?)?;
            Some((name.clone(), svc.image_ref(&stack.name), key, package))
        })
        .collect();
    let checks = futures_util::future::join_all(
        candidates
            .iter()
            .map(|(name, image, ..)| build_needed(engine, stack, name, image, force_build)),
    )
    .await;
    let mut groups: BTreeMap<WorkspaceKey, Vec<(String, String)>> = BTreeMap::new();
    let mut priors: HashMap<String, Prior> = HashMap::new();
    for ((name, _, key, package), check) in candidates.into_iter().zip(checks) {
        // An error is not kept: the service's job asks again and reports it.
        let Ok(needed) = check else { continue };
        if needed.1 {
            groups.entry(key).or_default().push((name.clone(), package));
        }
        priors.insert(
            name,
            Prior {
                needed: Some(needed),
                shared: None,
            },
        );
    }
    for (key, members) in groups {
        let names: Vec<String> = members.iter().map(|(n, _)| n.clone()).collect();
        let packages = members.into_iter().map(|(_, p)| p).collect();
        let place = key.workdir.file_name().map_or_else(
            || key.workdir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        board.message(format!(
            "cargo builds {} service(s) in {place}/ at once: {}",
            names.len(),
            names.join(", ")
        ));
        let (board, members) = (board.clone(), names.clone());
        let last_said = std::sync::Mutex::new(None::<std::time::Instant>);
        let report = Arc::new(move |report: Report<'_>| match report {
            Report::Line(line) => {
                for name in &members {
                    board.output(name, "build", line);
                }
            }
            Report::Progress(p) => {
                for name in &members {
                    board.apply(
                        name,
                        Transition::BuildProgress {
                            detail: format!("building on the host: {p}"),
                        },
                    );
                }
                if let Ok(mut last) = last_said.lock()
                    && last.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY)
                {
                    *last = Some(std::time::Instant::now());
                    board.message(format!("cargo in {place}/: {p}"));
                }
            }
        });
        let build = WorkspaceBuild::start(&key, packages, report);
        for name in names {
            priors.entry(name).or_default().shared = Some(build.clone());
        }
    }
    priors
}
