//! The controller follows the schedule — starting VUs, stopping the ones a ramp-down no
//! longer needs (each may finish its iteration for `graceful_stop`, then is cancelled) —
//! and stops early when the run is halted (a signal, an `abort_on_fail` threshold).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::shared::{Event, Shared, Stop};
use super::vu::Vu;
use crate::plan::model::Scenario;
use crate::plan::split::{Arrivals, Seats, split_vus};
use crate::results::Sample;
use crate::schedule::Schedule;
use crate::segment::{Roster, Segment};

/// How often the controller looks at the schedule.
const TICK: Duration = Duration::from_millis(20);

struct Handle {
    stop: Arc<Stop>,
    task: JoinHandle<()>,
    stopping_since: Option<Instant>,
}

/// Runs the stage: VUs follow the schedule until it ends, then get `graceful` to finish.
/// A VU's id is its global seat (`Seats`); this process runs the seats `segment` owns, all
/// of them for the whole run.
pub async fn drive(
    shared: Arc<Shared>,
    schedule: &Schedule,
    graceful: Duration,
    segment: &Segment,
) {
    if schedule.arrival {
        return drive_arrival(shared, schedule, graceful, segment).await;
    }
    let names = scenario_names(&shared);
    let scenarios: Vec<&Scenario> = shared.plan.scenarios.values().collect();
    let mut roster = Roster::new(Seats::new(&scenarios));
    // This segment's running VUs by seat, lowest first: a ramp down stops the highest.
    let mut running: Vec<(u64, Handle)> = Vec::new();
    let mut stopping: Vec<Handle> = Vec::new();
    let started = Instant::now();
    let end = schedule.duration();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut looked = Duration::ZERO;
    let mut current: Option<u32> = None;
    loop {
        ticker.tick().await;
        if shared.halt.stopping() {
            break;
        }
        // The schedule's peak since the last look, so that a target it reaches for an
        // instant (the top of a ramp, the `to` a stage ends on) is reached too.
        let elapsed = started.elapsed().min(end);
        let target = schedule.vus_peak(looked, elapsed);
        looked = elapsed;
        let mut started_now = false;
        if current != Some(target) {
            current = Some(target);
            while running
                .last()
                .is_some_and(|(seat, _)| *seat > u64::from(target))
            {
                if let Some((_, mut handle)) = running.pop() {
                    handle.stop.request();
                    handle.stopping_since = Some(Instant::now());
                    stopping.push(handle);
                }
            }
            for (seat, index) in roster.retarget(segment, target) {
                started_now = true;
                let stop = Arc::new(Stop::default());
                let vu = Vu::new(&shared, seat, Arc::clone(&names[index]));
                let task = tokio::spawn(vu.run(Arc::clone(&shared), Arc::clone(&stop)));
                running.push((
                    seat,
                    Handle {
                        stop,
                        task,
                        stopping_since: None,
                    },
                ));
            }
        }
        reap(&mut stopping, graceful);
        let active = running.len() + stopping.len();
        report_vus(&shared, active);
        if elapsed >= end {
            // VUs started for the final target get one tick to begin their iteration,
            // which they may then finish within the graceful stop.
            if started_now {
                ticker.tick().await;
            }
            break;
        }
    }
    for (_, mut handle) in running {
        handle.stop.request();
        handle.stopping_since = Some(Instant::now());
        stopping.push(handle);
    }
    let deadline = Instant::now() + graceful;
    while !stopping.is_empty() && Instant::now() < deadline && !shared.halt.now() {
        tokio::time::sleep(TICK).await;
        reap(&mut stopping, graceful);
        report_vus(&shared, stopping.len());
    }
    for handle in stopping {
        handle.task.abort();
        let _ = handle.task.await;
    }
    report_vus(&shared, 0);
}

/// Tells the collector how many VUs are active and WebSockets open.
fn report_vus(shared: &Shared, vus: usize) {
    shared.event(Event::Vus {
        vus: u32::try_from(vus).unwrap_or(u32::MAX),
        ws: shared.ws_open.load(Ordering::Relaxed),
    });
}

/// The scenarios' names, in plan order, as the shared copies series keys use.
fn scenario_names(shared: &Shared) -> Vec<Arc<str>> {
    shared
        .plan
        .scenarios
        .keys()
        .map(|k| shared.name(k))
        .collect()
}

/// Forgets stopped VUs that ended, and cancels the ones past their graceful stop.
fn reap(stopping: &mut Vec<Handle>, graceful: Duration) {
    stopping.retain(|handle| {
        if handle.task.is_finished() {
            return false;
        }
        if handle
            .stopping_since
            .is_some_and(|since| since.elapsed() >= graceful)
        {
            handle.task.abort();
            return false;
        }
        true
    });
}

