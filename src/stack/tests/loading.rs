//! Loading: defaults and the project name, interpolation, env files, merge, anchors.

use super::*;

// ---- defaults, project name ------------------------------------------------------------------

#[test]
fn minimal_stack_gets_compose_defaults() {
    let p = compose("services:\n  web:\n    image: nginx\n    ports: [\"8080:80\"]\n");
    let loaded = p.ok();
    let web = service(&loaded, "web");
    assert_eq!(web.image.as_deref(), Some("nginx"));
    assert_eq!(web.ports[0].host_ip, "127.0.0.1");
    assert_eq!(web.ports[0].host_port, Some(8080));
    assert_eq!(web.restart, RestartPolicy::No);
    assert_eq!(web.pull_policy, PullPolicy::Missing);
    assert_eq!(web.networks.keys().collect::<Vec<_>>(), vec!["default"]);
    assert!(loaded.stack.networks.contains_key("default"));
    assert_eq!(web.pos.line, 2);
    let dir = std::fs::canonicalize(p.path()).unwrap_or_else(|_| p.path().to_path_buf());
    assert!(dir.ends_with(loaded.stack.project_dir.file_name().unwrap_or_default()));
    assert_eq!(loaded.stack.files, vec![p.path().join("compose.yaml")]);
}

#[test]
fn project_name_prefers_flag_then_name_key_then_directory() {
    let mut p = compose("name: From_File\nservices: {a: {image: x}}\n");
    assert_eq!(p.ok().stack.name, "from_file");
    p.project_name = Some("Flag.Name".into());
    assert_eq!(p.ok().stack.name, "flagname");
    let q = Project::new();
    let q = q.file("My Stack/compose.yaml", "services: {a: {image: x}}\n");
    let loaded = q.load_files(&["My Stack/compose.yaml"]).expect("loads");
    assert_eq!(loaded.stack.name, "mystack");
}

#[test]
fn project_name_that_normalizes_to_nothing_is_an_error() {
    assert_error(&compose("services: {}\nname: '__!!'\n"), 2, "project name");
}

#[test]
fn normalize_project_name_follows_compose() {
    assert_eq!(normalize_project_name("My-App_2"), "my-app_2");
    assert_eq!(normalize_project_name("-_x.y"), "xy");
    assert_eq!(normalize_project_name("Ünï"), "n");
}

// ---- interpolation ---------------------------------------------------------------------------

#[test]
fn interpolation_uses_process_env_before_dotenv() {
    let p = compose("services:\n  web:\n    image: ${IMAGE}:${TAG:-latest}\n    environment:\n      A: $FROM_DOTENV\n")
        .file(".env", "IMAGE=fromdotenv\nFROM_DOTENV=dot\n")
        .env("IMAGE", "fromenv");
    let loaded = p.ok();
    let web = service(&loaded, "web");
    assert_eq!(web.image.as_deref(), Some("fromenv:latest"));
    assert_eq!(web.environment.get("A").map(String::as_str), Some("dot"));
}

#[test]
fn unset_variable_is_empty_with_a_warning() {
    let loaded = compose(
        "services:\n  web:\n    image: nginx\n    environment:\n      A: x${NOVADEV_NOPE}y\n",
    )
    .ok();
    assert_eq!(
        service(&loaded, "web")
            .environment
            .get("A")
            .map(String::as_str),
        Some("xy")
    );
    let w = warnings(&loaded);
    assert!(w.contains("compose.yaml:5:11:"), "{w}");
    assert!(w.contains("NOVADEV_NOPE"), "{w}");
}

