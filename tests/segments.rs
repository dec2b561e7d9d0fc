//! `--segment I/N`: N processes run one plan's load between them, exactly. Three segment
//! processes at once against one `loadplan mock` process, on count-based stages; their
//! counts, the mock's own count and a single process's run must agree.

use std::path::Path;
use std::process::Command;

use crate::common::{exit_within_patience, get_json, mock_requests, root};
use crate::run::{metric, mock_process};

/// A fixed stage of 7 VUs that each make 3 requests then sleep past the stage's end (21
/// requests in all), and an arrival stage of exactly 20 iterations (20/s for 1 s, a tail
/// of half an iteration, then a second of nothing), each on a VU of its own (60 requests). Each request asks the mock for status
/// 200 + the VU's id, so the mock's counts by status say which VU ids ran.
fn plan(base_url: &str) -> String {
    format!(
        r#"
name: split
environments: {{ target: {{ base_url: "{base_url}" }} }}
stages:
  fixed: {{ vus: 7, duration: 1s, graceful_stop: 50ms }}
  arrive:
    start_rate: 20/s
    arrival: [ {{ hold: 1s }}, {{ to: 0/s, over: 50ms }}, {{ hold: 1s }} ]
    max_vus: 20
    graceful_stop: 50ms
scenarios:
  api:
    steps:
      - repeat: {{ count: 3 }}
        steps: [ {{ request: {{ url: "{{{{ env.base_url }}}}/x?status={{{{ 200 + vu }}}}" }} }} ]
      - sleep: 10s
"#
    )
}

/// Runs `plan` in `dir` as segments `1/n` … `n/n` at once (or as one process for `n` = 0);
/// each one's results JSON.
fn run_segments(plan: &str, dir: &Path, stage: &str, n: u32) -> Vec<serde_json::Value> {
    let file = dir.join("plan.yaml");
    std::fs::write(&file, plan).expect("the plan is written");
    let segments: Vec<Option<u32>> = if n == 0 {
        vec![None]
    } else {
        (1..=n).map(Some).collect()
    };
    let children: Vec<(std::process::Child, std::path::PathBuf)> = segments
        .iter()
        .map(|segment| {
            let name = segment.map_or_else(|| "whole".to_owned(), |i| format!("{i}-of-{n}"));
            let results = dir.join(format!("{stage}-{name}.json"));
            let mut command = Command::new(env!("CARGO_BIN_EXE_loadplan"));
            command
                .arg("run")
                .arg(&file)
                .args(["--env", "target", "--stage", stage, "--quiet"])
                .arg("--out")
                .arg(format!("json={}", results.display()))
                .current_dir(root())
                .env_remove("LOADPLAN_ENV")
                .env_remove("LOADPLAN_STAGE")
                .env_remove("JOB_COMPLETION_INDEX")
                .stdout(std::process::Stdio::null())
                .stderr(std::fs::File::create(results.with_extension("err")).expect("a file"));
            if let Some(i) = segment {
                command.args(["--segment", &format!("{i}/{n}")]);
            }
            (command.spawn().expect("loadplan starts"), results)
        })
        .collect();
    children
        .into_iter()
        .map(|(mut child, results)| {
            let status = exit_within_patience(&mut child, "a segment run");
            let stderr = std::fs::read_to_string(results.with_extension("err")).unwrap_or_default();
            assert_eq!(status.code(), Some(0), "{}: {stderr}", results.display());
            let text = std::fs::read_to_string(&results).expect("the results are written");
            serde_json::from_str(&text).expect("the results are JSON")
        })
        .collect()
}

fn count(json: &serde_json::Value, name: &str) -> u64 {
    metric(json, name)["count"].as_u64().unwrap_or(0)
}

