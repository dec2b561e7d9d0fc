//! One threshold's outcome as the verdict records it and reports render it: the threshold
//! parsed (selector and check), the unit of its figures, and its [`Status`]. The results
//! JSON stores it as an [`OutcomeRecord`], the shape every version has written; reading
//! one back parses its text here, once.

use std::fmt;

use super::seconds_in_ms;
use crate::plan::ThresholdRule;
use crate::plan::metric::MetricKind;
use crate::plan::threshold::{Aggregation, Check, Operand, Selector, parse_check, parse_selector};

/// How one threshold came out.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "OutcomeRecord", into = "OutcomeRecord")]
pub struct Outcome {
    /// The threshold key as written (`http_req_duration{name:broadcast}`).
    pub key: String,
    /// The key parsed: the metric and its tag filters.
    pub selector: Selector,
    /// The check as written (`p95 < 300ms`).
    pub check: String,
    /// The check parsed.
    pub parsed: Check,
    /// The unit of `value` and `limit`.
    pub unit: FigureUnit,
    /// The measured figure, when there is one.
    pub value: Option<f64>,
    /// The limit it was compared with.
    pub limit: Option<f64>,
    pub status: Status,
}

/// Whether a threshold held.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Passed,
    /// The figure broke the limit, or could not be judged (`reason` says why).
    Failed {
        reason: Option<Reason>,
    },
    /// Not judged, and counted as passed: a `baseline * k` check on the first run of a plan.
    Skipped {
        reason: Reason,
    },
}

impl Status {
    /// Passed or skipped.
    pub fn passed(&self) -> bool {
        !matches!(self, Self::Failed { .. })
    }

    pub fn skipped(&self) -> bool {
        matches!(self, Self::Skipped { .. })
    }

    /// Why there is no comparison, if there is none.
    pub fn reason(&self) -> Option<&Reason> {
        match self {
            Self::Passed => None,
            Self::Failed { reason } => reason.as_ref(),
            Self::Skipped { reason } => Some(reason),
        }
    }
}

/// Why a threshold was not compared.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// The run has no figure for it; the text says why (`` `ws_connect_time` has no
    /// samples ``, a derived value that is n/a, a source that failed).
    NoFigure(String),
    /// A `baseline * k` check whose baseline run has no figure for it.
    NoBaselineFigure(String),
    /// A `baseline * k` check, and no baseline run was given.
    NoBaseline,
    /// A `baseline * k` check on the first run of a plan (`baseline: latest` found none).
    NoEarlierRun,
    /// A threshold of a scenario this run left out (`--scenario`): it has no data by design.
    ScenarioNotRun(String),
    /// A segment of a split run (`--segment I/N`): its figures are a share of the run's,
    /// so its thresholds are judged once, on the merged run (`loadplan merge`).
    Segment,
}

const NO_BASELINE: &str = "no baseline run was given (--baseline FILE)";
const NO_EARLIER_RUN: &str = "skipped: no earlier run to compare with yet";
const NO_BASELINE_FIGURE: &str = "the baseline has no figure: ";
const SEGMENT: &str =
    "skipped: this segment is a share of the run; loadplan merge judges the whole";
const NOT_RUN: (&str, &str) = ("skipped: scenario `", "` does not run (--scenario)");

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoFigure(why) => f.write_str(why),
            Self::NoBaselineFigure(why) => write!(f, "{NO_BASELINE_FIGURE}{why}"),
            Self::NoBaseline => f.write_str(NO_BASELINE),
            Self::NoEarlierRun => f.write_str(NO_EARLIER_RUN),
            Self::ScenarioNotRun(scenario) => write!(f, "{}{scenario}{}", NOT_RUN.0, NOT_RUN.1),
            Self::Segment => f.write_str(SEGMENT),
        }
    }
}

impl Reason {
    /// The reason a results file recorded as text.
    fn from_text(text: &str) -> Self {
        match text {
            NO_BASELINE => Self::NoBaseline,
            NO_EARLIER_RUN => Self::NoEarlierRun,
            SEGMENT => Self::Segment,
            _ => match text.strip_prefix(NO_BASELINE_FIGURE) {
                Some(why) => Self::NoBaselineFigure(why.to_owned()),
                None => match text
                    .strip_prefix(NOT_RUN.0)
                    .and_then(|rest| rest.strip_suffix(NOT_RUN.1))
                {
                    Some(scenario) => Self::ScenarioNotRun(scenario.to_owned()),
                    None => Self::NoFigure(text.to_owned()),
                },
            },
        }
    }
}

