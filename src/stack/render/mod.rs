//! `novadev config`: the resolved stack written back as Compose YAML.
//!
//! The output is itself a valid stack file: loading it again gives the same stack. Hence `$` is
//! written as `$$` (the values are already interpolated), paths are absolute, env files are folded
//! into `environment`, and the long forms of ports, volumes and depends_on are used.

use std::collections::BTreeMap;

use yaml_rust2::YamlEmitter;
use yaml_rust2::yaml::{Hash, Yaml};

mod runtime;

use crate::stack::duration::format_duration;
use crate::stack::model::{
    Build, Dependency, Develop, HealthTest, Healthcheck, MountSource, Network, PortMapping,
    Protocol, PullPolicy, RestartPolicy, Service, ServiceExt, Stack, Volume, VolumeMount,
    WatchAction,
};

/// Renders the resolved stack as Compose YAML (services sorted by name).
pub fn render_yaml(stack: &Stack) -> String {
    let mut root = Hash::new();
    root.insert(s("name"), text(&stack.name));
    let services: Hash = stack
        .services
        .iter()
        .map(|(name, service)| (s(name), render_service(service)))
        .collect();
    root.insert(s("services"), Yaml::Hash(services));
    if !stack.networks.is_empty() {
        let networks = stack
            .networks
            .iter()
            .map(|(k, n)| (s(k), render_network(n)))
            .collect();
        root.insert(s("networks"), Yaml::Hash(networks));
    }
    for (key, section) in runtime::file_sources(stack) {
        root.insert(s(key), section);
    }
    if !stack.volumes.is_empty() {
        let volumes = stack
            .volumes
            .iter()
            .map(|(k, v)| (s(k), render_volume(v)))
            .collect();
        root.insert(s("volumes"), Yaml::Hash(volumes));
    }
    let mut ext = Hash::new();
    if !stack.novadev.tiers.is_empty() {
        let tiers: Hash = stack
            .novadev
            .tiers
            .iter()
            .map(|(tier, members)| (s(tier), list(members)))
            .collect();
        ext.insert(s("tiers"), Yaml::Hash(tiers));
    }
    if !stack.novadev.connection.is_empty() {
        let sections: Hash = stack
            .novadev
            .connection
            .iter()
            .map(|(title, entries)| {
                let body: Hash = entries.iter().map(|(l, v)| (s(l), s(v))).collect();
                (s(title), Yaml::Hash(body))
            })
            .collect();
        ext.insert(s("connection"), Yaml::Hash(sections));
    }
    let req = &stack.novadev.requirements;
    if req.cpus.is_some() || req.memory_bytes.is_some() {
        let mut body = Hash::new();
        if let Some(cpus) = req.cpus {
            body.insert(s("cpus"), s(&cpus.to_string()));
        }
        if let Some(bytes) = req.memory_bytes {
            body.insert(s("memory"), s(&bytes.to_string()));
        }
        ext.insert(s("requirements"), Yaml::Hash(body));
    }
    if !ext.is_empty() {
        root.insert(s("x-novadev"), Yaml::Hash(ext));
    }
    let mut out = String::new();
    let mut emitter = YamlEmitter::new(&mut out);
    emitter.multiline_strings(true);
    // Writing into a String cannot fail.
    if emitter.dump(&Yaml::Hash(root)).is_err() {
        return String::new();
    }
    let out = out.strip_prefix("---\n").unwrap_or(&out).to_string();
    out + "\n"
}

fn s(key: &str) -> Yaml {
    Yaml::String(key.to_string())
}

/// A value as written in a stack file: `$` escaped so that loading it again does not interpolate.
fn text(value: &str) -> Yaml {
    Yaml::String(value.replace('$', "$$"))
}

fn list(values: &[String]) -> Yaml {
    Yaml::Array(values.iter().map(|v| text(v)).collect())
}

fn map(values: &BTreeMap<String, String>) -> Yaml {
    Yaml::Hash(values.iter().map(|(k, v)| (s(k), text(v))).collect())
}

