//! Reports from hand-made results (never live timings): golden Markdown, custom template,
//! JUnit and CSV; documents updated through `loadplan report` (seed 004's document end to
//! end, concurrent appends, errors that leave the file untouched); and one `loadplan run`
//! that writes every kind of output.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use loadplan::plan::{self, Selection};
use loadplan::report::json::{Meta, RunDocument};
use loadplan::report::model::{Report, ReportOptions};
use loadplan::report::outputs::{MarkdownTarget, render_markdown};
use loadplan::report::{history, junit};
use loadplan::results::{ErrorKind, Results, Sample, Second, SeriesKey, Status};

use crate::common::{golden, root};

const PLAN: &str = r#"
name: fixture
environments:
  local: { mock: true }
stages:
  smoke: { vus: 10, duration: 30s }
scenarios:
  user:
    steps:
      - connect: "{{ env.ws_url }}"
      - request: { method: POST, url: "{{ env.base_url }}/broadcast", name: broadcast }
      - request: { url: "{{ env.base_url }}/stats", name: stats }
thresholds:
  ws_connect_time: [ "p95 < 2000ms", "p99 < 5000ms" ]
  ws_connect_errors: [ "count < 10" ]
  ws_message_latency: [ "p95 < 10ms" ]
  broadcast_delivery_time: [ "p95 < 500ms" ]
  broadcast_delivered: [ "rate > 95%" ]
  "http_req_duration{name:broadcast}": [ "p95 < 300ms" ]
  http_req_failed: [ "rate < 5%" ]
  "ws_connect_time#regression": [ "p95 < baseline * 1.2" ]
"#;

fn key(metric: &str, name: Option<&str>) -> SeriesKey {
    SeriesKey::from(loadplan::results::Series {
        metric: metric.into(),
        scenario: "user".into(),
        name: name.map(Into::into),
        group: None,
        response: None,
    })
}

/// A 30-second run whose latencies are `1..=100` × a per-metric step × `scale` ms.
fn results(scale: f64, with_messages: bool) -> Results {
    let mut results = Results {
        duration: Duration::from_secs(30),
        vus_max: 10,
        ..Results::default()
    };
    let ms = |v: f64| Duration::from_micros((v * scale * 1000.0) as u64);
    for i in 1..=100 {
        let i = f64::from(i);
        results.record(Sample::Trend(key("ws_connect_time", Some("user")), ms(i)));
        if with_messages {
            results.record(Sample::Trend(key("ws_message_latency", None), ms(i * 0.1)));
        }
        results.record(Sample::Trend(
            key("broadcast_delivery_time", None),
            ms(i * 2.0),
        ));
        results.record(Sample::Trend(
            key("http_req_duration", Some("broadcast")),
            ms(i * 0.5),
        ));
        results.record(Sample::Trend(
            key("http_req_duration", Some("stats")),
            ms(i * 0.2),
        ));
        results.record(Sample::Rate(key("broadcast_delivered", None), i > 1.0));
        results.record(Sample::Rate(key("http_req_failed", None), false));
    }
    results.record(Sample::Count(key("http_reqs", None), 200));
    results.gauge(key("ws_connections_active", None), 10.0);
    let redactor = loadplan::redact::Redactor::default();
    for _ in 0..2 {
        results.errors.add(ErrorKind::Timeout, None, &redactor);
    }
    results.errors.add(
        ErrorKind::Handshake(Status::new(403)),
        Some("403 Forbidden <b>|</b> `x`"),
        &redactor,
    );
    results.timeline = (0..30)
        .map(|at| Second {
            at_s: at,
            vus: (at as u32 + 1).min(10),
            requests: 7,
            p50_ms: Some(5.0 * scale),
            p95_ms: Some(9.0 * scale + at as f64 / 10.0),
            p99_ms: (at != 12).then_some(14.0 * scale),
            ..Second::default()
        })
        .collect();
    results
}

/// The results document of a run started `at` seconds after a fixed day, `scale` × slower.
fn run(scale: f64, at: u64, baseline: Option<&RunDocument>, with_messages: bool) -> RunDocument {
    run_judged(scale, at, baseline, with_messages, |_| {})
}

