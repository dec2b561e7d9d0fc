//! Remote write against a real Prometheus (Debian's 2.42, native histograms on): a real
//! run against the mock, its results encoded with `report::remote_write::Encoder`, pushed
//! to `/api/v1/write`, then read back with PromQL: the request count, the p95 of the
//! native histogram within its bucket error, the p95 of classic buckets inside the right
//! bucket, and the labels.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use loadplan::plan::threshold::Aggregation;
use loadplan::redact::Redactor;
use loadplan::report::json::RunDocument;
use loadplan::report::remote_write::{Encoded, Encoder, prompb};
use loadplan::results::{Results, SeriesData};
use prost::Message;

use crate::common::loadplan_in;
use crate::common::prometheus::Prometheus;

const PLAN: &str = r#"name: rw
environments: { local: { mock: true } }
stages: { smoke: { vus: 2, duration: 1s } }
scenarios:
  api:
    steps:
      - request: { url: "{{ env.base_url }}/a?delay=2", name: quick }
      - request: { url: "{{ env.base_url }}/b?delay=12", name: slow }
"#;

/// The classic bounds pushed in the second encoding.
const BOUNDS_MS: [u64; 7] = [1, 5, 10, 25, 50, 100, 1000];

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since.as_millis()).expect("ms fit in i64")
}

/// A real run of [`PLAN`]: its document and results.
fn run() -> (RunDocument, Results) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("plan.yaml"), PLAN).expect("the plan");
    let ran = loadplan_in(
        dir.path(),
        &["run", "plan.yaml", "--quiet", "--out", "json=run.json"],
    );
    assert_eq!(ran.status, 0, "{}", ran.stderr);
    let document = RunDocument::load(&dir.path().join("run.json")).expect("the results file");
    let results = document.results().expect("the results decode");
    (document, results)
}

fn encoder(document: &RunDocument, encoding: &str, buckets: Option<Vec<Duration>>) -> Encoder {
    let base = vec![
        ("plan".to_owned(), document.plan.clone()),
        ("env".to_owned(), document.env.clone().unwrap_or_default()),
        ("stage".to_owned(), document.stage.clone()),
        ("encoding".to_owned(), encoding.to_owned()),
    ];
    Encoder::new(base, buckets, Redactor::default())
}

fn push(prometheus: &Prometheus, encoded: &Encoded) {
    assert!(encoded.samples > 0 && encoded.dropped == 0);
    let (status, answer) = prometheus.write(&encoded.body);
    assert!(
        (200..300).contains(&status),
        "remote write answered {status}: {answer}\n{}",
        prometheus.log()
    );
}

/// The schema of the request's `http_req_duration` histograms (the encoder may coarsen a
/// wide one).
fn schema_of(encoded: &Encoded) -> i32 {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&encoded.body)
        .expect("raw snappy");
    let request = prompb::WriteRequest::decode(raw.as_slice()).expect("a WriteRequest");
    request
        .timeseries
        .iter()
        .flat_map(|series| &series.histograms)
        .map(|histogram| histogram.schema)
        .min()
        .expect("a native histogram")
}

