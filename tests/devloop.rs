//! The dev loop against real files, real builds and real containers: the daemon watches the
//! source tree after `up`, rebuilds what changed, and keeps serving through failed builds.

mod common;

use std::time::Duration;

use common::{Project, host_port, http_get, wait_for};

/// A "compiled" service: build.sh turns src/msg.txt into an executable Python server (the
/// artifact) that serves the message; a message containing BROKEN fails the build like a compile
/// error would.
const SERVED: &str = r#"
services:
  web:
    build: ./app
    ports: ["8000"]
    init: true
    x-novadev:
      host_build:
        command: ["sh", "./build.sh"]
        workdir: ./app
        artifact: out/server
        base_image: python:3.11-slim-bookworm
"#;

const BUILD_SH: &str = r#"set -e
if grep -q BROKEN src/msg.txt; then
  echo "   Compiling web v0.1.0"
  echo "error[E0001]: BROKEN marker in src/msg.txt" >&2
  echo " --> src/msg.txt:1:1" >&2
  exit 101
fi
mkdir -p out
msg=$(cat src/msg.txt)
cat > out/server <<PY
#!/usr/bin/env python3
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"$msg"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("0.0.0.0", 8000), H).serve_forever()
PY
chmod +x out/server
"#;

fn served_project(tag: &str) -> Project {
    let p = Project::new(tag, SERVED);
    p.write("app/build.sh", BUILD_SH);
    p.write("app/Dockerfile", "FROM python:3.11-slim-bookworm\n");
    p.write("app/.dockerignore", "out/\nnotes.log\n");
    p.write("app/src/msg.txt", "v1");
    p
}

/// Whether the current web container serves `expected` (false while it is being replaced).
fn serves(p: &Project, expected: &str) -> bool {
    let Some(c) = p
        .containers()
        .into_iter()
        .find(|c| c.service == "web" && c.running)
    else {
        return false;
    };
    host_port(&c, 8000)
        .and_then(|port| http_get(port, "/"))
        .is_some_and(|b| b == expected)
}

fn builds(p: &Project) -> u64 {
    p.status_of("web")["builds"].as_u64().unwrap_or(0)
}

#[test]
fn edited_source_is_rebuilt_and_served_by_a_new_container() {
    let p = served_project("edit");
    p.up_ok(&[]);
    wait_for("v1 served", Duration::from_secs(30), || {
        serves(&p, "v1").then_some(())
    });
    let first = p.container("web").id;

    p.write("app/src/msg.txt", "v2");
    wait_for(
        "v2 served after the rebuild",
        Duration::from_secs(180),
        || {
            let c = p.containers().into_iter().find(|c| c.service == "web")?;
            let body = host_port(&c, 8000).and_then(|port| http_get(port, "/"));
            (c.id != first && body.is_some_and(|b| b == "v2")).then_some(())
        },
    );
    let status = p.status_of("web");
    assert_eq!(status["phase"], "ready", "{status}");
    assert_eq!(status["last_build"]["ok"], true);
}

#[test]
fn ignored_file_changes_rebuild_nothing() {
    let p = served_project("ignored");
    p.up_ok(&[]);
    let before = builds(&p);
    let id = p.container("web").id;
    p.write("app/notes.log", "scratch");
    p.write("app/src/.msg.txt.swp", "editor swap");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(builds(&p), before, "an ignored change must not build");
    assert_eq!(p.container("web").id, id);
}

