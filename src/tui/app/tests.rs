use super::*;
use crate::protocol::{LogLine, LoopRecord, PublishedPort, ServiceFailure};

const NOW: u64 = 1_700_000_000_000;

fn status(name: &str, phase: Phase, tier: Option<&str>) -> ServiceStatus {
    let mut s = ServiceStatus::new(name);
    s.phase = phase;
    s.since_ms = NOW;
    s.tier = tier.map(String::from);
    s
}

fn line(service: &str, text: &str) -> LogLine {
    LogLine {
        service: service.into(),
        stream: "stdout".into(),
        time: String::new(),
        text: text.into(),
        truncated: false,
    }
}

fn numbered(service: &str, range: std::ops::Range<usize>) -> Vec<LogLine> {
    range.map(|i| line(service, &format!("line {i}"))).collect()
}

fn names(app: &App) -> Vec<&str> {
    app.services()
        .iter()
        .map(|s| s.status.service.as_str())
        .collect()
}

/// The text of the rows the log pane shows (`--` for a gap).
fn shown(app: &App) -> Vec<String> {
    app.log_window()
        .into_iter()
        .map(|row| match row {
            Row::Gap => "--".to_string(),
            Row::Line(pos) => app.source_ring().get(pos).expect("kept").text.to_string(),
        })
        .collect()
}

fn app_with(services: &[&str]) -> App {
    let mut app = App::new("p", Vec::new());
    for s in services {
        app.apply_status(status(s, Phase::Ready, None));
    }
    app
}

#[test]
fn services_are_ordered_by_the_stacks_tiers_then_name_and_untiered_last() {
    let mut app = App::new("nova", vec!["redis".into(), "database".into()]);
    app.apply_status(status("social", Phase::Ready, Some("services")));
    app.apply_status(status("tool", Phase::Ready, None));
    app.apply_status(status("postgres", Phase::Ready, Some("database")));
    app.apply_status(status("redis-b", Phase::Ready, Some("redis")));
    app.apply_status(status("redis-a", Phase::Ready, Some("redis")));
    app.apply_status(status("chat", Phase::Ready, Some("services")));
    assert_eq!(
        names(&app),
        ["redis-a", "redis-b", "postgres", "chat", "social", "tool"]
    );
    assert!(app.has_tiers());
}

#[test]
fn applying_a_status_says_whether_the_service_is_new_or_restarted() {
    let mut app = App::new("p", Vec::new());
    let mut web = status("web", Phase::Starting, None);
    web.started_ms = Some(NOW);
    assert_eq!(
        app.apply_status(web.clone()),
        StatusApplied {
            new: true,
            started: false
        }
    );
    web.phase = Phase::Ready;
    assert_eq!(app.apply_status(web.clone()), StatusApplied::default());
    web.started_ms = Some(NOW + 5_000);
    assert!(app.apply_status(web).started);
    assert_eq!(app.services()[0].status.phase, Phase::Ready);
}

#[test]
fn a_build_is_recorded_when_the_service_leaves_building() {
    let mut app = App::new("p", Vec::new());
    let mut api = status("api", Phase::Building, None);
    api.since_ms = NOW;
    app.apply_status(api.clone());
    assert_eq!(app.services()[0].build, None);
    api.phase = Phase::Creating;
    api.since_ms = NOW + 3_200;
    app.apply_status(api.clone());
    assert_eq!(
        app.services()[0].build,
        Some(BuildOutcome {
            finished_ms: NOW + 3_200,
            took_ms: Some(3_200),
            ok: true
        })
    );
    api.phase = Phase::Building;
    api.since_ms = NOW + 10_000;
    app.apply_status(api.clone());
    api.phase = Phase::Failed;
    api.failure = Some(ServiceFailure::Build {
        error: "error[E0308]: mismatched types".into(),
    });
    api.detail = Some("error[E0308]: mismatched types".into());
    api.since_ms = NOW + 11_000;
    app.apply_status(api.clone());
    let build = app.services()[0].build.expect("build");
    assert!(!build.ok);
    assert_eq!(build.took_ms, Some(1_000));
    assert_eq!(state_label(&api), "build failed");
}

#[test]
fn uptime_counts_only_while_the_container_runs() {
    let mut s = status("db", Phase::Ready, None);
    s.started_ms = Some(NOW - 5_000);
    assert_eq!(uptime_ms(&s, NOW), Some(5_000));
    s.phase = Phase::Exited;
    assert_eq!(uptime_ms(&s, NOW), None);
}

