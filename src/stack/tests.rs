//! Behaviour of `load` as a whole: files on disk in a temporary project directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

struct Project {
    dir: tempfile::TempDir,
    env: BTreeMap<String, String>,
    profiles: Vec<String>,
    project_name: Option<String>,
}

impl Project {
    fn new() -> Project {
        let mut env = BTreeMap::new();
        env.insert("HOME".to_string(), "/home/dev".to_string());
        Project {
            dir: tempfile::tempdir().expect("tempdir"),
            env,
            profiles: Vec::new(),
            project_name: None,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn file(self, rel: &str, content: &str) -> Project {
        let path = self.dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, content).expect("write");
        self
    }

    fn env(mut self, key: &str, value: &str) -> Project {
        self.env.insert(key.to_string(), value.to_string());
        self
    }

    fn profile(mut self, p: &str) -> Project {
        self.profiles.push(p.to_string());
        self
    }

    fn load_files(&self, files: &[&str]) -> Result<Loaded, StackError> {
        load(&LoadOptions {
            files: files.iter().map(PathBuf::from).collect(),
            working_dir: self.dir.path().to_path_buf(),
            project_name: self.project_name.clone(),
            profiles: self.profiles.clone(),
            env: self.env.clone(),
        })
    }

    fn load(&self) -> Result<Loaded, StackError> {
        self.load_files(&[])
    }

    fn ok(&self) -> Loaded {
        match self.load() {
            Ok(loaded) => loaded,
            Err(e) => panic!("expected the stack to load, got:\n{e}"),
        }
    }

    fn err(&self) -> String {
        match self.load() {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }
}

fn compose(yaml: &str) -> Project {
    Project::new().file("compose.yaml", yaml)
}

fn service<'a>(loaded: &'a Loaded, name: &str) -> &'a Service {
    loaded
        .stack
        .services
        .get(name)
        .unwrap_or_else(|| panic!("no service {name}"))
}

/// Asserts that loading fails with a message at `compose.yaml:LINE:` containing `needle`.
fn assert_error(project: &Project, line: usize, needle: &str) {
    let message = project.err();
    let at = format!("compose.yaml:{line}:");
    assert!(
        message
            .lines()
            .any(|l| l.contains(&at) && l.contains(needle)),
        "expected `{at}` … `{needle}` in:\n{message}"
    );
}

