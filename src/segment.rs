//! Execution segments: one plan's load shared out over N processes (machines, pods) with
//! no communication between them. Every global VU slot and every global iteration number
//! has one owner, a pure function of its number, so each segment starts and stops its own
//! VUs when the global ramp reaches them and the segments together run the plan exactly.
//!
//! ```text
//!  slot        1  2  3  4  5  6  7  8  9 …        --segment I/3 (equal weights)
//!  owner       1  2  3  1  2  3  1  2  3 …        ((slot − 1) mod 3) + 1
//!
//!  slot        1  2  3  4  5  6  7  8 …           --segment-weights 2,1,1
//!  owner       1  2  3  1  1  2  3  1 …           Sainte-Laguë over the weights, period 4
//! ```
//!
//! With weights, the owners of one period (the weights' sum) are dealt by the
//! Sainte-Laguë method (largest `weight / (given + 0.5)` next, ties to the lower
//! segment), so each segment's share stays within about one slot of its exact share at
//! every count, as the VU split over scenarios does; equal weights give plain round robin.
//!
//! The segments' common start instant (`--start-at`) is read here too ([`parse_instant`]),
//! once for `run` and `k8s`.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::plan::model::Scenario;
use crate::plan::split::{Seats, split_vus};

/// The largest number of segments, and the largest sum of `--segment-weights`.
pub const MAX_SEGMENTS: u32 = 10_000;

/// One share of a run split in `count`: this process runs segment `index` (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// 1-based.
    pub index: u32,
    pub count: u32,
    /// One weight per segment (`--segment-weights 2,1,1`); empty for equal shares.
    pub weights: Vec<u32>,
    /// The owners of one period of slots, 1-based segment numbers.
    pattern: Vec<u32>,
    /// The places (0-based) of this segment's slots in one period, ascending: `share`
    /// and `slot` look them up instead of scanning the period each call (it may be 10,000
    /// long, and the controller asks once per seat).
    mine: Vec<u32>,
}

/// Why a segment cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentError {
    /// Not `I/N` or `auto/N`.
    Syntax(String),
    /// `I` is 0 or above `N`, or `N` is 0 or above [`MAX_SEGMENTS`].
    OutOfRange { index: u32, count: u32 },
    /// `--segment-weights` does not give one whole, positive weight per segment.
    Weights(String),
}

impl fmt::Display for SegmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(text) => write!(
                f,
                "expected I/N (1-based, like 2/6) or auto/N (I from $JOB_COMPLETION_INDEX), found `{text}`"
            ),
            Self::OutOfRange { index, count } => write!(
                f,
                "segment {index}/{count}: I goes from 1 to N, and N from 1 to {MAX_SEGMENTS}"
            ),
            Self::Weights(why) => write!(f, "--segment-weights: {why}"),
        }
    }
}

impl std::error::Error for SegmentError {}

/// `--segment` as written: `I/N`, or `auto/N` (I from the environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentArg {
    /// `None` for `auto`.
    pub index: Option<u32>,
    pub count: u32,
}

impl std::str::FromStr for SegmentArg {
    type Err = SegmentError;

    fn from_str(text: &str) -> Result<Self, SegmentError> {
        let syntax = || SegmentError::Syntax(text.to_owned());
        let (index, count) = text.split_once('/').ok_or_else(syntax)?;
        let count: u32 = count.trim().parse().map_err(|_| syntax())?;
        let index = match index.trim() {
            "auto" => None,
            index => Some(index.parse::<u32>().map_err(|_| syntax())?),
        };
        if count == 0 || count > MAX_SEGMENTS || index.is_some_and(|i| i == 0 || i > count) {
            return Err(SegmentError::OutOfRange {
                index: index.unwrap_or(0),
                count,
            });
        }
        Ok(Self { index, count })
    }
}

/// Reads `--segment-weights 2,1,1`.
pub fn parse_weights(text: &str) -> Result<Vec<u32>, SegmentError> {
    text.split(',')
        .map(|w| match w.trim().parse::<u32>() {
            Ok(w) if w > 0 => Ok(w),
            _ => Err(SegmentError::Weights(format!(
                "expected whole numbers above 0 separated by commas, like 2,1,1, found `{text}`"
            ))),
        })
        .collect()
}