#[test]
fn rings_are_capped_and_share_each_line_between_service_and_all_views() {
    let mut app = app_with(&["a", "b"]);
    app.push_logs(numbered("a", 0..SERVICE_LOG_CAP + 100));
    app.push_logs(numbered("b", 0..10));
    let a = app.ring_of("a").expect("ring a");
    assert_eq!(a.len(), SERVICE_LOG_CAP);
    assert_eq!(a.start(), 100);
    assert_eq!(&*a.get(100).expect("oldest kept").text, "line 100");
    assert!(a.get(99).is_none());
    assert_eq!(app.ring_of("b").expect("ring b").len(), 10);
    let all = app.all_ring();
    assert_eq!(all.len(), (SERVICE_LOG_CAP + 110).min(ALL_LOG_CAP));
    // The newest line of `a` is the same allocation in both rings.
    let newest_a = a.get(a.end() - 1).expect("newest");
    let in_all = all.get(all.end() - 11).expect("same line in all");
    assert!(std::ptr::eq(newest_a, in_all));

    app.push_logs(numbered("b", 0..ALL_LOG_CAP));
    assert_eq!(app.all_ring().len(), ALL_LOG_CAP);
    // `a`'s own ring keeps its lines although the all view has moved on.
    assert_eq!(app.ring_of("a").expect("ring a").len(), SERVICE_LOG_CAP);
}

#[test]
fn lines_are_cleaned_of_escapes_and_cut_when_huge() {
    assert_eq!(
        clean_text("\u{1b}[31mred\u{1b}[0m\tdone".into()),
        "red    done"
    );
    let clean = "plain text".to_string();
    assert_eq!(clean_text(clean.clone()), clean);
    let huge = "x".repeat(MAX_LINE_CHARS * 3);
    let cut = clean_text(huge);
    assert_eq!(cut.chars().count(), MAX_LINE_CHARS + 1);
    assert!(cut.ends_with('…'));
}

#[test]
fn following_shows_the_newest_lines() {
    let mut app = app_with(&["a"]);
    app.set_log_rows(3);
    app.push_logs(numbered("a", 0..10));
    assert_eq!(shown(&app), ["line 7", "line 8", "line 9"]);
    app.push_logs(numbered("a", 10..11));
    assert_eq!(shown(&app), ["line 8", "line 9", "line 10"]);
}

#[test]
fn scrolling_up_pauses_the_view_and_scrolling_back_down_follows_again() {
    let mut app = app_with(&["a"]);
    app.set_log_rows(3);
    app.push_logs(numbered("a", 0..10));
    app.act(Action::ScrollUp(2), NOW);
    assert!(!app.view.following());
    assert_eq!(shown(&app), ["line 5", "line 6", "line 7"]);
    app.push_logs(numbered("a", 10..20));
    assert_eq!(
        shown(&app),
        ["line 5", "line 6", "line 7"],
        "paused view holds still"
    );
    assert_eq!(app.lines_below(), 12);
    app.act(Action::ScrollUp(100), NOW);
    assert_eq!(
        shown(&app),
        ["line 0", "line 1", "line 2"],
        "stops at the top, pane full"
    );
    app.act(Action::PageDown, NOW);
    assert_eq!(shown(&app), ["line 2", "line 3", "line 4"]);
    app.act(Action::ScrollDown(100), NOW);
    assert!(app.view.following());
    assert_eq!(shown(&app), ["line 17", "line 18", "line 19"]);
    app.act(Action::Top, NOW);
    assert_eq!(shown(&app), ["line 0", "line 1", "line 2"]);
    app.act(Action::Follow, NOW);
    assert!(app.view.following());
}

#[test]
fn filter_shows_matches_with_their_neighbours_and_gaps_between() {
    let mut app = app_with(&["a"]);
    app.set_log_rows(20);
    let lines = (0..20)
        .map(|i| {
            let text = if i == 5 || i == 14 {
                format!("line {i} MATCH")
            } else {
                format!("line {i}")
            };
            line("a", &text)
        })
        .collect();
    app.push_logs(lines);
    app.set_filter("match").expect("valid");
    assert_eq!(app.view.filter.as_ref().map(Filter::match_count), Some(2));
    assert_eq!(
        shown(&app),
        [
            "line 3",
            "line 4",
            "line 5 MATCH",
            "line 6",
            "line 7",
            "--",
            "line 12",
            "line 13",
            "line 14 MATCH",
            "line 15",
            "line 16",
        ]
    );
}

