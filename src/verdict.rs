//! The verdict: each threshold judged against the results — a pure function.
//!
//! An [`Outcome`] carries the threshold as the plan parsed it (selector and check), the
//! unit its figures are in and a [`Status`]; reports render from it and never parse the
//! threshold text again. Outcomes are saved in the results JSON in the shape earlier
//! versions wrote ([`OutcomeRecord`]); reading one back parses its text once, in
//! `verdict/outcome.rs`.

mod outcome;

pub use outcome::{FigureUnit, Outcome, OutcomeRecord, Reason, Status, UnreadableOutcome};

use crate::plan::ThresholdRule;
use crate::plan::metric::MetricKind;
use crate::plan::threshold::{Check, Operand, Unit};
use crate::results::{Results, SeriesKey};

/// Every threshold's outcome.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Verdict {
    pub outcomes: Vec<Outcome>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.outcomes.iter().all(|o| o.status.passed())
    }

    /// The first run of a plan with `baseline: latest` has nothing to compare with: its
    /// `baseline * k` checks pass, marked as skipped, instead of failing.
    pub fn skip_missing_baseline(&mut self) {
        for outcome in &mut self.outcomes {
            if outcome.status.reason() == Some(&Reason::NoBaseline) {
                outcome.set_status(Status::Skipped {
                    reason: Reason::NoEarlierRun,
                });
            }
        }
    }
}

impl Verdict {
    /// Marks the outcomes at these indices (the rules' order) skipped: thresholds of the
    /// scenarios named beside them, which the run left out (`--scenario`) and which have no
    /// data by design, so they pass as skipped instead of failing.
    /// Skips every threshold of a segment run (`--segment I/N`): a segment measured a
    /// share of the run, and `loadplan merge` judges the thresholds once on the whole.
    /// (`abort_on_fail` thresholds were judged during the run, on the segment's share.)
    pub fn skip_for_segment(&mut self) {
        for outcome in &mut self.outcomes {
            outcome.value = None;
            outcome.limit = None;
            outcome.set_status(Status::Skipped {
                reason: Reason::Segment,
            });
        }
    }

    pub fn skip_not_run(&mut self, not_run: &[(usize, String)]) {
        for (index, scenario) in not_run {
            if let Some(outcome) = self.outcomes.get_mut(*index) {
                outcome.value = None;
                outcome.limit = None;
                outcome.set_status(Status::Skipped {
                    reason: Reason::ScenarioNotRun(scenario.clone()),
                });
            }
        }
    }
}

