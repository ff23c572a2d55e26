//! The create body a service becomes, for stacks loaded from YAML held in memory.

use std::path::PathBuf;

use super::*;
use crate::stack::{LoadOptions, Memory, load_from_sources};

fn stack(yaml: &str) -> Stack {
    let sources = Memory::new()
        .with("/p/compose.yaml", yaml)
        .with("/p/secret.txt", "s3cret")
        .with("/p/app.conf", "x=1");
    let opts = LoadOptions {
        files: vec![PathBuf::from("compose.yaml")],
        working_dir: PathBuf::from("/p"),
        ..LoadOptions::default()
    };
    match load_from_sources(&sources, &opts) {
        Ok(loaded) => loaded.stack,
        Err(e) => panic!("test stack does not load:\n{e}"),
    }
}

fn spec(yaml: &str, service: &str) -> ContainerSpec {
    spec_for(&stack(yaml), service, "img:1", "hash1", &[])
}

fn host(spec: &ContainerSpec) -> &HostConfig {
    spec.body.host_config.as_ref().expect("host config")
}

#[test]
fn labels_carry_the_project_service_hash_and_files() {
    let s = spec(
        "services:\n  web:\n    image: x\n    labels: {a: b}\n",
        "web",
    );
    let labels = s.body.labels.expect("labels");
    assert_eq!(labels.get("a").map(String::as_str), Some("b"));
    assert_eq!(labels.get(labels::PROJECT).map(String::as_str), Some("p"));
    assert_eq!(labels.get(labels::SERVICE).map(String::as_str), Some("web"));
    assert_eq!(
        labels.get(labels::CONFIG_HASH).map(String::as_str),
        Some("hash1")
    );
    assert_eq!(
        labels.get(labels::STACK_FILES).map(String::as_str),
        Some("/p/compose.yaml")
    );
    assert_eq!(s.name, "p-web-1");
    assert_eq!(s.body.image.as_deref(), Some("img:1"));
}

