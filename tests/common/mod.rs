//! Shared harness for the integration tests: each test gets its own project name, stack
//! directory and daemon state directory, drives the real `novadev` binary against the real
//! Docker engine, and reads the truth back from Docker itself (`docker inspect`), never from
//! novadev.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_novadev");

/// A project under test. Dropping it removes everything it made (containers, networks, volumes,
/// daemon).
pub struct Project {
    pub name: String,
    pub dir: tempfile::TempDir,
    pub state: tempfile::TempDir,
    /// Stack files passed with -f (empty: the compose.yaml in `dir`).
    pub files: Vec<PathBuf>,
}

/// Run output, decoded.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == 0
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Project {
    /// A project named `nvt-<tag>-<pid>` whose `compose.yaml` is `stack`.
    pub fn new(tag: &str, stack: &str) -> Project {
        let name = format!("nvt-{tag}-{}", std::process::id());
        let dir = tempfile::tempdir().expect("tempdir");
        let state = tempfile::Builder::new()
            .prefix("nvs")
            .tempdir_in("/tmp")
            .expect("state tempdir");
        std::fs::write(dir.path().join("compose.yaml"), stack).expect("write stack");
        Project {
            name,
            dir,
            state,
            files: Vec::new(),
        }
    }

    /// A project over existing stack files (absolute paths), e.g. the Nova stack.
    pub fn with_files(tag: &str, files: &[PathBuf]) -> Project {
        let p = Project::new(tag, "services: {}\n");
        std::fs::remove_file(p.dir.path().join("compose.yaml")).expect("rm placeholder");
        let mut p = p;
        p.files = files.to_vec();
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, file: &str, text: &str) {
        let path = self.dir.path().join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.dir.path())
            .env("NOVADEV_STATE_DIR", self.state.path())
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .args(["-p", &self.name]);
        for f in &self.files {
            cmd.arg("-f").arg(f);
        }
        cmd.args(args).stdin(Stdio::null());
        cmd
    }

    /// Run `novadev -p <project> ARGS...` to completion.
    pub fn novadev(&self, args: &[&str]) -> Run {
        self.novadev_env(args, &[])
    }

    pub fn novadev_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run novadev").into()
    }

    /// `up` that must succeed; returns its JSON report.
    pub fn up_ok(&self, args: &[&str]) -> Value {
        self.up_ok_env(args, &[])
    }

    pub fn up_ok_env(&self, args: &[&str], env: &[(&str, &str)]) -> Value {
        let mut all = vec!["up", "--json", "--wait-timeout", "120s"];
        all.extend_from_slice(args);
        let run = self.novadev_env(&all, env);
        assert!(
            run.ok(),
            "novadev up failed ({}):\nstdout:\n{}\nstderr:\n{}\ndaemon log:\n{}",
            run.code,
            run.stdout,
            run.stderr,
            self.daemon_log()
        );
        serde_json::from_str(&run.stdout).expect("up --json prints a report")
    }

    pub fn daemon_dir(&self) -> PathBuf {
        self.state.path().join(&self.name)
    }

    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.daemon_dir().join("daemon.log")).unwrap_or_default()
    }

    pub fn daemon_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.daemon_dir().join("daemon.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Every container of the project, inspected.
    pub fn containers(&self) -> Vec<Container> {
        let ids = docker(&[
            "ps",
            "-aq",
            "--no-trunc",
            "--filter",
            &format!("label=dev.novadev.project={}", self.name),
        ]);
        // One inspect per container: one may be removed between the listing and the inspect
        // (a recreate in progress), and then it is simply not there any more.
        ids.split_whitespace()
            .filter_map(|id| {
                let out = Command::new("docker").args(["inspect", id]).output().ok()?;
                if !out.status.success() {
                    return None;
                }
                let json: Value = serde_json::from_slice(&out.stdout).ok()?;
                json.as_array()?.first().map(Container::from_inspect)
            })
            .collect()
    }

    pub fn container(&self, service: &str) -> Container {
        let all = self.containers();
        let mut matching: Vec<Container> =
            all.into_iter().filter(|c| c.service == service).collect();
        assert_eq!(matching.len(), 1, "exactly one container for {service}");
        matching.remove(0)
    }

    pub fn labelled(&self, kind: &str) -> Vec<String> {
        let filter = format!("label=dev.novadev.project={}", self.name);
        let out = match kind {
            "network" => docker(&["network", "ls", "-q", "--filter", &filter]),
            "volume" => docker(&["volume", "ls", "-q", "--filter", &filter]),
            "image" => docker(&["images", "-q", "--filter", &filter]),
            _ => docker(&["ps", "-aq", "--filter", &filter]),
        };
        out.split_whitespace().map(String::from).collect()
    }

    /// Run a command in a service's container.
    pub fn exec(&self, service: &str, cmd: &[&str]) -> Run {
        let c = self.container(service);
        let mut args = vec!["exec", c.id.as_str()];
        args.extend_from_slice(cmd);
        Command::new("docker")
            .args(&args)
            .output()
            .expect("docker exec")
            .into()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.novadev(&["cleanup", "--yes", "--volumes"]);
        if let Some(pid) = self.daemon_pid() {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
        // Whatever is left (a test that failed half-way) goes too.
        let filter = format!("label=dev.novadev.project={}", self.name);
        for id in docker(&["ps", "-aq", "--filter", &filter]).split_whitespace() {
            let _ = Command::new("docker").args(["rm", "-f", "-v", id]).output();
        }
    }
}

/// What `docker inspect` says about a container.
#[derive(Debug, Clone)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub service: String,
    pub running: bool,
    pub exit_code: i64,
    pub started_at: chrono::DateTime<chrono::FixedOffset>,
    pub finished_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    pub env: Vec<String>,
    pub raw: Value,
}

