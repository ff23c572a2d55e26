//! `novadev status` on a terminal: a full-screen view of the project's daemon.
//!
//! This module owns the terminal (raw mode, alternate screen, mouse; restored on exit, on panic
//! and on SIGTERM/SIGINT/SIGHUP) and the run loop. Everything else reaches the loop as one typed
//! [`Msg`] over one channel: input (a task reading crossterm's event stream), daemon events and
//! log lines (tokio tasks reading the daemon's SSE streams), ticks, and the answers to control
//! requests. The loop is the single owner of the [`App`]: it applies each message, carries out
//! the commands the app returns, and draws only when the app is dirty — at most one frame per
//! [`FRAME_MS`], so a flood of log lines costs one frame, not one frame per line. No lock is held
//! anywhere; drawing reads the app the loop owns.
//!
//! Must not: change state itself (that is `app`), interpret keys (`input`), or lay out panels
//! (`ui`).

pub mod app;
pub mod input;
pub mod ui;

use std::collections::HashMap;
use std::io::{IsTerminal, Stdout};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossterm::event::{DisableMouseCapture, EnableMouseCapture, EventStream};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, sleep_until};

use crate::client::{Client, ClientError};
use crate::protocol::{
    EngineHealth, Event, Info, LogLine, LoopRecord, ServiceStatus, StatsResponse, now_ms,
};
use app::{App, Command, ControlAction};

/// Shortest time between two frames (a redraw is never more often than this).
pub const FRAME_MS: u64 = 33;
/// Time-based text (uptimes, notices) is refreshed this often when nothing else changes.
const TICK: Duration = Duration::from_secs(1);
/// Lines asked for when a service's log is first followed.
const INITIAL_TAIL: usize = 500;
/// Most log lines one message carries.
const LOG_BATCH_MAX: usize = 1024;
/// How long a service's log task gathers lines before handing them over.
const LOG_BATCH_WINDOW: Duration = Duration::from_millis(20);
/// Messages handled before a due frame is drawn, so input stays responsive under a log flood.
const DRAIN_MAX: usize = 512;

/// Everything the run loop reacts to.
#[derive(Debug)]
pub enum Msg {
    Input(crossterm::event::Event),
    Tick,
    /// The event stream is (re)open; the daemon's facts.
    Connected(Info),
    Disconnected(String),
    Status(Box<ServiceStatus>),
    Message(String),
    /// The engine stopped or started answering the daemon.
    Engine(EngineHealth),
    Logs(Vec<LogLine>),
    /// The daemon's connection info block.
    Connection(Box<crate::connection::ConnectionInfo>),
    /// The dev loop's history as the daemon keeps it (once per connection).
    LoopHistory(Vec<LoopRecord>),
    /// A turn of the dev loop that just ended.
    Loop(Box<LoopRecord>),
    ControlDone {
        service: String,
        action: ControlAction,
        result: Result<ServiceStatus, String>,
    },
    /// SIGTERM, SIGINT or SIGHUP, by number.
    Signal(i32),
    /// The terminal's input ended or failed: nobody can drive the TUI any more.
    InputClosed,
}

/// Whether `status` should open the TUI: only when stdout is a terminal.
pub fn wanted() -> bool {
    std::io::stdout().is_terminal()
}

/// Run the TUI against a daemon that answered, until the user quits (exit 0) or a signal ends it
/// (128 + the signal's number, as a shell reports it). The daemon keeps running.
pub async fn run(
    project: String,
    client: Client,
    info: Info,
    tier_order: Vec<String>,
) -> std::io::Result<ExitCode> {
    // The terminal first: nothing may read terminal input before it is set up.
    let mut terminal = TerminalGuard::enter()?;
    let (tx, mut rx) = mpsc::channel::<Msg>(1024);
    let mut background = Background {
        tasks: JoinSet::new(),
        tx,
        client,
        followers: HashMap::new(),
    };
    background.spawn(read_input);
    background.spawn(tick);
    background.spawn(signals);
    let events = background.client.clone();
    background.spawn(move |tx| follow_events(events, tx));

    let mut app = App::new(project, tier_order);
    app.connected(info);
    let result = event_loop(&mut terminal.terminal, &mut app, &mut rx, &mut background).await;
    drop(terminal);
    background.tasks.abort_all();
    result.map(ExitCode::from)
}

