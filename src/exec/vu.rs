//! One virtual user: runs its scenario's steps, iteration after iteration, and sends what
//! it measures to the collector. A failed step ends the iteration (its error is counted);
//! in closed-model stages the VU backs off (`backoff.rs`), then goes on with the next one.
//! Nothing a server does can end the run.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::backoff;
use super::context::{Context, MessageText};
use super::http::{BodyUse, HttpClient};
use super::matcher::CompiledMatcher;
use super::message;
use super::outbox::Outbox;
use super::request as http_step;
use super::sequence::SequenceCheck;
use super::shared::{EVENT_BACKLOG, Event, IterationKeys, Shared, Stop};
use super::step_error::{SequenceFailure, StepError};
use super::ws::{self, Connection, id_text};
use crate::plan::json_path::JsonPath;
use crate::plan::model::{
    ConnectStep, ExpectStep, ReconnectStep, RepeatStep, Request, SendStep, Sequence,
    SequenceNumber, Step,
};
use crate::results::{Sample, SeriesKey};

/// Default time an HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time an `expect` waits.
const EXPECT_WITHIN: Duration = Duration::from_secs(5);

type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<(), StepError>> + Send + 'a>>;

pub struct Vu {
    pub scenario: Arc<str>,
    out: Outbox,
    keys: Arc<IterationKeys>,
    context: Context,
    http: HttpClient,
    socket: Option<Connection>,
    /// When the last `send` began: read before its frame went to the socket.
    last_send: Option<Instant>,
    iteration: u64,
    /// Draws back-off jitter; seeded with the VU's id, so runs repeat and VUs differ.
    rng: fastrand::Rng,
    /// Draws `chance:`; seeded with the VU's id (apart from `rng`, so that back-offs do
    /// not shift the draws): a VU takes the same draws in every run.
    chance: fastrand::Rng,
    /// In arrival stages: how late this iteration started after it was due; latencies are
    /// also recorded with it added (`*_corrected`, coordinated omission as wrk2 corrects it).
    pub lag: Option<Duration>,
    /// The VU's id (its global seat): `per_vu` data rows follow it.
    id: u64,
    /// A `unique` data source ran out of rows: the VU stops.
    exhausted: bool,
}

impl Vu {
    pub fn new(shared: &Shared, id: u64, scenario: Arc<str>) -> Self {
        let out = Outbox::new(shared);
        let mut context = Context::new(&shared.base, id, &scenario);
        if shared.feeders.reads(&scenario) {
            context.with_data(Arc::clone(&shared.feeders.names));
        }
        Self {
            keys: Arc::new(IterationKeys {
                iterations: shared.key("iterations", &scenario, None),
                duration: shared.key("iteration_duration", &scenario, None),
                errors: shared.key("errors", &scenario, None),
                interrupted: shared.key("iterations_interrupted", &scenario, None),
            }),
            http: HttpClient::new(Arc::clone(out.wire())),
            out,
            context,
            scenario,
            socket: None,
            last_send: None,
            iteration: 0,
            rng: fastrand::Rng::with_seed(id),
            chance: fastrand::Rng::with_seed(chance_seed(id)),
            lag: None,
            id,
            exhausted: false,
        }
    }

