//! The TUI's state and everything that changes it: the services (grouped in tiers) and the
//! selection, bounded log buffers, the log view (source, follow and scroll, a regex filter that
//! keeps each match's neighbours, jumps between error lines), overlays and the notice line.
//!
//! Pure: no terminal, no network, no clock — callers pass `now_ms`. `tui/mod.rs` feeds it events
//! and carries out the [`Command`]s it returns; `tui/ui/` only reads it to draw a frame.
//!
//! Memory: every log line is stored once, in an `Arc`, shared by its service's ring and by the
//! ring of the "all" view; both rings are capped, so memory is bounded whatever the log rate.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock};

use regex::{Regex, RegexBuilder};

use super::input::Action;
use crate::daemon::api::Info;
use crate::engine::logs::LogLine;
use crate::orchestrator::status::{Phase, ServiceStatus};

/// Lines kept per service.
pub const SERVICE_LOG_CAP: usize = 5_000;
/// Lines kept for the "all services" view.
pub const ALL_LOG_CAP: usize = 20_000;
/// Longer lines are cut (a runaway line must not hold megabytes).
pub const MAX_LINE_CHARS: usize = 2_000;
/// Lines shown before and after each filter match.
pub const FILTER_CONTEXT: u64 = 2;
/// How long an informational notice stays in the footer (errors stay until the next notice).
pub const NOTICE_MS: u64 = 8_000;

static ERROR_LINE: LazyLock<Regex> = LazyLock::new(|| {
    RegexBuilder::new("error|panic|fatal")
        .case_insensitive(true)
        .build()
        .unwrap_or_else(|e| unreachable!("constant pattern: {e}"))
});

/// Whether a log line reads like an error (the `e`/`E` jumps and the red in the log pane).
pub fn is_error_line(text: &str) -> bool {
    ERROR_LINE.is_match(text)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
    /// Lines novadev itself adds (build output, events).
    Novadev,
}

/// One stored log line. `service` indexes [`App::service_name`].
#[derive(Debug)]
pub struct LogRecord {
    pub service: usize,
    pub stream: LogStream,
    pub text: Box<str>,
}

/// A capped ring of shared lines. Positions count every line ever pushed, so a line keeps its
/// position while it is kept and the view can hold on to it while newer lines arrive.
#[derive(Debug)]
pub struct Ring {
    lines: VecDeque<Arc<LogRecord>>,
    start: u64,
    cap: usize,
}

impl Ring {
    pub fn new(cap: usize) -> Ring {
        Ring {
            lines: VecDeque::new(),
            start: 0,
            cap: cap.max(1),
        }
    }

    pub fn push(&mut self, line: Arc<LogRecord>) {
        if self.lines.len() == self.cap {
            self.lines.pop_front();
            self.start += 1;
        }
        self.lines.push_back(line);
    }

    /// Position of the oldest line kept.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// One past the position of the newest line.
    pub fn end(&self) -> u64 {
        self.start + self.lines.len() as u64
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn get(&self, pos: u64) -> Option<&LogRecord> {
        let i = usize::try_from(pos.checked_sub(self.start)?).ok()?;
        self.lines.get(i).map(|l| &**l)
    }
}

/// Whose lines the log pane shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSource {
    All,
    /// A service, by its id (see [`App::service_name`]).
    Service(usize),
}

/// An applied filter: the pattern and the positions (in the source ring) of the lines matching.
#[derive(Debug)]
pub struct Filter {
    pub pattern: String,
    regex: Regex,
    matches: VecDeque<u64>,
    scanned: u64,
}

impl Filter {
    pub fn match_count(&self) -> usize {
        self.matches.len()
    }
}

/// One row of the log pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Line(u64),
    /// Lines left out between two filter matches' neighbourhoods.
    Gap,
}

