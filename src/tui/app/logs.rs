//! The log pane's state: capped rings of lines per service and for all, the view over them
//! (follow, scroll, filter with neighbours, error jumps). Part of [`App`]; pure.

use std::collections::VecDeque;
use std::sync::{Arc, LazyLock};

use regex::{Regex, RegexBuilder};

use super::{App, FILTER_CONTEXT, clean_text};
use crate::protocol::LogLine;

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
    pub(super) anchor: Option<u64>,
    /// The line an error jump landed on.
    pub highlight: Option<u64>,
    /// Rows the pane has room for (set from the layout).
    pub(super) rows: usize,
}

impl LogView {
    pub fn following(&self) -> bool {
        self.anchor.is_none()
    }
}

impl App {
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
    pub(super) fn sync_filter(&mut self) {
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

    pub(super) fn set_source(&mut self, source: LogSource) {
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
    pub(super) fn next_visible(&self, pos: u64) -> Option<u64> {
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
    pub(super) fn prev_visible(&self, pos: u64) -> Option<u64> {
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
    pub(super) fn bottom(&self) -> Option<u64> {
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
    pub(super) fn anchor_at(&mut self, pos: u64) {
        self.view.anchor = Some(pos);
        if let Some(Row::Line(last)) = self.log_window().last().copied() {
            self.view.anchor = Some(last);
        }
        self.dirty = true;
    }

    pub(super) fn scroll_up(&mut self, n: usize) {
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

    pub(super) fn scroll_down(&mut self, n: usize) {
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

    pub(super) fn follow(&mut self) {
        self.view.anchor = None;
        self.view.highlight = None;
        self.dirty = true;
    }

    pub(super) fn scroll_top(&mut self) {
        let start = self.source_ring().start();
        if let Some(first) = self.next_visible(start) {
            self.anchor_at(first);
        }
    }

    /// Move to the next (`forward`) or previous error line among those shown, wrapping around.
    pub(super) fn jump_error(&mut self, forward: bool, now_ms: u64) {
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
}
