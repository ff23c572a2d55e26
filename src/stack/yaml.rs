//! A positioned YAML tree built from libyaml's event parser (`libyaml-safer`, a safe Rust port
//! of the C library the Compose implementations' YAML readers follow).
//!
//! Every node knows the file, line and column (1-based) it came from, so that every later stage can
//! point at the source. Anchors and aliases are resolved here (an alias is a copy of the anchored
//! node) and so are merge keys (`<<: *a`, `<<: [*a, *b]`): explicit keys win over merged ones and an
//! earlier merged map wins over a later one. Duplicate keys are reported at the second occurrence.
//!
//! libyaml rather than yaml-rust2/saphyr: those refuse a flow collection whose closing bracket
//! sits at its key's indentation (`command: [` … `]`), which libyaml, PyYAML and Go's yaml.v3 (so
//! both Compose implementations) accept and real Compose files use.
//!
//! This module knows YAML, not Compose: it must not interpret keys.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use libyaml_safer::{Event, EventData, Mark, Parser, ScalarStyle};

use crate::stack::budget::Budget;
use crate::stack::error::Diagnostic;
use crate::stack::model::Pos;

/// How a scalar was written; it decides whether `null`/`true`/`12` are typed or plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Quoted,
    /// `|` or `>` block scalars (multi-line; columns inside them are not tracked).
    Block,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar { text: String, style: Style },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

impl Node {
    /// The scalar text, if this node is a scalar that is not null.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } if !self.is_null() => Some(text),
            _ => None,
        }
    }

    /// `~`, `null`, or nothing at all (a key with no value).
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, style: Style::Plain }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// Looks a key up in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// A short description of the node's kind, for "expected X, got Y" messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
            Value::Scalar { .. } if self.is_null() => "null",
            Value::Scalar {
                text,
                style: Style::Plain,
            } if text.parse::<f64>().is_ok() => "a number",
            Value::Scalar {
                text,
                style: Style::Plain,
            } if matches!(text.as_str(), "true" | "false") => "a boolean",
            Value::Scalar { .. } => "a string",
        }
    }

    /// The node as plain data, typed the way YAML 1.2's core schema types plain scalars (quoted
    /// and block scalars stay strings), for settings kept as written (`x-novadev.k8s`).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as Json;
        match &self.value {
            Value::Map(entries) => Json::Object(
                entries
                    .iter()
                    .map(|(k, v)| (scalar_text(k), v.to_json()))
                    .collect(),
            ),
            Value::Seq(items) => Json::Array(items.iter().map(Node::to_json).collect()),
            Value::Scalar { .. } if self.is_null() => Json::Null,
            Value::Scalar {
                text,
                style: Style::Plain,
            } => match text.as_str() {
                "true" | "True" | "TRUE" => Json::Bool(true),
                "false" | "False" | "FALSE" => Json::Bool(false),
                _ => {
                    if let Ok(n) = text.parse::<i64>() {
                        Json::from(n)
                    } else if let Some(n) = text
                        .parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                    {
                        Json::Number(n)
                    } else {
                        Json::String(text.clone())
                    }
                }
            },
            Value::Scalar { text, .. } => Json::String(text.clone()),
        }
    }

    /// What the node costs in memory, roughly: a node's own size plus its text. This is what an
    /// alias of it adds, and what the byte budget counts.
    fn weight(&self) -> usize {
        match &self.value {
            Value::Scalar { text, .. } => NODE_COST + text.len(),
            Value::Seq(items) => NODE_COST + items.iter().map(Node::weight).sum::<usize>(),
            Value::Map(entries) => {
                NODE_COST
                    + entries
                        .iter()
                        .map(|(k, v)| k.weight() + v.weight())
                        .sum::<usize>()
            }
        }
    }
}

const NODE_COST: usize = std::mem::size_of::<Node>();

/// Upper bound on nesting, so that recursive walks over the tree cannot overflow the stack.
const MAX_DEPTH: usize = 256;

