//! The connection overlay (`c`): how to reach each service from the host, and the common
//! commands. The block comes from [`connection_info`].

use super::popup;
use crate::tui::app::{App, connection_info};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let dim = Style::default().add_modifier(Modifier::DIM);
    let project = &app.project;
    let mut lines: Vec<Line> = Vec::new();
    if let Some(info) = &app.connection {
        // The daemon's block: the same one `up` prints.
        for line in crate::connection::render_text(info).lines() {
            let styled = if !line.starts_with(' ') && !line.is_empty() {
                Span::styled(format!(" {line}"), bold)
            } else if line.trim_start().starts_with("novadev") {
                Span::styled(format!(" {line}"), dim)
            } else {
                Span::raw(format!(" {line}"))
            };
            lines.push(Line::from(styled));
        }
    } else {
        lines.extend(
            connection_info(app.services())
                .into_iter()
                .map(|l| Line::from(format!(" {l}"))),
        );
        lines.push(Line::raw(""));
        lines.push(Line::from(Span::styled(" commands", bold)));
        for command in [
            format!("novadev -p {project} logs SERVICE -f"),
            format!("novadev -p {project} restart SERVICE"),
            format!("novadev -p {project} status --plain"),
            format!("novadev -p {project} down"),
        ] {
            lines.push(Line::from(Span::styled(format!("   {command}"), dim)));
        }
    }
    let width = lines.iter().map(Line::width).max().unwrap_or(0) + 3;
    popup(frame, area, " connection · Esc closes ", lines, width);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::ui::testing::{nova, screen};

    #[test]
    fn connection_lists_published_ports_and_commands() {
        let app = nova();
        insta::assert_snapshot!(screen(64, 14, |f| {
            let area = f.area();
            render(f, area, &app)
        }));
    }
}
