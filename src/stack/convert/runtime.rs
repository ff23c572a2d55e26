//! Container runtime keys: resources (`deploy.resources`, `mem_limit`, `cpus`, …), privileges
//! (`cap_add`, `cap_drop`, `privileged`, `read_only`, `security_opt`), namespaces
//! (`network_mode`), files (`tmpfs`, `secrets`, `configs`), `logging`, `ulimits`, `links`, DNS,
//! `sysctls`, `shm_size`, `platform`, `devices` and the `post_start` / `pre_stop` hooks.

use super::*;

/// Converts one runtime key into `r`; `false` when `key` is not one of them.
pub(super) fn runtime_key(
    cx: &mut Context<'_>,
    r: &mut RawRuntime,
    key: &str,
    k: &Node,
    v: &Node,
) -> bool {
    match key {
        "tmpfs" => {
            for entry in string_or_list(cx, key, k, v) {
                tmpfs_entry(cx, r, &entry, &v.pos);
            }
        }
        "deploy" => deploy(cx, r, k, v),
        "scale" => r.replicas = unsigned(cx, key, k, v).map(|n| (n, k.pos.clone())),
        "mem_limit" => r.resources.memory = size(cx, key, k, v),
        "mem_reservation" => r.resources.memory_reservation = size(cx, key, k, v),
        "cpus" => r.resources.cpus = cpus(cx, key, k, v),
        "pids_limit" => r.resources.pids = integer(cx, key, k, v),
        "cap_add" => r.cap_add = string_list(cx, key, k, v).unwrap_or_default(),
        "cap_drop" => r.cap_drop = string_list(cx, key, k, v).unwrap_or_default(),
        "privileged" => r.privileged = boolean(cx, key, k, v),
        "read_only" => r.read_only = boolean(cx, key, k, v),
        "network_mode" => {
            r.network_mode = string(cx, key, k, v).map(|m| (network_mode(&m), v.pos.clone()));
        }
        "security_opt" => r.security_opt = string_list(cx, key, k, v).unwrap_or_default(),
        "secrets" => file_refs(cx, r, FileKind::Secret, k, v),
        "configs" => file_refs(cx, r, FileKind::Config, k, v),
        "logging" => r.logging = logging(cx, k, v),
        "ulimits" => ulimits(cx, r, k, v),
        "links" => {
            for item in list(cx, key, k, v) {
                if let Some(text) = scalar(cx, "links entry", item, item) {
                    let (service, alias) = text.split_once(':').unwrap_or((&text, &text));
                    r.links
                        .push((service.to_string(), alias.to_string(), item.pos.clone()));
                }
            }
        }
        "shm_size" => r.shm_size = size(cx, key, k, v),
        "platform" => r.platform = string(cx, key, k, v),
        "sysctls" => {
            for (name, value, _) in key_values(cx, key, k, v, '=') {
                r.sysctls.insert(name, value.unwrap_or_default());
            }
        }
        "dns" => r.dns = string_or_list(cx, key, k, v),
        "dns_search" => r.dns_search = string_or_list(cx, key, k, v),
        "dns_opt" => r.dns_opt = string_list(cx, key, k, v).unwrap_or_default(),
        "devices" => {
            for item in list(cx, key, k, v) {
                match item.as_str() {
                    Some(text) => r.devices.push(text.to_string()),
                    None => cx.report.error(
                        &item.pos,
                        "`devices` entries must be strings (`host[:container[:permissions]]`)",
                    ),
                }
            }
        }
        "post_start" => r.hooks.post_start = hooks(cx, key, k, v),
        "pre_stop" => r.hooks.pre_stop = hooks(cx, key, k, v),
        _ => return false,
    }
    true
}

/// A string or a list of strings (`dns: 8.8.8.8` or `dns: [8.8.8.8, 1.1.1.1]`).
fn string_or_list(cx: &mut Context<'_>, key: &str, k: &Node, v: &Node) -> Vec<String> {
    match v.as_str() {
        Some(text) => vec![text.to_string()],
        None => string_list(cx, key, k, v).unwrap_or_default(),
    }
}

/// `/run` or `/run:size=64m,mode=1777`.
fn tmpfs_entry(cx: &mut Context<'_>, r: &mut RawRuntime, entry: &str, pos: &Pos) {
    let (path, options) = entry.split_once(':').unwrap_or((entry, ""));
    if let Some(path) = container_path(cx, path, pos) {
        r.tmpfs.insert(path, options.to_string());
    }
}

