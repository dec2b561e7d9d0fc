//! Counts that must add up: the peak of VUs a ramp reaches, error kinds, iterations cut
//! by the graceful stop. Real runs of the binary against the mock or a tiny server on
//! 127.0.0.1; assertions on counts, never on timings.

use std::io::{Read, Write};
use std::net::TcpListener;

use crate::run::{metric, run};

/// A ramp reaches its `to`, whether the schedule touches it for an instant (the top of
/// an up-and-down ramp) or only as the stage ends; a 20 ms controller tick used to step
/// over it and report one VU less.
#[test]
fn vus_max_is_the_ramps_peak() {
    for ramp in [
        "[ { to: 12, over: 300ms } ]",
        "[ { to: 12, over: 300ms }, { to: 0, over: 300ms } ]",
        "[ { to: 12, over: 300ms }, { hold: 100ms } ]",
    ] {
        let plan = format!(
            r#"
name: peak
environments: {{ local: {{ mock: true }} }}
stages: {{ up: {{ ramp: {ramp} }} }}
scenarios:
  api: {{ steps: [ {{ request: {{ url: "{{{{ env.base_url }}}}/items" }} }}, {{ sleep: 10ms }} ] }}
"#
        );
        let run = run(&plan, &[], &[]);
        assert_eq!(run.status, 0, "{ramp}\n{}\n{}", run.stdout, run.stderr);
        let json = run.json.expect("results are written");
        assert_eq!(json["vus_max"], 12, "{ramp}: {}", json["timeline"]);
        let timeline_peak = json["timeline"]
            .as_array()
            .expect("a timeline")
            .iter()
            .filter_map(|second| second["vus"].as_u64())
            .max();
        assert_eq!(timeline_peak, Some(12), "{ramp}");
    }
}

/// A ramp over a mix of scenarios never runs more VUs than it asks for. With the seed's
/// 63/15/15/7 mix, the old largest-remainder split took a VU from one scenario to give two
/// to others at 24 → 25 VUs (and at 37, 49, 62); the stopped VU finished its long
/// iteration beside its replacement, so a 30-VU ramp of 5 s iterations ran 31 and more.
#[test]
fn a_ramp_over_a_weighted_mix_never_runs_more_vus_than_asked() {
    let plan = r#"
name: mix
environments: { local: { mock: true } }
stages:
  up: { ramp: [ { to: 70, over: 700ms } ], graceful_stop: 10ms }
scenarios:
  a: { weight: 63, steps: [ { request: { url: "{{ env.base_url }}/a" } }, { sleep: 5s } ] }
  b: { weight: 15, steps: [ { request: { url: "{{ env.base_url }}/b" } }, { sleep: 5s } ] }
  c: { weight: 15, steps: [ { request: { url: "{{ env.base_url }}/c" } }, { sleep: 5s } ] }
  d: { weight: 7, steps: [ { request: { url: "{{ env.base_url }}/d" } }, { sleep: 5s } ] }
"#;
    let run = run(plan, &[], &[]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json.expect("results are written");
    assert_eq!(json["vus_max"], 70, "{}", json["timeline"]);
    // Each VU started once: one request per VU, none for a replacement.
    assert_eq!(
        metric(&json, "http_reqs")["count"],
        70,
        "{}",
        json["timeline"]
    );
}

/// A server on 127.0.0.1 that answers every request with a 200 whose head has one
/// 100 KB header line and no `Content-Length`, and keeps the connection open (so a
/// client that took the head would wait for the body until its timeout). Runs until
/// the test process ends; each connection's thread ends when the client closes it.
fn huge_header_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("an address").port();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { continue };
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    match socket.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&chunk[..n]),
                    }
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        let mut answer = b"HTTP/1.1 200 OK\r\nX-Huge: ".to_vec();
                        answer.extend(std::iter::repeat_n(b'a', 100_000));
                        answer.extend_from_slice(b"\r\n\r\n");
                        if socket.write_all(&answer).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    port
}

/// A 100 KB header line is the error `header too large` (it used to be read whole when
/// it came in one read, and the body without a length then ran into the `timeout`).
#[test]
fn a_huge_response_header_is_its_own_error_kind() {
    let port = huge_header_server();
    let plan = format!(
        r#"
name: huge-header
environments: {{ local: {{ base_url: "http://127.0.0.1:{port}" }} }}
stages: {{ short: {{ vus: 2, duration: 300ms }} }}
scenarios:
  api: {{ backoff: off, steps: [ {{ request: {{ url: "{{{{ env.base_url }}}}/h", timeout: 30s }} }} ] }}
"#
    );
    let run = run(&plan, &[], &[]);
    let json = run.json.expect("results are written");
    let requests = metric(&json, "http_reqs")["count"]
        .as_u64()
        .expect("a count");
    assert!(requests > 0, "{json:#}");
    assert_eq!(
        json["errors"],
        serde_json::json!({ "header too large": requests }),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("header too large"), "{}", run.stdout);
}

/// Each VU still in its iteration when the graceful stop runs out is cancelled and
/// counted once in `iterations_interrupted`; with a graceful stop long enough, none is.
#[test]
fn iterations_cut_by_the_graceful_stop_are_counted() {
    let plan = r#"
name: cut
environments: { local: { mock: true } }
stages:
  cut: { vus: 3, duration: 200ms, graceful_stop: 100ms }
  fits: { vus: 3, duration: 200ms, graceful_stop: 30s }
scenarios:
  api: { steps: [ { request: { url: "{{ env.base_url }}/items?delay=1500", timeout: 30s } } ] }
"#;
    let cut = run(plan, &["--stage", "cut"], &[]);
    assert_eq!(cut.status, 0, "{}\n{}", cut.stdout, cut.stderr);
    let json = cut.json.expect("results are written");
    assert_eq!(
        metric(&json, "iterations_interrupted")["count"],
        3,
        "{json:#}"
    );
    assert!(
        cut.stdout.contains("iterations_interrupted"),
        "{}",
        cut.stdout
    );

    let fits = run(plan, &["--stage", "fits"], &[]);
    assert_eq!(fits.status, 0, "{}\n{}", fits.stdout, fits.stderr);
    let json = fits.json.expect("results are written");
    assert_eq!(metric(&json, "iterations")["count"], 3, "{json:#}");
    let interrupted = json["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["metric"] == "iterations_interrupted")
        .map_or(0, |m| m["count"].as_u64().unwrap_or(0));
    assert_eq!(interrupted, 0, "{json:#}");
}
