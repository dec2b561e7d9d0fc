//! The executor: turns a checked plan into load and into [`Results`]. The only async code
//! besides the mock target.
//!
//! ```text
//! controller ──spawns/stops──▶ VU tasks ──Event (samples)──▶ collector (owns Results)
//! ```
//!
//! VUs never share a lock to record: they send samples over a channel to the one collector
//! task, which owns the histograms.
//!
//! This file is the module list and the run's orchestration ([`execute`]: start the mock,
//! prepare, drive the schedule, collect, derive). The rest, by job:
//!
//! - before the run, synchronous: `prepare.rs` (template base, names, series keys,
//!   compiled matchers), `matcher.rs` (one `CompiledMatcher` for `expect` and `on_message`);
//! - the run's shared state: `shared.rs` (`Shared`, `Halt`, `Event`, series keys);
//! - when it begins: `start.rs` (`--start-at`, `--barrier`);
//! - driving it: `controller.rs` (the schedule's VUs), `collector.rs` (the results),
//!   `sampler.rs` (`collect:` sources);
//! - one VU: `vu.rs` (the steps; a failure is a `StepError`, `step_error.rs`), `outbox.rs`
//!   (its batched samples), `context.rs` (templates), `request.rs` and `message.rs` (the
//!   synchronous halves of HTTP and WebSocket steps);
//! - the wire: `http.rs` + `h1.rs` (HTTP), `ws.rs` (WebSocket), `transport.rs` (plain or
//!   TLS stream under both), `tls.rs` (rustls configurations).

mod backoff;
mod collector;
mod context;
mod controller;
mod explain;
mod feed;
mod h1;
mod http;
mod matcher;
mod message;
mod open_files;
mod outbox;
mod phase;
mod prepare;
pub mod remote_write;
mod request;
mod run_error;
mod sampler;
mod sequence;
mod shared;
pub mod start;
mod step_error;
mod tls;
mod transport;
mod vu;
mod ws;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use indexmap::IndexMap;

use crate::collect::Collected;
use crate::mock::MockServer;
use crate::plan::CheckedPlan;
use crate::results::Results;
use crate::schedule::Schedule;

pub use collector::Progress;
pub use open_files::{inherited_descriptors, raise_open_files_limit};
pub use phase::{PhaseFailure, SETUP_TIMEOUT, TEARDOWN_TIMEOUT};
pub use prepare::{MockUrls, env_context, template_base};
pub use run_error::{RegexBug, RunError};
pub use shared::{EVENT_BACKLOG, Event, Halt, IterationKeys, RequestKeys, Shared, WsStepKeys};

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
    /// The run's secrets, kept out of error examples and `collect:` sources' failures.
    pub redactor: crate::redact::Redactor,
    /// The folder `collect:` commands run in: the plan file's (or `--workdir`), so a
    /// command's relative paths read like the plan's other paths. `None`: the current one.
    pub dir: Option<std::path::PathBuf>,
    /// The share of the run this process runs (`--segment I/N`); the whole by default.
    pub segment: crate::segment::Segment,
    /// When stage time 0 begins: now, at an instant, or once all segments reached a
    /// barrier.
    pub start: StartGate,
    /// Leave the plan's `collect:` sources unsampled (a segment other than the first).
    pub skip_collect: bool,
    /// Keep each second's most open WebSockets and latency histogram in the timeline
    /// (segment runs, so `loadplan merge` recomputes the merged seconds exactly).
    pub second_histograms: bool,
    /// Live outputs (`prometheus`): sent every `every` while the run goes, once more after.
    pub live: Vec<crate::report::live::LiveTarget>,
}

/// When a run's stage time 0 begins.
#[derive(Debug, Clone, Default)]
pub enum StartGate {
    /// As soon as the run is prepared.
    #[default]
    Now,
    /// At this instant (`--start-at`); a run prepared after it does not start.
    At(std::time::SystemTime),
    /// Once every segment has written `ready-I` in `dir` (`--barrier dir:PATH`), giving up
    /// after `timeout`; only ready files of the same `plan_hash` count (`start.rs`).
    Barrier {
        dir: std::path::PathBuf,
        timeout: std::time::Duration,
        plan_hash: String,
    },
}

