//! `up` / `down` / `cleanup` against the real Docker engine, with real containers.

mod common;

use std::process::Stdio;
use std::time::Duration;

use chrono::TimeDelta;
use common::{Project, docker, report_services, wait_for};

/// A gate that turns healthy 1.5 s after it starts, a one-shot gated on it, a long-running app
/// gated on the one-shot, a service gated on the app, and two services that depend on nothing.
const CHAIN: &str = r#"
services:
  gate:
    image: debian:bookworm-slim
    init: true
    command: ["sh", "-c", "sleep 1.5; touch /tmp/ready; exec sleep infinity"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 30s
      start_interval: 100ms
  migrate:
    image: debian:bookworm-slim
    command: ["sh", "-c", "sleep 0.5; echo migrated"]
    depends_on:
      gate:
        condition: service_healthy
  app:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
    depends_on:
      migrate:
        condition: service_completed_successfully
  edge:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
    depends_on: [app]
  side-a:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
  side-b:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
"#;

#[test]
fn dependency_conditions_order_starts_and_independent_services_overlap() {
    let p = Project::new("chain", CHAIN);
    let report = p.up_ok(&[]);
    let phases = report_services(&report);
    for (service, phase, _) in &phases {
        let expected = if service == "migrate" {
            "completed"
        } else {
            "ready"
        };
        assert_eq!(phase, expected, "{service}: {phases:?}");
    }

    let gate = p.container("gate");
    let migrate = p.container("migrate");
    let app = p.container("app");
    let edge = p.container("edge");
    let side_a = p.container("side-a");
    let side_b = p.container("side-b");

    // service_healthy: migrate started only once the gate's file existed (1.5 s after its start).
    let gate_ready = gate.started_at + TimeDelta::milliseconds(1500);
    assert!(
        migrate.started_at >= gate_ready,
        "migrate started {} before gate was healthy {}",
        migrate.started_at,
        gate_ready
    );
    // service_completed_successfully: app started after migrate exited 0.
    assert_eq!(migrate.exit_code, 0);
    let migrate_done = migrate.finished_at.expect("migrate finished");
    assert!(
        app.started_at >= migrate_done,
        "app started before migrate finished"
    );
    // service_started (list form).
    assert!(edge.started_at >= app.started_at);
    // Independent services did not wait for anything: they started together with the gate,
    // long before the chain behind it.
    for side in [&side_a, &side_b] {
        let apart = (side.started_at - gate.started_at).num_milliseconds().abs();
        assert!(
            apart < 1000,
            "{} started {apart} ms away from gate",
            side.name
        );
        assert!(side.started_at < gate_ready);
        assert!(side.running);
    }
}

const TRIO: &str = r#"
services:
  a:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
    environment:
      GREETING: ${GREETING:-hello}
  b:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
    depends_on: [a]
  c:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
"#;

#[test]
fn re_up_keeps_everything_and_a_changed_service_alone_is_recreated() {
    let p = Project::new("reup", TRIO);
    p.up_ok(&[]);
    let ids = |p: &Project| -> Vec<(String, String)> {
        let mut v: Vec<_> = p
            .containers()
            .into_iter()
            .map(|c| (c.service, c.id))
            .collect();
        v.sort();
        v
    };
    let first = ids(&p);
    assert_eq!(first.len(), 3);

    let again = p.up_ok(&[]);
    for (service, phase, taken) in report_services(&again) {
        assert_eq!(phase, "ready", "{service}");
        assert_eq!(taken, "kept", "{service} was not kept");
    }
    assert_eq!(ids(&p), first, "a re-up with no change recreated something");

    let changed = p.up_ok_env(&[], &[("GREETING", "bye")]);
    let taken: Vec<_> = report_services(&changed)
        .into_iter()
        .map(|(s, _, t)| (s, t))
        .collect();
    assert_eq!(
        taken,
        vec![
            ("a".to_string(), "recreated".to_string()),
            ("b".to_string(), "kept".to_string()),
            ("c".to_string(), "kept".to_string()),
        ]
    );
    let after = ids(&p);
    assert_ne!(after[0].1, first[0].1, "a has a new container");
    assert_eq!(after[1..], first[1..], "b and c are untouched");
    assert!(p.container("a").env.contains(&"GREETING=bye".to_string()));
}

#[test]
fn up_of_one_service_starts_only_what_it_needs() {
    let p = Project::new("subset", TRIO);
    let report = p.up_ok(&["b"]);
    let services: Vec<_> = report_services(&report)
        .into_iter()
        .map(|(s, _, _)| s)
        .collect();
    assert_eq!(services, vec!["a", "b"]);
    let mut running: Vec<_> = p.containers().into_iter().map(|c| c.service).collect();
    running.sort();
    assert_eq!(running, vec!["a", "b"], "c must not be started");
}

const SLOW: &str = r#"
services:
  slow:
    image: debian:bookworm-slim
    init: true
    command: ["sh", "-c", "sleep 3; touch /tmp/ready; exec sleep infinity"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 30s
      start_interval: 100ms
  after:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
    depends_on:
      slow:
        condition: service_healthy
  free-1:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
  free-2:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
"#;

#[test]
fn daemon_killed_mid_up_loses_nothing_and_up_again_converges_without_duplicates() {
    let p = Project::new("kill9", SLOW);
    let mut client = p
        .command(&["up", "--wait-timeout", "60s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn up");
    // Wait until the daemon is mid-way: `slow` exists, `after` is still waiting on it.
    let slow_id = wait_for("slow's container", Duration::from_secs(30), || {
        p.containers()
            .into_iter()
            .find(|c| c.service == "slow")
            .map(|c| c.id)
    });
    let pid = wait_for("the daemon pid", Duration::from_secs(10), || p.daemon_pid());
    // `after` may exist already (containers are created while their dependencies come up),
    // but it must not have started.
    let after_early = p.containers().into_iter().find(|c| c.service == "after");
    if let Some(c) = &after_early {
        assert_eq!(
            c.raw["State"]["Status"], "created",
            "the kill must land mid-up"
        );
    }
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = client.wait().expect("client exits");
    assert!(!status.success(), "the client must notice the daemon died");

    let report = p.up_ok(&[]);
    assert!(report["ok"].as_bool().unwrap_or(false));
    let containers = p.containers();
    let mut services: Vec<_> = containers.iter().map(|c| c.service.clone()).collect();
    services.sort();
    assert_eq!(
        services,
        vec!["after", "free-1", "free-2", "slow"],
        "one container per service"
    );
    let mut names: Vec<_> = containers.iter().map(|c| c.name.clone()).collect();
    names.dedup();
    assert_eq!(names.len(), 4);
    assert_eq!(
        p.container("slow").id,
        slow_id,
        "slow was adopted, not recreated"
    );
    if let Some(c) = after_early {
        let after = p.container("after");
        assert_eq!(
            after.id, c.id,
            "the created `after` was adopted and started"
        );
        assert!(after.running);
    }
    assert_ne!(p.daemon_pid(), Some(pid), "a new daemon serves the project");
}

const POSTGRES: &str = r#"
services:
  db:
    image: postgres:15
    environment:
      POSTGRES_PASSWORD: secret
      POSTGRES_DB: app
    volumes:
      - pgdata:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "postgres", "-h", "127.0.0.1"]
      interval: 30s
      start_interval: 100ms
  seed:
    image: postgres:15
    environment:
      PGPASSWORD: secret
    # pg_isready once, without retrying: this exits non-zero if it ran before Postgres was ready.
    command:
      - sh
      - -c
      - pg_isready -h db -U postgres && psql -h db -U postgres -d app -v ON_ERROR_STOP=1 -c 'CREATE TABLE IF NOT EXISTS notes(body text)'
    depends_on:
      db:
        condition: service_healthy
  app:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
    depends_on:
      seed:
        condition: service_completed_successfully
volumes:
  pgdata: {}
"#;

fn psql(p: &Project, sql: &str) -> String {
    let run = p.exec(
        "db",
        &[
            "psql",
            "-U",
            "postgres",
            "-d",
            "app",
            "-tA",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ],
    );
    assert!(run.ok(), "psql {sql}: {}", run.stderr);
    run.stdout.trim().to_string()
}

#[test]
fn postgres_gated_service_starts_after_pg_isready_and_data_survives_down() {
    let p = Project::new("pg", POSTGRES);
    let report = p.up_ok(&[]);
    let phases = report_services(&report);
    assert!(
        phases.contains(&("seed".into(), "completed".into(), "created".into())),
        "{phases:?}"
    );
    assert_eq!(p.container("seed").exit_code, 0);
    let db = p.container("db");
    assert!(p.container("seed").started_at > db.started_at);

    psql(&p, "INSERT INTO notes VALUES ('kept across down')");
    let down = p.novadev(&["down"]);
    assert!(down.ok(), "down: {}", down.stderr);
    assert!(
        p.labelled("container").is_empty(),
        "down removes containers"
    );
    assert!(p.labelled("network").is_empty(), "down removes networks");
    assert_eq!(p.labelled("volume").len(), 1, "down keeps the named volume");
    assert!(p.daemon_pid().is_none(), "down stops the daemon");

    p.up_ok(&[]);
    assert_eq!(psql(&p, "SELECT body FROM notes"), "kept across down");
}

#[test]
fn cleanup_with_volumes_leaves_nothing_labelled() {
    let p = Project::new("clean", POSTGRES);
    p.up_ok(&[]);
    assert!(!p.labelled("volume").is_empty());
    let refused = p.novadev(&["cleanup", "--volumes"]);
    assert_eq!(refused.code, 2, "no terminal and no --yes: refuse");
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert!(
        !p.labelled("container").is_empty(),
        "nothing removed after a refusal"
    );

    let run = p.novadev(&["cleanup", "--yes", "--volumes"]);
    assert!(run.ok(), "cleanup: {}", run.stderr);
    assert!(p.labelled("container").is_empty());
    assert!(p.labelled("network").is_empty());
    assert!(p.labelled("volume").is_empty());
}

#[test]
fn failing_one_shot_fails_its_dependents_with_its_last_log_lines() {
    let p = Project::new(
        "oneshot",
        r#"
services:
  migrate:
    image: debian:bookworm-slim
    command: ["sh", "-c", "echo applying 0001; echo 'ERROR: relation users does not exist' >&2; exit 3"]
  app:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
    depends_on:
      migrate:
        condition: service_completed_successfully
  other:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
"#,
    );
    let run = p.novadev(&["up", "--wait-timeout", "60s"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("exited with code 3"), "{}", run.stdout);
    assert!(
        run.stdout.contains("ERROR: relation users does not exist"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("dependency `migrate`"),
        "{}",
        run.stdout
    );
    let services: Vec<_> = p.containers().into_iter().map(|c| c.service).collect();
    assert!(!services.contains(&"app".to_string()), "app must not start");
    assert!(
        p.container("other").running,
        "independent services still come up"
    );
}

#[test]
fn logs_come_through_the_daemon_and_straight_from_docker() {
    let p = Project::new(
        "logs",
        r#"
services:
  talker:
    image: debian:bookworm-slim
    init: true
    command: ["sh", "-c", "for i in 1 2 3; do echo line-$$i; done; exec sleep infinity"]
    ports: ["8080"]
"#,
    );
    p.up_ok(&[]);
    // Ready means started: the three lines follow within moments.
    let via_daemon = wait_for("three log lines", Duration::from_secs(20), || {
        let run = p.novadev(&["logs", "talker"]);
        (run.ok() && run.stdout.lines().count() == 3).then_some(run)
    });
    let lines: Vec<&str> = via_daemon.stdout.lines().collect();
    assert_eq!(
        lines,
        vec!["talker | line-1", "talker | line-2", "talker | line-3"]
    );
    let tail = p.novadev(&["logs", "--tail", "1", "talker"]);
    assert_eq!(tail.stdout.trim(), "talker | line-3");

    // Published ports bind 127.0.0.1 unless the stack says otherwise.
    let binding = &p.container("talker").raw["HostConfig"]["PortBindings"]["8080/tcp"][0];
    assert_eq!(binding["HostIp"], "127.0.0.1");

    let pid = p.daemon_pid().expect("daemon running");
    std::process::Command::new("kill")
        .arg(pid.to_string())
        .status()
        .expect("kill");
    wait_for("the daemon to stop", Duration::from_secs(10), || {
        p.daemon_pid().is_none().then_some(())
    });
    let direct = p.novadev(&["logs", "--grep", "line-2", "-t", "talker"]);
    assert!(direct.ok(), "{}", direct.stderr);
    let line = direct.stdout.trim();
    assert!(line.starts_with("talker | 20"), "timestamped: {line}");
    assert!(line.ends_with("line-2"), "{line}");
    assert_eq!(direct.stdout.lines().count(), 1);

    let status = p.novadev(&["status", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&status.stdout).expect("json");
    assert_eq!(json["services"][0]["service"], "talker");
    assert_eq!(json["services"][0]["phase"], "ready");
    assert!(
        json["daemon"].is_null(),
        "no daemon: status comes from Docker"
    );
    let _ = docker(&["ps"]);
}

#[test]
fn restart_stop_and_start_act_on_the_same_container() {
    let p = Project::new("control", TRIO);
    p.up_ok(&[]);
    let before = p.container("c");
    let run = p.novadev(&["restart", "c", "--json"]);
    assert!(run.ok(), "{}\n{}", run.stdout, run.stderr);
    let statuses: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(statuses[0]["phase"], "ready");
    assert_eq!(statuses[0]["restarts"], 1);
    let after = p.container("c");
    assert_eq!(after.id, before.id, "restart keeps the container");
    assert!(after.started_at > before.started_at, "and starts it again");

    assert!(p.novadev(&["stop", "c"]).ok());
    assert!(!p.container("c").running);
    let status = p.novadev(&["status", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&status.stdout).expect("json");
    let c = json["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["service"] == "c")
        .expect("c listed")
        .clone();
    assert_eq!(c["phase"], "stopped");
    assert!(p.novadev(&["start", "c"]).ok());
    assert!(p.container("c").running);
}

#[test]
fn stack_edits_while_running_recreate_exactly_what_changed_and_bad_edits_tear_nothing_down() {
    let p = Project::new(
        "reload",
        r#"services:
  a:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
  b:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
    environment:
      GREETING: ${GREETING:-hello}
"#,
    );
    p.up_ok(&[]);
    let a = p.container("a").id;
    let b = p.container("b").id;

    // .env changes b's configuration only.
    p.write(".env", "GREETING=bonjour\n");
    let b2 = wait_for("b recreated", Duration::from_secs(30), || {
        let c = p.containers().into_iter().find(|c| c.service == "b")?;
        (c.id != b && c.running && c.env.contains(&"GREETING=bonjour".to_string())).then_some(c.id)
    });
    assert_eq!(p.container("a").id, a, "a is kept");

    // An edit that does not load: shown, nothing torn down.
    let good = std::fs::read_to_string(p.path().join("compose.yaml")).expect("read");
    p.write("compose.yaml", "services:\n  a: [\n");
    let status = wait_for("the error shown", Duration::from_secs(30), || {
        let run = p.novadev(&["status", "--json"]);
        let json: serde_json::Value = serde_json::from_str(&run.stdout).ok()?;
        json["daemon"]["stack_error"].as_str().map(String::from)
    });
    assert!(status.contains("compose.yaml:"), "{status}");
    assert_eq!(p.container("a").id, a);
    assert_eq!(p.container("b").id, b2);

    // Fixed, plus a new service: it comes up, the others stay.
    p.write(
        "compose.yaml",
        &format!("{good}  c:\n    image: debian:bookworm-slim\n    init: true\n    command: [\"sleep\", \"infinity\"]\n"),
    );
    wait_for("c up", Duration::from_secs(30), || {
        p.containers()
            .into_iter()
            .find(|c| c.service == "c" && c.running)
            .map(|_| ())
    });
    assert_eq!(p.container("a").id, a);
    assert_eq!(p.container("b").id, b2);
    let run = p.novadev(&["status", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert!(json["daemon"]["stack_error"].is_null(), "{json}");

    // A service that leaves the stack goes.
    p.write("compose.yaml", &good);
    wait_for("c removed", Duration::from_secs(30), || {
        p.containers()
            .iter()
            .all(|c| c.service != "c")
            .then_some(())
    });
    assert_eq!(p.container("a").id, a);
}

/// A service whose healthcheck notes every run in the container; the engine's own checks are an
/// hour apart, so every run within the test is novadev's probe.
const COUNTED_PROBE: &str = r#"
services:
  db:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
    healthcheck:
      test: ["CMD", "sh", "-c", "echo probe >> /tmp/probes"]
      interval: 1h
      start_interval: 100ms
  app:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
    depends_on:
      db:
        condition: service_healthy
"#;

#[test]
fn a_kept_service_seen_ready_is_not_probed_again() {
    let p = Project::new("keptready", COUNTED_PROBE);
    p.up_ok(&[]);
    let probes = |p: &Project| {
        p.exec("db", &["sh", "-c", "wc -l < /tmp/probes"])
            .stdout
            .trim()
            .parse::<u32>()
            .unwrap_or_else(|e| panic!("probe count: {e}"))
    };
    let first = probes(&p);
    assert!(first >= 1, "the first up probed db");
    let report = p.up_ok(&[]);
    let taken: Vec<_> = report_services(&report)
        .into_iter()
        .map(|(service, phase, taken)| format!("{service} {phase} {taken}"))
        .collect();
    assert_eq!(taken, ["app ready kept", "db ready kept"]);
    assert_eq!(
        probes(&p),
        first,
        "db, kept and seen ready, was not probed again"
    );
}
