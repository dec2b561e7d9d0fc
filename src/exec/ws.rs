//! The WebSocket of one VU. A reader task stamps every message with its arrival time,
//! applies the scenario's `on_message` rules at once (so `broadcast_delivery_time` is the
//! true arrival, whatever the VU is doing), and queues it for `expect` steps.
//!
//! A connection holds at most one message of `max_message` bytes (the plan's
//! `limits.max_message`, or the `connect` step's `max_message_size`): tungstenite refuses a
//! larger frame from its header, before reading its payload, and a larger message as its
//! fragments add up. The reader then stops, and the VU's next step on the connection fails
//! with `message too large` (or, if no step comes, the error is counted when the
//! connection ends).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::shared::{Event, Shared};
use super::step_error::{StepError, WsFailure};
use super::transport::{Counted, Transport, Wire};
use crate::results::{ConnectFailure, Sample};

type Stream = WebSocketStream<Transport>;

/// Bytes read from the socket at a time, and the read buffer each connection keeps: 10,000
/// idle VUs keep 10,000 of them. Larger messages take several reads.
const READ_BUFFER: usize = 2048;

/// The longest handshake response read.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// Why a WebSocket did not open: the URL cannot be reached as given (`Request`), or the
/// connection or its handshake failed.
enum OpenError {
    Request(String),
    Failed(WsFailure),
}

impl From<WsFailure> for OpenError {
    fn from(failure: WsFailure) -> Self {
        Self::Failed(failure)
    }
}

fn invalid(why: impl Into<String>) -> OpenError {
    OpenError::Failed(WsFailure::Invalid(why.into()))
}

fn io(error: &std::io::Error) -> OpenError {
    OpenError::Failed(WsFailure::Connect(
        ConnectFailure::of_io(error),
        error.to_string(),
    ))
}

/// What tungstenite's write buffer may hold beyond one message of `max_message` bytes: the
/// frame header (at most 14 bytes) and the control frames it adds (pong, close: at most
/// 139 bytes each). Messages go out at once (`write_buffer_size` 0), so the buffer holds
/// only what the socket has not yet taken.
const WRITE_HEADROOM: usize = 1024;

/// The reader's state, shared with the connection: reading, or stopped by a message over
/// the limit (not yet, then already, turned into a step's error).
const READING: u8 = 0;
const TOO_LARGE: u8 = 1;
const TOO_LARGE_COUNTED: u8 = 2;

/// TCP (and TLS for `wss://`), then the HTTP/1.1 upgrade (RFC 6455 §4.1): done here rather
/// than by tungstenite, whose handshake leaves each connection a 4 KiB read buffer for
/// good. Returns the stream and any bytes the server sent after its response.
async fn open(
    shared: &Shared,
    request: &hyper::Request<()>,
    wire: &Arc<Wire>,
) -> Result<(Transport, Vec<u8>), OpenError> {
    let uri = request.uri();
    let secure = match uri.scheme_str() {
        Some("ws") => false,
        Some("wss") => true,
        other => {
            return Err(OpenError::Request(format!(
                "unsupported scheme `{}`",
                other.unwrap_or("")
            )));
        }
    };
    let host = uri
        .host()
        .ok_or_else(|| OpenError::Request("no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let tcp = TcpStream::connect((host, port)).await.map_err(|e| io(&e))?;
    let _ = tcp.set_nodelay(true);
    let tcp = Counted::new(tcp, wire);
    let mut transport = if secure {
        let tls = |why: String| WsFailure::Connect(ConnectFailure::Tls, why);
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|_| tls(format!("invalid server name `{host}`")))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::clone(&shared.tls.http1))
            .connect(name, tcp)
            .await
            .map_err(|e| tls(e.to_string()))?;
        Transport::Tls(Box::new(tls))
    } else {
        Transport::Plain(tcp)
    };
    let mut head = format!(
        "GET {} HTTP/1.1\r\n",
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    for (name, value) in request.headers() {
        // Header names are case-insensitive, but some servers check the handshake's
        // spelling: those five go out as RFC 6455 writes them, as tungstenite does.
        let spelled = match name.as_str() {
            "host" => "Host",
            "connection" => "Connection",
            "upgrade" => "Upgrade",
            "sec-websocket-version" => "Sec-WebSocket-Version",
            "sec-websocket-key" => "Sec-WebSocket-Key",
            "sec-websocket-protocol" => "Sec-WebSocket-Protocol",
            other => other,
        };
        head.push_str(spelled);
        head.push_str(": ");
        head.push_str(
            value
                .to_str()
                .map_err(|_| OpenError::Request(format!("header `{name}` is not text")))?,
        );
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    transport
        .write_all(head.as_bytes())
        .await
        .map_err(|e| io(&e))?;
    let mut response = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    let end = loop {
        let n = transport.read(&mut chunk).await.map_err(|e| io(&e))?;
        if n == 0 {
            return Err(WsFailure::Closed.into());
        }
        let searched_from = response.len().saturating_sub(3);
        response.extend_from_slice(&chunk[..n]);
        if let Some(at) = response[searched_from..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
        {
            break searched_from + at + 4;
        }
        if response.len() > MAX_RESPONSE_HEAD {
            return Err(invalid("handshake response headers too long"));
        }
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    parsed
        .parse(&response[..end])
        .map_err(|e| invalid(format!("invalid handshake response: {e}")))?;
    let code = parsed.code.unwrap_or(0);
    if code != 101 {
        return Err(WsFailure::Status {
            code,
            reason: parsed.reason.unwrap_or("").to_owned(),
        }
        .into());
    }
    let header = |wanted: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(wanted))
            .map(|h| h.value)
    };
    let key = request
        .headers()
        .get("sec-websocket-key")
        .map(|v| v.as_bytes())
        .ok_or_else(|| OpenError::Request("no Sec-WebSocket-Key".into()))?;
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key);
    if header("sec-websocket-accept") != Some(accept.as_bytes()) {
        return Err(invalid("wrong Sec-WebSocket-Accept"));
    }
    if !header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case(b"websocket")) {
        return Err(invalid("no `Upgrade: websocket`"));
    }
    // RFC 6455 §4.1: the server picks one of the subprotocols offered, or none.
    if let Some(chosen) = header("sec-websocket-protocol") {
        let chosen = String::from_utf8_lossy(chosen);
        let offered = request
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !offered.split(',').any(|p| p.trim() == chosen.trim()) {
            return Err(invalid(format!(
                "the server chose subprotocol `{chosen}`, which was not offered"
            )));
        }
    }
    Ok((transport, response[end..].to_vec()))
}

