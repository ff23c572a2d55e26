//! Drawing: one file per panel (`header`, `services`, `logs`, `footer`, and the `help` and
//! `connection` overlays), the layout that places them, and the colors shared with the plain
//! output. Reads the [`App`] and the time it is given; changes nothing.

pub mod connection;
pub mod footer;
pub mod header;
pub mod help;
pub mod logs;
pub mod services;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph};

use super::app::{App, Overlay};
use crate::protocol::Phase;

/// Where each panel goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub services: Rect,
    pub logs: Rect,
    pub footer: Rect,
}

impl Areas {
    /// Rows of log text the log pane has room for (inside its border).
    pub fn log_rows(&self) -> usize {
        usize::from(self.logs.height.saturating_sub(2))
    }
}

/// The services panel gets what it needs up to half the screen; the logs the rest.
pub fn layout(area: Rect, app: &App) -> Areas {
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(header::HEIGHT),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    let wanted = u16::try_from(services::rows_needed(app) + 3).unwrap_or(u16::MAX);
    let most = (body.height / 2).max(4).min(body.height.saturating_sub(3));
    let [services, logs] =
        Layout::vertical([Constraint::Length(wanted.min(most)), Constraint::Min(3)]).areas(body);
    Areas {
        header,
        services,
        logs,
        footer,
    }
}

/// One frame.
pub fn draw(frame: &mut Frame, app: &App, now_ms: u64) {
    let areas = layout(frame.area(), app);
    header::render(frame, areas.header, app, now_ms);
    services::render(frame, areas.services, app, now_ms);
    logs::render(frame, areas.logs, app);
    footer::render(frame, areas.footer, app, now_ms);
    match app.overlay {
        Some(Overlay::Help) => help::render(frame, frame.area()),
        Some(Overlay::Connection) => connection::render(frame, frame.area(), app),
        None => {}
    }
}

/// The plain output's style in ratatui terms, so both show a phase or a service alike.
pub fn style_of(style: anstyle::Style) -> Style {
    let mut out = Style::default();
    if let Some(anstyle::Color::Ansi(c)) = style.get_fg_color() {
        out = out.fg(ansi_color(c));
    }
    let effects = style.get_effects();
    if effects.contains(anstyle::Effects::BOLD) {
        out = out.add_modifier(Modifier::BOLD);
    }
    if effects.contains(anstyle::Effects::DIMMED) {
        out = out.add_modifier(Modifier::DIM);
    }
    out
}

fn ansi_color(c: anstyle::AnsiColor) -> Color {
    use anstyle::AnsiColor as A;
    match c {
        A::Black => Color::Black,
        A::Red => Color::Red,
        A::Green => Color::Green,
        A::Yellow => Color::Yellow,
        A::Blue => Color::Blue,
        A::Magenta => Color::Magenta,
        A::Cyan => Color::Cyan,
        A::White => Color::Gray,
        A::BrightBlack => Color::DarkGray,
        A::BrightRed => Color::LightRed,
        A::BrightGreen => Color::LightGreen,
        A::BrightYellow => Color::LightYellow,
        A::BrightBlue => Color::LightBlue,
        A::BrightMagenta => Color::LightMagenta,
        A::BrightCyan => Color::LightCyan,
        A::BrightWhite => Color::White,
    }
}

pub fn phase_style(phase: Phase) -> Style {
    style_of(crate::presentation::phase_style(phase))
}

pub fn service_style(service: &str) -> Style {
    style_of(crate::presentation::service_style(service))
}

/// An overlay: `lines` in a bordered box titled `title`, `width` columns wide and as tall as the
/// lines (both clipped to `area`), in the middle of `area`, over what is drawn there.
pub fn popup(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line>, width: usize) {
    let clip = |n: usize, max: u16| u16::try_from(n).unwrap_or(u16::MAX).min(max);
    let height = lines.len() + 2;
    let rect = area.centered(
        Constraint::Length(clip(width, area.width)),
        Constraint::Length(clip(height, area.height)),
    );
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        rect,
    );
}

#[cfg(test)]
pub(crate) mod testing {
    //! Fixtures shared by the panels' snapshot tests: a fixed clock and a small stack.

    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use crate::protocol::{Info, LogLine, Phase, PublishedPort, ServiceStatus};
    use crate::tui::app::App;

    /// "Now" in every snapshot.
    pub const NOW: u64 = 1_700_000_000_000;

    pub fn status(name: &str, phase: Phase, tier: Option<&str>) -> ServiceStatus {
        let mut s = ServiceStatus::new(name);
        s.phase = phase;
        s.since_ms = NOW - 60_000;
        s.tier = tier.map(String::from);
        if matches!(phase, Phase::Ready | Phase::Starting | Phase::Unhealthy) {
            s.started_ms = Some(NOW - 245_000);
        }
        s
    }

