//! How a stage's VUs are shared out over scenarios.
//!
//! Scenarios with a fixed `vus` take theirs first; the rest is split by `weight` with the
//! Sainte-Laguë (Webster) method: the VUs go to the largest quotients
//! `weight / (j + 0.5)`, j = 0, 1, 2… of each scenario, ties to the scenario written first.
//! Each count stays within about one VU of its exact share, the split is deterministic,
//! always sums to the VUs available, costs O(scenarios × log scenarios) whatever the VU
//! count, and the split of n + 1 VUs is the split of n plus one VU: a ramp up only adds
//! VUs and a ramp down only stops them, never one scenario's VU for another's. (The
//! largest-remainder method, used before, is not so: with weights 63/15/15/7, going from
//! 24 to 25 VUs took a VU from one scenario to give two to others, and the stopped VU
//! finished its long iteration beside its replacement — a 120-VU ramp ran 125.)

use super::model::{Scenario, Stage};

/// VUs per scenario, in the plan's scenario order, when `total` VUs run.
pub fn split_vus(scenarios: &[&Scenario], total: u32) -> Vec<u32> {
    let mut counts = vec![0u32; scenarios.len()];
    let mut left = total;
    for (count, scenario) in counts.iter_mut().zip(scenarios) {
        if let Some(fixed) = scenario.vus {
            *count = fixed.min(left);
            left -= *count;
        }
    }
    let weights = weights(scenarios);
    let given = weighted(&weights, left);
    for (count, more) in counts.iter_mut().zip(given) {
        *count += more;
    }
    counts
}

/// The weights the split deals by, in plan order: 0 for a scenario with fixed `vus`.
fn weights(scenarios: &[&Scenario]) -> Vec<f64> {
    scenarios
        .iter()
        .map(|s| {
            if s.vus.is_some() {
                0.0
            } else {
                s.weight.unwrap_or(1.0).max(0.0)
            }
        })
        .collect()
}

/// `left` VUs dealt by `weights` (Sainte-Laguë), per scenario.
fn weighted(weights: &[f64], left: u32) -> Vec<u32> {
    let sum: f64 = weights.iter().sum();
    if sum <= 0.0 || left == 0 {
        return vec![0; weights.len()];
    }
    // Sainte-Laguë (Webster): the VUs go to the `left` largest of the quotients
    // `weight / (j + 0.5)`, j = 0, 1, 2… for each scenario, ties to the scenario written
    // first. Taking a prefix of one fixed order is what makes the split of n + 1 the
    // split of n plus one VU. Computed without walking the VUs (a plan may ask for
    // billions): first every quotient at least `sum / left`, which is
    // `floor(left × weight / sum + 0.5)` of them per scenario, then at most one VU per
    // scenario added or taken back in that order.
    let mut given: Vec<u32> = weights
        .iter()
        .map(|weight| {
            if *weight > 0.0 {
                // At most `left + 0.5` before the floor: it fits a u32 once capped.
                (f64::from(left) * weight / sum + 0.5)
                    .floor()
                    .min(f64::from(left)) as u32
            } else {
                0
            }
        })
        .collect();
    let mut total: u64 = given.iter().map(|&n| u64::from(n)).sum();
    let quotient = |index: usize, seats: f64| Quotient(weights[index] / seats);
    if total < u64::from(left) {
        // The largest quotient not yet taken, ties to the scenario written first.
        let mut next: std::collections::BinaryHeap<(Quotient, std::cmp::Reverse<usize>)> = (0
            ..weights.len())
            .filter(|&index| weights[index] > 0.0)
            .map(|index| {
                let q = quotient(index, f64::from(given[index]) + 0.5);
                (q, std::cmp::Reverse(index))
            })
            .collect();
        while total < u64::from(left) {
            let Some((_, std::cmp::Reverse(index))) = next.pop() else {
                break;
            };
            given[index] += 1;
            total += 1;
            next.push((
                quotient(index, f64::from(given[index]) + 0.5),
                std::cmp::Reverse(index),
            ));
        }
    } else if total > u64::from(left) {
        // The smallest quotient taken, ties to the scenario written last.
        let mut last: std::collections::BinaryHeap<(std::cmp::Reverse<Quotient>, usize)> = (0
            ..weights.len())
            .filter(|&index| given[index] > 0)
            .map(|index| {
                let q = quotient(index, f64::from(given[index]) - 0.5);
                (std::cmp::Reverse(q), index)
            })
            .collect();
        while total > u64::from(left) {
            let Some((_, index)) = last.pop() else {
                break;
            };
            given[index] -= 1;
            total -= 1;
            if given[index] > 0 {
                let q = quotient(index, f64::from(given[index]) - 0.5);
                last.push((std::cmp::Reverse(q), index));
            }
        }
    }
    given
}

