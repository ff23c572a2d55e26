//! Figures, not a pass/fail test: the TUI's state and drawing under 10 000 log lines a second
//! spread over eight services, paced in real time the way the run loop sees them (a batch every
//! 10 ms, a frame at most every 33 ms when something changed). Prints the time to store a line,
//! the time to draw a frame, the CPU this thread used per second of wall time, and the memory the
//! buffers settle at. See the figures with
//! `cargo test --test tui_throughput -- --nocapture` (add `--release` for optimised numbers).
//!
//! Its own test binary so nothing else runs in the process while it measures.

use std::time::{Duration, Instant};

use novadev::protocol::LogLine;
use novadev::protocol::{Phase, ServiceStatus};
use novadev::tui::app::{ALL_LOG_CAP, App, SERVICE_LOG_CAP};
use novadev::tui::input::Action;
use novadev::tui::{FRAME_MS, ui};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

const SERVICES: [&str; 8] = [
    "redis-master",
    "postgres",
    "kafka",
    "auth-service",
    "social-service",
    "chat-service",
    "media-service",
    "gateway",
];
const RATE: usize = 10_000;
const BATCH_EVERY: Duration = Duration::from_millis(10);
const PHASE: Duration = Duration::from_secs(2);

/// CPU time of the calling thread (Linux: the first field of its schedstat, in ns).
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// Resident memory of the process, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn line(i: usize) -> LogLine {
    let service = SERVICES[i % SERVICES.len()];
    let text = if i.is_multiple_of(997) {
        format!("ERROR request {i} failed: upstream timed out after 30s (attempt 3/3)")
    } else {
        format!(
            "2024-05-01T12:00:00.{:06}Z INFO request id={i} method=GET path=/api/v1/items/{} status=200 took=3ms",
            i % 1_000_000,
            i % 4096
        )
    };
    LogLine {
        service: service.to_string(),
        stream: "stdout".into(),
        time: String::new(),
        text,
        truncated: false,
    }
}

struct Figures {
    lines: usize,
    frames: usize,
    push: Duration,
    draws: Vec<Duration>,
    cpu: Duration,
    wall: Duration,
}

impl Figures {
    fn print(&self, what: &str) {
        let mut draws = self.draws.clone();
        draws.sort();
        let pct = |p: f64| {
            draws
                .get(((draws.len() as f64 - 1.0) * p).round() as usize)
                .copied()
                .unwrap_or_default()
        };
        let mean = draws.iter().sum::<Duration>() / u32::try_from(draws.len().max(1)).unwrap_or(1);
        println!(
            "{what}: {} lines in {:.2}s ({:.0} lines/s), {} frames\n  store: {:.2} µs/line\n  draw:  mean {:.2} ms · p50 {:.2} ms · p99 {:.2} ms · max {:.2} ms per frame\n  cpu:   {:.1}% of one core (store + draw, this thread)",
            self.lines,
            self.wall.as_secs_f64(),
            self.lines as f64 / self.wall.as_secs_f64(),
            self.frames,
            self.push.as_secs_f64() * 1e6 / self.lines.max(1) as f64,
            mean.as_secs_f64() * 1e3,
            pct(0.5).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            draws.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
            self.cpu.as_secs_f64() * 100.0 / self.wall.as_secs_f64(),
        );
    }
}

/// Feed lines at `RATE` for `PHASE`, drawing as the run loop would.
fn paced(app: &mut App, terminal: &mut Terminal<TestBackend>, first: usize) -> Figures {
    let per_batch = RATE * BATCH_EVERY.as_millis() as usize / 1000;
    let batches = (PHASE.as_millis() / BATCH_EVERY.as_millis()) as usize;
    // Made beforehand: the lines come parsed from the SSE tasks, not from this loop.
    let mut input: Vec<Vec<LogLine>> = (0..batches)
        .map(|b| {
            (0..per_batch)
                .map(|i| line(first + b * per_batch + i))
                .collect()
        })
        .collect();
    input.reverse();
    let frame = Duration::from_millis(FRAME_MS);
    let area = Rect::new(0, 0, 160, 48);
    let mut figures = Figures {
        lines: 0,
        frames: 0,
        push: Duration::ZERO,
        draws: Vec::new(),
        cpu: Duration::ZERO,
        wall: Duration::ZERO,
    };
    let cpu0 = thread_cpu();
    let start = Instant::now();
    let mut last_draw = start - frame;
    for b in 0..batches {
        let due = start + BATCH_EVERY * u32::try_from(b).unwrap_or(0);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let batch = input.pop().unwrap_or_default();
        figures.lines += batch.len();
        let t = Instant::now();
        app.push_logs(batch);
        figures.push += t.elapsed();
        if app.needs_redraw() && last_draw.elapsed() >= frame {
            let t = Instant::now();
            let areas = ui::layout(area, app);
            app.set_log_rows(areas.log_rows());
            terminal
                .draw(|f| ui::draw(f, app, 1_700_000_000_000))
                .expect("draw");
            app.drawn();
            figures.draws.push(t.elapsed());
            figures.frames += 1;
            last_draw = Instant::now();
        }
    }
    figures.wall = start.elapsed();
    figures.cpu = thread_cpu() - cpu0;
    figures
}

#[test]
fn ten_thousand_lines_a_second_figures() {
    let rss_before = rss_kib();
    let mut app = App::new("bench", Vec::new());
    for s in SERVICES {
        let mut status = ServiceStatus::new(s);
        status.phase = Phase::Ready;
        app.apply_status(status);
    }
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("terminal");

    let following = paced(&mut app, &mut terminal, 0);
    following.print("all services, following");

    app.set_filter("error|timed out").expect("pattern");
    let filtered = paced(&mut app, &mut terminal, following.lines);
    filtered.print("all services, filter /error|timed out/ with neighbours");

    app.set_filter("").expect("clear");
    app.act(Action::ToggleFocus, 0);
    app.act(Action::ScrollUp(500), 0);
    let paused = paced(&mut app, &mut terminal, following.lines + filtered.lines);
    paused.print("one service, scrolled back (paused)");

    // Unpaced: how many lines a second storing alone could take.
    let burst: Vec<LogLine> = (0..200_000).map(line).collect();
    let t = Instant::now();
    for chunk in burst.chunks(256) {
        app.push_logs(chunk.to_vec());
    }
    let took = t.elapsed();
    drop(burst);
    println!(
        "unpaced store: 200000 lines in {:.0} ms ({:.0} lines/s; includes cloning the input)",
        took.as_secs_f64() * 1e3,
        200_000.0 / took.as_secs_f64()
    );
    let (lines, bytes) = app.log_memory();
    println!(
        "buffers: {lines} distinct lines held, {:.1} MiB (all view {} lines, cap {ALL_LOG_CAP}; {} services × cap {SERVICE_LOG_CAP}); process RSS {} KiB → {} KiB (includes the test's own input)",
        bytes as f64 / (1024.0 * 1024.0),
        app.all_ring().len(),
        SERVICES.len(),
        rss_before,
        rss_kib()
    );
    assert!(lines <= ALL_LOG_CAP + SERVICES.len() * SERVICE_LOG_CAP);
    assert_eq!(app.all_ring().len(), ALL_LOG_CAP);
}
