//! The dev-loop panel (`d`, in the log pane's place): per service, how long a rebuild or restart
//! takes from the saved file (or the request) to the service ready again — the median of the
//! turns that ended ready, where that time goes (wait, build, package, replace, to ready), the
//! last turn, and a bar per turn for the last 20, so a slower loop shows at a glance.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Wrap};

use crate::presentation::human_ms;
use crate::protocol::{LoopOutcome, LoopRecord, LoopSummary};
use crate::tui::app::App;

/// Turns drawn as bars.
pub const BARS: usize = 20;
/// The bar column is left out below this many columns.
const BARS_MIN: u16 = 5;
const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

const HEADER: [&str; 9] = [
    "SERVICE", "TURNS", "MEDIAN", "WAIT", "BUILD", "PKG", "REPL", "READY", "LAST",
];
const TURNS: usize = 1;

fn dim() -> Style {
    Style::default().add_modifier(Modifier::DIM)
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let block = Block::bordered()
        .title(Line::from(vec![
            Span::styled(" dev loop ", Style::default().add_modifier(Modifier::BOLD)),
            Span::styled(
                "· saved (or asked) → ready · medians of the turns that ended ready ",
                dim(),
            ),
        ]))
        .title_bottom(Line::from(Span::styled(" d: back to the logs ", dim())));
    let services = app.loop_services();
    if services.is_empty() {
        let text = "No rebuild or restart recorded yet. They are recorded while the daemon \
                    watches: save a file of a service, or press r (rebuild) or R (restart).";
        frame.render_widget(
            Paragraph::new(Span::styled(text, dim()))
                .wrap(Wrap { trim: true })
                .block(block),
            area,
        );
        return;
    }
    let records = app.loop_records();
    let selected = app.selected().map(|s| s.status.service.as_str());
    let lines: Vec<([String; 9], Option<LoopOutcome>, &str)> = services
        .iter()
        .map(|service| {
            let summary = LoopSummary::of(service, records);
            let last = records.iter().rev().find(|r| &r.service == service);
            (
                cells(&summary, last),
                last.map(|r| r.outcome),
                service.as_str(),
            )
        })
        .collect();

    // Every column as wide as its widest cell; the bars take what is left (up to one per turn),
    // and the turn count gives way first when that is too little.
    let inner = area.width.saturating_sub(2);
    let mut widths: [u16; 9] = HEADER.map(width);
    for (texts, ..) in &lines {
        for (w, text) in widths.iter_mut().zip(texts.iter()) {
            *w = (*w).max(width(text));
        }
    }
    let fixed = |skip_turns: bool| -> u16 {
        widths
            .iter()
            .enumerate()
            .filter(|(i, _)| !(skip_turns && *i == TURNS))
            .map(|(_, w)| w + 1)
            .sum()
    };
    let skip_turns = inner.saturating_sub(fixed(false)) < BARS_MIN + 5;
    let room = inner.saturating_sub(fixed(skip_turns));
    let bars = usize::from(room).min(BARS);
    let keep = |i: usize| !(skip_turns && i == TURNS);

    let mut selected_row = 0;
    let mut rows: Vec<Row> = Vec::new();
    for (i, (texts, outcome, service)) in lines.into_iter().enumerate() {
        let mut row: Vec<Cell> = Vec::new();
        for (c, text) in texts.into_iter().enumerate().filter(|(c, _)| keep(*c)) {
            let style = match (c, outcome) {
                (8, Some(LoopOutcome::Ready)) => Style::default(),
                (8, Some(_)) => Style::default().fg(Color::Red),
                (2, _) => Style::default().add_modifier(Modifier::BOLD),
                _ => Style::default(),
            };
            row.push(Cell::from(Span::styled(text, style)));
        }
        if usize::from(room) >= usize::from(BARS_MIN) {
            row.push(Cell::from(sparkline(records, service, bars)));
        }
        let mut row = Row::new(row);
        if Some(service) == selected {
            selected_row = i;
            row = row.style(Style::default().add_modifier(Modifier::REVERSED));
        }
        rows.push(row);
    }
    let mut header: Vec<Cell> = HEADER
        .iter()
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .map(|(_, h)| Cell::from(Span::styled(*h, dim())))
        .collect();
    let mut constraints: Vec<Constraint> = widths
        .iter()
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .map(|(_, w)| Constraint::Length(*w))
        .collect();
    if usize::from(room) >= usize::from(BARS_MIN) {
        header.push(Cell::from(Span::styled(format!("LAST {bars}"), dim())));
        constraints.push(Constraint::Fill(1));
    }

    // Keep the selected service in view.
    let visible = usize::from(area.height.saturating_sub(3)).max(1);
    let offset = selected_row
        .saturating_sub(visible / 2)
        .min(rows.len().saturating_sub(visible));
    let rows: Vec<Row> = rows.into_iter().skip(offset).take(visible).collect();
    let table = Table::new(rows, constraints)
        .header(Row::new(header))
        .column_spacing(1)
        .block(block);
    frame.render_widget(table, area);
}

