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
mod shared;
mod tls;
mod transport;
mod vu;
mod ws;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::mock::{MockServer, MockSettings};
use crate::plan::CheckedPlan;
use crate::plan::model::{Plan, Step};
use crate::plan::template::TemplateSet;
use crate::results::{Results, SeriesKey};
use crate::schedule::Schedule;

pub use collector::Progress;
pub use shared::{EVENT_BACKLOG, Event, Halt, IterationKeys, RequestKeys, Shared, WsStepKeys};
use shared::{KeyMap, key_hash, step_address};

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
    let run = crate::collect::derive::RunValues {
        vars: &derive_vars,
        stage_duration_s: schedule.duration().as_secs_f64(),
    };
    results.derived = crate::collect::derive(&derived, &derived_texts, &results, &run);
    if let Some(mock) = mock {
        mock.stop().await;
    }
    Ok(Finished {
        results,
        interrupted: halt.interrupted(),
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