/// As [`run`], with `adjust` applied to the verdict (as `loadplan run` does for a first run).
fn run_judged(
    scale: f64,
    at: u64,
    baseline: Option<&RunDocument>,
    with_messages: bool,
    adjust: impl FnOnce(&mut loadplan::verdict::Verdict),
) -> RunDocument {
    let (checked, diagnostics) = plan::load(PLAN, &Selection::default());
    let checked = checked.unwrap_or_else(|| panic!("{diagnostics:?}"));
    let results = results(scale, with_messages);
    let base = baseline.map(|b| b.results().expect("the baseline's histograms decode"));
    let mut verdict = loadplan::verdict::judge(&checked.thresholds, &results, base.as_ref());
    adjust(&mut verdict);
    let figures = loadplan::report::figures(&results);
    let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000 + at);
    let meta = Meta {
        plan: "fixture",
        plan_file: Some("plans/fixture.yaml"),
        env: Some("local"),
        stage: "smoke",
        started,
        finished: started + Duration::from_secs(30),
        label: None,
        git_commit: None,
    };
    let mut document = RunDocument::new(&meta, &results, &figures, &verdict);
    document.git_commit = Some("0123456789abcdef0123".into());
    document.loadplan_version = "0.0.0-test".into();
    document
}

fn golden_dir() -> PathBuf {
    root().join("tests/golden/report")
}

fn check(name: &str, actual: &str) {
    if let Err(message) = golden(&golden_dir().join(name), actual) {
        panic!("{message}");
    }
}

#[test]
fn default_markdown() {
    let first = run(1.0, 0, None, true);
    let target = MarkdownTarget::default();
    let options = ReportOptions::default();
    let (block, row) = render_markdown(
        &target,
        &first,
        None,
        &options,
        Some("doc-smoke.svg".into()),
    )
    .unwrap();
    check("default.md", &format!("{block}\n{row}\n"));
    let second = run(1.1, 86_400, Some(&first), true);
    let (block, row) = render_markdown(&target, &second, Some(&first), &options, None).unwrap();
    check("with-baseline.md", &format!("{block}\n{row}\n"));
    let mut dirty = second.clone();
    dirty.git_commit = Some("0123456789abcdef0123-dirty".into());
    let (block, _) = render_markdown(&target, &dirty, None, &options, None).unwrap();
    assert!(block.contains("commit `0123456789ab-dirty`"), "{block}");
}

#[test]
fn custom_template() {
    let first = run(1.0, 0, None, true);
    let second = run(0.9, 3600, Some(&first), true);
    let template = std::fs::read_to_string(golden_dir().join("custom.md.j2")).unwrap();
    let target = MarkdownTarget {
        template: Some(("custom.md.j2".into(), template)),
        regression_factor: Some(1.5),
        ..MarkdownTarget::default()
    };
    let options = ReportOptions {
        label: Some("after cache fix".into()),
        ..ReportOptions::default()
    };
    let (block, _) = render_markdown(&target, &second, Some(&first), &options, None).unwrap();
    check("custom.md", &block);
    // A misspelt field is an error naming the template and line, not an empty cell.
    let target = MarkdownTarget {
        template: Some(("bad.md.j2".into(), "ok\n{{ run.nope }}\n".into())),
        ..MarkdownTarget::default()
    };
    let error = render_markdown(&target, &second, None, &options, None).unwrap_err();
    assert!(
        error.to_string().starts_with("bad.md.j2:2: template error"),
        "{error}"
    );
}

#[test]
fn junit_xml() {
    let first = run(1.0, 0, None, true);
    let second = run(1.1, 60, Some(&first), true);
    let report = Report::new(&second, Some(&first), &ReportOptions::default()).unwrap();
    let xml = junit::render(&report).unwrap();
    check("junit.xml", &xml);
    assert_eq!(xml.matches("<testcase").count(), 9);
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert!(
        xml.contains("p95 &lt; 10ms: value 10.5ms, limit 10ms"),
        "{xml}"
    );
}

