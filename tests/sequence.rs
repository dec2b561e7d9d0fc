//! `expect: { sequence: … }` against the mock's Phoenix replay: every push after a
//! join's cursor comes back in order (all counters 0, checks pass); the mock's replay
//! faults are counted exactly as injected; array frames captured with `as:` are indexed
//! (`{{ joined[4].response.seq }}`), and a template that indexes past the end names why.

use crate::run::{metric, run};

/// Each iteration: a topic of its own, 20 pushes seen live in order, then a reconnect and a
/// join with a cursor whose replay (`JOIN` is its payload) is checked through the last
/// number the join reply names.
fn plan(join: &str, checks: &str) -> String {
    format!(
        r#"
name: replay
environments: {{ local: {{ mock: true }} }}
stages: {{ short: {{ vus: 2, duration: 1s, graceful_stop: 10s }} }}
scenarios:
  reader:
    steps:
      - set: {{ topic: "room:{{{{ vu }}}}-{{{{ iteration }}}}" }}
      - connect: "{{{{ env.base_url | replace('http', 'ws') }}}}/socket/websocket?vsn=2.0.0"
      - send: {{ json: [ "1", "1", "{{{{ topic }}}}", phx_join, {{}} ] }}
      - expect: {{ json_path: {{ "$[1]": "1", "$[3]": phx_reply }} }}
      - repeat: {{ count: 20 }}
        steps:
          - send:
              json: [ "1", "{{{{ uuid() }}}}", "{{{{ topic }}}}", message, {{ client_ref: "{{{{ uuid() }}}}" }} ]
      - expect:
          json_path: {{ "$[3]": message }}
          sequence: {{ field: "$[4].seq", count: 20 }}
          name: live
        as: last
      - set: {{ last_ref: "{{{{ last[4].client_ref }}}}" }}
      - reconnect: {{}}
      - send: {{ json: [ "2", "2", "{{{{ topic }}}}", phx_join, {join} ] }}
      - expect: {{ json_path: {{ "$[1]": "2", "$[3]": phx_reply }} }}
        as: joined
      - expect:
          json_path: {{ "$[3]": message }}
          sequence: {{ field: "$[4].seq", after: 5, through: "{{{{ joined[4].response.seq }}}}" }}
          within: 5s
          name: replay
      - disconnect: {{}}
thresholds:
{checks}
"#
    )
}

