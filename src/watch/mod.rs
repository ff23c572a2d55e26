//! Watching the source tree: one watcher over the project's watched roots, ignore rules applied
//! before anything is watched or reported, changes coalesced per service and action, batches
//! sent to whoever rebuilds/syncs.
//!
//! Directories are watched one by one (not inotify's recursive mode), so ignored trees such as
//! `target/` cost no watch and no event. A directory created after the watch began gets its
//! watch and is rescanned at once: files written into it before its watch landed would otherwise
//! be missed (inotify drops ~1–7% of them).

pub mod debounce;
pub mod plan;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::stack::model::{Stack, WatchAction};
use debounce::Debouncer;
use plan::{Hit, Plan};

/// A coalesced change for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub service: String,
    pub action: WatchAction,
    /// The `develop.watch` rule, when the change came through one.
    pub rule: Option<usize>,
    pub paths: Vec<PathBuf>,
    /// Unix ms of the first file event of the batch (where the dev loop's clock starts).
    pub first_event_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot start the file watcher: {0}")]
    Start(#[from] notify::Error),
}

/// How long a burst must stay quiet before it is acted on, and the longest a change waits.
pub const QUIET: Duration = Duration::from_millis(50);
pub const MAX_WAIT: Duration = Duration::from_secs(2);

/// A running watch; dropping it stops watching.
pub struct WatchHandle {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Start watching what `stack` asks to be watched; changes go to `out`. `None` when nothing in
/// the stack is watched.
pub fn spawn(stack: &Stack, out: mpsc::Sender<Change>) -> Result<Option<WatchHandle>, WatchError> {
    let plan = Plan::from_stack(stack);
    if plan.is_empty() {
        return Ok(None);
    }
    let (raw_tx, mut raw_rx) = mpsc::unbounded_channel::<notify::Result<notify::Event>>();
    let mut watcher = notify::recommended_watcher(move |ev| {
        // The receiver is gone only when the watch is being torn down.
        let _ = raw_tx.send(ev);
    })?;
    let mut watched = 0usize;
    for root in plan.roots() {
        watched += watch_tree(&mut watcher, &plan, &root, None);
    }
    tracing::info!(
        roots = plan.roots().len(),
        directories = watched,
        "watching the source tree"
    );

    let task = tokio::spawn(async move {
        let mut debouncer: Debouncer<Hit> = Debouncer::new(QUIET, MAX_WAIT);
        loop {
            let deadline = debouncer.next_deadline();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                raw = raw_rx.recv() => {
                    let Some(raw) = raw else { break };
                    let Ok(event) = raw else { continue };
                    if matches!(event.kind, EventKind::Access(_)) {
                        continue;
                    }
                    let now = Instant::now();
                    for path in &event.paths {
                        let is_dir = path.is_dir();
                        if matches!(event.kind, EventKind::Create(_)) && is_dir {
                            // New directory: watch it, and report what is already inside.
                            let mut found = Vec::new();
                            watch_tree(&mut watcher, &plan, path, Some(&mut found));
                            for file in found {
                                for hit in plan.hits(&file, false) {
                                    debouncer.push(hit, file.clone(), now);
                                }
                            }
                        }
                        for hit in plan.hits(path, is_dir) {
                            debouncer.push(hit, path.clone(), now);
                        }
                    }
                }
                _ = sleep => {
                    let now = Instant::now();
                    for (hit, paths, first) in debouncer.due_since(now) {
                        let ago = u64::try_from(now.duration_since(first).as_millis()).unwrap_or(0);
                        let change = Change {
                            service: hit.service,
                            action: hit.action,
                            rule: hit.rule,
                            paths,
                            first_event_ms: crate::protocol::now_ms().saturating_sub(ago),
                        };
                        if out.send(change).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    });
    Ok(Some(WatchHandle { task }))
}

/// Watch `root` and every directory under it that is not ignored. Files found are appended to
/// `found` when given. Returns the number of directories watched.
fn watch_tree(
    watcher: &mut impl Watcher,
    plan: &Plan,
    root: &Path,
    mut found: Option<&mut Vec<PathBuf>>,
) -> usize {
    let mut count = 0;
    if root.is_file() {
        // A rule may name a single file: watch its directory.
        if let Some(parent) = root.parent()
            && watcher.watch(parent, RecursiveMode::NonRecursive).is_ok()
        {
            count += 1;
        }
        return count;
    }
    let filter = plan.clone();
    let walker = ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .hidden(false)
        .follow_links(false)
        // Ignored directories are not descended into at all (`target/` can be huge).
        .filter_entry(move |e| {
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            !filter.globally_ignored(e.path(), is_dir)
        })
        .build();
    for entry in walker.flatten() {
        let path = entry.path();
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        if is_dir {
            match watcher.watch(path, RecursiveMode::NonRecursive) {
                Ok(()) => count += 1,
                Err(e) => tracing::warn!(dir = %path.display(), error = %e, "cannot watch"),
            }
        } else if let Some(found) = found.as_deref_mut() {
            found.push(path.to_path_buf());
        }
    }
    count
}
