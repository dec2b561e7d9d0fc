//! `loadplan run` end to end: real plans against the in-process mock target (`mock: true`),
//! and against a port nobody listens on. Assertions are on counts, codes and shapes, never
//! on timings.

use std::path::PathBuf;
use std::process::Command;

use crate::common::root;

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
    json: Option<serde_json::Value>,
}

/// Writes `plan` to a temporary directory and runs it with `args`, returning the JSON results.
fn run(plan: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file: PathBuf = dir.path().join("plan.yaml");
    std::fs::write(&file, plan).expect("the plan is written");
    let results = dir.path().join("results.json");
    let mut command = Command::new(env!("CARGO_BIN_EXE_loadplan"));
    command
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(format!("json={}", results.display()))
        .args(args)
        .current_dir(root())
        .env_remove("LOADPLAN_ENV")
        .env_remove("LOADPLAN_STAGE");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("loadplan runs");
    let json = std::fs::read_to_string(&results)
        .ok()
        .map(|text| serde_json::from_str(&text).expect("the results are JSON"));
    Run {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        json,
    }
}

fn metric<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["metrics"]
        .as_array()
        .and_then(|metrics| metrics.iter().find(|m| m["metric"] == name))
        .unwrap_or_else(|| panic!("no metric {name} in {json:#}"))
}

const MIXED: &str = r#"
name: mixed
environments:
  local: { mock: true }
secrets: [API_TOKEN]
stages:
  short: { vus: 4, duration: 1s }
scenarios:
  api:
    steps:
      - request:
          url: "{{ env.base_url }}/items?delay=2"
          headers: { Authorization: "Bearer {{ secrets.API_TOKEN }}" }
          expect: { status: 200 }
          name: items
        as: items
      - request:
          method: POST
          url: "{{ env.base_url }}/echo"
          json: { seen: "{{ items.status }}", vu: "{{ vu }}" }
          name: post
  chat:
    steps:
      - connect: "{{ env.ws_url }}?scope=user&user=u{{ vu }}"
      - repeat: { count: 3 }
        steps:
          - send: { json: { type: ping, id: "{{ uuid() }}" } }
            as: ping
          - expect: { json: { type: pong, id: "{{ ping.id }}" }, within: 2s }
      - disconnect: {}
thresholds:
  http_req_failed: [ "rate < 1%" ]
  "http_req_duration{name:items}": [ "p95 < 5s" ]
  ws_message_latency: [ "count > 0" ]
  ws_connect_errors: [ "count == 0" ]
"#;

