//! The image a service runs: found, pulled, or built (a Dockerfile build, or the host build
//! fast path), with the build recorded on the board and its output published for the log view.

use crate::board::{StatusBoard, Transition};
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

/// Build the service's image (host build, else `build:`) and record the build on the board; its
/// output lines are published as the service's `build` output. Returns the image id.
pub async fn build_image(
    engine: &Engine,
    board: &StatusBoard,
    stack: &Stack,
    name: &str,
    image: &str,
) -> Result<String, ServiceFailure> {
    let on_host = stack
        .services
        .get(name)
        .is_some_and(|svc| svc.novadev.host_build.is_some())
        && host_builds_enabled();
    board.apply(
        name,
        Transition::BuildStarted {
            image: image.to_string(),
            on_host,
        },
    );
    let on_line = |line: &str| board.output(name, "build", line);
    let result = if on_host {
        crate::build::host_build(engine, stack, name, on_line).await
    } else {
        crate::build::build_service(engine, stack, name, on_line).await
    };
    let error = result.as_ref().err().map(ToString::to_string);
    board.apply(
        name,
        Transition::BuildFinished {
            error: error.clone(),
        },
    );
    result.map_err(|e| ServiceFailure::Build {
        error: e.to_string(),
    })
}

/// The image a service runs, present locally: built (when missing, forced, or
/// `pull_policy: build`), found, or pulled. Returns its id.
pub async fn obtain_image(
    engine: &Engine,
    board: &StatusBoard,
    stack: &Stack,
    name: &str,
    image: &str,
    force_build: bool,
) -> Result<String, ServiceFailure> {
    let pull_policy = stack
        .services
        .get(name)
        .map(|svc| svc.pull_policy)
        .unwrap_or_default();
    let present = engine
        .image_id(image)
        .await
        .map_err(|e| image_failure(image, e))?;
    let wants_build = present.is_none() || force_build || pull_policy == PullPolicy::Build;
    if buildable(stack, name) && wants_build {
        return build_image(engine, board, stack, name, image).await;
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
