//! A service's configuration objects: its environment (ConfigMap, and a Secret for what looks
//! secret), the files it bind-mounts (ConfigMap), and the Secrets of generated key pairs.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use regex::Regex;
use sha2::{Digest, Sha256};

use crate::k8s::error::RenderError;
use crate::k8s::labels;
use crate::k8s::manifest::Manifest;
use crate::k8s::names;
use crate::k8s::render::{Context, Warnings};
use crate::k8s::settings::ServiceSettings;
use crate::stack::model::Service;

/// Kubernetes refuses a ConfigMap above 1 MiB; leave room for the rest of the object.
const MAX_FILE_BYTES: u64 = 900 * 1024;

/// A service's environment, split.
#[derive(Debug, Default, PartialEq)]
pub struct Environment {
    pub plain: BTreeMap<String, String>,
    pub secret: BTreeMap<String, String>,
}

/// Splits the environment: a value goes to the Secret when its name has a secret-looking part
/// (PASSWORD, SECRET, TOKEN, KEY… — but not a `…_PATH`/`_FILE`/`_DIR`, which holds a path), when
/// it is a URL with a password in it, or when `secret_env` names it.
pub fn split_environment(service: &Service, settings: &ServiceSettings) -> Environment {
    let mut env = Environment::default();
    for (key, value) in &service.environment {
        let forced = settings.secret_env.iter().any(|k| k == key);
        if forced || secret_name(key) || url_with_password(value) {
            env.secret.insert(key.clone(), value.clone());
        } else {
            env.plain.insert(key.clone(), value.clone());
        }
    }
    env
}

fn secret_name(key: &str) -> bool {
    // Long words anywhere in the name (PGPASSWORD); short ones only as a whole part (KEY, not
    // KEYBOARD).
    const SECRET_WORDS: &[&str] = &["PASSWORD", "PASSWD", "SECRET", "TOKEN", "CREDENTIAL"];
    const SECRET_PARTS: &[&str] = &["PASS", "PWD", "KEY", "APIKEY"];
    const PATH_SUFFIXES: &[&str] = &["PATH", "FILE", "DIR"];
    let upper = key.to_ascii_uppercase();
    let parts: Vec<&str> = upper.split(['_', '-', '.']).collect();
    let holds_a_path = parts
        .last()
        .is_some_and(|last| PATH_SUFFIXES.contains(last));
    !holds_a_path
        && (SECRET_WORDS.iter().any(|w| upper.contains(w))
            || parts.iter().any(|p| SECRET_PARTS.contains(p)))
}

