//! The schedule: a stage as VU targets (or iteration rates) over time — a pure function,
//! k6's `ramping-vus` semantics.
//!
//! ```text
//!  VUs
//!  120 ┤        ╭──────────────╮            ramp: [ {to: 120, over: 30s},
//!      │      ╱                  ╲                  {hold: 2m},
//!      │    ╱                      ╲                {to: 0, over: 30s} ]
//!    0 ┼──╯                          ╲──
//!      0s    30s               2m30s  3m
//! ```
//!
//! A `{to, over}` segment moves the target linearly from where the previous segment ended;
//! `{hold}` keeps it. The target at time `t` is rounded down, as k6 does, so a ramp from 0
//! to 10 over 10 s adds a VU each second. A fixed stage is one hold at `vus`. Arrival
//! stages ramp a *rate* of iteration starts the same way; the executor starts an iteration
//! each time the integral of the rate passes a whole number.

use std::time::Duration;

use crate::plan::model::{ArrivalSegment, RampSegment, Stage};

/// One linear piece of a schedule: from `from` to `to` over `length`, starting at `start`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Piece {
    pub start: Duration,
    pub length: Duration,
    pub from: f64,
    pub to: f64,
}

/// A stage as linear pieces of VUs (closed model) or iterations per second (open model).
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub pieces: Vec<Piece>,
    /// True when the values are iterations per second (an arrival stage).
    pub arrival: bool,
}

impl Schedule {
    pub fn of(stage: &Stage) -> Self {
        let mut pieces = Vec::new();
        let mut at = Duration::ZERO;
        let mut push = |length: Duration, from: f64, to: f64| {
            pieces.push(Piece {
                start: at,
                length,
                from,
                to,
            });
            at += length;
        };
        match stage {
            Stage::Fixed(fixed) => {
                let vus = f64::from(fixed.vus);
                push(fixed.duration.0, vus, vus);
            }
            Stage::Ramp(ramp) => {
                let mut level = f64::from(ramp.start_vus.unwrap_or(0));
                for segment in &ramp.ramp {
                    match segment {
                        RampSegment::To(to) => {
                            let target = f64::from(to.to);
                            push(to.over.0, level, target);
                            level = target;
                        }
                        RampSegment::Hold(hold) => push(hold.hold.0, level, level),
                    }
                }
            }
            Stage::Arrival(arrival) => {
                let mut level = arrival.start_rate.map_or(0.0, |r| r.per_second());
                for segment in &arrival.arrival {
                    match segment {
                        ArrivalSegment::To(to) => {
                            let target = to.to.per_second();
                            push(to.over.0, level, target);
                            level = target;
                        }
                        ArrivalSegment::Hold(hold) => push(hold.hold.0, level, level),
                    }
                }
            }
        }
        Self {
            pieces,
            arrival: matches!(stage, Stage::Arrival(_)),
        }
    }

    /// How long the stage runs (before any graceful stop).
    pub fn duration(&self) -> Duration {
        self.pieces
            .last()
            .map_or(Duration::ZERO, |p| p.start + p.length)
    }

    /// The exact value (VUs or rate) at `t`; after the end, the last value.
    pub fn value_at(&self, t: Duration) -> f64 {
        for piece in &self.pieces {
            if t < piece.start + piece.length {
                if piece.length.is_zero() {
                    return piece.to;
                }
                let done =
                    (t.saturating_sub(piece.start)).as_secs_f64() / piece.length.as_secs_f64();
                return piece.from + (piece.to - piece.from) * done;
            }
        }
        self.pieces.last().map_or(0.0, |p| p.to)
    }

    /// The VU target at `t`: the value rounded down (k6's rounding).
    pub fn vus_at(&self, t: Duration) -> u32 {
        // Targets come from u32 VU counts, so the floor fits.
        self.value_at(t).max(0.0).floor() as u32
    }

    /// The largest VU target the schedule reaches in `(from, to]`: the target at `to`, or
    /// a peak at a segment's end in between. A controller that looks every few ms would
    /// otherwise step over a peak the schedule touches for an instant (`{to: 50, over: 10s}`
    /// followed by a ramp-down is at 50 only at 10 s; floored a tick later it is 49).
    pub fn vus_peak(&self, from: Duration, to: Duration) -> u32 {
        self.pieces
            .iter()
            .map(|p| (p.start + p.length, p.to))
            .filter(|(end, _)| *end > from && *end <= to)
            .map(|(_, target)| target.max(0.0).floor() as u32)
            .fold(self.vus_at(to), u32::max)
    }

