//! `fill:` of a `markdown` output and `columns:` of a `csv` output: their keys go together,
//! and every metric and figure they name exists.

use super::thresholds::Metrics;
use super::{Analyzer, path, scope};
use crate::diag::did_you_mean;
use crate::plan::expr::Expr;
use crate::plan::metric::MetricKind;
use crate::plan::model::Output;
use crate::plan::output::MarkdownOutput;
use crate::plan::table::{self, CsvColumn, FILL_FIGURES, RUN_COLUMNS};
use crate::plan::threshold::{Selector, parse_selector};
use crate::plan::yaml::Path;

impl Analyzer<'_, '_> {
    /// A `fill`'s place among the Markdown keys, and its heading template.
    pub(super) fn fill_keys(
        &mut self,
        base: &Path,
        markdown: &MarkdownOutput,
        scope: &scope::Scope<'_>,
    ) {
        let Some(fill) = &markdown.fill else {
            return;
        };
        let at = [base.clone(), path!["fill"]].concat();
        if markdown.append_to.is_none() {
            self.error_key(
                &at,
                "`fill` fills a table of the document given by `append_to`",
                Some(
                    "add `append_to: docs/baselines.md` (the document that holds the table)".into(),
                ),
            );
        }
        for (key, set) in [
            ("under", markdown.under.is_some()),
            ("section", markdown.section.is_some()),
            ("template", markdown.template.is_some()),
            ("row_template", markdown.row_template.is_some()),
        ] {
            if set {
                self.error_key(
                    &[base.clone(), path![key]].concat(),
                    format!("`{key}` places a report; with `fill` the output fills a table instead"),
                    Some("give the table's heading as `fill.under`, and the report its own `markdown` output".into()),
                );
            }
        }
        self.template(
            &[at.clone(), path!["under"]].concat(),
            fill.under.as_str(),
            scope,
        );
        if fill.under.as_str().trim().is_empty() {
            self.error(
                &[at.clone(), path!["under"]].concat(),
                "`fill.under` is the heading above the table (`### Scale Test Results`)",
                None,
            );
        }
        for (header, figure) in &fill.columns {
            if !FILL_FIGURES.contains(&figure.trim().to_lowercase().as_str()) {
                self.error(
                    &[at.clone(), path!["columns", header.as_str()]].concat(),
                    format!("`{figure}` is not a figure a table shows"),
                    did_you_mean(figure, FILL_FIGURES)
                        .or_else(|| Some(format!("figures are {}", FILL_FIGURES.join(", ")))),
                );
            }
        }
    }

    /// The metrics of every `fill.rows` and the expressions of every `csv` column.
    pub(super) fn tables(&mut self, metrics: &Metrics, derived: &[(String, Expr)]) {
        let mut names = metrics.all_names();
        names.sort();
        for (index, output) in self.plan.outputs.iter().enumerate() {
            match output {
                Output::Markdown(MarkdownOutput {
                    fill: Some(fill), ..
                }) => {
                    for (label, selector) in &fill.rows {
                        let at =
                            path!["outputs", index, "markdown", "fill", "rows", label.as_str()];
                        let parsed = match parse_selector(selector.trim()) {
                            Ok(parsed) if parsed.label.is_none() => parsed,
                            _ => {
                                self.error(
                                    &at,
                                    format!("`{selector}` is not a metric (`ws_connect_time`) or a metric with a tag filter (`http_req_duration{{name:broadcast}}`)"),
                                    None,
                                );
                                continue;
                            }
                        };
                        if !parsed.tags.is_empty() && !self.threshold_on(&parsed) {
                            self.error(
                                &at,
                                format!("no threshold is on `{selector}`: a row with a tag filter shows the figures of a threshold's filter"),
                                Some(format!("add a threshold with the key `{selector}`, or name the metric alone")),
                            );
                        }
                        let metric = &parsed.metric;
                        match metrics.kind(metric) {
                            Some(
                                MetricKind::Trend
                                | MetricKind::Counter
                                | MetricKind::Rate
                                | MetricKind::Gauge,
                            ) => {}
                            Some(kind) => self.error(
                                &at,
                                format!("`{metric}` is a {}; a table row shows a metric the run measures", kind.name()),
                                None,
                            ),
                            None => self.error(
                                &at,
                                format!("unknown metric `{metric}`"),
                                did_you_mean(metric, names.iter().map(String::as_str)),
                            ),
                        }
                    }
                }
                Output::Csv(csv) => {
                    let Some(columns) = csv.columns() else {
                        continue;
                    };
                    if columns.is_empty() {
                        self.error(
                            &path!["outputs", index, "csv", "columns"],
                            "a CSV history needs at least one column",
                            Some("name one (`p95_ms: http_req_duration.p95`), or give `csv` a path for every column".into()),
                        );
                    }
                    for (name, expression) in columns {
                        let at = path!["outputs", index, "csv", "columns", name.as_str()];
                        if let Some((message, help)) =
                            self.csv_column(expression, metrics, derived, &names)
                        {
                            self.error(&at, message, help);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Whether a threshold's key has the metric and tag filters of `selector`.
    fn threshold_on(&self, selector: &Selector) -> bool {
        let mut want = selector.tags.clone();
        want.sort();
        self.plan.thresholds.keys().any(|key| {
            parse_selector(key).is_ok_and(|key| {
                let mut have = key.tags;
                have.sort();
                key.metric == selector.metric && have == want
            })
        })
    }

    /// Why `expression` is not a column, and a suggestion.
    fn csv_column(
        &self,
        expression: &str,
        metrics: &Metrics,
        derived: &[(String, Expr)],
        names: &[String],
    ) -> Option<(String, Option<String>)> {
        match CsvColumn::parse(expression) {
            CsvColumn::Run(_) => None,
            CsvColumn::Derived(name) => (!derived.iter().any(|(d, _)| d == name)).then(|| {
                (
                    format!("no derived metric is called `{name}`"),
                    did_you_mean(name, derived.iter().map(|(d, _)| d.as_str())),
                )
            }),
            CsvColumn::Unknown => Some((
                format!("`{expression}` is neither a run column nor `METRIC.FIGURE`"),
                did_you_mean(expression, RUN_COLUMNS).or_else(|| {
                    Some(format!(
                        "a column is a run column ({}), `METRIC.FIGURE` (`http_req_duration.p95`) or `derived.NAME`",
                        RUN_COLUMNS.join(", ")
                    ))
                }),
            )),
            CsvColumn::Figure { metric, figure } => match metrics.kind(metric) {
                None => Some((
                    format!("unknown metric `{metric}`"),
                    did_you_mean(metric, names.iter().map(String::as_str)),
                )),
                Some(kind) => {
                    let figures = table::csv_figures(kind);
                    figures
                        .iter()
                        .all(|(name, _)| *name != figure)
                        .then(|| {
                            let list: Vec<&str> = figures.iter().map(|(n, _)| *n).collect();
                            (
                                format!("a {} has no figure `{figure}`", kind.name()),
                                did_you_mean(figure, list.iter().copied())
                                    .or_else(|| Some(format!("its figures are {}", list.join(", ")))),
                            )
                        })
                }
            },
        }
    }
}
