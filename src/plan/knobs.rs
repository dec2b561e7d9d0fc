//! Plan-time templates: every value of a plan that is not a run-time [`Template`] — VU
//! counts, durations, rates, sizes, weights, limits, threshold checks, paths of collected
//! processes — may be written as a template of `vars`, `env` and `stage`, rendered once
//! when the plan loads.
//!
//! ```text
//! JSON value ──walk beside the schema──▶ each `{{ }}` string at a plan-time position
//!     ──render {vars, env, stage}──▶ a number where the position takes one, else a string
//! ```
//!
//! The walk follows the generated schema (`$ref`s resolved, the branches of `anyOf` and
//! `oneOf` taken together, `properties`, `additionalProperties`, `items`). A string is left
//! alone where any schema it may meet is the run-time `Template` type (URLs, headers,
//! bodies: rendered per request, with `vu`, captures, `uuid()`…), accepts any value (a
//! `json:` body, `x-` keys) or is marked `x-verbatim` (a command line, which may hold
//! docker's `{{.CPUPerc}}`; descriptions); where it could be nothing the schema knows (an unknown key),
//! it is left for the schema to report. Everywhere else it is rendered here and the value
//! replaced, so the schema, serde and the analyzer check it exactly like a literal.
//!
//! The document's spans stay those of the text: an error about a substituted value is
//! moved to the whole template and names where its values came from ([`Substitutions`]).
//! The walk visits each node once with a set of schemas bounded by the schema's size, so
//! it is linear in the plan.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::analyze::Selection;
use super::template::Template;
use super::vars::{self, Vars};
use super::yaml::{Document, Path, Segment};
use crate::diag::{Diagnostic, Span, did_you_mean};

/// What plan-time templates can read.
pub struct Context<'v> {
    pub vars: &'v Vars,
    /// The environment the plan runs in.
    pub env: Option<PlanEnv>,
    /// The stage the plan runs, and whether `--stage` chose it.
    pub stage: Option<(String, bool)>,
}

/// The environment as plan-time templates see it.
pub struct PlanEnv {
    pub name: String,
    /// `env.*`: its name, URLs and `values`, as `exec::env_context` builds them for runs.
    pub values: Map<String, Value>,
    /// `env.*` names it has only at run time (a mock's URLs).
    pub later: Vec<String>,
}

impl PlanEnv {
    /// Environment `name` of the plan's JSON value: its URLs (unless a mock chooses them
    /// at run time) and `values`.
    pub fn of(root: &Value, name: &str) -> Self {
        let mut values = Map::new();
        values.insert("name".into(), name.into());
        let mut later = Vec::new();
        if let Some(environment) = root
            .get("environments")
            .and_then(|all| all.get(name))
            .and_then(Value::as_object)
        {
            if let Some(Value::Object(own)) = environment.get("values") {
                for (key, value) in own {
                    values.insert(key.clone(), value.clone());
                }
            }
            let mocked = environment
                .get("mock")
                .is_some_and(|mock| !matches!(mock, Value::Bool(false) | Value::Null));
            for key in ["base_url", "ws_url"] {
                if mocked {
                    values.remove(key);
                    later.push(key.to_owned());
                } else if let Some(value) = environment.get(key) {
                    values.insert(key.into(), value.clone());
                }
            }
        }
        Self {
            name: name.to_owned(),
            values,
            later,
        }
    }
}

impl Context<'_> {
    fn value(&self) -> Value {
        let mut context = Map::new();
        context.insert(
            "vars".into(),
            Value::Object(
                self.vars
                    .values
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
        );
        if let Some(env) = &self.env {
            context.insert("env".into(), Value::Object(env.values.clone()));
        }
        if let Some((stage, _)) = &self.stage {
            context.insert("stage".into(), stage.as_str().into());
        }
        Value::Object(context)
    }
}

/// The values replaced by plan-time templates, by span: an error at one of them is moved
/// to the template and names where its values came from.
#[derive(Debug, Default)]
pub struct Substitutions {
    /// `(span of the template, where its values came from)`, in document order.
    spans: Vec<(Span, String)>,
    /// Templates that could not be rendered.
    failed: Vec<Span>,
}

