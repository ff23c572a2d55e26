//! The dev loop's history: every rebuild and restart of a service with its breakdown, kept
//! bounded in memory and in `history.jsonl` in the project's state dir, so that it survives a
//! daemon restart (and `novadev stats` can read it with no daemon running).

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::protocol::LoopRecord;

/// Records kept (all services together); the file is compacted when it holds twice as many.
pub const KEEP: usize = 1000;

pub struct History {
    path: PathBuf,
    records: Mutex<VecDeque<LoopRecord>>,
    /// Lines in the file (compacted past 2 × KEEP).
    lines: Mutex<usize>,
}

/// The records in `path`, oldest first, the last [`KEEP`]. A missing file is an empty history;
/// a line that does not read (a crash mid-write) is skipped.
pub fn read(path: &Path) -> Vec<LoopRecord> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let all: Vec<LoopRecord> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let skip = all.len().saturating_sub(KEEP);
    all.into_iter().skip(skip).collect()
}

impl History {
    pub fn open(path: PathBuf) -> History {
        let records: VecDeque<LoopRecord> = read(&path).into();
        let lines = std::fs::read_to_string(&path)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        History {
            path,
            records: Mutex::new(records),
            lines: Mutex::new(lines),
        }
    }

    /// Keep `record` (in memory, and appended to the file).
    pub fn record(&self, record: LoopRecord) {
        let line = serde_json::to_string(&record);
        let snapshot = {
            let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
            records.push_back(record);
            while records.len() > KEEP {
                records.pop_front();
            }
            records.iter().cloned().collect::<Vec<_>>()
        };
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let written = if *lines + 1 > 2 * KEEP {
            // Rewrite with what is kept, all or nothing.
            let text: String = snapshot
                .iter()
                .filter_map(|r| serde_json::to_string(r).ok())
                .map(|l| l + "\n")
                .collect();
            crate::paths::write_atomic(&self.path, text.as_bytes(), 0o600).map(|()| snapshot.len())
        } else {
            line.map_err(std::io::Error::other).and_then(|line| {
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?;
                writeln!(file, "{line}")?;
                Ok(*lines + 1)
            })
        };
        match written {
            Ok(n) => *lines = n,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot keep the dev loop's history")
            }
        }
    }

    /// The records of `service` (all when `None`), oldest first.
    pub fn records(&self, service: Option<&str>) -> Vec<LoopRecord> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|r| service.is_none_or(|s| r.service == s))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{LoopKind, LoopOutcome, LoopTrigger};

    fn record(service: &str, total: u64) -> LoopRecord {
        LoopRecord {
            service: service.into(),
            kind: LoopKind::Rebuild,
            trigger: LoopTrigger::FileChange,
            began_ms: total,
            wait_ms: 0,
            build_ms: None,
            package_ms: None,
            replace_ms: None,
            ready_ms: None,
            total_ms: total,
            outcome: LoopOutcome::Ready,
            error: None,
        }
    }

    #[test]
    fn the_history_survives_a_restart_and_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let history = History::open(path.clone());
        for i in 0..(3 * KEEP as u64) {
            history.record(record(if i % 2 == 0 { "a" } else { "b" }, i));
        }
        assert_eq!(history.records(None).len(), KEEP);
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(lines <= 2 * KEEP, "the file is compacted: {lines} lines");
        let again = History::open(path.clone());
        let kept = again.records(None);
        assert_eq!(kept.len(), KEEP);
        assert_eq!(
            kept.last().unwrap().total_ms,
            3 * KEEP as u64 - 1,
            "newest kept"
        );
        assert!(again.records(Some("a")).iter().all(|r| r.service == "a"));
    }

    #[test]
    fn a_torn_line_is_skipped_and_a_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        assert!(read(&path).is_empty());
        let good = serde_json::to_string(&record("a", 1)).unwrap();
        std::fs::write(&path, format!("{good}\n{{\"service\": \"a\", \"ki")).unwrap();
        assert_eq!(read(&path).len(), 1);
    }
}
