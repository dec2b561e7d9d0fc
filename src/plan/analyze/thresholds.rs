//! Threshold checks: each key names a metric that exists and tags it carries, and each check
//! parses and fits the metric's kind (no `p95` of a counter, no `ms` on a rate).

use indexmap::{IndexMap, IndexSet};
use serde_json::Value;

use super::{Analyzer, ThresholdRule, path};
use crate::diag::did_you_mean;
use crate::plan::expr::Expr;
use crate::plan::metric::{self, MetricKind, TAGS};
use crate::plan::model::{Plan, Threshold};
use crate::plan::threshold::{Aggregation, Check, Operand, Unit, parse_check, parse_selector};

/// The metrics a plan can name and the `name` tag values its steps set. Sets and maps in
/// the plan's order, so that a plan with 100,000 named steps is not checked in quadratic time.
pub struct Metrics {
    custom: IndexMap<String, MetricKind>,
    /// Each `collect` source's name, with its metric names when they are known before it
    /// is sampled (`process`, and `json` fields); Prometheus exposes what it exposes.
    sources: IndexMap<String, Option<Vec<String>>>,
    names: IndexSet<String>,
    groups: IndexSet<String>,
    scenarios: IndexSet<String>,
    /// `load`, and `setup` and `teardown` when the plan has them.
    phases: IndexSet<String>,
    stages: IndexSet<String>,
    /// Custom metrics an `expect` records (its timed-out waits tagged
    /// `expected_response: false`, as `ws_message_latency`'s are).
    expect_metrics: IndexSet<String>,
}

/// Values of a run that derived expressions can use.
const RUN_VALUES: [&str; 4] = ["duration_s", "vus_max", "iterations", "stage_duration_s"];

impl Metrics {
    pub fn new(plan: &Plan) -> Self {
        Self {
            custom: IndexMap::new(),
            sources: plan
                .collect
                .iter()
                .map(|source| (source.name().to_owned(), known_metrics(source)))
                .collect(),
            names: IndexSet::new(),
            groups: IndexSet::new(),
            scenarios: plan.scenarios.keys().cloned().collect(),
            phases: [
                plan.setup.as_ref().map(|_| "setup"),
                Some("load"),
                plan.teardown.as_ref().map(|_| "teardown"),
            ]
            .into_iter()
            .flatten()
            .map(str::to_owned)
            .collect(),
            stages: plan.stages.keys().cloned().collect(),
            expect_metrics: IndexSet::new(),
        }
    }

    pub fn custom(&mut self, name: &str, kind: MetricKind) {
        if self.kind(name).is_none() {
            self.custom.insert(name.to_owned(), kind);
        }
    }

    /// A custom metric an `expect` step records into.
    pub fn expect_metric(&mut self, name: &str) {
        self.expect_metrics.insert(name.to_owned());
    }

    pub fn name_tag(&mut self, name: String) {
        self.names.insert(name);
    }

    pub fn group_tag(&mut self, group: &str) {
        if !self.groups.contains(group) {
            self.groups.insert(group.to_owned());
        }
    }

    /// The kind of a metric by name: built-in, custom, or collected (`SOURCE.metric`).
    pub fn kind(&self, name: &str) -> Option<MetricKind> {
        metric::builtin(name)
            .or_else(|| self.custom.get(name).copied())
            .or_else(|| {
                let (source, rest) = name.split_once('.')?;
                let known = self.sources.get(source)?;
                let listed = known
                    .as_ref()
                    .is_none_or(|known| known.iter().any(|m| m == rest));
                (!rest.is_empty() && listed).then_some(MetricKind::Collected)
            })
    }

    pub(super) fn all_names(&self) -> Vec<String> {
        let collected = self.sources.iter().flat_map(|(source, known)| {
            known
                .iter()
                .flatten()
                .map(move |metric| format!("{source}.{metric}"))
        });
        metric::BUILTIN
            .iter()
            .map(|(n, _)| (*n).to_owned())
            .chain(self.custom.keys().cloned())
            .chain(collected)
            .collect()
    }

