//! Stage checks: the selected stage exists, every stage reaches a VU, and the weights give
//! every scenario a VU.

use super::{Analyzer, Selection, path, tick_list};
use crate::diag::{Diagnostic, did_you_mean};
use crate::plan::model::{ArrivalSegment, Scenario, Stage};
use crate::plan::split::{peak_vus, split_vus};

impl Analyzer<'_, '_> {
    /// Checks every stage and returns the name of the one the run uses.
    pub(super) fn stages(&mut self, selection: &Selection) -> Option<String> {
        for (name, stage) in &self.plan.stages {
            let at = path!["stages", name.as_str()];
            match stage {
                Stage::Fixed(fixed) => {
                    if fixed.duration.0.is_zero() {
                        self.error(
                            &[at.clone(), path!["duration"]].concat(),
                            format!("stage `{name}` lasts no time: its duration is 0s"),
                            None,
                        );
                    }
                }
                Stage::Ramp(ramp) => {
                    if peak_vus(stage) == 0 {
                        self.error_key(
                            &at,
                            format!("stage `{name}` never has a VU: its ramp stays at 0"),
                            Some("ramp up with a segment like `{to: 10, over: 30s}`".to_owned()),
                        );
                    }
                    let total: std::time::Duration = ramp
                        .ramp
                        .iter()
                        .map(|segment| match segment {
                            crate::plan::model::RampSegment::To(to) => to.over.0,
                            crate::plan::model::RampSegment::Hold(hold) => hold.hold.0,
                        })
                        .sum();
                    if total.is_zero() {
                        self.error_key(
                            &at,
                            format!("stage `{name}` lasts no time: its segments add up to 0s"),
                            None,
                        );
                    }
                }
                Stage::Arrival(arrival) => {
                    let reaches = arrival.start_rate.is_some_and(|r| r.per_second() > 0.0)
                        || arrival.arrival.iter().any(|segment| match segment {
                            ArrivalSegment::To(to) => to.to.per_second() > 0.0,
                            ArrivalSegment::Hold(_) => false,
                        });
                    if !reaches {
                        self.error_key(
                            &at,
                            format!(
                                "stage `{name}` never starts an iteration: its rate stays at 0"
                            ),
                            Some(
                                "ramp the rate up with a segment like `{to: 50/s, over: 30s}`"
                                    .to_owned(),
                            ),
                        );
                    }
                    if let Some(pre) = arrival.pre_allocated_vus
                        && pre > arrival.max_vus
                    {
                        self.error(
                            &[at.clone(), path!["pre_allocated_vus"]].concat(),
                            format!(
                                "`pre_allocated_vus` ({pre}) is above `max_vus` ({})",
                                arrival.max_vus
                            ),
                            None,
                        );
                    }
                }
            }
        }
        match &selection.stage {
            Some(wanted) if !self.plan.stages.contains_key(wanted) => {
                let names: Vec<&str> = self.plan.stages.keys().map(String::as_str).collect();
                let help = did_you_mean(wanted, names.iter().copied())
                    .or_else(|| Some(format!("stages are {}", tick_list(&names))));
                self.diagnostics.push(
                    Diagnostic::error(
                        None,
                        format!(
                            "{} `{wanted}`: no such stage in the plan",
                            if selection.stage_from_variable {
                                "LOADPLAN_STAGE"
                            } else {
                                "--stage"
                            }
                        ),
                    )
                    .with_help(help),
                );
                None
            }
            Some(wanted) => Some(wanted.clone()),
            None => self.plan.stages.keys().next().cloned(),
        }
    }

    /// Warns when a stage leaves a scenario without a VU, or fixed `vus` exceed a stage.
    pub(super) fn weights(&mut self) {
        let names: Vec<&String> = self.plan.scenarios.keys().collect();
        let scenarios: Vec<&Scenario> = self.plan.scenarios.values().collect();
        for (index, scenario) in scenarios.iter().enumerate() {
            if scenario.weight.is_some() && scenario.vus.is_some() {
                self.error_key(
                    &path!["scenarios", names[index].as_str(), "vus"],
                    format!(
                        "scenario `{}` has both `weight` and `vus`: give one",
                        names[index]
                    ),
                    None,
                );
            }
        }
        let fixed: u32 = scenarios.iter().filter_map(|s| s.vus).sum();
        for (stage_name, stage) in &self.plan.stages {
            if matches!(stage, Stage::Arrival(_)) {
                continue;
            }
            let peak = peak_vus(stage);
            if peak == 0 {
                continue;
            }
            if fixed > peak {
                self.warning(
                    &path!["stages", stage_name.as_str()],
                    format!("scenarios with a fixed `vus` need {fixed} VUs, but stage `{stage_name}` has at most {peak}"),
                    None,
                );
            }
            let counts = split_vus(&scenarios, peak);
            for (index, count) in counts.iter().enumerate() {
                let weighted = scenarios[index].vus.is_none();
                if *count == 0 && weighted {
                    self.warning(
                        &path!["scenarios", names[index].as_str()],
                        format!(
                            "scenario `{}` gets no VU in stage `{stage_name}` ({peak} VU{} at most, split by weight)",
                            names[index],
                            if peak == 1 { "" } else { "s" }
                        ),
                        Some("raise its `weight`, or pin it with `vus: 1`".to_owned()),
                    );
                }
            }
        }
    }
}