enum Frame {
    Seq {
        pos: Pos,
        anchor: Option<String>,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: Option<String>,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

struct Builder<'b> {
    file: Arc<PathBuf>,
    stack: Vec<Frame>,
    /// Anchored nodes with their weight.
    anchors: HashMap<String, (Node, usize)>,
    root: Option<Node>,
    budget: &'b mut Budget,
    errors: Vec<Diagnostic>,
}

/// Parses one YAML document. An empty file gives `Ok(None)`. YAML syntax errors stop the parse
/// (with the scanner's position); duplicate keys and bad merge keys are collected. Every node,
/// and every copy an alias makes, is spent from `budget` before it is made.
pub fn parse(
    source: &str,
    file: &Arc<PathBuf>,
    budget: &mut Budget,
) -> Result<Option<Node>, Vec<Diagnostic>> {
    let mut parser = Parser::new();
    parser.set_input(std::io::Cursor::new(source.as_bytes()));
    let mut builder = Builder {
        file: file.clone(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        budget,
        errors: Vec::new(),
    };
    let mut documents = 0;
    // Where the last event ended: the place to blame if the reader itself fails.
    let mut last = Mark::default();
    loop {
        let event = match next_event(&mut parser) {
            Ok(event) => event,
            Err(Failure::Syntax(e)) => return Err(vec![syntax_error(&e, file)]),
            Err(Failure::ReaderPanic) => {
                let pos = builder.pos(&last);
                return Err(vec![Diagnostic::at(
                    &pos,
                    "invalid YAML: the YAML reader gave up after this point",
                )]);
            }
        };
        last = event.end_mark;
        match event.data {
            EventData::StreamEnd => break,
            EventData::DocumentStart { .. } => {
                documents += 1;
                if documents > 1 {
                    let pos = builder.pos(&event.start_mark);
                    return Err(vec![Diagnostic::at(
                        &pos,
                        "a stack file must hold a single YAML document",
                    )]);
                }
            }
            EventData::StreamStart { .. } | EventData::DocumentEnd { .. } => {}
            _ => {
                if let Err(d) = builder.event(event) {
                    builder.errors.push(d);
                    return Err(builder.errors);
                }
            }
        }
    }
    if builder.errors.is_empty() {
        Ok(builder.root)
    } else {
        Err(builder.errors)
    }
}

enum Failure {
    Syntax(libyaml_safer::Error),
    /// libyaml-safer 0.3.0 still has `panic!`s on some inputs that libyaml accepts or refuses
    /// cleanly (e.g. a tag followed by `,` in a flow sequence: "TODO: What is expected here?").
    ReaderPanic,
}

/// The next event, with a panic inside the YAML library turned into an error: a stack file must
/// never take the CLI or the daemon down.
fn next_event(parser: &mut Parser<std::io::Cursor<&[u8]>>) -> Result<Event, Failure> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse())) {
        Ok(Ok(event)) => Ok(event),
        Ok(Err(e)) => Err(Failure::Syntax(e)),
        Err(_) => Err(Failure::ReaderPanic),
    }
}

/// A libyaml error as a diagnostic: "invalid YAML: <problem> <context>" at the problem's place.
fn syntax_error(e: &libyaml_safer::Error, file: &Arc<PathBuf>) -> Diagnostic {
    let (line, column) = match e.problem_mark() {
        Some(mark) => (mark_line(&mark), mark_column(&mark)),
        // Reader errors (bad characters) carry no mark; the first line is the best we know.
        None => (1, 1),
    };
    let mut message = format!("invalid YAML: {}", e.problem());
    if let (Some(context), Some(mark)) = (e.context(), e.context_mark()) {
        message.push_str(&format!(
            " {context} (started at line {}, column {})",
            mark_line(&mark),
            mark_column(&mark)
        ));
    }
    Diagnostic::at(
        &Pos {
            file: file.clone(),
            line,
            column,
        },
        message,
    )
}

fn mark_line(mark: &Mark) -> usize {
    usize::try_from(mark.line)
        .unwrap_or(usize::MAX)
        .saturating_add(1)
}

fn mark_column(mark: &Mark) -> usize {
    usize::try_from(mark.column)
        .unwrap_or(usize::MAX)
        .saturating_add(1)
}