    /// Whether a derived expression may use `name`.
    pub fn expression_name(&self, name: &str, vars: &IndexMap<String, Value>) -> bool {
        if RUN_VALUES.contains(&name) {
            return true;
        }
        if let Some(var) = name.strip_prefix("vars.") {
            return vars.contains_key(var);
        }
        if self.kind(name) == Some(MetricKind::Collected) {
            return true;
        }
        // `SOURCE.metric.figure` of a collected metric: any figure its kind has (`start`,
        // `end`, `delta`, `p95`, ...), checked when the run computes it.
        if let Some((metric, _)) = name.rsplit_once('.')
            && self.kind(metric) == Some(MetricKind::Collected)
        {
            return true;
        }
        // `metric.aggregation`: `http_req_duration.p95`, `shuffler.cpu_percent.avg`.
        let Some((metric, aggregation)) = name.rsplit_once('.') else {
            return false;
        };
        let Ok(check) = parse_check(&format!("{aggregation} > 0")) else {
            return false;
        };
        self.kind(metric)
            .is_some_and(|kind| kind.accepts(check.aggregation))
    }

    pub fn expression_candidates(
        &self,
        vars: &IndexMap<String, Value>,
        derived: &IndexMap<String, String>,
    ) -> Vec<String> {
        RUN_VALUES
            .iter()
            .map(|v| (*v).to_owned())
            .chain(vars.keys().map(|v| format!("vars.{v}")))
            .chain(derived.keys().cloned())
            .chain(self.all_names().into_iter().map(|n| format!("{n}.count")))
            .collect()
    }
}