#[test]
fn ports_bind_loopback_by_default_and_expose_adds_container_ports() {
    let s = spec(
        "services:\n  web:\n    image: x\n    ports: ['8080:80', '0.0.0.0:53:53/udp', '9000', '6005-6015:81']\n    expose: ['7000', '7001/udp']\n",
        "web",
    );
    let exposed = s.body.exposed_ports.clone().expect("exposed");
    for port in [
        "80/tcp", "53/udp", "9000/tcp", "81/tcp", "7000/tcp", "7001/udp",
    ] {
        assert!(exposed.contains(&port.to_string()), "{port}: {exposed:?}");
    }
    let bindings = host(&s).port_bindings.clone().expect("bindings");
    let first = |key: &str| bindings[key].as_ref().expect("some")[0].clone();
    assert_eq!(first("80/tcp").host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(first("80/tcp").host_port.as_deref(), Some("8080"));
    assert_eq!(first("53/udp").host_ip.as_deref(), Some("0.0.0.0"));
    assert_eq!(first("9000/tcp").host_port.as_deref(), Some(""));
    assert_eq!(first("81/tcp").host_port.as_deref(), Some("6005-6015"));
}

#[test]
fn mounts_cover_volumes_binds_tmpfs_secrets_and_configs() {
    let s = spec(
        "services:
  web:
    image: x
    volumes:
      - data:/data/
      - ./src:/src:ro
      - /anon
      - {type: tmpfs, target: /scratch, tmpfs: {size: 1m}}
      - {type: volume, source: data, target: /nc, volume: {nocopy: true}}
      - {type: bind, source: ./a, target: /a, bind: {propagation: rshared}}
      - ./labelled:/l:Z
    secrets: [token]
    configs: [{source: conf, target: /etc/app.conf}]
volumes: {data: {}}
secrets: {token: {file: ./secret.txt}}
configs: {conf: {file: ./app.conf}}
",
        "web",
    );
    let mounts = host(&s).mounts.clone().expect("mounts");
    let at = |target: &str| {
        mounts
            .iter()
            .find(|m| m.target.as_deref() == Some(target))
            .unwrap_or_else(|| panic!("no mount at {target}: {mounts:?}"))
            .clone()
    };
    assert_eq!(at("/data").source.as_deref(), Some("p_data"));
    assert_eq!(at("/data").typ, Some(MountType::VOLUME));
    assert_eq!(at("/src").source.as_deref(), Some("/p/src"));
    assert_eq!(at("/src").read_only, Some(true));
    assert_eq!(at("/anon").source, None);
    assert_eq!(at("/scratch").typ, Some(MountType::TMPFS));
    assert_eq!(
        at("/scratch").tmpfs_options.and_then(|t| t.size_bytes),
        Some(1 << 20)
    );
    assert_eq!(at("/nc").volume_options.and_then(|v| v.no_copy), Some(true));
    assert_eq!(
        at("/a").bind_options.and_then(|b| b.propagation),
        Some(MountBindOptionsPropagationEnum::RSHARED)
    );
    let secret = at("/run/secrets/token");
    assert_eq!(secret.source.as_deref(), Some("/p/secret.txt"));
    assert_eq!(secret.read_only, Some(true));
    assert_eq!(at("/etc/app.conf").source.as_deref(), Some("/p/app.conf"));
    // SELinux relabelling exists only in the `binds` strings.
    assert_eq!(
        host(&s).binds.clone(),
        Some(vec!["/p/labelled:/l:rw,Z".to_string()])
    );
}

#[test]
fn extra_read_only_binds_are_mounted_read_only() {
    let stack = stack("services:\n  web:\n    image: x\n");
    let s = spec_for(
        &stack,
        "web",
        "img",
        "h",
        &[(PathBuf::from("/state/keys/jwt"), "/run/keys".to_string())],
    );
    let mounts = host(&s).mounts.clone().expect("mounts");
    assert_eq!(mounts[0].target.as_deref(), Some("/run/keys"));
    assert_eq!(mounts[0].read_only, Some(true));
}

#[test]
fn healthcheck_forms_become_engine_tests() {
    let s = spec(
        "services:
  a:
    image: x
    healthcheck: {test: [CMD, curl, -f, localhost], interval: 2s, retries: 3}
  b:
    image: x
    healthcheck: {test: pg_isready}
  c:
    image: x
    healthcheck: {disable: true}
",
        "a",
    );
    let h = s.body.healthcheck.expect("healthcheck");
    assert_eq!(
        h.test,
        Some(vec![
            "CMD".into(),
            "curl".into(),
            "-f".into(),
            "localhost".into()
        ])
    );
    assert_eq!(h.interval, Some(2_000_000_000));
    assert_eq!(h.retries, Some(3));
    let stack = stack(
        "services:\n  b:\n    image: x\n    healthcheck: {test: pg_isready}\n  c:\n    image: x\n    healthcheck: {disable: true}\n",
    );
    let b = spec_for(&stack, "b", "i", "h", &[])
        .body
        .healthcheck
        .expect("b");
    assert_eq!(b.test, Some(vec!["CMD-SHELL".into(), "pg_isready".into()]));
    let c = spec_for(&stack, "c", "i", "h", &[])
        .body
        .healthcheck
        .expect("c");
    assert_eq!(c.test, Some(vec!["NONE".into()]));
}

#[test]
fn resources_privileges_and_kernel_settings_reach_the_host_config() {
    let s = spec(
        "services:
  web:
    image: x
    deploy:
      resources:
        limits: {cpus: '0.5', memory: 256m, pids: 100}
        reservations: {memory: 64m}
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    read_only: true
    security_opt: ['no-new-privileges:true']
    tmpfs: [/run, '/tmp:size=8m']
    shm_size: 128m
    sysctls: {net.core.somaxconn: '1024'}
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}
    dns: 9.9.9.9
    dns_search: [example.org]
    devices: ['/dev/null:/dev/mynull:r']
    logging: {driver: json-file, options: {max-size: 1m}}
    platform: linux/amd64
",
        "web",
    );
    let h = host(&s);
    assert_eq!(h.nano_cpus, Some(500_000_000));
    assert_eq!(h.memory, Some(256 << 20));
    assert_eq!(h.memory_reservation, Some(64 << 20));
    assert_eq!(h.pids_limit, Some(100));
    assert_eq!(h.cap_add, Some(vec!["NET_ADMIN".to_string()]));
    assert_eq!(h.cap_drop, Some(vec!["ALL".to_string()]));
    assert_eq!(h.readonly_rootfs, Some(true));
    assert_eq!(
        h.security_opt,
        Some(vec!["no-new-privileges:true".to_string()])
    );
    let tmpfs = h.tmpfs.clone().expect("tmpfs");
    assert_eq!(tmpfs.get("/run").map(String::as_str), Some(""));
    assert_eq!(tmpfs.get("/tmp").map(String::as_str), Some("size=8m"));
    assert_eq!(h.shm_size, Some(128 << 20));
    assert_eq!(
        h.sysctls
            .clone()
            .expect("sysctls")
            .get("net.core.somaxconn")
            .map(String::as_str),
        Some("1024")
    );
    let ulimits = h.ulimits.clone().expect("ulimits");
    assert!(ulimits.contains(&ResourcesUlimits {
        name: Some("nofile".into()),
        soft: Some(1024),
        hard: Some(2048)
    }));
    assert!(ulimits.contains(&ResourcesUlimits {
        name: Some("nproc".into()),
        soft: Some(512),
        hard: Some(512)
    }));
    assert_eq!(h.dns, Some(vec!["9.9.9.9".to_string()]));
    assert_eq!(h.dns_search, Some(vec!["example.org".to_string()]));
    assert_eq!(
        h.devices.clone().expect("devices")[0],
        DeviceMapping {
            path_on_host: Some("/dev/null".into()),
            path_in_container: Some("/dev/mynull".into()),
            cgroup_permissions: Some("r".into()),
        }
    );
    let log = h.log_config.clone().expect("logging");
    assert_eq!(log.typ.as_deref(), Some("json-file"));
    assert_eq!(
        log.config
            .expect("options")
            .get("max-size")
            .map(String::as_str),
        Some("1m")
    );
    assert_eq!(s.platform.as_deref(), Some("linux/amd64"));
    // The engine never restarts on its own: novadev applies restart policies.
    assert_eq!(
        h.restart_policy.as_ref().and_then(|r| r.name),
        Some(RestartPolicyNameEnum::NO)
    );
}

