//! Template checks: each template is compiled once, and every name it uses must exist where
//! it is used — `env.*` in the environments it can run in, `vars.*` among the variables,
//! `secrets.*` among the secrets, a captured name after the step that captures it.

use indexmap::{IndexMap, IndexSet};
use serde_json::Value;

use super::{Analyzer, tick_list};
use crate::diag::{Diagnostic, did_you_mean};
use crate::plan::template::{FUNCTIONS, Template};
use crate::plan::yaml::{Path, Segment};

/// Names every template can use besides `env`, `vars`, `secrets` and the functions.
const STEP_VALUES: [&str; 4] = ["vu", "iteration", "scenario", "stage"];
const OUTPUT_VALUES: [&str; 3] = ["run", "stage", "plan"];

/// The fields of `run` an output path can use (the run is only starting).
const OUTPUT_RUN_FIELDS: [&str; 6] = ["started", "date", "plan", "stage", "env", "label"];

/// What a template may name. It borrows the environments and variables, so that a scope
/// per scenario costs nothing per variable (100,000 scenarios × 1,000 variables would).
pub struct Scope<'v> {
    /// `(environment, keys it sets)` for each environment the template may run in.
    envs: &'v [(String, Vec<String>)],
    pub vars: &'v IndexMap<String, Value>,
    values: &'static [&'static str],
    /// Names captured (`as:`) or set (`set:`) before this point.
    pub locals: IndexSet<String>,
    /// Names captured or set later in the scenario, with the kind of the first step that
    /// does.
    pub later: IndexMap<String, &'static str>,
    /// The kind of step (`request`, `send`, `expect`, `set`) each name before this point
    /// was captured or set by, or `""` when steps of different kinds do.
    pub captured_by: IndexMap<String, &'static str>,
    /// An output path: no secrets (a path is printed and becomes a file name), and `run`
    /// has only the fields known before the run.
    output: bool,
    /// An output that may read `secrets.*` all the same: a live output's URL and headers
    /// (sent to the receiver, redacted wherever shown).
    pub secrets: bool,
    /// Whether `data.*` (the VU's current rows) can be read: in scenarios' steps.
    pub data: bool,
    /// What `setup.NAME` may name here.
    pub setup: SetupNames,
}

/// What `setup.NAME` can read at a point of the plan.
#[derive(Debug, Clone, Default)]
pub enum SetupNames {
    /// Nothing: the plan has no `setup`, or this is not a step (`collect:`, an output).
    #[default]
    None,
    /// Inside `setup:` itself, where its values are not made yet.
    Inside,
    /// The names setup's steps capture (`as:`) or set (`set:`).
    Names(Vec<String>),
}

impl<'v> Scope<'v> {
    pub fn collect(envs: &'v [(String, Vec<String>)], vars: &'v IndexMap<String, Value>) -> Self {
        Self {
            envs,
            vars,
            values: &[],
            locals: IndexSet::new(),
            later: IndexMap::new(),
            captured_by: IndexMap::new(),
            output: false,
            secrets: false,
            data: false,
            setup: SetupNames::None,
        }
    }

    pub fn output(envs: &'v [(String, Vec<String>)], vars: &'v IndexMap<String, Value>) -> Self {
        Self {
            values: &OUTPUT_VALUES,
            output: true,
            ..Self::collect(envs, vars)
        }
    }

    pub fn step(envs: &'v [(String, Vec<String>)], vars: &'v IndexMap<String, Value>) -> Self {
        Self {
            values: &STEP_VALUES,
            data: true,
            ..Self::collect(envs, vars)
        }
    }
}

/// The JSON pointer of a path: the id its template is compiled under.
pub fn pointer(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        out.push('/');
        match segment {
            Segment::Key(key) => out.push_str(&key.replace('~', "~0").replace('/', "~1")),
            Segment::Index(index) => out.push_str(&index.to_string()),
        }
    }
    out
}

