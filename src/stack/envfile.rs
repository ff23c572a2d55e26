//! `.env` and `env_file` parsing (dotenv syntax, as Compose reads it).
//!
//! `KEY=VAL` lines, `#` comments, blank lines, an optional `export ` prefix, single quotes (literal,
//! may span lines), double quotes (escapes `\n \t \\ \" \$`, interpolation, may span lines) and
//! unquoted values (interpolation, trailing ` # comment` dropped). A bare `KEY` takes the value from
//! the lookup and is dropped if it has none. Interpolation sees the file's earlier keys first.
//! Every value is spent from the load's byte budget (`A=$B$B` lines double at each step).

use std::collections::HashMap;

use crate::stack::budget::Budget;
use crate::stack::interpolate::interpolate;

/// One failed line of an env file (1-based line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFileError {
    pub line: usize,
    pub message: String,
}

/// Parses an env file. Returns the pairs in file order (later duplicates override earlier ones
/// when collected into a map).
pub fn parse_env_file(
    content: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    budget: &mut Budget,
) -> Result<Vec<(String, String)>, EnvFileError> {
    let lines: Vec<&str> = content.lines().collect();
    let mut out: Vec<(String, String)> = Vec::new();
    // The latest value of each key so far, for interpolation (an index into `out`).
    let mut latest: HashMap<String, usize> = HashMap::new();
    let mut i = 0;
    while i < lines.len() {
        let line_no = i + 1;
        let raw = lines[i].trim_start_matches('\u{feff}');
        i += 1;
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export ")
            .map(str::trim_start)
            .unwrap_or(line);
        let err = |message: String| EnvFileError {
            line: line_no,
            message,
        };
        let (key, rest) = match line.find('=') {
            Some(eq) => (line[..eq].trim(), Some(&line[eq + 1..])),
            None => (line.trim(), None),
        };
        if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c == '#') {
            return Err(err(format!("invalid variable name `{key}`")));
        }
        let over_budget = |budget: &Budget| EnvFileError {
            line: line_no,
            message: budget.message(),
        };
        let Some(rest) = rest else {
            if let Some(v) = lookup(key) {
                if !budget.spend(v.len()) {
                    return Err(over_budget(budget));
                }
                latest.insert(key.to_string(), out.len());
                out.push((key.to_string(), v));
            }
            continue;
        };
        let rest = rest.trim_start();
        let limit = budget.remaining();
        let known = |name: &str| -> Option<String> {
            match latest.get(name) {
                Some(&at) => out.get(at).map(|(_, v)| v.clone()),
                None => lookup(name),
            }
        };
        let interpolation_error = |e: crate::stack::interpolate::InterpolationError| {
            if e.over_limit {
                EnvFileError {
                    line: line_no,
                    message: Budget::new(limit).message(),
                }
            } else {
                err(e.message)
            }
        };
        let value = if let Some(body) = rest.strip_prefix('\'') {
            let (text, consumed) = quoted(body, &lines[i..], '\'')
                .ok_or_else(|| err("unterminated single quote".into()))?;
            i += consumed;
            text
        } else if let Some(body) = rest.strip_prefix('"') {
            let (text, consumed) = quoted(body, &lines[i..], '"')
                .ok_or_else(|| err("unterminated double quote".into()))?;
            i += consumed;
            let unescaped = unescape(&text);
            interpolate(&unescaped, &known, limit)
                .map_err(interpolation_error)?
                .0
        } else {
            let without_comment = match rest.find(" #").or_else(|| rest.find("\t#")) {
                Some(at) => &rest[..at],
                None => rest,
            };
            interpolate(without_comment.trim_end(), &known, limit)
                .map_err(interpolation_error)?
                .0
        };
        if !budget.spend(value.len()) {
            return Err(over_budget(budget));
        }
        latest.insert(key.to_string(), out.len());
        out.push((key.to_string(), value));
    }
    Ok(out)
}

