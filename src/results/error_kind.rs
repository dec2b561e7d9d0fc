//! The closed set of error kinds a run counts its failed steps under (`Results.errors`).
//! Each kind has a fixed short key text, the same in every output and in saved runs; no
//! text a server sent (a status reason, a protocol or I/O error's detail) is part of one —
//! that goes into the kind's examples (`errors.rs`). A status code is part of a key only
//! within 100..=599, so the set stays closed whatever a server answers.

use std::fmt;

/// Why a failed step failed, as the run counts it. `docs/reports.md` tables every key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// A connection (an HTTP request's, or a WebSocket's: `ws`) that did not open.
    Connect { ws: bool, why: ConnectFailure },
    /// An HTTP request that took longer than its `timeout`.
    Timeout,
    /// An HTTP response that is not valid HTTP, or a connection that broke mid-exchange.
    Protocol,
    /// An HTTP response body over the plan's limit.
    BodyTooLarge,
    /// An HTTP/1.1 response head (status line and headers) over 64 KiB.
    HeaderTooLarge,
    /// A request's URL that does not parse once rendered.
    InvalidUrl,
    /// A response whose status missed the step's `expect` (`None`: outside 100..=599).
    ExpectStatus(Option<Status>),
    /// A response that missed an `expect` on a header.
    ExpectHeader,
    /// A response whose body is not JSON, for an `expect` on it.
    ExpectJson,
    /// A response that missed an `expect` on a JSON path.
    ExpectJsonPath,
    /// A WebSocket handshake answered with another status than 101 (`None`: outside
    /// 100..=599).
    Handshake(Option<Status>),
    /// A WebSocket handshake response that is not a valid upgrade.
    HandshakeInvalid,
    /// The server closed the connection during the WebSocket handshake.
    HandshakeClosed,
    /// A `connect` whose URL or headers cannot make an upgrade request.
    WsRequest,
    /// A frame the WebSocket did not take.
    WsSend,
    /// A WebSocket message over the plan's limit.
    MessageTooLarge,
    /// An `expect` that saw no matching message in time.
    ExpectTimeout,
    /// An `expect`'s `sequence` check that counted gaps, duplicates, reorders or invalid
    /// numbers.
    ExpectSequence,
    /// The WebSocket closed while an `expect` waited.
    WsClosed,
    /// A WebSocket step with no WebSocket open.
    WsNotOpen,
    /// A template that did not render.
    Template,
    /// A `binary` body or message that is not base64.
    InvalidBase64,
    /// A `unique` data source had no row left for an iteration (the VU stopped).
    DataExhausted,
    /// Something the run prepared is missing or broken: a bug in loadplan.
    Internal,
    /// A key a saved run holds that this version does not name (runs saved before the
    /// kinds were closed). Never made by a run.
    Saved(Box<str>),
}

/// Why a connection did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConnectFailure {
    /// The host's name did not resolve.
    Dns,
    /// Nothing listens on the port (`ECONNREFUSED`).
    Refused,
    /// The connection was reset or aborted while opening.
    Reset,
    /// The system gave up connecting (`ETIMEDOUT`); a WebSocket's own handshake `timeout`.
    Timeout,
    /// No route to the host or network.
    Unreachable,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// No file descriptor left for the socket (`EMFILE`/`ENFILE`, see `ulimit -n`).
    TooManyOpenFiles,
    /// Any other error of the system's `connect`.
    Failed,
}

/// An HTTP status code within 100..=599.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Status(u16);

impl Status {
    /// The code, when it is within 100..=599.
    pub fn new(code: u16) -> Option<Self> {
        (100..=599).contains(&code).then_some(Self(code))
    }

    pub fn code(self) -> u16 {
        self.0
    }
}

/// Whether an I/O error says no file descriptor is left (`EMFILE`/`ENFILE`): the client's
/// connects and the mock's accepts both ask.
pub fn out_of_descriptors(error: &std::io::Error) -> bool {
    cfg!(unix) && matches!(error.raw_os_error(), Some(23 | 24))
}

impl ConnectFailure {
    /// The failure of an I/O error of `connect` (or of the handshake's first read/write).
    pub fn of_io(error: &std::io::Error) -> Self {
        use std::io::ErrorKind as Io;
        if out_of_descriptors(error) {
            return Self::TooManyOpenFiles;
        }
        match error.kind() {
            Io::ConnectionRefused => Self::Refused,
            Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe => Self::Reset,
            Io::TimedOut => Self::Timeout,
            Io::HostUnreachable | Io::NetworkUnreachable | Io::NetworkDown => Self::Unreachable,
            // A name that does not resolve: std's getaddrinfo error has no kind of its own
            // (its text is std's, not a server's).
            _ if error.to_string().contains("lookup address")
                || error.to_string().contains("resolve to any address") =>
            {
                Self::Dns
            }
            _ => Self::Failed,
        }
    }

