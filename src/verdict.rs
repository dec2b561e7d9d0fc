//! The verdict: each threshold judged against the results — a pure function.

use crate::plan::ThresholdRule;
use crate::plan::metric::MetricKind;
use crate::plan::threshold::{Operand, Unit};
use crate::results::{Results, SeriesKey};

/// How one threshold came out.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    /// The threshold key as written (`http_req_duration{name:broadcast}`).
    pub key: String,
    /// The check as written (`p95 < 300ms`).
    pub check: String,
    /// The measured figure (ms for times, a fraction for rates), when there is one.
    pub value: Option<f64>,
    /// The limit it was compared with.
    pub limit: Option<f64>,
    pub passed: bool,
    /// Why it failed without a comparison (no samples, no baseline).
    pub reason: Option<String>,
    /// The figure is a number in the metric's own unit (collected and derived metrics),
    /// not milliseconds or a fraction.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub plain: bool,
    /// Not judged: a `baseline * k` check on the first run of a plan, with no earlier run
    /// to compare with. It counts as passed and is shown as skipped (JUnit `<skipped>`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
}

/// Every threshold's outcome.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Verdict {
    pub outcomes: Vec<Outcome>,
}

/// Why a `baseline * k` check failed when no baseline run was given.
pub const NO_BASELINE: &str = "no baseline run was given (--baseline FILE)";

impl Verdict {
    pub fn passed(&self) -> bool {
        self.outcomes.iter().all(|o| o.passed)
    }

    /// The first run of a plan with `baseline: latest` has nothing to compare with: its
    /// `baseline * k` checks pass, marked as skipped, instead of failing.
    pub fn skip_missing_baseline(&mut self) {
        for outcome in &mut self.outcomes {
            if outcome.reason.as_deref() == Some(NO_BASELINE) {
                outcome.passed = true;
                outcome.skipped = true;
                outcome.reason = Some("skipped: no earlier run to compare with yet".to_owned());
            }
        }
    }
}

/// Whether a collected `…_seconds` metric is compared in milliseconds: Prometheus metrics
/// are in seconds by convention, and a threshold written with a time unit is normalised to ms.
pub fn seconds_in_ms(metric: &str, check: &crate::plan::threshold::Check) -> bool {
    metric.ends_with("_seconds")
        && matches!(
            check.operand,
            Operand::Value {
                unit: Unit::Time,
                ..
            }
        )
}

/// Judges `rules` against `results`; `baseline` is an earlier run for `baseline * k` checks.
pub fn judge(rules: &[ThresholdRule], results: &Results, baseline: Option<&Results>) -> Verdict {
    let outcomes = rules
        .iter()
        .map(|rule| {
            let plain = matches!(rule.kind, MetricKind::Collected | MetricKind::Derived);
            let mut outcome = Outcome {
                key: rule.key.clone(),
                check: rule.source.clone(),
                value: None,
                limit: None,
                passed: false,
                reason: None,
                plain,
                skipped: false,
            };
            let value = match figure(rule, results) {
                Ok(value) => value,
                Err(reason) => {
                    outcome.reason = Some(reason);
                    return outcome;
                }
            };
            outcome.value = Some(value);
            let limit = match rule.check.operand {
                // Collected and derived figures are numbers in their own unit: `80%` of
                // `cpu_percent` or of an `…_percent` derived metric means 80.
                Operand::Value {
                    value,
                    unit: Unit::Percent,
                } if plain => value * 100.0,
                Operand::Value { value, .. } => value,
                Operand::Baseline { factor } => match baseline.map(|b| figure(rule, b)) {
                    Some(Ok(base)) => base * factor,
                    Some(Err(reason)) => {
                        outcome.reason = Some(format!("the baseline has no figure: {reason}"));
                        return outcome;
                    }
                    None => {
                        outcome.reason = Some(NO_BASELINE.to_owned());
                        return outcome;
                    }
                },
            };
            outcome.limit = Some(limit);
            outcome.passed = rule.check.operator.holds(value, limit);
            outcome
        })
        .collect();
    Verdict { outcomes }
}

