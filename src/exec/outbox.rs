//! What a VU measured and has not sent yet, batched: one channel send to the collector
//! per batch instead of one per sample.

use std::time::{Duration, Instant};

use super::shared::{Event, Shared};
use crate::results::Sample;

/// What a VU measured and has not sent yet: one channel send per `OUTBOX` events, per
/// `OUTBOX_AGE`, or before the VU waits, instead of one per sample.
#[derive(Default)]
pub struct Outbox {
    events: Vec<Event>,
    /// When the oldest held event was measured.
    since: Option<Instant>,
    /// HTTP bytes since the last send, sent as one event.
    pub sent: u64,
    pub received: u64,
}

/// Events a VU holds before it sends them anyway.
const OUTBOX: usize = 64;
/// How long a VU holds what it measured at most (while it does not wait).
const OUTBOX_AGE: Duration = Duration::from_millis(50);

impl Outbox {
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