#[test]
fn neighbouring_matches_merge_into_one_block() {
    let mut app = app_with(&["a"]);
    app.set_log_rows(20);
    let lines = (0..12)
        .map(|i| {
            line(
                "a",
                &format!("line {i}{}", if i == 3 || i == 7 { " hit" } else { "" }),
            )
        })
        .collect();
    app.push_logs(lines);
    app.set_filter("hit").expect("valid");
    let rows = shown(&app);
    assert!(!rows.contains(&"--".to_string()), "{rows:?}");
    assert_eq!(rows.first().map(String::as_str), Some("line 1"));
    assert_eq!(rows.last().map(String::as_str), Some("line 9"));
}

#[test]
fn the_filter_follows_new_lines_and_forgets_evicted_ones() {
    let mut app = app_with(&["a"]);
    app.set_log_rows(5);
    app.set_filter("hit").expect("valid");
    assert!(shown(&app).is_empty());
    app.push_logs(vec![
        line("a", "miss"),
        line("a", "a hit"),
        line("a", "miss"),
    ]);
    assert_eq!(shown(&app), ["miss", "a hit", "miss"]);
    app.push_logs(numbered("a", 0..ALL_LOG_CAP));
    assert_eq!(app.view.filter.as_ref().map(Filter::match_count), Some(0));
    assert!(shown(&app).is_empty());
}

#[test]
fn smart_case_and_bad_patterns() {
    let mut app = app_with(&["a"]);
    app.push_logs(vec![line("a", "Timeout"), line("a", "timeout")]);
    app.set_filter("timeout").expect("valid");
    assert_eq!(app.view.filter.as_ref().map(Filter::match_count), Some(2));
    app.set_filter("Timeout").expect("valid");
    assert_eq!(app.view.filter.as_ref().map(Filter::match_count), Some(1));

    app.act(Action::OpenFilter, NOW);
    app.act(Action::PromptBackspace, NOW);
    for c in "(unclosed".chars() {
        app.act(Action::PromptChar(c), NOW);
    }
    app.act(Action::PromptSubmit, NOW);
    assert_eq!(
        app.mode(),
        Mode::Prompt,
        "the prompt stays open to fix the pattern"
    );
    assert!(app.current_notice(NOW).is_some_and(|n| n.error));
    app.act(Action::PromptCancel, NOW);
    assert_eq!(app.mode(), Mode::Normal);
    assert_eq!(
        app.view.filter.as_ref().map(|f| f.pattern.as_str()),
        Some("Timeout"),
        "a failed edit keeps the filter in force"
    );
    app.act(Action::Escape, NOW);
    assert!(app.view.filter.is_none());
}

#[test]
fn selection_moves_within_bounds_and_survives_regrouping() {
    let mut app = app_with(&["b", "c"]);
    app.act(Action::SelectPrev, NOW);
    assert_eq!(app.selected_index(), 0);
    app.act(Action::SelectNext, NOW);
    app.act(Action::SelectNext, NOW);
    assert_eq!(app.selected().map(|s| s.status.service.as_str()), Some("c"));
    app.apply_status(status("a", Phase::Ready, None));
    assert_eq!(names(&app), ["a", "b", "c"]);
    assert_eq!(
        app.selected().map(|s| s.status.service.as_str()),
        Some("c"),
        "the same service stays selected when one sorts before it"
    );
}

#[test]
fn enter_toggles_the_log_pane_between_the_selection_and_all() {
    let mut app = app_with(&["a", "b"]);
    app.set_log_rows(10);
    app.push_logs(vec![line("a", "from a"), line("b", "from b")]);
    assert_eq!(shown(&app), ["from a", "from b"]);
    app.act(Action::ToggleFocus, NOW);
    assert_eq!(shown(&app), ["from a"]);
    app.act(Action::SelectNext, NOW);
    assert_eq!(
        shown(&app),
        ["from b"],
        "the focused pane follows the selection"
    );
    app.act(Action::ToggleFocus, NOW);
    assert_eq!(app.view.source, LogSource::All);
    assert_eq!(shown(&app).len(), 2);
}