/// The log pane's position and filter.
#[derive(Debug)]
pub struct LogView {
    pub source: LogSource,
    pub filter: Option<Filter>,
    /// The line at the bottom of the pane; `None` follows the newest line.
    anchor: Option<u64>,
    /// The line an error jump landed on.
    pub highlight: Option<u64>,
    /// Rows the pane has room for (set from the layout).
    rows: usize,
}

impl LogView {
    pub fn following(&self) -> bool {
        self.anchor.is_none()
    }
}

/// How the last build of a service went, as seen while the TUI watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildOutcome {
    pub finished_ms: u64,
    pub took_ms: Option<u64>,
    pub ok: bool,
}

#[derive(Debug, Clone)]
pub struct ServiceRow {
    pub status: ServiceStatus,
    pub build: Option<BuildOutcome>,
    building_since: Option<u64>,
    /// Log id (index into [`App::service_name`]).
    pub id: usize,
}

/// What the daemon is asked to do to a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlAction {
    Restart,
    Rebuild,
    Stop,
    Start,
}

impl ControlAction {
    /// The last segment of `POST /v1/services/{service}/{action}`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ControlAction::Restart => "restart",
            ControlAction::Rebuild => "rebuild",
            ControlAction::Stop => "stop",
            ControlAction::Start => "start",
        }
    }

    fn doing(&self) -> &'static str {
        match self {
            ControlAction::Restart => "restarting",
            ControlAction::Rebuild => "rebuilding",
            ControlAction::Stop => "stopping",
            ControlAction::Start => "starting",
        }
    }

    fn done(&self) -> &'static str {
        match self {
            ControlAction::Restart => "restarted",
            ControlAction::Rebuild => "rebuilt",
            ControlAction::Stop => "stopped",
            ControlAction::Start => "started",
        }
    }
}

/// Work for the run loop, which owns the terminal and the daemon connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Quit,
    Control {
        service: String,
        action: ControlAction,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    Help,
    Connection,
}

/// What the keyboard is talking to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Typing a filter after `/`.
    Prompt,
    Overlay,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
    pub at_ms: u64,
}

/// What applying a status changed, for the run loop (which follows each service's log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusApplied {
    /// The first status seen for this service.
    pub new: bool,
    /// Its container (re)started since the last status.
    pub started: bool,
}

#[derive(Debug)]
pub struct App {
    pub project: String,
    pub info: Option<Info>,
    /// The daemon's connection info and common commands (the block `up` prints), once fetched.
    pub connection: Option<crate::connection::ConnectionInfo>,
    /// Whether the daemon's event stream is open; else why not.
    pub disconnected: Option<String>,
    /// Tier names in display order (from the stack's `x-novadev.tiers`, when it could be read).
    tier_order: Vec<String>,
    /// In display order.
    services: Vec<ServiceRow>,
    selected: usize,
    names: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, usize>,
    rings: Vec<Ring>,
    all: Ring,
    pub view: LogView,
    pub overlay: Option<Overlay>,
    /// The filter being typed, while the prompt is open.
    pub prompt: Option<String>,
    pub notice: Option<Notice>,
    pending: HashMap<String, ControlAction>,
    dirty: bool,
}

impl App {
    pub fn new(project: impl Into<String>, tier_order: Vec<String>) -> App {
        App {
            project: project.into(),
            connection: None,
            info: None,
            disconnected: None,
            tier_order,
            services: Vec::new(),
            selected: 0,
            names: Vec::new(),
            ids: HashMap::new(),
            rings: Vec::new(),
            all: Ring::new(ALL_LOG_CAP),
            view: LogView {
                source: LogSource::All,
                filter: None,
                anchor: None,
                highlight: None,
                rows: 10,
            },
            overlay: None,
            prompt: None,
            notice: None,
            pending: HashMap::new(),
            dirty: true,
        }
    }

    /// Whether something on screen changed since the last frame.
    pub fn needs_redraw(&self) -> bool {
        self.dirty
    }

    /// A frame showing the current state was drawn.
    pub fn drawn(&mut self) {
        self.dirty = false;
    }