/// How a run ended.
pub struct Finished {
    pub results: Results,
    /// Stopped by SIGINT or SIGTERM: the results are partial.
    pub interrupted: bool,
    /// The instant stage time 0 began: the agreed one (`--start-at`, `--barrier`), or
    /// the run's own.
    pub start: std::time::SystemTime,
}

/// Runs the plan's selected stage to its end (and graceful stop), returning what it
/// measured. `secrets` are the values of the plan's secrets, read by the caller.
pub fn execute(
    checked: CheckedPlan,
    secrets: IndexMap<String, String>,
    options: &RunOptions,
) -> Result<Finished, RunError> {
    // On one core (a pinned or small machine) the single-threaded scheduler does the same
    // work without the multi-threaded one's synchronisation.
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut builder = if cores > 1 {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = builder.enable_all().build().map_err(RunError::Runtime)?;
    runtime.block_on(run(checked, secrets, options.clone()))
}

async fn run(
    checked: CheckedPlan,
    secrets: IndexMap<String, String>,
    options: RunOptions,
) -> Result<Finished, RunError> {
    let CheckedPlan {
        plan,
        env,
        stage,
        vars,
        templates,
        derived,
        data,
        data_used,
        ..
    } = checked;
    let environment = env.as_ref().and_then(|name| plan.environments.get(name));
    let insecure = environment.is_some_and(|e| e.insecure);
    let mock = match prepare::mock_settings(environment) {
        Some(settings) => Some(MockServer::start(settings).await.map_err(RunError::Mock)?),
        None => None,
    };
    let mock_urls = mock.as_ref().map(|mock| prepare::MockUrls {
        base_url: &mock.base_url,
        ws_url: &mock.ws_url,
    });
    let env_values = prepare::env_context(env.as_deref(), environment, mock_urls);
    let mut base = prepare::template_base(env_values, &vars, Some(&secrets), &stage);
    let halt = Arc::new(Halt::default());
    if options.handle_signals {
        tokio::spawn(watch_signals(Arc::clone(&halt)));
    }
    // Setup: once, before the start gate (segments still start their load together) and
    // before any VU; its values become `setup.*` for every VU and the teardown.
    let setup = match &plan.setup {
        Some(phase) => {
            let inputs = phase::PhaseInputs {
                plan: plan.clone(),
                templates: &templates,
                stage: &stage,
                base: minijinja::Value::from(minijinja::value::Serde(serde_json::Value::Object(
                    base.clone(),
                ))),
                insecure,
                redactor: &options.redactor,
                halt: &halt,
            };
            let end = phase::run(phase::Which::Setup, phase, inputs).await;
            if let Some(failure) = end.failure {
                start::leave(&options.start, &options.segment);
                if let Some(mock) = mock {
                    tokio::select! {
                        () = mock.stop() => {}
                        () = halt.now_requested() => {}
                    }
                }
                return Err(RunError::Setup(failure));
            }
            base.insert(
                "setup".into(),
                serde_json::Value::Object(end.stored.clone()),
            );
            Some(end)
        }
        None => None,
    };
    let prepared = prepare::prepare(&plan, templates, base)?;
    let feeders = feed::Feeders::new(&plan, data, &data_used, options.segment.clone());
    let schedule = Schedule::of(&plan.stages[stage.as_str()]);
    let graceful = plan.stages[stage.as_str()].graceful_stop().0;
    let (events, inbox) = tokio::sync::mpsc::unbounded_channel();
    let backlog = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let shared = Arc::new(Shared {
        plan,
        templates: prepared.templates,
        stage,
        base: prepared.base,
        names: prepared.names,
        events,
        backlog: Arc::clone(&backlog),
        regexes: prepared.regexes,
        expect_matchers: prepared.expect_matchers,
        on_message: prepared.on_message,
        keys: prepared.keys,
        request_keys: prepared.request_keys,
        ws_keys: prepared.ws_keys,
        guards: prepared.guards,
        marks: Mutex::new(HashMap::new()),
        halt: Arc::clone(&halt),
        tls: tls::Tls::new(insecure),
        ws_open: std::sync::atomic::AtomicU32::new(0),
        feeders,
    });
    // Waited out until `start::LEAD` before the agreed instant, so the `collect:`
    // sources' first sample (before the load) falls in the lead and their figures cover
    // the load, not the wait.
    let say = options.progress != Progress::Off;
    let lead = if shared.plan.collect.is_empty() || options.skip_collect {
        std::time::Duration::ZERO
    } else {
        start::LEAD
    };
    let agreed = start::wait(&options.start, &options.segment, &halt, say, lead).await;
    let agreed = match agreed {
        Ok(agreed) => agreed,
        Err(error) => {
            teardown_unstarted(&shared, insecure, &options, &halt).await;
            return Err(not_started(error, mock, &halt, &options).await);
        }
    };
    // A segment other than the first leaves the `collect:` sources to it: N segments
    // would sample the same servers N times.
    let sources: &[crate::plan::collect::CollectSource] = if options.skip_collect {
        &[]
    } else {
        &shared.plan.collect
    };
    let sampling = sampler::Sampling::start(
        sources,
        &shared.templates,
        &shared.base,
        options.dir.as_deref(),
        Arc::clone(&halt),
    )
    .await;
    if let Some(at) = agreed
        && let Err(error) = start::sleep_until(at, &halt).await
    {
        drop(sampling.stop().await);
        teardown_unstarted(&shared, insecure, &options, &halt).await;
        return Err(not_started(error, mock, &halt, &options).await);
    }
    // The agreed instant itself, so that every segment's record says the same one.
    let start = agreed.unwrap_or_else(std::time::SystemTime::now);
    let started = Instant::now();
    let senders: Vec<remote_write::Sender> = options
        .live
        .iter()
        .map(|target| remote_write::Sender::start(target, &options.redactor))
        .collect();
    let settings = collector::Settings {
        started,
        planned: schedule.duration(),
        progress: options.progress,
        abort_rules: options.abort_rules,
        baseline: options.baseline,
        halt: Arc::clone(&halt),
        redactor: options.redactor.clone(),
        second_histograms: options.second_histograms,
        live: senders.iter().map(|sender| sender.feed(started)).collect(),
    };
    let collector = tokio::spawn(collector::collect(inbox, backlog, settings));
    controller::drive(Arc::clone(&shared), &schedule, graceful, &options.segment).await;
    start::leave(&options.start, &options.segment);
    let load_duration = started.elapsed();
    // What the teardown needs, kept past the load: the collector ends once the run's
    // shared state is gone, and the `collect:` sources' last sample is the load's, so the
    // teardown runs after both.
    let teardown_with = shared.plan.teardown.as_ref().map(|_| {
        (
            shared.plan.clone(),
            shared.templates.clone(),
            shared.base.clone(),
            shared.stage.clone(),
        )
    });
    let derived_texts = shared.plan.derived.clone();
    let collect_sources = shared.plan.collect.clone();
    drop(shared);
    let mut results = collector.await.map_err(RunError::Collector)?;
    results.duration = load_duration;
    results.stopped_early = halt.reason();
    let mut collected = redacted(sampling.stop().await, &options.redactor);
    if options.skip_collect {
        collected.sources = not_sampled_here(&collect_sources);
    }
    (results.server, results.sources) = (collected.metrics, collected.sources);
    // Teardown: after the load, however it ended (its end, an abort, Ctrl-C), unless a
    // second signal asked to stop at once.
    let teardown = match teardown_with {
        Some((plan, templates, base, stage)) => {
            teardown(
                plan,
                &templates,
                base,
                &stage,
                insecure,
                &options.redactor,
                &halt,
            )
            .await
        }
        None => None,
    };
    for end in [setup, teardown].into_iter().flatten() {
        phase::absorb(&mut results, end);
    }
    let run = crate::derive::RunValues {
        vars: &vars,
        stage_duration_s: schedule.duration().as_secs_f64(),
    };
    results.derived = crate::derive::derive(&derived, &derived_texts, &results, &run);
    // The final figures, derived ones included, with at most `FLUSH_DEADLINE` to arrive.
    remote_write::flush(senders, &mut results, &halt).await;
    if let Some(mock) = mock {
        // After a second signal (before or while it closes its connections) the
        // in-process target is dropped with the runtime instead of being given its 2 s.
        tokio::select! {
            () = mock.stop() => {}
            () = halt.now_requested() => {}
        }
    }
    Ok(Finished {
        results,
        interrupted: halt.interrupted(),
        start,
    })
}

/// Runs the plan's teardown (after the load, or after a start that did not come), unless a
/// second signal asked to stop at once; a failure is said on stderr.
async fn teardown(
    plan: crate::plan::model::Plan,
    templates: &crate::plan::template::TemplateSet,
    base: minijinja::Value,
    stage: &str,
    insecure: bool,
    redactor: &crate::redact::Redactor,
    halt: &Arc<Halt>,
) -> Option<phase::PhaseEnd> {
    if halt.now() {
        return None;
    }
    let phase = plan.teardown.clone()?;
    let inputs = phase::PhaseInputs {
        plan,
        templates,
        stage,
        base,
        insecure,
        redactor,
        halt,
    };
    let end = phase::run(phase::Which::Teardown, &phase, inputs).await;
    if let Some(failure) = &end.failure {
        eprintln!("warning: teardown {failure}; counted as an error");
    }
    Some(end)
}

/// The teardown of a run whose load did not start, when its setup ran: what setup made
/// is removed all the same.
async fn teardown_unstarted(
    shared: &Shared,
    insecure: bool,
    options: &RunOptions,
    halt: &Arc<Halt>,
) {
    if shared.plan.setup.is_some() {
        let plan = shared.plan.clone();
        drop(
            teardown(
                plan,
                &shared.templates,
                shared.base.clone(),
                &shared.stage,
                insecure,
                &options.redactor,
                halt,
            )
            .await,
        );
    }
}

/// The run did not start (`start.rs`): the mock is stopped and the barrier's ready file
/// taken away before the error is returned.
async fn not_started(
    error: start::StartError,
    mock: Option<MockServer>,
    halt: &Halt,
    options: &RunOptions,
) -> RunError {
    start::leave(&options.start, &options.segment);
    if let Some(mock) = mock {
        tokio::select! {
            () = mock.stop() => {}
            () = halt.now_requested() => {}
        }
    }
    RunError::Start(error)
}

/// The reports of `collect:` sources a segment left unsampled: no samples, and why, so a
/// derived metric or threshold that reads them is n/a as for a source that took none.
fn not_sampled_here(
    sources: &[crate::plan::collect::CollectSource],
) -> std::collections::BTreeMap<String, crate::server::SourceReport> {
    sources
        .iter()
        .map(|source| {
            let kind = match source {
                crate::plan::collect::CollectSource::Prometheus(_) => "prometheus",
                crate::plan::collect::CollectSource::Json(_) => "json",
                crate::plan::collect::CollectSource::Process(_) => "process",
                crate::plan::collect::CollectSource::Command(_) => "command",
            };
            let report = crate::server::SourceReport {
                kind: kind.to_owned(),
                error: Some(
                    "not sampled by this segment: segment 1 samples `collect:` sources \
                     (or a segment run with --collect-here)"
                        .to_owned(),
                ),
                ..crate::server::SourceReport::default()
            };
            (source.name().to_owned(), report)
        })
        .collect()
}

/// What the `collect:` sources produced, their failures' texts (a server's answer, a
/// command's stderr) and the metrics' names (a server's label values) cleaned of secrets.
fn redacted(collected: Collected, redactor: &crate::redact::Redactor) -> Collected {
    let sources = collected
        .sources
        .into_iter()
        .map(|(name, mut report)| {
            report.error = report.error.map(|error| redactor.clean(&error));
            (name, report)
        })
        .collect();
    let metrics = collected
        .metrics
        .into_iter()
        .map(|(name, mut metric)| {
            metric.missing = metric.missing.map(|why| redactor.clean(&why));
            (redactor.redact(&name).into_owned(), metric)
        })
        .collect();
    Collected { metrics, sources }
}

/// Turns SIGINT and SIGTERM into a graceful stop; a second one stops at once (see
/// [`Halt::now_requested`]). The handlers are installed before this returns, so anything
/// the run does afterwards (the first sample of a `collect:` source, the first VU) happens
/// with them in place; the returned future reads the signals.
fn watch_signals(halt: Arc<Halt>) -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let streams = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        );
        async move {
            let (Ok(mut int), Ok(mut term)) = streams else {
                return;
            };
            loop {
                let name = tokio::select! {
                    _ = int.recv() => "SIGINT",
                    _ = term.recv() => "SIGTERM",
                };
                if halt.interrupted() {
                    eprintln!("\n{name}: stopping now");
                } else {
                    eprintln!("\n{name}: stopping; press Ctrl-C again to stop at once");
                }
                halt.interrupt(name);
            }
        }
    }
    #[cfg(not(unix))]
    async move {
        loop {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            halt.interrupt("Ctrl-C");
        }
    }
}
