//! The services panel: one row per service, grouped under tier headings in the stack's tier
//! order (services without a tier form the last group): state, health, published ports,
//! restarts, uptime and the last build seen. The selected service's detail is in the border.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Table};

use super::phase_style;
use crate::presentation::{health_label, human_ms, state_label};
use crate::tui::app::{App, ServiceRow, uptime_ms};

const HEADER: [&str; 7] = ["SERVICE", "STATE", "HEALTH", "PORTS", "RST", "UP", "BUILD"];

/// Rows the list needs: one per service plus a heading per tier.
pub fn rows_needed(app: &App) -> usize {
    app.services().len() + groups(app).len()
}

/// The tier headings and the index of the first service under each (none without tiers).
fn groups(app: &App) -> Vec<(usize, String)> {
    if !app.has_tiers() {
        return Vec::new();
    }
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut last: Option<Option<&str>> = None;
    for (i, s) in app.services().iter().enumerate() {
        let tier = s.status.tier.as_deref();
        if last != Some(tier) {
            out.push((i, tier.unwrap_or("other").to_string()));
            last = Some(tier);
        }
    }
    out
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, now_ms: u64) {
    let dim = Style::default().add_modifier(Modifier::DIM);
    let mut block = Block::bordered().title(Line::from(vec![Span::styled(
        " services ",
        Style::default().add_modifier(Modifier::BOLD),
    )]));
    if let Some(detail) = app.selected().and_then(|s| s.status.detail.as_deref()) {
        let first = detail.lines().next().unwrap_or("");
        block = block.title_bottom(Line::from(Span::styled(format!(" {first} "), dim)));
    }
    let indent = if app.has_tiers() { "  " } else { "" };
    let groups = groups(app);
    let mut rows: Vec<Row> = Vec::new();
    let mut selected_row = 0;
    for (i, service) in app.services().iter().enumerate() {
        if let Some((_, tier)) = groups.iter().find(|(first, _)| *first == i) {
            rows.push(Row::new([Cell::from(Span::styled(
                tier.clone(),
                Style::default()
                    .fg(Color::Blue)
                    .add_modifier(Modifier::BOLD),
            ))]));
        }
        if i == app.selected_index() {
            selected_row = rows.len();
        }
        rows.push(service_row(
            app,
            service,
            indent,
            i == app.selected_index(),
            now_ms,
        ));
    }
    // Keep the selection in view, centred when the list is longer than the panel.
    let visible = usize::from(area.height.saturating_sub(3)).max(1);
    let offset = selected_row
        .saturating_sub(visible / 2)
        .min(rows.len().saturating_sub(visible));
    let rows: Vec<Row> = rows.into_iter().skip(offset).take(visible).collect();
    let header = Row::new(HEADER.map(|h| Cell::from(Span::styled(h, dim))));
    let widths = [
        Constraint::Min(14),
        Constraint::Length(12),
        Constraint::Length(9),
        Constraint::Length(11),
        Constraint::Length(3),
        Constraint::Length(6),
        Constraint::Length(11),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .block(block);
    frame.render_widget(table, area);
}

fn service_row<'a>(
    app: &App,
    row: &'a ServiceRow,
    indent: &str,
    selected: bool,
    now_ms: u64,
) -> Row<'a> {
    let s = &row.status;
    let dash = || "—".to_string();
    let state = match app.pending(&s.service) {
        Some(action) => Span::styled(
            format!("{}…", action.as_str()),
            Style::default().fg(Color::Yellow),
        ),
        None => Span::styled(state_label(s), phase_style(s.phase)),
    };
    let ports = if s.ports.is_empty() {
        dash()
    } else {
        s.ports
            .iter()
            .map(|p| p.host_port.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let restarts = s.restarts.to_string();
    let uptime = uptime_ms(s, now_ms).map(human_ms).unwrap_or_else(dash);
    let build = match row.build {
        Some(b) => Span::styled(
            format!(
                "{} {} ago",
                if b.ok { "✓" } else { "✗" },
                human_ms(now_ms.saturating_sub(b.finished_ms))
            ),
            Style::default().fg(if b.ok { Color::Green } else { Color::Red }),
        ),
        None => Span::raw(dash()),
    };
    let restart_style = if s.restarts > 0 {
        Style::default().fg(Color::Yellow)
    } else {
        Style::default()
    };
    let style = if selected {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default()
    };
    Row::new([
        Cell::from(format!("{indent}{}", s.service)),
        Cell::from(state),
        Cell::from(health_label(s)),
        Cell::from(ports),
        Cell::from(Span::styled(restarts, restart_style)),
        Cell::from(uptime),
        Cell::from(build),
    ])
    .style(style)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Phase;
    use crate::tui::app::App;
    use crate::tui::input::Action;
    use crate::tui::ui::testing::{NOW, nova, screen, status};

    fn draw(app: &App, width: u16, height: u16) -> String {
        screen(width, height, |f| {
            let area = f.area();
            render(f, area, app, NOW)
        })
    }

    #[test]
    fn services_are_grouped_by_tier_with_state_health_ports_and_build() {
        let app = nova();
        insta::assert_snapshot!(draw(&app, 80, 14));
    }

    #[test]
    fn a_short_panel_scrolls_to_keep_the_selection_in_view() {
        let mut app = nova();
        for _ in 0..5 {
            app.act(Action::SelectNext, NOW);
        }
        insta::assert_snapshot!(draw(&app, 80, 7));
    }

    #[test]
    fn without_tiers_the_list_has_no_headings() {
        let mut app = App::new("plain", Vec::new());
        app.apply_status(status("web", Phase::Ready, None));
        app.apply_status(status("db", Phase::Waiting, None));
        assert_eq!(rows_needed(&app), 2);
        insta::assert_snapshot!(draw(&app, 80, 6));
    }

    #[test]
    fn a_pending_action_shows_in_the_state_column() {
        let mut app = nova();
        app.act(Action::Restart, NOW);
        let screen = draw(&app, 80, 14);
        assert!(screen.contains("restart…"), "{screen}");
    }
}
