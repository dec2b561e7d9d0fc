//! JUnit XML for CI: one test suite per run, one test case per threshold. A failed
//! threshold is a `<failure>` whose message carries the value and the limit, so CI systems
//! show them without opening the report. A run that stopped early has one more test case,
//! `run completed`, in error: CI never shows an interrupted run as green.

use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

use super::model::Report;

/// The JUnit XML of `report`.
pub fn render(report: &Report) -> Result<String, quick_junit::SerializeError> {
    let run = &report.run;
    let mut suite = TestSuite::new(format!(
        "{} · {}{}",
        run.plan,
        run.stage,
        run.env
            .as_ref()
            .map(|e| format!(" · {e}"))
            .unwrap_or_default()
    ));
    suite.set_time(std::time::Duration::from_secs_f64(run.duration_s.max(0.0)));
    suite.add_properties([
        Property::new("started", run.started.as_str()),
        Property::new("finished", run.finished.as_str()),
        Property::new("vus_max", run.vus_max.to_string()),
        Property::new("loadplan_version", run.loadplan_version.as_str()),
        Property::new("result", run.result.key()),
    ]);
    if let Some(commit) = &run.git_commit {
        suite.add_property(Property::new("git_commit", commit.as_str()));
    }
    if let Some(label) = &run.label {
        suite.add_property(Property::new("label", label.as_str()));
    }
    if let Some(file) = report.baseline.as_ref().and_then(|b| b.file.as_deref()) {
        suite.add_property(Property::new("baseline", file));
    }
    for threshold in &report.thresholds {
        let status = if threshold.skipped {
            let mut status = TestCaseStatus::skipped();
            if let Some(reason) = &threshold.reason {
                status.set_message(reason.as_str());
            }
            status
        } else if threshold.passed {
            TestCaseStatus::success()
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let message = match (&threshold.reason, threshold.value) {
                (Some(reason), _) => format!("{}: {reason}", threshold.check),
                (None, _) => format!(
                    "{}: value {}, limit {}",
                    threshold.check, threshold.value_text, threshold.limit_text
                ),
            };
            status.set_message(message);
            status.set_type("threshold");
            status
        };
        let mut case = TestCase::new(format!("{} {}", threshold.key, threshold.check), status);
        case.set_classname(format!("{}.{}", run.plan, run.stage));
        case.add_property(Property::new("value", threshold.value_text.as_str()));
        case.add_property(Property::new("limit", threshold.limit_text.as_str()));
        suite.add_test_case(case);
    }
    if run.partial {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(format!(
            "⚠ Partial: the run stopped early ({}); its figures cover only what ran",
            run.stopped_early.as_deref().unwrap_or("stopped early")
        ));
        status.set_type("partial");
        let mut case = TestCase::new("run completed", status);
        case.set_classname(format!("{}.{}", run.plan, run.stage));
        suite.add_test_case(case);
    }
    let mut junit = quick_junit::Report::new("loadplan");
    junit.add_test_suite(suite);
    junit.to_string()
}