#[test]
fn a_first_run_marks_its_baseline_checks_skipped() {
    // `baseline: latest` found no earlier run: the `baseline * k` checks are not judged.
    let first = run_judged(1.0, 0, None, true, |verdict| {
        verdict.skip_missing_baseline()
    });
    let report = Report::new(&first, None, &ReportOptions::default()).unwrap();
    let regression = report.thresholds.iter().filter(|t| t.regression).count();
    assert!(regression > 0);
    let xml = junit::render(&report).unwrap();
    assert_eq!(xml.matches("<skipped").count(), regression, "{xml}");
    assert!(xml.contains("no earlier run to compare with yet"), "{xml}");
    assert_eq!(xml.matches("<failure").count(), 0, "{xml}");
    let (block, _) = render_markdown(
        &MarkdownTarget::default(),
        &first,
        None,
        &ReportOptions::default(),
        None,
    )
    .unwrap();
    assert_eq!(block.matches("- ⏭️").count(), regression, "{block}");
}

#[test]
fn csv_history_grows_columns_at_the_end() {
    let first = run(1.0, 0, None, false);
    let second = run(1.1, 60, Some(&first), true);
    let options = ReportOptions::default();
    let one = history::append("", &Report::new(&first, None, &options).unwrap()).unwrap();
    assert!(!one.contains("ws_message_latency"));
    let two =
        history::append(&one, &Report::new(&second, Some(&first), &options).unwrap()).unwrap();
    let header: Vec<&str> = two.lines().next().unwrap().split(',').collect();
    let old: Vec<&str> = one.lines().next().unwrap().split(',').collect();
    assert_eq!(
        &header[..old.len()],
        &old[..],
        "old columns keep their place"
    );
    assert!(
        header[old.len()..]
            .iter()
            .all(|c| c.starts_with("ws_message_latency."))
    );
    let rows: Vec<&str> = two.lines().collect();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.split(',').count() == header.len()));
    let three = history::append(&two, &Report::new(&second, None, &options).unwrap()).unwrap();
    assert!(
        three.starts_with(&two),
        "same columns: the file only grows by a row"
    );
    check("history.csv", &three);
    assert!(history::append("a,b\n1,2\n", &Report::new(&first, None, &options).unwrap()).is_err());
}

/// Writes the fixture runs as results files in `dir`.
pub fn results_files(dir: &Path) -> (PathBuf, PathBuf) {
    let first = run(1.0, 0, None, true);
    let second = run(1.1, 86_400, Some(&first), true);
    let a = dir.join("first.json");
    let b = dir.join("second.json");
    for (file, run) in [(&a, &first), (&b, &second)] {
        let text = serde_json::to_string(run).expect("a results document serialises");
        std::fs::write(file, text).expect("the results file is written");
    }
    (a, b)
}

pub fn loadplan_in(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_loadplan"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("loadplan runs")
}

#[test]
fn seed_004_document_updated_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("websocket-baselines.md");
    std::fs::copy(root().join("docs/baselines/websocket-baselines.md"), &doc).unwrap();
    let (first, second) = results_files(dir.path());
    let doc_arg = doc.display().to_string();
    let latest = |results: &Path, baseline: Option<&Path>| {
        let mut args = vec![
            "report".to_owned(),
            results.display().to_string(),
            "--append-to".into(),
            doc_arg.clone(),
            "--under".into(),
            "## Production Baseline Template".into(),
            "--section".into(),
            "latest-results".into(),
        ];
        if let Some(b) = baseline {
            args.extend(["--baseline".into(), b.display().to_string()]);
        }
        args
    };
    let history = |results: &Path, baseline: Option<&Path>| {
        let mut args = vec![
            "report".to_owned(),
            results.display().to_string(),
            "--append-to".into(),
            doc_arg.clone(),
            "--under".into(),
            "## Historical Results".into(),
        ];
        if let Some(b) = baseline {
            args.extend(["--baseline".into(), b.display().to_string()]);
        }
        args
    };
    for args in [
        latest(&first, None),
        history(&first, None),
        latest(&second, Some(&first)),
        history(&second, Some(&first)),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = loadplan_in(dir.path(), &args);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = std::fs::read_to_string(&doc).unwrap();
    check("websocket-baselines.md", &text);
    assert_eq!(
        text.matches("<!-- loadplan:begin latest-results -->")
            .count(),
        1
    );
    let svg = std::fs::read_to_string(dir.path().join("websocket-baselines-smoke.svg")).unwrap();
    assert!(svg.starts_with("<svg"));
}

