//! A YAML document as a tree of nodes that remember where they start in the file.
//!
//! serde's derive stops at the first error and forgets positions, while the manifest must report
//! every problem with its line and column. So the file is read in two steps: here
//! saphyr-parser's events become [`Node`]s that carry a [`Pos`] (rejecting duplicate keys,
//! non-string keys and tags on the way), then `build` checks the tree against the schema.
//!
//! Scalars keep the text as written plus whether it was plain (unquoted), which is all the
//! schema needs: `2` is a number, `"2"` a string, a plain `~`/`null`/empty is null.

use super::error::{Pos, Problem};
use saphyr_parser::{Event, Parser, ScalarStyle, Tag};
use std::borrow::Cow;
use std::collections::HashMap;

/// Deepest nesting accepted; a manifest needs 5 levels. Bounds the recursion of everything
/// that walks the tree (including `Drop`).
pub(crate) const MAX_DEPTH: usize = 32;
/// Most nodes a document may have once aliases are expanded (stops "billion laughs").
pub(crate) const MAX_NODES: usize = 100_000;

/// A YAML value and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// A YAML value: null, a scalar, a sequence or a mapping.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// `~`, `null`, or nothing at all.
    Null,
    /// Any other scalar: its text as written, and whether it was plain (unquoted, untagged).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One `key: value` of a mapping; keys are strings and unique within their mapping.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

impl Node {
    /// How many nodes this subtree holds.
    fn size(&self) -> usize {
        1 + match &self.value {
            Value::Null | Value::Scalar { .. } => 0,
            Value::Seq(items) => items.iter().map(Node::size).sum(),
            Value::Map(entries) => entries.iter().map(|e| 1 + e.value.size()).sum(),
        }
    }
}

/// Whether a plain scalar is YAML's null (core schema).
fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<Node>,
    },
}

struct Builder<'p> {
    problems: &'p mut Vec<Problem>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    nodes: usize,
}

/// Reads the single YAML document of `text`.
///
/// Problems are pushed onto `problems`. `Ok(None)`: the stream holds no document, or one that
/// is only null. `Err(())`: the text could not be read to the end (syntax error, too deep, …);
/// the problem saying why is in `problems`.
pub(crate) fn parse(text: &str, problems: &mut Vec<Problem>) -> Result<Option<Node>, ()> {
    let mut builder = Builder {
        problems,
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        nodes: 0,
    };
    let mut documents = 0;
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        let (event, span) = match next {
            Ok(ok) => ok,
            Err(err) => {
                builder.problems.push(Problem::new(
                    Pos::from_marker(err.marker()),
                    format!("YAML syntax error: {}{}", err.info(), hint(err.info())),
                ));
                return Err(());
            }
        };
        let pos = Pos::from_marker(&span.start);
        match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    builder.problems.push(Problem::new(
                        pos,
                        "a manifest is one YAML document; remove this `---` and what follows \
                         or move it to another file",
                    ));
                    return Err(());
                }
            }
            Event::Alias(id) => {
                let Some(target) = builder.anchors.get(&id) else {
                    builder
                        .problems
                        .push(Problem::new(pos, "alias to an unknown anchor"));
                    return Err(());
                };
                let mut node = target.clone();
                node.pos = pos;
                builder.count(pos, node.size())?;
                builder.complete(node)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                builder.count(pos, 1)?;
                let quoted = style != ScalarStyle::Plain;
                let mut pos = pos;
                let value = match builder.tag(pos, tag.as_ref()) {
                    TagKind::None if !quoted && is_null(&text) => {
                        // `key:` with nothing after it: the parser places the empty value
                        // after the colon or on a later line; the key is the useful place.
                        if let (true, Some(Frame::Map { key: Some(key), .. })) =
                            (text.is_empty(), builder.stack.last())
                        {
                            pos = key.pos;
                        }
                        Value::Null
                    }
                    TagKind::None => Value::Scalar {
                        text: text.into_owned(),
                        plain: !quoted,
                    },
                    TagKind::Str => Value::Scalar {
                        text: text.into_owned(),
                        plain: false,
                    },
                };
                builder.finish(Node { pos, value }, anchor)?;
            }
            Event::SequenceStart(anchor, tag) => {
                builder.count(pos, 1)?;
                builder.tag(pos, tag.as_ref());
                builder.push(Frame::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                })?;
            }
            Event::MappingStart(anchor, tag) => {
                builder.count(pos, 1)?;
                builder.tag(pos, tag.as_ref());
                builder.push(Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                })?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match builder.stack.pop() {
                    Some(Frame::Seq { pos, anchor, items }) => (
                        Node {
                            pos,
                            value: Value::Seq(items),
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        pos,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            pos,
                            value: Value::Map(entries),
                        },
                        anchor,
                    ),
                    None => continue,
                };
                builder.finish(node, anchor)?;
            }
        }
    }
    Ok(builder.root.filter(|root| root.value != Value::Null))
}