#[test]
fn failed_build_keeps_the_old_container_serving_and_a_fix_recovers() {
    let p = served_project("broken");
    p.up_ok(&[]);
    let id = p.container("web").id;
    p.write("app/src/msg.txt", "BROKEN");
    let status = wait_for("the failed build", Duration::from_secs(120), || {
        let s = p.status_of("web");
        (s["phase"] == "build_failed").then_some(s)
    });
    let detail = status["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("error[E0001]: BROKEN marker"), "{detail}");
    assert_eq!(status["last_build"]["ok"], false);
    assert_eq!(p.container("web").id, id, "the old container is kept");
    assert!(serves(&p, "v1"), "and keeps serving");

    p.write("app/src/msg.txt", "v3");
    wait_for("recovery", Duration::from_secs(180), || {
        let s = p.status_of("web");
        (s["phase"] == "ready" && serves(&p, "v3")).then_some(())
    });
}

#[test]
fn a_state_dir_inside_the_watched_tree_triggers_nothing() {
    let p = served_project("statedir");
    let state = p.path().join("app/.novadev");
    let state_text = state.display().to_string();
    let env = [("NOVADEV_STATE_DIR", state_text.as_str())];
    p.up_ok_env(&[], &env);
    let builds = || {
        let run = p.novadev_env(&["status", "--json"], &env);
        let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_default();
        json["services"][0]["builds"].as_u64().unwrap_or(0)
    };
    let id = p.container("web").id;
    // The daemon writes its log (and socket, keys) in there all the time.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(builds(), 1, "only the build of `up`");
    assert_eq!(p.container("web").id, id);
    let _ = p.novadev_env(&["down"], &env);
}

#[test]
fn a_burst_of_fifty_saves_builds_once() {
    let p = served_project("burst");
    p.up_ok(&[]);
    let before = builds(&p);
    for i in 0..50 {
        p.write("app/src/msg.txt", &format!("burst-{i}"));
        std::thread::sleep(Duration::from_millis(4));
    }
    wait_for(
        "the burst's build to be served",
        Duration::from_secs(180),
        || serves(&p, "burst-49").then_some(()),
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        builds(&p),
        before + 1,
        "fifty saves in ~200 ms: exactly one rebuild"
    );
}

#[test]
fn files_written_into_a_new_directory_trigger_a_rebuild() {
    let p = served_project("newdir");
    p.up_ok(&[]);
    let before = builds(&p);
    let dir = p.path().join("app/src/generated/deeper");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("extra.txt"), "written right after mkdir").expect("write");
    wait_for("a rebuild", Duration::from_secs(120), || {
        (builds(&p) > before).then_some(())
    });
}

#[test]
fn a_crashing_service_is_restarted_by_the_engine_with_growing_delays_even_without_a_daemon() {
    let p = Project::new(
        "crashloop",
        r#"
services:
  crasher:
    image: debian:bookworm-slim
    restart: always
    volumes: ["./data:/data"]
    command: ["sh", "-c", "date +%s.%N >> /data/starts; exit 3"]
"#,
    );
    std::fs::create_dir_all(p.path().join("data")).expect("data dir");
    // Started counts as ready for a service without a healthcheck (as in Compose); a container
    // that dies within milliseconds may still be seen running, so `up` may report either way.
    let run = p.novadev(&["up", "--wait-timeout", "30s"]);
    assert!(
        run.code == 0 || run.code == 1,
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    // The engine applies the policy, as with Compose: it holds with no novadev running.
    let policy = &p.container("crasher").raw["HostConfig"]["RestartPolicy"]["Name"];
    assert_eq!(policy, "always");
    let status = wait_for("the crash loop to show", Duration::from_secs(10), || {
        let s = p.status_of("crasher");
        (s["phase"] == "crash_loop" && s["restarts"].as_u64().unwrap_or(0) >= 1).then_some(s)
    });
    assert!(
        status["detail"]
            .as_str()
            .unwrap_or("")
            .starts_with("exited with code 3"),
        "{status}"
    );
    let count = |text: &str| text.lines().filter(|l| !l.trim().is_empty()).count();
    wait_for("three starts", Duration::from_secs(20), || {
        let text = std::fs::read_to_string(p.path().join("data/starts")).ok()?;
        (count(&text) >= 3).then_some(())
    });
    // No daemon: the engine keeps restarting it.
    let pid = p.daemon_pid().expect("daemon");
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    let before = count(&std::fs::read_to_string(p.path().join("data/starts")).unwrap_or_default());
    let starts = wait_for("six starts", Duration::from_secs(30), || {
        let text = std::fs::read_to_string(p.path().join("data/starts")).ok()?;
        let times: Vec<f64> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        (times.len() >= 6).then_some(times)
    });
    assert!(starts.len() > before, "restarted with no daemon running");
    let gaps: Vec<f64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    // The engine's delays double from 100 ms (plus the same start overhead each time).
    assert!(gaps[4] > gaps[0] + 0.5, "delays grow: {gaps:?}");
}

#[test]
fn rebuild_command_builds_and_replaces_on_demand() {
    let p = served_project("rebuildcmd");
    p.up_ok(&[]);
    let id = p.container("web").id;
    std::fs::write(p.path().join("app/src/msg.txt"), "v9").expect("write");
    // The watcher may pick this up too; either way the command returns once it is settled.
    let run = p.novadev(&["rebuild", "web", "--json"]);
    assert!(run.ok(), "{}\n{}", run.stdout, run.stderr);
    wait_for("v9 served", Duration::from_secs(120), || {
        serves(&p, "v9").then_some(())
    });
    assert_ne!(p.container("web").id, id);
}

#[test]
fn a_container_stopped_on_purpose_is_not_restarted() {
    let p = Project::new(
        "stopped",
        r#"
services:
  steady:
    image: debian:bookworm-slim
    init: true
    restart: always
    command: ["sleep", "infinity"]
"#,
    );
    p.up_ok(&[]);
    let id = p.container("steady").id;
    common::docker(&["stop", &id]);
    let status = wait_for("the stop to show", Duration::from_secs(10), || {
        let s = p.status_of("steady");
        (s["phase"] == "stopped").then_some(s)
    });
    assert!(
        status["detail"]
            .as_str()
            .unwrap_or("")
            .contains("stopped outside novadev")
    );
    // Well past the first backoff delay: still stopped, as Docker's own policies would leave it.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !p.container("steady").running,
        "restart: always must not undo a docker stop"
    );
}

