//! How a stage's VUs are shared out over scenarios.
//!
//! Scenarios with a fixed `vus` take theirs first; the rest is split by `weight` with the
//! largest-remainder method: each scenario gets the floor of its exact share, and the VUs
//! left over go to the largest fractional remainders, ties to the scenario written first.
//! The split is deterministic and always sums to the VUs available.

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
    let mut remainders = Vec::new();
    let mut given = 0u32;
    for (index, weight) in weights.iter().enumerate() {
        if *weight == 0.0 {
            continue;
        }
        let exact = f64::from(left) * weight / sum;
        // `exact` is at most `left`, a u32, so the floor fits.
        let floor = exact.floor() as u32;
        counts[index] += floor;
        given += floor;
        remainders.push((exact - f64::from(floor), index));
    }
    remainders.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, index) in remainders.into_iter().take((left - given) as usize) {
        counts[index] += 1;
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
    fn largest_remainder_split() {
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
}
