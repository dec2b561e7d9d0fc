//! Why a template did not render, in the plan's words: `msg[4]`: index 4 out of range for
//! an array of 3. minijinja says only "undefined value"; here the template's paths
//! (`name`, `.field`, `[index]`, `['key']`) are walked through the VU's values, in order,
//! to the first step that finds nothing. Only ever run on the error path.

use minijinja::Value as Mj;
use minijinja::value::ValueKind;

/// Field names listed in a reason, at most.
const FIELDS_SHOWN: usize = 8;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Field(String),
    Index(i64),
}

/// Why `source` fails with these values (`lookup` finds a top-level name), or `None` when
/// every path in it resolves (the error is elsewhere: an operation, a filter).
pub fn explain(source: &str, lookup: &dyn Fn(&str) -> Option<Mj>) -> Option<String> {
    let (paths, bound) = paths(source);
    for (name, segments) in paths {
        if bound.contains(&name) || crate::plan::template::FUNCTIONS.contains(&name.as_str()) {
            continue;
        }
        if let Some(reason) = walk(&name, &segments, lookup) {
            return Some(reason);
        }
    }
    None
}

/// The first failing step of one path.
fn walk(name: &str, segments: &[Segment], lookup: &dyn Fn(&str) -> Option<Mj>) -> Option<String> {
    let Some(mut value) = lookup(name).filter(|v| !v.is_undefined()) else {
        return Some(format!("`{name}` is undefined"));
    };
    let mut shown = name.to_owned();
    for segment in segments {
        let next = match segment {
            Segment::Field(field) => value.get_attr(field).ok(),
            Segment::Index(index) => value.get_item(&Mj::from(*index)).ok(),
        };
        if let Some(next) = next.filter(|v| !v.is_undefined()) {
            shown.push_str(&written(segment));
            value = next;
            continue;
        }
        let whole = format!("{shown}{}", written(segment));
        return Some(match (segment, value.kind()) {
            (Segment::Index(index), ValueKind::Seq) => format!(
                "`{whole}`: index {index} out of range for an array of {}",
                value.len().unwrap_or(0)
            ),
            (Segment::Field(field), ValueKind::Seq) => format!(
                "`{whole}`: `{shown}` is an array of {}, it has no field `{field}`",
                value.len().unwrap_or(0)
            ),
            (segment, ValueKind::Map) => {
                let what = match segment {
                    Segment::Field(field) => format!("no field `{field}`"),
                    Segment::Index(index) => format!("no item {index}"),
                };
                format!("`{whole}`: {what} ({})", fields(&value))
            }
            (Segment::Index(index), ValueKind::String) => format!(
                "`{whole}`: index {index} out of range for a string of {} characters",
                value.len().unwrap_or(0)
            ),
            (_, kind) => format!(
                "`{whole}`: `{shown}` is {}, not an object or array",
                a(kind)
            ),
        });
    }
    None
}

/// A segment as written in a template.
fn written(segment: &Segment) -> String {
    match segment {
        Segment::Field(field) if is_identifier(field) => format!(".{field}"),
        Segment::Field(field) => format!("['{field}']"),
        Segment::Index(index) => format!("[{index}]"),
    }
}

/// `fields: a, b, c` (the first few), or `no fields`.
fn fields(value: &Mj) -> String {
    let Ok(keys) = value.try_iter() else {
        return "no fields".to_owned();
    };
    let keys: Vec<String> = keys.map(|key| key.to_string()).collect();
    if keys.is_empty() {
        return "no fields".to_owned();
    }
    let mut text = format!(
        "fields: {}",
        keys.iter()
            .take(FIELDS_SHOWN)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    );
    if keys.len() > FIELDS_SHOWN {
        text.push_str(&format!(", … {} in all", keys.len()));
    }
    text
}

fn a(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::None => "none",
        ValueKind::Undefined => "undefined",
        ValueKind::Bool => "a boolean",
        ValueKind::Number => "a number",
        ValueKind::String => "a string",
        ValueKind::Bytes => "bytes",
        _ => "a value",
    }
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

const KEYWORDS: [&str; 16] = [
    "and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "True", "False", "None",
    "loop", "for", "set",
];

/// The paths in the expressions of a template, in order, and the names the template binds
/// itself (`for x in`, `set x =`).
fn paths(source: &str) -> (Vec<(String, Vec<Segment>)>, Vec<String>) {
    let mut paths = Vec::new();
    let mut bound = Vec::new();
    let mut rest = source;
    loop {
        let start = match (rest.find("{{"), rest.find("{%")) {
            (Some(a), Some(b)) => a.min(b),
            (Some(at), None) | (None, Some(at)) => at,
            (None, None) => break,
        };
        let open = &rest[start..start + 2];
        let close = if open == "{{" { "}}" } else { "%}" };
        let body_start = start + 2;
        let Some(length) = rest[body_start..].find(close) else {
            break;
        };
        let body = &rest[body_start..body_start + length];
        if open == "{%" {
            let words: Vec<&str> = body.split_whitespace().collect();
            if let [first, name, ..] = words[..]
                && (first == "for" || first == "set")
            {
                bound.extend(
                    name.split(',')
                        .map(|n| n.trim().trim_start_matches('-').to_owned()),
                );
            }
        }
        // A block's first word is its tag (`for`, `endfor`, `if`…), not a name.
        let expression = if open == "{%" {
            let trimmed = body.trim_start_matches(['-', '+']).trim_start();
            trimmed
                .find(char::is_whitespace)
                .map_or("", |at| &trimmed[at..])
        } else {
            body
        };
        scan(expression, &mut paths);
        rest = &rest[body_start + length + 2..];
    }
    (paths, bound)
}

