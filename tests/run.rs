//! `loadplan run` end to end: real plans against the in-process mock target (`mock: true`),
//! and against a port nobody listens on. Assertions are on counts, codes and shapes, never
//! on timings; a test that must act while a run goes waits for an event (requests counted
//! on the mock's `/stats`, a line on stderr, a file), never for a fixed time.

use std::path::PathBuf;
use std::process::Command;

use crate::common::root;

pub(crate) struct Run {
    pub(crate) status: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) json: Option<serde_json::Value>,
}

/// Writes `plan` to a temporary directory and runs it with `args`, returning the JSON results.
pub(crate) fn run(plan: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
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

pub(crate) fn metric<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
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
    assert!(errors.contains_key("connect refused"), "{errors:?}");
}

#[test]
fn a_handshake_that_is_not_an_upgrade_is_a_counted_connect_error() {
    // The mock answers `GET /` with 200, not 101; port 9 refuses.
    let plan = r#"
name: no-upgrade
environments: { local: { mock: true, vars: { refused: "ws://127.0.0.1:9/ws" } } }
stages: { short: { vus: 2, duration: 300ms } }
scenarios:
  plain: { steps: [ { connect: "{{ env.base_url | replace('http', 'ws') }}/" }, { sleep: 50ms } ] }
  refused: { steps: [ { connect: "{{ vars.refused }}" }, { sleep: 50ms } ] }
"#;
    let run = run(plan, &[], &[]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results written");
    let errors = json["errors"].as_object().expect("errors by kind");
    assert!(errors.contains_key("ws handshake 200"), "{errors:?}");
    assert!(errors.contains_key("ws connect refused"), "{errors:?}");
    assert_eq!(
        json["error_examples"]["ws handshake 200"][0], "200 OK",
        "{json:#}"
    );
    assert!(metric(&json, "ws_connect_errors")["count"].as_u64() >= Some(2));
}

#[test]
fn a_frame_sent_with_the_handshake_response_is_not_lost() {
    // A server that writes its first message in the same packet as its 101 answer: the
    // bytes after the response head are the connection's first frame.
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("an address").port();
    let server = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().expect("loadplan connects");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            socket.read_exact(&mut byte).expect("the request head");
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).expect("the head is text");
        let key = head
            .lines()
            .find_map(|line| line.strip_prefix("Sec-WebSocket-Key: "))
            .expect("a key, spelled as RFC 6455 writes it");
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        let mut answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .into_bytes();
        answer.extend_from_slice(b"\x81\x05hello");
        socket.write_all(&answer).expect("the answer is written");
        // Held open until loadplan closes it (a hang guard bounds the wait).
        let _ = socket.set_read_timeout(Some(crate::common::PATIENCE));
        let _ = socket.read_to_end(&mut Vec::new());
        head
    });
    let plan = format!(
        r#"
name: first-frame
environments: {{ raw: {{ vars: {{ url: "ws://127.0.0.1:{port}/chat?room=1" }} }} }}
stages: {{ short: {{ vus: 1, duration: 300ms }} }}
scenarios:
  a:
    steps:
      - connect: {{ url: "{{{{ vars.url }}}}", headers: {{ X-Token: abc }} }}
      - expect: {{ text: hello, within: 1s }}
      - sleep: 1s
thresholds:
  checks: [ "rate == 100%" ]
"#
    );
    let run = run(&plan, &[], &[]);
    let head = server.join().expect("the server thread ends");
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(head.starts_with("GET /chat?room=1 HTTP/1.1\r\n"), "{head}");
    assert!(head.contains("\r\nx-token: abc\r\n"), "{head}");
    assert!(head.contains("\r\nUpgrade: websocket\r\n"), "{head}");
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
    // Latency is reported raw and corrected for the start lag, never below the raw one.
    let raw = &metric(&json, "http_req_duration")["trend"];
    let corrected = &metric(&json, "http_req_duration_corrected")["trend"];
    assert!(corrected["med"].as_f64() >= raw["med"].as_f64(), "{json:#}");
    assert!(metric(&json, "iteration_duration_corrected")["count"].as_u64() > Some(0));
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

/// The results JSON written at `path`.
fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("results written");
    serde_json::from_str(&text).expect("the results are JSON")
}

