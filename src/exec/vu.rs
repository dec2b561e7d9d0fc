//! One virtual user: runs its scenario's steps, iteration after iteration, and sends what
//! it measures to the collector. A failed step ends the iteration (its error is counted);
//! the VU goes on with the next one. Nothing a server does can end the run.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::context::{Context, MessageText};
use super::http::{HttpClient, Outgoing};
use super::matcher::{CompiledMatcher, json_subset};
use super::shared::{EVENT_BACKLOG, Event, IterationKeys, Shared};
use super::ws::{self, Connection, id_text};
use crate::plan::model::{Connect, Request, Step};
use crate::results::Sample;

/// Default time an HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time a WebSocket handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time an `expect` waits.
const EXPECT_WITHIN: Duration = Duration::from_secs(5);

type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

pub struct Vu {
    pub scenario: Arc<str>,
    out: Outbox,
    keys: Arc<IterationKeys>,
    context: Context,
    http: HttpClient,
    socket: Option<Connection>,
    last_send: Option<Instant>,
    iteration: u64,
    /// In arrival stages: how late this iteration started after it was due; latencies are
    /// also recorded with it added (`*_corrected`, coordinated omission as wrk2 corrects it).
    pub lag: Option<Duration>,
}

impl Vu {
    pub fn new(shared: &Shared, id: u64, scenario: Arc<str>) -> Self {
        Self {
            keys: Arc::new(IterationKeys {
                iterations: shared.key("iterations", &scenario, None),
                duration: shared.key("iteration_duration", &scenario, None),
                errors: shared.key("errors", &scenario, None),
            }),
            out: Outbox::default(),
            context: Context::new(&shared.base, id, &scenario),
            scenario,
            http: HttpClient::default(),
            socket: None,
            last_send: None,
            iteration: 0,
            lag: None,
        }
    }

    /// Runs iterations until `stop` is set (checked between iterations and by open-ended
    /// `repeat` blocks), then closes the WebSocket.
    pub async fn run(mut self, shared: Arc<Shared>, stop: Arc<AtomicBool>) {
        while !stop.load(Ordering::Relaxed) {
            if !self.iteration(&shared, &stop).await {
                // A step that fails at once (a refused connection) would make this loop
                // never wait; give the controller and the other VUs their turn.
                tokio::task::yield_now().await;
            }
            while shared.backlog.load(Ordering::Relaxed) > EVENT_BACKLOG
                && !stop.load(Ordering::Relaxed)
            {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        self.close(&shared).await;
    }

    /// One iteration of the scenario; returns when it ends, true when no step failed.
    pub async fn iteration(&mut self, shared: &Arc<Shared>, stop: &AtomicBool) -> bool {
        self.iteration += 1;
        self.context.set_iteration(self.iteration);
        let started = Instant::now();
        let Some(scenario) = shared.plan.scenarios.get(&*self.scenario) else {
            return false;
        };
        let outcome = self.steps(shared, &scenario.steps, stop).await;
        let ok = outcome.is_ok();
        if let Err(kind) = outcome {
            self.out.event(shared, Event::Error(kind));
            let errors = self.keys.errors.clone();
            self.out.sample(shared, Sample::Count(errors, 1));
        }
        self.out.event(
            shared,
            Event::Iteration {
                keys: Arc::clone(&self.keys),
                duration: started.elapsed(),
            },
        );
        self.out.flush_if_due(shared);
        ok
    }

    /// Sends what the VU measured and still holds.
    pub fn flush(&mut self, shared: &Shared) {
        self.out.flush(shared);
    }

    pub async fn close(&mut self, shared: &Shared) {
        if let Some(socket) = self.socket.take() {
            Box::pin(socket.close(1000)).await;
        }
        self.out.flush(shared);
    }

    fn steps<'a>(
        &'a mut self,
        shared: &'a Arc<Shared>,
        steps: &'a [Step],
        stop: &'a AtomicBool,
    ) -> StepFuture<'a> {
        Box::pin(async move {
            for step in steps {
                self.step(shared, step, stop).await?;
            }
            Ok(())
        })
    }

