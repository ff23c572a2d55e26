//! The log pane: the selected service's lines or everyone's (each prefixed with its service in
//! that service's color), following the newest line or paused where the user scrolled; with a
//! filter, only matching lines and their neighbours, gaps marked. Error-looking lines are red, the
//! line an error jump landed on is reversed.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::service_style;
use crate::tui::app::{App, LogSource, LogStream, Row, is_error_line};

/// The service prefix in the "all" view is at most this wide.
const PREFIX_MAX: usize = 18;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let dim = Style::default().add_modifier(Modifier::DIM);
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let source = match app.view.source {
        LogSource::All => "all services".to_string(),
        LogSource::Service(id) => app.service_name(id).to_string(),
    };
    let mut title = vec![Span::styled(format!(" logs · {source} "), bold)];
    if let Some(f) = &app.view.filter {
        title.push(Span::styled(
            format!(
                " /{}/ {} match{} ",
                f.pattern,
                f.match_count(),
                if f.match_count() == 1 { "" } else { "es" }
            ),
            Style::default().fg(Color::Yellow),
        ));
    }
    let position = if app.view.following() {
        Span::styled(" following ", dim)
    } else {
        Span::styled(
            format!(" paused · {} below · End follows ", app.lines_below()),
            Style::default().fg(Color::Yellow),
        )
    };
    let block = Block::bordered()
        .title(Line::from(title))
        .title(Line::from(position).right_aligned());

    let ring = app.source_ring();
    let all = app.view.source == LogSource::All;
    let width = if all {
        app.services()
            .iter()
            .map(|s| s.status.service.chars().count())
            .max()
            .unwrap_or(0)
            .min(PREFIX_MAX)
    } else {
        0
    };
    let mut lines: Vec<Line> = Vec::new();
    for row in app.log_window() {
        let pos = match row {
            Row::Gap => {
                lines.push(Line::from(Span::styled("┄┄┄", dim)));
                continue;
            }
            Row::Line(pos) => pos,
        };
        let Some(record) = ring.get(pos) else {
            continue;
        };
        let mut spans = Vec::with_capacity(3);
        if all {
            let name = app.service_name(record.service);
            let name: String = name.chars().take(width).collect();
            spans.push(Span::styled(
                format!("{name:>width$} "),
                service_style(app.service_name(record.service)),
            ));
            spans.push(Span::styled("│ ", dim));
        }
        let text_style = if is_error_line(&record.text) {
            Style::default().fg(Color::Red)
        } else if record.stream == LogStream::Novadev {
            Style::default().fg(Color::Cyan)
        } else {
            Style::default()
        };
        spans.push(Span::styled(&*record.text, text_style));
        let mut line = Line::from(spans);
        if app.view.highlight == Some(pos) {
            line = line.style(Style::default().add_modifier(Modifier::REVERSED));
        }
        lines.push(line);
    }
    if lines.is_empty() {
        let empty = if app.view.filter.is_some() {
            "no line matches the filter (Esc clears it)"
        } else {
            "no log lines yet"
        };
        lines.push(Line::from(Span::styled(empty, dim)));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::input::Action;
    use crate::tui::ui::testing::{NOW, log, nova, screen};

    fn draw(app: &mut App, width: u16, height: u16) -> String {
        app.set_log_rows(usize::from(height - 2));
        screen(width, height, |f| {
            let area = f.area();
            render(f, area, app)
        })
    }

    #[test]
    fn all_view_prefixes_each_line_with_its_service() {
        let mut app = nova();
        insta::assert_snapshot!(draw(&mut app, 80, 10));
    }

    #[test]
    fn service_view_shows_only_that_service_without_prefix() {
        let mut app = nova();
        // The selection starts at the first service (redis-master); move to chat-service.
        while app.selected().map(|s| s.status.service.as_str()) != Some("chat-service") {
            app.act(Action::SelectNext, NOW);
        }
        app.act(Action::ToggleFocus, NOW);
        insta::assert_snapshot!(draw(&mut app, 80, 6));
    }

    #[test]
    fn filter_shows_matches_with_neighbours_and_marks_gaps() {
        let mut app = nova();
        let lines = (0..30)
            .map(|i| {
                let text = if i == 8 || i == 20 {
                    format!("request {i} took 950ms SLOW")
                } else {
                    format!("request {i} ok")
                };
                log("social-service", &text)
            })
            .collect();
        app.push_logs(lines);
        app.set_filter("slow").expect("valid pattern");
        insta::assert_snapshot!(draw(&mut app, 80, 14));
    }

    #[test]
    fn paused_view_says_how_many_lines_are_below() {
        let mut app = nova();
        app.push_logs(
            (0..40)
                .map(|i| log("kafka", &format!("line {i}")))
                .collect(),
        );
        app.set_log_rows(8);
        app.act(Action::ScrollUp(10), NOW);
        app.push_logs(vec![log("kafka", "newer")]);
        insta::assert_snapshot!(draw(&mut app, 80, 10));
    }

    #[test]
    fn error_jump_highlights_the_line() {
        let mut app = nova();
        app.set_log_rows(8);
        app.act(Action::PrevError, NOW);
        assert!(app.view.highlight.is_some());
        insta::assert_snapshot!(draw(&mut app, 80, 10));
        // Text snapshots carry no style: check the highlight and the red in the buffer.
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 10)).expect("terminal");
        terminal
            .draw(|f| {
                let area = f.area();
                render(f, area, &app)
            })
            .expect("draw");
        let buffer = terminal.backend().buffer();
        let row_of = |needle: &str| {
            (0..10u16)
                .find(|y| {
                    let text: String = (0..80u16).map(|x| buffer[(x, *y)].symbol()).collect();
                    text.contains(needle)
                })
                .expect("line on screen")
        };
        let hit = row_of("ERROR: could not connect");
        assert!(buffer[(20, hit)].modifier.contains(Modifier::REVERSED));
        assert_eq!(buffer[(20, hit)].fg, Color::Red);
        let other = row_of("GET /health");
        assert!(!buffer[(20, other)].modifier.contains(Modifier::REVERSED));
    }
}
