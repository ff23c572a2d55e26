//! Merging several stack files (`-f a -f b`), with Compose's rules.
//!
//! Scalars override; maps (environment, labels, build.args, networks, depends_on, extra_hosts)
//! merge key by key; ports and expose append (identical entries once); volumes merge by target
//! (later wins); command, entrypoint, healthcheck.test, profiles and env_file are replaced; a
//! service only in a later file is added. Top-level networks and volumes merge field by field.
//! Runtime keys: tmpfs, sysctls, ulimits and logging options merge by key; cap_add, cap_drop,
//! security_opt, dns, dns_search, dns_opt, devices and links are unions; secrets and configs are
//! replaced by source; hooks append. `extends` uses the same rules (`merge_service`).

use std::collections::BTreeMap;

use crate::stack::convert::{
    RawBuild, RawFile, RawFileSource, RawHealthcheck, RawNetwork, RawRuntime, RawService, RawVolume,
};
use crate::stack::model::{FileKind, PortMapping, Pos, Protocol};

/// All files merged: still raw (no defaults, no cross-checks).
#[derive(Debug, Clone, Default)]
pub struct Merged {
    pub name: Option<(String, Pos)>,
    pub services: BTreeMap<String, RawService>,
    pub networks: BTreeMap<String, RawNetwork>,
    pub volumes: BTreeMap<String, RawVolume>,
    pub tiers: Option<Vec<(String, Vec<String>, Pos)>>,
    pub connection: Option<crate::stack::model::ConnectionSections>,
    pub requirements: Option<crate::stack::model::Requirements>,
    /// Top-level `secrets:` and `configs:` (a later file's entry replaces an earlier one).
    pub file_sources: BTreeMap<(FileKind, String), RawFileSource>,
    pub k8s: Option<serde_json::Value>,
}

impl Merged {
    pub fn add(&mut self, file: RawFile) {
        if file.name.is_some() {
            self.name = file.name;
        }
        if file.tiers.is_some() {
            self.tiers = file.tiers;
        }
        if file.connection.is_some() {
            self.connection = file.connection;
        }
        if file.requirements.is_some() {
            self.requirements = file.requirements;
        }
        merge_json(&mut self.k8s, file.k8s);
        for service in file.services {
            match self.services.get_mut(&service.name) {
                Some(base) => merge_service(base, service),
                None => {
                    self.services.insert(service.name.clone(), service);
                }
            }
        }
        for network in file.networks {
            match self.networks.get_mut(&network.key) {
                Some(base) => merge_network(base, network),
                None => {
                    self.networks.insert(network.key.clone(), network);
                }
            }
        }
        for source in file.file_sources {
            self.file_sources
                .insert((source.kind, source.key.clone()), source);
        }
        for volume in file.volumes {
            match self.volumes.get_mut(&volume.key) {
                Some(base) => merge_volume(base, volume),
                None => {
                    self.volumes.insert(volume.key.clone(), volume);
                }
            }
        }
    }
}

fn set<T>(base: &mut Option<T>, over: Option<T>) {
    if over.is_some() {
        *base = over;
    }
}

/// `over` merged onto `base` with the `-f` rules (also what `extends` does).
pub fn merge_service(base: &mut RawService, over: RawService) {
    base.pos = over.pos;
    base.dir = over.dir;
    base.broken |= over.broken;
    set(&mut base.image, over.image);
    match (&mut base.build, over.build) {
        (Some(b), Some(o)) => merge_build(b, o),
        (b @ None, o @ Some(_)) => *b = o,
        _ => {}
    }
    set(&mut base.command, over.command);
    set(&mut base.entrypoint, over.entrypoint);
    base.environment.extend(over.environment);
    set(&mut base.env_file, over.env_file);
    // A set of what is there, so that two files with the same long range stay linear.
    let mut present: std::collections::HashSet<_> = base.ports.iter().map(port_key).collect();
    for port in over.ports {
        if present.insert(port_key(&port)) {
            base.ports.push(port);
        }
    }
    for e in over.expose {
        if !base.expose.contains(&e) {
            base.expose.push(e);
        }
    }
    for mount in over.volumes {
        match base.volumes.iter_mut().find(|m| m.target == mount.target) {
            Some(existing) => *existing = mount,
            None => base.volumes.push(mount),
        }
    }
    base.networks.extend(over.networks);
    base.depends_on.extend(over.depends_on);
    match (&mut base.healthcheck, over.healthcheck) {
        (Some(b), Some(o)) => merge_healthcheck(b, o),
        (b @ None, o @ Some(_)) => *b = o,
        _ => {}
    }
    set(&mut base.restart, over.restart);
    set(&mut base.profiles, over.profiles);
    base.labels.extend(over.labels);
    set(&mut base.container_name, over.container_name);
    set(&mut base.pull_policy, over.pull_policy);
    set(&mut base.working_dir, over.working_dir);
    set(&mut base.user, over.user);
    set(&mut base.hostname, over.hostname);
    set(&mut base.stop_signal, over.stop_signal);
    set(&mut base.stop_grace_period, over.stop_grace_period);
    base.extra_hosts.extend(over.extra_hosts);
    set(&mut base.init, over.init);
    set(&mut base.tty, over.tty);
    set(&mut base.stdin_open, over.stdin_open);
    set(&mut base.develop, over.develop);
    set(&mut base.tier, over.tier);
    set(&mut base.rebuild_on_change, over.rebuild_on_change);
    set(&mut base.host_build, over.host_build);
    set(&mut base.keys, over.keys);
    merge_runtime(&mut base.runtime, over.runtime);
    set(&mut base.extends, over.extends);
    merge_json(&mut base.k8s, over.k8s);
}

