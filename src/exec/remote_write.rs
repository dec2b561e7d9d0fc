//! Live outputs: Prometheus remote write while the run goes, off the VUs' path.
//!
//! ```text
//! collector (every `every`) ──encode──▶ Queue (≤ QUEUE_CAPACITY requests) ──▶ sender task ──POST──▶ receiver
//! ```
//!
//! The collector encodes the figures so far in its own tick ([`Feed`]): the sampled series
//! are lent to the encoder, not copied (a trend's histogram is ~190 KB: on a release build
//! lending 200 trend series took 46 µs where cloning the results took 25 ms and 38 MB),
//! and what it keeps is one compressed body. It
//! never waits: a full queue drops its oldest request (each request carries the totals so
//! far, so the newest says the most) and counts its samples in `output_dropped`. The sender
//! task POSTs with the executor's own HTTP client (`http.rs`, TLS for `https`), a timeout
//! of min(every, 10 s) per attempt, and retries a connection error, a timeout, a 5xx or a
//! 429 up to [`ATTEMPTS`] times with exponential back-off and jitter; another 4xx is
//! dropped at once (counted; the first failure of each output is said once on stderr, the
//! receiver's answer cleaned and cut). After the run one final request carries the final
//! figures, with [`FLUSH_DEADLINE`] to arrive: the run's end is never later than that.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use super::http::{BodyUse, Failure, HttpClient, Outgoing};
use super::shared::Halt;
use super::tls::Tls;
use super::transport::Wire;
use crate::plan::model::Backoff;
use crate::plan::units::Duration as PlanDuration;
use crate::redact::Redactor;
use crate::report::live::LiveTarget;
use crate::report::remote_write::Encoder;
use crate::results::{Delivery, Results, SeriesData, SeriesKey};

/// Requests waiting between the collector and the sender, at most.
pub const QUEUE_CAPACITY: usize = 3;
/// How long the final request (after the run) has to arrive.
pub const FLUSH_DEADLINE: Duration = Duration::from_secs(2);
/// The longest an attempt waits for its answer (shorter when `every` is).
const LONGEST_ATTEMPT: Duration = Duration::from_secs(10);
/// Tries per request: the first and its retries.
const ATTEMPTS: u32 = 4;
/// Waits between tries: 250 ms, 500 ms, 1 s… (half to all of it), at most 4 s.
const RETRY: Backoff = Backoff {
    initial: PlanDuration(Duration::from_millis(250)),
    max: PlanDuration(Duration::from_secs(4)),
};
/// The most of a receiver's answer read (for the message of a refusal).
const ANSWER_KEPT: usize = 64 * 1024;
/// The counter of samples a live output could not deliver.
pub const OUTPUT_DROPPED: &str = "output_dropped";

/// One request body and what it carries.
#[derive(Debug, Clone)]
pub struct Request {
    body: Bytes,
    samples: u64,
    /// The final request, sent after the run.
    last: bool,
}

/// How one request ended.
#[derive(Debug)]
enum Outcome {
    Delivered,
    /// Not delivered, and why (cleaned).
    Failed(String),
}

/// What the queue has counted.
#[derive(Debug, Default)]
struct Counts {
    requests: u64,
    failed: u64,
    retries: u64,
    dropped: u64,
    flushed: bool,
    error: Option<String>,
    /// The first failure was said on stderr.
    said: bool,
}

#[derive(Debug, Default)]
struct State {
    pending: VecDeque<Request>,
    /// The samples of the request the sender holds, if any.
    in_flight: Option<u64>,
    /// The final request is queued: nothing more comes.
    closed: bool,
    counts: Counts,
}

/// The bounded queue between the collector and one sender: pushing never waits, and it
/// never holds more than [`QUEUE_CAPACITY`] requests (plus the one being sent).
#[derive(Debug, Default)]
pub struct Queue {
    state: Mutex<State>,
    wake: tokio::sync::Notify,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding it leaves counts that are still counts.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts samples the encoder left out of a request (the series cap) as dropped.
    fn count_dropped(&self, samples: u64) {
        if samples > 0 {
            self.lock().counts.dropped += samples;
        }
    }

    /// Queues `request`; when full, the oldest waiting request is dropped (counted).
    pub fn push(&self, request: Request) {
        let mut state = self.lock();
        if state.closed {
            state.counts.failed += 1;
            state.counts.dropped += request.samples;
            return;
        }
        if state.pending.len() >= QUEUE_CAPACITY
            && let Some(oldest) = state.pending.pop_front()
        {
            state.counts.failed += 1;
            state.counts.dropped += oldest.samples;
        }
        state.pending.push_back(request);
        drop(state);
        self.wake.notify_one();
    }