impl Substitutions {
    /// Moves each diagnostic inside a substituted value to the template's span and adds
    /// ` (from --var x)` to its message.
    pub fn annotate(&self, diagnostics: &mut [Diagnostic]) {
        if self.spans.is_empty() {
            return;
        }
        for diagnostic in diagnostics {
            let Some(span) = diagnostic.span else {
                continue;
            };
            let at = self
                .spans
                .partition_point(|(template, _)| template.offset <= span.offset);
            let Some((template, origin)) = at.checked_sub(1).and_then(|i| self.spans.get(i)) else {
                continue;
            };
            if span.offset < template.offset + template.len {
                diagnostic.span = Some(*template);
                if !origin.is_empty() {
                    diagnostic.message = format!("{} (from {origin})", diagnostic.message);
                }
            }
        }
    }

    /// `diagnostics` without those inside a template that could not be rendered (it is
    /// reported once, as itself), and whether any was left out.
    pub fn without_failed(&self, diagnostics: Vec<Diagnostic>) -> (Vec<Diagnostic>, bool) {
        if self.failed.is_empty() {
            return (diagnostics, false);
        }
        let count = diagnostics.len();
        let kept: Vec<Diagnostic> = diagnostics
            .into_iter()
            .filter(|diagnostic| {
                diagnostic.span.is_none_or(|span| {
                    !self.failed.iter().any(|failed| {
                        failed.offset <= span.offset && span.offset < failed.offset + failed.len
                    })
                })
            })
            .collect();
        let dropped = kept.len() < count;
        (kept, dropped)
    }
}

/// What a schema node says about a string at its position.
#[derive(Clone, Copy)]
enum Candidate<'s> {
    /// The run-time `Template` type: rendered per use, left alone.
    Runtime,
    /// Any value (`true`, `{}`): not ours to read.
    Any,
    /// A schema object.
    Schema(&'s Value),
}

/// Resolves the plan's variables for `selection` and renders every plan-time template of
/// `document` with them: the variables, the substitutions made, and every problem found.
pub fn render(
    document: &mut Document<'_>,
    selection: &Selection,
) -> (Vars, Substitutions, Vec<Diagnostic>) {
    let env = vars::environment_name(&document.value, selection);
    let (vars, mut diagnostics) = vars::resolve(document, env.as_deref(), selection);
    let stage = match &selection.stage {
        Some(stage) => Some((stage.clone(), true)),
        None => document
            .value
            .get("stages")
            .and_then(Value::as_object)
            .and_then(|stages| stages.keys().next())
            .map(|stage| (stage.clone(), false)),
    };
    let context = Context {
        vars: &vars,
        env: env
            .as_deref()
            .map(|name| PlanEnv::of(&document.value, name)),
        stage,
    };
    let (substitutions, found) = substitute(document, super::schema::value(), &context);
    diagnostics.extend(found);
    (vars, substitutions, diagnostics)
}

/// Renders every plan-time template of `document` in place; the substitutions made and
/// the errors of templates that could not be rendered.
pub fn substitute(
    document: &mut Document<'_>,
    schema: &Value,
    context: &Context<'_>,
) -> (Substitutions, Vec<Diagnostic>) {
    let mut walker = Walker {
        schema,
        context,
        context_value: None,
        templates: plan_time_environment(),
        found: Vec::new(),
        sets: Vec::new(),
        interned: foldhash::HashMap::default(),
    };
    let mut value = std::mem::take(&mut document.value);
    let mut path = Vec::new();
    let root = walker.flatten(schema, 0);
    let root = walker.intern(root);
    walker.walk(&mut value, &mut path, root);
    document.value = value;
    let mut substitutions = Substitutions::default();
    let mut diagnostics = Vec::new();
    for found in walker.found {
        let span = document.value_span(&found.path);
        match found.outcome {
            Ok(origin) => substitutions.spans.push((span, origin)),
            Err((message, help)) => {
                substitutions.failed.push(span);
                diagnostics.push(Diagnostic::error(Some(span), message).with_help(help));
            }
        }
    }
    substitutions.spans.sort_by_key(|(span, _)| span.offset);
    (substitutions, diagnostics)
}

/// A plan-time template met on the walk: where it is, and where its values came from or
/// why it could not be rendered.
struct Found {
    path: Path,
    outcome: Result<String, (String, Option<String>)>,
}

