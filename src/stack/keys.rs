//! The Compose keys novadev knows, and the check that sorts a mapping's keys into supported,
//! known-but-unsupported (a warning) and unknown (an error, with a "did you mean" suggestion).

use crate::stack::error::Report;
use crate::stack::yaml::Node;

pub const TOP_LEVEL: &[&str] = &[
    "name", "services", "networks", "volumes", "version", "secrets", "configs", "include",
];
pub const TOP_LEVEL_UNSUPPORTED: &[&str] = &["models"];

pub const SERVICE: &[&str] = &[
    "image",
    "build",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "expose",
    "volumes",
    "networks",
    "depends_on",
    "healthcheck",
    "restart",
    "profiles",
    "labels",
    "container_name",
    "pull_policy",
    "working_dir",
    "user",
    "hostname",
    "stop_signal",
    "stop_grace_period",
    "extra_hosts",
    "init",
    "tty",
    "stdin_open",
    "develop",
    "extends",
    "tmpfs",
    "deploy",
    "scale",
    "mem_limit",
    "mem_reservation",
    "cpus",
    "pids_limit",
    "cap_add",
    "cap_drop",
    "privileged",
    "read_only",
    "network_mode",
    "security_opt",
    "secrets",
    "configs",
    "logging",
    "ulimits",
    "links",
    "shm_size",
    "platform",
    "sysctls",
    "dns",
    "dns_search",
    "dns_opt",
    "devices",
    "post_start",
    "pre_stop",
];

/// Compose service keys that novadev does not implement (yet): warned about, then ignored.
pub const SERVICE_UNSUPPORTED: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "cgroup",
    "cgroup_parent",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpuset",
    "credential_spec",
    "device_cgroup_rules",
    "domainname",
    "external_links",
    "gpus",
    "group_add",
    "ipc",
    "isolation",
    "label_file",
    "mac_address",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pre_start",
    "provider",
    "pull_refresh_after",
    "runtime",
    "storage_opt",
    "use_api_socket",
    "userns_mode",
    "uts",
    "volumes_from",
];

pub const BUILD: &[&str] = &[
    "context",
    "dockerfile",
    "args",
    "target",
    "dockerfile_inline",
    "cache_from",
];
pub const BUILD_UNSUPPORTED: &[&str] = &[
    "additional_contexts",
    "cache_to",
    "entitlements",
    "extra_hosts",
    "isolation",
    "labels",
    "network",
    "no_cache",
    "platforms",
    "privileged",
    "provenance",
    "pull",
    "sbom",
    "secrets",
    "shm_size",
    "ssh",
    "tags",
    "ulimits",
];

pub const HEALTHCHECK: &[&str] = &[
    "test",
    "interval",
    "timeout",
    "retries",
    "start_period",
    "start_interval",
    "disable",
];

pub const DEPENDS_ON: &[&str] = &["condition", "required", "restart"];

pub const PORT_LONG: &[&str] = &[
    "target",
    "published",
    "host_ip",
    "protocol",
    "mode",
    "name",
    "app_protocol",
];

pub const VOLUME_LONG: &[&str] = &[
    "type",
    "source",
    "target",
    "read_only",
    "bind",
    "volume",
    "tmpfs",
    "consistency",
];
pub const VOLUME_LONG_UNSUPPORTED: &[&str] = &["image"];

pub const SERVICE_NETWORK: &[&str] = &["aliases"];
pub const SERVICE_NETWORK_UNSUPPORTED: &[&str] = &[
    "ipv4_address",
    "ipv6_address",
    "link_local_ips",
    "mac_address",
    "driver_opts",
    "priority",
    "gw_priority",
    "interface_name",
];

pub const NETWORK: &[&str] = &["name", "external", "driver", "internal", "labels"];
pub const NETWORK_UNSUPPORTED: &[&str] = &[
    "driver_opts",
    "ipam",
    "attachable",
    "enable_ipv4",
    "enable_ipv6",
];

pub const VOLUME: &[&str] = &["name", "external", "driver", "labels"];
pub const VOLUME_UNSUPPORTED: &[&str] = &["driver_opts"];

pub const DEVELOP: &[&str] = &["watch"];
pub const WATCH: &[&str] = &["path", "action", "target", "ignore", "exec"];
pub const WATCH_UNSUPPORTED: &[&str] = &["include", "initial_sync"];
pub const WATCH_EXEC: &[&str] = &["command"];
pub const WATCH_EXEC_UNSUPPORTED: &[&str] = &["user", "privileged", "working_dir", "environment"];

