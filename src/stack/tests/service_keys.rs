//! The service keys, one by one.

use super::*;

// ---- service keys ----------------------------------------------------------------------------

#[test]
fn build_string_and_map_forms() {
    let loaded = compose(
        "services:
  a:
    build: ./app
  b:
    build:
      context: app
      dockerfile: Dev.Dockerfile
      target: dev
      args: [X=1, FROM_HOST, UNSET_ARG]
  c:
    build:
      context: ./app
      args: {Y: 2}
",
    )
    .file("app/Dockerfile", "FROM scratch\n")
    .file("app/Dev.Dockerfile", "FROM scratch\n")
    .env("FROM_HOST", "h")
    .ok();
    let a = service(&loaded, "a").build.as_ref().expect("build");
    assert!(a.context.ends_with("app") && a.context.is_absolute());
    assert_eq!(a.dockerfile, "Dockerfile");
    let b = service(&loaded, "b").build.as_ref().expect("build");
    assert_eq!(b.dockerfile, "Dev.Dockerfile");
    assert_eq!(b.target.as_deref(), Some("dev"));
    assert_eq!(b.args.get("X").map(String::as_str), Some("1"));
    assert_eq!(b.args.get("FROM_HOST").map(String::as_str), Some("h"));
    assert!(!b.args.contains_key("UNSET_ARG"));
    let c = service(&loaded, "c").build.as_ref().expect("build");
    assert_eq!(c.args.get("Y").map(String::as_str), Some("2"));
    assert_eq!(service(&loaded, "c").image_ref("p"), "p-c");
}

#[test]
fn missing_build_context_is_an_error_at_context() {
    assert_error(
        &compose("services:\n  web:\n    build:\n      context: ./nope\n"),
        4,
        "build context",
    );
}

#[test]
fn missing_dockerfile_is_an_error() {
    assert_error(
        &compose("services:\n  web:\n    build:\n      context: ./app\n      dockerfile: Other\n")
            .file("app/Dockerfile", ""),
        5,
        "Dockerfile `Other` not found",
    );
}

#[test]
fn command_string_is_split_like_a_shell() {
    let loaded = compose(
        "services:\n  web:\n    image: x\n    command: sh -c 'echo \"hi there\"'\n    entrypoint: [/bin/tini, --]\n",
    )
    .ok();
    let web = service(&loaded, "web");
    assert_eq!(
        web.command,
        Some(strings(&["sh", "-c", "echo \"hi there\""]))
    );
    assert_eq!(web.entrypoint, Some(strings(&["/bin/tini", "--"])));
}

#[test]
fn ports_short_long_and_int_forms() {
    let loaded = compose(
        "services:
  web:
    image: x
    ports:
      - 80
      - '8080:81'
      - 0.0.0.0:8443:443
      - '[::1]:8053:53/udp'
      - 9000-9001:9000-9001
      - target: 5000
        published: '5001'
        host_ip: 0.0.0.0
        protocol: udp
        mode: host
      - target: 6000
",
    )
    .ok();
    let ports: Vec<(String, Option<u16>, u16, Protocol)> = service(&loaded, "web")
        .ports
        .iter()
        .map(|p| (p.host_ip.clone(), p.host_port, p.container_port, p.protocol))
        .collect();
    let l = "127.0.0.1".to_string();
    assert_eq!(
        ports,
        vec![
            (l.clone(), None, 80, Protocol::Tcp),
            (l.clone(), Some(8080), 81, Protocol::Tcp),
            ("0.0.0.0".into(), Some(8443), 443, Protocol::Tcp),
            ("::1".into(), Some(8053), 53, Protocol::Udp),
            (l.clone(), Some(9000), 9000, Protocol::Tcp),
            (l.clone(), Some(9001), 9001, Protocol::Tcp),
            ("0.0.0.0".into(), Some(5001), 5000, Protocol::Udp),
            (l, None, 6000, Protocol::Tcp),
        ]
    );
}

