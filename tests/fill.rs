//! The team's own tables: a copy of seed 004's baselines document has its smoke, scale and
//! sustained tables filled in place by three real runs against the built-in mock
//! (`markdown: { append_to, fill }`), and a CSV history keeps the plan's own columns.

use std::path::Path;
use std::process::Command;

use loadplan::report::format::{self, Style};

use crate::common::{PATIENCE, loadplan_command, root};

/// Seed 004 has Scale and Sustained result tables; a Smoke one of the same shape is added
/// above them (the only line the test adds) so each of the three stages has its own.
const SMOKE_TABLE: &str = "### Smoke Test Results (10 connections)\n\n| Metric | p50 | p95 | p99 | Status |\n|--------|-----|-----|-----|--------|\n| Connection Time | Xms | Xms | Xms | - |\n| Message Latency | Xms | Xms | Xms | - |\n| Broadcast Delivery | Xms | Xms | Xms | - |\n\n";

/// A short plan in the shape of plans/websocket-performance.yaml: ping/pong users and one
/// broadcaster, the three stages one second each.
const PLAN: &str = r####"
name: fill-demo
environments:
  local: { mock: true }
stages:
  smoke: { vus: 2, duration: 1s }
  scale: { vus: 3, duration: 1s }
  sustained: { vus: 2, duration: 1s }
scenarios:
  user:
    weight: 1
    steps:
      - connect: { url: "{{ env.ws_url }}?scope=user&user=u{{ vu }}" }
      - repeat: { every: 50ms }
        steps:
          - send: { json: { type: ping, id: "{{ uuid() }}" } }
            as: ping
          - expect: { json: { type: pong, id: "{{ ping.id }}" }, within: 5s }
    on_message:
      - match: { json: { kind: broadcast, scope: user } }
        correlate: "$.id"
  broadcaster:
    vus: 1
    steps:
      - request:
          method: POST
          url: "{{ env.base_url }}/broadcast"
          json: { kind: broadcast, scope: user, id: "{{ uuid() }}" }
          mark: "$.id"
          expect: { status: 200 }
      - sleep: 50ms
thresholds:
  ws_connect_time: [ "p95 < 5000ms" ]
  ws_message_latency: [ "p95 < 5000ms", "p99 < 10000ms" ]
outputs:
  - json: "results/{{ stage }}.json"
  - markdown:
      append_to: baselines.md
      fill:
        under: "### {{ stage | title }} Test Results"
  - csv:
      file: results/history.csv
      columns:
        stage: stage
        connect_p95_ms: ws_connect_time.p95
        latency_p50_ms: ws_message_latency.p50
        http_errors: http_req_failed.rate
"####;

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut command: Command = loadplan_command();
    command.current_dir(dir).args(args);
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("loadplan starts");
    let started = std::time::Instant::now();
    let output = child.wait_with_output().expect("loadplan exits");
    assert!(
        started.elapsed() < PATIENCE,
        "loadplan {args:?} took too long"
    );
    output
}

/// What the run printed, both streams.
fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned() + &String::from_utf8_lossy(&output.stdout)
}

/// The seed document with a Smoke table above the Scale one (the shipped copy has one).
fn seed_with_smoke() -> String {
    let seed = std::fs::read_to_string(root().join("docs/baselines/websocket-baselines.md"))
        .expect("the seed 004 document is in docs/baselines");
    if seed.contains("### Smoke Test Results") {
        return seed;
    }
    seed.replacen(
        "### Scale Test Results",
        &format!("{SMOKE_TABLE}### Scale Test Results"),
        1,
    )
}

