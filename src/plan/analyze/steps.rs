//! Step checks: templates and their names in order, WebSocket steps after a `connect`,
//! bodies and matchers that make sense, regular expressions that compile.
//!
//! This file is the walk: it follows the steps in order, tracking the names in scope and
//! whether a socket is open, and checks the control steps itself; a request's checks are in
//! `steps/request.rs`, the WebSocket steps' and `on_message` rules' in `steps/websocket.rs`.

mod phase;
mod request;
mod websocket;

use indexmap::IndexMap;
use serde_json::Value;

use super::scope::Scope;
use super::thresholds::Metrics;
use super::{Analyzer, path, tick_list};
use crate::plan::metric::MetricKind;
use crate::plan::model::Step;
use crate::plan::yaml::{Path, Segment};

/// Whether a VU certainly has an open WebSocket at a point of its steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Socket {
    Open,
    Closed,
}

/// Names reserved for template values, which `as:` and `set:` may not take.
const RESERVED: [&str; 11] = [
    "setup",
    "env",
    "vars",
    "secrets",
    "vu",
    "iteration",
    "scenario",
    "stage",
    "run",
    "plan",
    "data",
];

impl Analyzer<'_, '_> {
    /// Checks every scenario, returning the metrics and `name` tags the steps declare.
    pub(super) fn scenarios(
        &mut self,
        env: Option<&str>,
        vars: &IndexMap<String, Value>,
    ) -> Metrics {
        let mut metrics = Metrics::new(self.plan);
        let envs = self.env_sets(env, self.env_selected);
        let setup = self.phases(&envs, vars, &mut metrics);
        for (name, scenario) in &self.plan.scenarios {
            let base = path!["scenarios", name.as_str()];
            self.phase_scenario_name(&base, name);
            let mut scope = Scope::step(&envs, vars);
            scope.setup = setup.clone();
            scope.later = captures(&scenario.steps);
            let mut socket = Socket::Closed;
            let steps_path = [base.clone(), path!["steps"]].concat();
            self.steps(
                &steps_path,
                &scenario.steps,
                &mut scope,
                &mut socket,
                &mut metrics,
            );
            self.on_message(&base, scenario, &mut metrics);
            let used = std::mem::take(&mut self.data_used);
            self.data_by_scenario.insert(name.clone(), used);
        }
        metrics
    }

    fn steps(
        &mut self,
        at: &Path,
        steps: &[Step],
        scope: &mut Scope,
        socket: &mut Socket,
        metrics: &mut Metrics,
    ) {
        for (index, step) in steps.iter().enumerate() {
            let mut step_path = at.clone();
            step_path.push(Segment::Index(index));
            self.guards(&step_path, step, scope, metrics);
            self.step(&step_path, step, scope, socket, metrics);
            if let Some(name) = step.capture() {
                self.local(&[step_path.clone(), path!["as"]].concat(), name, scope);
                captured_by(scope, name, step.kind());
            }
            if let Step::Set(set) = step {
                for name in set.set.keys() {
                    captured_by(scope, name, "set");
                    self.local(
                        &[step_path.clone(), path!["set", name.as_str()]].concat(),
                        name,
                        scope,
                    );
                }
            }
        }
    }

    /// A name becomes available to the templates after this point.
    fn local(&mut self, at: &Path, name: &str, scope: &mut Scope) {
        if RESERVED.contains(&name) || crate::plan::template::FUNCTIONS.contains(&name) {
            self.error_key(
                at,
                format!("`{name}` is a reserved name; choose another"),
                None,
            );
        }
        scope.later.swap_remove(name);
        if !scope.locals.contains(name) {
            scope.locals.insert(name.to_owned());
        }
    }

    fn needs_socket(&mut self, at: &Path, kind: &str, socket: Socket) {
        if socket == Socket::Closed {
            self.error_key(
                &[at.clone(), path![kind]].concat(),
                format!("`{kind}` needs an open WebSocket, but it can come before any `connect`"),
                Some("add a `connect` step before it".to_owned()),
            );
        }
    }

