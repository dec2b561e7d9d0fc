//! The HTTP client of one VU: one keep-alive connection per VU (k6's model), reopened after
//! an error, after `Connection: close`, or when the VU talks to another host. HTTP/1.1 is
//! `h1` (one write and one read per request, no task or channel in between); HTTP/2
//! (`version: http2`: ALPN over TLS, prior knowledge in clear) is hyper's `client::conn`.
//! Plain or over rustls.
//!
//! A response body is read to its end either way, but kept only when the step reads it
//! ([`BodyUse::Keep`], up to the plan's `limits.max_body`); otherwise it is counted and
//! dropped as it arrives, so what a server sends never grows a VU's memory.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Uri;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use super::h1;
pub use super::h1::BodyUse;
use super::tls::Tls;
use super::transport::{Counted, Transport, Wire};
use crate::results::{ConnectFailure, ErrorKind};

/// A request as the VU made it: the URI absolute, header values rendered.
pub struct Outgoing<'a> {
    pub method: &'a str,
    pub uri: Uri,
    pub headers: Vec<(&'a str, String)>,
    /// `Content-Type` for a `json` or `form` body (none when `headers` names one).
    pub content_type: Option<&'static str>,
    pub body: Bytes,
}

/// A response's headers: the raw HTTP/1.1 head (read only when a check or a capture asks),
/// or HTTP/2's header map.
pub enum Headers {
    Raw(Bytes),
    Map(hyper::HeaderMap),
}

impl Headers {
    /// The first value of the header `name` (any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        match self {
            Self::Raw(head) => super::h1::header(head, name),
            Self::Map(map) => map.get(name).and_then(|v| v.to_str().ok()),
        }
    }

    /// Every header, names in lower case.
    pub fn pairs(&self) -> Vec<(String, String)> {
        match self {
            Self::Raw(head) => super::h1::headers(head),
            Self::Map(map) => map
                .iter()
                .filter_map(|(k, v)| {
                    v.to_str()
                        .ok()
                        .map(|v| (k.as_str().to_owned(), v.to_owned()))
                })
                .collect(),
        }
    }
}

/// What came back, and how long its parts took.
pub struct Response {
    pub status: u16,
    pub headers: Headers,
    /// The body when the step reads it ([`BodyUse::Keep`]), else empty.
    pub body: Bytes,
    /// Connecting (zero on a reused connection).
    pub connecting: Duration,
    /// From sending to the response head (time to first byte).
    pub waiting: Duration,
    /// From sending to the end of the body.
    pub duration: Duration,
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The connection did not open, and the system's or TLS's detail.
    Connect(ConnectFailure, String),
    Timeout,
    Protocol(String),
    /// A body the step reads that is longer than the plan's `limits.max_body`.
    BodyTooLarge,
    /// A response head over 64 KiB, and what was too large.
    HeaderTooLarge(String),
}

impl Failure {
    /// The error kind as the run counts it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Connect(why, _) => ErrorKind::Connect {
                ws: false,
                why: *why,
            },
            Self::Timeout => ErrorKind::Timeout,
            Self::Protocol(_) => ErrorKind::Protocol,
            Self::BodyTooLarge => ErrorKind::BodyTooLarge,
            Self::HeaderTooLarge(_) => ErrorKind::HeaderTooLarge,
        }
    }

    /// The text that came with the failure (an example of its kind), if any.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Self::Connect(_, detail) | Self::Protocol(detail) | Self::HeaderTooLarge(detail) => {
                Some(detail)
            }
            Self::Timeout | Self::BodyTooLarge => None,
        }
    }

    /// A connection's I/O error.
    fn io(error: &std::io::Error) -> Self {
        Self::Connect(ConnectFailure::of_io(error), error.to_string())
    }
}

/// The open connection: HTTP/1.1 written by hand (`h1`), HTTP/2 through hyper.
enum Sender {
    Http1(Box<h1::Connection>),
    Http2(http2::SendRequest<Full<Bytes>>),
}

/// The open connection and where it goes.
struct Open {
    secure: bool,
    host: String,
    port: u16,
    /// HTTP/2 was asked for (the connection may still be HTTP/1.1 if ALPN said so).
    asked_h2: bool,
    sender: Sender,
}

