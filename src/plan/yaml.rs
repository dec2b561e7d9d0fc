//! YAML text → a span tree (saphyr) and the same data as JSON (`serde_json::Value`).
//!
//! saphyr reports syntax errors and duplicate keys with positions and keeps a span on every
//! node and key. The JSON value is what the schema checks and serde reads; merge keys
//! (`<<: *defaults`) are expanded into it here. Every later error names a JSON pointer, and
//! [`Document::locate`] walks the span tree to turn it back into a line and column.
//!
//! Nesting is limited to [`MAX_DEPTH`] levels. saphyr's parser is iterative, but its tree,
//! the JSON value and every pass after them (schema, serde, analyzer, templates, request
//! bodies) recurse, so each event is counted ([`Depth`]) before it is handed to the tree
//! builder, and a deeper plan is a located error before a deeper node is built. The text
//! is parsed once.
//!
//! Everything here is linear in the plan's size, however many errors it has: a key is
//! found in its mapping by hash, and a line by a table of line starts.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr::{AnnotatedMapping, MarkedYaml, Scalar, ScanError, YamlData, YamlLoader};
use saphyr_parser::{Event, Parser, SpannedEventReceiver};
use serde_json::{Map, Value};

use crate::diag::{Diagnostic, Span};

/// One segment of a path into the plan: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

impl From<&str> for Segment {
    fn from(key: &str) -> Self {
        Self::Key(key.to_owned())
    }
}

impl From<usize> for Segment {
    fn from(index: usize) -> Self {
        Self::Index(index)
    }
}

/// A path into the plan, like `/scenarios/user/steps/0`.
pub type Path = Vec<Segment>;

/// Where a path leads: the span of the value and, for a mapping entry, of its key.
#[derive(Debug, Clone, Copy)]
pub struct Located {
    pub key: Option<Span>,
    pub value: Span,
    /// False when the path could not be followed to its end (the span is of the deepest
    /// node that exists).
    pub exact: bool,
}

/// A loaded plan document.
pub struct Document<'a> {
    lines: Lines<'a>,
    tree: MarkedYaml<'a>,
    pub value: Value,
}

/// The lines of a source: where each starts and whether it is ASCII, so that a line and
/// column become text without a walk from the start of the file (or of a long line).
struct Lines<'a> {
    source: &'a str,
    /// Byte offset of the start of each line.
    starts: Vec<usize>,
    ascii: Vec<bool>,
}

impl<'a> Lines<'a> {
    fn new(source: &'a str) -> Self {
        let starts: Vec<usize> = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        let ascii = starts
            .iter()
            .zip(starts.iter().skip(1).copied().chain([source.len()]))
            .map(|(&start, end)| source.as_bytes()[start..end].is_ascii())
            .collect();
        Self {
            source,
            starts,
            ascii,
        }
    }

    /// The text of a 1-based line, without its line break.
    fn line(&self, line: usize) -> Option<&'a str> {
        let start = *self.starts.get(line.checked_sub(1)?)?;
        let end = self
            .starts
            .get(line)
            .map_or(self.source.len(), |next| next - 1);
        Some(&self.source[start..end])
    }

    /// The rest of a 1-based line from a 1-based character column.
    fn rest_of_line(&self, line: usize, col: usize) -> Option<&'a str> {
        let text = self.line(line)?;
        let skip = col.checked_sub(1)?;
        if self.ascii[line - 1] {
            text.get(skip..)
        } else {
            let at = text
                .char_indices()
                .nth(skip)
                .map_or(text.len(), |(at, _)| at);
            Some(&text[at..])
        }
    }

    /// How many characters the rest of a line has from a 1-based column.
    fn chars_from(&self, line: usize, col: usize) -> usize {
        match self.rest_of_line(line, col) {
            Some(rest) if self.ascii[line - 1] => rest.len(),
            Some(rest) => rest.chars().count(),
            None => 0,
        }
    }
}