#[test]
fn abort_on_fail_stops_a_long_stage_early_with_exit_99() {
    let plan = r#"
name: aborting
environments: { local: { mock: { mode: fixed, status: 503 } } }
stages: { long: { vus: 2, duration: 60s } }
scenarios:
  api: { steps: [ { request: { url: "{{ env.base_url }}/x" } }, { sleep: 10ms } ] }
thresholds:
  http_req_failed:
    - { check: "rate < 1%", abort_on_fail: true, delay_abort: 1s }
"#;
    let run = run(plan, &["--quiet"], &[]);
    assert_eq!(run.status, 99, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results written");
    assert_eq!(json["partial"], true);
    assert!(
        json["stopped_early"]
            .as_str()
            .is_some_and(|why| why.contains("abort_on_fail")),
        "{json:#}"
    );
    // Stopped long before the 60 s the stage asked for.
    assert!(
        json["duration_s"].as_f64() < Some(30.0),
        "{}",
        json["duration_s"]
    );
    assert_eq!(metric(&json, "http_req_failed")["share"], 1.0);
}

#[test]
fn sigint_stops_gracefully_writes_partial_results_and_exits_130() {
    let (mut mock, base_url) = mock_process(&[]);
    let plan = format!(
        r#"
name: interrupted
environments: {{ there: {{ base_url: "{base_url}" }} }}
stages: {{ long: {{ vus: 3, duration: 60s }} }}
scenarios:
  api: {{ steps: [ {{ request: {{ url: "{{{{ env.base_url }}}}/x?delay=5" }} }} ] }}
"#
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let run = crate::common::Background::start(&plan, dir.path());
    // Requests at the target say the run (and its signal handlers) are under way.
    crate::common::wait_until("requests at the mock", || {
        crate::common::mock_requests(&base_url) > 0
    });
    run.signal("INT");
    let results = run.results.clone();
    let (status, stderr) = run.wait();
    let _ = mock.kill();
    let _ = mock.wait();
    assert_eq!(status, 130, "{stderr}");
    let json = read_json(&results);
    assert_eq!(json["partial"], true);
    assert!(json["duration_s"].as_f64() < Some(30.0));
    assert!(
        metric(&json, "http_reqs")["count"].as_u64() > Some(0),
        "{json:#}"
    );
    assert!(stderr.contains("partial"), "{stderr}");
}

#[test]
fn a_target_stopped_mid_run_costs_errors_not_the_report() {
    // A mock in its own process, stopped once it has answered 20 requests; the run goes on
    // until its `abort_on_fail` threshold sees the failures.
    let (mut mock, base_url) = mock_process(&[]);
    let plan = format!(
        r#"
name: dying-target
environments: {{ there: {{ base_url: "{base_url}" }} }}
stages: {{ long: {{ vus: 2, duration: 60s }} }}
scenarios:
  api: {{ steps: [ {{ request: {{ url: "{{{{ env.base_url }}}}/x", timeout: 1s }} }}, {{ sleep: 10ms }} ] }}
thresholds:
  http_req_failed: [ {{ check: "rate < 1%", abort_on_fail: true }} ]
"#
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let run = crate::common::Background::start(&plan, dir.path());
    crate::common::wait_until("20 requests at the mock", || {
        crate::common::mock_requests(&base_url) >= 20
    });
    mock.kill().expect("the mock stops");
    let _ = mock.wait();
    let results = run.results.clone();
    let (status, stderr) = run.wait();
    assert_eq!(status, 99, "{stderr}");
    let json = read_json(&results);
    assert_eq!(json["partial"], true, "{json:#}");
    let failed = metric(&json, "http_req_failed");
    assert!(failed["count"].as_u64() > Some(20), "{json:#}");
    let share = failed["share"].as_f64().expect("a share");
    assert!(
        share > 0.0 && share < 1.0,
        "some requests succeeded, some failed: {share}"
    );
    assert!(!json["errors"].as_object().expect("errors").is_empty());
}

#[test]
fn a_target_that_never_answers_counts_timeouts() {
    let plan = r#"
name: silent
environments: { local: { mock: { mode: timeout } } }
stages: { short: { vus: 2, duration: 1s } }
scenarios:
  api: { steps: [ { request: { url: "{{ env.base_url }}/x", timeout: 200ms } } ] }
thresholds:
  http_req_failed: [ "rate < 1%" ]
"#;
    let run = run(plan, &["--quiet"], &[]);
    assert_eq!(run.status, 99, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results written");
    assert!(json["errors"]["timeout"].as_u64() >= Some(2), "{json:#}");
}

#[test]
fn results_json_round_trips_as_a_baseline() {
    let plan = r#"
name: baseline
environments: { local: { mock: true } }
stages: { short: { vus: 2, duration: 500ms } }
scenarios:
  api: { steps: [ { request: { url: "{{ env.base_url }}/x?delay=2" } } ] }
thresholds:
  http_req_duration: [ "p95 < baseline * 50", "p50 < baseline * 0.001" ]
"#;
    let first = run(plan, &["--quiet"], &[]);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let saved = dir.path().join("first.json");
    std::fs::write(
        &saved,
        serde_json::to_string(&first.json.expect("first results")).expect("JSON"),
    )
    .expect("saved");
    let second = run(
        plan,
        &[
            "--quiet",
            "--baseline",
            saved.to_str().expect("a UTF-8 path"),
        ],
        &[],
    );
    assert_eq!(second.status, 99, "{}", second.stderr);
    let json = second.json.expect("results written");
    // Limits come from the baseline's decoded histogram: p95 × 50 passes, p50 × 0.001 fails.
    assert_eq!(json["thresholds"][0]["passed"], true, "{json:#}");
    assert!(json["thresholds"][0]["limit"].as_f64() > Some(50.0));
    assert_eq!(json["thresholds"][1]["passed"], false);
    let missing = run(plan, &["--quiet", "--baseline", "/nonexistent.json"], &[]);
    assert_eq!(missing.status, 2, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("nonexistent.json"),
        "{}",
        missing.stderr
    );
}

/// Starts `loadplan mock` with `args` in its own process; returns it and its base URL.
pub(crate) fn mock_process(args: &[&str]) -> (std::process::Child, String) {
    let mut mock = Command::new(env!("CARGO_BIN_EXE_loadplan"))
        .args(["mock", "--port", "0"])
        .args(args)
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the mock starts");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(
        mock.stdout.take().expect("piped stdout"),
    ));
    let base_url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.trim()
                .strip_prefix("http:")
                .map(|u| u.trim().to_owned())
        })
        .expect("the mock prints its URL");
    (mock, base_url)
}

