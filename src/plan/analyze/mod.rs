//! The analyzer: checks what the schema cannot, collecting every problem, and compiles
//! templates, thresholds and derived expressions into a [`CheckedPlan`].
//!
//! It never stops at the first problem. Each check names the JSON path of what it is about;
//! the document turns that into a line and column.

mod scope;
mod stages;
mod steps;
mod thresholds;

use indexmap::IndexMap;

use super::expr::{self, Expr};
use super::model::{CollectSource, Output, Plan};
use super::template::TemplateSet;
use super::threshold::{Check, Selector};
use super::units::Duration;
use super::yaml::{Document, Path, Segment};
use crate::diag::{Diagnostic, Diagnostics, Span, did_you_mean};

pub use scope::pointer;

/// What the command line adds to a plan: the environment, the stage, variable overrides.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub env: Option<String>,
    pub stage: Option<String>,
    /// `--var name=value` overrides, in the order given.
    pub vars: Vec<(String, String)>,
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
    pub derived: Vec<(String, Expr)>,
}

/// Checks `plan` (read from `document`) for `selection`, returning the checked plan when
/// there is no error, and every diagnostic (warnings too) either way.
pub fn analyze(
    plan: Plan,
    document: &Document<'_>,
    selection: &Selection,
) -> (Option<CheckedPlan>, Diagnostics) {
    let mut analyzer = Analyzer {
        plan: &plan,
        document,
        diagnostics: Diagnostics::default(),
        templates: TemplateSet::new(),
        env_selected: selection.env.is_some(),
    };
    let env = analyzer.environment(selection);
    let stage = analyzer.stages(selection);
    let vars = analyzer.vars(env.as_deref(), selection);
    analyzer.secrets();
    let metrics = analyzer.scenarios(env.as_deref(), &vars);
    analyzer.weights();
    analyzer.collect(env.as_deref(), &vars);
    let derived = analyzer.derived(&metrics, &vars);
    let thresholds = analyzer.thresholds(&metrics, &derived);
    analyzer.outputs(env.as_deref(), &vars);
    let Analyzer {
        diagnostics,
        templates,
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
        derived,
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
            let mocked = env.mock.as_ref().is_some_and(|m| m.enabled());
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
                        format!("--env `{wanted}`: no such environment in the plan"),
                    )
                    .with_help(help),
                );
                None
            }
            Some(wanted) => Some(wanted.clone()),
            None => self.plan.environments.keys().next().cloned(),
        }
    }

    fn vars(
        &mut self,
        env: Option<&str>,
        selection: &Selection,
    ) -> IndexMap<String, serde_json::Value> {
        let mut vars = self.plan.vars.clone();
        for (name, value) in env
            .and_then(|e| self.plan.environments.get(e))
            .map(|e| &e.vars)
            .into_iter()
            .flatten()
        {
            if !vars.contains_key(name) {
                self.warning(
                    &path!["environments", env.unwrap_or_default(), "vars", name.as_str()],
                    format!("environment variable override `{name}` is not declared in the plan's `vars`"),
                    did_you_mean(name, self.plan.vars.keys().map(String::as_str)),
                );
            }
            vars.insert(name.clone(), value.clone());
        }
        for (name, text) in &selection.vars {
            if !self.plan.vars.contains_key(name) {
                let help = did_you_mean(name, self.plan.vars.keys().map(String::as_str));
                self.diagnostics.push(
                    Diagnostic::error(
                        None,
                        format!("--var `{name}`: the plan declares no such variable in `vars`"),
                    )
                    .with_help(help),
                );
                continue;
            }
            let value = serde_json::from_str(text)
                .unwrap_or_else(|_| serde_json::Value::String(text.clone()));
            vars.insert(name.clone(), value);
        }
        vars
    }

    fn secrets(&mut self) {
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
            if self.plan.secrets[..index].contains(name) {
                self.error(
                    &path!["secrets", index],
                    format!("secret `{name}` is listed twice"),
                    None,
                );
            }
        }
    }

    fn collect(&mut self, env: Option<&str>, vars: &IndexMap<String, serde_json::Value>) {
        let mut seen: Vec<&str> = Vec::new();
        for (index, source) in self.plan.collect.iter().enumerate() {
            let name = source.name();
            let kind_key = match source {
                CollectSource::Prometheus(_) => "prometheus",
                CollectSource::Json(_) => "json",
                CollectSource::Process(_) => "process",
                CollectSource::Command(_) => "command",
            };
            let base = path!["collect", index, kind_key];
            if seen.contains(&name) {
                self.error_key(
                    &base,
                    format!("two `collect` sources are named `{name}`; give each a distinct `name` so their metrics stay apart"),
                    None,
                );
            }
            seen.push(name);
            if source
                .every()
                .is_some_and(|every| every.0 < std::time::Duration::from_millis(100))
            {
                self.error(
                    &[base.clone(), path!["every"]].concat(),
                    "a source is sampled at most every 100ms: faster, the sampling would load the server it measures",
                    Some("the default is `5s`; `1s` is fine for short stages".to_owned()),
                );
            }
            let scope = scope::Scope::collect(self.env_sets(env, self.env_selected), vars);
            match source {
                CollectSource::Prometheus(p) => {
                    self.template(
                        &[base.clone(), path!["url"]].concat(),
                        p.url.as_str(),
                        &scope,
                    );
                }
                CollectSource::Json(j) => {
                    self.template(
                        &[base.clone(), path!["url"]].concat(),
                        j.url.as_str(),
                        &scope,
                    );
                    self.json_pointers(&base, &j.fields);
                }
                CollectSource::Process(p) => {
                    let given = [
                        p.pid.is_some(),
                        p.pid_file.is_some(),
                        p.process_name.is_some(),
                    ];
                    if given.iter().filter(|g| **g).count() != 1 {
                        self.error_key(
                            &base,
                            "a `process` source needs exactly one of `pid`, `pid_file` and `process_name`",
                            None,
                        );
                    }
                }
                CollectSource::Command(c) => {
                    if c.parse == super::model::CommandParse::Json && c.fields.is_empty() {
                        self.error_key(
                            &[base.clone(), path!["parse"]].concat(),
                            "a `command` source with `parse: json` needs `fields` to say which values to read",
                            None,
                        );
                    }
                    self.json_pointers(&base, &c.fields);
                }
            }
        }
    }

    fn json_pointers(&mut self, base: &Path, fields: &IndexMap<String, String>) {
        for (name, pointer) in fields {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                self.error(
                    &[base.clone(), path!["fields", name.as_str()]].concat(),
                    format!(
                        "invalid JSON pointer `{pointer}`: it must start with `/`, like `/in_msgs`"
                    ),
                    pointer
                        .strip_prefix("$.")
                        .map(|rest| format!("write `/{}`", rest.replace('.', "/"))),
                );
            }
        }
    }

    fn derived(
        &mut self,
        metrics: &thresholds::Metrics,
        vars: &IndexMap<String, serde_json::Value>,
    ) -> Vec<(String, Expr)> {
        let mut out = Vec::new();
        for (name, text) in &self.plan.derived {
            let at = path!["derived", name.as_str()];
            if metrics.kind(name).is_some() {
                self.error_key(
                    &at,
                    format!("derived metric `{name}` has the name of another metric"),
                    None,
                );
            }
            let expr = match expr::parse(text) {
                Ok(expr) => expr,
                Err(error) => {
                    let span = self.inner_span(&at, error.offset, 1);
                    self.error_at(span, format!("invalid expression: {}", error.message), None);
                    continue;
                }
            };
            for (used, offset) in expr.names() {
                let known = metrics.expression_name(used, vars)
                    || self
                        .plan
                        .derived
                        .get_index_of(used)
                        .is_some_and(|i| Some(i) < self.plan.derived.get_index_of(name));
                if !known {
                    let candidates = metrics.expression_candidates(vars, &self.plan.derived);
                    let span = self.inner_span(&at, offset, used.chars().count());
                    self.error_at(
                        span,
                        format!("unknown name `{used}` in derived metric `{name}`"),
                        did_you_mean(used, candidates.iter().map(String::as_str)).or_else(|| {
                            Some("names are run values (`duration_s`, `vus_max`), `vars.NAME`, `METRIC.AGGREGATION` (like `http_reqs.count`) and derived metrics defined above".to_owned())
                        }),
                    );
                }
            }
            out.push((name.clone(), expr));
        }
        out
    }

    fn outputs(&mut self, env: Option<&str>, vars: &IndexMap<String, serde_json::Value>) {
        // A mock's URLs are only known once it listens, after output paths are made.
        let mut envs = self.env_sets(env, self.env_selected);
        for (name, keys) in &mut envs {
            let environment = &self.plan.environments[name.as_str()];
            if environment.mock.as_ref().is_some_and(|m| m.enabled()) {
                keys.retain(|key| {
                    !(key == "base_url" && environment.base_url.is_none()
                        || key == "ws_url" && environment.ws_url.is_none())
                });
            }
        }
        let scope = scope::Scope::output(envs, vars);
        if self.plan.baseline.as_deref() == Some("latest")
            && !self
                .plan
                .outputs
                .iter()
                .any(|o| matches!(o, Output::Json(_)))
        {
            self.error(
                &path!["baseline"],
                "`baseline: latest` looks for earlier runs in the folders of the `json` outputs, and this plan has none",
                Some("add an output like `- json: \"results/{{ run.started | date('compact') }}-{{ stage }}.json\"`".to_owned()),
            );
        }
        for (index, output) in self.plan.outputs.iter().enumerate() {
            match output {
                Output::Markdown(markdown) => {
                    let base = path!["outputs", index, "markdown"];
                    match (&markdown.file, &markdown.append_to) {
                        (Some(_), Some(_)) | (None, None) => self.error_key(
                            &base,
                            "a `markdown` output needs exactly one of `file` and `append_to`",
                            None,
                        ),
                        _ => {}
                    }
                    if markdown.append_to.is_none()
                        && (markdown.under.is_some() || markdown.section.is_some())
                    {
                        self.error_key(
                            &base,
                            "`under` and `section` say where to write inside a document given by `append_to`",
                            None,
                        );
                    }
                    if markdown.row_template.is_some()
                        && (markdown.under.is_none() || markdown.section.is_some())
                    {
                        self.error_key(
                            &[base.clone(), path!["row_template"]].concat(),
                            "`row_template` is the row added to the table under the `under` heading; it needs `under` without `section`",
                            None,
                        );
                    }
                    if markdown
                        .regression_factor
                        .is_some_and(|factor| factor <= 0.0)
                    {
                        self.error(
                            &[base.clone(), path!["regression_factor"]].concat(),
                            "the regression factor must be above 0 (the usual rule is baseline × 1.2)",
                            None,
                        );
                    }
                    for (key, template) in
                        [("file", &markdown.file), ("append_to", &markdown.append_to)]
                    {
                        if let Some(template) = template {
                            self.template(
                                &[base.clone(), path![key]].concat(),
                                template.as_str(),
                                &scope,
                            );
                        }
                    }
                }
                Output::Json(file) | Output::Csv(file) | Output::Junit(file) => {
                    let key = match output {
                        Output::Json(_) => "json",
                        Output::Csv(_) => "csv",
                        _ => "junit",
                    };
                    self.template(&path!["outputs", index, key], file.as_str(), &scope);
                }
            }
        }
    }
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
