//! The analyzer: checks what the schema cannot, collecting every problem, and compiles
//! templates, thresholds and derived expressions into a [`CheckedPlan`].
//!
//! It never stops at the first problem. Each check names the JSON path of what it is about;
//! the document turns that into a line and column.

mod collect;
mod data;
mod derived;
mod guards;
mod outputs;
mod scope;
mod stages;
mod steps;
mod tables;
mod thresholds;

use indexmap::IndexMap;

use super::expr::Expr;
use super::model::Plan;
use super::template::TemplateSet;
use super::threshold::{Check, Selector};
use super::units::Duration;
use super::yaml::{Document, Path, Segment};
use crate::diag::{Diagnostic, Diagnostics, Span, did_you_mean};

pub use scope::pointer;

/// Reads one variable of the process environment (for `from_env` variables): the real
/// one (`run`), or the values a segment run recorded (`merge`).
#[derive(Clone)]
pub struct EnvLookup(std::sync::Arc<LookupFn>);

/// What an [`EnvLookup`] calls.
type LookupFn = dyn Fn(&str) -> Option<std::ffi::OsString> + Send + Sync;

impl EnvLookup {
    pub fn new(
        lookup: impl Fn(&str) -> Option<std::ffi::OsString> + Send + Sync + 'static,
    ) -> Self {
        Self(std::sync::Arc::new(lookup))
    }

    /// The value of `variable`, if set.
    pub fn get(&self, variable: &str) -> Option<std::ffi::OsString> {
        (self.0)(variable)
    }
}

impl std::fmt::Debug for EnvLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnvLookup")
    }
}

/// Reads a data file the plan names (`data: { users: { csv: users.csv } }`), as written
/// in the plan: relative to the plan file's folder (`run`, `validate`, `merge`, `k8s`:
/// [`super::source::data_files`]), or from memory (tests).
#[derive(Clone)]
pub struct FileLookup(std::sync::Arc<FileFn>);

/// What a [`FileLookup`] calls.
type FileFn = dyn Fn(&str) -> Result<String, super::source::ReadError> + Send + Sync;

impl FileLookup {
    pub fn new(
        read: impl Fn(&str) -> Result<String, super::source::ReadError> + Send + Sync + 'static,
    ) -> Self {
        Self(std::sync::Arc::new(read))
    }

    /// The text of `file`.
    pub fn read(&self, file: &str) -> Result<String, super::source::ReadError> {
        (self.0)(file)
    }
}

impl std::fmt::Debug for FileLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileLookup")
    }
}

/// What the command line adds to a plan: the environment, the stage, variable overrides,
/// the load shape's overrides and the scenarios that run.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub env: Option<String>,
    pub stage: Option<String>,
    /// `--var name=value` overrides, in the order given.
    pub vars: Vec<(String, String)>,
    /// Where `from_env` variables are read; `None` reads nothing (they take their default).
    pub process_env: Option<EnvLookup>,
    /// `--vus`: the selected stage's VUs (its peak, for a ramp; `max_vus`, for arrival).
    pub vus: Option<u32>,
    /// `--duration`: the selected stage's length (every segment scaled, for a ramp).
    pub duration: Option<Duration>,
    /// `--scenario`: the only scenarios that get VUs; empty for all.
    pub scenarios: Vec<String>,
    /// The environment and the stage were named by `LOADPLAN_ENV` / `LOADPLAN_STAGE`, not
    /// by `--env` / `--stage`: errors about them name the variable.
    pub env_from_variable: bool,
    pub stage_from_variable: bool,
    /// Where `data:` files are read; `None` reads none (each source is an error).
    pub files: Option<FileLookup>,
}

/// One threshold check, ready to judge.
#[derive(Debug, Clone)]
pub struct ThresholdRule {
    /// The key as written (`http_req_duration{name:broadcast}`).
    pub key: String,
    pub selector: Selector,
    /// The check as written (`p95 < 300ms`), for reports.
    pub source: String,
    pub check: Check,
    pub abort_on_fail: bool,
    pub delay_abort: Option<Duration>,
    /// The kind of the metric it judges.
    pub kind: super::metric::MetricKind,
}

