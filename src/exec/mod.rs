//! The executor: turns a checked plan into load and into [`Results`]. The only async code
//! besides the mock target.
//!
//! ```text
//! controller ──spawns/stops──▶ VU tasks ──Event (samples)──▶ collector (owns Results)
//! ```
//!
//! VUs never share a lock to record: they send samples over a channel to the one collector
//! task, which owns the histograms.

mod context;
mod controller;
mod http;
mod matcher;
mod sampler;
mod vu;
mod ws;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::mock::{MockServer, MockSettings};
use crate::plan::CheckedPlan;
use crate::plan::model::{Plan, Step};
use crate::plan::template::TemplateSet;
use crate::results::{Results, Sample, SeriesKey};
use crate::schedule::Schedule;

/// Settings of a run that are not in the plan.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Print a line of progress every few seconds (stderr).
    pub progress: bool,
}

/// What the VUs and the collector exchange.
pub enum Event {
    Sample(Sample),
    Vus(u32),
    Error(String),
    Bytes { sent: u64, received: u64 },
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
    /// `mark`ed ids and when they were sent.
    marks: Mutex<HashMap<String, Instant>>,
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

    pub fn sample(&self, sample: Sample) {
        self.event(Event::Sample(sample));
    }

    /// The shared copy of a name (metric, scenario or tag).
    pub fn name(&self, text: &str) -> Arc<str> {
        self.names
            .get(text)
            .map_or_else(|| Arc::from(text), Arc::clone)
    }

    pub fn key(&self, metric: &str, scenario: &str, name: Option<&str>) -> SeriesKey {
        SeriesKey {
            metric: self.name(metric),
            scenario: self.name(scenario),
            name: name.map(|n| self.name(n)),
        }
    }

    pub fn count(&self, metric: &str, scenario: &str, name: Option<&str>, n: u64) {
        self.sample(Sample::Count(self.key(metric, scenario, name), n));
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
) -> Result<Results, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(run(checked, secrets, options.clone()))
}

async fn run(
    checked: CheckedPlan,
    secrets: IndexMap<String, String>,
    options: RunOptions,
) -> Result<Results, String> {
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
                }
            }
            _ => {}
        });
        for rule in &scenario.on_message {
            add_regex(rule.matcher.regex.as_deref(), &mut regexes);
            if let Some(metric) = &rule.metric {
                intern(metric);
            }
        }
    }
    let base = minijinja::Value::from(minijinja::value::Serde(Value::Object(base)));
    let schedule = Schedule::of(&plan.stages[stage.as_str()]);
    let graceful = plan.stages[stage.as_str()].graceful_stop().0;
    let (events, inbox) = tokio::sync::mpsc::unbounded_channel();
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
        marks: Mutex::new(HashMap::new()),
    });
    let sampling =
        sampler::Sampling::start(&shared.plan.collect, &shared.templates, &shared.base).await;
    let started = Instant::now();
    let planned = schedule.duration();
    let progress = options.progress;
    let collector = tokio::spawn(async move {
        controller::collect(inbox, &backlog, started, progress, planned).await
    });
    controller::drive(Arc::clone(&shared), &schedule, graceful).await;
    let derived_texts = shared.plan.derived.clone();
    drop(shared);
    let mut results = collector
        .await
        .map_err(|e| format!("the collector failed: {e}"))?;
    results.duration = started.elapsed();
    let collected = sampling.stop().await;
    (results.server, results.sources) = (collected.metrics, collected.sources);
    let run = crate::collect::derive::RunValues {
        vars: &derive_vars,
        stage_duration_s: planned.as_secs_f64(),
    };
    results.derived = crate::collect::derive(&derived, &derived_texts, &results, &run);
    if let Some(mock) = mock {
        mock.stop().await;
    }
    Ok(results)
}

/// Calls `visit` on every step, nested ones included.
fn walk(steps: &[Step], visit: &mut dyn FnMut(&Step)) {
    for step in steps {
        visit(step);
        if let Some(children) = step.children() {
            walk(children, visit);
        }
    }
}

fn add_regex(pattern: Option<&str>, out: &mut HashMap<String, regex::Regex>) {
    if let Some(pattern) = pattern
        && let Ok(regex) = regex::Regex::new(pattern)
    {
        out.insert(pattern.to_owned(), regex);
    }
}
