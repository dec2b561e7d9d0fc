//! The load shape from the command line and the environment (issue 14): plan-time
//! templates of `vars`, `from_env` variables, `--vus`, `--duration` and `--scenario`. Real
//! runs of the binary against the in-process mock; assertions on counts and messages.

use std::path::Path;
use std::process::Command;

use crate::common::{loadplan, loadplan_command, root};
use crate::run::{metric, run};

/// A plan whose VU count and ping period come from variables.
const KNOBS: &str = r#"
name: knobs
environments:
  local: { mock: true, values: { pid_file: /nonexistent/app.pid } }
vars:
  vus: { default: 1, from_env: KNOBS_VUS }
  send_interval: { default: 20ms, from_env: KNOBS_SEND_INTERVAL }
stages:
  smoke: { vus: "{{ vars.vus }}", duration: 400ms }
scenarios:
  pinger:
    steps:
      - connect: "{{ env.ws_url }}"
      - repeat: { every: "{{ vars.send_interval }}", count: 3 }
        steps:
          - send: { json: { type: ping, id: "{{ uuid() }}" } }
"#;

/// Runs `loadplan validate` on `plan` (written to a temporary file) with `args` and `env`.
fn validate(plan: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("plan.yaml");
    std::fs::write(&file, plan).expect("the plan is written");
    let mut command = loadplan_command();
    command.arg("validate").arg(&file).args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("loadplan runs");
    let stderr =
        String::from_utf8_lossy(&output.stderr).replace(&file.display().to_string(), "plan.yaml");
    (output.status.code().unwrap_or(-1), stderr)
}

#[test]
fn vus_come_from_a_var_or_the_environment_and_var_wins() {
    for (args, env, expected) in [
        (&["--var", "vus=3"][..], &[][..], 3),
        (&[][..], &[("KNOBS_VUS", "4")][..], 4),
        (&["--var", "vus=2"][..], &[("KNOBS_VUS", "4")][..], 2),
        (&[][..], &[][..], 1),
    ] {
        let run = run(KNOBS, args, env);
        assert_eq!(run.status, 0, "{args:?} {env:?}\n{}", run.stderr);
        let json = run.json.expect("results are written");
        assert_eq!(json["vus_max"], expected, "{args:?} {env:?}");
        // Each VU's iteration sends its pings at the period from the variable.
        let sent = metric(&json, "ws_msgs_sent")["count"].as_u64();
        assert!(sent >= Some(3 * expected), "{args:?}: {sent:?} pings");
    }
}

#[test]
fn a_bad_value_is_located_at_the_template_with_where_it_came_from() {
    let (status, stderr) = validate(KNOBS, &["--var", "send_interval=abc"], &[]);
    assert_eq!(status, 2, "{stderr}");
    assert!(
        stderr.contains(
            "plan.yaml:14:26: error: invalid duration `abc`: expected a number with a unit (ms, s, m, h), like `500ms`, `30s` or `1h30m` (from --var send_interval)\n"
        ),
        "{stderr}"
    );
    let (status, stderr) = validate(KNOBS, &[], &[("KNOBS_VUS", "many")]);
    assert_eq!(status, 2, "{stderr}");
    assert!(
        stderr.contains(
            "plan.yaml:9:17: error: expected an integer, found a string `many` (from $KNOBS_VUS)\n"
        ),
        "{stderr}"
    );
    let (status, stderr) = validate(KNOBS, &[], &[("KNOBS_VUS", "0")]);
    assert_eq!(status, 2, "{stderr}");
    assert!(stderr.contains("(from $KNOBS_VUS)"), "{stderr}");
}

