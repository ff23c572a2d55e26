//! Profiles, and the checks of keys (unknown, unsupported, misspelt).

use super::*;

// ---- profiles --------------------------------------------------------------------------------

pub(super) const PROFILED: &str = "services:
  web:
    image: x
  debug:
    image: x
    profiles: [debug]
  tools:
    image: x
    profiles: [tools, debug]
";

#[test]
fn services_with_inactive_profiles_are_dropped() {
    let loaded = compose(PROFILED).ok();
    assert_eq!(
        loaded.stack.services.keys().collect::<Vec<_>>(),
        vec!["web"]
    );
}

#[test]
fn active_profiles_enable_their_services() {
    let loaded = compose(PROFILED).profile("tools").ok();
    assert_eq!(
        loaded.stack.services.keys().collect::<Vec<_>>(),
        vec!["tools", "web"]
    );
    let loaded = compose(PROFILED).env("COMPOSE_PROFILES", "debug").ok();
    assert_eq!(loaded.stack.services.len(), 3);
    let loaded = compose(PROFILED).profile("*").ok();
    assert_eq!(loaded.stack.services.len(), 3);
}

#[test]
fn dependency_on_an_inactive_service_names_both() {
    let p = compose(&format!(
        "{PROFILED}  app:\n    image: x\n    depends_on: [debug]\n"
    ));
    assert_error(
        &p,
        12,
        "service `app` depends on `debug`, which is not active",
    );
}

// ---- key checking ----------------------------------------------------------------------------

#[test]
fn misspelled_service_key_is_an_error_with_a_suggestion() {
    assert_error(
        &compose("services:\n  web:\n    imgae: nginx\n"),
        3,
        "unknown key `imgae`; did you mean `image`?",
    );
}

#[test]
fn unsupported_service_keys_are_warnings_by_name() {
    let loaded = compose(
        "services:\n  web:\n    image: x\n    cgroup_parent: m\n    pre_start: [{command: x}]\n    x-other: 1\n",
    )
    .ok();
    let w = warnings(&loaded);
    assert!(
        w.contains("compose.yaml:4:5:")
            && w.contains("`cgroup_parent` is not supported by novadev yet; ignored"),
        "{w}"
    );
    assert!(
        w.contains("compose.yaml:5:5:") && w.contains("`pre_start`"),
        "{w}"
    );
    assert!(!w.contains("x-other"), "{w}");
}

#[test]
fn replicas_other_than_one_are_a_warning_that_one_container_runs() {
    for key in ["deploy:\n      replicas: 2", "scale: 3"] {
        let loaded = compose(&format!("services:\n  web:\n    image: x\n    {key}\n")).ok();
        let w = warnings(&loaded);
        assert!(
            w.contains("replicas; novadev runs exactly one container"),
            "{w}"
        );
    }
    let loaded = compose("services:\n  web:\n    image: x\n    deploy: {replicas: 1}\n").ok();
    assert!(loaded.warnings.is_empty(), "{}", warnings(&loaded));
}

#[test]
fn top_level_keys_are_checked() {
    let loaded = compose(
        "version: '3.8'\nx-anything: {a: 1}\nmodels:\n  m: {model: x}\nservices:\n  web:\n    image: x\n",
    )
    .ok();
    let w = warnings(&loaded);
    assert!(
        w.contains("compose.yaml:1:1:") && w.contains("obsolete"),
        "{w}"
    );
    assert!(
        w.contains("compose.yaml:3:1:")
            && w.contains("`models` is not supported by novadev yet; ignored"),
        "{w}"
    );
    assert_error(
        &compose("servces:\n  web:\n    image: x\n"),
        1,
        "did you mean `services`?",
    );
}

#[test]
fn every_service_key_of_the_compose_specification_is_known() {
    // From the Compose specification's service schema: none of these may be "unknown".
    let spec_keys = [
        "annotations",
        "attach",
        "blkio_config",
        "build",
        "cap_add",
        "cap_drop",
        "cgroup",
        "cgroup_parent",
        "command",
        "configs",
        "container_name",
        "cpu_count",
        "cpu_percent",
        "cpu_period",
        "cpu_quota",
        "cpu_rt_period",
        "cpu_rt_runtime",
        "cpu_shares",
        "cpus",
        "cpuset",
        "credential_spec",
        "depends_on",
        "deploy",
        "develop",
        "device_cgroup_rules",
        "devices",
        "dns",
        "dns_opt",
        "dns_search",
        "domainname",
        "entrypoint",
        "env_file",
        "environment",
        "expose",
        "extends",
        "external_links",
        "extra_hosts",
        "gpus",
        "group_add",
        "healthcheck",
        "hostname",
        "image",
        "init",
        "ipc",
        "isolation",
        "label_file",
        "labels",
        "links",
        "logging",
        "mac_address",
        "mem_limit",
        "mem_reservation",
        "mem_swappiness",
        "memswap_limit",
        "models",
        "network_mode",
        "networks",
        "oom_kill_disable",
        "oom_score_adj",
        "pid",
        "pids_limit",
        "platform",
        "ports",
        "post_start",
        "pre_stop",
        "privileged",
        "profiles",
        "provider",
        "pull_policy",
        "pull_refresh_after",
        "read_only",
        "restart",
        "runtime",
        "scale",
        "secrets",
        "security_opt",
        "shm_size",
        "stdin_open",
        "stop_grace_period",
        "stop_signal",
        "storage_opt",
        "sysctls",
        "tmpfs",
        "tty",
        "ulimits",
        "use_api_socket",
        "user",
        "userns_mode",
        "uts",
        "volumes",
        "volumes_from",
        "working_dir",
    ];
    for key in spec_keys {
        assert!(
            crate::stack::keys::SERVICE.contains(&key)
                || crate::stack::keys::SERVICE_UNSUPPORTED.contains(&key),
            "{key}"
        );
    }
    assert_error(
        &compose("services:\n  web:\n    image: x\n    cap_ad: [ALL]\n"),
        4,
        "did you mean `cap_add`?",
    );
}

