//! The web UI in headless Chromium (Debian's `chromium` + `chromium-driver`, installed by
//! `scripts/browser-deps.sh`) against a live daemon and a real stack: what a person sees and
//! clicks, checked against Docker itself. chromedriver is started here on a free port and killed
//! when the test ends; every wait is bounded. The page's screenshot is kept in
//! `target/test-artifacts/web-ui.png`.

mod common;

use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Project, free_port, wait_for};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// Four services that print a line every 300 ms, in two tiers; the worker also writes to stderr,
/// the api publishes a port (on an ephemeral host port), and site is built on the host (a shell
/// script as its artifact), so that it can be rebuilt.
const STACK: &str = r#"
x-novadev:
  tiers:
    infra: [cache]
    app: [api, worker, site]
services:
  cache:
    image: debian:bookworm-slim
    init: true
    command: ["sh", "-c", "i=0; while :; do i=$$((i+1)); echo \"cache tick $$i\"; sleep 0.3; done"]
  api:
    image: debian:bookworm-slim
    init: true
    command: ["sh", "-c", "i=0; while :; do i=$$((i+1)); echo \"api tick $$i\"; sleep 0.3; done"]
    ports: ["127.0.0.1::8080"]
    depends_on: [cache]
  worker:
    image: debian:bookworm-slim
    init: true
    command: ["sh", "-c", "i=0; while :; do i=$$((i+1)); echo \"worker tick $$i\"; echo \"worker warn $$i\" >&2; sleep 0.3; done"]
    depends_on: [cache]
  site:
    build: ./site
    init: true
    x-novadev:
      host_build:
        command: ["sh", "./build.sh"]
        workdir: ./site
        artifact: out/site
        base_image: debian:bookworm-slim
"#;

/// site's "compiler": writes the artifact, a script that ticks like the others.
const SITE_BUILD: &str = r#"set -e
mkdir -p out
cat > out/site <<'SH'
#!/bin/sh
i=0
while :; do i=$((i+1)); echo "site tick $i"; sleep 0.3; done
SH
chmod +x out/site
"#;

const SERVICES: [&str; 4] = ["cache", "api", "worker", "site"];

/// The whole browser session may take this long, whatever happens inside.
const SESSION_LIMIT: Duration = Duration::from_secs(240);
/// One wait for the page to show something.
const SHOW: Duration = Duration::from_secs(20);