    /// Time passed: uptimes and notices change on screen.
    pub fn tick(&mut self) {
        self.dirty = true;
    }

    pub fn mode(&self) -> Mode {
        if self.prompt.is_some() {
            Mode::Prompt
        } else if self.overlay.is_some() {
            Mode::Overlay
        } else {
            Mode::Normal
        }
    }

    // ----- daemon facts ---------------------------------------------------------------------

    pub fn set_connection(&mut self, info: crate::connection::ConnectionInfo) {
        self.connection = Some(info);
        self.dirty = true;
    }

    pub fn connected(&mut self, info: Info) {
        self.info = Some(info);
        self.disconnected = None;
        self.dirty = true;
    }

    pub fn disconnected(&mut self, why: impl Into<String>) {
        self.disconnected = Some(why.into());
        self.dirty = true;
    }

    pub fn services(&self) -> &[ServiceRow] {
        &self.services
    }

    /// Whether any service has a tier (else the list is shown without group headers).
    pub fn has_tiers(&self) -> bool {
        self.services.iter().any(|s| s.status.tier.is_some())
    }

    pub fn selected_index(&self) -> usize {
        self.selected
    }

    pub fn selected(&self) -> Option<&ServiceRow> {
        self.services.get(self.selected)
    }

    pub fn service_name(&self, id: usize) -> &str {
        self.names.get(id).map(|n| &**n).unwrap_or("?")
    }

    pub fn apply_status(&mut self, status: ServiceStatus) -> StatusApplied {
        self.dirty = true;
        let mut applied = StatusApplied::default();
        match self
            .services
            .iter_mut()
            .find(|s| s.status.service == status.service)
        {
            Some(row) => {
                let before = row.status.phase;
                applied.started = status.started_ms != row.status.started_ms;
                if status.phase == Phase::Building && before != Phase::Building {
                    row.building_since = Some(status.since_ms);
                }
                if before == Phase::Building && status.phase != Phase::Building {
                    row.build = Some(BuildOutcome {
                        finished_ms: status.since_ms,
                        took_ms: row
                            .building_since
                            .map(|s| status.since_ms.saturating_sub(s)),
                        ok: status.phase != Phase::Failed && state_label(&status) != "build failed",
                    });
                    row.building_since = None;
                }
                // The daemon's own record of the last build wins over what the phases suggest.
                if let Some(build) = &status.last_build
                    && let Some(finished_ms) = build.finished_ms
                {
                    row.build = Some(BuildOutcome {
                        finished_ms,
                        took_ms: Some(finished_ms.saturating_sub(build.started_ms)),
                        ok: build.ok,
                    });
                }
                let regroup = row.status.tier != status.tier;
                row.status = status;
                if regroup {
                    self.sort_services();
                }
            }
            None => {
                applied.new = true;
                let id = self.intern(&status.service);
                let building_since = (status.phase == Phase::Building).then_some(status.since_ms);
                self.services.push(ServiceRow {
                    status,
                    build: None,
                    building_since,
                    id,
                });
                self.sort_services();
            }
        }
        applied
    }

    /// Tier rank, tier, name: the display order, as the old deploy script grouped them.
    fn sort_services(&mut self) {
        let selected = self.selected().map(|s| s.status.service.clone());
        let order = &self.tier_order;
        self.services.sort_by_cached_key(|s| {
            let (rank, tier) = match &s.status.tier {
                Some(t) => match order.iter().position(|o| o == t) {
                    Some(i) => (i, String::new()),
                    None => (order.len(), t.clone()),
                },
                None => (usize::MAX, String::new()),
            };
            (rank, tier, s.status.service.clone())
        });
        if let Some(name) = selected {
            self.selected = self
                .services
                .iter()
                .position(|s| s.status.service == name)
                .unwrap_or(0);
        }
    }

    pub fn message(&mut self, text: impl Into<String>, now_ms: u64) {
        self.notify(text, false, now_ms);
    }