impl Segment {
    /// The whole run: one segment of one.
    pub fn whole() -> Self {
        Self {
            index: 1,
            count: 1,
            weights: Vec::new(),
            pattern: vec![1],
            mine: vec![0],
        }
    }

    /// Segment `index` (1-based) of `count`, with `weights` (empty for equal shares).
    pub fn new(index: u32, count: u32, weights: Vec<u32>) -> Result<Self, SegmentError> {
        if count == 0 || count > MAX_SEGMENTS || index == 0 || index > count {
            return Err(SegmentError::OutOfRange { index, count });
        }
        if !weights.is_empty() && weights.len() != count as usize {
            return Err(SegmentError::Weights(format!(
                "{} weight{} for {count} segments: give one per segment",
                weights.len(),
                if weights.len() == 1 { "" } else { "s" }
            )));
        }
        let sum: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        if weights.contains(&0) || sum > u64::from(MAX_SEGMENTS) {
            return Err(SegmentError::Weights(format!(
                "each weight is at least 1, and they add up to at most {MAX_SEGMENTS}"
            )));
        }
        let pattern = if weights.is_empty() || weights.iter().all(|&w| w == weights[0]) {
            (1..=count).collect()
        } else {
            deal(&weights)
        };
        // `pattern` has at most MAX_SEGMENTS places: each fits a u32.
        let mine = (0..pattern.len() as u32)
            .filter(|&at| pattern[at as usize] == index)
            .collect();
        Ok(Self {
            index,
            count,
            weights,
            pattern,
            mine,
        })
    }

    /// Whether this is the whole run (one segment).
    pub fn is_whole(&self) -> bool {
        self.count == 1
    }

    fn period(&self) -> u64 {
        self.pattern.len() as u64
    }

    /// The segment (1-based) that owns global slot or iteration `n` (1-based).
    pub fn owner(&self, n: u64) -> u32 {
        let at = (n.max(1) - 1) % self.period();
        self.pattern[at as usize]
    }

    /// Whether this segment owns global slot or iteration `n` (1-based).
    pub fn owns(&self, n: u64) -> bool {
        self.owner(n) == self.index
    }

    /// How many of the global slots `1..=total` this segment owns.
    pub fn share(&self, total: u64) -> u64 {
        let period = self.period();
        let rest = total % period;
        let in_rest = self.mine.partition_point(|&at| u64::from(at) < rest) as u64;
        total / period * self.mine.len() as u64 + in_rest
    }

    /// The global number of this segment's `nth` slot (1-based): `share(slot(n)) == n`.
    pub fn slot(&self, nth: u64) -> u64 {
        let per_period = self.mine.len() as u64;
        let nth = nth.max(1) - 1;
        let (periods, within) = (nth / per_period, nth % per_period);
        // `within` < the number of places.
        let position = u64::from(self.mine[within as usize]);
        periods * self.period() + position + 1
    }
}

impl Default for Segment {
    fn default() -> Self {
        Self::whole()
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)?;
        if !self.weights.is_empty() {
            let weights: Vec<String> = self.weights.iter().map(u32::to_string).collect();
            write!(f, " (weights {})", weights.join(","))?;
        }
        Ok(())
    }
}

/// This segment's VUs as the global VU target moves (closed model): the seats it starts
/// when the global ramp reaches them. The VUs it stops on a ramp down are its seats above
/// the new target, highest first — so at every target the segments together run the
/// plan's [`crate::plan::split::split_vus`] of it, and one segment of one runs exactly it.
#[derive(Debug, Clone)]
pub struct Roster {
    seats: Seats,
    target: u32,
}

impl Roster {
    /// Before the first VU: the global target is 0.
    pub fn new(seats: Seats) -> Self {
        Self { seats, target: 0 }
    }

    /// Moves the global target to `target` and returns the seats this segment starts,
    /// `(seat, scenario index)`, lowest first. Seats above `target` are for the caller
    /// to stop. The seats of other segments are walked over, or jumped over when that is
    /// cheaper (many segments, few scenarios).
    pub fn retarget(&mut self, segment: &Segment, target: u32) -> Vec<(u64, usize)> {
        let mut start = Vec::new();
        self.walk(segment, target, |seat, index| start.push((seat, index)));
        start
    }

