//! Templates: strings of the plan with `{{ expressions }}`, compiled once when the plan loads.
//!
//! Every template of a plan is added to one minijinja [`Environment`] under the JSON pointer
//! of where it was written (`/scenarios/user/steps/0/connect`), in strict undefined mode, so
//! that rendering at run time is a lookup and an evaluation, never a parse. What a template
//! may name is checked by the analyzer from [`TemplateSet::add`]'s list of free names.
//!
//! Available everywhere: `uuid()`, `now_ms()`, `random_string(n)`, `random_int(a, b)`,
//! `vu`, `iteration`, `scenario`, `stage`, `env.*`, `vars.*`, `secrets.*`; in steps, the
//! names captured with `as:` and set with `set:` before them; in output paths, `run.*`.
//! Values have Python's methods too (minijinja-contrib's pycompat): `name.upper()`,
//! `csv.split(",")`, `url.endswith("/")`, `headers.items()`.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// The functions every template can call.
pub const FUNCTIONS: [&str; 4] = ["uuid", "now_ms", "random_string", "random_int"];

/// The filters added to minijinja's built-in ones.
pub const FILTERS: [&str; 1] = ["date"];

/// A string of the plan that may hold `{{ expressions }}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Template(pub String);

impl Template {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the string has any template syntax; plain strings are used as they are.
    pub fn is_dynamic(text: &str) -> bool {
        text.contains("{{") || text.contains("{%") || text.contains("{#")
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl JsonSchema for Template {
    fn schema_name() -> Cow<'static, str> {
        "Template".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "Text that may hold minijinja expressions: `{{ env.base_url }}`, `{{ vars.n }}`, `{{ uuid() }}`, `{{ ping.id }}`",
        })
    }
}

/// A template that did not compile: minijinja's message and the byte range in the template
/// text, when it knows one.
#[derive(Debug, Clone)]
pub struct TemplateError {
    pub message: String,
    pub range: Option<std::ops::Range<usize>>,
}

/// All compiled templates of one plan.
#[derive(Clone)]
pub struct TemplateSet {
    env: Environment<'static>,
    /// Each source text, compiled once: equal texts render alike, so at run time a
    /// template is found by its text, without building its path.
    by_source: foldhash::HashMap<String, Compiled>,
    /// Each `if:` expression, with the template text it was compiled as
    /// ([`condition_source`]).
    conditions: foldhash::HashMap<String, String>,
}

/// An `if:` expression is compiled as the template `{% if (EXPR) %}1{% endif %}` in the
/// plan's one environment, rather than with minijinja's expression API: a compiled
/// `Expression` borrows the `Environment`, so it cannot be kept beside it in this set
/// without parsing it again on every evaluation; as a template it is compiled once, found
/// by its text, rendered like any other (frozen when it reads only run-wide values), and
/// its names are checked by the same analysis as templates'.
const CONDITION_PREFIX: &str = "{% if (";
const CONDITION_SUFFIX: &str = ") %}1{% endif %}";

/// The template text an `if:` expression is compiled as.
pub fn condition_source(expression: &str) -> String {
    format!("{CONDITION_PREFIX}{expression}{CONDITION_SUFFIX}")
}

/// One compiled template text.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The name it was compiled under in the environment.
    id: String,
    /// The free names it reads, with attribute paths.
    names: BTreeSet<String>,
    /// Its run-wide rendering, when it reads only run-wide values
    /// ([`TemplateSet::freeze_constants`]).
    pub constant: Option<String>,
    /// What it is when it is a single expression a VU can evaluate without minijinja's VM.
    pub shortcut: Option<Shortcut>,
}

/// A template that is one simple expression, the commonest kinds in plans: rendering it
/// through minijinja's VM costs more than the WebSocket round trip it is part of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shortcut {
    /// `{{ uuid() }}`.
    Uuid,
    /// `{{ a.b.c }}`: a variable and attributes. Taken only when the value found is a
    /// string (rendered as itself); anything else renders through minijinja.
    Path(Vec<String>),
}

impl Shortcut {
    fn of(source: &str) -> Option<Self> {
        let inner = source.strip_prefix("{{")?.strip_suffix("}}")?.trim();
        if inner.contains(['{', '}']) {
            return None;
        }
        if inner == "uuid()" {
            return Some(Self::Uuid);
        }
        let segments: Vec<String> = inner.split('.').map(str::to_owned).collect();
        let identifier = |text: &String| {
            let mut chars = text.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !matches!(
                    text.as_str(),
                    "true" | "false" | "none" | "True" | "False" | "None"
                )
        };
        segments
            .iter()
            .all(identifier)
            .then_some(Self::Path(segments))
    }
}

