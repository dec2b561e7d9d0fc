//! `setup:` and `teardown:`: their steps, run once by a VU of their own (id 0, scenario
//! `setup` or `teardown`, so every sample's `phase` tag follows from its series' scenario)
//! with a collector of their own, within the phase's timeout.
//!
//! Setup runs before the start gate and before any VU; what its steps stored with `as:`
//! and `set:` becomes `setup.*` in the run's template values. Teardown runs after the load,
//! whatever ended it; a second Ctrl-C cuts it short. Their series and errors are added to
//! the run's results ([`absorb`]) with a [`PhaseOutcome`] each.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::collector;
use super::shared::{Event, Halt, KeyMap, Shared, Stop};
use super::step_error::{Miss, StepError};
use super::vu::Vu;
use crate::plan::model::{Phase, Plan, Step};
use crate::plan::template::TemplateSet;
use crate::results::{ErrorKind, PhaseOutcome, Results, Sample};

/// The timeout of a `setup:` that sets none.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(60);
/// The timeout of a `teardown:` that sets none.
pub const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the phase's collector may take to see its last sender go (a WebSocket's
/// reader ending after its close) before its figures are given up.
const DRAIN_WAIT: Duration = Duration::from_secs(5);

/// Which phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Setup,
    Teardown,
}

impl Which {
    pub fn name(self) -> &'static str {
        match self {
            Self::Setup => "setup",
            Self::Teardown => "teardown",
        }
    }

    fn default_timeout(self) -> Duration {
        match self {
            Self::Setup => SETUP_TIMEOUT,
            Self::Teardown => TEARDOWN_TIMEOUT,
        }
    }
}

/// Why a phase did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhaseFailure {
    /// Step `index` (from 0), described by `step`, failed for `reason` (redacted).
    Step {
        index: usize,
        step: String,
        reason: String,
    },
    /// The steps took longer than the timeout.
    Timeout(Duration),
    /// A signal cut it short (the first one for setup, the second for teardown).
    Interrupted,
}

impl std::fmt::Display for PhaseFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Step {
                index,
                step,
                reason,
            } => write!(f, "step {} ({step}) failed: {reason}", index + 1),
            Self::Timeout(timeout) => write!(
                f,
                "it did not finish within its timeout of {}",
                humantime::format_duration(*timeout)
            ),
            Self::Interrupted => f.write_str("interrupted"),
        }
    }
}

/// What a phase did.
pub struct PhaseEnd {
    pub outcome: PhaseOutcome,
    pub failure: Option<PhaseFailure>,
    /// What its steps stored (`as:`, `set:`), by name.
    pub stored: Map<String, Value>,
    /// Its series (scenario `setup` or `teardown`) and errors.
    pub results: Results,
}

/// What a phase runs with: the run's plan, templates and template values.
pub struct PhaseInputs<'a> {
    pub plan: Plan,
    pub templates: &'a TemplateSet,
    pub stage: &'a str,
    pub base: minijinja::Value,
    pub insecure: bool,
    pub redactor: &'a crate::redact::Redactor,
    /// The run's stop requests: setup gives up on the first signal, teardown on a second.
    pub halt: &'a Arc<Halt>,
}

