//! `collect:` and `derived:` end to end: the real binary against the in-process mock's
//! `/metrics` and `/stats`, a port that refuses, a listener that never answers, commands,
//! and a child process of known size. Checks are on counts and bounds, never timings.

use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
    json: Value,
}

fn run(plan: &str) -> Run {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file: PathBuf = dir.path().join("plan.yaml");
    std::fs::write(&file, plan).expect("the plan is written");
    let results = dir.path().join("results.json");
    let output = crate::common::loadplan_command()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(format!("json={}", results.display()))
        .output()
        .expect("loadplan runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let text = std::fs::read_to_string(&results)
        .unwrap_or_else(|e| panic!("no results ({e}):\n{stdout}\n{stderr}"));
    Run {
        status: output.status.code().unwrap_or(-1),
        json: serde_json::from_str(&text).expect("the results are JSON"),
        stdout,
        stderr,
    }
}

fn client_count(json: &Value, name: &str) -> f64 {
    json["metrics"]
        .as_array()
        .and_then(|metrics| metrics.iter().find(|m| m["metric"] == name))
        .and_then(|m| m["count"].as_f64())
        .unwrap_or(0.0)
}

fn threshold<'j>(json: &'j Value, key: &str, check: &str) -> &'j Value {
    json["thresholds"]
        .as_array()
        .and_then(|all| all.iter().find(|t| t["key"] == key && t["check"] == check))
        .unwrap_or_else(|| panic!("no threshold {key}: {check} in {:#}", json["thresholds"]))
}

const AGAINST_THE_MOCK: &str = r#"
name: collect-mock
environments: { local: { mock: true } }
vars: { n: 2 }
stages: { short: { vus: 3, duration: 1s } }
scenarios:
  api:
    steps:
      - request: { url: "{{ env.base_url }}/items?delay=1", expect: { status: 200 } }
      - request: { url: "{{ env.base_url }}/gone?status=503" }
      - sleep: 20ms
collect:
  - prometheus: { name: mock, url: "{{ env.base_url }}/metrics", every: 200ms }
  - prometheus:
      name: ok
      url: "{{ env.base_url }}/metrics"
      every: 200ms
      select: [ mock_http_requests_total, not_exported_total ]
      labels: { status: "200" }
  - json:
      name: stats
      url: "{{ env.base_url }}/stats"
      every: 200ms
      kind: counter
      fields: { requests: /http_requests_total, nothing: /no/such/field }
  - json:
      name: level
      url: "{{ env.base_url }}/stats"
      every: 100ms
      fields: { requests: /http_requests_total }
derived:
  per_n: "stats.requests / vars.n"
  share_ok: "ok.mock_http_requests_total / mock.mock_http_requests_total * 100"
  nothing: "stats.requests / (vus_max - 3)"
thresholds:
  mock.mock_http_requests_total: [ "count > 0", "count < 1" ]
  "mock.mock_http_requests_total{status:503}": [ "rate > 0" ]
  mock.mock_http_request_duration_seconds: [ "p95 < 5s" ]
  level.requests: [ "min == 0", "avg > 0" ]
  share_ok: [ "value > 40%", "value < 60" ]
  nothing: [ "value > 0" ]
  stats.nothing: [ "value > 0" ]
"#;