    fn text(self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::Refused => "connect refused",
            Self::Reset => "connect reset",
            Self::Timeout => "connect timeout",
            Self::Unreachable => "connect unreachable",
            Self::Tls => "tls",
            Self::TooManyOpenFiles => "too many open files",
            Self::Failed => "connect failed",
        }
    }

    const ALL: [Self; 8] = [
        Self::Dns,
        Self::Refused,
        Self::Reset,
        Self::Timeout,
        Self::Unreachable,
        Self::Tls,
        Self::TooManyOpenFiles,
        Self::Failed,
    ];
}

/// The keys without a parameter, and their kinds.
const FIXED: [(&str, ErrorKind); 22] = [
    ("timeout", ErrorKind::Timeout),
    ("protocol", ErrorKind::Protocol),
    ("body too large", ErrorKind::BodyTooLarge),
    ("header too large", ErrorKind::HeaderTooLarge),
    ("invalid url", ErrorKind::InvalidUrl),
    ("expect status other", ErrorKind::ExpectStatus(None)),
    ("expect header", ErrorKind::ExpectHeader),
    ("expect json", ErrorKind::ExpectJson),
    ("expect json path", ErrorKind::ExpectJsonPath),
    ("ws handshake other", ErrorKind::Handshake(None)),
    ("ws handshake invalid", ErrorKind::HandshakeInvalid),
    ("ws handshake closed", ErrorKind::HandshakeClosed),
    ("ws request invalid", ErrorKind::WsRequest),
    ("ws send failed", ErrorKind::WsSend),
    ("message too large", ErrorKind::MessageTooLarge),
    ("expect timeout", ErrorKind::ExpectTimeout),
    ("expect sequence", ErrorKind::ExpectSequence),
    ("ws closed", ErrorKind::WsClosed),
    ("ws not open", ErrorKind::WsNotOpen),
    ("template", ErrorKind::Template),
    ("invalid base64", ErrorKind::InvalidBase64),
    ("data exhausted", ErrorKind::DataExhausted),
];

impl ErrorKind {
    /// The kind a saved key names: one of this version's keys, or [`ErrorKind::Saved`].
    pub fn from_key(key: &str) -> Self {
        if key == "internal" {
            return Self::Internal;
        }
        if let Some((_, kind)) = FIXED.iter().find(|(text, _)| *text == key) {
            return kind.clone();
        }
        let status = |rest: &str| {
            rest.parse::<u16>()
                .ok()
                .filter(|_| rest.len() == 3)
                .and_then(Status::new)
        };
        if let Some(code) = key.strip_prefix("expect status ").and_then(status) {
            return Self::ExpectStatus(Some(code));
        }
        if let Some(code) = key.strip_prefix("ws handshake ").and_then(status) {
            return Self::Handshake(Some(code));
        }
        let (ws, rest) = match key.strip_prefix("ws ") {
            Some(rest) => (true, rest),
            None => (false, key),
        };
        if let Some(why) = ConnectFailure::ALL.into_iter().find(|f| f.text() == rest) {
            return Self::Connect { ws, why };
        }
        Self::Saved(key.into())
    }
}