#[test]
fn bad_port_specs_are_errors_at_their_line() {
    assert_error(
        &compose(
            "services:\n  web:\n    image: x\n    ports:\n      - '80:80'\n      - 'http:80'\n",
        ),
        6,
        "invalid port",
    );
    assert_error(
        &compose("services:\n  web:\n    image: x\n    ports: ['70000:80']\n"),
        4,
        "out of range",
    );
    assert_error(
        &compose("services:\n  web:\n    image: x\n    ports:\n      - 8000-8002:8000-8001\n"),
        5,
        "different lengths",
    );
}

#[test]
fn duplicate_host_port_names_the_first_one() {
    let p = compose(
        "services:\n  a:\n    image: x\n    ports: ['8080:80']\n  b:\n    image: x\n    ports:\n      - 8080:81\n",
    );
    let message = p.err();
    assert!(message.contains("compose.yaml:8:"), "{message}");
    assert!(message.contains("compose.yaml:4:"), "{message}");
    assert!(message.contains("published twice"), "{message}");
}

#[test]
fn wildcard_host_ip_overlaps_any_address() {
    assert_error(
        &compose(
            "services:\n  a:\n    image: x\n    ports: ['127.0.0.1:8080:80']\n  b:\n    image: x\n    ports: ['0.0.0.0:8080:80']\n",
        ),
        7,
        "published twice",
    );
}

#[test]
fn same_port_on_other_protocol_or_address_is_fine() {
    compose(
        "services:\n  a:\n    image: x\n    ports: ['53:53/udp', '127.0.0.2:53:53']\n  b:\n    image: x\n    ports: ['53:53']\n",
    )
    .ok();
}

#[test]
fn volume_short_forms() {
    let loaded = compose(
        "services:
  web:
    image: x
    volumes:
      - data:/data
      - ./src:/src:ro
      - /abs:/abs:rw
      - /anon
      - ~/cache:/cache
      - .:/root
volumes:
  data: {}
",
    )
    .ok();
    let v = &service(&loaded, "web").volumes;
    assert_eq!(
        v[0].source,
        MountSource::Volume {
            name: "data".into()
        }
    );
    assert!(v[1].read_only);
    assert!(
        matches!(&v[1].source, MountSource::Bind { path } if path.ends_with("src") && path.is_absolute())
    );
    assert_eq!(
        v[2].source,
        MountSource::Bind {
            path: "/abs".into()
        }
    );
    assert!(!v[2].read_only);
    assert_eq!(
        (v[3].source.clone(), v[3].target.as_str()),
        (MountSource::Anonymous, "/anon")
    );
    assert_eq!(
        v[4].source,
        MountSource::Bind {
            path: "/home/dev/cache".into()
        }
    );
    assert!(matches!(&v[5].source, MountSource::Bind { path } if !path.ends_with(".")));
}

#[test]
fn volume_long_forms() {
    let loaded = compose(
        "services:
  web:
    image: x
    volumes:
      - type: volume
        source: data
        target: /data
        read_only: true
      - type: bind
        source: ./src
        target: /src
      - type: tmpfs
        target: /tmp
volumes:
  data:
",
    )
    .ok();
    let v = &service(&loaded, "web").volumes;
    assert!(v[0].read_only);
    assert!(matches!(v[1].source, MountSource::Bind { .. }));
    assert_eq!(v[2].source, MountSource::Tmpfs);
}

#[test]
fn undeclared_named_volume_is_an_error() {
    assert_error(
        &compose("services:\n  web:\n    image: x\n    volumes:\n      - cache:/cache\n"),
        5,
        "volume `cache`",
    );
}

#[test]
fn networks_list_and_map_with_aliases() {
    let loaded = compose(
        "services:
  a:
    image: x
    networks: [front, back]
  b:
    image: x
    networks:
      back:
        aliases: [db, database]
networks:
  front:
  back:
    driver: bridge
    internal: true
",
    )
    .ok();
    assert_eq!(
        service(&loaded, "a").networks.keys().collect::<Vec<_>>(),
        vec!["back", "front"]
    );
    assert_eq!(
        service(&loaded, "b").networks["back"].aliases,
        strings(&["db", "database"])
    );
    assert!(loaded.stack.networks["back"].internal);
    assert!(!loaded.stack.networks.contains_key("default"));
}