/// The cells a filled row should hold, from the run's results JSON.
fn expected_row(results: &serde_json::Value, label: &str, metric: &str) -> String {
    let figures = results["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["metric"] == metric)
        .unwrap_or_else(|| panic!("{metric} was measured"));
    let ms = |stat: &str| {
        format::ms(
            figures["trend"][stat].as_f64().expect("a trend figure"),
            Style::Document,
        )
    };
    let checks: Vec<bool> = results["thresholds"]
        .as_array()
        .expect("thresholds")
        .iter()
        .filter(|t| t["key"] == metric)
        .map(|t| t["passed"].as_bool().expect("passed"))
        .collect();
    let status = match (checks.is_empty(), checks.iter().all(|p| *p)) {
        (true, _) => "-",
        (false, true) => "✅ Pass",
        (false, false) => "❌ Fail",
    };
    format!(
        "| {label} | {} | {} | {} | {status} |",
        ms("med"),
        ms("p95"),
        ms("p99")
    )
}

#[test]
fn three_runs_fill_the_smoke_scale_and_sustained_tables_of_seed_004() {
    let dir = tempfile::tempdir().unwrap();
    let original = seed_with_smoke();
    std::fs::write(dir.path().join("baselines.md"), &original).unwrap();
    std::fs::write(dir.path().join("plan.yaml"), PLAN).unwrap();
    let mut filled = Vec::new();
    for (stage, heading) in [
        ("smoke", "### Smoke Test Results (10 connections)"),
        ("scale", "### Scale Test Results (100+ connections)"),
        ("sustained", "### Sustained Test Results (5 minutes)"),
    ] {
        let output = run(dir.path(), &["run", "plan.yaml", "--stage", stage]);
        let text = stderr(&output);
        assert!(
            matches!(output.status.code(), Some(0 | 99)),
            "{stage}: {text}"
        );
        assert!(
            text.contains(&format!(
                "wrote the table under `{heading}` in baselines.md"
            )),
            "{stage}: {text}"
        );
        let results: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(format!("results/{stage}.json"))).unwrap(),
        )
        .unwrap();
        filled.push((heading, results));
    }
    let document = std::fs::read_to_string(dir.path().join("baselines.md")).unwrap();
    let (before, after): (Vec<&str>, Vec<&str>) =
        (original.lines().collect(), document.lines().collect());
    assert_eq!(before.len(), after.len(), "{document}");
    let mut changed = Vec::new();
    for (heading, results) in &filled {
        let at = before
            .iter()
            .position(|l| l == heading)
            .expect("the heading is in the document");
        for (offset, label, metric) in [
            (4, "Connection Time", "ws_connect_time"),
            (5, "Message Latency", "ws_message_latency"),
            (6, "Broadcast Delivery", "broadcast_delivery_time"),
        ] {
            let line = at + offset;
            assert_eq!(before[line], format!("| {label} | Xms | Xms | Xms | - |"));
            assert_eq!(
                after[line],
                expected_row(results, label, metric),
                "{heading}"
            );
            changed.push(line);
        }
    }
    // Every other line, and the file's ending, stay byte for byte.
    for (i, (old, new)) in before.iter().zip(&after).enumerate() {
        if !changed.contains(&i) {
            assert_eq!(old, new, "line {} changed", i + 1);
        }
    }
    assert_eq!(document.ends_with('\n'), original.ends_with('\n'));
    // Three rows of the plan's own columns, in the plan's order.
    let history = std::fs::read_to_string(dir.path().join("results/history.csv")).unwrap();
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines[0], "stage,connect_p95_ms,latency_p50_ms,http_errors");
    assert_eq!(lines.len(), 4, "{history}");
    for ((line, (_, results)), stage) in
        lines[1..]
            .iter()
            .zip(&filled)
            .zip(["smoke", "scale", "sustained"])
    {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], stage);
        let p95 = results["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["metric"] == "ws_connect_time")
            .unwrap()["trend"]["p95"]
            .as_f64()
            .unwrap();
        assert_eq!(cells[1], format::csv_number(p95), "{line}");
        assert_eq!(cells[3], "0", "no HTTP request failed: {line}");
    }
}

