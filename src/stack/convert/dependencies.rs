//! Service `networks:` and `depends_on:`.

use super::*;

// ---- networks, depends_on --------------------------------------------------------------------

pub(super) fn service_networks(
    cx: &mut Context<'_>,
    k: &Node,
    v: &Node,
) -> BTreeMap<String, (ServiceNetwork, Pos)> {
    let mut out = BTreeMap::new();
    if let Some(items) = v.as_seq() {
        for item in items {
            match item.as_str() {
                Some(name) => {
                    out.insert(
                        name.to_string(),
                        (ServiceNetwork::default(), item.pos.clone()),
                    );
                }
                None => cx.report.error(
                    &item.pos,
                    format!("`networks` entries must be names, got {}", item.kind()),
                ),
            }
        }
        return out;
    }
    let Some(entries) = v.as_map() else {
        if !v.is_null() {
            cx.report.error(
                &k.pos,
                format!("`networks` must be a list or a mapping, got {}", v.kind()),
            );
        }
        return out;
    };
    for (nk, nv) in entries {
        let Some(name) = nk.as_str() else { continue };
        let mut net = ServiceNetwork::default();
        if let Some(fields) = nv.as_map() {
            for (key, fk, fv) in keys::check(
                fields,
                &format!("network `{name}`"),
                keys::SERVICE_NETWORK,
                keys::SERVICE_NETWORK_UNSUPPORTED,
                cx.report,
            ) {
                if key == "aliases" {
                    net.aliases = string_list(cx, "aliases", fk, fv).unwrap_or_default();
                }
            }
        } else if !nv.is_null() {
            cx.report.error(
                &nk.pos,
                format!(
                    "network `{name}` must be a mapping or empty, got {}",
                    nv.kind()
                ),
            );
        }
        out.insert(name.to_string(), (net, nk.pos.clone()));
    }
    out
}

pub(super) fn depends_on(cx: &mut Context<'_>, k: &Node, v: &Node) -> BTreeMap<String, Dependency> {
    let mut out = BTreeMap::new();
    let simple = |pos: &Pos| Dependency {
        condition: Condition::ServiceStarted,
        required: true,
        restart: false,
        pos: pos.clone(),
    };
    if let Some(items) = v.as_seq() {
        for item in items {
            match item.as_str() {
                Some(name) => {
                    out.insert(name.to_string(), simple(&item.pos));
                }
                None => cx.report.error(
                    &item.pos,
                    format!(
                        "`depends_on` entries must be service names, got {}",
                        item.kind()
                    ),
                ),
            }
        }
        return out;
    }
    let Some(entries) = v.as_map() else {
        if !v.is_null() {
            cx.report.error(
                &k.pos,
                format!("`depends_on` must be a list or a mapping, got {}", v.kind()),
            );
        }
        return out;
    };
    for (dk, dv) in entries {
        let Some(name) = dk.as_str() else { continue };
        let mut dep = simple(&dk.pos);
        if let Some(fields) = dv.as_map() {
            for (key, fk, fv) in keys::check(
                fields,
                &format!("depends_on `{name}`"),
                keys::DEPENDS_ON,
                &[],
                cx.report,
            ) {
                match key {
                    "condition" => {
                        if let Some(c) = string(cx, "condition", fk, fv) {
                            dep.condition = match c.as_str() {
                                "service_started" => Condition::ServiceStarted,
                                "service_healthy" => Condition::ServiceHealthy,
                                "service_completed_successfully" => {
                                    Condition::ServiceCompletedSuccessfully
                                }
                                other => {
                                    cx.report.error(
                                        &fv.pos,
                                        format!(
                                            "invalid condition `{other}` (service_started, \
                                             service_healthy or service_completed_successfully)"
                                        ),
                                    );
                                    continue;
                                }
                            };
                        }
                    }
                    "required" => dep.required = boolean(cx, "required", fk, fv).unwrap_or(true),
                    "restart" => dep.restart = boolean(cx, "restart", fk, fv).unwrap_or(false),
                    _ => {}
                }
            }
        } else if !dv.is_null() {
            cx.report.error(
                &dk.pos,
                format!("depends_on `{name}` must be a mapping, got {}", dv.kind()),
            );
        }
        out.insert(name.to_string(), dep);
    }
    out
}