    fn notify(&mut self, text: impl Into<String>, error: bool, now_ms: u64) {
        self.notice = Some(Notice {
            text: text.into(),
            error,
            at_ms: now_ms,
        });
        self.dirty = true;
    }

    /// The notice to show now, if any.
    pub fn current_notice(&self, now_ms: u64) -> Option<&Notice> {
        self.notice
            .as_ref()
            .filter(|n| n.error || now_ms.saturating_sub(n.at_ms) < NOTICE_MS)
    }

    // ----- logs -----------------------------------------------------------------------------

    fn intern(&mut self, name: &str) -> usize {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len();
        let name: Arc<str> = Arc::from(name);
        self.names.push(name.clone());
        self.ids.insert(name, id);
        self.rings.push(Ring::new(SERVICE_LOG_CAP));
        id
    }

    /// Store lines (in arrival order). The text is moved, not copied, unless it must be cleaned.
    pub fn push_logs(&mut self, lines: Vec<LogLine>) {
        let mut seen = false;
        for line in lines {
            let id = self.intern(&line.service);
            let stream = match line.stream.as_str() {
                "stderr" => LogStream::Stderr,
                "novadev" => LogStream::Novadev,
                _ => LogStream::Stdout,
            };
            let record = Arc::new(LogRecord {
                service: id,
                stream,
                text: clean_text(line.text).into_boxed_str(),
            });
            self.rings[id].push(record.clone());
            self.all.push(record);
            seen |=
                self.view.source == LogSource::All || self.view.source == LogSource::Service(id);
        }
        if seen {
            self.sync_filter();
            self.dirty = true;
        }
    }

    /// The ring the log pane reads.
    pub fn source_ring(&self) -> &Ring {
        match self.view.source {
            LogSource::All => &self.all,
            LogSource::Service(id) => self.rings.get(id).unwrap_or(&self.all),
        }
    }

    pub fn ring_of(&self, service: &str) -> Option<&Ring> {
        self.ids.get(service).map(|id| &self.rings[*id])
    }

    pub fn all_ring(&self) -> &Ring {
        &self.all
    }

    /// Lines held (each counted once, however many rings share it) and the bytes of their text
    /// plus per-line bookkeeping: what the log buffers cost now.
    pub fn log_memory(&self) -> (usize, usize) {
        let per_line = std::mem::size_of::<LogRecord>() + 2 * std::mem::size_of::<usize>();
        let pointer = std::mem::size_of::<Arc<LogRecord>>();
        let mut lines = 0;
        let mut bytes = 0;
        for ring in self.rings.iter() {
            lines += ring.len();
            bytes += ring
                .lines
                .iter()
                .map(|l| l.text.len() + per_line + pointer)
                .sum::<usize>();
        }
        // Lines the "all" view still holds after their service's ring let them go.
        for line in &self.all.lines {
            bytes += pointer;
            if Arc::strong_count(line) == 1 {
                lines += 1;
                bytes += line.text.len() + per_line;
            }
        }
        (lines, bytes)
    }

    /// Bring the filter's matches up to date with the source ring: forget evicted lines, test the
    /// new ones (each line is tested once).
    fn sync_filter(&mut self) {
        let (start, end) = {
            let ring = self.source_ring();
            (ring.start(), ring.end())
        };
        let Some(mut filter) = self.view.filter.take() else {
            return;
        };
        while filter.matches.front().is_some_and(|m| *m < start) {
            filter.matches.pop_front();
        }
        let ring = self.source_ring();
        for pos in filter.scanned.max(start)..end {
            if ring
                .get(pos)
                .is_some_and(|l| filter.regex.is_match(&l.text))
            {
                filter.matches.push_back(pos);
            }
        }
        filter.scanned = end;
        self.view.filter = Some(filter);
    }

