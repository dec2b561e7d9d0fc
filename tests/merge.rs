//! `loadplan merge`: real segment runs of the binary (`run --segment I/N --out json=…`)
//! against one `loadplan mock` process, merged; the merged counts are the mock's own, the
//! merged percentiles are those of the segments' histograms added, the thresholds are
//! judged once on the whole, and the plan's outputs are written. Then every refusal.

use std::path::{Path, PathBuf};
use std::process::Command;

use hdrhistogram::Histogram;
use loadplan::plan::source::{SelectionRecord, plan_hash};
use loadplan::plan::threshold::Aggregation;
use loadplan::report::json::{RunDocument, SegmentRecord};
use loadplan::results::SeriesData;

use crate::common::{exit_within_patience, get_json};
use crate::run::{metric, mock_process};

const SEGMENTS: u32 = 3;

/// Six VUs, one request each (then a sleep the stage's end cuts), so the plan sends six
/// requests in all. Each threshold fails on one side: a segment of the split sends two
/// (`>= 6` fails), one that runs the whole plan sends six and the merge sees 18 (`<= 6`
/// fails); either way the merged verdict is not the segments'.
fn plan(base_url: &str) -> String {
    format!(
        r###"
name: split
environments: {{ local: {{ base_url: "{base_url}" }} }}
stages: {{ smoke: {{ vus: 6, duration: 300ms, graceful_stop: 10ms }} }}
scenarios:
  api: {{ steps: [ {{ request: {{ url: "{{{{ env.base_url }}}}/x" }} }}, {{ sleep: 5s }} ] }}
thresholds:
  http_reqs: [ "count >= 6", "count <= 6" ]
outputs:
  - markdown: {{ append_to: "doc.md", under: "## Historical Results" }}
"###
    )
}

const DOC: &str = "# Doc\n\n## Historical Results\n\n| Date | Environment | Mode | Connections | p95 Conn Time | p95 Broadcast | Pass/Fail |\n|---|---|---|---|---|---|---|\n\n## After\n";

