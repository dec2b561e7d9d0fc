//! The terminal summary: a line per metric and a pass/fail line per threshold.

use std::io::{self, Write};

use super::Figures;
use super::format::{self, Style};
use super::model::RunResult;
use crate::results::Results;
use crate::server::ServerKind;
use crate::verdict::{Status, Verdict};

/// What the summary's heading says about the run.
pub struct Heading<'a> {
    pub plan: &'a str,
    pub env: Option<&'a str>,
    pub stage: &'a str,
    pub seconds: f64,
    pub vus_max: u32,
    /// The run compared with (`compared with results/….json (started …, commit …)`), or
    /// why there is none, when the plan asks for one.
    pub baseline: Option<String>,
}

/// The server section: each collected metric's figures, sources that failed, and the
/// derived metrics.
fn server<W: Write>(out: &mut W, results: &Results) -> io::Result<()> {
    if !results.server.is_empty() {
        writeln!(out, "\n  server")?;
    }
    for (name, metric) in &results.server {
        let pair = |label: &str, value: Option<f64>| {
            value.map(|v| format!("{label} {}", format::figure(v)))
        };
        let parts: Vec<String> = match metric.kind {
            None => vec![format!(
                "missing: {}",
                metric.missing.as_deref().unwrap_or("no samples")
            )],
            Some(ServerKind::Counter) => vec![
                pair("delta", metric.delta),
                metric.rate.map(|r| format!("rate {}/s", format::figure(r))),
            ]
            .into_iter()
            .flatten()
            .collect(),
            Some(ServerKind::Gauge) => [
                ("avg", metric.avg),
                ("min", metric.min),
                ("max", metric.max),
                ("start", metric.start),
                ("end", metric.end),
            ]
            .into_iter()
            .filter_map(|(l, v)| pair(l, v))
            .collect(),
            Some(ServerKind::Histogram | ServerKind::Summary) => [
                ("count", metric.count),
                ("avg", metric.avg),
                ("p50", metric.p50),
                ("p95", metric.p95),
                ("p99", metric.p99),
            ]
            .into_iter()
            .filter_map(|(l, v)| pair(l, v))
            .collect(),
        };
        let kind = metric.kind.map_or("", ServerKind::name);
        writeln!(out, "    {name:<48} {kind:<9} {}", parts.join("  "))?;
    }
    let failing: Vec<_> = results
        .sources
        .iter()
        .filter(|(_, s)| s.failed > 0)
        .collect();
    if !failing.is_empty() {
        writeln!(out, "\n  sources with failed samples")?;
        for (name, source) in failing {
            writeln!(
                out,
                "    {name:<20} {:<10} {} of {} samples failed: {}",
                source.kind,
                source.failed,
                source.failed + source.samples,
                source.error.as_deref().unwrap_or("unknown error")
            )?;
        }
    }
    if !results.derived.is_empty() {
        writeln!(out, "\n  derived")?;
        for derived in &results.derived {
            let value = match (derived.value, &derived.reason) {
                (Some(value), _) => format::figure(value),
                (None, Some(reason)) => format!("n/a ({reason})"),
                (None, None) => "n/a".to_owned(),
            };
            writeln!(
                out,
                "    {:<36} {value:<14} = {}",
                derived.name, derived.expression
            )?;
        }
    }
    Ok(())
}

