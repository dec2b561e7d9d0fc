//! Builds the [`Report`] of a run from its [`RunDocument`] (and an optional baseline run).
//! `loadplan run` and `loadplan report` build it the same way, so a saved run re-renders
//! exactly. Pure: the thresholds are rendered from the verdict's typed outcomes, never
//! from their text.

use indexmap::IndexMap;

use super::baselines::{history_view, table_rows};
use super::collected::{derived_views, server_views, source_views};
use super::error::ReportError;
use super::format::{self, Style};
use super::json::RunDocument;
use super::model::{
    BaselineView, DEFAULT_REGRESSION_FACTOR, Delta, GaugeView, MetricView, Report, ReportOptions,
    RunResult, RunView, ThresholdView,
};
use super::{Figures, Trend};
use crate::verdict::{Outcome, Status};

impl Report {
    /// Builds the report of `run`, compared with `baseline` when given.
    pub fn new(
        run: &RunDocument,
        baseline: Option<&RunDocument>,
        options: &ReportOptions,
    ) -> Result<Self, ReportError> {
        let results = run.results()?;
        let base_results = baseline.map(RunDocument::results).transpose()?;
        let factor = options
            .regression_factor
            .unwrap_or(DEFAULT_REGRESSION_FACTOR);
        let metrics: Vec<MetricView> = run
            .metrics
            .iter()
            .map(|figures| {
                let base = baseline
                    .and_then(|b| b.metrics.iter().find(|m| m.metric == figures.metric))
                    .cloned();
                metric_view(figures, base)
            })
            .collect();
        let metric: IndexMap<String, MetricView> = metrics
            .iter()
            .map(|m| (m.name.clone(), m.clone()))
            .collect();
        let thresholds: Vec<ThresholdView> = run.thresholds.iter().map(threshold_view).collect();
        let tables = table_rows(
            &results,
            run.partial,
            base_results.as_ref(),
            &thresholds,
            factor,
        );
        let passed = thresholds.iter().filter(|t| t.passed).count();
        let result = RunResult::of(run.passed, run.partial, thresholds.len());
        let baseline_file = options
            .baseline_file
            .clone()
            .or_else(|| run.baseline_file.clone());
        let run_view = RunView {
            plan: run.plan.clone(),
            plan_file: run.plan_file.clone(),
            env: run.env.clone(),
            stage: run.stage.clone(),
            started: run.started.clone(),
            finished: run.finished.clone(),
            date: day(&run.started),
            duration_s: run.results.duration_s,
            vus_max: run.results.vus_max,
            loadplan_version: run.loadplan_version.clone(),
            git_commit: run.git_commit.clone(),
            label: options.label.clone().or_else(|| run.label.clone()),
            overrides: run.overrides.clone(),
            passed: run.passed,
            partial: run.partial,
            stopped_early: run.results.stopped_early.clone(),
            errors: run.results.errors.clone(),
            error_count: run.results.errors.values().sum(),
            error_examples: run.results.error_examples.clone(),
            thresholds_passed: passed,
            thresholds_failed: thresholds.len() - passed,
            result,
            verdict: result.text(run.partial).to_owned(),
        };
        let history = history_view(run, &metric, &run_view.date);
        let server = server_views(&run.results.server);
        let derived = derived_views(&run.results.derived);
        Ok(Self {
            run: run_view,
            metrics,
            metric,
            thresholds,
            tables,
            baseline: baseline.map(|b| BaselineView {
                file: baseline_file.clone(),
                file_name: baseline_file.as_deref().map(|file| {
                    std::path::Path::new(file)
                        .file_name()
                        .map_or_else(|| file.to_owned(), |n| n.to_string_lossy().into_owned())
                }),
                started: b.started.clone(),
                date: day(&b.started),
                env: b.env.clone(),
                stage: b.stage.clone(),
                label: b.label.clone(),
                git_commit: b.git_commit.clone(),
                passed: b.passed,
                partial: b.partial,
            }),
            regression_factor: factor,
            chart: None,
            history,
            server_metric: server.iter().map(|m| (m.name.clone(), m.clone())).collect(),
            server,
            sources: source_views(&run.results.sources),
            derived_metric: derived
                .iter()
                .map(|d| (d.name.clone(), d.clone()))
                .collect(),
            derived,
        })
    }
}

pub(super) fn day(timestamp: &str) -> String {
    timestamp.get(..10).unwrap_or(timestamp).to_owned()
}

/// Change from `base` to `now` in percent.
pub fn delta(now: Option<f64>, base: Option<f64>) -> Option<f64> {
    match (now, base) {
        (Some(now), Some(base)) if base != 0.0 && now.is_finite() && base.is_finite() => {
            Some((now - base) / base * 100.0)
        }
        _ => None,
    }
}

fn metric_view(figures: &Figures, baseline: Option<Figures>) -> MetricView {
    let delta = baseline.as_ref().map(|base| {
        let t =
            |f: fn(&Trend) -> f64| delta(figures.trend.as_ref().map(f), base.trend.as_ref().map(f));
        Delta {
            avg: t(|t| t.avg),
            med: t(|t| t.med),
            p90: t(|t| t.p90),
            p95: t(|t| t.p95),
            p99: t(|t| t.p99),
            max: t(|t| t.max),
            count: delta(Some(figures.count as f64), Some(base.count as f64)),
            rate: delta(figures.rate, base.rate),
            share: delta(figures.share, base.share),
        }
    });
    MetricView {
        name: figures.metric.clone(),
        kind: figures.kind.clone(),
        count: figures.count,
        rate: figures.rate,
        trend: figures.trend.clone(),
        share: figures.share,
        gauge: figures
            .gauge
            .map(|[last, min, max]| GaugeView { last, min, max }),
        baseline,
        delta,
    }
}

/// One threshold's outcome with its figures formatted in its unit.
fn threshold_view(outcome: &Outcome) -> ThresholdView {
    let text = |v: Option<f64>| format::threshold(v, outcome.unit, Style::Document);
    ThresholdView {
        key: outcome.key.clone(),
        metric: outcome.selector.metric.clone(),
        tags: outcome.selector.tags.clone(),
        check: outcome.check.clone(),
        value: outcome.value,
        limit: outcome.limit,
        value_text: text(outcome.value),
        limit_text: text(outcome.limit),
        unit: format::unit_name(outcome.unit).to_owned(),
        passed: outcome.status.passed(),
        skipped: outcome.status.skipped(),
        status: match outcome.status {
            Status::Skipped { .. } => "skipped",
            Status::Passed => "pass",
            Status::Failed { .. } => "fail",
        }
        .to_owned(),
        reason: outcome.status.reason().map(ToString::to_string),
        regression: outcome.is_regression(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas() {
        assert_eq!(delta(Some(12.0), Some(10.0)), Some(20.0));
        assert_eq!(delta(Some(12.0), Some(0.0)), None);
    }
}