fn duration(d: std::time::Duration) -> Yaml {
    Yaml::String(format_duration(d))
}

fn render_service(service: &Service) -> Yaml {
    let mut h = Hash::new();
    let mut put = |key: &str, value: Yaml| {
        h.insert(s(key), value);
    };
    if let Some(image) = &service.image {
        put("image", text(image));
    }
    if let Some(build) = &service.build {
        put("build", render_build(build));
    }
    if let Some(command) = &service.command {
        put("command", list(command));
    }
    if let Some(entrypoint) = &service.entrypoint {
        put("entrypoint", list(entrypoint));
    }
    if !service.environment.is_empty() {
        put("environment", map(&service.environment));
    }
    if !service.ports.is_empty() {
        put(
            "ports",
            Yaml::Array(service.ports.iter().map(render_port).collect()),
        );
    }
    if !service.expose.is_empty() {
        put("expose", list(&service.expose));
    }
    if !service.volumes.is_empty() {
        put(
            "volumes",
            Yaml::Array(service.volumes.iter().map(render_mount).collect()),
        );
    }
    let networks: Hash = service
        .networks
        .iter()
        .map(|(name, n)| {
            let value = if n.aliases.is_empty() {
                Yaml::Null
            } else {
                let mut a = Hash::new();
                a.insert(s("aliases"), list(&n.aliases));
                Yaml::Hash(a)
            };
            (s(name), value)
        })
        .collect();
    put("networks", Yaml::Hash(networks));
    if !service.depends_on.is_empty() {
        let deps = service
            .depends_on
            .iter()
            .map(|(name, d)| (s(name), render_dependency(d)))
            .collect();
        put("depends_on", Yaml::Hash(deps));
    }
    if let Some(hc) = &service.healthcheck {
        put("healthcheck", render_healthcheck(hc));
    }
    put("restart", Yaml::String(restart(service.restart)));
    if !service.profiles.is_empty() {
        put("profiles", list(&service.profiles));
    }
    if !service.labels.is_empty() {
        put("labels", map(&service.labels));
    }
    if let Some(c) = &service.container_name {
        put("container_name", text(c));
    }
    put(
        "pull_policy",
        Yaml::String(pull_policy(service.pull_policy)),
    );
    for (key, value) in [
        ("working_dir", &service.working_dir),
        ("user", &service.user),
        ("hostname", &service.hostname),
        ("stop_signal", &service.stop_signal),
    ] {
        if let Some(v) = value {
            put(key, text(v));
        }
    }
    if let Some(d) = service.stop_grace_period {
        put("stop_grace_period", duration(d));
    }
    if !service.extra_hosts.is_empty() {
        put("extra_hosts", list(&service.extra_hosts));
    }
    if let Some(init) = service.init {
        put("init", Yaml::Boolean(init));
    }
    if service.tty {
        put("tty", Yaml::Boolean(true));
    }
    if service.stdin_open {
        put("stdin_open", Yaml::Boolean(true));
    }
    if let Some(develop) = &service.develop {
        put("develop", render_develop(develop));
    }
    for (key, value) in runtime::render(&service.runtime) {
        put(key, value);
    }
    if let Some(ext) = render_ext(&service.novadev) {
        put("x-novadev", ext);
    }
    Yaml::Hash(h)
}

fn render_build(build: &Build) -> Yaml {
    let mut h = Hash::new();
    h.insert(s("context"), text(&build.context.to_string_lossy()));
    h.insert(s("dockerfile"), text(&build.dockerfile));
    if !build.args.is_empty() {
        h.insert(s("args"), map(&build.args));
    }
    if let Some(target) = &build.target {
        h.insert(s("target"), text(target));
    }
    if let Some(inline) = &build.dockerfile_inline {
        h.insert(s("dockerfile_inline"), text(inline));
    }
    if !build.cache_from.is_empty() {
        h.insert(s("cache_from"), list(&build.cache_from));
    }
    Yaml::Hash(h)
}