#[test]
fn counters_gauges_histograms_and_derived_metrics_from_the_mock() {
    let run = run(AGAINST_THE_MOCK);
    assert_eq!(run.status, 99, "{}\n{}", run.stdout, run.stderr);
    let json = &run.json;
    let server = &json["server"];
    let sent = client_count(json, "http_reqs");
    assert!(sent >= 6.0, "{sent}");
    // Counter deltas match what the run sent, through both exports.
    assert_eq!(server["mock.mock_http_requests_total"]["delta"], sent);
    assert_eq!(server["stats.requests"]["delta"], sent);
    let ok = server["mock.mock_http_requests_total{status:200}"]["delta"]
        .as_f64()
        .expect("200s counted");
    let failed = server["mock.mock_http_requests_total{status:503}"]["delta"]
        .as_f64()
        .expect("503s counted");
    assert_eq!(ok + failed, sent);
    assert_eq!(
        server["ok.mock_http_requests_total{status:200}"]["delta"],
        ok
    );
    assert!(server["ok.mock_http_requests_total{status:503}"].is_null());
    assert!(server["mock.mock_http_requests_total"]["rate"].as_f64() > Some(0.0));
    // The gauge view of the same counter starts before the load and ends after it.
    let level = &server["level.requests"];
    assert_eq!(level["start"], 0.0);
    assert_eq!(level["min"], 0.0);
    assert_eq!(level["end"], sent);
    assert_eq!(level["max"], sent);
    let avg = level["avg"].as_f64().expect("an average");
    assert!(avg > 0.0 && avg < sent, "{avg}");
    assert!(level["samples"].as_u64() >= Some(3));
    // The histogram's window holds every request; quantiles are inside its buckets.
    let histogram = &server["mock.mock_http_request_duration_seconds"];
    assert_eq!(histogram["kind"], "histogram");
    assert_eq!(histogram["count"], sent);
    let (p50, p99) = (histogram["p50"].as_f64(), histogram["p99"].as_f64());
    assert!(
        p50 > Some(0.0) && p50 <= p99 && p99 < Some(5.0),
        "{histogram}"
    );
    // Asked-for metrics that never appear are reported missing with the reason.
    assert_eq!(
        server["ok.not_exported_total"]["missing"]
            .as_str()
            .map(|m| m.starts_with("not in any of the")),
        Some(true)
    );
    assert_eq!(
        server["stats.nothing"]["missing"],
        "no `/no/such/field` in the response"
    );
    // Derived metrics, and division by zero as n/a.
    let derived = json["derived"].as_array().expect("derived values");
    assert_eq!(derived[0]["value"], sent / 2.0);
    let share = derived[1]["value"].as_f64().expect("a share");
    assert!((share - ok / sent * 100.0).abs() < 1e-9);
    assert_eq!(derived[2]["value"], Value::Null);
    assert_eq!(derived[2]["reason"], "division by zero");
    // Thresholds on collected and derived metrics pass and fail.
    let passes = [
        ("mock.mock_http_requests_total", "count > 0", true),
        ("mock.mock_http_requests_total", "count < 1", false),
        (
            "mock.mock_http_requests_total{status:503}",
            "rate > 0",
            true,
        ),
        ("mock.mock_http_request_duration_seconds", "p95 < 5s", true),
        ("level.requests", "min == 0", true),
        ("level.requests", "avg > 0", true),
        ("share_ok", "value > 40%", true),
        ("share_ok", "value < 60", true),
        ("nothing", "value > 0", false),
        ("stats.nothing", "value > 0", false),
    ];
    for (key, check, passed) in passes {
        assert_eq!(
            threshold(json, key, check)["passed"],
            passed,
            "{key}: {check}\n{}",
            run.stdout
        );
    }
    assert_eq!(
        threshold(json, "nothing", "value > 0")["reason"],
        "`nothing` is n/a: division by zero"
    );
    assert_eq!(
        threshold(json, "stats.nothing", "value > 0")["reason"],
        "`stats.nothing` has no value: no `/no/such/field` in the response"
    );
    for text in [
        "\n  server\n",
        "stats.requests",
        "\n  derived\n",
        "n/a (division by zero)",
    ] {
        assert!(run.stdout.contains(text), "{text}:\n{}", run.stdout);
    }
    // A saved run reads back with its server figures (for `--baseline` and reports).
    let document: loadplan::report::json::RunDocument =
        serde_json::from_value(json.clone()).expect("a results document");
    let results = document.results().expect("results decode");
    assert_eq!(
        results.server["mock.mock_http_requests_total"].delta,
        Some(sent)
    );
    assert_eq!(results.derived.len(), 3);
    assert_eq!(results.sources["stats"].failed, 0);
}

/// A listener that accepts connections and never answers, for as long as the test runs.
fn silent_listener() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = listener.local_addr().expect("an address").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}

/// A port nobody listens on.
fn refusing_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    listener.local_addr().expect("an address").port()
}

