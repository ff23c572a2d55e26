//! The header: project, stack file(s), daemon uptime, engine version, how many services are
//! ready, and whether the daemon still answers.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::presentation::human_ms;
use crate::tui::app::App;

pub const HEIGHT: u16 = 2;

pub fn render(frame: &mut Frame, area: Rect, app: &App, now_ms: u64) {
    let dim = Style::default().add_modifier(Modifier::DIM);
    let mut first = vec![
        Span::styled(
            " novadev ",
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        ),
        Span::raw(" project "),
        Span::styled(
            app.project.as_str(),
            Style::default().add_modifier(Modifier::BOLD),
        ),
    ];
    if let Some(info) = &app.info {
        first.push(Span::styled(" · ", dim));
        first.push(Span::raw(format!(
            "daemon up {}",
            human_ms(now_ms.saturating_sub(info.started_ms))
        )));
        first.push(Span::styled(" · ", dim));
        first.push(Span::raw(format!("engine {}", info.engine_version)));
    }
    let services = app.services();
    if !services.is_empty() {
        let good = services.iter().filter(|s| s.status.phase.is_good()).count();
        let color = if good == services.len() {
            Color::Green
        } else {
            Color::Yellow
        };
        first.push(Span::styled(" · ", dim));
        first.push(Span::styled(
            format!("{good}/{} ready", services.len()),
            Style::default().fg(color),
        ));
    }
    let alarm = Style::default().fg(Color::Red).add_modifier(Modifier::BOLD);
    let engine_away = app
        .info
        .as_ref()
        .map(|i| &i.engine)
        .filter(|e| !e.reachable);
    let stack_error = app.info.as_ref().and_then(|i| i.stack_error.as_deref());
    let second = match (&app.disconnected, engine_away) {
        (Some(why), _) => Line::from(vec![Span::styled(
            format!(" daemon not answering ({why}); retrying"),
            alarm,
        )]),
        (None, Some(engine)) => Line::from(vec![Span::styled(
            format!(
                " the Docker engine does not answer (for {}): what is shown may be stale",
                human_ms(now_ms.saturating_sub(engine.unreachable_since_ms.unwrap_or(now_ms)))
            ),
            alarm,
        )]),
        (None, None) if stack_error.is_some() => Line::from(vec![Span::styled(
            format!(
                " the stack files changed but do not load (the running stack is kept): {}",
                stack_error
                    .and_then(|e| e.lines().find(|l| !l.trim().is_empty()))
                    .unwrap_or_default()
                    .trim()
            ),
            Style::default().fg(Color::Yellow),
        )]),
        (None, None) => {
            let files = app
                .info
                .as_ref()
                .map(|i| i.stack_files.join(", "))
                .filter(|f| !f.is_empty())
                .unwrap_or_else(|| "—".into());
            Line::from(vec![Span::styled(" stack ", dim), Span::raw(files)])
        }
    };
    frame.render_widget(Paragraph::new(vec![Line::from(first), second]), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::ui::testing::{NOW, nova, screen};

    #[test]
    fn header_shows_project_stack_uptime_and_engine() {
        let app = nova();
        insta::assert_snapshot!(screen(80, HEIGHT, |f| render_header(f, &app)));
    }

    #[test]
    fn header_says_when_the_daemon_stops_answering() {
        let mut app = nova();
        app.disconnected("connection refused");
        insta::assert_snapshot!(screen(80, HEIGHT, |f| render_header(f, &app)));
    }

    #[test]
    fn header_says_when_the_engine_is_away() {
        let mut app = nova();
        app.engine(crate::protocol::EngineHealth {
            reachable: false,
            unreachable_since_ms: Some(NOW - 12_000),
            last_outage_ms: None,
            error: Some("connection refused".into()),
        });
        let text = screen(80, HEIGHT, |f| render_header(f, &app));
        assert!(
            text.contains("the Docker engine does not answer (for 12.0s)"),
            "{text}"
        );
    }

    fn render_header(f: &mut Frame, app: &App) {
        let area = f.area();
        render(f, area, app, NOW);
    }
}
