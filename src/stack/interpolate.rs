//! `${VAR}` interpolation with Compose's rules.
//!
//! Supported: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?msg}`, `${VAR?msg}`,
//! `${VAR:+alt}`, `${VAR+alt}`, nesting inside the word (`${A:-${B:-x}}`) and `$$` for a literal
//! `$`. A `$` followed by anything else is kept as is (as Compose does); a malformed `${` is an
//! error. Offsets in results are in characters from the start of the input, so a caller can turn
//! them into a column.
//!
//! This module works on strings only; walking the YAML tree is done by `interpolate_tree`.

use crate::stack::error::Report;
use crate::stack::model::Pos;
use crate::stack::yaml::{Node, Style, Value};

/// A failed substitution: where (char offset of the `$`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpolationError {
    pub offset: usize,
    pub message: String,
    /// The result would have been longer than the caller's limit.
    pub over_limit: bool,
}

impl InterpolationError {
    fn new(offset: usize, message: impl Into<String>) -> InterpolationError {
        InterpolationError {
            offset,
            message: message.into(),
            over_limit: false,
        }
    }
}

/// A variable that was not set and had no default (Compose substitutes an empty string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unset {
    pub offset: usize,
    pub name: String,
}

/// Substitutes every variable in `input`. `lookup` returns a variable's value, `None` if unset.
/// A result longer than `limit` bytes is an error (`over_limit`), found before it is built.
pub fn interpolate(
    input: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    limit: usize,
) -> Result<(String, Vec<Unset>), InterpolationError> {
    if !input.contains('$') {
        // Nothing to substitute (most values): no per-character walk.
        if input.len() > limit {
            return Err(over_limit(0, limit));
        }
        return Ok((input.to_string(), Vec::new()));
    }
    let chars: Vec<char> = input.chars().collect();
    let mut unset = Vec::new();
    let mut cx = Subst {
        lookup,
        unset: &mut unset,
        limit,
    };
    let out = substitute(&chars, 0, &mut cx, 0)?;
    Ok((out, unset))
}

/// What every level of a substitution shares.
struct Subst<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    unset: &'a mut Vec<Unset>,
    limit: usize,
}

/// Appends `text` to `out` unless that would pass the limit.
fn append(
    out: &mut String,
    text: &str,
    offset: usize,
    limit: usize,
) -> Result<(), InterpolationError> {
    if out.len().saturating_add(text.len()) > limit {
        return Err(over_limit(offset, limit));
    }
    out.push_str(text);
    Ok(())
}

fn over_limit(offset: usize, limit: usize) -> InterpolationError {
    InterpolationError {
        offset,
        message: format!("the value grows past {limit} bytes when its variables are substituted"),
        over_limit: true,
    }
}

/// Limit on `${A:-${B:-...}}` nesting, so that hostile input cannot exhaust the stack.
const MAX_NESTING: usize = 32;

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_name_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