/// Advice for the parser's messages that usually mean a misplaced line.
fn hint(info: &str) -> &'static str {
    if info.contains("mapping values are not allowed") {
        "; check the indentation, and quote a value that contains `: `"
    } else if info.contains("did not find expected") {
        "; check the indentation of this line"
    } else {
        ""
    }
}

enum TagKind {
    None,
    Str,
}

impl Builder<'_> {
    fn count(&mut self, pos: Pos, more: usize) -> Result<(), ()> {
        self.nodes += more;
        if self.nodes > MAX_NODES {
            self.problems.push(Problem::new(
                pos,
                format!("the document is too large: more than {MAX_NODES} values once aliases are expanded"),
            ));
            return Err(());
        }
        Ok(())
    }

    fn tag(&mut self, pos: Pos, tag: Option<&Cow<'_, Tag>>) -> TagKind {
        match tag {
            None => TagKind::None,
            Some(tag) if tag.is_yaml_core_schema() && tag.suffix == "str" => TagKind::Str,
            Some(tag) => {
                let shown = if tag.is_yaml_core_schema() {
                    format!("!!{}", tag.suffix)
                } else {
                    tag.to_string()
                };
                self.problems.push(Problem::new(
                    pos,
                    format!("YAML tags are not supported here (only !!str is), got {shown}"),
                ));
                TagKind::None
            }
        }
    }

    fn push(&mut self, frame: Frame) -> Result<(), ()> {
        if self.stack.len() >= MAX_DEPTH {
            let pos = match &frame {
                Frame::Seq { pos, .. } | Frame::Map { pos, .. } => *pos,
            };
            self.problems.push(Problem::new(
                pos,
                format!("nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
            return Err(());
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Records the anchor of a finished node, then places the node in its parent.
    fn finish(&mut self, node: Node, anchor: usize) -> Result<(), ()> {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.complete(node)
    }

    /// Places a finished node: as the root, a sequence item, a mapping key or value.
    fn complete(&mut self, node: Node) -> Result<(), ()> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(key) => {
                    let key_pos = key.pos;
                    let key = match key.value {
                        Value::Scalar { text, .. } => text,
                        Value::Null => {
                            self.problems.push(Problem::new(
                                key_pos,
                                "empty key: a key must be a name such as `scale`",
                            ));
                            return Ok(());
                        }
                        Value::Seq(_) | Value::Map(_) => {
                            self.problems.push(Problem::new(
                                key_pos,
                                "a key must be a plain string, not a list or a mapping",
                            ));
                            return Ok(());
                        }
                    };
                    if let Some(first) = entries.iter().find(|e| e.key == key) {
                        self.problems.push(Problem::new(
                            key_pos,
                            format!(
                                "duplicate key `{key}` (first at line {}); a key may appear once \
                                 in a mapping",
                                first.key_pos.line
                            ),
                        ));
                        return Ok(());
                    }
                    entries.push(Entry {
                        key,
                        key_pos,
                        value: node,
                    });
                }
            },
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> (Option<Node>, Vec<Problem>) {
        let mut problems = Vec::new();
        let node = parse(text, &mut problems).ok().flatten();
        (node, problems)
    }

    fn scalar(text: &str, plain: bool) -> Value {
        Value::Scalar {
            text: text.to_string(),
            plain,
        }
    }

    #[test]
    fn empty_and_null_documents_are_none() {
        for text in ["", "\n\n", "# only a comment\n", "---\n", "~\n", "null"] {
            let (node, problems) = tree(text);
            assert_eq!(node, None, "{text:?}");
            assert!(problems.is_empty(), "{text:?}: {problems:?}");
        }
    }

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        let (node, problems) = tree("- name: \"price_drops\"\n  scale: 2\n");
        assert!(problems.is_empty());
        let node = node.unwrap();
        assert_eq!(node.pos, Pos { line: 1, column: 1 });
        let Value::Seq(items) = &node.value else {
            panic!("{node:?}")
        };
        let Value::Map(entries) = &items[0].value else {
            panic!()
        };
        assert_eq!(items[0].pos, Pos { line: 1, column: 3 });
        assert_eq!(entries[0].key, "name");
        assert_eq!(entries[0].key_pos, Pos { line: 1, column: 3 });
        assert_eq!(entries[0].value.value, scalar("price_drops", false));
        assert_eq!(entries[0].value.pos, Pos { line: 1, column: 9 });
        assert_eq!(entries[1].key_pos, Pos { line: 2, column: 3 });
        assert_eq!(entries[1].value.value, scalar("2", true));
        assert_eq!(
            entries[1].value.pos,
            Pos {
                line: 2,
                column: 10
            }
        );
    }

    #[test]
    fn scalars_keep_text_and_style() {
        let (node, _) = tree("a: 2\nb: '2'\nc: !!str 2\nd: ~\ne:\nf: \"\"\ng: true\n");
        let Some(Node {
            value: Value::Map(entries),
            ..
        }) = node
        else {
            panic!()
        };
        let values: Vec<&Value> = entries.iter().map(|e| &e.value.value).collect();
        assert_eq!(
            values,
            [
                &scalar("2", true),
                &scalar("2", false),
                &scalar("2", false),
                &Value::Null,
                &Value::Null,
                &scalar("", false),
                &scalar("true", true),
            ]
        );
        // `e:` with nothing after it points at the key.
        assert_eq!(entries[4].value.pos, Pos { line: 5, column: 1 });
    }

    #[test]
    fn duplicate_keys_point_at_the_second() {
        let (_, problems) = tree("- name: a\n  scale: 1\n  scale: 2\n");
        assert_eq!(
            problems,
            [Problem::new(
                Pos { line: 3, column: 3 },
                "duplicate key `scale` (first at line 2); a key may appear once in a mapping"
            )]
        );
    }

    #[test]
    fn non_string_keys_and_tags_are_problems() {
        let (_, problems) = tree("? [a]\n: 1\nb: !foo x\nc: !!int 2\n");
        let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "1:3: a key must be a plain string, not a list or a mapping",
                "3:4: YAML tags are not supported here (only !!str is), got !foo",
                "4:4: YAML tags are not supported here (only !!str is), got !!int",
            ]
        );
    }

    #[test]
    fn syntax_errors_stop_with_a_position() {
        let mut problems = Vec::new();
        assert!(parse("a: [1, 2\n", &mut problems).is_err());
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.starts_with("YAML syntax error: "));
    }

    #[test]
    fn a_second_document_is_refused() {
        let mut problems = Vec::new();
        assert!(parse("- a\n---\n- b\n", &mut problems).is_err());
        assert_eq!(problems[0].pos, Pos { line: 2, column: 1 });
    }

    #[test]
    fn aliases_copy_the_anchored_value_at_the_alias_position() {
        let (node, problems) = tree("a: &h [x, y]\nb: *h\n");
        assert!(problems.is_empty());
        let Some(Node {
            value: Value::Map(entries),
            ..
        }) = node
        else {
            panic!()
        };
        assert_eq!(entries[1].value.pos, Pos { line: 2, column: 4 });
        assert_eq!(entries[0].value.value, entries[1].value.value);
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let mut problems = Vec::new();
        assert!(parse(&bomb, &mut problems).is_err());
        assert!(problems[0].message.contains("too large"), "{problems:?}");

        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 8), "]".repeat(MAX_DEPTH + 8));
        let mut problems = Vec::new();
        assert!(parse(&deep, &mut problems).is_err());
        assert!(problems[0].message.contains("nested too deeply"));
    }
}