#[test]
fn four_concurrent_reports_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("doc.md");
    std::fs::write(
        &doc,
        "# Doc\n\n## Historical Results\n\n| Date | Environment | Mode | Connections | p95 Conn Time | p95 Broadcast | Pass/Fail |\n|---|---|---|---|---|---|---|\n\n## After\n",
    )
    .unwrap();
    let (first, _) = results_files(dir.path());
    let children: Vec<_> = (0..4)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_loadplan"))
                .args(["report", first.to_str().unwrap(), "--append-to"])
                .arg(&doc)
                .args([
                    "--under",
                    "## Historical Results",
                    "--label",
                    &format!("p{i}"),
                ])
                .spawn()
                .expect("loadplan starts")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let text = std::fs::read_to_string(&doc).unwrap();
    for i in 0..4 {
        assert!(text.contains(&format!("| smoke (p{i}) |")), "{text}");
    }
    assert!(text.ends_with("|\n\n## After\n"), "{text}");
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 3, "no temporary file is left");
}

#[test]
fn errors_leave_the_document_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("doc.md");
    let original = "# Doc\r\n\r\n## History\r\n\r\n| A | B |\r\n|---|---|\r\n| 1 | 2 |\r\n";
    std::fs::write(&doc, original).unwrap();
    let (first, _) = results_files(dir.path());
    let first = first.to_str().unwrap();
    let doc_arg = doc.to_str().unwrap();
    let output = loadplan_in(
        dir.path(),
        &[
            "report",
            first,
            "--append-to",
            doc_arg,
            "--under",
            "## Missing",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("doc.md: the heading `## Missing` is not in the document"),
        "{stderr}"
    );
    // The built-in row has 7 columns, this table 2.
    let output = loadplan_in(
        dir.path(),
        &[
            "report",
            first,
            "--append-to",
            doc_arg,
            "--under",
            "## History",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("has 2 columns but the row has 7"));
    assert_eq!(std::fs::read_to_string(&doc).unwrap(), original);
    // A fitting row template lands, and the document stays CRLF.
    let row = dir.path().join("row.md.j2");
    std::fs::write(&row, "| {{ run.date }} | {{ run.stage }} |\n").unwrap();
    let output = loadplan_in(
        dir.path(),
        &[
            "report",
            first,
            "--append-to",
            doc_arg,
            "--under",
            "## History",
            "--row-template",
            row.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&doc).unwrap();
    assert_eq!(text, format!("{original}| 2026-11-18 | smoke |\r\n"));
    // A file that is not a results file is named in the error.
    let output = loadplan_in(dir.path(), &["report", doc_arg]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a loadplan results file"));
}

#[test]
fn report_prints_markdown_and_writes_junit_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = results_files(dir.path());
    let output = loadplan_in(
        dir.path(),
        &[
            "report",
            second.to_str().unwrap(),
            "--baseline",
            first.to_str().unwrap(),
            "--junit",
            "out/junit.xml",
            "--csv",
            "out/history.csv",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("| Metric | p50 | p95 | p99 | Threshold | Status |"));
    assert!(stdout.contains("| Connection Time | 55"), "{stdout}");
    assert!(
        stdout.contains("Compared with the baseline run of 2026-"),
        "{stdout}"
    );
    // The baseline is named by the file `--baseline` gave, and its commit.
    assert!(
        stdout.contains("(`first.json`, stage `smoke`, env `local`, commit `0123456789ab`)"),
        "{stdout}"
    );
    let junit = std::fs::read_to_string(dir.path().join("out/junit.xml")).unwrap();
    assert!(
        junit.contains(&format!(
            r#"<property name="baseline" value="{}"/>"#,
            first.display()
        )),
        "{junit}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/history.csv"))
            .unwrap()
            .lines()
            .count(),
        2
    );
}

#[test]
fn run_writes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("doc.md"),
        "# Results\n\n## History\n\n| Date | Environment | Mode | Connections | p95 Conn Time | p95 Broadcast | Pass/Fail |\n|---|---|---|---|---|---|---|\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("plan.yaml"),
        r###"
name: outputs
environments:
  local: { mock: true }
secrets: [API_TOKEN]
stages:
  short: { vus: 2, duration: 1s }
scenarios:
  api:
    steps:
      - request:
          url: "{{ env.base_url }}/x?token={{ secrets.API_TOKEN }}"
          name: x
      - sleep: 100ms
thresholds:
  http_req_duration: [ "p95 < 1000ms" ]
  "http_req_duration#regression": [ "p95 < baseline * 100" ]
baseline: latest
outputs:
  - markdown: { append_to: doc.md, under: "## History" }
  - markdown: { append_to: doc.md, section: latest }
  - markdown: { file: "out/{{ stage }}.md" }
  - json: "out/{{ run.started | date('compact') }}-{{ stage }}.json"
  - csv: out/history.csv
  - junit: out/junit.xml
"###,
    )
    .unwrap();
    for round in 0..2 {
        let output = Command::new(env!("CARGO_BIN_EXE_loadplan"))
            .args([
                "run",
                "plan.yaml",
                "--quiet",
                "--label",
                &format!("round {round}"),
            ])
            .current_dir(dir.path())
            .env("API_TOKEN", "s3cr3t-token")
            .env_remove("LOADPLAN_ENV")
            .env_remove("LOADPLAN_STAGE")
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        // Two runs in the same second get two results files (`-2`): no need to wait.
    }
    let doc = std::fs::read_to_string(dir.path().join("doc.md")).unwrap();
    assert_eq!(doc.matches("| short (round").count(), 2, "{doc}");
    assert!(doc.contains("Compared with the baseline run"), "{doc}");
    assert!(
        doc.contains("short-short.svg") || doc.contains("doc-short.svg"),
        "{doc}"
    );
    let out = dir.path().join("out");
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 6, "{files:?}");
    assert_eq!(
        std::fs::read_to_string(out.join("history.csv"))
            .unwrap()
            .lines()
            .count(),
        3
    );
    for file in files {
        let text = std::fs::read_to_string(out.join(&file)).unwrap_or_default();
        assert!(!text.contains("s3cr3t-token"), "{file} holds the secret");
    }
    assert!(!doc.contains("s3cr3t-token"));
}