    /// Runs iterations until `stop` is set (checked between iterations, during a back-off
    /// and by open-ended `repeat` blocks), then closes the WebSocket. After a failed
    /// iteration it waits the scenario's `backoff` (reset by a success).
    pub async fn run(mut self, shared: Arc<Shared>, stop: Arc<Stop>) {
        let backoff = shared
            .plan
            .scenarios
            .get(&*self.scenario)
            .and_then(crate::plan::model::Scenario::backoff);
        let backoffs = shared.key("iteration_backoffs", &self.scenario, None);
        let mut failures = 0u32;
        while !stop.requested() && !self.exhausted {
            if self.iteration(&shared, &stop).await {
                failures = 0;
            } else if self.exhausted {
                // A `unique` source has no row left: the VU stops, without a back-off.
                break;
            } else if let Some(backoff) = backoff {
                failures = failures.saturating_add(1);
                self.out.sample(&shared, Sample::Count(backoffs.clone(), 1));
                self.out.flush(&shared);
                let wait = backoff::delay(backoff, failures, &mut self.rng);
                backoff::wait(wait, &stop).await;
                // A zero wait would make this loop never wait; give the others their turn.
                tokio::task::yield_now().await;
            } else {
                // A step that fails at once (a refused connection) would make this loop
                // never wait; give the controller and the other VUs their turn.
                tokio::task::yield_now().await;
            }
            while shared.backlog.load(Ordering::Relaxed) > EVENT_BACKLOG && !stop.requested() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        self.close(&shared).await;
    }

    /// One iteration of the scenario; returns when it ends, true when no step failed.
    pub async fn iteration(&mut self, shared: &Arc<Shared>, stop: &Stop) -> bool {
        self.iteration += 1;
        self.context.set_iteration(self.iteration);
        let started = Instant::now();
        let Some(scenario) = shared.plan.scenarios.get(&*self.scenario) else {
            return false;
        };
        // Counts the iteration in `iterations_interrupted` if its future is dropped before
        // it ends: the task was cancelled (the graceful stop ran out, a second Ctrl-C).
        let keys = Arc::clone(&self.keys);
        let mut unfinished = Unfinished {
            shared,
            key: Some(&keys.interrupted),
        };
        let outcome = match self.pick_rows(shared) {
            Ok(()) => self.steps(shared, &scenario.steps, stop).await,
            Err(error) => Err(error),
        };
        unfinished.key = None;
        let ok = outcome.is_ok();
        if let Err(error) = outcome {
            let event = Event::Error {
                kind: error.kind(),
                example: error.example(),
            };
            self.out.event(shared, event);
            let errors = self.keys.errors.clone();
            self.out.sample(shared, Sample::Count(errors, 1));
        }
        self.out.event(
            shared,
            Event::Iteration {
                keys: Arc::clone(&self.keys),
                duration: started.elapsed(),
            },
        );
        self.out.flush_if_due(shared);
        ok
    }

    /// Sets the rows of the `data:` sources this iteration reads; a `unique` source with
    /// none left fails the iteration and stops the VU.
    fn pick_rows(&mut self, shared: &Shared) -> Result<(), StepError> {
        let Some(mut rows) = self.context.rows() else {
            return Ok(());
        };
        let picked = shared
            .feeders
            .pick(&self.scenario, self.id, &mut self.rng, &mut rows);
        drop(rows);
        picked.map_err(|exhausted| {
            self.exhausted = true;
            StepError::DataExhausted(exhausted.0)
        })
    }

    /// One step of a `setup:` or `teardown:` phase (`phase.rs` runs them in order).
    pub async fn phase_step(
        &mut self,
        shared: &Arc<Shared>,
        step: &Step,
        stop: &Stop,
    ) -> Result<(), StepError> {
        self.step(shared, step, stop).await
    }

    /// What the steps captured (`as:`) and set (`set:`), as JSON.
    pub fn stored(&self) -> serde_json::Map<String, serde_json::Value> {
        self.context.stored()
    }

    /// Sends what the VU measured and still holds.
    pub fn flush(&mut self, shared: &Shared) {
        self.out.flush(shared);
    }

    pub async fn close(&mut self, shared: &Shared) {
        if let Some(socket) = self.socket.take() {
            Box::pin(socket.close(1000)).await;
        }
        self.out.flush(shared);
    }

    fn steps<'a>(
        &'a mut self,
        shared: &'a Arc<Shared>,
        steps: &'a [Step],
        stop: &'a Stop,
    ) -> StepFuture<'a> {
        Box::pin(async move {
            for step in steps {
                self.step(shared, step, stop).await?;
            }
            Ok(())
        })
    }

    async fn step(
        &mut self,
        shared: &Arc<Shared>,
        step: &Step,
        stop: &Stop,
    ) -> Result<(), StepError> {
        if (step.when().is_some() || step.chance().is_some()) && !self.admits(shared, step)? {
            return Ok(());
        }
        match step {
            Step::Request(request) => {
                // Boxed: a request's future is the largest of all steps; inline, every
                // step future (and every idle VU) would carry its ~2 KB.
                Box::pin(self.request(shared, &request.request, request.capture.as_deref())).await
            }
            Step::Connect(connect) => self.connect(shared, connect).await,
            Step::Send(send) => self.send(shared, step, send).await,
            Step::Expect(expect) => self.expect(shared, step, expect).await,
            Step::Sleep(sleep) => {
                self.out.flush(shared);
                tokio::time::sleep(random_between(sleep.sleep.min.0, sleep.sleep.max.0)).await;
                Ok(())
            }
            Step::Repeat(repeat) => self.repeat(shared, repeat, stop).await,
            Step::Group(group) => self.steps(shared, &group.steps, stop).await,
            Step::Set(set) => {
                for (name, value) in &set.set {
                    let value = self.context.json(&shared.templates, value)?;
                    self.context.set(name, &value);
                }
                Ok(())
            }
            Step::Reconnect(reconnect) => self.reconnect(shared, reconnect).await,
            Step::Disconnect(disconnect) => {
                let socket = self
                    .socket
                    .take()
                    .ok_or(StepError::NoSocket { step: "disconnect" })?;
                Box::pin(socket.close(disconnect.disconnect.code.unwrap_or(1000))).await;
                Ok(())
            }
        }
    }

    /// Whether a step with `if:` or `chance:` runs this time: its condition is evaluated
    /// (a render error ends the iteration, as a template's does), then, if it holds, the
    /// chance drawn. Each outcome is recorded (`step_if`, `step_chance`); a step left out
    /// (a block: all of it) is not a failure.
    fn admits(&mut self, shared: &Arc<Shared>, step: &Step) -> Result<bool, StepError> {
        let keys = shared.guard_keys(step, &self.scenario);
        if let Some(condition) = step.when() {
            let holds = self
                .context
                .condition(&shared.templates, condition.as_str())?;
            self.out.sample(shared, Sample::Rate(keys.when, holds));
            if !holds {
                return Ok(false);
            }
        }
        if let Some(chance) = step.chance() {
            // `f64()` is in [0, 1): `0%` never runs, `100%` always does.
            let runs = self.chance.f64() < chance.0;
            self.out.sample(shared, Sample::Rate(keys.chance, runs));
            if !runs {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Opens the step's WebSocket, closing the one open before.
    async fn connect(&mut self, shared: &Arc<Shared>, step: &ConnectStep) -> Result<(), StepError> {
        let max_message = usize::try_from(shared.plan.limits().max_message.0).unwrap_or(usize::MAX);
        let handshake =
            message::handshake(&mut self.context, &shared.templates, step, max_message)?;
        Box::pin(self.close(shared)).await;
        self.open(shared, handshake, "ws_connect_time").await
    }

    /// Sends a message on the open WebSocket.
    async fn send(
        &mut self,
        shared: &Arc<Shared>,
        whole: &Step,
        step: &SendStep,
    ) -> Result<(), StepError> {
        let frame = message::frame(&mut self.context, shared, step)?;
        let socket = self
            .socket
            .as_mut()
            .ok_or(StepError::NoSocket { step: "send" })?;
        self.last_send = Some(socket.send(frame).await?);
        let keys = shared.ws_keys(whole, &self.scenario);
        self.out.message_sent(shared, keys);
        Ok(())
    }

    /// Waits for a message that matches, and records how long it took since the last
    /// `send`.
    async fn expect(
        &mut self,
        shared: &Arc<Shared>,
        whole: &Step,
        step: &ExpectStep,
    ) -> Result<(), StepError> {
        let expect = &step.expect;
        // Boxed: made only for a step the run did not prepare (none in a run), it
        // would otherwise enlarge every step's future.
        let compiled: Box<CompiledMatcher>;
        let matcher = match shared.expect_matcher(whole) {
            Some(matcher) => matcher,
            None => {
                compiled = Box::new(
                    CompiledMatcher::expect(expect)
                        .map_err(|bug| StepError::Internal(bug.to_string()))?,
                );
                &compiled
            }
        };
        let want = self.context.render_matcher(&shared.templates, matcher)?;
        // Boxed: only `sequence` steps pay for its state in their future.
        let mut sequence = match &expect.sequence {
            Some(wanted) => Some(Box::new(self.sequence_start(shared, wanted)?)),
            None => None,
        };
        let within = expect.within.map_or(EXPECT_WITHIN, |d| d.0);
        self.out.flush(shared);
        let waiting_since = Instant::now();
        let deadline = tokio::time::Instant::now() + within;
        let socket = self
            .socket
            .as_mut()
            .ok_or(StepError::NoSocket { step: "expect" })?;
        let matched = loop {
            if sequence.as_ref().is_some_and(|run| run.done()) {
                break None;
            }
            let Ok(received) = tokio::time::timeout_at(deadline, socket.inbox.recv()).await else {
                if let Some(run) = sequence.as_mut() {
                    run.ran_out();
                    record_sequence(&mut self.out, shared, &self.scenario, expect, run);
                }
                let keys = shared.ws_keys(whole, &self.scenario);
                // The wait is in the latency all the same (at least `within`), tagged
                // `expected_response: false`.
                let since = self
                    .last_send
                    .filter(|sent| *sent >= waiting_since - Duration::from_secs(3600))
                    .unwrap_or(waiting_since);
                self.out
                    .sample(shared, Sample::Trend(keys.timed_out, since.elapsed()));
                self.out.sample(shared, Sample::Rate(keys.checks, false));
                return Err(StepError::ExpectTimeout);
            };
            let Some(received) = received else {
                // The reader ended: the server closed, or sent a message over the limit.
                return Err(socket.take_failure().unwrap_or(StepError::Closed));
            };
            let fits = want.matches(&received.text, received.json.as_ref());
            if fits {
                match sequence.as_mut() {
                    None => break Some(received),
                    Some(run) => {
                        run.observe(received.json.as_ref());
                        if run.done() {
                            break Some(received);
                        }
                    }
                }
            }
        };
        let since = self
            .last_send
            .filter(|sent| *sent >= waiting_since - Duration::from_secs(3600))
            .unwrap_or(waiting_since);
        let keys = shared.ws_keys(whole, &self.scenario);
        // `ws_message_latency_corrected` belongs to the built-in latency, not to a `metric:`.
        let lag = self.lag.filter(|_| expect.metric.is_none());
        let latency = matched
            .as_ref()
            .map_or(Duration::ZERO, |m| m.at.saturating_duration_since(since));
        if let Some(run) = sequence {
            record_sequence(&mut self.out, shared, &self.scenario, expect, &run);
            let passed = run.check.tally().passed();
            // A check that ended at once (`through` not above `after`) waited for nothing.
            if matched.is_some() {
                self.out
                    .sample(shared, Sample::Trend(keys.primary, latency));
            }
            self.out.sample(shared, Sample::Rate(keys.checks, passed));
            if let Some((name, matched)) = step.capture.as_ref().zip(matched) {
                self.context
                    .set_message(name, MessageText::Frame(matched.text), matched.json);
            }
            return if passed {
                Ok(())
            } else {
                Err(StepError::Sequence(Box::new(run.failure())))
            };
        }
        let Some(matched) = matched else {
            return Err(StepError::Internal(
                "an expect ended without a message".into(),
            ));
        };
        self.out.message_received(shared, keys, latency, lag);
        if let Some(name) = &step.capture {
            self.context
                .set_message(name, MessageText::Frame(matched.text), matched.json);
        }
        Ok(())
    }

    /// A `sequence` check starting: its `after` and `through` rendered.
    fn sequence_start(
        &mut self,
        shared: &Shared,
        wanted: &Sequence,
    ) -> Result<SequenceRun, StepError> {
        let mut number = |value: &SequenceNumber| -> Result<u64, StepError> {
            match value {
                SequenceNumber::Number(n) => Ok(*n),
                SequenceNumber::Template(template) => {
                    let text = self.context.text(&shared.templates, template.as_str())?;
                    text.trim().parse::<u64>().map_err(|_| StepError::Template {
                        template: template.as_str().to_owned(),
                        reason: format!(
                            "rendered `{text}`, which is not a sequence number (a non-negative integer)"
                        ),
                    })
                }
            }
        };
        let after = wanted
            .after
            .as_ref()
            .map(&mut number)
            .transpose()?
            .unwrap_or(0);
        let through = wanted.through.as_ref().map(&mut number).transpose()?;
        Ok(SequenceRun {
            check: SequenceCheck::new(after),
            after,
            field: wanted.field.clone(),
            count: wanted.count.map(u64::from),
            through,
            first_invalid: None,
        })
    }

    /// Runs the nested steps by count, for a time, every interval, or until the stage ends.
    async fn repeat(
        &mut self,
        shared: &Arc<Shared>,
        step: &RepeatStep,
        stop: &Stop,
    ) -> Result<(), StepError> {
        let repeat = &step.repeat;
        let started = tokio::time::Instant::now();
        let mut ticks = repeat.every.map(|every| {
            let mut interval = tokio::time::interval(every.0);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            interval
        });
        let mut done = 0u32;
        loop {
            if repeat.count.is_some_and(|count| done >= count) {
                break;
            }
            if repeat
                .for_duration
                .is_some_and(|d| started.elapsed() >= d.0)
            {
                break;
            }
            let open_ended = repeat.count.is_none() && repeat.for_duration.is_none();
            if open_ended && stop.requested() {
                break;
            }
            if let Some(ticks) = ticks.as_mut() {
                self.out.flush(shared);
                ticks.tick().await;
                if open_ended && stop.requested() {
                    break;
                }
            }
            self.steps(shared, &step.steps, stop).await?;
            done += 1;
        }
        Ok(())
    }

    /// Closes the WebSocket and opens it again with the same URL and headers.
    async fn reconnect(
        &mut self,
        shared: &Arc<Shared>,
        step: &ReconnectStep,
    ) -> Result<(), StepError> {
        let socket = self
            .socket
            .take()
            .ok_or(StepError::NoSocket { step: "reconnect" })?;
        let (url, headers) = (socket.url.clone(), socket.headers.clone());
        let max_message = socket.max_message;
        Box::pin(socket.close(1000)).await;
        if let Some(after) = step.reconnect.after {
            tokio::time::sleep(random_between(after.min.0, after.max.0)).await;
        }
        let handshake = message::Handshake {
            url,
            headers,
            timeout: message::CONNECT_TIMEOUT,
            max_message,
            name: None,
        };
        self.open(shared, handshake, "ws_reconnect_time").await
    }

    /// Opens a WebSocket and records how long it took (as `metric`), or the failure.
    async fn open(
        &mut self,
        shared: &Arc<Shared>,
        handshake: message::Handshake<'_>,
        metric: &str,
    ) -> Result<(), StepError> {
        let started = Instant::now();
        let name = handshake.name;
        // Boxed: the handshake's future is large and rare; inline it would be copied with
        // every step's future.
        let connecting = Box::pin(ws::connect(
            shared,
            &self.scenario,
            handshake.url,
            handshake.headers,
            handshake.timeout,
            handshake.max_message,
            self.out.wire(),
        ));
        match connecting.await {
            Ok(socket) => {
                self.out.sample(
                    shared,
                    Sample::Trend(shared.key(metric, &self.scenario, name), started.elapsed()),
                );
                self.socket = Some(socket);
                Ok(())
            }
            Err(kind) => {
                self.out
                    .count(shared, "ws_connect_errors", &self.scenario, name, 1);
                Err(kind)
            }
        }
    }

    /// One HTTP request step: built, sent, recorded, checked against its `expect`, and
    /// captured with `as:`.
    async fn request(
        &mut self,
        shared: &Arc<Shared>,
        request: &Request,
        capture: Option<&str>,
    ) -> Result<(), StepError> {
        let keys = shared.request_keys(request, &self.scenario);
        let http_step::Built {
            outgoing,
            sent_json,
        } = http_step::build(&mut self.context, &shared.templates, request, &keys)?;
        if let (Some(path), Some(value)) = (&request.mark, &sent_json)
            && let Some(id) = path.find(value)
        {
            shared.mark(id_text(id));
        }
        let body = if http_step::reads_body(request, capture.is_some()) {
            let limit = shared.plan.limits().max_body.0;
            BodyUse::Keep(usize::try_from(limit).unwrap_or(usize::MAX))
        } else {
            BodyUse::Discard
        };
        let started = Instant::now();
        let response = match self
            .http
            .send(
                &outgoing,
                request.timeout.map_or(REQUEST_TIMEOUT, |d| d.0),
                request.version == Some(crate::plan::model::HttpVersion::Http2),
                &shared.tls,
                body,
            )
            .await
        {
            Ok(response) => response,
            Err(failure) => {
                // No response (transport error, timeout): the request is in the latency
                // all the same, with the time it waited, tagged `expected_response: false`
                // (and in the corrected duration and the step's `metric:`, as answered
                // ones are).
                let waited = started.elapsed();
                self.out.event(
                    shared,
                    Event::Request {
                        keys: Arc::clone(&keys),
                        duration: waited,
                        waiting: None,
                        failed: true,
                        status: 0,
                    },
                );
                if let Some(lag) = self.lag {
                    let corrected = keys.duration_corrected.clone();
                    self.out
                        .sample(shared, Sample::Trend(corrected, waited + lag));
                }
                if let Some(custom) = &keys.custom {
                    self.out
                        .sample(shared, Sample::Trend(custom.clone(), waited));
                }
                return Err(StepError::Http(failure));
            }
        };
        self.out.response(shared, &keys, &response, self.lag);
        let checked = http_step::check(
            &mut self.context,
            shared,
            request,
            &response,
            capture.is_some(),
        );
        if request.expect.is_some()
            && let Ok(checked) = &checked
        {
            self.out.sample(
                shared,
                Sample::Rate(keys.checks.clone(), checked.problem.is_none()),
            );
        }
        self.out.event(
            shared,
            Event::Request {
                keys: Arc::clone(&keys),
                duration: response.duration,
                waiting: Some(response.waiting),
                // Any failed `expect` (status, header, JSON) fails the request, and so does
                // an `expect` that could not be rendered (its error ends the iteration).
                failed: checked.as_ref().map_or(true, |c| c.problem.is_some()),
                status: response.status,
            },
        );
        let checked = checked?;
        if let Some(capture) = capture {
            let value = http_step::captured(&response, checked.json);
            self.context.set(capture, &value);
        }
        match checked.problem {
            Some(miss) => Err(StepError::Expect(miss)),
            None => Ok(()),
        }
    }
}

/// The seed of a VU's `chance:` draws: its id, mixed (splitmix64's constant) so that it
/// differs from the back-off generator's seed.
fn chance_seed(id: u64) -> u64 {
    id ^ 0x9E37_79B9_7F4A_7C15
}

/// A `sequence` check of an `expect` step in progress.
struct SequenceRun {
    check: SequenceCheck,
    after: u64,
    field: JsonPath,
    count: Option<u64>,
    through: Option<u64>,
    /// Why the first invalid message was: its field missing, or what it held.
    first_invalid: Option<String>,
}

impl SequenceRun {
    fn observe(&mut self, json: Option<&serde_json::Value>) {
        match json.and_then(|json| self.field.find(json)) {
            Some(value) => match value.as_u64() {
                Some(number) => self.check.observe(number),
                None => {
                    self.check.invalid();
                    if self.first_invalid.is_none() {
                        let mut shown = value.to_string();
                        if shown.len() > 40 {
                            let cut = (0..=40).rev().find(|i| shown.is_char_boundary(*i));
                            shown.truncate(cut.unwrap_or(0));
                            shown.push('…');
                        }
                        self.first_invalid = Some(format!(
                            "`{}` is {shown}, not a non-negative integer",
                            self.field
                        ));
                    }
                }
            },
            None => {
                self.check.invalid();
                self.first_invalid
                    .get_or_insert_with(|| format!("`{}` is missing", self.field));
            }
        }
    }

    /// Whether the check has seen what it waits for.
    fn done(&self) -> bool {
        self.count
            .is_some_and(|count| self.check.tally().messages >= count)
            || self
                .through
                .is_some_and(|through| self.check.next() > through)
    }

    /// The wait ran out: the numbers up to `through` that never came are gaps.
    fn ran_out(&mut self) {
        if let Some(through) = self.through {
            self.check.missing_through(through);
        }
    }

    fn failure(&self) -> SequenceFailure {
        SequenceFailure {
            tally: self.check.tally(),
            after: self.after,
            invalid: self.first_invalid.clone(),
        }
    }
}

/// Records a `sequence` check's counts, under the step's `name` tag.
fn record_sequence(
    out: &mut Outbox,
    shared: &Shared,
    scenario: &str,
    expect: &crate::plan::model::Expectation,
    run: &SequenceRun,
) {
    let tally = run.check.tally();
    let name = expect.name.as_deref();
    for (metric, n) in [
        ("ws_sequence_messages", tally.messages),
        ("ws_sequence_gaps", tally.gaps),
        ("ws_sequence_duplicates", tally.duplicates),
        ("ws_sequence_reorders", tally.reorders),
        ("ws_sequence_invalid", tally.invalid),
    ] {
        out.count(shared, metric, scenario, name, n);
    }
}

fn random_between(min: Duration, max: Duration) -> Duration {
    if max <= min {
        return min;
    }
    let span = u64::try_from((max - min).as_micros()).unwrap_or(u64::MAX);
    min + Duration::from_micros(fastrand::u64(0..=span))
}

/// Armed while an iteration runs: dropped armed, the iteration was cancelled mid-way, and
/// it is counted (straight to the collector, as the VU's own outbox dies with it).
struct Unfinished<'a> {
    shared: &'a Shared,
    key: Option<&'a SeriesKey>,
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.shared.sample(Sample::Count(key.clone(), 1));
        }
    }
}