impl Analyzer<'_, '_> {
    pub(super) fn thresholds(
        &mut self,
        metrics: &Metrics,
        derived: &[(String, Expr)],
    ) -> Vec<ThresholdRule> {
        let mut rules = Vec::new();
        for (key, checks) in &self.plan.thresholds {
            let key_path = path!["thresholds", key.as_str()];
            let key_span = self.document.key_text_span(&key_path);
            let selector = match parse_selector(key) {
                Ok(selector) => selector,
                Err(error) => {
                    let span = key_span.part(error.offset, error.len);
                    self.error_at(span, error.message, error.help);
                    continue;
                }
            };
            let is_derived = derived.iter().any(|(name, _)| *name == selector.metric);
            let kind = if is_derived {
                Some(MetricKind::Derived)
            } else {
                metrics.kind(&selector.metric)
            };
            let Some(kind) = kind else {
                let mut candidates = metrics.all_names();
                candidates.extend(derived.iter().map(|(n, _)| n.clone()));
                let help = did_you_mean(&selector.metric, candidates.iter().map(String::as_str)).or_else(|| {
                    Some("thresholds name built-in metrics (like `http_req_duration`), a step's `metric:`, `SOURCE.metric` of a `collect` source, or a `derived` metric".to_owned())
                });
                self.error_at(
                    key_span.part(0, selector.metric.chars().count()),
                    format!("unknown metric `{}`", selector.metric),
                    help,
                );
                continue;
            };
            // A collected metric's tags are its Prometheus labels, which only the scrape knows.
            let tags = if kind == MetricKind::Collected {
                &[][..]
            } else {
                &selector.tags[..]
            };
            for ((tag, value), offset) in tags.iter().zip(&selector.tag_offsets) {
                let span = key_span.part(*offset, tag.chars().count() + 1 + value.chars().count());
                if !TAGS.contains(&tag.as_str()) {
                    self.error_at(
                        key_span.part(*offset, tag.chars().count()),
                        format!("unknown tag `{tag}`"),
                        did_you_mean(tag, TAGS)
                            .or_else(|| Some(format!("tags are {}", TAGS.join(", ")))),
                    );
                    continue;
                }
                if metric::RESPONSE_TAGS.contains(&tag.as_str()) {
                    let on_expect = tag == "expected_response"
                        && (selector.metric == "ws_message_latency"
                            || metrics.expect_metrics.contains(&selector.metric));
                    if !on_expect && !metric::RESPONSE_METRICS.contains(&selector.metric.as_str()) {
                        let also = if tag == "expected_response" {
                            ", and on an `expect`'s latency (`ws_message_latency` or its `metric`)"
                        } else {
                            ""
                        };
                        self.error_at(
                            key_span.part(*offset, tag.chars().count()),
                            format!(
                                "`{tag}` is recorded on {} only{also}",
                                metric::RESPONSE_METRICS.join(", ")
                            ),
                            Some("filter by `name`, `scenario` or `group` here".into()),
                        );
                        continue;
                    }
                    let expected = match tag.as_str() {
                        "status" => value
                            .parse::<u16>()
                            .ok()
                            .filter(|s| *s == 0 || (100..=599).contains(s))
                            .is_none()
                            .then_some("0 (no response) or a status from 100 to 599"),
                        "expected_response" => {
                            (!matches!(value.as_str(), "true" | "false")).then_some("true or false")
                        }
                        _ => None,
                    };
                    if let Some(expected) = expected {
                        self.error_at(
                            span,
                            format!("invalid {tag} `{value}`: expected {expected}"),
                            None,
                        );
                    }
                    continue;
                }
                let known: Option<&IndexSet<String>> = match tag.as_str() {
                    "scenario" => Some(&metrics.scenarios),
                    "phase" => Some(&metrics.phases),
                    "stage" => Some(&metrics.stages),
                    "name" => Some(&metrics.names),
                    "group" => Some(&metrics.groups),
                    _ => None,
                };
                if let Some(known) = known.filter(|known| !known.contains(value)) {
                    self.error_at(
                        span,
                        format!("no {tag} is called `{value}`, so this filter matches nothing"),
                        did_you_mean(value, known.iter().map(String::as_str)),
                    );
                }
            }
            for (index, threshold) in checks.iter().enumerate() {
                let check_path = match threshold {
                    Threshold::Check(_) => path!["thresholds", key.as_str(), index],
                    Threshold::Long(_) => path!["thresholds", key.as_str(), index, "check"],
                };
                let text = threshold.check();
                let check = match parse_check(text) {
                    Ok(check) => check,
                    Err(error) => {
                        let span = self.inner_span(&check_path, error.offset, error.len);
                        self.error_at(span, error.message, error.help);
                        continue;
                    }
                };
                let aggregation_len = text
                    .split_whitespace()
                    .next()
                    .map_or(1, |w| w.find(['<', '>', '=', '!']).unwrap_or(w.len()));
                let lead = text.len() - text.trim_start().len();
                if !kind.accepts(check.aggregation) {
                    let span = self.inner_span(&check_path, lead, aggregation_len);
                    self.error_at(
                        span,
                        format!(
                            "`{}` does not apply to `{}`, a {}",
                            check.aggregation,
                            selector.metric,
                            kind.name()
                        ),
                        Some(format!("a {} takes {}", kind.name(), kind.aggregations())),
                    );
                    continue;
                }
                if let Operand::Value { unit, .. } = check.operand {
                    let time_aggregation = kind == MetricKind::Trend
                        && !matches!(check.aggregation, Aggregation::Count);
                    let problem = match unit {
                        Unit::Time if !time_aggregation && kind != MetricKind::Collected => {
                            Some(format!(
                                "`{}` of `{}` is not a time, so it takes no time unit",
                                check.aggregation, selector.metric
                            ))
                        }
                        Unit::Percent if kind == MetricKind::Counter => Some(format!(
                            "`{}` of the counter `{}` is {}, not a share, so it takes no `%`",
                            check.aggregation,
                            selector.metric,
                            if check.aggregation == Aggregation::Rate {
                                "per second"
                            } else {
                                "a number of events"
                            }
                        )),
                        Unit::Percent
                            if check.aggregation != Aggregation::Rate
                                && kind != MetricKind::Collected
                                && kind != MetricKind::Derived =>
                        {
                            Some(format!(
                                "`{}` of `{}` is not a share, so it takes no `%`",
                                check.aggregation, selector.metric
                            ))
                        }
                        _ => None,
                    };
                    if let Some(problem) = problem {
                        let span = self.inner_span(&check_path, lead, text.trim().chars().count());
                        self.error_at(span, problem, None);
                        continue;
                    }
                }
                if kind == MetricKind::Rate
                    && let Some((message, help)) = share_out_of_range(&check, &selector.metric)
                {
                    let (offset, len) = operand_span(text);
                    let span = self.inner_span(&check_path, offset, len);
                    self.error_at(span, message, Some(help));
                    continue;
                }
                let (abort_on_fail, delay_abort) = match threshold {
                    Threshold::Check(_) => (false, None),
                    Threshold::Long(long) => (long.abort_on_fail, long.delay_abort),
                };
                rules.push(ThresholdRule {
                    key: key.clone(),
                    selector: selector.clone(),
                    source: text.to_owned(),
                    check,
                    abort_on_fail,
                    delay_abort,
                    kind,
                });
            }
        }
        rules
    }
}

