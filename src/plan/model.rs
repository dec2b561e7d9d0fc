//! The plan as typed data: what a YAML plan deserialises into once it has passed the schema.
//!
//! These types are the single source of truth for the plan language: `loadplan schema`
//! generates the JSON Schema from them (doc comments become the descriptions editors show),
//! and the analyzer checks what a schema cannot (names, templates, thresholds, step order).
//! Every struct denies unknown fields, so a typo is an error with a suggestion, not a silently
//! ignored key.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::collect::*;
pub use super::output::Output;
pub use super::stage::{ArrivalSegment, RampSegment, Stage};
pub use super::step::*;

/// A load-test plan: where to send load, how much, what each virtual user does, which
/// thresholds must hold and where results go.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "loadplan plan",
    extend("patternProperties" = { "^x-": { "description": "Extension keys (`x-...`) are ignored: a place for YAML anchors shared by the plan (`x-defaults: &defaults`)." } })
)]
pub struct Plan {
    /// The plan's name, shown in every report.
    #[schemars(example = "websocket-performance")]
    pub name: String,

    /// What the plan measures, in a sentence or two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-verbatim" = true))]
    pub description: Option<String>,

    /// Target environments, picked with `--env` (or `LOADPLAN_ENV`); the first one is the
    /// default. Their fields are available to templates as `env.*`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub environments: IndexMap<String, Environment>,

    /// Names of secrets read from the process environment at run time, available to
    /// templates as `secrets.NAME` and redacted in every output.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = ["AUTH_TOKEN"])]
    pub secrets: Vec<String>,

    /// Plan variables, available to templates as `vars.*`. A variable is a plain value
    /// (its default), or a declaration — a mapping with a `from_env` key — that reads the
    /// process environment: `vus: { default: 5, from_env: VUS }`. The value used is the
    /// first of: `--var name=value`, the `from_env` variable, the selected environment's
    /// `vars`, the default.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub vars: IndexMap<String, Var>,

    /// Named stages (smoke, scale, sustained, stress, ...), picked with `--stage` (or
    /// `LOADPLAN_STAGE`); the first one is the default.
    #[schemars(extend("minProperties" = 1))]
    pub stages: IndexMap<String, Stage>,

    /// Data files rows are read from, by name: `users: { csv: users.csv, order: per_vu }`.
    /// Each file is read once when the plan loads and shared by every VU; templates read
    /// the current row's columns as `data.NAME.COLUMN` (`{{ data.users.token }}`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub data: IndexMap<String, DataSource>,

    /// Steps run once before the load (per process: each segment of a split run runs its
    /// own, before the start gate), by a VU of their own (`vu` 0, scenario `setup`). Their
    /// metrics are tagged `phase:setup`; what they capture with `as:` (or set with `set:`)
    /// every VU and the teardown read as `setup.NAME` (`{{ setup.channel.json.id }}`). A
    /// failed setup step, or its timeout, stops the run before any load, with exit code 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<Phase>,

    /// Steps run once after the load, even when it was interrupted (Ctrl-C) or aborted by a
    /// threshold, within their own timeout (a second Ctrl-C cuts them short); not after a
    /// failed setup. They read `setup.NAME` as the VUs do; their metrics are tagged
    /// `phase:teardown`, and a failure is a counted error, not a failed run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown: Option<Phase>,

    /// Named scenarios: what virtual users do. VUs are split over scenarios by `weight`;
    /// a scenario with `vus` gets exactly that many.
    #[schemars(extend("minProperties" = 1))]
    pub scenarios: IndexMap<String, Scenario>,

    /// Thresholds that must hold, keyed by metric (with an optional tag filter
    /// `metric{name:value}` and an optional `#label` to keep two keys apart). See the
    /// threshold grammar in docs/plan-reference.md.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub thresholds: IndexMap<String, Vec<Threshold>>,

    /// Server-side metrics sampled during the run (Prometheus, JSON endpoints, processes,
    /// commands).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collect: Vec<CollectSource>,

    /// Derived metrics: a name and an arithmetic expression over other metrics' figures and
    /// the run's values (`duration_s`, `vus_max`, `vars.*`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub derived: IndexMap<String, String>,

    /// The earlier run that `baseline * k` thresholds and the reports' deltas compare with:
    /// `latest` (the newest complete results JSON of the same plan, environment and stage,
    /// run with the same `--vus`/`--duration`/`--scenario`, in the folders of this plan's
    /// `json` outputs; a run that was interrupted or stopped early is never picked), `latest_passed` (the same, among runs whose thresholds all
    /// passed) or the path of a results JSON file. The report names the run chosen.
    /// `--baseline FILE` overrides it; without a baseline, `baseline * k` thresholds fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"latest")]
    pub baseline: Option<String>,

    /// Where results go: Markdown documents, JSON, CSV history, JUnit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<Output>,