fn warnings(loaded: &Loaded) -> String {
    loaded
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

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

const BASE: &str = "services:
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

// ---- profiles --------------------------------------------------------------------------------

const PROFILED: &str = "services:
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

// ---- render ----------------------------------------------------------------------------------

#[test]
fn rendered_config_loads_back_to_the_same_stack() {
    let p = compose(
        "name: demo
services:
  web:
    build:
      context: ./app
      args: {V: '1'}
    command: echo $$HOME and '${GREETING:-hi}'
    environment:
      PRICE: '$$5'
      N: '010'
    ports: ['8080:80', '53:53/udp', '9000']
    volumes: [data:/data, ./src:/src:ro, /anon]
    networks:
      back:
        aliases: [w]
    depends_on:
      db: {condition: service_healthy}
    healthcheck:
      test: [CMD, curl, localhost]
      interval: 1m30s
      retries: 3
    restart: on-failure:2
    labels: {a: b}
    extra_hosts: ['h:1.2.3.4']
    stop_grace_period: 500ms
    init: false
    develop:
      watch:
        - {path: ./src, action: sync+restart, target: /src}
    x-novadev:
      tier: apps
      host_build: {command: make, artifact: out/web}
  db:
    image: postgres
    healthcheck:
      test: pg_isready
networks:
  back: {}
volumes:
  data: {external: true, name: shared}
x-novadev:
  tiers:
    db: [db]
",
    )
    .file("app/Dockerfile", "FROM scratch\n");
    let first = p.ok().stack;
    let yaml = render_yaml(&first);
    assert!(yaml.starts_with("name: demo\n"), "{yaml}");
    let q = Project::new().file("compose.yaml", &yaml);
    let second = q.ok().stack;
    let json = |s: &Stack| {
        let mut v = serde_json::to_value(&s.services).expect("json");
        // `project_dir` differs between the two temp dirs only through absolute paths, which are
        // kept as they were: compare the service definitions and resources.
        v["__networks"] = serde_json::to_value(&s.networks).expect("json");
        v["__volumes"] = serde_json::to_value(&s.volumes).expect("json");
        v["__tiers"] = serde_json::to_value(&s.novadev).expect("json");
        v
    };
    assert_eq!(json(&first), json(&second), "rendered:\n{yaml}");
    assert_eq!(second.name, "demo");
}

// ---- fixtures --------------------------------------------------------------------------------

fn fixtures(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kind)
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("fixture dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn load_fixture(path: &Path) -> Result<Loaded, StackError> {
    load(&LoadOptions {
        files: vec![path.to_path_buf()],
        working_dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        project_name: None,
        profiles: vec!["apps".into()],
        env: BTreeMap::new(),
    })
}

#[test]
fn invalid_fixtures_fail_with_their_expected_message_and_line() {
    let files = yaml_files(&fixtures("invalid"));
    assert!(files.len() >= 10, "{files:?}");
    for path in files {
        let content = std::fs::read_to_string(&path).expect("read");
        let header = |prefix: &str| {
            content
                .lines()
                .find_map(|l| l.strip_prefix(prefix).map(str::trim))
                .unwrap_or_else(|| panic!("{}: no `{prefix}` line", path.display()))
                .to_string()
        };
        let expect = header("# expect:");
        let line = header("# line:");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let message = match load_fixture(&path) {
            Ok(_) => panic!("{name}: expected an error"),
            Err(e) => e.to_string(),
        };
        let at = format!("{name}:{line}:");
        assert!(
            message
                .lines()
                .any(|l| l.contains(&at) && l.contains(&expect)),
            "{name}: expected `{at}` … `{expect}` in:\n{message}"
        );
    }
}

#[test]
fn valid_fixtures_load() {
    for path in yaml_files(&fixtures("valid")) {
        if let Err(e) = load_fixture(&path) {
            panic!("{}: {e}", path.display());
        }
    }
}

/// xorshift64*: deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    const INTERESTING: &[u8] = b":-[]{}&*<$!|>'\"#,?%@`\n \t0123456789~.";
    let mut bytes = seed.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = bytes.len();
        match rng.below(7) {
            0 => bytes.truncate(rng.below(len + 1)),
            1 if len > 0 => {
                let at = rng.below(len);
                bytes[at] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 if len > 0 => {
                let at = rng.below(len);
                bytes[at] = (rng.next() & 0xff) as u8;
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let end = (at + rng.below(16)).min(len);
                bytes.drain(at..end);
            }
            4 => {
                let at = rng.below(len + 1);
                bytes.insert(at, INTERESTING[rng.below(INTERESTING.len())]);
            }
            5 if len > 0 => {
                let from = rng.below(len);
                let end = (from + rng.below(40)).min(len);
                let chunk = bytes[from..end].to_vec();
                let at = rng.below(len + 1);
                bytes.splice(at..at, chunk);
            }
            _ if len > 0 => {
                let at = rng.below(len);
                bytes[at] ^= 1 << rng.below(8);
            }
            _ => {}
        }
    }
    bytes
}

#[test]
fn load_never_panics_on_mutated_input() {
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for kind in ["invalid", "valid"] {
        for path in yaml_files(&fixtures(kind)) {
            seeds.push(std::fs::read(path).expect("read"));
        }
    }
    seeds.push(BASE.as_bytes().to_vec());
    seeds.push(PROFILED.as_bytes().to_vec());
    let p = Project::new()
        .file("Dockerfile", "FROM scratch\n")
        .file("app.env", "A=1\n")
        .file(".env", "FROM_DOTENV=1\n");
    let file = p.path().join("compose.yaml");
    // NOVADEV_FUZZ_CASES / NOVADEV_FUZZ_SEED allow a longer run by hand; the default stays fast.
    let number = |var: &str, default: u64| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let total = number("NOVADEV_FUZZ_CASES", 3000);
    let mut rng = Rng(number("NOVADEV_FUZZ_SEED", 0x9E37_79B9_7F4A_7C15) | 1);
    let started = std::time::Instant::now();
    let mut cases = 0;
    while cases < total {
        let seed = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed);
        std::fs::write(&file, &input).expect("write");
        let outcome = std::panic::catch_unwind(|| p.load_files(&["compose.yaml"]));
        assert!(
            outcome.is_ok(),
            "load panicked on input:\n{}",
            String::from_utf8_lossy(&input)
        );
        cases += 1;
    }
    assert!(
        total > 3000 || started.elapsed() < Duration::from_secs(10),
        "fuzzing took {:?}",
        started.elapsed()
    );
}

