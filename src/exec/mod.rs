//! The executor: turns a checked plan into load and into [`Results`]. The only async code
//! besides the mock target.
//!
//! ```text
//! controller ──spawns/stops──▶ VU tasks ──Event (samples)──▶ collector (owns Results)
//! ```
//!
//! VUs never share a lock to record: they send samples over a channel to the one collector
//! task, which owns the histograms.

mod collector;
mod context;
mod controller;
mod h1;
mod http;
mod matcher;
mod sampler;
mod tls;
mod vu;
mod ws;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::mock::{MockServer, MockSettings};
use crate::plan::CheckedPlan;
use crate::plan::model::{Plan, Request, Step};
use crate::plan::template::TemplateSet;
use crate::results::{Results, Sample, SeriesKey};
use crate::schedule::Schedule;

pub use collector::Progress;

/// Settings of a run that are not in the plan.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub progress: Progress,
    /// Thresholds with `abort_on_fail`, judged every 2 s.
    pub abort_rules: Vec<crate::plan::ThresholdRule>,
    /// An earlier run, for `baseline * k` thresholds among them.
    pub baseline: Option<Arc<Results>>,
    /// Stop on SIGINT/SIGTERM with what was measured (`loadplan run`); tests leave it off.
    pub handle_signals: bool,
}

/// How a run ended.
pub struct Finished {
    pub results: Results,
    /// Stopped by SIGINT or SIGTERM: the results are partial.
    pub interrupted: bool,
}

/// A run-wide request to stop early: set by a signal or an `abort_on_fail` threshold,
/// read by the controller at every tick.
#[derive(Default)]
pub struct Halt {
    stop: std::sync::atomic::AtomicBool,
    /// Stop now: no graceful stop (a second Ctrl-C).
    now: std::sync::atomic::AtomicBool,
    interrupted: std::sync::atomic::AtomicBool,
    reason: Mutex<Option<String>>,
}