    /// Set (or with an empty pattern, clear) the filter. Smart case: case-insensitive unless
    /// the pattern has an upper-case letter.
    pub fn set_filter(&mut self, pattern: &str) -> Result<(), String> {
        self.dirty = true;
        if pattern.is_empty() {
            self.view.filter = None;
        } else {
            let regex = RegexBuilder::new(pattern)
                .case_insensitive(!pattern.chars().any(char::is_uppercase))
                .size_limit(1 << 20)
                .build()
                .map_err(|e| e.to_string())?;
            self.view.filter = Some(Filter {
                pattern: pattern.to_string(),
                regex,
                matches: VecDeque::new(),
                scanned: 0,
            });
            self.sync_filter();
        }
        self.view.anchor = None;
        self.view.highlight = None;
        Ok(())
    }

    fn set_source(&mut self, source: LogSource) {
        if self.view.source == source {
            return;
        }
        self.view.source = source;
        self.view.anchor = None;
        self.view.highlight = None;
        if let Some(f) = &mut self.view.filter {
            f.matches.clear();
            f.scanned = 0;
        }
        self.sync_filter();
        self.dirty = true;
    }

    /// The pane's height in rows (from the layout).
    pub fn set_log_rows(&mut self, rows: usize) {
        if self.view.rows != rows {
            self.view.rows = rows;
            self.dirty = true;
        }
    }

    /// The first line shown at or after `pos`.
    fn next_visible(&self, pos: u64) -> Option<u64> {
        let ring = self.source_ring();
        let pos = pos.max(ring.start());
        if pos >= ring.end() {
            return None;
        }
        let Some(f) = &self.view.filter else {
            return Some(pos);
        };
        let i = f.matches.partition_point(|m| m + FILTER_CONTEXT < pos);
        let m = *f.matches.get(i)?;
        Some(pos.max(m.saturating_sub(FILTER_CONTEXT)))
    }

    /// The last line shown at or before `pos`.
    fn prev_visible(&self, pos: u64) -> Option<u64> {
        let ring = self.source_ring();
        if ring.is_empty() || pos < ring.start() {
            return None;
        }
        let pos = pos.min(ring.end() - 1);
        let Some(f) = &self.view.filter else {
            return Some(pos);
        };
        let i = f.matches.partition_point(|m| *m <= pos + FILTER_CONTEXT);
        let m = *f.matches.get(i.checked_sub(1)?)?;
        Some(pos.min(m + FILTER_CONTEXT))
    }

    /// The line at the bottom of the pane.
    fn bottom(&self) -> Option<u64> {
        let ring = self.source_ring();
        match self.view.anchor {
            None => self.prev_visible(ring.end().checked_sub(1)?),
            Some(a) => self.prev_visible(a).or_else(|| self.next_visible(a)),
        }
    }

    /// The rows the log pane shows, top to bottom: up to `rows` ending at the bottom line, and
    /// when the top of the buffer comes first, the rows after it so the pane stays full.
    pub fn log_window(&self) -> Vec<Row> {
        let rows = self.view.rows.max(1);
        let Some(bottom) = self.bottom() else {
            return Vec::new();
        };
        let mut out = vec![Row::Line(bottom)];
        let mut pos = bottom;
        while out.len() < rows {
            let Some(p) = pos.checked_sub(1).and_then(|q| self.prev_visible(q)) else {
                break;
            };
            if p + 1 != pos {
                out.push(Row::Gap);
                if out.len() == rows {
                    break;
                }
            }
            out.push(Row::Line(p));
            pos = p;
        }
        out.reverse();
        let mut pos = bottom;
        while out.len() < rows {
            let Some(n) = self.next_visible(pos + 1) else {
                break;
            };
            if n != pos + 1 {
                out.push(Row::Gap);
                if out.len() == rows {
                    break;
                }
            }
            out.push(Row::Line(n));
            pos = n;
        }
        out
    }

    /// Visible lines after the bottom of the pane (new lines while paused).
    pub fn lines_below(&self) -> u64 {
        match (self.view.anchor, self.bottom()) {
            (Some(_), Some(b)) => self.source_ring().end().saturating_sub(b + 1),
            _ => 0,
        }
    }

