//! Bad input never panics, never starts anything, and says where the problem is.

mod common;

use std::path::PathBuf;

use common::{Project, free_port};

fn fixtures() -> Vec<(PathBuf, String, usize)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read fixture");
            let expect = text
                .lines()
                .find_map(|l| l.strip_prefix("# expect: "))
                .expect("# expect: line")
                .to_string();
            let line = text
                .lines()
                .find_map(|l| l.strip_prefix("# line: "))
                .and_then(|n| n.trim().parse().ok())
                .expect("# line: N");
            (path, expect, line)
        })
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "every bad-input case has a fixture");
    cases
}

#[test]
fn every_bad_stack_is_reported_with_file_and_line_and_exit_code_2() {
    let p = Project::new("bad", "services: {}\n");
    for (path, expect, line) in fixtures() {
        let file = path.to_str().expect("utf-8 path");
        for cmd in [&["config"][..], &["up", "--wait-timeout", "10s"][..]] {
            let mut args = vec!["-f", file];
            args.extend_from_slice(cmd);
            let run = p.novadev(&args);
            assert_eq!(
                run.code, 2,
                "{file} {cmd:?}: {}\n{}",
                run.stdout, run.stderr
            );
            let location = format!("{file}:{line}:");
            assert!(
                run.stderr.contains(&location),
                "{cmd:?} must name {location}; stderr:\n{}",
                run.stderr
            );
            assert!(
                run.stderr.contains(&expect),
                "{file}: expected `{expect}` in\n{}",
                run.stderr
            );
            assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        }
    }
    assert!(p.labelled("container").is_empty(), "nothing was started");
    assert!(p.labelled("network").is_empty(), "nothing was created");
}

#[test]
fn several_errors_are_reported_at_once() {
    let p = Project::new(
        "many",
        r#"services:
  api:
    imgae: example/api
    ports: ["99999:80"]
  web:
    image: example/web
    depends_on: [nowhere]
"#,
    );
    let run = p.novadev(&["config"]);
    assert_eq!(run.code, 2);
    let compose = p.path().join("compose.yaml");
    let compose = compose.display();
    for line in [3, 4, 7] {
        assert!(
            run.stderr.contains(&format!("{compose}:{line}:")),
            "line {line} missing:\n{}",
            run.stderr
        );
    }
}

#[test]
fn missing_docker_is_one_clear_sentence_and_exit_1() {
    let p = Project::new(
        "nodocker",
        "services:\n  a:\n    image: debian:bookworm-slim\n",
    );
    for cmd in [&["up"][..], &["status", "--plain"][..], &["down"][..]] {
        let run = p.novadev_env(cmd, &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")]);
        assert_eq!(run.code, 1, "{cmd:?}: {}", run.stderr);
        let text = run.stderr.trim();
        assert!(text.contains("cannot reach the Docker engine"), "{text}");
        assert_eq!(text.lines().count(), 1, "one sentence: {text}");
    }
}

#[test]
fn unavailable_image_names_the_service_and_the_image() {
    let p = Project::new(
        "noimage",
        r#"services:
  ghost:
    image: novadev-test/never-built:1
  fine:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
"#,
    );
    let run = p.novadev(&["up", "--wait-timeout", "60s"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("service `ghost`: image `novadev-test/never-built:1`"),
        "{}",
        run.stdout
    );
    assert!(p.container("fine").running);
}

#[test]
fn taken_host_port_is_refused_before_anything_starts() {
    let port = free_port();
    let _holder = std::net::TcpListener::bind(("127.0.0.1", port)).expect("hold the port");
    let p = Project::new(
        "clash",
        &format!(
            r#"services:
  web:
    image: debian:bookworm-slim
    command: ["sleep", "infinity"]
    ports: ["{port}:80"]
"#
        ),
    );
    let run = p.novadev(&["up", "--wait-timeout", "20s"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!("127.0.0.1:{port}")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("service `web`"), "{}", run.stderr);
    assert!(run.stderr.contains("compose.yaml:5:"), "{}", run.stderr);
    assert!(p.labelled("container").is_empty());
}

#[test]
fn unknown_service_on_the_command_line_is_bad_input() {
    let p = Project::new(
        "unknownsvc",
        "services:\n  a:\n    image: debian:bookworm-slim\n",
    );
    let run = p.novadev(&["up", "nope"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no service `nope`"), "{}", run.stderr);
}

/// A stack that would expand past the byte budget: exit 2, one error with its place, nothing
/// started. (Time and memory are what this guards, but the assertions are on the outcome: a
/// gigabyte-building loader would still pass them only after taking the machine's memory.)
#[test]
fn stacks_that_expand_too_far_are_bad_input_with_the_place() {
    let p = Project::new("bomb", "services: {}\n");
    let mut alias_bomb = format!("x-big: &big \"{}\"\nservices:\n  a:\n", "x".repeat(100_000));
    alias_bomb.push_str("    image: debian:bookworm-slim\n    command: [");
    alias_bomb.push_str(&vec!["*big"; 10_000].join(", "));
    alias_bomb.push_str("]\n");
    p.write("alias-bomb.yaml", &alias_bomb);

    let mut variable_bomb =
        String::from("services:\n  a:\n    image: debian:bookworm-slim\n    environment:\n");
    for i in 0..200 {
        variable_bomb.push_str(&format!("      V{i}: \"${{BIG}}${{BIG}}\"\n"));
    }
    p.write("variable-bomb.yaml", &variable_bomb);
    p.write(".env", &format!("BIG={}\n", "y".repeat(1 << 20)));

    for (file, place) in [
        ("alias-bomb.yaml", "alias-bomb.yaml:5:"),
        ("variable-bomb.yaml", "variable-bomb.yaml:"),
    ] {
        let run = p.novadev(&["-f", file, "config"]);
        assert_eq!(run.code, 2, "{file}: {}", run.stderr);
        assert!(run.stderr.contains(place), "{file}: {}", run.stderr);
        assert!(run.stderr.contains("more than 64 MiB"), "{}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    assert!(p.labelled("container").is_empty(), "nothing was started");
}

#[test]
fn endless_or_oversized_files_are_bad_input() {
    let p = Project::new(
        "endless",
        "services:\n  a:\n    image: debian:bookworm-slim\n",
    );
    let run = p.novadev(&["-f", "/dev/zero", "config"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("/dev/zero:1:1:"), "{}", run.stderr);
    assert!(run.stderr.contains("larger than 16 MiB"), "{}", run.stderr);

    p.write(".env", &format!("A={}\n", "y".repeat(17 << 20)));
    let run = p.novadev(&["config"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains(".env:1:1:"), "{}", run.stderr);
    assert!(run.stderr.contains("larger than 16 MiB"), "{}", run.stderr);
}

#[test]
fn service_healthy_on_a_dependency_without_any_healthcheck_names_where_it_is_written() {
    let p = Project::new(
        "nohealth",
        r#"services:
  a:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
  b:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
    depends_on:
      a:
        condition: service_healthy
"#,
    );
    let run = p.novadev(&["up", "--wait-timeout", "60s"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    // The loader warns (the image might have a HEALTHCHECK); the engine then shows it has none.
    assert!(run.stderr.contains("warning:"), "{}", run.stderr);
    assert!(
        run.stdout.contains("dependency `a` has no healthcheck")
            && run.stdout.contains("compose.yaml:11:7"),
        "{}",
        run.stdout
    );
    assert!(
        p.containers()
            .iter()
            .all(|c| c.service != "b" || !c.running),
        "b never started"
    );
}