/// The tasks that feed the loop, and what it needs to start more.
struct Background {
    tasks: JoinSet<()>,
    tx: mpsc::Sender<Msg>,
    client: Client,
    /// Each service's log task, and the way to tell it its container started again.
    followers: HashMap<String, Arc<Notify>>,
}

impl Background {
    fn spawn<F, Fut>(&mut self, task: F)
    where
        F: FnOnce(mpsc::Sender<Msg>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task(self.tx.clone()));
    }

    /// Follow a service's log from now on (once per service).
    fn follow(&mut self, service: &str) {
        if self.followers.contains_key(service) {
            return;
        }
        let kick = Arc::new(Notify::new());
        self.followers.insert(service.to_string(), kick.clone());
        let (client, service) = (self.client.clone(), service.to_string());
        self.spawn(move |tx| follow_logs(client, service, kick, tx));
    }

    /// The service's container started again: its log task reopens the stream now.
    fn restarted(&self, service: &str) {
        if let Some(kick) = self.followers.get(service) {
            kick.notify_one();
        }
    }

    fn control(&mut self, service: String, action: ControlAction) {
        // Answers already delivered leave a finished task behind; collect them.
        while self.tasks.try_join_next().is_some() {}
        let client = self.client.clone();
        self.spawn(move |tx| control(client, service, action, tx));
    }
}

async fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    app: &mut App,
    rx: &mut mpsc::Receiver<Msg>,
    background: &mut Background,
) -> std::io::Result<u8> {
    let frame = Duration::from_millis(FRAME_MS);
    let mut last_draw = Instant::now() - frame;
    let mut areas = ui::fit(terminal.size()?.into(), app);
    loop {
        let due = last_draw + frame;
        if app.needs_redraw() && Instant::now() >= due {
            areas = ui::fit(terminal.size()?.into(), app);
            let now = now_ms();
            terminal.draw(|f| ui::draw(f, app, now))?;
            app.drawn();
            last_draw = Instant::now();
        }
        let msg = if app.needs_redraw() {
            // Changes are waiting for the next frame: collect more until it is due.
            tokio::select! {
                msg = rx.recv() => msg,
                _ = sleep_until(last_draw + frame) => continue,
            }
        } else {
            rx.recv().await
        };
        // Every sender lives in a task this loop owns; a closed channel cannot happen while it
        // runs, but if it did there would be nothing left to show.
        let Some(msg) = msg else {
            return Ok(0);
        };
        if let Some(code) = handle(msg, app, &areas, background) {
            return Ok(code);
        }
        for _ in 0..DRAIN_MAX {
            let Ok(msg) = rx.try_recv() else {
                break;
            };
            if let Some(code) = handle(msg, app, &areas, background) {
                return Ok(code);
            }
        }
    }
}

/// Apply one message. Returns the exit code when it ends the TUI.
fn handle(msg: Msg, app: &mut App, areas: &ui::Areas, background: &mut Background) -> Option<u8> {
    let now = now_ms();
    match msg {
        Msg::Input(event) => {
            if let crossterm::event::Event::Resize(..) = event {
                app.tick();
                return None;
            }
            // The wheel scrolls the log pane only while it is shown (not the dev loop).
            let log_area = if app.show_loop {
                ratatui::layout::Rect::default()
            } else {
                areas.logs
            };
            let action = input::map(&event, app.mode(), log_area)?;
            match app.act(action, now) {
                Some(Command::Quit) => return Some(0),
                Some(Command::Control { service, action }) => background.control(service, action),
                None => {}
            }
        }
        Msg::Tick => app.tick(),
        Msg::Connected(info) => app.connected(info),
        Msg::Connection(info) => app.set_connection(*info),
        Msg::LoopHistory(records) => app.set_loop_history(records),
        Msg::Loop(record) => app.push_loop(*record),
        Msg::Disconnected(why) => app.disconnected(why),
        Msg::Status(status) => {
            let service = status.service.clone();
            let applied = app.apply_status(*status);
            if applied.new {
                background.follow(&service);
            } else if applied.started {
                background.restarted(&service);
            }
        }
        Msg::Message(text) => app.message(text, now),
        Msg::Engine(health) => app.engine(health),
        Msg::Logs(lines) => app.push_logs(lines),
        Msg::ControlDone {
            service,
            action,
            result,
        } => app.control_done(&service, action, result, now),
        Msg::Signal(signo) => return Some(u8::try_from(128 + signo).unwrap_or(1)),
        Msg::InputClosed => return Some(1),
    }
    None
}

