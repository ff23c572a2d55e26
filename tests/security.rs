//! The daemon as an attacker would try it, against a live daemon and the real Docker engine:
//! nothing reachable over a socket may make it run a command, act on the stack from another
//! page, or stop answering its owner.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use common::{Project, raw_request, tcp, wait_for};

const ONE: &str = r#"
services:
  app:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
"#;

/// A stack whose host build runs `proof`'s command: what an attacker would send as `up`'s body
/// before the daemon loaded stacks itself.
fn hostile_up_body(p: &Project, proof: &std::path::Path) -> String {
    let evil = format!(
        r#"
services:
  app:
    image: debian:bookworm-slim
    build: .
    x-novadev:
      host_build:
        command: ["sh", "-c", "id > {}"]
        workdir: .
        artifact: out/app
"#,
        proof.display()
    );
    p.write("evil/compose.yaml", &evil);
    p.write("evil/Dockerfile", "FROM debian:bookworm-slim\n");
    let loaded = novadev::stack::load(&novadev::stack::LoadOptions {
        files: vec![p.path().join("evil/compose.yaml")],
        working_dir: p.path().to_path_buf(),
        project_name: Some(p.name.clone()),
        profiles: Vec::new(),
        env: BTreeMap::new(),
    })
    .expect("the hostile stack itself is valid");
    serde_json::json!({
        "stack": loaded.stack,
        "options": {"services": [], "wait_timeout": {"secs": 30, "nanos": 0}, "build": true},
    })
    .to_string()
}

#[test]
fn no_request_can_hand_the_daemon_a_stack_or_a_command_to_run() {
    let p = Project::new("sec-up", ONE);
    p.up_ok(&[]);
    let (port, token) = p.web_ui();
    let proof = p.path().join("proof");
    let body = hostile_up_body(&p, &proof);
    let json = [("Content-Type", "application/json")];

    let (status, answer) = raw_request(&mut p.socket(), "POST", "/v1/up", "novadev", &json, &body);
    assert!(
        (400..500).contains(&status),
        "the socket refuses a request carrying a stack: {status} {answer}"
    );
    let bearer = format!("Bearer {token}");
    let host = format!("127.0.0.1:{port}");
    let web_headers = [
        ("Content-Type", "application/json"),
        ("Authorization", bearer.as_str()),
    ];
    let (status, _) = raw_request(&mut tcp(port), "POST", "/v1/up", &host, &web_headers, &body);
    assert!(
        status == 404 || status == 405,
        "the web listener has no `up`: {status}"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !proof.exists(),
        "a command from a request ran on the host: {}",
        std::fs::read_to_string(&proof).unwrap_or_default()
    );
    assert!(p.container("app").running);
}