fn loadplan_in(dir: &Path, args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_loadplan"))
        .args(args)
        .current_dir(dir)
        .env_remove("LOADPLAN_ENV")
        .env_remove("LOADPLAN_STAGE")
        .output()
        .expect("loadplan runs");
    (
        output.status.code().unwrap_or(-1),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// The run's segments, run at once in `dir` (plan.yaml), meeting at a `--barrier` (no
/// instant a busy machine could miss); their exit codes and results files
/// (`segment-I.json`), each with its segment record.
fn run_segments(dir: &Path) -> (Vec<i32>, Vec<PathBuf>) {
    let mut children = Vec::new();
    for index in 1..=SEGMENTS {
        let child = Command::new(env!("CARGO_BIN_EXE_loadplan"))
            .args(["run", "plan.yaml", "-q", "--barrier", "dir:barrier"])
            .arg(format!("--segment={index}/{SEGMENTS}"))
            .arg(format!("--out=json=segment-{index}.json"))
            .current_dir(dir)
            .env_remove("LOADPLAN_ENV")
            .env_remove("LOADPLAN_STAGE")
            .spawn()
            .expect("a segment starts");
        children.push(child);
    }
    let codes = children
        .iter_mut()
        .map(|child| {
            exit_within_patience(child, "a segment")
                .code()
                .unwrap_or(-1)
        })
        .collect();
    let source = std::fs::read_to_string(dir.join("plan.yaml")).expect("the plan");
    let files: Vec<PathBuf> = (1..=SEGMENTS)
        .map(|index| dir.join(format!("segment-{index}.json")))
        .collect();
    let selection = SelectionRecord {
        env: Some("local".into()),
        stage: "smoke".into(),
        ..SelectionRecord::default()
    };
    for (file, index) in files.iter().zip(1..) {
        let json = read(file);
        let record: SegmentRecord =
            serde_json::from_value(json["segment"].clone()).expect("a segment record");
        assert_eq!((record.index, record.count), (index, SEGMENTS));
        assert_eq!(record.started_by, "barrier");
        assert_eq!(record.plan_hash, plan_hash(&source, &record.selection));
        assert_eq!(record.selection.stage, selection.stage);
        assert_eq!(record.collected, index == 1);
    }
    (codes, files)
}

fn read(file: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(file).expect("a results file")).expect("JSON")
}

fn rows(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("doc.md"))
        .expect("the document")
        .lines()
        .filter(|line| line.starts_with("| 20"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn segments_merge_into_one_run_judged_once() {
    let (mut mock, base_url) = mock_process(&[]);
    let requests = || get_json(&format!("{base_url}/stats"))["http_requests_total"].as_u64();
    let before = requests().expect("the mock's stats");
    let dir = tempfile::tempdir().expect("a folder");
    std::fs::write(dir.path().join("plan.yaml"), plan(&base_url)).expect("the plan");
    std::fs::write(dir.path().join("doc.md"), DOC).expect("the document");
    let (codes, files) = run_segments(dir.path());
    let sent = requests().expect("the mock's stats") - before;
    let _ = mock.kill();
    let _ = mock.wait();

    let counts: Vec<u64> = files
        .iter()
        .map(|file| {
            metric(&read(file), "http_reqs")["count"]
                .as_u64()
                .expect("a count")
        })
        .collect();
    let total: u64 = counts.iter().sum();
    assert_eq!(
        total, sent,
        "the segments' requests are the mock's: {counts:?}"
    );
    let rows_before = rows(dir.path()).len();

    let names: Vec<String> = (1..=SEGMENTS)
        .map(|index| format!("segment-{index}.json"))
        .collect();
    let mut args = vec!["merge"];
    // In another order than the segments': merge sorts them.
    args.extend(names.iter().rev().map(String::as_str));
    args.extend(["--out", "json=merged.json", "--out", "csv=history.csv"]);
    let (status, out) = loadplan_in(dir.path(), &args);

    // The thresholds are judged on the merged total: both pass only at exactly six.
    let whole = total == 6;
    assert_eq!(status, if whole { 0 } else { 99 }, "{out}");
    // A segment judges nothing (its figures are a share): it exits 0 and its thresholds
    // are skipped, whatever its count.
    for (code, file) in codes.iter().zip(&files) {
        assert_eq!(*code, 0, "a segment exits 0: {}", file.display());
        let outcomes = read(file)["thresholds"].clone();
        for outcome in outcomes.as_array().expect("outcomes") {
            assert_eq!(outcome["skipped"], true, "{outcome}");
            assert!(
                outcome["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("loadplan merge")),
                "{outcome}"
            );
        }
    }
    let merged_file = dir.path().join("merged.json");
    let merged = read(&merged_file);
    assert_eq!(metric(&merged, "http_reqs")["count"], total);
    assert_eq!(merged["passed"], whole);
    assert!(merged.get("segment").is_none(), "{merged}");
    assert_eq!(merged["merged_from"], serde_json::json!(names));
    let outcomes = merged["thresholds"].as_array().expect("outcomes");
    assert_eq!(outcomes.len(), 2);
    for outcome in outcomes {
        assert_eq!(outcome["value"].as_f64(), Some(total as f64), "{outcome}");
    }
    assert_eq!(
        merged["started"].as_str().map(|s| &s[..19]),
        read(&files[0])["segment"]["start"]
            .as_str()
            .map(|s| &s[..19])
    );

    // The merged p95 is the p95 of the segments' histograms added by hand.
    let mut by_hand: Option<Histogram<u64>> = None;
    for file in &files {
        let results = RunDocument::load(file)
            .and_then(|document| document.results())
            .expect("a segment's results");
        for (key, data) in &results.series {
            if let ("http_req_duration", SeriesData::Trend(histogram)) = (&*key.metric, data) {
                match &mut by_hand {
                    Some(sum) => sum.add(histogram).expect("same bounds"),
                    None => by_hand = Some(histogram.clone()),
                }
            }
        }
    }
    let by_hand = by_hand.expect("the segments timed their requests");
    let p95 = by_hand.median_equivalent(by_hand.value_at_quantile(0.95)) as f64 / 1000.0;
    let results = RunDocument::load(&merged_file)
        .and_then(|document| document.results())
        .expect("the merged results");
    let figure = results
        .figure(
            "http_req_duration",
            Aggregation::Percentile(95.0),
            |_| true,
            false,
        )
        .expect("a p95");
    assert_eq!(figure, p95);
    assert_eq!(metric(&merged, "http_req_duration")["count"], by_hand.len());
    let timeline: u64 = merged["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .filter_map(|second| second["requests"].as_u64())
        .sum();
    assert_eq!(timeline, total);

    // The plan's outputs and --out: one row more in the document, one line in the CSV.
    let rows = rows(dir.path());
    assert_eq!(rows.len(), rows_before + 1, "{rows:?}");
    let verdict = if whole { "✅ Pass" } else { "❌ Fail" };
    assert!(
        rows.last().is_some_and(|row| row.contains(verdict)),
        "{rows:?}"
    );
    let csv = std::fs::read_to_string(dir.path().join("history.csv")).expect("the CSV");
    assert_eq!(csv.lines().count(), 2, "{csv}");

    refusals(dir.path(), &names);
}

/// Exit 2 and a message naming the problem, for each way the files are not one run's.
fn refusals(dir: &Path, names: &[String]) {
    let refused = |args: &[&str], needle: &str| {
        let mut all = vec!["merge"];
        all.extend(args);
        let (status, out) = loadplan_in(dir, &all);
        assert_eq!(status, 2, "{args:?}: {out}");
        assert!(
            out.contains(needle),
            "{args:?}: expected `{needle}` in {out}"
        );
    };
    let [one, two, three] = [&names[0], &names[1], &names[2]].map(String::as_str);
    refused(&[one, three], "segment 2 of 3 is missing");
    refused(
        &[one, two, two, three],
        &format!("segment 2 of 3 is given twice: {two} and {two}"),
    );
    std::fs::copy(dir.join(two), dir.join("again.json")).expect("a copy");
    refused(
        &[one, two, "again.json", three],
        &format!("segment 2 of 3 is given twice: {two} and again.json"),
    );

    std::fs::write(dir.join("junk.json"), "{\"plan\": 3}").expect("junk");
    refused(&[one, "junk.json"], "junk.json:1:");
    refused(&[one, "junk.json"], "not a loadplan results file");
    refused(&[one, "nothing.json"], "nothing.json");

    let mut plain = read(&dir.join(three));
    plain["segment"] = serde_json::Value::Null;
    std::fs::write(dir.join("plain.json"), plain.to_string()).expect("a plain run");
    refused(
        &[one, two, "plain.json"],
        "plain.json: not a segment run: run it with --segment I/N",
    );

    let mut other = read(&dir.join(three));
    other["segment"]["plan_hash"] = "sha256:0".into();
    std::fs::write(dir.join("other.json"), other.to_string()).expect("another plan");
    refused(
        &[one, two, "other.json"],
        &format!("{one} and other.json ran different plans"),
    );

    let mut late = read(&dir.join(three));
    late["segment"]["start"] = "2001-01-01T00:00:00.000Z".into();
    std::fs::write(dir.join("late.json"), late.to_string()).expect("a late start");
    refused(
        &[one, two, "late.json"],
        "run the segments with --start-at or --barrier",
    );

    let mut four = read(&dir.join(three));
    four["segment"]["count"] = 4.into();
    std::fs::write(dir.join("four.json"), four.to_string()).expect("another split");
    refused(
        &[one, two, "four.json"],
        &format!("{one} is a segment of 3, four.json of 4"),
    );

    // The plan changed since: refused, unless --plan names the one they ran.
    let text = std::fs::read_to_string(dir.join("plan.yaml")).expect("the plan");
    std::fs::write(dir.join("ran.yaml"), &text).expect("a copy");
    std::fs::write(dir.join("plan.yaml"), format!("{text}# edited\n")).expect("an edit");
    refused(
        &[one, two, three],
        "plan.yaml: the plan file changed since the segments ran",
    );
    let (status, out) = loadplan_in(dir, &["merge", one, two, three, "--plan", "ran.yaml", "-q"]);
    assert!(status == 0 || status == 99, "{out}");
}

/// Files that are no results, or too large to be any: exit 2 before anything is read
/// further (a sparse file, so the test writes nothing to disk).
#[test]
fn merge_refuses_what_is_no_results_file() {
    let dir = tempfile::tempdir().expect("a folder");
    let big = std::fs::File::create(dir.path().join("big.json")).expect("a file");
    big.set_len(loadplan::report::json::MAX_RESULTS + 1)
        .expect("a sparse file");
    let (status, out) = loadplan_in(dir.path(), &["merge", "big.json"]);
    assert_eq!(status, 2, "{out}");
    assert!(
        out.contains("big.json: the results file is larger than 256 MiB"),
        "{out}"
    );
    std::fs::write(dir.path().join("binary.json"), [0xff, 0xfe, 0]).expect("bytes");
    let (status, out) = loadplan_in(dir.path(), &["merge", "binary.json"]);
    assert_eq!(status, 2, "{out}");
    assert!(out.contains("binary.json"), "{out}");
    let (status, out) = loadplan_in(dir.path(), &["merge"]);
    assert_eq!(status, 2, "{out}");
}
