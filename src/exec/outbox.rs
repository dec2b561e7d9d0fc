//! What a VU measured and has not sent yet, batched: one channel send to the collector
//! per batch instead of one per sample.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use super::http::Response;
use super::shared::{Event, RequestKeys, Shared, WsStepKeys};
use super::transport::Wire;
use crate::results::Sample;

/// What a VU measured and has not sent yet: one channel send per `OUTBOX` events, per
/// `OUTBOX_AGE`, or before the VU waits, instead of one per sample. What it still holds
/// when it is dropped — its VU cancelled at the end of a graceful stop, or at once by a
/// second signal — is sent then, so a cancelled VU's last measurements are not lost.
pub struct Outbox {
    events: Vec<Event>,
    /// When the oldest held event was measured.
    since: Option<Instant>,
    /// The bytes this VU's sockets wrote and read (HTTP and WebSocket, TLS included),
    /// taken at each send as one event.
    wire: Arc<Wire>,
    /// The collector's channel and backlog count, for the send on drop (the collector
    /// ends once every sender is gone, and every VU is dropped by the end of the stage).
    to: UnboundedSender<Event>,
    backlog: Arc<AtomicUsize>,
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.take_bytes();
        if !self.events.is_empty() {
            let events = std::mem::take(&mut self.events);
            self.backlog.fetch_add(events.len(), Ordering::Relaxed);
            let _ = self.to.send(Event::Batch(events));
        }
    }
}

/// Events a VU holds before it sends them anyway.
const OUTBOX: usize = 64;
/// How long a VU holds what it measured at most (while it does not wait).
const OUTBOX_AGE: Duration = Duration::from_millis(50);

impl Outbox {
    pub fn new(shared: &Shared) -> Self {
        Self {
            events: Vec::new(),
            since: None,
            wire: Arc::default(),
            to: shared.events.clone(),
            backlog: Arc::clone(&shared.backlog),
        }
    }

    pub fn event(&mut self, shared: &Shared, event: Event) {
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

    /// Where this VU's connections count their bytes (given to its HTTP client and
    /// WebSockets).
    pub fn wire(&self) -> &Arc<Wire> {
        &self.wire
    }

    /// The trends recorded beside a response's `Event::Request`: the duration plus the
    /// iteration's start `lag` (arrival stages), the step's `metric:`.
    pub fn response(
        &mut self,
        shared: &Shared,
        keys: &RequestKeys,
        response: &Response,
        lag: Option<Duration>,
    ) {
        if let Some(lag) = lag {
            self.sample(
                shared,
                Sample::Trend(keys.duration_corrected.clone(), response.duration + lag),
            );
        }
        if let Some(custom) = &keys.custom {
            self.sample(shared, Sample::Trend(custom.clone(), response.duration));
        }
    }

    /// A WebSocket message sent: its count (its bytes are the socket's, in [`Wire`]).
    pub fn message_sent(&mut self, shared: &Shared, keys: WsStepKeys) {
        self.sample(shared, Sample::Count(keys.primary, 1));
    }

    /// The message an `expect` waited for: its latency (plus `lag`, as the corrected
    /// latency, when given) and a passed check.
    pub fn message_received(
        &mut self,
        shared: &Shared,
        keys: WsStepKeys,
        latency: Duration,
        lag: Option<Duration>,
    ) {
        if let Some(lag) = lag {
            self.sample(shared, Sample::Trend(keys.corrected, latency + lag));
        }
        self.sample(shared, Sample::Trend(keys.primary, latency));
        self.sample(shared, Sample::Rate(keys.checks, true));
    }

    pub fn sample(&mut self, shared: &Shared, sample: Sample) {
        self.event(shared, Event::Sample(sample));
    }

    pub fn count(
        &mut self,
        shared: &Shared,
        metric: &str,
        scenario: &str,
        name: Option<&str>,
        n: u64,
    ) {
        self.sample(shared, Sample::Count(shared.key(metric, scenario, name), n));
    }

    /// Sends when the batch is full or its oldest event is `OUTBOX_AGE` old: iterations
    /// that never wait (a tight HTTP loop) share one send between several.
    pub fn flush_if_due(&mut self, shared: &Shared) {
        if self
            .since
            .is_some_and(|since| since.elapsed() >= OUTBOX_AGE)
        {
            self.flush(shared);
        }
    }

    pub fn flush(&mut self, shared: &Shared) {
        self.take_bytes();
        if !self.events.is_empty() {
            shared.batch(std::mem::take(&mut self.events));
        }
    }

    /// The bytes counted since the last send, as one held event.
    fn take_bytes(&mut self) {
        let (sent, received) = self.wire.take();
        if sent > 0 || received > 0 {
            self.events.push(Event::Bytes { sent, received });
        }
    }
}