/// A byte size: a number of bytes or `512m`, `1g`, ….
fn size(cx: &mut Context<'_>, key: &str, k: &Node, v: &Node) -> Option<u64> {
    let text = scalar(cx, key, k, v)?;
    let bytes = parse_bytes(&text);
    if bytes.is_none() {
        cx.report.error(
            &v.pos,
            format!("`{key}` must be a size like 512m or 2g, got `{text}`"),
        );
    }
    bytes
}

fn cpus(cx: &mut Context<'_>, key: &str, k: &Node, v: &Node) -> Option<f64> {
    let text = scalar(cx, key, k, v)?;
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Some(n),
        _ => {
            cx.report.error(
                &v.pos,
                format!("`{key}` must be a number of CPUs like 0.5 or 2, got `{text}`"),
            );
            None
        }
    }
}

fn integer(cx: &mut Context<'_>, key: &str, k: &Node, v: &Node) -> Option<i64> {
    let text = scalar(cx, key, k, v)?;
    match text.parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => {
            cx.report
                .error(&v.pos, format!("`{key}` must be an integer, got `{text}`"));
            None
        }
    }
}

/// `host`, `none`, `service:NAME`, `container:NAME`, or a network named directly (`bridge`).
pub fn network_mode(text: &str) -> NetworkMode {
    match text {
        "host" => NetworkMode::Host,
        "none" => NetworkMode::None,
        other => match other.split_once(':') {
            Some(("service", name)) => NetworkMode::Service(name.to_string()),
            Some(("container", name)) => NetworkMode::Container(name.to_string()),
            _ => NetworkMode::Network(other.to_string()),
        },
    }
}

/// `deploy:` — only what applies to one container on one engine: replicas and resources.
fn deploy(cx: &mut Context<'_>, r: &mut RawRuntime, k: &Node, v: &Node) {
    for (key, dk, dv) in keys::check(
        sub_map(cx, k, v),
        "deploy",
        keys::DEPLOY,
        keys::DEPLOY_UNSUPPORTED,
        cx.report,
    ) {
        match key {
            "replicas" => {
                r.replicas = unsigned(cx, "deploy.replicas", dk, dv).map(|n| (n, dk.pos.clone()))
            }
            "resources" => {
                for (part, pk, pv) in keys::check(
                    sub_map(cx, dk, dv),
                    "deploy.resources",
                    keys::RESOURCES,
                    &[],
                    cx.report,
                ) {
                    if part == "limits" {
                        limits(cx, r, pk, pv);
                    } else {
                        reservations(cx, r, pk, pv);
                    }
                }
            }
            _ => {}
        }
    }
}

fn limits(cx: &mut Context<'_>, r: &mut RawRuntime, k: &Node, v: &Node) {
    for (key, lk, lv) in keys::check(
        sub_map(cx, k, v),
        "deploy.resources.limits",
        keys::LIMITS,
        &[],
        cx.report,
    ) {
        match key {
            "cpus" => r.resources.cpus = cpus(cx, "limits.cpus", lk, lv),
            "memory" => r.resources.memory = size(cx, "limits.memory", lk, lv),
            "pids" => r.resources.pids = integer(cx, "limits.pids", lk, lv),
            _ => {}
        }
    }
}

fn reservations(cx: &mut Context<'_>, r: &mut RawRuntime, k: &Node, v: &Node) {
    for (key, rk, rv) in keys::check(
        sub_map(cx, k, v),
        "deploy.resources.reservations",
        keys::RESERVATIONS,
        keys::RESERVATIONS_UNSUPPORTED,
        cx.report,
    ) {
        match key {
            "memory" => {
                r.resources.memory_reservation = size(cx, "reservations.memory", rk, rv);
            }
            // The engine has no CPU reservation for a container (Compose passes none either).
            _ => cx.report.warn(
                &rk.pos,
                "`deploy.resources.reservations.cpus` has no effect on a single engine; ignored",
            ),
        }
    }
}