/// Adds the paths of one expression.
fn scan(body: &str, paths: &mut Vec<(String, Vec<Segment>)>) {
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    let mut previous = ' ';
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            previous = c;
            continue;
        }
        if !(c.is_ascii_alphabetic() || c == '_') {
            if !c.is_whitespace() {
                previous = c;
            }
            i += 1;
            continue;
        }
        let name = identifier(&chars, &mut i);
        // A filter, an attribute of something not a name, or a keyword: not a path.
        let skip = previous == '|' || previous == '.' || KEYWORDS.contains(&name.as_str());
        previous = 'a';
        if chars.get(i) == Some(&'(') || skip {
            continue;
        }
        let mut segments = Vec::new();
        loop {
            match chars.get(i) {
                Some('.')
                    if chars
                        .get(i + 1)
                        .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_') =>
                {
                    let mut j = i + 1;
                    let field = identifier(&chars, &mut j);
                    if chars.get(j) == Some(&'(') {
                        // A method call: the path ends before it.
                        i = j;
                        break;
                    }
                    segments.push(Segment::Field(field));
                    i = j;
                }
                Some('[') => match subscript(&chars, i + 1) {
                    Some((segment, end)) => {
                        segments.push(segment);
                        i = end;
                    }
                    None => break,
                },
                _ => break,
            }
        }
        paths.push((name, segments));
    }
}

fn identifier(chars: &[char], i: &mut usize) -> String {
    let start = *i;
    while *i < chars.len() && (chars[*i].is_ascii_alphanumeric() || chars[*i] == '_') {
        *i += 1;
    }
    chars[start..*i].iter().collect()
}

/// `[4]`, `[-1]` or `['key']` from just after the `[`: the segment and the index after `]`.
fn subscript(chars: &[char], mut i: usize) -> Option<(Segment, usize)> {
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    let segment = match chars.get(i)? {
        quote @ ('"' | '\'') => {
            let start = i + 1;
            let end = start + chars[start..].iter().position(|c| c == quote)?;
            i = end + 1;
            Segment::Field(chars[start..end].iter().collect())
        }
        _ => {
            let start = i;
            if chars.get(i) == Some(&'-') {
                i += 1;
            }
            while chars.get(i).is_some_and(char::is_ascii_digit) {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            Segment::Index(text.parse().ok()?)
        }
    };
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    (chars.get(i)? == &']').then_some((segment, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reason(source: &str, values: &serde_json::Value) -> Option<String> {
        let context = Mj::from(minijinja::value::Serde(values.clone()));
        explain(source, &|name| context.get_attr(name).ok())
    }

    #[test]
    fn paths_are_read_from_expressions() {
        let (found, bound) = paths(
            "{{ msg[4].client_ref }}-{{ a.b['c d'][-1] | upper }} {{ f(x.y) }} {{ s.upper() }} \
             {{ 'q.z' ~ w }}{% for i in items %}{{ i.n }}{% endfor %}",
        );
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["msg", "a", "x", "s", "w", "i", "items", "i"]);
        assert_eq!(
            found[0].1,
            [Segment::Index(4), Segment::Field("client_ref".into())]
        );
        assert_eq!(
            found[1].1,
            [
                Segment::Field("b".into()),
                Segment::Field("c d".into()),
                Segment::Index(-1)
            ]
        );
        assert_eq!(found[3].1, []);
        assert_eq!(bound, ["i"]);
    }

    #[test]
    fn reasons_name_the_step_that_fails() {
        let values = json!({
            "msg": [null, "1", "room:a", "phx_reply", {"status": "ok"}],
            "short": [1, 2, 3],
            "ping": {"id": "x", "type": "pong"},
            "word": "abc",
            "n": 7,
            "nothing": null,
        });
        for (source, expected) in [
            (
                "{{ short[4] }}",
                "`short[4]`: index 4 out of range for an array of 3",
            ),
            (
                "{{ msg[4].client_ref }}",
                "`msg[4].client_ref`: no field `client_ref` (fields: status)",
            ),
            (
                "{{ msg[5].x }}",
                "`msg[5]`: index 5 out of range for an array of 5",
            ),
            (
                "{{ ping.idd }}",
                "`ping.idd`: no field `idd` (fields: id, type)",
            ),
            (
                "{{ word.y }}",
                "`word.y`: `word` is a string, not an object or array",
            ),
            (
                "{{ n.y }}",
                "`n.y`: `n` is a number, not an object or array",
            ),
            (
                "{{ nothing.y }}",
                "`nothing.y`: `nothing` is none, not an object or array",
            ),
            ("x {{ ping.id }} {{ gone }}", "`gone` is undefined"),
            (
                "{{ short.first }}",
                "`short.first`: `short` is an array of 3, it has no field `first`",
            ),
        ] {
            assert_eq!(
                reason(source, &values).as_deref(),
                Some(expected),
                "{source}"
            );
        }
        // Everything resolves: the error is elsewhere.
        assert_eq!(reason("{{ ping.id + n }}", &values), None);
        assert_eq!(
            reason("{% for x in short %}{{ x.y }}{% endfor %}", &values),
            None
        );
    }

    #[test]
    fn long_field_lists_are_cut() {
        let mut fields = serde_json::Map::new();
        for i in 0..20 {
            fields.insert(format!("f{i:02}"), json!(i));
        }
        let values = json!({ "big": fields });
        let text = reason("{{ big.nope }}", &values).expect("a reason");
        assert!(text.ends_with(", … 20 in all)"), "{text}");
    }
}