/// A quotient of the split, ordered by `f64::total_cmp` (weights are finite and not
/// negative, so no NaN arises).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Quotient(f64);

impl Eq for Quotient {}

impl PartialOrd for Quotient {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quotient {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The scenario of each global VU seat, seat 1, 2, 3… in order: the first `T` seats'
/// scenarios are exactly [`split_vus`] of `T`, for every `T` — scenarios with a fixed
/// `vus` first, in plan order, then the Sainte-Laguë order of the quotients. A run split
/// in segments starts a VU for each seat its segment owns as the global ramp reaches it.
///
/// Lazy: holds one quotient per scenario, whatever the seat number, and [`Seats::seek`]
/// moves to any seat in O(scenarios × log scenarios) (after a ramp down, the next ramp up
/// continues from where the ramp stopped, not from where the order had got to).
#[derive(Debug, Clone)]
pub struct Seats {
    /// `(scenario, vus)` of the scenarios with fixed `vus`, in plan order.
    fixed: Vec<(usize, u32)>,
    /// Seats the fixed scenarios take, together.
    fixed_total: u64,
    weights: Vec<f64>,
    /// Seats dealt by weight so far, per scenario.
    given: Vec<u32>,
    /// The next quotient of each scenario with a weight, ties to the one written first.
    next: std::collections::BinaryHeap<(Quotient, std::cmp::Reverse<usize>)>,
    /// Seats handed out: the next one is `position + 1`.
    position: u64,
}

impl Seats {
    /// The order of `scenarios`' seats, before seat 1.
    pub fn new(scenarios: &[&Scenario]) -> Self {
        let fixed: Vec<(usize, u32)> = scenarios
            .iter()
            .enumerate()
            .filter_map(|(index, s)| s.vus.map(|vus| (index, vus)))
            .collect();
        let mut seats = Self {
            fixed_total: fixed.iter().map(|(_, vus)| u64::from(*vus)).sum(),
            fixed,
            weights: weights(scenarios),
            given: Vec::new(),
            next: std::collections::BinaryHeap::new(),
            position: 0,
        };
        seats.seek(0);
        seats
    }

    /// How many scenarios the seats go to.
    pub fn scenarios(&self) -> usize {
        self.weights.len()
    }

    /// Seats handed out so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Goes to just after seat `position`: the next seat is `position + 1`.
    pub fn seek(&mut self, position: u32) {
        let left = u64::from(position).saturating_sub(self.fixed_total);
        // Below `position`, which is a u32.
        self.given = weighted(&self.weights, left as u32);
        self.next = (0..self.weights.len())
            .filter(|&index| self.weights[index] > 0.0)
            .map(|index| {
                let seats = f64::from(self.given[index]) + 0.5;
                (
                    Quotient(self.weights[index] / seats),
                    std::cmp::Reverse(index),
                )
            })
            .collect();
        self.position = u64::from(position);
    }
}

impl Iterator for Seats {
    /// `(seat, scenario)`: the seat's number (1-based) and its scenario's index in plan
    /// order. `None` once every seat is given: fixed `vus` only, and all of them taken.
    type Item = (u64, usize);

