//! User-facing output: deliberate lines, colored only on a terminal (anstream strips styles when
//! stdout is not a TTY or `NO_COLOR` is set), tables aligned by display width.

use anstyle::{AnsiColor, Color, Style};

use crate::orchestrator::status::Phase;

pub const BOLD: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();
pub const RED: Style = Style::new()
    .fg_color(Some(Color::Ansi(AnsiColor::Red)))
    .bold();
pub const GREEN: Style = Style::new().fg_color(Some(Color::Ansi(AnsiColor::Green)));
pub const YELLOW: Style = Style::new().fg_color(Some(Color::Ansi(AnsiColor::Yellow)));
pub const CYAN: Style = Style::new().fg_color(Some(Color::Ansi(AnsiColor::Cyan)));

/// `text` in `style` (styles are stripped later when color is off).
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

pub fn phase_style(phase: Phase) -> Style {
    match phase {
        Phase::Ready | Phase::Completed => GREEN,
        Phase::Failed
        | Phase::Unhealthy
        | Phase::Exited
        | Phase::BuildFailed
        | Phase::CrashLoop => RED,
        Phase::Pending | Phase::Waiting | Phase::Stopped => DIM,
        Phase::Pulling | Phase::Building | Phase::Creating | Phase::Starting => YELLOW,
    }
}

const SERVICE_COLORS: [AnsiColor; 6] = [
    AnsiColor::Cyan,
    AnsiColor::Magenta,
    AnsiColor::Blue,
    AnsiColor::Green,
    AnsiColor::Yellow,
    AnsiColor::BrightCyan,
];

/// A stable color per service name, for log prefixes.
pub fn service_style(service: &str) -> Style {
    let hash = service
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    let color = SERVICE_COLORS[(hash as usize) % SERVICE_COLORS.len()];
    Style::new().fg_color(Some(Color::Ansi(color)))
}

/// A table: header row plus rows, columns padded to the widest cell (by characters, ignoring
/// ANSI styles). The last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(visible_width(cell));
        }
    }
    let mut out = String::new();
    let render = |cells: Vec<String>, out: &mut String| {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths[i].saturating_sub(visible_width(cell)) + 2;
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    render(header.iter().map(|h| paint(BOLD, h)).collect(), &mut out);
    for row in rows {
        render(row.clone(), &mut out);
    }
    out
}

/// Width of a string as shown: characters outside ANSI escape sequences.
pub fn visible_width(s: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in s.chars() {
        if in_escape {
            if c.is_ascii_alphabetic() {
                in_escape = false;
            }
        } else if c == '\u{1b}' {
            in_escape = true;
        } else {
            width += 1;
        }
    }
    width
}

/// Milliseconds as a short human duration: `850ms`, `2.3s`, `4m05s`, `3h12m`, `2d4h`.
pub fn human_ms(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60),
        3_600_000..=86_399_999 => format!("{}h{:02}m", ms / 3_600_000, (ms / 60_000) % 60),
        _ => format!("{}d{}h", ms / 86_400_000, (ms / 3_600_000) % 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_ignoring_styles() {
        let rows = vec![
            vec![paint(GREEN, "db"), "ready".into()],
            vec!["webserver".into(), "failed".into()],
        ];
        let text = table(&["SERVICE", "STATE"], &rows);
        let plain: Vec<String> = text
            .lines()
            .map(|l| anstream::adapter::strip_str(l).to_string())
            .collect();
        assert_eq!(plain[0], "SERVICE    STATE");
        assert_eq!(plain[1], "db         ready");
        assert_eq!(plain[2], "webserver  failed");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_ms(850), "850ms");
        assert_eq!(human_ms(2_340), "2.3s");
        assert_eq!(human_ms(245_000), "4m05s");
        assert_eq!(human_ms(3 * 3_600_000 + 12 * 60_000), "3h12m");
    }

    #[test]
    fn service_colors_are_stable() {
        assert_eq!(service_style("db"), service_style("db"));
    }
}
