//! A service's runtime settings after merge → the model's `Runtime`: secrets and configs
//! resolved to host files, targets defaulted, and what novadev cannot honour warned about.

use std::collections::BTreeMap;

use super::Finalize;
use crate::stack::convert::{RawFileRef, RawFileSource, RawRuntime, normalize_container_path};
use crate::stack::error::Report;
use crate::stack::model::{FileKind, FileMount, Runtime};

pub(super) fn resolve(
    raw: RawRuntime,
    service: &str,
    f: &Finalize<'_>,
    sources: &BTreeMap<(FileKind, String), RawFileSource>,
    report: &mut Report,
) -> Runtime {
    if let Some((replicas, pos)) = raw.replicas
        && replicas != 1
    {
        report.warn(
            &pos,
            format!(
                "service `{service}` asks for {replicas} replicas; novadev runs exactly one \
                 container per service"
            ),
        );
    }
    let files = raw
        .file_refs
        .iter()
        .filter_map(|r| file_mount(r, service, f, sources, report))
        .collect();
    Runtime {
        tmpfs: raw.tmpfs,
        resources: raw.resources,
        cap_add: raw.cap_add,
        cap_drop: raw.cap_drop,
        privileged: raw.privileged.unwrap_or(false),
        read_only: raw.read_only.unwrap_or(false),
        network_mode: raw.network_mode.map(|(m, _)| m),
        security_opt: raw.security_opt,
        files,
        logging: raw.logging,
        ulimits: raw.ulimits,
        links: raw
            .links
            .into_iter()
            .map(|(service, alias, _)| (service, alias))
            .collect(),
        shm_size: raw.shm_size,
        platform: raw.platform,
        sysctls: raw.sysctls,
        dns: raw.dns,
        dns_search: raw.dns_search,
        dns_opt: raw.dns_opt,
        devices: raw.devices,
        hooks: raw.hooks,
    }
}

/// A service's secret or config reference → the host file and where it goes in the container:
/// `/run/secrets/NAME` for a secret, `/NAME` for a config, unless a target is given (a relative
/// secret target is under `/run/secrets`, as in Compose).
fn file_mount(
    r: &RawFileRef,
    service: &str,
    f: &Finalize<'_>,
    sources: &BTreeMap<(FileKind, String), RawFileSource>,
    report: &mut Report,
) -> Option<FileMount> {
    let what = match r.kind {
        FileKind::Secret => "secret",
        FileKind::Config => "config",
    };
    let Some(source) = sources.get(&(r.kind, r.source.clone())) else {
        report.error(
            &r.pos,
            format!(
                "service `{service}` uses {what} `{}`, which is not declared under top-level `{what}s:`",
                r.source
            ),
        );
        return None;
    };
    let Some(file) = &source.file else {
        report.error(
            &r.pos,
            format!(
                "service `{service}` uses {what} `{}`, which has no `file:`; novadev supports only \
                 file-based {what}s",
                r.source
            ),
        );
        return None;
    };
    if !f.sources.is_file(file) && !f.sources.is_dir(file) {
        report.error(
            &source.pos,
            format!("{what} `{}`: file `{}` not found", r.source, file.display()),
        );
        return None;
    }
    let target = match (&r.target, r.kind) {
        (Some(t), _) if t.starts_with('/') => normalize_container_path(t),
        (Some(t), FileKind::Secret) => normalize_container_path(&format!("/run/secrets/{t}")),
        (Some(t), FileKind::Config) => normalize_container_path(&format!("/{t}")),
        (None, FileKind::Secret) => format!("/run/secrets/{}", r.source),
        (None, FileKind::Config) => format!("/{}", r.source),
    };
    Some(FileMount {
        kind: r.kind,
        name: r.source.clone(),
        source: file.clone(),
        target,
    })
}