/// A service's row as text: name, turns, the medians, the last total (marked when it failed).
fn cells(s: &LoopSummary, last: Option<&LoopRecord>) -> [String; 9] {
    let ms = |v: Option<u64>| v.map(human_ms).unwrap_or_else(|| "—".into());
    let last = match last {
        Some(r) if r.outcome == LoopOutcome::Ready => human_ms(r.total_ms),
        Some(r) => format!("✗ {}", human_ms(r.total_ms)),
        None => "—".into(),
    };
    [
        s.service.clone(),
        s.count.to_string(),
        ms(s.median_total_ms),
        ms(s.median_wait_ms),
        ms(s.median_build_ms),
        ms(s.median_package_ms),
        ms(s.median_replace_ms),
        ms(s.median_ready_ms),
        last,
    ]
}

/// The last `n` turns' totals of `service` as bars, oldest left, from the shortest of them (the
/// lowest bar) to the longest (the highest): a loop that got a second slower stands out even
/// when every turn takes several. A turn that did not end ready is red.
fn sparkline(records: &[LoopRecord], service: &str, n: usize) -> Line<'static> {
    let mine: Vec<&LoopRecord> = records.iter().filter(|r| r.service == service).collect();
    let last = &mine[mine.len().saturating_sub(n)..];
    let low = last.iter().map(|r| r.total_ms).min().unwrap_or(0);
    let high = last.iter().map(|r| r.total_ms).max().unwrap_or(0);
    let top = LEVELS.len() - 1;
    let spans: Vec<Span> = last
        .iter()
        .map(|r| {
            let level = if high == low {
                top / 2
            } else {
                let span = high - low;
                let scaled = ((r.total_ms - low) * top as u64 + span / 2) / span;
                usize::try_from(scaled).unwrap_or(top).min(top)
            };
            let style = if r.outcome == LoopOutcome::Ready {
                Style::default().fg(Color::Cyan)
            } else {
                Style::default().fg(Color::Red)
            };
            Span::styled(LEVELS[level].to_string(), style)
        })
        .collect();
    Line::from(spans)
}

fn width(text: &str) -> u16 {
    u16::try_from(Span::raw(text).width()).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{LoopKind, LoopTrigger};
    use crate::tui::ui::testing::{NOW, full_nova, screen};

    pub fn record(service: &str, total: u64, outcome: LoopOutcome) -> LoopRecord {
        LoopRecord {
            service: service.into(),
            kind: LoopKind::Rebuild,
            trigger: LoopTrigger::FileChange,
            began_ms: NOW - 600_000,
            wait_ms: 150,
            build_ms: Some(total.saturating_sub(900)),
            package_ms: Some(120),
            replace_ms: Some(380),
            ready_ms: Some(250),
            total_ms: total,
            outcome,
            error: None,
        }
    }

    #[test]
    fn bars_span_the_shortest_to_the_longest_turn_and_failed_turns_are_red() {
        let records = vec![
            record("a", 1_000, LoopOutcome::Ready),
            record("b", 9_000, LoopOutcome::Ready),
            record("a", 4_000, LoopOutcome::BuildFailed),
            record("a", 2_000, LoopOutcome::Ready),
        ];
        let line = sparkline(&records, "a", 20);
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "▁█▃");
        assert_eq!(line.spans[1].style.fg, Some(Color::Red));
        assert_eq!(line.spans[0].style.fg, Some(Color::Cyan));
        let two: String = sparkline(&records, "a", 2)
            .spans
            .iter()
            .map(|s| s.content.to_string())
            .collect();
        assert_eq!(two, "█▁", "only the last n, on their own scale");
        let same = vec![record("c", 5_000, LoopOutcome::Ready); 3];
        let flat: String = sparkline(&same, "c", 20)
            .spans
            .iter()
            .map(|s| s.content.to_string())
            .collect();
        assert_eq!(flat, "▄▄▄", "equal turns: level bars mid-height");
    }

    #[test]
    fn the_selected_services_row_is_highlighted() {
        let mut app = full_nova();
        while app.selected().map(|s| s.status.service.as_str()) != Some("social-service") {
            app.act(crate::tui::input::Action::SelectNext, NOW);
        }
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 10)).expect("terminal");
        terminal
            .draw(|f| {
                let area = f.area();
                render(f, area, &app)
            })
            .expect("draw");
        let buffer = terminal.backend().buffer();
        let row_of = |name: &str| {
            (0..10u16)
                .find(|&y| {
                    let line: String = (0..100u16).map(|x| buffer[(x, y)].symbol()).collect();
                    line.contains(name)
                })
                .unwrap_or_else(|| panic!("{name} is listed"))
        };
        let reversed = |y: u16| buffer[(5, y)].modifier.contains(Modifier::REVERSED);
        assert!(reversed(row_of("social-service")));
        assert!(!reversed(row_of("identity-service")));
    }

    #[test]
    fn with_no_turn_yet_the_panel_says_how_they_come() {
        let mut app = full_nova();
        app.set_loop_history(Vec::new());
        let text = screen(80, 8, |f| {
            let area = f.area();
            render(f, area, &app)
        });
        assert!(
            text.contains("No rebuild or restart recorded yet"),
            "{text}"
        );
    }
}
