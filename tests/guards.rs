//! `chance:` and `if:` on steps, run against the mock: what the mock counted is what the
//! run says ran, the realised share of a `chance:` is within a bound that cannot flake,
//! the draws repeat run after run, and an `if:` that cannot be evaluated is a counted
//! template error.

use crate::common::get_json;
use crate::run::{mock_process, run};

/// `(trues, total)` of the series of `metric` tagged `name` in a run's JSON results.
fn share(json: &serde_json::Value, metric: &str, name: &str) -> (u64, u64) {
    let series = json["series"]
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|s| s["metric"] == metric && s["name"] == name)
        })
        .unwrap_or_else(|| panic!("no {metric}{{name:{name}}} in {:#}", json["series"]));
    (
        series["trues"].as_u64().expect("trues"),
        series["total"].as_u64().expect("total"),
    )
}

/// Requests the mock answered with `status` (set by `?status=` in the plan's URLs).
fn answered(base_url: &str, status: u16) -> u64 {
    get_json(&format!("{base_url}/stats"))["http_requests_by_status"][status.to_string()]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn a_chance_runs_its_share_and_the_mock_counts_the_same() {
    let (mut mock, base_url) = mock_process(&[]);
    let plan = format!(
        r#"
name: chance
environments: {{ target: {{ base_url: "{base_url}" }} }}
stages: {{ short: {{ vus: 4, duration: 1s }} }}
scenarios:
  s:
    steps:
      - request: {{ url: "{{{{ env.base_url }}}}/every?status=200" }}
      - request: {{ url: "{{{{ env.base_url }}}}/some?status=203", name: sometimes }}
        chance: 30%
thresholds:
  "step_chance{{name:sometimes}}": [ "rate > 0.01" ]
"#
    );
    let ran = run(&plan, &[], &[]);
    let every = answered(&base_url, 200);
    let some = answered(&base_url, 203);
    let _ = mock.kill();
    let _ = mock.wait();
    assert_eq!(ran.status, 0, "{}\n{}", ran.stdout, ran.stderr);
    let json = ran.json.expect("results are written");
    let (trues, total) = share(&json, "step_chance", "sometimes");
    // Every iteration that reached the step drew once; the mock saw each one that ran.
    assert_eq!(total, every, "draws and iterations");
    assert_eq!(trues, some, "the mock counted what the run says ran");
    assert!(total >= 200, "too few draws to judge: {total}");
    // ±6σ of a binomial share: a correct generator falls outside once in 500 million runs.
    let p = 0.3;
    let sigma = (p * (1.0 - p) / total as f64).sqrt();
    let realised = trues as f64 / total as f64;
    assert!(
        (realised - p).abs() <= 6.0 * sigma,
        "{trues} of {total} = {realised:.4}, not within 6σ ({sigma:.4}) of {p}"
    );
    assert_eq!(
        json["thresholds"][0]["value"].as_f64(),
        Some(realised),
        "{:#}",
        json["thresholds"]
    );
    assert!(
        ran.stdout
            .contains("step_chance{scenario:s, name:sometimes}")
            && ran.stdout.contains(&format!("{trues:>9} of {total:<9}")),
        "{}",
        ran.stdout
    );
}

/// Each VU draws from a generator seeded with its id: the same VUs take the same draws in
/// every run. Each VU draws exactly 200 times (the `repeat`), then sleeps until the stage
/// ends.
#[test]
fn the_same_vus_take_the_same_draws() {
    let plan = r#"
name: seeded
environments: { local: { mock: true } }
stages: { short: { vus: 3, duration: 3s, graceful_stop: 10ms } }
scenarios:
  s:
    steps:
      - repeat: { count: 200 }
        steps:
          - request: { url: "{{ env.base_url }}/drawn?status=203", name: drawn }
            chance: 30%
      - sleep: 1m
"#;
    let shares: Vec<(u64, u64)> = (0..2)
        .map(|_| {
            let ran = run(plan, &[], &[]);
            assert_eq!(ran.status, 0, "{}\n{}", ran.stdout, ran.stderr);
            share(
                &ran.json.expect("results are written"),
                "step_chance",
                "drawn",
            )
        })
        .collect();
    assert_eq!(shares[0].1, 600, "every VU drew 200 times");
    assert_eq!(shares[0], shares[1], "the same draws in both runs");
}

#[test]
fn an_if_on_a_captured_value_decides_what_runs() {
    let (mut mock, base_url) = mock_process(&[]);
    let plan = format!(
        r#"
name: conditions
environments: {{ target: {{ base_url: "{base_url}" }} }}
stages: {{ short: {{ vus: 2, duration: 500ms }} }}
scenarios:
  s:
    steps:
      - request: {{ url: "{{{{ env.base_url }}}}/x?status=201" }}
        as: r
      - request: {{ url: "{{{{ env.base_url }}}}/held?status=202", name: held }}
        if: r.status == 201
      - group: never
        if: r.status == 200
        steps:
          - request: {{ url: "{{{{ env.base_url }}}}/skipped?status=203" }}
"#
    );
    let ran = run(&plan, &[], &[]);
    let captured = answered(&base_url, 201);
    let held = answered(&base_url, 202);
    let skipped = answered(&base_url, 203);
    let _ = mock.kill();
    let _ = mock.wait();
    assert_eq!(ran.status, 0, "{}\n{}", ran.stdout, ran.stderr);
    let json = ran.json.expect("results are written");
    assert!(captured > 0);
    assert_eq!(held, captured, "`r.status == 201` held every time");
    assert_eq!(
        skipped, 0,
        "`r.status == 200` never held: the whole group was left out"
    );
    assert_eq!(share(&json, "step_if", "held"), (held, held));
    assert_eq!(share(&json, "step_if", "never"), (0, captured));
    assert_eq!(
        json["errors"],
        serde_json::json!({}),
        "a step left out is no failure"
    );
}

#[test]
fn an_if_that_cannot_be_evaluated_is_a_counted_template_error() {
    let (mut mock, base_url) = mock_process(&[]);
    let plan = format!(
        r#"
name: broken-condition
environments: {{ target: {{ base_url: "{base_url}" }} }}
stages: {{ short: {{ vus: 1, duration: 300ms }} }}
scenarios:
  s:
    backoff: {{ initial: 1ms, max: 1ms }}
    steps:
      - request: {{ url: "{{{{ env.base_url }}}}/x?status=200" }}
        as: r
      - request: {{ url: "{{{{ env.base_url }}}}/after?status=203" }}
        if: r.json.missing > 1
"#
    );
    let ran = run(&plan, &[], &[]);
    let first = answered(&base_url, 200);
    let after = answered(&base_url, 203);
    let _ = mock.kill();
    let _ = mock.wait();
    assert_eq!(ran.status, 0, "{}\n{}", ran.stdout, ran.stderr);
    let json = ran.json.expect("results are written");
    assert!(first > 0);
    assert_eq!(after, 0, "the guarded step never ran");
    assert_eq!(
        json["errors"],
        serde_json::json!({ "template": first }),
        "{json:#}"
    );
    assert!(
        // The summary wraps an example longer than its width under its `e.g.`.
        ran.stdout
            .replace(&format!("\n{}", " ".repeat(19)), " ")
            // The reason names where the lookup stopped: the body was not JSON.
            .contains("e.g. `if: r.json.missing > 1`: `r.json.missing`: `r.json` is none, not an object or array"),
        "{}",
        ran.stdout
    );
}