#[test]
fn unset_variable_is_warned_about_once() {
    let loaded =
        compose("services:\n  a:\n    image: x$NOVADEV_NOPE\n  b:\n    image: y${NOVADEV_NOPE}\n")
            .ok();
    assert_eq!(loaded.warnings.len(), 1, "{}", warnings(&loaded));
}

#[test]
fn bad_dotenv_line_is_reported_in_the_dotenv_file() {
    let message = compose("services:\n  web:\n    image: x\n")
        .file(".env", "OK=1\n\nNOT OK=2\n")
        .err();
    assert!(message.contains(".env:3:"), "{message}");
}

#[test]
fn compose_project_name_variable_beats_the_name_key() {
    let p = compose("name: fromfile\nservices: {a: {image: x}}\n")
        .file(".env", "COMPOSE_PROJECT_NAME=FromDotenv\n");
    assert_eq!(p.ok().stack.name, "fromdotenv");
}

#[test]
fn top_level_networks_and_volumes_keep_their_settings() {
    let loaded = compose(
        "services:
  web:
    image: x
    networks: [shared]
    volumes: [cache:/cache]
networks:
  shared:
    external: true
    name: infra_net
    ipam: {config: []}
volumes:
  cache:
    external:
      name: old_style
",
    )
    .ok();
    let net = &loaded.stack.networks["shared"];
    assert!(net.external);
    assert_eq!(loaded.stack.network_name("shared"), "infra_net");
    assert_eq!(loaded.stack.volume_name("cache"), "old_style");
    let w = warnings(&loaded);
    assert!(w.contains("`ipam` is not supported"), "{w}");
    assert!(w.contains("deprecated"), "{w}");
}

#[test]
fn unknown_keys_in_nested_sections_are_errors() {
    assert_error(
        &compose(
            "services:\n  web:\n    image: x\n    healthcheck:\n      test: x\n      intervall: 5s\n",
        ),
        6,
        "did you mean `interval`?",
    );
    assert_error(
        &compose("services:\n  web:\n    build:\n      contxt: .\n"),
        4,
        "did you mean `context`?",
    );
}

// ---- size limits -----------------------------------------------------------------------------

fn alias_bomb(scalar: usize, aliases: usize) -> String {
    let mut src = format!(
        "x-big: &big \"{}\"\nservices:\n  a:\n    image: x\n    command: [",
        "x".repeat(scalar)
    );
    src.push_str(&vec!["*big"; aliases].join(", "));
    src.push_str("]\n");
    src
}

