//! Top-level `networks:`, `volumes:`, `secrets:`, `configs:` and `include:`.

use super::*;

// ---- top-level networks and volumes ----------------------------------------------------------

/// `external: true`, or the legacy `external: {name: x}` (which also names the resource).
pub(super) fn external(
    cx: &mut Context<'_>,
    k: &Node,
    v: &Node,
    name: &mut Option<String>,
) -> Option<bool> {
    if let Some(entries) = v.as_map() {
        cx.report.warn(
            &k.pos,
            "`external: {name: ...}` is deprecated; use `external: true` and `name:`",
        );
        if let Some(n) = entries
            .iter()
            .find(|(ek, _)| ek.as_str() == Some("name"))
            .and_then(|(_, ev)| ev.as_str())
        {
            *name = Some(n.to_string());
        }
        return Some(true);
    }
    boolean(cx, "external", k, v)
}

pub(super) fn network(cx: &mut Context<'_>, key: String, pos: Pos, body: &Node) -> RawNetwork {
    let mut n = RawNetwork {
        key: key.clone(),
        pos: pos.clone(),
        name: None,
        external: None,
        driver: None,
        internal: None,
        labels: BTreeMap::new(),
    };
    if body.is_null() {
        return n;
    }
    let Some(entries) = body.as_map() else {
        cx.report.error(
            &pos,
            format!(
                "network `{key}` must be a mapping or empty, got {}",
                body.kind()
            ),
        );
        return n;
    };
    for (field, fk, fv) in keys::check(
        entries,
        &format!("network `{key}`"),
        keys::NETWORK,
        keys::NETWORK_UNSUPPORTED,
        cx.report,
    ) {
        match field {
            "name" => n.name = string(cx, "name", fk, fv),
            "external" => {
                let mut name = n.name.clone();
                n.external = external(cx, fk, fv, &mut name);
                n.name = name;
            }
            "driver" => n.driver = string(cx, "driver", fk, fv),
            "internal" => n.internal = boolean(cx, "internal", fk, fv),
            "labels" => {
                for (l, value, _) in key_values(cx, "labels", fk, fv, '=') {
                    n.labels.insert(l, value.unwrap_or_default());
                }
            }
            _ => {}
        }
    }
    n
}

pub(super) fn volume(cx: &mut Context<'_>, key: String, pos: Pos, body: &Node) -> RawVolume {
    let mut v = RawVolume {
        key: key.clone(),
        pos: pos.clone(),
        name: None,
        external: None,
        driver: None,
        labels: BTreeMap::new(),
    };
    if !valid_volume_name(&key) {
        cx.report.error(
            &pos,
            format!("invalid volume name `{key}` ([a-zA-Z0-9][a-zA-Z0-9_.-]*)"),
        );
    }
    if body.is_null() {
        return v;
    }
    let Some(entries) = body.as_map() else {
        cx.report.error(
            &pos,
            format!(
                "volume `{key}` must be a mapping or empty, got {}",
                body.kind()
            ),
        );
        return v;
    };
    for (field, fk, fv) in keys::check(
        entries,
        &format!("volume `{key}`"),
        keys::VOLUME,
        keys::VOLUME_UNSUPPORTED,
        cx.report,
    ) {
        match field {
            "name" => v.name = string(cx, "name", fk, fv),
            "external" => {
                let mut name = v.name.clone();
                v.external = external(cx, fk, fv, &mut name);
                v.name = name;
            }
            "driver" => v.driver = string(cx, "driver", fk, fv),
            "labels" => {
                for (l, value, _) in key_values(cx, "labels", fk, fv, '=') {
                    v.labels.insert(l, value.unwrap_or_default());
                }
            }
            _ => {}
        }
    }
    v
}

/// A top-level `secrets:` / `configs:` entry. Only file-based ones can be used on one engine;
/// the others are warned about (a service referring to one is an error in `validate`).
pub(super) fn file_source(
    cx: &mut Context<'_>,
    kind: FileKind,
    key: String,
    pos: Pos,
    body: &Node,
) -> Option<RawFileSource> {
    let (what, supported, unsupported) = match kind {
        FileKind::Secret => ("secret", keys::SECRET, keys::SECRET_UNSUPPORTED),
        FileKind::Config => ("config", keys::CONFIG, keys::CONFIG_UNSUPPORTED),
    };
    let entries = match body.as_map() {
        Some(entries) => entries,
        None => {
            if !body.is_null() {
                cx.report.error(
                    &pos,
                    format!("{what} `{key}` must be a mapping, got {}", body.kind()),
                );
            }
            &[]
        }
    };
    let mut file = None;
    for (field, fk, fv) in keys::check(
        entries,
        &format!("{what} `{key}`"),
        supported,
        unsupported,
        cx.report,
    ) {
        if field == "file" {
            file = string(cx, "file", fk, fv).and_then(|f| host_path(cx, &f, &fv.pos));
        }
    }
    Some(RawFileSource {
        kind,
        key,
        pos,
        file,
    })
}

/// `include: [path]` or `include: [{path: a | [a, b], env_file, project_directory}]`.
pub(super) fn include(cx: &mut Context<'_>, item: &Node) -> Option<RawInclude> {
    if let Some(path) = item.as_str() {
        return Some(RawInclude {
            paths: vec![host_path(cx, path, &item.pos)?],
            env_files: None,
            project_directory: None,
            pos: item.pos.clone(),
        });
    }
    let mut out = RawInclude {
        paths: Vec::new(),
        env_files: None,
        project_directory: None,
        pos: item.pos.clone(),
    };
    for (key, ik, iv) in keys::check(
        sub_map(cx, item, item),
        "include",
        keys::INCLUDE,
        &[],
        cx.report,
    ) {
        let paths = |cx: &mut Context<'_>| -> Vec<PathBuf> {
            let texts = match iv.as_str() {
                Some(text) => vec![text.to_string()],
                None => string_list(cx, key, ik, iv).unwrap_or_default(),
            };
            texts
                .iter()
                .filter_map(|t| host_path(cx, t, &iv.pos))
                .collect()
        };
        match key {
            "path" => out.paths = paths(cx),
            "env_file" => out.env_files = Some(paths(cx)),
            _ => {
                out.project_directory = string(cx, "project_directory", ik, iv)
                    .and_then(|d| host_path(cx, &d, &iv.pos));
            }
        }
    }
    if out.paths.is_empty() {
        if item.get("path").is_none() {
            cx.report.error(&item.pos, "`include` entry needs a `path`");
        }
        return None;
    }
    Some(out)
}
