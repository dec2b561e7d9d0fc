//! Counts that must add up: the peak of VUs a ramp reaches, error kinds, iterations cut
//! by the graceful stop. Real runs of the binary against the mock or a tiny server on
//! 127.0.0.1; assertions on counts, never on timings.

use crate::run::run;

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
