//! The step language: what a virtual user does in one iteration.
//!
//! A step is a YAML mapping whose one *kind* key (`request`, `connect`, `send`, `expect`,
//! `sleep`, `repeat`, `group`, `set`, `reconnect`, `disconnect`) says what it is, beside
//! the few sibling keys that kind takes (`as:` to capture, `steps:` for blocks). Each kind is
//! its own struct, so the schema tells an editor exactly which keys go together.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::json_path::JsonPath;
use super::template::Template;
use super::units::{Duration, Size, SleepTime};

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

/// Send an HTTP request and wait for its response.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestStep {
    /// The request.
    pub request: Request,
    /// Capture the response for later templates as `NAME.status`, `NAME.headers`,
    /// `NAME.body` and `NAME.json`.
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub capture: Option<String>,
}

/// An HTTP request. Exactly one of `json`, `text`, `form` and `binary` may give the body.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// HTTP method (default GET).
    #[serde(default)]
    pub method: Method,
    /// URL template.
    #[schemars(example = "{{ env.base_url }}/api/items")]
    pub url: Template,
    /// Request headers; values are templates.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, Template>,
    /// Query parameters added to the URL; values are templates.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub query: IndexMap<String, Template>,
    /// A JSON body; every string in it is a template. Sets `Content-Type: application/json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// A text body (template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Template>,
    /// A form body (`application/x-www-form-urlencoded`); values are templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<IndexMap<String, Template>>,
    /// A binary body, given as a template that renders to base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<Template>,
    /// Give up on the response after this long (default 60s); counted as a timeout error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// HTTP version (default http1; http2 needs a server that speaks it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<HttpVersion>,
    /// Checks on the response; a failed one counts in `checks` and `http_req_failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<HttpExpect>,
    /// A JSON path into the sent `json` body whose value marks the start of
    /// `broadcast_delivery_time` for that id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = "$.id")]
    pub mark: Option<JsonPath>,
    /// Tag value for `name`, so thresholds can select this request:
    /// `http_req_duration{name:NAME}`. Defaults to the method and URL template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Also record this request's duration in a custom trend metric of this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub metric: Option<String>,
}

/// An HTTP method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    #[default]
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
        }
    }
}

/// An HTTP protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HttpVersion {
    Http1,
    Http2,
}

/// Checks on an HTTP response.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpExpect {
    /// Expected status: a code (`200`), a list (`[200, 204]`) or a class (`2xx`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusExpectation>,
    /// Expected headers: name and a regular expression the value must match.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
    /// The response body must be JSON containing these fields with these values (a subset
    /// match; strings are templates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// JSON paths into the response body and the values they must have (strings are
    /// templates).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub json_path: IndexMap<JsonPath, Value>,
}

/// An expected HTTP status.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StatusExpectation {
    /// One status code.
    Code(#[schemars(range(min = 100, max = 599))] u16),
    /// Any of these codes.
    AnyOf(#[schemars(length(min = 1))] Vec<u16>),
    /// A class: `2xx`, `3xx`, `4xx` or `5xx`.
    Class(#[schemars(pattern(r"^[1-5]xx$"))] String),
}

/// Open a WebSocket connection (one per VU; a second `connect` replaces the first).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectStep {
    /// A URL template, or the connection's settings.
    pub connect: Connect,
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
    /// Largest message accepted (default 1MiB).
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
/// `send`. Messages that do not match are left to `on_message` rules.
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
    /// How long to wait (default 5s); a miss is counted as a timeout error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Duration>,
    /// Record the wait in this trend metric instead of `ws_message_latency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub metric: Option<String>,
    /// Tag value for `name` on the recorded latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Pause: a fixed duration (`1s`) or a random one from a range (`1s..3s`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SleepStep {
    /// How long.
    pub sleep: SleepTime,
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
}

/// Set VU variables for later templates; values are JSON, and strings in them templates.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStep {
    /// Names and values.
    #[schemars(extend("minProperties" = 1))]
    pub set: IndexMap<String, Value>,
}

/// Close the WebSocket connection and open it again to the same URL, recording
/// `ws_reconnect_time`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconnectStep {
    /// Reconnection settings (`{}` for none).
    pub reconnect: Reconnect,
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
    /// The message must be JSON containing these fields with these values (a subset match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// JSON paths into the message and the values they must have.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub json_path: IndexMap<JsonPath, Value>,
    /// A regular expression the message text must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// The exact message text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}