/// Open model: iterations start at the schedule's rate, on free VUs up to `max_vus`; an
/// iteration with no free VU is counted in `dropped_iterations`, never delayed. A segment
/// follows the whole sequence of iterations (`Arrivals`) and runs the ones it owns, on its
/// share of `max_vus` and `pre_allocated_vus`, with global VU ids (`Segment::slot`).
async fn drive_arrival(
    shared: Arc<Shared>,
    schedule: &Schedule,
    graceful: Duration,
    segment: &Segment,
) {
    let Some(crate::plan::model::Stage::Arrival(stage)) = shared.plan.stages.get(&shared.stage)
    else {
        return;
    };
    let max_vus = segment.share(u64::from(stage.max_vus));
    let names = scenario_names(&shared);
    let scenarios: Vec<&Scenario> = shared.plan.scenarios.values().collect();
    let mut arrivals = Arrivals::new(&scenarios);
    let (idle_tx, mut idle) = mpsc::unbounded_channel::<Vu>();
    let mut created = 0u64;
    let mut started_total = 0u64;
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();
    let mut parked: Vec<Vu> = Vec::new();
    // `pre_allocated_vus` (default: `max_vus`, at most 100) are made before the first
    // iteration, split as the closed model splits VUs, so the first seconds do not pay for
    // making VUs; the pool grows from there up to `max_vus`.
    let preallocated = stage
        .pre_allocated_vus
        .map_or(stage.max_vus.min(100), |n| n.min(stage.max_vus));
    // At most `preallocated`, a u32.
    let preallocated = segment.share(u64::from(preallocated)) as u32;
    for (index, count) in split_vus(&scenarios, preallocated).into_iter().enumerate() {
        for _ in 0..count {
            created += 1;
            parked.push(Vu::new(
                &shared,
                segment.slot(created),
                Arc::clone(&names[index]),
            ));
        }
    }
    let stop = Arc::new(Stop::default());
    let begin = Instant::now();
    let end = schedule.duration();
    let mut ticker = tokio::time::interval(Duration::from_millis(5));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut previous = Duration::ZERO;
    loop {
        ticker.tick().await;
        let elapsed = begin.elapsed();
        if elapsed >= end || shared.halt.stopping() {
            break;
        }
        while let Ok(vu) = idle.try_recv() {
            parked.push(vu);
        }
        // Whole iterations due by now; each is started at the tick that reaches it.
        let due = schedule.iterations_by(elapsed).floor() as u64;
        while started_total < due {
            started_total += 1;
            // Every segment deals every iteration its scenario, and runs its own.
            let Some(index) = arrivals.next() else {
                break;
            };
            if !segment.owns(started_total) {
                continue;
            }
            // When this iteration was due: the instant the schedule's count reached it,
            // found by bisection between the previous tick and this one.
            let intended = begin + schedule.due(started_total, previous, elapsed);
            let position = parked.iter().position(|vu| vu.scenario == names[index]);
            let vu = match position {
                Some(position) => parked.swap_remove(position),
                None if created < max_vus => {
                    created += 1;
                    Vu::new(&shared, segment.slot(created), Arc::clone(&names[index]))
                }
                None => {
                    shared.count("dropped_iterations", &names[index], None, 1);
                    continue;
                }
            };
            let (shared, idle_tx, stop) = (Arc::clone(&shared), idle_tx.clone(), Arc::clone(&stop));
            tasks.push(tokio::spawn(async move {
                let mut vu = vu;
                vu.lag = Some(intended.elapsed());
                vu.iteration(&shared, &stop).await;
                // A pooled VU may idle for long: nothing it measured waits with it.
                vu.flush(&shared);
                shared.sample(Sample::Trend(
                    shared.key("iteration_duration_corrected", &vu.scenario, None),
                    intended.elapsed(),
                ));
                let _ = idle_tx.send(vu);
            }));
        }
        previous = elapsed;
        tasks.retain(|task| !task.is_finished());
        report_vus(&shared, tasks.len());
    }
    stop.request();
    let deadline = Instant::now() + graceful;
    while tasks.iter().any(|t| !t.is_finished()) && Instant::now() < deadline && !shared.halt.now()
    {
        tokio::time::sleep(TICK).await;
    }
    for task in tasks {
        task.abort();
        let _ = task.await;
    }
    drop(idle_tx);
    while let Ok(vu) = idle.try_recv() {
        parked.push(vu);
    }
    for mut vu in parked {
        // Closing a WebSocket waits up to 1 s for the close frame to go out; a stop at once
        // drops the socket instead.
        if shared.halt.now() {
            vu.flush(&shared);
        } else {
            vu.close(&shared).await;
        }
    }
    report_vus(&shared, 0);
}
