//! The dev loop's history as it crosses the socket: one record per rebuild or restart of a
//! service, with where its time went.

use serde::{Deserialize, Serialize};

/// What a turn of the dev loop did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoopKind {
    /// The image was built again and the container replaced.
    Rebuild,
    /// The container was restarted (a `restart` rule, a `restart: true` dependency, a request).
    Restart,
}

/// What started it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoopTrigger {
    /// A saved file.
    FileChange,
    /// `novadev rebuild|restart`, the TUI or the web UI.
    Request,
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoopOutcome {
    /// The new container is ready.
    Ready,
    /// The build failed; the previous container kept running.
    BuildFailed,
    /// The new container did not become ready.
    Failed,
}

/// One rebuild or restart of a service, with its breakdown (milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoopRecord {
    pub service: String,
    pub kind: LoopKind,
    pub trigger: LoopTrigger,
    /// Unix ms of the first file event (for a file change) or of the request.
    pub began_ms: u64,
    /// From `began_ms` to the start of the work: the watcher's debounce and the build queue.
    pub wait_ms: u64,
    /// The build command (cargo, or the Dockerfile build).
    pub build_ms: Option<u64>,
    /// Putting the artifact into the image.
    pub package_ms: Option<u64>,
    /// Stopping the old container and starting the new one (or restarting it).
    pub replace_ms: Option<u64>,
    /// From the container's start to its readiness.
    pub ready_ms: Option<u64>,
    /// From `began_ms` to the end.
    pub total_ms: u64,
    pub outcome: LoopOutcome,
    /// Why it did not end ready.
    #[serde(default)]
    pub error: Option<String>,
}

/// `GET /v1/stats?service=X`: the kept records, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsResponse {
    pub records: Vec<LoopRecord>,
}

/// Medians of a set of records, for the summaries every front end shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoopSummary {
    pub service: String,
    pub count: usize,
    pub ok: usize,
    pub median_total_ms: Option<u64>,
    pub median_wait_ms: Option<u64>,
    pub median_build_ms: Option<u64>,
    pub median_package_ms: Option<u64>,
    pub median_replace_ms: Option<u64>,
    pub median_ready_ms: Option<u64>,
    pub last_total_ms: Option<u64>,
}

fn median(mut values: Vec<u64>) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2
    } else {
        values[mid]
    })
}

impl LoopSummary {
    /// The summary of `service`'s records (of those that ended ready, for the timings).
    pub fn of(service: &str, records: &[LoopRecord]) -> LoopSummary {
        let mine: Vec<&LoopRecord> = records.iter().filter(|r| r.service == service).collect();
        let ok: Vec<&&LoopRecord> = mine
            .iter()
            .filter(|r| r.outcome == LoopOutcome::Ready)
            .collect();
        let part =
            |f: fn(&LoopRecord) -> Option<u64>| median(ok.iter().filter_map(|r| f(r)).collect());
        LoopSummary {
            service: service.to_string(),
            count: mine.len(),
            ok: ok.len(),
            median_total_ms: part(|r| Some(r.total_ms)),
            median_wait_ms: part(|r| Some(r.wait_ms)),
            median_build_ms: part(|r| r.build_ms),
            median_package_ms: part(|r| r.package_ms),
            median_replace_ms: part(|r| r.replace_ms),
            median_ready_ms: part(|r| r.ready_ms),
            last_total_ms: mine.last().map(|r| r.total_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(service: &str, total: u64, outcome: LoopOutcome) -> LoopRecord {
        LoopRecord {
            service: service.into(),
            kind: LoopKind::Rebuild,
            trigger: LoopTrigger::FileChange,
            began_ms: 0,
            wait_ms: 150,
            build_ms: Some(total - 500),
            package_ms: Some(100),
            replace_ms: Some(200),
            ready_ms: Some(50),
            total_ms: total,
            outcome,
            error: None,
        }
    }

    #[test]
    fn summaries_take_medians_of_what_ended_ready() {
        let records = vec![
            record("web", 2_000, LoopOutcome::Ready),
            record("web", 9_000, LoopOutcome::BuildFailed),
            record("web", 3_000, LoopOutcome::Ready),
            record("web", 4_000, LoopOutcome::Ready),
            record("db", 1_000, LoopOutcome::Ready),
        ];
        let s = LoopSummary::of("web", &records);
        assert_eq!((s.count, s.ok), (4, 3));
        assert_eq!(s.median_total_ms, Some(3_000));
        assert_eq!(s.median_build_ms, Some(2_500));
        assert_eq!(s.last_total_ms, Some(4_000));
        assert_eq!(LoopSummary::of("none", &records).median_total_ms, None);
        assert_eq!(median(vec![1, 3]), Some(2));
    }
}
