//! `novadev status` as a person uses it: the real binary in a real terminal (tmux), against a
//! live daemon and real containers. Keys go in with `send-keys`, the screen comes back with
//! `capture-pane -p`, and what the TUI did is checked in Docker itself.
//!
//! Needs tmux: `scripts/tui-test-deps.sh` installs it.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{BIN, Project, free_port};

/// Three services in two tiers and one without: `web` prints a boot line with a unique stamp,
/// then a tick every 200 ms.
fn stack(port: u16) -> String {
    format!(
        r#"
x-novadev:
  tiers:
    storage: [store]
    apps: [web]
services:
  store:
    image: debian:bookworm-slim
    init: true
    command: ["sh", "-c", "touch /tmp/ok; echo store up; exec sleep infinity"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ok"]
      interval: 30s
      start_interval: 100ms
  web:
    image: debian:bookworm-slim
    init: true
    command: ["sh", "-c", "echo web boot $$(date +%s%N); i=0; while true; do i=$$((i+1)); echo web tick $$i; sleep 0.2; done"]
    ports: ["127.0.0.1:{port}:80"]
    depends_on:
      store:
        condition: service_healthy
  worker:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
"#
    )
}

/// A private tmux server running one window with `novadev status` in it.
struct Tmux {
    dir: tempfile::TempDir,
}

impl Tmux {
    /// Start `novadev -p PROJECT status` in an 80×24 window (the smallest the TUI is made for),
    /// inside a shell that reports, once it returns, its exit code and whether the terminal is
    /// back in cooked mode.
    fn start(p: &Project) -> Tmux {
        let dir = tempfile::Builder::new()
            .prefix("nvtmux")
            .tempdir_in("/tmp")
            .expect("tmux dir");
        let conf = dir.path().join("tmux.conf");
        std::fs::write(&conf, "set -g status off\nset -g remain-on-exit on\n").expect("conf");
        let tmux = Tmux { dir };
        let script = format!(
            "'{BIN}' -p '{}' status; echo \"EXIT=$?\"; stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\?icanon'; sleep 600",
            p.name
        );
        let out = Command::new("tmux")
            .arg("-S")
            .arg(tmux.socket())
            .arg("-f")
            .arg(&conf)
            .args(["new-session", "-d", "-s", "tui", "-x", "80", "-y", "24"])
            .arg("-c")
            .arg(p.path())
            .args(["sh", "-c", &script])
            .env("NOVADEV_STATE_DIR", p.state.path())
            .env_remove("TMUX")
            .env_remove("RUST_LOG")
            .output()
            .expect("tmux runs (scripts/tui-test-deps.sh installs it)");
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(self.socket())
            .args(args)
            .output()
            .expect("tmux")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "tui"]).stdout).into_owned()
    }

    /// Keys as tmux names them (`j`, `Enter`, `Escape`, `R`, ...).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "tui"];
        args.extend_from_slice(keys);
        let out = self.run(&args);
        assert!(out.status.success(), "send-keys {keys:?}");
    }

    /// Text typed as is.
    fn type_text(&self, text: &str) {
        let out = self.run(&["send-keys", "-t", "tui", "-l", text]);
        assert!(out.status.success(), "send-keys -l {text}");
    }

    /// The pid of the shell in the pane.
    fn shell_pid(&self) -> u32 {
        let out = self.run(&["list-panes", "-t", "tui", "-F", "#{pane_pid}"]);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("pane pid")
    }

    /// Wait until the screen satisfies `pred`; panic with the screen and the daemon's log if it
    /// does not within `timeout`.
    fn wait(
        &self,
        p: &Project,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            if start.elapsed() > timeout {
                panic!(
                    "timed out after {timeout:?} waiting for {what}; screen:\n{screen}\ndaemon log (tail):\n{}",
                    tail(&p.daemon_log(), 30)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The services panel's row for `service`, if it is on screen.
fn service_row<'a>(screen: &'a str, service: &str) -> Option<&'a str> {
    screen.lines().find(|line| {
        let mut words = line
            .split(|c: char| c.is_whitespace() || c == '│')
            .filter(|w| !w.is_empty());
        words.next() == Some(service)
    })
}

/// The dev-loop panel's row for `service`, as words (service, turns, median, ...): below the
/// panel's column header, the first word is the service.
fn loop_row(screen: &str, service: &str) -> Option<Vec<String>> {
    let lines: Vec<&str> = screen.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.contains("TURNS") && l.contains("MEDIAN"))?;
    lines[header + 1..].iter().find_map(|line| {
        let words: Vec<String> = line
            .split(|c: char| c.is_whitespace() || c == '│')
            .filter(|w| !w.is_empty())
            .map(String::from)
            .collect();
        (words.first().map(String::as_str) == Some(service)).then_some(words)
    })
}