#[test]
fn a_value_that_is_only_an_unset_or_empty_variable_is_an_empty_string() {
    let loaded = compose(
        "services:\n  web:\n    image: x${TAG}\n    working_dir: ${NOVADEV_UNSET}\n    environment:\n      JWT_KEY: ${NOVADEV_UNSET}\n      EMPTY: ${NOVADEV_EMPTY}\n      DEFAULTED: ${NOVADEV_UNSET:-}\n      LITERAL_NULL: ${NOVADEV_NULL}\n",
    )
    .env("NOVADEV_EMPTY", "")
    .env("NOVADEV_NULL", "null")
    .ok();
    let web = service(&loaded, "web");
    assert_eq!(web.working_dir.as_deref(), Some(""));
    for key in ["JWT_KEY", "EMPTY", "DEFAULTED"] {
        assert_eq!(
            web.environment.get(key).map(String::as_str),
            Some(""),
            "{key}"
        );
    }
    assert_eq!(
        web.environment.get("LITERAL_NULL").map(String::as_str),
        Some("null")
    );
    let w = warnings(&loaded);
    assert!(w.contains("`NOVADEV_UNSET` is not set"), "{w}");
    assert!(!w.contains("NOVADEV_EMPTY"), "{w}");
    // `image: ${IMG}` alone is the empty string too, which is then an invalid image, not null.
    let message = compose("services:\n  web:\n    image: ${NOVADEV_UNSET}\n").err();
    assert!(!message.contains("got null"), "{message}");
    assert!(message.contains("neither `image` nor `build`"), "{message}");
}

#[test]
fn required_variable_error_points_at_the_dollar() {
    let p = compose("services:\n  web:\n    image: \"nginx:${TAG:?set TAG}\"\n");
    let message = p.err();
    assert!(message.contains("compose.yaml:3:19:"), "{message}");
    assert!(message.contains("set TAG"), "{message}");
}

#[test]
fn bad_interpolation_syntax_is_an_error() {
    assert_error(
        &compose("services:\n  web:\n    image: nginx\n    command: echo ${ FOO}\n"),
        4,
        "invalid interpolation",
    );
}

#[test]
fn keys_are_not_interpolated_and_double_dollar_escapes() {
    let loaded =
        compose("services:\n  web:\n    image: nginx\n    environment:\n      $KEY: $$HOME\n").ok();
    let env = &service(&loaded, "web").environment;
    assert_eq!(env.get("$KEY").map(String::as_str), Some("$HOME"));
}

// ---- env files -------------------------------------------------------------------------------

#[test]
fn env_file_is_overridden_by_environment() {
    let loaded = compose(
        "services:\n  web:\n    image: nginx\n    env_file: web.env\n    environment:\n      B: fromyaml\n",
    )
    .file("web.env", "# c\nA=1\nB=fromfile\nexport C='q u'\n")
    .ok();
    let env = &service(&loaded, "web").environment;
    assert_eq!(env.get("A").map(String::as_str), Some("1"));
    assert_eq!(env.get("B").map(String::as_str), Some("fromyaml"));
    assert_eq!(env.get("C").map(String::as_str), Some("q u"));
}

#[test]
fn env_file_list_and_long_forms_later_files_win() {
    let loaded = compose(
        "services:\n  web:\n    image: nginx\n    env_file:\n      - a.env\n      - path: b.env\n      - path: missing.env\n        required: false\n",
    )
    .file("a.env", "A=1\nB=1\n")
    .file("b.env", "B=2\n")
    .ok();
    let env = &service(&loaded, "web").environment;
    assert_eq!(env.get("A").map(String::as_str), Some("1"));
    assert_eq!(env.get("B").map(String::as_str), Some("2"));
}

#[test]
fn missing_env_file_is_an_error_at_the_entry() {
    assert_error(
        &compose("services:\n  web:\n    image: nginx\n    env_file:\n      - nope.env\n"),
        5,
        "nope.env",
    );
}

#[test]
fn bad_env_file_line_is_reported_in_the_env_file() {
    let message = compose("services:\n  web:\n    image: nginx\n    env_file: x.env\n")
        .file("x.env", "A=1\nB='open\n")
        .err();
    assert!(message.contains("x.env:2:"), "{message}");
}