#[test]
fn error_jumps_go_to_next_and_previous_error_lines_and_wrap() {
    let mut app = app_with(&["a"]);
    app.set_log_rows(4);
    let texts = [
        "boot",
        "Error: one",
        "ok",
        "ok",
        "thread panicked",
        "ok",
        "FATAL three",
        "ok",
        "ok",
    ];
    app.push_logs(texts.iter().map(|t| line("a", t)).collect());
    let highlighted = |app: &App| {
        app.view
            .highlight
            .and_then(|p| app.source_ring().get(p))
            .map(|l| l.text.to_string())
    };
    app.act(Action::PrevError, NOW);
    assert_eq!(highlighted(&app).as_deref(), Some("FATAL three"));
    assert!(!app.view.following());
    app.act(Action::PrevError, NOW);
    assert_eq!(highlighted(&app).as_deref(), Some("thread panicked"));
    let rows = shown(&app);
    assert!(rows.contains(&"thread panicked".to_string()), "{rows:?}");
    app.act(Action::PrevError, NOW);
    assert_eq!(highlighted(&app).as_deref(), Some("Error: one"));
    app.act(Action::PrevError, NOW);
    assert_eq!(
        highlighted(&app).as_deref(),
        Some("FATAL three"),
        "wraps to the newest"
    );
    app.act(Action::NextError, NOW);
    assert_eq!(
        highlighted(&app).as_deref(),
        Some("Error: one"),
        "wraps to the oldest"
    );
    app.act(Action::NextError, NOW);
    assert_eq!(highlighted(&app).as_deref(), Some("thread panicked"));
    app.act(Action::Escape, NOW);
    assert_eq!(app.view.highlight, None);
}

#[test]
fn error_jumps_stay_within_the_filtered_lines() {
    let mut app = app_with(&["a"]);
    app.set_log_rows(10);
    let mut lines = vec![line("a", "error far away")];
    lines.extend(numbered("a", 0..10));
    lines.push(line("a", "db error"));
    lines.push(line("a", "db ok"));
    app.push_logs(lines);
    app.set_filter("db").expect("valid");
    app.act(Action::PrevError, NOW);
    let hit = app.view.highlight.and_then(|p| app.source_ring().get(p));
    assert_eq!(hit.map(|l| &*l.text), Some("db error"));
    app.act(Action::PrevError, NOW);
    let hit = app.view.highlight.and_then(|p| app.source_ring().get(p));
    assert_eq!(
        hit.map(|l| &*l.text),
        Some("db error"),
        "the far error is not shown"
    );
}

#[test]
fn control_keys_ask_the_daemon_once_per_service_and_report_the_answer() {
    let mut app = app_with(&["web"]);
    let restart = app.act(Action::Restart, NOW);
    assert_eq!(
        restart,
        Some(Command::Control {
            service: "web".into(),
            action: ControlAction::Restart
        })
    );
    assert_eq!(app.act(Action::Restart, NOW), None, "one action at a time");
    assert_eq!(app.pending("web"), Some(ControlAction::Restart));
    let mut ready = status("web", Phase::Ready, None);
    ready.restarts = 1;
    app.control_done("web", ControlAction::Restart, Ok(ready), NOW);
    assert_eq!(app.pending("web"), None);
    let notice = app.current_notice(NOW).expect("notice");
    assert_eq!(notice.text, "web restarted: ready");
    assert!(!notice.error);
    assert!(app.current_notice(NOW + NOTICE_MS).is_none());

    app.act(Action::Rebuild, NOW);
    app.control_done(
        "web",
        ControlAction::Rebuild,
        Err("unknown action `rebuild` (restart, stop, start)".into()),
        NOW,
    );
    let notice = app
        .current_notice(NOW + NOTICE_MS * 10)
        .expect("errors stay");
    assert!(notice.error);
    assert!(
        notice.text.contains("unknown action `rebuild`"),
        "{}",
        notice.text
    );
}

#[test]
fn s_stops_a_running_service_and_starts_a_stopped_one() {
    let mut app = app_with(&["web"]);
    assert_eq!(
        app.act(Action::StopStart, NOW),
        Some(Command::Control {
            service: "web".into(),
            action: ControlAction::Stop
        })
    );
    app.control_done(
        "web",
        ControlAction::Stop,
        Ok(status("web", Phase::Stopped, None)),
        NOW,
    );
    app.apply_status(status("web", Phase::Stopped, None));
    assert_eq!(
        app.act(Action::StopStart, NOW),
        Some(Command::Control {
            service: "web".into(),
            action: ControlAction::Start
        })
    );
}

