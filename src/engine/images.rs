//! Images: is it here, pull it, build it from a context tar, add a layer to one.

use std::collections::HashMap;

use bollard::query_parameters::{
    BuildImageOptions, CreateImageOptions, ImportImageOptions, RemoveImageOptions,
};
use bytes::Bytes;
use futures_util::StreamExt;

use super::{Engine, EngineError, image_archive, is_404};

/// Split `repo[:tag][@digest]` into the pull parameters (a registry port is not a tag).
fn split_reference(image: &str) -> (String, String) {
    if image.contains('@') {
        return (image.to_string(), String::new());
    }
    let last_slash = image.rfind('/').map(|i| i + 1).unwrap_or(0);
    match image[last_slash..].rfind(':') {
        Some(i) => (
            image[..last_slash + i].to_string(),
            image[last_slash + i + 1..].to_string(),
        ),
        None => (image.to_string(), "latest".to_string()),
    }
}

/// The engine's own words for a failed request or stream.
fn error_message(e: bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message,
        bollard::errors::Error::DockerStreamError { error } => error,
        other => other.to_string(),
    }
}

/// Why one item of a pull or load progress stream says the operation failed, if it does.
fn stream_failure(
    item: Result<Option<bollard::models::ErrorDetail>, bollard::errors::Error>,
) -> Option<String> {
    match item {
        Ok(detail) => detail.and_then(|d| d.message),
        Err(e) => Some(error_message(e)),
    }
}

impl Engine {
    /// The id of a local image, or `None` when it is not present.
    pub async fn image_id(&self, image: &str) -> Result<Option<String>, EngineError> {
        match self.docker().inspect_image(image).await {
            Ok(inspect) => Ok(inspect.id),
            Err(e) if is_404(&e) => Ok(None),
            Err(e) => Err(EngineError::api(format!("inspecting image {image}"))(e)),
        }
    }

    /// A label of a local image (`None` when the image or the label is absent).
    pub async fn image_label(&self, image: &str, key: &str) -> Result<Option<String>, EngineError> {
        match self.docker().inspect_image(image).await {
            Ok(inspect) => Ok(inspect
                .config
                .and_then(|c| c.labels)
                .and_then(|mut l| l.remove(key))),
            Err(e) if is_404(&e) => Ok(None),
            Err(e) => Err(EngineError::api(format!("inspecting image {image}"))(e)),
        }
    }

