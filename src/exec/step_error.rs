//! Why a step failed, which ends its iteration. The run counts it under its
//! [`ErrorKind`] (a closed set, [`StepError::kind`]); whatever text came with it — from a
//! server, the system, minijinja — is only its [`StepError::example`], which the collector
//! redacts and cuts before keeping the first few.

use super::http::Failure;
use crate::results::{ConnectFailure, ErrorKind, Status};

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
    /// An `expect`'s `sequence` check that counted gaps, duplicates, reorders or invalid
    /// numbers.
    Sequence(Box<SequenceFailure>),
    /// The WebSocket closed while an `expect` waited.
    Closed,
    /// A `connect` whose URL or header cannot make an upgrade request.
    WsRequest(String),
    /// A WebSocket that did not open: refused, TLS, or the server's handshake response.
    WsConnect(WsFailure),
    /// A WebSocket handshake that took longer than the step's `timeout`.
    WsConnectTimeout,
    /// A frame the WebSocket did not take.
    WsSend(String),
    /// A WebSocket message over the plan's `limits.max_message` (or the connection's
    /// `max_message_size`), received or to be sent.
    MessageTooLarge,
    /// What the run prepared for a step is missing or broken: a bug in loadplan.
    Internal(String),
    /// A `unique` data source (named) had no row left for the iteration.
    DataExhausted(String),
}

/// The first part of a request's `expect` that a response missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    Status(u16),
    Header(String),
    JsonBody,
    JsonPath(String),
}

/// What a failed `sequence` check counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceFailure {
    pub tally: super::sequence::Tally,
    /// The number the check started after.
    pub after: u64,
    /// Why the first invalid message was invalid (its field missing, or what it held).
    pub invalid: Option<String>,
}

/// Why a WebSocket did not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsFailure {
    /// The connection (TCP or TLS) did not open, and the system's or TLS's detail.
    Connect(ConnectFailure, String),
    /// The handshake was answered with another status than 101; the server's reason text.
    Status { code: u16, reason: String },
    /// The server closed the connection during the handshake.
    Closed,
    /// The response is not a valid upgrade (why, in our words or httparse's).
    Invalid(String),
}