#[test]
fn alias_bomb_by_bytes_is_one_error_at_the_aliases() {
    let started = std::time::Instant::now();
    let message = compose(&alias_bomb(100_000, 10_000)).err();
    assert!(message.contains("compose.yaml:5:"), "{message}");
    assert!(message.contains("more than 64 MiB"), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
    // Generous: the point is that it does not build a gigabyte first.
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn variable_bomb_through_dotenv_is_an_error_at_the_value() {
    let mut yaml = String::from("services:\n  a:\n    image: x\n    environment:\n");
    for i in 0..200 {
        yaml.push_str(&format!("      V{i}: \"${{BIG}}${{BIG}}\"\n"));
    }
    let p = compose(&yaml).file(".env", &format!("BIG={}\n", "y".repeat(1 << 20)));
    let message = p.err();
    assert!(message.contains("compose.yaml:"), "{message}");
    assert!(message.contains("too large"), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
}

#[test]
fn bare_environment_keys_copying_a_huge_value_are_spent_too() {
    let mut yaml = String::from("services:\n");
    for i in 0..100 {
        yaml.push_str(&format!("  s{i}:\n    image: x\n    environment: [BIG]\n"));
    }
    let p = compose(&yaml).file(".env", &format!("BIG={}\n", "y".repeat(1 << 20)));
    let message = p.err();
    assert!(message.contains("too large"), "{message}");
}

#[test]
fn endless_stack_file_is_an_error_not_a_hang() {
    let p = Project::new();
    let message = match p.load_files(&["/dev/zero"]) {
        Ok(_) => panic!("/dev/zero loaded"),
        Err(e) => e.to_string(),
    };
    assert!(message.starts_with("/dev/zero:1:1:"), "{message}");
    assert!(message.contains("larger than 16 MiB"), "{message}");
}

#[test]
fn oversized_dotenv_and_env_file_are_errors_at_the_file() {
    let huge = format!("A={}\n", "y".repeat(17 << 20));
    let message = compose("services:\n  a:\n    image: x\n")
        .file(".env", &huge)
        .err();
    assert!(
        message.contains(".env:1:1: `.env` is larger than 16 MiB"),
        "{message}"
    );
    let message = compose("services:\n  a:\n    image: x\n    env_file: big.env\n")
        .file("big.env", &huge)
        .err();
    assert!(message.contains("compose.yaml:4:"), "{message}");
    assert!(message.contains("larger than 16 MiB"), "{message}");
}

#[test]
fn env_file_read_by_many_services_is_spent_each_time() {
    let mut yaml = String::from("services:\n");
    for i in 0..80 {
        yaml.push_str(&format!("  s{i}:\n    image: x\n    env_file: big.env\n"));
    }
    let p = compose(&yaml).file("big.env", &format!("A={}\n", "y".repeat(1 << 20)));
    assert!(p.err().contains("too large"));
}

#[test]
fn load_from_sources_reads_only_what_it_is_given() {
    let sources = Memory::new()
        .with(
            "/mem/compose.yaml",
            "services:\n  web:\n    build: ./app\n    env_file: web.env\n    environment: {B: $FROM_DOTENV}\n",
        )
        .with("/mem/app/Dockerfile", "FROM scratch\n")
        .with("/mem/web.env", "A=1\n")
        .with("/mem/.env", "FROM_DOTENV=2\n");
    let loaded = load_from_sources(
        &sources,
        &LoadOptions {
            files: vec![PathBuf::from("compose.yaml")],
            working_dir: PathBuf::from("/mem"),
            ..LoadOptions::default()
        },
    )
    .expect("loads");
    let web = service(&loaded, "web");
    assert_eq!(web.environment.get("A").map(String::as_str), Some("1"));
    assert_eq!(web.environment.get("B").map(String::as_str), Some("2"));
    assert_eq!(
        web.build.as_ref().map(|b| b.context.clone()),
        Some(PathBuf::from("/mem/app"))
    );
    let none = load_from_sources(&sources, &LoadOptions::default());
    assert!(matches!(none, Err(StackError::NoStackFile { .. })));
}

// ---- include, extends ------------------------------------------------------------------------

#[test]
fn included_file_problems_point_into_the_included_file() {
    let message = compose("include: [sub/compose.yaml]\nservices:\n  a:\n    image: x\n")
        .file(
            "sub/compose.yaml",
            "services:\n  b:\n    image: y\n    imgae: z\n",
        )
        .err();
    assert!(
        message.contains("sub/compose.yaml:4:5: service `b`: unknown key `imgae`"),
        "{message}"
    );
}

#[test]
fn a_service_both_included_and_defined_is_an_error_at_the_definition() {
    assert_error(
        &compose("include: [sub/compose.yaml]\nservices:\n  b:\n    image: x\n")
            .file("sub/compose.yaml", "services:\n  b:\n    image: y\n"),
        3,
        "also defined by the included file",
    );
}

#[test]
fn missing_or_looping_includes_are_errors_at_the_entry() {
    assert_error(
        &compose("include: [nope.yaml]\nservices:\n  a:\n    image: x\n"),
        1,
        "cannot read included file",
    );
    // The loop is reported where it closes: at b.yaml's entry.
    let message = compose("include: [b.yaml]\nservices:\n  a:\n    image: x\n")
        .file(
            "b.yaml",
            "include: [compose.yaml]\nservices:\n  b:\n    image: y\n",
        )
        .err();
    assert!(
        message.contains("b.yaml:1:11: `include` of") && message.contains("loops back"),
        "{message}"
    );
}

#[test]
fn include_project_directory_and_env_file_are_honoured() {
    let loaded = compose(
        "include:\n  - path: sub/compose.yaml\n    project_directory: other\n    env_file: vars.env\nservices:\n  a:\n    image: x\n",
    )
    .file("sub/compose.yaml", "services:\n  b:\n    image: y:$TAG\n    volumes: [./data:/data]\n")
    .file("vars.env", "TAG=9\n")
    .ok();
    let b = service(&loaded, "b");
    assert_eq!(b.image.as_deref(), Some("y:9"));
    match &b.volumes[0].source {
        MountSource::Bind { path } => assert!(path.ends_with("other/data"), "{path:?}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn extends_errors_are_at_the_extends_key() {
    assert_error(
        &compose("services:\n  a:\n    extends: nope\n    image: x\n"),
        3,
        "extends `nope`, which is not a service of this file",
    );
    assert_error(
        &compose("services:\n  a:\n    extends: b\n  b:\n    extends: a\n    image: x\n"),
        3,
        "loops back",
    );
    assert_error(
        &compose("services:\n  a:\n    extends: {file: other.yaml, service: z}\n")
            .file("other.yaml", "services:\n  y:\n    image: x\n"),
        3,
        "has no service `z`",
    );
}

#[test]
fn extends_chains_resolve_in_order() {
    let loaded = compose(
        "services:\n  a:\n    image: a\n    environment: {A: a, B: a, C: a}\n  b:\n    extends: a\n    environment: {B: b}\n  c:\n    extends: b\n    environment: {C: c}\n",
    )
    .ok();
    let c = &service(&loaded, "c").environment;
    assert_eq!(
        (c["A"].as_str(), c["B"].as_str(), c["C"].as_str()),
        ("a", "b", "c")
    );
}

// ---- runtime keys ----------------------------------------------------------------------------

#[test]
fn secrets_must_be_declared_file_based_and_present() {
    assert_error(
        &compose("services:\n  a:\n    image: x\n    secrets: [token]\n"),
        4,
        "uses secret `token`, which is not declared",
    );
    assert_error(
        &compose(
            "services:\n  a:\n    image: x\n    secrets: [token]\nsecrets:\n  token: {environment: TOKEN}\n",
        ),
        4,
        "only file-based secrets",
    );
    assert_error(
        &compose(
            "services:\n  a:\n    image: x\n    configs: [c]\nconfigs:\n  c: {file: ./nope.conf}\n",
        ),
        6,
        "not found",
    );
}

#[test]
fn network_mode_and_networks_cannot_be_combined() {
    assert_error(
        &compose(
            "services:\n  a:\n    image: x\n    network_mode: host\n    networks: [default]\n",
        ),
        4,
        "cannot be combined",
    );
}

#[test]
fn network_mode_and_links_to_unknown_services_are_errors() {
    assert_error(
        &compose("services:\n  a:\n    image: x\n    network_mode: service:ghost\n"),
        4,
        "unknown service `ghost`",
    );
    assert_error(
        &compose("services:\n  a:\n    image: x\n    links: [ghost]\n"),
        4,
        "unknown service `ghost`",
    );
}

#[test]
fn runtime_keys_merge_with_compose_rules() {
    let p = compose(
        "services:\n  a:\n    image: x\n    cap_add: [A]\n    read_only: true\n    ulimits: {nofile: 10}\n    logging: {driver: json-file, options: {max-size: 1m}}\n",
    )
    .file(
        "over.yaml",
        "services:\n  a:\n    cap_add: [B, A]\n    read_only: false\n    ulimits: {nproc: 5}\n    logging: {options: {max-file: '2'}}\n",
    );
    let loaded = p.load_files(&["compose.yaml", "over.yaml"]).expect("loads");
    let r = &service(&loaded, "a").runtime;
    assert_eq!(r.cap_add, strings(&["A", "B"]));
    assert!(!r.read_only);
    assert_eq!(r.ulimits.len(), 2);
    let logging = r.logging.as_ref().expect("logging");
    assert_eq!(logging.driver.as_deref(), Some("json-file"));
    assert_eq!(logging.options.len(), 2);
}

#[test]
fn bad_runtime_values_are_errors_at_their_line() {
    assert_error(
        &compose("services:\n  a:\n    image: x\n    mem_limit: lots\n"),
        4,
        "must be a size",
    );
    assert_error(
        &compose("services:\n  a:\n    image: x\n    cpus: -1\n"),
        4,
        "number of CPUs",
    );
    assert_error(
        &compose("services:\n  a:\n    image: x\n    ulimits: {nofile: {soft: 1}}\n"),
        4,
        "needs both `soft` and `hard`",
    );
    assert_error(
        &compose("services:\n  a:\n    image: x\n    volumes: ['./a:/a:zz']\n"),
        4,
        "unknown volume option `zz`",
    );
    assert_error(
        &compose("services:\n  a:\n    image: x\n    post_start: [{user: root}]\n"),
        4,
        "needs a `command`",
    );
}

#[test]
fn the_widest_port_range_in_two_files_loads_without_pairwise_work() {
    let p = compose("services:\n  a:\n    image: x\n    ports: ['1-65535:1-65535']\n").file(
        "over.yaml",
        "services:\n  a:\n    ports: ['1-65535:1-65535']\n",
    );
    let started = std::time::Instant::now();
    let loaded = p.load_files(&["compose.yaml", "over.yaml"]).expect("loads");
    assert_eq!(service(&loaded, "a").ports.len(), 65535);
    // Pairwise work is about 2e9 comparisons: minutes in a debug build.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}