/// The served service plus a dependent that asks to be restarted when it changes.
const WITH_DEPENDENT: &str = r#"
services:
  web:
    build: ./app
    ports: ["8000"]
    init: true
    x-novadev:
      host_build:
        command: ["sh", "./build.sh"]
        workdir: ./app
        artifact: out/server
        base_image: python:3.11-slim-bookworm
  follower:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
    depends_on:
      web:
        condition: service_started
        restart: true
"#;

#[test]
fn rebuild_restarts_restart_true_dependents_whether_or_not_a_daemon_ran() {
    let p = served_project("rebuilddep");
    p.write("compose.yaml", WITH_DEPENDENT);
    p.up_ok(&[]);
    // No daemon: the CLI used to rebuild in-process, without the dependents.
    let pid = p.daemon_pid().expect("daemon");
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    wait_for("the daemon gone", Duration::from_secs(10), || {
        (!p.daemon_dir().join("daemon.sock").exists()
            || std::os::unix::net::UnixStream::connect(p.daemon_dir().join("daemon.sock")).is_err())
        .then_some(())
    });
    let before = p.container("follower").started_at;
    p.write("app/src/msg.txt", "v5");
    let run = p.novadev(&["rebuild", "web", "--json"]);
    assert!(run.ok(), "{}\n{}", run.stdout, run.stderr);
    assert!(serves(&p, "v5"));
    let after = p.container("follower");
    assert!(after.running);
    assert!(
        after.started_at > before,
        "the dependent declared with restart: true was restarted"
    );
}

