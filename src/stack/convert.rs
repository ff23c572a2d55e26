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
    Condition, Dependency, Develop, GeneratedKey, HealthTest, MountSource, PortMapping, Pos,
    Protocol, PullPolicy, Requirements, RestartPolicy, ServiceNetwork, VolumeMount, WatchAction,
    WatchRule,
};
use crate::stack::yaml::{Node, Value};

#[derive(Debug, Clone, Default)]
pub struct RawFile {
    pub name: Option<(String, Pos)>,
    pub services: Vec<RawService>,
    pub networks: Vec<RawNetwork>,
    pub volumes: Vec<RawVolume>,
    pub tiers: Option<Vec<(String, Vec<String>, Pos)>>,
    pub connection: Option<crate::stack::model::ConnectionSections>,
    pub requirements: Option<Requirements>,
    pub k8s: Option<serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct RawService {
    pub name: String,
    pub pos: Pos,
    /// The directory of the file that declared the service last (defaults resolve against it).
    pub dir: PathBuf,
    /// A value of this service failed to convert; suppresses follow-up errors such as "no image".
    pub broken: bool,
    pub image: Option<(String, Pos)>,
    pub build: Option<RawBuild>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub environment: BTreeMap<String, String>,
    pub env_file: Option<Vec<EnvFileRef>>,
    pub ports: Vec<PortMapping>,
    pub expose: Vec<String>,
    pub volumes: Vec<VolumeMount>,
    pub networks: BTreeMap<String, (ServiceNetwork, Pos)>,
    pub depends_on: BTreeMap<String, Dependency>,
    pub healthcheck: Option<RawHealthcheck>,
    pub restart: Option<RestartPolicy>,
    pub profiles: Option<Vec<String>>,
    pub labels: BTreeMap<String, String>,
    pub container_name: Option<(String, Pos)>,
    pub pull_policy: Option<(PullPolicy, Pos)>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub stop_signal: Option<String>,
    pub stop_grace_period: Option<Duration>,
    pub extra_hosts: BTreeMap<String, String>,
    pub init: Option<bool>,
    pub tty: Option<bool>,
    pub stdin_open: Option<bool>,
    pub develop: Option<Develop>,
    pub tier: Option<String>,
    pub rebuild_on_change: Option<bool>,
    pub host_build: Option<RawHostBuild>,
    pub keys: Option<Vec<GeneratedKey>>,
    pub k8s: Option<serde_json::Value>,
}

impl RawService {
    fn new(name: String, pos: Pos, dir: PathBuf) -> RawService {
        RawService {
            name,
            pos,
            dir,
            broken: false,
            image: None,
            build: None,
            command: None,
            entrypoint: None,
            environment: BTreeMap::new(),
            env_file: None,
            ports: Vec::new(),
            expose: Vec::new(),
            volumes: Vec::new(),
            networks: BTreeMap::new(),
            depends_on: BTreeMap::new(),
            healthcheck: None,
            restart: None,
            profiles: None,
            labels: BTreeMap::new(),
            container_name: None,
            pull_policy: None,
            working_dir: None,
            user: None,
            hostname: None,
            stop_signal: None,
            stop_grace_period: None,
            extra_hosts: BTreeMap::new(),
            init: None,
            tty: None,
            stdin_open: None,
            develop: None,
            tier: None,
            rebuild_on_change: None,
            host_build: None,
            keys: None,
            k8s: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RawBuild {
    pub pos: Pos,
    /// Directory of the declaring file: the context when none is given.
    pub dir: PathBuf,
    pub context: Option<(PathBuf, Pos)>,
    pub dockerfile: Option<(String, Pos)>,
    pub args: BTreeMap<String, String>,
    pub target: Option<String>,
}

#[derive(Debug, Clone)]
pub struct EnvFileRef {
    pub path: PathBuf,
    pub required: bool,
    pub pos: Pos,
}

#[derive(Debug, Clone, Default)]
pub struct RawHealthcheck {
    /// `Some(None)` is `["NONE"]`.
    pub test: Option<Option<HealthTest>>,
    pub disable: Option<bool>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub start_period: Option<Duration>,
    pub start_interval: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct RawHostBuild {
    pub command: Vec<String>,
    pub workdir: Option<PathBuf>,
    /// As written; resolved against the workdir by `validate`.
    pub artifact: String,
    pub base_image: Option<String>,
    pub install_path: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RawNetwork {
    pub key: String,
    pub pos: Pos,
    pub name: Option<String>,
    pub external: Option<bool>,
    pub driver: Option<String>,
    pub internal: Option<bool>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct RawVolume {
    pub key: String,
    pub pos: Pos,
    pub name: Option<String>,
    pub external: Option<bool>,
    pub driver: Option<String>,
    pub labels: BTreeMap<String, String>,
}

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
    if !valid_service_name(&name) {
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
        match key {
            "image" => s.image = string(cx, key, k, v).map(|i| (i, v.pos.clone())),
            "build" => s.build = build(cx, k, v),
            "command" => s.command = command(cx, key, k, v),
            "entrypoint" => s.entrypoint = command(cx, key, k, v),
            "environment" => {
                for (var, value, _) in key_values(cx, key, k, v, '=') {
                    let value = value.or_else(|| (cx.lookup)(&var));
                    if let Some(value) = value {
                        s.environment.insert(var, value);
                    }
                }
            }
            "env_file" => s.env_file = env_files(cx, k, v),
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
            "init" => s.init = boolean(cx, key, k, v),
            "tty" => s.tty = boolean(cx, key, k, v),
            "stdin_open" => s.stdin_open = boolean(cx, key, k, v),
            "develop" => s.develop = develop(cx, k, v),
            "x-novadev" => service_ext(cx, &mut s, k, v),
            _ => {}
        }
    }
    s.broken = cx.report.errors.len() > errors_before;
    s
}

fn valid_service_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

// ---- typed accessors -------------------------------------------------------------------------

/// A scalar as text (numbers and booleans as written). Errors name `key`.
fn scalar(cx: &mut Context<'_>, key: &str, k: &Node, v: &Node) -> Option<String> {
    match &v.value {
        Value::Scalar { text, .. } if !v.is_null() => Some(text.clone()),
        _ => {
            cx.report.error(
                &k.pos,
                format!("`{key}` must be a string, got {}", v.kind()),
            );
            None
        }
    }
}

fn string(cx: &mut Context<'_>, key: &str, k: &Node, v: &Node) -> Option<String> {
    scalar(cx, key, k, v)
}

fn boolean(cx: &mut Context<'_>, key: &str, k: &Node, v: &Node) -> Option<bool> {
    match v.as_str().map(str::to_ascii_lowercase).as_deref() {
        Some("true" | "yes" | "on") => Some(true),
        Some("false" | "no" | "off") => Some(false),
        _ => {
            cx.report.error(
                &k.pos,
                format!(
                    "`{key}` must be a boolean (true or false), got {}",
                    v.kind()
                ),
            );
            None
        }
    }
}

fn unsigned(cx: &mut Context<'_>, key: &str, k: &Node, v: &Node) -> Option<u32> {
    match v.as_str().map(str::parse::<u32>) {
        Some(Ok(n)) => Some(n),
        _ => {
            cx.report.error(
                &k.pos,
                format!(
                    "`{key}` must be a non-negative integer, got {}",
                    describe(v)
                ),
            );
            None
        }
    }
}

fn duration(cx: &mut Context<'_>, key: &str, k: &Node, v: &Node) -> Option<Duration> {
    let text = scalar(cx, key, k, v)?;
    match parse_duration(&text) {
        Ok(d) => Some(d),
        Err(e) => {
            cx.report.error(&v.pos, format!("`{key}`: {e}"));
            None
        }
    }
}

fn describe(v: &Node) -> String {
    match v.as_str() {
        Some(text) => format!("`{text}`"),
        None => v.kind().to_string(),
    }
}

/// A list's items; anything else is an error naming the key.
fn list<'n>(cx: &mut Context<'_>, key: &str, k: &Node, v: &'n Node) -> &'n [Node] {
    match v.as_seq() {
        Some(items) => items,
        None if v.is_null() => &[],
        None => {
            cx.report
                .error(&k.pos, format!("`{key}` must be a list, got {}", v.kind()));
            &[]
        }
    }
}

fn string_list(cx: &mut Context<'_>, key: &str, k: &Node, v: &Node) -> Option<Vec<String>> {
    let items = match v.as_seq() {
        Some(items) => items,
        None => {
            cx.report.error(
                &k.pos,
                format!("`{key}` must be a list of strings, got {}", v.kind()),
            );
            return None;
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item.as_str() {
            Some(s) => out.push(s.to_string()),
            None => {
                cx.report.error(
                    &item.pos,
                    format!("`{key}` entries must be strings, got {}", item.kind()),
                );
                return None;
            }
        }
    }
    Some(out)
}

/// `command`/`entrypoint`: a string split like a shell would, or a list as is.
fn command(cx: &mut Context<'_>, key: &str, k: &Node, v: &Node) -> Option<Vec<String>> {
    if v.is_null() {
        return None;
    }
    if let Some(text) = v.as_str() {
        return match shell_words::split(text) {
            Ok(words) => Some(words),
            Err(e) => {
                cx.report
                    .error(&v.pos, format!("`{key}`: cannot split `{text}`: {e}"));
                None
            }
        };
    }
    if v.as_seq().is_some() {
        return string_list(cx, key, k, v);
    }
    cx.report.error(
        &k.pos,
        format!(
            "`{key}` must be a string or a list of strings, got {}",
            v.kind()
        ),
    );
    None
}

/// A map (`KEY: value`) or a list (`KEY<sep>value`, or `KEY` alone → `None`). Null map values are
/// `None` too. Returns (key, value, position of the entry).
fn key_values(
    cx: &mut Context<'_>,
    key: &str,
    k: &Node,
    v: &Node,
    separator: char,
) -> Vec<(String, Option<String>, Pos)> {
    let mut out = Vec::new();
    if v.is_null() {
        return out;
    }
    if let Some(entries) = v.as_map() {
        for (ek, ev) in entries {
            let Some(name) = ek.as_str() else {
                cx.report
                    .error(&ek.pos, format!("`{key}`: keys must be strings"));
                continue;
            };
            match &ev.value {
                Value::Scalar { text, .. } => {
                    let value = (!ev.is_null()).then(|| text.clone());
                    out.push((name.to_string(), value, ek.pos.clone()));
                }
                _ => cx.report.error(
                    &ek.pos,
                    format!("`{key}.{name}` must be a string, got {}", ev.kind()),
                ),
            }
        }
        return out;
    }
    if let Some(items) = v.as_seq() {
        for item in items {
            let Some(text) = item.as_str() else {
                cx.report.error(
                    &item.pos,
                    format!("`{key}` entries must be strings, got {}", item.kind()),
                );
                continue;
            };
            match text.split_once(separator) {
                Some((name, value)) => {
                    out.push((name.to_string(), Some(value.to_string()), item.pos.clone()));
                }
                None => out.push((text.to_string(), None, item.pos.clone())),
            }
        }
        return out;
    }
    cx.report.error(
        &k.pos,
        format!("`{key}` must be a mapping or a list, got {}", v.kind()),
    );
    out
}

// ---- paths -----------------------------------------------------------------------------------

/// `path` made absolute against `dir`, with `.` and `..` removed lexically (no symlink lookups:
/// the path may not exist yet).
pub fn resolve(dir: &Path, path: &str) -> PathBuf {
    let joined = dir.join(path);
    normalize(&joined)
}

pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// A host path: `~/x` from `$HOME`, relative to the file's directory, or absolute.
fn host_path(cx: &mut Context<'_>, path: &str, pos: &Pos) -> Option<PathBuf> {
    if path == "~" || path.starts_with("~/") {
        let Some(home) = (cx.lookup)("HOME") else {
            cx.report
                .error(pos, format!("cannot expand `{path}`: HOME is not set"));
            return None;
        };
        let rest = path.trim_start_matches('~').trim_start_matches('/');
        return Some(normalize(&Path::new(&home).join(rest)));
    }
    Some(resolve(&cx.dir, path))
}

// ---- build -----------------------------------------------------------------------------------

fn build(cx: &mut Context<'_>, k: &Node, v: &Node) -> Option<RawBuild> {
    let mut b = RawBuild {
        pos: k.pos.clone(),
        dir: cx.dir.clone(),
        context: None,
        dockerfile: None,
        args: BTreeMap::new(),
        target: None,
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
                for (arg, value, _) in key_values(cx, "build.args", bk, bv, '=') {
                    if let Some(value) = value.or_else(|| (cx.lookup)(&arg)) {
                        b.args.insert(arg, value);
                    }
                }
            }
            "target" => b.target = string(cx, "build.target", bk, bv),
            _ => {}
        }
    }
    Some(b)
}

fn build_context(cx: &mut Context<'_>, text: &str, pos: &Pos) -> Option<PathBuf> {
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

fn env_files(cx: &mut Context<'_>, k: &Node, v: &Node) -> Option<Vec<EnvFileRef>> {
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

// ---- ports -----------------------------------------------------------------------------------

/// `80`, `8000-8002` → inclusive range.
pub fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
    let one = |t: &str| -> Result<u16, String> {
        let t = t.trim();
        match t.parse::<u32>() {
            Ok(0) => Err("port 0 is not a valid port".to_string()),
            Ok(n) if n <= 65535 => Ok(n as u16),
            Ok(n) => Err(format!("port {n} is out of range (1-65535)")),
            Err(_) => Err(format!("`{t}` is not a port number")),
        }
    };
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            if a > b {
                return Err(format!("port range `{text}` is reversed"));
            }
            Ok((a, b))
        }
        None => one(text).map(|p| (p, p)),
    }
}

/// Parses the short port syntax into (host ip, host ports, container ports, protocol).
/// One published port of the short syntax: (host ip, host port, container port, protocol).
pub type ShortPort = (Option<String>, Option<u16>, u16, Protocol);

pub fn parse_port_spec(spec: &str) -> Result<Vec<ShortPort>, String> {
    let spec = spec.trim();
    let (addr, protocol) = match spec.rsplit_once('/') {
        Some((a, p)) => (a, protocol_of(p)?),
        None => (spec, Protocol::Tcp),
    };
    let (ip, rest) = if let Some(after) = addr.strip_prefix('[') {
        let (ip, rest) = after
            .split_once(']')
            .ok_or_else(|| format!("unclosed `[` in port `{spec}`"))?;
        let rest = rest
            .strip_prefix(':')
            .ok_or_else(|| format!("expected `:` after `[{ip}]` in port `{spec}`"))?;
        (Some(ip.to_string()), rest)
    } else {
        let parts: Vec<&str> = addr.split(':').collect();
        match parts.len() {
            1 | 2 => (None, addr),
            3 => (Some(parts[0].to_string()), &addr[parts[0].len() + 1..]),
            _ => {
                return Err(format!(
                    "too many `:` in port `{spec}` (write IPv6 addresses as `[::1]:8080:80`)"
                ));
            }
        }
    };
    if ip
        .as_deref()
        .is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_err())
    {
        return Err(format!(
            "`{}` is not an IP address (in port `{spec}`)",
            ip.unwrap_or_default()
        ));
    }
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (Some(h), c),
        None => {
            if ip.is_some() {
                return Err(format!("port `{spec}` needs a container port"));
            }
            (None, rest)
        }
    };
    let (c_lo, c_hi) = parse_port_range(container)?;
    let host = host.filter(|h| !h.is_empty());
    let mut out = Vec::new();
    match host {
        None => {
            for c in c_lo..=c_hi {
                out.push((ip.clone(), None, c, protocol));
            }
        }
        Some(h) => {
            let (h_lo, h_hi) = parse_port_range(h)?;
            if h_hi - h_lo != c_hi - c_lo {
                return Err(format!(
                    "port ranges of different lengths in `{spec}` ({} host ports, {} container ports)",
                    h_hi - h_lo + 1,
                    c_hi - c_lo + 1
                ));
            }
            for (h, c) in (h_lo..=h_hi).zip(c_lo..=c_hi) {
                out.push((ip.clone(), Some(h), c, protocol));
            }
        }
    }
    Ok(out)
}

fn protocol_of(text: &str) -> Result<Protocol, String> {
    match text.to_ascii_lowercase().as_str() {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        other => Err(format!("unsupported protocol `{other}` (tcp or udp)")),
    }
}

fn mapping(pos: &Pos, (ip, host, container, protocol): ShortPort) -> PortMapping {
    PortMapping {
        host_ip: ip.unwrap_or_else(|| "127.0.0.1".to_string()),
        host_port: host,
        container_port: container,
        protocol,
        pos: pos.clone(),
    }
}

fn port(cx: &mut Context<'_>, item: &Node) -> Vec<PortMapping> {
    if let Some(text) = item.as_str() {
        return match parse_port_spec(text) {
            Ok(list) => list.into_iter().map(|m| mapping(&item.pos, m)).collect(),
            Err(e) => {
                cx.report
                    .error(&item.pos, format!("invalid port `{text}`: {e}"));
                Vec::new()
            }
        };
    }
    let Some(entries) = item.as_map() else {
        cx.report.error(
            &item.pos,
            format!(
                "`ports` entries must be strings or mappings, got {}",
                item.kind()
            ),
        );
        return Vec::new();
    };
    let mut target = None;
    let mut published: Option<(String, Pos)> = None;
    let mut host_ip = None;
    let mut protocol = Protocol::Tcp;
    for (key, pk, pv) in keys::check(entries, "ports", keys::PORT_LONG, &[], cx.report) {
        match key {
            "target" => {
                if let Some(t) = scalar(cx, "ports.target", pk, pv) {
                    match parse_port_range(&t) {
                        Ok((lo, hi)) if lo == hi => target = Some(lo),
                        Ok(_) => cx
                            .report
                            .error(&pv.pos, "`ports.target` must be a single port"),
                        Err(e) => cx.report.error(&pv.pos, format!("invalid port: {e}")),
                    }
                }
            }
            "published" => {
                published = scalar(cx, "ports.published", pk, pv).map(|p| (p, pv.pos.clone()));
            }
            "host_ip" => {
                if let Some(ip) = string(cx, "ports.host_ip", pk, pv) {
                    if ip.parse::<std::net::IpAddr>().is_err() {
                        cx.report
                            .error(&pv.pos, format!("`{ip}` is not an IP address"));
                    } else {
                        host_ip = Some(ip);
                    }
                }
            }
            "protocol" => {
                if let Some(p) = string(cx, "ports.protocol", pk, pv) {
                    match protocol_of(&p) {
                        Ok(p) => protocol = p,
                        Err(e) => cx.report.error(&pv.pos, e),
                    }
                }
            }
            // `mode` (swarm's ingress/host), `name` and `app_protocol` are descriptive only.
            _ => {}
        }
    }
    let Some(target) = target else {
        if item.get("target").is_none() {
            cx.report
                .error(&item.pos, "`ports` entry needs a `target` (container port)");
        }
        return Vec::new();
    };
    let host_port = match published {
        None => None,
        Some((p, _)) if p.is_empty() => None,
        Some((p, ppos)) => match parse_port_range(&p) {
            Ok((lo, hi)) if lo == hi => Some(lo),
            Ok(_) => {
                cx.report.error(
                    &ppos,
                    "`ports.published` ranges need the short syntax (`8000-8002:8000-8002`)",
                );
                return Vec::new();
            }
            Err(e) => {
                cx.report.error(&ppos, format!("invalid port: {e}"));
                return Vec::new();
            }
        },
    };
    vec![mapping(&item.pos, (host_ip, host_port, target, protocol))]
}

// ---- volumes ---------------------------------------------------------------------------------

fn valid_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn mount_source(cx: &mut Context<'_>, source: &str, pos: &Pos) -> Option<MountSource> {
    if source.starts_with('/') || source.starts_with('.') || source.starts_with('~') {
        return host_path(cx, source, pos).map(|path| MountSource::Bind { path });
    }
    if valid_volume_name(source) {
        return Some(MountSource::Volume {
            name: source.to_string(),
        });
    }
    cx.report.error(
        pos,
        format!(
            "invalid volume source `{source}`: a named volume is [a-zA-Z0-9][a-zA-Z0-9_.-]*; \
             write a host path relative to the file as `./{source}`"
        ),
    );
    None
}

fn mount_options(cx: &mut Context<'_>, options: &str, pos: &Pos) -> Option<bool> {
    let mut read_only = false;
    for option in options.split(',') {
        match option {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "z" | "Z" | "cached" | "delegated" | "consistent" | "nocopy" | "shared" | "rshared"
            | "slave" | "rslave" | "private" | "rprivate" => cx.report.warn(
                pos,
                format!("volume option `{option}` is not supported by novadev yet; ignored"),
            ),
            other => {
                cx.report
                    .error(pos, format!("unknown volume option `{other}` (ro or rw)"));
                return None;
            }
        }
    }
    Some(read_only)
}

fn container_path(cx: &mut Context<'_>, target: &str, pos: &Pos) -> bool {
    if target.starts_with('/') {
        return true;
    }
    cx.report.error(
        pos,
        format!("volume target `{target}` must be an absolute path in the container"),
    );
    false
}

fn volume_mount(cx: &mut Context<'_>, item: &Node) -> Option<VolumeMount> {
    let pos = item.pos.clone();
    if let Some(text) = item.as_str() {
        let parts: Vec<&str> = text.split(':').collect();
        let (source, target, options) = match parts.as_slice() {
            [target] => (None, *target, None),
            [a, b] if !b.starts_with('/') && a.starts_with('/') => (None, *a, Some(*b)),
            [source, target] => (Some(*source), *target, None),
            [source, target, options] => (Some(*source), *target, Some(*options)),
            _ => {
                cx.report.error(
                    &pos,
                    format!("invalid volume `{text}` (source:target[:ro|rw])"),
                );
                return None;
            }
        };
        if !container_path(cx, target, &pos) {
            return None;
        }
        let read_only = match options {
            Some(o) => mount_options(cx, o, &pos)?,
            None => false,
        };
        let source = match source {
            None => MountSource::Anonymous,
            Some(s) => mount_source(cx, s, &pos)?,
        };
        return Some(VolumeMount {
            source,
            target: target.to_string(),
            read_only,
            pos,
        });
    }
    let Some(entries) = item.as_map() else {
        cx.report.error(
            &pos,
            format!(
                "`volumes` entries must be strings or mappings, got {}",
                item.kind()
            ),
        );
        return None;
    };
    let mut kind = None;
    let mut source: Option<(String, Pos)> = None;
    let mut target = None;
    let mut read_only = false;
    for (key, vk, vv) in keys::check(
        entries,
        "volumes",
        keys::VOLUME_LONG,
        keys::VOLUME_LONG_UNSUPPORTED,
        cx.report,
    ) {
        match key {
            "type" => kind = string(cx, "volumes.type", vk, vv).map(|t| (t, vv.pos.clone())),
            "source" => source = string(cx, "volumes.source", vk, vv).map(|s| (s, vv.pos.clone())),
            "target" => target = string(cx, "volumes.target", vk, vv).map(|t| (t, vv.pos.clone())),
            "read_only" => read_only = boolean(cx, "volumes.read_only", vk, vv).unwrap_or(false),
            _ => {}
        }
    }
    let Some((target, tpos)) = target else {
        if item.get("target").is_none() {
            cx.report.error(&pos, "`volumes` entry needs a `target`");
        }
        return None;
    };
    if !container_path(cx, &target, &tpos) {
        return None;
    }
    let (kind, kpos) = kind.unwrap_or_else(|| ("volume".to_string(), pos.clone()));
    let source = match (kind.as_str(), source) {
        ("volume", None) => MountSource::Anonymous,
        ("volume", Some((s, spos))) => {
            if !valid_volume_name(&s) {
                cx.report.error(&spos, format!("invalid volume name `{s}`"));
                return None;
            }
            MountSource::Volume { name: s }
        }
        ("bind", Some((s, spos))) => MountSource::Bind {
            path: host_path(cx, &s, &spos)?,
        },
        ("bind", None) => {
            cx.report.error(&pos, "a `bind` volume needs a `source`");
            return None;
        }
        ("tmpfs", _) => MountSource::Tmpfs,
        (other, _) => {
            cx.report.error(
                &kpos,
                format!("volume type `{other}` is not supported (volume, bind or tmpfs)"),
            );
            return None;
        }
    };
    Some(VolumeMount {
        source,
        target,
        read_only,
        pos,
    })
}

// ---- networks, depends_on --------------------------------------------------------------------

fn service_networks(
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

fn depends_on(cx: &mut Context<'_>, k: &Node, v: &Node) -> BTreeMap<String, Dependency> {
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

// ---- healthcheck, restart, pull_policy -------------------------------------------------------

fn healthcheck(cx: &mut Context<'_>, k: &Node, v: &Node) -> Option<RawHealthcheck> {
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

fn health_test(cx: &mut Context<'_>, k: &Node, v: &Node) -> Option<Option<HealthTest>> {
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

fn restart(cx: &mut Context<'_>, text: &str, v: &Node) -> Option<RestartPolicy> {
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

fn pull_policy(cx: &mut Context<'_>, text: &str, v: &Node) -> Option<PullPolicy> {
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

// ---- develop, x-novadev ----------------------------------------------------------------------

fn develop(cx: &mut Context<'_>, k: &Node, v: &Node) -> Option<Develop> {
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

fn watch_rule(cx: &mut Context<'_>, item: &Node) -> Option<WatchRule> {
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

fn service_ext(cx: &mut Context<'_>, s: &mut RawService, k: &Node, v: &Node) {
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
            "k8s" => s.k8s = Some(xv.to_json()),
            _ => {}
        }
    }
}

/// `x-novadev.keys: [{name: jwt, target: /run/secrets/jwt}]`.
fn generated_keys(cx: &mut Context<'_>, k: &Node, v: &Node) -> Option<Vec<GeneratedKey>> {
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
                let valid = !name.is_empty()
                    && name.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
                    });
                if !valid {
                    cx.report.error(
                        &item.pos,
                        format!("key name `{name}` must be lowercase letters, digits, `-` or `_`"),
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

fn host_build(cx: &mut Context<'_>, k: &Node, v: &Node) -> Option<RawHostBuild> {
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

fn project_ext(cx: &mut Context<'_>, k: &Node, v: &Node) -> Option<RawProjectExt> {
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

fn tiers(cx: &mut Context<'_>, tk: &Node, tv: &Node) -> Option<Vec<(String, Vec<String>, Pos)>> {
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
fn connection(
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
fn requirements(cx: &mut Context<'_>, k: &Node, v: &Node) -> Option<Requirements> {
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

// ---- top-level networks and volumes ----------------------------------------------------------

/// `external: true`, or the legacy `external: {name: x}` (which also names the resource).
fn external(cx: &mut Context<'_>, k: &Node, v: &Node, name: &mut Option<String>) -> Option<bool> {
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

fn network(cx: &mut Context<'_>, key: String, pos: Pos, body: &Node) -> RawNetwork {
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

fn volume(cx: &mut Context<'_>, key: String, pos: Pos, body: &Node) -> RawVolume {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ports(spec: &str) -> Vec<ShortPort> {
        parse_port_spec(spec).expect("valid port")
    }

    #[test]
    fn short_port_forms_parse() {
        assert_eq!(ports("80"), vec![(None, None, 80, Protocol::Tcp)]);
        assert_eq!(
            ports("8080:80"),
            vec![(None, Some(8080), 80, Protocol::Tcp)]
        );
        assert_eq!(
            ports("127.0.0.1:8080:80"),
            vec![(Some("127.0.0.1".into()), Some(8080), 80, Protocol::Tcp)]
        );
        assert_eq!(
            ports("53:53/udp"),
            vec![(None, Some(53), 53, Protocol::Udp)]
        );
        assert_eq!(
            ports("[::1]:80:80"),
            vec![(Some("::1".into()), Some(80), 80, Protocol::Tcp)]
        );
        assert_eq!(
            ports("0.0.0.0::80"),
            vec![(Some("0.0.0.0".into()), None, 80, Protocol::Tcp)]
        );
        assert_eq!(ports("8000-8002:9000-9002").len(), 3);
        assert_eq!(
            ports("8000-8002:9000-9002")[2],
            (None, Some(8002), 9002, Protocol::Tcp)
        );
        assert_eq!(ports("8000-8001").len(), 2);
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