    fn next(&mut self) -> Option<(u64, usize)> {
        let index = if self.position < self.fixed_total {
            let mut before = 0u64;
            let mut found = None;
            for &(index, vus) in &self.fixed {
                before += u64::from(vus);
                if self.position < before {
                    found = Some(index);
                    break;
                }
            }
            found?
        } else {
            let (_, std::cmp::Reverse(index)) = self.next.pop()?;
            self.given[index] += 1;
            let seats = f64::from(self.given[index]) + 0.5;
            self.next.push((
                Quotient(self.weights[index] / seats),
                std::cmp::Reverse(index),
            ));
            index
        };
        self.position += 1;
        Some((self.position, index))
    }
}

/// The scenario of each iteration of an arrival stage, iteration 1, 2, 3… in order: the
/// one furthest behind its share (`vus` or `weight`), ties to the one written first. Every
/// segment of a split run computes the whole sequence and runs its own iterations, so
/// together they run the single process's.
#[derive(Debug, Clone)]
pub struct Arrivals {
    weights: Vec<f64>,
    started: Vec<f64>,
}

impl Arrivals {
    pub fn new(scenarios: &[&Scenario]) -> Self {
        Self {
            weights: scenarios
                .iter()
                .map(|s| {
                    s.vus
                        .map_or_else(|| s.weight.unwrap_or(1.0), f64::from)
                        .max(0.0)
                })
                .collect(),
            started: vec![0.0; scenarios.len()],
        }
    }
}

impl Iterator for Arrivals {
    /// The scenario's index in plan order; `None` when no scenario has a share.
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let (weights, started) = (&self.weights, &self.started);
        let index = (0..weights.len())
            .filter(|i| weights[*i] > 0.0)
            .min_by(|a, b| (started[*a] / weights[*a]).total_cmp(&(started[*b] / weights[*b])))?;
        self.started[index] += 1.0;
        Some(index)
    }
}

/// The most VUs a stage asks for at any time (for arrival stages, `max_vus`).
pub fn peak_vus(stage: &Stage) -> u32 {
    match stage {
        Stage::Fixed(stage) => stage.vus,
        Stage::Ramp(stage) => stage
            .ramp
            .iter()
            .filter_map(|segment| match segment {
                super::stage::RampSegment::To(to) => Some(to.to),
                super::stage::RampSegment::Hold(_) => None,
            })
            .chain(stage.start_vus)
            .max()
            .unwrap_or(0),
        Stage::Arrival(stage) => stage.max_vus,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(weight: Option<f64>, vus: Option<u32>) -> Scenario {
        Scenario {
            description: None,
            weight,
            vus,
            steps: Vec::new(),
            on_message: Vec::new(),
            backoff: None,
        }
    }

    #[test]
    fn split_by_weight() {
        type Shape<'a> = &'a [(Option<f64>, Option<u32>)];
        let cases: [(Shape, u32, &[u32]); 6] = [
            (
                &[(Some(70.0), None), (Some(15.0), None), (Some(15.0), None)],
                10,
                &[7, 2, 1],
            ),
            (
                &[(Some(70.0), None), (Some(15.0), None), (Some(15.0), None)],
                120,
                &[84, 18, 18],
            ),
            (
                &[(Some(1.0), None), (Some(1.0), None), (Some(1.0), None)],
                2,
                &[1, 1, 0],
            ),
            (
                &[(None, Some(1)), (Some(70.0), None), (Some(30.0), None)],
                11,
                &[1, 7, 3],
            ),
            (&[(None, Some(5)), (Some(1.0), None)], 3, &[3, 0]),
            (&[(Some(70.0), None), (Some(0.1), None)], 100, &[100, 0]),
        ];
        for (shape, total, expected) in cases {
            let scenarios: Vec<Scenario> = shape.iter().map(|(w, v)| scenario(*w, *v)).collect();
            let refs: Vec<&Scenario> = scenarios.iter().collect();
            let counts = split_vus(&refs, total);
            assert_eq!(counts, expected, "{shape:?} with {total}");
            assert_eq!(counts.iter().sum::<u32>(), total.min(counts.iter().sum()));
        }
    }

    /// One more VU is one more VU of one scenario, never a move between scenarios, and
    /// every count is within about one VU of its exact share (the seed's 63/15/15/7 mix is
    /// where the largest-remainder method failed the first).
    #[test]
    fn a_split_only_grows_as_the_vus_grow() {
        let shapes: [&[f64]; 4] = [
            &[63.0, 15.0, 15.0, 7.0],
            &[70.0, 15.0, 15.0],
            &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
            &[0.5, 33.3, 7.0, 0.25, 90.0],
        ];
        for weights in shapes {
            let scenarios: Vec<Scenario> =
                weights.iter().map(|w| scenario(Some(*w), None)).collect();
            let refs: Vec<&Scenario> = scenarios.iter().collect();
            let sum: f64 = weights.iter().sum();
            let mut previous = split_vus(&refs, 0);
            for total in 1..=1_000u32 {
                let counts = split_vus(&refs, total);
                assert_eq!(counts.iter().sum::<u32>(), total, "{weights:?}");
                for ((now, before), weight) in counts.iter().zip(&previous).zip(weights) {
                    assert!(now >= before, "{weights:?}: {previous:?} → {counts:?}");
                    let exact = f64::from(total) * weight / sum;
                    assert!(
                        (f64::from(*now) - exact).abs() < 1.5,
                        "{weights:?} at {total}"
                    );
                }
                previous = counts;
            }
        }
    }

    /// A split costs the same for four billion VUs as for four, over many scenarios too.
    #[test]
    fn a_huge_count_over_many_scenarios_is_split_at_once() {
        let scenarios: Vec<Scenario> = (0..100_000)
            .map(|n| scenario(Some(f64::from(n % 7 + 1)), None))
            .collect();
        let refs: Vec<&Scenario> = scenarios.iter().collect();
        for total in [u32::MAX, 100_000, 99_999, 3] {
            assert_eq!(
                split_vus(&refs, total)
                    .iter()
                    .map(|&n| u64::from(n))
                    .sum::<u64>(),
                u64::from(total)
            );
        }
    }

    /// The first T seats are split_vus of T, for random weights and fixed counts, and a
    /// seek lands where the walk got to.
    #[test]
    fn seats_are_the_split_in_order() {
        let mut rng = fastrand::Rng::with_seed(15);
        for round in 0..200 {
            let count = rng.usize(1..=8);
            let scenarios: Vec<Scenario> = (0..count)
                .map(|_| match rng.u8(0..10) {
                    0 => scenario(None, Some(rng.u32(0..20))),
                    1 => scenario(Some(0.0), None),
                    2..=4 => scenario(Some(f64::from(rng.u32(1..10))), None),
                    5 => scenario(None, None),
                    _ => scenario(Some(rng.f64() * 100.0), None),
                })
                .collect();
            let refs: Vec<&Scenario> = scenarios.iter().collect();
            let limit = if round < 20 { 3_000 } else { 400 };
            let mut seats = Seats::new(&refs);
            let mut counts = vec![0u32; count];
            for total in 1..=limit {
                if let Some((seat, index)) = seats.next() {
                    assert_eq!(seat, u64::from(total));
                    counts[index] += 1;
                }
                assert_eq!(counts, split_vus(&refs, total), "{round}: {total}");
                if total % 97 == 0 {
                    let mut sought = Seats::new(&refs);
                    sought.seek(total);
                    assert_eq!(sought.next(), seats.clone().next(), "{round}: {total}");
                }
            }
        }
    }

    /// A huge seat is found at once, and the seats after it are the split's.
    #[test]
    fn seats_seek_far() {
        let scenarios: Vec<Scenario> = (1..=5)
            .map(|n| scenario(Some(f64::from(n)), None))
            .collect();
        let refs: Vec<&Scenario> = scenarios.iter().collect();
        let mut seats = Seats::new(&refs);
        let from = u32::MAX - 10;
        seats.seek(from);
        let mut counts = split_vus(&refs, from);
        for total in from + 1..=u32::MAX {
            let (seat, index) = seats.next().expect("weighted seats never run out");
            assert_eq!(seat, u64::from(total));
            counts[index] += 1;
            assert_eq!(counts, split_vus(&refs, total));
        }
    }
}
