//! One interpolated YAML tree → a `RawFile`: the typed content of one stack file, before merge.
//!
//! Every key is checked here (supported / unsupported-with-warning / unknown-with-suggestion), every
//! value's type and syntax too. Relative paths are resolved against the directory of the file that
//! declares them. Fields are `Option`s where merge must know whether this file set them.
//! Checks that need the whole stack (unknown services, volumes, networks, port clashes, files on
//! disk) belong to `validate`.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use crate::stack::duration::parse_duration;
use crate::stack::error::Report;
use crate::stack::keys;
use crate::stack::model::{
    Condition, Dependency, Develop, FileKind, GeneratedKey, HealthTest, Hook, Hooks, Logging,
    MountSource, NetworkMode, PortMapping, Pos, Protocol, PullPolicy, Requirements, Resources,
    RestartPolicy, ServiceNetwork, Ulimit, VolumeMount, WatchAction, WatchRule, is_valid_key_name,
    is_valid_service_name,
};
use crate::stack::yaml::{Node, Value};

mod accessors;
mod build;
mod dependencies;
mod lifecycle;
mod novadev;
mod paths;
mod ports;
mod raw;
mod resources;
mod runtime;
mod volumes;

use accessors::*;
use build::*;
use dependencies::*;
use lifecycle::*;
pub(crate) use novadev::*;
pub(crate) use paths::*;
pub(crate) use ports::*;
pub(crate) use raw::*;
use resources::*;
use runtime::*;
pub(crate) use volumes::*;

/// What conversion needs besides the tree.
pub struct Context<'a> {
    /// Directory of the file being converted.
    pub dir: PathBuf,
    /// Variables for bare `environment` keys and `~` (process env, then `.env`).
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    pub report: &'a mut Report,
}

/// Converts a whole file. `root` is `None` for an empty file.
pub fn convert_file(root: Option<&Node>, cx: &mut Context<'_>) -> RawFile {
    let mut file = RawFile::default();
    let Some(root) = root else {
        return file;
    };
    let Some(entries) = root.as_map() else {
        cx.report.error(
            &root.pos,
            format!("a stack file must be a mapping, got {}", root.kind()),
        );
        return file;
    };
    let mut supported: Vec<&str> = keys::TOP_LEVEL.to_vec();
    supported.push("x-novadev");
    for (key, knode, value) in keys::check(
        entries,
        "top level",
        &supported,
        keys::TOP_LEVEL_UNSUPPORTED,
        cx.report,
    ) {
        match key {
            "name" => file.name = string(cx, "name", knode, value).map(|s| (s, value.pos.clone())),
            "version" => cx.report.warn(
                &knode.pos,
                "`version` is obsolete and ignored (as in Compose v2)",
            ),
            "services" => {
                for (name, npos, body) in named_entries(cx, "services", knode, value) {
                    file.services.push(service(cx, name, npos, body));
                }
            }
            "networks" => {
                for (name, npos, body) in named_entries(cx, "networks", knode, value) {
                    file.networks.push(network(cx, name, npos, body));
                }
            }
            "volumes" => {
                for (name, npos, body) in named_entries(cx, "volumes", knode, value) {
                    file.volumes.push(volume(cx, name, npos, body));
                }
            }
            "secrets" | "configs" => {
                let kind = if key == "secrets" {
                    FileKind::Secret
                } else {
                    FileKind::Config
                };
                for (name, npos, body) in named_entries(cx, key, knode, value) {
                    file.file_sources
                        .extend(file_source(cx, kind, name, npos, body));
                }
            }
            "include" => {
                for item in list(cx, "include", knode, value) {
                    file.includes.extend(include(cx, item));
                }
            }
            "x-novadev" => {
                if let Some(ext) = project_ext(cx, knode, value) {
                    file.tiers = ext.tiers;
                    file.connection = ext.connection;
                    file.requirements = ext.requirements;
                    file.k8s = ext.k8s;
                }
            }
            _ => {}
        }
    }
    file
}

/// Entries of a `services:`/`networks:`/`volumes:` section: (name, key pos, body).
fn named_entries<'n>(
    cx: &mut Context<'_>,
    what: &str,
    knode: &Node,
    value: &'n Node,
) -> Vec<(String, Pos, &'n Node)> {
    if value.is_null() {
        return Vec::new();
    }
    let Some(entries) = value.as_map() else {
        cx.report.error(
            &knode.pos,
            format!("`{what}` must be a mapping, got {}", value.kind()),
        );
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|(k, v)| match k.as_str() {
            Some(name) if !name.is_empty() => Some((name.to_string(), k.pos.clone(), v)),
            _ => {
                cx.report
                    .error(&k.pos, format!("`{what}`: names must be non-empty strings"));
                None
            }
        })
        .collect()
}

