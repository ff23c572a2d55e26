//! `novadev up`: check prerequisites, hand the resolved stack to the project's daemon, and show
//! its progress until every service asked for is ready (or failed).

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::StreamExt;

use super::output::{self, BOLD, CYAN, DIM, GREEN, RED, paint, phase_style};
use super::{CmdResult, Failure, Global, load_stack, stack_ref};
use crate::engine::Engine;
use crate::protocol::{
    ApiError, ErrorKind, Event, Phase, ServiceFailure, ServiceStatus, UpOptions, UpReport,
    UpRequest,
};
use crate::stack::model::Stack;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Services to bring up (with what they depend on); default all.
    pub services: Vec<String>,
    /// Give up when not everything is ready after this long (e.g. 90s, 5m).
    #[arg(long, default_value = "5m", value_parser = parse_wait, overrides_with = "wait_timeout")]
    pub wait_timeout: Duration,
    /// Rebuild images of services with `build:` even when they exist.
    #[arg(long)]
    pub build: bool,
    /// Print the final report as JSON (no progress lines).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub k8s: super::K8sFlags,
}

fn parse_wait(s: &str) -> Result<Duration, String> {
    crate::stack::parse_duration(s)
}

pub async fn run(global: &Global, args: UpArgs) -> CmdResult {
    let loaded = load_stack(global)?;
    let stack = &loaded.stack;
    for s in &args.services {
        if !stack.services.contains_key(s) {
            let known: Vec<&str> = stack.services.keys().map(String::as_str).collect();
            return Err(Failure::bad_input(format!(
                "no service `{s}` in the stack (services: {})",
                known.join(", ")
            )));
        }
    }
    let target = args.k8s.target(&stack.name);
    match &target.kube {
        None => {
            let engine = Engine::connect().await?;
            super::prereq::check(&engine, stack, &args.services, args.json).await?;
        }
        Some(spec) => {
            // A setting that cannot be rendered is bad input, said before anything is applied
            // (the daemon renders again from the files it loads).
            let rendered = crate::k8s::render(
                stack,
                &crate::k8s::RenderOptions {
                    namespace: spec.namespace.clone(),
                },
            )
            .map_err(Failure::bad_input)?;
            if !args.json {
                for warning in &rendered.warnings {
                    anstream::eprintln!("{} {warning}", paint(super::output::YELLOW, "warning:"));
                }
            }
            let cluster = crate::k8s::Cluster::connect(&spec.connect_options())
                .await
                .map_err(Failure::runtime)?;
            if !args.json {
                anstream::println!("Kubernetes {} at {}", cluster.version(), cluster.server());
            }
        }
    }

    let client = super::daemon_for(&target).await?;
    if !args.json {
        anstream::println!(
            "\n{} project {} · {}",
            paint(BOLD, "Bringing up"),
            paint(BOLD, &stack.name),
            stack
                .files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    let request = UpRequest {
        stack: stack_ref(global, &loaded)?,
        options: UpOptions {
            services: args.services.clone(),
            wait_timeout: args.wait_timeout,
            build: args.build,
        },
    };
    let stream = client.sse("/v1/up", Some(&request)).await?;
    let mut progress = Progress::new(stack, &args.services, args.json);
    let report = follow(stream, &mut progress).await?;
    if args.json {
        super::print_json(&report)?;
    } else {
        print_summary(stack, &report);
        anstream::println!("{}", super::ui::up_line(&client, &target.key()).await);
        if report.ok && target.kube.is_none() {
            let info =
                crate::connection::connection_info(stack, &report.services, &invocation(global));
            print_connection_info(&info);
        } else if report.ok {
            print_kube_commands(stack, &invocation(global));
        }
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Read `up`'s stream to its end: progress as it comes, then the report (or the error).
async fn follow(
    stream: impl futures_util::Stream<
        Item = Result<crate::client::SseMessage, crate::client::ClientError>,
    >,
    progress: &mut Progress,
) -> Result<UpReport, Failure> {
    let mut stream = std::pin::pin!(stream);
    while let Some(message) = stream.next().await {
        let message = message?;
        match message.event.as_str() {
            "event" => progress.event(&message.data),
            "done" => {
                return serde_json::from_str(&message.data)
                    .map_err(|e| Failure::runtime(format!("unreadable report: {e}")));
            }
            "error" => {
                let err: ApiError = serde_json::from_str(&message.data).unwrap_or(ApiError {
                    error: message.data.clone(),
                    kind: ErrorKind::Runtime,
                });
                return Err(match err.kind {
                    ErrorKind::BadInput => Failure::bad_input(err.error),
                    ErrorKind::Runtime => Failure::runtime(err.error),
                });
            }
            _ => {}
        }
    }
    Err(Failure::runtime(
        "the daemon stopped before `up` finished (see its log: novadev -v up, or the daemon.log in the state dir)",
    ))
}

/// What `up` prints while it runs: a line per phase change, a line per tier that is up, the
/// daemon's messages. Nothing with `--json`.
struct Progress {
    started: Instant,
    quiet: bool,
    last_phase: HashMap<String, Phase>,
    tiers: TierProgress,
}

impl Progress {
    fn new(stack: &Stack, asked: &[String], quiet: bool) -> Progress {
        Progress {
            started: Instant::now(),
            quiet,
            last_phase: HashMap::new(),
            tiers: TierProgress::new(stack, asked),
        }
    }

    fn note(&self, text: String) {
        anstream::println!(
            "{} {text}",
            paint(
                DIM,
                format!("[{:>6.2}s]", self.started.elapsed().as_secs_f64())
            ),
        );
    }

    fn event(&mut self, data: &str) {
        if self.quiet {
            return;
        }
        match serde_json::from_str::<Event>(data) {
            Ok(Event::Service { status, .. }) => {
                if status.phase == Phase::Pending
                    || self.last_phase.get(&status.service) == Some(&status.phase)
                {
                    return;
                }
                self.last_phase.insert(status.service.clone(), status.phase);
                let elapsed = self.started.elapsed();
                print_progress(elapsed, &status);
                if let Some(line) = self.tiers.observe(&status, elapsed) {
                    anstream::println!("{line}");
                }
            }
            Ok(Event::Message { text, .. }) => self.note(paint(DIM, text)),
            // Build output goes to the service's log (`novadev logs`), and the dev loop's turns
            // to `novadev stats`, not here.
            Ok(Event::Output { .. }) | Ok(Event::Loop { .. }) => {}
            Ok(Event::Engine { health, .. }) if !health.reachable => self.note(paint(
                RED,
                format!(
                    "the Docker engine does not answer: {}",
                    health.error.unwrap_or_default()
                ),
            )),
            Ok(Event::Engine { .. }) => {}
            Err(e) => tracing::debug!(error = %e, "unreadable event"),
        }
    }
}

fn print_progress(elapsed: Duration, status: &ServiceStatus) {
    let detail = status
        .detail
        .as_deref()
        .and_then(|d| d.lines().next())
        .unwrap_or("");
    anstream::println!(
        "{} {:<24} {:<10} {}",
        paint(DIM, format!("[{:>6.2}s]", elapsed.as_secs_f64())),
        status.service,
        paint(phase_style(status.phase), status.phase),
        paint(DIM, detail)
    );
}

fn print_summary(stack: &Stack, report: &UpReport) {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (tier, members) in tier_groups(stack) {
        let mut first = true;
        for s in report
            .services
            .iter()
            .filter(|s| members.contains(&s.service))
        {
            rows.push(vec![
                if first { tier.clone() } else { String::new() },
                s.service.clone(),
                paint(phase_style(s.phase), s.phase),
                s.ports_text(),
                s.taken.map(|t| t.as_str().to_string()).unwrap_or_default(),
            ]);
            first = false;
        }
    }
    anstream::println!();
    anstream::print!(
        "{}",
        output::table(&["TIER", "SERVICE", "STATE", "PORTS", "CONTAINER"], &rows)
    );
    for s in report.services.iter().filter(|s| !s.phase.is_good()) {
        print_failure(s);
    }
    let elapsed = output::human_ms(report.elapsed_ms);
    if report.ok {
        anstream::println!("\n{} in {elapsed}", paint(GREEN, "all ready"));
    } else {
        let failed = report
            .services
            .iter()
            .filter(|s| !s.phase.is_good())
            .count();
        anstream::println!(
            "\n{} {failed} service{} not ready after {elapsed}",
            paint(RED, "✗"),
            if failed == 1 { "" } else { "s" }
        );
    }
}

/// Why a service is not up: the cause once, where it happened (a dependent says which
/// dependency failed; the dependency shows the log lines).
fn print_failure(s: &ServiceStatus) {
    let (headline, lines): (String, &[String]) = match &s.failure {
        Some(failure @ ServiceFailure::Dependency { .. }) => (failure.headline(), &[]),
        Some(failure) => (failure.headline(), failure.last_lines()),
        None => match &s.detail {
            Some(detail) => (detail.clone(), &[]),
            None => return,
        },
    };
    anstream::println!(
        "\n{} {}: {headline}",
        paint(RED, "✗"),
        paint(BOLD, format!("service `{}`", s.service))
    );
    for line in lines {
        anstream::println!("    {line}");
    }
}

/// Services grouped for display: the stack's tiers in order, then the rest as "Other" (or as
/// "Services" when the stack names no tiers).
fn tier_groups(stack: &Stack) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = stack.novadev.tiers.clone();
    let named: Vec<&String> = groups.iter().flat_map(|(_, m)| m.iter()).collect();
    let rest: Vec<String> = stack
        .services
        .keys()
        .filter(|s| !named.contains(s))
        .cloned()
        .collect();
    if !rest.is_empty() {
        let title = if groups.is_empty() {
            "Services"
        } else {
            "Other"
        };
        groups.push((title.to_string(), rest));
    }
    groups
}

/// Says once per tier when all of its services asked for are up.
struct TierProgress {
    tiers: Vec<(String, Vec<String>, bool)>,
    good: std::collections::HashSet<String>,
}

impl TierProgress {
    fn new(stack: &Stack, asked: &[String]) -> TierProgress {
        let selected: Option<std::collections::BTreeSet<String>> = if asked.is_empty() {
            None
        } else {
            crate::stack::graph::Graph::build(stack)
                .ok()
                .and_then(|g| g.closure(asked).ok())
        };
        let tiers = tier_groups(stack)
            .into_iter()
            .map(|(t, members)| {
                let members: Vec<String> = members
                    .into_iter()
                    .filter(|m| selected.as_ref().is_none_or(|sel| sel.contains(m)))
                    .collect();
                (t, members, false)
            })
            .filter(|(_, m, _)| !m.is_empty())
            .collect();
        TierProgress {
            tiers,
            good: Default::default(),
        }
    }

    fn observe(&mut self, status: &ServiceStatus, elapsed: Duration) -> Option<String> {
        if status.phase.is_good() {
            self.good.insert(status.service.clone());
        } else {
            self.good.remove(&status.service);
        }
        for (tier, members, announced) in &mut self.tiers {
            if !*announced && members.iter().all(|m| self.good.contains(m)) {
                *announced = true;
                return Some(format!(
                    "{} {} {} ready ({} service{}, {:.1}s)",
                    paint(DIM, format!("[{:>6.2}s]", elapsed.as_secs_f64())),
                    paint(GREEN, "✓"),
                    paint(BOLD, tier),
                    members.len(),
                    if members.len() == 1 { "" } else { "s" },
                    elapsed.as_secs_f64()
                ));
            }
        }
        None
    }
}

/// How the user calls novadev for this stack, for the example commands: `novadev` when that
/// name on the PATH is this very program, else this program's path (e.g. `target/release/novadev`
/// right after a build), so that the printed commands work as printed.
fn invocation(global: &Global) -> String {
    let exe = std::env::current_exe().ok();
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            let candidate = dir.join("novadev");
            candidate.is_file()
                && std::fs::canonicalize(&candidate).ok()
                    == exe.as_ref().and_then(|e| std::fs::canonicalize(e).ok())
        })
    });
    let mut cmd = match exe.filter(|_| !on_path) {
        Some(exe) => {
            let cwd = std::env::current_dir().unwrap_or_default();
            exe.strip_prefix(&cwd).map_or_else(
                |_| exe.display().to_string(),
                |rel| rel.display().to_string(),
            )
        }
        None => String::from("novadev"),
    };
    for f in &global.files {
        cmd.push_str(&format!(" -f {}", f.display()));
    }
    if let Some(p) = &global.project_name {
        cmd.push_str(&format!(" -p {p}"));
    }
    cmd
}

