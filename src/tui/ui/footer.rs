//! The footer line: the filter prompt while typing one, else the latest notice (an action's
//! result, an error), else the main keys.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::tui::app::App;

/// The keys that fit in 80 columns; `?` shows the rest.
const KEYS: [(&str, &str); 7] = [
    ("⏎", "logs"),
    ("r", "rebuild"),
    ("R", "restart"),
    ("s", "stop/start"),
    ("/", "filter"),
    ("c", "conn"),
    ("?", "help"),
];

pub fn render(frame: &mut Frame, area: Rect, app: &App, now_ms: u64) {
    let line = if let Some(prompt) = &app.prompt {
        Line::from(vec![
            Span::styled("filter /", Style::default().fg(Color::Yellow)),
            Span::raw(prompt.as_str()),
            Span::styled("█", Style::default().add_modifier(Modifier::SLOW_BLINK)),
            Span::styled(
                "   regex · ⏎ apply · Esc cancel",
                Style::default().add_modifier(Modifier::DIM),
            ),
        ])
    } else if let Some(notice) = app.current_notice(now_ms) {
        let style = if notice.error {
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(Color::Cyan)
        };
        Line::from(Span::styled(notice.text.as_str(), style))
    } else {
        let mut spans = Vec::new();
        for (key, what) in KEYS {
            spans.push(Span::styled(
                key,
                Style::default().add_modifier(Modifier::BOLD),
            ));
            spans.push(Span::styled(
                format!(" {what}  "),
                Style::default().add_modifier(Modifier::DIM),
            ));
        }
        spans.push(Span::styled(
            "q",
            Style::default().add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::styled(
            " quit",
            Style::default().add_modifier(Modifier::DIM),
        ));
        Line::from(spans)
    };
    frame.render_widget(Paragraph::new(line), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::input::Action;
    use crate::tui::ui::testing::{NOW, nova, screen};

    fn draw(app: &App, now_ms: u64) -> String {
        screen(80, 1, |f| {
            let area = f.area();
            render(f, area, app, now_ms)
        })
    }

    #[test]
    fn footer_lists_the_keys_then_notices_then_the_prompt() {
        let mut app = nova();
        let keys = draw(&app, NOW);
        app.act(Action::Restart, NOW);
        let notice = draw(&app, NOW + 1_000);
        let expired = draw(&app, NOW + 60_000);
        app.act(Action::OpenFilter, NOW);
        for c in "timeout|5\\d\\d".chars() {
            app.act(Action::PromptChar(c), NOW);
        }
        let prompt = draw(&app, NOW);
        insta::assert_snapshot!(format!("{keys}\n{notice}\n{expired}\n{prompt}"));
    }
}
