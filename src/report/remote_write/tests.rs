use std::sync::Arc;

use super::*;
use crate::results::{ErrorKind, ResponseTags, Series, Status, new_histogram};
use crate::server::{DerivedValue, ServerMetric};

fn decode(encoded: &Encoded) -> WriteRequest {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&encoded.body)
        .unwrap_or_else(|e| panic!("not raw snappy: {e}"));
    WriteRequest::decode(raw.as_slice()).unwrap_or_else(|e| panic!("not a WriteRequest: {e}"))
}

fn label<'a>(series: &'a TimeSeries, name: &str) -> Option<&'a str> {
    series
        .labels
        .iter()
        .find(|l| l.name == name)
        .map(|l| l.value.as_str())
}

fn named<'a>(request: &'a WriteRequest, name: &str) -> Vec<&'a TimeSeries> {
    request
        .timeseries
        .iter()
        .filter(|s| label(s, "__name__") == Some(name))
        .collect()
}

fn key(metric: &str, scenario: &str, name: Option<&str>, status: Option<u16>) -> SeriesKey {
    SeriesKey::from(Series {
        metric: metric.into(),
        scenario: scenario.into(),
        name: name.map(Arc::from),
        group: None,
        response: status.map(|status| ResponseTags {
            expected: status < 400,
            status,
            method: "GET".into(),
        }),
    })
}

fn results() -> Results {
    let mut results = Results::default();
    let mut h = new_histogram();
    for us in (800..20_000).step_by(13) {
        h.record(us).unwrap_or_default();
    }
    let ok = key("http_req_duration", "browse", Some("home"), Some(200));
    results.series.insert(ok, SeriesData::Trend(h));
    let reqs = key("http_reqs", "browse", Some("home"), Some(200));
    results.series.insert(reqs, SeriesData::Counter(1_477));
    let failed = key("http_req_failed", "browse", Some("home"), Some(200));
    results.series.insert(
        failed,
        SeriesData::Rate {
            trues: 3,
            total: 1_477,
        },
    );
    results
        .series
        .insert(SeriesKey::run("data_sent"), SeriesData::Counter(9_000));
    results.gauge(SeriesKey::run("vus"), 7.0);
    results.gauge(key("vus", "setup", None, None), 1.0);
    results.errors.add(
        ErrorKind::ExpectStatus(Status::new(503)),
        None,
        &Redactor::default(),
    );
    results.server.insert(
        "api.http_requests_total{code:200,name:x}".to_owned(),
        ServerMetric {
            end: Some(42.0),
            ..ServerMetric::default()
        },
    );
    results.derived.push(DerivedValue {
        name: "cost per req".to_owned(),
        expression: "1/2".to_owned(),
        value: Some(0.5),
        reason: None,
    });
    results
}

fn base() -> Vec<(String, String)> {
    vec![
        ("plan".to_owned(), "shop".to_owned()),
        ("env".to_owned(), String::new()),
        ("stage".to_owned(), "load".to_owned()),
        ("team".to_owned(), "checkout".to_owned()),
    ]
}