#[test]
fn rebuilds_asked_for_at_once_share_one_follow_up_build() {
    let p = served_project("rebuildqueue");
    // A build that takes a while, so that the requests below arrive during it.
    p.write("app/build.sh", &format!("sleep 2\n{BUILD_SH}"));
    p.up_ok_env(&[], &[("NOVADEV_WATCH", "0")]);
    let before = builds(&p);
    let children: Vec<_> = (0..3)
        .map(|_| {
            p.command(&["rebuild", "web", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn rebuild")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("rebuild ends");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // One build, and one follow-up for the two that arrived during it.
    assert_eq!(
        builds(&p) - before,
        2,
        "one build at a time, at most one follow-up"
    );
}

#[test]
fn each_rebuild_is_recorded_with_its_breakdown_and_the_history_survives_the_daemon() {
    let p = served_project("stats");
    p.up_ok(&[]);
    p.write("app/src/msg.txt", "v2");
    wait_for("v2 served", Duration::from_secs(120), || {
        serves(&p, "v2").then_some(())
    });
    p.write("app/src/msg.txt", "BROKEN");
    wait_for("the failed build", Duration::from_secs(60), || {
        (p.status_of("web")["phase"] == "build_failed").then_some(())
    });
    let stats = |p: &Project| -> serde_json::Value {
        let run = p.novadev(&["stats", "web", "--json"]);
        assert!(run.ok(), "{}", run.stderr);
        serde_json::from_str(&run.stdout).expect("json")
    };
    let json = wait_for("two turns recorded", Duration::from_secs(30), || {
        let json = stats(&p);
        (json["records"].as_array().map_or(0, Vec::len) >= 2).then_some(json)
    });
    let records = json["records"].as_array().expect("records");
    let ok = &records[0];
    assert_eq!(ok["kind"], "rebuild");
    assert_eq!(ok["trigger"], "file_change");
    assert_eq!(ok["outcome"], "ready");
    let part = |name: &str| ok[name].as_u64().unwrap_or_else(|| panic!("{name}: {ok}"));
    let parts = part("wait_ms")
        + part("build_ms")
        + part("package_ms")
        + part("replace_ms")
        + part("ready_ms");
    assert!(
        parts <= part("total_ms") + 5,
        "the parts add up to at most the total: {ok}"
    );
    // The watcher waits 50 ms for a burst to go quiet (novadev::watch::QUIET).
    assert!(part("wait_ms") >= 45, "the debounce is part of it: {ok}");
    let failed = &records[1];
    assert_eq!(failed["outcome"], "build_failed");
    assert!(
        failed["error"]
            .as_str()
            .unwrap_or("")
            .contains("BROKEN marker"),
        "{failed}"
    );
    assert_eq!(json["summaries"][0]["ok"], 1);

    // Kept across a daemon restart (and readable with none running).
    let pid = p.daemon_pid().expect("daemon");
    std::process::Command::new("kill")
        .arg(pid.to_string())
        .status()
        .expect("kill");
    wait_for("the daemon to stop", Duration::from_secs(10), || {
        p.daemon_pid().is_none().then_some(())
    });
    assert_eq!(stats(&p)["records"], json["records"]);
    let table = p.novadev(&["stats", "web"]);
    assert!(table.stdout.contains("build failed"), "{}", table.stdout);
}

/// The served app as a live host build: a rebuild restarts the process inside its container.
/// The served app as a live host build: `live: true` and a healthcheck a live update waits for.
fn served_live_project(tag: &str) -> Project {
    let p = served_project(tag);
    let stack = SERVED
        .replace(
            "    init: true\n",
            "    init: true\n    healthcheck:\n      test: [\"CMD\", \"python3\", \"-c\", \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/')\"]\n      interval: 1h\n      start_interval: 100ms\n",
        )
        .replace(
            "        base_image: python:3.11-slim-bookworm\n",
            "        base_image: python:3.11-slim-bookworm\n        live: true\n",
        );
    assert!(stack.contains("live: true") && stack.contains("healthcheck:"));
    p.write("compose.yaml", &stack);
    p
}

fn image_id(p: &Project) -> String {
    common::docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        &format!("{}-web", p.name),
    ])
    .trim()
    .to_string()
}

#[test]
fn a_live_build_restarts_the_process_in_its_container_and_the_next_up_catches_the_image_up() {
    let p = served_live_project("live");
    p.up_ok(&[]);
    wait_for("v1 served", Duration::from_secs(30), || {
        serves(&p, "v1").then_some(())
    });
    let container = p.container("web");
    let image = image_id(&p);
    let entrypoint = &container.raw["Config"]["Entrypoint"];
    assert_eq!(
        entrypoint[0], "/bin/sh",
        "the supervisor runs the artifact: {entrypoint}"
    );

    let before = builds(&p);
    p.write("app/src/msg.txt", "v2");
    wait_for("v2 served", Duration::from_secs(120), || {
        serves(&p, "v2").then_some(())
    });
    let status = wait_for("the turn over", Duration::from_secs(30), || {
        let s = p.status_of("web");
        (s["phase"] == "ready" && builds(&p) > before).then_some(s)
    });
    let after = p.container("web");
    assert_eq!(after.id, container.id, "the same container: {status}");
    assert_eq!(
        after.raw["RestartCount"], 0,
        "the engine did not restart it: {}",
        after.raw["RestartCount"]
    );
    assert_eq!(image_id(&p), image, "no image was packaged");
    let stats = p.novadev(&["stats", "web", "--json"]);
    let stats: serde_json::Value = serde_json::from_str(&stats.stdout).expect("stats json");
    let last = stats["records"]
        .as_array()
        .and_then(|r| r.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["outcome"], "ready", "{last}");
    assert!(last["package_ms"].is_null(), "nothing packaged: {last}");

    // A failed build leaves the running process alone.
    p.write("app/src/msg.txt", "BROKEN");
    wait_for("the failed build", Duration::from_secs(60), || {
        (p.status_of("web")["phase"] == "build_failed").then_some(())
    });
    assert!(serves(&p, "v2"));

    // The next `up` sees the inputs changed since the image: it builds and replaces as usual.
    p.write("app/src/msg.txt", "v3");
    wait_for("v3 served", Duration::from_secs(60), || {
        serves(&p, "v3").then_some(())
    });
    let down = p.novadev(&["down"]);
    assert!(down.ok(), "{}", down.stderr);
    p.up_ok(&[]);
    wait_for("v3 served after up", Duration::from_secs(30), || {
        serves(&p, "v3").then_some(())
    });
    assert_ne!(image_id(&p), image, "the image caught up");
}