/// A JSON value as minijinja's, built directly (minijinja's serde path costs twice as
/// much). Used for every value a template reads: captures, `set:` values, data rows.
pub fn json_value(value: &serde_json::Value) -> minijinja::Value {
    use minijinja::Value as Mj;
    use serde_json::Value;
    match value {
        Value::Null => Mj::from(()),
        Value::Bool(flag) => Mj::from(*flag),
        Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(n), _) => Mj::from(n),
            (None, Some(n)) => Mj::from(n),
            (None, None) => Mj::from(number.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(text) => Mj::from(text.as_str()),
        Value::Array(items) => items.iter().map(json_value).collect(),
        Value::Object(fields) => Mj::from_pairs(
            fields
                .iter()
                .map(|(key, value)| (key.as_str(), json_value(value))),
        ),
    }
}

/// A version 4 UUID, from a fast non-cryptographic generator (ids in load tests need to
/// be unique, not secret; the system's generator costs a system call per id).
pub fn uuid_v4() -> String {
    let id = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid();
    let mut buffer = uuid::Uuid::encode_buffer();
    id.hyphenated().encode_lower(&mut buffer).to_owned()
}

impl Default for TemplateSet {
    fn default() -> Self {
        Self::new()
    }
}

impl TemplateSet {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.add_function("uuid", uuid_v4);
        env.add_function("now_ms", now_ms);
        env.add_function("random_string", random_string);
        env.add_function("random_int", random_int);
        env.add_filter("date", date);
        // Python's string, list and dict methods (`.upper()`, `.split(",")`,
        // `.endswith("x")`, `.items()`), as QA engineers know them from Jinja in Python.
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        Self {
            env,
            by_source: foldhash::HashMap::default(),
            conditions: foldhash::HashMap::default(),
        }
    }

    /// Compiles the `if:` expression `expression` under `id` (see [`condition_source`]),
    /// returning the free names it uses; an error's range is in the expression's text.
    pub fn add_condition(
        &mut self,
        id: &str,
        expression: &str,
    ) -> Result<BTreeSet<String>, TemplateError> {
        let source = condition_source(expression);
        let names = self.add(id, &source).map_err(|mut error| {
            // Past the expression's end, minijinja names what it met of the wrapping
            // (`)`, `%}`): the expression ended too soon. Its `expected `)`` is the
            // wrapping's too.
            let end = CONDITION_PREFIX.len() + expression.len();
            if error.range.as_ref().is_some_and(|range| range.start >= end) {
                error.message =
                    "template syntax error: unexpected end of the expression".to_owned();
            } else if let Some(kept) = error.message.strip_suffix(", expected `)`") {
                error.message = kept.to_owned();
            }
            error.range = error.range.map(|range| {
                let start = range
                    .start
                    .saturating_sub(CONDITION_PREFIX.len())
                    .min(expression.len());
                let end = range
                    .end
                    .saturating_sub(CONDITION_PREFIX.len())
                    .clamp(start, expression.len());
                start..end
            });
            error
        })?;
        self.conditions.insert(expression.to_owned(), source);
        Ok(names)
    }

    /// The compiled template of the `if:` expression `expression`.
    pub fn condition(&self, expression: &str) -> Option<&Compiled> {
        self.by_source.get(self.conditions.get(expression)?)
    }

    /// Renders once every template that reads nothing but `run_wide` names (first path
    /// segments such as `env`, `vars`) and calls no function, so a run does not render
    /// `{{ env.base_url }}/api` per request. Templates that fail here stay dynamic and
    /// report their error when a VU renders them.
    pub fn freeze_constants(&mut self, context: &minijinja::Value, run_wide: &[&str]) {
        for compiled in self.by_source.values_mut() {
            let constant = compiled.names.iter().all(|name| {
                let root = name.split('.').next().unwrap_or(name);
                run_wide.contains(&root)
            });
            compiled.constant = if constant {
                self.env
                    .get_template(&compiled.id)
                    .and_then(|t| t.render(context.clone()))
                    .ok()
            } else {
                None
            };
        }
    }

    /// The run-wide rendering of `source`, when [`TemplateSet::freeze_constants`] made one.
    pub fn constant(&self, source: &str) -> Option<&str> {
        self.by_source.get(source)?.constant.as_deref()
    }

    /// The compiled template whose text is `source`.
    pub fn get(&self, source: &str) -> Option<&Compiled> {
        self.by_source.get(source)
    }

    /// Compiles `source` under `id`, returning the free names it uses, with attribute paths
    /// (`env.base_url`, `ping.id`, `uuid`).
    pub fn add(&mut self, id: &str, source: &str) -> Result<BTreeSet<String>, TemplateError> {
        // Plans repeat templates (`{{ uuid() }}`); each text is compiled once.
        if let Some(compiled) = self.by_source.get(source) {
            return Ok(compiled.names.clone());
        }
        self.env
            .add_template_owned(id.to_owned(), source.to_owned())
            .map_err(|error| TemplateError {
                message: describe(&error),
                range: error.range(),
            })?;
        let template = self.env.get_template(id).map_err(|error| TemplateError {
            message: describe(&error),
            range: None,
        })?;
        let names: BTreeSet<String> = template.undeclared_variables(true).into_iter().collect();
        self.by_source.insert(
            source.to_owned(),
            Compiled {
                id: id.to_owned(),
                names: names.clone(),
                constant: None,
                shortcut: Shortcut::of(source),
            },
        );
        Ok(names)
    }

    /// Renders the compiled template whose source is `source`; `None` if no template of
    /// the plan has that text.
    pub fn render_source(
        &self,
        source: &str,
        context: &minijinja::Value,
    ) -> Option<Result<String, Error>> {
        let compiled = self.by_source.get(source)?;
        Some(self.render_compiled(compiled, context))
    }

    /// Renders a template found with [`TemplateSet::get`].
    pub fn render_compiled(
        &self,
        compiled: &Compiled,
        context: &minijinja::Value,
    ) -> Result<String, Error> {
        self.env
            .get_template(&compiled.id)
            .and_then(|t| t.render(context.clone()))
    }

    /// Renders the template compiled under `id` with `context`.
    pub fn render<S: Serialize>(&self, id: &str, context: S) -> Result<String, Error> {
        self.env
            .get_template(id)?
            .render(minijinja::Value::from(minijinja::value::Serde(context)))
    }
}

