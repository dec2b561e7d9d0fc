//! The step language: what a virtual user does in one iteration.
//!
//! A step is a YAML mapping whose one *kind* key (`request`, `connect`, `send`, `expect`,
//! `sleep`, `repeat`, `group`, `set`, `reconnect`, `disconnect`) says what it is, beside
//! the few sibling keys that kind takes (`as:` to capture, `steps:` for blocks). Each kind is
//! its own struct, so the schema tells an editor exactly which keys go together.
//!
//! This file holds the step enum and the control steps (`sleep`, `repeat`, `group`, `set`);
//! the HTTP step is in `step/request.rs`, the WebSocket steps in `step/websocket.rs`.

mod request;
mod websocket;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::units::{Chance, Duration, SleepTime};

pub use request::{HttpExpect, HttpVersion, Method, Request, RequestStep, StatusExpectation};
pub use websocket::{
    Connect, ConnectSettings, ConnectStep, Disconnect, DisconnectStep, ExpectStep, Expectation,
    Matcher, Message, OnMessageRule, Reconnect, ReconnectStep, SendStep, Sequence, SequenceNumber,
};

/// One step of a scenario.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Step {
    Request(Box<RequestStep>),
    Connect(ConnectStep),
    Send(SendStep),
    Expect(ExpectStep),
    Sleep(SleepStep),
    Repeat(RepeatStep),
    Group(GroupStep),
    Set(SetStep),
    Reconnect(ReconnectStep),
    Disconnect(DisconnectStep),
}

impl Step {
    /// The step's kind key, as written in YAML.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Request(_) => "request",
            Self::Connect(_) => "connect",
            Self::Send(_) => "send",
            Self::Expect(_) => "expect",
            Self::Sleep(_) => "sleep",
            Self::Repeat(_) => "repeat",
            Self::Group(_) => "group",
            Self::Set(_) => "set",
            Self::Reconnect(_) => "reconnect",
            Self::Disconnect(_) => "disconnect",
        }
    }

    /// The name this step captures its result under (`as:`), if any.
    pub fn capture(&self) -> Option<&str> {
        match self {
            Self::Request(step) => step.capture.as_deref(),
            Self::Send(step) => step.capture.as_deref(),
            Self::Expect(step) => step.capture.as_deref(),
            _ => None,
        }
    }

    /// The step's `chance:`, if any.
    pub fn chance(&self) -> Option<Chance> {
        match self {
            Self::Request(step) => step.chance,
            Self::Connect(step) => step.chance,
            Self::Send(step) => step.chance,
            Self::Expect(step) => step.chance,
            Self::Sleep(step) => step.chance,
            Self::Repeat(step) => step.chance,
            Self::Group(step) => step.chance,
            Self::Set(step) => step.chance,
            Self::Reconnect(step) => step.chance,
            Self::Disconnect(step) => step.chance,
        }
    }

    /// The step's `if:` condition, if any.
    pub fn when(&self) -> Option<&Condition> {
        match self {
            Self::Request(step) => step.when.as_ref(),
            Self::Connect(step) => step.when.as_ref(),
            Self::Send(step) => step.when.as_ref(),
            Self::Expect(step) => step.when.as_ref(),
            Self::Sleep(step) => step.when.as_ref(),
            Self::Repeat(step) => step.when.as_ref(),
            Self::Group(step) => step.when.as_ref(),
            Self::Set(step) => step.when.as_ref(),
            Self::Reconnect(step) => step.when.as_ref(),
            Self::Disconnect(step) => step.when.as_ref(),
        }
    }

    /// The `name` tag of what this step's `chance:` and `if:` record (`step_chance`,
    /// `step_if`): the step's own name (a request's, connection's or expect's `name:`, a
    /// group's name), else its kind and its position among the scenario's steps, counted
    /// from 1, nested positions joined by dots: `reconnect@3`, `request@2.1` (the first
    /// step inside the scenario's second).
    pub fn guard_name(&self, position: &[usize]) -> String {
        let own = match self {
            Self::Request(step) => step.request.name.as_deref(),
            Self::Connect(step) => match &step.connect {
                websocket::Connect::Settings(settings) => settings.name.as_deref(),
                websocket::Connect::Url(_) => None,
            },
            Self::Expect(step) => step.expect.name.as_deref(),
            Self::Group(step) => Some(step.group.as_str()),
            _ => None,
        };
        if let Some(own) = own {
            return own.to_owned();
        }
        if position.is_empty() {
            return self.kind().to_owned();
        }
        let at: Vec<String> = position.iter().map(|i| (i + 1).to_string()).collect();
        format!("{}@{}", self.kind(), at.join("."))
    }

    /// The nested steps of a block step.
    pub fn children(&self) -> Option<&[Step]> {
        match self {
            Self::Repeat(step) => Some(&step.steps),
            Self::Group(step) => Some(&step.steps),
            _ => None,
        }
    }
}

