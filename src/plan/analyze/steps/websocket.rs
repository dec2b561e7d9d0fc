//! WebSocket checks: `connect` URLs and headers, `send` messages with exactly one body,
//! `expect` matchers that can match, and `on_message` rules that can fire. Whether a socket
//! is open at a step is the walk's business (`needs_socket` in steps.rs).

use super::key_path;
use crate::plan::analyze::scope::Scope;
use crate::plan::analyze::thresholds::Metrics;
use crate::plan::analyze::{Analyzer, path};
use crate::plan::metric::MetricKind;
use crate::plan::model::{
    Connect, ConnectStep, ExpectStep, Scenario, SendStep, Sequence, SequenceNumber, Step,
};
use crate::plan::step::any_step;
use crate::plan::template::Template;
use crate::plan::yaml::Path;

impl Analyzer<'_, '_> {
    pub(super) fn connect(
        &mut self,
        at: &Path,
        step: &ConnectStep,
        scope: &Scope,
        metrics: &mut Metrics,
    ) {
        let under = |keys: &[&str]| key_path(at, keys);
        let url_path = match &step.connect {
            Connect::Url(_) => under(&["connect"]),
            Connect::Settings(settings) => {
                for (key, value) in &settings.headers {
                    self.template(&under(&["connect", "headers", key]), value.as_str(), scope);
                }
                if let Some(name) = &settings.name {
                    metrics.name_tag(name.clone());
                }
                under(&["connect", "url"])
            }
        };
        self.url(
            &url_path,
            step.connect.url().as_str(),
            &["ws://", "wss://"],
            scope,
        );
    }

    pub(super) fn send(&mut self, at: &Path, step: &SendStep, scope: &Scope) {
        let under = |keys: &[&str]| key_path(at, keys);
        let message = &step.send;
        let bodies = [
            message.text.is_some(),
            message.json.is_some(),
            message.binary.is_some(),
        ];
        if bodies.iter().filter(|b| **b).count() != 1 {
            self.error_key(
                &under(&["send"]),
                "a message needs exactly one of `text`, `json` and `binary`",
                None,
            );
        }
        for (key, text) in [("text", &message.text), ("binary", &message.binary)] {
            if let Some(text) = text {
                self.template(&under(&["send", key]), text.as_str(), scope);
            }
        }
        if let Some(json) = &message.json {
            self.json_templates(&under(&["send", "json"]), json, scope);
        }
        if message.mark.is_some() && message.json.is_none() {
            self.error_key(
                &under(&["send", "mark"]),
                "`mark` names an id in the message's `json`, but the message has none",
                None,
            );
        }
    }

    pub(super) fn expect(
        &mut self,
        at: &Path,
        step: &ExpectStep,
        scope: &Scope,
        metrics: &mut Metrics,
    ) {
        let under = |keys: &[&str]| key_path(at, keys);
        let expect = &step.expect;
        if expect.json.is_none()
            && expect.json_path.is_empty()
            && expect.regex.is_none()
            && expect.text.is_none()
        {
            self.error_key(&under(&["expect"]), "`expect` needs at least one of `json`, `json_path`, `regex` and `text` to match a message", None);
        }
        if let Some(json) = &expect.json {
            self.json_templates(&under(&["expect", "json"]), json, scope);
        }
        for (path, value) in &expect.json_path {
            let key = path.to_string();
            self.json_templates(&under(&["expect", "json_path", &key]), value, scope);
        }
        if let Some(text) = &expect.text {
            self.template(&under(&["expect", "text"]), text.as_str(), scope);
        }
        if let Some(pattern) = &expect.regex {
            self.regex(&under(&["expect", "regex"]), pattern);
        }
        if let Some(metric) = &expect.metric {
            self.custom_metric(
                &under(&["expect", "metric"]),
                metric,
                MetricKind::Trend,
                metrics,
            );
            metrics.expect_metric(metric);
        }
        if let Some(name) = &expect.name {
            metrics.name_tag(name.clone());
        }
        if let Some(sequence) = &expect.sequence {
            self.sequence(&under(&["expect", "sequence"]), sequence, scope);
        }
    }

