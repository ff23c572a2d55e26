//! A positioned YAML tree built from yaml-rust2's event parser.
//!
//! Every node knows the file, line and column (1-based) it came from, so that every later stage can
//! point at the source. Anchors and aliases are resolved here (an alias is a copy of the anchored
//! node) and so are merge keys (`<<: *a`, `<<: [*a, *b]`): explicit keys win over merged ones and an
//! earlier merged map wins over a later one. Duplicate keys are reported at the second occurrence.
//!
//! This module knows YAML, not Compose: it must not interpret keys.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

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

    fn size(&self) -> usize {
        match &self.value {
            Value::Scalar { .. } => 1,
            Value::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Value::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| k.size() + v.size())
                    .sum::<usize>()
            }
        }
    }
}

/// Upper bound on nodes after alias expansion, against "billion laughs" documents.
const MAX_NODES: usize = 1_000_000;
/// Upper bound on nesting, so that recursive walks over the tree cannot overflow the stack.
const MAX_DEPTH: usize = 256;

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

struct Builder {
    file: Arc<PathBuf>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    nodes: usize,
    errors: Vec<Diagnostic>,
}

/// Parses one YAML document. An empty file gives `Ok(None)`. YAML syntax errors stop the parse
/// (with the scanner's position); duplicate keys and bad merge keys are collected.
pub fn parse(source: &str, file: &Arc<PathBuf>) -> Result<Option<Node>, Vec<Diagnostic>> {
    let mut parser = Parser::new_from_str(source);
    let mut builder = Builder {
        file: file.clone(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        nodes: 0,
        errors: Vec::new(),
    };
    let mut documents = 0;
    loop {
        let (event, mark) = match parser.next_token() {
            Ok(next) => next,
            Err(e) => {
                let pos = builder.pos(e.marker());
                return Err(vec![Diagnostic::at(
                    &pos,
                    format!("invalid YAML: {}", e.info()),
                )]);
            }
        };
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    let pos = builder.pos(&mark);
                    return Err(vec![Diagnostic::at(
                        &pos,
                        "a stack file must hold a single YAML document",
                    )]);
                }
            }
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
            other => {
                if let Err(d) = builder.event(other, mark) {
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

impl Builder {
    fn pos(&self, mark: &Marker) -> Pos {
        Pos {
            file: self.file.clone(),
            line: mark.line().max(1),
            column: mark.col() + 1,
        }
    }

    fn event(&mut self, event: Event, mark: Marker) -> Result<(), Diagnostic> {
        let pos = self.pos(&mark);
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let style = match style {
                    TScalarStyle::Plain => Style::Plain,
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => Style::Quoted,
                    TScalarStyle::Literal | TScalarStyle::Folded => Style::Block,
                };
                let node = Node {
                    pos,
                    value: Value::Scalar { text, style },
                };
                self.count(1, &node.pos)?;
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.complete(node)
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err(Diagnostic::at(&pos, "alias to an unknown anchor"));
                };
                let size = target.size();
                // The copy keeps the positions of the anchored content: that is where the text
                // is, so columns inside scalars stay right.
                let node = target.clone();
                self.count(size, &pos)?;
                self.complete(node)
            }
            Event::SequenceStart(anchor, _) => self.push(Frame::Seq {
                pos,
                anchor,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, _) => self.push(Frame::Map {
                pos,
                anchor,
                entries: Vec::new(),
                key: None,
            }),
            Event::SequenceEnd => match self.stack.pop() {
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
            Event::MappingEnd => match self.stack.pop() {
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
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => Ok(()),
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
            1,
            &match &frame {
                Frame::Seq { pos, .. } | Frame::Map { pos, .. } => pos.clone(),
            },
        )?;
        self.stack.push(frame);
        Ok(())
    }

    fn count(&mut self, n: usize, pos: &Pos) -> Result<(), Diagnostic> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(Diagnostic::at(
                pos,
                "YAML document too large (too many nodes after expanding aliases)",
            ));
        }
        Ok(())
    }

    fn finish(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
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
        parse(src, &file()).expect("parses").expect("not empty")
    }

    fn parse_err(src: &str) -> String {
        let errs = parse(src, &file()).expect_err("fails");
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
        assert_eq!(parse("", &file()).ok(), Some(None));
        assert_eq!(parse("# only a comment\n", &file()).ok(), Some(None));
    }

    #[test]
    fn a_second_document_is_rejected() {
        let msg = parse_err("a: 1\n---\nb: 2\n");
        assert!(msg.contains("single YAML document"), "{msg}");
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
}