#[test]
fn every_series_is_named_labelled_and_sorted() {
    let encoder = Encoder::new(base(), None, Redactor::default());
    let encoded = encoder.encode_with_dropped(&results(), 1_700_000_000_123, Some(4));
    let request = decode(&encoded);
    assert_eq!(encoded.dropped, 0);
    assert_eq!(encoded.samples, request.timeseries.len() as u64);
    for series in &request.timeseries {
        let names: Vec<&str> = series.labels.iter().map(|l| l.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted, "sorted and unique");
        assert_eq!(label(series, "plan"), Some("shop"));
        assert_eq!(label(series, "stage"), Some("load"));
        assert_eq!(label(series, "team"), Some("checkout"));
        assert_eq!(label(series, "env"), None, "an empty env is no label");
        for sample in &series.samples {
            assert_eq!(sample.timestamp, 1_700_000_000_123);
        }
    }
    let value = |name: &str| named(&request, name)[0].samples[0].value;
    assert_eq!(value("loadplan_http_reqs_total"), 1_477.0);
    assert_eq!(value("loadplan_http_req_failed_true_total"), 3.0);
    assert_eq!(value("loadplan_http_req_failed_samples_total"), 1_477.0);
    assert_eq!(value("loadplan_data_sent_bytes_total"), 9_000.0);
    assert_eq!(value("loadplan_output_dropped_total"), 4.0);
    assert_eq!(value("loadplan_server_api_http_requests_total"), 42.0);
    assert_eq!(value("loadplan_derived_cost_per_req"), 0.5);
    let reqs = named(&request, "loadplan_http_reqs_total")[0];
    for (name, expected) in [
        ("scenario", "browse"),
        ("name", "home"),
        ("method", "GET"),
        ("status", "200"),
        ("expected_response", "true"),
    ] {
        assert_eq!(label(reqs, name), Some(expected), "{name}");
    }
    assert_eq!(label(reqs, "phase"), None);
    let vus = named(&request, "loadplan_vus");
    assert_eq!(vus.len(), 2);
    assert!(vus.iter().any(|s| label(s, "phase") == Some("setup")));
    assert!(
        vus.iter()
            .any(|s| label(s, "scenario").is_none() && s.samples[0].value == 7.0)
    );
    let errors = named(&request, "loadplan_errors_by_kind_total")[0];
    assert_eq!(label(errors, "kind"), Some("expect status 503"));
    let server = named(&request, "loadplan_server_api_http_requests_total")[0];
    assert_eq!(label(server, "code"), Some("200"));
    assert_eq!(label(server, "name"), Some("x"));
    assert_eq!(encoder.encode(&results(), 1).samples, encoded.samples - 1);
}

#[test]
fn a_trend_is_a_native_histogram_in_seconds() {
    let encoder = Encoder::new(base(), None, Redactor::default());
    let request = decode(&encoder.encode(&results(), 5));
    let series = named(&request, "loadplan_http_req_duration_seconds");
    assert_eq!(series.len(), 1);
    assert!(series[0].samples.is_empty());
    let histogram = &series[0].histograms[0];
    let total = (800..20_000).step_by(13).count() as u64;
    assert_eq!(histogram.count_int, Some(total));
    let buckets = native::decode_buckets(histogram);
    assert_eq!(buckets.iter().map(|(_, n)| n).sum::<u64>(), total);
    assert_eq!(histogram.schema, SCHEMA);
    assert_eq!(histogram.timestamp, 5);
    // 0.8 ms to 20 ms: the first bucket's bound is just above 0.8 ms.
    let first = native::upper_bound(buckets[0].0, histogram.schema);
    assert!((0.0008..0.0008 * 1.022).contains(&first), "{first}");
}

#[test]
fn buckets_make_classic_histograms() {
    let bounds = vec![Duration::from_millis(10), Duration::from_millis(1)];
    let encoder = Encoder::new(base(), Some(bounds), Redactor::default());
    let request = decode(&encoder.encode(&results(), 5));
    assert!(named(&request, "loadplan_http_req_duration_seconds").is_empty());
    let buckets = named(&request, "loadplan_http_req_duration_seconds_bucket");
    let les: Vec<(&str, f64)> = buckets
        .iter()
        .map(|s| (label(s, "le").unwrap_or_default(), s.samples[0].value))
        .collect();
    let total = (800..20_000).step_by(13).count() as f64;
    assert_eq!(les.len(), 3);
    assert_eq!(les[0].0, "0.001");
    assert_eq!(les[1].0, "0.01");
    assert_eq!(les[2], ("+Inf", total));
    assert!(
        les[0].1 <= les[1].1 && les[1].1 <= les[2].1,
        "cumulative: {les:?}"
    );
    let count = named(&request, "loadplan_http_req_duration_seconds_count")[0];
    assert_eq!(count.samples[0].value, total);
    let sum = named(&request, "loadplan_http_req_duration_seconds_sum")[0];
    assert!((sum.samples[0].value - total * 0.0104).abs() < total * 0.0002);
}