    /// How much of what a server sends one VU may keep in memory: the largest HTTP
    /// response body a check or a capture reads, and the largest WebSocket message.
    /// Beyond them the step fails with a counted `body too large` or `message too large`
    /// error. Bodies nothing reads are counted and discarded as they arrive, whatever
    /// their size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

/// A `setup:` or `teardown:`: a list of steps, or the steps with a timeout.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Phase {
    /// The steps, run in order (default timeout: `1m` for setup, `30s` for teardown).
    Steps(Vec<Step>),
    /// The steps and how long they may take in all.
    Block(PhaseBlock),
}

/// The steps of a `setup:` or `teardown:` and how long they may take.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseBlock {
    /// The steps, run in order.
    #[schemars(length(min = 1))]
    pub steps: Vec<Step>,
    /// How long all the steps may take (default `1m` for setup, `30s` for teardown); past
    /// it a setup fails the run and a teardown is cut short, counted as an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<super::units::Duration>,
}

impl Phase {
    /// The steps.
    pub fn steps(&self) -> &[Step] {
        match self {
            Self::Steps(steps) => steps,
            Self::Block(block) => &block.steps,
        }
    }

    /// The timeout written, if any.
    pub fn timeout(&self) -> Option<super::units::Duration> {
        match self {
            Self::Steps(_) => None,
            Self::Block(block) => block.timeout,
        }
    }
}

/// A data file: `csv:` (with a header row) or `json:` (an array of objects), and how each
/// VU picks its rows.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSource {
    /// A CSV file with a header row, relative to the plan file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"users.csv")]
    pub csv: Option<String>,
    /// A JSON file holding an array of objects, relative to the plan file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"payloads.json")]
    pub json: Option<String>,
    /// How rows are picked (default `sequential`).
    #[serde(default)]
    pub order: DataOrder,
}

/// How rows of a data file are picked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataOrder {
    /// Each iteration takes the next row of one run-wide cursor, starting over after the
    /// last.
    #[default]
    Sequential,
    /// Each iteration takes a row at random (drawn per VU, seeded with its id).
    Random,
    /// Each iteration takes a row no other iteration took in the whole run (across every
    /// segment of a split run); when none is left, the VU's iteration fails with
    /// `data exhausted` and the VU stops.
    Unique,
    /// The VU's own row, the same in all its iterations: VU n reads row n (starting over
    /// after the last row when there are more VUs than rows).
    PerVu,
}

/// What a VU keeps of a server's answers, at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// The largest HTTP response body kept for a request whose `expect` checks the body
    /// (`json`, `json_path`) or that is captured with `as:` (default `10MiB`). A larger
    /// body fails the request with the error `body too large` and closes its connection.
    /// A body no check or capture reads is never kept, so it is not limited.
    #[serde(default = "Limits::default_max_body")]
    pub max_body: super::units::Size,
    /// The largest WebSocket message (and frame) a connection accepts or sends (default
    /// `10MiB`); a `connect` step's `max_message_size` overrides it for its connection.
    /// A larger message received fails the VU's next WebSocket step with the error
    /// `message too large` and ends the connection's reading.
    #[serde(default = "Limits::default_max_message")]
    pub max_message: super::units::Size,
}

impl Limits {
    pub const DEFAULT: Self = Self {
        max_body: super::units::Size(10 << 20),
        max_message: super::units::Size(10 << 20),
    };

    fn default_max_body() -> super::units::Size {
        Self::DEFAULT.max_body
    }

    fn default_max_message() -> super::units::Size {
        Self::DEFAULT.max_message
    }
}

impl Plan {
    /// The plan's `limits`, defaults filled in.
    pub fn limits(&self) -> Limits {
        self.limits.unwrap_or(Limits::DEFAULT)
    }
}

/// A plan variable: a declaration that reads the process environment, or a plain value.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Var {
    /// A variable read from the process environment, with a default.
    Declared(VarDeclaration),
    /// The variable's value (any YAML value).
    Value(serde_json::Value),
}

/// `{ default: 5, from_env: VUS }`: a mapping with a `from_env` key declares a variable;
/// any other value is the variable's value.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VarDeclaration {
    /// The process environment variable that sets it when present (`VUS`, `DURATION`).
    /// Its text is read as YAML reads a plain value: `5` is a number, `30s` a string.
    #[schemars(example = &"VUS", pattern(r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub from_env: String,
    /// The value when neither `--var`, the environment variable nor the selected
    /// environment's `vars` set it. Without a default the variable must be set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// What the variable is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-verbatim" = true))]
    pub description: Option<String>,
}

/// One target environment.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Start the built-in mock target in-process and fill `base_url` and `ws_url` from it.
    /// `true`, or an object choosing the mock's mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock: Option<MockSetting>,

    /// Base URL of the HTTP API, available as `env.base_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = "https://api.staging.example.com")]
    pub base_url: Option<String>,

    /// Base URL of the WebSocket endpoint, available as `env.ws_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = "wss://api.staging.example.com/ws")]
    pub ws_url: Option<String>,

    /// Accept TLS certificates that do not verify (self-signed staging servers).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,

    /// Extra values of this environment, available as `env.NAME`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub values: IndexMap<String, String>,

    /// Overrides of plan `vars` in this environment.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub vars: IndexMap<String, serde_json::Value>,
}