/// A plan that passed every check, with everything compiled that the run needs.
pub struct CheckedPlan {
    pub plan: Plan,
    /// The environment and stage the run uses (the first ones unless selected).
    pub env: Option<String>,
    pub stage: String,
    /// Plan variables with environment and command-line overrides applied.
    pub vars: IndexMap<String, serde_json::Value>,
    pub templates: TemplateSet,
    pub thresholds: Vec<ThresholdRule>,
    /// Thresholds this run does not judge, by index in `thresholds`, with the scenario they
    /// select that `--scenario` left out: they are reported skipped, not failed.
    pub not_run: Vec<(usize, String)>,
    pub derived: Vec<(String, Expr)>,
    /// What the command line changed of the stage and scenarios (`--vus 5, --duration
    /// 10s`), recorded with the run: `baseline: latest` compares only runs changed alike.
    pub overrides: Option<String>,
    /// The process environment variables the plan's `from_env` variables were read from
    /// (their values won), by name: recorded with a segment run so `loadplan merge`
    /// loads the plan as the run did.
    pub from_env: Vec<String>,
    /// The `data:` sources' rows, read once, by name (plan order).
    pub data: IndexMap<String, std::sync::Arc<super::data::DataTable>>,
    /// The data sources each scenario's templates read, by scenario: only those get a row
    /// per iteration (a `unique` source is not used up by a scenario that never reads it).
    pub data_used: IndexMap<String, indexmap::IndexSet<String>>,
}

/// Checks `plan` (read from `document`) for `selection`, returning the checked plan when
/// there is no error, and every diagnostic (warnings too) either way.
pub fn analyze(
    plan: Plan,
    document: &Document<'_>,
    selection: &Selection,
    vars: IndexMap<String, serde_json::Value>,
) -> (Option<CheckedPlan>, Diagnostics) {
    let mut analyzer = Analyzer {
        plan: &plan,
        document,
        diagnostics: Diagnostics::default(),
        templates: TemplateSet::new(),
        env_selected: selection.env.is_some(),
        data: IndexMap::new(),
        data_used: indexmap::IndexSet::new(),
        data_by_scenario: IndexMap::new(),
    };
    let env = analyzer.environment(selection);
    let stage = analyzer.stages(selection);
    analyzer.data(selection, stage.as_deref());
    analyzer.secrets();
    let metrics = analyzer.scenarios(env.as_deref(), &vars);
    analyzer.weights();
    analyzer.collect(env.as_deref(), &vars);
    let derived = analyzer.derived(&metrics, &vars);
    let thresholds = analyzer.thresholds(&metrics, &derived);
    let not_run = not_run(&thresholds, &selection.scenarios);
    analyzer.outputs(env.as_deref(), &vars);
    analyzer.tables(&metrics, &derived);
    let data = analyzer.tables_read();
    let Analyzer {
        diagnostics,
        templates,
        data_by_scenario: data_used,
        ..
    } = analyzer;
    if diagnostics.has_errors() {
        return (None, diagnostics);
    }
    let Some(stage) = stage else {
        return (None, diagnostics);
    };
    let checked = CheckedPlan {
        plan,
        env,
        stage,
        vars,
        templates,
        thresholds,
        not_run,
        derived,
        overrides: super::overrides::describe(selection),
        from_env: Vec::new(),
        data,
        data_used,
    };
    (Some(checked), diagnostics)
}

pub(crate) struct Analyzer<'p, 'd> {
    pub plan: &'p Plan,
    pub document: &'d Document<'d>,
    pub diagnostics: Diagnostics,
    pub templates: TemplateSet,
    /// Whether `--env` chose the environment; if not, templates must fit every environment.
    pub env_selected: bool,
    /// The `data:` sources by name: their table, or `None` when it could not be read.
    pub data: IndexMap<String, Option<std::sync::Arc<super::data::DataTable>>>,
    /// The sources the templates checked since the last scenario read (`data.NAME`).
    pub data_used: indexmap::IndexSet<String>,
    /// The sources each scenario reads.
    pub data_by_scenario: IndexMap<String, indexmap::IndexSet<String>>,
}

/// Builds a path from segments: `path!["stages", name, "ramp", 0]`.
macro_rules! json_path_of {
    ($($segment:expr),* $(,)?) => {
        vec![$($crate::plan::yaml::Segment::from($segment)),*]
    };
}
pub(crate) use json_path_of as path;