#[test]
fn environment_list_and_bare_keys_take_the_host_value() {
    let loaded = compose(
        "services:\n  web:\n    image: nginx\n    environment:\n      - A=1\n      - FROM_HOST\n      - NOT_ON_HOST\n      - EMPTY=\n",
    )
    .env("FROM_HOST", "h")
    .ok();
    let env = &service(&loaded, "web").environment;
    assert_eq!(env.get("A").map(String::as_str), Some("1"));
    assert_eq!(env.get("FROM_HOST").map(String::as_str), Some("h"));
    assert_eq!(env.get("EMPTY").map(String::as_str), Some(""));
    assert!(!env.contains_key("NOT_ON_HOST"));
}

#[test]
fn environment_map_null_takes_the_host_value_and_numbers_stay_text() {
    let loaded = compose(
        "services:\n  web:\n    image: nginx\n    environment:\n      FROM_HOST:\n      GONE: ~\n      N: 1.50\n      B: true\n",
    )
    .env("FROM_HOST", "h")
    .ok();
    let env = &service(&loaded, "web").environment;
    assert_eq!(env.get("FROM_HOST").map(String::as_str), Some("h"));
    assert!(!env.contains_key("GONE"));
    assert_eq!(env.get("N").map(String::as_str), Some("1.50"));
    assert_eq!(env.get("B").map(String::as_str), Some("true"));
}

// ---- merge -----------------------------------------------------------------------------------

pub(super) const BASE: &str = "services:
  web:
    image: web:1
    command: [serve, --fast]
    environment:
      A: base
      B: base
    labels: [tier=front]
    ports: ['8080:80']
    expose: ['9000']
    volumes:
      - ./src:/app
      - data:/data
    depends_on: [db]
    healthcheck:
      test: curl -f localhost
      interval: 10s
  db:
    image: postgres
volumes:
  data:
";

#[test]
fn override_file_merges_with_compose_rules() {
    let p = Project::new().file("compose.yaml", BASE).file(
        "override.yaml",
        "services:
  web:
    image: web:2
    command: serve
    environment:
      B: over
      C: over
    labels:
      extra: 'yes'
    ports: ['8080:80', '9090:90']
    expose: ['9000', '9001']
    volumes:
      - ./other:/app:ro
    depends_on:
      cache: {condition: service_started}
    healthcheck:
      timeout: 2s
  cache:
    image: redis
",
    );
    let loaded = p
        .load_files(&["compose.yaml", "override.yaml"])
        .expect("loads");
    let web = service(&loaded, "web");
    assert_eq!(web.image.as_deref(), Some("web:2"));
    assert_eq!(web.command, Some(strings(&["serve"])));
    assert_eq!(web.environment.get("A").map(String::as_str), Some("base"));
    assert_eq!(web.environment.get("B").map(String::as_str), Some("over"));
    assert_eq!(web.environment.get("C").map(String::as_str), Some("over"));
    assert_eq!(web.labels.len(), 2);
    let ports: Vec<_> = web.ports.iter().map(|p| p.host_port).collect();
    assert_eq!(ports, vec![Some(8080), Some(9090)]);
    assert_eq!(web.expose, strings(&["9000", "9001"]));
    assert_eq!(web.volumes.len(), 2);
    let app = web
        .volumes
        .iter()
        .find(|v| v.target == "/app")
        .expect("/app");
    assert!(app.read_only);
    assert_eq!(
        app.source,
        MountSource::Bind {
            path: p.path().join("other")
        }
    );
    assert_eq!(
        web.depends_on.keys().collect::<Vec<_>>(),
        vec!["cache", "db"]
    );
    let hc = web.healthcheck.as_ref().expect("healthcheck");
    assert_eq!(hc.test, Some(HealthTest::Shell("curl -f localhost".into())));
    assert_eq!(hc.interval, Some(Duration::from_secs(10)));
    assert_eq!(hc.timeout, Some(Duration::from_secs(2)));
    assert!(loaded.stack.services.contains_key("cache"));
    assert_eq!(
        web.pos.file.file_name().and_then(|f| f.to_str()),
        Some("override.yaml")
    );
}