#[test]
fn plan_time_fields_reject_run_time_names_and_read_env_values() {
    let with = |pid_file: &str| {
        format!("{KNOBS}collect:\n  - process: {{ name: app, pid_file: \"{pid_file}\" }}\n")
    };
    let (status, stderr) = validate(&with("{{ vu }}"), &[], &[]);
    assert_eq!(status, 2, "{stderr}");
    assert!(
        stderr.contains(
            "plan.yaml:18:37: error: `vu` is not known when the plan loads: this field is read once, before the run\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("may use `vars`, `env` and `stage`"),
        "{stderr}"
    );
    let (status, stderr) = validate(&with("{{ env.pid_file }}"), &[], &[]);
    assert_eq!(status, 0, "{stderr}");
    let (status, stderr) = validate(&with("{{ env.pidfile }}"), &[], &[]);
    assert_eq!(status, 2, "{stderr}");
    assert!(
        stderr.contains("error: `env.pidfile` is not set in environment `local`"),
        "{stderr}"
    );
}

/// The shipped plan without its outputs and baseline (a test must not write into the
/// repository's documents), in a temporary file.
fn shipped_without_outputs(plan: &str, dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(root().join(plan)).expect("the shipped plan");
    let cut = ["\nbaseline:", "\noutputs:"]
        .iter()
        .filter_map(|key| text.find(key))
        .min()
        .unwrap_or(text.len());
    let file = dir.join("plan.yaml");
    std::fs::write(&file, &text[..cut]).expect("the copy is written");
    // Its data files, which it reads beside it.
    std::fs::create_dir_all(dir.join("data")).expect("a data folder");
    for entry in std::fs::read_dir(root().join("plans/data")).expect("plans/data") {
        let entry = entry.expect("an entry");
        std::fs::copy(entry.path(), dir.join("data").join(entry.file_name()))
            .expect("a data file is copied");
    }
    file
}

#[test]
fn vus_and_duration_shorten_the_shipped_smoke_stage() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plan = shipped_without_outputs("plans/websocket-performance.yaml", dir.path());
    let results = dir.path().join("results.json");
    let output = loadplan_command()
        .arg("run")
        .arg(&plan)
        .args(["--vus", "3", "--duration", "1s", "--out"])
        .arg(format!("json={}", results.display()))
        .env("AUTH_TOKEN", "test-token")
        .output()
        .expect("loadplan runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        matches!(output.status.code(), Some(0 | 99)),
        "{:?}\n{stderr}",
        output.status
    );
    assert!(
        stderr.contains("stage smoke (--vus 3, --duration 1s)"),
        "{stderr}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).expect("results written"))
            .expect("JSON");
    assert_eq!(json["vus_max"], 3, "{json:#}");
    // The stage's planned length, not the 30 s the plan gives it.
    let seconds = json["duration_s"].as_f64().or(json["duration"].as_f64());
    assert!(seconds.is_some_and(|s| s < 10.0), "{seconds:?}");
}

#[test]
fn one_scenario_runs_alone_and_the_others_thresholds_are_skipped() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plan = shipped_without_outputs("plans/channel-proxy.yaml", dir.path());
    let results = dir.path().join("results.json");
    let output = loadplan_command()
        .arg("run")
        .arg(&plan)
        .args([
            "--scenario",
            "large_payload",
            "--vus",
            "2",
            "--duration",
            "500ms",
            "--var",
            "payload_size=1024",
            "--out",
        ])
        .arg(format!("json={}", results.display()))
        .output()
        .expect("loadplan runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).expect("results written"))
            .unwrap_or_else(|e| panic!("{e}\n{stderr}"));
    let requests = metric(&json, "http_reqs");
    assert!(requests["count"].as_u64() > Some(0), "{stderr}");
    // Every series a scenario recorded is large_payload's.
    let scenarios: std::collections::BTreeSet<&str> = json["series"]
        .as_array()
        .expect("series")
        .iter()
        .filter_map(|series| series["scenario"].as_str())
        .filter(|scenario| !scenario.is_empty())
        .collect();
    assert_eq!(
        scenarios.into_iter().collect::<Vec<_>>(),
        ["large_payload"],
        "{stderr}"
    );
    let thresholds = json["thresholds"].as_array().expect("thresholds");
    let outcome = |key: &str| {
        thresholds
            .iter()
            .find(|t| t["metric"] == key || t["key"] == key)
            .unwrap_or_else(|| panic!("no threshold {key} in {thresholds:#?}"))
    };
    for skipped in [
        "http_req_failed{scenario:happy_path}",
        "http_req_duration{scenario:slow_sink}",
    ] {
        let outcome = outcome(skipped);
        assert_eq!(outcome["skipped"], true, "{outcome:#}");
        assert_eq!(outcome["passed"], true, "{outcome:#}");
    }
    assert_eq!(
        json["overrides"], "--vus 2, --duration 500ms, --scenario large_payload",
        "the overrides are recorded with the run"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("skipped: scenarios not run)"),
        "the summary says why thresholds were skipped: {stdout}"
    );
    let judged = outcome("http_req_failed{scenario:large_payload}");
    assert_ne!(judged["skipped"], true, "{judged:#}");
    assert_eq!(judged["passed"], true, "{judged:#}\n{stderr}");
    // The skipped thresholds do not fail the run; the memory one has no process to read.
    assert!(
        matches!(output.status.code(), Some(0 | 99)),
        "{:?}\n{stderr}",
        output.status
    );
}

#[test]
fn an_unknown_scenario_is_a_usage_error_with_a_suggestion() {
    let output = loadplan(&[
        "validate",
        "plans/channel-proxy.yaml",
        "--scenario",
        "large_paylod",
    ]);
    assert_eq!(output.status, 2, "{}", output.stderr);
    assert!(
        output
            .stderr
            .contains("error: --scenario `large_paylod`: no such scenario in the plan"),
        "{}",
        output.stderr
    );
    assert!(
        output.stderr.contains("did you mean `large_payload`?"),
        "{}",
        output.stderr
    );
}

/// `validate` takes the same overrides as `run`, so CI checks what it will run.
#[test]
fn validate_applies_the_overrides_too() {
    let status = |args: &[&str], env: &[(&str, &str)]| {
        let mut command: Command = loadplan_command();
        command
            .args(["validate", "plans/websocket-performance.yaml"])
            .args(args);
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().expect("loadplan runs");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    assert_eq!(status(&["--vus", "5", "--duration", "10s"], &[]).0, Some(0));
    assert_eq!(status(&[], &[("SEND_INTERVAL", "500")]).0, Some(0));
    let (code, stderr) = status(&[], &[("SEND_INTERVAL", "2s")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("(from $SEND_INTERVAL)"), "{stderr}");
    let (code, stderr) = status(&["--duration", "0s"], &[]);
    assert_eq!(code, Some(2), "{stderr}");
}

/// `baseline: latest` compares a run only with runs given the same overrides: a smoke
/// shortened with `--duration` is never the baseline of the full one.
#[test]
fn latest_baseline_is_a_run_with_the_same_overrides() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plan = r#"
name: same-overrides
environments: { local: { mock: true } }
baseline: latest
stages:
  smoke: { vus: 1, duration: 300ms }
scenarios:
  api: { steps: [ { request: { url: "{{ env.base_url }}/x" } }, { sleep: 20ms } ] }
outputs:
  - json: results/run.json
"#;
    std::fs::write(dir.path().join("plan.yaml"), plan).expect("the plan is written");
    // A taken name gets -2, -3…: the nth run writes the nth name.
    let run = |args: &[&str], name: &str| {
        let output = loadplan_command()
            .current_dir(dir.path())
            .args(["run", "plan.yaml", "--quiet"])
            .args(args)
            .output()
            .expect("loadplan runs");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let file = dir.path().join("results").join(name);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("results")).expect("JSON");
        (file, json)
    };
    let (full, first) = run(&[], "run.json");
    assert_eq!(first["overrides"], serde_json::Value::Null);
    let (_, short) = run(
        &["--duration", "200ms", "--out", "markdown=short.md"],
        "run-2.json",
    );
    assert_eq!(short["overrides"], "--duration 200ms");
    let report = std::fs::read_to_string(dir.path().join("short.md")).expect("the report");
    assert!(
        report.contains("stage `smoke` (`--duration 200ms`)"),
        "the report says the stage was changed: {report}"
    );
    assert_eq!(
        short["baseline_file"],
        serde_json::Value::Null,
        "no earlier run had --duration 200ms"
    );
    let (_, again) = run(&[], "run-3.json");
    let picked = again["baseline_file"]
        .as_str()
        .expect("a baseline was picked");
    assert!(
        full.ends_with(Path::new(picked).file_name().expect("a file name")),
        "{picked} should be the first full run {}",
        full.display()
    );
}