impl Analyzer<'_, '_> {
    pub fn error_at(&mut self, span: Span, message: impl Into<String>, help: Option<String>) {
        self.diagnostics
            .push(Diagnostic::error(Some(span), message).with_help(help));
    }

    pub fn error(&mut self, path: &Path, message: impl Into<String>, help: Option<String>) {
        let span = self.document.value_span(path);
        self.error_at(span, message, help);
    }

    pub fn error_key(&mut self, path: &Path, message: impl Into<String>, help: Option<String>) {
        let span = self.document.key_span(path);
        self.error_at(span, message, help);
    }

    pub fn warning(&mut self, path: &Path, message: impl Into<String>, help: Option<String>) {
        let span = self.document.key_span(path);
        self.diagnostics
            .push(Diagnostic::warning(Some(span), message).with_help(help));
    }

    /// The span of a position inside a one-line string at `path`, or of the whole value.
    pub fn inner_span(&self, path: &Path, offset: usize, len: usize) -> Span {
        match self.document.text_span(path) {
            Some(text) if offset + len.max(1) <= text.len + 1 => text.part(offset, len.max(1)),
            _ => self.document.value_span(path),
        }
    }

    fn environment(&mut self, selection: &Selection) -> Option<String> {
        for (name, env) in &self.plan.environments {
            let mocked = env.mock().is_some();
            if mocked && (env.base_url.is_some() || env.ws_url.is_some()) {
                self.warning(
                    &path!["environments", name.as_str(), "mock"],
                    format!("environment `{name}` starts the mock target, so its `base_url` and `ws_url` are replaced by the mock's"),
                    None,
                );
            }
        }
        match &selection.env {
            Some(wanted) if !self.plan.environments.contains_key(wanted) => {
                let names: Vec<&str> = self.plan.environments.keys().map(String::as_str).collect();
                let help = did_you_mean(wanted, names.iter().copied()).or_else(|| {
                    Some(if names.is_empty() {
                        "the plan has no `environments`".to_owned()
                    } else {
                        format!("environments are {}", tick_list(&names))
                    })
                });
                self.diagnostics.push(
                    Diagnostic::error(
                        None,
                        format!(
                            "{} `{wanted}`: no such environment in the plan",
                            if selection.env_from_variable {
                                "LOADPLAN_ENV"
                            } else {
                                "--env"
                            }
                        ),
                    )
                    .with_help(help),
                );
                // Templates are then checked against every environment, as without
                // `--env`, not against none (which would fault every `env.*` they use).
                self.env_selected = false;
                None
            }
            Some(wanted) => Some(wanted.clone()),
            None => self.plan.environments.keys().next().cloned(),
        }
    }

    fn secrets(&mut self) {
        let mut seen = std::collections::HashSet::new();
        for (index, name) in self.plan.secrets.iter().enumerate() {
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                self.error(
                    &path!["secrets", index],
                    format!("invalid secret name `{name}`: secrets are environment variable names, like `AUTH_TOKEN`"),
                    None,
                );
            }
            if !seen.insert(name.as_str()) {
                self.error(
                    &path!["secrets", index],
                    format!("secret `{name}` is listed twice"),
                    None,
                );
            }
        }
    }
}

/// The thresholds that select a scenario outside `selected` (when it is not empty), with
/// that scenario.
fn not_run(rules: &[ThresholdRule], selected: &[String]) -> Vec<(usize, String)> {
    if selected.is_empty() {
        return Vec::new();
    }
    rules
        .iter()
        .enumerate()
        .filter_map(|(index, rule)| {
            let (_, scenario) = rule
                .selector
                .tags
                .iter()
                .find(|(tag, value)| tag == "scenario" && !selected.contains(value))?;
            Some((index, scenario.clone()))
        })
        .collect()
}

/// `` `a`, `b` and `c` ``.
pub(crate) fn tick_list(names: &[&str]) -> String {
    let ticked: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match ticked.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

impl From<String> for Segment {
    fn from(key: String) -> Self {
        Self::Key(key)
    }
}

impl From<&String> for Segment {
    fn from(key: &String) -> Self {
        Self::Key(key.clone())
    }
}