impl Analyzer<'_, '_> {
    /// The environments a template may run in, with the `env.*` keys each one sets: the
    /// selected one, or every one when none was selected.
    pub fn env_sets(&self, env: Option<&str>, selected: bool) -> Vec<(String, Vec<String>)> {
        self.plan
            .environments
            .iter()
            .filter(|(name, _)| !selected || Some(name.as_str()) == env)
            .map(|(name, environment)| {
                let mut keys = vec!["name".to_owned()];
                let mocked = environment.mock().is_some();
                if mocked || environment.base_url.is_some() {
                    keys.push("base_url".to_owned());
                }
                if mocked || environment.ws_url.is_some() {
                    keys.push("ws_url".to_owned());
                }
                keys.extend(environment.values.keys().cloned());
                (name.clone(), keys)
            })
            .collect()
    }

    /// Compiles the template at `path` and checks the names it uses against `scope`.
    pub fn template(&mut self, path: &Path, text: &str, scope: &Scope) {
        if !Template::is_dynamic(text) {
            return;
        }
        let names = match self.templates.add(&pointer(path), text) {
            Ok(names) => names,
            Err(error) => {
                let (offset, len) = error.range.map_or((0, 0), |range| {
                    (
                        text[..range.start.min(text.len())].chars().count(),
                        range.len(),
                    )
                });
                let span = self.inner_span(path, offset, len);
                self.error_at(span, error.message, None);
                return;
            }
        };
        self.methods_of_vars(path, text, &names, scope);
        self.template_names(path, text, names, scope);
    }

    /// Checks the free `names` of the template (or `if:` expression) `text` at `path`
    /// against `scope`: one located error, with did-you-mean, per name that does not exist.
    pub(super) fn template_names(
        &mut self,
        path: &Path,
        text: &str,
        names: std::collections::BTreeSet<String>,
        scope: &Scope,
    ) {
        for name in names {
            let mut parts = name.splitn(3, '.');
            let head = parts.next().unwrap_or_default();
            let field = parts.next();
            let problem = if head == "data" && !scope.locals.contains(head) {
                self.data_problem(&name, scope)
            } else {
                self.name_problem(head, field, scope)
            };
            if let Some(problem) = problem {
                let offset = text.find(&name).or_else(|| text.find(head)).unwrap_or(0);
                let span =
                    self.inner_span(path, text[..offset].chars().count(), name.chars().count());
                // A name missing in one place is missing in all: one error, with where else.
                self.diagnostics.push(
                    Diagnostic::error(Some(span), problem.0)
                        .with_help(problem.1)
                        .folding(),
                );
            }
        }
    }