/// On a cluster the services are reached through it (ClusterIP Services, `kubectl
/// port-forward`), so instead of host ports: the commands for the same project there.
fn print_kube_commands(stack: &Stack, novadev: &str) {
    let example = stack
        .novadev
        .tiers
        .last()
        .and_then(|(_, members)| members.first().cloned())
        .or_else(|| stack.services.keys().next().cloned())
        .unwrap_or_default();
    anstream::println!("\n{}", paint(BOLD, "Common commands"));
    for (command, what) in [
        (
            format!("{novadev} status --k8s"),
            "live status of every service on the cluster",
        ),
        (
            format!("{novadev} logs --k8s -f {example}"),
            "follow a service's pod logs",
        ),
        (
            format!("{novadev} restart --k8s {example}"),
            "restart a service (a rollout)",
        ),
        (
            format!("{novadev} cleanup --k8s"),
            "delete what novadev created (claims stay; --volumes for them too)",
        ),
    ] {
        anstream::println!("  {command}  {}", paint(DIM, format!("# {what}")));
    }
}

/// The connection info and common commands blocks (text shared with the daemon and the TUI),
/// headings in bold, section titles in cyan, the commands' comments dimmed.
fn print_connection_info(info: &crate::connection::ConnectionInfo) {
    anstream::println!();
    for line in crate::connection::render_text(info).lines() {
        let indent = line.len() - line.trim_start().len();
        if line.is_empty() {
            anstream::println!();
        } else if indent == 0 {
            anstream::println!("{}", paint(BOLD, line));
        } else if indent == 2 && !line.trim_start().starts_with("novadev") {
            anstream::println!("  {}", paint(CYAN, line.trim_start()));
        } else if let Some((command, what)) = line.split_once("  # ") {
            anstream::println!("{command}  {}", paint(DIM, format!("# {what}")));
        } else {
            anstream::println!("{line}");
        }
    }
}