/// Whether a collected `…_seconds` metric is compared in milliseconds: Prometheus metrics
/// are in seconds by convention, and a threshold written with a time unit is normalised to ms.
pub fn seconds_in_ms(metric: &str, check: &Check) -> bool {
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
            let mut outcome = Outcome::new(rule);
            let fail = |mut outcome: Outcome, reason: Reason| {
                outcome.set_status(Status::Failed {
                    reason: Some(reason),
                });
                outcome
            };
            let value = match figure(rule, results) {
                Ok(value) => value,
                Err(why) => return fail(outcome, Reason::NoFigure(why)),
            };
            outcome.value = Some(value);
            let limit = match rule.check.operand {
                // Collected and derived figures are numbers in their own unit: `80%` of
                // `cpu_percent` or of an `…_percent` derived metric means 80.
                Operand::Value {
                    value,
                    unit: Unit::Percent,
                } if outcome.unit.is_own() => value * 100.0,
                Operand::Value { value, .. } => value,
                Operand::Baseline { factor } => match baseline.map(|b| figure(rule, b)) {
                    Some(Ok(base)) => base * factor,
                    Some(Err(why)) => return fail(outcome, Reason::NoBaselineFigure(why)),
                    None => return fail(outcome, Reason::NoBaseline),
                },
            };
            outcome.limit = Some(limit);
            outcome.set_status(if rule.check.operator.holds(value, limit) {
                Status::Passed
            } else {
                Status::Failed { reason: None }
            });
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
        if !crate::plan::metric::TAGS.contains(&tag.as_str()) {
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
            response: None,
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
            assert_eq!(outcome.passed(), passed, "{key} {check}: {outcome:?}");
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
            verdict.outcomes[0].status,
            Status::Failed {
                reason: Some(Reason::NoFigure("`ws_connect_time` has no samples".into()))
            }
        );
        let regression = rule("http_req_duration", "p95 < baseline * 1.2");
        let verdict = judge(std::slice::from_ref(&regression), &results, None);
        assert_eq!(
            verdict.outcomes[0].status.reason().map(ToString::to_string),
            Some("no baseline run was given (--baseline FILE)".to_owned())
        );
        let mut skipped = verdict.clone();
        skipped.skip_missing_baseline();
        assert!(skipped.passed());
        assert_eq!(
            skipped.outcomes[0].status,
            Status::Skipped {
                reason: Reason::NoEarlierRun
            }
        );
        let verdict = judge(&[regression], &results, Some(&results));
        assert!(verdict.passed());
        assert!((verdict.outcomes[0].limit.unwrap() - 114.0).abs() < 0.2);
    }

    /// A threshold of a scenario `--scenario` left out has no samples by design: skipped
    /// (a pass), and read back from a results file as the same reason.
    #[test]
    fn thresholds_of_scenarios_not_run_are_skipped_and_read_back() {
        let rules = [
            rule("http_req_failed{scenario:other}", "rate == 0"),
            rule("http_req_failed", "rate < 0.2"),
        ];
        let mut verdict = judge(&rules, &Results::default(), None);
        assert!(!verdict.passed());
        verdict.skip_not_run(&[(0, "other".to_owned())]);
        assert_eq!(
            verdict.outcomes[0].status,
            Status::Skipped {
                reason: Reason::ScenarioNotRun("other".to_owned())
            }
        );
        assert!(verdict.outcomes[1].status.reason().is_some());
        let saved = serde_json::to_value(&verdict).unwrap();
        assert_eq!(
            saved["outcomes"][0]["reason"],
            "skipped: scenario `other` does not run (--scenario)"
        );
        let read: Verdict = serde_json::from_value(saved).unwrap();
        assert_eq!(read.outcomes[0].status, verdict.outcomes[0].status);
    }

    #[test]
    fn saved_outcomes_keep_their_shape() {
        let results = results();
        let rules = [
            rule("http_req_duration{name:api}", "p95 < 96ms"),
            rule("http_req_failed", "rate < 0.2"),
            rule("ws_connect_time", "p95 < 1s"),
            rule("http_req_duration", "p95 < baseline * 1.2"),
        ];
        let mut verdict = judge(&rules, &results, None);
        let first = serde_json::to_value(&verdict).unwrap();
        verdict.skip_missing_baseline();
        for verdict in [first, serde_json::to_value(&verdict).unwrap()] {
            let read: Verdict = serde_json::from_value(verdict.clone()).unwrap();
            assert_eq!(serde_json::to_value(&read).unwrap(), verdict);
        }
        let saved = serde_json::json!({
            "key": "mock.latency_seconds", "check": "p95 < 50ms", "value": 0.48,
            "limit": 50.0, "passed": true, "reason": null, "plain": true
        });
        let read: Outcome = serde_json::from_value(saved.clone()).unwrap();
        assert_eq!(read.unit, FigureUnit::OwnSecondsInMillis);
        assert_eq!(read.status, Status::Passed);
        assert_eq!(serde_json::to_value(&read).unwrap(), saved);
        let units = [
            ("http_req_failed", "rate < 0.2", FigureUnit::Fraction),
            ("http_reqs", "rate > 1", FigureUnit::Number),
            ("ws_connect_time", "count > 1", FigureUnit::Number),
            ("my_trend", "p90 < 2s", FigureUnit::Millis),
            ("my_counter", "count > 1", FigureUnit::Number),
        ];
        for (key, check, unit) in units {
            let saved = serde_json::json!({
                "key": key, "check": check, "value": null, "limit": null,
                "passed": false, "reason": "`x` has no samples"
            });
            let read: Outcome = serde_json::from_value(saved).unwrap();
            assert_eq!(read.unit, unit, "{key} {check}");
        }
    }
}
