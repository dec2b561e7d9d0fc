//! The walk beside the schema that finds and renders plan-time templates (see the
//! module above): each distinct set of schemas a value may meet is interned once, with
//! what it admits, so a plan of many alike parts costs a hash lookup per key.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Context, PlanEnv};
use crate::diag::did_you_mean;
use crate::plan::template::Template;
use crate::plan::yaml::{Path, Segment};

/// Renders every plan-time template under `value` (the plan's JSON value) in place, and
/// says where each one was and how it went.
pub(super) fn walk(value: &mut Value, schema: &Value, context: &Context<'_>) -> Vec<Found> {
    let mut walker = Walker {
        schema,
        context,
        context_value: None,
        templates: plan_time_environment(),
        found: Vec::new(),
        sets: Vec::new(),
        interned: foldhash::HashMap::default(),
    };
    let mut path = Vec::new();
    let root = walker.flatten(schema, 0);
    let root = walker.intern(root);
    walker.walk(value, &mut path, root);
    walker.found
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

/// A plan-time template met on the walk: where it is, and where its values came from or
/// why it could not be rendered.
pub(super) struct Found {
    pub path: Path,
    pub outcome: Result<String, (String, Option<String>)>,
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
/// is escaped, values have Python's methods as in run-time templates (`.upper()`,
/// `.split(",")`), and each render is bounded by [`FUEL`].
fn plan_time_environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
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