pub const DEPLOY: &[&str] = &["replicas", "resources"];
pub const DEPLOY_UNSUPPORTED: &[&str] = &[
    "mode",
    "labels",
    "update_config",
    "rollback_config",
    "restart_policy",
    "placement",
    "endpoint_mode",
];
pub const RESOURCES: &[&str] = &["limits", "reservations"];
pub const LIMITS: &[&str] = &["cpus", "memory", "pids"];
pub const RESERVATIONS: &[&str] = &["cpus", "memory"];
pub const RESERVATIONS_UNSUPPORTED: &[&str] = &["devices", "generic_resources"];
pub const LOGGING: &[&str] = &["driver", "options"];
pub const ULIMIT: &[&str] = &["soft", "hard"];
/// A service's long-form `secrets:` / `configs:` entry.
pub const FILE_REF: &[&str] = &["source", "target"];
pub const FILE_REF_UNSUPPORTED: &[&str] = &["uid", "gid", "mode"];
/// A top-level `secrets:` entry.
pub const SECRET: &[&str] = &["file", "name"];
pub const SECRET_UNSUPPORTED: &[&str] = &[
    "environment",
    "external",
    "labels",
    "driver",
    "driver_opts",
    "template_driver",
];
/// A top-level `configs:` entry.
pub const CONFIG: &[&str] = &["file", "name"];
pub const CONFIG_UNSUPPORTED: &[&str] = &[
    "environment",
    "content",
    "external",
    "labels",
    "template_driver",
];
pub const HOOK: &[&str] = &[
    "command",
    "user",
    "privileged",
    "working_dir",
    "environment",
];
pub const EXTENDS: &[&str] = &["file", "service"];
pub const INCLUDE: &[&str] = &["path", "env_file", "project_directory"];

pub const NOVADEV_SERVICE: &[&str] = &["tier", "rebuild_on_change", "host_build", "keys", "k8s"];
pub const NOVADEV_KEY: &[&str] = &["name", "target"];
pub const NOVADEV_HOST_BUILD: &[&str] = &[
    "command",
    "workdir",
    "artifact",
    "base_image",
    "install_path",
    "live",
];
pub const NOVADEV_PROJECT: &[&str] = &["tiers", "connection", "requirements", "k8s"];
pub const NOVADEV_REQUIREMENTS: &[&str] = &["cpus", "memory"];

/// Sorts a mapping's entries: returns the supported ones (key text, key node, value node), warns
/// about known-unsupported keys, skips `x-*` extensions (`x-novadev` is returned when listed in
/// `supported`) and reports unknown keys as errors, suggesting the closest known key.
pub fn check<'n>(
    entries: &'n [(Node, Node)],
    what: &str,
    supported: &[&str],
    unsupported: &[&str],
    report: &mut Report,
) -> Vec<(&'n str, &'n Node, &'n Node)> {
    let mut out = Vec::new();
    for (key, value) in entries {
        let Some(name) = key.as_str() else {
            report.error(&key.pos, format!("{what}: keys must be strings"));
            continue;
        };
        if supported.contains(&name) {
            out.push((name, key, value));
        } else if unsupported.contains(&name) {
            report.warn(
                &key.pos,
                format!("{what}: `{name}` is not supported by novadev yet; ignored"),
            );
        } else if name.starts_with("x-") {
            // Extensions belong to other tools; Compose ignores them too.
        } else {
            let suggestion = suggest(name, supported.iter().chain(unsupported.iter()).copied())
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            report.error(
                &key.pos,
                format!("{what}: unknown key `{name}`{suggestion}"),
            );
        }
    }
    out
}

/// The closest candidate to a misspelled word, if it is close enough to be a plausible typo.
pub fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = if word.chars().count() <= 4 { 1 } else { 2 };
    candidates
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(suggest("imgae", SERVICE.iter().copied()), Some("image"));
        assert_eq!(
            suggest("enviroment", SERVICE.iter().copied()),
            Some("environment")
        );
        assert_eq!(
            suggest("depend_on", SERVICE.iter().copied()),
            Some("depends_on")
        );
        assert_eq!(suggest("frobnicate", SERVICE.iter().copied()), None);
    }

    #[test]
    fn key_lists_do_not_overlap() {
        for k in SERVICE {
            assert!(!SERVICE_UNSUPPORTED.contains(k), "{k}");
        }
        for k in BUILD {
            assert!(!BUILD_UNSUPPORTED.contains(k), "{k}");
        }
    }
}