#[test]
fn sources_that_refuse_hang_or_fail_are_reported_and_the_run_goes_on() {
    let plan = format!(
        r#"
name: collect-failures
environments: {{ local: {{ mock: true }} }}
stages: {{ short: {{ vus: 1, duration: 600ms }} }}
scenarios:
  api: {{ steps: [ {{ request: {{ url: "{{{{ env.base_url }}}}/x" }} }}, {{ sleep: 20ms }} ] }}
collect:
  - json: {{ name: refused, url: "http://127.0.0.1:{refused}/varz", every: 100ms, fields: {{ in_msgs: /in_msgs }} }}
  - prometheus: {{ name: hanging, url: "http://127.0.0.1:{hanging}/metrics", every: 200ms }}
  - command: {{ name: slow, run: "sleep 5", parse: prometheus, every: 200ms, timeout: 100ms }}
  - command: {{ name: broken, run: "echo '<html>'", parse: prometheus, every: 200ms }}
  - command: {{ name: fine, run: "printf 'jobs_total 7\\nqueue 3\\n'", parse: prometheus, every: 200ms }}
  - command: {{ name: doc, run: "echo '{{\"a\": {{\"b\": 4}}}}'", parse: json, fields: {{ b: /a/b }}, every: 200ms }}
thresholds:
  refused.in_msgs: [ "value > 0" ]
  hanging.anything: [ "avg < 1" ]
  http_req_failed: [ "rate < 1%" ]
"#,
        refused = refusing_port(),
        hanging = silent_listener(),
    );
    let run = run(&plan);
    assert_eq!(run.status, 99, "{}\n{}", run.stdout, run.stderr);
    let json = &run.json;
    assert!(client_count(json, "http_reqs") >= 1.0, "the load ran");
    let sources = &json["sources"];
    for (name, error) in [
        ("refused", "connection refused"),
        ("hanging", "timed out after 0.2s"),
        ("slow", "timed out after 0.1s"),
        (
            "broken",
            "unparseable: line 1: expected a metric name, found `<`",
        ),
    ] {
        assert_eq!(sources[name]["samples"], 0, "{name}: {sources:#}");
        assert!(sources[name]["failed"].as_u64() >= Some(2), "{name}");
        assert_eq!(sources[name]["error"], error, "{name}");
    }
    assert_eq!(json["server"]["fine.jobs_total"]["kind"], "counter");
    assert_eq!(json["server"]["fine.jobs_total"]["delta"], 0.0);
    assert_eq!(json["server"]["fine.queue"]["avg"], 3.0);
    assert_eq!(json["server"]["doc.b"]["end"], 4.0);
    let refused = json["server"]["refused.in_msgs"]["missing"]
        .as_str()
        .expect("missing with a reason");
    assert!(
        refused.starts_with("source `refused` failed ")
            && refused.ends_with(": connection refused"),
        "{refused}"
    );
    assert_eq!(
        threshold(json, "refused.in_msgs", "value > 0")["passed"],
        false
    );
    let hanging = threshold(json, "hanging.anything", "avg < 1");
    assert_eq!(hanging["passed"], false);
    assert!(
        hanging["reason"]
            .as_str()
            .is_some_and(|r| r.contains("timed out after 0.2s")),
        "{hanging}"
    );
    assert_eq!(
        threshold(json, "http_req_failed", "rate < 1%")["passed"],
        true
    );
    assert!(
        run.stdout.contains("sources with failed samples"),
        "{}",
        run.stdout
    );
}

/// Resident memory of `pid` in bytes, from /proc.
fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

#[test]
fn process_rss_of_a_child_that_allocates_200_mib() {
    const MIB: u64 = 1024 * 1024;
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import sys, time\nb = b'x' * (200 * 1024 * 1024)\nprint('ready', flush=True)\ntime.sleep(60)",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let pid = child.id();
    // Wait for the child to say its memory is allocated (a readiness signal, not a timing).
    let mut stdout = child.stdout.take().expect("stdout");
    let mut ready = [0u8; 5];
    stdout
        .read_exact(&mut ready)
        .expect("the child reports ready");
    assert!(rss(pid) > 200 * MIB);
    let plan = format!(
        r#"
name: collect-process
environments: {{ local: {{ mock: true }} }}
stages: {{ short: {{ vus: 1, duration: 1s }} }}
scenarios:
  api: {{ steps: [ {{ request: {{ url: "{{{{ env.base_url }}}}/x" }} }}, {{ sleep: 50ms }} ] }}
collect:
  - process: {{ name: child, pid: {pid}, every: 100ms }}
derived:
  child_mib: "child.rss_bytes.max / (1024 * 1024)"
thresholds:
  child.rss_bytes: [ "min > 200000000", "max < 100000000" ]
  child.threads: [ "value >= 1" ]
"#
    );
    let run = run(&plan);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(run.status, 99, "{}\n{}", run.stdout, run.stderr);
    let json = &run.json;
    let memory = &json["server"]["child.rss_bytes"];
    for figure in ["start", "end", "min", "max", "avg"] {
        let bytes = memory[figure].as_f64().unwrap_or(0.0) as u64;
        assert!(
            (200 * MIB..300 * MIB).contains(&bytes),
            "{figure}: {bytes} in {memory}"
        );
    }
    assert!(
        memory["delta"]
            .as_f64()
            .is_some_and(|d| d.abs() < 50.0 * MIB as f64)
    );
    let mib = json["derived"][0]["value"].as_f64().expect("a value");
    assert!((200.0..300.0).contains(&mib), "{mib}");
    let cpu = &json["server"]["child.cpu_percent"];
    assert!(
        cpu["avg"]
            .as_f64()
            .is_some_and(|c| (0.0..=200.0).contains(&c)),
        "{cpu}"
    );
    assert!(json["server"]["child.open_fds"]["end"].as_f64() >= Some(3.0));
    assert_eq!(
        threshold(json, "child.rss_bytes", "min > 200000000")["passed"],
        true
    );
    assert_eq!(
        threshold(json, "child.rss_bytes", "max < 100000000")["passed"],
        false
    );
    assert_eq!(
        threshold(json, "child.threads", "value >= 1")["passed"],
        true
    );
}

