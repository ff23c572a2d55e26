//! Rendering back, the fixtures, size limits, include and extends, the runtime keys.

use super::*;

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
    seeds.push(super::loading::BASE.as_bytes().to_vec());
    seeds.push(super::key_checks::PROFILED.as_bytes().to_vec());
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
