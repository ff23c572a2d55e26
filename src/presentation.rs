//! What the CLI and the TUI both show the same way: the styles of phases and services, a
//! service's state and health in words, the order of tiers, short durations, and container output
//! made safe for a terminal. Knows nothing of either front end (both depend on it, never the other
//! way round).

use anstyle::{AnsiColor, Color, Style};

use crate::protocol::{Phase, ServiceFailure, ServiceStatus};

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

/// A service's state as shown: the phase, or the failure when it names a condition the phase
/// does not (a failed build).
pub fn state_label(s: &ServiceStatus) -> &'static str {
    match (s.phase, &s.failure) {
        (Phase::CrashLoop, _) => "crash-loop",
        (Phase::BuildFailed, _) | (_, Some(ServiceFailure::Build { .. })) => "build failed",
        (phase, _) => phase.as_str(),
    }
}

/// The healthcheck's verdict, or "—" for a service without one (or without a running container).
pub fn health_label(s: &ServiceStatus) -> &'static str {
    if !s.has_healthcheck {
        return "—";
    }
    match s.phase {
        Phase::Ready => "healthy",
        Phase::Unhealthy => "unhealthy",
        Phase::Starting => "starting",
        _ => "—",
    }
}

/// Where a tier goes in the display order, as a sort key: the stack's tiers in their order, then
/// tiers the stack does not list (by name), then the services without a tier.
pub fn tier_rank(tier: Option<&str>, order: &[String]) -> (usize, String) {
    match tier {
        Some(t) => match order.iter().position(|o| o == t) {
            Some(i) => (i, String::new()),
            None => (order.len(), t.to_string()),
        },
        None => (usize::MAX, String::new()),
    }
}

/// The heading of the services without a tier, in a list that has tiers.
pub const NO_TIER: &str = "other";

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

/// Container output as shown on a terminal: escape sequences of every kind dropped (colours,
/// cursor moves, and the dangerous ones: titles, clipboard writes, hyperlinks), tabs expanded,
/// other control characters dropped, cut at `max_chars` (ending in `…`). Returns the input
/// untouched when it is clean and short.
pub fn clean_text(text: String, max_chars: usize) -> String {
    let has_controls = text.bytes().any(|b| b < 0x20 || b == 0x7f)
        || text.contains('\u{9b}')
        || text.contains('\u{9d}');
    if !has_controls && text.len() <= max_chars {
        return text;
    }
    let text = if has_controls {
        strip_ansi_escapes::strip_str(text.replace('\t', "    "))
    } else {
        text
    };
    if text.chars().nth(max_chars).is_none() {
        return text;
    }
    let mut cut: String = text.chars().take(max_chars).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_ms(850), "850ms");
        assert_eq!(human_ms(2_340), "2.3s");
        assert_eq!(human_ms(245_000), "4m05s");
        assert_eq!(human_ms(3 * 3_600_000 + 12 * 60_000), "3h12m");
    }

    fn status(phase: Phase) -> ServiceStatus {
        let mut s = ServiceStatus::new("x");
        s.phase = phase;
        s
    }

    #[test]
    fn state_names_crash_loops_and_failed_builds_from_the_phase_and_the_failure() {
        let mut s = status(Phase::Failed);
        assert_eq!(state_label(&s), "failed");
        // Words in the detail decide nothing.
        s.detail = Some("build failed: crash-loop".into());
        assert_eq!(state_label(&s), "failed");
        s.failure = Some(ServiceFailure::Build {
            error: "error[E0308]".into(),
        });
        assert_eq!(state_label(&s), "build failed");
        s.failure = None;
        s.phase = Phase::CrashLoop;
        assert_eq!(state_label(&s), "crash-loop");
        s.phase = Phase::BuildFailed;
        assert_eq!(state_label(&s), "build failed");
        s.phase = Phase::Waiting;
        s.detail = None;
        assert_eq!(state_label(&s), "waiting");
    }

    #[test]
    fn health_is_the_healthcheck_verdict_while_the_container_runs() {
        let mut s = status(Phase::Ready);
        assert_eq!(health_label(&s), "—", "no healthcheck");
        s.has_healthcheck = true;
        assert_eq!(health_label(&s), "healthy");
        s.phase = Phase::Unhealthy;
        assert_eq!(health_label(&s), "unhealthy");
        s.phase = Phase::Starting;
        assert_eq!(health_label(&s), "starting");
        s.phase = Phase::Exited;
        assert_eq!(health_label(&s), "—");
    }

    #[test]
    fn tiers_sort_in_the_stacks_order_then_by_name_then_untiered() {
        let order = vec!["Redis".to_string(), "Kafka".to_string()];
        let mut tiers = vec![
            None,
            Some("Zeta"),
            Some("Kafka"),
            Some("Alpha"),
            Some("Redis"),
        ];
        tiers.sort_by_key(|t| tier_rank(*t, &order));
        assert_eq!(
            tiers,
            vec![
                Some("Redis"),
                Some("Kafka"),
                Some("Alpha"),
                Some("Zeta"),
                None
            ]
        );
    }

    #[test]
    fn service_colors_are_stable() {
        assert_eq!(service_style("db"), service_style("db"));
    }

    #[test]
    fn colours_tabs_and_controls_are_cleaned() {
        assert_eq!(
            clean_text("\u{1b}[31mred\u{1b}[0m\tdone".into(), 100),
            "red    done"
        );
        assert_eq!(clean_text("bell\u{7}\u{8}!".into(), 100), "bell!");
    }

    #[test]
    fn terminal_hijacking_sequences_are_removed_whole() {
        // Window title (OSC 0), clipboard write (OSC 52), hyperlink (OSC 8), with BEL and ST.
        let hostile =
            "a\u{1b}]0;pwned\u{7}b\u{1b}]52;c;ZXZpbA==\u{1b}\\c\u{1b}]8;;http://x\u{1b}\\d";
        assert_eq!(clean_text(hostile.into(), 100), "abcd");
    }

    #[test]
    fn long_lines_are_cut_and_clean_ones_kept_as_they_are() {
        let clean = "plain text".to_string();
        assert_eq!(clean_text(clean.clone(), 100), clean);
        let cut = clean_text("x".repeat(30), 10);
        assert_eq!(cut, format!("{}…", "x".repeat(10)));
        assert_eq!(clean_text("é".repeat(5), 5), "é".repeat(5));
    }
}