/// The aggregation a rule names, over the series it selects.
fn figure(rule: &ThresholdRule, results: &Results) -> Result<f64, String> {
    let metric = &rule.selector.metric;
    match rule.kind {
        MetricKind::Derived => {
            let derived = results
                .derived
                .iter()
                .find(|d| d.name == *metric)
                .ok_or_else(|| format!("`{metric}` was not computed"))?;
            return derived.value.ok_or_else(|| {
                format!(
                    "`{metric}` is n/a: {}",
                    derived.reason.as_deref().unwrap_or("no value")
                )
            });
        }
        MetricKind::Collected => {
            let field = rule.check.aggregation.to_string();
            let value = crate::derive::figure(results, metric, &rule.selector.tags, &field)
                .map_err(|e| e.to_string())?;
            return Ok(if seconds_in_ms(metric, &rule.check) {
                value * 1000.0
            } else {
                value
            });
        }
        _ => {}
    }
    let mut unsupported = None;
    let filter = |key: &SeriesKey| {
        rule.selector
            .tags
            .iter()
            // One run is one stage: the stage tag selects all or nothing, decided below.
            .all(|(tag, value)| key.has_tag(tag, value).unwrap_or(tag == "stage"))
    };
    for (tag, _) in &rule.selector.tags {
        if !matches!(tag.as_str(), "scenario" | "name" | "group" | "stage") {
            unsupported = Some(tag.clone());
        }
    }
    if let Some(tag) = unsupported {
        return Err(format!("filtering by `{tag}` is not recorded yet"));
    }
    results
        .figure(
            &rule.selector.metric,
            rule.check.aggregation,
            filter,
            rule.kind == MetricKind::Counter,
        )
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::plan::threshold::{parse_check, parse_selector};
    use crate::results::Sample;

    fn rule(key: &str, check: &str) -> ThresholdRule {
        ThresholdRule {
            key: key.into(),
            selector: parse_selector(key).unwrap(),
            source: check.into(),
            check: parse_check(check).unwrap(),
            abort_on_fail: false,
            delay_abort: None,
            kind: crate::plan::metric::builtin(parse_selector(key).unwrap().metric.as_str())
                .unwrap_or(MetricKind::Trend),
        }
    }

    fn key(metric: &str, name: Option<&str>) -> SeriesKey {
        SeriesKey::from(crate::results::Series {
            metric: metric.into(),
            scenario: "s".into(),
            name: name.map(Into::into),
            group: None,
        })
    }

    fn results() -> Results {
        let mut results = Results {
            duration: Duration::from_secs(10),
            ..Results::default()
        };
        for ms in 1..=100 {
            results.record(Sample::Trend(
                key("http_req_duration", Some("api")),
                Duration::from_millis(ms),
            ));
        }
        results.record(Sample::Count(key("http_reqs", None), 100));
        for failed in [true, false, false, false] {
            results.record(Sample::Rate(key("http_req_failed", None), failed));
        }
        results
    }

    #[test]
    fn judges_each_aggregation() {
        let results = results();
        let table = [
            ("http_req_duration", "p95 < 96ms", true, 95.0),
            ("http_req_duration", "p95 < 95ms", false, 95.0),
            ("http_req_duration{name:api}", "max <= 100ms", true, 100.0),
            ("http_req_duration", "med == 50ms", true, 50.0),
            ("http_req_duration", "count == 100", true, 100.0),
            ("http_reqs", "rate >= 10", true, 10.0),
            ("http_reqs", "count < 100", false, 100.0),
            ("http_req_failed", "rate < 30%", true, 0.25),
            ("http_req_failed", "rate < 0.2", false, 0.25),
        ];
        for (key, check, passed, value) in table {
            let verdict = judge(&[rule(key, check)], &results, None);
            let outcome = &verdict.outcomes[0];
            assert_eq!(outcome.passed, passed, "{key} {check}: {outcome:?}");
            let measured = outcome.value.unwrap();
            assert!((measured - value).abs() < 0.1, "{key} {check}: {measured}");
        }
    }

    #[test]
    fn missing_samples_and_baselines_fail_with_a_reason() {
        let results = results();
        let verdict = judge(&[rule("ws_connect_errors", "count == 0")], &results, None);
        assert!(verdict.passed(), "a counter without samples is zero");
        let verdict = judge(&[rule("ws_connect_time", "count == 0")], &results, None);
        assert!(verdict.passed(), "a trend without samples counts zero");
        assert_eq!(verdict.outcomes[0].value, Some(0.0));
        let verdict = judge(&[rule("ws_connect_time", "p95 < 1s")], &results, None);
        assert!(!verdict.passed());
        assert_eq!(
            verdict.outcomes[0].reason.as_deref(),
            Some("`ws_connect_time` has no samples")
        );
        let regression = rule("http_req_duration", "p95 < baseline * 1.2");
        let verdict = judge(std::slice::from_ref(&regression), &results, None);
        assert_eq!(
            verdict.outcomes[0].reason.as_deref(),
            Some("no baseline run was given (--baseline FILE)")
        );
        let verdict = judge(&[regression], &results, Some(&results));
        assert!(verdict.passed());
        assert!((verdict.outcomes[0].limit.unwrap() - 114.0).abs() < 0.2);
    }
}