#[test]
fn three_files_merge_in_order() {
    let p = Project::new()
        .file(
            "a.yaml",
            "services:\n  web:\n    image: a\n    environment: {X: a, Y: a, Z: a}\n",
        )
        .file(
            "b.yaml",
            "services:\n  web:\n    image: b\n    environment: {Y: b, Z: b}\n",
        )
        .file(
            "c.yaml",
            "services:\n  web:\n    environment: {Z: c}\n    restart: always\n",
        );
    let loaded = p
        .load_files(&["a.yaml", "b.yaml", "c.yaml"])
        .expect("loads");
    let web = service(&loaded, "web");
    assert_eq!(web.image.as_deref(), Some("b"));
    let env: Vec<_> = web.environment.values().map(String::as_str).collect();
    assert_eq!(env, vec!["a", "b", "c"]);
    assert_eq!(web.restart, RestartPolicy::Always);
    assert_eq!(loaded.stack.files.len(), 3);
}

#[test]
fn relative_paths_resolve_against_the_declaring_file() {
    let p = Project::new()
        .file("compose.yaml", "services:\n  web:\n    image: nginx\n")
        .file(
            "sub/extra.yaml",
            "services:\n  web:\n    volumes: ['./data:/data', '../top:/top']\n    env_file: e.env\n",
        )
        .file("sub/e.env", "FROM_SUB=1\n");
    let loaded = p
        .load_files(&["compose.yaml", "sub/extra.yaml"])
        .expect("loads");
    let web = service(&loaded, "web");
    assert_eq!(
        web.volumes[0].source,
        MountSource::Bind {
            path: p.path().join("sub/data")
        }
    );
    assert_eq!(
        web.volumes[1].source,
        MountSource::Bind {
            path: p.path().join("top")
        }
    );
    assert!(web.environment.contains_key("FROM_SUB"));
    assert_eq!(loaded.stack.project_dir, p.path());
}

#[test]
fn discovered_file_is_merged_with_its_override() {
    let loaded = compose("services:\n  web:\n    image: a\n")
        .file("compose.override.yaml", "services:\n  web:\n    image: b\n")
        .ok();
    assert_eq!(service(&loaded, "web").image.as_deref(), Some("b"));
    assert_eq!(loaded.stack.files.len(), 2);
}

#[test]
fn no_stack_file_is_its_own_error() {
    let p = Project::new();
    assert!(matches!(p.load(), Err(StackError::NoStackFile { .. })));
}

#[test]
fn unreadable_file_is_an_io_error_naming_the_path() {
    let p = Project::new();
    let e = p.load_files(&["nope.yaml"]).expect_err("fails");
    assert!(matches!(e, StackError::Io { .. }));
    assert!(e.to_string().contains("nope.yaml"), "{e}");
}

// ---- anchors ---------------------------------------------------------------------------------

#[test]
fn anchors_and_merge_keys_share_service_settings() {
    let loaded = compose(
        "x-base: &base
  image: app
  restart: always
  environment: &env
    A: '1'
x-more: &more
  restart: on-failure:3
  labels: {l: more}
services:
  one:
    <<: [*base, *more]
  two:
    <<: *base
    image: other
    environment:
      <<: *env
      B: '2'
",
    )
    .ok();
    let one = service(&loaded, "one");
    assert_eq!(one.image.as_deref(), Some("app"));
    assert_eq!(one.restart, RestartPolicy::Always);
    assert_eq!(one.labels.get("l").map(String::as_str), Some("more"));
    let two = service(&loaded, "two");
    assert_eq!(two.image.as_deref(), Some("other"));
    assert_eq!(two.environment.len(), 2);
}
