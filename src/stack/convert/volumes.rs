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

pub(super) fn mount_options(cx: &mut Context<'_>, options: &str, pos: &Pos) -> Option<bool> {
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

pub(super) fn container_path(cx: &mut Context<'_>, target: &str, pos: &Pos) -> bool {
    if target.starts_with('/') {
        return true;
    }
    cx.report.error(
        pos,
        format!("volume target `{target}` must be an absolute path in the container"),
    );
    false
}

pub(super) fn volume_mount(cx: &mut Context<'_>, item: &Node) -> Option<VolumeMount> {
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