    pub fn port(host: u16, container: u16) -> PublishedPort {
        PublishedPort {
            host_ip: "127.0.0.1".into(),
            host_port: host,
            container_port: container,
            protocol: "tcp".into(),
        }
    }

    pub fn log(service: &str, text: &str) -> LogLine {
        LogLine {
            service: service.into(),
            stream: "stdout".into(),
            time: String::new(),
            text: text.into(),
            truncated: false,
        }
    }

    /// A Nova-like project: tiers, a healthcheck, ports, a restart, a build, a crash loop.
    pub fn nova() -> App {
        let mut app = App::new(
            "nova",
            vec![
                "redis".into(),
                "database".into(),
                "messaging".into(),
                "services".into(),
            ],
        );
        app.connected(Info {
            project: "nova".into(),
            pid: 4242,
            started_ms: NOW - 3_723_000,
            engine_version: "27.5.1".into(),
            engine_api_version: "1.47".into(),
            engine: crate::protocol::EngineHealth {
                reachable: true,
                ..Default::default()
            },
            cluster: None,
            stack_files: vec!["/home/dev/nova/stacks/nova/compose.yaml".into()],
            build_id: "test".into(),
            tiers: vec![],
            web_ui: None,
            web_ui_error: None,
        });
        let mut redis = status("redis-master", Phase::Ready, Some("redis"));
        redis.ports = vec![port(6379, 6379)];
        redis.has_healthcheck = true;
        app.apply_status(redis);
        let mut pg = status("postgres", Phase::Ready, Some("database"));
        pg.ports = vec![port(5432, 5432)];
        pg.has_healthcheck = true;
        app.apply_status(pg);
        let mut init = status("postgres-init", Phase::Completed, Some("database"));
        init.exit_code = Some(0);
        app.apply_status(init);
        let mut kafka = status("kafka", Phase::Starting, Some("messaging"));
        kafka.has_healthcheck = true;
        kafka.ports = vec![port(9092, 9092)];
        app.apply_status(kafka);
        let mut social = status("social-service", Phase::Building, Some("services"));
        social.since_ms = NOW - 5_200;
        app.apply_status(social.clone());
        social.phase = Phase::Ready;
        social.since_ms = NOW - 2_000;
        social.started_ms = Some(NOW - 2_000);
        social.ports = vec![port(8080, 8080)];
        social.restarts = 1;
        app.apply_status(social);
        let mut chat = status("chat-service", Phase::CrashLoop, Some("services"));
        chat.detail = Some("exited with code 101; restarting in 8s (restart 5)".into());
        chat.restarts = 4;
        app.apply_status(chat);
        app.push_logs(vec![
            log("postgres", "database system is ready to accept connections"),
            log("redis-master", "Ready to accept connections tcp"),
            log("kafka", "[KafkaServer id=1] started"),
            log("social-service", "listening on 0.0.0.0:8080"),
            log("chat-service", "thread 'main' panicked at src/main.rs:12:5"),
            log("chat-service", "ERROR: could not connect to kafka:9092"),
            log("social-service", "GET /health 200 1ms"),
        ]);
        app
    }

    /// Render with `draw` into a `width`×`height` test terminal and return the screen as text.
    pub fn screen(width: u16, height: u16, draw: impl FnOnce(&mut ratatui::Frame)) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
        terminal.draw(draw).expect("draw");
        terminal.backend().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{NOW, nova, screen};
    use super::*;
    use crate::tui::input::Action;

    #[test]
    fn whole_screen_at_80x24() {
        let mut app = nova();
        let areas = layout(Rect::new(0, 0, 80, 24), &app);
        app.set_log_rows(areas.log_rows());
        insta::assert_snapshot!(screen(80, 24, |f| draw(f, &app, NOW)));
    }

    #[test]
    fn whole_screen_with_help_open_at_80x24() {
        let mut app = nova();
        app.act(Action::ShowHelp, NOW);
        insta::assert_snapshot!(screen(80, 24, |f| draw(f, &app, NOW)));
    }

    #[test]
    fn layout_keeps_the_log_pane_at_small_sizes() {
        let app = nova();
        for (w, h) in [(80, 24), (40, 12), (120, 50), (20, 8)] {
            let areas = layout(Rect::new(0, 0, w, h), &app);
            assert!(areas.logs.height >= 3, "{w}x{h}: {areas:?}");
            assert_eq!(
                areas.header.height
                    + areas.services.height
                    + areas.logs.height
                    + areas.footer.height,
                h,
                "{w}x{h}"
            );
        }
    }
}
