//! Fault injection against the real Docker engine: a state directory that is full, read-only or
//! too deep for a socket.

mod common;

use std::process::Command;

use common::Project;

const ONE: &str = r#"
services:
  app:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
"#;

/// A small tmpfs mounted for the test's life (the tests run as root, as CI does).
struct Mount {
    dir: tempfile::TempDir,
}

impl Mount {
    fn tmpfs(options: &str) -> Mount {
        let dir = tempfile::Builder::new()
            .prefix("nvm")
            .tempdir_in("/tmp")
            .expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs failed: these tests need root (as in CI)"
        );
        Mount { dir }
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// `up` with the daemon's state in `state`: must fail with one sentence and leave no token.
fn up_fails_clearly(p: &Project, state: &std::path::Path, expect: &str) {
    let state_text = state.display().to_string();
    let run = p.novadev_env(&["up"], &[("NOVADEV_STATE_DIR", state_text.as_str())]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one sentence: {}", run.stderr);
    assert!(errors[0].contains(expect), "{}", errors[0]);
    assert!(errors[0].contains("NOVADEV_STATE_DIR"), "{}", errors[0]);
    assert!(
        !state.join(&p.name).join("ui-token").exists(),
        "no token file left behind"
    );
    assert!(p.containers().is_empty(), "nothing started");
}

#[test]
fn a_full_state_dir_is_one_clear_sentence() {
    let p = Project::new("full", ONE);
    let mount = Mount::tmpfs("size=64k");
    // Fill it up.
    let _ = std::fs::write(mount.path().join("filler"), vec![0u8; 128 * 1024]);
    up_fails_clearly(&p, mount.path(), "No space left on device");
}

#[test]
fn a_read_only_state_dir_is_one_clear_sentence() {
    let p = Project::new("ro", ONE);
    let mount = Mount::tmpfs("size=1m,ro");
    up_fails_clearly(&p, mount.path(), "Read-only file system");
}

#[test]
fn a_project_name_too_long_for_a_socket_is_one_clear_sentence() {
    let mut p = Project::new("long", ONE);
    p.name = format!("{}-{}", p.name, "x".repeat(100));
    let run = p.novadev(&["up"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("longer than a Unix socket allows"),
        "{}",
        run.stderr
    );
    assert!(p.containers().is_empty());
}

/// A stand-in for the engine's socket that a test can cut: connections to it are forwarded to the
/// real engine until `cut`, which closes every open one and refuses new ones until `restore`.
struct EngineProxy {
    dir: tempfile::TempDir,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<std::os::unix::net::UnixStream>>>,
}

impl EngineProxy {
    fn start() -> EngineProxy {
        use std::os::unix::net::{UnixListener, UnixStream};
        use std::sync::atomic::Ordering;
        let dir = tempfile::Builder::new()
            .prefix("nvp")
            .tempdir_in("/tmp")
            .expect("proxy dir");
        let listener = UnixListener::bind(dir.path().join("docker.sock")).expect("proxy socket");
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let conns: std::sync::Arc<std::sync::Mutex<Vec<UnixStream>>> = Default::default();
        let (open2, conns2) = (open.clone(), conns.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                if !open2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    continue;
                }
                let Ok(engine) = UnixStream::connect("/var/run/docker.sock") else {
                    continue;
                };
                let pairs = [
                    (client.try_clone(), engine.try_clone()),
                    (engine.try_clone(), client.try_clone()),
                ];
                if let Ok(mut held) = conns2.lock() {
                    for s in [&client, &engine] {
                        if let Ok(c) = s.try_clone() {
                            held.push(c);
                        }
                    }
                }
                for pair in pairs {
                    if let (Ok(mut from), Ok(mut to)) = pair {
                        std::thread::spawn(move || {
                            let _ = std::io::copy(&mut from, &mut to);
                            let _ = to.shutdown(std::net::Shutdown::Both);
                        });
                    }
                }
            }
        });
        EngineProxy { dir, open, conns }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("docker.sock").display())
    }

    fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut held) = self.conns.lock() {
            for c in held.drain(..) {
                let _ = c.shutdown(std::net::Shutdown::Both);
            }
        }
    }

    fn restore(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

const PAIR: &str = r#"
services:
  a:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
  b:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
"#;

fn status_json(p: &Project, env: &[(&str, &str)]) -> serde_json::Value {
    let run = p.novadev_env(&["status", "--json"], env);
    serde_json::from_str(&run.stdout).unwrap_or_default()
}

fn phase_of(json: &serde_json::Value, service: &str) -> String {
    json["services"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["service"] == service))
        .and_then(|s| s["phase"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_board_is_right_again_within_five_seconds_of_the_engine_coming_back() {
    let proxy = EngineProxy::start();
    let host = proxy.host();
    let env = [("DOCKER_HOST", host.as_str())];
    let p = Project::new("outage", PAIR);
    p.up_ok_env(&[], &env);
    let a = p.container("a");

    proxy.cut();
    // While the engine is away, a container dies.
    common::docker(&["kill", &a.id]);
    let away = common::wait_for(
        "status to say the engine is away",
        std::time::Duration::from_secs(10),
        || {
            let json = status_json(&p, &env);
            (json["daemon"]["engine"]["reachable"] == false).then_some(json)
        },
    );
    assert!(
        away["daemon"]["engine"]["unreachable_since_ms"]
            .as_u64()
            .is_some()
    );
    std::thread::sleep(std::time::Duration::from_secs(2));

    proxy.restore();
    let back = std::time::Instant::now();
    let json = common::wait_for(
        "the killed container to show",
        std::time::Duration::from_secs(5),
        || {
            let json = status_json(&p, &env);
            (phase_of(&json, "a") == "exited").then_some(json)
        },
    );
    eprintln!(
        "engine outage: the board was right {:.2}s after the engine came back",
        back.elapsed().as_secs_f64()
    );
    assert_eq!(phase_of(&json, "b"), "ready");
    assert_eq!(json["daemon"]["engine"]["reachable"], true);
    assert!(json["daemon"]["engine"]["last_outage_ms"].is_array());
}

const NOISY: &str = r#"
services:
  noisy:
    build: ./app
    x-novadev:
      host_build:
        command: ["sh", "-c", "seq 1 200000; mkdir -p out; printf '#!/bin/sh\nexec sleep infinity\n' > out/app; chmod +x out/app"]
        workdir: ./app
        artifact: out/app
        base_image: debian:bookworm-slim
  other:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
"#;

#[test]
fn a_client_that_stops_reading_up_does_not_stall_the_daemon() {
    let p = Project::new("slowreader", NOISY);
    p.write("app/Dockerfile", "FROM debian:bookworm-slim\n");
    p.up_ok_env(&[], &[("NOVADEV_WATCH", "0")]);

    // `up --build` whose progress (200,000 build lines) nobody reads.
    let request = novadev::protocol::UpRequest {
        stack: novadev::protocol::StackRef {
            files: vec![p.path().join("compose.yaml")],
            working_dir: p.path().to_path_buf(),
            project_name: Some(p.name.clone()),
            profiles: vec![],
            env: Default::default(),
        },
        options: novadev::protocol::UpOptions {
            services: vec![],
            wait_timeout: std::time::Duration::from_secs(120),
            build: true,
        },
    };
    let body = serde_json::to_string(&request).expect("json");
    let mut stalled = p.socket();
    {
        use std::io::Write;
        write!(
            stalled,
            "POST /v1/up HTTP/1.1\r\nHost: novadev\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("send up");
    }
    // The `up` goes on regardless: the build runs and the service is ready again.
    common::wait_for(
        "the second build, and noisy ready after it",
        std::time::Duration::from_secs(120),
        || {
            let s = p.status_of("noisy");
            (s["builds"].as_u64() == Some(2) && s["phase"] == "ready").then_some(())
        },
    );
    // And other operations are not held up by the reader that does not read.
    let mut restart = p
        .command(&["restart", "other"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("restart");
    let finished = common::wait_for(
        "restart to finish",
        std::time::Duration::from_secs(60),
        || restart.try_wait().ok().flatten(),
    );
    assert!(finished.success(), "restart failed");
    drop(stalled);
}

const KILLABLE: &str = r#"
services:
  gate:
    image: debian:bookworm-slim
    init: true
    command: ["sh", "-c", "sleep 0.5; touch /tmp/ready; exec sleep infinity"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 30s
      start_interval: 100ms
  init:
    image: debian:bookworm-slim
    volumes: ["data:/data"]
    command: ["sh", "-c", "test -f /data/marker || echo written-once > /data/marker; echo run >> /data/runs"]
    depends_on:
      gate:
        condition: service_healthy
  app:
    image: debian:bookworm-slim
    init: true
    volumes: ["data:/data"]
    command: ["sleep", "infinity"]
    depends_on:
      init:
        condition: service_completed_successfully
  side:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
volumes:
  data: {}
"#;

#[test]
fn a_daemon_killed_at_twenty_moments_of_a_cold_up_always_converges() {
    let p = Project::new("kill20", KILLABLE);
    let first = std::time::Instant::now();
    p.up_ok(&[]);
    let full = first.elapsed();
    let marker = || p.exec("app", &["cat", "/data/marker"]).stdout;
    assert_eq!(marker().trim(), "written-once");
    let rounds = 20;
    for round in 0..rounds {
        let down = p.novadev(&["down"]);
        assert!(down.ok(), "{}", down.stderr);
        // Spread over the whole of a cold up, from its very start to its end.
        let delay = full.mul_f64(f64::from(round) / f64::from(rounds - 1));
        let mut up = p
            .command(&["up", "--wait-timeout", "60s"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn up");
        let started = std::time::Instant::now();
        let pid = common::wait_for("the daemon", std::time::Duration::from_secs(15), || {
            p.daemon_pid()
        });
        std::thread::sleep(delay.saturating_sub(started.elapsed()));
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        let _ = up.wait();

        let report = p.up_ok(&[]);
        assert_eq!(report["ok"], true, "round {round}: {report}");
        let mut services: Vec<String> = p.containers().into_iter().map(|c| c.service).collect();
        services.sort();
        assert_eq!(
            services,
            vec!["app", "gate", "init", "side"],
            "round {round} (killed after {delay:?}): one container per service, no orphans"
        );
        for c in p.containers() {
            assert_eq!(
                c.name,
                format!("{}-{}-1", p.name, c.service),
                "round {round}"
            );
        }
        assert_eq!(marker().trim(), "written-once", "round {round}: data kept");
    }
}