impl Builder<'_> {
    fn pos(&self, mark: &Mark) -> Pos {
        Pos {
            file: self.file.clone(),
            line: mark_line(mark),
            column: mark_column(mark),
        }
    }

    fn event(&mut self, event: Event) -> Result<(), Diagnostic> {
        let pos = self.pos(&event.start_mark);
        match event.data {
            EventData::Scalar {
                value,
                style,
                anchor,
                ..
            } => {
                let style = match style {
                    ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Style::Quoted,
                    ScalarStyle::Literal | ScalarStyle::Folded => Style::Block,
                    // `Plain`, and whatever a later libyaml adds (the enum is non-exhaustive).
                    _ => Style::Plain,
                };
                let node = Node {
                    pos,
                    value: Value::Scalar { text: value, style },
                };
                let weight = node.weight();
                self.count(weight, &node.pos)?;
                if let Some(anchor) = anchor {
                    self.anchors.insert(anchor, (node.clone(), weight));
                }
                self.complete(node)
            }
            EventData::Alias { anchor } => {
                let Some(weight) = self.anchors.get(&anchor).map(|(_, w)| *w) else {
                    return Err(Diagnostic::at(
                        &pos,
                        format!("alias `*{anchor}` to an unknown anchor"),
                    ));
                };
                // Counted before copying, so that an alias bomb stops before it allocates.
                self.count(weight, &pos)?;
                // The copy keeps the positions of the anchored content: that is where the text
                // is, so columns inside scalars stay right.
                let Some(node) = self.anchors.get(&anchor).map(|(n, _)| n.clone()) else {
                    return Err(Diagnostic::at(&pos, "alias to an unknown anchor"));
                };
                self.complete(node)
            }
            EventData::SequenceStart { anchor, .. } => self.push(Frame::Seq {
                pos,
                anchor,
                items: Vec::new(),
            }),
            EventData::MappingStart { anchor, .. } => self.push(Frame::Map {
                pos,
                anchor,
                entries: Vec::new(),
                key: None,
            }),
            EventData::SequenceEnd => match self.stack.pop() {
                Some(Frame::Seq { pos, anchor, items }) => {
                    // Flow/block sequences start where their first item does, for messages.
                    let pos = items.first().map(|n| n.pos.clone()).unwrap_or(pos);
                    let node = Node {
                        pos,
                        value: Value::Seq(items),
                    };
                    self.finish(node, anchor)
                }
                _ => Err(Diagnostic::at(&pos, "unbalanced YAML sequence")),
            },
            EventData::MappingEnd => match self.stack.pop() {
                Some(Frame::Map {
                    pos,
                    anchor,
                    entries,
                    key,
                }) => {
                    if let Some(key) = key {
                        return Err(Diagnostic::at(&key.pos, "mapping key without a value"));
                    }
                    let pos = entries.first().map(|(k, _)| k.pos.clone()).unwrap_or(pos);
                    let entries = self.resolve_merges(entries);
                    let node = Node {
                        pos,
                        value: Value::Map(entries),
                    };
                    self.finish(node, anchor)
                }
                _ => Err(Diagnostic::at(&pos, "unbalanced YAML mapping")),
            },
            EventData::StreamStart { .. }
            | EventData::StreamEnd
            | EventData::DocumentStart { .. }
            | EventData::DocumentEnd { .. } => Ok(()),
        }
    }

    fn push(&mut self, frame: Frame) -> Result<(), Diagnostic> {
        if self.stack.len() >= MAX_DEPTH {
            let pos = match &frame {
                Frame::Seq { pos, .. } | Frame::Map { pos, .. } => pos.clone(),
            };
            return Err(Diagnostic::at(&pos, "YAML nested too deeply"));
        }
        self.count(
            NODE_COST,
            &match &frame {
                Frame::Seq { pos, .. } | Frame::Map { pos, .. } => pos.clone(),
            },
        )?;
        self.stack.push(frame);
        Ok(())
    }

    fn count(&mut self, bytes: usize, pos: &Pos) -> Result<(), Diagnostic> {
        if self.budget.spend(bytes) {
            Ok(())
        } else {
            Err(Diagnostic::at(pos, self.budget.message()))
        }
    }

    fn finish(&mut self, node: Node, anchor: Option<String>) -> Result<(), Diagnostic> {
        if let Some(anchor) = anchor {
            let weight = node.weight();
            self.anchors.insert(anchor, (node.clone(), weight));
        }
        self.complete(node)
    }

    fn complete(&mut self, node: Node) -> Result<(), Diagnostic> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map { entries, key, .. }) => {
                match key.take() {
                    None => {
                        if !matches!(node.value, Value::Scalar { .. }) {
                            return Err(Diagnostic::at(
                                &node.pos,
                                "mapping keys must be plain strings",
                            ));
                        }
                        *key = Some(node);
                    }
                    Some(k) => entries.push((k, node)),
                }
                Ok(())
            }
        }
    }

    /// Applies `<<` merge keys and reports duplicate keys (at their second occurrence).
    fn resolve_merges(&mut self, entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
        let is_merge = |k: &Node| matches!(&k.value, Value::Scalar { text, style: Style::Plain } if text == "<<");
        let mut explicit: HashMap<String, Pos> = HashMap::new();
        for (k, _) in entries.iter().filter(|(k, _)| !is_merge(k)) {
            let text = scalar_text(k);
            if let Some(first) = explicit.get(&text) {
                self.errors.push(Diagnostic::at(
                    &k.pos,
                    format!("duplicate key `{text}` (first defined at {first})"),
                ));
            } else {
                explicit.insert(text, k.pos.clone());
            }
        }
        if !entries.iter().any(|(k, _)| is_merge(k)) {
            return entries;
        }
        let mut seen: HashMap<String, ()> = explicit.keys().map(|k| (k.clone(), ())).collect();
        let mut out = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            if !is_merge(&k) {
                out.push((k, v));
                continue;
            }
            let sources: Vec<Node> = match v.value {
                Value::Map(_) => vec![v],
                Value::Seq(items) => items,
                _ => {
                    self.errors.push(Diagnostic::at(
                        &k.pos,
                        "`<<` merge key needs a mapping or a list of mappings",
                    ));
                    continue;
                }
            };
            for source in sources {
                match source.value {
                    Value::Map(merged) => {
                        for (mk, mv) in merged {
                            let text = scalar_text(&mk);
                            if seen.insert(text, ()).is_none() {
                                out.push((mk, mv));
                            }
                        }
                    }
                    _ => self.errors.push(Diagnostic::at(
                        &k.pos,
                        "`<<` merge key needs a mapping or a list of mappings",
                    )),
                }
            }
        }
        out
    }
}