#[test]
fn wrong_types_name_the_key_and_the_expected_type() {
    assert_error(
        &compose("services:\n  web:\n    image: x\n    ports: 5\n"),
        4,
        "`ports` must be a list",
    );
    assert_error(
        &compose("services:\n  web:\n    image: [x]\n"),
        3,
        "`image` must be a string",
    );
    assert_error(
        &compose("services:\n  web:\n    image: x\n    tty: maybe\n"),
        4,
        "`tty` must be a boolean",
    );
    assert_error(
        &compose("services:\n  web:\n    image: x\n    healthcheck:\n      retries: many\n"),
        5,
        "`healthcheck.retries` must be a non-negative integer",
    );
}

#[test]
fn service_without_image_or_build_is_an_error() {
    assert_error(
        &compose("services:\n  web:\n    command: x\n"),
        2,
        "neither `image` nor `build`",
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let message = compose(
        "services:\n  a:\n    imgae: x\n    image: x\n    restart: nah\n  b:\n    image: x\n    ports: ['99999']\n    depends_on: [zz]\n",
    )
    .err();
    for line in [3, 5, 8, 9] {
        assert!(
            message.contains(&format!("compose.yaml:{line}:")),
            "line {line} missing in:\n{message}"
        );
    }
}

#[test]
fn invalid_yaml_is_reported_at_the_scanner_position() {
    assert_error(
        &compose("services:\n  web:\n    image: [x\n  db: y\n"),
        4,
        "invalid YAML",
    );
}

#[test]
fn flow_list_closed_at_the_key_indentation_loads() {
    let loaded = compose(
        "services:\n  a:\n    image: x\n    command: [\n      \"sh\", \"-c\",\n      \"true\"\n    ]\n",
    )
    .ok();
    assert_eq!(
        service(&loaded, "a").command,
        Some(strings(&["sh", "-c", "true"]))
    );
}

#[test]
fn duplicate_keys_are_errors() {
    assert_error(
        &compose("services:\n  web:\n    image: x\n    image: y\n"),
        4,
        "duplicate key `image`",
    );
}

#[test]
fn empty_file_is_an_error_as_in_compose() {
    for empty in ["", "# just a comment\n", "~\n"] {
        assert_error(&compose(empty), 1, "the file is empty");
    }
    let p = compose("services:\n  a:\n    image: x\n").file("empty.yaml", "");
    let message = match p.load_files(&["compose.yaml", "empty.yaml"]) {
        Ok(_) => panic!("an empty override loaded"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.contains("empty.yaml:1:1: the file is empty"),
        "{message}"
    );
}

#[test]
fn stack_without_services_is_an_error() {
    assert_error(&compose("services: {}\n"), 1, "the stack has no services");
    assert_error(&compose("name: x\n"), 1, "the stack has no services");
    assert_error(
        &compose("services:\n  a:\n    image: x\n    profiles: [debug]\n"),
        1,
        "no service is active: a need a profile",
    );
}

#[test]
fn healthy_condition_on_a_disabled_healthcheck_is_an_error_at_the_entry() {
    for check in ["{disable: true}", "{test: [NONE]}"] {
        let p = compose(&format!(
            "services:\n  web:\n    image: x\n    depends_on:\n      db: {{condition: service_healthy}}\n  db:\n    image: y\n    healthcheck: {check}\n"
        ));
        assert_error(&p, 5, "the healthcheck of `db` is disabled");
    }
}

#[test]
fn healthy_condition_without_a_healthcheck_warns_that_the_image_must_have_one() {
    let loaded = compose(
        "services:\n  web:\n    image: x\n    depends_on:\n      db: {condition: service_healthy}\n      cache: {condition: service_started}\n  db:\n    image: y\n  cache:\n    image: z\n",
    )
    .ok();
    let w = warnings(&loaded);
    assert!(w.contains("compose.yaml:5:"), "{w}");
    assert!(w.contains("`db` has no `healthcheck:`"), "{w}");
    assert!(!w.contains("cache"), "{w}");
}

#[test]
fn key_names_that_are_not_plain_directory_names_are_errors() {
    for bad in ["../up", ".hidden", "a/b", "-rf", "UPPER", "\"\""] {
        let p = compose(&format!(
            "services:\n  a:\n    image: x\n    x-novadev:\n      keys:\n        - {{name: {bad}, target: /k}}\n"
        ));
        assert_error(&p, 6, "key name");
    }
}