impl<'a> Document<'a> {
    /// Parses `source`; a syntax error, a duplicate key or a document that is not one mapping
    /// is returned as a located diagnostic.
    pub fn load(source: &'a str) -> Result<Self, Diagnostic> {
        let lines = Lines::new(source);
        let mut documents = parse(source)?;
        if documents.len() > 1 {
            let span = node_span(&lines, &documents[1]);
            return Err(Diagnostic::error(
                Some(span),
                "a plan is one YAML document, found a second one",
            ));
        }
        let Some(tree) = documents.pop() else {
            return Err(Diagnostic::error(None, "the plan is empty"));
        };
        if !matches!(tree.data, YamlData::Mapping(_)) {
            return Err(Diagnostic::error(
                Some(node_span(&lines, &tree)),
                "a plan is a YAML mapping with `name`, `stages` and `scenarios`",
            ));
        }
        let value = to_json(&lines, &tree)?;
        Ok(Self { lines, tree, value })
    }

    /// The character at a span's start.
    fn first_char(&self, span: Span) -> Option<char> {
        self.lines.rest_of_line(span.line, span.col)?.chars().next()
    }

    /// The span of the node at `path`, or of the deepest node on the way to it.
    pub fn locate(&self, path: &[Segment]) -> Located {
        let mut node = &self.tree;
        let mut key = None;
        for segment in path {
            match child(node, segment) {
                Some((child_key, child)) => {
                    key = child_key.map(|k| node_span(&self.lines, k));
                    node = child;
                }
                None => {
                    return Located {
                        key,
                        value: node_span(&self.lines, node),
                        exact: false,
                    };
                }
            }
        }
        Located {
            key,
            value: node_span(&self.lines, node),
            exact: true,
        }
    }

    /// The span of the key at `path` when it is a mapping entry, else of its value.
    pub fn key_span(&self, path: &[Segment]) -> Span {
        let located = self.locate(path);
        match located.key {
            Some(key) if located.exact => key,
            _ => located.value,
        }
    }

    /// The span of the key at `path` without its quotes, for positions inside the key.
    pub fn key_text_span(&self, path: &[Segment]) -> Span {
        let span = self.key_span(path);
        match self.first_char(span) {
            Some('"' | '\'') => Span::new(
                span.offset + 1,
                span.line,
                span.col + 1,
                span.len.saturating_sub(2).max(1),
            ),
            _ => span,
        }
    }

    /// The span of the value at `path`.
    pub fn value_span(&self, path: &[Segment]) -> Span {
        self.locate(path).value
    }

    /// The span of the text of a one-line scalar at `path`, without its quotes, so that a
    /// position inside the string (a template or threshold error) can be pointed at.
    pub fn text_span(&self, path: &[Segment]) -> Option<Span> {
        let span = self.locate(path).value;
        let first = self.first_char(span)?;
        let quoted = matches!(first, '"' | '\'');
        let rest = self.lines.rest_of_line(span.line, span.col)?;
        let len = if quoted {
            rest[1..]
                .find(first)
                .map(|end| rest[1..1 + end].chars().count())?
        } else {
            span.len
        };
        Some(if quoted {
            Span::new(span.offset + 1, span.line, span.col + 1, len)
        } else {
            Span::new(span.offset, span.line, span.col, len)
        })
    }
}

/// How many mappings and sequences may be open at once, the plan's own mapping included;
/// an alias counts as deep as the node it names.
pub const MAX_DEPTH: usize = 128;

fn syntax_error(error: ScanError) -> Diagnostic {
    // saphyr's scanner has its own limit on flow nesting, met first when it reads ahead.
    if error.info() == "recursion limit exceeded" {
        return too_deep(*error.marker());
    }
    let marker = error.marker();
    let span = Span::new(marker.index(), marker.line(), marker.col() + 1, 1);
    Diagnostic::error(Some(span), format!("invalid YAML: {}", error.info()))
}