#[test]
fn unknown_network_is_an_error() {
    assert_error(
        &compose("services:\n  a:\n    image: x\n    networks:\n      - front\n"),
        5,
        "network `front`",
    );
}

#[test]
fn depends_on_list_and_map_forms() {
    let loaded = compose(
        "services:
  web:
    image: x
    depends_on:
      db:
        condition: service_healthy
        restart: true
      init:
        condition: service_completed_successfully
        required: false
  api:
    image: x
    depends_on: [db]
  db:
    image: x
  init:
    image: x
",
    )
    .ok();
    let web = service(&loaded, "web");
    assert_eq!(web.depends_on["db"].condition, Condition::ServiceHealthy);
    assert!(web.depends_on["db"].restart);
    assert!(!web.depends_on["init"].required);
    assert_eq!(
        web.depends_on["init"].condition,
        Condition::ServiceCompletedSuccessfully
    );
    let api = service(&loaded, "api");
    assert_eq!(api.depends_on["db"].condition, Condition::ServiceStarted);
    assert!(api.depends_on["db"].required);
}

#[test]
fn unknown_dependency_is_an_error_at_the_entry() {
    assert_error(
        &compose(
            "services:\n  web:\n    image: x\n    depends_on:\n      - dbb\n  db:\n    image: x\n",
        ),
        5,
        "unknown service `dbb`; did you mean `db`?",
    );
}

#[test]
fn optional_unknown_dependency_is_a_warning() {
    let loaded = compose(
        "services:\n  web:\n    image: x\n    depends_on:\n      ghost:\n        required: false\n",
    )
    .ok();
    assert!(service(&loaded, "web").depends_on.is_empty());
    assert!(warnings(&loaded).contains("ghost"));
}

#[test]
fn invalid_condition_is_an_error() {
    assert_error(
        &compose(
            "services:\n  web:\n    image: x\n    depends_on:\n      db:\n        condition: healthy\n  db:\n    image: x\n",
        ),
        6,
        "invalid condition",
    );
}

#[test]
fn cycle_is_a_load_error_naming_the_cycle() {
    assert_error(
        &compose(
            "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n",
        ),
        7,
        "dependency cycle: a -> b -> a",
    );
}

#[test]
fn healthcheck_forms() {
    let loaded = compose(
        "services:
  shell:
    image: x
    healthcheck:
      test: pg_isready
      interval: 1m30s
      timeout: 500ms
      retries: 5
      start_period: 1.5s
      start_interval: 10us
  cmd:
    image: x
    healthcheck:
      test: [CMD, curl, -f, localhost]
  cmdshell:
    image: x
    healthcheck:
      test: [CMD-SHELL, redis-cli ping]
  none:
    image: x
    healthcheck:
      test: [NONE]
  disabled:
    image: x
    healthcheck:
      disable: true
",
    )
    .ok();
    let h = |name: &str| {
        service(&loaded, name)
            .healthcheck
            .clone()
            .expect("healthcheck")
    };
    let shell = h("shell");
    assert_eq!(shell.test, Some(HealthTest::Shell("pg_isready".into())));
    assert_eq!(shell.interval, Some(Duration::from_secs(90)));
    assert_eq!(shell.timeout, Some(Duration::from_millis(500)));
    assert_eq!(shell.retries, Some(5));
    assert_eq!(shell.start_period, Some(Duration::from_millis(1500)));
    assert_eq!(shell.start_interval, Some(Duration::from_micros(10)));
    assert_eq!(
        h("cmd").test,
        Some(HealthTest::Cmd(strings(&["curl", "-f", "localhost"])))
    );
    assert_eq!(
        h("cmdshell").test,
        Some(HealthTest::Shell("redis-cli ping".into()))
    );
    assert_eq!((h("none").test, h("none").disable), (None, true));
    assert_eq!((h("disabled").test, h("disabled").disable), (None, true));
}

