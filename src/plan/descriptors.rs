//! How many file descriptors a stage needs at its peak — a pure estimate, checked against
//! the process's open-files limit before any load (`docs/run.md`).
//!
//! ```text
//! need = Σ scenarios (VUs at the stage's peak × connections per VU)   the VUs' sockets
//!        × 2 with the in-process mock                                 its accepted end
//!        + RESERVE + per collect source + per output                   the rest
//! ```
//!
//! A VU holds one HTTP connection if its steps make a request, and one WebSocket if they
//! `connect` or `reconnect`. A socket being closed (by a `connect` that replaces it, a
//! `reconnect`, a `disconnect`) keeps its descriptor until the server answers the close,
//! usually within a millisecond: that moment is not counted, so `connect` + `sleep: 1h`
//! at 19,000 VUs fits a 20,000 limit. Were it to overlap, the failure is counted as
//! `too many open files`, not hidden. So at most two per VU.
//! The peak is the stage's largest VU target (`max_vus` for an arrival stage), split over
//! scenarios as the controller splits it.

use std::fmt;

use super::model::{Scenario, Stage, Step};
use super::split::{peak_vus, split_vus};
use super::step::any_step;

/// Descriptors the process holds whatever the load: stdio, the runtime's epoll and
/// wakers, the signal pipe, the mock's listener, the plan and template files.
pub const RESERVE: u64 = 64;
/// Per `collect:` source: a scrape's connection, or a command's pipes.
const PER_SOURCE: u64 = 4;
/// Per output file: the temporary file and the lock.
const PER_OUTPUT: u64 = 2;

/// A stage's estimated need, with what it was computed from (the message shows both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// VUs at the stage's peak.
    pub vus: u32,
    /// Sockets those VUs hold at most.
    pub connections: u64,
    /// Whether the in-process mock holds the other end of each.
    pub mock: bool,
    /// Everything else: [`RESERVE`], collect sources and outputs.
    pub reserve: u64,
}

impl Need {
    /// The number to compare with the limit.
    pub fn total(&self) -> u64 {
        self.connections * if self.mock { 2 } else { 1 } + self.reserve
    }
}

impl fmt::Display for Need {
    /// How the total was computed: `3000 connections of 3000 VUs × 2 (the in-process mock
    /// holds the other end) + 64 for the runtime, collectors and outputs`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} connection{} of {} VU{}",
            self.connections,
            if self.connections == 1 { "" } else { "s" },
            self.vus,
            if self.vus == 1 { "" } else { "s" },
        )?;
        if self.mock {
            f.write_str(" × 2 (the in-process mock holds the other end)")?;
        }
        write!(
            f,
            " + {} for the runtime, collectors and outputs",
            self.reserve
        )
    }
}

/// What `stage` needs when `scenarios` run it, with `sources` collect sources and
/// `outputs` output files, against the in-process mock when `mock`.
pub fn estimate(
    scenarios: &[&Scenario],
    stage: &Stage,
    mock: bool,
    sources: usize,
    outputs: usize,
) -> Need {
    estimate_share(scenarios, stage, mock, sources, outputs, split_vus)
}

/// [`estimate`] for this process's share of the VUs: `share(scenarios, peak)` gives its
/// VUs per scenario when the plan runs `peak` (a segment's seats, `--segment`).
pub fn estimate_share(
    scenarios: &[&Scenario],
    stage: &Stage,
    mock: bool,
    sources: usize,
    outputs: usize,
    share: impl Fn(&[&Scenario], u32) -> Vec<u32>,
) -> Need {
    let split = share(scenarios, peak_vus(stage));
    let vus = split.iter().sum();
    let connections = split
        .into_iter()
        .zip(scenarios)
        .map(|(count, scenario)| u64::from(count) * connections_per_vu(&scenario.steps))
        .sum();
    Need {
        vus,
        connections,
        mock,
        reserve: RESERVE + PER_SOURCE * sources as u64 + PER_OUTPUT * outputs as u64,
    }
}