const SERVER_PLAN: &str = r#"
name: fixture-server
environments:
  local: { mock: true }
stages:
  smoke: { vus: 10, duration: 30s }
scenarios:
  user:
    steps:
      - request: { method: POST, url: "{{ env.base_url }}/ingest", name: publish }
collect:
  - prometheus: { name: mock, url: "{{ env.base_url }}/metrics" }
  - json: { name: down, url: "http://127.0.0.1:9/varz", kind: counter, fields: { in_msgs: /in_msgs } }
  - process: { name: server, process_name: loadplan }
derived:
  efficiency_percent: "mock.mock_http_requests_total / http_reqs.count * 100"
  bytes_per_request: "mock.mock_http_bytes_in_total / mock.mock_http_requests_total"
  down_rate: "down.in_msgs / duration_s"
thresholds:
  http_req_failed: [ "rate < 5%" ]
  efficiency_percent: [ "value > 99%" ]
  bytes_per_request: [ "value < 512" ]
  server.cpu_percent: [ "avg < 80%" ]
  mock.mock_http_request_duration_seconds: [ "p95 < 50ms", "p99 < 0.4ms" ]
  "mock.mock_http_requests_total{status:200}": [ "rate > 6" ]
  down.in_msgs: [ "rate > 0" ]
  down_rate: [ "value > 0" ]
"#;

