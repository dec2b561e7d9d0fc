//! Checks of a step's guards, `chance:` and `if:`, made before the step itself is checked
//! (an `if:` is evaluated before its step runs, so it reads only what earlier steps
//! captured).
//!
//! An `if:` is compiled like a template ([`TemplateSet::add_condition`]) and its names are
//! checked like a template's; besides, what can be known before the run is: an expression
//! that reads no value (always true or false), a `{{ }}` written inside it, a `=` meant as
//! `==`, a field a request's capture does not have, and a comparison of a value whose type is
//! known (a request's `status`, `vu`, a variable) with a literal of another type.
//!
//! [`TemplateSet::add_condition`]: crate::plan::template::TemplateSet::add_condition

use std::collections::BTreeSet;

use serde_json::Value;

use super::scope::{Scope, pointer};
use super::thresholds::Metrics;
use super::{Analyzer, path};
use crate::diag::did_you_mean;
use crate::plan::model::Step;
use crate::plan::step::Condition;
use crate::plan::yaml::{Path, Segment};

/// The fields of what a `request` step captures with `as:`.
pub const REQUEST_CAPTURE_FIELDS: [&str; 4] = ["status", "headers", "body", "json"];

/// The type of a value, as far as the analyzer can know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Number,
    String,
    Boolean,
    None,
}

impl Type {
    fn name(self) -> &'static str {
        match self {
            Self::Number => "a number",
            Self::String => "a string",
            Self::Boolean => "a boolean",
            Self::None => "none",
        }
    }

    fn of_json(value: &Value) -> Option<Self> {
        match value {
            Value::Number(_) => Some(Self::Number),
            Value::String(_) => Some(Self::String),
            Value::Bool(_) => Some(Self::Boolean),
            Value::Null => Some(Self::None),
            _ => None,
        }
    }

    /// A literal of the expression language: `201`, `"ok"`, `'ok'`, `true`, `none`.
    fn of_literal(text: &str) -> Option<Self> {
        let quoted = (text.starts_with('"') && text.ends_with('"'))
            || (text.starts_with('\'') && text.ends_with('\''));
        if quoted && text.len() >= 2 {
            return Some(Self::String);
        }
        match text {
            "true" | "false" | "True" | "False" => Some(Self::Boolean),
            "none" | "None" => Some(Self::None),
            _ if text.parse::<f64>().is_ok() => Some(Self::Number),
            _ => None,
        }
    }
}

impl Analyzer<'_, '_> {
    /// Checks the `chance:` and `if:` of the step at `at`, and declares the `name` tag they
    /// record under, for thresholds like `step_chance{name:reconnect}`.
    pub(super) fn guards(&mut self, at: &Path, step: &Step, scope: &Scope, metrics: &mut Metrics) {
        let chance = step.chance();
        let when = step.when();
        if chance.is_none() && when.is_none() {
            return;
        }
        let position: Vec<usize> = at
            .iter()
            .filter_map(|segment| match segment {
                Segment::Index(index) => Some(*index),
                Segment::Key(_) => None,
            })
            .collect();
        metrics.name_tag(step.guard_name(&position));
        if let Some(chance) = chance {
            let key = [at.clone(), path!["chance"]].concat();
            if chance.0 <= 0.0 {
                self.warning(
                    &key,
                    "`chance: 0%` never runs this step",
                    Some("remove the step, or give it a share above 0%".to_owned()),
                );
            } else if chance.0 >= 1.0 {
                self.warning(
                    &key,
                    "`chance: 100%` always runs this step",
                    Some("leave `chance:` out".to_owned()),
                );
            }
        }
        if let Some(condition) = when {
            let value = [at.clone(), path!["if"]].concat();
            self.condition(&value, condition, step.capture(), scope);
        }
    }

