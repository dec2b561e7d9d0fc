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
use crate::plan::split::split_vus;
use crate::results::Sample;
use crate::schedule::Schedule;

/// How often the controller looks at the schedule.
const TICK: Duration = Duration::from_millis(20);

struct Handle {
    stop: Arc<Stop>,
    task: JoinHandle<()>,
    stopping_since: Option<Instant>,
}

/// Runs the stage: VUs follow the schedule until it ends, then get `graceful` to finish.
pub async fn drive(shared: Arc<Shared>, schedule: &Schedule, graceful: Duration) {
    if schedule.arrival {
        return drive_arrival(shared, schedule, graceful).await;
    }
    let names = scenario_names(&shared);
    let mut running: Vec<Vec<Handle>> = names.iter().map(|_| Vec::new()).collect();
    let mut stopping: Vec<Handle> = Vec::new();
    let mut next_id = 1u64;
    let started = Instant::now();
    let end = schedule.duration();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut looked = Duration::ZERO;
    let mut split: (Option<u32>, Vec<u32>) = (None, Vec::new());
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
        // The split (O(scenarios × log scenarios)) only when the target changes.
        if split.0 != Some(target) {
            let scenarios: Vec<&Scenario> = shared.plan.scenarios.values().collect();
            split = (Some(target), split_vus(&scenarios, target));
        }
        let wanted = &split.1;
        let mut started_now = false;
        for (index, want) in wanted.iter().enumerate() {
            let want = *want as usize;
            while running[index].len() < want {
                started_now = true;
                let stop = Arc::new(Stop::default());
                let vu = Vu::new(&shared, next_id, Arc::clone(&names[index]));
                next_id += 1;
                let task = tokio::spawn(vu.run(Arc::clone(&shared), Arc::clone(&stop)));
                running[index].push(Handle {
                    stop,
                    task,
                    stopping_since: None,
                });
            }
            while running[index].len() > want {
                if let Some(mut handle) = running[index].pop() {
                    handle.stop.request();
                    handle.stopping_since = Some(Instant::now());
                    stopping.push(handle);
                }
            }
        }
        reap(&mut stopping, graceful);
        let active: usize = running.iter().map(Vec::len).sum::<usize>() + stopping.len();
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
    for mut handle in running.into_iter().flatten() {
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

/// The time within `[from, to]` at which the schedule's iteration count reaches `n`.
fn due_at(schedule: &Schedule, n: u64, from: Duration, to: Duration) -> Duration {
    let (mut low, mut high) = (from, to);
    for _ in 0..24 {
        let middle = low + (high - low) / 2;
        if schedule.iterations_by(middle) >= n as f64 {
            high = middle;
        } else {
            low = middle;
        }
    }
    high
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
/// iteration with no free VU is counted in `dropped_iterations`, never delayed.
async fn drive_arrival(shared: Arc<Shared>, schedule: &Schedule, graceful: Duration) {
    let Some(crate::plan::model::Stage::Arrival(stage)) = shared.plan.stages.get(&shared.stage)
    else {
        return;
    };
    let max_vus = stage.max_vus as usize;
    let names = scenario_names(&shared);
    let weights: Vec<f64> = shared
        .plan
        .scenarios
        .values()
        .map(|s| {
            s.vus
                .map_or_else(|| s.weight.unwrap_or(1.0), f64::from)
                .max(0.0)
        })
        .collect();
    let (idle_tx, mut idle) = mpsc::unbounded_channel::<Vu>();
    let mut created = 0usize;
    let mut started_per: Vec<f64> = vec![0.0; names.len()];
    let mut started_total = 0u64;
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();
    let mut parked: Vec<Vu> = Vec::new();
    // `pre_allocated_vus` (default: `max_vus`, at most 100) are made before the first
    // iteration, split as the closed model splits VUs, so the first seconds do not pay for
    // making VUs; the pool grows from there up to `max_vus`.
    let preallocated = stage
        .pre_allocated_vus
        .map_or(stage.max_vus.min(100), |n| n.min(stage.max_vus));
    let scenarios: Vec<&Scenario> = shared.plan.scenarios.values().collect();
    for (index, count) in split_vus(&scenarios, preallocated).into_iter().enumerate() {
        for _ in 0..count {
            created += 1;
            parked.push(Vu::new(&shared, created as u64, Arc::clone(&names[index])));
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
            // When this iteration was due: the instant the schedule's count reached it,
            // found by bisection between the previous tick and this one.
            let intended = begin + due_at(schedule, started_total, previous, elapsed);
            // The scenario furthest behind its weighted share gets the iteration.
            let Some(index) = (0..names.len())
                .filter(|i| weights[*i] > 0.0)
                .min_by(|a, b| {
                    (started_per[*a] / weights[*a]).total_cmp(&(started_per[*b] / weights[*b]))
                })
            else {
                break;
            };
            started_per[index] += 1.0;
            let position = parked.iter().position(|vu| vu.scenario == names[index]);
            let vu = match position {
                Some(position) => parked.swap_remove(position),
                None if created < max_vus => {
                    created += 1;
                    Vu::new(&shared, created as u64, Arc::clone(&names[index]))
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