/// The unit of a threshold's value and limit, decided by the metric's kind and the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FigureUnit {
    /// Milliseconds: a trend's times.
    Millis,
    /// A fraction, shown as a percentage: a rate metric's share of true samples.
    Fraction,
    /// A plain number: a count, a counter's rate per second, a gauge.
    Number,
    /// A collected or derived metric's figure, in the metric's own unit (`80%` of
    /// `cpu_percent` is 80).
    Own,
    /// A collected `…_seconds` metric checked against a time, compared in milliseconds.
    OwnSecondsInMillis,
}

impl FigureUnit {
    /// The unit of `check` on `metric`; `kind` is `None` for a custom metric read back
    /// from a results file, whose kind the aggregation tells (custom metrics are trends
    /// and counters).
    pub fn of(kind: Option<MetricKind>, metric: &str, check: &Check) -> Self {
        use Aggregation as A;
        match (kind, check.aggregation) {
            (Some(MetricKind::Collected | MetricKind::Derived), _) => {
                if seconds_in_ms(metric, check) {
                    Self::OwnSecondsInMillis
                } else {
                    Self::Own
                }
            }
            (_, A::Count) => Self::Number,
            (Some(MetricKind::Trend), _) => Self::Millis,
            (Some(MetricKind::Rate), _) => Self::Fraction,
            (Some(MetricKind::Counter | MetricKind::Gauge), _) => Self::Number,
            (None, A::Avg | A::Min | A::Med | A::Max | A::Percentile(_)) => Self::Millis,
            (None, A::Rate | A::Value) => Self::Number,
        }
    }

    /// A collected or derived metric's figure (saved as `plain` in the results JSON).
    pub fn is_own(self) -> bool {
        matches!(self, Self::Own | Self::OwnSecondsInMillis)
    }
}

impl Outcome {
    /// Not judged yet: failed, without a figure.
    pub(super) fn new(rule: &ThresholdRule) -> Self {
        Self {
            key: rule.key.clone(),
            selector: rule.selector.clone(),
            check: rule.source.clone(),
            parsed: rule.check.clone(),
            unit: FigureUnit::of(Some(rule.kind), &rule.selector.metric, &rule.check),
            value: None,
            limit: None,
            status: Status::Failed { reason: None },
        }
    }

    pub fn set_status(&mut self, status: Status) {
        self.status = status;
    }

    /// Passed or skipped.
    pub fn passed(&self) -> bool {
        self.status.passed()
    }

    /// The limit comes from the baseline run (`baseline * k`).
    pub fn is_regression(&self) -> bool {
        matches!(self.parsed.operand, Operand::Baseline { .. })
    }
}

/// An [`Outcome`] as the results JSON holds it — the shape every version has written.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OutcomeRecord {
    pub key: String,
    pub check: String,
    /// ms for times, a fraction for rates, the metric's own unit when `plain`.
    pub value: Option<f64>,
    pub limit: Option<f64>,
    pub passed: bool,
    /// Why it was not compared (no samples, no baseline), or `skipped: …`.
    pub reason: Option<String>,
    /// A collected or derived metric: figures in the metric's own unit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub plain: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
}

impl From<Outcome> for OutcomeRecord {
    fn from(outcome: Outcome) -> Self {
        Self {
            passed: outcome.status.passed(),
            reason: outcome.status.reason().map(ToString::to_string),
            plain: outcome.unit.is_own(),
            skipped: outcome.status.skipped(),
            key: outcome.key,
            check: outcome.check,
            value: outcome.value,
            limit: outcome.limit,
        }
    }
}

/// A saved outcome whose threshold text no longer parses.
#[derive(Debug)]
pub struct UnreadableOutcome(String);

impl fmt::Display for UnreadableOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<OutcomeRecord> for Outcome {
    type Error = UnreadableOutcome;

    /// The one place a saved threshold's text is parsed again.
    fn try_from(record: OutcomeRecord) -> Result<Self, Self::Error> {
        let selector = parse_selector(&record.key).map_err(|e| {
            UnreadableOutcome(format!("threshold key `{}`: {}", record.key, e.message))
        })?;
        let parsed = parse_check(&record.check).map_err(|e| {
            UnreadableOutcome(format!(
                "threshold `{}: {}`: {}",
                record.key, record.check, e.message
            ))
        })?;
        let kind = if record.plain {
            Some(MetricKind::Collected)
        } else {
            crate::plan::metric::builtin(&selector.metric)
        };
        let reason = record.reason.as_deref().map(Reason::from_text);
        let status = match (record.skipped, record.passed, reason) {
            (true, _, reason) => Status::Skipped {
                reason: reason.unwrap_or(Reason::NoEarlierRun),
            },
            (false, true, _) => Status::Passed,
            (false, false, reason) => Status::Failed { reason },
        };
        Ok(Self {
            unit: FigureUnit::of(kind, &selector.metric, &parsed),
            key: record.key,
            selector,
            check: record.check,
            parsed,
            value: record.value,
            limit: record.limit,
            status,
        })
    }
}