/// Sockets one VU running `steps` holds at once: an HTTP connection, WebSockets.
fn connections_per_vu(steps: &[Step]) -> u64 {
    let http = any_step(steps, &|step| matches!(step, Step::Request(_)));
    let ws = any_step(steps, &|step| {
        matches!(step, Step::Connect(_) | Step::Reconnect(_))
    });
    u64::from(http) + u64::from(ws)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::model::Plan;

    fn plan(yaml: &str) -> Plan {
        let document = crate::plan::yaml::Document::load(yaml).unwrap();
        serde_json::from_value(document.value).unwrap()
    }

    fn needed(yaml: &str, mock: bool, sources: usize, outputs: usize) -> Need {
        let plan = plan(yaml);
        let scenarios: Vec<&Scenario> = plan.scenarios.values().collect();
        let stage = plan.stages.values().next().unwrap();
        estimate(&scenarios, stage, mock, sources, outputs)
    }

    const WS: &str = "
name: t
scenarios:
  idle:
    steps:
      - connect: ws://127.0.0.1:1/
      - sleep: 1s
stages:
  load: {vus: 3000, duration: 5s}
";

    #[test]
    fn websocket_vus_against_the_mock_count_twice() {
        let need = needed(WS, true, 0, 0);
        assert_eq!(
            need,
            Need {
                vus: 3000,
                connections: 3000,
                mock: true,
                reserve: RESERVE
            }
        );
        assert_eq!(need.total(), 6064);
        assert_eq!(
            need.to_string(),
            "3000 connections of 3000 VUs × 2 (the in-process mock holds the other end) \
             + 64 for the runtime, collectors and outputs"
        );
        assert_eq!(needed(WS, false, 0, 0).total(), 3064);
    }

    #[test]
    fn sources_and_outputs_add_to_the_reserve() {
        assert_eq!(needed(WS, false, 2, 3).reserve, RESERVE + 8 + 6);
    }

    #[test]
    fn connections_per_vu_follow_the_steps() {
        for (steps, expected) in [
            ("- sleep: 1s", 0),
            ("- request: {url: 'http://h/'}", 1),
            (
                "- request: {url: 'http://h/'}\n      - request: {url: 'http://h/b'}",
                1,
            ),
            ("- connect: ws://h/\n      - reconnect: {}", 1),
            ("- connect: ws://h/\n      - disconnect: {}", 1),
            ("- reconnect: {}", 1),
            (
                "- {repeat: {count: 2}, steps: [{connect: 'ws://h/'}]}\n      - disconnect: {}",
                1,
            ),
            (
                "- {group: g, steps: [{repeat: {count: 2}, steps: [{connect: 'ws://h/'}]}]}\n      - request: {url: 'http://h/'}",
                2,
            ),
        ] {
            let yaml = format!(
                "name: t\nscenarios:\n  s:\n    steps:\n      {steps}\nstages:\n  l: {{vus: 10, duration: 1s}}\n"
            );
            assert_eq!(
                needed(&yaml, false, 0, 0).connections,
                10 * expected,
                "{steps}"
            );
        }
    }

    #[test]
    fn the_peak_is_the_ramp_top_or_max_vus_split_over_scenarios() {
        let yaml = "
name: t
scenarios:
  http: {weight: 3, steps: [{request: {url: 'http://h/'}}]}
  ws: {weight: 1, steps: [{connect: 'ws://h/'}, {request: {url: 'http://h/'}}]}
stages:
  ramp: {ramp: [{to: 400, over: 1s}, {to: 100, over: 1s}]}
";
        let need = needed(yaml, false, 0, 0);
        assert_eq!((need.vus, need.connections), (400, 300 + 100 * 2));
        let yaml = "
name: t
scenarios:
  ws: {steps: [{connect: 'ws://h/'}]}
stages:
  open: {arrival: [{to: 50/s, over: 1s}], max_vus: 700}
";
        assert_eq!(needed(yaml, true, 0, 0).total(), 700 * 2 + RESERVE);
    }
}