#[test]
fn bad_durations_are_errors() {
    assert_error(
        &compose("services:\n  web:\n    image: x\n    healthcheck:\n      interval: -5s\n"),
        5,
        "negative",
    );
    assert_error(
        &compose("services:\n  web:\n    image: x\n    stop_grace_period: soon\n"),
        4,
        "invalid duration",
    );
}

#[test]
fn restart_policies() {
    let loaded = compose(
        "services:\n  a: {image: x, restart: 'no'}\n  b: {image: x, restart: always}\n  c: {image: x, restart: on-failure}\n  d: {image: x, restart: 'on-failure:3'}\n  e: {image: x, restart: unless-stopped}\n",
    )
    .ok();
    let r = |n: &str| service(&loaded, n).restart;
    assert_eq!(r("a"), RestartPolicy::No);
    assert_eq!(r("b"), RestartPolicy::Always);
    assert_eq!(r("c"), RestartPolicy::OnFailure(None));
    assert_eq!(r("d"), RestartPolicy::OnFailure(Some(3)));
    assert_eq!(r("e"), RestartPolicy::UnlessStopped);
    assert_error(
        &compose("services:\n  a:\n    image: x\n    restart: sometimes\n"),
        4,
        "invalid restart policy",
    );
}

#[test]
fn pull_policies() {
    let loaded = compose(
        "services:\n  a: {image: x, pull_policy: always}\n  b: {image: x, pull_policy: never}\n  c: {image: x, pull_policy: if_not_present}\n  d: {image: x, pull_policy: build, build: .}\n",
    )
    .file("Dockerfile", "FROM scratch\n")
    .ok();
    let p = |n: &str| service(&loaded, n).pull_policy;
    assert_eq!(p("a"), PullPolicy::Always);
    assert_eq!(p("b"), PullPolicy::Never);
    assert_eq!(p("c"), PullPolicy::Missing);
    assert_eq!(p("d"), PullPolicy::Build);
    assert_error(
        &compose("services:\n  a:\n    image: x\n    pull_policy: sometimes\n"),
        4,
        "invalid pull_policy",
    );
}

