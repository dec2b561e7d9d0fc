//! The state a run's tasks share: the stop request ([`Halt`]), the events VUs send the
//! collector ([`Event`]), the read-only run ([`Shared`]) and the series keys made once at
//! start ([`IterationKeys`], [`RequestKeys`], [`WsStepKeys`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::plan::model::{Plan, Request, Step};
use crate::plan::template::TemplateSet;
use crate::results::{ErrorKind, Sample, SeriesKey};

use super::matcher::CompiledMatcher;
use super::tls;

/// A stop request: a flag that is cheap to read, and a wake-up for whoever waits for it, so
/// waiting costs no polling. A VU's (from the controller at ramp-down and the stage's end:
/// read between iterations and by open-ended `repeat`s, waited for by a back-off), and
/// [`Halt`]'s "stop now".
#[derive(Default)]
pub struct Stop {
    flag: std::sync::atomic::AtomicBool,
    woken: tokio::sync::Notify,
}

impl Stop {
    pub fn request(&self) {
        self.flag.store(true, std::sync::atomic::Ordering::Relaxed);
        self.woken.notify_waiters();
    }

    pub fn requested(&self) -> bool {
        self.flag.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Returns once the stop is requested.
    pub async fn requested_wait(&self) {
        let woken = self.woken.notified();
        tokio::pin!(woken);
        // Registered before the flag is read, so a request between the two is not lost.
        woken.as_mut().enable();
        if self.requested() {
            return;
        }
        woken.await;
    }
}

/// A run-wide request to stop early: set by a signal or an `abort_on_fail` threshold,
/// read by the controller at every tick.
#[derive(Default)]
pub struct Halt {
    stop: std::sync::atomic::AtomicBool,
    /// Stop now: no graceful stop (a second Ctrl-C).
    now: Stop,
    interrupted: std::sync::atomic::AtomicBool,
    reason: Mutex<Option<String>>,
}

impl Halt {
    pub fn stopping(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn now(&self) -> bool {
        self.now.requested()
    }

    /// Returns once the run must stop at once (a second signal): whatever a task is waiting
    /// for — a command, a scrape, a VU's graceful stop — is dropped for this.
    pub async fn now_requested(&self) {
        self.now.requested_wait().await;
    }

    fn set(&self, reason: String) {
        let mut slot = self
            .reason
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        slot.get_or_insert(reason);
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// A threshold with `abort_on_fail` failed.
    pub fn abort(&self, reason: String) {
        self.set(reason);
    }

    /// A signal: the first stops gracefully, the second at once.
    pub fn interrupt(&self, signal: &str) {
        if self.stopping() && self.interrupted.load(std::sync::atomic::Ordering::Relaxed) {
            self.now.request();
            return;
        }
        self.interrupted
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.set(format!("interrupted by {signal}"));
    }

    /// Whether a signal asked the run to stop.
    pub(super) fn interrupted(&self) -> bool {
        self.interrupted.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(super) fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// What the VUs and the collector exchange.
pub enum Event {
    Sample(Sample),
    /// A request, answered or not: its count, duration (for one that got no answer, the
    /// time it waited), time to first byte (when a response came), failure and status (0
    /// for none), in one event (the commonest one by far). The collector records it under
    /// the step's keys tagged `expected_response` (not `failed`), `status` and `method`.
    Request {
        keys: Arc<RequestKeys>,
        duration: Duration,
        waiting: Option<Duration>,
        failed: bool,
        status: u16,
    },
    /// An iteration that ended: its count and duration.
    Iteration {
        keys: Arc<IterationKeys>,
        duration: Duration,
    },
    /// Active VUs and open WebSockets.
    Vus {
        vus: u32,
        ws: u32,
    },
    /// Events one VU gathered (samples, errors, bytes), sent at once.
    Batch(Vec<Event>),
    /// A failed iteration: its error's kind, and the text that came with it (redacted and
    /// cut by the collector, kept as an example while the kind has few).
    Error {
        kind: ErrorKind,
        example: Option<String>,
    },
    Bytes {
        sent: u64,
        received: u64,
    },
}

/// What every VU of a run shares, read-only but for the mark registry.
pub struct Shared {
    pub plan: Plan,
    pub templates: TemplateSet,
    pub stage: String,
    /// Template context values common to all VUs (`env`, `vars`, `secrets`, `stage`).
    pub base: minijinja::Value,
    /// Shared names of metrics and tags, so a sample's key costs no allocation.
    pub(super) names: HashMap<String, Arc<str>>,
    pub(super) events: tokio::sync::mpsc::UnboundedSender<Event>,
    /// Events sent and not yet taken by the collector.
    pub backlog: Arc<std::sync::atomic::AtomicUsize>,
    /// The regexes of HTTP header checks, by pattern.
    pub(super) regexes: HashMap<String, regex::Regex>,
    /// The matcher of each `expect` step, by the step's address.
    pub(super) expect_matchers: HashMap<usize, CompiledMatcher, foldhash::fast::FixedState>,
    /// The matchers of each scenario's `on_message` rules, scenarios and rules in the
    /// plan's order.
    pub(super) on_message: Vec<Vec<CompiledMatcher>>,
    /// Every series key the plan can produce, by [`key_hash`].
    pub(super) keys: KeyMap,
    /// The series keys of each request step, by the step's address (steps live in the
    /// plan, which does not move while the run lasts).
    pub(super) request_keys: HashMap<usize, Arc<RequestKeys>>,
    /// The series keys of each `send` and `expect` step, by the step's address.
    pub(super) ws_keys: HashMap<usize, WsStepKeys, foldhash::fast::FixedState>,
    /// The keys of each step with `chance:` or `if:`, by the step's address.
    pub(super) guards: HashMap<usize, GuardKeys, foldhash::fast::FixedState>,
    /// `mark`ed ids and when they were sent.
    pub(super) marks: Mutex<HashMap<String, Instant>>,
    /// Set to stop the run early.
    pub halt: Arc<Halt>,
    /// TLS client configurations, shared by every VU.
    pub tls: tls::Tls,
    /// WebSockets open now, for `ws_connections_active`.
    pub ws_open: std::sync::atomic::AtomicU32,
    /// The `data:` sources and who reads them.
    pub feeders: super::feed::Feeders,
}

/// What a step's guards record: `step_chance` (whether the draw of its `chance:` ran it)
/// and `step_if` (whether its `if:` held), tagged with the step's
/// [`guard_name`](crate::plan::step::Step::guard_name).
#[derive(Debug, Clone)]
pub struct GuardKeys {
    pub chance: SeriesKey,
    pub when: SeriesKey,
}

/// Events waiting for the collector beyond which VUs pause between iterations.
pub const EVENT_BACKLOG: usize = 1 << 16;

/// Marks older than this are forgotten.
const MARK_TTL: Duration = Duration::from_secs(60);

impl Shared {
    pub fn event(&self, event: Event) {
        // Sending never waits (an unbounded channel is the cheapest per sample); memory is
        // bounded instead by VUs pausing between iterations while the backlog is over
        // `EVENT_BACKLOG` (a VU failing in a tight loop). Relaxed: the count only paces.
        // The collector outlives every VU; a send can only fail after the run ended.
        self.backlog
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _ = self.events.send(event);
    }

    /// Sends events a VU gathered, as one.
    pub fn batch(&self, events: Vec<Event>) {
        self.backlog
            .fetch_add(events.len(), std::sync::atomic::Ordering::Relaxed);
        let _ = self.events.send(Event::Batch(events));
    }

    pub fn sample(&self, sample: Sample) {
        self.event(Event::Sample(sample));
    }

    /// The shared copy of a name (metric, scenario or tag).
    pub fn name(&self, text: &str) -> Arc<str> {
        self.names
            .get(text)
            .map_or_else(|| Arc::from(text), Arc::clone)
    }

    /// The run's shared key for a series (made when the run started), or a new one for a
    /// series the plan could not foresee. Shared keys cost no allocation and let the
    /// collector find their series by address.
    pub fn key(&self, metric: &str, scenario: &str, name: Option<&str>) -> SeriesKey {
        if let Some(candidates) = self.keys.get(&key_hash(metric, scenario, name)) {
            for key in candidates {
                if &*key.metric == metric
                    && &*key.scenario == scenario
                    && key.name.as_deref() == name
                {
                    return key.clone();
                }
            }
        }
        SeriesKey::from(crate::results::Series {
            metric: self.name(metric),
            scenario: self.name(scenario),
            name: name.map(|n| self.name(n)),
            group: None,
            response: None,
        })
    }

    pub fn count(&self, metric: &str, scenario: &str, name: Option<&str>, n: u64) {
        self.sample(Sample::Count(self.key(metric, scenario, name), n));
    }

    /// The series keys of a request step of `scenario`.
    pub fn request_keys(&self, request: &Request, scenario: &str) -> Arc<RequestKeys> {
        match self
            .request_keys
            .get(&(std::ptr::from_ref(request) as usize))
        {
            Some(keys) => Arc::clone(keys),
            None => Arc::new(RequestKeys::new(
                &|text| self.name(text),
                request,
                scenario,
                None,
            )),
        }
    }

    /// The keys a `send` or `expect` step records under (made at start; made now for a
    /// step the plan did not hold then, which does not happen in a run).
    pub fn ws_keys(&self, step: &Step, scenario: &str) -> WsStepKeys {
        if let Some(keys) = self.ws_keys.get(&step_address(step)) {
            return keys.clone();
        }
        WsStepKeys::new(step, scenario, None, &|metric, scenario, name| {
            self.key(metric, scenario, name)
        })
    }

    /// The keys a step's `chance:` and `if:` record under (made at start; made now for a
    /// step the plan did not hold then, which does not happen in a run).
    pub fn guard_keys(&self, step: &Step, scenario: &str) -> GuardKeys {
        if let Some(keys) = self.guards.get(&step_address(step)) {
            return keys.clone();
        }
        // Its position is unknown here: the kind stands in for it.
        let name = step.guard_name(&[]);
        GuardKeys {
            chance: self.key("step_chance", scenario, Some(&name)),
            when: self.key("step_if", scenario, Some(&name)),
        }
    }

    /// The matcher of an `expect` step (made at start, for every step of the plan).
    pub fn expect_matcher(&self, step: &Step) -> Option<&CompiledMatcher> {
        self.expect_matchers.get(&step_address(step))
    }

    /// The matchers of the `on_message` rules of the plan's `index`th scenario.
    pub fn on_message(&self, index: usize) -> &[CompiledMatcher] {
        self.on_message.get(index).map_or(&[], Vec::as_slice)
    }

    /// The compiled regex of an HTTP header check.
    pub fn regex(&self, pattern: &str) -> Option<&regex::Regex> {
        self.regexes.get(pattern)
    }

    pub fn mark(&self, id: String) {
        let mut marks = self
            .marks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if marks.len() > 10_000 {
            marks.retain(|_, at| now.duration_since(*at) < MARK_TTL);
        }
        marks.insert(id, now);
    }

    pub fn marked(&self, id: &str) -> Option<Instant> {
        let marks = self
            .marks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        marks.get(id).copied().filter(|at| at.elapsed() < MARK_TTL)
    }
}

/// The series every iteration of a scenario records into.
pub struct IterationKeys {
    pub iterations: SeriesKey,
    pub duration: SeriesKey,
    pub errors: SeriesKey,
    /// `iterations_interrupted`: iterations cancelled before they ended.
    pub interrupted: SeriesKey,
}

/// The series keys a request step records into, made once for the run.
#[derive(Clone)]
pub struct RequestKeys {
    pub name: Arc<str>,
    /// The `method` tag of its `http_req*` series.
    pub method: Arc<str>,
    pub reqs: SeriesKey,
    pub duration: SeriesKey,
    /// In arrival stages: the duration plus the iteration's start lag (wrk2's correction).
    pub duration_corrected: SeriesKey,
    pub waiting: SeriesKey,
    pub failed: SeriesKey,
    pub checks: SeriesKey,
    /// The step's own `metric:`, if any.
    pub custom: Option<SeriesKey>,
    /// The parsed URL, when it is the same for the whole run (no VU value, no `query`).
    pub uri: Option<hyper::Uri>,
}

impl RequestKeys {
    pub(super) fn new(
        name_of: &dyn Fn(&str) -> Arc<str>,
        request: &Request,
        scenario: &str,
        group: Option<&str>,
    ) -> Self {
        let name = match &request.name {
            Some(name) => name_of(name),
            None => name_of(&format!("{} {}", request.method.as_str(), request.url)),
        };
        let group = group.map(name_of);
        let key = |metric: &str| {
            SeriesKey::from(crate::results::Series {
                metric: name_of(metric),
                scenario: name_of(scenario),
                name: Some(Arc::clone(&name)),
                group: group.clone(),
                response: None,
            })
        };
        Self {
            reqs: key("http_reqs"),
            duration: key("http_req_duration"),
            duration_corrected: key("http_req_duration_corrected"),
            waiting: key("http_req_waiting"),
            failed: key("http_req_failed"),
            checks: key("checks"),
            custom: request.metric.as_deref().map(key),
            method: name_of(request.method.as_str()),
            name,
            uri: None,
        }
    }
}

/// The hash of a series' names (foldhash: the run looks a key up for most samples, and
/// the names are the plan's own, so a fast unkeyed hash is enough).
pub(super) fn key_hash(metric: &str, scenario: &str, name: Option<&str>) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0).hash_one((metric, scenario, name))
}

pub(super) type KeyMap = HashMap<u64, Vec<SeriesKey>, foldhash::fast::FixedState>;

/// The series keys a `send` step (`primary`: `ws_msgs_sent`) or an `expect` step
/// (`primary`: its latency metric, `corrected`, `checks`, with its `name` tag) records under.
#[derive(Clone)]
pub struct WsStepKeys {
    /// An `expect`'s latency is tagged `expected_response: true`.
    pub primary: SeriesKey,
    /// An `expect`'s wait that timed out, tagged `expected_response: false` (`primary`
    /// otherwise).
    pub timed_out: SeriesKey,
    pub corrected: SeriesKey,
    pub checks: SeriesKey,
}

impl WsStepKeys {
    /// `key` gives the run's shared key of a series; in a `group`, the key gains the tag.
    pub(super) fn new(
        step: &Step,
        scenario: &str,
        group: Option<Arc<str>>,
        shared_key: &dyn Fn(&str, &str, Option<&str>) -> SeriesKey,
    ) -> Self {
        let key = |metric: &str, scenario: &str, name: Option<&str>| {
            let key = shared_key(metric, scenario, name);
            match &group {
                None => key,
                Some(group) => SeriesKey::from(crate::results::Series {
                    group: Some(Arc::clone(group)),
                    ..(*key).clone()
                }),
            }
        };
        match step {
            Step::Expect(step) => {
                let expect = &step.expect;
                let name = expect.name.as_deref();
                let metric = expect.metric.as_deref().unwrap_or("ws_message_latency");
                let latency = key(metric, scenario, name);
                let tagged = |expected: bool| {
                    SeriesKey::from(crate::results::Series {
                        response: Some(crate::results::ResponseTags {
                            expected,
                            status: 0,
                            method: "".into(),
                        }),
                        ..(*latency).clone()
                    })
                };
                Self {
                    primary: tagged(true),
                    timed_out: tagged(false),
                    corrected: key("ws_message_latency_corrected", scenario, name),
                    checks: key("checks", scenario, name),
                }
            }
            _ => Self {
                primary: key("ws_msgs_sent", scenario, None),
                timed_out: key("ws_msgs_sent", scenario, None),
                corrected: key("ws_message_latency_corrected", scenario, None),
                checks: key("checks", scenario, None),
            },
        }
    }
}

/// A step's identity for the run: its address (the plan does not move while it runs).
pub(super) fn step_address(step: &Step) -> usize {
    std::ptr::from_ref(step) as usize
}

#[cfg(test)]
mod tests {
    use super::Halt;

    #[tokio::test]
    async fn only_the_second_signal_is_a_stop_at_once() {
        let halt = std::sync::Arc::new(Halt::default());
        let waiter = tokio::spawn({
            let halt = std::sync::Arc::clone(&halt);
            async move { halt.now_requested().await }
        });
        tokio::task::yield_now().await;
        halt.interrupt("SIGINT");
        assert!(halt.stopping() && !halt.now());
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        halt.interrupt("SIGINT");
        assert!(halt.now());
        waiter.await.expect("the waiter wakes");
        // Asked after the fact, it answers at once.
        halt.now_requested().await;
    }

    #[test]
    fn an_abort_then_a_signal_is_a_graceful_stop() {
        let halt = Halt::default();
        halt.abort("a threshold failed".to_owned());
        halt.interrupt("SIGTERM");
        assert!(halt.interrupted() && !halt.now());
        assert_eq!(halt.reason().as_deref(), Some("a threshold failed"));
    }
}