    /// Checks an `if:` expression at `at`; `own` is the name its step captures, which the
    /// expression cannot read yet.
    fn condition(&mut self, at: &Path, condition: &Condition, own: Option<&str>, scope: &Scope) {
        let text = condition.as_str();
        if text.contains("{{") || text.contains("}}") || text.contains("{%") {
            let inner = text
                .replace("{{", "")
                .replace("}}", "")
                .replace("{%", "")
                .replace("%}", "");
            self.error(
                at,
                "`if:` is an expression, not a template: it takes no `{{ }}`",
                Some(format!(
                    "write `if: {}`, without `{{{{ }}}}`",
                    inner.split_whitespace().collect::<Vec<_>>().join(" ")
                )),
            );
            return;
        }
        if text.trim().is_empty() {
            self.error(
                at,
                "`if:` is empty",
                Some("write a condition, like `if: login.status == 200`".to_owned()),
            );
            return;
        }
        let names = match self.templates.add_condition(&pointer(at), text) {
            Ok(names) => names,
            Err(error) => {
                let (offset, len) = error.range.clone().map_or((0, 0), |range| {
                    (
                        text[..range.start.min(text.len())].chars().count(),
                        range.len(),
                    )
                });
                let message =
                    error
                        .message
                        .replacen("template syntax error", "syntax error in `if:`", 1);
                let help = single_equals(text)
                    .map(|fixed| format!("compare with `==`: write `if: {fixed}`"));
                let span = self.inner_span(at, offset, len);
                self.error_at(span, message, help);
                return;
            }
        };
        if names.is_empty() {
            self.constant_condition(at, text);
            return;
        }
        let mut checked = BTreeSet::new();
        for name in names {
            let head = name.split('.').next().unwrap_or_default();
            if Some(head) == own && !scope.locals.contains(head) {
                let offset = text.find(head).unwrap_or(0);
                let span =
                    self.inner_span(at, text[..offset].chars().count(), head.chars().count());
                self.error_at(
                    span,
                    format!(
                        "`{head}` is captured by this step itself: its `if:` is evaluated before the step runs"
                    ),
                    Some("test a value captured by an earlier step".to_owned()),
                );
                continue;
            }
            checked.insert(name);
        }
        let known: Vec<String> = checked
            .iter()
            .filter(|name| {
                let head = name.split('.').next().unwrap_or_default();
                scope.locals.contains(head) && scope.captured_by.get(head) == Some(&"request")
            })
            .cloned()
            .collect();
        self.template_names(at, text, checked, scope);
        for name in known {
            self.request_field(at, text, &name);
        }
        self.compared_types(at, text, scope);
    }

    /// An expression that reads no value: always true or always false.
    fn constant_condition(&mut self, at: &Path, text: &str) {
        let source = crate::plan::template::condition_source(text);
        let empty = minijinja::Value::from(());
        let outcome = self.templates.render_source(&source, &empty);
        let (message, help) = match outcome {
            Some(Ok(rendered)) => (
                format!(
                    "`if: {text}` reads no value, so it is always {}",
                    if rendered == "1" { "true" } else { "false" }
                ),
                "compare a value captured before the step, a variable or `iteration`, like `if: login.status == 200`".to_owned(),
            ),
            Some(Err(error)) => (
                format!(
                    "`if: {text}` cannot be evaluated: {}",
                    error.detail().unwrap_or("invalid expression")
                ),
                "write a condition, like `if: login.status == 200`".to_owned(),
            ),
            None => return,
        };
        self.error(at, message, Some(help));
    }

    /// `name` reads a field of a request's capture (`login.stauts`): it must be one the
    /// capture has.
    fn request_field(&mut self, at: &Path, text: &str, name: &str) {
        let mut parts = name.split('.');
        let (Some(head), Some(field)) = (parts.next(), parts.next()) else {
            return;
        };
        if REQUEST_CAPTURE_FIELDS.contains(&field) {
            return;
        }
        let offset = text.find(name).unwrap_or(0);
        let span = self.inner_span(at, text[..offset].chars().count(), name.chars().count());
        self.error_at(
            span,
            format!("`{head}` is a request's capture, which has no field `{field}`"),
            did_you_mean(field, REQUEST_CAPTURE_FIELDS).or_else(|| {
                Some("a request's capture has `status`, `headers`, `body` and `json`".to_owned())
            }),
        );
    }

