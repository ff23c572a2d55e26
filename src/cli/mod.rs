//! Command-line interface: argument parsing, finding the stack, and one module per command.
//! Exit codes: 0 success, 1 runtime failure (Docker, a service that failed), 2 bad input.

mod config;
mod control;
mod exec;
mod inspect;
mod k8s;
mod logs;
pub mod output;
mod prereq;
mod session;
mod stats;
mod status;
mod teardown;
mod ui;
mod up;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::client::Client;
use crate::protocol::{ErrorKind, StackRef, Verb};
use crate::stack::{self, LoadOptions, Loaded, StackError};
use crate::target::{DaemonTarget, KubeSpec};
use output::{RED, YELLOW, paint};

#[derive(Debug, Parser)]
#[command(
    name = "novadev",
    version,
    about = "Bring the Nova platform (or any Compose stack) up on local Docker, in dependency order, gated on readiness",
    after_help = "Stack lookup: -f FILE..., else compose.yaml / docker-compose.yml here, else stacks/nova."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// More diagnostics on stderr (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short = 'v', long = "verbose", global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Default, Args)]
pub struct Global {
    /// Stack file(s), merged in order (repeatable).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Project name (default: `name:` in the stack, else its directory).
    #[arg(short = 'p', long = "project-name", value_name = "NAME")]
    pub project_name: Option<String>,
    /// Activate a profile (repeatable).
    #[arg(long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,
}

/// The stack options as `logs` takes them: there `-f` means follow, as in Compose, so the file
/// is `--file` only.
#[derive(Debug, Clone, Default, Args)]
pub struct LogsStackArgs {
    /// Stack file(s), merged in order (repeatable).
    #[arg(long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Project name (default: `name:` in the stack, else its directory).
    #[arg(short = 'p', long = "project-name", value_name = "NAME")]
    pub project_name: Option<String>,
    /// Activate a profile (repeatable).
    #[arg(long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,
}

impl Global {
    /// Options given after the subcommand add to those given before it.
    fn merged(
        &self,
        files: &[PathBuf],
        project_name: &Option<String>,
        profiles: &[String],
    ) -> Global {
        let mut g = self.clone();
        g.files.extend(files.iter().cloned());
        if project_name.is_some() {
            g.project_name = project_name.clone();
        }
        g.profiles.extend(profiles.iter().cloned());
        g
    }

    fn with(&self, sub: &Global) -> Global {
        self.merged(&sub.files, &sub.project_name, &sub.profiles)
    }

