//! The HTTP client of one VU: one keep-alive HTTP/1.1 connection per VU (k6's model, and the
//! cheapest per request: hyper's `client::conn` without a pool), reopened after an error or
//! when the VU talks to another host.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

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
    Unsupported(String),
}

impl Failure {
    /// The error kind as reports count it.
    pub fn kind(&self) -> String {
        match self {
            Self::Connect(why) => format!("connect: {why}"),
            Self::Timeout => "timeout".to_owned(),
            Self::Protocol(why) => format!("http: {why}"),
            Self::Unsupported(why) => why.clone(),
        }
    }
}

#[derive(Default)]
pub struct HttpClient {
    connection: Option<(String, SendRequest<Full<Bytes>>)>,
}

impl HttpClient {
    /// Sends `request` (its URI absolute), waiting at most `timeout` for the whole answer.
    pub async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<Response, Failure> {
        match tokio::time::timeout(timeout, self.exchange(request)).await {
            Ok(result) => result,
            Err(_) => {
                // The connection is mid-exchange; it cannot be reused.
                self.connection = None;
                Err(Failure::Timeout)
            }
        }
    }

    async fn exchange(&mut self, mut request: Request<Full<Bytes>>) -> Result<Response, Failure> {
        let uri = request.uri().clone();
        let authority = endpoint(&uri)?;
        let started = Instant::now();
        let reuse =
            matches!(&self.connection, Some((to, sender)) if *to == authority && sender.is_ready());
        if !reuse {
            self.connection = None;
            let stream = TcpStream::connect(&authority)
                .await
                .map_err(|e| Failure::Connect(e.kind().to_string()))?;
            let _ = stream.set_nodelay(true);
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| Failure::Connect(e.to_string()))?;
            tokio::spawn(connection);
            self.connection = Some((authority.clone(), sender));
        }
        let connecting = started.elapsed();
        let Some((_, sender)) = self.connection.as_mut() else {
            return Err(Failure::Connect("no connection".into()));
        };
        // HTTP/1.1 wants the path in the request line and the host in a header.
        if !request.headers().contains_key(hyper::header::HOST)
            && let Ok(host) =
                hyper::header::HeaderValue::from_str(uri.authority().map_or("", |a| a.as_str()))
        {
            request.headers_mut().insert(hyper::header::HOST, host);
        }
        *request.uri_mut() = uri.path_and_query().map_or_else(
            || Uri::from_static("/"),
            |pq| Uri::try_from(pq.as_str()).unwrap_or_else(|_| Uri::from_static("/")),
        );
        let sent = Instant::now();
        let response = match sender.send_request(request).await {
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

/// `host:port` of an `http://` URI.
fn endpoint(uri: &Uri) -> Result<String, Failure> {
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(Failure::Unsupported(
                "https is not supported yet: TLS lands with the rustls client".into(),
            ));
        }
        other => {
            return Err(Failure::Protocol(format!(
                "unsupported URL scheme {other:?}"
            )));
        }
    }
    let host = uri
        .host()
        .ok_or_else(|| Failure::Protocol("the URL has no host".into()))?;
    Ok(format!("{host}:{}", uri.port_u16().unwrap_or(80)))
}
