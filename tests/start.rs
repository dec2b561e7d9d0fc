//! A common start (`--start-at`, `--barrier dir:PATH`) end to end: real runs of the
//! binary against `loadplan mock` processes or the in-process mock. Nothing is timed: a
//! test waits for a line or an exit, and "no request before the instant" is checked as a
//! fact (the mock's count read, then the clock read still before the instant).

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::common::{Background, loadplan_command, mock_requests};
use crate::run::mock_process;

/// A plan of HTTP requests against the mock at `base_url`.
fn http_plan(base_url: &str) -> String {
    format!(
        r#"
name: start
environments: {{ target: {{ base_url: "{base_url}" }} }}
stages: {{ short: {{ vus: 2, duration: 1s }} }}
scenarios:
  api: {{ steps: [ {{ request: {{ url: "{{{{ env.base_url }}}}/items" }} }}, {{ sleep: 20ms }} ] }}
"#
    )
}

/// A plan with a WebSocket scenario and a `collect:` source, against its own in-process
/// mock.
const OWN_MOCK: &str = r#"
name: start
environments: { local: { mock: true } }
collect:
  - prometheus: { name: mock, url: "{{ env.base_url }}/metrics", every: 200ms }
stages: { short: { vus: 2, duration: 1s } }
scenarios:
  api: { steps: [ { request: { url: "{{ env.base_url }}/items" } }, { sleep: 20ms } ] }
  chat:
    steps:
      - connect: "{{ env.ws_url }}"
      - send: { json: { type: ping, id: "1" } }
      - expect: { json: { type: pong }, within: 2s }
      - sleep: 100ms
      - disconnect: {}
"#;

/// A `loadplan run` of `dir/plan.yaml` with `args`, its results in `dir/NAME.json` and
/// its stderr read line by line.
fn spawn(dir: &Path, name: &str, args: &[&str]) -> Background {
    Background::run(
        &dir.join("plan.yaml"),
        dir.join(format!("{name}.json")),
        args,
    )
}

fn results(dir: &Path, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).expect("results");
    serde_json::from_str(&text).expect("the results are JSON")
}

fn run_in(dir: &Path, args: &[&str]) -> (i32, String) {
    let output = loadplan_command()
        .arg("run")
        .arg(dir.join("plan.yaml"))
        .args(["--quiet", "--out"])
        .arg(format!("json={}", dir.join("results.json").display()))
        .args(args)
        .output()
        .expect("loadplan runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_start_at_in_the_past_exits_3_with_nothing_sent() {
    let (mut mock, base_url) = mock_process(&[]);
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("plan.yaml"), http_plan(&base_url)).expect("the plan");
    for args in [
        &["--start-at", "2020-01-01T00:00:00Z"][..],
        &["--start-at", "2020-01-01T00:00:00Z", "--segment", "1/2"],
    ] {
        let (status, stderr) = run_in(dir.path(), args);
        assert_eq!(status, 3, "{args:?}: {stderr}");
        assert!(
            stderr.contains(
                "error: --start-at 2020-01-01T00:00:00.000Z had passed when the run was ready ("
            ) && stderr.contains("late); nothing was sent"),
            "{stderr}"
        );
        assert!(!dir.path().join("results.json").exists(), "{args:?}");
    }
    assert_eq!(mock_requests(&base_url), 0);
    let _ = mock.kill();
    let _ = mock.wait();
}

#[test]
fn bad_start_options_exit_2_before_the_plan_is_read() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("plan.yaml"), OWN_MOCK).expect("the plan");
    let cases: [(&[&str], &str); 4] = [
        (
            &["--start-at", "next tuesday"],
            "error: --start-at `next tuesday` is not an RFC 3339 instant",
        ),
        (
            &["--segment", "1/2", "--barrier", "/shared/run"],
            "error: --barrier `/shared/run` is not a barrier loadplan knows; a shared folder is \
             written --barrier dir:PATH; nothing was run",
        ),
        (
            &["--segment", "1/2", "--barrier", "dir:"],
            "error: --barrier dir: names no folder",
        ),
        (
            &["--start-at", "2020-01-01T00:00:00Z", "--barrier", "dir:x"],
            "cannot be used with",
        ),
    ];
    for (args, said) in cases {
        let (status, stderr) = run_in(dir.path(), args);
        assert_eq!(status, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(said), "{args:?}: {stderr}");
    }
}