/// Messages kept for `expect` steps; beyond this, the oldest unread ones are dropped.
const INBOX: usize = 1024;

/// A received message and when it arrived.
pub struct Received {
    /// The message's text, shared with the frame it came in (not copied).
    pub text: Utf8Bytes,
    pub json: Option<serde_json::Value>,
    /// When the reader decoded it from the socket's bytes (the end of its latency).
    pub at: Instant,
}

pub struct Connection {
    shared: Arc<Shared>,
    sink: SplitSink<Stream, Message>,
    /// Boxed messages: the channel's first block of 32 slots costs 256 bytes, not ~2.5 KB.
    pub inbox: mpsc::Receiver<Box<Received>>,
    scenario: Arc<str>,
    reader: JoinHandle<()>,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// The largest message received or sent.
    pub max_message: usize,
    /// [`READING`], [`TOO_LARGE`] or [`TOO_LARGE_COUNTED`].
    state: Arc<AtomicU8>,
    pub opened: Instant,
}

impl Drop for Connection {
    /// Every way a connection ends (closed, reconnected, its VU cancelled) ends its session.
    fn drop(&mut self) {
        self.reader.abort();
        // A message over the limit that no step turned into an error is counted now.
        if let Some(error) = self.take_failure() {
            self.shared.event(Event::Error {
                kind: error.kind(),
                example: error.example(),
            });
            self.shared.sample(Sample::Count(
                self.shared.key("errors", &self.scenario, None),
                1,
            ));
        }
        self.shared.sample(Sample::Trend(
            self.shared.key("ws_session_duration", &self.scenario, None),
            self.opened.elapsed(),
        ));
        self.shared
            .ws_open
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Opens a connection; `Err` is the error kind.
pub async fn connect(
    shared: &Arc<Shared>,
    scenario: &Arc<str>,
    url: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
    max_message: usize,
    wire: &Arc<Wire>,
) -> Result<Connection, StepError> {
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| StepError::WsRequest(e.to_string()))?;
    for (name, value) in &headers {
        let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_str(value),
        ) else {
            return Err(StepError::WsRequest(format!("invalid header `{name}`")));
        };
        request.headers_mut().insert(name, value);
    }
    // Set on purpose, not left at tungstenite's defaults (64 MiB messages, 16 MiB frames,
    // an unbounded write buffer): the plan's limit bounds what one connection holds.
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(max_message.saturating_add(WRITE_HEADROOM))
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message));
    let (transport, leftover) =
        match tokio::time::timeout(timeout, open(shared, &request, wire)).await {
            Ok(Ok(opened)) => opened,
            Ok(Err(OpenError::Request(why))) => return Err(StepError::WsRequest(why)),
            Ok(Err(OpenError::Failed(failure))) => return Err(StepError::WsConnect(failure)),
            Err(_) => return Err(StepError::WsConnectTimeout),
        };
    let stream = WebSocketStream::from_partially_read(
        transport,
        leftover,
        tokio_tungstenite::tungstenite::protocol::Role::Client,
        Some(config),
    )
    .await;
    let (sink, source) = stream.split();
    shared
        .ws_open
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (queue, inbox) = mpsc::channel(INBOX);
    let state = Arc::new(AtomicU8::new(READING));
    let reader = tokio::spawn(read(
        Arc::clone(shared),
        Arc::clone(scenario),
        source,
        queue,
        Arc::clone(&state),
        Arc::clone(wire),
    ));
    Ok(Connection {
        shared: Arc::clone(shared),
        scenario: Arc::clone(scenario),
        sink,
        inbox,
        reader,
        url,
        headers,
        max_message,
        state,
        opened: Instant::now(),
    })
}

