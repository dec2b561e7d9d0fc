//! `setup:` and `teardown:` against `loadplan mock` in its own process, whose `/stats`
//! counts the channels they create and delete and the requests made to each: setup's
//! values reach every VU, teardown runs after the load and after Ctrl-C, a failed setup
//! sends no load, a teardown is cut at its timeout, and the plan's mistakes are located.

use crate::common::{Background, get_json, loadplan, wait_until};
use crate::run::mock_process;

fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("results written");
    serde_json::from_str(&text).expect("the results are JSON")
}

fn stats(base_url: &str) -> serde_json::Value {
    get_json(&format!("{base_url}/stats"))
}

/// The count of `metric`'s series of `scenario`, summed.
fn count(json: &serde_json::Value, metric: &str, scenario: &str) -> u64 {
    json["series"]
        .as_array()
        .expect("series")
        .iter()
        .filter(|s| s["metric"] == metric && s["scenario"] == scenario)
        .filter_map(|s| s["count"].as_u64())
        .sum()
}

fn plan(base_url: &str, duration: &str, teardown: &str) -> String {
    format!(
        r#"
name: phases
environments: {{ there: {{ base_url: "{base_url}" }} }}
stages: {{ main: {{ vus: 3, duration: {duration} }} }}
setup:
  - request: {{ method: POST, url: "{{{{ env.base_url }}}}/channels", name: create channel, expect: {{ status: 201 }} }}
    as: channel
teardown:
{teardown}
scenarios:
  talk:
    steps:
      - request: {{ method: POST, url: "{{{{ env.base_url }}}}/channels/{{{{ setup.channel.json.id }}}}/messages", expect: {{ status: 200 }} }}
      - sleep: 20ms
thresholds:
  "http_req_duration{{phase:setup}}": [ "p95 < 10s" ]
  "http_reqs{{phase:teardown}}": [ "count == 1" ]
"#
    )
}

const DELETE: &str = r#"  - request: { method: DELETE, url: "{{ env.base_url }}/channels/{{ setup.channel.json.id }}", expect: { status: 204 } }"#;

#[test]
fn setup_creates_what_every_vu_uses_and_teardown_deletes_it() {
    let (mut mock, base_url) = mock_process(&[]);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let run = Background::start(&plan(&base_url, "1s", DELETE), dir.path());
    let results = run.results.clone();
    let (status, stderr) = run.wait();
    let seen = stats(&base_url);
    let _ = mock.kill();
    let _ = mock.wait();
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(seen["channels_created"], 1, "{seen:#}");
    assert_eq!(seen["channels_deleted"], 1, "{seen:#}");
    assert_eq!(seen["channels_open"], 0, "{seen:#}");
    // Every VU request named the channel setup made: none went to an unknown id, and the
    // mock counted as many as the run sent.
    assert_eq!(seen["channel_unknown"], 0, "{seen:#}");
    let json = read_json(&results);
    let sent = count(&json, "http_reqs", "talk");
    assert!(sent > 0, "{json:#}");
    assert_eq!(seen["channel_requests"].as_u64(), Some(sent), "{seen:#}");
    assert_eq!(count(&json, "http_reqs", "setup"), 1);
    assert_eq!(count(&json, "http_reqs", "teardown"), 1);
    let phases = json["phases"].as_array().expect("phases recorded");
    assert_eq!(phases.len(), 2, "{json:#}");
    assert_eq!(phases[0]["phase"], "setup");
    assert_eq!(phases[1]["phase"], "teardown");
    assert!(phases.iter().all(|p| p.get("error").is_none()), "{json:#}");
    // Both phase thresholds were judged, and passed.
    let thresholds = json["thresholds"].as_array().expect("thresholds");
    assert_eq!(thresholds.len(), 2);
    assert!(thresholds.iter().all(|t| t["passed"] == true), "{json:#}");
    let setup_series = json["series"]
        .as_array()
        .expect("series")
        .iter()
        .find(|s| s["scenario"] == "setup")
        .expect("a setup series");
    assert_eq!(setup_series["phase"], "setup");
}

