//! Every request counts where it belongs: a failed `expect` fails the request
//! (`http_req_failed`), and failed or timed-out requests are in `http_req_duration`,
//! tagged `expected_response: false`. Real runs of the binary against the mock on
//! 127.0.0.1; assertions on counts and on lower bounds the server imposes, never on speed.

use crate::run::{metric, run};

/// The mock answers runs of `x`, never JSON: every `json` expect fails, so every request
/// fails, and `rate < 1%` on `http_req_failed` fails the run (exit 99).
#[test]
fn a_failed_body_expect_fails_the_request() {
    let plan = r#"
name: body-expect
environments: { local: { mock: true } }
stages: { short: { vus: 2, duration: 300ms } }
scenarios:
  api:
    steps:
      - request:
          url: "{{ env.base_url }}/items"
          expect: { status: 200, json: { ok: true } }
          name: items
      - sleep: 5ms
thresholds:
  http_req_failed: [ "rate < 1%" ]
"#;
    let run = run(plan, &[], &[]);
    assert_eq!(run.status, 99, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results are written");
    let reqs = metric(&json, "http_reqs")["count"]
        .as_u64()
        .expect("a count");
    assert!(reqs > 0, "{json:#}");
    assert_eq!(metric(&json, "http_req_failed")["share"], 1.0, "{json:#}");
    assert_eq!(metric(&json, "checks")["share"], 0.0, "{json:#}");
}

/// The value a threshold of the run measured, by its key and check.
fn threshold_value(json: &serde_json::Value, key: &str, check: &str) -> f64 {
    json["thresholds"]
        .as_array()
        .and_then(|all| all.iter().find(|t| t["key"] == key && t["check"] == check))
        .and_then(|t| t["value"].as_f64())
        .unwrap_or_else(|| panic!("no value for {key}: {check} in {json:#}"))
}

/// Half the requests (the `slow` POST) wait longer than their `timeout`: they are in
/// `http_req_duration` with at least the time they waited, tagged
/// `expected_response: false`, `status: 0`, `method: POST`; the successful GETs alone are
/// `{expected_response:true}`. A p95 over all requests cannot pass under the timeout (it
/// did when timed-out requests were left out).
#[test]
fn timed_out_requests_are_in_the_latency_tagged_unexpected() {
    let plan = r#"
name: timeouts
environments: { local: { mock: true } }
stages: { short: { vus: 2, duration: 300ms } }
scenarios:
  api:
    steps:
      - request: { url: "{{ env.base_url }}/fast", name: fast }
      - request:
          method: POST
          url: "{{ env.base_url }}/slow?delay=5000"
          name: slow
          timeout: 100ms
          metric: slow_ms
thresholds:
  slow_ms: [ "count > 0", "min >= 100ms" ]
  http_req_duration: [ "p95 < 99ms", "count > 0" ]
  "http_req_duration{expected_response:false}": [ "min >= 100ms", "count > 0" ]
  "http_req_duration{expected_response:true}": [ "count > 0" ]
  "http_req_duration{status:0, method:POST}": [ "count > 0" ]
  "http_reqs{name:fast, status:200, method:GET}": [ "count > 0" ]
  "http_reqs{name:slow}": [ "count > 0" ]
  "http_req_failed{status:200}": [ "rate == 0" ]
"#;
    let run = run(plan, &[], &[]);
    assert_eq!(run.status, 99, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results are written");
    let reqs = metric(&json, "http_reqs")["count"]
        .as_u64()
        .expect("a count");
    assert_eq!(
        metric(&json, "http_req_duration")["count"].as_u64(),
        Some(reqs),
        "every request is in the latency: {json:#}"
    );
    let all = threshold_value(&json, "http_req_duration", "count > 0");
    let failed = threshold_value(
        &json,
        "http_req_duration{expected_response:false}",
        "count > 0",
    );
    let expected = threshold_value(
        &json,
        "http_req_duration{expected_response:true}",
        "count > 0",
    );
    let slow = threshold_value(&json, "http_reqs{name:slow}", "count > 0");
    let fast = threshold_value(
        &json,
        "http_reqs{name:fast, status:200, method:GET}",
        "count > 0",
    );
    assert!(slow >= 1.0 && fast >= 1.0, "{json:#}");
    assert_eq!(failed, slow, "the timed-out requests: {json:#}");
    assert_eq!(expected, fast, "only the successful ones: {json:#}");
    assert_eq!(all, slow + fast, "{json:#}");
    assert_eq!(
        threshold_value(
            &json,
            "http_req_duration{status:0, method:POST}",
            "count > 0"
        ),
        slow
    );
    assert_eq!(metric(&json, "http_req_failed")["share"], slow / all);
    // The step's own `metric:` has its timed-out requests too.
    assert_eq!(threshold_value(&json, "slow_ms", "count > 0"), slow);
    assert!(threshold_value(&json, "slow_ms", "min >= 100ms") >= 100.0);
    let passed = |key: &str, check: &str| {
        json["thresholds"]
            .as_array()
            .and_then(|all| all.iter().find(|t| t["key"] == key && t["check"] == check))
            .map(|t| t["passed"].clone())
    };
    // The time waited, never less than the timeout.
    assert_eq!(
        passed("http_req_duration{expected_response:false}", "min >= 100ms"),
        Some(serde_json::Value::Bool(true)),
        "{json:#}"
    );
    assert_eq!(
        passed("http_req_duration", "p95 < 99ms"),
        Some(serde_json::Value::Bool(false)),
        "{json:#}"
    );
    assert_eq!(
        passed("http_req_failed{status:200}", "rate == 0"),
        Some(serde_json::Value::Bool(true)),
        "{json:#}"
    );
}

/// An `expect` that times out is in its latency with the time it waited (at least its
/// `within`), tagged `expected_response: false`; the answered ones are
/// `{expected_response:true}`.
#[test]
fn a_timed_out_expect_is_in_its_latency_tagged_unexpected() {
    let plan = r#"
name: ws-timeouts
environments: { local: { mock: true } }
stages: { short: { vus: 1, duration: 300ms } }
scenarios:
  chat:
    backoff: off
    steps:
      - connect: "{{ env.ws_url }}?scope=user&user=u{{ vu }}"
      - send: { json: { type: ping, id: "{{ uuid() }}" } }
        as: ping
      - expect: { json: { type: pong, id: "{{ ping.id }}" }, within: 2s }
      - expect: { json: { type: never }, within: 100ms }
      - disconnect: {}
thresholds:
  ws_message_latency: [ "count > 0" ]
  "ws_message_latency{expected_response:true}": [ "count > 0" ]
  "ws_message_latency{expected_response:false}": [ "count > 0", "min >= 100ms" ]
"#;
    let run = run(plan, &[], &[]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results are written");
    let all = threshold_value(&json, "ws_message_latency", "count > 0");
    let answered = threshold_value(
        &json,
        "ws_message_latency{expected_response:true}",
        "count > 0",
    );
    let timed_out = threshold_value(
        &json,
        "ws_message_latency{expected_response:false}",
        "count > 0",
    );
    assert!(answered >= 1.0 && timed_out >= 1.0, "{json:#}");
    assert_eq!(all, answered + timed_out, "{json:#}");
    let received = metric(&json, "ws_msgs_received")["count"].as_f64();
    assert!(received >= Some(answered), "{json:#}");
    assert_eq!(
        metric(&json, "checks")["share"].as_f64(),
        Some(answered / all),
        "{json:#}"
    );
}