impl Container {
    fn from_inspect(v: &Value) -> Container {
        let state = &v["State"];
        let time = |s: &Value| chrono::DateTime::parse_from_rfc3339(s.as_str().unwrap_or("")).ok();
        let finished = time(&state["FinishedAt"]).filter(|t| t.timestamp() > 0);
        Container {
            id: v["Id"].as_str().unwrap_or_default().to_string(),
            name: v["Name"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            service: v["Config"]["Labels"]["dev.novadev.service"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            running: state["Running"].as_bool().unwrap_or(false),
            exit_code: state["ExitCode"].as_i64().unwrap_or(-1),
            started_at: time(&state["StartedAt"]).expect("StartedAt"),
            finished_at: finished,
            env: v["Config"]["Env"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
            raw: v.clone(),
        }
    }
}

/// Run the docker CLI and return stdout (panics on failure: the tests need a working engine).
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI runs");
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Poll `f` until it returns Some, or panic after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The services of an `up --json` report, as (service, phase, taken).
pub fn report_services(report: &Value) -> Vec<(String, String, String)> {
    report["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| {
            (
                s["service"].as_str().unwrap_or_default().to_string(),
                s["phase"].as_str().unwrap_or_default().to_string(),
                s["taken"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `GET path` from 127.0.0.1:port; the body on a 200, else None (connection refused, timeout,
/// other status).
pub fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.0 200")
        .then(|| body.to_string())
        .or_else(|| head.starts_with("HTTP/1.1 200").then(|| body.to_string()))
}

/// The published host port of a container's `container_port/tcp` (None until it is bound).
pub fn host_port(c: &Container, container_port: u16) -> Option<u16> {
    c.raw["NetworkSettings"]["Ports"][format!("{container_port}/tcp")][0]["HostPort"]
        .as_str()
        .and_then(|p| p.parse().ok())
}

impl Project {
    /// The daemon's view of one service (`status --json`).
    pub fn status_of(&self, service: &str) -> Value {
        let run = self.novadev(&["status", "--json"]);
        let json: Value = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
        json["services"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["service"] == service).cloned())
            .unwrap_or(Value::Null)
    }
}

/// One HTTP/1.1 request by hand over any stream (TCP or the daemon's Unix socket), for tests
/// that must send exactly what an attacker or a browser would. Returns the status and as much of
/// the body as arrives within the read timeout (an SSE answer never ends, so only its start).
pub fn raw_request<S: std::io::Read + std::io::Write>(
    stream: &mut S,
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .expect("send the request");
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
        }
        if response.len() > 1 << 20 {
            break;
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

impl Project {
    /// The daemon's Unix socket, connected, with a read timeout.
    pub fn socket(&self) -> std::os::unix::net::UnixStream {
        let s = std::os::unix::net::UnixStream::connect(self.daemon_dir().join("daemon.sock"))
            .expect("connect to the daemon's socket");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        s
    }

    /// The web UI's port and token, from what `novadev ui` prints.
    pub fn web_ui(&self) -> (u16, String) {
        let run = self.novadev(&["ui"]);
        assert!(run.ok(), "novadev ui: {}\n{}", run.stdout, run.stderr);
        let url = run.stdout.trim();
        let rest = url
            .strip_prefix("http://127.0.0.1:")
            .unwrap_or_else(|| panic!("unexpected UI address {url}"));
        let (port, token) = rest
            .split_once("/#token=")
            .unwrap_or_else(|| panic!("no token fragment in {url}"));
        (port.parse().expect("port"), token.to_string())
    }
}

/// A TCP connection to 127.0.0.1:port with a read timeout.
pub fn tcp(port: u16) -> std::net::TcpStream {
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    s
}