// ----- the terminal -----------------------------------------------------------------------------

/// Whether the terminal is in TUI mode (so the panic hook and the guard restore it only once).
static TERMINAL_TAKEN: AtomicBool = AtomicBool::new(false);

/// Puts the terminal back however the TUI ends: on drop, and from the panic hook.
struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    fn enter() -> std::io::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode()?;
        TERMINAL_TAKEN.store(true, Ordering::SeqCst);
        // From here on any early return restores the terminal.
        let restore_on_error = |e: std::io::Error| {
            restore_terminal();
            e
        };
        let mut stdout = std::io::stdout();
        // Cleared here rather than with `Terminal::clear`, which asks the terminal where the
        // cursor is and waits for the answer.
        execute!(
            stdout,
            EnterAlternateScreen,
            EnableMouseCapture,
            crossterm::terminal::Clear(crossterm::terminal::ClearType::All),
            crossterm::cursor::Hide
        )
        .map_err(restore_on_error)?;
        let terminal = Terminal::new(CrosstermBackend::new(stdout)).map_err(restore_on_error)?;
        Ok(TerminalGuard { terminal })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Leave raw mode, the alternate screen and mouse capture; show the cursor. Idempotent.
fn restore_terminal() {
    if TERMINAL_TAKEN.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(
            std::io::stdout(),
            DisableMouseCapture,
            LeaveAlternateScreen,
            crossterm::cursor::Show
        );
    }
}

/// Restore the terminal before a panic message is printed, so it is readable and the shell
/// usable. Installed once; chains to the hook that was there.
fn install_panic_hook() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));
}

// ----- the tasks --------------------------------------------------------------------------------

async fn read_input(tx: mpsc::Sender<Msg>) {
    let mut events = EventStream::new();
    while let Some(event) = events.next().await {
        match event {
            Ok(event) => {
                if tx.send(Msg::Input(event)).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx
                    .send(Msg::Disconnected(format!("terminal input: {e}")))
                    .await;
                return;
            }
        }
    }
}

async fn tick(tx: mpsc::Sender<Msg>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        if tx.send(Msg::Tick).await.is_err() {
            return;
        }
    }
}

async fn signals(tx: mpsc::Sender<Msg>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    let signo = tokio::select! {
        _ = term.recv() => 15,
        _ = int.recv() => 2,
        _ = hup.recv() => 1,
    };
    let _ = tx.send(Msg::Signal(signo)).await;
}

/// Backoff between reconnects to the daemon: doubles, capped.
fn next_backoff(current: Duration) -> Duration {
    (current * 2).min(Duration::from_secs(5))
}