/// The run begins at the instant, not before: the mock counts no request while the
/// clock, read after the count, is still before it; the record keeps the instant.
#[test]
fn a_start_at_ahead_is_waited_for_and_recorded() {
    let (mut mock, base_url) = mock_process(&[]);
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("plan.yaml"), http_plan(&base_url)).expect("the plan");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970");
    // Whole milliseconds, 5 s ahead: time for a busy machine to start and prepare.
    let at = SystemTime::UNIX_EPOCH
        + Duration::from_millis(u64::try_from(now.as_millis()).expect("ms") + 5_000);
    let text = humantime::format_rfc3339_millis(at).to_string();
    let mut run = spawn(
        dir.path(),
        "results",
        &["--segment", "1/1", "--start-at", &text],
    );
    run.wait_for_line("waiting for the start at");
    let mut before = 0;
    loop {
        let count = mock_requests(&base_url);
        if SystemTime::now() >= at {
            break;
        }
        assert_eq!(count, 0, "a request before {text}");
        before += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(before > 0, "the mock was never read before {text}");
    let (status, stderr) = run.wait();
    assert_eq!(status, 0, "{stderr}");
    let json = results(dir.path(), "results");
    let segment = &json["segment"];
    assert_eq!(segment["start"], text.as_str(), "{segment}");
    assert_eq!(segment["started_by"], "start_at");
    assert_eq!(
        (segment["index"].as_u64(), segment["count"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(segment["collected"], true);
    assert_eq!(segment["selection"]["stage"], "short");
    assert_eq!(segment["selection"]["env"], "target");
    assert!(
        segment["plan_hash"]
            .as_str()
            .is_some_and(|hash| hash.starts_with("sha256:")),
        "{segment}"
    );
    assert!(mock_requests(&base_url) > 0);
    let _ = mock.kill();
    let _ = mock.wait();
}

#[test]
fn ctrl_c_while_waiting_for_the_start_sends_nothing() {
    let (mut mock, base_url) = mock_process(&[]);
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("plan.yaml"), http_plan(&base_url)).expect("the plan");
    let at = humantime::format_rfc3339_seconds(SystemTime::now() + Duration::from_secs(3600))
        .to_string();
    let mut run = spawn(dir.path(), "results", &["--start-at", &at]);
    run.wait_for_line("waiting for the start at");
    crate::common::signal(run.child.id(), "INT");
    let (status, stderr) = run.wait();
    assert_eq!(status, 130, "{stderr}");
    assert!(
        stderr.contains("interrupted while waiting for the start; nothing was sent"),
        "{stderr}"
    );
    assert!(!dir.path().join("results.json").exists());
    assert_eq!(mock_requests(&base_url), 0);
    let _ = mock.kill();
    let _ = mock.wait();
}

/// Two segment processes meet at a barrier folder and start at the same instant; each
/// second of their timelines keeps its WebSockets and latency histogram for merge; the
/// ready files are gone afterwards.
#[test]
fn two_segments_start_together_at_a_barrier() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("plan.yaml"), OWN_MOCK).expect("the plan");
    let barrier = format!("dir:{}", dir.path().join("barrier").display());
    let mut first = spawn(
        dir.path(),
        "one",
        &["--segment", "1/2", "--barrier", &barrier],
    );
    first.wait_for_line("ready-1 written in");
    let mut second = spawn(
        dir.path(),
        "two",
        &["--segment", "2/2", "--barrier", &barrier],
    );
    second.wait_for_line("all 2 segments ready; starting at");
    let (status, stderr) = first.wait();
    assert_eq!(status, 0, "{stderr}");
    let (status, stderr) = second.wait();
    assert_eq!(status, 0, "{stderr}");
    let (one, two) = (results(dir.path(), "one"), results(dir.path(), "two"));
    assert_eq!(one["segment"]["start"], two["segment"]["start"]);
    assert_eq!(one["segment"]["plan_hash"], two["segment"]["plan_hash"]);
    assert_eq!(one["segment"]["started_by"], "barrier");
    assert_eq!(
        (
            one["segment"]["collected"].as_bool(),
            two["segment"]["collected"].as_bool()
        ),
        (Some(true), Some(false))
    );
    assert!(
        one["segment"]["start"]
            .as_str()
            .is_some_and(|start| stderr.contains(&format!("starting at {start}"))),
        "{stderr}"
    );
    for json in [&one, &two] {
        let timeline = json["timeline"].as_array().expect("a timeline");
        assert!(
            timeline.iter().all(|second| second["ws"].is_u64()),
            "{timeline:?}"
        );
        // Every latency sample is in exactly one second's histogram.
        let in_seconds: u64 = timeline
            .iter()
            .filter_map(|second| second["latency"].as_str())
            .map(|histogram| {
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(histogram)
                    .expect("base64");
                let histogram: hdrhistogram::Histogram<u64> =
                    hdrhistogram::serialization::Deserializer::new()
                        .deserialize(&mut bytes.as_slice())
                        .expect("a V2 deflate histogram");
                histogram.len()
            })
            .sum();
        // With the split, each segment has one of the two VUs: one's scenario has no
        // `ws_message_latency`, the other's no `http_req_duration`.
        let count = |name: &str| {
            json["metrics"]
                .as_array()
                .and_then(|metrics| metrics.iter().find(|m| m["metric"] == name))
                .and_then(|m| m["count"].as_u64())
                .unwrap_or(0)
        };
        assert_eq!(
            in_seconds,
            count("http_req_duration") + count("ws_message_latency"),
            "{timeline:?}"
        );
        assert!(in_seconds > 0);
    }
    let left: Vec<_> = std::fs::read_dir(dir.path().join("barrier"))
        .expect("the barrier folder")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A run without `--segment` keeps neither a segment record nor per-second histograms.
#[test]
fn a_whole_run_has_no_segment_record() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("plan.yaml"), OWN_MOCK).expect("the plan");
    let (status, stderr) = run_in(dir.path(), &[]);
    assert_eq!(status, 0, "{stderr}");
    let text = std::fs::read_to_string(dir.path().join("results.json")).expect("results");
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert!(json.get("segment").is_none());
    let timeline = json["timeline"].as_array().expect("a timeline");
    assert!(
        timeline
            .iter()
            .all(|second| second.get("ws").is_none() && second.get("latency").is_none()),
        "{timeline:?}"
    );
}