/// What the sources of `SERVER_PLAN` collected over a 30-second run: a Prometheus
/// counter with a labelled series, a histogram in seconds, process gauges, and a JSON
/// source that never answered.
fn collected(results: &mut Results) {
    use loadplan::server::{ServerKind, ServerMetric, SourceReport};
    let metric = |kind: ServerKind| ServerMetric {
        kind: Some(kind),
        samples: 7,
        ..ServerMetric::default()
    };
    let counter = |delta: f64| ServerMetric {
        delta: Some(delta),
        rate: Some(delta / 30.0),
        ..metric(ServerKind::Counter)
    };
    let server = [
        ("mock.mock_http_requests_total", counter(200.0)),
        ("mock.mock_http_requests_total{status:200}", counter(198.0)),
        ("mock.mock_http_bytes_in_total", counter(104_857.0)),
        (
            "mock.mock_http_request_duration_seconds",
            ServerMetric {
                count: Some(200.0),
                sum: Some(0.0625),
                avg: Some(0.0003125),
                p50: Some(0.00025),
                p95: Some(0.000475),
                p99: Some(0.000495),
                buckets: vec![[Some(0.0005), Some(200.0)], [None, Some(200.0)]],
                ..metric(ServerKind::Histogram)
            },
        ),
        (
            "server.cpu_percent",
            ServerMetric {
                start: Some(0.0),
                end: Some(41.5),
                avg: Some(37.25),
                min: Some(0.0),
                max: Some(62.125),
                delta: Some(41.5),
                ..metric(ServerKind::Gauge)
            },
        ),
        (
            "server.rss_bytes",
            ServerMetric {
                start: Some(27_267_072.0),
                end: Some(28_504_064.0),
                avg: Some(28_350_805.3),
                min: Some(27_267_072.0),
                max: Some(28_504_064.0),
                delta: Some(1_236_992.0),
                ..metric(ServerKind::Gauge)
            },
        ),
        (
            "down.in_msgs",
            ServerMetric {
                missing: Some("source `down` failed 7 of 7 samples: connection refused".into()),
                ..ServerMetric::default()
            },
        ),
    ];
    results.server = server
        .into_iter()
        .map(|(name, metric)| (name.to_owned(), metric))
        .collect();
    let source = |kind: &str, samples: u32, failed: u32, error: Option<&str>| SourceReport {
        kind: kind.into(),
        samples,
        failed,
        error: error.map(Into::into),
    };
    results.sources = [
        ("mock", source("prometheus", 7, 0, None)),
        ("down", source("json", 0, 7, Some("connection refused"))),
        (
            "server",
            source("process", 6, 1, Some("timed out after 1s")),
        ),
    ]
    .into_iter()
    .map(|(name, source)| (name.to_owned(), source))
    .collect();
}

/// The results document of `SERVER_PLAN`'s run: client figures as in `run`, plus the
/// collected metrics and the derived ones computed from them as `loadplan run` does.
fn server_run(with_server: bool) -> RunDocument {
    let (checked, diagnostics) = plan::load(SERVER_PLAN, &Selection::default());
    let checked = checked.unwrap_or_else(|| panic!("{diagnostics:?}"));
    let mut results = results(1.0, false);
    if with_server {
        collected(&mut results);
        let texts = checked.plan.derived.clone();
        let values = loadplan::derive::RunValues {
            vars: &checked.vars,
            stage_duration_s: 30.0,
        };
        results.derived = loadplan::derive::derive(&checked.derived, &texts, &results, &values);
    }
    let verdict = loadplan::verdict::judge(&checked.thresholds, &results, None);
    let figures = loadplan::report::figures(&results);
    let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let meta = Meta {
        plan: "fixture-server",
        plan_file: None,
        env: Some("local"),
        stage: "smoke",
        started,
        finished: started + Duration::from_secs(30),
        label: None,
        git_commit: None,
    };
    let mut document = RunDocument::new(&meta, &results, &figures, &verdict);
    document.git_commit = None;
    document.loadplan_version = "0.0.0-test".into();
    document
}

#[test]
fn server_and_derived_tables() {
    let run = server_run(true);
    let (block, _) = render_markdown(
        &MarkdownTarget::default(),
        &run,
        None,
        &ReportOptions::default(),
        None,
    )
    .unwrap();
    check("server.md", &block);
    // Without collected or derived metrics the report has neither table.
    let plain = run_without_server();
    let (block, _) = render_markdown(
        &MarkdownTarget::default(),
        &plain,
        None,
        &ReportOptions::default(),
        None,
    )
    .unwrap();
    assert!(!block.contains("**Server**"), "{block}");
    assert!(!block.contains("**Derived**"), "{block}");
    assert!(!block.contains("failed samples"), "{block}");
}

/// `run`'s document: no `collect:`, no `derived:`.
fn run_without_server() -> RunDocument {
    run(1.0, 0, None, true)
}