#[test]
fn https_wss_and_http2_run_over_rustls() {
    let (mut mock, base_url) = mock_process(&[
        "--tls-cert",
        "tests/fixtures/tls/cert.pem",
        "--tls-key",
        "tests/fixtures/tls/key.pem",
    ]);
    assert!(base_url.starts_with("https://"), "{base_url}");
    let ws_url = format!("{}/ws", base_url.replace("https://", "wss://"));
    let plan = format!(
        r#"
name: tls
environments:
  staging: {{ base_url: "{base_url}", ws_url: "{ws_url}", insecure: true }}
  strict: {{ base_url: "{base_url}", ws_url: "{ws_url}" }}
stages: {{ short: {{ vus: 2, duration: 1s }} }}
scenarios:
  api:
    steps:
      - request:
          url: "{{{{ env.base_url }}}}/one"
          name: h1
          expect: {{ status: 200, headers: {{ x-mock-http-version: "^HTTP/1.1$" }} }}
      - request:
          url: "{{{{ env.base_url }}}}/two"
          version: http2
          name: h2
          expect: {{ status: 200, headers: {{ x-mock-http-version: "^HTTP/2$" }} }}
      - connect: "{{{{ env.ws_url }}}}"
      - send: {{ json: {{ type: ping, id: "{{{{ vu }}}}-{{{{ iteration }}}}" }} }}
      - expect: {{ json: {{ type: pong }}, within: 2s }}
      - sleep: 20ms
thresholds:
  checks: [ "rate == 100%" ]
  http_req_failed: [ "rate == 0%" ]
  ws_message_latency: [ "count > 0" ]
"#
    );
    let verified = run(&plan, &["--quiet", "--env", "staging"], &[]);
    let strict = run(&plan, &["--quiet", "--env", "strict"], &[]);
    let _ = mock.kill();
    let _ = mock.wait();
    assert_eq!(
        verified.status, 0,
        "{}\n{}",
        verified.stdout, verified.stderr
    );
    let json = verified.json.expect("results written");
    assert!(metric(&json, "http_reqs")["count"].as_u64() >= Some(4));
    assert!(metric(&json, "ws_connect_time")["count"].as_u64() >= Some(2));
    // Without `insecure`, the self-signed certificate is refused: counted, not fatal.
    assert_eq!(strict.status, 99, "{}", strict.stderr);
    let json = strict.json.expect("results written");
    let errors = json["errors"].as_object().expect("errors by kind");
    assert!(
        errors
            .keys()
            .any(|k| k.contains("tls") || k.contains("certificate")),
        "{errors:?}"
    );
}