    /// Iterations that should have started by `t` in an arrival stage: the integral of the
    /// rate from 0 to `t`.
    pub fn iterations_by(&self, t: Duration) -> f64 {
        let mut total = 0.0;
        for piece in &self.pieces {
            if t <= piece.start {
                break;
            }
            let within = (t - piece.start).min(piece.length).as_secs_f64();
            let length = piece.length.as_secs_f64();
            let end_rate = if length > 0.0 {
                piece.from + (piece.to - piece.from) * within / length
            } else {
                piece.to
            };
            total += (piece.from + end_rate) / 2.0 * within;
        }
        total
    }

    /// The instant within `[from, to]` at which an arrival stage's iteration count
    /// reaches `n`: when iteration `n` is due (found by bisection, to `(to − from) / 2²⁴`).
    pub fn due(&self, n: u64, from: Duration, to: Duration) -> Duration {
        let (mut low, mut high) = (from, to);
        for _ in 0..24 {
            let middle = low + (high - low) / 2;
            if self.iterations_by(middle) >= n as f64 {
                high = middle;
            } else {
                low = middle;
            }
        }
        high
    }

    /// The largest VU target of the stage.
    pub fn peak(&self) -> f64 {
        self.pieces
            .iter()
            .flat_map(|p| [p.from, p.to])
            .fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(yaml: &str) -> Stage {
        let document = crate::plan::yaml::Document::load(yaml).unwrap();
        serde_json::from_value(document.value).unwrap()
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn ramp_targets_over_time() {
        let schedule = Schedule::of(&stage(
            "ramp: [ {to: 120, over: 30s}, {hold: 2m}, {to: 0, over: 30s} ]",
        ));
        assert_eq!(schedule.duration(), secs(180.0));
        let table = [
            (0.0, 0),
            (1.0, 4),
            (15.0, 60),
            (29.9, 119),
            (30.0, 120),
            (100.0, 120),
            (150.0, 120),
            (165.0, 60),
            (179.0, 4),
            (180.0, 0),
            (500.0, 0),
        ];
        for (t, vus) in table {
            assert_eq!(schedule.vus_at(secs(t)), vus, "at {t}s");
        }
        assert_eq!(schedule.peak(), 120.0);
    }

    #[test]
    fn a_peak_between_two_looks_is_reached() {
        let schedule = Schedule::of(&stage("ramp: [ {to: 50, over: 1s}, {to: 0, over: 1s} ]"));
        assert_eq!(schedule.vus_at(secs(1.01)), 49);
        assert_eq!(schedule.vus_peak(secs(0.99), secs(1.01)), 50);
        assert_eq!(schedule.vus_peak(secs(1.01), secs(1.015)), 49);
        // A ramp that ends the stage reaches its target at the end.
        let schedule = Schedule::of(&stage("ramp: [ {to: 50, over: 1s} ]"));
        assert_eq!(schedule.vus_at(secs(0.99)), 49);
        assert_eq!(schedule.vus_peak(secs(0.99), secs(1.0)), 50);
        assert_eq!(schedule.vus_peak(secs(0.5), secs(0.7)), 35);
    }

    #[test]
    fn fixed_stage_is_one_hold() {
        let schedule = Schedule::of(&stage("{vus: 10, duration: 30s}"));
        assert_eq!(schedule.duration(), secs(30.0));
        assert_eq!(schedule.vus_at(secs(0.0)), 10);
        assert_eq!(schedule.vus_at(secs(29.99)), 10);
    }

    #[test]
    fn ramp_can_start_above_zero() {
        let schedule = Schedule::of(&stage("{start_vus: 5, ramp: [ {to: 15, over: 10s} ]}"));
        assert_eq!(schedule.vus_at(secs(0.0)), 5);
        assert_eq!(schedule.vus_at(secs(5.0)), 10);
    }

    #[test]
    fn arrival_integrates_the_rate() {
        let schedule = Schedule::of(&stage(
            "{arrival: [ {to: 100/s, over: 10s}, {hold: 10s} ], max_vus: 50}",
        ));
        assert!(schedule.arrival);
        // A linear ramp from 0 to 100/s over 10 s starts 500 iterations, then 100 a second.
        assert!((schedule.iterations_by(secs(10.0)) - 500.0).abs() < 1e-6);
        assert!((schedule.iterations_by(secs(5.0)) - 125.0).abs() < 1e-6);
        assert!((schedule.iterations_by(secs(20.0)) - 1500.0).abs() < 1e-6);
        assert!((schedule.iterations_by(secs(99.0)) - 1500.0).abs() < 1e-6);
    }
}