#[test]
fn http_and_websocket_steps_run_against_the_mock() {
    let run = run(MIXED, &[], &[("API_TOKEN", "s3cr3t-value")]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results written");
    assert_eq!(json["passed"], true);
    assert!(metric(&json, "http_reqs")["count"].as_u64() >= Some(4));
    assert_eq!(metric(&json, "http_req_failed")["share"], 0.0);
    assert!(metric(&json, "ws_message_latency")["count"].as_u64() >= Some(3));
    assert_eq!(
        metric(&json, "ws_msgs_sent")["count"],
        metric(&json, "ws_msgs_received")["count"]
    );
    assert!(metric(&json, "iterations")["count"].as_u64() >= Some(2));
    assert_eq!(json["thresholds"].as_array().map(Vec::len), Some(4));
    assert!(
        run.stdout.contains("4 of 4 thresholds passed"),
        "{}",
        run.stdout
    );
    for text in [&run.stdout, &run.stderr, &json.to_string()] {
        assert!(!text.contains("s3cr3t-value"), "a secret leaked: {text}");
    }
}

#[test]
fn a_failed_threshold_exits_99_with_the_report() {
    let plan = r#"
name: slow
environments: { local: { mock: true } }
stages: { short: { vus: 2, duration: 500ms } }
scenarios:
  api: { steps: [ { request: { url: "{{ env.base_url }}/slow?delay=30" } } ] }
thresholds:
  http_req_duration: [ "p95 < 1ms", "max < 10s" ]
"#;
    let run = run(plan, &[], &[]);
    assert_eq!(run.status, 99, "{}\n{}", run.stdout, run.stderr);
    let json = run
        .json
        .expect("results are written even when a threshold fails");
    assert_eq!(json["passed"], false);
    assert_eq!(json["thresholds"][0]["passed"], false);
    assert_eq!(json["thresholds"][1]["passed"], true);
    assert!(json["thresholds"][0]["value"].as_f64() >= Some(30.0));
    assert!(run.stdout.contains("✗ http_req_duration"), "{}", run.stdout);
}

#[test]
fn an_unreachable_target_is_counted_not_fatal() {
    let plan = r#"
name: nobody-home
environments: { down: { base_url: "http://127.0.0.1:9" } }
stages: { short: { vus: 2, duration: 300ms } }
scenarios:
  api: { steps: [ { request: { url: "{{ env.base_url }}/x" } }, { sleep: 20ms } ] }
thresholds:
  http_req_failed: [ "rate < 1%" ]
"#;
    let run = run(plan, &[], &[]);
    assert_eq!(run.status, 99, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results written");
    assert_eq!(metric(&json, "http_req_failed")["share"], 1.0);
    let errors = json["errors"].as_object().expect("errors by kind");
    assert!(
        errors.keys().any(|k| k.starts_with("connect:")),
        "{errors:?}"
    );
}

#[test]
fn a_missing_secret_is_named_and_nothing_runs() {
    let run = run(MIXED, &[], &[]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr
            .contains("error: secret not set in the environment: API_TOKEN"),
        "{}",
        run.stderr
    );
    assert!(run.json.is_none());
}

#[test]
fn an_invalid_plan_exits_2_before_running() {
    let run = run(
        "name: x\nstages: { s: { vus: ten, duration: 1s } }\nscenarios: {}\n",
        &[],
        &[],
    );
    assert_eq!(run.status, 2);
    assert!(
        run.stderr
            .contains("error: expected an integer, found a string `ten`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("the plan is invalid; nothing was run"));
}

#[test]
fn arrival_rate_stages_start_iterations_and_count_the_dropped() {
    let plan = r#"
name: open
environments: { local: { mock: true } }
stages:
  steady: { arrival: [ { hold: 1s } ], start_rate: 40/s, max_vus: 10 }
  starved: { arrival: [ { hold: 1s } ], start_rate: 40/s, max_vus: 1 }
scenarios:
  api: { steps: [ { request: { url: "{{ env.base_url }}/x?delay=100" } } ] }
"#;
    let steady = run(plan, &["--stage", "steady"], &[]);
    assert_eq!(steady.status, 0, "{}", steady.stderr);
    let json = steady.json.expect("results written");
    let iterations = metric(&json, "iterations")["count"].as_u64().unwrap_or(0);
    assert!(
        (10..=40).contains(&iterations),
        "{iterations} iterations at 40/s for 1s"
    );
    let starved = run(plan, &["--stage", "starved"], &[]);
    let json = starved.json.expect("results written");
    // One VU busy 100 ms per iteration cannot start 40 a second: most are dropped, counted.
    assert!(
        metric(&json, "dropped_iterations")["count"].as_u64() >= Some(10),
        "{json:#}"
    );
}

#[test]
fn broadcasts_are_correlated_to_their_mark() {
    let plan = r#"
name: broadcast
environments: { local: { mock: true } }
stages: { short: { vus: 3, duration: 1s } }
scenarios:
  listener:
    weight: 2
    steps:
      - connect: "{{ env.ws_url }}?scope=user"
      - sleep: 2s
    on_message:
      - match: { json: { kind: broadcast } }
        correlate: "$.id"
        metric: broadcasts_seen
  broadcaster:
    vus: 1
    steps:
      - sleep: 200ms
      - request:
          method: POST
          url: "{{ env.base_url }}/broadcast"
          json: { kind: broadcast, scope: user, id: "{{ uuid() }}" }
          mark: "$.id"
          name: broadcast
thresholds:
  broadcast_delivery_time: [ "count > 0" ]
  broadcasts_seen: [ "count > 0" ]
"#;
    let run = run(plan, &[], &[]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results written");
    let delivered = metric(&json, "broadcast_delivery_time")["count"]
        .as_u64()
        .unwrap_or(0);
    assert!(delivered >= 2, "{json:#}");
}