/// Reads a quoted value that may continue on the following lines. Returns the raw text between
/// the quotes (escapes untouched) and how many extra lines it consumed.
fn quoted(first: &str, following: &[&str], quote: char) -> Option<(String, usize)> {
    let mut text = String::new();
    let mut consumed = 0;
    let mut current = first;
    loop {
        let mut escaped = false;
        for (at, c) in current.char_indices() {
            if quote == '"' && c == '\\' && !escaped {
                escaped = true;
                continue;
            }
            if c == quote && !escaped {
                text.push_str(&current[..at]);
                return Some((text, consumed));
            }
            escaped = false;
        }
        text.push_str(current);
        text.push('\n');
        current = following.get(consumed)?;
        consumed += 1;
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            // `\$` keeps a literal dollar through interpolation.
            Some('$') => out.push_str("$$"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(content: &str) -> Vec<(String, String)> {
        parse_env_file(
            content,
            &|k| (k == "HOSTVAR").then(|| "fromhost".to_string()),
            &mut Budget::default(),
        )
        .expect("parses")
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn key_value_lines_comments_and_blanks() {
        let got = parse("# comment\n\nA=1\n  B = two words  \nC=\n");
        assert_eq!(got, pairs(&[("A", "1"), ("B", "two words"), ("C", "")]));
    }

    #[test]
    fn export_prefix_is_accepted() {
        assert_eq!(parse("export A=1\n"), pairs(&[("A", "1")]));
    }

    #[test]
    fn quotes_are_removed_and_single_quotes_are_literal() {
        let got = parse("A='x $HOSTVAR # y'\nB=\"q \\\"z\\\" $HOSTVAR\"\nC=v # comment\n");
        assert_eq!(
            got,
            pairs(&[
                ("A", "x $HOSTVAR # y"),
                ("B", "q \"z\" fromhost"),
                ("C", "v")
            ])
        );
    }

    #[test]
    fn double_quoted_values_may_span_lines_and_escape_newlines() {
        let got = parse("A=\"one\ntwo\"\nB=\"a\\nb\"\n");
        assert_eq!(got, pairs(&[("A", "one\ntwo"), ("B", "a\nb")]));
    }

    #[test]
    fn values_interpolate_earlier_keys_and_the_lookup() {
        let got = parse("A=1\nB=${A}-${HOSTVAR}-${NONE:-d}\n");
        assert_eq!(got[1], ("B".to_string(), "1-fromhost-d".to_string()));
    }

    #[test]
    fn bare_key_takes_the_host_value_or_is_dropped() {
        assert_eq!(
            parse("HOSTVAR\nMISSING\n"),
            pairs(&[("HOSTVAR", "fromhost")])
        );
    }

    #[test]
    fn bad_lines_report_their_line_number() {
        let e =
            parse_env_file("A=1\nB='open\n", &|_| None, &mut Budget::default()).expect_err("fails");
        assert_eq!(e.line, 2);
        let e = parse_env_file("A=1\n\nbad key=1\n", &|_| None, &mut Budget::default())
            .expect_err("fails");
        assert_eq!(e.line, 3);
    }

    #[test]
    fn doubling_values_stop_at_the_budget_on_their_line() {
        let mut content = String::from("A0=xxxxxxxxxxxxxxxx\n");
        for i in 1..40 {
            content.push_str(&format!("A{i}=${{A{p}}}${{A{p}}}\n", p = i - 1));
        }
        let mut budget = Budget::new(1 << 20);
        let e = parse_env_file(&content, &|_| None, &mut budget).expect_err("too large");
        assert!(e.message.contains("too large"), "{}", e.message);
        // 16 bytes doubling: the 17th line would need 1 MiB on its own.
        assert!((15..=17).contains(&e.line), "line {}", e.line);
    }

    #[test]
    fn later_definitions_are_seen_by_interpolation() {
        let got = parse("A=1\nA=2\nB=$A\n");
        assert_eq!(got[2], ("B".to_string(), "2".to_string()));
    }
}