#[test]
fn teardown_runs_after_sigint_and_the_exit_stays_130() {
    let (mut mock, base_url) = mock_process(&[]);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let run = Background::start(&plan(&base_url, "60s", DELETE), dir.path());
    wait_until("VU requests at the channel", || {
        stats(&base_url)["channel_requests"].as_u64() > Some(0)
    });
    run.signal("INT");
    let results = run.results.clone();
    let (status, stderr) = run.wait();
    let seen = stats(&base_url);
    let _ = mock.kill();
    let _ = mock.wait();
    assert_eq!(status, 130, "{stderr}");
    assert_eq!(seen["channels_created"], 1, "{seen:#}");
    assert_eq!(seen["channels_deleted"], 1, "{seen:#}");
    let json = read_json(&results);
    assert_eq!(json["partial"], true);
    assert_eq!(json["phases"][1]["phase"], "teardown", "{json:#}");
}

#[test]
fn a_failed_setup_exits_1_naming_the_step_and_sends_no_load() {
    let (mut mock, base_url) = mock_process(&[]);
    let plan = format!(
        r#"
name: failing-setup
environments: {{ there: {{ base_url: "{base_url}" }} }}
secrets: [ PHASE_TOKEN ]
stages: {{ main: {{ vus: 3, duration: 60s }} }}
setup:
  - request: {{ method: POST, url: "{{{{ env.base_url }}}}/channels", expect: {{ status: 201 }} }}
    as: channel
  - request:
      url: "{{{{ env.base_url }}}}/sessions?status=500"
      headers: {{ authorization: "Bearer {{{{ secrets.PHASE_TOKEN }}}}" }}
      name: open session
      expect: {{ status: 201 }}
teardown:
{DELETE}
scenarios:
  talk:
    steps:
      - request: {{ url: "{{{{ env.base_url }}}}/channels/{{{{ setup.channel.json.id }}}}/messages" }}
"#
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("plan.yaml");
    std::fs::write(&file, plan).expect("the plan is written");
    let results = dir.path().join("results.json");
    let output = crate::common::loadplan_command()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(format!("json={}", results.display()))
        .env("PHASE_TOKEN", "s3cret-phase-token")
        .output()
        .expect("loadplan runs");
    let seen = stats(&base_url);
    let _ = mock.kill();
    let _ = mock.wait();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("setup failed: step 2 (`open session`) failed: expect status 500 (the response's status 500 missed its `expect`)")
            && stderr.contains("the load did not start"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret-phase-token"), "{stderr}");
    // The two setup requests, nothing else: no VU request, no teardown.
    assert_eq!(seen["http_requests_total"], 2, "{seen:#}");
    assert_eq!(seen["channel_requests"], 0, "{seen:#}");
    assert_eq!(seen["channels_deleted"], 0, "{seen:#}");
    assert!(!results.exists(), "a failed setup writes no results");
}

#[test]
fn a_teardown_past_its_timeout_is_cut_short_and_counted() {
    let (mut mock, base_url) = mock_process(&[]);
    let teardown = r#"  steps:
    - request: { url: "{{ env.base_url }}/slow?delay=600000", timeout: 10m }
  timeout: 200ms"#;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let text = plan(&base_url, "200ms", teardown).replace(
        "  \"http_reqs{phase:teardown}\": [ \"count == 1\" ]\n",
        "  \"errors{phase:teardown}\": [ \"count == 0\" ]\n",
    );
    let run = Background::start(&text, dir.path());
    let results = run.results.clone();
    let (status, stderr) = run.wait();
    let _ = mock.kill();
    let _ = mock.wait();
    // The teardown's error fails the run only through the threshold that says so.
    assert_eq!(status, 99, "{stderr}");
    assert!(
        stderr.contains("warning: teardown it did not finish within its timeout of 200ms"),
        "{stderr}"
    );
    let json = read_json(&results);
    let teardown = &json["phases"][1];
    assert_eq!(teardown["phase"], "teardown", "{json:#}");
    assert!(
        teardown["error"]
            .as_str()
            .is_some_and(|e| e.contains("timeout")),
        "{json:#}"
    );
    assert_eq!(count(&json, "errors", "teardown"), 1, "{json:#}");
}

#[test]
fn validate_locates_phase_mistakes_with_suggestions() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("plan.yaml");
    std::fs::write(
        &file,
        r#"name: phases-bad
environments: { local: { mock: true } }
stages: { short: { vus: 1, duration: 1s } }
setup:
  - request: { method: POST, url: "{{ env.base_url }}/channels" }
    as: channel
  - request: { url: "{{ env.base_url }}/channels/{{ setup.channel.json.id }}" }
    as: setup
teardown:
  - request: { method: DELETE, url: "{{ env.base_url }}/channels/{{ setup.chanel.json.id }}" }
scenarios:
  talk:
    steps:
      - request: { url: "{{ env.base_url }}/x" }
"#,
    )
    .expect("the plan is written");
    let path = file.to_str().expect("a UTF-8 path");
    let output = loadplan(&["validate", path]);
    assert_eq!(output.status, 2, "{}", output.stderr);
    for expected in [
        format!("{path}:7:53: error: `setup.*` cannot be used inside `setup:`"),
        format!("{path}:8:5: error: `setup` is a reserved name; choose another"),
        format!("{path}:10:69: error: `setup.chanel`: no setup step captures `chanel`"),
        "help: did you mean `channel`?".to_owned(),
    ] {
        assert!(
            output.stderr.contains(&expected),
            "{expected}\n{}",
            output.stderr
        );
    }
}