#[test]
fn http2_without_tls_is_prior_knowledge_h2c() {
    let plan = r#"
name: h2c
environments: { local: { mock: true } }
stages: { short: { vus: 2, duration: 500ms } }
scenarios:
  api:
    steps:
      - request:
          url: "{{ env.base_url }}/x"
          version: http2
          expect: { headers: { x-mock-http-version: "^HTTP/2$" } }
thresholds:
  checks: [ "rate == 100%" ]
"#;
    let run = run(plan, &["--quiet"], &[]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
}

/// The run counted no error of any kind.
fn assert_no_errors(json: &serde_json::Value) {
    assert!(
        json["errors"].as_object().is_some_and(|e| e.is_empty()),
        "{json:#}"
    );
}

/// The measured value of the first threshold on `key`.
fn threshold_value(json: &serde_json::Value, key: &str) -> f64 {
    json["thresholds"]
        .as_array()
        .and_then(|all| all.iter().find(|t| t["key"] == key))
        .and_then(|t| t["value"].as_f64())
        .unwrap_or_else(|| panic!("no value for threshold {key} in {json:#}"))
}

/// A counter's count for one scenario, from the serialised series.
fn scenario_count(json: &serde_json::Value, metric: &str, scenario: &str) -> u64 {
    json["series"]
        .as_array()
        .expect("series")
        .iter()
        .filter(|s| s["metric"] == metric && s["scenario"] == scenario)
        .filter_map(|s| s["count"].as_u64())
        .sum()
}

#[test]
fn ramp_stages_follow_their_targets_and_cancel_after_graceful_stop() {
    let plan = r#"
name: ramping
environments: { local: { mock: true } }
stages:
  ramp:
    ramp: [ { to: 8, over: 2s }, { hold: 1s }, { to: 0, over: 2s } ]
    graceful_stop: 200ms
scenarios:
  api: { steps: [ { request: { url: "{{ env.base_url }}/x" } }, { sleep: 50ms } ] }
  stuck:
    vus: 1
    steps:
      - request: { url: "{{ env.base_url }}/x" }
      - sleep: 60s
"#;
    let run = run(plan, &["--quiet"], &[]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results written");
    let vus: Vec<u64> = json["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .filter_map(|second| second["vus"].as_u64())
        .collect();
    // Most VUs seen in each second: up the ramp, 8 on the hold, down again.
    assert!(vus.len() >= 5, "{vus:?}");
    assert!(vus[0] < 8, "the first second is still ramping: {vus:?}");
    assert_eq!(vus.iter().max(), Some(&8), "{vus:?}");
    assert!(
        vus[vus.len() - 1] < 8,
        "the last second ramps down: {vus:?}"
    );
    assert_eq!(json["vus_max"], 8);
    // The VU sleeping 60 s was cancelled 200 ms after the ramp let it go.
    assert!(json["duration_s"].as_f64() < Some(30.0), "{json:#}");
    assert_eq!(scenario_count(&json, "iterations", "stuck"), 0);
    assert!(scenario_count(&json, "iterations", "api") > 8);
}

#[test]
fn weights_split_vus_and_broadcasts_reach_only_their_scope() {
    let plan = r#"
name: scoped
environments: { local: { mock: true } }
stages: { short: { vus: 4, duration: 1s, graceful_stop: 500ms } }
scenarios:
  users:
    weight: 2
    steps:
      - connect: "{{ env.ws_url }}?scope=user"
      - sleep: 5s
    on_message:
      - match: { json: { kind: broadcast } }
        correlate: "$.id"
  sessions:
    weight: 1
    steps:
      - connect: "{{ env.ws_url }}?scope=session&session=s1"
      - sleep: 5s
    on_message:
      - match: { json: { kind: broadcast } }
        correlate: "$.id"
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
  "ws_connect_time{scenario:users}": [ "count == 2" ]
  "ws_connect_time{scenario:sessions}": [ "count == 1" ]
  "broadcast_delivery_time{scenario:users}": [ "count > 0" ]
  "broadcast_delivery_time{scenario:sessions}": [ "count == 0" ]
  "http_reqs{name:broadcast}": [ "count > 0" ]
"#;
    let run = run(plan, &["--quiet"], &[]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results written");
    // 4 VUs: the pinned broadcaster, then 3 split 2:1.
    assert_eq!(
        threshold_value(&json, "ws_connect_time{scenario:users}"),
        2.0
    );
    assert_eq!(
        threshold_value(&json, "ws_connect_time{scenario:sessions}"),
        1.0
    );
    // Every user-scoped VU records every broadcast; the session-scoped one none.
    let sent = threshold_value(&json, "http_reqs{name:broadcast}");
    let delivered = threshold_value(&json, "broadcast_delivery_time{scenario:users}");
    assert!(
        delivered <= 2.0 * sent && delivered >= 2.0 * (sent - 1.0),
        "{delivered} deliveries of {sent} broadcasts to 2 VUs"
    );
    assert_eq!(
        threshold_value(&json, "broadcast_delivery_time{scenario:sessions}"),
        0.0
    );
}

#[test]
fn every_step_kind_runs_and_expect_skips_unrelated_messages() {
    let plan = r#"
name: steps
environments: { local: { mock: true } }
stages: { short: { vus: 2, duration: 1s, graceful_stop: 5s } }
scenarios:
  chat:
    steps:
      - connect: "{{ env.ws_url }}?scope=user"
      - group: chatter
        steps:
          # Echoed back before the pong: expect skips them, on_message counts them.
          - send: { text: "noise-1" }
          - send: { text: "noise-2" }
          - send: { json: { type: ping, id: "{{ uuid() }}" } }
            as: ping
          - expect: { json: { type: pong, id: "{{ ping.id }}" }, within: 2s, name: pong }
      - reconnect: {}
      - send: { json: { type: ping, id: "{{ uuid() }}" } }
        as: again
      - expect: { json: { type: pong, id: "{{ again.id }}" }, within: 2s, name: again }
      - disconnect: {}
    on_message:
      - match: { regex: "^noise-" }
        metric: noise_seen
  http:
    vus: 1
    steps:
      - set: { wanted: 201 }
      - repeat: { count: 3, every: 20ms }
        steps:
          - request:
              url: "{{ env.base_url }}/x?status={{ wanted }}"
              expect: { status: 201 }
              name: every
      - group: polling
        steps:
          - repeat: { for: 100ms }
            steps:
              - request: { url: "{{ env.base_url }}/x", name: for }
              - sleep: 5ms..15ms
thresholds:
  "ws_message_latency{name:pong}": [ "count > 0" ]
  "ws_message_latency{group:chatter}": [ "count > 0" ]
  "ws_msgs_sent{group:chatter}": [ "count > 0" ]
  "http_reqs{group:polling}": [ "count > 0" ]
  "ws_message_latency{name:again}": [ "count > 0" ]
  ws_reconnect_time: [ "count > 0" ]
  noise_seen: [ "count > 0" ]
  "http_reqs{name:every}": [ "count > 0" ]
  "http_reqs{name:for}": [ "count > 0" ]
  checks: [ "rate == 100%" ]
  ws_connect_errors: [ "count == 0" ]
"#;
    let run = run(plan, &["--quiet"], &[]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results written");
    assert_no_errors(&json);
    // Iterations end within the graceful stop, so every one did every step once.
    let chats = scenario_count(&json, "iterations", "chat") as f64;
    assert!(chats > 0.0);
    assert_eq!(
        threshold_value(&json, "ws_message_latency{name:pong}"),
        chats
    );
    assert_eq!(
        threshold_value(&json, "ws_message_latency{name:again}"),
        chats
    );
    assert_eq!(threshold_value(&json, "ws_reconnect_time"), chats);
    assert_eq!(threshold_value(&json, "noise_seen"), 2.0 * chats);
    let https = scenario_count(&json, "iterations", "http") as f64;
    assert!(https > 0.0);
    assert_eq!(threshold_value(&json, "http_reqs{name:every}"), 3.0 * https);
    // The innermost group tags what its steps record (nested in a repeat too).
    assert_eq!(
        threshold_value(&json, "ws_message_latency{group:chatter}"),
        chats
    );
    assert_eq!(
        threshold_value(&json, "ws_msgs_sent{group:chatter}"),
        3.0 * chats
    );
    assert_eq!(
        threshold_value(&json, "http_reqs{group:polling}"),
        threshold_value(&json, "http_reqs{name:for}")
    );
    // 100 ms of requests each followed by 5–15 ms: a handful per iteration.
    let per_iteration = threshold_value(&json, "http_reqs{name:for}") / https;
    assert!((4.0..=25.0).contains(&per_iteration), "{per_iteration}");
}

/// A bare HTTP/1.1 server on 127.0.0.1 with canned answers by path: chunked bodies,
/// interim 100 answers, bodies that run to the end of the connection, and keep-alive
/// connections it closes without saying so. Serves for at most 30 s.
fn raw_http_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    listener.set_nonblocking(true).expect("non-blocking accept");
    let connections = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&connections);
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(std::time::Duration::from_millis(2));
                continue;
            };
            counted.fetch_add(1, Ordering::Relaxed);
            std::thread::spawn(move || {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 1024];
                loop {
                    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
                    buffer.drain(..end + 4);
                    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                    let answer: &[u8] = match path.as_str() {
                        "/chunked" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7;ext=1\r\n{\"kind\"\r\n0B\r\n:\"chunked\"}\r\n0\r\nX-Trailer: 1\r\n\r\n",
                        "/interim" => b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 18\r\n\r\n{\"kind\":\"interim\"}",
                        "/close" => b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"kind\":\"close\"}",
                        // Announces 100 GB, sends 5 bytes and hangs up.
                        "/liar" => b"HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\nshort",
                        "/garbage" => b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
                        _ => b"HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n{\"kind\":\"stale\"}",
                    };
                    if stream.write_all(answer).is_err() {
                        return;
                    }
                    // `/close` says so; `/stale` closes a keep-alive connection unannounced.
                    if matches!(path.as_str(), "/close" | "/stale" | "/liar" | "/garbage") {
                        return;
                    }
                }
            });
        }
    });
    (base, connections)
}