fn service(cx: &mut Context<'_>, name: String, pos: Pos, body: &Node) -> RawService {
    let mut s = RawService::new(name.clone(), pos.clone(), cx.dir.clone());
    let errors_before = cx.report.errors.len();
    if !is_valid_service_name(&name) {
        cx.report.error(
            &pos,
            format!("invalid service name `{name}` (use letters, digits, `_`, `.` and `-`)"),
        );
    }
    if body.is_null() {
        return s;
    }
    let Some(entries) = body.as_map() else {
        cx.report.error(
            &pos,
            format!("service `{name}` must be a mapping, got {}", body.kind()),
        );
        s.broken = true;
        return s;
    };
    let what = format!("service `{name}`");
    let mut supported: Vec<&str> = keys::SERVICE.to_vec();
    supported.push("x-novadev");
    let fields = keys::check(
        entries,
        &what,
        &supported,
        keys::SERVICE_UNSUPPORTED,
        cx.report,
    );
    for (key, k, v) in fields {
        // Each family of keys has its own function; exactly one of them knows `key`.
        let _ = what_to_run(cx, &mut s, key, k, v)
            || wiring(cx, &mut s, key, k, v)
            || process(cx, &mut s, key, k, v)
            || runtime_key(cx, &mut s.runtime, key, k, v);
    }
    s.broken = cx.report.errors.len() > errors_before;
    s
}

/// Image, build, command, environment and extension keys: what runs.
fn what_to_run(cx: &mut Context<'_>, s: &mut RawService, key: &str, k: &Node, v: &Node) -> bool {
    match key {
        "image" => s.image = string(cx, key, k, v).map(|i| (i, v.pos.clone())),
        "build" => s.build = build(cx, k, v),
        "command" => s.command = command(cx, key, k, v),
        "entrypoint" => s.entrypoint = command(cx, key, k, v),
        "environment" => {
            for (var, value, pos) in key_values(cx, key, k, v, '=') {
                // A bare key copies the host's value: that copy is spent from the budget.
                let value = value
                    .or_else(|| (cx.lookup)(&var).filter(|host| cx.report.spend(host.len(), &pos)));
                if let Some(value) = value {
                    s.environment.insert(var, value);
                }
            }
        }
        "env_file" => s.env_file = env_files(cx, k, v),
        "extends" => s.extends = extends(cx, k, v),
        "develop" => s.develop = develop(cx, k, v),
        "x-novadev" => service_ext(cx, s, k, v),
        _ => return false,
    }
    true
}

/// Ports, volumes, networks and dependencies: how the service is wired to the rest.
fn wiring(cx: &mut Context<'_>, s: &mut RawService, key: &str, k: &Node, v: &Node) -> bool {
    match key {
        "ports" => {
            for item in list(cx, key, k, v) {
                s.ports.extend(port(cx, item));
            }
        }
        "expose" => {
            for item in list(cx, key, k, v) {
                if let Some(e) = scalar(cx, "expose entry", item, item) {
                    if parse_port_range(e.split('/').next().unwrap_or_default()).is_err() {
                        cx.report
                            .error(&item.pos, format!("invalid expose port `{e}`"));
                    } else {
                        s.expose.push(e);
                    }
                }
            }
        }
        "volumes" => {
            for item in list(cx, key, k, v) {
                if let Some(m) = volume_mount(cx, item) {
                    s.volumes.push(m);
                }
            }
        }
        "networks" => s.networks = service_networks(cx, k, v),
        "depends_on" => s.depends_on = depends_on(cx, k, v),
        "extra_hosts" => {
            let separator = if v.as_map().is_some() { '=' } else { ':' };
            for (host, ip, pos) in key_values(cx, key, k, v, separator) {
                match ip {
                    Some(ip) if !ip.is_empty() => {
                        s.extra_hosts.insert(host, ip);
                    }
                    _ => cx.report.error(
                        &pos,
                        format!("`extra_hosts` entry `{host}` needs an address (`host:ip`)"),
                    ),
                }
            }
        }
        _ => return false,
    }
    true
}

