//! `develop.watch` and the `x-novadev` extensions (service and top level).

use super::*;

// ---- develop, x-novadev ----------------------------------------------------------------------

pub(super) fn develop(cx: &mut Context<'_>, k: &Node, v: &Node) -> Option<Develop> {
    let Some(entries) = v.as_map() else {
        cx.report.error(
            &k.pos,
            format!("`develop` must be a mapping, got {}", v.kind()),
        );
        return None;
    };
    let mut watch = Vec::new();
    for (_, wk, wv) in keys::check(entries, "develop", keys::DEVELOP, &[], cx.report) {
        for item in list(cx, "develop.watch", wk, wv) {
            if let Some(rule) = watch_rule(cx, item) {
                watch.push(rule);
            }
        }
    }
    Some(Develop { watch })
}

pub(super) fn watch_rule(cx: &mut Context<'_>, item: &Node) -> Option<WatchRule> {
    let Some(entries) = item.as_map() else {
        cx.report.error(
            &item.pos,
            format!(
                "`develop.watch` entries must be mappings, got {}",
                item.kind()
            ),
        );
        return None;
    };
    let mut path = None;
    let mut action = None;
    let mut target = None;
    let mut ignore = Vec::new();
    let mut exec = None;
    for (key, wk, wv) in keys::check(
        entries,
        "develop.watch",
        keys::WATCH,
        keys::WATCH_UNSUPPORTED,
        cx.report,
    ) {
        match key {
            "path" => {
                path = string(cx, "watch.path", wk, wv).and_then(|p| host_path(cx, &p, &wv.pos));
            }
            "action" => {
                action = match string(cx, "watch.action", wk, wv).as_deref() {
                    Some("rebuild") => Some(WatchAction::Rebuild),
                    Some("sync") => Some(WatchAction::Sync),
                    Some("sync+restart") => Some(WatchAction::SyncRestart),
                    Some("restart") => Some(WatchAction::Restart),
                    Some("sync+exec") => Some(WatchAction::SyncExec),
                    Some(other) => {
                        cx.report.error(
                            &wv.pos,
                            format!(
                                "invalid watch action `{other}` (rebuild, sync, sync+restart, \
                                 restart or sync+exec)"
                            ),
                        );
                        return None;
                    }
                    None => return None,
                }
            }
            "target" => target = string(cx, "watch.target", wk, wv),
            "ignore" => ignore = string_list(cx, "watch.ignore", wk, wv).unwrap_or_default(),
            "exec" => {
                let Some(fields) = wv.as_map() else {
                    cx.report.error(
                        &wk.pos,
                        format!("`watch.exec` must be a mapping, got {}", wv.kind()),
                    );
                    continue;
                };
                for (_, ek, ev) in keys::check(
                    fields,
                    "watch.exec",
                    keys::WATCH_EXEC,
                    keys::WATCH_EXEC_UNSUPPORTED,
                    cx.report,
                ) {
                    exec = command(cx, "watch.exec.command", ek, ev);
                }
            }
            _ => {}
        }
    }
    let (Some(path), Some(action)) = (path, action) else {
        if item.get("path").is_none() || item.get("action").is_none() {
            cx.report
                .error(&item.pos, "`develop.watch` entry needs `path` and `action`");
        }
        return None;
    };
    let needs_target = matches!(
        action,
        WatchAction::Sync | WatchAction::SyncRestart | WatchAction::SyncExec
    );
    if needs_target && target.is_none() {
        cx.report.error(
            &item.pos,
            "a sync watch rule needs a `target` (container path)",
        );
    }
    if action == WatchAction::SyncExec && exec.is_none() {
        cx.report.error(
            &item.pos,
            "a `sync+exec` watch rule needs `exec: {command: ...}`",
        );
    }
    Some(WatchRule {
        path,
        action,
        target,
        ignore,
        exec,
        pos: item.pos.clone(),
    })
}

pub(super) fn service_ext(cx: &mut Context<'_>, s: &mut RawService, k: &Node, v: &Node) {
    let Some(entries) = v.as_map() else {
        cx.report.error(
            &k.pos,
            format!("`x-novadev` must be a mapping, got {}", v.kind()),
        );
        return;
    };
    for (key, xk, xv) in keys::check(entries, "x-novadev", keys::NOVADEV_SERVICE, &[], cx.report) {
        match key {
            "tier" => s.tier = string(cx, "x-novadev.tier", xk, xv),
            "rebuild_on_change" => {
                s.rebuild_on_change = boolean(cx, "x-novadev.rebuild_on_change", xk, xv);
            }
            "host_build" => s.host_build = host_build(cx, xk, xv),
            "keys" => s.keys = generated_keys(cx, xk, xv),
            // Kept as written: its meaning belongs to the Kubernetes runtime, which checks it.
            "k8s" => s.k8s = Some(xv.to_json()),
            _ => {}
        }
    }
}

