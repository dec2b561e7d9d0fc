//! Templates as QA engineers write Jinja in Python: string methods (`.split`, `.upper()`,
//! `.endswith`) render, and what they render arrives at the target.

use crate::run::{metric, run};

/// `.split(",")` picks the status the mock answers with (`?status=`), `.upper()` and
/// `.endswith()` make the text the mock's WebSocket echoes back, and the plan's `expect`s
/// (literal values) pass only if those exact values arrived.
#[test]
fn python_string_methods_render_and_reach_the_mock() {
    let plan = r#"
name: python-methods
environments: { local: { mock: true } }
vars: { codes: "200,204,202", word: hello }
stages: { short: { vus: 1, duration: 300ms } }
scenarios:
  s:
    steps:
      - request:
          url: "{{ env.base_url }}/x?status={{ vars.codes.split(',')[1] }}"
          expect: { status: 204 }
          name: split
      - connect: "{{ env.ws_url }}"
      - send: { text: "{{ vars.word.upper() }}{% if vars.word.endswith('o') %}!{% endif %}" }
      - expect: { text: "HELLO!", within: 2s, name: upper }
      - disconnect: {}
thresholds:
  "http_reqs{status:204}": [ "count > 0" ]
  "ws_message_latency{name:upper, expected_response:true}": [ "count > 0" ]
  checks: [ "rate == 100%" ]
"#;
    let run = run(plan, &["--quiet"], &[]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results written");
    assert_eq!(json["passed"], true, "{json:#}");
    assert_eq!(metric(&json, "http_req_failed")["share"], 0.0, "{json:#}");
    assert!(
        metric(&json, "checks")["count"].as_u64() >= Some(2),
        "{json:#}"
    );
}

/// A method that does not exist, on values known at load (`vars`, `env`), stops the run
/// before anything is sent: exit 2 with a located error, not a template error per request.
#[test]
fn an_unknown_method_is_an_error_at_load() {
    let plan = r#"
name: no-such-method
environments: { local: { mock: true } }
vars: { word: hello }
stages: { short: { vus: 1, duration: 200ms } }
scenarios:
  s:
    steps:
      - request: { url: "{{ env.base_url }}/{{ vars.word.shout() }}" }
"#;
    let run = run(plan, &["--quiet"], &[]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(":9:26: error: template error: string has no method named shout"),
        "{}",
        run.stderr
    );
    assert!(run.json.is_none(), "nothing was run");
}
