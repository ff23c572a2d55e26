//! Top-level `networks:` and `volumes:`.

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