pub struct HttpClient {
    connection: Option<Open>,
    /// Where this VU's connections count the bytes that cross their sockets.
    wire: std::sync::Arc<Wire>,
}

impl HttpClient {
    pub fn new(wire: std::sync::Arc<Wire>) -> Self {
        Self {
            connection: None,
            wire,
        }
    }

    /// Sends `request`, waiting at most `timeout` for the whole answer; `body`: whether
    /// the response body is kept (and up to which size) or read and dropped.
    pub async fn send(
        &mut self,
        request: &Outgoing<'_>,
        timeout: Duration,
        http2: bool,
        tls: &Tls,
        body: BodyUse,
    ) -> Result<Response, Failure> {
        match tokio::time::timeout(timeout, self.exchange(request, http2, tls, body)).await {
            Ok(result) => result,
            Err(_) => {
                // The connection is mid-exchange; it cannot be reused.
                self.connection = None;
                Err(Failure::Timeout)
            }
        }
    }

    async fn exchange(
        &mut self,
        request: &Outgoing<'_>,
        http2: bool,
        tls: &Tls,
        body: BodyUse,
    ) -> Result<Response, Failure> {
        let uri = &request.uri;
        let (secure, host, port) = endpoint(uri)?;
        let started = Instant::now();
        let mut reuse = self.connection.as_ref().is_some_and(|open| {
            open.secure == secure
                && open.port == port
                && open.asked_h2 == http2
                && open.host == host
                && match &open.sender {
                    Sender::Http1(_) => true,
                    Sender::Http2(sender) => sender.is_ready(),
                }
        });
        loop {
            if !reuse {
                self.connection = None;
                // Boxed: connecting (TCP, TLS, the HTTP handshake) is a large future that
                // runs once per connection; inline, every request's future would carry it.
                let sender = Box::pin(connect(secure, host, port, http2, tls, &self.wire)).await?;
                self.connection = Some(Open {
                    secure,
                    host: host.to_owned(),
                    port,
                    asked_h2: http2,
                    sender,
                });
            }
            // A reused connection took no time to connect; one clock read less per request.
            let (connecting, sent) = if reuse {
                (Duration::ZERO, started)
            } else {
                (started.elapsed(), Instant::now())
            };
            let Some(open) = self.connection.as_mut() else {
                return Err(Failure::Connect(
                    ConnectFailure::Failed,
                    "no connection".into(),
                ));
            };
            let outcome = match &mut open.sender {
                Sender::Http1(connection) => {
                    let outgoing = h1::Outgoing {
                        method: request.method,
                        target: uri.path_and_query().map_or("/", |p| p.as_str()),
                        authority: uri.authority().map_or("", |a| a.as_str()),
                        headers: &request.headers,
                        content_type: request.content_type,
                        body: &request.body,
                    };
                    connection.exchange(&outgoing, body).await
                }
                Sender::Http2(sender) => {
                    // Boxed: hyper's request and response futures are large; inline, they
                    // would take every request's future past 1 KiB, which costs each
                    // HTTP/1.1 request a slower allocation (callgrind: +150 instructions).
                    let result = Box::pin(exchange_h2(sender, request, sent, body)).await;
                    if result.is_err() {
                        self.connection = None;
                    }
                    return result.map(|mut response| {
                        response.connecting = connecting;
                        response
                    });
                }
            };
            return match outcome {
                Ok((incoming, reusable)) => {
                    if !reusable {
                        self.connection = None;
                    }
                    Ok(Response {
                        status: incoming.status,
                        headers: Headers::Raw(incoming.head),
                        body: incoming.body,
                        connecting,
                        waiting: incoming.head_at.saturating_duration_since(sent),
                        duration: sent.elapsed(),
                    })
                }
                // The server closed the kept-alive connection meanwhile: once more, new.
                Err(h1::Error::Closed) if reuse => {
                    reuse = false;
                    continue;
                }
                Err(error) => {
                    self.connection = None;
                    Err(match error {
                        h1::Error::TooLarge => Failure::BodyTooLarge,
                        h1::Error::HeadTooLarge => Failure::HeaderTooLarge(error.to_string()),
                        other => Failure::Protocol(other.to_string()),
                    })
                }
            };
        }
    }
}