    /// Queues the final request: those still waiting are dropped (it carries their
    /// figures, and newer), and nothing more is taken.
    fn close(&self, last: Request) {
        let mut state = self.lock();
        for old in std::mem::take(&mut state.pending) {
            state.counts.failed += 1;
            state.counts.dropped += old.samples;
        }
        state.pending.push_back(last);
        state.closed = true;
        drop(state);
        self.wake.notify_one();
    }

    /// The next request to send, waiting for one; `None` once closed and empty.
    async fn next(&self) -> Option<Request> {
        loop {
            let notified = self.wake.notified();
            {
                let mut state = self.lock();
                if let Some(request) = state.pending.pop_front() {
                    state.in_flight = Some(request.samples);
                    return Some(request);
                }
                if state.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    fn closed(&self) -> bool {
        self.lock().closed
    }

    fn retried(&self) {
        self.lock().counts.retries += 1;
    }

    /// The request being sent ended so; returns the failure to say, the first time.
    fn done(&self, request: &Request, outcome: Outcome) -> Option<String> {
        let mut state = self.lock();
        state.in_flight = None;
        match outcome {
            Outcome::Delivered => {
                state.counts.requests += 1;
                state.counts.flushed |= request.last;
                None
            }
            Outcome::Failed(why) => {
                state.counts.failed += 1;
                state.counts.dropped += request.samples;
                state.counts.error = Some(why.clone());
                let first = !state.counts.said;
                state.counts.said = true;
                first.then_some(why)
            }
        }
    }

    /// The sender was stopped (the final deadline passed): what it held and what waited
    /// are dropped.
    fn abandon(&self) {
        let mut state = self.lock();
        if let Some(samples) = state.in_flight.take() {
            state.counts.failed += 1;
            state.counts.dropped += samples;
        }
        for old in std::mem::take(&mut state.pending) {
            state.counts.failed += 1;
            state.counts.dropped += old.samples;
        }
        if state.counts.error.is_none() {
            state.counts.error = Some(format!(
                "no answer within the final flush's {} s",
                FLUSH_DEADLINE.as_secs()
            ));
        }
    }

    /// Samples not delivered so far.
    pub fn dropped(&self) -> u64 {
        self.lock().counts.dropped
    }

    /// Requests waiting, for tests of the bound.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.lock().pending.len()
    }

    fn delivery(&self, url: &str) -> Delivery {
        let state = self.lock();
        let counts = &state.counts;
        Delivery {
            kind: "prometheus".to_owned(),
            url: url.to_owned(),
            requests: counts.requests,
            failed: counts.failed,
            retries: counts.retries,
            dropped: counts.dropped,
            flushed: counts.flushed,
            error: counts.error.clone(),
        }
    }
}

/// The collector's side of one live output: when the next request is due, and how it is
/// made.
pub struct Feed {
    encoder: Encoder,
    every: Duration,
    next: Instant,
    queue: Arc<Queue>,
}

impl Feed {
    pub fn due(&self, now: Instant) -> bool {
        now >= self.next
    }

    /// Encodes `results` (the figures so far) and queues the request; the next one is
    /// due `every` later.
    pub fn send(&mut self, results: &Results, now: Instant) {
        let encoded = self.encoder.encode(results, unix_ms());
        self.queue.count_dropped(encoded.dropped);
        self.queue.push(Request {
            body: Bytes::from(encoded.body),
            samples: encoded.samples,
            last: false,
        });
        self.next = now + self.every;
    }

    pub fn dropped(&self) -> u64 {
        self.queue.dropped()
    }
}

/// One live output while the run goes: its queue, its sender task, and its encoder for
/// the final request.
pub struct Sender {
    queue: Arc<Queue>,
    task: tokio::task::JoinHandle<()>,
    encoder: Encoder,
    every: Duration,
    shown: String,
}

impl Sender {
    /// Starts sending to `target` (the task waits for the first request).
    pub fn start(target: &LiveTarget, redactor: &Redactor) -> Self {
        let queue = Arc::new(Queue::default());
        let encoder = Encoder::new(
            target.labels.clone(),
            target.buckets.clone(),
            redactor.clone(),
        );
        let client = Client::new(target, redactor.clone());
        let task = tokio::spawn(client.run(Arc::clone(&queue)));
        Self {
            queue,
            task,
            encoder,
            every: target.every,
            shown: target.shown.clone(),
        }
    }

    /// The collector's side, the first request due `every` after `started`.
    pub fn feed(&self, started: Instant) -> Feed {
        Feed {
            encoder: self.encoder.clone(),
            every: self.every,
            next: started + self.every,
            queue: Arc::clone(&self.queue),
        }
    }
}

/// The final request of every live output, sent together with [`FLUSH_DEADLINE`] to
/// arrive (less after a second Ctrl-C: at once). `results` are the run's final figures;
/// its `output_dropped` counter and `deliveries` are set here.
pub async fn flush(senders: Vec<Sender>, results: &mut Results, halt: &Halt) {
    if senders.is_empty() {
        return;
    }
    let dropped: u64 = senders.iter().map(|s| s.queue.dropped()).sum();
    results
        .series
        .insert(SeriesKey::run(OUTPUT_DROPPED), SeriesData::Counter(dropped));
    let at = unix_ms();
    for sender in &senders {
        let encoded = sender.encoder.encode(results, at);
        sender.queue.count_dropped(encoded.dropped);
        sender.queue.close(Request {
            body: Bytes::from(encoded.body),
            samples: encoded.samples,
            last: true,
        });
    }
    let deadline = tokio::time::Instant::now() + FLUSH_DEADLINE;
    let mut handles: Vec<(Arc<Queue>, tokio::task::JoinHandle<()>)> = Vec::new();
    let mut shown = Vec::new();
    for sender in senders {
        shown.push(sender.shown);
        handles.push((sender.queue, sender.task));
    }
    for (queue, task) in &mut handles {
        let ended = tokio::select! {
            result = tokio::time::timeout_at(deadline, &mut *task) => result.is_ok(),
            () = halt.now_requested() => false,
        };
        if !ended {
            task.abort();
            queue.abandon();
        }
    }
    let mut dropped = 0;
    results.deliveries = handles
        .iter()
        .zip(&shown)
        .map(|((queue, _), url)| {
            let delivery = queue.delivery(url);
            dropped += delivery.dropped;
            delivery
        })
        .collect();
    results
        .series
        .insert(SeriesKey::run(OUTPUT_DROPPED), SeriesData::Counter(dropped));
}

/// Milliseconds since the Unix epoch, as remote write stamps samples.
fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The sender task's HTTP side: one keep-alive connection to the receiver.
struct Client {
    http: HttpClient,
    tls: Tls,
    url: hyper::Uri,
    shown: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
    redactor: Redactor,
    rng: fastrand::Rng,
}

impl Client {
    fn new(target: &LiveTarget, redactor: Redactor) -> Self {
        let mut headers: Vec<(String, String)> = [
            ("content-type", "application/x-protobuf".to_owned()),
            ("content-encoding", "snappy".to_owned()),
            ("x-prometheus-remote-write-version", "0.1.0".to_owned()),
            (
                "user-agent",
                format!("loadplan/{}", env!("CARGO_PKG_VERSION")),
            ),
        ]
        .into_iter()
        .filter(|(name, _)| {
            !target
                .headers
                .iter()
                .any(|(given, _)| given.eq_ignore_ascii_case(name))
        })
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        headers.extend(target.headers.iter().cloned());
        Self {
            // Its own byte counts: what it sends is not the load's `data_sent`.
            http: HttpClient::new(Arc::new(Wire::default())),
            tls: Tls::new(false),
            url: target.url.clone(),
            shown: target.shown.clone(),
            headers,
            timeout: target.every.min(LONGEST_ATTEMPT),
            redactor,
            rng: fastrand::Rng::new(),
        }
    }

    async fn run(mut self, queue: Arc<Queue>) {
        while let Some(request) = queue.next().await {
            let outcome = self.deliver(&request, &queue).await;
            if let Some(first) = queue.done(&request, outcome) {
                eprintln!(
                    "warning: prometheus output {}: {first}; undelivered samples are counted \
                     in `output_dropped` (said once)",
                    self.shown
                );
            }
        }
    }

    /// Sends `request`, again after a retryable failure, up to [`ATTEMPTS`] times; an
    /// older request stops retrying once the final one waits.
    async fn deliver(&mut self, request: &Request, queue: &Queue) -> Outcome {
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                if queue.closed() && !request.last {
                    break;
                }
                let wait = super::backoff::delay(RETRY, attempt - 1, &mut self.rng);
                tokio::time::sleep(wait).await;
                queue.retried();
            }
            match self.post(request).await {
                Ok(()) => return Outcome::Delivered,
                Err((why, retry)) => {
                    last = why;
                    if !retry {
                        break;
                    }
                }
            }
        }
        Outcome::Failed(last)
    }