/// A rate metric's `rate` is a share, from 0 to 1: `rate < 5` would mean 500 % and hold
/// whatever happens. Returns the message and the suggestion when the operand is outside it.
fn share_out_of_range(check: &Check, metric: &str) -> Option<(String, String)> {
    let Operand::Value { value, unit } = check.operand else {
        return None;
    };
    if (0.0..=1.0).contains(&value) {
        return None;
    }
    let (operator, aggregation) = (check.operator, check.aggregation);
    Some(match unit {
        Unit::Percent => (
            format!(
                "`{aggregation}` of `{metric}` is a share from 0 % to 100 %, so `{}%` is out of range",
                format_number(value * 100.0)
            ),
            format!("write a share within 0% and 100%, like `{aggregation} {operator} 5%`"),
        ),
        _ => {
            let fraction = format_number(value / 100.0);
            (
                format!(
                    "`{aggregation}` of `{metric}` is a share from 0 to 1, so `{}` means {} %",
                    format_number(value),
                    format_number(value * 100.0)
                ),
                if value > 1.0 && value <= 100.0 {
                    format!(
                        "for {} percent write `{aggregation} {operator} {}%` or `{aggregation} {operator} {fraction}`",
                        format_number(value),
                        format_number(value)
                    )
                } else {
                    format!(
                        "write a share within 0 and 1, like `{aggregation} {operator} 0.05`, or a percentage, like `{aggregation} {operator} 5%`"
                    )
                },
            )
        }
    })
}

/// A number as a person writes it: `5`, `0.05`, `12.5`, without float noise.
fn format_number(value: f64) -> String {
    let rounded = (value * 1e9).round() / 1e9;
    format!("{rounded}")
}

/// The character offset and length of a check's operand: what follows the operator.
fn operand_span(text: &str) -> (usize, usize) {
    let chars: Vec<char> = text.chars().collect();
    let Some(operator_end) = chars
        .iter()
        .position(|c| matches!(c, '<' | '>' | '=' | '!'))
        .map(|start| {
            start
                + chars[start..]
                    .iter()
                    .take_while(|c| matches!(c, '<' | '>' | '=' | '!'))
                    .count()
        })
    else {
        return (0, chars.len());
    };
    let start = operator_end
        + chars[operator_end..]
            .iter()
            .take_while(|c| c.is_whitespace())
            .count();
    let end = chars.len() - chars.iter().rev().take_while(|c| c.is_whitespace()).count();
    (start, end.saturating_sub(start).max(1))
}

/// The metric names a source will have, when the plan says them: a `process` source's
/// fixed set, the `fields` of a `json` source or of a `command` parsed as JSON.
fn known_metrics(source: &crate::plan::model::CollectSource) -> Option<Vec<String>> {
    use crate::plan::model::{CollectSource, CommandParse};
    match source {
        CollectSource::Process(_) => Some(
            metric::PROCESS_METRICS
                .iter()
                .map(|m| (*m).to_owned())
                .collect(),
        ),
        CollectSource::Json(json) => Some(json.fields.keys().cloned().collect()),
        CollectSource::Command(command) if command.parse == CommandParse::Json => {
            Some(command.fields.keys().cloned().collect())
        }
        CollectSource::Command(_) | CollectSource::Prometheus(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_is_a_share() {
        let out = |text: &str| share_out_of_range(&parse_check(text).unwrap(), "checks");
        assert_eq!(out("rate < 0.05"), None);
        assert_eq!(out("rate <= 1"), None);
        assert_eq!(out("rate == 0"), None);
        assert_eq!(out("rate < 100%"), None);
        let (message, help) = out("rate < 5").unwrap();
        assert_eq!(
            message,
            "`rate` of `checks` is a share from 0 to 1, so `5` means 500 %"
        );
        assert_eq!(help, "for 5 percent write `rate < 5%` or `rate < 0.05`");
        assert!(out("rate > 1.5").is_some());
        assert!(out("rate < 150%").is_some());
        assert!(out("rate < 1000").unwrap().1.contains("within 0 and 1"));
    }

    #[test]
    fn operand_spans() {
        assert_eq!(operand_span("rate < 5"), (7, 1));
        assert_eq!(operand_span(" rate>=95  "), (7, 2));
        assert_eq!(operand_span("rate < 150%"), (7, 4));
    }
}
