//! Stack edits while the daemon runs: the stack's files (and `.env`, `env_file`s, included and
//! extended files) are watched; a change is loaded and validated. An invalid stack is shown
//! (`status`, the TUI and the web page) and nothing is torn down; a valid one recreates exactly
//! the services whose configuration changed, adds the new ones and removes the ones that left.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::{OpError, Operations};
use crate::protocol::UpOptions;
use crate::stack::model::{MountSource, Service, Stack};

/// A burst of saves (an editor's write and rename) is one reload.
const QUIET: Duration = Duration::from_millis(300);
/// How long a reload's `up` may take.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// How the running stack changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackDiff {
    pub changed: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl StackDiff {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.added.is_empty() && self.removed.is_empty()
    }
}

/// What makes up one service's configuration: the service as resolved, and the definitions of
/// the networks and volumes it uses.
fn configuration(stack: &Stack, svc: &Service) -> serde_json::Value {
    let networks: Vec<_> = svc
        .networks
        .keys()
        .map(|k| (k.clone(), serde_json::to_value(stack.networks.get(k)).ok()))
        .collect();
    let volumes: Vec<_> = svc
        .volumes
        .iter()
        .filter_map(|v| match &v.source {
            MountSource::Volume { name } => Some(name),
            _ => None,
        })
        .map(|k| (k.clone(), serde_json::to_value(stack.volumes.get(k)).ok()))
        .collect();
    serde_json::json!({
        "service": serde_json::to_value(svc).ok(),
        "networks": networks,
        "volumes": volumes,
    })
}

/// The services whose configuration differs between `old` and `new`, the new ones, the gone
/// ones. Pure.
pub fn diff(old: &Stack, new: &Stack) -> StackDiff {
    let mut d = StackDiff::default();
    for (name, svc) in &new.services {
        match old.services.get(name) {
            None => d.added.push(name.clone()),
            Some(before) if configuration(old, before) != configuration(new, svc) => {
                d.changed.push(name.clone());
            }
            Some(_) => {}
        }
    }
    d.removed = old
        .services
        .keys()
        .filter(|k| !new.services.contains_key(*k))
        .cloned()
        .collect();
    d
}

/// Watches the files a stack was loaded from; each change is a unit on the channel.
pub struct StackWatch {
    _watcher: notify::RecommendedWatcher,
}

/// Watch `inputs` (through their directories: editors replace a file by renaming another over
/// it, which a watch on the file itself would miss).
pub fn watch(inputs: &[PathBuf], out: mpsc::Sender<()>) -> Result<StackWatch, notify::Error> {
    let files: BTreeSet<PathBuf> = inputs.iter().cloned().collect();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        if event.paths.iter().any(|p| files.contains(p)) {
            let _ = out.try_send(());
        }
    })?;
    let dirs: BTreeSet<&Path> = inputs.iter().filter_map(|p| p.parent()).collect();
    for dir in dirs {
        if dir.is_dir() {
            watcher.watch(dir, RecursiveMode::NonRecursive)?;
        }
    }
    Ok(StackWatch { _watcher: watcher })
}

/// Reload on every change until the channel closes.
pub async fn run(ops: Arc<Operations>, mut changes: mpsc::Receiver<()>) {
    while changes.recv().await.is_some() {
        // Until the saves stop.
        loop {
            match tokio::time::timeout(QUIET, changes.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return,
                Err(_) => break,
            }
        }
        if let Err(e) = reload(&ops).await {
            tracing::warn!(error = %e, "reloading the stack failed");
        }
    }
}

/// Load the stack again from where it was loaded and act on what changed.
async fn reload(ops: &Arc<Operations>) -> Result<(), OpError> {
    let Some(from) = ops.loaded_from() else {
        return Ok(());
    };
    let (loaded, inputs) = ops.load_files(from.clone()).await?;
    ops.watch_stack_files(&inputs);
    let new = match loaded {
        Ok(stack) => stack,
        Err(e) => {
            let text = e.to_string();
            ops.set_stack_error(Some(text.clone()));
            ops.board().message(format!(
                "the stack files changed but do not load; the running stack is kept:\n{text}"
            ));
            return Ok(());
        }
    };
    ops.set_stack_error(None);
    let Some(old) = ops.stack() else {
        return Ok(());
    };
    let d = diff(&old, &new);
    if d.is_empty() {
        ops.replace_stack(new);
        ops.board()
            .message("the stack files changed; no service's configuration did");
        return Ok(());
    }
    ops.board().message(format!(
        "the stack changed: {}",
        [
            ("recreating", &d.changed),
            ("adding", &d.added),
            ("removing", &d.removed),
        ]
        .iter()
        .filter(|(_, names)| !names.is_empty())
        .map(|(what, names)| format!("{what} {}", names.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
    ));
    let mut services = d.changed.clone();
    services.extend(d.added.iter().cloned());
    ops.apply_change(
        new,
        UpOptions {
            services,
            wait_timeout: RELOAD_TIMEOUT,
            build: false,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{LoadOptions, Memory, load_from_sources};

    fn stack(text: &str) -> Stack {
        let memory = Memory::new().with("/p/compose.yaml", text);
        load_from_sources(
            &memory,
            &LoadOptions {
                files: vec!["/p/compose.yaml".into()],
                working_dir: "/p".into(),
                project_name: Some("p".into()),
                profiles: vec![],
                env: Default::default(),
            },
        )
        .expect("loads")
        .stack
    }

    #[test]
    fn only_the_services_whose_configuration_changed_are_named() {
        let old = stack(
            "services:\n  a: {image: x, environment: {K: '1'}}\n  b: {image: y}\n  c: {image: z}\n",
        );
        let new = stack(
            "services:\n  a: {image: x, environment: {K: '2'}}\n  b: {image: y}\n  d: {image: w}\n",
        );
        assert_eq!(
            diff(&old, &new),
            StackDiff {
                changed: vec!["a".into()],
                added: vec!["d".into()],
                removed: vec!["c".into()],
            }
        );
        assert!(diff(&old, &old).is_empty());
    }

    #[test]
    fn a_changed_volume_definition_changes_the_services_that_use_it() {
        let old = stack(
            "services:\n  a: {image: x, volumes: ['data:/d']}\n  b: {image: y}\nvolumes:\n  data: {}\n",
        );
        let new = stack(
            "services:\n  a: {image: x, volumes: ['data:/d']}\n  b: {image: y}\nvolumes:\n  data: {name: other}\n",
        );
        assert_eq!(diff(&old, &new).changed, vec!["a".to_string()]);
    }
}