#[test]
fn a_replay_after_a_cursor_comes_in_order() {
    let checks = r#"
  ws_sequence_gaps: [ "count == 0" ]
  ws_sequence_duplicates: [ "count == 0" ]
  ws_sequence_reorders: [ "count == 0" ]
  ws_sequence_invalid: [ "count == 0" ]
  "ws_sequence_messages{name:replay}": [ "count > 0" ]
  checks: [ "rate == 100%" ]
"#;
    let run = run(&plan(r#"{ cursor: 5 }"#, checks), &["--quiet"], &[]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results written");
    assert!(
        json["errors"].as_object().is_some_and(|e| e.is_empty()),
        "{json:#}"
    );
    let iterations = metric(&json, "iterations")["count"]
        .as_u64()
        .expect("a count");
    assert!(iterations > 0);
    // 20 live and 15 replayed (6..=20) per iteration, every one checked.
    assert_eq!(
        metric(&json, "ws_sequence_messages")["count"].as_u64(),
        Some(35 * iterations)
    );
    for counter in [
        "ws_sequence_gaps",
        "ws_sequence_duplicates",
        "ws_sequence_reorders",
    ] {
        assert_eq!(
            metric(&json, counter)["count"].as_u64(),
            Some(0),
            "{counter}"
        );
    }
}

#[test]
fn replay_faults_are_counted_as_injected() {
    // From the cursor 5: 8 left out (a gap), 10 twice (a duplicate), 13 after 14 (a reorder).
    let join = r#"{ cursor: 5, drop: [8], duplicate: [10], swap: [13] }"#;
    let checks = r#"
  ws_sequence_gaps: [ "count == 0" ]
"#;
    let run = run(&plan(join, checks), &["--quiet"], &[]);
    assert_eq!(run.status, 99, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results written");
    let iterations = metric(&json, "iterations")["count"]
        .as_u64()
        .expect("a count");
    assert!(iterations > 0);
    // Every iteration's replay failed its check, and only that.
    assert_eq!(
        json["errors"]["expect sequence"].as_u64(),
        Some(iterations),
        "{json:#}"
    );
    assert_eq!(
        json["errors"].as_object().map(|e| e.len()),
        Some(1),
        "{json:#}"
    );
    for counter in [
        "ws_sequence_gaps",
        "ws_sequence_duplicates",
        "ws_sequence_reorders",
    ] {
        assert_eq!(
            metric(&json, counter)["count"].as_u64(),
            Some(iterations),
            "{counter}"
        );
    }
    // 20 live, and 14 + 1 - 1 replayed (6..=20, 8 dropped, 10 twice).
    assert_eq!(
        metric(&json, "ws_sequence_messages")["count"].as_u64(),
        Some(35 * iterations)
    );
    assert_eq!(
        json["error_examples"]["expect sequence"][0],
        "after 5: 15 messages, 1 gap, 1 duplicate, 1 reorder"
    );
}

#[test]
fn template_errors_on_array_frames_name_their_reason() {
    let plan = r#"
name: frames
environments: { local: { mock: true } }
stages: { short: { vus: 2, duration: 300ms } }
scenarios:
  past_the_end:
    steps:
      - connect: "{{ env.base_url | replace('http', 'ws') }}/socket/websocket"
      - send: { json: [ "1", "1", "room:x", phx_join, {} ] }
      - expect: { json_path: { "$[3]": phx_reply } }
        as: joined
      - set: { seq: "{{ joined[4].response.seq }}", size: "{{ joined | length }}" }
      - set: { nothing: "{{ joined[7].response }}" }
  missing_field:
    steps:
      - connect: "{{ env.base_url | replace('http', 'ws') }}/socket/websocket"
      - send: { json: [ "1", "1", "room:y", phx_join, {} ] }
      - expect: { json_path: { "$[3]": phx_reply } }
        as: joined
      - set: { nothing: "{{ joined[4].respons }}" }
"#;
    let run = run(plan, &["--quiet"], &[]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results written");
    let errors = json["errors"].as_object().expect("errors by kind");
    assert_eq!(errors.keys().collect::<Vec<_>>(), ["template"], "{json:#}");
    let examples = json["error_examples"]["template"]
        .as_array()
        .expect("examples");
    let texts: Vec<&str> = examples.iter().filter_map(|e| e.as_str()).collect();
    assert!(
        texts.contains(
            &"`{{ joined[7].response }}`: `joined[7]`: index 7 out of range for an array of 5"
        ),
        "{texts:?}"
    );
    assert!(
        texts.contains(
            &"`{{ joined[4].respons }}`: `joined[4].respons`: no field `respons` (fields: response, status)"
        ),
        "{texts:?}"
    );
    assert_eq!(texts.len(), 2, "{texts:?}");
}

#[test]
fn missing_and_non_integer_numbers_are_counted_and_named() {
    // The mock's /ws echoes each message: a server that numbers badly.
    let plan = r#"
name: lies
environments: { local: { mock: true } }
stages: { short: { vus: 1, duration: 200ms } }
scenarios:
  echo:
    steps:
      - connect: "{{ env.ws_url }}"
      - send: { json: { seq: 1 } }
      - send: { json: { seq: "two" } }
      - send: { json: { other: 3 } }
      - send: { json: { seq: 4611686018427387904 } }
      - expect:
          json: {}
          sequence: { field: "$.seq", count: 4 }
      - disconnect: {}
"#;
    let run = run(plan, &["--quiet"], &[]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results written");
    let iterations = metric(&json, "iterations")["count"]
        .as_u64()
        .expect("a count");
    assert!(iterations > 0);
    assert_eq!(
        json["errors"]["expect sequence"].as_u64(),
        Some(iterations),
        "{}\n{json:#}",
        run.stderr
    );
    assert_eq!(
        metric(&json, "ws_sequence_invalid")["count"].as_u64(),
        Some(2 * iterations)
    );
    // The jump to 2^62 skips every number from 2: counted, not stored.
    assert_eq!(
        metric(&json, "ws_sequence_gaps")["count"].as_u64(),
        Some(((1 << 62) - 2) * iterations)
    );
    assert_eq!(
        json["error_examples"]["expect sequence"][0],
        "after 0: 4 messages, 4611686018427387902 gaps, 0 duplicates, 0 reorders, 2 invalid (`$.seq` is \"two\", not a non-negative integer)"
    );
}
