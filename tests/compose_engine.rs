//! Compose keys that reach the engine, checked on the container the real engine created: one
//! `up` of a small stack, then `docker inspect` and `docker exec` (never novadev's own view).

mod common;

use common::{Container, Project, free_port};
use serde_json::Value;

const STACK: &str = r#"
services:
  web:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
    ports: ["PORTS:80"]
    read_only: true
    tmpfs: ["/scratch:size=8m"]
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    security_opt: ["no-new-privileges:true"]
    deploy:
      resources:
        limits: {cpus: "0.5", memory: 64m, pids: 50}
        reservations: {memory: 16m}
    ulimits:
      nofile: {soft: 1024, hard: 2048}
    sysctls: {net.core.somaxconn: "1024"}
    shm_size: 32m
    dns: [9.9.9.9]
    logging: {driver: json-file, options: {max-size: 1m}}
    secrets: [token]
    configs:
      - source: conf
        target: /etc/app.conf
    volumes:
      - ./data/:/data/:ro
  sidecar:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
    network_mode: service:web
secrets:
  token:
    file: ./token.txt
configs:
  conf:
    file: ./app.conf
"#;

fn host_config(c: &Container) -> &Value {
    &c.raw["HostConfig"]
}

fn exec_ok(p: &Project, service: &str, cmd: &[&str]) -> String {
    let run = p.exec(service, cmd);
    assert!(
        run.ok(),
        "{service} {cmd:?}: {}\n{}",
        run.stdout,
        run.stderr
    );
    run.stdout.trim().to_string()
}

#[test]
fn runtime_keys_shape_the_created_containers() {
    let low = free_port();
    let high = low.saturating_add(5);
    let p = Project::new(
        "engine-keys",
        &STACK.replace("PORTS", &format!("{low}-{high}")),
    );
    p.write("token.txt", "s3cret-token\n");
    p.write("app.conf", "level=debug\n");
    p.write("data/hello.txt", "hi\n");
    p.up_ok(&[]);

    let web = p.container("web");
    let h = host_config(&web);
    // tmpfs mounted, with its size.
    assert_eq!(h["Tmpfs"]["/scratch"], "size=8m", "{h}");
    let mounts = exec_ok(&p, "web", &["cat", "/proc/mounts"]);
    assert!(
        mounts
            .lines()
            .any(|l| l.starts_with("tmpfs /scratch tmpfs")),
        "{mounts}"
    );
    // Capabilities and the read-only root.
    assert_eq!(h["CapAdd"], serde_json::json!(["NET_ADMIN"]), "{h}");
    assert_eq!(h["CapDrop"], serde_json::json!(["MKNOD"]), "{h}");
    assert_eq!(h["ReadonlyRootfs"], true);
    assert!(!p.exec("web", &["touch", "/not-writable"]).ok());
    exec_ok(&p, "web", &["touch", "/scratch/writable"]);
    assert_eq!(
        h["SecurityOpt"],
        serde_json::json!(["no-new-privileges:true"])
    );
    // Limits.
    assert_eq!(h["NanoCpus"], 500_000_000);
    assert_eq!(h["Memory"], 64 << 20);
    assert_eq!(h["MemoryReservation"], 16 << 20);
    assert_eq!(h["PidsLimit"], 50);
    assert_eq!(h["ShmSize"], 32 << 20);
    assert_eq!(h["Ulimits"][0]["Name"], "nofile", "{h}");
    let limits = exec_ok(&p, "web", &["cat", "/proc/self/limits"]);
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .unwrap_or_default();
    assert_eq!(
        open_files.get(3..5),
        Some(&["1024", "2048"][..]),
        "{limits}"
    );
    assert_eq!(
        exec_ok(&p, "web", &["cat", "/proc/sys/net/core/somaxconn"]),
        "1024"
    );
    assert_eq!(h["Dns"], serde_json::json!(["9.9.9.9"]));
    assert_eq!(h["LogConfig"]["Type"], "json-file");
    assert_eq!(h["LogConfig"]["Config"]["max-size"], "1m");
    // The secret and the config are files in the container, read-only.
    assert_eq!(
        exec_ok(&p, "web", &["cat", "/run/secrets/token"]),
        "s3cret-token"
    );
    assert_eq!(exec_ok(&p, "web", &["cat", "/etc/app.conf"]), "level=debug");
    // Trailing slashes are gone from the container path.
    assert_eq!(exec_ok(&p, "web", &["cat", "/data/hello.txt"]), "hi");

    // A host port range onto one container port: the engine picked one port of the range.
    let published = common::host_port(&web, 80).expect("published");
    assert!(
        (low..=high).contains(&published),
        "{published} in {low}-{high}"
    );

    // network_mode: service:web shares web's network namespace.
    let sidecar = p.container("sidecar");
    let mode = host_config(&sidecar)["NetworkMode"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(mode.starts_with("container:"), "{mode}");
    let ns = |service: &str| exec_ok(&p, service, &["readlink", "/proc/self/ns/net"]);
    assert_eq!(ns("sidecar"), ns("web"));
}

#[test]
fn dockerfile_inline_is_built() {
    let p = Project::new(
        "engine-inline",
        r#"
services:
  app:
    build:
      context: .
      dockerfile_inline: |
        FROM debian:bookworm-slim
        RUN echo built-inline > /marker
    init: true
    command: ["sleep", "infinity"]
"#,
    );
    p.up_ok(&[]);
    assert_eq!(exec_ok(&p, "app", &["cat", "/marker"]), "built-inline");
}
