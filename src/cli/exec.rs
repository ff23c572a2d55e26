//! `novadev exec SERVICE CMD…` (a command in a service's running container) and `novadev run
//! SERVICE [CMD…]` (a one-off container with the service's configuration, removed afterwards).
//! Both are interactive when the terminal is, and pass the command's exit code through.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::session::{pump, terminal_size, wants_tty};
use super::{CmdResult, Failure, Global, load_stack};
use crate::board::StatusBoard;
use crate::engine::session::ExecRequest;
use crate::engine::{Engine, labels};
use crate::stack::model::Stack;

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Do not allocate a TTY (the default when stdin or stdout is not a terminal).
    #[arg(short = 'T', long = "no-tty")]
    pub no_tty: bool,
    /// Run as this user.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Run in this directory.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Set an environment variable (KEY=VALUE, repeatable).
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// The service.
    pub service: String,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Do not allocate a TTY (the default when stdin or stdout is not a terminal).
    #[arg(short = 'T', long = "no-tty")]
    pub no_tty: bool,
    /// Set an environment variable (KEY=VALUE, repeatable).
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Publish the service's ports too (by default a one-off publishes none, as with Compose).
    #[arg(long)]
    pub service_ports: bool,
    /// Do not bring the service's dependencies up first.
    #[arg(long)]
    pub no_deps: bool,
    /// The service.
    pub service: String,
    /// The command and its arguments (default: the service's own).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

fn exit_code(code: i64) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(if code == 0 { 0 } else { 1 }))
}