struct Walker<'s, 'c> {
    schema: &'s Value,
    context: &'c Context<'c>,
    /// The context as minijinja reads it, made at the first template.
    context_value: Option<minijinja::Value>,
    /// Renders plan-time templates, with a bounded number of steps each.
    templates: minijinja::Environment<'static>,
    found: Vec<Found>,
    /// Each distinct set of schemas met, with what it says about a value, so that a plan
    /// of 100,000 alike scenarios looks each schema up once, not once per scenario.
    sets: Vec<Set<'s>>,
    /// A set's id by its schemas' addresses.
    interned: foldhash::HashMap<Vec<usize>, usize>,
}

/// A set of schemas a value may meet, and what it admits.
struct Set<'s> {
    candidates: Vec<Candidate<'s>>,
    /// Nothing under it is rendered: no schema, or one that is a run-time template or any
    /// value.
    stop: bool,
    takes_number: bool,
    takes_boolean: bool,
    /// The sets of its entries by key, and of its items, as they are met.
    entries: foldhash::HashMap<String, usize>,
    items: Option<usize>,
}

/// How many `$ref`s and `anyOf`s one schema node may lead through before it is a schema
/// object (the plan's schema needs 3); a bound, not a limit a plan can meet.
const MAX_INDIRECTION: usize = 16;