/// The daemon's status events, reconnecting (with backoff) when the stream ends.
async fn follow_events(client: Client, tx: mpsc::Sender<Msg>) {
    let mut backoff = Duration::from_millis(250);
    let mut first = true;
    loop {
        match client.sse::<()>("/v1/events", None).await {
            Ok(stream) => {
                backoff = Duration::from_millis(250);
                // The connection block `up` prints, for the `c` overlay (absent before any `up`).
                if let Ok(info) = client
                    .get::<crate::connection::ConnectionInfo>("/v1/connection")
                    .await
                    && tx.send(Msg::Connection(Box::new(info))).await.is_err()
                {
                    return;
                }
                // The first connection's facts came with `connect`; a reconnect refreshes them.
                if !first
                    && let Ok(info) = client.get::<Info>("/v1/info").await
                    && tx.send(Msg::Connected(info)).await.is_err()
                {
                    return;
                }
                first = false;
                // The dev loop's history, fetched after the stream opened so that no turn falls
                // between the two (one in both is kept once).
                if let Ok(stats) = client.get::<StatsResponse>("/v1/stats").await
                    && tx.send(Msg::LoopHistory(stats.records)).await.is_err()
                {
                    return;
                }
                let mut stream = std::pin::pin!(stream);
                while let Some(message) = stream.next().await {
                    let Ok(message) = message else { break };
                    if message.event != "event" {
                        continue;
                    }
                    let msg = match serde_json::from_str::<Event>(&message.data) {
                        Ok(Event::Service { status, .. }) => Msg::Status(status),
                        Ok(Event::Message { text, .. }) => Msg::Message(text),
                        Ok(Event::Engine { health, .. }) => Msg::Engine(health),
                        Ok(Event::Loop { record, .. }) => Msg::Loop(record),
                        // Build output reaches the log pane through the log stream.
                        Ok(Event::Output { .. }) | Err(_) => continue,
                    };
                    if tx.send(msg).await.is_err() {
                        return;
                    }
                }
                if tx
                    .send(Msg::Disconnected("its event stream ended".into()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => {
                let why = match e {
                    ClientError::NotRunning(_) => "no daemon on the socket".to_string(),
                    other => other.to_string(),
                };
                if tx.send(Msg::Disconnected(why)).await.is_err() {
                    return;
                }
            }
        }
        sleep(backoff).await;
        backoff = next_backoff(backoff);
    }
}

/// One service's log, followed across container restarts: when the stream ends (the container
/// stopped), wait for a kick (the loop saw it start again) or a backoff, then reopen from the
/// last line seen, skipping lines already shown.
async fn follow_logs(client: Client, service: String, kick: Arc<Notify>, tx: mpsc::Sender<Msg>) {
    let mut last_seen: Option<chrono::DateTime<chrono::FixedOffset>> = None;
    let mut backoff = Duration::from_millis(500);
    loop {
        let path = match last_seen {
            None => format!("/v1/logs?services={service}&follow=true&tail={INITIAL_TAIL}"),
            Some(t) => format!(
                "/v1/logs?services={service}&follow=true&since={}",
                t.timestamp()
            ),
        };
        if let Ok(stream) = client.sse::<()>(&path, None).await {
            let mut stream = std::pin::pin!(stream);
            let mut open = true;
            while open {
                // One message per batch window, not per line: the loop wakes up a few dozen
                // times a second however fast the service logs.
                let Some(first) = stream.next().await else {
                    break;
                };
                let mut batch = vec![first];
                let window = Instant::now() + LOG_BATCH_WINDOW;
                while batch.len() < LOG_BATCH_MAX {
                    tokio::select! {
                        item = stream.next() => match item {
                            Some(item) => batch.push(item),
                            None => {
                                open = false;
                                break;
                            }
                        },
                        _ = sleep_until(window) => break,
                    }
                }
                let mut lines = Vec::with_capacity(batch.len());
                for message in batch {
                    let Ok(message) = message else { continue };
                    if message.event != "log" {
                        continue;
                    }
                    let Ok(line) = serde_json::from_str::<LogLine>(&message.data) else {
                        continue;
                    };
                    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&line.time) {
                        if last_seen.is_some_and(|seen| t <= seen) {
                            continue;
                        }
                        last_seen = Some(t);
                    }
                    lines.push(line);
                }
                if !lines.is_empty() {
                    backoff = Duration::from_millis(500);
                    if tx.send(Msg::Logs(lines)).await.is_err() {
                        return;
                    }
                }
            }
        }
        tokio::select! {
            _ = kick.notified() => {}
            _ = sleep(backoff) => backoff = next_backoff(backoff),
        }
        if tx.is_closed() {
            return;
        }
    }
}

async fn control(client: Client, service: String, action: ControlAction, tx: mpsc::Sender<Msg>) {
    let result = client
        .control(&service, action, None)
        .await
        .map_err(|e| match e {
            ClientError::Api { message, .. } => message,
            other => other.to_string(),
        });
    let _ = tx
        .send(Msg::ControlDone {
            service,
            action,
            result,
        })
        .await;
}