    fn with_logs(&self, sub: &LogsStackArgs) -> Global {
        self.merged(&sub.files, &sub.project_name, &sub.profiles)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start (or reuse) the daemon, bring the stack up and wait until it is ready.
    Up {
        #[command(flatten)]
        stack: Global,
        #[command(flatten)]
        args: up::UpArgs,
    },
    /// Stop the daemon and remove the containers and networks; volumes stay.
    Down {
        #[command(flatten)]
        stack: Global,
        #[command(flatten)]
        args: teardown::DownArgs,
    },
    /// Services, their state and ports.
    Status {
        #[command(flatten)]
        stack: Global,
        #[command(flatten)]
        args: status::StatusArgs,
    },
    /// Show (and follow) service logs.
    Logs {
        #[command(flatten)]
        stack: LogsStackArgs,
        #[command(flatten)]
        args: logs::LogsArgs,
    },
    /// Remove every container and network (and with --volumes, volume) of the project.
    Cleanup {
        #[command(flatten)]
        stack: Global,
        #[command(flatten)]
        args: teardown::CleanupArgs,
    },
    /// Restart services (stop, start, wait until ready).
    Restart {
        #[command(flatten)]
        stack: Global,
        #[command(flatten)]
        args: control::ControlArgs,
    },
    /// Stop services (containers stay; `start` or `up` brings them back).
    Stop {
        #[command(flatten)]
        stack: Global,
        #[command(flatten)]
        args: control::ControlArgs,
    },
    /// Rebuild services' images (the running containers keep serving until the new ones are
    /// ready; a failed build leaves them alone).
    Rebuild {
        #[command(flatten)]
        stack: Global,
        #[command(flatten)]
        args: control::ControlArgs,
    },
    /// Start stopped services and wait until ready.
    Start {
        #[command(flatten)]
        stack: Global,
        #[command(flatten)]
        args: control::ControlArgs,
    },
    /// The dev loop's history: how long each rebuild and restart took, and where the time went.
    Stats {
        #[command(flatten)]
        stack: Global,
        #[command(flatten)]
        args: stats::StatsArgs,
    },
    /// Print the web UI's address (with this daemon's token).
    Ui {
        #[command(flatten)]
        stack: Global,
        #[command(flatten)]
        args: ui::UiArgs,
    },
    /// Run a command in a service's running container (a TTY when the terminal is one); its exit
    /// code is novadev's.
    Exec {
        #[command(flatten)]
        stack: Global,
        #[command(flatten)]
        args: exec::ExecArgs,
    },
    /// Run a one-off container with a service's configuration (removed afterwards); its exit
    /// code is novadev's.
    Run {
        #[command(flatten)]
        stack: Global,
        #[command(flatten)]
        args: exec::RunArgs,
    },
    /// Services, their state and ports, once (`status --plain`).
    Ps {
        #[command(flatten)]
        stack: Global,
        /// Machine-readable state.
        #[arg(long)]
        json: bool,
    },
    /// Where a service's container port is published on the host.
    Port {
        #[command(flatten)]
        stack: Global,
        #[command(flatten)]
        args: inspect::PortArgs,
    },
    /// The processes running in the services' containers.
    Top {
        #[command(flatten)]
        stack: Global,
        #[command(flatten)]
        args: inspect::TopArgs,
    },
    /// Print a shell completion script (e.g. `novadev completions bash > ~/.local/share/bash-completion/completions/novadev`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the resolved stack, or every error in it.
    Config {
        #[command(flatten)]
        stack: Global,
        #[command(flatten)]
        args: config::ConfigArgs,
    },
    /// The stack on Kubernetes (`k8s render`: its manifests).
    #[command(subcommand)]
    K8s(k8s::K8sCommand),
    /// Run the project daemon in the foreground (started by `up`).
    #[command(hide = true)]
    Daemon {
        #[arg(long)]
        project: String,
        #[command(flatten)]
        k8s: K8sFlags,
    },
}

/// An error at the CLI edge, with its exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn runtime(message: impl std::fmt::Display) -> Failure {
        Failure {
            code: 1,
            message: message.to_string(),
        }
    }

    pub fn bad_input(message: impl std::fmt::Display) -> Failure {
        Failure {
            code: 2,
            message: message.to_string(),
        }
    }
}

impl From<crate::engine::EngineError> for Failure {
    fn from(e: crate::engine::EngineError) -> Self {
        Failure::runtime(e)
    }
}

impl From<crate::client::ClientError> for Failure {
    fn from(e: crate::client::ClientError) -> Self {
        match &e {
            // The daemon found the request's input wrong (a stack that does not load, a service
            // that does not exist).
            crate::client::ClientError::Api {
                kind: ErrorKind::BadInput,
                ..
            } => Failure::bad_input(e),
            _ => Failure::runtime(e),
        }
    }
}

impl From<crate::ops::OpError> for Failure {
    fn from(e: crate::ops::OpError) -> Self {
        match e.kind() {
            ErrorKind::BadInput => Failure::bad_input(e),
            ErrorKind::Runtime => Failure::runtime(e),
        }
    }
}

pub type CmdResult = Result<ExitCode, Failure>;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose, matches!(cli.command, Command::Daemon { .. }));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            anstream::eprintln!(
                "{} cannot start the async runtime: {e}",
                paint(RED, "error:")
            );
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run(cli));
    match result {
        Ok(code) => code,
        Err(failure) => {
            anstream::eprintln!("{} {}", paint(RED, "error:"), failure.message);
            ExitCode::from(failure.code)
        }
    }
}

