//! Drawing: one file per panel (`header`, `services`, `logs`, `footer`, and the `help` and
//! `connection` overlays), the layout that places them, and the colors shared with the plain
//! output. Reads the [`App`] and the time it is given; changes nothing.

pub mod connection;
pub mod devloop;
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

/// The log pane keeps at least this share of the body (in tenths), and at least 3 rows.
const LOG_SHARE_TENTHS: u16 = 3;

/// The body between the header and the footer.
fn body(area: Rect) -> Rect {
    let [_, body, _] = Layout::vertical([
        Constraint::Length(header::HEIGHT),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    body
}

/// The most rows the services panel may take: what the log pane does not keep.
fn services_most(body: Rect) -> u16 {
    let logs = (body.height * LOG_SHARE_TENTHS / 10).max(3);
    body.height.saturating_sub(logs)
}

/// Rows of the services list the panel can show at most in `area` (inside its border and under
/// its column header): past this, the list folds healthy tiers and then scrolls.
pub fn list_rows(area: Rect) -> usize {
    usize::from(services_most(body(area)).saturating_sub(3))
}

/// The services panel gets what its list needs, up to what the log pane leaves; the logs the
/// rest.
pub fn layout(area: Rect, app: &App) -> Areas {
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(header::HEIGHT),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    let wanted = u16::try_from(services::rows_needed(app) + 3).unwrap_or(u16::MAX);
    let [services, logs] = Layout::vertical([
        Constraint::Length(wanted.min(services_most(body))),
        Constraint::Min(3),
    ])
    .areas(body);
    Areas {
        header,
        services,
        logs,
        footer,
    }
}

/// Tell the app what the terminal has room for (the rows of its list and of its log pane) and
/// place the panels: before every frame, so that a resize folds, unfolds and scrolls at once.
pub fn fit(area: Rect, app: &mut App) -> Areas {
    app.set_list_rows(list_rows(area));
    let areas = layout(area, app);
    app.set_log_rows(areas.log_rows());
    areas
}

/// One frame.
pub fn draw(frame: &mut Frame, app: &App, now_ms: u64) {
    let areas = layout(frame.area(), app);
    header::render(frame, areas.header, app, now_ms);
    services::render(frame, areas.services, app, now_ms);
    if app.show_loop {
        devloop::render(frame, areas.logs, app);
    } else {
        logs::render(frame, areas.logs, app);
    }
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

    use crate::protocol::{
        BuildRecord, Info, LogLine, LoopKind, LoopOutcome, LoopRecord, LoopTrigger, Phase,
        PublishedPort, ServiceStatus,
    };
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
            stack_error: None,
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

    /// The Nova stack as `stacks/nova/compose.yaml` declares it: 18 services in four tiers, with
    /// their healthchecks and published ports. Redis, PostgreSQL and Kafka are up; among the
    /// services one is being rebuilt, one's last build failed (its old container serves on), one
    /// crash-loops, and social-service was rebuilt a few minutes ago.
    pub fn full_nova() -> App {
        let mut app = App::new("nova", app_tiers());
        let mut info = nova().info.expect("the small fixture's daemon facts");
        info.tiers = app_tiers();
        app.connected(info);
        let ready = |name: &str, tier: &str, ports: &[(u16, u16)]| {
            let mut s = status(name, Phase::Ready, Some(tier));
            s.has_healthcheck = true;
            s.ports = ports.iter().map(|&(h, c)| port(h, c)).collect();
            s
        };
        let mut up = vec![
            ready("redis-master", "Redis", &[(6379, 6379)]),
            ready("redis-replica-1", "Redis", &[]),
            ready("redis-replica-2", "Redis", &[]),
            ready("redis-sentinel-1", "Redis", &[(26379, 26379)]),
            ready("redis-sentinel-2", "Redis", &[]),
            ready("redis-sentinel-3", "Redis", &[]),
            ready("postgres", "PostgreSQL", &[(5432, 5432)]),
            ready("kafka", "Kafka", &[(29092, 29092)]),
        ];
        for one_shot in [("postgres-init", "PostgreSQL"), ("kafka-init", "Kafka")] {
            let mut s = status(one_shot.0, Phase::Completed, Some(one_shot.1));
            s.exit_code = Some(0);
            up.push(s);
        }
        let services = [
            "identity-service",
            "social-service",
            "communication-service",
            "user-service",
            "content-service",
            "media-service",
            "search-service",
            "events-service",
        ];
        for (i, name) in (0u16..).zip(services) {
            up.push(ready(
                name,
                "Services",
                &[(50051 + i, 50051 + i), (8080 + i, 8080 + i)],
            ));
        }
        for s in up {
            app.apply_status(s);
        }

        // social-service: rebuilt 3m ago in 4.6s, restarted once since.
        let mut social = app_status(&app, "social-service");
        social.phase = Phase::Building;
        social.since_ms = NOW - 185_000;
        app.apply_status(social.clone());
        social.phase = Phase::Ready;
        social.since_ms = NOW - 180_000;
        social.started_ms = Some(NOW - 179_000);
        social.restarts = 1;
        social.last_build = Some(BuildRecord {
            ok: true,
            started_ms: NOW - 184_600,
            finished_ms: Some(NOW - 180_000),
            error: None,
        });
        app.apply_status(social);

        // content-service: the last build failed 12s ago; the old container keeps serving.
        let mut content = app_status(&app, "content-service");
        content.phase = Phase::BuildFailed;
        content.detail = Some("error[E0425]: cannot find value `feed` in this scope".into());
        content.last_build = Some(BuildRecord {
            ok: false,
            started_ms: NOW - 14_100,
            finished_ms: Some(NOW - 12_000),
            error: content.detail.clone(),
        });
        app.apply_status(content);

        // search-service: being rebuilt.
        let mut search = app_status(&app, "search-service");
        search.phase = Phase::Building;
        search.since_ms = NOW - 2_300;
        search.detail = Some("building nova-search-service on the host".into());
        app.apply_status(search);

        // media-service: crash-looping.
        let mut media = app_status(&app, "media-service");
        media.phase = Phase::CrashLoop;
        media.started_ms = None;
        media.restarts = 5;
        media.detail = Some("exited with code 101; restarting in 8s (restart 5)".into());
        app.apply_status(media);

        app.set_loop_history(loop_history());

        app.push_logs(vec![
            log("postgres", "database system is ready to accept connections"),
            log("kafka", "[KafkaServer id=1] started"),
            log("social-service", "listening on 0.0.0.0:8081"),
            log(
                "content-service",
                "error[E0425]: cannot find value `feed` in this scope",
            ),
            log(
                "media-service",
                "thread 'main' panicked at src/main.rs:40:9",
            ),
            log("social-service", "GET /health/ready 200 1ms"),
        ]);
        app
    }

    /// The dev loop's history of [`full_nova`]: social-service's last 24 turns (one failed
    /// build among them, the loop getting slower lately), identity-service rebuilt before the
    /// daemon restarted, content-service's failed build after two good ones, user-service
    /// restarted twice.
    pub fn loop_history() -> Vec<LoopRecord> {
        let turn = |service: &str, kind: LoopKind, began_ms: u64, build_ms: Option<u64>| {
            let (wait, package, replace, ready) = (160, 110, 420, 240);
            let work = build_ms.map_or(0, |b| b + package);
            LoopRecord {
                service: service.into(),
                kind,
                trigger: LoopTrigger::FileChange,
                began_ms,
                wait_ms: wait,
                build_ms,
                package_ms: build_ms.map(|_| package),
                replace_ms: Some(replace),
                ready_ms: Some(ready),
                total_ms: wait + work + replace + ready,
                outcome: LoopOutcome::Ready,
                error: None,
            }
        };
        let mut out = Vec::new();
        for i in 0..3u64 {
            let build = 3_900 + 150 * i;
            out.push(turn(
                "identity-service",
                LoopKind::Rebuild,
                NOW - 7_200_000 + i * 60_000,
                Some(build),
            ));
        }
        for i in 0..24u64 {
            // 4.1 s to 4.6 s of cargo, slower in the last turns.
            let build = 4_100 + (i % 5) * 60 + if i >= 20 { 500 } else { 0 };
            let began = NOW - 185_160 - (23 - i) * 90_000;
            let mut r = turn("social-service", LoopKind::Rebuild, began, Some(build));
            if i == 17 {
                r.outcome = LoopOutcome::BuildFailed;
                r.replace_ms = None;
                r.ready_ms = None;
                r.total_ms = r.wait_ms + build;
                r.error = Some("error[E0308]: mismatched types".into());
            }
            out.push(r);
        }
        for i in 0..2u64 {
            out.push(turn(
                "content-service",
                LoopKind::Rebuild,
                NOW - 900_000 + i * 60_000,
                Some(3_400),
            ));
        }
        let mut failed = turn(
            "content-service",
            LoopKind::Rebuild,
            NOW - 14_260,
            Some(2_100),
        );
        failed.outcome = LoopOutcome::BuildFailed;
        failed.package_ms = None;
        failed.replace_ms = None;
        failed.ready_ms = None;
        failed.total_ms = 160 + 2_100;
        failed.error = Some("error[E0425]: cannot find value `feed` in this scope".into());
        out.push(failed);
        for i in 0..2u64 {
            let mut r = turn(
                "user-service",
                LoopKind::Restart,
                NOW - 1_200_000 + i * 300_000,
                None,
            );
            r.trigger = LoopTrigger::Request;
            r.wait_ms = 0;
            r.total_ms = 660;
            out.push(r);
        }
        out.sort_by_key(|r| r.began_ms);
        out
    }

    fn app_tiers() -> Vec<String> {
        ["Redis", "PostgreSQL", "Kafka", "Services"]
            .map(String::from)
            .to_vec()
    }

    fn app_status(app: &App, name: &str) -> ServiceStatus {
        app.services()
            .iter()
            .find(|s| s.status.service == name)
            .map(|s| s.status.clone())
            .unwrap_or_else(|| panic!("{name} is in the fixture"))
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
    use super::testing::{NOW, full_nova, nova, screen};
    use super::*;
    use crate::tui::input::Action;

    #[test]
    fn whole_screen_at_80x24() {
        let mut app = nova();
        fit(Rect::new(0, 0, 80, 24), &mut app);
        insta::assert_snapshot!(screen(80, 24, |f| draw(f, &app, NOW)));
    }

    #[test]
    fn whole_screen_with_help_open_at_80x24() {
        let mut app = nova();
        app.act(Action::ShowHelp, NOW);
        insta::assert_snapshot!(screen(80, 24, |f| draw(f, &app, NOW)));
    }

    /// The whole Nova stack on a terminal of `width`×`height`, after `keys`.
    fn full_screen(width: u16, height: u16, keys: &[Action]) -> String {
        let mut app = full_nova();
        let area = Rect::new(0, 0, width, height);
        fit(area, &mut app);
        for key in keys {
            app.act(*key, NOW);
            fit(area, &mut app);
        }
        screen(width, height, |f| draw(f, &app, NOW))
    }

    #[test]
    fn the_whole_nova_stack_fits_at_120x40() {
        let screen = full_screen(120, 40, &[]);
        for service in [
            "redis-master",
            "redis-sentinel-3",
            "postgres-init",
            "kafka-init",
        ] {
            assert!(screen.contains(service), "{service} in view:\n{screen}");
        }
        insta::assert_snapshot!(screen);
    }

    #[test]
    fn at_80x24_healthy_tiers_fold_and_the_troubled_one_stays_open() {
        let screen = full_screen(80, 24, &[]);
        for summary in ["Redis", "6/6 ready", "PostgreSQL", "2/2 ready", "Kafka"] {
            assert!(screen.contains(summary), "{summary}:\n{screen}");
        }
        insta::assert_snapshot!(screen);
    }

    #[test]
    fn at_80x24_unfolding_a_tier_scrolls_to_keep_the_cursor_in_view() {
        // Open Redis (the cursor starts on it), then walk to its last service.
        let mut keys = vec![Action::ToggleTier];
        keys.extend([Action::SelectNext; 5]);
        let screen = full_screen(80, 24, &keys);
        assert!(screen.contains("redis-sentinel-3"), "{screen}");
        insta::assert_snapshot!(screen);
    }

    #[test]
    fn folding_every_tier_leaves_four_summary_rows() {
        let screen = full_screen(80, 24, &[Action::ToggleAllTiers]);
        assert!(screen.contains("▸ Services"), "{screen}");
        assert!(screen.contains("5/8 ready"), "{screen}");
        insta::assert_snapshot!(screen);
    }

    #[test]
    fn the_dev_loop_panel_takes_the_log_panes_place_at_120x40() {
        // social-service selected.
        let mut keys = vec![Action::SelectNext; 16];
        keys.push(Action::ToggleDevLoop);
        let screen = full_screen(120, 40, &keys);
        assert!(screen.contains("dev loop"), "{screen}");
        assert!(!screen.contains("logs · all services"), "{screen}");
        insta::assert_snapshot!(screen);
    }

    #[test]
    fn the_dev_loop_panel_at_80x24() {
        let screen = full_screen(80, 24, &[Action::ToggleAllTiers, Action::ToggleDevLoop]);
        insta::assert_snapshot!(screen);
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
