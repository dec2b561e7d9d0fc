//! How a stage's VUs are shared out over scenarios.
//!
//! Scenarios with a fixed `vus` take theirs first; the rest is split by `weight`, one VU at
//! a time: the n-th weighted VU goes to the scenario furthest below its exact share of n
//! (ties to the scenario written first). Each count stays within one VU of its exact share,
//! the split is deterministic and always sums to the VUs available, and the split of n + 1
//! VUs is the split of n plus one VU: a ramp up only adds VUs, a ramp down only stops them,
//! never one scenario's VU for another's. (The largest-remainder method, used before, is
//! not so: with weights 63/15/15/7 going from 24 to 25 VUs takes a VU from one scenario to
//! give two to others, and a stopped VU finishing a long iteration ran beside its
//! replacement — a 120-VU ramp ran 125.)

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
    let weights: Vec<f64> = scenarios
        .iter()
        .map(|s| {
            if s.vus.is_some() {
                0.0
            } else {
                s.weight.unwrap_or(1.0).max(0.0)
            }
        })
        .collect();
    let sum: f64 = weights.iter().sum();
    if sum <= 0.0 || left == 0 {
        return counts;
    }
    let mut given = vec![0u32; scenarios.len()];
    for n in 1..=left {
        let share = f64::from(n) / sum;
        let mut furthest: Option<(f64, usize)> = None;
        for (index, weight) in weights.iter().enumerate() {
            if *weight == 0.0 {
                continue;
            }
            let behind = weight * share - f64::from(given[index]);
            if furthest.is_none_or(|(most, _)| behind > most) {
                furthest = Some((behind, index));
            }
        }
        // `sum > 0`, so some weight is above zero and a scenario is found.
        if let Some((_, index)) = furthest {
            given[index] += 1;
        }
    }
    for (count, more) in counts.iter_mut().zip(given) {
        *count += more;
    }
    counts
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
    /// every count is within one VU of its exact share (the seed's 63/15/15/7 mix is where
    /// the largest-remainder method failed the first).
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
                        (f64::from(*now) - exact).abs() < 1.0,
                        "{weights:?} at {total}"
                    );
                }
                previous = counts;
            }
        }
    }
}