/// Runs `phase` to its end, its timeout or a signal.
pub async fn run(which: Which, phase: &Phase, inputs: PhaseInputs<'_>) -> PhaseEnd {
    let timeout = phase.timeout().map_or(which.default_timeout(), |t| t.0);
    let (events, inbox) = tokio::sync::mpsc::unbounded_channel();
    let backlog = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let quiet_halt = Arc::new(Halt::default());
    let settings = collector::Settings {
        started: Instant::now(),
        planned: timeout,
        progress: collector::Progress::Off,
        abort_rules: Vec::new(),
        baseline: None,
        halt: Arc::clone(&quiet_halt),
        redactor: inputs.redactor.clone(),
        second_histograms: false,
        live: Vec::new(),
    };
    let collecting = tokio::spawn(collector::collect(inbox, Arc::clone(&backlog), settings));
    // A phase reads no `data:` rows (the analyzer refuses `data.*` there) and records its
    // `chance:`/`if:` under the steps' kinds (`guard_keys` makes them when asked).
    let feeders = super::feed::Feeders::new(
        &inputs.plan,
        indexmap::IndexMap::new(),
        &indexmap::IndexMap::new(),
        crate::segment::Segment::default(),
    );
    let shared = Arc::new(Shared {
        plan: inputs.plan,
        templates: inputs.templates.clone(),
        stage: inputs.stage.to_owned(),
        base: inputs.base,
        names: HashMap::new(),
        events,
        backlog,
        regexes: header_regexes(phase.steps()),
        expect_matchers: HashMap::default(),
        on_message: Vec::new(),
        keys: KeyMap::default(),
        request_keys: HashMap::new(),
        ws_keys: HashMap::default(),
        marks: std::sync::Mutex::new(HashMap::new()),
        halt: quiet_halt,
        tls: super::tls::Tls::new(inputs.insecure),
        ws_open: std::sync::atomic::AtomicU32::new(0),
        guards: HashMap::default(),
        feeders,
    });
    let steps = phase.steps();
    let mut vu = Vu::new(&shared, 0, Arc::from(which.name()));
    let stop = Stop::default();
    let started = Instant::now();
    let halt = inputs.halt;
    let failure = {
        let work = async {
            for (index, step) in steps.iter().enumerate() {
                if let Err(error) = vu.phase_step(&shared, step, &stop).await {
                    let example = error.example();
                    let reason = match (&error, &example) {
                        (StepError::Expect(Miss::Status(got)), _) => {
                            format!(
                                "{} (the response's status {got} missed its `expect`)",
                                error.kind()
                            )
                        }
                        (_, Some(example)) => format!("{}: {example}", error.kind()),
                        (_, None) => error.kind().to_string(),
                    };
                    shared.event(Event::Error {
                        kind: error.kind(),
                        example,
                    });
                    return Some(PhaseFailure::Step {
                        index,
                        step: inputs.redactor.redact(&describe(step)).into_owned(),
                        reason: inputs.redactor.redact(&reason).into_owned(),
                    });
                }
            }
            None
        };
        let cut = async {
            match which {
                Which::Setup => {
                    while !halt.stopping() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                Which::Teardown => halt.now_requested().await,
            }
        };
        tokio::select! {
            failure = work => failure,
            () = tokio::time::sleep(timeout) => {
                shared.event(Event::Error {
                    kind: ErrorKind::Timeout,
                    example: Some(format!("{} did not finish within {}", which.name(), humantime::format_duration(timeout))),
                });
                Some(PhaseFailure::Timeout(timeout))
            }
            () = cut => Some(PhaseFailure::Interrupted),
        }
    };
    let duration = started.elapsed();
    if failure.is_some() {
        let errors = shared.key("errors", which.name(), None);
        shared.sample(Sample::Count(errors, 1));
    }
    let stored = vu.stored();
    // Bounded: a server that never answers the close cannot hold the run.
    drop(tokio::time::timeout(Duration::from_secs(1), vu.close(&shared)).await);
    drop(vu);
    drop(shared);
    let mut results = match tokio::time::timeout(DRAIN_WAIT, collecting).await {
        Ok(Ok(results)) => results,
        _ => Results::default(),
    };
    results
        .series
        .retain(|key, _| &*key.scenario == which.name());
    let outcome = PhaseOutcome {
        phase: which.name().to_owned(),
        duration_s: duration.as_secs_f64(),
        error: failure.as_ref().map(ToString::to_string),
    };
    PhaseEnd {
        outcome,
        failure,
        stored,
        results,
    }
}

/// Adds a phase's series, errors and outcome to the run's results.
pub fn absorb(results: &mut Results, phase: PhaseEnd) {
    for (key, data) in phase.results.series {
        results.series.insert(key, data);
    }
    for (kind, tally) in phase.results.errors.iter() {
        results.errors.absorb(kind.clone(), tally);
    }
    results.phases.push(phase.outcome);
}

/// A step as a failure names it: a request's `name` or method and URL (as written, not
/// rendered), or the step's kind.
fn describe(step: &Step) -> String {
    match step {
        Step::Request(request) => {
            let request = &request.request;
            match &request.name {
                Some(name) => format!("`{name}`"),
                None => format!("`{} {}`", request.method.as_str(), request.url),
            }
        }
        other => format!("`{}`", other.kind()),
    }
}

/// The regexes of the phase's HTTP header checks.
fn header_regexes(steps: &[Step]) -> HashMap<String, regex::Regex> {
    let mut regexes = HashMap::new();
    add_regexes(steps, &mut regexes);
    regexes
}

fn add_regexes(steps: &[Step], regexes: &mut HashMap<String, regex::Regex>) {
    for step in steps {
        if let Step::Request(request) = step {
            for pattern in request
                .request
                .expect
                .iter()
                .flat_map(|e| e.headers.values())
            {
                // The analyzer compiled each one; one that fails here fails its check.
                if let Ok(regex) = super::matcher::compile_regex(pattern) {
                    regexes.insert(pattern.clone(), regex);
                }
            }
        }
        if let Some(children) = step.children() {
            add_regexes(children, regexes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_say_the_step_and_the_reason() {
        let failure = PhaseFailure::Step {
            index: 1,
            step: "`create channel`".into(),
            reason: "expect status 500".into(),
        };
        assert_eq!(
            failure.to_string(),
            "step 2 (`create channel`) failed: expect status 500"
        );
        assert_eq!(
            PhaseFailure::Timeout(Duration::from_secs(30)).to_string(),
            "it did not finish within its timeout of 30s"
        );
    }
}
