//! The command line's changes to a plan's load shape: `--vus` and `--duration` reshape the
//! selected stage, `--scenario` keeps VUs for the scenarios named. Applied to the typed
//! plan before the analyzer checks it, so every check (and the run) sees the effective plan.
//!
//! | stage   | `--vus N`                                  | `--duration D`                         |
//! |---------|--------------------------------------------|----------------------------------------|
//! | fixed   | `vus: N`                                   | `duration: D`                          |
//! | ramp    | every target scaled so that the peak is N  | every segment scaled so they total D   |
//! | arrival | `max_vus: N` (rates are the stage's shape) | every segment scaled so they total D   |

use super::analyze::{Selection, tick_list};
use super::model::Plan;
use super::split::peak_vus;
use super::stage::{ArrivalSegment, RampSegment, Stage};
use super::units::Duration;
use crate::diag::{Diagnostic, did_you_mean};

/// What the command line changed, for the run's header: `--vus 5, --duration 10s`.
pub fn describe(selection: &Selection) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(vus) = selection.vus {
        parts.push(format!("--vus {vus}"));
    }
    if let Some(duration) = selection.duration {
        parts.push(format!("--duration {duration}"));
    }
    if !selection.scenarios.is_empty() {
        parts.push(format!("--scenario {}", selection.scenarios.join(",")));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Applies `selection`'s overrides to `plan`; an unknown `--scenario` is an error.
pub fn apply(plan: &mut Plan, selection: &Selection) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    if !selection.scenarios.is_empty() {
        let names: Vec<&str> = plan.scenarios.keys().map(String::as_str).collect();
        for wanted in &selection.scenarios {
            if !plan.scenarios.contains_key(wanted) {
                let help = did_you_mean(wanted, names.iter().copied())
                    .or_else(|| Some(format!("scenarios are {}", tick_list(&names))));
                diagnostics.push(
                    Diagnostic::error(
                        None,
                        format!("--scenario `{wanted}`: no such scenario in the plan"),
                    )
                    .with_help(help),
                );
            }
        }
        for (name, scenario) in &mut plan.scenarios {
            if !selection.scenarios.contains(name) {
                scenario.weight = None;
                scenario.vus = Some(0);
            }
        }
    }
    let stage_name = selection
        .stage
        .clone()
        .or_else(|| plan.stages.keys().next().cloned());
    if let Some(stage) = stage_name.and_then(|name| plan.stages.get_mut(&name)) {
        if let Some(vus) = selection.vus {
            set_vus(stage, vus);
        }
        if let Some(duration) = selection.duration {
            set_duration(stage, duration);
        }
    }
    diagnostics
}

fn set_vus(stage: &mut Stage, vus: u32) {
    let peak = peak_vus(stage);
    let scale = |n: u32| -> u32 {
        if peak == 0 {
            return n;
        }
        // At most `vus`: n ≤ peak, so the product over peak fits a u32.
        (u64::from(n) * u64::from(vus) + u64::from(peak) / 2)
            .checked_div(u64::from(peak))
            .and_then(|scaled| u32::try_from(scaled).ok())
            .unwrap_or(vus)
    };
    match stage {
        Stage::Fixed(fixed) => fixed.vus = vus,
        Stage::Ramp(ramp) => {
            ramp.start_vus = ramp.start_vus.map(scale);
            for segment in &mut ramp.ramp {
                if let RampSegment::To(to) = segment {
                    to.to = scale(to.to);
                }
            }
        }
        Stage::Arrival(arrival) => {
            arrival.max_vus = vus;
            arrival.pre_allocated_vus = arrival.pre_allocated_vus.map(|pre| pre.min(vus));
        }
    }
}

fn set_duration(stage: &mut Stage, duration: Duration) {
    let mut times: Vec<&mut Duration> = match stage {
        Stage::Fixed(fixed) => {
            fixed.duration = duration;
            return;
        }
        Stage::Ramp(ramp) => ramp
            .ramp
            .iter_mut()
            .map(|segment| match segment {
                RampSegment::To(to) => &mut to.over,
                RampSegment::Hold(hold) => &mut hold.hold,
            })
            .collect(),
        Stage::Arrival(arrival) => arrival
            .arrival
            .iter_mut()
            .map(|segment| match segment {
                ArrivalSegment::To(to) => &mut to.over,
                ArrivalSegment::Hold(hold) => &mut hold.hold,
            })
            .collect(),
    };
    let total: f64 = times.iter().map(|t| t.0.as_secs_f64()).sum();
    if total <= 0.0 {
        return;
    }
    let factor = duration.0.as_secs_f64() / total;
    let count = times.len();
    let mut given = std::time::Duration::ZERO;
    for (index, time) in times.iter_mut().enumerate() {
        // The last segment takes what is left, so the segments add up to `duration` exactly.
        time.0 = if index + 1 == count {
            duration.0.saturating_sub(given)
        } else {
            std::time::Duration::from_secs_f64(time.0.as_secs_f64() * factor)
                .min(duration.0.saturating_sub(given))
        };
        given += time.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp() -> Stage {
        serde_json::from_value(serde_json::json!({
            "start_vus": 10,
            "ramp": [ {"to": 120, "over": "30s"}, {"hold": "2m"}, {"to": 0, "over": "30s"} ]
        }))
        .expect("a ramp stage")
    }

    #[test]
    fn ramp_scales_to_the_peak_and_the_total() {
        let mut stage = ramp();
        set_vus(&mut stage, 12);
        set_duration(&mut stage, Duration::from_secs(18));
        let Stage::Ramp(ramp) = &stage else {
            panic!("still a ramp")
        };
        assert_eq!(ramp.start_vus, Some(1));
        let shape: Vec<(Option<u32>, u64)> = ramp
            .ramp
            .iter()
            .map(|segment| match segment {
                RampSegment::To(to) => (Some(to.to), to.over.0.as_millis() as u64),
                RampSegment::Hold(hold) => (None, hold.hold.0.as_millis() as u64),
            })
            .collect();
        assert_eq!(shape, [(Some(12), 3000), (None, 12000), (Some(0), 3000)]);
        assert_eq!(peak_vus(&stage), 12);
    }

    #[test]
    fn fixed_and_arrival_stages_take_the_values() {
        let mut fixed: Stage =
            serde_json::from_value(serde_json::json!({"vus": 10, "duration": "30s"})).unwrap();
        set_vus(&mut fixed, 2);
        set_duration(&mut fixed, Duration::from_secs(1));
        assert!(
            matches!(&fixed, Stage::Fixed(f) if f.vus == 2 && f.duration == Duration::from_secs(1))
        );
        let mut arrival: Stage = serde_json::from_value(serde_json::json!({
            "arrival": [ {"to": "50/s", "over": "10s"}, {"hold": "30s"} ],
            "max_vus": 100, "pre_allocated_vus": 50
        }))
        .unwrap();
        set_vus(&mut arrival, 20);
        set_duration(&mut arrival, Duration::from_secs(4));
        let Stage::Arrival(arrival) = &arrival else {
            panic!("still arrival")
        };
        assert_eq!((arrival.max_vus, arrival.pre_allocated_vus), (20, Some(20)));
        let total: std::time::Duration = arrival
            .arrival
            .iter()
            .map(|s| match s {
                ArrivalSegment::To(to) => to.over.0,
                ArrivalSegment::Hold(hold) => hold.hold.0,
            })
            .sum();
        assert_eq!(total, std::time::Duration::from_secs(4));
    }
}