/// The process and its lifecycle: restart, health, user, names, labels, terminal.
fn process(cx: &mut Context<'_>, s: &mut RawService, key: &str, k: &Node, v: &Node) -> bool {
    match key {
        "healthcheck" => s.healthcheck = healthcheck(cx, k, v),
        "restart" => s.restart = string(cx, key, k, v).and_then(|r| restart(cx, &r, v)),
        "profiles" => s.profiles = string_list(cx, key, k, v),
        "labels" => {
            for (label, value, _) in key_values(cx, key, k, v, '=') {
                s.labels.insert(label, value.unwrap_or_default());
            }
        }
        "container_name" => {
            s.container_name = string(cx, key, k, v).map(|c| (c, v.pos.clone()));
        }
        "pull_policy" => {
            s.pull_policy = string(cx, key, k, v)
                .and_then(|p| pull_policy(cx, &p, v))
                .map(|p| (p, v.pos.clone()));
        }
        "working_dir" => s.working_dir = string(cx, key, k, v),
        "user" => s.user = string(cx, key, k, v),
        "hostname" => s.hostname = string(cx, key, k, v),
        "stop_signal" => s.stop_signal = string(cx, key, k, v),
        "stop_grace_period" => s.stop_grace_period = duration(cx, key, k, v),
        "init" => s.init = boolean(cx, key, k, v),
        "tty" => s.tty = boolean(cx, key, k, v),
        "stdin_open" => s.stdin_open = boolean(cx, key, k, v),
        _ => return false,
    }
    true
}

/// `extends: service` or `extends: {service, file}`.
fn extends(cx: &mut Context<'_>, k: &Node, v: &Node) -> Option<RawExtends> {
    if let Some(service) = v.as_str() {
        return Some(RawExtends {
            service: service.to_string(),
            file: None,
            pos: v.pos.clone(),
        });
    }
    let entries = sub_map(cx, k, v);
    let mut service = None;
    let mut file = None;
    for (key, ek, ev) in keys::check(entries, "extends", keys::EXTENDS, &[], cx.report) {
        match key {
            "service" => service = string(cx, "extends.service", ek, ev),
            "file" => {
                file = string(cx, "extends.file", ek, ev).and_then(|f| host_path(cx, &f, &ev.pos));
            }
            _ => {}
        }
    }
    let Some(service) = service else {
        if v.as_map().is_some() {
            cx.report.error(&k.pos, "`extends` needs a `service`");
        }
        return None;
    };
    Some(RawExtends {
        service,
        file,
        pos: k.pos.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports(spec: &str) -> Vec<ShortPort> {
        parse_port_spec(spec).expect("valid port")
    }

    fn short(ip: Option<&str>, host: Option<u16>, container: u16, protocol: Protocol) -> ShortPort {
        ShortPort {
            ip: ip.map(String::from),
            host,
            host_end: None,
            container,
            protocol,
        }
    }

    #[test]
    fn short_port_forms_parse() {
        assert_eq!(ports("80"), vec![short(None, None, 80, Protocol::Tcp)]);
        assert_eq!(
            ports("8080:80"),
            vec![short(None, Some(8080), 80, Protocol::Tcp)]
        );
        assert_eq!(
            ports("127.0.0.1:8080:80"),
            vec![short(Some("127.0.0.1"), Some(8080), 80, Protocol::Tcp)]
        );
        assert_eq!(
            ports("53:53/udp"),
            vec![short(None, Some(53), 53, Protocol::Udp)]
        );
        assert_eq!(
            ports("[::1]:80:80"),
            vec![short(Some("::1"), Some(80), 80, Protocol::Tcp)]
        );
        assert_eq!(
            ports("0.0.0.0::80"),
            vec![short(Some("0.0.0.0"), None, 80, Protocol::Tcp)]
        );
        assert_eq!(ports("8000-8002:9000-9002").len(), 3);
        assert_eq!(
            ports("8000-8002:9000-9002")[2],
            short(None, Some(8002), 9002, Protocol::Tcp)
        );
        assert_eq!(ports("8000-8001").len(), 2);
    }

    #[test]
    fn host_range_onto_one_container_port_is_one_mapping_over_the_range() {
        assert_eq!(
            ports("6005-6015:80"),
            vec![ShortPort {
                host_end: Some(6015),
                ..short(None, Some(6005), 80, Protocol::Tcp)
            }]
        );
        assert!(parse_port_spec("6005-6015:80-81").is_err());
    }

    #[test]
    fn bad_port_specs_are_rejected() {
        for bad in [
            "abc",
            "70000:80",
            "80:0",
            "8000-8002:8000-8001",
            "1.2.3:80:80",
            "80/sctp",
            "a:b:c:d",
            "[::1:80:80",
            "",
        ] {
            assert!(parse_port_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_are_normalized_lexically() {
        assert_eq!(
            resolve(Path::new("/p/stack"), "./a/../b/./c"),
            PathBuf::from("/p/stack/b/c")
        );
        assert_eq!(
            resolve(Path::new("/p/stack"), "../x"),
            PathBuf::from("/p/x")
        );
        assert_eq!(resolve(Path::new("/p"), "/abs"), PathBuf::from("/abs"));
    }
}