#[test]
fn unset_runtime_settings_leave_the_host_config_empty() {
    let s = spec("services:\n  web:\n    image: x\n", "web");
    let h = host(&s);
    assert_eq!(h.memory, None);
    assert_eq!(h.nano_cpus, None);
    assert_eq!(h.cap_add, None);
    assert_eq!(h.readonly_rootfs, None);
    assert_eq!(h.privileged, None);
    assert_eq!(h.tmpfs, None);
    assert_eq!(h.mounts, None);
    assert_eq!(h.binds, None);
    assert_eq!(h.log_config, None);
}

#[test]
fn networks_join_default_first_with_the_service_name_as_alias() {
    let s = spec(
        "services:
  web:
    image: x
    networks:
      back: {aliases: [api]}
      default: {}
networks: {back: {}}
",
        "web",
    );
    assert_eq!(host(&s).network_mode.as_deref(), Some("p_default"));
    let endpoints = s
        .body
        .networking_config
        .as_ref()
        .and_then(|n| n.endpoints_config.clone())
        .expect("endpoints");
    assert_eq!(
        endpoints["p_default"].aliases,
        Some(vec!["web".to_string()])
    );
    assert_eq!(s.extra_networks.len(), 1);
    assert_eq!(s.extra_networks[0].0, "p_back");
    assert_eq!(
        s.extra_networks[0].1.aliases,
        Some(vec!["web".to_string(), "api".to_string()])
    );
}

#[test]
fn network_mode_replaces_the_networks() {
    let yaml = "services:
  db:
    image: x
  sidecar:
    image: x
    network_mode: service:db
  hosty:
    image: x
    network_mode: host
  isolated:
    image: x
    network_mode: none
  other:
    image: x
    network_mode: container:some-container
";
    let stack = stack(yaml);
    let mode = |service: &str| {
        let s = spec_for(&stack, service, "i", "h", &[]);
        let endpoints = s
            .body
            .networking_config
            .and_then(|n| n.endpoints_config)
            .unwrap_or_default();
        assert!(endpoints.is_empty(), "{service}: {endpoints:?}");
        assert!(s.extra_networks.is_empty());
        s.body.host_config.and_then(|h| h.network_mode)
    };
    assert_eq!(mode("sidecar").as_deref(), Some("container:p-db-1"));
    assert_eq!(mode("hosty").as_deref(), Some("host"));
    assert_eq!(mode("isolated").as_deref(), Some("none"));
    assert_eq!(mode("other").as_deref(), Some("container:some-container"));
}

#[test]
fn links_resolve_through_each_endpoint() {
    let s = spec(
        "services:\n  db:\n    image: x\n  web:\n    image: x\n    links: [db, 'db:database']\n",
        "web",
    );
    let endpoints = s
        .body
        .networking_config
        .and_then(|n| n.endpoints_config)
        .expect("endpoints");
    assert_eq!(
        endpoints["p_default"].links,
        Some(vec!["p-db-1:db".to_string(), "p-db-1:database".to_string()])
    );
}

#[test]
fn a_service_the_stack_does_not_have_gets_a_bare_container_not_a_panic() {
    let stack = stack("services:\n  web:\n    image: x\n");
    let s = spec_for(&stack, "ghost", "img", "h", &[]);
    assert_eq!(s.name, "p-ghost-1");
    assert_eq!(s.body.image.as_deref(), Some("img"));
}

#[test]
fn full_body_snapshot() {
    let s = spec(
        "services:
  web:
    image: x
    command: [serve, --port, '80']
    environment: {A: '1'}
    ports: ['8080:80']
    volumes: [./src:/src:ro]
    working_dir: /app
    user: '1000'
    init: true
    stop_grace_period: 5s
    cap_add: [NET_ADMIN]
    read_only: true
    tmpfs: [/run]
",
        "web",
    );
    let mut value = serde_json::to_value(&s.body).expect("json");
    // The engine's maps are HashMaps: sorting object keys keeps the snapshot stable whatever
    // map type serde_json is built with.
    sort_maps(&mut value);
    insta::assert_json_snapshot!(value);
}

fn sort_maps(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(String, serde_json::Value)> =
                std::mem::take(map).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, mut v) in entries {
                sort_maps(&mut v);
                map.insert(k, v);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(sort_maps),
        _ => {}
    }
}