    /// Comparisons of a value of known type with a literal of another type
    /// (`login.status == "200"`): never equal, or an error on every evaluation.
    fn compared_types(&mut self, at: &Path, text: &str, scope: &Scope) {
        for comparison in comparisons(text) {
            let Some(found) = self.type_of(&comparison.name, scope) else {
                continue;
            };
            let Some(literal) = Type::of_literal(comparison.literal) else {
                continue;
            };
            // `none` compares with anything; a number with a boolean is minijinja's business.
            if found == literal || literal == Type::None || found == Type::None {
                continue;
            }
            let (offset, len) = comparison.range;
            let span = self.inner_span(
                at,
                text[..offset].chars().count(),
                text[offset..offset + len].chars().count(),
            );
            let unquoted = comparison.literal.trim_matches(['"', '\'']);
            let help = match (found, literal) {
                (Type::Number, Type::String) if unquoted.parse::<f64>().is_ok() => Some(format!(
                    "write `{} {} {unquoted}`",
                    comparison.name, comparison.operator
                )),
                (Type::String, Type::Number | Type::Boolean) => Some(format!(
                    "write `{} {} \"{}\"`",
                    comparison.name, comparison.operator, comparison.literal
                )),
                _ => None,
            };
            let outcome = match comparison.operator {
                "==" => "it is never true",
                "!=" => "it is always true",
                _ => "the comparison fails on every evaluation",
            };
            self.error_at(
                span,
                format!(
                    "`{}` is {} and `{}` {}: {outcome}",
                    comparison.name,
                    found.name(),
                    comparison.literal,
                    literal.name()
                ),
                help,
            );
        }
    }

    /// The type of a dotted name, when the analyzer knows it.
    fn type_of(&self, name: &str, scope: &Scope) -> Option<Type> {
        let parts: Vec<&str> = name.split('.').collect();
        match parts.as_slice() {
            ["vu" | "iteration"] => Some(Type::Number),
            ["scenario" | "stage"] => Some(Type::String),
            ["vars", var] => scope.vars.get(*var).and_then(Type::of_json),
            [head, field] if scope.captured_by.get(*head) == Some(&"request") => match *field {
                "status" => Some(Type::Number),
                "body" => Some(Type::String),
                _ => None,
            },
            _ => None,
        }
    }
}

/// A `name OP literal` (or `literal OP name`) comparison in an expression.
struct Comparison<'t> {
    name: String,
    operator: &'static str,
    literal: &'t str,
    /// Byte offset and length of the whole comparison in the expression.
    range: (usize, usize),
}

/// The comparisons of a dotted name with a literal in `text`, found by scanning its tokens
/// (enough for the conditions plans hold; anything else is left to run time).
fn comparisons(text: &str) -> Vec<Comparison<'_>> {
    let tokens = tokens(text);
    let mut out = Vec::new();
    for window in tokens.windows(3) {
        let [left, op, right] = window else { continue };
        let Some(operator) = ["==", "!=", "<=", ">=", "<", ">"]
            .into_iter()
            .find(|o| *o == op.1)
        else {
            continue;
        };
        let is_name = |t: &str| {
            t.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && Type::of_literal(t).is_none()
        };
        let (name, literal) = if is_name(left.1) && Type::of_literal(right.1).is_some() {
            (left.1, right.1)
        } else if is_name(right.1) && Type::of_literal(left.1).is_some() {
            (right.1, left.1)
        } else {
            continue;
        };
        let end = right.0 + right.1.len();
        out.push(Comparison {
            name: name.to_owned(),
            operator,
            literal,
            range: (left.0, end - left.0),
        });
    }
    out
}