    /// [`Roster::retarget`], handing each seat started to `start`.
    fn walk(&mut self, segment: &Segment, target: u32, mut start: impl FnMut(u64, usize)) {
        if target > self.target {
            if self.seats.position() != u64::from(self.target) {
                self.seats.seek(self.target);
            }
            let jump = 4 * self.seats.scenarios() as u64 + 16;
            while self.seats.position() < u64::from(target) {
                let mine = segment.slot(segment.share(self.seats.position()) + 1);
                if mine > u64::from(target) {
                    break;
                }
                if mine - self.seats.position() > jump {
                    // Below `target`, a u32.
                    self.seats.seek((mine - 1) as u32);
                }
                let Some((seat, index)) = self.seats.next() else {
                    break;
                };
                if segment.owns(seat) {
                    start(seat, index);
                }
            }
        }
        self.target = target;
    }
}

impl Segment {
    /// The VUs per scenario (plan order) this segment runs when the plan runs `target`:
    /// its seats among the first `target`. Summed over the segments, the plan's
    /// [`split_vus`] of `target`.
    pub fn vus(&self, scenarios: &[&Scenario], target: u32) -> Vec<u32> {
        if self.is_whole() {
            return split_vus(scenarios, target);
        }
        let mut counts = vec![0u32; scenarios.len()];
        Roster::new(Seats::new(scenarios)).walk(self, target, |_, index| counts[index] += 1);
        counts
    }

    /// [`Segment::vus`] for an estimate: exact up to [`EXACT_UP_TO`] VUs, past that (a walk
    /// of billions of seats) this segment's share split as the plan splits VUs.
    pub fn vus_estimate(&self, scenarios: &[&Scenario], target: u32) -> Vec<u32> {
        if target <= EXACT_UP_TO {
            self.vus(scenarios, target)
        } else {
            // At most `target`, a u32.
            split_vus(scenarios, self.share(u64::from(target)) as u32)
        }
    }
}

/// The most VUs [`Segment::vus_estimate`] counts seat by seat.
pub const EXACT_UP_TO: u32 = 2_000_000;

/// The owners of one period of slots: Sainte-Laguë over the weights, ties to the lower
/// segment.
fn deal(weights: &[u32]) -> Vec<u32> {
    let sum: u32 = weights.iter().sum();
    let mut given = vec![0u32; weights.len()];
    let mut pattern = Vec::with_capacity(sum as usize);
    for _ in 0..sum {
        // Comparing w_a / (g_a + ½) with w_b / (g_b + ½) as w_a (2 g_b + 1) vs w_b (2 g_a + 1).
        let mut best = 0;
        for candidate in 1..weights.len() {
            let a = u64::from(weights[candidate]) * (2 * u64::from(given[best]) + 1);
            let b = u64::from(weights[best]) * (2 * u64::from(given[candidate]) + 1);
            if a > b {
                best = candidate;
            }
        }
        given[best] += 1;
        pattern.push(best as u32 + 1);
    }
    pattern
}

/// Why `--start-at`'s text is no instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstantError {
    text: String,
    why: String,
}

impl fmt::Display for InstantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--start-at `{}` is not an RFC 3339 instant ({}); write it like 2026-12-02T18:00:00Z",
            self.text, self.why
        )
    }
}

impl std::error::Error for InstantError {}

/// `--start-at`'s text as an instant: RFC 3339 (`2026-12-02T18:00:00Z`, fractions of a
/// second allowed, `+02:00`-style offsets too); without an offset, UTC.
pub fn parse_instant(text: &str) -> Result<SystemTime, InstantError> {
    let text = text.trim();
    let bad = |why: &str| InstantError {
        text: text.to_owned(),
        why: why.to_owned(),
    };
    let (base, offset) = split_offset(text);
    let at = humantime::parse_rfc3339_weak(base).map_err(|error| bad(&error.to_string()))?;
    let Some((east, offset)) = offset else {
        return Ok(at);
    };
    // Local time east of UTC is ahead of it: UTC = local − offset.
    if east {
        at.checked_sub(offset)
    } else {
        at.checked_add(offset)
    }
    .ok_or_else(|| bad("out of range"))
}

