//! The services panel: one row per service, under a heading per tier in the stack's tier order
//! (services without a tier form the last group), or one summary row per folded tier: state,
//! health, published ports, restarts, uptime, the last build and the detail. Columns are as wide
//! as what they hold; the uptime and the detail give way first when the terminal is narrow. The
//! selected service's detail is also in the border, whole.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Table};

use super::phase_style;
use crate::presentation::{NO_TIER, health_label, human_ms, state_label};
use crate::tui::app::{App, Entry, Group, ServiceRow, uptime_ms};

/// Columns, in order. `UP` and `DETAIL` are left out when the terminal is too narrow for them.
const HEADER: [&str; 8] = [
    "SERVICE",
    "STATE",
    "HEALTH",
    "PORTS",
    "RST",
    "UP",
    "LAST BUILD",
    "DETAIL",
];
const UP: usize = 5;
const DETAIL: usize = 7;
/// The detail column is shown only with at least this many columns for it.
const DETAIL_MIN: u16 = 12;

/// Rows the list needs: one per visible service, tier heading and folded tier.
pub fn rows_needed(app: &App) -> usize {
    app.entries().len()
}

fn dim() -> Style {
    Style::default().add_modifier(Modifier::DIM)
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, now_ms: u64) {
    let mut block = Block::bordered().title(Line::from(vec![Span::styled(
        " services ",
        Style::default().add_modifier(Modifier::BOLD),
    )]));
    let hint = match (app.selected(), app.selected_group()) {
        (Some(s), _) => s
            .status
            .detail
            .as_deref()
            .map(|d| d.lines().next().unwrap_or("").to_string()),
        (None, Some(g)) => Some(format!(
            "{} folded · t or Enter opens it",
            g.tier.as_deref().unwrap_or(NO_TIER)
        )),
        (None, None) => None,
    };
    if let Some(hint) = hint {
        block = block.title_bottom(Line::from(Span::styled(format!(" {hint} "), dim())));
    }

    let groups = app.groups();
    let indent = if app.has_tiers() { "  " } else { "" };
    let cursor = app.cursor();
    let mut lines: Vec<Cells> = Vec::new();
    let mut cursor_row = 0;
    for entry in app.entries() {
        if Some(entry) == cursor {
            cursor_row = lines.len();
        }
        let cells = match entry {
            Entry::Heading(gi) => groups.get(gi).map(|g| tier_cells(g, false)),
            Entry::Folded(gi) => groups.get(gi).map(|g| tier_cells(g, true)),
            Entry::Service(i) => app
                .services()
                .get(i)
                .map(|s| service_cells(app, s, indent, now_ms)),
        };
        if let Some(mut cells) = cells {
            if Some(entry) == cursor {
                cells.style = cells.style.add_modifier(Modifier::REVERSED);
            }
            lines.push(cells);
        }
    }

    let inner = area.width.saturating_sub(2);
    let widths = column_widths(app, &groups, indent, inner, now_ms);

    // Keep the cursor in view, centred when the list is longer than the panel.
    let visible = usize::from(area.height.saturating_sub(3)).max(1);
    let offset = cursor_row
        .saturating_sub(visible / 2)
        .min(lines.len().saturating_sub(visible));
    let shown = |cells: [Span<'static>; 8]| -> Vec<Cell<'static>> {
        cells
            .into_iter()
            .zip(widths.iter())
            .filter(|(_, w)| w.is_some())
            .map(|(span, _)| Cell::from(span))
            .collect()
    };
    let rows: Vec<Row> = lines
        .into_iter()
        .skip(offset)
        .take(visible)
        .map(|c| Row::new(shown(c.spans)).style(c.style))
        .collect();
    let header = Row::new(shown(HEADER.map(|h| Span::styled(h, dim()))));
    let constraints: Vec<Constraint> = widths.iter().flatten().copied().collect();
    let table = Table::new(rows, constraints)
        .header(header)
        .column_spacing(1)
        .block(block);
    frame.render_widget(table, area);
}

/// One row's cells and the row's style.
struct Cells {
    spans: [Span<'static>; 8],
    style: Style,
}

/// Each column's constraint, `None` for a column left out: every column as wide as its widest
/// cell; the uptime only if it fits, the detail only with room to spare (it takes the rest).
fn column_widths(
    app: &App,
    groups: &[Group],
    indent: &str,
    inner: u16,
    now_ms: u64,
) -> [Option<Constraint>; 8] {
    let mut widths: [u16; 8] = HEADER.map(|h| width(&Span::raw(h)));
    let mut grow = |cells: &[Span<'static>; 8]| {
        for (w, span) in widths.iter_mut().zip(cells.iter()) {
            *w = (*w).max(width(span));
        }
    };
    for s in app.services() {
        grow(&service_cells(app, s, indent, now_ms).spans);
    }
    for g in groups {
        grow(&tier_cells(g, true).spans);
    }
    // A very long name must not push the state off screen.
    widths[0] = widths[0].min((inner * 2 / 5).max(12));
    let spacing = |n: u16| n.saturating_sub(1);
    let required: Vec<usize> = (0..8).filter(|&i| i != UP && i != DETAIL).collect();
    let mut used: u16 = required.iter().map(|&i| widths[i]).sum::<u16>();
    let mut count = u16::try_from(required.len()).unwrap_or(u16::MAX);
    let mut out: [Option<Constraint>; 8] = [None; 8];
    for &i in &required {
        out[i] = Some(Constraint::Length(widths[i]));
    }
    if used + widths[UP] + spacing(count + 1) <= inner {
        out[UP] = Some(Constraint::Length(widths[UP]));
        used += widths[UP];
        count += 1;
    }
    let any_detail = app.services().iter().any(|s| s.status.detail.is_some());
    if any_detail && used + spacing(count + 1) + DETAIL_MIN <= inner {
        out[DETAIL] = Some(Constraint::Fill(1));
    }
    out
}

fn width(span: &Span) -> u16 {
    u16::try_from(span.width()).unwrap_or(u16::MAX)
}

/// A tier's heading (unfolded) or summary row (folded): its name and how many of its services
/// are up; folded, the count is coloured by how the tier is doing.
fn tier_cells(g: &Group, folded: bool) -> Cells {
    let name = g.tier.as_deref().unwrap_or(NO_TIER);
    let count = format!("{}/{} ready", g.good, g.len);
    let (arrow, count_style) = if folded {
        let style = if g.good == g.len {
            Style::default().fg(Color::Green)
        } else {
            Style::default().fg(Color::Yellow)
        };
        ("▸", style)
    } else {
        ("▾", dim())
    };
    let mut spans: [Span<'static>; 8] = Default::default();
    spans[0] = Span::styled(
        format!("{arrow} {name}"),
        Style::default()
            .fg(Color::Blue)
            .add_modifier(Modifier::BOLD),
    );
    spans[1] = Span::styled(count, count_style);
    Cells {
        spans,
        style: Style::default(),
    }
}

fn service_cells(app: &App, row: &ServiceRow, indent: &str, now_ms: u64) -> Cells {
    let s = &row.status;
    let dash = || Span::raw("—");
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
        Span::raw(
            s.ports
                .iter()
                .map(|p| p.host_port.to_string())
                .collect::<Vec<_>>()
                .join(","),
        )
    };
    let restart_style = if s.restarts > 0 {
        Style::default().fg(Color::Yellow)
    } else {
        Style::default()
    };
    let uptime = uptime_ms(s, now_ms)
        .map(|ms| Span::raw(human_ms(ms)))
        .unwrap_or_else(dash);
    let build = match app.last_build(&s.service) {
        Some(b) => {
            let took = b.took_ms.map(|t| format!("{} ", human_ms(t)));
            Span::styled(
                format!(
                    "{} {}{} ago",
                    if b.ok { "✓" } else { "✗" },
                    took.unwrap_or_default(),
                    ago(now_ms.saturating_sub(b.finished_ms))
                ),
                Style::default().fg(if b.ok { Color::Green } else { Color::Red }),
            )
        }
        None => dash(),
    };
    let detail = s
        .detail
        .as_deref()
        .and_then(|d| d.lines().next())
        .unwrap_or("")
        .to_string();
    Cells {
        spans: [
            Span::raw(format!("{indent}{}", s.service)),
            state,
            Span::raw(health_label(s)),
            ports,
            Span::styled(s.restarts.to_string(), restart_style),
            uptime,
            build,
            Span::styled(detail, dim()),
        ],
        style: Style::default(),
    }
}

/// How long ago, to the unit that matters: `12s`, `4m`, `3h`, `2d`.
fn ago(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3_599 => format!("{}m", s / 60),
        3_600..=172_799 => format!("{}h", s / 3_600),
        _ => format!("{}d", s / 86_400),
    }
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

    #[test]
    fn ages_are_given_to_the_unit_that_matters() {
        assert_eq!(ago(12_400), "12s");
        assert_eq!(ago(245_000), "4m");
        assert_eq!(ago(3 * 3_600_000 + 1), "3h");
        assert_eq!(ago(3 * 86_400_000), "3d");
    }
}
