//! Why a step failed, which ends its iteration. The text of a [`StepError`] is the key the
//! run counts the error under (`Results.errors`, every report), so `Display` writes each
//! kind exactly as the text it replaced; the VU turns it into text once, when it records
//! the error.

use std::fmt;

use super::http::Failure;

#[derive(Debug)]
pub enum StepError {
    /// A template did not render, with minijinja's reason.
    Template { template: String, reason: String },
    /// A template the plan's loading did not compile: a bug in loadplan.
    Uncompiled { template: String },
    /// A request's URL, once rendered and given its `query`, does not parse.
    InvalidUrl(String),
    /// A `binary` body (`step`: `request`) or message (`send`) that is not base64.
    InvalidBase64 { step: &'static str },
    /// A request that got no response.
    Http(Failure),
    /// A response that missed the step's `expect`.
    Expect(Miss),
    /// A WebSocket step (`step`: its kind) with no WebSocket open.
    NoSocket { step: &'static str },
    /// A `send` with neither `json`, `text` nor `binary`.
    NoMessage,
    /// A `send`'s JSON that did not serialise.
    Serialize(String),
    /// An `expect` that saw no matching message in time.
    ExpectTimeout,
    /// The WebSocket closed while an `expect` waited.
    Closed,
    /// A `connect` whose URL or header cannot make an upgrade request.
    WsRequest(String),
    /// A WebSocket that did not open: refused, TLS, or the server's handshake response.
    WsConnect(String),
    /// A WebSocket handshake that took longer than the step's `timeout`.
    WsConnectTimeout,
    /// No file descriptor left for a socket (`EMFILE`/`ENFILE`); `step`: `ws connect`.
    OutOfDescriptors { step: &'static str },
    /// A frame the WebSocket did not take.
    WsSend(String),
    /// A WebSocket message over the plan's `limits.max_message` (or the connection's
    /// `max_message_size`), received or to be sent.
    MessageTooLarge,
    /// What the run prepared for a step is missing or broken: a bug in loadplan.
    Internal(String),
}

/// The first part of a request's `expect` that a response missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    Status(u16),
    Header(String),
    JsonBody,
    JsonPath(String),
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Template { template, reason } => write!(f, "template `{template}`: {reason}"),
            Self::Uncompiled { template } => write!(
                f,
                "template `{template}` was not compiled; this is a bug in loadplan"
            ),
            Self::InvalidUrl(why) => write!(f, "request: invalid URL: {why}"),
            Self::InvalidBase64 { step } => write!(f, "{step}: `binary` is not valid base64"),
            Self::Http(failure) => f.write_str(&failure.kind()),
            Self::Expect(miss) => write!(f, "expect: {miss}"),
            Self::NoSocket { step } => write!(f, "{step}: no open WebSocket"),
            Self::NoMessage => f.write_str("send: no message"),
            Self::Serialize(why) => write!(f, "send: {why}"),
            Self::ExpectTimeout => f.write_str("expect: timeout"),
            Self::Closed => f.write_str("expect: the connection closed"),
            Self::WsRequest(why) => write!(f, "ws: {why}"),
            Self::WsConnect(why) => write!(f, "ws connect: {why}"),
            Self::WsConnectTimeout => f.write_str("ws connect: timeout"),
            Self::OutOfDescriptors { step } => {
                write!(f, "{step}: too many open files (see `ulimit -n`)")
            }
            Self::WsSend(why) => write!(f, "ws send: {why}"),
            Self::MessageTooLarge => f.write_str("message too large"),
            Self::Internal(why) => f.write_str(why),
        }
    }
}

impl fmt::Display for Miss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(status) => write!(f, "status {status}"),
            Self::Header(name) => write!(f, "header `{name}`"),
            Self::JsonBody => f.write_str("json body"),
            Self::JsonPath(path) => write!(f, "json path `{path}`"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts are the error keys of saved runs and baselines: they must not drift.
    #[test]
    fn errors_read_as_they_always_did() {
        for (error, text) in [
            (
                StepError::Template {
                    template: "{{ x.y }}".into(),
                    reason: "undefined value".into(),
                },
                "template `{{ x.y }}`: undefined value",
            ),
            (
                StepError::Uncompiled {
                    template: "{{ z }}".into(),
                },
                "template `{{ z }}` was not compiled; this is a bug in loadplan",
            ),
            (
                StepError::InvalidUrl("empty host".into()),
                "request: invalid URL: empty host",
            ),
            (
                StepError::InvalidBase64 { step: "send" },
                "send: `binary` is not valid base64",
            ),
            (
                StepError::Http(Failure::Connect("ConnectionRefused".into())),
                "connect: ConnectionRefused",
            ),
            (StepError::Http(Failure::Timeout), "timeout"),
            (StepError::Http(Failure::BodyTooLarge), "body too large"),
            (StepError::MessageTooLarge, "message too large"),
            (
                StepError::Http(Failure::Protocol("bad chunk".into())),
                "http: bad chunk",
            ),
            (StepError::Expect(Miss::Status(503)), "expect: status 503"),
            (
                StepError::Expect(Miss::Header("etag".into())),
                "expect: header `etag`",
            ),
            (StepError::Expect(Miss::JsonBody), "expect: json body"),
            (
                StepError::Expect(Miss::JsonPath("$.id".into())),
                "expect: json path `$.id`",
            ),
            (
                StepError::NoSocket { step: "reconnect" },
                "reconnect: no open WebSocket",
            ),
            (StepError::NoMessage, "send: no message"),
            (StepError::ExpectTimeout, "expect: timeout"),
            (StepError::Closed, "expect: the connection closed"),
            (
                StepError::OutOfDescriptors { step: "ws connect" },
                "ws connect: too many open files (see `ulimit -n`)",
            ),
            (
                StepError::Http(Failure::OutOfDescriptors),
                "connect: too many open files (see `ulimit -n`)",
            ),
            (
                StepError::WsRequest("invalid header `x y`".into()),
                "ws: invalid header `x y`",
            ),
            (
                StepError::WsConnect("HTTP error: 403 Forbidden".into()),
                "ws connect: HTTP error: 403 Forbidden",
            ),
            (StepError::WsConnectTimeout, "ws connect: timeout"),
            (
                StepError::WsSend("Trying to work with closed connection".into()),
                "ws send: Trying to work with closed connection",
            ),
        ] {
            assert_eq!(error.to_string(), text);
        }
    }
}
