//! The HTTP client of one VU: one keep-alive connection per VU (k6's model, and the
//! cheapest per request: hyper's `client::conn` without a pool), reopened after an error or
//! when the VU talks to another host. HTTP/1.1 or HTTP/2 (`version: http2`: ALPN over TLS,
//! prior knowledge in clear), plain or over rustls.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper::{Request, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use super::tls::Tls;

/// What came back, and how long its parts took.
pub struct Response {
    pub status: u16,
    pub headers: hyper::HeaderMap,
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
    Connect(String),
    Timeout,
    Protocol(String),
}

impl Failure {
    /// The error kind as reports count it.
    pub fn kind(&self) -> String {
        match self {
            Self::Connect(why) => format!("connect: {why}"),
            Self::Timeout => "timeout".to_owned(),
            Self::Protocol(why) => format!("http: {why}"),
        }
    }
}

/// The sending half of the open connection.
enum Sender {
    Http1(http1::SendRequest<Full<Bytes>>),
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

#[derive(Default)]
pub struct HttpClient {
    connection: Option<Open>,
}

impl HttpClient {
    /// Sends `request` (its URI absolute), waiting at most `timeout` for the whole answer.
    pub async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
        timeout: Duration,
        http2: bool,
        tls: &Tls,
    ) -> Result<Response, Failure> {
        match tokio::time::timeout(timeout, self.exchange(request, http2, tls)).await {
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
        mut request: Request<Full<Bytes>>,
        http2: bool,
        tls: &Tls,
    ) -> Result<Response, Failure> {
        let uri = request.uri().clone();
        let (secure, host, port) = endpoint(&uri)?;
        let started = Instant::now();
        let reuse = self.connection.as_ref().is_some_and(|open| {
            open.secure == secure
                && open.port == port
                && open.asked_h2 == http2
                && open.host == host
                && match &open.sender {
                    Sender::Http1(sender) => sender.is_ready(),
                    Sender::Http2(sender) => sender.is_ready(),
                }
        });
        if !reuse {
            self.connection = None;
            // Boxed: connecting (TCP, TLS, the HTTP handshake) is a large future that runs
            // once per connection; inline, every request's future would carry and copy it.
            let sender = Box::pin(connect(secure, host, port, http2, tls)).await?;
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
            return Err(Failure::Connect("no connection".into()));
        };
        let result = match &mut open.sender {
            Sender::Http1(sender) => {
                // HTTP/1.1 wants the path in the request line and the host in a header.
                if !request.headers().contains_key(hyper::header::HOST)
                    && let Ok(host) = hyper::header::HeaderValue::from_str(
                        uri.authority().map_or("", |a| a.as_str()),
                    )
                {
                    request.headers_mut().insert(hyper::header::HOST, host);
                }
                // The path alone, sharing the URI's bytes (no parse).
                let mut parts = hyper::http::uri::Parts::default();
                parts.path_and_query = uri.path_and_query().cloned();
                *request.uri_mut() =
                    Uri::from_parts(parts).unwrap_or_else(|_| Uri::from_static("/"));
                sender.send_request(request).await
            }
            // HTTP/2 takes scheme and authority from the absolute URI.
            Sender::Http2(sender) => sender.send_request(request).await,
        };
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                self.connection = None;
                return Err(Failure::Protocol(error.to_string()));
            }
        };
        let waiting = sent.elapsed();
        let (parts, body) = response.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => {
                self.connection = None;
                return Err(Failure::Protocol(error.to_string()));
            }
        };
        Ok(Response {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            connecting,
            waiting,
            duration: sent.elapsed(),
        })
    }
}

/// Opens a connection: TCP, then TLS for `https` (ALPN `h2` when HTTP/2 is asked for),
/// then the HTTP handshake. HTTP/2 without TLS is prior-knowledge h2c.
async fn connect(
    secure: bool,
    host: &str,
    port: u16,
    http2: bool,
    tls: &Tls,
) -> Result<Sender, Failure> {
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| Failure::Connect(e.kind().to_string()))?;
    let _ = stream.set_nodelay(true);
    if !secure {
        return handshake(stream, http2).await;
    }
    let config = if http2 { &tls.http2 } else { &tls.http1 };
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| Failure::Connect(format!("tls: invalid server name `{host}`")))?;
    let stream = tokio_rustls::TlsConnector::from(std::sync::Arc::clone(config))
        .connect(name, stream)
        .await
        .map_err(|e| Failure::Connect(format!("tls: {e}")))?;
    let negotiated_h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    handshake(stream, http2 && negotiated_h2).await
}

async fn handshake<Io>(io: Io, http2: bool) -> Result<Sender, Failure>
where
    Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(io);
    if http2 {
        let (sender, connection) = http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|e| Failure::Connect(e.to_string()))?;
        tokio::spawn(connection);
        Ok(Sender::Http2(sender))
    } else {
        let (sender, connection) = http1::handshake(io)
            .await
            .map_err(|e| Failure::Connect(e.to_string()))?;
        tokio::spawn(connection);
        Ok(Sender::Http1(sender))
    }
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