/// A service's `secrets:` or `configs:`: names, or `{source, target}`.
fn file_refs(cx: &mut Context<'_>, r: &mut RawRuntime, kind: FileKind, k: &Node, v: &Node) {
    let what = match kind {
        FileKind::Secret => "secrets",
        FileKind::Config => "configs",
    };
    for item in list(cx, what, k, v) {
        if let Some(name) = item.as_str() {
            r.file_refs.push(RawFileRef {
                kind,
                source: name.to_string(),
                target: None,
                pos: item.pos.clone(),
            });
            continue;
        }
        let mut source = None;
        let mut target = None;
        for (key, fk, fv) in keys::check(
            sub_map(cx, item, item),
            what,
            keys::FILE_REF,
            keys::FILE_REF_UNSUPPORTED,
            cx.report,
        ) {
            match key {
                "source" => source = string(cx, "source", fk, fv),
                "target" => target = string(cx, "target", fk, fv),
                _ => {}
            }
        }
        match source {
            Some(source) => r.file_refs.push(RawFileRef {
                kind,
                source,
                target,
                pos: item.pos.clone(),
            }),
            None if item.as_map().is_some() => cx
                .report
                .error(&item.pos, format!("`{what}` entry needs a `source`")),
            None => {}
        }
    }
}

fn logging(cx: &mut Context<'_>, k: &Node, v: &Node) -> Option<Logging> {
    let mut out = Logging {
        driver: None,
        options: BTreeMap::new(),
    };
    for (key, lk, lv) in keys::check(sub_map(cx, k, v), "logging", keys::LOGGING, &[], cx.report) {
        match key {
            "driver" => out.driver = string(cx, "logging.driver", lk, lv),
            _ => {
                for (name, value, _) in key_values(cx, "logging.options", lk, lv, '=') {
                    out.options.insert(name, value.unwrap_or_default());
                }
            }
        }
    }
    Some(out)
}

/// `ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 65535}`.
fn ulimits(cx: &mut Context<'_>, r: &mut RawRuntime, k: &Node, v: &Node) {
    for (name_node, value) in sub_map(cx, k, v) {
        let Some(name) = name_node.as_str() else {
            continue;
        };
        if value.as_map().is_none() {
            if let Some(n) = integer(cx, "ulimits", name_node, value) {
                r.ulimits
                    .insert(name.to_string(), Ulimit { soft: n, hard: n });
            }
            continue;
        }
        let mut soft = None;
        let mut hard = None;
        for (key, uk, uv) in keys::check(
            sub_map(cx, name_node, value),
            &format!("ulimits.{name}"),
            keys::ULIMIT,
            &[],
            cx.report,
        ) {
            match key {
                "soft" => soft = integer(cx, "soft", uk, uv),
                _ => hard = integer(cx, "hard", uk, uv),
            }
        }
        match (soft, hard) {
            (Some(soft), Some(hard)) => {
                r.ulimits.insert(name.to_string(), Ulimit { soft, hard });
            }
            _ => cx.report.error(
                &name_node.pos,
                format!("`ulimits.{name}` needs both `soft` and `hard`"),
            ),
        }
    }
}

/// `post_start:` / `pre_stop:`: a list of `{command, user, privileged, working_dir, environment}`.
fn hooks(cx: &mut Context<'_>, key: &str, k: &Node, v: &Node) -> Vec<Hook> {
    let mut out = Vec::new();
    for item in list(cx, key, k, v) {
        let mut hook = Hook {
            command: Vec::new(),
            user: None,
            privileged: false,
            working_dir: None,
            environment: BTreeMap::new(),
        };
        for (field, hk, hv) in keys::check(sub_map(cx, item, item), key, keys::HOOK, &[], cx.report)
        {
            match field {
                "command" => hook.command = command(cx, "command", hk, hv).unwrap_or_default(),
                "user" => hook.user = string(cx, "user", hk, hv),
                "privileged" => {
                    hook.privileged = boolean(cx, "privileged", hk, hv).unwrap_or(false)
                }
                "working_dir" => hook.working_dir = string(cx, "working_dir", hk, hv),
                _ => {
                    for (name, value, _) in key_values(cx, "environment", hk, hv, '=') {
                        hook.environment.insert(name, value.unwrap_or_default());
                    }
                }
            }
        }
        if hook.command.is_empty() {
            cx.report
                .error(&item.pos, format!("a `{key}` hook needs a `command`"));
            continue;
        }
        out.push(hook);
    }
    if !out.is_empty() {
        cx.report.warn(
            &k.pos,
            format!("`{key}` hooks are not run by novadev yet (they are kept in the model and in `config`)"),
        );
    }
    out
}