/// `x-novadev.keys: [{name: jwt, target: /run/secrets/jwt}]`.
pub(super) fn generated_keys(
    cx: &mut Context<'_>,
    k: &Node,
    v: &Node,
) -> Option<Vec<GeneratedKey>> {
    let Some(items) = v.as_seq() else {
        cx.report.error(
            &k.pos,
            format!("`x-novadev.keys` must be a list, got {}", v.kind()),
        );
        return None;
    };
    let mut out = Vec::new();
    for item in items {
        let Some(entries) = item.as_map() else {
            cx.report.error(
                &item.pos,
                format!(
                    "`x-novadev.keys` entries must be mappings with name and target, got {}",
                    item.kind()
                ),
            );
            continue;
        };
        let mut name = None;
        let mut target = None;
        for (key, ik, iv) in
            keys::check(entries, "x-novadev.keys", keys::NOVADEV_KEY, &[], cx.report)
        {
            match key {
                "name" => name = string(cx, "x-novadev.keys.name", ik, iv),
                "target" => target = string(cx, "x-novadev.keys.target", ik, iv),
                _ => {}
            }
        }
        match (name, target) {
            (Some(name), Some(target)) => {
                if !is_valid_key_name(&name) {
                    cx.report.error(
                        &item.pos,
                        format!(
                            "key name `{name}` must be lowercase letters, digits, `-` or `_`, \
                             starting with a letter or digit"
                        ),
                    );
                } else if !target.starts_with('/') {
                    cx.report.error(
                        &item.pos,
                        format!("key target `{target}` must be an absolute path in the container"),
                    );
                } else {
                    out.push(GeneratedKey { name, target });
                }
            }
            _ => cx.report.error(
                &item.pos,
                "`x-novadev.keys` entries need both `name` and `target`",
            ),
        }
    }
    Some(out)
}

pub(super) fn host_build(cx: &mut Context<'_>, k: &Node, v: &Node) -> Option<RawHostBuild> {
    let Some(entries) = v.as_map() else {
        cx.report.error(
            &k.pos,
            format!("`x-novadev.host_build` must be a mapping, got {}", v.kind()),
        );
        return None;
    };
    let mut command_words = None;
    let mut workdir = None;
    let mut artifact = None;
    let mut base_image = None;
    let mut install_path = None;
    let mut live = false;
    for (key, hk, hv) in keys::check(
        entries,
        "x-novadev.host_build",
        keys::NOVADEV_HOST_BUILD,
        &[],
        cx.report,
    ) {
        match key {
            "command" => command_words = command(cx, "host_build.command", hk, hv),
            "workdir" => {
                workdir = string(cx, "host_build.workdir", hk, hv)
                    .and_then(|w| host_path(cx, &w, &hv.pos));
            }
            "artifact" => artifact = string(cx, "host_build.artifact", hk, hv),
            "base_image" => base_image = string(cx, "host_build.base_image", hk, hv),
            "install_path" => install_path = string(cx, "host_build.install_path", hk, hv),
            "live" => live = boolean(cx, "host_build.live", hk, hv).unwrap_or(false),
            _ => {}
        }
    }
    let Some(artifact) = artifact else {
        cx.report.error(
            &k.pos,
            "`x-novadev.host_build` needs an `artifact` (the file the command produces)",
        );
        return None;
    };
    let Some(command_words) = command_words.filter(|c| !c.is_empty()) else {
        cx.report
            .error(&k.pos, "`x-novadev.host_build` needs a `command`");
        return None;
    };
    Some(RawHostBuild {
        command: command_words,
        workdir,
        artifact,
        base_image,
        install_path,
        live,
    })
}

/// Top-level `x-novadev`, as written in one file.
#[derive(Default)]
pub struct RawProjectExt {
    pub tiers: Option<Vec<(String, Vec<String>, Pos)>>,
    pub connection: Option<crate::stack::model::ConnectionSections>,
    pub requirements: Option<Requirements>,
    pub k8s: Option<serde_json::Value>,
}