fn render_port(p: &PortMapping) -> Yaml {
    let mut h = Hash::new();
    h.insert(s("target"), Yaml::Integer(i64::from(p.container_port)));
    match (p.host_port, p.host_port_end) {
        (Some(lo), Some(hi)) => {
            h.insert(s("published"), Yaml::String(format!("{lo}-{hi}")));
        }
        (Some(published), None) => {
            h.insert(s("published"), Yaml::String(published.to_string()));
        }
        (None, _) => {}
    }
    h.insert(s("host_ip"), Yaml::String(p.host_ip.clone()));
    let protocol = match p.protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    };
    h.insert(s("protocol"), s(protocol));
    Yaml::Hash(h)
}

fn render_mount(m: &VolumeMount) -> Yaml {
    let mut h = Hash::new();
    match &m.source {
        MountSource::Volume { name } => {
            h.insert(s("type"), s("volume"));
            h.insert(s("source"), text(name));
        }
        MountSource::Bind { path } => {
            h.insert(s("type"), s("bind"));
            h.insert(s("source"), text(&path.to_string_lossy()));
        }
        MountSource::Anonymous => {
            h.insert(s("type"), s("volume"));
        }
        MountSource::Tmpfs => {
            h.insert(s("type"), s("tmpfs"));
        }
    }
    h.insert(s("target"), text(&m.target));
    if m.read_only {
        h.insert(s("read_only"), Yaml::Boolean(true));
    }
    let mut bind = Hash::new();
    if let Some(p) = &m.propagation {
        bind.insert(s("propagation"), text(p));
    }
    if let Some(label) = &m.selinux {
        bind.insert(s("selinux"), text(label));
    }
    if !bind.is_empty() {
        h.insert(s("bind"), Yaml::Hash(bind));
    }
    if m.nocopy {
        let mut volume = Hash::new();
        volume.insert(s("nocopy"), Yaml::Boolean(true));
        h.insert(s("volume"), Yaml::Hash(volume));
    }
    if let Some(size) = m.tmpfs_size {
        let mut tmpfs = Hash::new();
        tmpfs.insert(s("size"), Yaml::String(size.to_string()));
        h.insert(s("tmpfs"), Yaml::Hash(tmpfs));
    }
    Yaml::Hash(h)
}

fn render_dependency(d: &Dependency) -> Yaml {
    let mut h = Hash::new();
    h.insert(s("condition"), Yaml::String(d.condition.to_string()));
    h.insert(s("required"), Yaml::Boolean(d.required));
    h.insert(s("restart"), Yaml::Boolean(d.restart));
    Yaml::Hash(h)
}

fn render_healthcheck(hc: &Healthcheck) -> Yaml {
    let mut h = Hash::new();
    match &hc.test {
        Some(HealthTest::Cmd(words)) => {
            let mut all = vec![s("CMD")];
            all.extend(words.iter().map(|w| text(w)));
            h.insert(s("test"), Yaml::Array(all));
        }
        Some(HealthTest::Shell(command)) => {
            h.insert(s("test"), Yaml::Array(vec![s("CMD-SHELL"), text(command)]));
        }
        None => {}
    }
    if hc.disable {
        h.insert(s("disable"), Yaml::Boolean(true));
    }
    for (key, value) in [
        ("interval", hc.interval),
        ("timeout", hc.timeout),
        ("start_period", hc.start_period),
        ("start_interval", hc.start_interval),
    ] {
        if let Some(d) = value {
            h.insert(s(key), duration(d));
        }
    }
    if let Some(retries) = hc.retries {
        h.insert(s("retries"), Yaml::Integer(i64::from(retries)));
    }
    Yaml::Hash(h)
}