/// Whether the services panel lists `service` under a tier heading (indented; a log line's
/// prefix is followed by `│` instead).
fn listed(screen: &str, service: &str) -> bool {
    screen.lines().any(|line| {
        line.strip_prefix(&format!("│  {service} "))
            .is_some_and(|rest| !rest.trim_start().starts_with('│'))
    })
}

fn boot_lines(screen: &str) -> Vec<String> {
    let mut stamps: Vec<String> = screen
        .lines()
        .filter_map(|l| l.split("web boot ").nth(1))
        .map(|rest| rest.split_whitespace().next().unwrap_or("").to_string())
        .filter(|s| !s.is_empty())
        .collect();
    stamps.sort();
    stamps.dedup();
    stamps
}

/// The shell around the TUI has printed the exit code and the terminal mode.
fn exited(screen: &str) -> bool {
    screen.contains("EXIT=")
        && screen
            .lines()
            .any(|l| l.trim() == "icanon" || l.trim() == "-icanon")
}

fn daemon_answers(p: &Project) -> bool {
    let run = p.novadev(&["status", "--json"]);
    run.ok()
        && serde_json::from_str::<serde_json::Value>(&run.stdout)
            .map(|v| !v["daemon"].is_null())
            .unwrap_or(false)
}

#[test]
fn status_tui_shows_services_and_logs_restarts_and_quits_leaving_the_daemon() {
    let port = free_port();
    let p = Project::new("tui", &stack(port));
    p.up_ok(&[]);

    // The plain table (what `deploy-local-k8s.sh status` prints) groups by tier, in the stack's
    // order, the untiered last, with the healthcheck's verdict.
    let plain = p.novadev(&["status", "--plain"]);
    assert!(plain.ok(), "{}\n{}", plain.stdout, plain.stderr);
    let lines: Vec<&str> = plain.stdout.lines().map(str::trim_end).collect();
    let heading = |tier: &str| {
        lines
            .iter()
            .position(|l| *l == format!("{tier} 1/1 ready"))
            .unwrap_or_else(|| panic!("no heading for {tier}:\n{}", plain.stdout))
    };
    let (storage, apps, other) = (heading("storage"), heading("apps"), heading("other"));
    assert!(storage < apps && apps < other, "{}", plain.stdout);
    let words = |i: usize| lines[i].split_whitespace().collect::<Vec<_>>();
    assert_eq!(
        words(storage + 1)[..3],
        ["store", "ready", "healthy"],
        "{}",
        plain.stdout
    );
    assert_eq!(
        words(apps + 1)[..3],
        ["web", "ready", "—"],
        "{}",
        plain.stdout
    );
    assert_eq!(words(other + 1)[0], "worker", "{}", plain.stdout);

    let tmux = Tmux::start(&p);
    let long = Duration::from_secs(30);

    // Header and every service, ready, grouped.
    let screen = tmux.wait(&p, "every service ready", long, |s| {
        s.contains(&p.name)
            && ["store", "web", "worker"]
                .iter()
                .all(|svc| service_row(s, svc).is_some_and(|row| row.contains("ready")))
    });
    assert!(screen.contains("engine "), "{screen}");
    assert!(
        screen.contains("storage") && screen.contains("apps"),
        "tiers shown:\n{screen}"
    );
    assert!(
        service_row(&screen, "store").is_some_and(|r| r.contains("healthy")),
        "{screen}"
    );
    assert!(
        service_row(&screen, "web").is_some_and(|r| r.contains(&port.to_string())),
        "{screen}"
    );

    // t folds the selected service's tier into one summary row; t again opens it.
    tmux.keys(&["t"]);
    tmux.wait(&p, "storage folded", long, |s| {
        s.contains("▸ storage") && s.contains("1/1 ready") && !listed(s, "store")
    });
    tmux.keys(&["t"]);
    tmux.wait(&p, "storage open again", long, |s| {
        s.contains("▾ storage") && listed(s, "store")
    });

    // Select web (second row: store's tier comes first) and focus the log pane on it.
    tmux.keys(&["j", "Enter"]);
    let screen = tmux.wait(&p, "web's logs", long, |s| {
        s.contains("logs · web") && s.contains("web tick")
    });
    assert!(!screen.contains("store up"), "only web's lines:\n{screen}");

    // The connection overlay shows the published port; Esc closes it.
    tmux.keys(&["c"]);
    tmux.wait(&p, "connection info", long, |s| {
        s.contains(&format!("127.0.0.1:{port} (80/tcp)")) && s.contains("Common commands")
    });
    tmux.keys(&["Escape"]);
    tmux.wait(&p, "overlay closed", long, |s| {
        !s.contains("connection · Esc")
    });

    // Filter to the boot line (its neighbours come along).
    tmux.keys(&["/"]);
    tmux.type_text("boot");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait(&p, "the filtered boot line", long, |s| {
        s.contains("/boot/") && boot_lines(s).len() == 1
    });
    let first_boot = boot_lines(&screen);

    // R restarts web: Docker sees a new start, the TUI reports it and follows the new log.
    let before = p.container("web").started_at;
    tmux.keys(&["R"]);
    common::wait_for("web to be restarted", Duration::from_secs(90), || {
        (p.container("web").started_at > before).then_some(())
    });
    tmux.wait(&p, "the restart reported", Duration::from_secs(90), |s| {
        s.contains("web restarted: ready")
    });
    let screen = tmux.wait(&p, "the new boot line", long, |s| boot_lines(s).len() == 2);
    assert!(boot_lines(&screen).contains(&first_boot[0]), "{screen}");

    // d shows the dev loop in the log pane's place: the restart is one turn of web's, with its
    // total; d again brings the logs back.
    tmux.keys(&["d"]);
    let screen = tmux.wait(&p, "the dev-loop panel with web's restart", long, |s| {
        s.contains("dev loop") && loop_row(s, "web").is_some()
    });
    let row = loop_row(&screen, "web").unwrap_or_default();
    assert_eq!(
        row.get(1).map(String::as_str),
        Some("1"),
        "one turn: {screen}"
    );
    assert!(
        row.get(2).is_some_and(|median| median.ends_with('s')),
        "a median total: {screen}"
    );
    assert!(
        !screen.contains("web tick"),
        "no log lines under it:\n{screen}"
    );
    tmux.keys(&["d"]);
    tmux.wait(&p, "the logs back", long, |s| s.contains("web tick"));

    // A resized terminal is redrawn to its new size.
    let out = tmux.run(&["resize-window", "-t", "tui", "-x", "120", "-y", "30"]);
    assert!(out.status.success(), "resize-window");
    tmux.wait(&p, "a redraw at 120 columns", long, |s| {
        let lines: Vec<&str> = s.lines().collect();
        lines.len() >= 30
            && lines
                .iter()
                .any(|l| l.chars().count() == 120 && l.starts_with("┌ logs") && l.ends_with('┐'))
    });

    // q quits, the terminal is restored, the daemon keeps running.
    tmux.keys(&["q"]);
    let screen = tmux.wait(&p, "the TUI to exit", long, exited);
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        screen.lines().any(|l| l.trim() == "icanon"),
        "terminal back in cooked mode:\n{screen}"
    );
    assert!(daemon_answers(&p), "the daemon still runs after q");
}

