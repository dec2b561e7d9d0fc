//! Reports of a run: the terminal summary, and the outputs — JSON results, Markdown
//! (a file, or written into a document), CSV history, JUnit and an SVG chart — all rendered
//! from one [`model::Report`].
//!
//! ```text
//! Verdict + Results ─▶ json::RunDocument ─▶ build (Report::new) ─▶ model::Report
//!                                                  ├─ collected.rs (server, derived)
//!                                                  └─ baselines.rs (latency + history rows)
//! model::Report ─▶ markdown.rs · history.rs (CSV) · junit.rs · chart.rs
//!               └─ outputs.rs places each one (document.rs edits, write.rs replaces)
//! summary.rs: the terminal, from the verdict and results directly
//! compare/: `loadplan compare`, several RunDocuments side by side (terminal, Markdown, HTML)
//! format.rs: every figure, in either style; error.rs: what callers get back
//! ```
//!
//! Nothing here imports `cli`, `run` or `exec`. Renderers write to an `io::Write`; files
//! are read and written only by `json.rs` (loading results; `git_commit`, which run.rs
//! calls once), `outputs.rs`/`command.rs` (templates, `baseline: latest`) and `write.rs`.

pub mod baselines;
pub mod build;
pub mod chart;
pub mod collected;
pub mod command;
pub mod compare;
pub mod document;
pub mod error;
pub mod fill;
pub mod format;
pub mod history;
pub mod html;
pub mod json;
pub mod junit;
pub mod k8s;
pub mod live;
pub mod markdown;
pub mod merge;
pub mod model;
pub mod outputs;
pub mod remote_write;
pub mod summary;
pub mod write;

pub use error::ReportError;

use crate::results::{Results, SeriesData};

/// One metric's figures, merged over its series: what every report shows.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Figures {
    pub metric: String,
    pub kind: String,
    pub count: u64,
    /// Per second over the run, for counters and trends.
    pub rate: Option<f64>,
    /// Milliseconds, for trends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trend: Option<Trend>,
    /// The share of true samples, for rates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
    /// For gauges: the last value, min and max.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gauge: Option<[f64; 3]>,
}

/// A trend's figures in milliseconds.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Trend {
    pub min: f64,
    pub avg: f64,
    pub med: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// The figures of every metric the run measured.
pub fn figures(results: &Results) -> Vec<Figures> {
    let seconds = results.duration.as_secs_f64().max(1e-9);
    results
        .metrics()
        .into_iter()
        .filter_map(|metric| {
            let data = results.merged(metric, |_| true)?;
            let mut figures = Figures {
                metric: metric.to_owned(),
                kind: String::new(),
                count: 0,
                rate: None,
                trend: None,
                share: None,
                gauge: None,
            };
            match data {
                SeriesData::Trend(h) => {
                    let ms = |v: u64| h.median_equivalent(v) as f64 / 1000.0;
                    figures.kind = "trend".into();
                    figures.count = h.len();
                    figures.rate = Some(h.len() as f64 / seconds);
                    figures.trend = Some(Trend {
                        min: ms(h.min()),
                        avg: h.mean() / 1000.0,
                        med: ms(h.value_at_quantile(0.5)),
                        p90: ms(h.value_at_quantile(0.9)),
                        p95: ms(h.value_at_quantile(0.95)),
                        p99: ms(h.value_at_quantile(0.99)),
                        p999: ms(h.value_at_quantile(0.999)),
                        max: ms(h.max()),
                    });
                }
                SeriesData::Counter(n) => {
                    figures.kind = "counter".into();
                    figures.count = n;
                    figures.rate = Some(n as f64 / seconds);
                }
                SeriesData::Rate { trues, total } => {
                    figures.kind = "rate".into();
                    figures.count = total;
                    figures.share = Some(if total == 0 {
                        0.0
                    } else {
                        trues as f64 / total as f64
                    });
                }
                SeriesData::Gauge { last, min, max } => {
                    figures.kind = "gauge".into();
                    figures.gauge = Some([last, min, max]);
                }
            }
            Some(figures)
        })
        .collect()
}