impl fmt::Display for ErrorKind {
    /// The key: `connect refused`, `ws handshake 403`, `expect status 503`…
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect { ws, why } => {
                if *ws {
                    f.write_str("ws ")?;
                }
                f.write_str(why.text())
            }
            Self::ExpectStatus(Some(status)) => write!(f, "expect status {}", status.0),
            Self::Handshake(Some(status)) => write!(f, "ws handshake {}", status.0),
            Self::Internal => f.write_str("internal"),
            Self::Saved(key) => f.write_str(key),
            fixed => match FIXED.iter().find(|(_, kind)| kind == fixed) {
                Some((text, _)) => f.write_str(text),
                None => f.write_str("internal"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys are what saved runs and baselines documents hold: they must not drift.
    #[test]
    fn every_key_is_pinned_and_reads_back() {
        let connect = |ws, why| ErrorKind::Connect { ws, why };
        let cases = [
            (connect(false, ConnectFailure::Dns), "dns"),
            (connect(false, ConnectFailure::Refused), "connect refused"),
            (connect(false, ConnectFailure::Reset), "connect reset"),
            (connect(false, ConnectFailure::Timeout), "connect timeout"),
            (
                connect(false, ConnectFailure::Unreachable),
                "connect unreachable",
            ),
            (connect(false, ConnectFailure::Tls), "tls"),
            (
                connect(false, ConnectFailure::TooManyOpenFiles),
                "too many open files",
            ),
            (connect(false, ConnectFailure::Failed), "connect failed"),
            (connect(true, ConnectFailure::Dns), "ws dns"),
            (connect(true, ConnectFailure::Refused), "ws connect refused"),
            (connect(true, ConnectFailure::Reset), "ws connect reset"),
            (connect(true, ConnectFailure::Timeout), "ws connect timeout"),
            (
                connect(true, ConnectFailure::Unreachable),
                "ws connect unreachable",
            ),
            (connect(true, ConnectFailure::Tls), "ws tls"),
            (
                connect(true, ConnectFailure::TooManyOpenFiles),
                "ws too many open files",
            ),
            (connect(true, ConnectFailure::Failed), "ws connect failed"),
            (ErrorKind::Timeout, "timeout"),
            (ErrorKind::Protocol, "protocol"),
            (ErrorKind::BodyTooLarge, "body too large"),
            (ErrorKind::HeaderTooLarge, "header too large"),
            (ErrorKind::InvalidUrl, "invalid url"),
            (
                ErrorKind::ExpectStatus(Status::new(503)),
                "expect status 503",
            ),
            (
                ErrorKind::ExpectStatus(Status::new(100)),
                "expect status 100",
            ),
            (ErrorKind::ExpectStatus(None), "expect status other"),
            (ErrorKind::ExpectHeader, "expect header"),
            (ErrorKind::ExpectJson, "expect json"),
            (ErrorKind::ExpectJsonPath, "expect json path"),
            (ErrorKind::Handshake(Status::new(403)), "ws handshake 403"),
            (ErrorKind::Handshake(Status::new(599)), "ws handshake 599"),
            (ErrorKind::Handshake(None), "ws handshake other"),
            (ErrorKind::HandshakeInvalid, "ws handshake invalid"),
            (ErrorKind::HandshakeClosed, "ws handshake closed"),
            (ErrorKind::WsRequest, "ws request invalid"),
            (ErrorKind::WsSend, "ws send failed"),
            (ErrorKind::MessageTooLarge, "message too large"),
            (ErrorKind::ExpectTimeout, "expect timeout"),
            (ErrorKind::ExpectSequence, "expect sequence"),
            (ErrorKind::WsClosed, "ws closed"),
            (ErrorKind::WsNotOpen, "ws not open"),
            (ErrorKind::Template, "template"),
            (ErrorKind::InvalidBase64, "invalid base64"),
            (ErrorKind::DataExhausted, "data exhausted"),
            (ErrorKind::Internal, "internal"),
        ];
        for (kind, key) in cases {
            assert_eq!(kind.to_string(), key);
            assert_eq!(ErrorKind::from_key(key), kind, "{key}");
        }
    }

    #[test]
    fn statuses_outside_the_range_are_not_keys() {
        assert_eq!(Status::new(99), None);
        assert_eq!(Status::new(600), None);
        assert_eq!(Status::new(65535), None);
        for key in [
            "expect status 600",
            "ws handshake 0403",
            "ws handshake 40",
            "connect: ConnectionRefused",
            "ws connect: HTTP error: 403 Forbidden",
        ] {
            assert_eq!(ErrorKind::from_key(key), ErrorKind::Saved(key.into()));
        }
    }

    #[test]
    fn io_errors_are_classified_by_kind() {
        use std::io::{Error, ErrorKind as Io};
        for (error, why) in [
            (Error::from(Io::ConnectionRefused), ConnectFailure::Refused),
            (Error::from(Io::ConnectionReset), ConnectFailure::Reset),
            (Error::from(Io::TimedOut), ConnectFailure::Timeout),
            (
                Error::from(Io::HostUnreachable),
                ConnectFailure::Unreachable,
            ),
            (
                Error::other("failed to lookup address information: x"),
                ConnectFailure::Dns,
            ),
            (Error::other("something"), ConnectFailure::Failed),
        ] {
            assert_eq!(ConnectFailure::of_io(&error), why, "{error}");
        }
        if cfg!(unix) {
            assert_eq!(
                ConnectFailure::of_io(&Error::from_raw_os_error(24)),
                ConnectFailure::TooManyOpenFiles
            );
        }
    }
}