    /// Pin the bottom of the pane at `pos`, normalised so the pane is full.
    fn anchor_at(&mut self, pos: u64) {
        self.view.anchor = Some(pos);
        if let Some(Row::Line(last)) = self.log_window().last().copied() {
            self.view.anchor = Some(last);
        }
        self.dirty = true;
    }

    fn scroll_up(&mut self, n: usize) {
        let Some(mut pos) = self.bottom() else {
            return;
        };
        for _ in 0..n {
            match pos.checked_sub(1).and_then(|q| self.prev_visible(q)) {
                Some(p) => pos = p,
                None => break,
            }
        }
        self.anchor_at(pos);
    }

    fn scroll_down(&mut self, n: usize) {
        if self.view.anchor.is_none() {
            return;
        }
        let Some(mut pos) = self.bottom() else {
            return;
        };
        for _ in 0..n {
            match self.next_visible(pos + 1) {
                Some(p) => pos = p,
                None => {
                    self.follow();
                    return;
                }
            }
        }
        if self.next_visible(pos + 1).is_none() {
            self.follow();
        } else {
            self.anchor_at(pos);
        }
    }

    fn follow(&mut self) {
        self.view.anchor = None;
        self.view.highlight = None;
        self.dirty = true;
    }

    fn scroll_top(&mut self) {
        let start = self.source_ring().start();
        if let Some(first) = self.next_visible(start) {
            self.anchor_at(first);
        }
    }

    /// Move to the next (`forward`) or previous error line among those shown, wrapping around.
    fn jump_error(&mut self, forward: bool, now_ms: u64) {
        let Some(cursor) = self.view.highlight.or_else(|| self.bottom()) else {
            self.message("no log lines yet", now_ms);
            return;
        };
        let ring = self.source_ring();
        let (start, end) = (ring.start(), ring.end());
        let hit = |app: &App, pos: u64| {
            app.source_ring()
                .get(pos)
                .is_some_and(|l| is_error_line(&l.text))
        };
        let mut found = None;
        let mut wrapped = false;
        if forward {
            let mut p = self.next_visible(cursor + 1);
            while let Some(pos) = p {
                if hit(self, pos) {
                    found = Some(pos);
                    break;
                }
                p = self.next_visible(pos + 1);
            }
            if found.is_none() {
                let mut p = self.next_visible(start);
                while let Some(pos) = p.filter(|pos| *pos <= cursor) {
                    if hit(self, pos) {
                        found = Some(pos);
                        wrapped = true;
                        break;
                    }
                    p = self.next_visible(pos + 1);
                }
            }
        } else {
            let mut p = cursor.checked_sub(1).and_then(|q| self.prev_visible(q));
            while let Some(pos) = p {
                if hit(self, pos) {
                    found = Some(pos);
                    break;
                }
                p = pos.checked_sub(1).and_then(|q| self.prev_visible(q));
            }
            if found.is_none() {
                let mut p = end.checked_sub(1).and_then(|q| self.prev_visible(q));
                while let Some(pos) = p.filter(|pos| *pos >= cursor) {
                    if hit(self, pos) {
                        found = Some(pos);
                        wrapped = true;
                        break;
                    }
                    p = pos.checked_sub(1).and_then(|q| self.prev_visible(q));
                }
            }
        }
        match found {
            Some(pos) => {
                self.view.highlight = Some(pos);
                // Show the line in the middle of the pane.
                let mut bottom = pos;
                for _ in 0..self.view.rows / 2 {
                    match self.next_visible(bottom + 1) {
                        Some(n) => bottom = n,
                        None => break,
                    }
                }
                self.anchor_at(bottom);
                if wrapped {
                    let from = if forward { "oldest" } else { "newest" };
                    self.message(format!("error search wrapped to the {from} line"), now_ms);
                }
            }
            None => self.message("no error, panic or fatal line in view", now_ms),
        }
    }