/// One HTTP/2 exchange through hyper (scheme and authority from the absolute URI). The
/// body is read frame by frame: kept up to its limit, or counted and dropped.
async fn exchange_h2(
    sender: &mut http2::SendRequest<Full<Bytes>>,
    request: &Outgoing<'_>,
    sent: Instant,
    body_use: BodyUse,
) -> Result<Response, Failure> {
    let mut builder = hyper::Request::builder()
        .method(request.method)
        .uri(request.uri.clone());
    for (name, value) in &request.headers {
        builder = builder.header(*name, value.as_str());
    }
    if let Some(content_type) = request.content_type {
        builder = builder.header("content-type", content_type);
    }
    let built = builder
        .body(Full::new(request.body.clone()))
        .map_err(|e| Failure::Protocol(e.to_string()))?;
    let response = sender
        .send_request(built)
        .await
        .map_err(|e| Failure::Protocol(e.to_string()))?;
    let waiting = sent.elapsed();
    let (parts, mut incoming) = response.into_parts();
    let mut kept = bytes::BytesMut::new();
    while let Some(frame) = incoming.frame().await {
        let frame = frame.map_err(|e| Failure::Protocol(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if let BodyUse::Keep(limit) = body_use {
            if data.len() > limit.saturating_sub(kept.len()) {
                return Err(Failure::BodyTooLarge);
            }
            kept.extend_from_slice(&data);
        }
    }
    Ok(Response {
        status: parts.status.as_u16(),
        headers: Headers::Map(parts.headers),
        body: kept.freeze(),
        connecting: Duration::ZERO,
        waiting,
        duration: sent.elapsed(),
    })
}

/// Opens a connection: TCP, then TLS for `https` (ALPN `h2` when HTTP/2 is asked for),
/// then, for HTTP/2, hyper's handshake. HTTP/2 without TLS is prior-knowledge h2c.
async fn connect(
    secure: bool,
    host: &str,
    port: u16,
    http2: bool,
    tls: &Tls,
    wire: &std::sync::Arc<Wire>,
) -> Result<Sender, Failure> {
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| Failure::io(&e))?;
    let _ = stream.set_nodelay(true);
    let stream = Counted::new(stream, wire);
    if !secure {
        if http2 {
            return handshake_h2(stream).await;
        }
        return Ok(Sender::Http1(Box::new(h1::Connection::new(
            Transport::Plain(stream),
        ))));
    }
    let config = if http2 { &tls.http2 } else { &tls.http1 };
    let name = rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|_| {
        Failure::Connect(ConnectFailure::Tls, format!("invalid server name `{host}`"))
    })?;
    let stream = tokio_rustls::TlsConnector::from(std::sync::Arc::clone(config))
        .connect(name, stream)
        .await
        .map_err(|e| Failure::Connect(ConnectFailure::Tls, e.to_string()))?;
    if http2 && stream.get_ref().1.alpn_protocol() == Some(b"h2") {
        return handshake_h2(stream).await;
    }
    Ok(Sender::Http1(Box::new(h1::Connection::new(
        Transport::Tls(Box::new(stream)),
    ))))
}

async fn handshake_h2<Io>(io: Io) -> Result<Sender, Failure>
where
    Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(io))
        .await
        .map_err(|e| Failure::Protocol(e.to_string()))?;
    tokio::spawn(connection);
    Ok(Sender::Http2(sender))
}

/// Whether the URI is `https`, its host and port.
fn endpoint(uri: &Uri) -> Result<(bool, &str, u16), Failure> {
    let secure = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        other => {
            return Err(Failure::Protocol(format!(
                "unsupported URL scheme {other:?}"
            )));
        }
    };
    let host = uri
        .host()
        .ok_or_else(|| Failure::Protocol("the URL has no host".into()))?;
    // `[::1]` in a URI is `::1` to a resolver.
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    Ok((secure, host, port))
}