    /// A template that reads only `vars` and `env` has the values it will render with
    /// now (those of the selected or first environment; a mock's URLs stand in as
    /// `http://127.0.0.1`): one that calls a method its value does not have
    /// (`vars.word.shout()`) is an error at load, not a template error on every request.
    fn methods_of_vars(
        &mut self,
        path: &Path,
        text: &str,
        names: &std::collections::BTreeSet<String>,
        scope: &Scope,
    ) {
        let known = |name: &String| {
            let mut parts = name.splitn(3, '.');
            match (parts.next(), parts.next()) {
                (Some("vars"), Some(var)) => scope.vars.contains_key(var),
                (Some("env"), Some(key)) => scope
                    .envs
                    .first()
                    .is_some_and(|(_, keys)| keys.iter().any(|k| k == key)),
                _ => false,
            }
        };
        // No call, no method to miss: most templates are skipped here, unrendered.
        if !text.contains('(') || names.is_empty() || !names.iter().all(known) {
            return;
        }
        let mut env = serde_json::Map::new();
        if let Some((name, _)) = scope.envs.first()
            && let Some(environment) = self.plan.environments.get(name)
        {
            let mocked = environment.mock().is_some();
            let url = |set: &Option<String>, mock: &str| {
                set.clone().or_else(|| mocked.then(|| mock.to_owned()))
            };
            env.insert("name".into(), name.clone().into());
            if let Some(base) = url(&environment.base_url, "http://127.0.0.1") {
                env.insert("base_url".into(), base.into());
            }
            if let Some(ws) = url(&environment.ws_url, "ws://127.0.0.1/ws") {
                env.insert("ws_url".into(), ws.into());
            }
            for (key, value) in &environment.values {
                env.insert(key.clone(), value.clone().into());
            }
        }
        // Only the variables it reads: a plan may have thousands, and many such templates.
        let vars: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .filter_map(|name| name.strip_prefix("vars.")?.split('.').next())
            .filter_map(|var| Some((var.to_owned(), scope.vars.get(var)?.clone())))
            .collect();
        let context = serde_json::json!({ "vars": vars, "env": env });
        let context = minijinja::Value::from(minijinja::value::Serde(context));
        let Some(Err(error)) = self.templates.render_source(text, &context) else {
            return;
        };
        if error.kind() != minijinja::ErrorKind::UnknownMethod {
            return;
        }
        let detail = error.detail().unwrap_or("unknown method");
        let span = self.inner_span(path, 0, text.chars().count());
        self.error_at(
            span,
            format!("template error: {detail}"),
            Some(
                "templates have Python's methods: strings `upper()`, `lower()`, `strip()`, `split(sep)`, `replace(a, b)`, `startswith(x)`, `endswith(x)`, …; mappings `items()`, `keys()`, `get(k)`"
                    .to_owned(),
            ),
        );
    }

    /// What is wrong with a name a template uses, if anything: a message and a help line.
    fn name_problem(
        &self,
        head: &str,
        field: Option<&str>,
        scope: &Scope<'_>,
    ) -> Option<(String, Option<String>)> {
        match head {
            "env" => {
                let field = field?;
                let missing: Vec<&str> = scope
                    .envs
                    .iter()
                    .filter(|(_, keys)| !keys.iter().any(|k| k == field))
                    .map(|(name, _)| name.as_str())
                    .collect();
                if scope.envs.is_empty() {
                    return Some((
                        format!("`env.{field}` is used, but the plan has no `environments`"),
                        Some(
                            "add an environment, like `environments: {local: {mock: true}}`"
                                .to_owned(),
                        ),
                    ));
                }
                if missing.is_empty() {
                    return None;
                }
                let all: Vec<&str> = scope
                    .envs
                    .iter()
                    .flat_map(|(_, keys)| keys.iter().map(String::as_str))
                    .collect();
                Some((
                    format!(
                        "`env.{field}` is not set in environment{} {}",
                        if missing.len() == 1 { "" } else { "s" },
                        tick_list(&missing)
                    ),
                    did_you_mean(field, all),
                ))
            }
            "vars" => {
                let field = field?;
                if scope.vars.contains_key(field) {
                    return None;
                }
                Some((
                    format!("undefined variable `vars.{field}`"),
                    did_you_mean(field, scope.vars.keys().map(String::as_str)).or_else(|| {
                        let declared: Vec<&str> = scope.vars.keys().map(String::as_str).collect();
                        Some(format!(
                            "declare it under `vars:` (declared: {})",
                            listed(&declared)
                        ))
                    }),
                ))
            }
            "secrets" if scope.output && !scope.secrets => Some((
                "an output path cannot use a secret: paths are printed and become file names"
                    .to_owned(),
                None,
            )),
            "run" if scope.output => {
                let field = field?;
                if OUTPUT_RUN_FIELDS.contains(&field) {
                    return None;
                }
                Some((
                    format!("`run.{field}` is not known when output paths are made"),
                    did_you_mean(field, OUTPUT_RUN_FIELDS).or_else(|| {
                        Some(format!("output paths can use {}", {
                            let fields: Vec<String> = OUTPUT_RUN_FIELDS
                                .iter()
                                .map(|f| format!("run.{f}"))
                                .collect();
                            let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
                            tick_list(&fields)
                        }))
                    }),
                ))
            }
            "secrets" => {
                let field = field?;
                if self.plan.secrets.iter().any(|s| s == field) {
                    return None;
                }
                Some((
                    format!("undefined secret `secrets.{field}`"),
                    did_you_mean(field, self.plan.secrets.iter().map(String::as_str)).or_else(
                        || {
                            Some(format!(
                                "list it under `secrets:` (listed: {})",
                                listed(&self.plan.secrets)
                            ))
                        },
                    ),
                ))
            }
            "setup" => setup_problem(field, &scope.setup, self.plan.setup.is_some()),
            _ if FUNCTIONS.contains(&head) || scope.values.contains(&head) => None,
            _ if scope.locals.contains(head) => None,
            _ => {
                if let Some(kind) = scope.later.get(head) {
                    return Some((
                        format!(
                            "`{head}` is used before it is captured: the `{kind}` step that sets it comes later"
                        ),
                        None,
                    ));
                }
                let mut candidates: Vec<&str> = vec!["env", "vars", "secrets"];
                if scope.data {
                    candidates.push("data");
                }
                candidates.extend(FUNCTIONS);
                candidates.extend(scope.values);
                candidates.extend(scope.locals.iter().map(String::as_str));
                Some((
                    format!("undefined variable `{head}`"),
                    did_you_mean(head, candidates).or_else(|| {
                        let mut usable = vec![
                            "`env.*`".to_owned(),
                            "`vars.*`".to_owned(),
                            "`secrets.*`".to_owned(),
                        ];
                        usable.extend(scope.values.iter().map(|v| format!("`{v}`")));
                        let captures = if scope.values.contains(&"vu") {
                            " and names captured with `as:` or set with `set:` before"
                        } else {
                            ""
                        };
                        Some(format!(
                            "templates here can use {}, the functions {}{captures}",
                            usable.join(", "),
                            tick_list(&FUNCTIONS)
                        ))
                    }),
                ))
            }
        }
    }

