//! The HTTP step: a request, its body and settings, and the checks on its response.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::plan::json_path::JsonPath;
use crate::plan::step::Condition;
use crate::plan::template::Template;
use crate::plan::units::{Chance, Duration};

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
    /// Checks on the response, counted in `checks` (one result per response: passed when
    /// every check passed); a failed one also counts in `http_req_failed`.
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