#[test]
fn custom_templates_see_server_and_derived_metrics() {
    let run = server_run(true);
    let template = "\
{% for m in server if m.kind == \"counter\" %}{{ m.name }} {{ m.delta | num }} {{ m.rate | num }}/s\n{% endfor %}\
{{ server_metric[\"server.cpu_percent\"].avg }} {{ server_metric[\"server.rss_bytes\"].unit }}\n\
{% for s in sources %}{{ s.name }}:{{ s.kind }}:{{ s.samples }}/{{ s.failed }} {% endfor %}|\n\
{{ derived_metric.efficiency_percent.value | num }} {{ derived_metric.down_rate.value_text }} ({{ derived_metric.down_rate.reason }})\n";
    let target = MarkdownTarget {
        template: Some(("server.md.j2".into(), template.into())),
        ..MarkdownTarget::default()
    };
    let (block, _) = render_markdown(&target, &run, None, &ReportOptions::default(), None).unwrap();
    assert_eq!(
        block,
        "mock.mock_http_bytes_in_total 104857 3495.23/s\n\
         mock.mock_http_requests_total 200 6.67/s\n\
         mock.mock_http_requests_total{status:200} 198 6.6/s\n\
         37.25 bytes\n\
         down:json:0/7 mock:prometheus:7/0 server:process:6/1 |\n\
         100 n/a (`down.in_msgs` has no value: source `down` failed 7 of 7 samples: connection refused)\n"
    );
}

#[test]
fn junit_shows_collected_and_derived_thresholds_in_their_units() {
    let run = server_run(true);
    let report = Report::new(&run, None, &ReportOptions::default()).unwrap();
    let xml = junit::render(&report).unwrap();
    check("server-junit.xml", &xml);
    assert_eq!(xml.matches("<testcase").count(), 9, "{xml}");
    for expected in [
        // `99%` of a derived metric is the number 99, not a share.
        r#"<testcase name="efficiency_percent value &gt; 99%" classname="fixture-server.smoke">
            <properties>
                <property name="value" value="100"/>
                <property name="limit" value="99"/>"#,
        r#"<property name="value" value="524.3"/>"#,
        // A `_seconds` histogram checked against a time compares in ms.
        r#"<property name="value" value="0.47ms"/>
                <property name="limit" value="50ms"/>"#,
        r#"message="p99 &lt; 0.4ms: value 0.49ms, limit 0.40ms""#,
        r#"<property name="value" value="37.25"/>
                <property name="limit" value="80"/>"#,
        r#"<property name="value" value="6.6"/>
                <property name="limit" value="6"/>"#,
        "message=\"rate &gt; 0: `down.in_msgs` has no rate: source `down` failed 7 of 7 samples: connection refused\"",
        "message=\"value &gt; 0: `down_rate` is n/a: `down.in_msgs` has no value",
    ] {
        assert!(xml.contains(expected), "{expected}\n{xml}");
    }
    assert_eq!(xml.matches("<failure").count(), 4, "{xml}");
}

