//! `healthcheck:`, `restart:` and `pull_policy:`.

use super::*;

// ---- healthcheck, restart, pull_policy -------------------------------------------------------

pub(super) fn healthcheck(cx: &mut Context<'_>, k: &Node, v: &Node) -> Option<RawHealthcheck> {
    let Some(entries) = v.as_map() else {
        cx.report.error(
            &k.pos,
            format!("`healthcheck` must be a mapping, got {}", v.kind()),
        );
        return None;
    };
    let mut h = RawHealthcheck::default();
    for (key, hk, hv) in keys::check(entries, "healthcheck", keys::HEALTHCHECK, &[], cx.report) {
        match key {
            "test" => h.test = health_test(cx, hk, hv),
            "disable" => h.disable = boolean(cx, "healthcheck.disable", hk, hv),
            "interval" => h.interval = duration(cx, "healthcheck.interval", hk, hv),
            "timeout" => h.timeout = duration(cx, "healthcheck.timeout", hk, hv),
            "start_period" => h.start_period = duration(cx, "healthcheck.start_period", hk, hv),
            "start_interval" => {
                h.start_interval = duration(cx, "healthcheck.start_interval", hk, hv);
            }
            "retries" => h.retries = unsigned(cx, "healthcheck.retries", hk, hv),
            _ => {}
        }
    }
    Some(h)
}

pub(super) fn health_test(cx: &mut Context<'_>, k: &Node, v: &Node) -> Option<Option<HealthTest>> {
    if let Some(text) = v.as_str() {
        return Some(Some(HealthTest::Shell(text.to_string())));
    }
    let words = string_list(cx, "healthcheck.test", k, v)?;
    match words.first().map(String::as_str) {
        None => {
            cx.report
                .error(&k.pos, "`healthcheck.test` must not be empty");
            None
        }
        Some("NONE") => Some(None),
        Some("CMD") => Some(Some(HealthTest::Cmd(words[1..].to_vec()))),
        Some("CMD-SHELL") => {
            if words.len() != 2 {
                cx.report.error(
                    &v.pos,
                    "`CMD-SHELL` takes exactly one string (the shell command)",
                );
                return None;
            }
            Some(Some(HealthTest::Shell(words[1].clone())))
        }
        Some(_) => Some(Some(HealthTest::Cmd(words))),
    }
}

pub(super) fn restart(cx: &mut Context<'_>, text: &str, v: &Node) -> Option<RestartPolicy> {
    let policy = match text {
        "no" => RestartPolicy::No,
        "always" => RestartPolicy::Always,
        "unless-stopped" => RestartPolicy::UnlessStopped,
        "on-failure" => RestartPolicy::OnFailure(None),
        other => match other.strip_prefix("on-failure:").map(str::parse::<u32>) {
            Some(Ok(n)) => RestartPolicy::OnFailure(Some(n)),
            _ => {
                cx.report.error(
                    &v.pos,
                    format!(
                        "invalid restart policy `{other}` (no, always, on-failure[:N] or unless-stopped)"
                    ),
                );
                return None;
            }
        },
    };
    Some(policy)
}

pub(super) fn pull_policy(cx: &mut Context<'_>, text: &str, v: &Node) -> Option<PullPolicy> {
    match text {
        "always" => Some(PullPolicy::Always),
        "never" => Some(PullPolicy::Never),
        "missing" | "if_not_present" => Some(PullPolicy::Missing),
        "build" => Some(PullPolicy::Build),
        other => {
            cx.report.error(
                &v.pos,
                format!("invalid pull_policy `{other}` (always, never, missing or build)"),
            );
            None
        }
    }
}