/// The kind keys of steps, in the order the schema lists them.
pub const STEP_KINDS: [&str; 10] = [
    "request",
    "connect",
    "send",
    "expect",
    "sleep",
    "repeat",
    "group",
    "set",
    "reconnect",
    "disconnect",
];

/// Pause: a fixed duration (`1s`) or a random one from a range (`1s..3s`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SleepStep {
    /// How long.
    pub sleep: SleepTime,
    /// Run this step (a block: all of it) in only this share of iterations, drawn per VU
    /// from a generator seeded with the VU's id: `chance: 10%`. A step left out is not a
    /// failure; the share of iterations that ran it is in the results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chance: Option<Chance>,
    /// Run this step (a block: all of it) only when the condition holds: an expression over
    /// `vars.*`, `env.*`, `vu`, `iteration` and the names captured or set before it
    /// (`login.status == 200`, `vars.reconnect and iteration > 1`). A step left out is not
    /// a failure.
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
}

/// Run the nested `steps` several times: a `count`, `for` a duration, or `every` interval on
/// a fixed cadence that does not drift with the work inside. With `every` and neither
/// `count` nor `for`, it repeats until the stage stops the VU.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepeatStep {
    /// How often.
    pub repeat: Repeat,
    /// The steps to repeat.
    #[schemars(length(min = 1))]
    pub steps: Vec<Step>,
    /// Run this step (a block: all of it) in only this share of iterations, drawn per VU
    /// from a generator seeded with the VU's id: `chance: 10%`. A step left out is not a
    /// failure; the share of iterations that ran it is in the results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chance: Option<Chance>,
    /// Run this step (a block: all of it) only when the condition holds: an expression over
    /// `vars.*`, `env.*`, `vu`, `iteration` and the names captured or set before it
    /// (`login.status == 200`, `vars.reconnect and iteration > 1`). A step left out is not
    /// a failure.
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
}

/// How a `repeat` block repeats. At least one of `count`, `for` and `every`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// Run the steps this many times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Keep running the steps for this long.
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub for_duration: Option<Duration>,
    /// Start a run of the steps at this fixed interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Duration>,
}

/// A named block of steps, run in order; what its requests, sends and expects record is
/// tagged `group` (the innermost group), for thresholds like `http_req_duration{group:NAME}`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupStep {
    /// The group's name.
    pub group: String,
    /// The steps of the group.
    #[schemars(length(min = 1))]
    pub steps: Vec<Step>,
    /// Run this step (a block: all of it) in only this share of iterations, drawn per VU
    /// from a generator seeded with the VU's id: `chance: 10%`. A step left out is not a
    /// failure; the share of iterations that ran it is in the results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chance: Option<Chance>,
    /// Run this step (a block: all of it) only when the condition holds: an expression over
    /// `vars.*`, `env.*`, `vu`, `iteration` and the names captured or set before it
    /// (`login.status == 200`, `vars.reconnect and iteration > 1`). A step left out is not
    /// a failure.
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
}

/// Set VU variables for later templates; values are JSON, and strings in them templates.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStep {
    /// Names and values.
    #[schemars(extend("minProperties" = 1))]
    pub set: IndexMap<String, Value>,
    /// Run this step (a block: all of it) in only this share of iterations, drawn per VU
    /// from a generator seeded with the VU's id: `chance: 10%`. A step left out is not a
    /// failure; the share of iterations that ran it is in the results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chance: Option<Chance>,
    /// Run this step (a block: all of it) only when the condition holds: an expression over
    /// `vars.*`, `env.*`, `vu`, `iteration` and the names captured or set before it
    /// (`login.status == 200`, `vars.reconnect and iteration > 1`). A step left out is not
    /// a failure.
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
}

/// Whether any of `steps`, nested ones included, passes `test`.
pub fn any_step(steps: &[Step], test: &dyn Fn(&Step) -> bool) -> bool {
    steps.iter().any(|step| {
        test(step)
            || step
                .children()
                .is_some_and(|children| any_step(children, test))
    })
}

/// An `if:` condition: an expression in the template language, without `{{ }}`, over
/// `vars.*`, `env.*`, `vu`, `iteration`, `scenario`, `stage` and the names captured (`as:`)
/// or set (`set:`) before the step: `login.status == 200`, `vars.reconnect and
/// iteration > 1`, `"admin" in me.json.roles`. The step runs when it is true.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Condition(pub String);

impl Condition {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl JsonSchema for Condition {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Condition".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "description": "An expression without `{{ }}` over vars, env, vu, iteration and earlier captures; the step runs when it is true",
            // Read at run time, not rendered when the plan loads (a `{{ }}` in it is an
            // error the analyzer explains).
            "x-verbatim": true,
            "examples": ["login.status == 200", "vars.reconnect and iteration > 1"],
        })
    }
}
