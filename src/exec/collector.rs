//! The collector: the one owner of the results. It takes the events VUs send, keeps the
//! per-second timeline (with that second's latency percentiles), shows progress (a live
//! line on a terminal, a plain line every 10 s otherwise) and judges `abort_on_fail`
//! thresholds every 2 s, halting the run when one fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::mpsc;

use super::shared::{Event, Halt, RequestKeys};
use crate::plan::ThresholdRule;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use crate::redact::Redactor;
use crate::results::{
    ConnectFailure, ErrorKind, OTHER_KINDS, Results, Sample, Second, SeriesData, SeriesKey,
    TIMELINE_KINDS, Value, new_histogram,
};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Progress {
    /// Nothing (`--quiet`).
    #[default]
    Off,
    /// A live line redrawn in place (stderr is a terminal).
    Live,
    /// A plain line every 10 s (CI logs).
    Lines,
}

/// How often `abort_on_fail` thresholds are judged.
const JUDGE_EVERY: Duration = Duration::from_secs(2);
/// How often the collector takes what VUs sent.
const DRAIN_EVERY: Duration = Duration::from_millis(10);
/// How often the live line is redrawn.
const SHOW_EVERY: Duration = Duration::from_millis(250);
/// How often a plain progress line is printed.
const LINE_EVERY: Duration = Duration::from_secs(10);

/// What the collector needs besides the events.
pub struct Settings {
    pub started: Instant,
    pub planned: Duration,
    pub progress: Progress,
    /// Thresholds with `abort_on_fail`, judged while the run goes.
    pub abort_rules: Vec<ThresholdRule>,
    pub baseline: Option<Arc<Results>>,
    pub halt: Arc<Halt>,
    /// Cleans error examples before they are kept.
    pub redactor: Redactor,
    /// Keep each second's most open WebSockets and latency histogram (segment runs).
    pub second_histograms: bool,
    /// Live outputs: each gets the figures so far every `every` (`remote_write.rs`).
    pub live: Vec<super::remote_write::Feed>,
}

struct State {
    /// Everything but the sampled series, which are in `store`.
    results: Results,
    store: Store,
    /// Latencies of the second being filled, for its percentiles.
    second: Histogram<u64>,
    second_index: usize,
    sent: u64,
    received: u64,
    vus_now: u32,
    /// WebSockets open now, when each second keeps its most ([`Settings::second_histograms`]).
    ws_now: Option<u32>,
    redactor: Redactor,
    /// A socket was refused for want of a file descriptor: said once, on stderr.
    out_of_descriptors: Notice,
    /// A request step's series tagged with how a request fared, by (the step's keys'
    /// address, status, expected): made once each, then found by address.
    tagged: HashMap<(usize, u16, bool), TaggedKeys>,
    /// The error kinds the timeline names (at most [`TIMELINE_KINDS`], the first seen),
    /// and the second being filled's count of each, then of the others (one more slot).
    timeline_kinds: Vec<ErrorKind>,
    second_errors: Vec<u64>,
}

/// A request step's `http_reqs`, `http_req_duration`, `http_req_waiting` and
/// `http_req_failed` series with their `expected_response`, `status` and `method` tags
/// (the step's keys held, so their address cannot be reused).
struct TaggedKeys {
    _step: Arc<RequestKeys>,
    reqs: SeriesKey,
    duration: SeriesKey,
    waiting: SeriesKey,
    failed: SeriesKey,
}

impl TaggedKeys {
    fn new(step: &Arc<RequestKeys>, status: u16, expected: bool) -> Self {
        let tags = crate::results::ResponseTags {
            expected,
            status,
            method: Arc::clone(&step.method),
        };
        let tag = |key: &SeriesKey| {
            SeriesKey::from(crate::results::Series {
                response: Some(tags.clone()),
                ..(**key).clone()
            })
        };
        Self {
            reqs: tag(&step.reqs),
            duration: tag(&step.duration),
            waiting: tag(&step.waiting),
            failed: tag(&step.failed),
            _step: Arc::clone(step),
        }
    }
}

/// A message said once per run, the first time what it is about happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Notice {
    #[default]
    NotYet,
    Due,
    Said,
}

