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
mod vu;
mod ws;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

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
    pub base: Map<String, Value>,
    events: mpsc::UnboundedSender<Event>,
    regexes: HashMap<String, regex::Regex>,
    /// `mark`ed ids and when they were sent.
    marks: Mutex<HashMap<String, Instant>>,
}

/// Marks older than this are forgotten.
const MARK_TTL: Duration = Duration::from_secs(60);

impl Shared {
    pub fn event(&self, event: Event) {
        // The collector outlives every VU; a send can only fail after the run ended.
        let _ = self.events.send(event);
    }

    pub fn sample(&self, sample: Sample) {
        self.event(Event::Sample(sample));
    }

    pub fn key(&self, metric: &str, scenario: &str, name: Option<&str>) -> SeriesKey {
        SeriesKey {
            metric: metric.to_owned(),
            scenario: scenario.to_owned(),
            name: name.map(str::to_owned),
        }
    }

    pub fn count(&self, metric: &str, scenario: &str, name: Option<&str>, n: u64) {
        self.sample(Sample::Count(self.key(metric, scenario, name), n));
    }

    pub fn regex(&self, pointer: &str) -> Option<&regex::Regex> {
        self.regexes.get(pointer)
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
        ..
    } = checked;
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
    for (name, scenario) in &plan.scenarios {
        collect_regexes(
            &format!("/scenarios/{name}/steps"),
            &scenario.steps,
            &mut regexes,
        );
        for (index, rule) in scenario.on_message.iter().enumerate() {
            if let Some(Ok(regex)) = rule.matcher.regex.as_deref().map(regex::Regex::new) {
                regexes.insert(
                    format!("/scenarios/{name}/on_message/{index}/match/regex"),
                    regex,
                );
            }
        }
    }
    let schedule = Schedule::of(&plan.stages[stage.as_str()]);
    let graceful = plan.stages[stage.as_str()].graceful_stop().0;
    let (events, inbox) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        plan,
        templates,
        stage,
        base,
        events,
        regexes,
        marks: Mutex::new(HashMap::new()),
    });
    let started = Instant::now();
    let collector = tokio::spawn(controller::collect(
        inbox,
        started,
        options.progress,
        schedule.duration(),
    ));
    controller::drive(Arc::clone(&shared), &schedule, graceful).await;
    drop(shared);
    let mut results = collector
        .await
        .map_err(|e| format!("the collector failed: {e}"))?;
    results.duration = started.elapsed();
    if let Some(mock) = mock {
        mock.stop().await;
    }
    Ok(results)
}

fn collect_regexes(base: &str, steps: &[Step], out: &mut HashMap<String, regex::Regex>) {
    for (index, step) in steps.iter().enumerate() {
        let at = format!("{base}/{index}");
        match step {
            Step::Expect(expect) => {
                if let Some(Ok(regex)) = expect.expect.regex.as_deref().map(regex::Regex::new) {
                    out.insert(format!("{at}/expect/regex"), regex);
                }
            }
            Step::Request(request) => {
                for (name, pattern) in request.request.expect.iter().flat_map(|e| &e.headers) {
                    if let Ok(regex) = regex::Regex::new(pattern) {
                        out.insert(format!("{at}/request/expect/headers/{name}"), regex);
                    }
                }
            }
            _ => {}
        }
        if let Some(children) = step.children() {
            collect_regexes(&format!("{at}/steps"), children, out);
        }
    }
}