    /// One attempt: `Err((why, retryable))`.
    async fn post(&mut self, request: &Request) -> Result<(), (String, bool)> {
        let outgoing = Outgoing {
            method: "POST",
            uri: self.url.clone(),
            headers: self
                .headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.clone()))
                .collect(),
            content_type: None,
            body: request.body.clone(),
        };
        let answer = self
            .http
            .send(
                &outgoing,
                self.timeout,
                false,
                &self.tls,
                BodyUse::Keep(ANSWER_KEPT),
            )
            .await;
        match answer {
            Ok(response) if (200..300).contains(&response.status) => Ok(()),
            Ok(response) => {
                let status = response.status;
                let excerpt = self
                    .redactor
                    .clean(&String::from_utf8_lossy(&response.body));
                let excerpt = excerpt.trim();
                let why = if excerpt.is_empty() {
                    format!("the receiver answered {status}")
                } else {
                    format!("the receiver answered {status}: {excerpt}")
                };
                Err((why, status == 429 || status >= 500))
            }
            Err(failure) => {
                let why = match &failure {
                    Failure::Timeout => format!("no answer within {} ms", self.timeout.as_millis()),
                    Failure::BodyTooLarge => {
                        format!("the receiver's answer is over {} KiB", ANSWER_KEPT / 1024)
                    }
                    other => {
                        let detail = other
                            .detail()
                            .map_or_else(String::new, |d| format!(": {}", self.redactor.clean(d)));
                        format!("{}{detail}", other.kind())
                    }
                };
                Err((why, !matches!(failure, Failure::BodyTooLarge)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(samples: u64) -> Request {
        Request {
            body: Bytes::from_static(b"x"),
            samples,
            last: false,
        }
    }

    /// A sender that never takes anything (a hanging receiver): the queue keeps its bound,
    /// and each request pushed out counts its samples.
    #[test]
    fn a_full_queue_drops_its_oldest_request_and_counts_it() {
        let queue = Queue::default();
        for n in 1..=1000 {
            queue.push(request(n));
            assert!(queue.waiting() <= QUEUE_CAPACITY);
        }
        assert_eq!(queue.waiting(), QUEUE_CAPACITY);
        let kept: u64 = (1000 - QUEUE_CAPACITY as u64 + 1..=1000).sum();
        assert_eq!(queue.dropped(), (1..=1000).sum::<u64>() - kept);
        let delivery = queue.delivery("u");
        assert_eq!(delivery.failed, 1000 - QUEUE_CAPACITY as u64);
        assert_eq!(delivery.requests, 0);
    }

    /// Series the encoder leaves out (more than its 10,000 a request) are samples the
    /// output did not deliver: they count in `output_dropped` like a lost request's.
    #[test]
    fn series_over_the_encoders_cap_count_as_dropped() {
        use crate::results::{Results, Series, SeriesKey};
        let mut results = Results::default();
        for n in 0..10_050 {
            let key = SeriesKey::from(Series {
                metric: "my_counter".into(),
                scenario: "s".into(),
                name: Some(format!("n{n}").into()),
                group: None,
                response: None,
            });
            results.record(crate::results::Sample::Count(key, 1));
        }
        let queue = Arc::new(Queue::default());
        let mut feed = Feed {
            encoder: Encoder::new(Vec::new(), None, crate::redact::Redactor::new([])),
            every: Duration::from_secs(1),
            next: Instant::now(),
            queue: Arc::clone(&queue),
        };
        feed.send(&results, Instant::now());
        assert_eq!(queue.waiting(), 1);
        assert!(
            queue.dropped() >= 50,
            "10,050 series, 10,000 sent: {} dropped",
            queue.dropped()
        );
    }

    #[test]
    fn closing_keeps_only_the_final_request() {
        let queue = Queue::default();
        queue.push(request(5));
        queue.push(request(7));
        queue.close(Request {
            last: true,
            ..request(11)
        });
        assert_eq!(queue.waiting(), 1);
        assert_eq!(queue.dropped(), 12);
        queue.push(request(100));
        assert_eq!(queue.waiting(), 1);
        assert_eq!(queue.dropped(), 112);
        queue.abandon();
        assert_eq!(queue.dropped(), 123);
        let delivery = queue.delivery("u");
        assert!(!delivery.flushed);
        assert_eq!(delivery.failed, 4);
    }
}