/// What is said the first time a socket is refused for want of a file descriptor: the
/// errors go on being counted (`too many open files`), but a run that meets the limit
/// measures the machine, not the server.
fn out_of_descriptors_text(limit: Option<u64>) -> String {
    let limit = limit.map_or_else(String::new, |limit| format!(" (the limit is {limit})"));
    format!(
        "warning: a socket was refused: too many open files{limit}; such connections are \
         counted as `too many open files` until one closes. Raise `ulimit -n` or split the run"
    )
}

/// Latency metrics whose samples make a second's percentiles.
fn is_latency(metric: &str) -> bool {
    matches!(metric, "http_req_duration" | "ws_message_latency")
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// The sampled series, found by their key's address first: VUs send the same few shared
/// keys again and again, and a pointer hash is cheaper than comparing names in a tree.
#[derive(Default)]
struct Store {
    slots: Vec<(SeriesKey, SeriesData)>,
    by_key: BTreeMap<SeriesKey, usize>,
    /// Key addresses seen, with the keys themselves held so an address cannot be reused.
    by_address: HashMap<usize, usize, BuildHasherDefault<AddressHasher>>,
    held: Vec<SeriesKey>,
}

/// Keys made afresh per sample (rare paths) would fill the address cache; past this many it
/// starts over.
const HELD_KEYS: usize = 4096;

impl Store {
    fn add(&mut self, key: &SeriesKey, value: Value) {
        let address = key.address();
        let slot = match self.by_address.get(&address) {
            Some(slot) => *slot,
            None => {
                let slot = match self.by_key.get(key) {
                    Some(slot) => *slot,
                    None => {
                        self.slots.push((key.clone(), value.empty()));
                        self.by_key.insert(key.clone(), self.slots.len() - 1);
                        self.slots.len() - 1
                    }
                };
                if self.held.len() >= HELD_KEYS {
                    self.by_address.clear();
                    self.held.clear();
                }
                self.by_address.insert(address, slot);
                self.held.push(key.clone());
                slot
            }
        };
        if let Some((_, data)) = self.slots.get_mut(slot) {
            data.add(value);
        }
    }

    fn into_results(self, results: &mut Results) {
        for (key, data) in self.slots {
            results.series.insert(key, data);
        }
    }
}

/// Hashes an address: it is already unique, only its low bits are spread.
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 << 8 | u64::from(*byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64 >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

impl State {
    /// The results so far, series included (for judging while the run goes).
    fn snapshot(&self) -> Results {
        let mut results = self.results.clone();
        for (key, data) in &self.store.slots {
            results.series.insert(key.clone(), data.clone());
        }
        results
    }

    /// The figures so far as [`Results`], lent to `f` (a live output's encoder): the
    /// sampled series are moved in and back, not copied (a trend's histogram is ~190 KB),
    /// and the counters kept aside (`data_sent`, `data_received`, `output_dropped`) added.
    fn lend<R>(&mut self, elapsed: Duration, dropped: u64, f: impl FnOnce(&Results) -> R) -> R {
        let mut view = Results {
            series: self.results.series.clone(),
            duration: elapsed,
            vus_max: self.results.vus_max,
            errors: self.results.errors.clone(),
            ..Results::default()
        };
        for (key, data) in &mut self.store.slots {
            view.series
                .insert(key.clone(), std::mem::replace(data, SeriesData::Counter(0)));
        }
        for (metric, count) in [
            ("data_sent", self.sent),
            ("data_received", self.received),
            (super::remote_write::OUTPUT_DROPPED, dropped),
        ] {
            view.series
                .insert(SeriesKey::run(metric), SeriesData::Counter(count));
        }
        view.gauge(SeriesKey::run("vus_max"), f64::from(self.results.vus_max));
        let out = f(&view);
        for (key, data) in &mut self.store.slots {
            if let Some(lent) = view.series.remove(key) {
                *data = lent;
            }
        }
        out
    }

    /// Counts an error of `kind` in the second being filled, by kind.
    fn count_error_kind(&mut self, kind: &ErrorKind) {
        let slot = match self.timeline_kinds.iter().position(|k| k == kind) {
            Some(slot) => slot,
            None if self.timeline_kinds.len() < TIMELINE_KINDS => {
                self.timeline_kinds.push(kind.clone());
                self.timeline_kinds.len() - 1
            }
            None => TIMELINE_KINDS,
        };
        if self.second_errors.len() <= TIMELINE_KINDS {
            self.second_errors.resize(TIMELINE_KINDS + 1, 0);
        }
        if let Some(count) = self.second_errors.get_mut(slot) {
            *count += 1;
        }
    }

    /// Writes the errors by kind counted since the last call into the second being filled.
    fn close_error_kinds(&mut self) {
        let Some(second) = self.results.timeline.get_mut(self.second_index) else {
            return;
        };
        for (slot, count) in self.second_errors.iter_mut().enumerate() {
            if *count == 0 {
                continue;
            }
            let key = self
                .timeline_kinds
                .get(slot)
                .map_or_else(|| OTHER_KINDS.to_owned(), ToString::to_string);
            *second.errors_by_kind.entry(key).or_default() += *count;
            *count = 0;
        }
    }

    /// Moves the timeline on to `index`, closing the seconds before it.
    fn roll(&mut self, index: usize) {
        if index < self.second_index || index >= 24 * 3600 {
            return;
        }
        if index > self.second_index {
            self.close_error_kinds();
            if let Some(second) = self.results.timeline.get_mut(self.second_index)
                && !self.second.is_empty()
            {
                second.p50_ms = Some(ms(self.second.value_at_quantile(0.5)));
                second.p95_ms = Some(ms(self.second.value_at_quantile(0.95)));
                second.p99_ms = Some(ms(self.second.value_at_quantile(0.99)));
                if self.ws_now.is_some() {
                    second.latency = Some(crate::results::encode_histogram(&self.second));
                }
            }
            self.second.reset();
            self.second_index = index;
        }
        while self.results.timeline.len() <= index {
            let at_s = self.results.timeline.len() as u64;
            self.results.timeline.push(Second {
                at_s,
                vus: self.vus_now,
                ws: self.ws_now,
                ..Second::default()
            });
        }
    }

    /// Applies one event (a batch: each of its events); returns how many were applied.
    fn apply(&mut self, event: Event) -> usize {
        match event {
            Event::Batch(events) => {
                return events.into_iter().map(|event| self.apply(event)).sum();
            }
            Event::Request {
                keys,
                duration,
                waiting,
                failed,
                status,
            } => {
                if let Some(now) = self.results.timeline.get_mut(self.second_index) {
                    now.requests += 1;
                }
                let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
                self.second.saturating_record(micros.max(1));
                let address = Arc::as_ptr(&keys) as usize;
                // Bounded, so a server cannot multiply the series: 0 (none) or 100–599.
                let status = if (100..=599).contains(&status) {
                    status
                } else {
                    0
                };
                let tagged = self
                    .tagged
                    .entry((address, status, !failed))
                    .or_insert_with(|| TaggedKeys::new(&keys, status, !failed));
                self.store.add(&tagged.reqs, Value::Count(1));
                self.store.add(&tagged.duration, Value::Trend(duration));
                if let Some(waiting) = waiting {
                    self.store.add(&tagged.waiting, Value::Trend(waiting));
                }
                self.store.add(&tagged.failed, Value::Rate(failed));
            }
            Event::Iteration { keys, duration } => {
                if let Some(now) = self.results.timeline.get_mut(self.second_index) {
                    now.iterations += 1;
                }
                self.store.add(&keys.iterations, Value::Count(1));
                self.store.add(&keys.duration, Value::Trend(duration));
            }
            Event::Sample(sample) => {
                let now = self.results.timeline.get_mut(self.second_index);
                match &sample {
                    Sample::Count(key, n) => {
                        if let Some(now) = now {
                            match &*key.metric {
                                "http_reqs" => now.requests += n,
                                "ws_msgs_sent" | "ws_msgs_received" => now.messages += n,
                                "iterations" => now.iterations += n,
                                "iteration_backoffs" => now.backoffs += n,
                                _ => {}
                            }
                        }
                    }
                    Sample::Trend(key, duration) if is_latency(&key.metric) => {
                        let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
                        self.second.saturating_record(micros.max(1));
                    }
                    _ => {}
                }
                let (key, value) = sample.split();
                self.store.add(&key, value);
            }
            Event::Vus { vus, ws } => {
                self.vus_now = vus;
                self.results.vus_max = self.results.vus_max.max(vus);
                if let Some(now) = self.results.timeline.get_mut(self.second_index) {
                    now.vus = now.vus.max(vus);
                    if self.ws_now.is_some() {
                        self.ws_now = Some(ws);
                        now.ws = Some(now.ws.unwrap_or(0).max(ws));
                    }
                }
                self.results.gauge(SeriesKey::run("vus"), f64::from(vus));
                self.results
                    .gauge(SeriesKey::run("ws_connections_active"), f64::from(ws));
            }
            Event::Error { kind, example } => {
                if let Some(now) = self.results.timeline.get_mut(self.second_index) {
                    now.errors += 1;
                    self.count_error_kind(&kind);
                }
                if self.out_of_descriptors == Notice::NotYet
                    && matches!(
                        kind,
                        ErrorKind::Connect {
                            why: ConnectFailure::TooManyOpenFiles,
                            ..
                        }
                    )
                {
                    self.out_of_descriptors = Notice::Due;
                }
                self.results
                    .errors
                    .add(kind, example.as_deref(), &self.redactor);
            }
            Event::Bytes { sent, received } => {
                self.sent += sent;
                self.received += received;
            }
        }
        1
    }

    /// The last whole second, for progress.
    fn last_second(&self) -> Option<&Second> {
        self.second_index
            .checked_sub(1)
            .and_then(|i| self.results.timeline.get(i))
    }

    fn progress_text(&self, settings: &Settings) -> String {
        let last = self.last_second();
        let p95 = last
            .and_then(|s| s.p95_ms)
            .map_or_else(|| "-".to_owned(), |p| format!("{p:.1}ms"));
        format!(
            "vus {:>5} · req/s {:>7} · msg/s {:>7} · errors {} · p95 {}",
            self.vus_now,
            last.map_or(0, |s| s.requests),
            last.map_or(0, |s| s.messages),
            self.results.errors.total(),
            p95
        ) + if settings.halt.stopping() {
            " · stopping"
        } else {
            ""
        }
    }
}

impl State {
    /// A collector's state at the run's start, its first second open; `second_histograms`
    /// keeps each second's latencies and open WebSockets (segment runs, for `merge`).
    fn new(second_histograms: bool, redactor: Redactor) -> Self {
        let mut state = State {
            results: Results::default(),
            store: Store::default(),
            second: new_histogram(),
            second_index: 0,
            sent: 0,
            received: 0,
            vus_now: 0,
            ws_now: second_histograms.then_some(0),
            redactor,
            out_of_descriptors: Notice::NotYet,
            tagged: HashMap::new(),
            timeline_kinds: Vec::new(),
            second_errors: Vec::new(),
        };
        state.roll(0);
        state
    }
}

/// Runs until every sender is gone, then returns the results.
pub async fn collect(
    mut inbox: mpsc::UnboundedReceiver<Event>,
    backlog: Arc<AtomicUsize>,
    mut settings: Settings,
) -> Results {
    let mut state = State::new(settings.second_histograms, settings.redactor.clone());
    let bar = (settings.progress == Progress::Live).then(|| {
        let bar = indicatif::ProgressBar::new(settings.planned.as_millis().max(1) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:24.cyan/blue} {percent:>3}% {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    // The collector drains the channel every 10 ms instead of waking for each batch: a VU's
    // send then never wakes a task, and the collector runs 100 times a second, not once
    // per iteration.
    let mut ticker = tokio::time::interval(DRAIN_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_shown = Instant::now();
    let mut last_line = Instant::now();
    let mut last_judged = Instant::now();
    let mut live = std::mem::take(&mut settings.live);
    'run: loop {
        ticker.tick().await;
        let elapsed = settings.started.elapsed();
        state.roll(usize::try_from(elapsed.as_secs()).unwrap_or(usize::MAX));
        let mut taken = 0usize;
        loop {
            match inbox.try_recv() {
                Ok(event) => taken += state.apply(event),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    backlog.fetch_sub(taken, Ordering::Relaxed);
                    break 'run;
                }
            }
        }
        backlog.fetch_sub(taken, Ordering::Relaxed);
        if state.out_of_descriptors == Notice::Due {
            state.out_of_descriptors = Notice::Said;
            let text = out_of_descriptors_text(super::open_files::open_files_limit());
            match &bar {
                Some(bar) => bar.println(text),
                None => eprintln!("{text}"),
            }
        }
        if last_shown.elapsed() >= SHOW_EVERY {
            last_shown = Instant::now();
            if let Some(bar) = &bar {
                bar.set_position(elapsed.as_millis().min(u128::from(u64::MAX)) as u64);
                bar.set_message(state.progress_text(&settings));
            } else if settings.progress == Progress::Lines && last_line.elapsed() >= LINE_EVERY {
                last_line = Instant::now();
                eprintln!(
                    "[{:>5.0}s/{:.0}s] {}",
                    elapsed.as_secs_f64(),
                    settings.planned.as_secs_f64(),
                    state.progress_text(&settings)
                );
            }
        }
        let now = Instant::now();
        if live.iter().any(|feed| feed.due(now)) {
            let dropped = live.iter().map(super::remote_write::Feed::dropped).sum();
            state.lend(elapsed, dropped, |view| {
                for feed in live.iter_mut().filter(|feed| feed.due(now)) {
                    feed.send(view, now);
                }
            });
        }
        if !settings.abort_rules.is_empty() && last_judged.elapsed() >= JUDGE_EVERY {
            last_judged = Instant::now();
            judge_aborts(&state.snapshot(), elapsed, &settings);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let end = usize::try_from(settings.started.elapsed().as_secs()).unwrap_or(usize::MAX);
    state.roll(end.saturating_add(1));
    // A run past the timeline's last second (a day) has its last one still open.
    state.close_error_kinds();
    state.results.timeline.truncate(end.saturating_add(1));
    let store = std::mem::take(&mut state.store);
    let mut results = state.results;
    store.into_results(&mut results);
    results.record(Sample::Count(SeriesKey::run("data_sent"), state.sent));
    results.record(Sample::Count(
        SeriesKey::run("data_received"),
        state.received,
    ));
    results.gauge(SeriesKey::run("vus_max"), f64::from(results.vus_max));
    results
}

/// Judges the `abort_on_fail` thresholds whose `delay_abort` has passed; halts on a failure.
fn judge_aborts(results: &Results, elapsed: Duration, settings: &Settings) {
    if settings.halt.stopping() {
        return;
    }
    let due: Vec<ThresholdRule> = settings
        .abort_rules
        .iter()
        .filter(|rule| rule.delay_abort.is_none_or(|delay| elapsed >= delay.0))
        .cloned()
        .collect();
    if due.is_empty() {
        return;
    }
    let mut results = results.clone();
    results.duration = elapsed;
    let verdict = crate::verdict::judge(&due, &results, settings.baseline.as_deref());
    // A metric with no samples yet is not a failure worth aborting for.
    if let Some(failed) = verdict
        .outcomes
        .iter()
        .find(|o| !o.passed() && o.value.is_some())
    {
        settings.halt.abort(format!(
            "threshold `{}: {}` failed at {:.0}s (abort_on_fail)",
            failed.key,
            failed.check,
            elapsed.as_secs_f64()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Status;

    fn state() -> State {
        State::new(false, Redactor::new([]))
    }

    /// A server answering with every status cannot grow the timeline: past
    /// `TIMELINE_KINDS` kinds, errors count under `OTHER_KINDS`, and each second's kinds
    /// add up to its errors.
    #[test]
    fn the_timeline_names_a_bounded_number_of_error_kinds() {
        let mut state = state();
        for at in 0..3_usize {
            state.roll(at);
            for code in 100..600_u16 {
                state.apply(Event::Error {
                    kind: ErrorKind::ExpectStatus(Status::new(code)),
                    example: Some("<b>".into()),
                });
            }
            state.apply(Event::Error {
                kind: ErrorKind::Timeout,
                example: None,
            });
        }
        state.roll(3);
        state.close_error_kinds();
        let timeline = &state.results.timeline;
        assert_eq!(timeline.len(), 4);
        for second in &timeline[..3] {
            assert_eq!(second.errors, 501);
            assert_eq!(second.errors_by_kind.values().sum::<u64>(), 501);
            assert_eq!(second.errors_by_kind.len(), TIMELINE_KINDS + 1);
            assert_eq!(second.errors_by_kind["expect status 100"], 1);
            assert_eq!(
                second.errors_by_kind[OTHER_KINDS],
                501 - TIMELINE_KINDS as u64
            );
        }
        assert!(timeline[3].errors_by_kind.is_empty());
        assert_eq!(state.results.errors.total(), 3 * 501);
    }
}
