//! Compose names → Kubernetes names. Services, namespaces and derived objects (`<svc>-env`,
//! `<svc>-headless`) must be RFC 1035 labels: lowercase alphanumerics and `-`, starting with a
//! letter, at most 63 characters.

use crate::k8s::error::RenderError;

/// The longest suffix novadev appends to a service's name (`-headless`), so every derived name
/// still fits in 63 characters.
const LONGEST_SUFFIX: usize = "-headless".len();

/// A service's Kubernetes name: lowercased, `_` and `.` turned into `-`. Other characters, or a
/// name that does not start with a letter or is too long, are an error (a silent rename would
/// break the hostnames other services use).
pub fn service_name(name: &str) -> Result<String, RenderError> {
    let converted: String = name
        .chars()
        .map(|c| match c {
            '_' | '.' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    check_label("service", name, &converted, 63 - LONGEST_SUFFIX)?;
    Ok(converted)
}

/// A namespace name as written in `x-novadev.k8s` (or the project name): must already be valid.
pub fn namespace(name: &str) -> Result<String, RenderError> {
    let converted = name.replace('_', "-");
    check_label("namespace", name, &converted, 63)?;
    Ok(converted)
}

/// A volume's claim name: like a service name.
pub fn volume_name(name: &str) -> Result<String, RenderError> {
    let converted: String = name
        .chars()
        .map(|c| match c {
            '_' | '.' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    check_label("volume", name, &converted, 63)?;
    Ok(converted)
}

/// A ConfigMap key for a mounted file: its base name where that is a valid key.
pub fn config_key(file_name: &str) -> String {
    let key: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if key.is_empty() || key == "." || key == ".." {
        "file".to_string()
    } else {
        key
    }
}

fn check_label(
    what: &'static str,
    original: &str,
    converted: &str,
    max: usize,
) -> Result<(), RenderError> {
    let error = |reason: String| RenderError::Name {
        what,
        name: original.to_string(),
        reason,
    };
    if converted.is_empty() || converted.len() > max {
        return Err(error(format!("it must have 1 to {max} characters")));
    }
    if !converted.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(error("it must start with a letter".into()));
    }
    if converted.ends_with('-') {
        return Err(error("it must end with a letter or digit".into()));
    }
    if let Some(bad) = converted
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(error(format!(
            "`{bad}` is not allowed (only a-z, 0-9 and -)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_punctuation_becomes_dashes() {
        assert_eq!(
            service_name("My_Web.api").ok().as_deref(),
            Some("my-web-api")
        );
        assert_eq!(
            service_name("redis-master").ok().as_deref(),
            Some("redis-master")
        );
    }

    #[test]
    fn names_that_cannot_be_labels_are_errors() {
        assert!(service_name("1web").is_err());
        assert!(service_name(&"a".repeat(60)).is_err());
        assert!(namespace("Nova").is_err());
        assert!(namespace("nova_dev").is_ok());
    }

    #[test]
    fn file_names_become_config_keys() {
        assert_eq!(config_key("init.sql"), "init.sql");
        assert_eq!(config_key("my file.sh"), "my_file.sh");
    }
}