#[test]
fn prometheus_reads_back_the_counts_the_p95_and_the_labels() {
    let prometheus = Prometheus::start();
    let (document, results) = run();
    let http_reqs: u64 = results
        .series
        .iter()
        .filter_map(|(key, data)| match (&*key.metric, data) {
            ("http_reqs", SeriesData::Counter(n)) => Some(*n),
            _ => None,
        })
        .sum();
    assert!(http_reqs > 10, "the run made requests: {http_reqs}");
    let p95_ms = results
        .figure(
            "http_req_duration",
            Aggregation::Percentile(95.0),
            |_| true,
            false,
        )
        .expect("a p95");

    let native = encoder(&document, "native", None).encode(&results, now_ms());
    push(&prometheus, &native);
    let bounds = BOUNDS_MS
        .iter()
        .map(|&ms| Duration::from_millis(ms))
        .collect();
    let classic = encoder(&document, "classic", Some(bounds)).encode(&results, now_ms());
    push(&prometheus, &classic);

    let sum = prometheus.scalar(r#"sum(loadplan_http_reqs_total{encoding="native"})"#);
    assert_eq!(sum, http_reqs as f64);

    // Native: the quantile is in the bucket of the true one, whose bounds differ by
    // 2^(2^-schema).
    let schema = schema_of(&native);
    let error = 2f64.powf(2f64.powi(-schema)) - 1.0;
    let p95 = prometheus.scalar(
        r#"histogram_quantile(0.95, sum(loadplan_http_req_duration_seconds{encoding="native"}))"#,
    ) * 1000.0;
    eprintln!(
        "PromQL p95 {p95:.3} ms (schema {schema}, ±{:.1} %), run p95 {p95_ms:.3} ms; \
         sum {sum} = http_reqs {http_reqs}",
        error * 100.0
    );
    assert!(
        (p95 - p95_ms).abs() <= p95_ms * error,
        "PromQL p95 {p95} ms vs the run's {p95_ms} ms (±{:.1} %)",
        error * 100.0
    );

    // Classic: inside the bucket that holds the run's p95.
    let classic_p95 = prometheus.scalar(
        r#"histogram_quantile(0.95, sum by (le) (loadplan_http_req_duration_seconds_bucket{encoding="classic"}))"#,
    ) * 1000.0;
    let upper = BOUNDS_MS
        .iter()
        .position(|&bound| bound as f64 >= p95_ms)
        .expect("the p95 is under the last bound");
    let lower = if upper == 0 { 0 } else { BOUNDS_MS[upper - 1] };
    eprintln!(
        "classic PromQL p95 {classic_p95:.3} ms in ({lower}, {}] ms",
        BOUNDS_MS[upper]
    );
    assert!(
        lower as f64 <= classic_p95 && classic_p95 <= BOUNDS_MS[upper] as f64,
        "classic p95 {classic_p95} ms outside ({lower}, {}] ms (run p95 {p95_ms} ms)",
        BOUNDS_MS[upper]
    );
    let count =
        prometheus.scalar(r#"sum(loadplan_http_req_duration_seconds_count{encoding="classic"})"#);
    assert_eq!(count, http_reqs as f64);

    // Every request series carries the run's labels and its own tags.
    let series = prometheus.query(r#"loadplan_http_reqs_total{encoding="native"}"#);
    let series = series.as_array().expect("a vector");
    assert_eq!(series.len(), 2, "one series per request name: {series:?}");
    for (n, expected_name) in ["quick", "slow"].iter().enumerate() {
        let metric = &series[n]["metric"];
        assert_eq!(metric["plan"], "rw", "{metric}");
        assert_eq!(metric["env"], "local", "{metric}");
        assert_eq!(metric["stage"], "smoke", "{metric}");
        assert_eq!(metric["scenario"], "api", "{metric}");
        assert_eq!(metric["method"], "GET", "{metric}");
        assert_eq!(metric["status"], "200", "{metric}");
        assert_eq!(metric["expected_response"], "true", "{metric}");
        assert!(
            series.iter().any(|s| s["metric"]["name"] == *expected_name),
            "no `{expected_name}` series: {series:?}"
        );
    }
    let vus = prometheus.scalar(r#"max(loadplan_vus_max{encoding="native"})"#);
    assert_eq!(vus, 2.0);

    // The dashboard's form over time: `rate` of the native histogram between a push at
    // the run's start (nothing counted) and one at its end gives the same p95.
    let start =
        encoder(&document, "rate", None).encode(&nothing_counted(&results), now_ms() - 20_000);
    push(&prometheus, &start);
    push(
        &prometheus,
        &encoder(&document, "rate", None).encode(&results, now_ms()),
    );
    let p95_rate = prometheus.scalar(
        r#"histogram_quantile(0.95, sum(rate(loadplan_http_req_duration_seconds{encoding="rate"}[1m])))"#,
    ) * 1000.0;
    eprintln!("PromQL p95 over rate(…[1m]) {p95_rate:.3} ms");
    assert!(
        (p95_rate - p95_ms).abs() <= p95_ms * error,
        "rate p95 {p95_rate} ms vs the run's {p95_ms} ms"
    );
}

/// `results` as they were when the run started: every series at zero.
fn nothing_counted(results: &Results) -> Results {
    let mut start = results.clone();
    for data in start.series.values_mut() {
        match data {
            SeriesData::Trend(histogram) => histogram.reset(),
            SeriesData::Counter(n) => *n = 0,
            SeriesData::Rate { trues, total } => (*trues, *total) = (0, 0),
            SeriesData::Gauge { .. } => {}
        }
    }
    start
}

/// A body that is not a remote-write request is refused by Prometheus with a 4xx, which
/// is what the sender must count as dropped rather than retry forever.
#[test]
fn prometheus_refuses_a_body_that_is_not_a_request() {
    let prometheus = Prometheus::start();
    let (status, _) = prometheus.write(b"<script>not snappy</script>");
    assert!((400..500).contains(&status), "{status}");
}

/// Without Prometheus the harness says how to install it instead of failing obscurely.
#[test]
fn a_missing_prometheus_is_named_with_its_install_command() {
    let missing = std::path::Path::new("/nonexistent/prometheus");
    let failure = std::panic::catch_unwind(|| Prometheus::start_binary(missing))
        .err()
        .expect("no Prometheus starts from a missing binary");
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("/nonexistent/prometheus")
            && message.contains("apt-get install prometheus"),
        "{message}"
    );
}

/// End to end, as a user runs it: `plans/live-metrics.yaml` streams to a real Prometheus
/// every second while it runs (`outputs: - prometheus:` sending through the executor's
/// queue and sender, the final flush after the run). Prometheus's sum of requests equals
/// the run's `http_reqs`, its p95 of the native histogram agrees with the run's own p95
/// within the widest bucket error the encoder may use (schema 3, 2^(1/8): 9 %), and every
/// query of the Grafana dashboard (docs/grafana) returns data.
#[test]
fn a_run_streams_to_prometheus_and_every_dashboard_query_has_data() {
    let prometheus = Prometheus::start();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let shipped = std::fs::read_to_string(crate::common::root().join("plans/live-metrics.yaml"))
        .expect("plans/live-metrics.yaml");
    let url = format!("http://{}/api/v1/write", prometheus.address);
    assert!(shipped.contains("http://127.0.0.1:9090/api/v1/write"));
    assert!(shipped.contains("every: 5s"));
    let plan = shipped
        .replace("http://127.0.0.1:9090/api/v1/write", &url)
        .replace("every: 5s", "every: 1s")
        .replace("../schema/", "");
    std::fs::write(dir.path().join("live.yaml"), plan).expect("the plan is written");
    let ran = loadplan_in(
        dir.path(),
        &[
            "run",
            "live.yaml",
            "--stage",
            "smoke",
            "--duration",
            "4s",
            "--out",
            "json=run.json",
        ],
    );
    assert!(
        [0, 99].contains(&ran.status),
        "exit {}: {}",
        ran.status,
        ran.stderr
    );
    assert!(
        ran.stdout.contains("0 failed, 0 samples dropped"),
        "every request delivered:\n{}",
        ran.stdout
    );
    let document = RunDocument::load(&dir.path().join("run.json")).expect("the results");
    let figure = |metric: &str| {
        document
            .metrics
            .iter()
            .find(|f| f.metric == metric)
            .unwrap_or_else(|| panic!("the run measured {metric}"))
            .clone()
    };
    let http_reqs = figure("http_reqs").count;
    let p95_ms = figure("http_req_duration")
        .trend
        .expect("http_req_duration is a trend")
        .p95;

    let selector = r#"{plan="live-metrics",stage="smoke"}"#;
    let sum = prometheus.scalar(&format!("sum(loadplan_http_reqs_total{selector})"));
    let promql_p95 = prometheus.scalar(&format!(
        "histogram_quantile(0.95, sum(loadplan_http_req_duration_seconds{selector}))"
    )) * 1000.0;
    eprintln!(
        "live: PromQL sum {sum} vs http_reqs {http_reqs}; PromQL p95 {promql_p95:.3} ms vs the run's {p95_ms:.3} ms"
    );
    assert_eq!(
        sum, http_reqs as f64,
        "the final flush carries every request"
    );
    let error = 2f64.powf(1.0 / 8.0) - 1.0;
    assert!(
        (promql_p95 - p95_ms).abs() <= p95_ms * error,
        "PromQL p95 {promql_p95} ms vs the run's {p95_ms} ms"
    );

    let dashboard = crate::common::dashboard::load();
    let mut empty = Vec::new();
    for (title, query) in crate::common::dashboard::titled_panel_queries(&dashboard) {
        let result = prometheus.query(&query);
        if result.as_array().is_none_or(Vec::is_empty) {
            empty.push(format!("{title}: {query}"));
        }
    }
    assert!(
        empty.is_empty(),
        "dashboard queries without data:\n{}",
        empty.join("\n")
    );
}