/// Parses `source` into its documents in one pass over the text: each event is counted
/// ([`Depth`]) before saphyr's tree builder gets it, and parsing stops at the first error
/// (syntax, duplicate key, nesting), so nothing is read past it.
fn parse(source: &str) -> Result<Vec<MarkedYaml<'_>>, Diagnostic> {
    let mut depth = Depth::default();
    let mut loader: YamlLoader<'_, MarkedYaml<'_>> = YamlLoader::default();
    for event in Parser::new_from_str(source) {
        let (event, span) = event.map_err(syntax_error)?;
        depth.check(&event, span)?;
        loader.on_event(event, span);
        if let Some(error) = loader.error() {
            return Err(syntax_error(error.clone()));
        }
    }
    Ok(loader.into_documents())
}

/// Counts nesting on the event stream and fails at the first node nested deeper than
/// [`MAX_DEPTH`]. Aliases are counted with the height of their anchor, so `&b [*a]` chains
/// cannot build a deep value either.
#[derive(Default)]
struct Depth {
    /// The open mappings and sequences: each one's anchor and the height of its tallest
    /// child so far.
    open: Vec<(usize, usize)>,
    /// Height of each anchored node (a scalar is 0, `[x]` is 1).
    anchors: HashMap<usize, usize>,
}

impl Depth {
    fn check(&mut self, event: &Event<'_>, span: saphyr_parser::Span) -> Result<(), Diagnostic> {
        let (anchor, height) = match *event {
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                self.open.push((anchor, 0));
                if self.open.len() > MAX_DEPTH {
                    return Err(too_deep(span.start));
                }
                return Ok(());
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some((anchor, height)) = self.open.pop() else {
                    return Ok(());
                };
                (anchor, height + 1)
            }
            Event::Scalar(_, _, anchor, _) => (anchor, 0),
            Event::Alias(id) => {
                let height = self.anchors.get(&id).copied().unwrap_or(0);
                if self.open.len() + height > MAX_DEPTH {
                    return Err(too_deep(span.start));
                }
                (0, height)
            }
            _ => return Ok(()),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, height);
        }
        if let Some((_, parent)) = self.open.last_mut() {
            *parent = (*parent).max(height);
        }
        Ok(())
    }
}

/// The depth check alone, for tests.
#[cfg(test)]
fn check_depth(source: &str) -> Result<(), Diagnostic> {
    let mut depth = Depth::default();
    for event in Parser::new_from_str(source) {
        let (event, span) = event.map_err(syntax_error)?;
        depth.check(&event, span)?;
    }
    Ok(())
}

fn too_deep(at: saphyr::Marker) -> Diagnostic {
    Diagnostic::error(
        Some(Span::new(at.index(), at.line(), at.col() + 1, 1)),
        format!("the plan is nested deeper than {MAX_DEPTH} levels"),
    )
}

/// A mapping's entry or a sequence's item, following merge keys.
fn child<'t, 'a>(
    node: &'t MarkedYaml<'a>,
    segment: &Segment,
) -> Option<(Option<&'t MarkedYaml<'a>>, &'t MarkedYaml<'a>)> {
    match (&node.data, segment) {
        (YamlData::Mapping(map), Segment::Key(wanted)) => {
            if let Some((key, value)) = entry(map, wanted) {
                return Some((Some(key), value));
            }
            let merged = map.get(&string_key("<<"))?;
            match &merged.data {
                YamlData::Sequence(items) => items.iter().find_map(|item| child(item, segment)),
                _ => child(merged, segment),
            }
        }
        (YamlData::Sequence(items), Segment::Index(index)) => {
            items.get(*index).map(|item| (None, item))
        }
        (YamlData::Tagged(_, inner), _) => child(inner, segment),
        _ => None,
    }
}