#[test]
fn overlays_toggle_and_q_quits() {
    let mut app = app_with(&["web"]);
    app.act(Action::ShowHelp, NOW);
    assert_eq!(app.overlay, Some(Overlay::Help));
    assert_eq!(app.mode(), Mode::Overlay);
    app.act(Action::ShowConnection, NOW);
    assert_eq!(app.overlay, Some(Overlay::Connection));
    app.act(Action::ShowConnection, NOW);
    assert_eq!(app.overlay, None);
    assert_eq!(app.act(Action::Quit, NOW), Some(Command::Quit));
}

#[test]
fn connection_info_lists_each_published_port() {
    let mut app = app_with(&["worker"]);
    let mut db = status("postgres", Phase::Ready, None);
    db.ports = vec![PublishedPort {
        host_ip: "127.0.0.1".into(),
        host_port: 15432,
        container_port: 5432,
        protocol: "tcp".into(),
    }];
    app.apply_status(db);
    assert_eq!(
        connection_info(app.services()),
        ["postgres  localhost:15432 → 5432"]
    );
    assert_eq!(
        connection_info(&app.services()[1..]),
        ["no service publishes a port"]
    );
}

#[test]
fn only_changes_to_what_is_shown_ask_for_a_redraw() {
    let mut app = app_with(&["a", "b"]);
    app.act(Action::ToggleFocus, NOW);
    app.drawn();
    app.push_logs(vec![line("b", "not shown")]);
    assert!(
        !app.needs_redraw(),
        "a line of another service changes nothing on screen"
    );
    app.push_logs(vec![line("a", "shown")]);
    assert!(app.needs_redraw());
    app.drawn();
    app.tick();
    assert!(app.needs_redraw());
}

/// Two tiers of two services each, and one service without a tier.
fn tiered() -> App {
    let mut app = App::new("p", vec!["data".into(), "apps".into()]);
    app.apply_status(status("db", Phase::Ready, Some("data")));
    app.apply_status(status("cache", Phase::Ready, Some("data")));
    app.apply_status(status("web", Phase::Ready, Some("apps")));
    app.apply_status(status("worker", Phase::Failed, Some("apps")));
    app.apply_status(status("tool", Phase::Ready, None));
    app
}

fn folded(app: &App) -> Vec<bool> {
    app.groups().iter().map(|g| g.folded).collect()
}

#[test]
fn a_folded_tier_is_one_row_that_the_cursor_can_rest_on_and_enter_opens() {
    let mut app = tiered();
    assert_eq!(app.entries().len(), 5 + 3, "services and headings");
    // The cursor is on cache (data's first); t folds data.
    app.act(Action::ToggleTier, NOW);
    assert_eq!(folded(&app), [true, false, false]);
    assert_eq!(app.cursor(), Some(Entry::Folded(0)));
    assert!(
        app.selected().is_none(),
        "no service is selected on a folded tier"
    );
    assert_eq!(
        app.selected_group().map(|g| (g.tier, g.len, g.good)),
        Some((Some("data".to_string()), 2, 2))
    );
    assert_eq!(app.entries().len(), 1 + 3 + 2);
    // Control keys do nothing there but say why.
    assert_eq!(app.act(Action::Restart, NOW), None);
    assert!(
        app.current_notice(NOW)
            .is_some_and(|n| n.text.contains("data is folded")),
        "{:?}",
        app.notice
    );
    // Down goes to the next tier's first service, up comes back to the summary.
    app.act(Action::SelectNext, NOW);
    assert_eq!(
        app.selected().map(|s| s.status.service.as_str()),
        Some("web")
    );
    app.act(Action::SelectPrev, NOW);
    assert_eq!(app.cursor(), Some(Entry::Folded(0)));
    // Enter opens it, with the cursor on its first service.
    app.act(Action::ToggleFocus, NOW);
    assert_eq!(folded(&app), [false, false, false]);
    assert_eq!(
        app.selected().map(|s| s.status.service.as_str()),
        Some("cache")
    );
    assert_eq!(
        app.view.source,
        LogSource::All,
        "Enter on a tier only opens it"
    );
}