fn substitute(
    chars: &[char],
    base: usize,
    cx: &mut Subst<'_>,
    depth: usize,
) -> Result<String, InterpolationError> {
    if depth > MAX_NESTING {
        return Err(InterpolationError::new(
            base,
            "interpolation nested too deeply",
        ));
    }
    let mut out = String::with_capacity(chars.len().min(cx.limit));
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '$' {
            if out.len() >= cx.limit {
                return Err(over_limit(base + i, cx.limit));
            }
            out.push(c);
            i += 1;
            continue;
        }
        let dollar = base + i;
        match chars.get(i + 1) {
            Some('$') => {
                append(&mut out, "$", dollar, cx.limit)?;
                i += 2;
            }
            Some(&n) if is_name_start(n) => {
                let mut end = i + 1;
                while end < chars.len() && is_name_char(chars[end]) {
                    end += 1;
                }
                let name: String = chars[i + 1..end].iter().collect();
                match (cx.lookup)(&name) {
                    Some(v) => append(&mut out, &v, dollar, cx.limit)?,
                    None => cx.unset.push(Unset {
                        offset: dollar,
                        name,
                    }),
                }
                i = end;
            }
            Some('{') => {
                let (text, next) = braced(chars, i, base, cx, depth)?;
                append(&mut out, &text, dollar, cx.limit)?;
                i = next;
            }
            // A lone `$` (end of string, `$1`, `$ `) is literal, as in Compose.
            _ => {
                append(&mut out, "$", dollar, cx.limit)?;
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Handles `${...}` starting at `chars[start] == '$'`; returns the substitution and the index
/// after the closing brace.
fn braced(
    chars: &[char],
    start: usize,
    base: usize,
    cx: &mut Subst<'_>,
    depth: usize,
) -> Result<(String, usize), InterpolationError> {
    let dollar = base + start;
    let close = matching_brace(chars, start + 2).ok_or_else(|| {
        InterpolationError::new(
            dollar,
            format!(
                "invalid interpolation `{}`: missing closing `}}`",
                excerpt(&chars[start..])
            ),
        )
    })?;
    let invalid = || {
        InterpolationError::new(
            dollar,
            format!("invalid interpolation `{}`", excerpt(&chars[start..=close])),
        )
    };
    let name_start = start + 2;
    let mut name_end = name_start;
    if !chars.get(name_start).copied().is_some_and(is_name_start) {
        return Err(invalid());
    }
    while name_end < close && is_name_char(chars[name_end]) {
        name_end += 1;
    }
    let name: String = chars[name_start..name_end].iter().collect();
    let value = (cx.lookup)(&name);
    if name_end == close {
        return Ok(match value {
            Some(v) => (v, close + 1),
            None => {
                cx.unset.push(Unset {
                    offset: dollar,
                    name,
                });
                (String::new(), close + 1)
            }
        });
    }
    let (colon, op_at) = if chars[name_end] == ':' {
        (true, name_end + 1)
    } else {
        (false, name_end)
    };
    let op = match chars.get(op_at) {
        Some(&op) if op_at < close && matches!(op, '-' | '?' | '+') => op,
        _ => return Err(invalid()),
    };
    let word_start = op_at + 1;
    let word = &chars[word_start..close];
    // With `:`, an empty value counts as unset.
    let is_set = match &value {
        Some(v) => !(colon && v.is_empty()),
        None => false,
    };
    let result = match op {
        '-' => {
            if is_set {
                value.unwrap_or_default()
            } else {
                substitute(word, base + word_start, cx, depth + 1)?
            }
        }
        '+' => {
            if is_set {
                substitute(word, base + word_start, cx, depth + 1)?
            } else {
                String::new()
            }
        }
        _ => {
            if is_set {
                value.unwrap_or_default()
            } else {
                let msg = substitute(word, base + word_start, cx, depth + 1)?;
                let message = if msg.is_empty() {
                    format!("required variable `{name}` is missing a value")
                } else {
                    format!("required variable `{name}` is missing a value: {msg}")
                };
                return Err(InterpolationError::new(dollar, message));
            }
        }
    };
    Ok((result, close + 1))
}

/// The start of a malformed expression, for messages (a 1 MB value is not repeated whole).
fn excerpt(chars: &[char]) -> String {
    const MAX: usize = 80;
    let mut text: String = chars.iter().take(MAX).collect();
    if chars.len() > MAX {
        text.push('…');
    }
    text
}

/// Index of the `}` closing a `${` whose content starts at `from`, honoring nested `${...}`.
fn matching_brace(chars: &[char], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '$' if chars.get(i + 1) == Some(&'$') => i += 1,
            '$' if chars.get(i + 1) == Some(&'{') => {
                depth += 1;
                i += 1;
            }
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// Interpolates every scalar value (never a key) of a tree in place. Errors and unset-variable
/// warnings go to `report`, positioned at the `$` when the scalar is on one line. What the values
/// grow by is spent from the report's budget; once it is exhausted the walk stops.
pub fn interpolate_tree(
    node: &mut Node,
    lookup: &dyn Fn(&str) -> Option<String>,
    report: &mut Report,
) {
    if report.budget.is_exhausted() {
        return;
    }
    match &mut node.value {
        Value::Scalar { text, style } => {
            if !text.contains('$') {
                return;
            }
            let at = |offset: usize| -> Pos {
                let mut pos = node.pos.clone();
                match style {
                    Style::Plain if !text.contains('\n') => pos.column += offset,
                    Style::Quoted if !text.contains('\n') => pos.column += offset + 1,
                    _ => {}
                }
                pos
            };
            // The scalar's own bytes were spent when it was parsed; only growth costs more.
            let limit = report.budget.remaining().saturating_add(text.len());
            match interpolate(text, lookup, limit) {
                Ok((value, unset)) => {
                    for u in unset {
                        if !report.unset_variables.insert(u.name.clone()) {
                            continue;
                        }
                        report.warn(
                            &at(u.offset),
                            format!(
                                "variable `{}` is not set; substituting an empty string",
                                u.name
                            ),
                        );
                    }
                    let growth = value.len().saturating_sub(text.len());
                    if report.spend(growth, &at(0)) {
                        *text = value;
                        // A substituted value is a string, as in Compose: `image: ${UNSET}` is
                        // "", not null, and `${X}` holding `null` or `~` is that text.
                        *style = Style::Quoted;
                    }
                }
                Err(e) if e.over_limit => report.over_budget(&at(e.offset)),
                Err(e) => report.error(&at(e.offset), e.message),
            }
        }
        Value::Seq(items) => {
            for item in items {
                interpolate_tree(item, lookup, report);
            }
        }
        Value::Map(entries) => {
            for (_, value) in entries {
                interpolate_tree(value, lookup, report);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn env() -> BTreeMap<String, String> {
        [
            ("SET", "value"),
            ("EMPTY", ""),
            ("B", "bee"),
            ("PORT", "8080"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn run(input: &str) -> Result<(String, Vec<Unset>), InterpolationError> {
        let env = env();
        interpolate(input, &|k| env.get(k).cloned(), usize::MAX)
    }

    fn sub(input: &str) -> String {
        run(input).expect("interpolates").0
    }

    #[test]
    fn plain_and_braced_variables_are_substituted() {
        assert_eq!(sub("$SET"), "value");
        assert_eq!(sub("${SET}"), "value");
        assert_eq!(sub("a-${SET}-b/$SET.x"), "a-value-b/value.x");
        assert_eq!(sub("127.0.0.1:${PORT}:80"), "127.0.0.1:8080:80");
    }

    #[test]
    fn colon_dash_default_applies_when_unset_or_empty() {
        assert_eq!(sub("${UNSET:-dflt}"), "dflt");
        assert_eq!(sub("${EMPTY:-dflt}"), "dflt");
        assert_eq!(sub("${SET:-dflt}"), "value");
    }

    #[test]
    fn dash_default_applies_only_when_unset() {
        assert_eq!(sub("${UNSET-dflt}"), "dflt");
        assert_eq!(sub("${EMPTY-dflt}"), "");
    }

    #[test]
    fn plus_alternative_applies_when_set() {
        assert_eq!(sub("${SET:+alt}"), "alt");
        assert_eq!(sub("${EMPTY:+alt}"), "");
        assert_eq!(sub("${EMPTY+alt}"), "alt");
        assert_eq!(sub("${UNSET+alt}"), "");
    }

    #[test]
    fn question_mark_errors_carry_the_message_and_offset() {
        let e = run("xx ${UNSET:?must be set}").expect_err("fails");
        assert_eq!(e.offset, 3);
        assert!(e.message.contains("UNSET"), "{}", e.message);
        assert!(e.message.contains("must be set"), "{}", e.message);
        assert!(run("${EMPTY:?no}").is_err());
        assert_eq!(sub("${EMPTY?no}"), "");
        assert!(run("${UNSET?no}").is_err());
        assert_eq!(sub("${SET:?no}"), "value");
    }

    #[test]
    fn nested_defaults_are_resolved() {
        assert_eq!(sub("${A:-${B:-x}}"), "bee");
        assert_eq!(sub("${A:-${C:-x}}"), "x");
        assert_eq!(sub("${A:-pre-${C:-${B}}-post}"), "pre-bee-post");
    }

    #[test]
    fn double_dollar_is_a_literal_dollar() {
        assert_eq!(sub("$$SET"), "$SET");
        assert_eq!(sub("echo $${SET}"), "echo ${SET}");
        assert_eq!(sub("${UNSET:-$$x}"), "$x");
    }

    #[test]
    fn lone_dollar_is_kept() {
        assert_eq!(sub("cost $5"), "cost $5");
        assert_eq!(sub("end$"), "end$");
    }

    #[test]
    fn unset_variable_becomes_empty_and_is_reported() {
        let (out, unset) = run("a${NOPE}b$ALSO_NOPE").expect("ok");
        assert_eq!(out, "ab");
        assert_eq!(unset.len(), 2);
        assert_eq!((unset[0].offset, unset[0].name.as_str()), (1, "NOPE"));
        assert_eq!(unset[1].offset, 9);
    }

    #[test]
    fn bad_syntax_is_an_error() {
        for bad in [
            "${", "${ FOO}", "${FOO", "${}", "${FOO:}", "${FOO*x}", "${1A}",
        ] {
            assert!(run(bad).is_err(), "{bad}");
        }
        assert_eq!(run("ab${ FOO}").expect_err("fails").offset, 2);
    }

    #[test]
    fn tree_errors_point_at_the_dollar_column() {
        let file = Arc::new(PathBuf::from("/p/compose.yaml"));
        let mut root = crate::stack::yaml::parse(
            "a: foo ${NOPE:?oops}\nb: 'x${NOPE:?q}'\nc: ok-$SET\n",
            &file,
            &mut crate::stack::budget::Budget::default(),
        )
        .expect("yaml")
        .expect("doc");
        let mut report = Report::default();
        let env = env();
        interpolate_tree(&mut root, &|k| env.get(k).cloned(), &mut report);
        let msgs: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
        assert!(msgs[0].starts_with("/p/compose.yaml:1:8:"), "{msgs:?}");
        assert!(msgs[1].starts_with("/p/compose.yaml:2:6:"), "{msgs:?}");
        assert_eq!(root.get("c").and_then(Node::as_str), Some("ok-value"));
    }

    #[test]
    fn output_longer_than_the_limit_is_an_error_before_it_is_built() {
        let big = "y".repeat(1000);
        let lookup = |k: &str| (k == "BIG").then(|| big.clone());
        let (out, _) = interpolate("${BIG}${BIG}", &lookup, 2000).expect("fits");
        assert_eq!(out.len(), 2000);
        let e = interpolate("a ${BIG}${BIG}", &lookup, 2000).expect_err("too long");
        assert!(e.over_limit);
        assert_eq!(e.offset, 8);
        let e = interpolate("${X:-${BIG}${BIG}${BIG}}", &lookup, 2500).expect_err("nested");
        assert!(e.over_limit);
    }

    #[test]
    fn tree_growth_is_spent_from_the_budget_and_reported_once() {
        let file = Arc::new(PathBuf::from("/p/compose.yaml"));
        let mut src = String::from("a:\n");
        for i in 0..20 {
            src.push_str(&format!("  v{i}: ${{BIG}}${{BIG}}\n"));
        }
        let mut report = Report {
            budget: crate::stack::budget::Budget::new(10_000),
            ..Report::default()
        };
        let mut root = crate::stack::yaml::parse(&src, &file, &mut report.budget)
            .expect("yaml")
            .expect("doc");
        let big = "y".repeat(1000);
        interpolate_tree(
            &mut root,
            &|k| (k == "BIG").then(|| big.clone()),
            &mut report,
        );
        assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
        let msg = report.errors[0].to_string();
        assert!(msg.starts_with("/p/compose.yaml:"), "{msg}");
        assert!(msg.contains("too large"), "{msg}");
        assert!(report.budget.is_exhausted());
    }
}