impl StepError {
    /// The kind the run counts this error under.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Template { .. } => ErrorKind::Template,
            Self::Uncompiled { .. } | Self::NoMessage | Self::Serialize(_) | Self::Internal(_) => {
                ErrorKind::Internal
            }
            Self::InvalidUrl(_) => ErrorKind::InvalidUrl,
            Self::InvalidBase64 { .. } => ErrorKind::InvalidBase64,
            Self::Http(failure) => failure.kind(),
            Self::Expect(Miss::Status(code)) => ErrorKind::ExpectStatus(Status::new(*code)),
            Self::Expect(Miss::Header(_)) => ErrorKind::ExpectHeader,
            Self::Expect(Miss::JsonBody) => ErrorKind::ExpectJson,
            Self::Expect(Miss::JsonPath(_)) => ErrorKind::ExpectJsonPath,
            Self::NoSocket { .. } => ErrorKind::WsNotOpen,
            Self::ExpectTimeout => ErrorKind::ExpectTimeout,
            Self::Sequence(_) => ErrorKind::ExpectSequence,
            Self::Closed => ErrorKind::WsClosed,
            Self::WsRequest(_) => ErrorKind::WsRequest,
            Self::WsConnect(WsFailure::Connect(why, _)) => ErrorKind::Connect {
                ws: true,
                why: *why,
            },
            Self::WsConnect(WsFailure::Status { code, .. }) => {
                ErrorKind::Handshake(Status::new(*code))
            }
            Self::WsConnect(WsFailure::Closed) => ErrorKind::HandshakeClosed,
            Self::WsConnect(WsFailure::Invalid(_)) => ErrorKind::HandshakeInvalid,
            Self::WsConnectTimeout => ErrorKind::Connect {
                ws: true,
                why: ConnectFailure::Timeout,
            },
            Self::WsSend(_) => ErrorKind::WsSend,
            Self::MessageTooLarge => ErrorKind::MessageTooLarge,
            Self::DataExhausted(_) => ErrorKind::DataExhausted,
        }
    }

    /// What the kind's key leaves out: the detail that came with the error (server text
    /// among it), to be redacted and cut before it is kept. `None` when there is none.
    pub fn example(&self) -> Option<String> {
        let text = match self {
            Self::Template { template, reason } => format!("`{template}`: {reason}"),
            Self::Uncompiled { template } => {
                format!("template `{template}` was not compiled; this is a bug in loadplan")
            }
            Self::InvalidUrl(why)
            | Self::Serialize(why)
            | Self::Internal(why)
            | Self::WsRequest(why)
            | Self::WsSend(why)
            | Self::WsConnect(WsFailure::Invalid(why) | WsFailure::Connect(_, why)) => why.clone(),
            Self::InvalidBase64 { step } => format!("{step}: `binary` is not valid base64"),
            Self::Http(failure) => failure.detail()?.to_owned(),
            Self::Expect(Miss::Status(code)) if Status::new(*code).is_none() => {
                format!("status {code}")
            }
            Self::Expect(Miss::Header(name)) => format!("header `{name}`"),
            Self::Expect(Miss::JsonPath(path)) => format!("json path `{path}`"),
            Self::NoSocket { step } => format!("{step}: no open WebSocket"),
            Self::NoMessage => "send: no message".to_owned(),
            Self::DataExhausted(source) => {
                format!("data source `{source}` (`order: unique`) has no row left; the VU stopped")
            }
            Self::WsConnect(WsFailure::Status { code, reason }) => format!("{code} {reason}"),
            Self::Sequence(failure) => {
                let t = failure.tally;
                let mut text = format!(
                    "after {}: {} {}, {} gap{}, {} duplicate{}, {} reorder{}",
                    failure.after,
                    t.messages,
                    if t.messages == 1 {
                        "message"
                    } else {
                        "messages"
                    },
                    t.gaps,
                    if t.gaps == 1 { "" } else { "s" },
                    t.duplicates,
                    if t.duplicates == 1 { "" } else { "s" },
                    t.reorders,
                    if t.reorders == 1 { "" } else { "s" },
                );
                if let Some(invalid) = &failure.invalid {
                    text.push_str(&format!(", {} invalid ({invalid})", t.invalid));
                }
                text
            }
            Self::Expect(_)
            | Self::ExpectTimeout
            | Self::Closed
            | Self::WsConnect(WsFailure::Closed)
            | Self::WsConnectTimeout
            | Self::MessageTooLarge => return None,
        };
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each error's kind key (pinned in `results/error_kind.rs`) and its example.
    #[test]
    fn errors_have_a_kind_and_an_example() {
        let cases = [
            (
                StepError::Template {
                    template: "{{ x.y }}".into(),
                    reason: "undefined value".into(),
                },
                "template",
                Some("`{{ x.y }}`: undefined value"),
            ),
            (
                StepError::Uncompiled {
                    template: "{{ z }}".into(),
                },
                "internal",
                Some("template `{{ z }}` was not compiled; this is a bug in loadplan"),
            ),
            (
                StepError::DataExhausted("users".into()),
                "data exhausted",
                Some("data source `users` (`order: unique`) has no row left; the VU stopped"),
            ),
            (
                StepError::InvalidUrl("empty host".into()),
                "invalid url",
                Some("empty host"),
            ),
            (
                StepError::InvalidBase64 { step: "send" },
                "invalid base64",
                Some("send: `binary` is not valid base64"),
            ),
            (
                StepError::Http(Failure::Connect(
                    ConnectFailure::Refused,
                    "Connection refused (os error 111)".into(),
                )),
                "connect refused",
                Some("Connection refused (os error 111)"),
            ),
            (StepError::Http(Failure::Timeout), "timeout", None),
            (
                StepError::Http(Failure::BodyTooLarge),
                "body too large",
                None,
            ),
            (StepError::MessageTooLarge, "message too large", None),
            (
                StepError::Http(Failure::Protocol("bad chunk".into())),
                "protocol",
                Some("bad chunk"),
            ),
            (
                StepError::Expect(Miss::Status(503)),
                "expect status 503",
                None,
            ),
            (
                StepError::Expect(Miss::Status(999)),
                "expect status other",
                Some("status 999"),
            ),
            (
                StepError::Expect(Miss::Header("etag".into())),
                "expect header",
                Some("header `etag`"),
            ),
            (StepError::Expect(Miss::JsonBody), "expect json", None),
            (
                StepError::Expect(Miss::JsonPath("$.id".into())),
                "expect json path",
                Some("json path `$.id`"),
            ),
            (
                StepError::NoSocket { step: "reconnect" },
                "ws not open",
                Some("reconnect: no open WebSocket"),
            ),
            (StepError::NoMessage, "internal", Some("send: no message")),
            (StepError::ExpectTimeout, "expect timeout", None),
            (
                StepError::Sequence(Box::new(SequenceFailure {
                    tally: crate::exec::sequence::Tally {
                        messages: 5,
                        gaps: 1,
                        duplicates: 2,
                        reorders: 0,
                        invalid: 1,
                    },
                    after: 17,
                    invalid: Some("`$.seq` is missing".into()),
                })),
                "expect sequence",
                Some(
                    "after 17: 5 messages, 1 gap, 2 duplicates, 0 reorders, 1 invalid (`$.seq` is missing)",
                ),
            ),
            (StepError::Closed, "ws closed", None),
            (
                StepError::WsConnect(WsFailure::Connect(
                    ConnectFailure::TooManyOpenFiles,
                    "Too many open files (os error 24)".into(),
                )),
                "ws too many open files",
                Some("Too many open files (os error 24)"),
            ),
            (
                StepError::WsRequest("invalid header `x y`".into()),
                "ws request invalid",
                Some("invalid header `x y`"),
            ),
            (
                StepError::WsConnect(WsFailure::Status {
                    code: 403,
                    reason: "Echo Bearer t0k3n".into(),
                }),
                "ws handshake 403",
                Some("403 Echo Bearer t0k3n"),
            ),
            (
                StepError::WsConnect(WsFailure::Status {
                    code: 0,
                    reason: String::new(),
                }),
                "ws handshake other",
                Some("0 "),
            ),
            (
                StepError::WsConnect(WsFailure::Closed),
                "ws handshake closed",
                None,
            ),
            (
                StepError::WsConnect(WsFailure::Invalid("no `Upgrade: websocket`".into())),
                "ws handshake invalid",
                Some("no `Upgrade: websocket`"),
            ),
            (StepError::WsConnectTimeout, "ws connect timeout", None),
            (
                StepError::WsSend("Trying to work with closed connection".into()),
                "ws send failed",
                Some("Trying to work with closed connection"),
            ),
        ];
        for (error, key, example) in cases {
            assert_eq!(error.kind().to_string(), key, "{error:?}");
            assert_eq!(error.example().as_deref(), example, "{error:?}");
        }
    }
}
