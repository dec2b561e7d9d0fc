//! An HTTP request step's two synchronous halves, around the send in `vu.rs`: the request
//! built from the plan and the VU's context (URL and query, headers, body), and the
//! response checked against the step's `expect` (status, headers, JSON) and captured.

use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::context::Context;
use super::http::{Outgoing, Response};
use super::matcher::json_subset;
use super::shared::{RequestKeys, Shared};
use super::step_error::{Miss, StepError};
use crate::plan::model::{Request, StatusExpectation};
use crate::plan::template::TemplateSet;

/// A request ready to send, and the JSON body it carries (for `mark`).
pub struct Built<'r> {
    pub outgoing: Outgoing<'r>,
    pub sent_json: Option<Value>,
}

/// Renders the step's request: the URI (made at start when it never changes), the
/// headers, the body and the `Content-Type` its kind implies.
pub fn build<'r>(
    context: &mut Context,
    templates: &TemplateSet,
    request: &'r Request,
    keys: &RequestKeys,
) -> Result<Built<'r>, StepError> {
    let uri = match &keys.uri {
        Some(uri) => uri.clone(),
        None => {
            let mut url = context.string(templates, request.url.as_str())?;
            for (index, (key, value)) in request.query.iter().enumerate() {
                let value = context.string(templates, value.as_str())?;
                url.push(if index == 0 && !url.contains('?') {
                    '?'
                } else {
                    '&'
                });
                url.push_str(&encode(key));
                url.push('=');
                url.push_str(&encode(&value));
            }
            hyper::Uri::try_from(url).map_err(|e| StepError::InvalidUrl(e.to_string()))?
        }
    };
    let mut headers = Vec::with_capacity(request.headers.len());
    for (name, value) in &request.headers {
        headers.push((name.as_str(), context.string(templates, value.as_str())?));
    }
    let mut content_type = None;
    let mut sent_json = None;
    let body = if let Some(json) = &request.json {
        let value = context.json(templates, json)?;
        content_type = Some("application/json");
        let body = Bytes::from(value.to_string());
        sent_json = Some(value);
        body
    } else if let Some(text) = &request.text {
        Bytes::from(context.string(templates, text.as_str())?)
    } else if let Some(form) = &request.form {
        let mut pairs = Vec::new();
        for (key, value) in form {
            let value = context.string(templates, value.as_str())?;
            pairs.push(format!("{}={}", encode(key), encode(&value)));
        }
        content_type = Some("application/x-www-form-urlencoded");
        Bytes::from(pairs.join("&"))
    } else if let Some(binary) = &request.binary {
        let encoded = context.string(templates, binary.as_str())?;
        Bytes::from(
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| StepError::InvalidBase64 { step: "request" })?,
        )
    } else {
        Bytes::new()
    };
    // The plan's own `Content-Type` wins over the one a `json` or `form` body implies.
    if headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
    {
        content_type = None;
    }
    Ok(Built {
        outgoing: Outgoing {
            method: request.method.as_str(),
            uri,
            headers,
            content_type,
            body,
        },
        sent_json,
    })
}

/// Whether the step reads its response body: an `expect` on it (`json`, `json_path`) or
/// an `as:` capture (which stores `body` and `json`). Any other body is read and dropped.
pub fn reads_body(request: &Request, capture: bool) -> bool {
    capture
        || request
            .expect
            .as_ref()
            .is_some_and(|e| e.json.is_some() || !e.json_path.is_empty())
}

/// How a response fared: the first `expect` that missed (a missed one fails the request:
/// `http_req_failed`), and its body as JSON when a check or a capture reads it.
pub struct Checked {
    pub problem: Option<Miss>,
    pub json: Option<Value>,
}

/// Checks `response` against the step's `expect` (without one, a status under 400 is
/// the only check). `capture`: the body is parsed as JSON for it too.
pub fn check(
    context: &mut Context,
    shared: &Shared,
    request: &Request,
    response: &Response,
    capture: bool,
) -> Result<Checked, StepError> {
    let templates = &shared.templates;
    // Parsing the body costs; only checks and captures read it.
    let json = reads_body(request, capture)
        .then(|| serde_json::from_slice::<Value>(&response.body).ok())
        .flatten();
    let mut problem = None;
    let status_ok = match request.expect.as_ref().and_then(|e| e.status.as_ref()) {
        Some(expected) => status_matches(expected, response.status),
        None => response.status < 400,
    };
    if !status_ok {
        problem = Some(Miss::Status(response.status));
    }
    if let Some(expect) = &request.expect {
        for (header, pattern) in &expect.headers {
            let pattern = shared.regex(pattern);
            let value = response.headers.get(header.as_str());
            if !value.is_some_and(|v| pattern.is_none_or(|p| p.is_match(v))) {
                problem.get_or_insert_with(|| Miss::Header(header.clone()));
            }
        }
        if let Some(want) = &expect.json {
            let want = context.json(templates, want)?;
            if !json.as_ref().is_some_and(|have| json_subset(&want, have)) {
                problem.get_or_insert(Miss::JsonBody);
            }
        }
        for (path, want) in &expect.json_path {
            let want = context.json(templates, want)?;
            if !json
                .as_ref()
                .and_then(|j| path.find(j))
                .is_some_and(|have| json_subset(&want, have))
            {
                problem.get_or_insert_with(|| Miss::JsonPath(path.to_string()));
            }
        }
    }
    Ok(Checked { problem, json })
}

/// What `as:` stores of a response: status, headers, body text and body JSON.
pub fn captured(response: &Response, json: Option<Value>) -> Value {
    let headers: Map<String, Value> = response
        .headers
        .pairs()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    json!({
        "status": response.status,
        "headers": headers,
        "body": String::from_utf8_lossy(&response.body),
        "json": json.unwrap_or(Value::Null),
    })
}

fn status_matches(expected: &StatusExpectation, status: u16) -> bool {
    match expected {
        StatusExpectation::Code(code) => *code == status,
        StatusExpectation::AnyOf(codes) => codes.contains(&status),
        StatusExpectation::Class(class) => class
            .as_bytes()
            .first()
            .is_some_and(|digit| u16::from(digit - b'0') == status / 100),
    }
}

/// Percent-encodes a query component.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_query_components() {
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(encode("plain-text_1.0~"), "plain-text_1.0~");
    }

    #[test]
    fn statuses_match_codes_lists_and_classes() {
        use crate::plan::model::StatusExpectation as S;
        assert!(status_matches(&S::Code(200), 200));
        assert!(!status_matches(&S::Code(200), 201));
        assert!(status_matches(&S::AnyOf(vec![200, 204]), 204));
        assert!(status_matches(&S::Class("2xx".into()), 299));
        assert!(!status_matches(&S::Class("2xx".into()), 301));
    }
}
