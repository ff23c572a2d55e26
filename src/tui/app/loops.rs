//! The dev loop's history as the TUI keeps it: the daemon's records (fetched once per
//! connection) plus every turn published since, bounded; the dev-loop panel and the services
//! panel's last build read it. Part of [`App`]; pure.

use super::{App, BuildOutcome};
use crate::protocol::{LoopKind, LoopOutcome, LoopRecord};

/// Records kept, all services together: as many as the daemon keeps.
pub const LOOP_CAP: usize = 1_000;

impl App {
    /// The daemon's history, on (re)connection: it replaces what was kept, since turns may have
    /// ended while the stream was down.
    pub fn set_loop_history(&mut self, mut records: Vec<LoopRecord>) {
        let skip = records.len().saturating_sub(LOOP_CAP);
        records.drain(..skip);
        self.loops = records;
        self.dirty = true;
    }

    /// A turn the daemon just published. The history fetched on connection may already hold it
    /// (it ended between the stream's opening and the fetch): kept once.
    pub fn push_loop(&mut self, record: LoopRecord) {
        if self.loops.iter().rev().take(64).any(|r| *r == record) {
            return;
        }
        self.loops.push(record);
        if self.loops.len() > LOOP_CAP {
            let excess = self.loops.len() - LOOP_CAP;
            self.loops.drain(..excess);
        }
        self.dirty = true;
    }

    /// Every kept record, oldest first.
    pub fn loop_records(&self) -> &[LoopRecord] {
        &self.loops
    }

    /// The services that have records: those of the list in its order, then any others (no
    /// longer in the stack) by name.
    pub fn loop_services(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .services
            .iter()
            .map(|s| s.status.service.clone())
            .filter(|name| self.loops.iter().any(|r| &r.service == name))
            .collect();
        let mut gone: Vec<String> = self
            .loops
            .iter()
            .map(|r| r.service.clone())
            .filter(|name| !out.contains(name))
            .collect();
        gone.sort();
        gone.dedup();
        out.extend(gone);
        out
    }

    /// The last build of `service`: the daemon's own record of it when this daemon built it,
    /// else the last rebuild in the history (which survives a daemon restart).
    pub fn last_build(&self, service: &str) -> Option<BuildOutcome> {
        if let Some(row) = self.services.iter().find(|s| s.status.service == service)
            && row.build.is_some()
        {
            return row.build;
        }
        let r = self
            .loops
            .iter()
            .rev()
            .find(|r| r.service == service && r.kind == LoopKind::Rebuild)?;
        let took = match (r.build_ms, r.package_ms) {
            (None, None) => None,
            (build, package) => Some(build.unwrap_or(0) + package.unwrap_or(0)),
        };
        Some(BuildOutcome {
            finished_ms: r.began_ms + r.total_ms,
            took_ms: took,
            ok: r.outcome != LoopOutcome::BuildFailed,
        })
    }
}