/// `text` without a trailing `±HH:MM` offset, and that offset (east of UTC when `+`).
fn split_offset(text: &str) -> (&str, Option<(bool, Duration)>) {
    let Some(at) = text.len().checked_sub(6) else {
        return (text, None);
    };
    let (base, tail) = (text.get(..at), text.get(at..));
    let (Some(base), Some(tail)) = (base, tail) else {
        return (text, None);
    };
    let bytes = tail.as_bytes();
    let digits = |a: u8, b: u8| {
        (a.is_ascii_digit() && b.is_ascii_digit())
            .then(|| u64::from(a - b'0') * 10 + u64::from(b - b'0'))
    };
    match bytes {
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2]
            if base.contains('T') || base.contains(' ') =>
        {
            match (digits(*h1, *h2), digits(*m1, *m2)) {
                (Some(hours), Some(minutes)) if hours < 24 && minutes < 60 => (
                    base,
                    Some((
                        *sign == b'+',
                        Duration::from_secs(hours * 3600 + minutes * 60),
                    )),
                ),
                _ => (text, None),
            }
        }
        _ => (text, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).expect("a test instant")
    }

    #[test]
    fn instants_parse_in_utc_with_or_without_offsets() {
        let noon = at("2026-12-02T12:00:00Z");
        assert_eq!(parse_instant("2026-12-02T12:00:00Z"), Ok(noon));
        assert_eq!(parse_instant("2026-12-02T12:00:00"), Ok(noon));
        assert_eq!(parse_instant(" 2026-12-02T12:00:00+00:00 "), Ok(noon));
        assert_eq!(parse_instant("2026-12-02T14:00:00+02:00"), Ok(noon));
        assert_eq!(parse_instant("2026-12-02T06:30:00-05:30"), Ok(noon));
        assert_eq!(
            parse_instant("2026-12-02T12:00:00.250Z"),
            Ok(noon + Duration::from_millis(250))
        );
        for bad in [
            "",
            "tomorrow",
            "2026-12-02",
            "2026-13-02T12:00:00Z",
            "12:00",
            "2026-12-02T12:00:00+25:00",
        ] {
            let error = parse_instant(bad).expect_err(bad).to_string();
            assert!(
                error.contains("is not an RFC 3339 instant"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn equal_shares_are_round_robin() {
        let segments: Vec<Segment> = (1..=6)
            .map(|i| Segment::new(i, 6, Vec::new()).expect("valid"))
            .collect();
        let shares: Vec<u64> = segments.iter().map(|s| s.share(100_000)).collect();
        assert_eq!(shares, [16_667, 16_667, 16_667, 16_667, 16_666, 16_666]);
        assert_eq!(segments[2].owner(3), 3);
        assert_eq!(segments[2].owner(9), 3);
        assert_eq!(segments[2].slot(1), 3);
        assert_eq!(segments[2].slot(2), 9);
    }

    #[test]
    fn weights_deal_a_period_and_slots_invert_shares() {
        let segment = |i| Segment::new(i, 3, vec![2, 1, 1]).expect("valid");
        assert_eq!(segment(1).pattern, [1, 2, 3, 1]);
        for i in 1..=3 {
            let s = segment(i);
            for nth in 1..50 {
                let slot = s.slot(nth);
                assert!(s.owns(slot));
                assert_eq!(s.share(slot), nth);
            }
        }
        for total in 0..200u64 {
            let sum: u64 = (1..=3).map(|i| segment(i).share(total)).sum();
            assert_eq!(sum, total);
        }
        assert_eq!(segment(1).share(400), 200);
    }

    #[test]
    fn arguments_read_and_refuse() {
        assert_eq!(
            "2/6".parse::<SegmentArg>(),
            Ok(SegmentArg {
                index: Some(2),
                count: 6
            })
        );
        assert_eq!(
            "auto/4".parse::<SegmentArg>(),
            Ok(SegmentArg {
                index: None,
                count: 4
            })
        );
        for bad in ["0/3", "4/3", "1/0", "x/3", "3", "1/99999"] {
            assert!(bad.parse::<SegmentArg>().is_err(), "{bad}");
        }
        assert!(Segment::new(1, 3, vec![1, 1]).is_err());
        assert!(parse_weights("2,0,1").is_err());
        assert_eq!(parse_weights("2, 1,1"), Ok(vec![2, 1, 1]));
    }

    fn scenario(weight: Option<f64>, vus: Option<u32>) -> crate::plan::model::Scenario {
        crate::plan::model::Scenario {
            description: None,
            weight,
            vus,
            steps: Vec::new(),
            on_message: Vec::new(),
            backoff: None,
        }
    }

    /// Random segments: 1 to 16 of them, equal or with random weights.
    fn segments(rng: &mut fastrand::Rng) -> Vec<Segment> {
        let count = rng.u32(1..=16);
        let weights: Vec<u32> = if rng.bool() {
            Vec::new()
        } else {
            (0..count).map(|_| rng.u32(1..=5)).collect()
        };
        (1..=count)
            .map(|i| Segment::new(i, count, weights.clone()).expect("valid"))
            .collect()
    }

    /// A random schedule of linear pieces between 0 and `top`.
    fn schedule(rng: &mut fastrand::Rng, top: u32, arrival: bool) -> crate::schedule::Schedule {
        let mut pieces = Vec::new();
        let mut at = std::time::Duration::ZERO;
        let mut level = f64::from(rng.u32(0..=top));
        for _ in 0..rng.usize(1..=5) {
            let to = if rng.bool() {
                level
            } else {
                f64::from(rng.u32(0..=top))
            };
            let length = std::time::Duration::from_millis(rng.u64(0..=20_000));
            pieces.push(crate::schedule::Piece {
                start: at,
                length,
                from: level,
                to,
            });
            at += length;
            level = to;
        }
        crate::schedule::Schedule { pieces, arrival }
    }

    /// For N = 1…16 segments with random weights and random ramps, at every instant the
    /// segments' VUs (per scenario, so in total too) add up to the plan's split of the
    /// global target; the segments' VU ids are the seats, each held once.
    #[test]
    fn segments_vus_add_up_to_the_plan_at_every_instant() {
        let mut rng = fastrand::Rng::with_seed(1515);
        for round in 0..150 {
            let scenarios: Vec<crate::plan::model::Scenario> = (0..rng.usize(1..=5))
                .map(|_| match rng.u8(0..6) {
                    0 => scenario(None, Some(rng.u32(0..30))),
                    1 => scenario(None, None),
                    _ => scenario(Some(f64::from(rng.u32(1..20)) / 4.0), None),
                })
                .collect();
            let refs: Vec<&crate::plan::model::Scenario> = scenarios.iter().collect();
            let segments = segments(&mut rng);
            let schedule = schedule(&mut rng, 400, false);
            let mut rosters: Vec<Roster> = segments
                .iter()
                .map(|_| Roster::new(Seats::new(&refs)))
                .collect();
            // Each segment's running VUs, (seat, scenario), lowest seat first.
            let mut running: Vec<Vec<(u64, usize)>> = vec![Vec::new(); segments.len()];
            let end = schedule.duration();
            let mut t = std::time::Duration::ZERO;
            loop {
                let target = schedule.vus_at(t);
                let mut counts = vec![0u32; refs.len()];
                let mut ids = Vec::new();
                for ((segment, roster), running) in
                    segments.iter().zip(&mut rosters).zip(&mut running)
                {
                    while running
                        .last()
                        .is_some_and(|(seat, _)| *seat > u64::from(target))
                    {
                        running.pop();
                    }
                    running.extend(roster.retarget(segment, target));
                    assert!(running.iter().all(|(seat, _)| segment.owns(*seat)));
                    assert!(running.windows(2).all(|w| w[0].0 < w[1].0));
                    assert_eq!(
                        running.len() as u64,
                        segment.share(u64::from(split_total(&refs, target)))
                    );
                    for (seat, index) in running.iter() {
                        counts[*index] += 1;
                        ids.push(*seat);
                    }
                }
                let plan = crate::plan::split::split_vus(&refs, target);
                assert_eq!(counts, plan, "round {round} at {t:?}, target {target}");
                ids.sort_unstable();
                let total: u32 = plan.iter().sum();
                assert!(
                    ids.iter().copied().eq(1..=u64::from(total)),
                    "round {round}"
                );
                if t >= end {
                    break;
                }
                t += std::time::Duration::from_millis(rng.u64(1..=700));
                t = t.min(end);
            }
        }
    }

    /// The seats a split of `target` fills (fewer than `target` when only fixed `vus`).
    fn split_total(refs: &[&crate::plan::model::Scenario], target: u32) -> u32 {
        crate::plan::split::split_vus(refs, target).iter().sum()
    }

    /// For N = 1…16 segments with random weights and random arrival rates, the union of
    /// the segments' iterations (due time, scenario) is the single process's schedule.
    #[test]
    fn segments_arrivals_together_are_the_single_schedule() {
        let mut rng = fastrand::Rng::with_seed(2015);
        for round in 0..150 {
            let scenarios: Vec<crate::plan::model::Scenario> = (0..rng.usize(1..=5))
                .map(|_| match rng.u8(0..4) {
                    0 => scenario(None, Some(rng.u32(1..10))),
                    1 => scenario(None, None),
                    _ => scenario(Some(f64::from(rng.u32(1..20)) / 4.0), None),
                })
                .collect();
            let refs: Vec<&crate::plan::model::Scenario> = scenarios.iter().collect();
            let segments = segments(&mut rng);
            let schedule = schedule(&mut rng, 60, true);
            let end = schedule.duration();
            let count = schedule.iterations_by(end).floor() as u64;
            let single: Vec<(u64, std::time::Duration, usize)> =
                crate::plan::split::Arrivals::new(&refs)
                    .zip(1..=count)
                    .map(|(index, n)| (n, schedule.due(n, std::time::Duration::ZERO, end), index))
                    .collect();
            let mut union: Vec<(u64, std::time::Duration, usize)> = Vec::new();
            for segment in &segments {
                let mine: Vec<_> = crate::plan::split::Arrivals::new(&refs)
                    .zip(1..=count)
                    .filter(|(_, n)| segment.owns(*n))
                    .map(|(index, n)| (n, schedule.due(n, std::time::Duration::ZERO, end), index))
                    .collect();
                assert_eq!(mine.len() as u64, segment.share(count), "round {round}");
                union.extend(mine);
            }
            union.sort_by_key(|(n, _, _)| *n);
            assert_eq!(union, single, "round {round}");
        }
    }

    /// With many segments and few scenarios a roster jumps to its next seat instead of
    /// walking the others'; it starts the same seats as a walk would.
    #[test]
    fn a_roster_jumps_over_other_segments_seats() {
        let scenarios = [
            scenario(Some(3.0), None),
            scenario(None, Some(7)),
            scenario(Some(1.0), None),
        ];
        let refs: Vec<&crate::plan::model::Scenario> = scenarios.iter().collect();
        for count in [50, 333] {
            let mut all: Vec<(u64, usize)> = Vec::new();
            for index in 1..=count {
                let segment = Segment::new(index, count, Vec::new()).expect("valid");
                let mut roster = Roster::new(Seats::new(&refs));
                let mut mine = roster.retarget(&segment, 2_000);
                mine.extend(roster.retarget(&segment, 5_000));
                roster.retarget(&segment, 10);
                mine.retain(|(seat, _)| *seat <= 10);
                mine.extend(roster.retarget(&segment, 9_000));
                all.extend(mine);
            }
            all.sort_unstable();
            let walked: Vec<(u64, usize)> = Seats::new(&refs).take(9_000).collect();
            assert_eq!(all, walked);
        }
    }

    /// A segment's VUs per scenario are its seats' scenarios; the segments' add up to the
    /// plan's split.
    #[test]
    fn a_segments_vus_are_its_seats() {
        let scenarios = [scenario(Some(1.0), None), scenario(Some(1.0), None)];
        let refs: Vec<&Scenario> = scenarios.iter().collect();
        let half = |i| Segment::new(i, 2, Vec::new()).expect("valid");
        // Seats alternate between the two scenarios, and so do the segments.
        assert_eq!(half(1).vus(&refs, 7), [4, 0]);
        assert_eq!(half(2).vus(&refs, 7), [0, 3]);
        assert_eq!(Segment::whole().vus(&refs, 7), [4, 3]);
        let sixth = |i| Segment::new(i, 6, Vec::new()).expect("valid");
        let totals: Vec<u32> = (1..=6)
            .map(|i| sixth(i).vus(&refs, 100_000).iter().sum())
            .collect();
        assert_eq!(totals, [16_667, 16_667, 16_667, 16_667, 16_666, 16_666]);
        let big: u32 = sixth(1).vus_estimate(&refs, u32::MAX).iter().sum();
        assert_eq!(u64::from(big), sixth(1).share(u64::from(u32::MAX)));
    }
}