#[test]
fn the_web_listener_serves_only_what_the_page_uses_and_only_to_its_own_origin() {
    let p = Project::new("sec-web", ONE);
    p.up_ok(&[]);
    let (port, token) = p.web_ui();
    let host = format!("127.0.0.1:{port}");
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];
    let auth_json = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/json"),
    ];

    let (status, body) = raw_request(&mut tcp(port), "GET", "/v1/status", &host, &auth, "");
    assert_eq!(status, 200, "{body}");
    for path in ["/v1/down", "/v1/shutdown"] {
        let (status, _) = raw_request(&mut tcp(port), "POST", path, &host, &auth_json, "{}");
        assert!(status == 404 || status == 405, "{path} on TCP: {status}");
    }
    let (status, _) = raw_request(
        &mut tcp(port),
        "POST",
        "/v1/services/nosuch/restart",
        &host,
        &auth_json,
        "{}",
    );
    assert_eq!(status, 404, "only services of the loaded stack");

    // A form post from another page on 127.0.0.1 (no JSON, foreign origin), with or without the
    // token: refused, and nothing restarted.
    let started = p.container("app").started_at;
    let form = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let (status, _) = raw_request(
        &mut tcp(port),
        "POST",
        "/v1/services/app/restart",
        &host,
        &form,
        "a=1",
    );
    assert_eq!(status, 415, "a form-encoded write");
    let foreign = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/json"),
        ("Origin", "http://127.0.0.1:9999"),
        ("Sec-Fetch-Site", "same-site"),
    ];
    let (status, _) = raw_request(
        &mut tcp(port),
        "POST",
        "/v1/services/app/restart",
        &host,
        &foreign,
        "{}",
    );
    assert_eq!(status, 403, "a write another origin started");
    let (status, _) = raw_request(
        &mut tcp(port),
        "POST",
        "/v1/services/app/restart",
        &host,
        &[("Content-Type", "application/json")],
        "{}",
    );
    assert_eq!(status, 401, "no token");
    // A cookie named after the port, as browsers would send to every 127.0.0.1 server: useless.
    let cookie = format!("novadev_ui_{port}={token}");
    let (status, _) = raw_request(
        &mut tcp(port),
        "GET",
        "/v1/status",
        &host,
        &[("Cookie", cookie.as_str())],
        "",
    );
    assert_eq!(status, 401, "the token in a cookie is not accepted");
    assert_eq!(p.container("app").started_at, started, "nothing restarted");

    // Over the socket, a body-less POST (what a careless script or a forged request sends) does
    // not take the stack down either.
    let (status, _) = raw_request(&mut p.socket(), "POST", "/v1/down", "novadev", &[], "");
    assert_eq!(status, 415);
    assert!(p.container("app").running, "the stack is still up");

    // The page's own request: its origin, JSON, the token.
    let own_origin = format!("http://127.0.0.1:{port}");
    let own = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/json"),
        ("Origin", own_origin.as_str()),
        ("Sec-Fetch-Site", "same-origin"),
    ];
    let mut stream = tcp(port);
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let (status, body) = raw_request(
        &mut stream,
        "POST",
        "/v1/services/app/restart",
        &host,
        &own,
        "{}",
    );
    assert_eq!(status, 200, "{body}");
    assert!(p.container("app").started_at > started, "restarted");
}

/// Open `n` connections that send half a request line and then nothing.
fn half_open<S: Write>(n: usize, mut connect: impl FnMut() -> Option<S>) -> Vec<S> {
    let mut held = Vec::new();
    for _ in 0..n {
        let Some(mut s) = connect() else { continue };
        let _ = s.write_all(b"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
        held.push(s);
    }
    held
}

#[test]
fn a_slowloris_on_either_listener_does_not_silence_the_daemon() {
    let p = Project::new("sec-slow", ONE);
    // A low open-file limit for the daemon (it inherits `up`'s): 300 idle connections would
    // take every descriptor it has.
    let up = p.command(&["up", "--json", "--wait-timeout", "120s"]);
    let program = up.get_program().to_owned();
    let args: Vec<_> = up.get_args().map(|a| a.to_owned()).collect();
    let mut limited = std::process::Command::new("prlimit");
    limited.arg("--nofile=256:256").arg(program).args(args);
    for (k, v) in up.get_envs() {
        match v {
            Some(v) => limited.env(k, v),
            None => limited.env_remove(k),
        };
    }
    limited
        .current_dir(p.path())
        .stdin(std::process::Stdio::null());
    let run: common::Run = limited.output().expect("prlimit novadev up").into();
    assert!(
        run.ok(),
        "{}\n{}\n{}",
        run.stdout,
        run.stderr,
        p.daemon_log()
    );
    let (port, _) = p.web_ui();

    let flood = half_open(300, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let began = Instant::now();
    let status = p.novadev(&["status", "--json"]);
    assert!(
        status.ok() && status.stdout.contains("\"app\""),
        "status answers during a flood of the web port ({:?}): {}\n{}",
        began.elapsed(),
        status.stdout,
        status.stderr
    );
    // Each held connection is dropped by the server within the header timeout.
    let mut first = flood.into_iter().next().expect("a connection was made");
    first
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let mut buf = [0u8; 256];
    let read = std::io::Read::read(&mut first, &mut buf);
    assert!(
        read.is_ok(),
        "the half-open connection was closed by the server, not left hanging: {read:?}"
    );

    // The owner's own socket flooded: bounded too, and it recovers once the flood times out.
    let socket = p.daemon_dir().join("daemon.sock");
    let flood = half_open(300, || {
        std::os::unix::net::UnixStream::connect(&socket).ok()
    });
    wait_for("status to answer again", Duration::from_secs(30), || {
        let run = p.novadev(&["status", "--json"]);
        run.ok().then_some(())
    });
    drop(flood);
    let ui = p.novadev(&["status", "--json"]);
    assert!(ui.ok());
}