#[test]
fn sigterm_restores_the_terminal_and_no_daemon_is_a_clear_error() {
    let p = Project::new(
        "tuisig",
        "services:\n  one:\n    image: debian:bookworm-slim\n    init: true\n    command: [\"sleep\", \"infinity\"]\n",
    );

    // No daemon yet: a message naming the project and `novadev up`, exit 1.
    let tmux = Tmux::start(&p);
    let screen = tmux.wait(&p, "the no-daemon message", Duration::from_secs(20), |s| {
        s.contains("EXIT=")
    });
    assert!(screen.contains("EXIT=1"), "{screen}");
    assert!(
        screen.contains(&format!("no daemon runs for project {}", p.name))
            && screen.contains("novadev up"),
        "{screen}"
    );
    drop(tmux);

    p.up_ok(&[]);
    let tmux = Tmux::start(&p);
    tmux.wait(&p, "the service ready", Duration::from_secs(30), |s| {
        service_row(s, "one").is_some_and(|row| row.contains("ready"))
    });
    let shell = tmux.shell_pid();
    let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
        .expect("the shell's children");
    let novadev: u32 = children
        .split_whitespace()
        .next()
        .and_then(|pid| pid.parse().ok())
        .expect("novadev runs under the shell");
    let kill = Command::new("kill")
        .args(["-TERM", &novadev.to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let screen = tmux.wait(
        &p,
        "the TUI to exit on SIGTERM",
        Duration::from_secs(20),
        exited,
    );
    assert!(
        screen.contains("EXIT=143"),
        "128 + SIGTERM, as a shell reports it:\n{screen}"
    );
    assert!(
        screen.lines().any(|l| l.trim() == "icanon"),
        "terminal back in cooked mode:\n{screen}"
    );
    assert!(daemon_answers(&p), "the daemon still runs");
}