    async fn step(
        &mut self,
        shared: &Arc<Shared>,
        step: &Step,
        stop: &AtomicBool,
    ) -> Result<(), String> {
        let whole = step;
        match step {
            Step::Request(step) => {
                // Boxed: a request's future is the largest of all steps; inline, every
                // step future (and every idle VU) would carry its ~2 KB.
                Box::pin(self.request(shared, &step.request, step.capture.as_deref())).await
            }
            Step::Connect(step) => {
                let settings = match &step.connect {
                    Connect::Url(_) => None,
                    Connect::Settings(settings) => Some(settings),
                };
                let url = self
                    .context
                    .string(&shared.templates, step.connect.url().as_str())?;
                let mut headers = Vec::new();
                if let Some(settings) = settings {
                    for (name, value) in &settings.headers {
                        headers.push((
                            name.clone(),
                            self.context.string(&shared.templates, value.as_str())?,
                        ));
                    }
                    if !settings.subprotocols.is_empty() {
                        headers.push((
                            "sec-websocket-protocol".to_owned(),
                            settings.subprotocols.join(", "),
                        ));
                    }
                }
                let timeout = settings
                    .and_then(|s| s.timeout)
                    .map_or(CONNECT_TIMEOUT, |d| d.0);
                let max = settings
                    .and_then(|s| s.max_message_size)
                    .map_or(1 << 20, |s| usize::try_from(s.0).unwrap_or(usize::MAX));
                let name = settings.and_then(|s| s.name.as_deref());
                Box::pin(self.close(shared)).await;
                self.open(shared, url, headers, timeout, max, name, "ws_connect_time")
                    .await
            }
            Step::Send(step) => {
                let message = &step.send;
                let frame = if let Some(json) = &message.json {
                    let value = self.context.json(&shared.templates, json)?;
                    let text =
                        serde_json::to_string(&value).map_err(|error| format!("send: {error}"))?;
                    if let Some(id) = message.mark.as_ref().and_then(|path| path.find(&value)) {
                        shared.mark(id_text(id));
                    }
                    if let Some(name) = &step.capture {
                        self.context
                            .set_message(name, MessageText::OfJson, Some(value));
                    }
                    WsMessage::text(text)
                } else if let Some(text) = &message.text {
                    let text = self.context.string(&shared.templates, text.as_str())?;
                    if let Some(name) = &step.capture {
                        self.context
                            .set_message(name, MessageText::Owned(text.clone()), None);
                    }
                    WsMessage::text(text)
                } else if let Some(binary) = &message.binary {
                    let encoded = self.context.string(&shared.templates, binary.as_str())?;
                    let data = base64::engine::general_purpose::STANDARD
                        .decode(encoded.trim())
                        .map_err(|_| "send: `binary` is not valid base64".to_owned())?;
                    if let Some(name) = &step.capture {
                        self.context.set(name, &Value::Null);
                    }
                    WsMessage::binary(data)
                } else {
                    return Err("send: no message".into());
                };
                let size = frame.len() as u64;
                let socket = self.socket.as_mut().ok_or("send: no open WebSocket")?;
                socket.send(frame).await?;
                self.last_send = Some(Instant::now());
                let keys = shared.ws_keys(whole, &self.scenario);
                self.out.sample(shared, Sample::Count(keys.primary, 1));
                self.out.event(
                    shared,
                    Event::Bytes {
                        sent: size,
                        received: 0,
                    },
                );
                Ok(())
            }
            Step::Expect(step) => {
                let expect = &step.expect;
                // Boxed: made only for a step the run did not prepare (none in a run), it
                // would otherwise enlarge every step's future.
                let compiled: Box<CompiledMatcher>;
                let matcher = match shared.expect_matcher(whole) {
                    Some(matcher) => matcher,
                    None => {
                        compiled = Box::new(CompiledMatcher::expect(expect)?);
                        &compiled
                    }
                };
                let want = self.context.render_matcher(&shared.templates, matcher)?;
                let within = expect.within.map_or(EXPECT_WITHIN, |d| d.0);
                self.out.flush(shared);
                let waiting_since = Instant::now();
                let deadline = tokio::time::Instant::now() + within;
                let socket = self.socket.as_mut().ok_or("expect: no open WebSocket")?;
                let matched = loop {
                    let Ok(received) = tokio::time::timeout_at(deadline, socket.inbox.recv()).await
                    else {
                        let keys = shared.ws_keys(whole, &self.scenario);
                        self.out.sample(shared, Sample::Rate(keys.checks, false));
                        return Err("expect: timeout".into());
                    };
                    let Some(received) = received else {
                        return Err("expect: the connection closed".into());
                    };
                    let fits = want.matches(&received.text, received.json.as_ref());
                    if fits {
                        break received;
                    }
                };
                let since = self
                    .last_send
                    .filter(|sent| *sent >= waiting_since - Duration::from_secs(3600))
                    .unwrap_or(waiting_since);
                let keys = shared.ws_keys(whole, &self.scenario);
                if let (Some(lag), None) = (self.lag, &expect.metric) {
                    self.out.sample(
                        shared,
                        Sample::Trend(
                            keys.corrected,
                            matched.at.saturating_duration_since(since) + lag,
                        ),
                    );
                }
                self.out.sample(
                    shared,
                    Sample::Trend(keys.primary, matched.at.saturating_duration_since(since)),
                );
                self.out.sample(shared, Sample::Rate(keys.checks, true));
                if let Some(name) = &step.capture {
                    self.context
                        .set_message(name, MessageText::Frame(matched.text), matched.json);
                }
                Ok(())
            }
            Step::Sleep(step) => {
                self.out.flush(shared);
                tokio::time::sleep(random_between(step.sleep.min.0, step.sleep.max.0)).await;
                Ok(())
            }
            Step::Repeat(step) => {
                let repeat = &step.repeat;
                let started = tokio::time::Instant::now();
                let mut ticks = repeat.every.map(|every| {
                    let mut interval = tokio::time::interval(every.0);
                    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                    interval
                });
                let mut done = 0u32;
                loop {
                    if repeat.count.is_some_and(|count| done >= count) {
                        break;
                    }
                    if repeat
                        .for_duration
                        .is_some_and(|d| started.elapsed() >= d.0)
                    {
                        break;
                    }
                    let open_ended = repeat.count.is_none() && repeat.for_duration.is_none();
                    if open_ended && stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if let Some(ticks) = ticks.as_mut() {
                        self.out.flush(shared);
                        ticks.tick().await;
                        if open_ended && stop.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                    self.steps(shared, &step.steps, stop).await?;
                    done += 1;
                }
                Ok(())
            }
            Step::Group(step) => self.steps(shared, &step.steps, stop).await,
            Step::Set(step) => {
                for (name, value) in &step.set {
                    let value = self.context.json(&shared.templates, value)?;
                    self.context.set(name, &value);
                }
                Ok(())
            }
            Step::Reconnect(step) => {
                let socket = self.socket.take().ok_or("reconnect: no open WebSocket")?;
                let (url, headers) = (socket.url.clone(), socket.headers.clone());
                Box::pin(socket.close(1000)).await;
                if let Some(after) = step.reconnect.after {
                    tokio::time::sleep(random_between(after.min.0, after.max.0)).await;
                }
                self.open(
                    shared,
                    url,
                    headers,
                    CONNECT_TIMEOUT,
                    1 << 20,
                    None,
                    "ws_reconnect_time",
                )
                .await
            }
            Step::Disconnect(step) => {
                let socket = self.socket.take().ok_or("disconnect: no open WebSocket")?;
                Box::pin(socket.close(step.disconnect.code.unwrap_or(1000))).await;
                Ok(())
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn open(
        &mut self,
        shared: &Arc<Shared>,
        url: String,
        headers: Vec<(String, String)>,
        timeout: Duration,
        max_message: usize,
        name: Option<&str>,
        metric: &str,
    ) -> Result<(), String> {
        let started = Instant::now();
        // Boxed: the handshake's future is large and rare; inline it would be copied with
        // every step's future.
        let connecting = Box::pin(ws::connect(
            shared,
            &self.scenario,
            url,
            headers,
            timeout,
            max_message,
        ));
        match connecting.await {
            Ok(socket) => {
                self.out.sample(
                    shared,
                    Sample::Trend(shared.key(metric, &self.scenario, name), started.elapsed()),
                );
                self.socket = Some(socket);
                Ok(())
            }
            Err(kind) => {
                self.out
                    .count(shared, "ws_connect_errors", &self.scenario, name, 1);
                Err(kind)
            }
        }
    }

    async fn request(
        &mut self,
        shared: &Arc<Shared>,
        request: &Request,
        capture: Option<&str>,
    ) -> Result<(), String> {
        let templates = &shared.templates;
        let keys = shared.request_keys(request, &self.scenario);
        let uri = match &keys.uri {
            Some(uri) => uri.clone(),
            None => {
                let mut url = self.context.string(templates, request.url.as_str())?;
                for (index, (key, value)) in request.query.iter().enumerate() {
                    let value = self.context.string(templates, value.as_str())?;
                    url.push(if index == 0 && !url.contains('?') {
                        '?'
                    } else {
                        '&'
                    });
                    url.push_str(&encode(key));
                    url.push('=');
                    url.push_str(&encode(&value));
                }
                hyper::Uri::try_from(url).map_err(|e| format!("request: invalid URL: {e}"))?
            }
        };
        let mut headers = Vec::with_capacity(request.headers.len());
        for (name, value) in &request.headers {
            headers.push((
                name.as_str(),
                self.context.string(templates, value.as_str())?,
            ));
        }
        let mut content_type = None;
        let mut sent_json = None;
        let body = if let Some(json) = &request.json {
            let value = self.context.json(templates, json)?;
            content_type = Some("application/json");
            let body = Bytes::from(value.to_string());
            sent_json = Some(value);
            body
        } else if let Some(text) = &request.text {
            Bytes::from(self.context.string(templates, text.as_str())?)
        } else if let Some(form) = &request.form {
            let mut pairs = Vec::new();
            for (key, value) in form {
                let value = self.context.string(templates, value.as_str())?;
                pairs.push(format!("{}={}", encode(key), encode(&value)));
            }
            content_type = Some("application/x-www-form-urlencoded");
            Bytes::from(pairs.join("&"))
        } else if let Some(binary) = &request.binary {
            let encoded = self.context.string(templates, binary.as_str())?;
            Bytes::from(
                base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .map_err(|_| "request: `binary` is not valid base64".to_owned())?,
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
        let outgoing = Outgoing {
            method: request.method.as_str(),
            uri,
            headers,
            content_type,
            body,
        };
        if let (Some(path), Some(value)) = (&request.mark, &sent_json)
            && let Some(id) = path.find(value)
        {
            shared.mark(id_text(id));
        }
        let response = match self
            .http
            .send(
                &outgoing,
                request.timeout.map_or(REQUEST_TIMEOUT, |d| d.0),
                request.version == Some(crate::plan::model::HttpVersion::Http2),
                &shared.tls,
            )
            .await
        {
            Ok(response) => response,
            Err(failure) => {
                self.out.sample(shared, Sample::Count(keys.reqs.clone(), 1));
                self.out
                    .sample(shared, Sample::Rate(keys.failed.clone(), true));
                return Err(failure.kind());
            }
        };
        self.out.sent += outgoing.body.len() as u64;
        self.out.received += response.body.len() as u64;
        if let Some(lag) = self.lag {
            self.out.sample(
                shared,
                Sample::Trend(keys.duration_corrected.clone(), response.duration + lag),
            );
        }
        if let Some(custom) = &keys.custom {
            self.out
                .sample(shared, Sample::Trend(custom.clone(), response.duration));
        }
        let _ = response.connecting;
        // Parsing the body costs; only checks and captures read it.
        let wants_json = capture.is_some()
            || request
                .expect
                .as_ref()
                .is_some_and(|e| e.json.is_some() || !e.json_path.is_empty());
        let json = wants_json
            .then(|| serde_json::from_slice::<Value>(&response.body).ok())
            .flatten();
        let mut problem = None;
        let status_ok = match request.expect.as_ref().and_then(|e| e.status.as_ref()) {
            Some(expected) => status_matches(expected, response.status),
            None => response.status < 400,
        };
        if !status_ok {
            problem = Some(format!("status {}", response.status));
        }
        if let Some(expect) = &request.expect {
            for (header, pattern) in &expect.headers {
                let pattern = shared.regex(pattern);
                let value = response.headers.get(header.as_str());
                if !value.is_some_and(|v| pattern.is_none_or(|p| p.is_match(v))) {
                    problem.get_or_insert_with(|| format!("header `{header}`"));
                }
            }
            if let Some(want) = &expect.json {
                let want = self.context.json(templates, want)?;
                if !json.as_ref().is_some_and(|have| json_subset(&want, have)) {
                    problem.get_or_insert_with(|| "json body".to_owned());
                }
            }
            for (path, want) in &expect.json_path {
                let want = self.context.json(templates, want)?;
                if !json
                    .as_ref()
                    .and_then(|j| path.find(j))
                    .is_some_and(|have| json_subset(&want, have))
                {
                    problem.get_or_insert_with(|| format!("json path `{path}`"));
                }
            }
            self.out
                .sample(shared, Sample::Rate(keys.checks.clone(), problem.is_none()));
        }
        self.out.event(
            shared,
            Event::Request {
                keys: Arc::clone(&keys),
                duration: response.duration,
                waiting: response.waiting,
                failed: !status_ok,
            },
        );
        if let Some(capture) = capture {
            let headers: Map<String, Value> = response
                .headers
                .pairs()
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            let value = json!({
                "status": response.status,
                "headers": headers,
                "body": String::from_utf8_lossy(&response.body),
                "json": json.unwrap_or(Value::Null),
            });
            self.context.set(capture, &value);
        }
        match problem {
            Some(problem) => Err(format!("expect: {problem}")),
            None => Ok(()),
        }
    }
}

/// What a VU measured and has not sent yet: one channel send per `OUTBOX` events, per
/// `OUTBOX_AGE`, or before the VU waits, instead of one per sample.
#[derive(Default)]
struct Outbox {
    events: Vec<Event>,
    /// When the oldest held event was measured.
    since: Option<Instant>,
    /// HTTP bytes since the last send, sent as one event.
    sent: u64,
    received: u64,
}

/// Events a VU holds before it sends them anyway.
const OUTBOX: usize = 64;
/// How long a VU holds what it measured at most (while it does not wait).
const OUTBOX_AGE: Duration = Duration::from_millis(50);

impl Outbox {
    fn event(&mut self, shared: &Shared, event: Event) {
        if self.events.capacity() == 0 {
            self.events.reserve(OUTBOX);
        }
        if self.events.is_empty() {
            self.since = Some(Instant::now());
        }
        self.events.push(event);
        if self.events.len() >= OUTBOX {
            self.flush(shared);
        }
    }

    fn sample(&mut self, shared: &Shared, sample: Sample) {
        self.event(shared, Event::Sample(sample));
    }

    fn count(&mut self, shared: &Shared, metric: &str, scenario: &str, name: Option<&str>, n: u64) {
        self.sample(shared, Sample::Count(shared.key(metric, scenario, name), n));
    }

    /// Sends when the batch is full or its oldest event is `OUTBOX_AGE` old: iterations
    /// that never wait (a tight HTTP loop) share one send between several.
    fn flush_if_due(&mut self, shared: &Shared) {
        if self
            .since
            .is_some_and(|since| since.elapsed() >= OUTBOX_AGE)
        {
            self.flush(shared);
        }
    }

    fn flush(&mut self, shared: &Shared) {
        if self.sent > 0 || self.received > 0 {
            self.events.push(Event::Bytes {
                sent: std::mem::take(&mut self.sent),
                received: std::mem::take(&mut self.received),
            });
        }
        if !self.events.is_empty() {
            shared.batch(std::mem::take(&mut self.events));
        }
    }
}

fn status_matches(expected: &crate::plan::model::StatusExpectation, status: u16) -> bool {
    use crate::plan::model::StatusExpectation as S;
    match expected {
        S::Code(code) => *code == status,
        S::AnyOf(codes) => codes.contains(&status),
        S::Class(class) => class
            .as_bytes()
            .first()
            .is_some_and(|digit| u16::from(digit - b'0') == status / 100),
    }
}

fn random_between(min: Duration, max: Duration) -> Duration {
    if max <= min {
        return min;
    }
    let span = u64::try_from((max - min).as_micros()).unwrap_or(u64::MAX);
    min + Duration::from_micros(fastrand::u64(0..=span))
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