/// A row or a column the plan cannot match stops the run before any load, naming the plan
/// key, the document and its line; the document is left as it was.
#[test]
fn an_unmatched_row_or_column_stops_before_the_load() {
    let dir = tempfile::tempdir().unwrap();
    let original = seed_with_smoke().replace("| Broadcast Delivery | Xms | Xms | Xms | - |\n\n### Scale", "| Broadcast Delivery | Xms | Xms | Xms | - |\n| Memory | Xms | Xms | Xms | - |\n\n### Scale");
    std::fs::write(dir.path().join("baselines.md"), &original).unwrap();
    std::fs::write(dir.path().join("plan.yaml"), PLAN).unwrap();
    let output = run(
        dir.path(),
        &["run", "plan.yaml", "--stage", "smoke", "--quiet"],
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    let line = original
        .lines()
        .position(|l| l.starts_with("| Memory |"))
        .unwrap()
        + 1;
    assert!(
        text.contains(&format!(
            "error: baselines.md: line {line}: the row `Memory` of the table under `### Smoke Test Results (10 connections)` names no metric"
        )),
        "{text}"
    );
    assert!(
        text.starts_with("plan.yaml:"),
        "located at the plan's `fill`: {text}"
    );
    assert!(!dir.path().join("results").exists(), "nothing ran: {text}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("baselines.md")).unwrap(),
        original
    );
    // The same plan on the seed's Sustained table with a column of its own.
    let renamed = seed_with_smoke().replace(
        "### Sustained Test Results (5 minutes)\n\n| Metric | p50 | p95 | p99 | Status |",
        "### Sustained Test Results (5 minutes)\n\n| Metric | p50 | p95 | p99.9 | Status |",
    );
    std::fs::write(dir.path().join("baselines.md"), &renamed).unwrap();
    let output = run(
        dir.path(),
        &["run", "plan.yaml", "--stage", "sustained", "--quiet"],
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("the column `p99.9` of the table under `### Sustained Test Results (5 minutes)` is not a figure"), "{text}");
}

/// Plan-time checks: unknown metrics and figures in `fill.rows` and `csv.columns` are
/// located with a suggestion; `fill` without `append_to` or beside `under` is refused.
#[test]
fn fill_rows_and_csv_columns_are_checked_when_the_plan_is() {
    let dir = tempfile::tempdir().unwrap();
    let plan = PLAN
        .replace(
            "        under: \"### {{ stage | title }} Test Results\"",
            "        under: \"### {{ stage | title }} Test Results\"\n        rows: { \"Reconnects\": ws_reconect_time, \"Posts\": \"http_req_duration{name:posts}\" }\n        columns: { \"95th\": p959 }",
        )
        .replace("ws_connect_time.p95\n", "ws_connect_time.p96\n")
        .replace("http_req_failed.rate", "http_req_faled.rate")
        .replace("        stage: stage\n", "        stage: stag\n");
    std::fs::write(dir.path().join("plan.yaml"), &plan).unwrap();
    let output = run(dir.path(), &["validate", "plan.yaml"]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    for expected in [
        "unknown metric `ws_reconect_time`",
        "no threshold is on `http_req_duration{name:posts}`",
        "did you mean `ws_reconnect_time`?",
        "`p959` is not a figure a table shows",
        "a trend has no figure `p96`",
        "did you mean `p95`?",
        "unknown metric `http_req_faled`",
        "did you mean `http_req_failed`?",
        "`stag` is neither a run column nor `METRIC.FIGURE`",
        "did you mean `stage`?",
    ] {
        assert!(text.contains(expected), "{expected}:\n{text}");
    }
    let plan = PLAN.replace("      append_to: baselines.md\n", "      under: \"## X\"\n");
    std::fs::write(dir.path().join("plan.yaml"), &plan).unwrap();
    let output = run(dir.path(), &["validate", "plan.yaml"]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("`fill` fills a table of the document given by `append_to`"),
        "{text}"
    );
    assert!(
        text.contains("`under` places a report; with `fill` the output fills a table instead"),
        "{text}"
    );
}

/// An HTTP plan against the mock whose CSV history has `columns`.
fn csv_plan(columns: &str) -> String {
    format!(
        r#"
name: csv-demo
environments:
  local: {{ mock: true }}
stages:
  smoke: {{ vus: 1, duration: 300ms }}
scenarios:
  get:
    steps:
      - request: {{ url: "{{{{ env.base_url }}}}/items", name: items }}
      - sleep: 20ms
outputs:
  - csv: {{ file: history.csv, columns: {columns} }}
"#
    )
}

fn history(dir: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("history.csv"))
        .expect("the run wrote its history")
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

/// The plan's columns, in its order; when the plan changes, the file's columns keep their
/// order, new ones come at the end, and a column the plan dropped stays with empty cells.
#[test]
fn csv_columns_stay_where_they_were_when_the_plan_changes() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    let run_with = |columns: &str| {
        std::fs::write(&plan, csv_plan(columns)).unwrap();
        let output = run(dir.path(), &["run", "plan.yaml", "--quiet"]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    };
    run_with("{ stage: stage, requests: http_reqs.count, p95_ms: http_req_duration.p95 }");
    let rows = history(dir.path());
    assert_eq!(rows[0], ["stage", "requests", "p95_ms"]);
    assert_eq!(rows[1][0], "smoke");
    assert!(rows[1][1].parse::<u64>().unwrap() >= 1, "{rows:?}");
    assert!(rows[1][2].parse::<f64>().unwrap() > 0.0, "{rows:?}");
    // Reordered, one new (errors), one dropped (requests).
    run_with("{ errors: http_req_failed.rate, p95_ms: http_req_duration.p95, stage: stage }");
    let rows = history(dir.path());
    assert_eq!(rows[0], ["stage", "requests", "p95_ms", "errors"]);
    assert_eq!(rows[1].len(), 4, "older rows get an empty cell: {rows:?}");
    assert_eq!(rows[1][3], "");
    assert_eq!(rows[2][0], "smoke");
    assert_eq!(rows[2][1], "", "a dropped column is empty in new rows");
    assert!(rows[2][2].parse::<f64>().unwrap() > 0.0, "{rows:?}");
    assert_eq!(rows[2][3], "0");
}

/// The default history (every column) also keeps an existing file's columns in their
/// order and adds the ones it lacks at the end.
#[test]
fn the_default_csv_keeps_an_existing_files_column_order() {
    let dir = tempfile::tempdir().unwrap();
    let plan = csv_plan("{}").replace(
        "  - csv: { file: history.csv, columns: {} }",
        "  - csv: history.csv",
    );
    std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
    std::fs::write(
        dir.path().join("history.csv"),
        "started,http_reqs.count,stage,team_note\n2026-01-01T00:00:00Z,5,old,kept\n",
    )
    .unwrap();
    let output = run(dir.path(), &["run", "plan.yaml", "--quiet"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let rows = history(dir.path());
    assert_eq!(
        rows[0][..5],
        [
            "started",
            "http_reqs.count",
            "stage",
            "team_note",
            "finished"
        ]
    );
    assert_eq!(rows[1][..4], ["2026-01-01T00:00:00Z", "5", "old", "kept"]);
    assert!(rows[1][4..].iter().all(String::is_empty), "{:?}", rows[1]);
    assert_eq!(rows[2][2], "smoke");
    assert_eq!(rows[2][3], "");
    assert_eq!(rows[0].len(), rows[2].len());
}

/// Every figure a column can show, on an HTTP run: trend figures in milliseconds, a rate
/// metric's share as a percentage, counts, per-second rates, the threshold checks and their
/// status; a kept column and the figures a kind does not have (`-`).
#[test]
fn every_figure_column_is_filled_from_the_results() {
    let dir = tempfile::tempdir().unwrap();
    let doc = "# Run\n\n## Latest HTTP run\n\n| Metric | avg | min | max | p90 | count | rate | Target | Status | Notes |\n|---|---|---|---|---|---|---|---|---|---|\n| HTTP Duration | x | x | x | x | x | x | x | x | by hand |\n| HTTP Errors | x | x | x | x | x | x | x | x | by hand |\n| Requests | x | x | x | x | x | x | x | x | by hand |\n\n## Items\n\n| Metric | p50 | p95 | count | Target | Status |\n|---|---|---|---|---|---|\n| Items | x | x | x | x | x |\n";
    std::fs::write(dir.path().join("doc.md"), doc).unwrap();
    let plan = csv_plan("{ stage: stage }")
        .replace(
            "outputs:\n",
            "thresholds:\n  http_req_duration: [ \"p95 < 5000ms\" ]\n  \"http_req_duration{name:items}\": [ \"p99 < 5000ms\" ]\n  http_req_failed: [ \"rate < 10%\" ]\noutputs:\n  - json: results.json\n  - markdown:\n      append_to: doc.md\n      fill: { under: \"## Latest\", rows: { Requests: http_reqs }, keep: [ notes ] }\n  - markdown:\n      append_to: doc.md\n      fill: { under: \"## Items\", rows: { Items: \"http_req_duration{name:items}\" } }\n",
        );
    std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
    let output = run(dir.path(), &["run", "plan.yaml", "--quiet"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap())
            .unwrap();
    let metric = |name: &str| {
        results["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["metric"] == name)
            .unwrap_or_else(|| panic!("{name} measured"))
            .clone()
    };
    let d = Style::Document;
    let duration = metric("http_req_duration");
    let ms = |stat: &str| format::ms(duration["trend"][stat].as_f64().unwrap(), d);
    let per_second =
        |m: &serde_json::Value| format!("{}/s", format::number(m["rate"].as_f64().unwrap(), d));
    let failed = metric("http_req_failed");
    let requests = metric("http_reqs");
    let expected = doc
        .replace(
            "| HTTP Duration | x | x | x | x | x | x | x | x | by hand |",
            &format!(
                "| HTTP Duration | {} | {} | {} | {} | {} | {} | p95 < 5000ms, http_req_duration{{name:items}}: p99 < 5000ms | ✅ Pass | by hand |",
                ms("avg"),
                ms("min"),
                ms("max"),
                ms("p90"),
                duration["count"],
                per_second(&duration)
            ),
        )
        .replace(
            "| HTTP Errors | x | x | x | x | x | x | x | x | by hand |",
            &format!(
                "| HTTP Errors | - | - | - | - | {} | {} | rate < 10% | ✅ Pass | by hand |",
                failed["count"],
                format::percent(failed["share"].as_f64().unwrap(), d)
            ),
        )
        .replace(
            "| Items | x | x | x | x | x |",
            &format!("| Items | {} | {} | - | p99 < 5000ms | ✅ Pass |", ms("med"), ms("p95")),
        )
        .replace(
            "| Requests | x | x | x | x | x | x | x | x | by hand |",
            &format!(
                "| Requests | - | - | - | - | {} | {} | - | - | by hand |",
                requests["count"],
                per_second(&requests)
            ),
        );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("doc.md")).unwrap(),
        expected
    );
}
