//! `config` output of the runtime settings (`model::Runtime`), in Compose's own syntax, and the
//! top-level `secrets:` / `configs:` the services' files come from.

use std::collections::BTreeMap;

use yaml_rust2::yaml::{Hash, Yaml};

use super::{list, map, s, text};
use crate::stack::model::{FileKind, Hook, Logging, Runtime, Stack};

/// The service keys for `r`, in a stable order; nothing for what is unset.
pub(super) fn render(r: &Runtime) -> Vec<(&'static str, Yaml)> {
    let mut out: Vec<(&'static str, Yaml)> = Vec::new();
    let mut strings = |key: &'static str, values: &Vec<String>| {
        if !values.is_empty() {
            out.push((key, list(values)));
        }
    };
    strings("cap_add", &r.cap_add);
    strings("cap_drop", &r.cap_drop);
    strings("security_opt", &r.security_opt);
    strings("dns", &r.dns);
    strings("dns_search", &r.dns_search);
    strings("dns_opt", &r.dns_opt);
    strings("devices", &r.devices);
    if !r.tmpfs.is_empty() {
        let entries: Vec<String> = r
            .tmpfs
            .iter()
            .map(|(path, options)| {
                if options.is_empty() {
                    path.clone()
                } else {
                    format!("{path}:{options}")
                }
            })
            .collect();
        out.push(("tmpfs", list(&entries)));
    }
    if let Some(deploy) = deploy(r) {
        out.push(("deploy", deploy));
    }
    if r.privileged {
        out.push(("privileged", Yaml::Boolean(true)));
    }
    if r.read_only {
        out.push(("read_only", Yaml::Boolean(true)));
    }
    if let Some(mode) = &r.network_mode {
        out.push(("network_mode", text(&mode.to_string())));
    }
    out.extend(file_refs(r));
    if let Some(logging) = &r.logging {
        out.push(("logging", logging_options(logging)));
    }
    if !r.ulimits.is_empty() {
        let limits = r
            .ulimits
            .iter()
            .map(|(name, u)| {
                let mut h = Hash::new();
                h.insert(s("soft"), Yaml::Integer(u.soft));
                h.insert(s("hard"), Yaml::Integer(u.hard));
                (s(name), Yaml::Hash(h))
            })
            .collect();
        out.push(("ulimits", Yaml::Hash(limits)));
    }
    if !r.links.is_empty() {
        let links: Vec<String> = r
            .links
            .iter()
            .map(|(service, alias)| format!("{service}:{alias}"))
            .collect();
        out.push(("links", list(&links)));
    }
    if let Some(size) = r.shm_size {
        out.push(("shm_size", Yaml::String(size.to_string())));
    }
    if let Some(platform) = &r.platform {
        out.push(("platform", text(platform)));
    }
    if !r.sysctls.is_empty() {
        out.push(("sysctls", map(&r.sysctls)));
    }
    for (key, hooks) in [
        ("post_start", &r.hooks.post_start),
        ("pre_stop", &r.hooks.pre_stop),
    ] {
        if !hooks.is_empty() {
            out.push((key, Yaml::Array(hooks.iter().map(hook).collect())));
        }
    }
    out
}

/// A service's `secrets:` and `configs:` (long form: name and target).
fn file_refs(r: &Runtime) -> Vec<(&'static str, Yaml)> {
    let mut out = Vec::new();
    for (key, kind) in [("secrets", FileKind::Secret), ("configs", FileKind::Config)] {
        let refs: Vec<Yaml> = r
            .files
            .iter()
            .filter(|f| f.kind == kind)
            .map(|f| {
                let mut h = Hash::new();
                h.insert(s("source"), text(&f.name));
                h.insert(s("target"), text(&f.target));
                Yaml::Hash(h)
            })
            .collect();
        if !refs.is_empty() {
            out.push((key, Yaml::Array(refs)));
        }
    }
    out
}

fn logging_options(logging: &Logging) -> Yaml {
    let mut h = Hash::new();
    if let Some(driver) = &logging.driver {
        h.insert(s("driver"), text(driver));
    }
    if !logging.options.is_empty() {
        h.insert(s("options"), map(&logging.options));
    }
    Yaml::Hash(h)
}

fn deploy(r: &Runtime) -> Option<Yaml> {
    let res = &r.resources;
    let mut limits = Hash::new();
    if let Some(cpus) = res.cpus {
        limits.insert(s("cpus"), Yaml::String(cpus.to_string()));
    }
    if let Some(memory) = res.memory {
        limits.insert(s("memory"), Yaml::String(memory.to_string()));
    }
    if let Some(pids) = res.pids {
        limits.insert(s("pids"), Yaml::Integer(pids));
    }
    let mut resources = Hash::new();
    if !limits.is_empty() {
        resources.insert(s("limits"), Yaml::Hash(limits));
    }
    if let Some(memory) = res.memory_reservation {
        let mut reservations = Hash::new();
        reservations.insert(s("memory"), Yaml::String(memory.to_string()));
        resources.insert(s("reservations"), Yaml::Hash(reservations));
    }
    if resources.is_empty() {
        return None;
    }
    let mut deploy = Hash::new();
    deploy.insert(s("resources"), Yaml::Hash(resources));
    Some(Yaml::Hash(deploy))
}

fn hook(h: &Hook) -> Yaml {
    let mut out = Hash::new();
    out.insert(s("command"), list(&h.command));
    if let Some(user) = &h.user {
        out.insert(s("user"), text(user));
    }
    if h.privileged {
        out.insert(s("privileged"), Yaml::Boolean(true));
    }
    if let Some(dir) = &h.working_dir {
        out.insert(s("working_dir"), text(dir));
    }
    if !h.environment.is_empty() {
        out.insert(s("environment"), map(&h.environment));
    }
    Yaml::Hash(out)
}

/// Top-level `secrets:` and `configs:`: every file a service mounts, by name.
pub(super) fn file_sources(stack: &Stack) -> Vec<(&'static str, Yaml)> {
    let mut out = Vec::new();
    for (key, kind) in [("secrets", FileKind::Secret), ("configs", FileKind::Config)] {
        let files: BTreeMap<&str, String> = stack
            .services
            .values()
            .flat_map(|svc| svc.runtime.files.iter())
            .filter(|f| f.kind == kind)
            .map(|f| (f.name.as_str(), f.source.to_string_lossy().into_owned()))
            .collect();
        if files.is_empty() {
            continue;
        }
        let section = files
            .into_iter()
            .map(|(name, file)| {
                let mut h = Hash::new();
                h.insert(s("file"), text(&file));
                (s(name), Yaml::Hash(h))
            })
            .collect();
        out.push((key, Yaml::Hash(section)));
    }
    out
}
