//! Plan-time templates: every value of a plan that is not a run-time
//! [`Template`](super::template::Template) — VU counts, durations, rates, sizes, weights,
//! limits, threshold checks, paths of collected processes — may be written as a template
//! of `vars`, `env` and `stage`, rendered once when the plan loads.
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

use serde_json::{Map, Value};

mod walker;

pub use walker::FUEL;

use super::analyze::Selection;
use super::vars::{self, Vars};
use super::yaml::Document;
use crate::diag::{Diagnostic, Span};

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
    let mut value = std::mem::take(&mut document.value);
    let found = walker::walk(&mut value, schema, context);
    document.value = value;
    let mut substitutions = Substitutions::default();
    let mut diagnostics = Vec::new();
    for found in found {
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