async fn run(cli: Cli) -> CmdResult {
    let global = cli.global;
    match cli.command {
        Command::Up { stack, args } => up::run(&global.with(&stack), args).await,
        Command::Down { stack, args } => teardown::down(&global.with(&stack), args).await,
        Command::Status { stack, args } => status::run(&global.with(&stack), args).await,
        Command::Logs { stack, args } => logs::run(&global.with_logs(&stack), args).await,
        Command::Cleanup { stack, args } => teardown::cleanup(&global.with(&stack), args).await,
        Command::Config { stack, args } => config::run(&global.with(&stack), args),
        Command::K8s(command) => k8s::run(&global, command),
        Command::Ui { stack, args } => ui::run(&global.with(&stack), args).await,
        Command::Stats { stack, args } => stats::run(&global.with(&stack), args).await,
        Command::Exec { stack, args } => exec::exec(&global.with(&stack), args).await,
        Command::Run { stack, args } => exec::run(&global.with(&stack), args).await,
        Command::Ps { stack, json } => {
            let args = status::StatusArgs {
                plain: !json,
                json,
                k8s: K8sFlags::default(),
            };
            status::run(&global.with(&stack), args).await
        }
        Command::Port { stack, args } => inspect::port(&global.with(&stack), args).await,
        Command::Top { stack, args } => inspect::top(&global.with(&stack), args).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "novadev",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Restart { stack, args } => {
            control::run(&global.with(&stack), args, Verb::Restart).await
        }
        Command::Stop { stack, args } => control::run(&global.with(&stack), args, Verb::Stop).await,
        Command::Rebuild { stack, args } => {
            control::run(&global.with(&stack), args, Verb::Rebuild).await
        }
        Command::Start { stack, args } => {
            control::run(&global.with(&stack), args, Verb::Start).await
        }
        Command::Daemon { project, k8s } => match crate::daemon::run(k8s.target(&project)).await {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e @ crate::daemon::DaemonError::AlreadyRunning(_)) => {
                tracing::info!("{e}");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => Err(Failure::runtime(e)),
        },
    }
}

fn init_tracing(verbose: u8, daemon: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (verbose, daemon) {
        (0, true) => "novadev=info",
        (0, false) => "novadev=warn",
        (1, _) => "novadev=debug",
        _ => "novadev=trace,debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(!daemon && std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// The default stack (`stacks/nova`) when neither `-f` nor a Compose file in the current
/// directory names one: looked up from the current directory upwards, then beside the novadev
/// source tree this binary was built from.
fn default_stack(cwd: &Path) -> Option<PathBuf> {
    let candidates = cwd
        .ancestors()
        .map(|dir| dir.join("stacks/nova"))
        .chain(std::iter::once(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/nova"),
        ));
    for dir in candidates {
        if let Some(file) = stack::discover(&dir) {
            return Some(file);
        }
    }
    None
}

/// Load the stack the global flags point at. Warnings go to stderr; errors become exit code 2.
pub fn load_stack(global: &Global) -> Result<Loaded, Failure> {
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::runtime(format!("cannot read the current directory: {e}")))?;
    let mut files = global.files.clone();
    if files.is_empty() && stack::discover(&cwd).is_none() {
        match default_stack(&cwd) {
            Some(file) => files.push(file),
            None => {
                return Err(Failure::bad_input(format!(
                    "no stack file: none of compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml in {} and no stacks/nova; use -f FILE",
                    cwd.display()
                )));
            }
        }
    }
    let opts = LoadOptions {
        files,
        working_dir: cwd,
        project_name: global.project_name.clone(),
        profiles: global.profiles.clone(),
        env: std::env::vars().collect(),
    };
    match stack::load(&opts) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                anstream::eprintln!("{} {w}", paint(YELLOW, "warning:"));
            }
            Ok(loaded)
        }
        Err(StackError::Invalid(diagnostics)) => {
            let mut message = format!(
                "the stack has {} error{}:",
                diagnostics.len(),
                if diagnostics.len() == 1 { "" } else { "s" }
            );
            for d in &diagnostics {
                message.push_str(&format!("\n  {d}"));
            }
            Err(Failure::bad_input(message))
        }
        Err(other) => Err(Failure::bad_input(other)),
    }
}

/// Where the loaded stack is, for the daemon to load it itself.
pub fn stack_ref(global: &Global, loaded: &Loaded) -> Result<StackRef, Failure> {
    let working_dir = std::env::current_dir()
        .map_err(|e| Failure::runtime(format!("cannot read the current directory: {e}")))?;
    Ok(StackRef {
        files: loaded.stack.files.clone(),
        working_dir,
        project_name: Some(loaded.stack.name.clone()),
        profiles: global.profiles.clone(),
        env: std::env::vars().collect(),
    })
}

/// This novadev executable (to start a daemon with).
pub fn current_exe() -> Result<PathBuf, Failure> {
    std::env::current_exe()
        .map_err(|e| Failure::runtime(format!("cannot find the novadev executable: {e}")))
}

