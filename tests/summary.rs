//! The terminal summary fits the terminal: a real run against the mock, its stdout at
//! `COLUMNS=80`, `120` and a hostile `10`, checked line by line against the width and
//! figure by figure against the results JSON.

use serde_json::Value;

use crate::common::loadplan_command;

/// An HTTP-only plan against the built-in mock.
const HTTP_PLAN: &str = r#"
name: summary-http
environments:
  local: { mock: true }
stages:
  smoke: { vus: 2, duration: 1s }
scenarios:
  browse:
    steps:
      - request: { url: "{{ env.base_url }}/items?delay=1", expect: { status: 200 }, name: items }
thresholds:
  http_req_failed: [ "rate < 1%" ]
  "http_req_duration{name:items}": [ "p95 < 2s" ]
"#;

/// Runs `plan` with `COLUMNS=columns`: its stdout and its results JSON.
fn run(plan: &str, columns: &str) -> (String, Value) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("plan.yaml");
    std::fs::write(&file, plan).expect("the plan is written");
    let results = dir.path().join("results.json");
    let output = loadplan_command()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(format!("json={}", results.display()))
        .env("COLUMNS", columns)
        .output()
        .expect("loadplan runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json = std::fs::read_to_string(&results).expect("the results are written");
    (
        stdout,
        serde_json::from_str(&json).expect("the results are JSON"),
    )
}

/// The metric table's header and rows, split into cells.
fn table(stdout: &str) -> (Vec<&str>, Vec<Vec<&str>>) {
    let mut lines = stdout
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("metric"));
    let header = lines
        .next()
        .expect("a header line")
        .split_whitespace()
        .collect();
    let rows = lines
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect();
    (header, rows)
}

fn trend<'a>(results: &'a Value, metric: &str) -> &'a Value {
    results["metrics"]
        .as_array()
        .and_then(|m| m.iter().find(|f| f["metric"] == metric))
        .map(|f| &f["trend"])
        .unwrap_or_else(|| panic!("{metric} in the results"))
}

#[test]
fn the_summary_fits_80_and_120_columns_and_matches_the_results() {
    for (columns, width) in [("80", 80), ("120", 120)] {
        let (stdout, results) = run(HTTP_PLAN, columns);
        for line in stdout.lines() {
            assert!(
                console::measure_text_width(line) <= width,
                "longer than {width}: {line:?}\n{stdout}"
            );
        }
        let (header, rows) = table(&stdout);
        for column in ["metric", "count", "avg", "p95", "p99", "max"] {
            assert!(header.contains(&column), "{column} at {width}: {header:?}");
        }
        if width == 120 {
            assert_eq!(
                header,
                [
                    "metric", "count", "rate", "min", "avg", "med", "p90", "p95", "p99", "max"
                ]
            );
        }
        // Each trend row is one line: a name and one cell per column.
        for metric in [
            "http_req_duration",
            "http_req_waiting",
            "iteration_duration",
        ] {
            let row = rows
                .iter()
                .find(|r| r[0] == metric)
                .unwrap_or_else(|| panic!("a {metric} row\n{stdout}"));
            assert_eq!(row.len(), header.len(), "{metric}: {row:?}\n{stdout}");
        }
        let duration = rows
            .iter()
            .find(|r| r[0] == "http_req_duration")
            .expect("a http_req_duration row");
        let p95 = header
            .iter()
            .position(|c| *c == "p95")
            .expect("a p95 column");
        let expected = loadplan::report::format::ms(
            trend(&results, "http_req_duration")["p95"]
                .as_f64()
                .expect("p95 is a number"),
            loadplan::report::format::Style::Terminal,
        );
        assert_eq!(duration[p95], expected, "{stdout}");
        // An HTTP-only plan: no WebSocket rows, errors kept as 0.
        assert!(
            rows.iter().all(|r| !r[0].starts_with("ws_")),
            "ws_ rows in an HTTP-only plan:\n{stdout}"
        );
        assert!(
            rows.iter().any(|r| r[..2] == ["errors", "0"]),
            "errors kept as 0:\n{stdout}"
        );
    }
}

/// A terminal 10 columns wide: every line cut to 10, nothing wraps, nothing panics.
#[test]
fn a_ten_column_terminal_gets_lines_cut_to_ten() {
    let (stdout, _) = run(HTTP_PLAN, "10");
    assert!(stdout.contains("metric"), "{stdout}");
    for line in stdout.lines() {
        assert!(console::measure_text_width(line) <= 10, "{line:?}");
    }
    // Junk in COLUMNS is ignored (the default width, 100).
    let (stdout, _) = run(HTTP_PLAN, "wide");
    assert!(
        stdout
            .lines()
            .all(|l| console::measure_text_width(l) <= 100),
        "{stdout}"
    );
}