/// The entry whose key reads as `wanted`, found by hash: a string key, or a plain key
/// that YAML reads as another type (`200:`, `true:`).
fn entry<'t, 'a>(
    map: &'t AnnotatedMapping<'a, MarkedYaml<'a>>,
    wanted: &str,
) -> Option<(&'t MarkedYaml<'a>, &'t MarkedYaml<'a>)> {
    map.get_key_value(&string_key(wanted)).or_else(|| {
        let typed = MarkedYaml::scalar_from_string(wanted.to_owned());
        (!matches!(typed.data, YamlData::Value(Scalar::String(_))))
            .then(|| map.get_key_value(&typed))
            .flatten()
    })
}

/// A string key to look up (its span is not part of its hash or equality).
fn string_key<'a>(text: &str) -> MarkedYaml<'a> {
    MarkedYaml {
        span: saphyr_parser::Span::default(),
        data: YamlData::Value(Scalar::String(Cow::Owned(text.to_owned()))),
    }
}

fn key_text(key: &MarkedYaml<'_>) -> Option<String> {
    match &key.data {
        YamlData::Value(scalar) => Some(scalar_text(scalar)),
        YamlData::Tagged(_, inner) => key_text(inner),
        _ => None,
    }
}

fn scalar_text(scalar: &Scalar<'_>) -> String {
    match scalar {
        Scalar::Null => "null".to_owned(),
        Scalar::Boolean(value) => value.to_string(),
        Scalar::Integer(value) => value.to_string(),
        Scalar::FloatingPoint(value) => value.to_string(),
        Scalar::String(value) => value.to_string(),
    }
}

/// A node's span in our terms: 1-based column, and a length that stays on its first line.
fn node_span(lines: &Lines<'_>, node: &MarkedYaml<'_>) -> Span {
    let start = node.span.start;
    let end = node.span.end;
    let len = if end.line() == start.line() {
        end.index().saturating_sub(start.index())
    } else {
        // A block node: underline the rest of its first line.
        lines.chars_from(start.line(), start.col() + 1)
    };
    Span::new(start.index(), start.line(), start.col() + 1, len.max(1))
}

