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
