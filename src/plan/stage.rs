//! Stages: how many virtual users run, or how many iterations start, over time.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::units::{Duration, Rate};

/// A stage: a fixed number of VUs for a duration, a ramp of VU targets, or an arrival rate
/// of iterations (open model).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Stage {
    Fixed(FixedStage),
    Ramp(RampStage),
    Arrival(ArrivalStage),
}

impl Stage {
    /// How long a VU being stopped may finish its iteration (default 30 s).
    pub fn graceful_stop(&self) -> Duration {
        let explicit = match self {
            Self::Fixed(stage) => stage.graceful_stop,
            Self::Ramp(stage) => stage.graceful_stop,
            Self::Arrival(stage) => stage.graceful_stop,
        };
        explicit.unwrap_or(Duration::from_secs(30))
    }
}

/// `vus` VUs for `duration`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixedStage {
    /// What the stage is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-verbatim" = true))]
    pub description: Option<String>,
    /// Number of VUs.
    #[schemars(range(min = 1))]
    pub vus: u32,
    /// How long they run.
    pub duration: Duration,
    /// How long a stopped VU may finish its iteration before it is cancelled (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_stop: Option<Duration>,
}

/// VU targets that change over time (k6's `ramping-vus`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RampStage {
    /// What the stage is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-verbatim" = true))]
    pub description: Option<String>,
    /// VUs at the start of the ramp (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_vus: Option<u32>,
    /// Segments, in order: `{to: N, over: D}` moves linearly to N VUs over D; `{hold: D}`
    /// keeps the current count for D.
    #[schemars(length(min = 1))]
    pub ramp: Vec<RampSegment>,
    /// How long a stopped VU may finish its iteration before it is cancelled (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_stop: Option<Duration>,
}

/// One segment of a VU ramp.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RampSegment {
    To(RampTo),
    Hold(Hold),
}

/// Move linearly to `to` VUs over `over`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RampTo {
    /// Target number of VUs.
    pub to: u32,
    /// Time to get there.
    pub over: Duration,
}

/// Keep the current target for `hold`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hold {
    /// How long to hold.
    pub hold: Duration,
}

/// Iterations started per unit of time, whatever the server's latency (open model). An
/// iteration that cannot start on time (no free VU below `max_vus`) is counted in
/// `dropped_iterations`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrivalStage {
    /// What the stage is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-verbatim" = true))]
    pub description: Option<String>,
    /// Rate at the start (default `0/s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_rate: Option<Rate>,
    /// Segments, in order: `{to: 500/s, over: 1m}` moves linearly to that rate; `{hold: D}`
    /// keeps the current rate.
    #[schemars(length(min = 1))]
    pub arrival: Vec<ArrivalSegment>,
    /// Most VUs the stage may use at once.
    #[schemars(range(min = 1))]
    pub max_vus: u32,
    /// VUs created before the stage starts (default: `max_vus`, capped at 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_allocated_vus: Option<u32>,
    /// How long an iteration still running at the end may finish before it is cancelled
    /// (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_stop: Option<Duration>,
}

/// One segment of an arrival-rate stage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ArrivalSegment {
    To(RateTo),
    Hold(Hold),
}

/// Move linearly to rate `to` over `over`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateTo {
    /// Target rate of iteration starts.
    pub to: Rate,
    /// Time to get there.
    pub over: Duration,
}