/// `x-novadev.k8s` merges like Compose merges mappings: key by key, deeply; anything else in a
/// later file replaces what came before.
fn merge_json(base: &mut Option<serde_json::Value>, over: Option<serde_json::Value>) {
    let Some(over) = over else { return };
    match (base.as_mut(), over) {
        (Some(serde_json::Value::Object(base)), serde_json::Value::Object(over)) => {
            for (key, value) in over {
                let mut slot = base.remove(&key);
                merge_json(&mut slot, Some(value));
                if let Some(value) = slot {
                    base.insert(key, value);
                }
            }
        }
        (_, over) => *base = Some(over),
    }
}

/// Appends the entries of `over` that `base` lacks (Compose's rule for cap_add, dns, …).
fn union(base: &mut Vec<String>, over: Vec<String>) {
    for item in over {
        if !base.contains(&item) {
            base.push(item);
        }
    }
}

fn merge_runtime(base: &mut RawRuntime, over: RawRuntime) {
    base.tmpfs.extend(over.tmpfs);
    let (b, o) = (&mut base.resources, over.resources);
    set(&mut b.memory, o.memory);
    set(&mut b.memory_reservation, o.memory_reservation);
    set(&mut b.cpus, o.cpus);
    set(&mut b.pids, o.pids);
    union(&mut base.cap_add, over.cap_add);
    union(&mut base.cap_drop, over.cap_drop);
    set(&mut base.privileged, over.privileged);
    set(&mut base.read_only, over.read_only);
    set(&mut base.network_mode, over.network_mode);
    union(&mut base.security_opt, over.security_opt);
    for file in over.file_refs {
        base.file_refs
            .retain(|f| !(f.kind == file.kind && f.source == file.source));
        base.file_refs.push(file);
    }
    match (&mut base.logging, over.logging) {
        (Some(b), Some(o)) if b.driver == o.driver || o.driver.is_none() => {
            b.options.extend(o.options);
        }
        (b, o @ Some(_)) => *b = o,
        _ => {}
    }
    base.ulimits.extend(over.ulimits);
    for link in over.links {
        if !base.links.iter().any(|l| l.0 == link.0 && l.1 == link.1) {
            base.links.push(link);
        }
    }
    set(&mut base.shm_size, over.shm_size);
    set(&mut base.platform, over.platform);
    base.sysctls.extend(over.sysctls);
    union(&mut base.dns, over.dns);
    union(&mut base.dns_search, over.dns_search);
    union(&mut base.dns_opt, over.dns_opt);
    union(&mut base.devices, over.devices);
    base.hooks.post_start.extend(over.hooks.post_start);
    base.hooks.pre_stop.extend(over.hooks.pre_stop);
    set(&mut base.replicas, over.replicas);
}

/// A published port apart from where it was written.
fn port_key(p: &PortMapping) -> (String, Option<u16>, Option<u16>, u16, Protocol) {
    (
        p.host_ip.clone(),
        p.host_port,
        p.host_port_end,
        p.container_port,
        p.protocol,
    )
}

fn merge_build(base: &mut RawBuild, over: RawBuild) {
    base.pos = over.pos;
    base.dir = over.dir;
    set(&mut base.context, over.context);
    set(&mut base.dockerfile, over.dockerfile);
    base.args.extend(over.args);
    set(&mut base.target, over.target);
    set(&mut base.dockerfile_inline, over.dockerfile_inline);
    set(&mut base.cache_from, over.cache_from);
}

fn merge_healthcheck(base: &mut RawHealthcheck, over: RawHealthcheck) {
    set(&mut base.test, over.test);
    set(&mut base.disable, over.disable);
    set(&mut base.interval, over.interval);
    set(&mut base.timeout, over.timeout);
    set(&mut base.retries, over.retries);
    set(&mut base.start_period, over.start_period);
    set(&mut base.start_interval, over.start_interval);
}

fn merge_network(base: &mut RawNetwork, over: RawNetwork) {
    base.pos = over.pos;
    set(&mut base.name, over.name);
    set(&mut base.external, over.external);
    set(&mut base.driver, over.driver);
    set(&mut base.internal, over.internal);
    base.labels.extend(over.labels);
}

fn merge_volume(base: &mut RawVolume, over: RawVolume) {
    base.pos = over.pos;
    set(&mut base.name, over.name);
    set(&mut base.external, over.external);
    set(&mut base.driver, over.driver);
    base.labels.extend(over.labels);
}