impl Halt {
    pub fn stopping(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn now(&self) -> bool {
        self.now.load(std::sync::atomic::Ordering::Relaxed)
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
            self.now.store(true, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        self.interrupted
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.set(format!("interrupted by {signal}"));
    }

    fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// What the VUs and the collector exchange.
pub enum Event {
    Sample(Sample),
    /// A request that got a response: its count, duration, time to first byte and
    /// failure, in one event (the commonest one by far).
    Request {
        keys: Arc<RequestKeys>,
        duration: Duration,
        waiting: Duration,
        failed: bool,
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
    Error(String),
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
    names: HashMap<String, Arc<str>>,
    events: tokio::sync::mpsc::UnboundedSender<Event>,
    /// Events sent and not yet taken by the collector.
    pub backlog: Arc<std::sync::atomic::AtomicUsize>,
    regexes: HashMap<String, regex::Regex>,
    /// Every series key the plan can produce, by [`key_hash`].
    keys: KeyMap,
    /// The series keys of each request step, by the step's address (steps live in the
    /// plan, which does not move while the run lasts).
    request_keys: HashMap<usize, Arc<RequestKeys>>,
    /// The series keys of each `send` and `expect` step, by the step's address.
    ws_keys: HashMap<usize, WsStepKeys, foldhash::fast::FixedState>,
    /// `mark`ed ids and when they were sent.
    marks: Mutex<HashMap<String, Instant>>,
    /// Set to stop the run early.
    pub halt: Arc<Halt>,
    /// TLS client configurations, shared by every VU.
    pub tls: tls::Tls,
    /// WebSockets open now, for `ws_connections_active`.
    pub ws_open: std::sync::atomic::AtomicU32,
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

    /// The compiled form of a pattern of the plan.
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

/// Runs the plan's selected stage to its end (and graceful stop), returning what it
/// measured. `secrets` are the values of the plan's secrets, read by the caller.
pub fn execute(
    checked: CheckedPlan,
    secrets: IndexMap<String, String>,
    options: &RunOptions,
) -> Result<Finished, String> {
    // On one core (a pinned or small machine) the single-threaded scheduler does the same
    // work without the multi-threaded one's synchronisation.
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut builder = if cores > 1 {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = builder
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(run(checked, secrets, options.clone()))
}

async fn run(
    checked: CheckedPlan,
    secrets: IndexMap<String, String>,
    options: RunOptions,
) -> Result<Finished, String> {
    let CheckedPlan {
        plan,
        env,
        stage,
        vars,
        templates,
        derived,
        ..
    } = checked;
    let derive_vars = vars.clone();
    let environment = env.as_ref().and_then(|name| plan.environments.get(name));
    let insecure = environment.is_some_and(|e| e.insecure);
    let mock = match environment
        .and_then(|e| e.mock.as_ref())
        .filter(|m| m.enabled())
    {
        Some(setting) => {
            let mut settings = MockSettings::default();
            if let crate::plan::model::MockSetting::Configured(config) = setting {
                settings.mode = config.mode;
                settings.status = config.status.unwrap_or(settings.status);
                settings.body_size = config.body_size.map_or(settings.body_size, |s| {
                    usize::try_from(s.0).unwrap_or(usize::MAX)
                });
            }
            Some(
                MockServer::start(settings)
                    .await
                    .map_err(|e| format!("the mock target could not start: {e}"))?,
            )
        }
        None => None,
    };
    let mut env_values = Map::new();
    if let Some(name) = &env {
        env_values.insert("name".into(), name.clone().into());
    }
    if let Some(environment) = environment {
        for (key, value) in &environment.values {
            env_values.insert(key.clone(), value.clone().into());
        }
        if let Some(url) = &environment.base_url {
            env_values.insert("base_url".into(), url.clone().into());
        }
        if let Some(url) = &environment.ws_url {
            env_values.insert("ws_url".into(), url.clone().into());
        }
    }
    if let Some(mock) = &mock {
        env_values.insert("base_url".into(), mock.base_url.clone().into());
        env_values.insert("ws_url".into(), mock.ws_url.clone().into());
    }
    let mut base = Map::new();
    base.insert("env".into(), Value::Object(env_values));
    base.insert("vars".into(), Value::Object(vars.into_iter().collect()));
    base.insert(
        "secrets".into(),
        Value::Object(
            secrets
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ),
    );
    base.insert("stage".into(), stage.clone().into());

    let mut regexes = HashMap::new();
    let mut names: HashMap<String, Arc<str>> = HashMap::new();
    let mut intern = |text: &str| {
        names
            .entry(text.to_owned())
            .or_insert_with(|| Arc::from(text));
    };
    // Custom metrics and `name` tags, for the run's shared keys.
    let mut custom_metrics: Vec<String> = Vec::new();
    let mut tags: Vec<String> = Vec::new();
    for (metric, _) in crate::plan::metric::BUILTIN {
        intern(metric);
    }
    for (name, scenario) in &plan.scenarios {
        intern(name);
        walk(&scenario.steps, &mut |step| match step {
            Step::Expect(expect) => {
                add_regex(expect.expect.regex.as_deref(), &mut regexes);
                for name in [&expect.expect.metric, &expect.expect.name]
                    .into_iter()
                    .flatten()
                {
                    intern(name);
                }
                custom_metrics.extend(expect.expect.metric.iter().cloned());
                tags.extend(expect.expect.name.iter().cloned());
            }
            Step::Request(request) => {
                let request = &request.request;
                for pattern in request.expect.iter().flat_map(|e| e.headers.values()) {
                    add_regex(Some(pattern), &mut regexes);
                }
                intern(&format!("{} {}", request.method.as_str(), request.url));
                for name in [&request.name, &request.metric].into_iter().flatten() {
                    intern(name);
                }
            }
            Step::Connect(connect) => {
                if let crate::plan::model::Connect::Settings(settings) = &connect.connect
                    && let Some(name) = &settings.name
                {
                    intern(name);
                    tags.push(name.clone());
                }
            }
            _ => {}
        });
        for rule in &scenario.on_message {
            add_regex(rule.matcher.regex.as_deref(), &mut regexes);
            if let Some(metric) = &rule.metric {
                custom_metrics.push(metric.clone());
                intern(metric);
            }
        }
    }
    let base = minijinja::Value::from(minijinja::value::Serde(Value::Object(base)));
    let mut templates = templates;
    templates.freeze_constants(&base, &["env", "vars", "secrets", "stage"]);
    let request_keys = request_keys(&plan, &names, &templates);
    let mut ws_keys = HashMap::default();
    custom_metrics.sort();
    custom_metrics.dedup();
    tags.sort();
    tags.dedup();
    let keys = all_keys(&plan, &names, &custom_metrics, &tags);
    let find = |metric: &str, scenario: &str, name: Option<&str>| {
        keys.get(&key_hash(metric, scenario, name))
            .and_then(|candidates| {
                candidates.iter().find(|key| {
                    &*key.metric == metric
                        && &*key.scenario == scenario
                        && key.name.as_deref() == name
                })
            })
            .cloned()
            .unwrap_or_else(|| {
                SeriesKey::from(crate::results::Series {
                    metric: Arc::from(metric),
                    scenario: Arc::from(scenario),
                    name: name.map(Arc::from),
                    group: None,
                })
            })
    };
    for (scenario, body) in &plan.scenarios {
        walk_grouped(&body.steps, None, &mut |step, group| {
            if matches!(step, Step::Send(_) | Step::Expect(_)) {
                let group = group.map(|g| names.get(g).map_or_else(|| Arc::from(g), Arc::clone));
                ws_keys.insert(
                    step_address(step),
                    WsStepKeys::new(step, scenario, group, &find),
                );
            }
        });
    }
    let schedule = Schedule::of(&plan.stages[stage.as_str()]);
    let graceful = plan.stages[stage.as_str()].graceful_stop().0;
    let (events, inbox) = tokio::sync::mpsc::unbounded_channel();
    let halt = Arc::new(Halt::default());
    let backlog = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let shared = Arc::new(Shared {
        plan,
        templates,
        stage,
        base,
        names,
        events,
        backlog: Arc::clone(&backlog),
        regexes,
        keys,
        request_keys,
        ws_keys,
        marks: Mutex::new(HashMap::new()),
        halt: Arc::clone(&halt),
        tls: tls::Tls::new(insecure),
        ws_open: std::sync::atomic::AtomicU32::new(0),
    });
    if options.handle_signals {
        tokio::spawn(watch_signals(Arc::clone(&halt)));
    }
    let sampling =
        sampler::Sampling::start(&shared.plan.collect, &shared.templates, &shared.base).await;
    let started = Instant::now();
    let settings = collector::Settings {
        started,
        planned: schedule.duration(),
        progress: options.progress,
        abort_rules: options.abort_rules,
        baseline: options.baseline,
        halt: Arc::clone(&halt),
    };
    let collector = tokio::spawn(collector::collect(inbox, backlog, settings));
    controller::drive(Arc::clone(&shared), &schedule, graceful).await;
    let derived_texts = shared.plan.derived.clone();
    drop(shared);
    let mut results = collector
        .await
        .map_err(|e| format!("the collector failed: {e}"))?;
    results.duration = started.elapsed();
    results.stopped_early = halt.reason();
    let collected = sampling.stop().await;
    (results.server, results.sources) = (collected.metrics, collected.sources);
    let run = crate::derive::RunValues {
        vars: &derive_vars,
        stage_duration_s: schedule.duration().as_secs_f64(),
    };
    results.derived = crate::derive::derive(&derived, &derived_texts, &results, &run);
    if let Some(mock) = mock {
        mock.stop().await;
    }
    Ok(Finished {
        results,
        interrupted: halt.interrupted.load(std::sync::atomic::Ordering::Relaxed),
    })
}

/// Turns SIGINT and SIGTERM into a graceful stop (a second one stops at once).
async fn watch_signals(halt: Arc<Halt>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        loop {
            let name = tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
            eprintln!("\n{name}: stopping; press Ctrl-C again to stop at once");
            halt.interrupt(name);
        }
    }
    #[cfg(not(unix))]
    loop {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        halt.interrupt("Ctrl-C");
    }
}

/// The series every iteration of a scenario records into.
pub struct IterationKeys {
    pub iterations: SeriesKey,
    pub duration: SeriesKey,
    pub errors: SeriesKey,
}

/// The series keys a request step records into, made once for the run.
#[derive(Clone)]
pub struct RequestKeys {
    pub name: Arc<str>,
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
    fn new(
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
            name,
            uri: None,
        }
    }
}

/// The hash of a series' names (foldhash: the run looks a key up for most samples, and
/// the names are the plan's own, so a fast unkeyed hash is enough).
fn key_hash(metric: &str, scenario: &str, name: Option<&str>) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0).hash_one((metric, scenario, name))
}

type KeyMap = HashMap<u64, Vec<SeriesKey>, foldhash::fast::FixedState>;

/// The keys of every (metric, scenario, name) the plan can record: built-in and custom
/// metrics, each scenario, no name or any name a step gives.
fn all_keys(
    plan: &Plan,
    names: &HashMap<String, Arc<str>>,
    metrics: &[String],
    tags: &[String],
) -> KeyMap {
    let name_of = |text: &str| names.get(text).map_or_else(|| Arc::from(text), Arc::clone);
    let mut keys = KeyMap::default();
    let metrics = crate::plan::metric::BUILTIN
        .iter()
        .map(|(metric, _)| *metric)
        .chain(metrics.iter().map(String::as_str));
    for metric in metrics {
        for scenario in plan.scenarios.keys() {
            for name in std::iter::once(None).chain(tags.iter().map(|t| Some(t.as_str()))) {
                let hash = key_hash(metric, scenario, name);
                let key = SeriesKey::from(crate::results::Series {
                    metric: name_of(metric),
                    scenario: name_of(scenario),
                    name: name.map(name_of),
                    group: None,
                });
                let slot = keys.entry(hash).or_default();
                if !slot.contains(&key) {
                    slot.push(key);
                }
            }
        }
    }
    keys
}

fn request_keys(
    plan: &Plan,
    names: &HashMap<String, Arc<str>>,
    templates: &TemplateSet,
) -> HashMap<usize, Arc<RequestKeys>> {
    let name_of = |text: &str| names.get(text).map_or_else(|| Arc::from(text), Arc::clone);
    let mut keys = HashMap::new();
    for (scenario, body) in &plan.scenarios {
        walk_grouped(&body.steps, None, &mut |step, group| {
            if let Step::Request(step) = step {
                let request = &step.request;
                let mut made = RequestKeys::new(&name_of, request, scenario, group);
                let url = request.url.as_str();
                let constant = if crate::plan::template::Template::is_dynamic(url) {
                    templates.constant(url)
                } else {
                    Some(url)
                };
                if request.query.is_empty() {
                    made.uri = constant.and_then(|url| hyper::Uri::try_from(url).ok());
                }
                keys.insert(std::ptr::from_ref(request) as usize, Arc::new(made));
            }
        });
    }
    keys
}

/// The series keys a `send` step (`primary`: `ws_msgs_sent`) or an `expect` step
/// (`primary`: its latency metric, `corrected`, `checks`, with its `name` tag) records under.
#[derive(Clone)]
pub struct WsStepKeys {
    pub primary: SeriesKey,
    pub corrected: SeriesKey,
    pub checks: SeriesKey,
}

impl WsStepKeys {
    /// `key` gives the run's shared key of a series; in a `group`, the key gains the tag.
    fn new(
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
                Self {
                    primary: key(metric, scenario, name),
                    corrected: key("ws_message_latency_corrected", scenario, name),
                    checks: key("checks", scenario, name),
                }
            }
            _ => Self {
                primary: key("ws_msgs_sent", scenario, None),
                corrected: key("ws_message_latency_corrected", scenario, None),
                checks: key("checks", scenario, None),
            },
        }
    }
}

/// A step's identity for the run: its address (the plan does not move while it runs).
fn step_address(step: &Step) -> usize {
    std::ptr::from_ref(step) as usize
}

/// Calls `visit` on every step, nested ones included, with the innermost `group` around it.
fn walk_grouped<'p>(
    steps: &'p [Step],
    group: Option<&'p str>,
    visit: &mut dyn FnMut(&'p Step, Option<&'p str>),
) {
    for step in steps {
        visit(step, group);
        let inner = match step {
            Step::Group(step) => Some(step.group.as_str()),
            _ => group,
        };
        if let Some(children) = step.children() {
            walk_grouped(children, inner, visit);
        }
    }
}

/// Calls `visit` on every step, nested ones included.
fn walk<'p>(steps: &'p [Step], visit: &mut dyn FnMut(&'p Step)) {
    walk_grouped(steps, None, &mut |step, _| visit(step));
}

fn add_regex(pattern: Option<&str>, out: &mut HashMap<String, regex::Regex>) {
    if let Some(pattern) = pattern
        && let Ok(regex) = regex::Regex::new(pattern)
    {
        out.insert(pattern.to_owned(), regex);
    }
}
