//! The JSON results: run metadata, every metric's figures, the thresholds' outcomes, the
//! errors and the per-second timeline. Holds no template values, so no secret.

use serde::Serialize;

use super::Figures;
use crate::results::{Results, Second};
use crate::verdict::{Outcome, Verdict};

#[derive(Serialize)]
pub struct Document<'a> {
    pub plan: &'a str,
    pub env: Option<&'a str>,
    pub stage: &'a str,
    pub loadplan_version: &'static str,
    pub duration_s: f64,
    pub vus_max: u32,
    pub passed: bool,
    pub metrics: &'a [Figures],
    pub thresholds: &'a [Outcome],
    pub errors: &'a std::collections::BTreeMap<String, u64>,
    pub timeline: &'a [Second],
}

impl<'a> Document<'a> {
    pub fn new(
        plan: &'a str,
        env: Option<&'a str>,
        stage: &'a str,
        results: &'a Results,
        figures: &'a [Figures],
        verdict: &'a Verdict,
    ) -> Self {
        Self {
            plan,
            env,
            stage,
            loadplan_version: env!("CARGO_PKG_VERSION"),
            duration_s: results.duration.as_secs_f64(),
            vus_max: results.vus_max,
            passed: verdict.passed(),
            metrics: figures,
            thresholds: &verdict.outcomes,
            errors: &results.errors,
            timeline: &results.timeline,
        }
    }
}