    /// A `sequence` check: an end (`count` or `through`), numbers that are integers or
    /// templates with names in scope, and something to check.
    fn sequence(&mut self, at: &Path, sequence: &Sequence, scope: &Scope) {
        let under = |keys: &[&str]| key_path(at, keys);
        if sequence.count.is_none() && sequence.through.is_none() {
            self.error_key(
                at,
                "`sequence` needs `count` or `through` to know when it is done",
                Some("add `count: N` to check the next N matching messages".to_owned()),
            );
        }
        if sequence.count == Some(0) {
            self.error(
                &under(&["count"]),
                "`count: 0` checks no message",
                Some("count at least 1, or leave it out and use `through`".to_owned()),
            );
        }
        let mut constant = |key: &str, number: Option<&SequenceNumber>| -> Option<u64> {
            match number? {
                SequenceNumber::Number(n) => Some(*n),
                SequenceNumber::Template(text) if Template::is_dynamic(text.as_str()) => {
                    self.template(&under(&[key]), text.as_str(), scope);
                    None
                }
                SequenceNumber::Template(text) => match text.as_str().trim().parse() {
                    Ok(n) => Some(n),
                    Err(_) => {
                        self.error(
                            &under(&[key]),
                            format!(
                                "invalid sequence number `{text}`: expected a non-negative integer or a template"
                            ),
                            None,
                        );
                        None
                    }
                },
            }
        };
        let after = constant("after", sequence.after.as_ref());
        let through = constant("through", sequence.through.as_ref());
        if let Some(through) = through
            && through <= after.unwrap_or(0)
            && sequence.count.is_none()
        {
            self.warning(
                &under(&["through"]),
                format!(
                    "`through: {through}` is not above `after` ({}): the check ends before any message",
                    after.unwrap_or(0)
                ),
                None,
            );
        }
    }

    pub(super) fn on_message(&mut self, base: &Path, scenario: &Scenario, metrics: &mut Metrics) {
        let connects = any_step(&scenario.steps, &|step| matches!(step, Step::Connect(_)));
        for (index, rule) in scenario.on_message.iter().enumerate() {
            let at = [base.clone(), path!["on_message", index]].concat();
            if !connects {
                self.warning(
                    &at,
                    "this rule never fires: the scenario never opens a WebSocket with `connect`",
                    None,
                );
            }
            let matcher = &rule.matcher;
            if matcher.json.is_none()
                && matcher.json_path.is_empty()
                && matcher.regex.is_none()
                && matcher.text.is_none()
            {
                self.error_key(
                    &[at.clone(), path!["match"]].concat(),
                    "`match` needs at least one of `json`, `json_path`, `regex` and `text`",
                    None,
                );
            }
            if let Some(pattern) = &matcher.regex {
                self.regex(&[at.clone(), path!["match", "regex"]].concat(), pattern);
            }
            if let Some(metric) = &rule.metric {
                self.custom_metric(
                    &[at.clone(), path!["metric"]].concat(),
                    metric,
                    MetricKind::Counter,
                    metrics,
                );
            }
            if rule.correlate.is_some() && !self.plan_marks() {
                self.warning(
                    &[at.clone(), path!["correlate"]].concat(),
                    "no step of the plan has a `mark`, so `correlate` never finds a start time",
                    Some(
                        "add `mark: \"$.id\"` to the request or message that sends the id"
                            .to_owned(),
                    ),
                );
            }
        }
    }

    fn plan_marks(&self) -> bool {
        self.plan.scenarios.values().any(|scenario| {
            any_step(&scenario.steps, &|step| match step {
                Step::Request(step) => step.request.mark.is_some(),
                Step::Send(step) => step.send.mark.is_some(),
                _ => false,
            })
        })
    }
}