/// `mock: true`, or the built-in mock target's settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum MockSetting {
    /// `true` starts the mock in `fixed` mode; `false` does not start it.
    Enabled(bool),
    /// The mock's mode and response.
    Configured(MockConfig),
}

impl MockSetting {
    pub fn enabled(&self) -> bool {
        !matches!(self, Self::Enabled(false))
    }
}

impl Environment {
    /// The mock setting, when this environment starts the in-process mock target.
    pub fn mock(&self) -> Option<&MockSetting> {
        self.mock.as_ref().filter(|m| m.enabled())
    }
}

/// Settings of the built-in mock target.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MockConfig {
    /// How the mock answers HTTP requests.
    #[serde(default)]
    pub mode: MockMode,
    /// Status of `fixed` mode answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 100, max = 599))]
    pub status: Option<u16>,
    /// Body size of `fixed` mode answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_size: Option<super::units::Size>,
}

/// How the built-in mock answers HTTP requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MockMode {
    /// A fixed status and body size.
    #[default]
    Fixed,
    /// Accepts requests and never answers.
    Timeout,
    /// 401 without `Authorization`, 403 when wrong, 200 for `Bearer test-api-key`.
    Auth,
    /// 80% fast 200, 10% 200 after 2 s, 10% 503.
    Mixed,
}

/// What a group of virtual users does.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario stands for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-verbatim" = true))]
    pub description: Option<String>,

    /// Share of the stage's VUs, relative to the other scenarios' weights (VUs are split by
    /// the Sainte-Laguë method, so a ramp never moves a VU from one scenario to another). Defaults to 1 when neither `weight` nor `vus` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub weight: Option<f64>,

    /// A fixed number of VUs for this scenario in every stage, taken before the weighted
    /// split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vus: Option<u32>,

    /// The steps each VU runs, once per iteration, until its stage stops it.
    #[schemars(length(min = 1))]
    pub steps: Vec<Step>,

    /// Background rules for WebSocket messages that no `expect` step consumed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_message: Vec<OnMessageRule>,

    /// How long a VU waits after a failed iteration before it starts the next one:
    /// exponential back-off with jitter, reset by an iteration that succeeds. On by default
    /// (`initial: 100ms`, `max: 5s`); `off` starts the next iteration at once. Not used in
    /// `arrival` stages, where the schedule decides when iterations start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<BackoffSetting>,
}

/// A scenario's back-off after failed iterations: `off`, or its settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum BackoffSetting {
    /// `off`: the next iteration starts at once after a failure.
    Switch(BackoffSwitch),
    /// The back-off's first and largest wait.
    Settings(Backoff),
}

/// The one word a back-off can be set to instead of its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackoffSwitch {
    // No doc comment: with one, schemars writes a `oneOf` of constants, and an object with
    // a misspelt key would be reported as "expected one of `off`".
    Off,
}

/// Exponential back-off: after the n-th failed iteration in a row the VU waits a random
/// time between half and all of `initial * 2^(n-1)`, capped at `max` ("equal jitter").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    /// The wait after the first failed iteration (before jitter).
    #[serde(default = "Backoff::default_initial")]
    pub initial: super::units::Duration,
    /// The longest wait (before jitter); the doubling stops here.
    #[serde(default = "Backoff::default_max")]
    pub max: super::units::Duration,
}

impl Backoff {
    pub const DEFAULT: Self = Self {
        initial: super::units::Duration(std::time::Duration::from_millis(100)),
        max: super::units::Duration(std::time::Duration::from_secs(5)),
    };

    fn default_initial() -> super::units::Duration {
        Self::DEFAULT.initial
    }

    fn default_max() -> super::units::Duration {
        Self::DEFAULT.max
    }
}

impl Scenario {
    /// The back-off this scenario's VUs use after a failed iteration; `None` when `off`.
    pub fn backoff(&self) -> Option<Backoff> {
        match &self.backoff {
            None => Some(Backoff::DEFAULT),
            Some(BackoffSetting::Switch(BackoffSwitch::Off)) => None,
            Some(BackoffSetting::Settings(backoff)) => Some(*backoff),
        }
    }
}

/// A threshold: a check as a string (`"p95 < 200ms"`) or the long form with abort settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Threshold {
    /// A check: `AGGREGATION OPERATOR VALUE`, e.g. `p95 < 200ms`, `rate < 5%`,
    /// `count < 10`, `p(99.9) <= 1s`, `p95 < baseline * 1.2`.
    #[schemars(example = "p95 < 200ms")]
    Check(String),
    /// A check that can stop the run early.
    Long(LongThreshold),
}

impl Threshold {
    pub fn check(&self) -> &str {
        match self {
            Self::Check(check) => check,
            Self::Long(long) => &long.check,
        }
    }
}

/// The long form of a threshold.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LongThreshold {
    /// The check, as in the short form.
    #[schemars(example = "p95 < 200ms")]
    pub check: String,
    /// Stop the run (exit 99) as soon as the check fails; judged every 2 s.
    #[serde(default)]
    pub abort_on_fail: bool,
    /// Do not abort before this much of the stage has run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_abort: Option<super::units::Duration>,
}