/// The tokens of an expression with their byte offsets: dotted names, numbers, quoted
/// strings, operators; a name followed by `(` or `[` is a call or an index, and left out
/// (as a `?` token) so that it is never taken for a plain value.
fn tokens(text: &str) -> Vec<(usize, &str)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'"' || c == b'\'' {
            i += 1;
            while i < bytes.len() && bytes[i] != c {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(bytes.len());
            out.push((start, &text[start..i]));
            continue;
        }
        if c.is_ascii_alphanumeric()
            || c == b'_'
            || c == b'.'
            || (c == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            i += 1;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
            {
                i += 1;
            }
            let called = bytes.get(i).is_some_and(|b| *b == b'(' || *b == b'[');
            out.push((start, if called { "?" } else { &text[start..i] }));
            continue;
        }
        let two = text.get(i..i + 2);
        if let Some(op) = two.filter(|t| ["==", "!=", "<=", ">="].contains(t)) {
            out.push((start, op));
            i += 2;
            continue;
        }
        // One character (a UTF-8 sequence is skipped whole).
        let len = text[i..].chars().next().map_or(1, char::len_utf8);
        out.push((start, &text[i..i + len]));
        i += len;
    }
    out
}

/// `text` with a lone `=` (not part of `==`, `!=`, `<=`, `>=`) made `==`, if it has one.
fn single_equals(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let at = (0..bytes.len()).find(|&i| {
        bytes[i] == b'='
            && bytes.get(i + 1) != Some(&b'=')
            && (i == 0 || !matches!(bytes[i - 1], b'=' | b'!' | b'<' | b'>'))
    })?;
    Some(format!("{}=={}", &text[..at], &text[at + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_are_found_either_way_round() {
        let found = comparisons(r#"r.status == "201" and 3 < vu or f(x) == 1"#);
        let seen: Vec<(String, &str, &str)> = found
            .iter()
            .map(|c| (c.name.clone(), c.operator, c.literal))
            .collect();
        assert_eq!(
            seen,
            [
                ("r.status".to_owned(), "==", "\"201\""),
                ("vu".to_owned(), "<", "3"),
            ]
        );
    }

    /// `(line, col, message, help)` of each diagnostic of a plan whose one scenario has
    /// `steps` (YAML, indented by six).
    fn diagnostics(steps: &str) -> Vec<(usize, usize, String, Option<String>)> {
        let source = format!(
            "name: g\nenvironments: {{ local: {{ mock: true }} }}\nvars: {{ n: 3, on: true }}\nstages: {{ s: {{ vus: 1, duration: 1s }} }}\nscenarios:\n  s:\n    steps:\n{steps}"
        );
        let (_, found) = crate::plan::load(&source, &crate::plan::Selection::default());
        found
            .into_iter()
            .map(|d| {
                let span = d.span.unwrap_or_default();
                (span.line, span.col, d.message, d.help)
            })
            .collect()
    }

    const GET: &str = "      - request: { url: \"{{ env.base_url }}/x\" }\n";

    #[test]
    fn conditions_on_earlier_captures_vars_and_iteration_pass() {
        let steps = format!(
            "{GET}        as: r\n{GET}        if: r.status == 201 and vars.on and iteration > 1\n        chance: 30%\n      - group: g\n        if: r.json is none or \"ok\" in r.body\n        steps: [ {{ sleep: 1ms }} ]\n"
        );
        assert_eq!(diagnostics(&steps), []);
    }

    #[test]
    fn names_must_exist_before_the_step() {
        let steps = format!(
            "{GET}        if: later.status == 200\n{GET}        as: later\n{GET}        if: lator.status == 200\n{GET}        as: own\n        if: own.status == 200\n"
        );
        let found = diagnostics(&steps);
        assert_eq!(found.len(), 3, "{found:#?}");
        assert_eq!(
            found[0],
            (
                9,
                13,
                "`later` is used before it is captured: the `request` step that sets it comes later".to_owned(),
                None
            )
        );
        assert_eq!(found[1].2, "undefined variable `lator`");
        assert_eq!(found[1].3.as_deref(), Some("did you mean `later`?"));
        assert_eq!(
            (found[2].0, found[2].1, found[2].2.as_str()),
            (
                16,
                13,
                "`own` is captured by this step itself: its `if:` is evaluated before the step runs"
            )
        );
    }

    #[test]
    fn mistakes_the_analyzer_can_see() {
        let steps = format!(
            "{GET}        as: r\n{GET}        if: \"{{{{ r.status }}}} == 201\"\n{GET}        if: r.status = 201\n{GET}        if: \"'yes'\"\n{GET}        if: r.stauts == 200\n{GET}        if: r.status == \"201\"\n{GET}        if: vars.n != \"3\"\n"
        );
        let found = diagnostics(&steps);
        let brief: Vec<(usize, usize, &str, Option<&str>)> = found
            .iter()
            .map(|(line, col, message, help)| (*line, *col, message.as_str(), help.as_deref()))
            .collect();
        assert_eq!(
            brief,
            [
                (
                    11,
                    13,
                    "`if:` is an expression, not a template: it takes no `{{ }}`",
                    Some("write `if: r.status == 201`, without `{{ }}`")
                ),
                (
                    13,
                    22,
                    "syntax error in `if:`: unexpected `=`",
                    Some("compare with `==`: write `if: r.status == 201`")
                ),
                (
                    15,
                    13,
                    "`if: 'yes'` reads no value, so it is always true",
                    Some(
                        "compare a value captured before the step, a variable or `iteration`, like `if: login.status == 200`"
                    )
                ),
                (
                    17,
                    13,
                    "`r` is a request's capture, which has no field `stauts`",
                    Some("did you mean `status`?")
                ),
                (
                    19,
                    13,
                    "`r.status` is a number and `\"201\"` a string: it is never true",
                    Some("write `r.status == 201`")
                ),
                (
                    21,
                    13,
                    "`vars.n` is a number and `\"3\"` a string: it is always true",
                    Some("write `vars.n != 3`")
                ),
            ]
        );
    }

    #[test]
    fn chances_of_nothing_and_everything_are_warned_of() {
        let steps = format!(
            "{GET}        chance: 0%\n{GET}        chance: 100%\n{GET}        chance: 0.5%\n"
        );
        let found = diagnostics(&steps);
        let brief: Vec<(usize, &str)> = found.iter().map(|d| (d.0, d.2.as_str())).collect();
        assert_eq!(
            brief,
            [
                (9, "`chance: 0%` never runs this step"),
                (11, "`chance: 100%` always runs this step"),
            ]
        );
        let fraction = diagnostics(&format!("{GET}        chance: 0.1\n"));
        assert_eq!(fraction[0].2, "invalid percentage `0.1`: it needs a unit");
        assert_eq!(fraction[0].3.as_deref(), Some("write `10%`"));
        let whole = diagnostics(&format!("{GET}        chance: 25\n"));
        assert_eq!(whole[0].3.as_deref(), Some("write `25%`"));
    }

    #[test]
    fn guard_names_are_the_step_s_own_or_its_kind_and_position() {
        let step =
            |value: serde_json::Value| -> Step { serde_json::from_value(value).expect("a step") };
        let sleep = step(serde_json::json!({ "sleep": "1s", "chance": "10%" }));
        assert_eq!(sleep.guard_name(&[2]), "sleep@3");
        assert_eq!(sleep.guard_name(&[1, 0]), "sleep@2.1");
        assert_eq!(sleep.guard_name(&[]), "sleep");
        let group =
            step(serde_json::json!({ "group": "reconnector", "steps": [{ "sleep": "1s" }] }));
        assert_eq!(group.guard_name(&[0]), "reconnector");
        let named = step(serde_json::json!({ "request": { "url": "http://h/", "name": "login" } }));
        assert_eq!(named.guard_name(&[4]), "login");
    }

    #[test]
    fn a_lone_equals_becomes_a_comparison() {
        assert_eq!(
            single_equals("r.status = 201").as_deref(),
            Some("r.status == 201")
        );
        assert_eq!(single_equals("r.status == 201"), None);
        assert_eq!(single_equals("a != 1 and b >= 2"), None);
    }
}
