//! `novadev ui`: print the web UI's address with this daemon's token (and with `--open`, try to
//! open it in a browser). Also the line `up` prints after its summary.

use std::process::{ExitCode, Stdio};

use clap::Args;

use super::output::{BOLD, YELLOW, paint};
use super::{CmdResult, Failure, Global, project_name};
use crate::client::Client;
use crate::daemon::web;
use crate::paths::ProjectPaths;
use crate::protocol::Info;

#[derive(Debug, Args)]
pub struct UiArgs {
    /// Also try to open it in the desktop's browser (xdg-open is given an owner-only file that
    /// forwards to the address, never the token itself).
    #[arg(long)]
    pub open: bool,
}

pub async fn run(global: &Global, args: UiArgs) -> CmdResult {
    let (project, _) = project_name(global)?;
    let Some((_, info)) = Client::connect(&project).await else {
        return Err(Failure::runtime(format!(
            "no novadev daemon runs for project `{project}`; `novadev up` starts one"
        )));
    };
    let url = url_for(&project, &info).map_err(Failure::runtime)?;
    println!("{url}");
    if args.open {
        let opener = ProjectPaths::for_project(&project).ui_opener;
        web::write_opener(&opener, &url)
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", opener.display())))?;
        let opened = std::process::Command::new("xdg-open")
            .arg(&opener)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Err(e) = opened {
            anstream::eprintln!(
                "{} could not run xdg-open ({e}); open the address above yourself",
                paint(YELLOW, "warning:")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The page's address with the token the daemon wrote to the project's state dir.
pub fn url_for(project: &str, info: &Info) -> Result<String, String> {
    let Some(web_ui) = &info.web_ui else {
        return Err(match &info.web_ui_error {
            Some(e) => format!("the daemon serves no web UI: {e}"),
            None => "the daemon serves no web UI (it predates it; `novadev down` and `up` again)"
                .to_string(),
        });
    };
    let path = ProjectPaths::for_project(project).ui_token;
    let token = web::read_token(&path)
        .map_err(|e| format!("cannot read the web UI token {}: {e}", path.display()))?;
    Ok(web::url_with_token(&web_ui.url, &token))
}

/// The line `up` prints after its summary, or why there is no web UI. `key`: the daemon's (the
/// project, or the project on Kubernetes).
pub async fn up_line(client: &Client, key: &str) -> String {
    let project = key;
    let url = match client.get::<Info>("/v1/info").await {
        Ok(info) => url_for(project, &info),
        Err(e) => Err(e.to_string()),
    };
    match url {
        Ok(url) => format!("{} {url}", paint(BOLD, "web UI")),
        Err(e) => format!("{} {e}", paint(YELLOW, "web UI:")),
    }
}