impl<'s> Walker<'s, '_> {
    /// The schema objects `node` stands for: `$ref`s followed, `anyOf`/`oneOf`/`allOf`
    /// branches taken together.
    fn flatten(&self, node: &'s Value, depth: usize) -> Vec<Candidate<'s>> {
        let mut out = Vec::new();
        self.flatten_into(node, depth, &mut out);
        out
    }

    fn flatten_into(&self, node: &'s Value, depth: usize, out: &mut Vec<Candidate<'s>>) {
        if depth > MAX_INDIRECTION {
            return;
        }
        let object = match node {
            Value::Bool(true) => return out.push(Candidate::Any),
            Value::Object(object) => object,
            _ => return,
        };
        // Text used as written: a shell command, a description.
        if object.get("x-verbatim") == Some(&Value::Bool(true)) {
            return out.push(Candidate::Any);
        }
        if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
            if reference == "#/$defs/Template" {
                return out.push(Candidate::Runtime);
            }
            if let Some(target) = reference
                .strip_prefix('#')
                .and_then(|pointer| self.schema.pointer(pointer))
            {
                self.flatten_into(target, depth + 1, out);
            }
            return;
        }
        let mut combined = false;
        for keyword in ["anyOf", "oneOf", "allOf"] {
            if let Some(Value::Array(branches)) = object.get(keyword) {
                combined = true;
                for branch in branches {
                    self.flatten_into(branch, depth + 1, out);
                }
            }
        }
        let constrained = [
            "type",
            "properties",
            "enum",
            "const",
            "pattern",
            "items",
            "additionalProperties",
        ]
        .iter()
        .any(|key| object.contains_key(*key));
        if constrained {
            out.push(Candidate::Schema(node));
        } else if !combined {
            out.push(Candidate::Any);
        }
    }

    /// The schemas of a mapping's entry `key` under `candidates`.
    fn entry(&self, candidates: &[Candidate<'s>], key: &str) -> Vec<Candidate<'s>> {
        let mut out = Vec::new();
        for candidate in candidates {
            let Candidate::Schema(schema) = candidate else {
                continue;
            };
            if let Some(property) = schema.get("properties").and_then(|p| p.get(key)) {
                self.flatten_into(property, 0, &mut out);
                continue;
            }
            // The plan's only pattern is `^x-`; a key it matches holds anchors.
            if let Some(Value::Object(patterns)) = schema.get("patternProperties")
                && patterns
                    .keys()
                    .any(|pattern| pattern == "^x-" && key.starts_with("x-"))
            {
                out.push(Candidate::Any);
                continue;
            }
            if let Some(additional) = schema.get("additionalProperties") {
                self.flatten_into(additional, 0, &mut out);
            }
        }
        out
    }

    /// The schemas of a list's items under `candidates`.
    fn items(&self, candidates: &[Candidate<'s>]) -> Vec<Candidate<'s>> {
        let mut out = Vec::new();
        for candidate in candidates {
            if let Candidate::Schema(schema) = candidate
                && let Some(items) = schema.get("items")
            {
                self.flatten_into(items, 0, &mut out);
            }
        }
        out
    }

    /// The id of the set of `candidates`, made the first time it is met.
    fn intern(&mut self, candidates: Vec<Candidate<'s>>) -> usize {
        let key: Vec<usize> = candidates
            .iter()
            .map(|candidate| match candidate {
                Candidate::Runtime => 1,
                Candidate::Any => 2,
                Candidate::Schema(schema) => std::ptr::from_ref::<Value>(schema) as usize,
            })
            .collect();
        if let Some(&id) = self.interned.get(&key) {
            return id;
        }
        let admits = |wanted: &[&str]| {
            candidates.iter().any(|c| match c {
                Candidate::Schema(schema) => accepts(schema, wanted),
                _ => false,
            })
        };
        let set = Set {
            stop: candidates.is_empty()
                || candidates
                    .iter()
                    .any(|c| matches!(c, Candidate::Runtime | Candidate::Any)),
            takes_number: admits(&["integer", "number"]),
            takes_boolean: admits(&["boolean"]),
            candidates,
            entries: foldhash::HashMap::default(),
            items: None,
        };
        let id = self.sets.len();
        self.sets.push(set);
        self.interned.insert(key, id);
        id
    }

    /// The set of the entry `key` of a mapping in set `set`.
    fn entry_set(&mut self, set: usize, key: &str) -> usize {
        if let Some(&id) = self.sets[set].entries.get(key) {
            return id;
        }
        let inner = self.entry(&self.sets[set].candidates, key);
        let id = self.intern(inner);
        self.sets[set].entries.insert(key.to_owned(), id);
        id
    }

    /// The set of the items of a list in set `set`.
    fn items_set(&mut self, set: usize) -> usize {
        if let Some(id) = self.sets[set].items {
            return id;
        }
        let inner = self.items(&self.sets[set].candidates);
        let id = self.intern(inner);
        self.sets[set].items = Some(id);
        id
    }

    fn walk(&mut self, value: &mut Value, path: &mut Path, set: usize) {
        if self.sets[set].stop {
            return;
        }
        match value {
            Value::String(text) if Template::is_dynamic(text) => {
                let (takes_number, takes_boolean) =
                    (self.sets[set].takes_number, self.sets[set].takes_boolean);
                if let Some(rendered) = self.render(text, path) {
                    *value = match rendered.trim() {
                        number if takes_number => {
                            parse_number(number).unwrap_or_else(|| Value::String(rendered.clone()))
                        }
                        boolean @ ("true" | "false") if takes_boolean => {
                            Value::Bool(boolean == "true")
                        }
                        _ => Value::String(rendered),
                    };
                }
            }
            Value::Object(entries) => {
                for (key, child) in entries.iter_mut() {
                    let inner = self.entry_set(set, key);
                    if self.sets[inner].stop {
                        continue;
                    }
                    path.push(Segment::Key(key.clone()));
                    self.walk(child, path, inner);
                    path.pop();
                }
            }
            Value::Array(items) => {
                let inner = self.items_set(set);
                if self.sets[inner].stop {
                    return;
                }
                for (index, item) in items.iter_mut().enumerate() {
                    path.push(Segment::Index(index));
                    self.walk(item, path, inner);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    /// Renders the template `text` at `path`; `None` (and an error recorded) when it
    /// names what the plan does not have when it loads, or does not render.
    fn render(&mut self, text: &str, path: &Path) -> Option<String> {
        let mut fail = |message: String, help: Option<String>| {
            self.found.push(Found {
                path: path.clone(),
                outcome: Err((message, help)),
            });
            None
        };
        let template = match self.templates.template_from_str(text) {
            Ok(template) => template,
            Err(error) => return fail(describe(&error), None),
        };
        let names: BTreeSet<String> = template.undeclared_variables(true).into_iter().collect();
        let mut origins = BTreeSet::new();
        for name in &names {
            let mut segments = name.split('.');
            let root = segments.next().unwrap_or_default();
            let field = segments.next();
            match (root, field) {
                ("vars", Some(var)) => match self.context.vars.origins.get(var) {
                    Some(origin) => {
                        origins.insert(origin.describe(var));
                    }
                    None => {
                        let help =
                            did_you_mean(var, self.context.vars.values.keys().map(String::as_str));
                        return fail(
                            format!("`vars.{var}` is not declared in the plan's `vars`"),
                            help,
                        );
                    }
                },
                ("env", Some(key)) => match &self.context.env {
                    Some(PlanEnv {
                        name: env, values, ..
                    }) if values.contains_key(key) => {
                        if key != "name" {
                            origins.insert(format!("environments.{env}"));
                        }
                    }
                    Some(PlanEnv {
                        name: env, later, ..
                    }) if later.iter().any(|k| k == key) => {
                        return fail(
                            format!(
                                "`env.{key}` is not known when the plan loads: environment `{env}` starts the mock, whose address is chosen when the run starts"
                            ),
                            Some("this field is read once, before the run".to_owned()),
                        );
                    }
                    Some(PlanEnv {
                        name: env, values, ..
                    }) => {
                        let help = did_you_mean(key, values.keys().map(String::as_str));
                        return fail(
                            format!("`env.{key}` is not set in environment `{env}`"),
                            help,
                        );
                    }
                    None => {
                        return fail(
                            format!("`env.{key}` is used, but the plan has no `environments`"),
                            None,
                        );
                    }
                },
                ("stage", None) => {
                    if let Some((stage, true)) = &self.context.stage {
                        origins.insert(format!("--stage {stage}"));
                    }
                }
                ("vars" | "env", None) => {}
                _ => {
                    return fail(
                        format!("`{root}` is not known when the plan loads: this field is read once, before the run"),
                        Some("a field that is not a run-time template may use `vars`, `env` and `stage` (`{{ vars.vus }}`)".to_owned()),
                    );
                }
            }
        }
        let context = self
            .context_value
            .get_or_insert_with(|| {
                minijinja::Value::from(minijinja::value::Serde(self.context.value()))
            })
            .clone();
        match template.render(&context) {
            Ok(rendered) => {
                self.found.push(Found {
                    path: path.clone(),
                    outcome: Ok(origins.into_iter().collect::<Vec<_>>().join(", ")),
                });
                Some(rendered)
            }
            Err(error) => fail(describe(&error), None),
        }
    }
}

/// How many steps of minijinja's machine one plan-time template may take: plenty for an
/// expression or a short loop, and a bound on what a hostile plan can make `validate` do.
pub const FUEL: u64 = 50_000;

/// The environment plan-time templates are rendered in: undefined names are errors, nothing
/// is escaped, and each render is bounded by [`FUEL`].
fn plan_time_environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_fuel(Some(FUEL));
    env
}

fn describe(error: &minijinja::Error) -> String {
    use minijinja::ErrorKind;
    let detail = error.detail().map(str::to_owned);
    match (error.kind(), detail) {
        (ErrorKind::OutOfFuel, _) => format!(
            "template error: it takes more than {FUEL} steps, too many for a value read when the plan loads"
        ),
        (ErrorKind::SyntaxError, Some(detail)) => format!("template syntax error: {detail}"),
        (_, Some(detail)) => format!("template error: {detail}"),
        (kind, None) => format!("template error: {kind}"),
    }
}

/// Whether a schema object admits one of the JSON types `wanted`.
fn accepts(schema: &Value, wanted: &[&str]) -> bool {
    let admitted = |t: &Value| t.as_str().is_some_and(|t| wanted.contains(&t));
    match schema.get("type") {
        Some(Value::Array(types)) => types.iter().any(admitted),
        Some(single) => admitted(single),
        None => false,
    }
}

/// A rendered text as a JSON number, when it reads as one.
fn parse_number(text: &str) -> Option<Value> {
    if let Ok(integer) = text.parse::<i64>() {
        return Some(integer.into());
    }
    if let Ok(integer) = text.parse::<u64>() {
        return Some(integer.into());
    }
    let float = text.parse::<f64>().ok().filter(|f| f.is_finite())?;
    serde_json::Number::from_f64(float).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use crate::plan::{Selection, load};

    const PLAN: &str = "name: k\nvars: { n: 3, t: 50ms, big: 2.5, l: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40] }\nstages:\n  s: { vus: \"{{ vars.n }}\", duration: \"{{ vars.t }}\" }\nscenarios:\n  a:\n    weight: \"{{ vars.big }}\"\n    steps:\n      - request: { url: \"http://127.0.0.1:1/{{ vu }}\", json: { at: \"{{ vars.t }} {{ vu }}\" } }\n      - sleep: \"{{ vars.t }}\"\nthresholds:\n  http_reqs: [ \"count > {{ vars.n }}\" ]\n";

    #[test]
    fn knobs_become_typed_values_and_run_time_templates_stay() {
        let (checked, diagnostics) = load(PLAN, &Selection::default());
        let checked = checked.unwrap_or_else(|| panic!("{diagnostics:#?}"));
        let plan = &checked.plan;
        assert_eq!(crate::plan::split::peak_vus(&plan.stages["s"]), 3);
        assert_eq!(plan.scenarios["a"].weight, Some(2.5));
        let request = serde_json::to_value(&plan.scenarios["a"].steps[0]).expect("serialises");
        assert_eq!(request["request"]["url"], "http://127.0.0.1:1/{{ vu }}");
        assert_eq!(request["request"]["json"]["at"], "{{ vars.t }} {{ vu }}");
        assert_eq!(checked.thresholds[0].source, "count > 3");
    }

    #[test]
    fn errors_point_at_the_template_and_name_the_origin() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, (usize, usize));
        let cases: [Case; 4] = [
            (
                &[("t", "soon")],
                "invalid duration `soon`: expected a number with a unit (ms, s, m, h), like `500ms`, `30s` or `1h30m` (from --var t)",
                (4, 39),
            ),
            (&[("n", "0")], "(from --var n)", (4, 13)),
            (&[("big", "heavy")], "(from --var big)", (7, 13)),
            (&[("n", "x")], "(from --var n)", (4, 13)),
        ];
        for (vars, message, (line, col)) in cases {
            let selection = Selection {
                vars: vars
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                ..Selection::default()
            };
            let (checked, diagnostics) = load(PLAN, &selection);
            assert!(checked.is_none(), "{vars:?}");
            let found = diagnostics
                .iter()
                .find(|d| d.message.contains(message))
                .unwrap_or_else(|| panic!("{vars:?}: {diagnostics:#?}"));
            let span = found.span.expect("located");
            assert_eq!((span.line, span.col), (line, col), "{vars:?}: {found:?}");
        }
    }

    #[test]
    fn commands_and_descriptions_are_used_as_written() {
        let source = PLAN.replace(
            "scenarios:\n  a:\n",
            "collect:\n  - command: { name: d, run: \"docker stats --format '{{.CPUPerc}}' app\", parse: prometheus }\nscenarios:\n  a:\n    description: \"sends {{ uuid() }} ids\"\n",
        );
        let (checked, diagnostics) = load(&source, &Selection::default());
        let checked = checked.unwrap_or_else(|| panic!("{diagnostics:#?}"));
        assert_eq!(
            checked.plan.scenarios["a"].description.as_deref(),
            Some("sends {{ uuid() }} ids")
        );
        let collect = serde_json::to_value(&checked.plan.collect[0]).expect("serialises");
        assert_eq!(
            collect["command"]["run"],
            "docker stats --format '{{.CPUPerc}}' app"
        );
    }

    #[test]
    fn run_time_names_and_unknown_variables_are_errors() {
        for (text, message) in [
            ("{{ vu }}", "`vu` is not known when the plan loads"),
            ("{{ uuid() }}", "`uuid` is not known when the plan loads"),
            ("{{ vars.nn }}", "`vars.nn` is not declared"),
            (
                "{{ env.x }}",
                "`env.x` is used, but the plan has no `environments`",
            ),
            ("{{ vars.n", "template syntax error"),
            (
                "{% for i in range(9) %}1{% endfor %}",
                "`range` is not known",
            ),
            (
                "{% for a in vars.l %}{% for b in vars.l %}{% for c in vars.l %}{% endfor %}{% endfor %}{% endfor %}1",
                "takes more than 50000 steps",
            ),
        ] {
            let source = PLAN.replace(
                "\"{{ vars.n }}\", duration",
                &format!("\"{text}\", duration"),
            );
            let (checked, diagnostics) = load(&source, &Selection::default());
            assert!(checked.is_none(), "{text}");
            assert_eq!(diagnostics.len(), 1, "{text}: {diagnostics:#?}");
            assert!(
                diagnostics[0].message.contains(message),
                "{text}: {diagnostics:#?}"
            );
            assert_eq!(diagnostics[0].span.map(|s| (s.line, s.col)), Some((4, 13)));
        }
    }
}