/// The mock's answers by status, as VU ids (status − 200).
fn vu_ids(base_url: &str) -> std::collections::BTreeMap<u64, u64> {
    get_json(&format!("{base_url}/stats"))["http_requests_by_status"]
        .as_object()
        .map(|by| {
            by.iter()
                .filter_map(|(status, n)| Some((status.parse::<u64>().ok()? - 200, n.as_u64()?)))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn three_segments_run_the_plan_exactly_once_between_them() {
    let (mock, base_url) = mock_process(&[]);
    let _mock = KillOnDrop(mock);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plan = plan(&base_url);

    // Closed model: 7 VUs over 3 segments are 3, 2 and 2, with the ids 1…7 between them.
    let before = mock_requests(&base_url);
    let segments = run_segments(&plan, dir.path(), "fixed", 3);
    let vus: Vec<u64> = segments
        .iter()
        .map(|json| json["vus_max"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(vus, [3, 2, 2]);
    let requests: Vec<u64> = segments
        .iter()
        .map(|json| count(json, "http_reqs"))
        .collect();
    assert_eq!(requests, [9, 6, 6]);
    assert_eq!(mock_requests(&base_url) - before, 21);
    let ids = vu_ids(&base_url);
    assert_eq!(
        ids.keys().copied().collect::<Vec<_>>(),
        (1..=7).collect::<Vec<_>>()
    );
    assert!(ids.values().all(|&n| n == 3), "{ids:?}");

    let before = mock_requests(&base_url);
    let whole = run_segments(&plan, dir.path(), "fixed", 0);
    assert_eq!(whole[0]["vus_max"], 7);
    assert_eq!(count(&whole[0], "http_reqs"), 21);
    assert_eq!(mock_requests(&base_url) - before, 21);

    // Open model: 20 iterations dealt round robin (7, 7 and 6), each on a VU of its own
    // from the segment's share of `max_vus` (7, 7 and 6).
    let before = mock_requests(&base_url);
    let segments = run_segments(&plan, dir.path(), "arrive", 3);
    let requests: Vec<u64> = segments
        .iter()
        .map(|json| count(json, "http_reqs"))
        .collect();
    assert_eq!(requests, [21, 21, 18]);
    assert_eq!(mock_requests(&base_url) - before, 60);
    let pool: Vec<u64> = segments
        .iter()
        .map(|json| json["vus_max"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(pool, [7, 7, 6]);

    let before = mock_requests(&base_url);
    let whole = run_segments(&plan, dir.path(), "arrive", 0);
    assert_eq!(count(&whole[0], "http_reqs"), 60);
    assert_eq!(mock_requests(&base_url) - before, 60);
}

/// Stops the mock process when the test ends, failed or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--segment-weights 2,1,1`: 8 VUs are dealt 1 2 3 1 | 1 2 3 1, so the segments run 4, 2
/// and 2 and record their weights; weights that do not fit are exit 2, never a panic.
#[test]
fn weights_give_unequal_shares() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("plan.yaml");
    std::fs::write(
        &file,
        "name: weights\nstages: { hold: { vus: 8, duration: 300ms, graceful_stop: 50ms } }\n\
         scenarios: { idle: { steps: [ { sleep: 10s } ] } }\n",
    )
    .expect("the plan is written");
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_loadplan"))
            .arg("run")
            .arg(&file)
            .args(["--quiet"])
            .args(args)
            .current_dir(dir.path())
            .env_remove("LOADPLAN_ENV")
            .env_remove("LOADPLAN_STAGE")
            .output()
            .expect("loadplan runs");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    for (index, vus) in [(1, 4), (2, 2), (3, 2)] {
        let out = format!("json=segment-{index}.json");
        let segment = format!("{index}/3");
        let (status, stderr) = run(&[
            "--segment",
            &segment,
            "--segment-weights",
            "2,1,1",
            "--out",
            &out,
        ]);
        assert_eq!(status, 0, "{stderr}");
        let text = std::fs::read_to_string(dir.path().join(format!("segment-{index}.json")))
            .expect("the results");
        let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(json["vus_max"], vus, "segment {index}");
        assert_eq!(json["segment"]["weights"], serde_json::json!([2, 1, 1]));
    }
    for (weights, said) in [
        ("2,1", "2 weights for 3 segments"),
        ("2,x,1", "expected whole numbers above 0"),
        ("0,1,1", "expected whole numbers above 0"),
    ] {
        let (status, stderr) = run(&["--segment", "1/3", "--segment-weights", weights]);
        assert_eq!(status, 2, "{weights}: {stderr}");
        assert!(stderr.contains(said), "{weights}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