    // ----- input ----------------------------------------------------------------------------

    fn select(&mut self, index: usize) {
        if self.services.is_empty() {
            return;
        }
        self.selected = index.min(self.services.len() - 1);
        if let LogSource::Service(_) = self.view.source {
            let id = self.services[self.selected].id;
            self.set_source(LogSource::Service(id));
        }
        self.dirty = true;
    }

    /// Apply a user action; what needs the daemon or the terminal comes back as a [`Command`].
    pub fn act(&mut self, action: Action, now_ms: u64) -> Option<Command> {
        self.dirty = true;
        match action {
            Action::Quit => return Some(Command::Quit),
            Action::SelectPrev => self.select(self.selected.saturating_sub(1)),
            Action::SelectNext => self.select(self.selected + 1),
            Action::ToggleFocus => match self.view.source {
                LogSource::All => {
                    if let Some(id) = self.selected().map(|s| s.id) {
                        self.set_source(LogSource::Service(id));
                    }
                }
                LogSource::Service(_) => self.set_source(LogSource::All),
            },
            Action::Restart => return self.control(ControlAction::Restart, now_ms),
            Action::Rebuild => return self.control(ControlAction::Rebuild, now_ms),
            Action::StopStart => {
                let stopped = self.selected().is_some_and(|s| {
                    matches!(
                        s.status.phase,
                        Phase::Stopped | Phase::Exited | Phase::Failed | Phase::Completed
                    )
                });
                let action = if stopped {
                    ControlAction::Start
                } else {
                    ControlAction::Stop
                };
                return self.control(action, now_ms);
            }
            Action::ShowConnection => self.toggle_overlay(Overlay::Connection),
            Action::ShowHelp => self.toggle_overlay(Overlay::Help),
            Action::CloseOverlay => self.overlay = None,
            Action::OpenFilter => {
                let current = self
                    .view
                    .filter
                    .as_ref()
                    .map(|f| f.pattern.clone())
                    .unwrap_or_default();
                self.prompt = Some(current);
            }
            Action::PromptChar(c) => {
                if let Some(p) = &mut self.prompt {
                    p.push(c);
                }
            }
            Action::PromptBackspace => {
                if let Some(p) = &mut self.prompt {
                    p.pop();
                }
            }
            Action::PromptCancel => self.prompt = None,
            Action::PromptSubmit => {
                let pattern = self.prompt.clone().unwrap_or_default();
                match self.set_filter(&pattern) {
                    Ok(()) => self.prompt = None,
                    Err(e) => {
                        let first = e.lines().last().unwrap_or("invalid pattern").to_string();
                        self.notify(format!("filter: {first}"), true, now_ms);
                    }
                }
            }
            Action::Escape => {
                if self.view.highlight.is_some() {
                    self.view.highlight = None;
                } else if self.view.filter.is_some() {
                    let _ = self.set_filter("");
                } else {
                    self.follow();
                }
            }
            Action::NextError => self.jump_error(true, now_ms),
            Action::PrevError => self.jump_error(false, now_ms),
            Action::ScrollUp(n) => self.scroll_up(usize::from(n)),
            Action::ScrollDown(n) => self.scroll_down(usize::from(n)),
            Action::PageUp => self.scroll_up(self.view.rows.saturating_sub(1).max(1)),
            Action::PageDown => self.scroll_down(self.view.rows.saturating_sub(1).max(1)),
            Action::Top => self.scroll_top(),
            Action::Follow => self.follow(),
        }
        None
    }

    fn toggle_overlay(&mut self, overlay: Overlay) {
        self.overlay = if self.overlay == Some(overlay) {
            None
        } else {
            Some(overlay)
        };
    }

    fn control(&mut self, action: ControlAction, now_ms: u64) -> Option<Command> {
        let service = self.selected()?.status.service.clone();
        if let Some(busy) = self.pending.get(&service) {
            let text = format!("{service}: still {}", busy.doing());
            self.message(text, now_ms);
            return None;
        }
        self.pending.insert(service.clone(), action);
        self.message(format!("{} {service}…", action.doing()), now_ms);
        Some(Command::Control { service, action })
    }