fn artifacts_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target>/tmp`; artifacts go beside it.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().unwrap_or(tmp).join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("create the test-artifacts dir");
    dir
}

/// chromedriver on a free port, in its own process group so that the browsers it starts go with
/// it when the test ends, however it ends.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start(log: &Path) -> Driver {
        let have = Command::new("chromedriver")
            .arg("--version")
            .stdin(Stdio::null())
            .output();
        assert!(
            have.is_ok_and(|o| o.status.success()),
            "chromedriver is not installed: run scripts/browser-deps.sh"
        );
        let port = free_port();
        let log = std::fs::File::create(log).expect("chromedriver log file");
        let log2 = log.try_clone().expect("chromedriver log file");
        let mut cmd = Command::new("chromedriver");
        cmd.arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let child = cmd.spawn().expect("start chromedriver");
        let driver = Driver { child, port };
        wait_for("chromedriver to listen", Duration::from_secs(15), || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        });
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group is chromedriver's own (process_group(0) above): it and the browsers it ran.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status code of a GET on the web UI's listener, by hand (no cookies, no redirects).
fn status_of(port: u16, path: &str, headers: &[(&str, &str)]) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the web UI");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    // Only the status line is read: an SSE answer never ends.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n") && head.len() < 200 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status line from {path}: {line:?}"))
}

/// Poll `check` every 100 ms until it gives Some, or panic after `limit`.
async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the services table shows, row by row: (service, phase, started_ms, state text).
async fn table(client: &Client) -> Vec<(String, String, String, String)> {
    let rows = client
        .execute(
            "return [...document.querySelectorAll('#services tr[data-service]')].map(r => \
             [r.dataset.service, r.dataset.phase || '', r.dataset.startedMs || '', \
              r.querySelector('.state').textContent]);",
            vec![],
        )
        .await
        .expect("read the table");
    serde_json::from_value(rows).unwrap_or_default()
}

/// The log view's lines: (service, text, has a highlight).
async fn log_lines(client: &Client) -> Vec<(String, String, bool)> {
    let lines = client
        .execute(
            "return [...document.querySelectorAll('#log-lines .line')].map(l => \
             [l.querySelector('.svc').textContent, l.querySelector('.text').textContent, \
              l.querySelector('mark') !== null]);",
            vec![],
        )
        .await
        .expect("read the log view");
    serde_json::from_value(lines).unwrap_or_default()
}

/// The bars of `service`'s dev-loop chart: (total ms, outcome, tooltip).
async fn loop_bars(client: &Client, service: &str) -> Vec<(u64, String, String)> {
    let bars = client
        .execute(
            "return [...document.querySelectorAll(`figure.loop[data-service='${arguments[0]}'] rect`)] \
             .map(r => [Number(r.dataset.totalMs), r.dataset.outcome, r.textContent]);",
            vec![json!(service)],
        )
        .await
        .expect("read the dev-loop chart");
    serde_json::from_value(bars).unwrap_or_default()
}

async fn text_of(client: &Client, css: &str) -> String {
    match client.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn click(client: &Client, css: &str) {
    client
        .wait()
        .at_most(SHOW)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_ui_shows_services_logs_and_restarts_behind_its_token() {
    let began = Instant::now();
    let artifacts = artifacts_dir();
    let p = Project::new("webui", STACK);
    p.write("site/build.sh", SITE_BUILD);
    p.write("site/Dockerfile", "FROM debian:bookworm-slim\n");
    p.write("site/.dockerignore", "out/\n");
    let ui_port = free_port();
    let ui_port_text = ui_port.to_string();
    p.up_ok_env(&[], &[("NOVADEV_UI_PORT", ui_port_text.as_str())]);

    // The CLI prints the address; `up` prints the same one after its summary.
    let ui = p.novadev(&["ui"]);
    assert!(ui.ok(), "novadev ui failed: {}\n{}", ui.stdout, ui.stderr);
    let url = ui.stdout.trim().to_string();
    let prefix = format!("http://127.0.0.1:{ui_port}/#token=");
    assert!(
        url.starts_with(&prefix),
        "pinned port, token in the fragment: {url}"
    );
    let token = url[prefix.len()..].to_string();
    assert!(
        token.len() >= 32 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "{token}"
    );
    let again = p.novadev(&["up"]);
    assert!(again.ok(), "{}\n{}", again.stdout, again.stderr);
    assert!(
        again
            .stdout
            .lines()
            .any(|l| l.trim() == format!("web UI {url}")),
        "up prints the URL line:\n{}",
        again.stdout
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(p.daemon_dir().join("ui-token")).expect("token file");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "owner-only");
    }

    // The page holds no data and loads without the token; the API, the streams included, needs
    // the token as a bearer header, and nowhere else (not in the query, not in a cookie).
    for path in ["/", "/app.js", "/style.css"] {
        assert_eq!(status_of(ui_port, path, &[]), 200, "{path} without token");
    }
    for path in ["/v1/status", "/v1/events", "/v1/logs"] {
        assert_eq!(status_of(ui_port, path, &[]), 401, "{path} without token");
    }
    assert_eq!(status_of(ui_port, "/v1/status?token=0000", &[]), 401);
    assert_eq!(
        status_of(ui_port, &format!("/v1/status?token={token}"), &[]),
        401,
        "a token in the query is not accepted"
    );
    let cookie = format!("novadev_ui_{ui_port}={token}");
    assert_eq!(
        status_of(ui_port, "/v1/events", &[("Cookie", cookie.as_str())]),
        401,
        "a token in a cookie is not accepted"
    );
    let bearer = format!("Bearer {token}");
    assert_eq!(
        status_of(ui_port, "/v1/status", &[("Authorization", bearer.as_str())]),
        200
    );
    assert_eq!(
        status_of(ui_port, "/v1/events", &[("Authorization", bearer.as_str())]),
        200
    );

    let driver = Driver::start(&artifacts.join("chromedriver.log"));
    let session = tokio::time::timeout(SESSION_LIMIT, browse(&p, &driver, &url, &artifacts)).await;
    drop(driver);
    assert!(
        session.is_ok(),
        "the browser session took longer than {SESSION_LIMIT:?}"
    );
    eprintln!(
        "web UI test took {:.1}s (screenshot: {})",
        began.elapsed().as_secs_f64(),
        artifacts.join("web-ui.png").display()
    );
}

async fn browse(p: &Project, driver: &Driver, url: &str, artifacts: &Path) {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_string(),
        json!({
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1440,900",
                "--force-prefers-reduced-motion",
            ]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url())
        .await
        .expect("a WebDriver session with headless chromium");

    client.goto(url).await.expect("open the web UI");
    // The token went into the tab's sessionStorage, out of the address bar, and into no cookie.
    let here = client.current_url().await.expect("current url");
    assert_eq!(here.path(), "/");
    assert!(
        here.query().is_none() && here.fragment().is_none(),
        "token left in the URL: {here}"
    );
    let kept = client
        .execute(
            "return [document.cookie, sessionStorage.getItem('novadev-token') || ''];",
            vec![],
        )
        .await
        .expect("read the page's storage");
    assert_eq!(kept[0], "", "no cookie");
    assert!(
        url.ends_with(kept[1].as_str().unwrap_or("-")),
        "the token is in sessionStorage"
    );

    // Every service is listed, in its tier, ready.
    let rows = eventually("every service ready in the table", SHOW, || async {
        let rows = table(&client).await;
        let ready = SERVICES.iter().all(|s| {
            rows.iter()
                .any(|(name, phase, _, text)| name == s && phase == "ready" && text == "ready")
        });
        ready.then_some(rows)
    })
    .await;
    assert_eq!(rows.len(), SERVICES.len(), "{rows:?}");
    let tiers = client
        .execute(
            "return [...document.querySelectorAll('#services tbody')].map(b => \
             [b.dataset.tier, [...b.querySelectorAll('tr[data-service]')].map(r => r.dataset.service)]);",
            vec![],
        )
        .await
        .expect("read tiers");
    assert_eq!(
        tiers,
        json!([["infra", ["cache"]], ["app", ["api", "site", "worker"]]]),
        "grouped by tier, in the stack's order"
    );
    assert!(text_of(&client, "#project").await.starts_with("nvt-webui-"));
    let ports = text_of(&client, "tr[data-service='api'] td.ports").await;
    assert!(
        ports.starts_with("127.0.0.1:") && ports.ends_with("→8080"),
        "api's published port: {ports:?}"
    );

    // No rebuild or restart yet: the dev loop says so, and how turns come.
    let empty = client
        .execute(
            "const e = document.getElementById('devloop-empty'); \
             return [e.hidden, e.textContent, document.querySelectorAll('#devloop-charts figure').length];",
            vec![],
        )
        .await
        .expect("read the dev loop");
    assert_eq!(empty[0], false, "the empty state shows: {empty}");
    assert!(
        empty[1]
            .as_str()
            .is_some_and(|t| t.starts_with("No rebuild or restart recorded yet")),
        "{empty}"
    );
    assert_eq!(empty[2], 0, "no chart yet: {empty}");

    // Clicking a service shows its log, and only its log.
    click(&client, "tr[data-service='worker'] button.service-name").await;
    let lines = eventually("worker's log lines", SHOW, || async {
        let lines = log_lines(&client).await;
        lines
            .iter()
            .any(|(_, text, _)| text.starts_with("worker tick"))
            .then_some(lines)
    })
    .await;
    assert!(
        lines.iter().all(|(svc, _, _)| svc == "worker"),
        "only worker's lines: {lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|(_, text, _)| text.starts_with("worker warn"))
    );
    assert_eq!(text_of(&client, "#logs-of").await, "worker");

    // Search filters and highlights.
    let search = client
        .find(Locator::Css("#search"))
        .await
        .expect("search box");
    search
        .send_keys("/warn \\d+/")
        .await
        .expect("type a search");
    eventually("only matching, highlighted lines", SHOW, || async {
        let lines = log_lines(&client).await;
        (!lines.is_empty()
            && lines
                .iter()
                .all(|(_, text, marked)| text.starts_with("worker warn") && *marked))
        .then_some(())
    })
    .await;
    search.clear().await.expect("clear the search");

    // Restart: Docker starts the container again, and the page shows it ready again.
    let before = p.container("worker");
    let started_before = table(&client)
        .await
        .into_iter()
        .find(|(name, ..)| name == "worker")
        .map(|(_, _, started, _)| started)
        .expect("worker row");
    click(&client, "tr[data-service='worker'] button.restart").await;
    let after = eventually(
        "docker to report worker started again",
        Duration::from_secs(60),
        || async {
            let now = p.container("worker");
            (now.started_at > before.started_at).then_some(now)
        },
    )
    .await;
    assert_eq!(after.id, before.id, "restart keeps the container");
    assert!(after.running);
    eventually("the page to show worker ready again", SHOW, || async {
        table(&client)
            .await
            .into_iter()
            .find_map(|(name, phase, started, _)| {
                (name == "worker" && phase == "ready" && started != started_before).then_some(())
            })
    })
    .await;
    eventually("the restart notice", SHOW, || async {
        let notice = text_of(&client, "#notice-text").await;
        (notice == "restart worker: ready").then_some(())
    })
    .await;
    eventually("the restart button back", SHOW, || async {
        let button = client
            .find(Locator::Css("tr[data-service='worker'] button.restart"))
            .await
            .ok()?;
        button.is_enabled().await.ok()?.then_some(())
    })
    .await;
    // The log view follows the restarted container.
    eventually("worker's log after the restart", SHOW, || async {
        let lines = log_lines(&client).await;
        (lines.len() > 2 && lines.iter().all(|(svc, ..)| svc == "worker")).then_some(())
    })
    .await;

    // The restart is a turn of worker's dev loop: its chart appears, live, with one bar.
    let worker = eventually("worker's dev-loop chart", SHOW, || async {
        let bars = loop_bars(&client, "worker").await;
        (bars.len() == 1).then_some(bars)
    })
    .await;
    assert_eq!(worker[0].1, "ready", "{worker:?}");
    assert!(
        worker[0].2.contains("restart (request)"),
        "the bar says its turn: {worker:?}"
    );
    assert!(
        text_of(&client, "#devloop-empty").await.is_empty(),
        "empty state gone"
    );

    // Rebuild answers with whatever the daemon says (an error for a service without `build:`);
    // the page shows it rather than swallowing it.
    click(&client, "tr[data-service='api'] button.rebuild").await;
    eventually("the rebuild outcome", Duration::from_secs(60), || async {
        let notice = text_of(&client, "#notice-text").await;
        notice.starts_with("rebuild api: ").then_some(())
    })
    .await;

    // site is built on the host: its rebuild is a turn with a build, drawn as the daemon
    // recorded it (the bar's total is the record's), and its median is shown.
    click(&client, "tr[data-service='site'] button.rebuild").await;
    eventually("site rebuilt", Duration::from_secs(120), || async {
        let notice = text_of(&client, "#notice-text").await;
        (notice == "rebuild site: ready").then_some(())
    })
    .await;
    let site = eventually("site's dev-loop chart", SHOW, || async {
        let bars = loop_bars(&client, "site").await;
        (bars.len() == 1).then_some(bars)
    })
    .await;
    let stats = p.novadev(&["stats", "site", "--json"]);
    assert!(stats.ok(), "{}\n{}", stats.stdout, stats.stderr);
    let stats: serde_json::Value = serde_json::from_str(&stats.stdout).expect("stats JSON");
    let record = &stats["records"][0];
    assert_eq!(record["kind"], "rebuild", "{stats}");
    assert_eq!(
        Some(site[0].0),
        record["total_ms"].as_u64(),
        "the bar is the daemon's record: {site:?} {stats}"
    );
    assert!(
        site[0].2.contains("rebuild (request)") && site[0].2.contains(" build "),
        "the bar's tooltip has the breakdown: {site:?}"
    );
    let figure = text_of(&client, "figure.loop[data-service='site']").await;
    assert!(
        figure.contains("1 turn") && figure.contains("build ") && !figure.contains("build —"),
        "the median parts, the build among them: {figure:?}"
    );

    // Another restart of worker adds a bar after the first, as the daemon publishes it.
    click(&client, "tr[data-service='worker'] button.restart").await;
    let worker_again = eventually("worker's second bar", Duration::from_secs(60), || async {
        let bars = loop_bars(&client, "worker").await;
        (bars.len() == 2).then_some(bars)
    })
    .await;
    assert_eq!(
        worker_again[0], worker[0],
        "the first turn stays first: {worker_again:?}"
    );

    // All services, searched: the view the screenshot keeps.
    click(&client, "#show-all").await;
    eventually("every service's lines", SHOW, || async {
        let lines = log_lines(&client).await;
        SERVICES
            .iter()
            .all(|s| lines.iter().any(|(svc, ..)| svc == s))
            .then_some(())
    })
    .await;
    search.send_keys("tick 1").await.expect("type a search");
    eventually("highlighted matches", SHOW, || async {
        let lines = log_lines(&client).await;
        (!lines.is_empty() && lines.iter().all(|(_, _, marked)| *marked)).then_some(())
    })
    .await;
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::write(artifacts.join("web-ui.png"), png).expect("write the screenshot");

    // Only the rebuild notice may be an error here.
    let notice = client
        .execute(
            "const n = document.getElementById('notice'); \
             return [n.hidden, n.dataset.kind || '', n.textContent.trim()];",
            vec![],
        )
        .await
        .expect("read the notice");
    if notice[1] == "error" {
        let text = notice[2].as_str().unwrap_or_default();
        assert!(
            text.starts_with("rebuild api: "),
            "unexpected error: {text}"
        );
    }
    let _ = client.close().await;
}