#[test]
fn http1_bodies_chunked_interim_closing_and_stale_connections() {
    let (base, connections) = raw_http_server();
    let plan = format!(
        r#"
name: framing
environments: {{ raw: {{ base_url: "{base}" }} }}
stages: {{ short: {{ vus: 2, duration: 1s }} }}
scenarios:
  api:
    steps:
      - request: {{ url: "{{{{ env.base_url }}}}/chunked", expect: {{ json: {{ kind: chunked }} }} }}
      - request: {{ url: "{{{{ env.base_url }}}}/interim", expect: {{ json: {{ kind: interim }} }} }}
      - request: {{ url: "{{{{ env.base_url }}}}/stale", expect: {{ json: {{ kind: stale }} }} }}
      - request: {{ url: "{{{{ env.base_url }}}}/chunked", expect: {{ json: {{ kind: chunked }} }} }}
      - request: {{ url: "{{{{ env.base_url }}}}/close", expect: {{ json: {{ kind: close }} }} }}
      - sleep: 20ms
thresholds:
  checks: [ "rate == 100%" ]
  http_req_failed: [ "rate == 0%" ]
"#
    );
    let run = run(&plan, &["--quiet"], &[]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results written");
    assert_no_errors(&json);
    let iterations = metric(&json, "iterations")["count"].as_u64().unwrap_or(0);
    assert!(iterations >= 2, "{json:#}");
    assert_eq!(
        metric(&json, "http_reqs")["count"].as_u64(),
        Some(5 * iterations)
    );
    // Each iteration: the connection after /stale is found closed and replaced, and /close
    // ends another, so at least two connections per iteration.
    let opened = connections.load(std::sync::atomic::Ordering::Relaxed) as u64;
    assert!(
        opened >= 2 * iterations,
        "{opened} connections for {iterations} iterations"
    );
}

#[test]
fn a_lying_or_garbled_http_server_costs_errors_not_the_run() {
    let (base, _) = raw_http_server();
    let plan = format!(
        r#"
name: liars
environments: {{ raw: {{ base_url: "{base}" }} }}
stages: {{ short: {{ vus: 2, duration: 500ms }} }}
scenarios:
  liar: {{ steps: [ {{ request: {{ url: "{{{{ env.base_url }}}}/liar" }} }} ] }}
  garbage: {{ steps: [ {{ request: {{ url: "{{{{ env.base_url }}}}/garbage" }} }} ] }}
"#
    );
    let run = run(&plan, &["--quiet"], &[]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results written");
    let errors = json["errors"].as_object().expect("errors by kind");
    assert_eq!(
        errors.keys().collect::<Vec<_>>(),
        ["protocol"],
        "{errors:?}"
    );
    // What each server did wrong is in the kind's examples.
    let examples = json["error_examples"]["protocol"].to_string();
    assert!(
        examples.contains("closed in the response body"),
        "{examples}"
    );
    assert!(examples.contains("invalid response"), "{examples}");
    assert_eq!(metric(&json, "http_req_failed")["share"], 1.0);
}

#[test]
fn connect_offers_subprotocols_and_the_chosen_one_holds() {
    let plan = r#"
name: subprotocols
environments: { local: { mock: true } }
stages: { short: { vus: 1, duration: 300ms } }
scenarios:
  chat:
    steps:
      - connect:
          url: "{{ env.ws_url }}"
          subprotocols: [ chat.v2, chat.v1 ]
      # The mock chooses the first one offered and names it in its pongs.
      - send: { json: { type: ping, id: "{{ uuid() }}" } }
        as: ping
      - expect: { json: { type: pong, id: "{{ ping.id }}", protocol: chat.v2 }, within: 1s }
      - reconnect: {}
      - send: { json: { type: ping, id: "{{ uuid() }}" } }
        as: again
      - expect: { json: { type: pong, id: "{{ again.id }}", protocol: chat.v2 }, within: 1s }
      - disconnect: {}
thresholds:
  ws_message_latency: [ "count > 0" ]
  ws_connect_errors: [ "count == 0" ]
"#;
    let run = run(plan, &["--quiet"], &[]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results written");
    assert_no_errors(&json);
}

#[test]
fn expect_matches_by_regex_json_path_and_text_and_send_takes_binary() {
    let plan = r#"
name: exp
environments: { local: { mock: true } }
stages: { short: { vus: 1, duration: 300ms } }
scenarios:
  chat:
    steps:
      - connect: "{{ env.ws_url }}"
      - send: { text: "hello 42" }
      - expect: { regex: "^hello [0-9]+$", within: 1s, name: rx }
      - send: { json: { type: ping, id: "{{ uuid() }}" } }
        as: ping
      - expect: { json_path: { "$.type": pong, "$.id": "{{ ping.id }}" }, within: 1s, name: jp }
      - send: { binary: "AQID" }
      - send: { text: "exact {{ iteration }}" }
      - expect: { text: "exact {{ iteration }}", within: 1s, name: tx }
thresholds:
  "ws_message_latency{name:rx}": [ "count > 0" ]
  "ws_message_latency{name:jp}": [ "count > 0" ]
  "ws_message_latency{name:tx}": [ "count > 0" ]
"#;
    let run = run(plan, &["--quiet"], &[]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results written");
    assert_no_errors(&json);
    // Every iteration sent four messages (one binary) and had each of its three waits met.
    let sent = metric(&json, "ws_msgs_sent")["count"].as_u64().unwrap_or(0);
    let waits = metric(&json, "ws_message_latency")["count"]
        .as_u64()
        .unwrap_or(0);
    assert!(waits >= 3, "{json:#}");
    assert_eq!(sent * 3, waits * 4, "{sent} sent, {waits} waits met");
}

#[test]
fn report_compares_with_the_baseline_the_run_had() {
    let plan = r#"
name: rerender
environments: { local: { mock: true } }
stages: { short: { vus: 1, duration: 300ms } }
scenarios:
  api: { steps: [ { request: { url: "{{ env.base_url }}/x?delay=1" } } ] }
thresholds:
  http_req_duration: [ "p95 < baseline * 100" ]
"#;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let first = dir.path().join("first.json");
    std::fs::write(
        &first,
        serde_json::to_string(&run(plan, &["--quiet"], &[]).json.expect("first results"))
            .expect("JSON"),
    )
    .expect("saved");
    let second = run(
        plan,
        &["--quiet", "--baseline", first.to_str().expect("UTF-8")],
        &[],
    );
    assert_eq!(second.status, 0, "{}", second.stderr);
    let json = second.json.expect("second results");
    assert_eq!(json["baseline_file"], first.display().to_string());
    let saved = dir.path().join("second.json");
    std::fs::write(&saved, json.to_string()).expect("saved");
    let output = Command::new(env!("CARGO_BIN_EXE_loadplan"))
        .arg("report")
        .arg(&saved)
        .output()
        .expect("loadplan report runs");
    let markdown = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{markdown}");
    assert!(
        markdown.contains("Compared with the baseline run"),
        "{markdown}"
    );
    // Gone baseline: rendered without the comparison, not an error.
    std::fs::remove_file(&first).expect("removed");
    let output = Command::new(env!("CARGO_BIN_EXE_loadplan"))
        .arg("report")
        .arg(&saved)
        .output()
        .expect("loadplan report runs");
    assert_eq!(output.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&output.stdout).contains("Compared with the baseline run"));
}

/// A run of 60 s whose `collect: command` source `stuck` would outlast it by minutes (a
/// `sleep 300`, with the given `timeout`); returned once the command has written its pid and
/// its child's to the file returned, which also says the run is under way.
fn run_with_a_stuck_command(
    dir: &std::path::Path,
    timeout: &str,
) -> (crate::common::Background, std::path::PathBuf) {
    use crate::common::{Background, pids_in, wait_until};
    let pids = dir.join("pids");
    let plan = format!(
        r#"
name: stuck-command
environments: {{ local: {{ mock: true }} }}
stages: {{ long: {{ vus: 1, duration: 60s }} }}
scenarios:
  api: {{ steps: [ {{ request: {{ url: "{{{{ env.base_url }}}}/x" }} }}, {{ sleep: 20ms }} ] }}
collect:
  - command: {{ name: stuck, run: "sleep 300 & echo $! >> {pids}; echo $$ >> {pids}; wait", parse: prometheus, timeout: {timeout} }}
"#,
        pids = pids.display()
    );
    let run = Background::start(&plan, dir);
    wait_until("the command's pids", || pids_in(&pids).len() == 2);
    (run, pids)
}

#[test]
fn a_second_sigint_stops_a_command_sample_and_kills_its_group() {
    use crate::common::{gone, pids_in, wait_until};
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (mut run, pids) = run_with_a_stuck_command(dir.path(), "50s");
    run.signal("INT");
    run.wait_for_line("press Ctrl-C again");
    run.signal("INT");
    let results = run.results.clone();
    let (status, stderr) = run.wait();
    assert_eq!(status, 130, "{stderr}");
    let json = read_json(&results);
    assert_eq!(json["partial"], true, "{json:#}");
    assert!(stderr.contains("stopping now"), "{stderr}");
    for pid in pids_in(&pids) {
        wait_until(&format!("process {pid} to be killed"), || gone(pid));
    }
}

/// One signal, while a command sample with a 120 s `timeout` runs: the sample becomes the
/// source's last and is cut short a second after the stage ends, instead of holding the
/// run for its timeout (and then a last sample's).
#[test]
fn a_first_sigint_cuts_a_command_sample_short() {
    use crate::common::{gone, pids_in, wait_until};
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (mut run, pids) = run_with_a_stuck_command(dir.path(), "120s");
    run.signal("INT");
    run.wait_for_line("press Ctrl-C again");
    let results = run.results.clone();
    let (status, stderr) = run.wait();
    assert_eq!(status, 130, "{stderr}");
    assert!(
        !stderr.contains("stopping now"),
        "one signal only: {stderr}"
    );
    let json = read_json(&results);
    assert_eq!(json["partial"], true, "{json:#}");
    let source = &json["sources"]["stuck"];
    assert_eq!(source["samples"], 0, "{source:#}");
    assert_eq!(source["failed"], 1, "one sample, cut short: {source:#}");
    assert!(
        source["error"]
            .as_str()
            .is_some_and(|e| e.contains("cut short")),
        "{source:#}"
    );
    for pid in pids_in(&pids) {
        wait_until(&format!("process {pid} to be killed"), || gone(pid));
    }
}

#[test]
fn sigterm_twice_stops_vus_in_their_graceful_stop() {
    use crate::common::{Background, wait_until};
    let (mut mock, base_url) = mock_process(&[]);
    // Each iteration waits 5 s at the server and the graceful stop is a minute: only the
    // second signal can end this run soon.
    let plan = format!(
        r#"
name: slow-iterations
environments: {{ there: {{ base_url: "{base_url}" }} }}
stages: {{ long: {{ vus: 2, duration: 60s, graceful_stop: 60s }} }}
scenarios:
  api: {{ steps: [ {{ request: {{ url: "{{{{ env.base_url }}}}/x", timeout: 60s }} }}, {{ request: {{ url: "{{{{ env.base_url }}}}/x?delay=5000", timeout: 60s }} }} ] }}
"#
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut run = Background::start(&plan, dir.path());
    wait_until("requests at the mock", || {
        crate::common::mock_requests(&base_url) >= 2
    });
    run.signal("TERM");
    run.wait_for_line("press Ctrl-C again");
    run.signal("TERM");
    let results = run.results.clone();
    let (status, stderr) = run.wait();
    let _ = mock.kill();
    let _ = mock.wait();
    assert_eq!(status, 130, "{stderr}");
    let json = read_json(&results);
    assert_eq!(json["partial"], true, "{json:#}");
    assert!(
        metric(&json, "http_reqs")["count"].as_u64() >= Some(2),
        "{json:#}"
    );
}
