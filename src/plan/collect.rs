//! `collect:` sources: server-side metrics sampled beside the load.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::template::Template;
use super::units::Duration;

/// A source of server-side metrics. Its metrics are named `SOURCE.metric`, where `SOURCE`
/// is its `name` (default: the kind, `prometheus`, `json`, `process` or `command`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum CollectSource {
    /// Scrape a Prometheus text endpoint: counters become deltas and rates, gauges
    /// start/end/avg/min/max, histograms and summaries p50/p95/p99 of the stage's window.
    Prometheus(PrometheusSource),
    /// Poll a JSON endpoint and read fields by JSON pointer (NATS `/varz`, `/jsz`).
    Json(JsonSource),
    /// Sample a local process from /proc: CPU %, RSS, threads, open files.
    Process(ProcessSource),
    /// Run a command and parse its output as Prometheus text or JSON.
    Command(CommandSource),
}

impl CollectSource {
    /// The prefix of this source's metrics.
    pub fn name(&self) -> &str {
        let (explicit, kind) = match self {
            Self::Prometheus(source) => (&source.name, "prometheus"),
            Self::Json(source) => (&source.name, "json"),
            Self::Process(source) => (&source.name, "process"),
            Self::Command(source) => (&source.name, "command"),
        };
        explicit.as_deref().unwrap_or(kind)
    }

    /// The sampling interval the plan gives, if any.
    pub fn every(&self) -> Option<Duration> {
        match self {
            Self::Prometheus(source) => source.every,
            Self::Json(source) => source.every,
            Self::Process(source) => source.every,
            Self::Command(source) => source.every,
        }
    }
}

/// A Prometheus text-format endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrometheusSource {
    /// Prefix of this source's metrics (default `prometheus`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub name: Option<String>,
    /// URL template of the endpoint.
    #[schemars(example = "{{ env.base_url }}/metrics")]
    pub url: Template,
    /// Sampling interval (default 5s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Duration>,
    /// Keep only metrics whose names are listed (default: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub select: Vec<String>,
    /// Keep only series with these label values.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
}

/// A JSON endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonSource {
    /// Prefix of this source's metrics (default `json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub name: Option<String>,
    /// URL template of the endpoint.
    pub url: Template,
    /// Sampling interval (default 5s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Duration>,
    /// Metric names and the JSON pointers (`/in_msgs`) of their values.
    #[schemars(extend("minProperties" = 1))]
    pub fields: IndexMap<String, String>,
    /// Whether the fields are counters (reported as deltas) or gauges (default).
    #[serde(default)]
    pub kind: JsonFieldKind,
}

/// How a JSON field is aggregated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JsonFieldKind {
    /// A value that only grows: reported as the delta over the stage and a rate.
    Counter,
    /// A value that goes up and down: reported as start/end/avg/min/max.
    #[default]
    Gauge,
}

/// A local process: exactly one of `pid`, `pid_file` and `process_name`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessSource {
    /// Prefix of this source's metrics (default `process`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub name: Option<String>,
    /// The process id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// A file holding the process id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = "/run/app.pid")]
    pub pid_file: Option<String>,
    /// The process's command name, as in /proc/PID/comm (loadplan itself when it matches, as
    /// with `mock: true`; otherwise the oldest match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_name: Option<String>,
    /// Sampling interval (default 5s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Duration>,
}

/// A command whose output is parsed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandSource {
    /// Prefix of this source's metrics (default `command`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub name: Option<String>,
    /// The command line, run by `sh -c` in the plan file's folder (or `--workdir`), as
    /// written: `{{` in it is not a template (`docker stats --format '{{.CPUPerc}}'` works).
    #[schemars(extend("x-verbatim" = true))]
    pub run: String,
    /// Sampling interval (default 5s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Duration>,
    /// How its output is read.
    pub parse: CommandParse,
    /// For `parse: json`, metric names and JSON pointers into the output.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub fields: IndexMap<String, String>,
    /// Kill the command after this long (default 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

/// The format of a command's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommandParse {
    Prometheus,
    Json,
}
