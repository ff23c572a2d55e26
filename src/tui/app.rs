//! The TUI's state and everything that changes it: the services (grouped in tiers) and the
//! selection, bounded log buffers, the log view (source, follow and scroll, a regex filter that
//! keeps each match's neighbours, jumps between error lines), overlays and the notice line.
//!
//! Pure: no terminal, no network, no clock — callers pass `now_ms`. `tui/mod.rs` feeds it events
//! and carries out the [`Command`]s it returns; `tui/ui/` only reads it to draw a frame.
//!
//! Memory: every log line is stored once, in an `Arc`, shared by its service's ring and by the
//! ring of the "all" view; both rings are capped, so memory is bounded whatever the log rate.

use std::collections::HashMap;
use std::sync::Arc;

mod list;
mod logs;
mod loops;

pub use list::{Entry, Group};
pub use logs::{Filter, LogRecord, LogSource, LogStream, LogView, Ring, Row, is_error_line};
pub use loops::LOOP_CAP;

use super::input::Action;
pub use super::input::Mode;
use crate::presentation::{state_label, tier_rank};
use crate::protocol::{Info, LoopRecord, Phase, ServiceStatus};

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

/// What the daemon is asked to do to a service: the protocol's verbs.
pub use crate::protocol::Verb as ControlAction;

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
    /// The cursor, as a service index (see `list.rs`).
    selected: usize,
    /// Tiers the user folded (`true`) or unfolded (`false`); the others fold when crowded.
    folds: HashMap<Option<String>, bool>,
    /// Rows the services panel has for the list (set by the run loop from the layout).
    list_rows: usize,
    names: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, usize>,
    rings: Vec<Ring>,
    all: Ring,
    pub view: LogView,
    pub overlay: Option<Overlay>,
    /// The dev-loop panel is shown in the log pane's place.
    pub show_loop: bool,
    /// The dev loop's history, oldest first (see `loops.rs`).
    loops: Vec<LoopRecord>,
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
            folds: HashMap::new(),
            list_rows: usize::MAX,
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
            show_loop: false,
            loops: Vec::new(),
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

    /// The engine's health as the daemon reports it (shown in the header while it is away).
    pub fn engine(&mut self, health: crate::protocol::EngineHealth) {
        if let Some(info) = self.info.as_mut() {
            info.engine = health;
        }
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
        let selected = self
            .services
            .get(self.selected)
            .map(|s| s.status.service.clone());
        let order = &self.tier_order;
        self.services.sort_by_cached_key(|s| {
            (
                tier_rank(s.status.tier.as_deref(), order),
                s.status.service.clone(),
            )
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

    // ----- input ----------------------------------------------------------------------------

    /// Apply a user action; what needs the daemon or the terminal comes back as a [`Command`].
    pub fn act(&mut self, action: Action, now_ms: u64) -> Option<Command> {
        self.dirty = true;
        match action {
            Action::Quit => return Some(Command::Quit),
            Action::SelectPrev => self.move_cursor(false),
            Action::SelectNext => self.move_cursor(true),
            Action::ToggleFocus => {
                if self.selected_group().is_some() {
                    // On a folded tier, Enter opens it.
                    let _ = self.toggle_tier();
                    return None;
                }
                match self.view.source {
                    LogSource::All => {
                        if let Some(id) = self.selected().map(|s| s.id) {
                            self.set_source(LogSource::Service(id));
                        }
                    }
                    LogSource::Service(_) => self.set_source(LogSource::All),
                }
            }
            Action::ToggleTier => {
                if let Err(why) = self.toggle_tier() {
                    self.message(why, now_ms);
                }
            }
            Action::ToggleAllTiers => {
                if let Err(why) = self.toggle_all_tiers() {
                    self.message(why, now_ms);
                }
            }
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
            Action::ToggleDevLoop => self.show_loop = !self.show_loop,
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
        if let Some(group) = self.selected_group() {
            let tier = group
                .tier
                .as_deref()
                .unwrap_or(crate::presentation::NO_TIER);
            self.message(format!("{tier} is folded: t or Enter opens it"), now_ms);
            return None;
        }
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