fn to_json(lines: &Lines<'_>, node: &MarkedYaml<'_>) -> Result<Value, Diagnostic> {
    let invalid = |message: &str| Diagnostic::error(Some(node_span(lines, node)), message);
    Ok(match &node.data {
        YamlData::Value(scalar) => match scalar {
            Scalar::Null => Value::Null,
            Scalar::Boolean(value) => Value::Bool(*value),
            Scalar::Integer(value) => Value::from(*value),
            Scalar::FloatingPoint(value) => serde_json::Number::from_f64(value.into_inner())
                .map(Value::Number)
                .ok_or_else(|| {
                    invalid("numbers must be finite (`.inf` and `.nan` are not allowed)")
                })?,
            Scalar::String(value) => Value::String(value.to_string()),
        },
        YamlData::Sequence(items) => Value::Array(
            items
                .iter()
                .map(|item| to_json(lines, item))
                .collect::<Result<_, _>>()?,
        ),
        YamlData::Mapping(map) => {
            let mut object = Map::new();
            let mut merged = Vec::new();
            for (key, value) in map {
                let Some(text) = key_text(key) else {
                    return Err(Diagnostic::error(
                        Some(node_span(lines, key)),
                        "mapping keys must be plain values, not lists or mappings",
                    ));
                };
                if text == "<<" && matches!(key.data, YamlData::Value(Scalar::String(_))) {
                    merged.push(value);
                    continue;
                }
                object.insert(text, to_json(lines, value)?);
            }
            // Merge keys: explicit keys win, then earlier merged mappings over later ones.
            for value in merged {
                let sources: Vec<&MarkedYaml<'_>> = match &value.data {
                    YamlData::Sequence(items) => items.iter().collect(),
                    _ => vec![value],
                };
                for merged_source in sources {
                    let Value::Object(entries) = to_json(lines, merged_source)? else {
                        return Err(Diagnostic::error(
                            Some(node_span(lines, merged_source)),
                            "a merge key `<<` takes a mapping or a list of mappings",
                        ));
                    };
                    for (key, value) in entries {
                        object.entry(key).or_insert(value);
                    }
                }
            }
            Value::Object(object)
        }
        YamlData::Tagged(_, inner) => to_json(lines, inner)?,
        YamlData::Representation(text, _, _) => Value::String(text.to_string()),
        YamlData::Alias(_) | YamlData::BadValue => {
            return Err(invalid(
                "invalid value (an unknown alias or a value that does not fit its tag)",
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(segments: &[&str]) -> Path {
        segments
            .iter()
            .map(|s| {
                s.parse::<usize>()
                    .map_or_else(|_| Segment::from(*s), Segment::Index)
            })
            .collect()
    }

    #[test]
    fn locates_keys_and_values() {
        let source = "name: x\nstages:\n  smoke: {vus: 10, duration: 30s}\nlist:\n  - a\n  - b\n";
        let document = Document::load(source).unwrap();
        let duration = document.locate(&path(&["stages", "smoke", "duration"]));
        assert_eq!(
            (duration.value.line, duration.value.col, duration.value.len),
            (3, 30, 3)
        );
        let key = duration.key.unwrap();
        assert_eq!((key.line, key.col), (3, 20));
        let item = document.locate(&path(&["list", "1"]));
        assert_eq!((item.value.line, item.value.col), (6, 5));
        assert!(!document.locate(&path(&["stages", "nope"])).exact);
    }

    #[test]
    fn expands_merge_keys_and_locates_through_them() {
        let source = "base: &b {vus: 1, duration: 5s}\nstage:\n  <<: *b\n  vus: 3\n";
        let document = Document::load(source).unwrap();
        assert_eq!(
            document.value["stage"],
            serde_json::json!({"vus": 3, "duration": "5s"})
        );
        let located = document.locate(&path(&["stage", "duration"]));
        assert!(located.exact);
        assert_eq!(located.value.line, 1);
    }

    #[test]
    fn rejects_duplicate_keys_with_position() {
        let error = Document::load("name: a\nname: b\n").err().unwrap();
        assert!(
            error.message.contains("duplicated key"),
            "{}",
            error.message
        );
        assert_eq!(error.span.unwrap().line, 2);
    }

    #[test]
    fn nesting_stops_at_the_limit_in_every_style() {
        let nested = |depth: usize| {
            [
                format!("v:\n  {}x\n", "- ".repeat(depth)),
                format!("v:\n  {}x\n", "? ".repeat(depth)),
                format!("v: {}{}\n", "[".repeat(depth), "]".repeat(depth)),
                format!("v: {}1{}\n", "{a: ".repeat(depth), "}".repeat(depth)),
            ]
        };
        // The plan's own mapping is the first level.
        for source in nested(MAX_DEPTH - 1) {
            assert!(check_depth(&source).is_ok(), "{source}");
        }
        for source in nested(MAX_DEPTH) {
            let error = check_depth(&source).expect_err(&source);
            assert!(error.message.contains("deeper than 128"), "{source}");
            assert_eq!(error.span.unwrap().line, source.lines().count());
        }
    }

    #[test]
    fn an_alias_is_as_deep_as_its_anchor() {
        let chain = |count: usize| {
            let mut source = "a0: &a0 [1]\n".to_owned();
            for i in 1..count {
                source.push_str(&format!("a{i}: &a{i} [*a{}]\n", i - 1));
            }
            source
        };
        // `a{i}` is i + 1 levels under the root mapping.
        assert!(check_depth(&chain(MAX_DEPTH - 1)).is_ok());
        let error = check_depth(&chain(MAX_DEPTH)).unwrap_err();
        assert_eq!(error.span.unwrap().line, MAX_DEPTH);
    }

    #[test]
    fn text_span_skips_quotes() {
        let source = "t: \"p95 < 2s\"\n";
        let document = Document::load(source).unwrap();
        let span = document.text_span(&path(&["t"])).unwrap();
        assert_eq!((span.col, span.len), (5, 8));
    }
}
