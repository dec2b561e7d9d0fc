//! Back-off after a failed iteration (scenario key `backoff`), end to end against the mock.
//! Assertions are counts bounded by the back-off schedule, never times.

use crate::run::{metric, run};

/// One VU whose every iteration fails its check, then would sleep; `backoff` is spliced in.
fn failing_plan(backoff: &str) -> String {
    format!(
        r#"
name: failing
environments: {{ local: {{ mock: true }} }}
stages: {{ short: {{ vus: 2, duration: 1s }} }}
scenarios:
  api:
    {backoff}
    steps:
      - request: {{ url: "{{{{ env.base_url }}}}/x?status=500", expect: {{ status: 200 }} }}
      - sleep: 100ms
"#
    )
}

fn count(json: &serde_json::Value, name: &str) -> u64 {
    metric(json, name)["count"].as_u64().unwrap_or(0)
}

/// The back-off waits begun, summed over the timeline's seconds.
fn timeline_backoffs(json: &serde_json::Value) -> u64 {
    json["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .map(|second| {
            second["backoffs"]
                .as_u64()
                .expect("`backoffs` in every second")
        })
        .sum()
}

/// With the default back-off (waits of at least 50, 100, 200, 400 ms after the 1st to 4th
/// failure in a row), a VU can start at most 5 iterations in 1 s: 2 VUs at most 10 requests.
/// `backoff: off` gives the old behaviour, a VU retrying at once (thousands of requests).
#[test]
fn failed_iterations_back_off_unless_off() {
    let on = run(&failing_plan(""), &["--quiet"], &[]);
    let on = on
        .json
        .unwrap_or_else(|| panic!("results written: {}", on.stderr));
    let off = run(&failing_plan("backoff: off"), &["--quiet"], &[]);
    let off = off
        .json
        .unwrap_or_else(|| panic!("results written: {}", off.stderr));
    let (requests_on, requests_off) = (count(&on, "http_reqs"), count(&off, "http_reqs"));
    assert!(
        (2..=16).contains(&requests_on),
        "2 VUs backing off for 1 s sent {requests_on} requests (schedule allows 10)"
    );
    assert_eq!(count(&on, "iteration_backoffs"), count(&on, "errors"));
    // Each wait is also in the timeline, in the second it began.
    assert_eq!(
        timeline_backoffs(&on),
        count(&on, "iteration_backoffs"),
        "{:#}",
        on["timeline"]
    );
    assert!(timeline_backoffs(&on) > 0);
    assert_eq!(timeline_backoffs(&off), 0, "{:#}", off["timeline"]);
    assert!(
        requests_off > 10 * requests_on.max(10),
        "without back-off {requests_off} requests, with it {requests_on}"
    );
    assert!(
        off["metrics"]
            .as_array()
            .is_some_and(|m| m.iter().all(|m| m["metric"] != "iteration_backoffs")),
        "`backoff: off` never waits"
    );
}

/// Iterations alternate failure and success: each failure is the first in a row, so every
/// wait stays at most 100 ms. Without the reset the waits would grow (50, 100, 200, 400 ms
/// at least), allowing at most 6 failures in 2 s; with it there are about 25.
#[test]
fn a_successful_iteration_resets_the_back_off() {
    let plan = r#"
name: alternating
environments: { local: { mock: true } }
stages: { short: { vus: 1, duration: 2s } }
scenarios:
  api:
    steps:
      - request:
          url: "{{ env.base_url }}/x?status={{ 500 if iteration is even else 200 }}"
          expect: { status: 200 }
"#;
    let run = run(plan, &["--quiet"], &[]);
    let json = run
        .json
        .unwrap_or_else(|| panic!("results written: {}", run.stderr));
    let failures = count(&json, "iteration_backoffs");
    assert!(
        failures >= 8,
        "{failures} failures in 2 s: the back-off did not reset\n{json:#}"
    );
    assert!(count(&json, "http_reqs") <= 2 * failures + 2, "{json:#}");
}

/// A VU stopped at the end of its stage ends its back-off at once: here the first wait is
/// 5–10 min, the stage 1 s and `graceful_stop` 30 s, so a wait that ignored the stop would
/// hold the run until the graceful stop cancels it, 31 s in. The bound is far from both
/// (a hang check, not a speed check: a busy machine does not stretch 1 s into 25).
#[test]
fn the_end_of_the_stage_ends_a_back_off() {
    let plan = r#"
name: long-wait
environments: { local: { mock: true } }
stages: { short: { vus: 1, duration: 1s } }
scenarios:
  api:
    backoff: { initial: 10m, max: 10m }
    steps:
      - request: { url: "{{ env.base_url }}/x?status=500", expect: { status: 200 } }
"#;
    let started = std::time::Instant::now();
    let run = run(plan, &["--quiet"], &[]);
    let took = started.elapsed();
    let json = run
        .json
        .unwrap_or_else(|| panic!("results written: {}", run.stderr));
    assert_eq!(count(&json, "iteration_backoffs"), 1, "{json:#}");
    assert!(
        took < std::time::Duration::from_secs(25),
        "a 1 s stage took {took:?}"
    );
}