#[test]
fn labels_extra_hosts_and_simple_keys() {
    let loaded = compose(
        "services:
  web:
    image: x
    labels: [a=1, b]
    extra_hosts: ['host.docker.internal:host-gateway', 'db:10.0.0.2']
    container_name: my-web
    working_dir: /app
    user: '1000:1000'
    hostname: web
    stop_signal: SIGINT
    stop_grace_period: 1m
    init: true
    tty: true
    stdin_open: true
    expose: ['3000', 3001]
  api:
    image: x
    labels: {c: '3'}
    extra_hosts:
      db: 10.0.0.3
",
    )
    .ok();
    let web = service(&loaded, "web");
    assert_eq!(web.labels.get("a").map(String::as_str), Some("1"));
    assert_eq!(web.labels.get("b").map(String::as_str), Some(""));
    assert_eq!(
        web.extra_hosts,
        strings(&["db:10.0.0.2", "host.docker.internal:host-gateway"])
    );
    assert_eq!(web.container_name.as_deref(), Some("my-web"));
    assert_eq!(loaded.stack.container_name("web"), "my-web");
    assert_eq!(web.working_dir.as_deref(), Some("/app"));
    assert_eq!(web.user.as_deref(), Some("1000:1000"));
    assert_eq!(web.hostname.as_deref(), Some("web"));
    assert_eq!(web.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(web.stop_grace_period, Some(Duration::from_secs(60)));
    assert_eq!(
        (web.init, web.tty, web.stdin_open),
        (Some(true), true, true)
    );
    assert_eq!(web.expose, strings(&["3000", "3001"]));
    let api = service(&loaded, "api");
    assert_eq!(api.extra_hosts, strings(&["db:10.0.0.3"]));
    assert_eq!(api.labels.get("c").map(String::as_str), Some("3"));
}

#[test]
fn duplicate_container_name_is_an_error() {
    assert_error(
        &compose(
            "services:\n  a:\n    image: x\n    container_name: same\n  b:\n    image: x\n    container_name: same\n",
        ),
        5,
        "container_name `same`",
    );
}

#[test]
fn develop_watch_rules() {
    let loaded = compose(
        "services:
  web:
    build: .
    develop:
      watch:
        - path: ./src
          action: sync
          target: /app/src
          ignore: [node_modules/]
        - path: Cargo.toml
          action: rebuild
        - path: ./conf
          action: sync+exec
          target: /etc/app
          exec:
            command: kill -HUP 1
",
    )
    .file("Dockerfile", "FROM scratch\n")
    .ok();
    let watch = &service(&loaded, "web")
        .develop
        .as_ref()
        .expect("develop")
        .watch;
    assert_eq!(watch.len(), 3);
    assert_eq!(watch[0].action, WatchAction::Sync);
    assert!(watch[0].path.is_absolute() && watch[0].path.ends_with("src"));
    assert_eq!(watch[0].ignore, strings(&["node_modules/"]));
    assert_eq!(watch[1].action, WatchAction::Rebuild);
    assert_eq!(watch[2].exec, Some(strings(&["kill", "-HUP", "1"])));
}

#[test]
fn sync_watch_without_target_is_an_error() {
    assert_error(
        &compose(
            "services:\n  web:\n    image: x\n    develop:\n      watch:\n        - path: .\n          action: sync\n",
        ),
        6,
        "needs a `target`",
    );
}

#[test]
fn novadev_extensions() {
    let loaded = compose(
        "x-novadev:
  tiers:
    database: [db]
    services: [api, ghost]
services:
  db:
    image: postgres
  api:
    image: x
    x-novadev:
      tier: backend
      rebuild_on_change: false
      host_build:
        command: cargo build --release -p api
        artifact: target/release/api
  worker:
    image: x
    x-novadev:
      host_build:
        command: [make]
        workdir: ./w
        artifact: out/worker
        base_image: alpine
        install_path: /bin/worker
",
    )
    .ok();
    assert_eq!(
        loaded.stack.novadev.tiers,
        vec![
            ("database".to_string(), strings(&["db"])),
            ("services".to_string(), strings(&["api"])),
        ]
    );
    assert!(warnings(&loaded).contains("ghost"));
    let api = &service(&loaded, "api").novadev;
    assert_eq!(api.tier.as_deref(), Some("backend"));
    assert_eq!(api.rebuild_on_change, Some(false));
    let hb = api.host_build.as_ref().expect("host_build");
    assert_eq!(
        hb.command,
        strings(&["cargo", "build", "--release", "-p", "api"])
    );
    assert_eq!(hb.workdir, loaded.stack.project_dir);
    assert_eq!(
        hb.artifact,
        loaded.stack.project_dir.join("target/release/api")
    );
    assert_eq!(hb.base_image, "debian:bookworm-slim");
    assert_eq!(hb.install_path, "/usr/local/bin/api");
    let worker = service(&loaded, "worker")
        .novadev
        .host_build
        .clone()
        .expect("hb");
    assert_eq!(worker.workdir, loaded.stack.project_dir.join("w"));
    assert_eq!(
        worker.artifact,
        loaded.stack.project_dir.join("w/out/worker")
    );
    assert_eq!(
        (worker.base_image.as_str(), worker.install_path.as_str()),
        ("alpine", "/bin/worker")
    );
}

#[test]
fn host_build_without_artifact_is_an_error() {
    assert_error(
        &compose(
            "services:\n  api:\n    image: x\n    x-novadev:\n      host_build:\n        command: make\n",
        ),
        5,
        "artifact",
    );
}
