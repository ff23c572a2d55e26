//! The verbs Compose users type every day, against the real engine: exec (exit code passed
//! through, stdin forwarded), run (a one-off with the service's configuration, removed after,
//! its dependencies brought up), ps, port, top and shell completions.

mod common;

use std::io::Write;
use std::process::Stdio;

use common::Project;

const STACK: &str = r#"
services:
  db:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
    ports: ["5432"]
    environment:
      ROLE: database
    healthcheck:
      test: ["CMD", "true"]
      interval: 30s
      start_interval: 100ms
  tool:
    image: debian:bookworm-slim
    command: ["sh", "-c", "echo role=$$ROLE"]
    environment:
      ROLE: tool
    depends_on:
      db: {condition: service_healthy}
"#;

#[test]
fn exec_passes_stdin_and_the_exit_code_through() {
    let p = Project::new("exec", STACK);
    p.up_ok(&["db"]);
    let run = p.novadev(&["exec", "db", "sh", "-c", "echo $ROLE; exit 7"]);
    assert_eq!(run.code, 7, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.stdout.trim(), "database");

    let mut child = p
        .command(&["exec", "-T", "db", "wc", "-l"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("exec");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"a\nb\nc\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "3",
        "stdin reached the command"
    );

    let missing = p.novadev(&["exec", "tool", "true"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("no running container"),
        "{}",
        missing.stderr
    );
}

#[test]
fn run_is_a_one_off_with_the_services_configuration_removed_after() {
    let p = Project::new("run", STACK);
    // Its dependency comes up first; the one-off's own command and environment are the service's.
    let run = p.novadev(&["run", "tool"]);
    assert!(run.ok(), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.stdout.trim(), "role=tool");
    assert!(p.container("db").running, "the dependency was brought up");
    let code = p.novadev(&[
        "run",
        "-e",
        "EXTRA=1",
        "tool",
        "sh",
        "-c",
        "echo $EXTRA; exit 4",
    ]);
    assert_eq!(code.code, 4);
    assert_eq!(code.stdout.trim(), "1");
    let names: Vec<String> = p.containers().into_iter().map(|c| c.service).collect();
    assert_eq!(names, vec!["db".to_string()], "one-offs are removed");
    // And status does not count them as the service's container.
    let status = p.status_of("tool");
    assert!(status["container_id"].is_null(), "{status}");
}

#[test]
fn ps_port_top_and_completions() {
    let p = Project::new("inspect", STACK);
    p.up_ok(&["db"]);
    let ps = p.novadev(&["ps"]);
    assert!(ps.ok() && ps.stdout.contains("db"), "{}", ps.stdout);
    let port = p.novadev(&["port", "db", "5432"]);
    assert!(port.ok(), "{}", port.stderr);
    let published = common::host_port(&p.container("db"), 5432).expect("published");
    assert_eq!(port.stdout.trim(), format!("127.0.0.1:{published}"));
    let not = p.novadev(&["port", "db", "9999"]);
    assert_eq!(not.code, 1);
    let top = p.novadev(&["top", "db"]);
    assert!(
        top.ok() && top.stdout.contains("sleep infinity"),
        "{}",
        top.stdout
    );
    for shell in ["bash", "zsh", "fish"] {
        let script = p.novadev(&["completions", shell]);
        assert!(script.ok() && script.stdout.contains("novadev"), "{shell}");
    }
}

#[test]
fn the_commands_up_prints_work_as_printed() {
    // Long-running services only, so that `up` ends ready whatever the timing.
    let p = Project::new(
        "printed",
        "services:\n  db:\n    image: debian:bookworm-slim\n    init: true\n    command: [\"sleep\", \"infinity\"]\n",
    );
    let up = p.novadev(&["up", "--wait-timeout", "120s"]);
    assert!(up.ok(), "{}\n{}", up.stdout, up.stderr);
    let commands: Vec<&str> = up
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("Common commands"))
        .filter_map(|l| l.split_once("  #").map(|(command, _)| command.trim()))
        .collect();
    let status = commands
        .iter()
        .find(|c| c.ends_with(" status"))
        .unwrap_or_else(|| panic!("a status command is printed: {}", up.stdout));
    let logs = commands
        .iter()
        .find(|c| c.contains(" logs -f "))
        .unwrap_or_else(|| panic!("a logs command is printed: {}", up.stdout));
    // novadev is not on the test's PATH: the commands name this very binary instead.
    assert!(!status.starts_with("novadev "), "{status}");
    for command in [status.to_string(), logs.replace(" -f ", " --tail 5 ")] {
        let run = std::process::Command::new("sh")
            .args(["-c", &format!("{command} </dev/null")])
            .current_dir(p.path())
            .env(
                "NOVADEV_STATE_DIR",
                p.daemon_dir().parent().expect("state dir"),
            )
            .env("NO_COLOR", "1")
            .output()
            .expect("run the printed command");
        assert!(
            run.status.success(),
            "`{command}` as printed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
}