#[test]
fn a_timed_out_command_takes_what_it_started_with_it() {
    use crate::common::{Background, gone, pids_in, wait_until};
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pids = dir.path().join("pids");
    // Each sample starts a `sleep` that would outlive it by minutes; the sample times out
    // after 1 s, long before the stage ends.
    let plan = format!(
        r#"
name: command-timeout
environments: {{ local: {{ mock: true }} }}
stages: {{ long: {{ vus: 1, duration: 60s }} }}
scenarios:
  api: {{ steps: [ {{ request: {{ url: "{{{{ env.base_url }}}}/x" }} }}, {{ sleep: 20ms }} ] }}
collect:
  - command: {{ name: slow, run: "sleep 300 & echo $! >> {pids}; wait", parse: prometheus, every: 30s, timeout: 1s }}
"#,
        pids = pids.display()
    );
    let mut run = Background::start(&plan, dir.path());
    wait_until("the first sample's child", || !pids_in(&pids).is_empty());
    let child = pids_in(&pids)[0];
    wait_until(&format!("process {child} to be killed"), || gone(child));
    assert!(
        run.child
            .try_wait()
            .expect("loadplan can be waited for")
            .is_none(),
        "the sample's timeout killed it, not the end of the run"
    );
    run.signal("INT");
    run.wait_for_line("press Ctrl-C again");
    run.signal("INT");
    let results = run.results.clone();
    let (status, stderr) = run.wait();
    assert_eq!(status, 130, "{stderr}");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(&results).expect("results written"))
            .expect("the results are JSON");
    assert!(
        json["sources"]["slow"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("timed out after 1s")),
        "{json:#}"
    );
    for pid in pids_in(&pids) {
        wait_until(&format!("process {pid} to be killed"), || gone(pid));
    }
}

/// A `collect:` command runs in the plan's folder, as the plan's other paths are read from
/// it: `cat gauges.prom` finds the file beside the plan wherever loadplan is started.
#[test]
fn a_command_runs_in_the_plans_folder() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plans = dir.path().join("plans");
    std::fs::create_dir(&plans).expect("a plans folder");
    std::fs::write(plans.join("gauges.prom"), "queue 5\n").expect("the file is written");
    let plan = r#"
name: command-folder
environments: { local: { mock: true } }
stages: { short: { vus: 1, duration: 300ms } }
scenarios:
  api: { steps: [ { request: { url: "{{ env.base_url }}/x" } }, { sleep: 20ms } ] }
collect:
  - command: { name: beside, run: "cat gauges.prom", parse: prometheus, every: 100ms }
"#;
    std::fs::write(plans.join("plan.yaml"), plan).expect("the plan is written");
    let output = crate::common::loadplan_command()
        .current_dir(dir.path())
        .args([
            "run",
            "plans/plan.yaml",
            "--quiet",
            "--out",
            "json=results.json",
        ])
        .output()
        .expect("loadplan runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let text = std::fs::read_to_string(dir.path().join("results.json")).expect("results");
    let json: Value = serde_json::from_str(&text).expect("the results are JSON");
    assert_eq!(
        json["sources"]["beside"]["failed"], 0,
        "{:#}",
        json["sources"]
    );
    assert_eq!(json["server"]["beside.queue"]["avg"], 5.0);
}