fn service_of<'s>(
    stack: &'s Stack,
    service: &str,
) -> Result<&'s crate::stack::model::Service, Failure> {
    stack.services.get(service).ok_or_else(|| {
        Failure::bad_input(format!(
            "no service `{service}` in the stack (services: {})",
            stack
                .services
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

pub async fn exec(global: &Global, args: ExecArgs) -> CmdResult {
    let loaded = load_stack(global)?;
    service_of(&loaded.stack, &args.service)?;
    let engine = Engine::connect().await?;
    let containers = engine.list_containers(&loaded.stack.name).await?;
    let Some(container) = containers
        .into_iter()
        .find(|c| c.service == args.service && c.is_running())
    else {
        return Err(Failure::runtime(format!(
            "service `{}` has no running container; `novadev up {}` starts it",
            args.service, args.service
        )));
    };
    let tty = wants_tty(args.no_tty);
    let request = ExecRequest {
        cmd: args.command,
        tty,
        env: args.env,
        user: args.user,
        working_dir: args.workdir,
    };
    let (exec_id, session) = engine.exec_session(&container.id, request).await?;
    if tty && let Some((cols, rows)) = terminal_size() {
        let _ = engine.resize_exec(&exec_id, cols, rows).await;
    }
    let resize_engine = engine.clone();
    let resize_id = exec_id.clone();
    pump(session, tty, move |cols, rows| {
        let engine = resize_engine.clone();
        let id = resize_id.clone();
        async move {
            let _ = engine.resize_exec(&id, cols, rows).await;
        }
    })
    .await?;
    Ok(exit_code(engine.exec_exit_code(&exec_id).await?))
}

pub async fn run(global: &Global, args: RunArgs) -> CmdResult {
    let loaded = load_stack(global)?;
    let stack = &loaded.stack;
    let svc = service_of(stack, &args.service)?;
    let engine = Engine::connect().await?;
    if !args.no_deps && !svc.depends_on.is_empty() {
        bring_up_dependencies(global, &loaded, &args.service).await?;
    }
    for key in svc.networks.keys() {
        engine.ensure_network(stack, key).await?;
    }
    for v in &svc.volumes {
        if let crate::stack::model::MountSource::Volume { name } = &v.source {
            engine.ensure_volume(stack, name).await?;
        }
    }
    let image = svc.image_ref(&stack.name);
    let board = Arc::new(StatusBoard::new());
    crate::orchestrator::image::obtain_image(
        &engine,
        &board,
        stack,
        &args.service,
        &image,
        false,
        Default::default(),
    )
    .await
    .map_err(|f| Failure::runtime(format!("service `{}`: {f}", args.service)))?;
    let mut key_binds = Vec::new();
    for key in &svc.novadev.keys {
        let (dir, _) =
            crate::secrets::ensure_key_pair(&crate::secrets::keys_dir(&stack.name), &key.name)
                .map_err(Failure::runtime)?;
        key_binds.push((dir, key.target.clone()));
    }
    let tty = wants_tty(args.no_tty);
    let mut spec =
        crate::engine::containers::spec_for(stack, &args.service, &image, "", &key_binds);
    one_off(&mut spec, &stack.name, &args, tty);
    let id = engine.create_container(&spec).await?;
    // From here on the container goes away however this ends.
    let outcome = attach_and_wait(&engine, &id, tty).await;
    let _ = engine.remove_container(&id).await;
    Ok(exit_code(outcome?))
}

/// Turn a service's container spec into a one-off's: its own name and label, the command asked
/// for, a TTY and stdin when interactive, no published ports unless asked, no restart policy.
fn one_off(
    spec: &mut crate::engine::containers::ContainerSpec,
    project: &str,
    args: &RunArgs,
    tty: bool,
) {
    let mut suffix = [0u8; 3];
    let _ = getrandom::fill(&mut suffix);
    spec.name = format!("{project}-{}-run-{}", args.service, hex::encode(suffix));
    let body = &mut spec.body;
    if let Some(labels_map) = body.labels.as_mut() {
        labels_map.insert(labels::ONEOFF.into(), "true".into());
    }
    if !args.command.is_empty() {
        body.cmd = Some(args.command.clone());
    }
    if !args.env.is_empty() {
        body.env
            .get_or_insert_with(Vec::new)
            .extend(args.env.iter().cloned());
    }
    body.tty = Some(tty);
    body.open_stdin = Some(true);
    body.stdin_once = Some(true);
    body.attach_stdin = Some(true);
    body.attach_stdout = Some(true);
    body.attach_stderr = Some(true);
    if let Some(host) = body.host_config.as_mut() {
        if !args.service_ports {
            host.port_bindings = None;
        }
        host.restart_policy = None;
    }
}

async fn attach_and_wait(engine: &Engine, id: &str, tty: bool) -> Result<i64, Failure> {
    let session = engine.attach(id).await?;
    engine.start_container(id).await?;
    if tty && let Some((cols, rows)) = terminal_size() {
        let _ = engine.resize_container(id, cols, rows).await;
    }
    let resize_engine = engine.clone();
    let resize_id = id.to_string();
    pump(session, tty, move |cols, rows| {
        let engine = resize_engine.clone();
        let id = resize_id.clone();
        async move {
            let _ = engine.resize_container(&id, cols, rows).await;
        }
    })
    .await?;
    Ok(engine.wait_exit(id).await?)
}

/// `up` of what the service needs (not the service itself), through the daemon, quietly.
async fn bring_up_dependencies(
    global: &Global,
    loaded: &crate::stack::Loaded,
    service: &str,
) -> Result<(), Failure> {
    use futures_util::StreamExt;
    let Some(svc) = loaded.stack.services.get(service) else {
        return Ok(());
    };
    let deps: Vec<String> = svc.depends_on.keys().cloned().collect();
    let client = super::daemon(&loaded.stack.name).await?;
    let request = crate::protocol::UpRequest {
        stack: super::stack_ref(global, loaded)?,
        options: crate::protocol::UpOptions {
            services: deps.clone(),
            wait_timeout: std::time::Duration::from_secs(300),
            build: false,
        },
    };
    let mut stream = std::pin::pin!(client.sse("/v1/up", Some(&request)).await?);
    while let Some(message) = stream.next().await {
        let message = message?;
        match message.event.as_str() {
            "done" => {
                let report: crate::protocol::UpReport = serde_json::from_str(&message.data)
                    .map_err(|e| Failure::runtime(format!("unreadable report: {e}")))?;
                if report.ok {
                    return Ok(());
                }
                return Err(Failure::runtime(format!(
                    "the dependencies of `{service}` ({}) are not up; see `novadev status`",
                    deps.join(", ")
                )));
            }
            "error" => return Err(Failure::runtime(message.data)),
            _ => {}
        }
    }
    Err(Failure::runtime(
        "the daemon stopped before the dependencies were up",
    ))
}