pub(super) fn project_ext(cx: &mut Context<'_>, k: &Node, v: &Node) -> Option<RawProjectExt> {
    let Some(entries) = v.as_map() else {
        cx.report.error(
            &k.pos,
            format!("`x-novadev` must be a mapping, got {}", v.kind()),
        );
        return None;
    };
    let mut ext = RawProjectExt::default();
    for (key, tk, tv) in keys::check(entries, "x-novadev", keys::NOVADEV_PROJECT, &[], cx.report) {
        match key {
            "tiers" => ext.tiers = tiers(cx, tk, tv),
            "connection" => ext.connection = connection(cx, tk, tv),
            "requirements" => ext.requirements = requirements(cx, tk, tv),
            "k8s" => ext.k8s = Some(tv.to_json()),
            _ => {}
        }
    }
    Some(ext)
}

pub(super) fn tiers(
    cx: &mut Context<'_>,
    tk: &Node,
    tv: &Node,
) -> Option<Vec<(String, Vec<String>, Pos)>> {
    let Some(list) = tv.as_map() else {
        cx.report.error(
            &tk.pos,
            format!(
                "`x-novadev.tiers` must map tier names to lists of services, got {}",
                tv.kind()
            ),
        );
        return None;
    };
    let mut out = Vec::new();
    for (name_node, services) in list {
        let Some(name) = name_node.as_str() else {
            continue;
        };
        let services = string_list(cx, "x-novadev.tiers", name_node, services).unwrap_or_default();
        out.push((name.to_string(), services, name_node.pos.clone()));
    }
    Some(out)
}

/// `connection: {Section: {label: value, ...}, ...}` (order kept).
pub(super) fn connection(
    cx: &mut Context<'_>,
    k: &Node,
    v: &Node,
) -> Option<crate::stack::model::ConnectionSections> {
    let Some(sections) = v.as_map() else {
        cx.report.error(
            &k.pos,
            format!(
                "`x-novadev.connection` must map section names to label/value mappings, got {}",
                v.kind()
            ),
        );
        return None;
    };
    let mut out = Vec::new();
    for (title_node, body) in sections {
        let Some(title) = title_node.as_str() else {
            continue;
        };
        let Some(entries) = body.as_map() else {
            cx.report.error(
                &title_node.pos,
                format!(
                    "`x-novadev.connection.{title}` must map labels to values, got {}",
                    body.kind()
                ),
            );
            continue;
        };
        let mut items = Vec::new();
        for (label_node, value) in entries {
            let (Some(label), Some(value)) = (
                label_node.as_str(),
                string(cx, "x-novadev.connection", label_node, value),
            ) else {
                continue;
            };
            items.push((label.to_string(), value));
        }
        out.push((title.to_string(), items));
    }
    Some(out)
}

/// `requirements: {cpus: 2, memory: 4g}`.
pub(super) fn requirements(cx: &mut Context<'_>, k: &Node, v: &Node) -> Option<Requirements> {
    let Some(entries) = v.as_map() else {
        cx.report.error(
            &k.pos,
            format!(
                "`x-novadev.requirements` must be a mapping, got {}",
                v.kind()
            ),
        );
        return None;
    };
    let mut req = Requirements::default();
    for (key, rk, rv) in keys::check(
        entries,
        "x-novadev.requirements",
        keys::NOVADEV_REQUIREMENTS,
        &[],
        cx.report,
    ) {
        let Some(text) = string(cx, "x-novadev.requirements", rk, rv) else {
            continue;
        };
        match key {
            "cpus" => match text.parse::<f64>() {
                Ok(n) if n > 0.0 => req.cpus = Some(n),
                _ => cx.report.error(
                    &rv.pos,
                    format!("`cpus` must be a positive number, got `{text}`"),
                ),
            },
            "memory" => match parse_bytes(&text) {
                Some(n) => req.memory_bytes = Some(n),
                None => cx.report.error(
                    &rv.pos,
                    format!("`memory` must be a size like 512m or 4g, got `{text}`"),
                ),
            },
            _ => {}
        }
    }
    Some(req)
}

/// Compose-style byte sizes: `1024`, `512k`, `256m`, `4g`, `4gb`, `4GiB` (binary units).
pub fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let digits_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(digits_end);
    let number: f64 = number.parse().ok()?;
    let multiplier: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return None,
    };
    let bytes = number * multiplier as f64;
    (bytes.is_finite() && bytes >= 0.0).then_some(bytes as u64)
}
