//! `build:` and `env_file:`.

use super::*;

// ---- build -----------------------------------------------------------------------------------

pub(super) fn build(cx: &mut Context<'_>, k: &Node, v: &Node) -> Option<RawBuild> {
    let mut b = RawBuild {
        pos: k.pos.clone(),
        dir: cx.dir.clone(),
        context: None,
        dockerfile: None,
        args: BTreeMap::new(),
        target: None,
        dockerfile_inline: None,
        cache_from: None,
    };
    if let Some(text) = v.as_str() {
        b.context = build_context(cx, text, &v.pos).map(|p| (p, v.pos.clone()));
        return Some(b);
    }
    let Some(entries) = v.as_map() else {
        cx.report.error(
            &k.pos,
            format!(
                "`build` must be a string (the context) or a mapping, got {}",
                v.kind()
            ),
        );
        return None;
    };
    for (key, bk, bv) in keys::check(
        entries,
        "build",
        keys::BUILD,
        keys::BUILD_UNSUPPORTED,
        cx.report,
    ) {
        match key {
            "context" => {
                if let Some(text) = string(cx, "build.context", bk, bv) {
                    b.context = build_context(cx, &text, &bv.pos).map(|p| (p, bv.pos.clone()));
                }
            }
            "dockerfile" => {
                b.dockerfile = string(cx, "build.dockerfile", bk, bv).map(|d| (d, bv.pos.clone()));
            }
            "args" => {
                for (arg, value, pos) in key_values(cx, "build.args", bk, bv, '=') {
                    let value = value.or_else(|| {
                        (cx.lookup)(&arg).filter(|host| cx.report.spend(host.len(), &pos))
                    });
                    if let Some(value) = value {
                        b.args.insert(arg, value);
                    }
                }
            }
            "target" => b.target = string(cx, "build.target", bk, bv),
            "dockerfile_inline" => {
                b.dockerfile_inline = string(cx, "build.dockerfile_inline", bk, bv);
            }
            "cache_from" => b.cache_from = string_list(cx, "build.cache_from", bk, bv),
            _ => {}
        }
    }
    Some(b)
}

pub(super) fn build_context(cx: &mut Context<'_>, text: &str, pos: &Pos) -> Option<PathBuf> {
    if text.contains("://") || text.starts_with("git@") {
        cx.report.error(
            pos,
            format!("remote build context `{text}` is not supported by novadev yet"),
        );
        return None;
    }
    host_path(cx, text, pos)
}

// ---- env_file --------------------------------------------------------------------------------

pub(super) fn env_files(cx: &mut Context<'_>, k: &Node, v: &Node) -> Option<Vec<EnvFileRef>> {
    let single;
    let items: &[Node] = if v.as_str().is_some() {
        single = [v.clone()];
        &single
    } else if let Some(items) = v.as_seq() {
        items
    } else {
        cx.report.error(
            &k.pos,
            format!(
                "`env_file` must be a string or a list of paths, got {}",
                v.kind()
            ),
        );
        return None;
    };
    let mut out = Vec::new();
    for item in items {
        if let Some(text) = item.as_str() {
            if let Some(path) = host_path(cx, text, &item.pos) {
                out.push(EnvFileRef {
                    path,
                    required: true,
                    pos: item.pos.clone(),
                });
            }
            continue;
        }
        let Some(entries) = item.as_map() else {
            cx.report.error(
                &item.pos,
                format!(
                    "`env_file` entries must be paths or {{path, required}}, got {}",
                    item.kind()
                ),
            );
            continue;
        };
        let mut path = None;
        let mut required = true;
        for (key, ek, ev) in keys::check(
            entries,
            "env_file",
            &["path", "required"],
            &["format"],
            cx.report,
        ) {
            match key {
                "path" => {
                    path = string(cx, "env_file.path", ek, ev)
                        .and_then(|p| host_path(cx, &p, &ev.pos));
                }
                "required" => required = boolean(cx, "env_file.required", ek, ev).unwrap_or(true),
                _ => {}
            }
        }
        match path {
            Some(path) => out.push(EnvFileRef {
                path,
                required,
                pos: item.pos.clone(),
            }),
            None if item.get("path").is_none() => {
                cx.report
                    .error(&item.pos, "`env_file` entry needs a `path`");
            }
            None => {}
        }
    }
    Some(out)
}