    fn step(
        &mut self,
        at: &Path,
        step: &Step,
        scope: &mut Scope,
        socket: &mut Socket,
        metrics: &mut Metrics,
    ) {
        let under = |keys: &[&str]| key_path(at, keys);
        match step {
            Step::Request(step) => self.request(at, step, scope, metrics),
            Step::Connect(step) => {
                self.connect(at, step, scope, metrics);
                *socket = Socket::Open;
            }
            Step::Send(step) => {
                self.needs_socket(at, "send", *socket);
                self.send(at, step, scope);
            }
            Step::Expect(step) => {
                self.needs_socket(at, "expect", *socket);
                self.expect(at, step, scope, metrics);
            }
            Step::Sleep(step) => self.sleep_range(&under(&["sleep"]), step.sleep),
            Step::Repeat(step) => {
                let repeat = &step.repeat;
                if repeat.count.is_none() && repeat.for_duration.is_none() && repeat.every.is_none()
                {
                    self.error_key(
                        &under(&["repeat"]),
                        "`repeat` needs at least one of `count`, `for` and `every`",
                        None,
                    );
                }
                if repeat.count == Some(0) {
                    self.warning(
                        &under(&["repeat", "count"]),
                        "`count: 0` never runs the steps inside",
                        None,
                    );
                }
                self.steps(&under(&["steps"]), &step.steps, scope, socket, metrics);
            }
            Step::Group(step) => {
                metrics.group_tag(&step.group);
                self.steps(&under(&["steps"]), &step.steps, scope, socket, metrics);
            }
            Step::Set(step) => {
                for (key, value) in &step.set {
                    self.json_templates(&under(&["set", key]), value, scope);
                }
            }
            Step::Reconnect(step) => {
                self.needs_socket(at, "reconnect", *socket);
                if let Some(after) = step.reconnect.after {
                    self.sleep_range(&under(&["reconnect", "after"]), after);
                }
            }
            Step::Disconnect(_) => {
                self.needs_socket(at, "disconnect", *socket);
                *socket = Socket::Closed;
            }
        }
    }

    /// A URL template: compiled, and when it is literal, checked for its scheme.
    fn url(&mut self, at: &Path, text: &str, schemes: &[&str], scope: &Scope) {
        self.template(at, text, scope);
        let starts_dynamic =
            text.trim_start().starts_with("{{") || text.trim_start().starts_with("{%");
        if !starts_dynamic && !schemes.iter().any(|s| text.starts_with(s)) {
            let names: Vec<&str> = schemes.to_vec();
            self.error(
                at,
                format!(
                    "invalid URL `{text}`: it must start with {}",
                    tick_list(&names).replace(" and ", " or ")
                ),
                None,
            );
        }
    }

    fn sleep_range(&mut self, at: &Path, range: crate::plan::units::SleepTime) {
        if range.min > range.max {
            self.error(
                at,
                format!(
                    "invalid range `{range}`: the lower bound `{}` is above the upper bound `{}`",
                    range.min, range.max
                ),
                Some(format!("write `{}..{}`", range.max, range.min)),
            );
        }
    }

    fn regex(&mut self, at: &Path, pattern: &str) {
        if let Err(error) = regex::Regex::new(pattern) {
            let detail = error.to_string();
            let last = detail
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
                .trim_start_matches("error: ");
            self.error(at, format!("invalid regular expression: {last}"), None);
        }
    }

    fn custom_metric(&mut self, at: &Path, name: &str, kind: MetricKind, metrics: &mut Metrics) {
        match metrics.kind(name) {
            Some(existing) if existing != kind => self.error(
                at,
                format!(
                    "metric `{name}` is a {}, it cannot also record a {}",
                    existing.name(),
                    kind.name()
                ),
                None,
            ),
            _ => metrics.custom(name, kind),
        }
    }
}

/// Every name the steps capture or set, with the kind of the step that does it.
fn captures(steps: &[Step]) -> IndexMap<String, &'static str> {
    let mut out = IndexMap::new();
    add_captures(steps, &mut out);
    out
}

/// Adds the names `steps` capture or set, each with the kind of the first step that does.
fn add_captures(steps: &[Step], out: &mut IndexMap<String, &'static str>) {
    for step in steps {
        if let Some(name) = step.capture() {
            out.entry(name.to_owned()).or_insert(step.kind());
        }
        if let Step::Set(set) = step {
            for name in set.set.keys() {
                out.entry(name.clone()).or_insert("set");
            }
        }
        if let Some(children) = step.children() {
            add_captures(children, out);
        }
    }
}

/// Notes that a step of `kind` captured or set `name` (`""` once steps of two kinds do).
fn captured_by(scope: &mut Scope, name: &str, kind: &'static str) {
    let entry = scope.captured_by.entry(name.to_owned()).or_insert(kind);
    if *entry != kind {
        *entry = "";
    }
}

/// `at` with `keys` appended.
fn key_path(at: &Path, keys: &[&str]) -> Path {
    let mut path = at.clone();
    path.extend(keys.iter().map(|k| Segment::Key((*k).to_owned())));
    path
}