#[test]
fn shift_t_folds_every_tier_then_opens_them_all() {
    let mut app = tiered();
    app.act(Action::ToggleAllTiers, NOW);
    assert_eq!(folded(&app), [true, true, true]);
    assert_eq!(app.entries().len(), 3);
    app.act(Action::SelectNext, NOW);
    app.act(Action::SelectNext, NOW);
    assert_eq!(app.cursor(), Some(Entry::Folded(2)), "the untiered group");
    app.act(Action::SelectNext, NOW);
    assert_eq!(app.cursor(), Some(Entry::Folded(2)), "the last row stops");
    app.act(Action::ToggleAllTiers, NOW);
    assert_eq!(folded(&app), [false, false, false]);
    assert_eq!(
        app.selected().map(|s| s.status.service.as_str()),
        Some("tool")
    );
}

#[test]
fn when_the_list_does_not_fit_healthy_tiers_fold_unless_the_user_opened_them() {
    let mut app = tiered();
    app.set_list_rows(8);
    assert_eq!(folded(&app), [false, false, false], "8 rows fit");
    app.set_list_rows(7);
    assert_eq!(
        folded(&app),
        [true, false, true],
        "apps has a failed service: it stays open"
    );
    // The user's word wins over the room.
    app.act(Action::ToggleTier, NOW);
    assert_eq!(folded(&app), [false, false, true]);
    app.set_list_rows(100);
    app.act(Action::ToggleTier, NOW);
    assert_eq!(folded(&app), [true, false, false]);
}

#[test]
fn without_tiers_there_is_nothing_to_fold() {
    let mut app = app_with(&["a", "b"]);
    app.set_list_rows(1);
    app.act(Action::ToggleTier, NOW);
    assert_eq!(app.entries().len(), 2);
    assert!(app.selected().is_some());
    assert!(
        app.current_notice(NOW)
            .is_some_and(|n| n.text.contains("no tiers"))
    );
}

fn turn(service: &str, kind: crate::protocol::LoopKind, began_ms: u64) -> LoopRecord {
    LoopRecord {
        service: service.into(),
        kind,
        trigger: crate::protocol::LoopTrigger::FileChange,
        began_ms,
        wait_ms: 150,
        build_ms: Some(3_000),
        package_ms: Some(200),
        replace_ms: Some(400),
        ready_ms: Some(250),
        total_ms: 4_000,
        outcome: crate::protocol::LoopOutcome::Ready,
        error: None,
    }
}

#[test]
fn the_loop_history_is_replaced_on_connection_bounded_and_each_turn_kept_once() {
    use crate::protocol::LoopKind::Rebuild;
    let mut app = tiered();
    let many: Vec<LoopRecord> = (0..LOOP_CAP as u64 + 5)
        .map(|i| turn("web", Rebuild, i))
        .collect();
    app.set_loop_history(many);
    assert_eq!(app.loop_records().len(), LOOP_CAP);
    assert_eq!(app.loop_records()[0].began_ms, 5, "the oldest go first");
    // A turn both in the fetched history and published on the stream is kept once.
    let last = app.loop_records()[LOOP_CAP - 1].clone();
    app.push_loop(last);
    assert_eq!(app.loop_records().len(), LOOP_CAP);
    app.push_loop(turn("db", Rebuild, 10_000));
    assert_eq!(app.loop_records().len(), LOOP_CAP, "still bounded");
    assert_eq!(app.loop_records()[LOOP_CAP - 1].service, "db");
    // A reconnection's history replaces everything.
    app.set_loop_history(vec![turn("gone", Rebuild, 1), turn("web", Rebuild, 2)]);
    assert_eq!(app.loop_records().len(), 2);
    assert_eq!(
        app.loop_services(),
        ["web", "gone"],
        "the list's order, then services no longer listed"
    );
}

#[test]
fn the_last_build_comes_from_the_history_when_this_daemon_built_nothing() {
    use crate::protocol::LoopKind::{Rebuild, Restart};
    let mut app = tiered();
    assert_eq!(app.last_build("web"), None);
    app.push_loop(turn("web", Rebuild, NOW - 60_000));
    app.push_loop(turn("web", Restart, NOW - 30_000));
    assert_eq!(
        app.last_build("web"),
        Some(BuildOutcome {
            finished_ms: NOW - 56_000,
            took_ms: Some(3_200),
            ok: true
        }),
        "the last rebuild, not the restart after it: build and packaging"
    );
    let mut failed = turn("web", Rebuild, NOW - 10_000);
    failed.outcome = crate::protocol::LoopOutcome::BuildFailed;
    app.push_loop(failed);
    assert_eq!(app.last_build("web").map(|b| b.ok), Some(false));
}
