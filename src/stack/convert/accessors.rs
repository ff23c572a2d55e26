//! Typed reads of YAML nodes (string, boolean, list, key/value forms); errors name the key.

use super::*;

// ---- typed accessors -------------------------------------------------------------------------

/// A scalar as text (numbers and booleans as written). Errors name `key`.
pub(super) fn scalar(cx: &mut Context<'_>, key: &str, k: &Node, v: &Node) -> Option<String> {
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

pub(super) fn string(cx: &mut Context<'_>, key: &str, k: &Node, v: &Node) -> Option<String> {
    scalar(cx, key, k, v)
}

pub(super) fn boolean(cx: &mut Context<'_>, key: &str, k: &Node, v: &Node) -> Option<bool> {
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

pub(super) fn unsigned(cx: &mut Context<'_>, key: &str, k: &Node, v: &Node) -> Option<u32> {
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

pub(super) fn duration(cx: &mut Context<'_>, key: &str, k: &Node, v: &Node) -> Option<Duration> {
    let text = scalar(cx, key, k, v)?;
    match parse_duration(&text) {
        Ok(d) => Some(d),
        Err(e) => {
            cx.report.error(&v.pos, format!("`{key}`: {e}"));
            None
        }
    }
}

pub(super) fn describe(v: &Node) -> String {
    match v.as_str() {
        Some(text) => format!("`{text}`"),
        None => v.kind().to_string(),
    }
}

/// A list's items; anything else is an error naming the key.
pub(super) fn list<'n>(cx: &mut Context<'_>, key: &str, k: &Node, v: &'n Node) -> &'n [Node] {
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

pub(super) fn string_list(
    cx: &mut Context<'_>,
    key: &str,
    k: &Node,
    v: &Node,
) -> Option<Vec<String>> {
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
pub(super) fn command(cx: &mut Context<'_>, key: &str, k: &Node, v: &Node) -> Option<Vec<String>> {
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
pub(super) fn key_values(
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
