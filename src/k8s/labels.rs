//! The labels and annotations novadev puts on every Kubernetes object it renders. The project and
//! service keys are the Docker side's (`crate::engine::labels`), so one vocabulary finds a
//! project's things on either runtime; `app.kubernetes.io/*` are the well-known ones other tools
//! read.

use std::collections::BTreeMap;

pub use crate::engine::labels::{PROJECT, SERVICE};

pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const NAME: &str = "app.kubernetes.io/name";
pub const INSTANCE: &str = "app.kubernetes.io/instance";
pub const PART_OF: &str = "app.kubernetes.io/part-of";
pub const COMPONENT: &str = "app.kubernetes.io/component";
/// The value of `app.kubernetes.io/managed-by`, and the server-side apply field manager.
pub const MANAGER: &str = "novadev";
/// On pod templates: a hash of the configuration the pods read (env, mounted files), so that a
/// changed ConfigMap or Secret rolls the pods as a changed container would be recreated.
pub const CONFIG_HASH: &str = "dev.novadev.config-hash";

/// A label selector (`key=value,…`) for everything of a project.
pub fn project_selector(project: &str) -> String {
    format!("{PROJECT}={project},{MANAGED_BY}={MANAGER}")
}

/// A label selector for one service of a project.
pub fn service_selector(project: &str, service: &str) -> String {
    format!("{PROJECT}={project},{SERVICE}={service}")
}

/// Labels of a project-wide object (namespace, RBAC for the waits).
pub fn project_labels(project: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (PROJECT.to_string(), project.to_string()),
        (MANAGED_BY.to_string(), MANAGER.to_string()),
        (PART_OF.to_string(), project.to_string()),
    ])
}

/// Labels of a service's objects (workload, pods, Services, config).
pub fn service_labels(
    project: &str,
    service: &str,
    tier: Option<&str>,
) -> BTreeMap<String, String> {
    let mut labels = project_labels(project);
    labels.insert(SERVICE.to_string(), service.to_string());
    labels.insert(NAME.to_string(), service.to_string());
    labels.insert(INSTANCE.to_string(), format!("{project}-{service}"));
    if let Some(tier) = tier.and_then(tier_value) {
        labels.insert(COMPONENT.to_string(), tier);
    }
    labels
}

/// The pod selector of a service: only the two novadev keys, which never change (a workload's
/// selector is immutable).
pub fn selector(project: &str, service: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (PROJECT.to_string(), project.to_string()),
        (SERVICE.to_string(), service.to_string()),
    ])
}

/// A display tier as a label value (`PostgreSQL` → `postgresql`), if it can be one.
fn tier_value(tier: &str) -> Option<String> {
    let value: String = tier
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let value = value.trim_matches('-').to_string();
    (!value.is_empty() && is_label_value(&value)).then_some(value)
}

/// Kubernetes' label value syntax: at most 63 characters, alphanumerics with `-_.` inside.
pub fn is_label_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    value.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && bytes.first().is_none_or(u8::is_ascii_alphanumeric)
        && bytes.last().is_none_or(u8::is_ascii_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_become_label_values_or_nothing() {
        assert_eq!(tier_value("PostgreSQL").as_deref(), Some("postgresql"));
        assert_eq!(
            tier_value("Redis Sentinel").as_deref(),
            Some("redis-sentinel")
        );
        assert_eq!(tier_value("***"), None);
    }

    #[test]
    fn label_values_follow_kubernetes_syntax() {
        assert!(is_label_value("social-service") && is_label_value("a.b_c") && is_label_value(""));
        assert!(!is_label_value("-x") && !is_label_value("x_") && !is_label_value(&"a".repeat(64)));
    }
}