fn url_with_password(value: &str) -> bool {
    static URL: OnceLock<Option<Regex>> = OnceLock::new();
    URL.get_or_init(|| Regex::new(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*:[^/@\s]+@").ok())
        .as_ref()
        .is_some_and(|re| re.is_match(value))
}

/// The ConfigMap and Secret of a service's environment (each only if non-empty).
pub fn environment_objects(
    cx: &Context<'_>,
    service: &str,
    env: &Environment,
    warnings: &mut Warnings,
) -> Vec<Manifest> {
    let placement = &cx.placements[service];
    for key in env.plain.keys().chain(env.secret.keys()) {
        if !is_env_name(key) {
            warnings.service(
                service,
                format!("environment variable `{key}` is not a C identifier: clusters before 1.32 skip it"),
            );
        }
    }
    let mut out = Vec::new();
    if !env.plain.is_empty() {
        out.push(Manifest::ConfigMap(ConfigMap {
            metadata: cx.meta(service, env_name(&placement.name), &placement.namespace),
            data: Some(env.plain.clone()),
            ..ConfigMap::default()
        }));
    }
    if !env.secret.is_empty() {
        out.push(Manifest::Secret(Secret {
            metadata: cx.meta(service, env_name(&placement.name), &placement.namespace),
            type_: Some("Opaque".into()),
            data: Some(
                env.secret
                    .iter()
                    .map(|(k, v)| (k.clone(), ByteString(v.clone().into_bytes())))
                    .collect(),
            ),
            ..Secret::default()
        }));
    }
    out
}

pub fn env_name(workload: &str) -> String {
    format!("{workload}-env")
}

pub fn files_name(workload: &str) -> String {
    format!("{workload}-files")
}

fn is_env_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A bind-mounted file as a ConfigMap entry.
#[derive(Debug, Clone, PartialEq)]
pub struct MountedFile {
    /// The key in `<svc>-files`.
    pub key: String,
    pub target: String,
}

/// Reads the bind-mounted files (not directories) into the service's files ConfigMap. Returns
/// the ConfigMap (if any file) and where each file goes.
pub fn files_object(
    cx: &Context<'_>,
    service: &Service,
    files: &[(&Path, &str, bool)],
    warnings: &mut Warnings,
) -> Result<(Option<Manifest>, Vec<MountedFile>), RenderError> {
    let placement = &cx.placements[&service.name];
    let mut data = BTreeMap::new();
    let mut binary = BTreeMap::new();
    let mut mounted = Vec::new();
    for (path, target, read_only) in files {
        let read_error = |source| RenderError::File {
            service: service.name.clone(),
            path: path.to_path_buf(),
            target: target.to_string(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read_error)?.len();
        if size > MAX_FILE_BYTES {
            warnings.service(
                &service.name,
                format!(
                    "{} ({size} bytes, bind-mounted at {target}) is too large for a ConfigMap: not mounted",
                    cx.shown(path)
                ),
            );
            continue;
        }
        let bytes = std::fs::read(path).map_err(read_error)?;
        let base = names::config_key(
            &path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let mut key = base.clone();
        let mut n = 2;
        while data.contains_key(&key) || binary.contains_key(&key) {
            key = format!("{n}-{base}");
            n += 1;
        }
        match String::from_utf8(bytes) {
            Ok(text) => {
                data.insert(key.clone(), text);
            }
            Err(e) => {
                binary.insert(key.clone(), ByteString(e.into_bytes()));
            }
        }
        if !read_only {
            warnings.service(
                &service.name,
                format!("{} is mounted read-only at {target} (from a ConfigMap): changes the container makes there fail", cx.shown(path)),
            );
        }
        mounted.push(MountedFile {
            key,
            target: target.to_string(),
        });
    }
    if mounted.is_empty() {
        return Ok((None, mounted));
    }
    let config_map = ConfigMap {
        metadata: cx.meta(
            &service.name,
            files_name(&placement.name),
            &placement.namespace,
        ),
        data: (!data.is_empty()).then_some(data),
        binary_data: (!binary.is_empty()).then_some(binary),
        ..ConfigMap::default()
    };
    Ok((Some(Manifest::ConfigMap(config_map)), mounted))
}

/// The name of the Secret holding generated key pair `key`.
pub fn key_secret_name(project: &str, key: &str) -> String {
    format!(
        "{}-key-{}",
        project.replace('_', "-"),
        key.replace('_', "-")
    )
}

/// The Secret of a generated key pair, for whoever applies (its content is never rendered).
pub fn key_secret(
    project: &str,
    namespace: &str,
    key: &str,
    private_pem: &[u8],
    public_pem: &[u8],
) -> Manifest {
    let mut labels = labels::project_labels(project);
    labels.insert("dev.novadev.key".into(), key.to_string());
    Manifest::Secret(Secret {
        metadata: ObjectMeta {
            name: Some(key_secret_name(project, key)),
            namespace: Some(namespace.to_string()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([
            ("private.pem".to_string(), ByteString(private_pem.to_vec())),
            ("public.pem".to_string(), ByteString(public_pem.to_vec())),
        ])),
        ..Secret::default()
    })
}

/// A short hash of what the pods read from ConfigMaps and Secrets.
pub fn config_hash(parts: &[&Manifest]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"novadev-k8s-config-v1\0");
    for part in parts {
        match part {
            Manifest::ConfigMap(cm) => {
                for (k, v) in cm.data.iter().flatten() {
                    hasher.update(format!("cm:{k}={}\0", v.len()).as_bytes());
                    hasher.update(v.as_bytes());
                }
                for (k, v) in cm.binary_data.iter().flatten() {
                    hasher.update(format!("cmb:{k}={}\0", v.0.len()).as_bytes());
                    hasher.update(&v.0);
                }
            }
            Manifest::Secret(s) => {
                for (k, v) in s.data.iter().flatten() {
                    hasher.update(format!("s:{k}={}\0", v.0.len()).as_bytes());
                    hasher.update(&v.0);
                }
            }
            _ => {}
        }
    }
    hex::encode(&hasher.finalize()[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_names_and_urls_go_to_the_secret() {
        assert!(
            secret_name("POSTGRES_PASSWORD") && secret_name("api_token") && secret_name("JWT_KEY")
        );
        assert!(secret_name("PGPASSWORD"));
        assert!(
            !secret_name("JWT_PRIVATE_KEY_PATH")
                && !secret_name("KAFKA_BROKERS")
                && !secret_name("KEYBOARD")
        );
        assert!(url_with_password(
            "postgres://nova:pw@postgres:5432/nova_auth"
        ));
        assert!(
            !url_with_password("postgres://postgres:5432/db") && !url_with_password("kafka:9092")
        );
    }

    #[test]
    fn forced_names_go_to_the_secret() {
        let mut service = Service::new("web");
        service.environment.insert("DSN".into(), "x".into());
        service.environment.insert("MODE".into(), "dev".into());
        let settings = ServiceSettings {
            secret_env: vec!["DSN".into()],
            ..ServiceSettings::default()
        };
        let env = split_environment(&service, &settings);
        assert_eq!(env.secret.keys().collect::<Vec<_>>(), ["DSN"]);
        assert_eq!(env.plain.keys().collect::<Vec<_>>(), ["MODE"]);
    }
}
