//! The WebSocket steps (`connect`, `send`, `expect`, `reconnect`, `disconnect`) with their
//! settings, and the scenario's background `on_message` rules.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::plan::json_path::JsonPath;
use crate::plan::step::Condition;
use crate::plan::template::Template;
use crate::plan::units::{Chance, Duration, Size, SleepTime};

/// Open a WebSocket connection (one per VU; a second `connect` replaces the first).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectStep {
    /// A URL template, or the connection's settings.
    pub connect: Connect,
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

/// Where and how to open a WebSocket connection.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Connect {
    /// A `ws://` or `wss://` URL template.
    #[schemars(example = "{{ env.ws_url }}?scope=user")]
    Url(Template),
    /// The connection's settings.
    Settings(ConnectSettings),
}

impl Connect {
    pub fn url(&self) -> &Template {
        match self {
            Self::Url(url) => url,
            Self::Settings(settings) => &settings.url,
        }
    }
}

/// Settings of a WebSocket connection.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectSettings {
    /// A `ws://` or `wss://` URL template.
    pub url: Template,
    /// Handshake headers; values are templates.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, Template>,
    /// Subprotocols offered in the handshake.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subprotocols: Vec<String>,
    /// Give up on the handshake after this long (default 10s); counted in
    /// `ws_connect_errors`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Largest message (and frame) received or sent on this connection; a larger one is
    /// the error `message too large`. Default: the plan's `limits.max_message` (10MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_message_size: Option<Size>,
    /// Tag value for `name` on this connection's metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Send a WebSocket message.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendStep {
    /// The message: exactly one of `text`, `json`, `binary`.
    pub send: Message,
    /// Capture the sent message for later templates: `NAME.text`, and `NAME.FIELD` for a
    /// JSON message.
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub capture: Option<String>,
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

/// A WebSocket message. Exactly one of `text`, `json` and `binary`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// A text frame (template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Template>,
    /// A text frame holding this JSON; every string in it is a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// A binary frame, given as a template that renders to base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<Template>,
    /// A JSON path into the sent `json` whose value marks the start of
    /// `broadcast_delivery_time` for that id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<JsonPath>,
}

/// Wait for the next WebSocket message that matches, and record the time since the last
/// `send`; the result counts in `checks` (passed when the message came in time, failed
/// when the wait ran out). Messages that do not match are left to `on_message` rules.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectStep {
    /// What the message must look like, and how long to wait for it.
    pub expect: Expectation,
    /// Capture the matched message for later templates: `NAME.text`, and `NAME.FIELD` for
    /// a JSON message.
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub capture: Option<String>,
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

/// A message to wait for. At least one of `json`, `json_path`, `regex` and `text`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The message must be JSON containing these fields with these values (a subset match;
    /// strings are templates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// JSON paths into the message and the values they must have (strings are templates).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub json_path: IndexMap<JsonPath, Value>,
    /// A regular expression the message text must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// The exact message text (template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Template>,
    /// How long to wait (default 5s); a miss is counted as a timeout error and a failed
    /// check in `checks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Duration>,
    /// Record the wait in this trend metric instead of `ws_message_latency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub metric: Option<String>,
    /// Tag value for `name` on the recorded latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Check that the matching messages are numbered one after another: wait for `count`
    /// of them (or until the number `through` arrives) and count the gaps, duplicates and
    /// reorders in `ws_sequence_*`. `within` bounds the whole wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<Sequence>,
}

/// A replay or ordering check: the number at `field` of each matching message must be
/// one above the last, starting at `after` + 1. A number above the one expected skips
/// the numbers between (gaps, unless they arrive late); one below that was not seen yet is
/// a reorder; one seen before, or at or below `after`, is a duplicate; a missing or
/// non-integer field is invalid. The step passes its check only when none of these
/// happened.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sequence {
    /// A JSON path to the message's sequence number (a non-negative integer).
    #[schemars(example = "$.seq")]
    pub field: JsonPath,
    /// The number before the first one expected: an integer or a template rendering to
    /// one, such as a cursor captured earlier (`"{{ joined[4].response.seq }}"`).
    /// Default 0: the first number expected is 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<SequenceNumber>,
    /// How many matching messages to check; the step ends after that many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub count: Option<u32>,
    /// The last number expected (an integer or a template): the step ends when a number at
    /// or above it arrives; numbers up to it that did not arrive within `within` are gaps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<SequenceNumber>,
}

/// A sequence number of the plan: an integer, or a template that renders to one.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SequenceNumber {
    Number(u64),
    Template(Template),
}

/// Close the WebSocket connection and open it again to the same URL, recording
/// `ws_reconnect_time`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconnectStep {
    /// Reconnection settings (`{}` for none).
    pub reconnect: Reconnect,
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

/// Reconnection settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reconnect {
    /// Wait this long (or a random time from a range) between closing and reconnecting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<SleepTime>,
}

/// Close the WebSocket connection.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisconnectStep {
    /// Close settings (`{}` for a normal close).
    pub disconnect: Disconnect,
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

/// How to close a WebSocket connection.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Disconnect {
    /// Close code (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1000, max = 4999))]
    pub code: Option<u16>,
}

/// A background rule for WebSocket messages no `expect` step consumed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnMessageRule {
    /// Which messages the rule applies to.
    #[serde(rename = "match")]
    pub matcher: Matcher,
    /// A JSON path to an id in the message; when that id was `mark`ed by any VU,
    /// `broadcast_delivery_time` is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = "$.id")]
    pub correlate: Option<JsonPath>,
    /// Count matching messages in a counter metric of this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub metric: Option<String>,
}

/// How a message is matched. At least one of `json`, `json_path`, `regex` and `text`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    /// The message must be JSON containing these fields with these values (a subset match;
    /// not templates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// JSON paths into the message and the values they must have (not templates).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub json_path: IndexMap<JsonPath, Value>,
    /// A regular expression the message text must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// The exact message text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}
