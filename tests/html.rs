//! The self-contained HTML report (`--out html=`, `loadplan report --html`): a real run
//! against the mock with failing requests and hostile names, then the same run re-rendered
//! from its results JSON (with a baseline, and as an older file without the timeline's
//! errors by kind), and a huge hand-made run whose page stays bounded.

use serde_json::Value;

use crate::common::loadplan_in;

const HOSTILE_NAME: &str = "<script>alert(1)</script>";
const HOSTILE_GROUP: &str = "<img src=x onerror=alert(2)>";

/// A plan whose requests fail two ways (503 and 500 against `expect: 200`, one scenario
/// each: a failed step ends the iteration), with a request name and a group that are
/// markup.
fn plan() -> String {
    format!(
        r#"name: "html <b>report</b>"
environments: {{ local: {{ mock: true }} }}
stages: {{ smoke: {{ vus: 4, duration: 2s }} }}
setup:
  - request: {{ url: "{{{{ env.base_url }}}}/setup", name: prepare }}
teardown:
  - request: {{ url: "{{{{ env.base_url }}}}/teardown?status=404", expect: {{ status: 200 }} }}
scenarios:
  api:
    backoff: off
    steps:
      - sleep: 20ms
      - request: {{ url: "{{{{ env.base_url }}}}/ok", name: "{HOSTILE_NAME}" }}
      - group: "{HOSTILE_GROUP}"
        steps:
          - request: {{ url: "{{{{ env.base_url }}}}/a?status=503", expect: {{ status: 200 }}, name: busy }}
  other:
    backoff: off
    steps:
      - sleep: 20ms
      - request: {{ url: "{{{{ env.base_url }}}}/b?status=500", expect: {{ status: 200 }}, name: broken }}
thresholds:
  http_req_failed: [ "rate < 1%" ]
  "http_req_duration{{name:{HOSTILE_NAME}}}": [ "p95 < 5000ms" ]
  "http_req_duration{{name:busy}}": [ "p99 < 5000ms" ]
  iterations: [ "count > 0" ]
"#
    )
}

/// The page's tags outside its own `<style>` and `<script>` (whose text may hold `<`).
fn tags(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let after = &rest[start..];
        let Some(end) = after.find('>') else { break };
        let tag = &after[..=end];
        out.push(tag);
        rest = &after[end + 1..];
        for block in ["<style", "<script"] {
            if tag.starts_with(block) {
                let close = format!("</{}>", &block[1..]);
                let Some(at) = rest.find(&close) else {
                    return out;
                };
                rest = &rest[at..];
            }
        }
    }
    out
}

/// Fails when the page would fetch anything: every `src`/`href` in a tag is an anchor
/// on the page, no `url(` or `@import` in the style, one script (ours).
fn assert_self_contained(html: &str) {
    for tag in tags(html) {
        let lower = tag.to_ascii_lowercase();
        for attribute in [" src=", " href=", " srcset=", " action=", " xlink:href="] {
            if let Some(at) = lower.find(attribute) {
                let value = lower[at + attribute.len()..].trim_start_matches(['"', '\'']);
                assert!(value.starts_with('#'), "an external resource: {tag}");
            }
        }
        assert!(!lower.starts_with("<link"), "a linked resource: {tag}");
        assert!(!lower.starts_with("<iframe"), "{tag}");
    }
    assert_eq!(html.matches("<script").count(), 1, "one script, the page's");
    assert!(!html.contains("url("), "no url() in the style");
    assert!(!html.contains("@import"));
    let fetching = ["http://", "https://", "//cdn", "fonts.googleapis"];
    for text in fetching {
        let uses = html.matches(text).count();
        let namespaces = html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
        let allowed = if text == "http://" { namespaces } else { 0 };
        assert_eq!(uses, allowed, "`{text}` outside SVG namespaces");
    }
}

fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[test]
fn a_run_writes_a_self_contained_report_and_report_renders_it_again() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("plan.yaml"), plan()).expect("the plan");
    let ran = loadplan_in(
        dir.path(),
        &[
            "run",
            "plan.yaml",
            "--quiet",
            "--out",
            "html=out/run.html",
            "--out",
            "json=out/run.json",
        ],
    );
    assert_eq!(ran.status, 99, "http_req_failed fails: {}", ran.stderr);
    let html = std::fs::read_to_string(dir.path().join("out/run.html")).expect("the page");
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/run.json")).expect("the results"),
    )
    .expect("JSON");

    // The verdict, and every threshold by its key with its status.
    assert!(html.contains(r#"data-result="fail""#), "the verdict");
    assert!(html.contains("✗ Fail"));
    let thresholds = json["thresholds"].as_array().expect("thresholds");
    assert_eq!(thresholds.len(), 4);
    for threshold in thresholds {
        let key = threshold["key"].as_str().expect("a key");
        assert!(
            html.contains(&format!("<code>{}</code>", escaped(key))),
            "{key}"
        );
    }
    assert!(html.contains(r#"<span class="badge fail">fail</span>"#));
    assert_eq!(
        html.matches(r#"<span class="badge pass">pass</span>"#)
            .count(),
        3
    );

    // Markup from the plan stays text.
    assert!(!html.contains(HOSTILE_NAME) && !html.contains(HOSTILE_GROUP));
    assert!(html.contains(&escaped(HOSTILE_NAME)));
    assert!(html.contains(&escaped(HOSTILE_GROUP)));
    assert!(html.contains("html &lt;b&gt;report&lt;/b&gt;"));
    assert_self_contained(&html);

    // Setup passed, teardown failed (its 404), each listed.
    let phases = html
        .split(r#"<section id="phases">"#)
        .nth(1)
        .expect("the setup and teardown section");
    assert!(phases.contains(r#"<td>setup</td>"#), "{phases}");
    assert!(phases.contains(r#"<span class="badge pass">passed</span>"#));
    assert!(phases.contains(r#"<td>teardown</td>"#));
    assert!(phases.contains(r#"<span class="badge fail">failed</span>"#));

    // The charts: four over time, one distribution per trend metric with its points.
    let trends: std::collections::BTreeSet<&str> = json["series"]
        .as_array()
        .expect("series")
        .iter()
        .filter(|s| s["kind"] == "trend")
        .filter_map(|s| s["metric"].as_str())
        .collect();
    assert!(trends.contains("http_req_duration"), "{trends:?}");
    assert_eq!(
        html.matches(r#"<svg class="chart""#).count(),
        4 + trends.len(),
        "throughput, VUs, errors, latency and {trends:?}"
    );
    assert!(html.matches(r#"<circle class="tip pt"#).count() >= 5 * trends.len());
    assert!(html.contains(">99%</text>"), "the percentile axis");

    // Errors by kind per second add up to the run's errors of each kind.
    let errors = json["errors"].as_object().expect("errors");
    let timeline = json["timeline"].as_array().expect("a timeline");
    let mut by_kind: std::collections::BTreeMap<String, u64> = Default::default();
    for second in timeline {
        let kinds = second["errors_by_kind"].as_object();
        let sum: u64 = kinds
            .into_iter()
            .flatten()
            .map(|(kind, n)| {
                let n = n.as_u64().expect("a count");
                *by_kind.entry(kind.clone()).or_default() += n;
                n
            })
            .sum();
        assert_eq!(Some(sum), second["errors"].as_u64(), "{second}");
    }
    for kind in ["expect status 503", "expect status 500"] {
        assert!(
            errors
                .get(kind)
                .and_then(Value::as_u64)
                .is_some_and(|n| n > 0),
            "{errors:?}"
        );
        assert_eq!(by_kind.get(kind).copied(), errors[kind].as_u64(), "{kind}");
        assert!(
            html.contains(&format!(r#"</span>{kind}</li>"#)),
            "{kind} in the errors chart's legend"
        );
        assert!(
            html.contains(&format!("<code>{kind}</code>")),
            "{kind} listed"
        );
    }
    // The teardown's error is the run's, not the load's timeline's.
    assert_eq!(errors["expect status 404"], 1);
    assert!(!by_kind.contains_key("expect status 404"));
    assert_eq!(
        by_kind.values().sum::<u64>() + 1,
        errors.values().filter_map(Value::as_u64).sum::<u64>()
    );

    // Re-rendered from the saved run, alone and with a baseline.
    let ran = loadplan_in(
        dir.path(),
        &["report", "out/run.json", "--html", "again.html"],
    );
    assert_eq!(ran.status, 0, "{}", ran.stderr);
    let again = std::fs::read_to_string(dir.path().join("again.html")).expect("the page");
    assert_self_contained(&again);
    assert!(!again.contains("Compared with the baseline"));
    let ran = loadplan_in(
        dir.path(),
        &[
            "report",
            "out/run.json",
            "--baseline",
            "out/run.json",
            "--html",
            "compared.html",
        ],
    );
    assert_eq!(ran.status, 0, "{}", ran.stderr);
    let compared = std::fs::read_to_string(dir.path().join("compared.html")).expect("the page");
    assert!(compared.contains("Compared with the baseline"));
    assert!(compared.contains("±0.0%"), "the same run changed nothing");
    assert!(compared.contains("</span>all, baseline</li>"), "its curve");
    assert_self_contained(&compared);

    // A results file saved before the timeline kept errors by kind still renders.
    let mut old = json.clone();
    for second in old["timeline"].as_array_mut().expect("a timeline") {
        second
            .as_object_mut()
            .expect("a second")
            .remove("errors_by_kind");
    }
    std::fs::write(
        dir.path().join("old.json"),
        serde_json::to_string(&old).expect("JSON"),
    )
    .expect("written");
    let ran = loadplan_in(dir.path(), &["report", "old.json", "--html", "old.html"]);
    assert_eq!(ran.status, 0, "{}", ran.stderr);
    let page = std::fs::read_to_string(dir.path().join("old.html")).expect("the page");
    assert!(page.contains("errors (kinds not recorded)"));
    assert_eq!(
        page.matches(r#"<svg class="chart""#).count(),
        4 + trends.len()
    );
}

/// An hour of timeline and a thousand series: every chart has at most 360 points, the
/// tables stop and say how many more, and the page stays small. An empty run renders too.
#[test]
fn a_long_run_with_many_series_keeps_the_page_bounded() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("plan.yaml"), plan()).expect("the plan");
    let ran = loadplan_in(
        dir.path(),
        &["run", "plan.yaml", "--quiet", "--out", "json=run.json"],
    );
    assert_eq!(ran.status, 99, "{}", ran.stderr);
    let mut json: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("run.json")).expect("the results"),
    )
    .expect("JSON");
    let series = json["series"].as_array().expect("series").clone();
    let trend = series
        .iter()
        .find(|s| s["metric"] == "http_req_duration")
        .expect("a duration series")
        .clone();
    let mut many = series;
    for i in 0..1000 {
        let mut one = trend.clone();
        one["name"] = Value::from(format!("{HOSTILE_NAME}{i}"));
        many.push(one);
    }
    json["series"] = Value::from(many);
    let hour: Vec<Value> = (0..3600)
        .map(|at| {
            serde_json::json!({
                "at_s": at, "vus": 100, "requests": 1000, "messages": 0, "errors": 3,
                "iterations": 500, "p50_ms": 5.0, "p95_ms": 9.0, "p99_ms": 12.0,
                "errors_by_kind": { "timeout": 1, "expect status 503": 1, "other kinds": 1 }
            })
        })
        .collect();
    json["timeline"] = Value::from(hour);
    json["duration_s"] = Value::from(3600.0);
    // Hostile server-side names (a thousand of them), a derived metric and an example.
    let server: serde_json::Map<String, Value> = (0..1000)
        .map(|i| {
            (
                format!("src.<script>m{i}</script>"),
                serde_json::json!({ "kind": "counter", "samples": 2, "delta": 1.0, "rate": 0.5 }),
            )
        })
        .collect();
    json["server"] = Value::from(server);
    json["sources"] = serde_json::json!({ "src": { "kind": "prometheus", "samples": 2, "failed": 1, "error": "<b>refused</b>" } });
    json["derived"] = serde_json::json!([{ "name": "<i>d</i>", "expression": "a < b", "value": null, "reason": "<u>n/a</u>" }]);
    json["error_examples"]["expect status 503"] = serde_json::json!(["<script>x</script>"]);
    std::fs::write(dir.path().join("big.json"), json.to_string()).expect("written");
    let ran = loadplan_in(dir.path(), &["report", "big.json", "--html", "big.html"]);
    assert_eq!(ran.status, 0, "{}", ran.stderr);
    let html = std::fs::read_to_string(dir.path().join("big.html")).expect("the page");
    assert!(html.len() < 1_500_000, "{} bytes", html.len());
    assert!(!html.contains(HOSTILE_NAME));
    for chart in html.split(r#"<svg class="chart""#).skip(1).take(4) {
        assert_eq!(chart.matches(r#"<rect class="tip""#).count(), 360);
    }
    assert!(html.contains("Each point is 10 s"));
    assert!(
        html.contains("more not shown"),
        "the series table is capped"
    );
    assert!(html.contains("more series not drawn"), "so is the chart");
    assert!(html.contains("</span>other kinds</li>"));
    assert!(
        html.contains("700 more not shown"),
        "300 server metrics are listed"
    );
    for hostile in [
        "<script>m0",
        "<b>refused",
        "<i>d</i>",
        "a < b",
        "<u>n/a",
        "<script>x",
    ] {
        assert!(!html.contains(hostile), "{hostile}");
        assert!(html.contains(&escaped(hostile)), "{hostile}");
    }

    // A run that measured nothing: no timeline, no series.
    json["series"] = Value::from(Vec::<Value>::new());
    json["timeline"] = Value::from(Vec::<Value>::new());
    json["errors"] = serde_json::json!({});
    json["error_examples"] = serde_json::json!({});
    std::fs::write(dir.path().join("empty.json"), json.to_string()).expect("written");
    let ran = loadplan_in(
        dir.path(),
        &["report", "empty.json", "--html", "empty.html"],
    );
    assert_eq!(ran.status, 0, "{}", ran.stderr);
    let html = std::fs::read_to_string(dir.path().join("empty.html")).expect("the page");
    assert!(html.contains("The run has no timeline."));
    assert!(!html.contains("<svg"));
    assert_self_contained(&html);
}

/// A file that is not a results JSON is refused with its name; no page is written.
#[test]
fn a_file_that_is_not_results_writes_no_page() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("x.json"), "<html>not results</html>").expect("written");
    let ran = loadplan_in(dir.path(), &["report", "x.json", "--html", "x.html"]);
    assert_eq!(ran.status, 2, "{}", ran.stderr);
    assert!(ran.stderr.contains("x.json"), "{}", ran.stderr);
    assert!(!dir.path().join("x.html").exists());
}