    /// The daemon answered a control request.
    pub fn control_done(
        &mut self,
        service: &str,
        action: ControlAction,
        result: Result<ServiceStatus, String>,
        now_ms: u64,
    ) {
        self.pending.remove(service);
        match result {
            Ok(status) => {
                let state = state_label(&status);
                let text = if state == action.done() {
                    format!("{service} {state}")
                } else {
                    format!("{service} {}: {state}", action.done())
                };
                self.notify(
                    text,
                    !status.phase.is_good() && action != ControlAction::Stop,
                    now_ms,
                );
            }
            Err(e) => self.notify(format!("{} {service}: {e}", action.as_str()), true, now_ms),
        }
    }

    pub fn pending(&self, service: &str) -> Option<ControlAction> {
        self.pending.get(service).copied()
    }
}

/// Container output as shown: see [`crate::presentation::clean_text`].
fn clean_text(text: String) -> String {
    crate::presentation::clean_text(text, MAX_LINE_CHARS)
}

/// A service's state as shown: the phase, or what the detail says when it names a condition the
/// phase does not (a crash loop, a failed build).
pub fn state_label(s: &ServiceStatus) -> &'static str {
    let first = s
        .detail
        .as_deref()
        .and_then(|d| d.lines().next())
        .unwrap_or("")
        .trim_start()
        .to_ascii_lowercase();
    match s.phase {
        Phase::CrashLoop => "crash-loop",
        Phase::BuildFailed => "build failed",
        _ if first.starts_with("crash-loop") || first.starts_with("crash loop") => "crash-loop",
        _ if first.starts_with("build failed") => "build failed",
        phase => phase.as_str(),
    }
}

/// Docker healthcheck state, or "—" for a service without one.
pub fn health_label(s: &ServiceStatus) -> &'static str {
    if !s.has_healthcheck {
        return "—";
    }
    match s.phase {
        Phase::Ready => "healthy",
        Phase::Unhealthy => "unhealthy",
        Phase::Starting => "starting",
        _ => "—",
    }
}

/// How long the container has been running, if it is.
pub fn uptime_ms(s: &ServiceStatus, now_ms: u64) -> Option<u64> {
    match s.phase {
        Phase::Starting | Phase::Ready | Phase::Unhealthy => {
            s.started_ms.map(|t| now_ms.saturating_sub(t))
        }
        _ => None,
    }
}

/// The connection block: each service's published ports as `host:port`.
///
/// Built from the statuses until the daemon serves `GET /v1/connection` (the block `up` prints);
/// then this is the one place to switch.
pub fn connection_info(services: &[ServiceRow]) -> Vec<String> {
    let width = services
        .iter()
        .filter(|s| !s.status.ports.is_empty())
        .map(|s| s.status.service.chars().count())
        .max()
        .unwrap_or(0);
    let mut lines = Vec::new();
    for s in services.iter().filter(|s| !s.status.ports.is_empty()) {
        let addrs: Vec<String> = s
            .status
            .ports
            .iter()
            .map(|p| {
                let host = match p.host_ip.as_str() {
                    "" | "0.0.0.0" | "127.0.0.1" => "localhost",
                    "::" | "::1" => "[::1]",
                    other => other,
                };
                let proto = if p.protocol == "tcp" {
                    String::new()
                } else {
                    format!("/{}", p.protocol)
                };
                format!("{host}:{}{proto} → {}", p.host_port, p.container_port)
            })
            .collect();
        lines.push(format!(
            "{:<width$}  {}",
            s.status.service,
            addrs.join(", "),
            width = width
        ));
    }
    if lines.is_empty() {
        lines.push("no service publishes a port".to_string());
    }
    lines
}

#[cfg(test)]
mod tests;