impl Connection {
    /// Sends a message; returns when it started: the clock read just before the frame is
    /// handed to the socket. The server may answer while the write is still under way (or
    /// before this task is polled again), so a time read after the write would leave the
    /// write out of the latency and could even come after the reply's arrival.
    pub async fn send(&mut self, message: Message) -> Result<Instant, StepError> {
        if let Some(error) = self.take_failure() {
            return Err(error);
        }
        if message.len() > self.max_message {
            return Err(StepError::MessageTooLarge);
        }
        let started = Instant::now();
        self.sink
            .send(message)
            .await
            .map_err(|e| StepError::WsSend(e.to_string()))?;
        Ok(started)
    }

    /// `message too large` once, if the reader stopped at a message over the limit.
    pub fn take_failure(&self) -> Option<StepError> {
        self.state
            .compare_exchange(
                TOO_LARGE,
                TOO_LARGE_COUNTED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .ok()
            .map(|_| StepError::MessageTooLarge)
    }

    pub async fn close(mut self, code: u16) {
        let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame {
            code: code.into(),
            reason: "".into(),
        };
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            self.sink.send(Message::Close(Some(frame))),
        )
        .await;
    }
}

async fn read(
    shared: Arc<Shared>,
    scenario: Arc<str>,
    mut source: SplitStream<Stream>,
    queue: mpsc::Sender<Box<Received>>,
    state: Arc<AtomicU8>,
    wire: Arc<Wire>,
) {
    use futures_util::FutureExt as _;
    // Counts gathered while messages keep arriving, sent when the socket goes quiet (or
    // every 64 messages): one channel send per burst instead of two per message. The bytes
    // are the VU's socket counts (frames, headers and all), taken here too, so that what
    // arrives while the VU sleeps is counted when it arrives.
    let mut messages = 0u64;
    let mut samples: Vec<Event> = Vec::new();
    let received_key = shared.key("ws_msgs_received", &scenario, None);
    let flush = |messages: &mut u64, samples: &mut Vec<Event>| {
        if *messages > 0 {
            samples.push(Event::Sample(Sample::Count(
                received_key.clone(),
                *messages,
            )));
            *messages = 0;
        }
        let (sent, received) = wire.take();
        if sent > 0 || received > 0 {
            samples.push(Event::Bytes { sent, received });
        }
        if !samples.is_empty() {
            shared.batch(std::mem::take(samples));
        }
    };
    loop {
        let next = match source.next().now_or_never() {
            Some(next) => next,
            None => {
                flush(&mut messages, &mut samples);
                source.next().await
            }
        };
        let message = match next {
            Some(Ok(message)) => message,
            Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(
                CapacityError::MessageTooLong { .. },
            ))) => {
                state.store(TOO_LARGE, Ordering::Relaxed);
                break;
            }
            _ => break,
        };
        // The arrival time, read in this task as soon as the frame is decoded from the
        // socket's bytes, not when the VU gets to the message.
        let at = Instant::now();
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(data) => Utf8Bytes::from(String::from_utf8_lossy(&data).into_owned()),
            Message::Close(_) => break,
            _ => continue,
        };
        messages += 1;
        let json = if text.trim_start().starts_with(['{', '[']) {
            serde_json::from_str(&text).ok()
        } else {
            None
        };
        on_message(&shared, &scenario, &text, json.as_ref(), at, &mut samples);
        let received = Box::new(Received { text, json, at });
        // A VU that does not read its messages must not grow without bound.
        let _ = queue.try_send(received);
        if messages >= 64 {
            flush(&mut messages, &mut samples);
        }
    }
    flush(&mut messages, &mut samples);
}

/// Applies the scenario's `on_message` rules to an arriving message.
fn on_message(
    shared: &Shared,
    scenario: &Arc<str>,
    text: &str,
    json: Option<&serde_json::Value>,
    at: Instant,
    out: &mut Vec<Event>,
) {
    let Some((index, _, body)) = shared.plan.scenarios.get_full(&**scenario) else {
        return;
    };
    for (rule, matcher) in body.on_message.iter().zip(shared.on_message(index)) {
        if !matcher.matches(text, json) {
            continue;
        }
        if let Some(metric) = &rule.metric {
            out.push(Event::Sample(Sample::Count(
                shared.key(metric, scenario, None),
                1,
            )));
        }
        if let Some(path) = &rule.correlate {
            let id = json.and_then(|j| path.find(j)).map(id_text);
            if let Some(marked) = id.and_then(|id| shared.marked(&id)) {
                out.push(Event::Sample(Sample::Trend(
                    shared.key("broadcast_delivery_time", scenario, None),
                    at.saturating_duration_since(marked),
                )));
                out.push(Event::Sample(Sample::Rate(
                    shared.key("broadcast_delivered", scenario, None),
                    true,
                )));
            }
        }
    }
}

/// An id as the mark registry keys it: strings bare, anything else as JSON.
pub fn id_text(value: &serde_json::Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}