#[test]
fn a_barrier_that_segment_2_never_reaches_exits_3_naming_it() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("plan.yaml"), OWN_MOCK).expect("the plan");
    let folder = dir.path().join("barrier");
    let barrier = format!("dir:{}", folder.display());
    let (status, stderr) = run_in(
        dir.path(),
        &[
            "--segment",
            "1/2",
            "--barrier",
            &barrier,
            "--barrier-timeout",
            "2s",
        ],
    );
    assert_eq!(status, 3, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: --barrier {barrier}: segment 2 was not ready within 2s; nothing was sent"
        )),
        "{stderr}"
    );
    assert!(!dir.path().join("results.json").exists());
    // Its own ready file is taken away, so a segment arriving later does not count it.
    assert!(!folder.join("ready-1").exists());
}

/// Ready files that are not this run's are ignored, and the timeout names them.
#[test]
fn junk_ready_files_are_ignored_and_named() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("plan.yaml"), OWN_MOCK).expect("the plan");
    let folder = dir.path().join("barrier");
    std::fs::create_dir(&folder).expect("the barrier folder");
    let barrier = format!("dir:{}", folder.display());
    let other = serde_json::json!({
        "index": 2, "count": 2, "plan_hash": "sha256:0123456789abcdef0123",
        "ready_at": humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
    });
    let cases: [(Vec<u8>, &str); 3] = [
        (
            b"\x7fELF junk".to_vec(),
            "ready-2: not a ready file (expected value at line 1 column 1)",
        ),
        (
            other.to_string().into_bytes(),
            "ready-2: for another plan or selection (sha256:0123456789ab…)",
        ),
        (
            vec![b'{'; 1 << 20],
            "ready-2: larger than 4 KiB, not read past that",
        ),
    ];
    for (content, said) in cases {
        std::fs::write(folder.join("ready-2"), &content).expect("ready-2");
        let (status, stderr) = run_in(
            dir.path(),
            &[
                "--segment",
                "1/2",
                "--barrier",
                &barrier,
                "--barrier-timeout",
                "1s",
            ],
        );
        assert_eq!(status, 3, "{said}: {stderr}");
        assert!(
            stderr.contains("segment 2 was not ready within 1s (ignored ") && stderr.contains(said),
            "{said}: {stderr}"
        );
    }
}

#[test]
fn a_barrier_folder_that_cannot_be_written_exits_2_before_the_load() {
    let (mut mock, base_url) = mock_process(&[]);
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("plan.yaml"), http_plan(&base_url)).expect("the plan");
    // A file where the folder should be: unwritable even for root.
    let file = dir.path().join("plan.yaml");
    let barrier = format!("dir:{}", file.join("barrier").display());
    let (status, stderr) = run_in(dir.path(), &["--segment", "1/2", "--barrier", &barrier]);
    assert_eq!(status, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: --barrier {barrier}: cannot create the folder: "
        )) && stderr.contains("nothing was run"),
        "{stderr}"
    );
    assert_eq!(mock_requests(&base_url), 0);
    let _ = mock.kill();
    let _ = mock.wait();
}