fn restart(policy: RestartPolicy) -> String {
    match policy {
        RestartPolicy::No => "no".into(),
        RestartPolicy::Always => "always".into(),
        RestartPolicy::UnlessStopped => "unless-stopped".into(),
        RestartPolicy::OnFailure(None) => "on-failure".into(),
        RestartPolicy::OnFailure(Some(n)) => format!("on-failure:{n}"),
    }
}

fn pull_policy(policy: PullPolicy) -> String {
    match policy {
        PullPolicy::Always => "always",
        PullPolicy::Never => "never",
        PullPolicy::Missing => "missing",
        PullPolicy::Build => "build",
    }
    .into()
}

fn render_develop(develop: &Develop) -> Yaml {
    let rules = develop
        .watch
        .iter()
        .map(|rule| {
            let mut h = Hash::new();
            h.insert(s("path"), text(&rule.path.to_string_lossy()));
            let action = match rule.action {
                WatchAction::Rebuild => "rebuild",
                WatchAction::Sync => "sync",
                WatchAction::SyncRestart => "sync+restart",
                WatchAction::Restart => "restart",
                WatchAction::SyncExec => "sync+exec",
            };
            h.insert(s("action"), s(action));
            if let Some(target) = &rule.target {
                h.insert(s("target"), text(target));
            }
            if !rule.ignore.is_empty() {
                h.insert(s("ignore"), list(&rule.ignore));
            }
            if let Some(exec) = &rule.exec {
                let mut e = Hash::new();
                e.insert(s("command"), list(exec));
                h.insert(s("exec"), Yaml::Hash(e));
            }
            Yaml::Hash(h)
        })
        .collect();
    let mut h = Hash::new();
    h.insert(s("watch"), Yaml::Array(rules));
    Yaml::Hash(h)
}

fn render_ext(ext: &ServiceExt) -> Option<Yaml> {
    let mut h = Hash::new();
    if let Some(tier) = &ext.tier {
        h.insert(s("tier"), text(tier));
    }
    if let Some(r) = ext.rebuild_on_change {
        h.insert(s("rebuild_on_change"), Yaml::Boolean(r));
    }
    if let Some(hb) = &ext.host_build {
        let mut b = Hash::new();
        b.insert(s("command"), list(&hb.command));
        b.insert(s("workdir"), text(&hb.workdir.to_string_lossy()));
        b.insert(s("artifact"), text(&hb.artifact.to_string_lossy()));
        b.insert(s("base_image"), text(&hb.base_image));
        b.insert(s("install_path"), text(&hb.install_path));
        h.insert(s("host_build"), Yaml::Hash(b));
    }
    if !ext.keys.is_empty() {
        let keys = ext
            .keys
            .iter()
            .map(|k| {
                let mut key = Hash::new();
                key.insert(s("name"), text(&k.name));
                key.insert(s("target"), text(&k.target));
                Yaml::Hash(key)
            })
            .collect();
        h.insert(s("keys"), Yaml::Array(keys));
    }
    (!h.is_empty()).then_some(Yaml::Hash(h))
}

fn render_network(n: &Network) -> Yaml {
    let mut h = Hash::new();
    if let Some(name) = &n.name {
        h.insert(s("name"), text(name));
    }
    if n.external {
        h.insert(s("external"), Yaml::Boolean(true));
    }
    if let Some(driver) = &n.driver {
        h.insert(s("driver"), text(driver));
    }
    if n.internal {
        h.insert(s("internal"), Yaml::Boolean(true));
    }
    if !n.labels.is_empty() {
        h.insert(s("labels"), map(&n.labels));
    }
    Yaml::Hash(h)
}

fn render_volume(v: &Volume) -> Yaml {
    let mut h = Hash::new();
    if let Some(name) = &v.name {
        h.insert(s("name"), text(name));
    }
    if v.external {
        h.insert(s("external"), Yaml::Boolean(true));
    }
    if let Some(driver) = &v.driver {
        h.insert(s("driver"), text(driver));
    }
    if !v.labels.is_empty() {
        h.insert(s("labels"), map(&v.labels));
    }
    Yaml::Hash(h)
}