    /// Pull an image; a failure names the service and the image.
    pub async fn pull_image(&self, service: &str, image: &str) -> Result<(), EngineError> {
        let (repo, tag) = split_reference(image);
        let options = CreateImageOptions {
            from_image: Some(repo),
            tag: (!tag.is_empty()).then_some(tag),
            ..Default::default()
        };
        let mut stream = self.docker().create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            if let Some(reason) = stream_failure(item.map(|info| info.error_detail)) {
                return Err(EngineError::ImageUnavailable {
                    service: service.to_string(),
                    image: image.to_string(),
                    reason,
                });
            }
        }
        Ok(())
    }

    /// Build an image from a tar of its context. Each line of builder output goes to `on_line`.
    /// Returns the new image's id.
    #[allow(clippy::too_many_arguments)] // mirrors the engine's build parameters one for one
    pub async fn build_image(
        &self,
        service: &str,
        tag: &str,
        context_tar: Bytes,
        dockerfile: &str,
        args: &std::collections::BTreeMap<String, String>,
        target: Option<&str>,
        cache_from: &[String],
        labels: HashMap<String, String>,
        mut on_line: impl FnMut(&str) + Send,
    ) -> Result<String, EngineError> {
        let options = BuildImageOptions {
            dockerfile: dockerfile.to_string(),
            t: Some(tag.to_string()),
            rm: true,
            forcerm: true,
            buildargs: Some(args.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            target: target.unwrap_or_default().to_string(),
            cachefrom: (!cache_from.is_empty()).then(|| cache_from.to_vec()),
            labels: Some(labels),
            ..Default::default()
        };
        let mut stream =
            self.docker()
                .build_image(options, None, Some(bollard::body_full(context_tar)));
        let mut last_lines: Vec<String> = Vec::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(text) = info.stream.as_deref().or(info.status.as_deref()) {
                        for line in text.lines().filter(|l| !l.trim().is_empty()) {
                            on_line(line);
                            last_lines.push(line.to_string());
                            if last_lines.len() > 20 {
                                last_lines.remove(0);
                            }
                        }
                    }
                    if let Some(detail) = info.error_detail {
                        let message = detail.message.unwrap_or_else(|| "unknown error".into());
                        on_line(&message);
                        return Err(EngineError::Build {
                            service: service.to_string(),
                            message,
                        });
                    }
                }
                Err(e) => {
                    let message = error_message(e);
                    on_line(&message);
                    return Err(EngineError::Build {
                        service: service.to_string(),
                        message,
                    });
                }
            }
        }
        match self.image_id(tag).await? {
            Some(id) => Ok(id),
            None => Err(EngineError::Build {
                service: service.to_string(),
                message: format!(
                    "the builder finished but image {tag} is missing; last output: {}",
                    last_lines.join(" / ")
                ),
            }),
        }
    }

    /// Make image `tag` from the present image `base` plus one layer holding `file`, with
    /// `entrypoint` (and no command) and `labels` added to the base's configuration, by loading
    /// an archive that carries only the new layer (see `image_archive`). Returns the image id.
    pub async fn add_layer(
        &self,
        service: &str,
        base: &str,
        tag: &str,
        file: image_archive::File<'_>,
        entrypoint: &[String],
        labels: &HashMap<String, String>,
    ) -> Result<String, EngineError> {
        let fail = |message: String| EngineError::Build {
            service: service.to_string(),
            message,
        };
        let repo_tag = image_archive::repo_tag(tag)
            .ok_or_else(|| fail(format!("`{tag}` cannot name a new image")))?;
        let inspect = match self.docker().inspect_image(base).await {
            Ok(inspect) => inspect,
            Err(e) if is_404(&e) => {
                return Err(fail(format!("base image `{base}` is not present")));
            }
            Err(e) => return Err(EngineError::api(format!("inspecting image {base}"))(e)),
        };
        let base_parts = image_archive::Base {
            config: serde_json::to_value(&inspect.config).unwrap_or_default(),
            diff_ids: inspect
                .root_fs
                .and_then(|r| r.layers)
                .ok_or_else(|| fail(format!("base image `{base}` reports no layers")))?,
            architecture: inspect.architecture.unwrap_or_else(|| "amd64".into()),
            os: inspect.os.unwrap_or_else(|| "linux".into()),
        };
        let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let archive =
            image_archive::build(&base_parts, &repo_tag, &file, entrypoint, labels, &created)
                .map_err(|e| fail(format!("packing the image: {e}")))?;
        let options = ImportImageOptions {
            quiet: true,
            ..Default::default()
        };
        let mut stream =
            self.docker()
                .import_image(options, bollard::body_full(archive.bytes.into()), None);
        while let Some(item) = stream.next().await {
            if let Some(message) = stream_failure(item.map(|info| info.error_detail)) {
                return Err(fail(format!("loading the image: {message}")));
            }
        }
        // The engine must now have it under the tag, with the id the archive's config implies.
        match self.image_id(&repo_tag).await? {
            Some(id) if id == archive.image_id => Ok(id),
            Some(id) => Err(fail(format!(
                "loaded image {repo_tag} has id {id}, expected {}",
                archive.image_id
            ))),
            None => Err(fail(format!("image {repo_tag} is missing after the load"))),
        }
    }

    /// Ids and first tags of the images novadev built for a project (by label).
    pub async fn list_project_images(
        &self,
        project: &str,
    ) -> Result<Vec<(String, String)>, EngineError> {
        let mut filters = HashMap::new();
        filters.insert(
            "label".to_string(),
            vec![super::labels::project_filter(project)],
        );
        let options = bollard::query_parameters::ListImagesOptions {
            filters: Some(filters),
            ..Default::default()
        };
        let images = self
            .docker()
            .list_images(Some(options))
            .await
            .map_err(EngineError::api("listing images"))?;
        Ok(images
            .into_iter()
            .map(|i| {
                let tag = i.repo_tags.first().cloned().unwrap_or_else(|| i.id.clone());
                (i.id, tag)
            })
            .collect())
    }

    pub async fn remove_image(&self, image: &str) -> Result<(), EngineError> {
        match self
            .docker()
            .remove_image(image, None::<RemoveImageOptions>, None)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_404(&e) => Ok(()),
            Err(e) => Err(EngineError::api(format!("removing image {image}"))(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_reference;

    #[test]
    fn reference_is_split_into_repo_and_tag() {
        assert_eq!(split_reference("redis"), ("redis".into(), "latest".into()));
        assert_eq!(
            split_reference("postgres:15"),
            ("postgres".into(), "15".into())
        );
        assert_eq!(
            split_reference("localhost:5000/team/app"),
            ("localhost:5000/team/app".into(), "latest".into())
        );
        assert_eq!(
            split_reference("localhost:5000/app:v2"),
            ("localhost:5000/app".into(), "v2".into())
        );
    }
}