/// The realised share of each step's `chance:` and `if:` (`step_chance`, `step_if` by
/// scenario and `name`): their totals over all steps, in the table above, mix steps of
/// different odds.
fn guards<W: Write>(out: &mut W, results: &Results) -> io::Result<()> {
    let mut lines = Vec::new();
    for (key, data) in &results.series {
        if !matches!(&*key.metric, "step_chance" | "step_if") {
            continue;
        }
        let crate::results::SeriesData::Rate { trues, total } = data else {
            continue;
        };
        let share = if *total == 0 {
            0.0
        } else {
            *trues as f64 / *total as f64
        };
        let name = key.name.as_deref().unwrap_or("-");
        lines.push(format!(
            "    {:<44} {:>9} of {:<9} {}",
            format!("{}{{scenario:{}, name:{name}}}", key.metric, key.scenario),
            trues,
            total,
            format::percent(share, Style::Terminal)
        ));
    }
    if !lines.is_empty() {
        writeln!(out, "\n  steps run (chance: drawn, if: held)")?;
        for line in lines {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// Writes the summary to `out` (the terminal).
pub fn write<W: Write>(
    out: &mut W,
    heading: &Heading<'_>,
    figures: &[Figures],
    verdict: &Verdict,
    results: &Results,
) -> io::Result<()> {
    let errors = &results.errors;
    writeln!(
        out,
        "\n{} · env {} · stage {} · {} · {} VUs max\n",
        heading.plan,
        heading.env.unwrap_or("-"),
        heading.stage,
        format::elapsed(heading.seconds),
        heading.vus_max
    )?;
    if let Some(baseline) = &heading.baseline {
        writeln!(out, "  {baseline}\n")?;
    }
    writeln!(
        out,
        "  {:<30} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "metric", "count", "rate", "min", "avg", "med", "p90", "p95", "p99", "max"
    )?;
    for f in figures {
        let rate = f.rate.map_or(String::new(), format::per_second);
        match (&f.trend, f.share, f.gauge) {
            (Some(t), _, _) => {
                writeln!(
                    out,
                    "  {:<30} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                    f.metric,
                    f.count,
                    rate,
                    format::ms(t.min, Style::Terminal),
                    format::ms(t.avg, Style::Terminal),
                    format::ms(t.med, Style::Terminal),
                    format::ms(t.p90, Style::Terminal),
                    format::ms(t.p95, Style::Terminal),
                    format::ms(t.p99, Style::Terminal),
                    format::ms(t.max, Style::Terminal)
                )?;
            }
            (_, Some(share), _) => {
                writeln!(
                    out,
                    "  {:<30} {:>9} {:>10} {} true",
                    f.metric,
                    f.count,
                    "",
                    format::percent(share, Style::Terminal)
                )?;
            }
            (_, _, Some([last, min, max])) => {
                writeln!(
                    out,
                    "  {:<30} {:>9} {:>10} last {}, min {}, max {}",
                    f.metric,
                    "",
                    "",
                    format::figure(last),
                    format::figure(min),
                    format::figure(max)
                )?;
            }
            _ => {
                writeln!(out, "  {:<30} {:>9} {:>10}", f.metric, f.count, rate)?;
            }
        }
    }
    guards(out, results)?;
    if !results.phases.is_empty() {
        writeln!(out, "\n  phases")?;
        for phase in &results.phases {
            let how = phase
                .error
                .as_deref()
                .map_or_else(|| "ok".to_owned(), |error| format!("failed: {error}"));
            writeln!(
                out,
                "  {:<30} {:>9.3}s  {how}",
                phase.phase, phase.duration_s
            )?;
        }
    }
    if !errors.is_empty() {
        writeln!(out, "\n  errors")?;
        for (kind, tally) in errors.iter() {
            writeln!(out, "    {:>8}  {kind}", tally.count)?;
            for example in &tally.examples {
                writeln!(out, "              e.g. {example}")?;
            }
        }
    }
    server(out, results)?;
    let partial = results.stopped_early.is_some();
    let result = RunResult::of(verdict.passed(), partial, verdict.outcomes.len());
    if !verdict.outcomes.is_empty() {
        writeln!(out, "\n  thresholds")?;
        for outcome in &verdict.outcomes {
            let mark = match outcome.status {
                Status::Skipped { .. } => "-",
                Status::Passed => "✓",
                Status::Failed { .. } => "✗",
            };
            let value = match (outcome.value, outcome.status.reason()) {
                (_, Some(reason)) => reason.to_string(),
                (Some(value), None) => {
                    format::threshold(Some(value), outcome.unit, Style::Terminal)
                }
                (None, None) => String::new(),
            };
            writeln!(
                out,
                "    {mark} {:<36} {:<24} {value}",
                outcome.key, outcome.check
            )?;
        }
        let failed = verdict
            .outcomes
            .iter()
            .filter(|o| !o.status.passed())
            .count();
        writeln!(
            out,
            "\n  {} of {} thresholds passed{} — {}",
            verdict.outcomes.len() - failed,
            verdict.outcomes.len(),
            skipped_note(verdict),
            result.text(partial)
        )?;
    } else {
        writeln!(
            out,
            "\n  no thresholds: nothing was judged{}",
            if partial { " — ⚠ Partial" } else { "" }
        )?;
    }
    Ok(())
}

/// ` (2 skipped: no baseline yet)`, ` (3 skipped: 1 no baseline yet, 2 scenarios not run)`:
/// the skipped thresholds counted by why, or nothing when none was skipped.
fn skipped_note(verdict: &Verdict) -> String {
    use crate::verdict::Reason;
    let (mut no_baseline, mut not_run, mut segment) = (0, 0, 0);
    for outcome in verdict.outcomes.iter().filter(|o| o.status.skipped()) {
        match outcome.status.reason() {
            Some(Reason::ScenarioNotRun(_)) => not_run += 1,
            Some(Reason::Segment) => segment += 1,
            _ => no_baseline += 1,
        }
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    if segment > 0 {
        return format!(" ({segment} skipped: judged by loadplan merge on the whole run)");
    }
    match (no_baseline, not_run) {
        (0, 0) => String::new(),
        (n, 0) => format!(" ({n} skipped: no baseline yet)"),
        (0, n) => format!(" ({n} skipped: scenario{} not run)", plural(n)),
        (b, n) => format!(
            " ({} skipped: {b} no baseline yet, {n} scenario{} not run)",
            b + n,
            plural(n)
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::plan::ThresholdRule;
    use crate::plan::threshold::{parse_check, parse_selector};
    use crate::results::{Sample, Series, SeriesKey};

    fn rule(key: &str, check: &str) -> ThresholdRule {
        let selector = parse_selector(key).unwrap();
        ThresholdRule {
            key: key.into(),
            kind: crate::plan::metric::builtin(&selector.metric).unwrap(),
            selector,
            source: check.into(),
            check: parse_check(check).unwrap(),
            abort_on_fail: false,
            delay_abort: None,
        }
    }

    #[test]
    fn threshold_lines_show_the_figure_in_its_unit() {
        let mut results = Results {
            duration: Duration::from_secs(10),
            ..Results::default()
        };
        let key = |metric: &str| {
            SeriesKey::from(Series {
                metric: metric.into(),
                scenario: "s".into(),
                name: None,
                group: None,
                response: None,
            })
        };
        for ms in [1, 2, 1500] {
            let sample = Sample::Trend(key("http_req_duration"), Duration::from_millis(ms));
            results.record(sample);
        }
        for failed in [true, false, false, false] {
            results.record(Sample::Rate(key("http_req_failed"), failed));
        }
        let rules = [
            rule("http_req_duration", "max < 2s"),
            rule("http_req_failed", "rate < 0.2"),
            rule("http_req_duration", "count == 3"),
            rule("http_req_duration", "p95 < baseline * 1.2"),
        ];
        let mut verdict = crate::verdict::judge(&rules, &results, None);
        verdict.skip_missing_baseline();
        let heading = Heading {
            plan: "p",
            env: None,
            stage: "smoke",
            seconds: 10.0,
            vus_max: 1,
            baseline: None,
        };
        let mut out = Vec::new();
        write(&mut out, &heading, &[], &verdict, &results).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("    ")).collect();
        let ends = [
            "1.50s",
            "25.00%",
            " 3",
            "skipped: no earlier run to compare with yet",
        ];
        for (line, end) in lines.iter().zip(ends) {
            assert!(line.ends_with(end), "{line:?} should end with {end:?}");
        }
        assert!(lines[0].starts_with("    ✓"), "{}", lines[0]);
        assert!(lines[1].starts_with("    ✗"), "{}", lines[1]);
        assert!(lines[3].starts_with("    -"), "{}", lines[3]);
        assert!(
            text.contains("3 of 4 thresholds passed (1 skipped: no baseline yet) — ❌ Fail"),
            "{text}"
        );
    }

    /// A run that stopped early never reads as a pass, with thresholds or without.
    #[test]
    fn a_partial_run_is_marked_partial() {
        let mut results = Results::default();
        let key = SeriesKey::from(Series {
            metric: "http_req_failed".into(),
            scenario: "s".into(),
            name: None,
            group: None,
            response: None,
        });
        results.record(Sample::Rate(key, false));
        results.stopped_early = Some("interrupted (SIGINT)".to_owned());
        let heading = Heading {
            plan: "p",
            env: None,
            stage: "smoke",
            seconds: 1.0,
            vus_max: 1,
            baseline: Some("baseline: none, no earlier complete run".to_owned()),
        };
        let rules = [rule("http_req_failed", "rate < 0.2")];
        for (rules, line) in [
            (&rules[..], "1 of 1 thresholds passed — ⚠ Partial"),
            (&[][..], "no thresholds: nothing was judged — ⚠ Partial"),
        ] {
            let verdict = crate::verdict::judge(rules, &results, None);
            let mut out = Vec::new();
            write(&mut out, &heading, &[], &verdict, &results).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains(line), "{text}");
            assert!(!text.contains("Pass"), "{text}");
            assert!(
                text.contains("  baseline: none, no earlier complete run\n"),
                "{text}"
            );
        }
    }
}
