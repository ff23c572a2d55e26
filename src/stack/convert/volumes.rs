//! Service `volumes:` (short and long syntax).

use super::*;

// ---- volumes ---------------------------------------------------------------------------------

pub(super) fn valid_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

pub(super) fn mount_source(cx: &mut Context<'_>, source: &str, pos: &Pos) -> Option<MountSource> {
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

/// What the short syntax's third field (`ro,z`, `rw,rshared`, …) asks for.
#[derive(Default)]
pub(super) struct MountOptions {
    read_only: bool,
    selinux: Option<String>,
    propagation: Option<String>,
    nocopy: bool,
}

pub(super) fn mount_options(
    cx: &mut Context<'_>,
    options: &str,
    pos: &Pos,
) -> Option<MountOptions> {
    let mut out = MountOptions::default();
    for option in options.split(',') {
        match option {
            "ro" => out.read_only = true,
            "rw" => out.read_only = false,
            "z" | "Z" => out.selinux = Some(option.to_string()),
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => {
                out.propagation = Some(option.to_string());
            }
            "nocopy" => out.nocopy = true,
            // macOS file-sharing hints; the engine on Linux ignores them, and so does Compose.
            "cached" | "delegated" | "consistent" => {}
            other => {
                cx.report.error(
                    pos,
                    format!(
                        "unknown volume option `{other}` (ro, rw, z, Z, nocopy or a propagation \
                         such as rshared)"
                    ),
                );
                return None;
            }
        }
    }
    Some(out)
}

/// An absolute container path, with a trailing `/` removed as Compose does (`/data/` → `/data`).
pub(super) fn container_path(cx: &mut Context<'_>, target: &str, pos: &Pos) -> Option<String> {
    if !target.starts_with('/') {
        cx.report.error(
            pos,
            format!("volume target `{target}` must be an absolute path in the container"),
        );
        return None;
    }
    Some(normalize_container_path(target))
}

/// `/a//b/` → `/a/b`; `/` stays `/`.
pub fn normalize_container_path(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

fn mount(source: MountSource, target: String, pos: Pos, options: MountOptions) -> VolumeMount {
    VolumeMount {
        source,
        target,
        read_only: options.read_only,
        selinux: options.selinux,
        propagation: options.propagation,
        nocopy: options.nocopy,
        tmpfs_size: None,
        pos,
    }
}

pub(super) fn volume_mount(cx: &mut Context<'_>, item: &Node) -> Option<VolumeMount> {
    let pos = item.pos.clone();
    if let Some(text) = item.as_str() {
        return short_volume(cx, text, pos);
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
    long_volume(cx, item, entries, pos)
}

/// `[source:]target[:options]`.
fn short_volume(cx: &mut Context<'_>, text: &str, pos: Pos) -> Option<VolumeMount> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, options) = match parts.as_slice() {
        [target] => (None, *target, None),
        [a, b] if !b.starts_with('/') && a.starts_with('/') => (None, *a, Some(*b)),
        [source, target] => (Some(*source), *target, None),
        [source, target, options] => (Some(*source), *target, Some(*options)),
        _ => {
            cx.report.error(
                &pos,
                format!("invalid volume `{text}` (source:target[:options])"),
            );
            return None;
        }
    };
    let target = container_path(cx, target, &pos)?;
    let options = match options {
        Some(o) => mount_options(cx, o, &pos)?,
        None => MountOptions::default(),
    };
    let source = match source {
        None => MountSource::Anonymous,
        Some(s) => mount_source(cx, s, &pos)?,
    };
    Some(mount(source, target, pos, options))
}

/// `{type, source, target, read_only, bind: {...}, volume: {...}, tmpfs: {...}}`.
fn long_volume(
    cx: &mut Context<'_>,
    item: &Node,
    entries: &[(Node, Node)],
    pos: Pos,
) -> Option<VolumeMount> {
    let mut kind = None;
    let mut source: Option<(String, Pos)> = None;
    let mut target = None;
    let mut options = MountOptions::default();
    let mut tmpfs_size = None;
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
            "read_only" => {
                options.read_only = boolean(cx, "volumes.read_only", vk, vv).unwrap_or(false);
            }
            "bind" => long_bind_options(cx, vk, vv, &mut options),
            "volume" => {
                for (field, fk, fv) in keys::check(
                    sub_map(cx, vk, vv),
                    "volumes.volume",
                    &["nocopy"],
                    &["subpath"],
                    cx.report,
                ) {
                    if field == "nocopy" {
                        options.nocopy = boolean(cx, "volume.nocopy", fk, fv).unwrap_or(false);
                    }
                }
            }
            "tmpfs" => {
                for (field, fk, fv) in keys::check(
                    sub_map(cx, vk, vv),
                    "volumes.tmpfs",
                    &["size"],
                    &["mode"],
                    cx.report,
                ) {
                    if field == "size" {
                        tmpfs_size = scalar(cx, "tmpfs.size", fk, fv).and_then(|t| {
                            let size = parse_bytes(&t);
                            if size.is_none() {
                                cx.report.error(
                                    &fv.pos,
                                    format!("`tmpfs.size` must be a size, got `{t}`"),
                                );
                            }
                            size
                        });
                    }
                }
            }
            // `consistency` is a macOS hint the engine on Linux ignores.
            _ => {}
        }
    }
    let Some((target, tpos)) = target else {
        if item.get("target").is_none() {
            cx.report.error(&pos, "`volumes` entry needs a `target`");
        }
        return None;
    };
    let target = container_path(cx, &target, &tpos)?;
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
    let mut m = mount(source, target, pos, options);
    m.tmpfs_size = tmpfs_size;
    Some(m)
}

fn long_bind_options(cx: &mut Context<'_>, k: &Node, v: &Node, options: &mut MountOptions) {
    for (field, fk, fv) in keys::check(
        sub_map(cx, k, v),
        "volumes.bind",
        &["propagation", "selinux", "create_host_path"],
        &[],
        cx.report,
    ) {
        match field {
            "propagation" => options.propagation = string(cx, "bind.propagation", fk, fv),
            "selinux" => match string(cx, "bind.selinux", fk, fv).as_deref() {
                Some(l @ ("z" | "Z")) => options.selinux = Some(l.to_string()),
                Some(other) => cx.report.error(
                    &fv.pos,
                    format!("`bind.selinux` must be z or Z, got `{other}`"),
                ),
                None => {}
            },
            // The engine creates a missing bind source with the Mount API anyway.
            _ => {}
        }
    }
}

/// A nested mapping's entries; anything else is an error naming the key.
pub(super) fn sub_map<'n>(cx: &mut Context<'_>, k: &Node, v: &'n Node) -> &'n [(Node, Node)] {
    match v.as_map() {
        Some(entries) => entries,
        None => {
            if !v.is_null() {
                cx.report.error(
                    &k.pos,
                    format!(
                        "`{}` must be a mapping, got {}",
                        k.as_str().unwrap_or_default(),
                        v.kind()
                    ),
                );
            }
            &[]
        }
    }
}
