//! The metrics a plan can name: built-in ones (k6's names where k6 has one), custom ones
//! declared by steps (`metric:`), collected ones (`SOURCE.name`, with the fixed names of a
//! `process` source) and derived ones.

use super::threshold::Aggregation;

/// What kind of values a metric holds, which decides the aggregations that fit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Sums: `count`, `rate` (per second).
    Counter,
    /// Share of true samples: `rate`.
    Rate,
    /// Durations in a histogram: `avg`, `min`, `med`, `max`, `pN`, `count`.
    Trend,
    /// A level over time: `value` (last), `min`, `max`, `avg`.
    Gauge,
    /// Server-side metrics, whose type is only known when they are scraped: any aggregation.
    Collected,
    /// A number computed after the run: `value`.
    Derived,
}

impl MetricKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Rate => "rate",
            Self::Trend => "trend",
            Self::Gauge => "gauge",
            Self::Collected => "collected metric",
            Self::Derived => "derived metric",
        }
    }

    /// Whether `aggregation` can be computed for this kind of metric.
    pub fn accepts(self, aggregation: Aggregation) -> bool {
        use Aggregation as A;
        match self {
            Self::Counter => matches!(aggregation, A::Count | A::Rate),
            Self::Rate => matches!(aggregation, A::Rate),
            Self::Trend => matches!(
                aggregation,
                A::Avg | A::Min | A::Med | A::Max | A::Percentile(_) | A::Count
            ),
            Self::Gauge => matches!(aggregation, A::Value | A::Min | A::Max | A::Avg),
            Self::Collected => true,
            Self::Derived => matches!(aggregation, A::Value),
        }
    }

    /// The aggregations that fit, for messages.
    pub fn aggregations(self) -> &'static str {
        match self {
            Self::Counter => "count, rate",
            Self::Rate => "rate",
            Self::Trend => "avg, min, med, max, pN, count",
            Self::Gauge => "value, min, max, avg",
            Self::Collected => "any",
            Self::Derived => "value",
        }
    }
}

/// Built-in metrics and their kinds.
pub const BUILTIN: [(&str, MetricKind); 36] = [
    ("http_reqs", MetricKind::Counter),
    ("http_req_duration", MetricKind::Trend),
    ("http_req_failed", MetricKind::Rate),
    ("http_req_waiting", MetricKind::Trend),
    ("ws_connect_time", MetricKind::Trend),
    ("ws_connect_errors", MetricKind::Counter),
    ("ws_connections_active", MetricKind::Gauge),
    ("ws_msgs_sent", MetricKind::Counter),
    ("ws_msgs_received", MetricKind::Counter),
    ("ws_message_latency", MetricKind::Trend),
    ("ws_session_duration", MetricKind::Trend),
    ("ws_reconnect_time", MetricKind::Trend),
    ("broadcast_delivery_time", MetricKind::Trend),
    ("broadcast_delivered", MetricKind::Rate),
    ("vus", MetricKind::Gauge),
    ("vus_max", MetricKind::Gauge),
    ("iterations", MetricKind::Counter),
    ("iteration_duration", MetricKind::Trend),
    ("dropped_iterations", MetricKind::Counter),
    ("iterations_interrupted", MetricKind::Counter),
    ("iteration_backoffs", MetricKind::Counter),
    ("checks", MetricKind::Rate),
    ("data_sent", MetricKind::Counter),
    ("data_received", MetricKind::Counter),
    ("errors", MetricKind::Counter),
    ("http_req_duration_corrected", MetricKind::Trend),
    ("iteration_duration_corrected", MetricKind::Trend),
    ("ws_message_latency_corrected", MetricKind::Trend),
    // Per step with `chance:`: whether the draw ran it (the realised share); per step with
    // `if:`: whether its condition held. Tagged `name` with [`crate::plan::step::Step::guard_name`].
    ("step_chance", MetricKind::Rate),
    ("step_if", MetricKind::Rate),
    ("ws_sequence_messages", MetricKind::Counter),
    ("ws_sequence_gaps", MetricKind::Counter),
    ("ws_sequence_duplicates", MetricKind::Counter),
    ("ws_sequence_reorders", MetricKind::Counter),
    ("ws_sequence_invalid", MetricKind::Counter),
    // Samples a live output (`prometheus`) could not deliver (exec/remote_write.rs).
    ("output_dropped", MetricKind::Counter),
];

/// The metrics of a `process` source, in report order: what `collect/process.rs` reads
/// from /proc, named here so the analyzer knows them without depending on the reader.
pub const PROCESS_METRICS: [&str; 5] = [
    "cpu_percent",
    "cpu_seconds_total",
    "rss_bytes",
    "threads",
    "open_fds",
];

/// Tags every sample carries and thresholds can filter on.
pub const TAGS: [&str; 8] = [
    "scenario",
    "phase",
    "stage",
    "name",
    "group",
    "method",
    "status",
    "expected_response",
];

/// The scenario names `setup:` and `teardown:` steps record under: a plan's scenarios
/// cannot take them, so a series' `phase` tag follows from its scenario ([`phase_of`]).
pub const PHASE_SCENARIOS: [&str; 2] = ["setup", "teardown"];

/// The values of the `phase` tag: `setup`, `load` (every scenario's VUs) and `teardown`.
pub const PHASES: [&str; 3] = ["setup", "load", "teardown"];

/// The `phase` tag of a series recorded under `scenario`.
pub fn phase_of(scenario: &str) -> &'static str {
    match scenario {
        "setup" => "setup",
        "teardown" => "teardown",
        _ => "load",
    }
}

/// Tags of how an HTTP request fared, recorded on [`RESPONSE_METRICS`] only:
/// `expected_response` (`false` for a failed request: transport error, timeout, a missed
/// `expect`), `status` (0 for no response) and `method`.
pub const RESPONSE_TAGS: [&str; 3] = ["method", "status", "expected_response"];

/// The metrics every HTTP request records, answered or not, with [`RESPONSE_TAGS`].
pub const RESPONSE_METRICS: [&str; 4] = [
    "http_reqs",
    "http_req_duration",
    "http_req_waiting",
    "http_req_failed",
];

pub fn builtin(name: &str) -> Option<MetricKind> {
    BUILTIN
        .iter()
        .find(|(builtin, _)| *builtin == name)
        .map(|(_, kind)| *kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_phase_follows_from_its_scenario() {
        assert_eq!(phase_of("setup"), "setup");
        assert_eq!(phase_of("teardown"), "teardown");
        assert_eq!(phase_of("participant"), "load");
        // Run-wide series (`vus`, `data_sent`) have no scenario: they are the load's.
        assert_eq!(phase_of(""), "load");
        assert!(
            PHASE_SCENARIOS
                .iter()
                .all(|s| PHASES.contains(&phase_of(s)))
        );
        assert!(TAGS.contains(&"phase"));
    }
}