/// `METHOD url` (plain `http://host:port/path`, no body) over a connection of its own: the
/// status and the body.
fn call(method: &str, url: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(host).expect("the mock accepts");
    stream
        .set_read_timeout(Some(crate::common::PATIENCE))
        .expect("a read timeout");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .expect("the request is sent");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("the response is read");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, body)| body.to_owned());
    (status, body)
}

#[test]
fn the_mock_channels_api_creates_counts_deletes_and_is_bounded() {
    let (mut mock, base_url) = mock_process(&[]);
    let (status, body) = call("POST", &format!("{base_url}/channels?topic=room:a"));
    assert_eq!(status, 201, "{body}");
    let created: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let id = created["id"].as_str().expect("an id").to_owned();
    assert_eq!(created["topic"], "room:a");
    assert_eq!(
        call("POST", &format!("{base_url}/channels/{id}/messages")).0,
        200
    );
    // An id the mock does not hold is counted, and answered as any path is.
    assert_eq!(
        call("GET", &format!("{base_url}/channels/nope/messages")).0,
        200
    );
    assert_eq!(call("GET", &format!("{base_url}/channels/nope")).0, 404);
    let (status, body) = call("GET", &format!("{base_url}/channels/{id}"));
    assert_eq!(status, 200);
    assert!(body.contains("\"requests\":1"), "{body}");
    assert_eq!(call("DELETE", &format!("{base_url}/channels/{id}")).0, 204);
    assert_eq!(call("DELETE", &format!("{base_url}/channels/{id}")).0, 404);
    // A client that only creates meets the cap: 429, and the mock holds no more.
    let mut refused = 0;
    for _ in 0..1025 {
        let (status, _) = call("POST", &format!("{base_url}/channels"));
        assert!(status == 201 || status == 429, "{status}");
        refused += u32::from(status == 429);
    }
    let seen = stats(&base_url);
    let (_, metrics) = call("GET", &format!("{base_url}/metrics"));
    let _ = mock.kill();
    let _ = mock.wait();
    assert_eq!(refused, 1);
    assert_eq!(seen["channels_created"], 1025, "{seen:#}");
    assert_eq!(seen["channels_deleted"], 1, "{seen:#}");
    assert_eq!(seen["channels_open"], 1024, "{seen:#}");
    assert_eq!(seen["channels_refused"], 1, "{seen:#}");
    assert_eq!(seen["channel_requests"], 1, "{seen:#}");
    assert_eq!(seen["channel_unknown"], 3, "{seen:#}");
    assert!(metrics.contains("mock_channels_open 1024"), "{metrics}");
    assert!(
        metrics.contains("mock_channels_created_total 1025"),
        "{metrics}"
    );
}

#[test]
fn teardown_runs_after_abort_on_fail() {
    let (mut mock, base_url) = mock_process(&[]);
    let text = plan(&base_url, "60s", DELETE).replace(
        "/messages\", expect: { status: 200 } }",
        "/messages\", expect: { status: 201 } }",
    ) + "  http_req_failed: [ { check: \"rate < 1%\", abort_on_fail: true } ]\n";
    let dir = tempfile::tempdir().expect("a temporary directory");
    let run = Background::start(&text, dir.path());
    let (status, stderr) = run.wait();
    let seen = stats(&base_url);
    let _ = mock.kill();
    let _ = mock.wait();
    assert_eq!(status, 99, "{stderr}");
    assert!(stderr.contains("abort_on_fail"), "{stderr}");
    assert_eq!(seen["channels_created"], 1, "{seen:#}");
    assert_eq!(seen["channels_deleted"], 1, "{seen:#}");
}