#[test]
fn hostile_names_are_sanitized_and_secrets_redacted() {
    let mut results = Results::default();
    let hostile = key(
        "<script>alert(1)</script>",
        "s\"c\n{}",
        Some("token=hunter2"),
        None,
    );
    results.series.insert(hostile, SeriesData::Counter(1));
    let mut base = base();
    base.push(("x-api key!".to_owned(), "Bearer hunter2".to_owned()));
    let encoder = Encoder::new(base, None, Redactor::new(["hunter2"]));
    let encoded = encoder.encode(&results, 1);
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&encoded.body)
        .unwrap_or_default();
    assert!(!String::from_utf8_lossy(&raw).contains("hunter2"));
    let request = decode(&encoded);
    let series = &request.timeseries[0];
    assert_eq!(
        label(series, "__name__"),
        Some("loadplan__script_alert_1___script__total")
    );
    assert_eq!(label(series, "name"), Some("token=***"));
    assert_eq!(label(series, "scenario"), Some("s\"c\\n{}"));
    assert_eq!(label(series, "x_api_key_"), Some("Bearer ***"));
}

#[test]
fn the_series_cap_drops_and_counts() {
    let mut results = Results::default();
    for n in 0..50 {
        let key = key(
            "http_reqs",
            "browse",
            Some(&format!("/item/{n}")),
            Some(200),
        );
        results.series.insert(key, SeriesData::Counter(1));
    }
    let encoder = Encoder::new(base(), None, Redactor::default());
    let encoded = encoder.encode_capped(&results, 1, Some(0), 20);
    let request = decode(&encoded);
    assert_eq!(request.timeseries.len(), 20);
    assert_eq!(encoded.samples, 20);
    assert_eq!(encoded.dropped, 31);
    assert_eq!(
        label(&request.timeseries[0], "__name__"),
        Some("loadplan_output_dropped_total"),
        "run-wide series go first"
    );
    let all = encoder.encode(&results, 1);
    assert_eq!((all.samples, all.dropped), (50, 0));
}

#[test]
fn nothing_measured_is_an_empty_request() {
    let encoder = Encoder::new(base(), None, Redactor::default());
    let encoded = encoder.encode(&Results::default(), 1);
    assert_eq!(encoded.samples, 0);
    assert!(decode(&encoded).timeseries.is_empty());
}

#[test]
fn series_whose_labels_collide_are_sent_once() {
    let mut results = Results::default();
    for metric in ["my-metric", "my_metric", "my.metric"] {
        results
            .series
            .insert(key(metric, "browse", None, None), SeriesData::Counter(1));
    }
    for secret in ["token=abc", "token=xyz"] {
        let key = key("http_reqs", "browse", Some(secret), None);
        results.series.insert(key, SeriesData::Counter(2));
    }
    let encoder = Encoder::new(base(), None, Redactor::new(["abc", "xyz"]));
    let encoded = encoder.encode(&results, 1);
    let request = decode(&encoded);
    assert_eq!(named(&request, "loadplan_my_metric_total").len(), 1);
    assert_eq!(named(&request, "loadplan_http_reqs_total").len(), 1);
    assert_eq!((encoded.samples, encoded.dropped), (2, 3));
}

#[test]
fn plan_labels_cannot_replace_le_kind_or_tags_and_huge_values_are_cut() {
    let mut base = base();
    base.push(("le".to_owned(), "0.5".to_owned()));
    base.push(("kind".to_owned(), "mine".to_owned()));
    base.push(("scenario".to_owned(), "theirs".to_owned()));
    let mut results = results();
    let huge = "x".repeat(100_000);
    let key = key("http_reqs", "browse", Some(&huge), None);
    results.series.insert(key, SeriesData::Counter(1));
    let bounds = vec![Duration::from_millis(10)];
    let encoder = Encoder::new(base, Some(bounds), Redactor::default());
    let encoded = encoder.encode(&results, 1);
    assert_eq!(encoded.dropped, 0);
    let request = decode(&encoded);
    let les: Vec<Option<&str>> = named(&request, "loadplan_http_req_duration_seconds_bucket")
        .iter()
        .map(|s| label(s, "le"))
        .collect();
    assert_eq!(les, vec![Some("0.01"), Some("+Inf")]);
    let errors = named(&request, "loadplan_errors_by_kind_total")[0];
    assert_eq!(label(errors, "kind"), Some("expect status 503"));
    let reqs = named(&request, "loadplan_http_reqs_total");
    assert!(reqs.iter().all(|s| label(s, "scenario") == Some("browse")));
    let long = reqs
        .iter()
        .filter_map(|s| label(s, "name"))
        .map(|name| name.chars().count())
        .max();
    assert!(long.is_some_and(|n| n <= 201), "{long:?}");
}