#[test]
fn csv_history_gains_collected_and_derived_columns() {
    let options = ReportOptions::default();
    let before = server_run(false);
    let after = server_run(true);
    let one = history::append("", &Report::new(&before, None, &options).unwrap()).unwrap();
    assert!(!one.contains("mock."), "{one}");
    let two = history::append(&one, &Report::new(&after, None, &options).unwrap()).unwrap();
    let three = history::append(&two, &Report::new(&after, None, &options).unwrap()).unwrap();
    assert!(three.starts_with(&two), "same columns: one more row");
    check("server-history.csv", &three);
    let mut reader = csv::Reader::from_reader(three.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(Into::into).collect();
    let old = one.lines().next().unwrap().split(',').count();
    assert_eq!(
        header[old..],
        [
            "mock.mock_http_bytes_in_total.delta",
            "mock.mock_http_bytes_in_total.rate",
            "mock.mock_http_request_duration_seconds.count",
            "mock.mock_http_request_duration_seconds.p50",
            "mock.mock_http_request_duration_seconds.p95",
            "mock.mock_http_request_duration_seconds.p99",
            "mock.mock_http_requests_total.delta",
            "mock.mock_http_requests_total.rate",
            "mock.mock_http_requests_total{status:200}.delta",
            "mock.mock_http_requests_total{status:200}.rate",
            "server.cpu_percent.avg",
            "server.cpu_percent.min",
            "server.cpu_percent.max",
            "server.rss_bytes.avg",
            "server.rss_bytes.min",
            "server.rss_bytes.max",
            "derived.efficiency_percent",
            "derived.bytes_per_request",
            "derived.down_rate",
        ][..]
    );
}

/// A run that stopped early reads `⚠ Partial` in the history row, the latency rows, the
/// Markdown block, the CSV row and JUnit — never `✅ Pass`, though all its thresholds
/// passed; one without thresholds shows no check at all, whatever its errors.
#[test]
fn a_partial_run_is_marked_partial_everywhere() {
    let mut partial = run_judged(1.0, 0, None, true, |verdict| {
        for outcome in &mut verdict.outcomes {
            outcome.set_status(loadplan::verdict::Status::Passed);
        }
    });
    assert!(partial.passed);
    partial.partial = true;
    partial.results.stopped_early = Some("interrupted (SIGINT)".into());
    let options = ReportOptions::default();
    let (block, row) =
        render_markdown(&MarkdownTarget::default(), &partial, None, &options, None).unwrap();
    assert!(row.ends_with("| ⚠ Partial |"), "{row}");
    assert!(
        !block.contains("✅ Pass") && !row.contains("✅ Pass"),
        "{block}\n{row}"
    );
    assert!(block.contains("| ⚠ Partial |"), "{block}");
    assert!(
        block.contains("**Thresholds: 9 of 9 passed — ⚠ Partial**"),
        "{block}"
    );
    // It will never be the next run's baseline: no limits are promised from it.
    assert!(
        !block.contains("Regression limits for the next run"),
        "{block}"
    );
    let report = Report::new(&partial, None, &options).unwrap();
    let csv = history::append("", &report).unwrap();
    assert!(csv.contains(",true,true,partial,9,0,"), "{csv}");
    let xml = junit::render(&report).unwrap();
    assert!(
        xml.contains(r#"<property name="result" value="partial"/>"#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testcase name="run completed""#)
            && xml.contains("the run stopped early (interrupted (SIGINT))")
            && xml.contains(r#"type="partial""#),
        "{xml}"
    );
    assert_eq!(xml.matches("<error").count(), 1, "{xml}");

    // No thresholds, errors, complete: no verdict mark.
    let mut unjudged = partial.clone();
    unjudged.partial = false;
    unjudged.results.stopped_early = None;
    unjudged.thresholds.clear();
    let (block, row) =
        render_markdown(&MarkdownTarget::default(), &unjudged, None, &options, None).unwrap();
    assert!(row.ends_with("| No thresholds |"), "{row}");
    assert!(
        block.contains("**No thresholds** — nothing was judged, 3 errors."),
        "{block}"
    );
    assert!(
        !block.contains("0 of 0") && !block.contains('✅'),
        "{block}"
    );
}

/// A custom trend (`metric:` on a request) has its row in the Markdown latency table and
/// in the baseline comparison, after the built-in families, and its line in the terminal
/// table, like `http_req_duration`.
#[test]
fn custom_trends_have_rows_like_built_in_ones() {
    let dir = tempfile::tempdir().unwrap();
    let plan = r#"
name: custom
environments: { local: { mock: true } }
stages: { smoke: { vus: 1, duration: 300ms } }
scenarios:
  api: { steps: [ { request: { url: "{{ env.base_url }}/x", metric: append_latency_ms } }, { sleep: 20ms } ] }
thresholds:
  append_latency_ms: [ "p95 < 10s" ]
baseline: latest
outputs:
  - json: runs/run.json
  - markdown: { file: report.md }
"#;
    std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
    for run in 1..=2 {
        let output = loadplan_in(dir.path(), &["run", "plan.yaml"]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with("append_latency_ms"))
            .unwrap_or_else(|| panic!("no terminal line:\n{stdout}"));
        assert!(line.contains("ms") || line.contains("µs"), "{line}");
        let report = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        let rows: Vec<&str> = report
            .lines()
            .filter(|l| l.starts_with("| append_latency_ms |"))
            .collect();
        let table_row = rows.first().unwrap_or_else(|| panic!("no row:\n{report}"));
        assert!(
            table_row.ends_with("| p95 < 10s | ✅ Pass |"),
            "{table_row}"
        );
        let cells: Vec<&str> = table_row.split('|').map(str::trim).collect();
        assert!(cells[2..5].iter().all(|c| c.ends_with("ms")), "{table_row}");
        let http = report
            .lines()
            .position(|l| l.starts_with("| HTTP Duration |"))
            .unwrap();
        let custom = report
            .lines()
            .position(|l| l.starts_with("| append_latency_ms |"))
            .unwrap();
        assert!(http < custom, "built-in families first:\n{report}");
        // The second run has a baseline: the comparison table has the row too.
        assert_eq!(rows.len(), run, "{report}");
    }
}