/// The project's daemon on the local engine: the one that runs, else a new one.
pub async fn daemon(project: &str) -> Result<Client, Failure> {
    daemon_for(&DaemonTarget::docker(project)).await
}

/// A target's daemon: the one that runs, else a new one. The engine (and the cluster) are
/// checked first, so that one that cannot be reached is one clear sentence rather than a daemon
/// that could not start.
pub async fn daemon_for(target: &DaemonTarget) -> Result<Client, Failure> {
    if let Some((client, info)) = Client::connect(&target.key()).await
        && info.build_id == crate::paths::build_id()
    {
        return Ok(client);
    }
    crate::engine::Engine::connect().await?;
    if let Some(spec) = &target.kube {
        crate::k8s::Cluster::connect(&spec.connect_options())
            .await
            .map_err(Failure::runtime)?;
    }
    Ok(crate::client::ensure_daemon(target, &current_exe()?).await?)
}

/// Run on a Kubernetes cluster instead of the local engine (`up`, `status`, `logs`, `down`,
/// `cleanup`).
#[derive(Debug, Clone, Default, Args)]
pub struct K8sFlags {
    /// On a Kubernetes cluster instead of the local Docker engine.
    #[arg(long = "k8s")]
    pub k8s: bool,
    /// The kubeconfig (default: $KUBECONFIG, else ~/.kube/config).
    #[arg(long, requires = "k8s", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: its current one).
    #[arg(long, requires = "k8s", value_name = "CONTEXT")]
    pub context: Option<String>,
    /// The default namespace (else x-novadev.k8s.namespace, else the project's name).
    #[arg(long, requires = "k8s", value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// A Docker container running the containerd node of a local cluster: images the stack
    /// builds are loaded into it.
    #[arg(long, requires = "k8s", value_name = "CONTAINER")]
    pub node: Option<String>,
}

impl K8sFlags {
    /// The daemon these flags name for `project`.
    pub fn target(&self, project: &str) -> DaemonTarget {
        DaemonTarget {
            project: project.to_string(),
            kube: self.k8s.then(|| KubeSpec {
                kubeconfig: self.kubeconfig.clone(),
                context: self.context.clone(),
                namespace: self.namespace.clone(),
                node: self.node.clone(),
            }),
        }
    }
}

/// `value` as pretty JSON on stdout; a reader that went away is not an error.
pub fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    use std::io::Write;
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::runtime(format!("cannot print JSON: {e}")))?;
    match writeln!(std::io::stdout().lock(), "{text}") {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::runtime(format!("writing to stdout: {e}"))),
    }
}

/// The project name for commands that can work without a readable stack (status, logs, down,
/// cleanup): `-p` if given, else the stack's.
pub fn project_name(global: &Global) -> Result<(String, Option<Loaded>), Failure> {
    if let Some(name) = &global.project_name {
        let normalized = stack::normalize_project_name(name);
        if normalized.is_empty() {
            return Err(Failure::bad_input(format!("invalid project name `{name}`")));
        }
        // The stack is still useful (ordering, service list) when it loads.
        let cwd = std::env::current_dir().unwrap_or_default();
        let loaded = if global.files.is_empty() && stack::discover(&cwd).is_none() {
            None
        } else {
            load_stack(global).ok()
        };
        return Ok((normalized, loaded));
    }
    let loaded = load_stack(global)?;
    Ok((loaded.stack.name.clone(), Some(loaded)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn file_flag_works_before_and_after_the_subcommand_and_logs_f_follows() {
        let cli =
            Cli::try_parse_from(["novadev", "-f", "a.yaml", "up", "-f", "b.yaml", "web"]).unwrap();
        match cli.command {
            Command::Up { stack, args } => {
                let g = cli.global.with(&stack);
                assert_eq!(
                    g.files,
                    vec![PathBuf::from("a.yaml"), PathBuf::from("b.yaml")]
                );
                assert_eq!(args.services, vec!["web".to_string()]);
            }
            other => panic!("parsed as {other:?}"),
        }
        let cli = Cli::try_parse_from(["novadev", "logs", "-f", "--tail", "5", "web"]).unwrap();
        match cli.command {
            Command::Logs { args, .. } => {
                assert!(args.follow);
                assert_eq!(args.tail, Some(5));
            }
            other => panic!("parsed as {other:?}"),
        }
    }
}
