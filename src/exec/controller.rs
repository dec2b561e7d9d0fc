//! The controller follows the schedule — starting VUs, stopping the ones a ramp-down no
//! longer needs (each may finish its iteration for `graceful_stop`, then is cancelled) —
//! and the collector owns the results.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::vu::Vu;
use super::{Event, Shared};
use crate::plan::model::Scenario;
use crate::plan::split::split_vus;
use crate::results::{Results, Sample, Second, SeriesKey};
use crate::schedule::Schedule;

/// How often the controller looks at the schedule.
const TICK: Duration = Duration::from_millis(20);

struct Handle {
    stop: Arc<AtomicBool>,
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
    loop {
        ticker.tick().await;
        let elapsed = started.elapsed();
        if elapsed >= end {
            break;
        }
        let scenarios: Vec<&Scenario> = shared.plan.scenarios.values().collect();
        let wanted = split_vus(&scenarios, schedule.vus_at(elapsed));
        for (index, want) in wanted.iter().enumerate() {
            let want = *want as usize;
            while running[index].len() < want {
                let stop = Arc::new(AtomicBool::new(false));
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
                    handle.stop.store(true, Ordering::Relaxed);
                    handle.stopping_since = Some(Instant::now());
                    stopping.push(handle);
                }
            }
        }
        reap(&mut stopping, graceful);
        let active: usize = running.iter().map(Vec::len).sum::<usize>() + stopping.len();
        shared.event(Event::Vus(u32::try_from(active).unwrap_or(u32::MAX)));
    }
    for mut handle in running.into_iter().flatten() {
        handle.stop.store(true, Ordering::Relaxed);
        handle.stopping_since = Some(Instant::now());
        stopping.push(handle);
    }
    let deadline = Instant::now() + graceful;
    while !stopping.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(TICK).await;
        reap(&mut stopping, graceful);
        shared.event(Event::Vus(
            u32::try_from(stopping.len()).unwrap_or(u32::MAX),
        ));
    }
    for handle in stopping {
        handle.task.abort();
        let _ = handle.task.await;
    }
    shared.event(Event::Vus(0));
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
    let stop = Arc::new(AtomicBool::new(false));
    let begin = Instant::now();
    let end = schedule.duration();
    let mut ticker = tokio::time::interval(Duration::from_millis(5));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        let elapsed = begin.elapsed();
        if elapsed >= end {
            break;
        }
        while let Ok(vu) = idle.try_recv() {
            parked.push(vu);
        }
        // Whole iterations due by now; each is due at the tick that reaches it.
        let due = schedule.iterations_by(elapsed).floor() as u64;
        while started_total < due {
            started_total += 1;
            let intended = Instant::now();
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
                vu.iteration(&shared, &stop).await;
                shared.sample(Sample::Trend(
                    shared.key("iteration_duration_corrected", &vu.scenario, None),
                    intended.elapsed(),
                ));
                let _ = idle_tx.send(vu);
            }));
        }
        tasks.retain(|task| !task.is_finished());
        shared.event(Event::Vus(u32::try_from(tasks.len()).unwrap_or(u32::MAX)));
    }
    stop.store(true, Ordering::Relaxed);
    let deadline = Instant::now() + graceful;
    while tasks.iter().any(|t| !t.is_finished()) && Instant::now() < deadline {
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
        vu.close(&shared).await;
    }
    shared.event(Event::Vus(0));
}

/// The collector: owns the results; prints a progress line every 2 s when asked.
pub async fn collect(
    mut inbox: mpsc::UnboundedReceiver<Event>,
    backlog: &std::sync::atomic::AtomicUsize,
    started: Instant,
    progress: bool,
    planned: Duration,
) -> Results {
    let mut results = Results::default();
    let mut sent = 0u64;
    let mut received = 0u64;
    let mut vus_now = 0u32;
    let mut last_print = Instant::now();
    while let Some(event) = inbox.recv().await {
        backlog.fetch_sub(1, Ordering::Relaxed);
        let second = started.elapsed().as_secs();
        let index = usize::try_from(second).unwrap_or(usize::MAX);
        if results.timeline.len() <= index && index < 24 * 3600 {
            while results.timeline.len() <= index {
                let at_s = results.timeline.len() as u64;
                results.timeline.push(Second {
                    at_s,
                    vus: vus_now,
                    ..Second::default()
                });
            }
        }
        let now = results.timeline.get_mut(index);
        match event {
            Event::Sample(sample) => {
                if let Some(now) = now {
                    match &sample {
                        Sample::Count(key, n) if &*key.metric == "http_reqs" => now.requests += n,
                        Sample::Count(key, n) if key.metric.starts_with("ws_msgs") => {
                            now.messages += n
                        }
                        Sample::Count(key, n) if &*key.metric == "iterations" => {
                            now.iterations += n
                        }
                        _ => {}
                    }
                }
                results.record(sample);
            }
            Event::Vus(vus) => {
                vus_now = vus;
                results.vus_max = results.vus_max.max(vus);
                if let Some(now) = now {
                    now.vus = now.vus.max(vus);
                }
                let key = SeriesKey {
                    metric: "vus".into(),
                    scenario: "".into(),
                    name: None,
                };
                results.gauge(key, f64::from(vus));
            }
            Event::Error(kind) => {
                if let Some(now) = now {
                    now.errors += 1;
                }
                *results.errors.entry(kind).or_insert(0) += 1;
            }
            Event::Bytes {
                sent: s,
                received: r,
            } => {
                sent += s;
                received += r;
            }
        }
        if progress && last_print.elapsed() >= Duration::from_secs(2) {
            last_print = Instant::now();
            let last = results.timeline.iter().rev().nth(1);
            eprintln!(
                "[{:>5.0}s/{:.0}s] vus {:>5}  req/s {:>7}  msg/s {:>7}  errors {}",
                started.elapsed().as_secs_f64(),
                planned.as_secs_f64(),
                vus_now,
                last.map_or(0, |s| s.requests),
                last.map_or(0, |s| s.messages),
                results.errors.values().sum::<u64>()
            );
        }
    }
    let total = |metric: &str, n: u64| {
        (
            SeriesKey {
                metric: metric.into(),
                scenario: "".into(),
                name: None,
            },
            n,
        )
    };
    for (key, n) in [total("data_sent", sent), total("data_received", received)] {
        results.record(Sample::Count(key, n));
    }
    let vus_max = SeriesKey {
        metric: "vus_max".into(),
        scenario: "".into(),
        name: None,
    };
    results.gauge(vus_max, f64::from(results.vus_max));
    results
}