fn describe(error: &Error) -> String {
    let detail = error.detail().map(str::to_owned);
    match (error.kind(), detail) {
        (ErrorKind::SyntaxError, Some(detail)) => format!("template syntax error: {detail}"),
        (_, Some(detail)) => format!("template error: {detail}"),
        (kind, None) => format!("template error: {kind}"),
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// `n` random ASCII letters and digits (at most 16 MiB).
fn random_string(n: u32) -> Result<String, Error> {
    if n > 16 << 20 {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "random_string(n) takes n up to 16777216",
        ));
    }
    Ok((0..n).map(|_| fastrand::alphanumeric()).collect())
}

/// A random integer from `a` to `b`, both included.
fn random_int(a: i64, b: i64) -> Result<i64, Error> {
    if a > b {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("random_int({a}, {b}): the first bound is above the second"),
        ));
    }
    Ok(fastrand::i64(a..=b))
}

/// `"2026-11-25T05:38:10Z" | date` is `2026-11-25`; `| date("compact")` is `20261125T053810Z`.
/// Run timestamps are always RFC 3339 in UTC, so this is text surgery, not a calendar.
pub(crate) fn date(value: String, style: Option<String>) -> Result<String, Error> {
    let well_formed =
        value.len() >= 20 && value.is_char_boundary(19) && value.as_bytes()[10] == b'T';
    if !well_formed {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("date expects an RFC 3339 UTC timestamp, got `{value}`"),
        ));
    }
    Ok(match style.as_deref() {
        None | Some("day") => value[..10].to_owned(),
        Some("compact") => format!("{}Z", value[..19].replace(['-', ':'], "")),
        Some(other) => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("date takes `day` or `compact`, got `{other}`"),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_once_and_reports_free_names() {
        let mut set = TemplateSet::new();
        let names = set
            .add(
                "/url",
                "{{ env.base_url }}/x?id={{ ping.id }}&r={{ random_string(4) }}",
            )
            .unwrap();
        let names: Vec<_> = names.into_iter().collect();
        assert_eq!(names, ["env.base_url", "ping.id", "random_string"]);
        let context = serde_json::json!({
            "env": {"base_url": "http://h"}, "ping": {"id": 7}
        });
        let text = set.render("/url", &context).unwrap();
        assert!(text.starts_with("http://h/x?id=7&r="), "{text}");
        assert_eq!(text.len(), "http://h/x?id=7&r=".len() + 4);
    }

    #[test]
    fn strict_undefined_fails_rendering() {
        let mut set = TemplateSet::new();
        set.add("/t", "{{ vars.missing }}").unwrap();
        let context = serde_json::json!({"vars": {}});
        assert!(set.render("/t", &context).is_err());
    }

    #[test]
    fn syntax_errors_have_a_range() {
        let mut set = TemplateSet::new();
        let error = set.add("/t", "hello {{ name ").unwrap_err();
        assert!(
            error.message.starts_with("template syntax error"),
            "{}",
            error.message
        );
        assert!(error.range.is_some());
    }

    /// Python's methods work, and the analyzer sees the variable, not the method, as the
    /// free name's root.
    #[test]
    fn python_methods() {
        let mut set = TemplateSet::new();
        let source = r#"{{ vars.names.split(",")[1].upper() }}-{{ vars.names.endswith("c") }}-{{ vars.names.replace(",", "+") }}"#;
        let names: Vec<String> = set.add("/t", source).unwrap().into_iter().collect();
        assert!(
            names.iter().all(|name| name.starts_with("vars.names")),
            "{names:?}"
        );
        let context = serde_json::json!({"vars": {"names": "a,b,c"}});
        assert_eq!(set.render("/t", &context).unwrap(), "B-True-a+b+c");
        set.add("/u", "{{ vars.names.nosuchmethod() }}").unwrap();
        let error = set.render("/u", &context).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::UnknownMethod, "{error}");
    }

    #[test]
    fn conditions_render_one_or_nothing() {
        let mut set = TemplateSet::new();
        let names = set.add_condition("/if", "r.status == 201").unwrap();
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["r.status"]);
        let compiled = set.condition("r.status == 201").unwrap();
        let yes = minijinja::Value::from(minijinja::value::Serde(
            serde_json::json!({"r": {"status": 201}}),
        ));
        let no = minijinja::Value::from(minijinja::value::Serde(
            serde_json::json!({"r": {"status": 200}}),
        ));
        assert_eq!(set.render_compiled(compiled, &yes).unwrap(), "1");
        assert_eq!(set.render_compiled(compiled, &no).unwrap(), "");
        // Ranges are in the expression's text, not the template's.
        let error = set.add_condition("/bad", "r.status = 201").unwrap_err();
        let range = error.range.unwrap();
        assert!(range.end <= "r.status = 201".len(), "{range:?}");
    }

    #[test]
    fn date_filter() {
        assert_eq!(
            date("2026-11-25T05:38:10Z".into(), None).unwrap(),
            "2026-11-25"
        );
        assert_eq!(
            date("2026-11-25T05:38:10Z".into(), Some("compact".into())).unwrap(),
            "20261125T053810Z"
        );
        assert!(date("yesterday".into(), None).is_err());
    }
}

#[cfg(test)]
mod constant_tests {
    use super::*;

    #[test]
    fn only_run_wide_templates_are_frozen() {
        let mut set = TemplateSet::new();
        for (id, source) in [
            ("a", "{{ env.base_url }}/x"),
            ("b", "{{ uuid() }}"),
            ("c", "{{ env.base_url }}/{{ vu }}"),
            ("d", "{{ now_ms() }}"),
            ("e", "{{ vars.n | string }}-{{ random_int(1, 9) }}"),
        ] {
            set.add(id, source).unwrap();
        }
        let context = minijinja::context! { env => minijinja::context! { base_url => "http://h" }, vars => minijinja::context! { n => 3 } };
        set.freeze_constants(&context, &["env", "vars", "secrets", "stage"]);
        assert_eq!(set.constant("{{ env.base_url }}/x"), Some("http://h/x"));
        for dynamic in [
            "{{ uuid() }}",
            "{{ env.base_url }}/{{ vu }}",
            "{{ now_ms() }}",
            "{{ vars.n | string }}-{{ random_int(1, 9) }}",
        ] {
            assert_eq!(set.constant(dynamic), None, "{dynamic}");
        }
    }
}
