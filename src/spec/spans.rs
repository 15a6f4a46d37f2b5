//! A path → location index over a YAML document, built from saphyr's marked events.
//!
//! serde_yaml reports some errors at the start of the enclosing list instead of the item
//! (and semantic checks after deserialization have no location at all). This index maps
//! every node's path (`detections.netconn.where.all[0]`) to its exact line and column, and
//! catches what serde would silently accept: duplicate keys (e.g. two detections with one id).

use crate::diag::Span;
use saphyr_parser::{Event, Parser};
use std::collections::HashMap;
use std::fmt;

/// Deepest nesting accepted in a spec. Real specs nest 10-15 levels; the cap keeps a hostile
/// file from exhausting the stack of the recursive deserializer.
pub const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path into the document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct YamlPath(pub Vec<Seg>);

impl YamlPath {
    pub fn key(&self, k: impl Into<String>) -> YamlPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.into()));
        p
    }
    pub fn index(&self, i: usize) -> YamlPath {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
    pub fn from_serde(path: &serde_path_to_error::Path) -> YamlPath {
        use serde_path_to_error::Segment;
        YamlPath(
            path.iter()
                .filter_map(|s| match s {
                    Segment::Seq { index } => Some(Seg::Index(*index)),
                    Segment::Map { key } => Some(Seg::Key(key.clone())),
                    Segment::Enum { .. } | Segment::Unknown => None,
                })
                .collect(),
        )
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct NodeSpan {
    /// Where the key of a map entry is written.
    pub key: Option<Span>,
    /// Where the value node starts.
    pub value: Option<Span>,
}

/// Every node of the document as a tree: node 0 is the root, each other node is a segment
/// under its parent. A node is found by walking the path's segments from the root, so building
/// the index hashes one segment per node instead of cloning and hashing whole paths (which was
/// a fifth of compiling the corpus).
#[derive(Debug)]
pub struct SpanIndex {
    spans: Vec<NodeSpan>,
    /// (parent node, segment under it) → node
    children: HashMap<(u32, Seg), u32, foldhash::fast::FixedState>,
    /// each node's parent and segment, to name a path in a message
    parents: Vec<(u32, Seg)>,
}

impl Default for SpanIndex {
    fn default() -> Self {
        SpanIndex {
            spans: vec![NodeSpan::default()],
            children: HashMap::default(),
            parents: vec![(0, Seg::Index(0))],
        }
    }
}

/// A structural problem found while indexing: syntax errors, duplicate keys, limits.
#[derive(Debug)]
pub struct IndexError {
    pub message: String,
    pub help: Option<String>,
    pub span: Span,
    pub kind: crate::diag::DiagKind,
}

enum Frame {
    Map {
        node: u32,
        /// the key whose value comes next, as its node
        key: Option<u32>,
        seen: HashMap<String, Span, foldhash::fast::FixedState>,
    },
    Seq {
        node: u32,
        next: usize,
    },
}

const ROOT: u32 = 0;

impl SpanIndex {
    fn find(&self, path: &YamlPath) -> Option<u32> {
        let mut node = ROOT;
        for seg in &path.0 {
            // `Seg` owns its key; looking up by a borrowed tuple needs an owned one, but only
            // diagnostics look nodes up, so the clone is not on the hot path
            node = *self.children.get(&(node, seg.clone()))?;
        }
        Some(node)
    }
    fn span(&self, path: &YamlPath) -> Option<&NodeSpan> {
        self.find(path).map(|n| &self.spans[n as usize])
    }
    pub fn value(&self, path: &YamlPath) -> Option<Span> {
        self.span(path).and_then(|n| n.value)
    }
    pub fn key(&self, path: &YamlPath) -> Option<Span> {
        self.span(path).and_then(|n| n.key)
    }
    /// The location of `path`, or of its nearest indexed ancestor.
    pub fn nearest(&self, path: &YamlPath) -> Option<Span> {
        let mut p = path.clone();
        loop {
            if let Some(s) = self.value(&p).or_else(|| self.key(&p)) {
                return Some(s);
            }
            p.0.pop()?;
        }
    }

    /// The node for `seg` under `parent`, made if new.
    fn child(&mut self, parent: u32, seg: Seg) -> u32 {
        let next = self.spans.len() as u32;
        let node = *self.children.entry((parent, seg.clone())).or_insert(next);
        if node == next {
            self.spans.push(NodeSpan::default());
            self.parents.push((parent, seg));
        }
        node
    }

    /// The path of a node, for messages.
    fn path_of(&self, mut node: u32) -> YamlPath {
        let mut segs = Vec::new();
        while node != ROOT {
            let (parent, seg) = &self.parents[node as usize];
            segs.push(seg.clone());
            node = *parent;
        }
        segs.reverse();
        YamlPath(segs)
    }

    pub fn build(text: &str) -> Result<SpanIndex, IndexError> {
        use crate::diag::DiagKind;
        // byte offset of each line's start, once: `Span::from_line_col` scans the text from
        // the top, which made indexing a long (imported) spec quadratic
        let line_starts: Vec<usize> = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let span_of = |m: &saphyr_parser::Marker| {
            let (line, col) = (m.line(), m.col() + 1);
            match line.checked_sub(1).and_then(|l| line_starts.get(l)) {
                Some(&start) => {
                    // the line with its `\n`, as `from_line_col` counts it
                    let within: usize = text[start..]
                        .split_inclusive('\n')
                        .next()
                        .unwrap_or_default()
                        .chars()
                        .take(col.saturating_sub(1))
                        .map(char::len_utf8)
                        .sum();
                    Span {
                        line,
                        col,
                        offset: start + within,
                    }
                }
                None => Span::from_line_col(text, line, col),
            }
        };
        let mut index = SpanIndex::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut documents = 0;
        for ev in Parser::new_from_str(text) {
            let (ev, span) = ev.map_err(|e| IndexError {
                message: format!("YAML syntax error: {}", e.info()),
                help: Some("fix the YAML syntax (indentation, quoting, `key: value` pairs)".into()),
                span: span_of(e.marker()),
                kind: DiagKind::Syntax,
            })?;
            let at = span_of(&span.start);
            // the node the next value belongs to
            let child_node = |index: &mut SpanIndex, stack: &[Frame]| -> u32 {
                match stack.last() {
                    None => ROOT,
                    Some(Frame::Map { node, key, .. }) => match key {
                        Some(k) => *k,
                        // a value with no key before it cannot happen in a well-formed event
                        // stream; index it under the empty key as before
                        None => index.child(*node, Seg::Key(String::new())),
                    },
                    Some(Frame::Seq { node, next }) => index.child(*node, Seg::Index(*next)),
                }
            };
            let advance = |stack: &mut Vec<Frame>| match stack.last_mut() {
                Some(Frame::Map { key, .. }) => *key = None,
                Some(Frame::Seq { next, .. }) => *next += 1,
                None => {}
            };
            let expecting_key = matches!(stack.last(), Some(Frame::Map { key: None, .. }));
            match ev {
                Event::DocumentStart(_) => {
                    documents += 1;
                    if documents > 1 {
                        return Err(IndexError {
                            message: "more than one YAML document in this file".into(),
                            help: Some("keep one spec per file; remove the `---` separator".into()),
                            span: at,
                            kind: DiagKind::Syntax,
                        });
                    }
                }
                Event::Scalar(v, ..) if expecting_key => {
                    let Some(Frame::Map { node, key, seen }) = stack.last_mut() else {
                        unreachable!("expecting_key implies a map frame")
                    };
                    if let Some(first) = seen.get(v.as_ref()) {
                        let path = index.path_of(*node);
                        let parent = if path.0.is_empty() {
                            "the top level".to_string()
                        } else {
                            format!("`{path}`")
                        };
                        return Err(IndexError {
                            message: format!(
                                "duplicate key `{v}` in {parent} (first defined at line {})",
                                first.line
                            ),
                            help: Some(
                                "keys and ids must be unique: rename or merge one of them".into(),
                            ),
                            span: at,
                            kind: DiagKind::Duplicate,
                        });
                    }
                    seen.insert(v.to_string(), at);
                    let k = index.child(*node, Seg::Key(v.into_owned()));
                    index.spans[k as usize].key = Some(at);
                    *key = Some(k);
                }
                Event::Scalar(..) | Event::Alias(_) => {
                    let n = child_node(&mut index, &stack);
                    index.spans[n as usize].value = Some(at);
                    advance(&mut stack);
                }
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    if expecting_key {
                        return Err(IndexError {
                            message: "a map or list used as a key".into(),
                            help: Some("keys must be plain strings".into()),
                            span: at,
                            kind: DiagKind::Syntax,
                        });
                    }
                    if stack.len() >= MAX_DEPTH {
                        return Err(IndexError {
                            message: format!("nesting deeper than {MAX_DEPTH} levels"),
                            help: Some(
                                "flatten the predicate: `all`/`any` lists take many items".into(),
                            ),
                            span: at,
                            kind: DiagKind::Limit,
                        });
                    }
                    let node = child_node(&mut index, &stack);
                    index.spans[node as usize].value = Some(at);
                    stack.push(if matches!(ev, Event::MappingStart(..)) {
                        Frame::Map {
                            node,
                            key: None,
                            seen: HashMap::default(),
                        }
                    } else {
                        Frame::Seq { node, next: 0 }
                    });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                    advance(&mut stack);
                }
                Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
            }
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_list_items_and_keys() {
        let text = "a:\n  b:\n    - x\n    - y\n  c: 1\n";
        let idx = SpanIndex::build(text).unwrap();
        let p = YamlPath::default().key("a").key("b").index(1);
        assert_eq!(idx.value(&p).map(|s| (s.line, s.col)), Some((4, 7)));
        let c = YamlPath::default().key("a").key("c");
        assert_eq!(idx.key(&c).map(|s| (s.line, s.col)), Some((5, 3)));
        assert_eq!(idx.value(&c).map(|s| (s.line, s.col)), Some((5, 6)));
        assert_eq!(p.to_string(), "a.b[1]");
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let e = SpanIndex::build("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert!(e.message.contains("duplicate key `a`"), "{}", e.message);
        assert_eq!((e.span.line, e.span.col), (3, 1));
    }

    #[test]
    fn depth_is_capped() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        let e = SpanIndex::build(&deep).unwrap_err();
        assert!(e.message.contains("nesting deeper"), "{}", e.message);
    }
}
