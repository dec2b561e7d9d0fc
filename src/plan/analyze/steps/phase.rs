//! `setup:` and `teardown:`: their steps are checked as a scenario's are (templates and
//! names in order, a socket open before WebSocket steps, expects), each with a scope of its
//! own. What setup captures (`as:`) or sets (`set:`) becomes `setup.NAME` for the
//! scenarios and teardown; inside setup, `setup.*` is an error (its values do not exist
//! yet). A `repeat` that only `every` bounds would never end, so it is an error here.

use indexmap::IndexMap;
use serde_json::Value;

use super::super::scope::{Scope, SetupNames};
use super::super::thresholds::Metrics;
use super::{Analyzer, Socket, captures, key_path, path};
use crate::plan::metric::PHASE_SCENARIOS;
use crate::plan::model::{Phase, Step};
use crate::plan::yaml::{Path, Segment};

impl Analyzer<'_, '_> {
    /// Checks `setup:` and `teardown:`, returning what `setup.NAME` can name afterwards.
    pub(super) fn phases(
        &mut self,
        envs: &[(String, Vec<String>)],
        vars: &IndexMap<String, Value>,
        metrics: &mut Metrics,
    ) -> SetupNames {
        let setup = match &self.plan.setup {
            Some(phase) => {
                self.phase("setup", phase, SetupNames::Inside, envs, vars, metrics);
                SetupNames::Names(captures(phase.steps()).into_keys().collect())
            }
            None => SetupNames::None,
        };
        if let Some(phase) = &self.plan.teardown {
            self.phase("teardown", phase, setup.clone(), envs, vars, metrics);
        }
        setup
    }

    fn phase(
        &mut self,
        which: &str,
        phase: &Phase,
        setup: SetupNames,
        envs: &[(String, Vec<String>)],
        vars: &IndexMap<String, Value>,
        metrics: &mut Metrics,
    ) {
        let at = match phase {
            Phase::Steps(_) => path![which],
            Phase::Block(_) => path![which, "steps"],
        };
        let mut scope = Scope::step(envs, vars);
        // A phase's VU picks no `data:` rows: `data.*` is an error here, not an undefined.
        scope.data = false;
        scope.setup = setup;
        scope.later = captures(phase.steps());
        let mut socket = Socket::Closed;
        self.steps(&at, phase.steps(), &mut scope, &mut socket, metrics);
        self.endless_repeats(which, &at, phase.steps());
    }

    /// A `repeat` with neither `count` nor `for` in a phase: it would run until the stage
    /// ends, and a phase has no stage.
    fn endless_repeats(&mut self, which: &str, at: &Path, steps: &[Step]) {
        for (index, step) in steps.iter().enumerate() {
            let mut step_path = at.clone();
            step_path.push(Segment::Index(index));
            if let Step::Repeat(repeat) = step
                && repeat.repeat.count.is_none()
                && repeat.repeat.for_duration.is_none()
                && repeat.repeat.every.is_some()
            {
                self.error_key(
                    &key_path(&step_path, &["repeat"]),
                    format!("a `repeat` in `{which}:` needs `count` or `for`: it would never end"),
                    Some("`every` alone repeats until the stage ends, and `setup:` and `teardown:` run outside the stages".to_owned()),
                );
            }
            if let Some(children) = step.children() {
                self.endless_repeats(which, &key_path(&step_path, &["steps"]), children);
            }
        }
    }

    /// A scenario may not take a phase's name: its samples would carry that phase's tag.
    pub(super) fn phase_scenario_name(&mut self, at: &Path, name: &str) {
        if PHASE_SCENARIOS.contains(&name) {
            self.error_key(
                at,
                format!("`{name}` is a reserved scenario name: `{name}:` steps record under it"),
                Some("rename the scenario".to_owned()),
            );
        }
    }
}