fn scalar_text(node: &Node) -> String {
    match &node.value {
        Value::Scalar { text, .. } => text.clone(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Arc<PathBuf> {
        Arc::new(PathBuf::from("/p/compose.yaml"))
    }

    fn parse_ok(src: &str) -> Node {
        parse(src, &file(), &mut Budget::default())
            .expect("parses")
            .expect("not empty")
    }

    fn parse_err(src: &str) -> String {
        let errs = parse(src, &file(), &mut Budget::default()).expect_err("fails");
        errs.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn nodes_carry_one_based_line_and_column() {
        let root = parse_ok("a:\n  b: hello\n");
        let b = root.get("a").and_then(|a| a.get("b")).expect("a.b");
        assert_eq!(b.as_str(), Some("hello"));
        assert_eq!((b.pos.line, b.pos.column), (2, 6));
        let key = &root.get("a").and_then(|a| a.as_map()).expect("map")[0].0;
        assert_eq!((key.pos.line, key.pos.column), (2, 3));
    }

    #[test]
    fn alias_copies_the_anchored_node() {
        let root = parse_ok("x: &a [1, 2]\ny: *a\n");
        assert_eq!(
            root.get("y").and_then(Node::as_seq).map(<[Node]>::len),
            Some(2)
        );
    }

    #[test]
    fn merge_key_explicit_keys_win_over_merged_ones() {
        let root = parse_ok("base: &b\n  a: 1\n  b: 2\nsvc:\n  b: 3\n  <<: *b\n");
        let svc = root.get("svc").expect("svc");
        assert_eq!(svc.get("a").and_then(Node::as_str), Some("1"));
        assert_eq!(svc.get("b").and_then(Node::as_str), Some("3"));
        assert_eq!(svc.as_map().map(<[(Node, Node)]>::len), Some(2));
    }

    #[test]
    fn merge_key_list_earlier_map_wins() {
        let root = parse_ok("x: &x {a: 1, c: 1}\ny: &y {a: 2, b: 2}\nz:\n  <<: [*x, *y]\n");
        let z = root.get("z").expect("z");
        assert_eq!(z.get("a").and_then(Node::as_str), Some("1"));
        assert_eq!(z.get("b").and_then(Node::as_str), Some("2"));
        assert_eq!(z.get("c").and_then(Node::as_str), Some("1"));
    }

    #[test]
    fn merge_key_of_a_scalar_is_an_error() {
        let msg = parse_err("x: &x 1\nz:\n  <<: *x\n");
        assert!(msg.contains("compose.yaml:3:"), "{msg}");
    }

    #[test]
    fn duplicate_key_is_reported_at_the_second_one() {
        let msg = parse_err("a: 1\nb: 2\na: 3\n");
        assert!(msg.contains("compose.yaml:3:1: duplicate key `a`"), "{msg}");
        assert!(msg.contains("compose.yaml:1:1"), "{msg}");
    }

    #[test]
    fn invalid_yaml_reports_the_scanner_position() {
        let msg = parse_err("a: [1\nb: 2\n");
        assert!(msg.contains("compose.yaml:2:"), "{msg}");
        assert!(msg.contains("invalid YAML"), "{msg}");
    }

    #[test]
    fn empty_value_is_null_and_empty_file_is_none() {
        let root = parse_ok("a:\nb: ~\nc: null\nd: ''\n");
        assert!(root.get("a").is_some_and(Node::is_null));
        assert!(root.get("b").is_some_and(Node::is_null));
        assert!(root.get("c").is_some_and(Node::is_null));
        assert_eq!(root.get("d").and_then(Node::as_str), Some(""));
        assert_eq!(parse("", &file(), &mut Budget::default()).ok(), Some(None));
        assert_eq!(
            parse("# only a comment\n", &file(), &mut Budget::default()).ok(),
            Some(None)
        );
    }

    #[test]
    fn a_second_document_is_rejected() {
        let msg = parse_err("a: 1\n---\nb: 2\n");
        assert!(msg.contains("single YAML document"), "{msg}");
    }

    #[test]
    fn flow_sequence_may_close_at_its_key_indentation() {
        // Compose (libyaml, yaml.v3) accepts this layout; yaml-rust2 refused it.
        let root = parse_ok("services:\n  a:\n    image: x\n    command: [\n      \"sh\"\n    ]\n");
        let command = root
            .get("services")
            .and_then(|s| s.get("a"))
            .and_then(|a| a.get("command"))
            .and_then(Node::as_seq)
            .expect("a list");
        assert_eq!(command.len(), 1);
        assert_eq!(command[0].as_str(), Some("sh"));
        assert_eq!((command[0].pos.line, command[0].pos.column), (5, 7));
    }

    #[test]
    fn flow_items_and_mappings_may_sit_at_the_key_indentation() {
        let root = parse_ok("a:\n  b: [\n  1,\n  2\n  ]\n  c: {\n    d: e\n  }\n");
        let a = root.get("a").expect("a");
        assert_eq!(
            a.get("b").and_then(Node::as_seq).map(<[Node]>::len),
            Some(2)
        );
        assert_eq!(
            a.get("c").and_then(|c| c.get("d")).and_then(Node::as_str),
            Some("e")
        );
    }

    #[test]
    fn syntax_errors_name_the_construct_and_where_it_started() {
        let msg = parse_err("a: 1\nb: [x,\n  y\nc: 2\n");
        assert!(msg.contains("compose.yaml:4:2: invalid YAML"), "{msg}");
        assert!(
            msg.contains("flow sequence (started at line 2, column 4)"),
            "{msg}"
        );
    }

    #[test]
    fn alias_to_an_unknown_anchor_is_an_error() {
        let msg = parse_err("a: 1\nb: *nowhere\n");
        assert!(msg.contains("compose.yaml:2:4"), "{msg}");
        assert!(msg.contains("`*nowhere`"), "{msg}");
    }

    #[test]
    fn a_redefined_anchor_is_used_from_then_on() {
        let root = parse_ok("a: &x 1\nb: *x\nc: &x 2\nd: *x\n");
        assert_eq!(root.get("b").and_then(Node::as_str), Some("1"));
        assert_eq!(root.get("d").and_then(Node::as_str), Some("2"));
    }

    #[test]
    fn a_panic_inside_the_yaml_library_is_an_error_at_the_last_good_place() {
        // libyaml-safer 0.3.0 panics on a tag directly followed by `,` in a flow sequence
        // (found by fuzzing); it must come out as a stack error.
        let msg = parse_err("a: 1\nb: [!t,x]\n");
        assert!(msg.contains("invalid YAML"), "{msg}");
        assert!(msg.contains("compose.yaml:2:"), "{msg}");
    }

    #[test]
    fn alias_bombs_are_stopped() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            src.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let msg = parse_err(&src);
        assert!(msg.contains("too large"), "{msg}");
    }

    /// One 100 KB scalar aliased 10,000 times: few nodes, but a gigabyte of text.
    fn byte_bomb(scalar: usize, aliases: usize) -> String {
        let mut src = format!("big: &big \"{}\"\nlist: [", "x".repeat(scalar));
        src.push_str(&vec!["*big"; aliases].join(", "));
        src.push_str("]\n");
        src
    }

    #[test]
    fn alias_bomb_by_bytes_stops_at_the_budget_with_the_alias_position() {
        let src = byte_bomb(100_000, 10_000);
        let mut budget = Budget::default();
        let errs = parse(&src, &file(), &mut budget).expect_err("over budget");
        let msg = errs[0].to_string();
        assert!(msg.starts_with("/p/compose.yaml:2:"), "{msg}");
        assert!(msg.contains("more than 64 MiB"), "{msg}");
        assert!(budget.is_exhausted());
    }

    #[test]
    fn aliases_within_the_budget_are_expanded() {
        let src = byte_bomb(1000, 100);
        let root = parse(&src, &file(), &mut Budget::default())
            .expect("fits")
            .expect("doc");
        let list = root.get("list").and_then(Node::as_seq).expect("list");
        assert_eq!(list.len(), 100);
        assert!(parse(&src, &file(), &mut Budget::new(50_000)).is_err());
    }
}
