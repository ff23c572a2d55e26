//! The help overlay (`?`): every key.

use super::popup;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

/// (keys, what they do); an empty pair is a blank line.
pub const KEYS: [(&str, &str); 18] = [
    ("↑ ↓  k j", "select a service (or a folded tier)"),
    ("t  T", "fold / unfold its tier, every tier"),
    ("Enter", "logs: selected service ↔ all services"),
    ("r", "rebuild the selected service"),
    ("R", "restart it"),
    ("s", "stop it, or start it when stopped"),
    ("c", "connection info"),
    ("d", "dev loop: rebuild and restart timings"),
    ("", ""),
    ("/", "filter logs (regex; neighbours shown)"),
    ("e  E", "next / previous error line"),
    ("PgUp PgDn  wheel", "scroll the logs"),
    ("g  Home", "oldest line"),
    ("G  End  f", "follow the newest line"),
    ("Esc", "clear highlight, then filter"),
    ("", ""),
    ("?", "this help"),
    ("q  Ctrl-C", "quit (the daemon keeps running)"),
];

pub fn render(frame: &mut Frame, area: Rect) {
    let key_width = KEYS
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(
                    format!(" {key:<key_width$}  "),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(*what),
            ])
        })
        .collect();
    let width = KEYS
        .iter()
        .map(|(_, w)| w.chars().count())
        .max()
        .unwrap_or(0)
        + key_width
        + 6;
    popup(frame, area, " keys · Esc closes ", lines, width);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::ui::testing::screen;

    #[test]
    fn help_lists_every_key() {
        insta::assert_snapshot!(screen(64, 20, |f| {
            let area = f.area();
            render(f, area)
        }));
    }
}