    /// Checks every string inside a JSON value as a template.
    pub fn json_templates(&mut self, path: &Path, value: &Value, scope: &Scope) {
        match value {
            Value::String(text) => self.template(path, text, scope),
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    let mut child = path.clone();
                    child.push(Segment::Index(index));
                    self.json_templates(&child, item, scope);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    let mut child = path.clone();
                    child.push(Segment::Key(key.clone()));
                    self.json_templates(&child, item, scope);
                }
            }
            _ => {}
        }
    }
}

/// What is wrong with `setup.FIELD` where `setup` holds `names`, if anything.
fn setup_problem(
    field: Option<&str>,
    names: &SetupNames,
    has_setup: bool,
) -> Option<(String, Option<String>)> {
    match names {
        SetupNames::None if has_setup => Some((
            "`setup.*` can be used in scenario steps and `teardown:` only".to_owned(),
            None,
        )),
        SetupNames::None => Some((
            format!(
                "`setup.{}` is used, but the plan has no `setup`",
                field.unwrap_or("*")
            ),
            Some("`setup.NAME` reads what a `setup:` step captured with `as: NAME`".to_owned()),
        )),
        SetupNames::Inside => Some((
            "`setup.*` cannot be used inside `setup:`: its values exist once setup has run"
                .to_owned(),
            Some("a later setup step reads an earlier one's capture by its name alone".to_owned()),
        )),
        SetupNames::Names(names) => {
            let field = field?;
            if names.iter().any(|n| n == field) {
                return None;
            }
            Some((
                format!("`setup.{field}`: no setup step captures `{field}`"),
                did_you_mean(field, names.iter().map(String::as_str))
                    .or_else(|| Some(format!("setup captures {}", listed(names)))),
            ))
        }
    }
}

fn listed(names: &[impl AsRef<str>]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        let names: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
        tick_list(&names)
    }
}
