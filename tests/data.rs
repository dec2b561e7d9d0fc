//! `data:` feeders end to end: the real binary against a small recording HTTP server on
//! 127.0.0.1, which counts the rows it was sent (the independent count); and `validate`'s
//! located errors for bad data files and bad `data.*` names.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::common::root;

/// The request targets (`/u/7?vu=3`) a server saw, in order of arrival.
type Seen = Arc<Mutex<Vec<String>>>;

/// A keep-alive HTTP/1.1 server answering every request `200` with an empty body and
/// recording its target. Runs until the test process ends.
fn recording_server() -> (u16, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("an address").port();
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let record = Arc::clone(&record);
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().expect("a second handle");
                let mut reader = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let target = line.split(' ').nth(1).unwrap_or_default().to_owned();
                    // The head's other lines, up to the blank one (GETs have no body).
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 {
                            return;
                        }
                        if header == "\r\n" {
                            break;
                        }
                    }
                    record.lock().expect("not poisoned").push(target);
                    if writer
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

/// `count` CSV rows `id,token`: `u1,t1` …
fn users(count: usize) -> String {
    let mut text = String::from("id,token\n");
    for n in 1..=count {
        text.push_str(&format!("u{n},t{n}\n"));
    }
    text
}

struct Outcome {
    status: i32,
    stderr: String,
    json: serde_json::Value,
}

/// Runs `plan` (with `files` beside it) with `args`, returning the results.
fn run_in(dir: &Path, plan: &str, files: &[(&str, &str)], args: &[&str]) -> Outcome {
    std::fs::write(dir.join("plan.yaml"), plan).expect("the plan is written");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("a data file is written");
    }
    run_written(dir, args)
}

/// Runs the `plan.yaml` written in `dir` with `args`, returning the results.
fn run_written(dir: &Path, args: &[&str]) -> Outcome {
    let results = dir.join(format!(
        "results-{}.json",
        args.join("-").replace('/', "of")
    ));
    let output = Command::new(env!("CARGO_BIN_EXE_loadplan"))
        .arg("run")
        .arg(dir.join("plan.yaml"))
        .arg("--quiet")
        .arg("--out")
        .arg(format!("json={}", results.display()))
        .args(args)
        .current_dir(root())
        .env_remove("LOADPLAN_ENV")
        .env_remove("LOADPLAN_STAGE")
        .output()
        .expect("loadplan runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let json = std::fs::read_to_string(&results)
        .map(|text| serde_json::from_str(&text).expect("the results are JSON"))
        .unwrap_or_else(|_| panic!("no results: {stderr}"));
    Outcome {
        status: output.status.code().unwrap_or(-1),
        stderr,
        json,
    }
}

/// How many times the server saw each `u…` id (the path `/u/ID…`).
fn ids(seen: &Seen) -> HashMap<String, u64> {
    let mut counts = HashMap::new();
    for target in seen.lock().expect("not poisoned").iter() {
        let id = target
            .strip_prefix("/u/")
            .and_then(|rest| rest.split('?').next())
            .unwrap_or_else(|| panic!("unexpected target {target}"));
        *counts.entry(id.to_owned()).or_insert(0) += 1;
    }
    counts
}

fn plan(port: u16, order: &str, stage: &str) -> String {
    format!(
        r#"
name: feeders
environments: {{ local: {{ base_url: "http://127.0.0.1:{port}" }} }}
stages: {{ main: {stage} }}
data:
  users: {{ csv: users.csv, order: {order} }}
scenarios:
  login:
    steps:
      - request: {{ url: "{{{{ env.base_url }}}}/u/{{{{ data.users.id }}}}?vu={{{{ vu }}}}&token={{{{ data.users.token }}}}" }}
      - sleep: 10ms
"#
    )
}

/// `per_vu`: VU n reads row n in every iteration (the server sees each VU send its own id).
#[test]
fn per_vu_gives_vu_n_row_n() {
    let (port, seen) = recording_server();
    let dir = tempfile::tempdir().expect("a folder");
    let out = run_in(
        dir.path(),
        &plan(port, "per_vu", "{ vus: 5, duration: 500ms }"),
        &[("users.csv", &users(5))],
        &[],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    let seen = seen.lock().expect("not poisoned").clone();
    assert!(seen.len() >= 5, "{seen:?}");
    let mut vus = std::collections::BTreeSet::new();
    for target in &seen {
        let (path, query) = target.split_once('?').expect("a query");
        let vu = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("vu="))
            .expect("a vu");
        assert_eq!(path, format!("/u/u{vu}"), "{target}");
        assert!(query.ends_with(&format!("token=t{vu}")), "{target}");
        vus.insert(vu.to_owned());
    }
    assert_eq!(vus.len(), 5, "{seen:?}");
}

/// `sequential`: one cursor for the run, wrapping: over T iterations every row of R is
/// sent ⌊T/R⌋ or ⌈T/R⌉ times, and the server saw exactly the iterations the run counted.
#[test]
fn sequential_hands_rows_out_in_turn() {
    let (port, seen) = recording_server();
    let dir = tempfile::tempdir().expect("a folder");
    let out = run_in(
        dir.path(),
        &plan(port, "sequential", "{ vus: 4, duration: 700ms }"),
        &[("users.csv", &users(10))],
        &[],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    let counts = ids(&seen);
    let total: u64 = counts.values().sum();
    assert_eq!(
        crate::run::metric(&out.json, "iterations")["count"].as_u64(),
        Some(total)
    );
    assert!(total > 10, "the cursor wraps: {counts:?}");
    let (low, high) = (total / 10, total.div_ceil(10));
    assert_eq!(counts.len(), 10, "{counts:?}");
    for (id, count) in &counts {
        assert!(
            *count == low || *count == high,
            "{id}: {count} ({counts:?})"
        );
    }
}

/// `unique`: each row once in the whole run; then each VU's next iteration fails with
/// `data exhausted` (counted once per VU, as each VU then stops).
#[test]
fn unique_uses_each_row_once_then_stops_each_vu() {
    let (port, seen) = recording_server();
    let dir = tempfile::tempdir().expect("a folder");
    let out = run_in(
        dir.path(),
        &plan(port, "unique", "{ vus: 4, duration: 1s }"),
        &[("users.csv", &users(30))],
        &[],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    let counts = ids(&seen);
    assert_eq!(counts.len(), 30, "{counts:?}");
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    assert_eq!(
        out.json["errors"],
        serde_json::json!({ "data exhausted": 4 }),
        "{}",
        out.json["errors"]
    );
}

/// `unique` in a run split in two segments: each segment takes only the rows it owns,
/// so the two together send each row once, without talking to each other.
#[test]
fn unique_across_two_segments_uses_each_row_once() {
    let (port, seen) = recording_server();
    let dir = tempfile::tempdir().expect("a folder");
    let text = plan(port, "unique", "{ vus: 4, duration: 1s }");
    std::fs::write(dir.path().join("plan.yaml"), &text).expect("written");
    std::fs::write(dir.path().join("users.csv"), users(31)).expect("written");
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| run_written(dir.path(), &["--segment", "1/2"]));
        let second = scope.spawn(|| run_written(dir.path(), &["--segment", "2/2"]));
        (
            first.join().expect("segment 1"),
            second.join().expect("segment 2"),
        )
    });
    for out in [&first, &second] {
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert_eq!(
            out.json["errors"],
            serde_json::json!({ "data exhausted": 2 }),
            "{}",
            out.json["errors"]
        );
    }
    let counts = ids(&seen);
    assert_eq!(counts.len(), 31, "{counts:?}");
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
}

/// `random`: rows drawn by each VU's seeded generator are rows of the file.
#[test]
fn random_rows_come_from_the_file() {
    let (port, seen) = recording_server();
    let dir = tempfile::tempdir().expect("a folder");
    let out = run_in(
        dir.path(),
        &plan(port, "random", "{ vus: 3, duration: 300ms }"),
        &[("users.csv", &users(4))],
        &[],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    let counts = ids(&seen);
    assert!(!counts.is_empty());
    for id in counts.keys() {
        assert!(
            ["u1", "u2", "u3", "u4"].contains(&id.as_str()),
            "{counts:?}"
        );
    }
}

/// JSON rows keep their values' types, and the mock (in-process) takes a plan whose
/// payload sizes come from a data file.
#[test]
fn json_rows_feed_numbers() {
    let (port, seen) = recording_server();
    let dir = tempfile::tempdir().expect("a folder");
    let text = format!(
        r#"
name: json-feeder
environments: {{ local: {{ base_url: "http://127.0.0.1:{port}" }} }}
stages: {{ main: {{ vus: 1, duration: 200ms }} }}
data:
  sizes: {{ json: sizes.json }}
scenarios:
  s:
    steps:
      - request: {{ url: "{{{{ env.base_url }}}}/u/{{{{ data.sizes.bytes * 2 }}}}" }}
      - sleep: 10ms
"#
    );
    let out = run_in(
        dir.path(),
        &text,
        &[("sizes.json", r#"[{"bytes": 16}, {"bytes": 1024}]"#)],
        &[],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    let counts = ids(&seen);
    assert!(counts.contains_key("32"), "{counts:?}");
    assert!(
        counts.keys().all(|k| k == "32" || k == "2048"),
        "{counts:?}"
    );
}

/// `validate` of a plan (with `files` beside it): the exit code and stderr.
fn validate(plan: &str, files: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().expect("a folder");
    std::fs::write(dir.path().join("plan.yaml"), plan).expect("written");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("written");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_loadplan"))
        .arg("validate")
        .arg("plan.yaml")
        .current_dir(dir.path())
        .env_remove("LOADPLAN_ENV")
        .env_remove("LOADPLAN_STAGE")
        .output()
        .expect("loadplan runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn data_plan(source: &str, url: &str) -> String {
    format!(
        r#"name: bad data
environments: {{ local: {{ mock: true }} }}
stages: {{ main: {{ vus: 2, duration: 1s }} }}
data:
  users: {source}
scenarios:
  s:
    steps:
      - request: {{ url: "{url}" }}
"#
    )
}

const URL: &str = "{{ env.base_url }}/u/{{ data.users.id }}";

/// The first line of each diagnostic (`plan.yaml:5:21: error: …`) and its help.
fn located(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| {
            (line.starts_with("plan.yaml:") && line.contains(": error: "))
                || line.trim_start().starts_with("= help")
        })
        .collect()
}

/// A `data:` source, the files beside the plan, and lines `validate` must print.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);

#[test]
fn validate_locates_data_file_errors() {
    let cases: [Case; 6] = [
        (
            "{ csv: missing.csv }",
            &[],
            &[
                "plan.yaml:5:17: error: missing.csv: cannot read the data file: No such file or directory (os error 2)",
            ],
        ),
        (
            "{ csv: users.csv }",
            &[("users.csv", "id,token\nu1,t1\nu2\n")],
            &["plan.yaml:5:17: error: users.csv:3: row has 1 field, the header has 2"],
        ),
        (
            "{ json: users.json }",
            &[("users.json", "{\"id\": 1}")],
            &[
                "plan.yaml:5:18: error: users.json:1:1: expected an array of objects, found an object",
            ],
        ),
        (
            "{ json: users.json }",
            &[("users.json", "[{\"id\": 1},\n 7]")],
            &[
                "plan.yaml:5:18: error: users.json:2:2: element 1 of the array is a number, not an object",
            ],
        ),
        (
            "{ csv: users.csv }",
            &[("users.csv", "")],
            &["plan.yaml:5:17: error: users.csv: the file is empty"],
        ),
        (
            "{ csv: users.csv, json: users.json }",
            &[],
            &["plan.yaml:5:28: error: data source `users` has both `csv` and `json`; give one"],
        ),
    ];
    for (source, files, expected) in cases {
        let (status, stderr) = validate(&data_plan(source, URL), files);
        assert_eq!(status, 2, "{source}: {stderr}");
        let lines = located(&stderr);
        for line in expected {
            assert!(lines.contains(line), "{source}: want {line}\n{stderr}");
        }
    }
}

#[test]
fn validate_checks_data_names_with_suggestions() {
    let files: &[(&str, &str)] = &[("users.csv", "id,token\nu1,t1\n")];
    let (status, stderr) = validate(
        &data_plan(
            "{ csv: users.csv }",
            "{{ env.base_url }}/{{ data.users.tokn }}",
        ),
        files,
    );
    assert_eq!(status, 2, "{stderr}");
    assert_eq!(
        located(&stderr),
        [
            "plan.yaml:9:48: error: unknown column `tokn` of data source `users` (`users.csv`)",
            "  = help: did you mean `token`? (columns: `id` and `token`)",
        ],
        "{stderr}"
    );
    let (status, stderr) = validate(
        &data_plan(
            "{ csv: users.csv }",
            "{{ env.base_url }}/{{ data.user.id }}",
        ),
        files,
    );
    assert_eq!(status, 2, "{stderr}");
    assert_eq!(
        located(&stderr),
        [
            "plan.yaml:9:48: error: unknown data source `data.user`",
            "  = help: did you mean `users`?",
        ],
        "{stderr}"
    );
    // `data` is reserved: no step may capture into it.
    let plan = data_plan("{ csv: users.csv }", URL).replace(
        "      - request: {",
        "      - set: { data: 1 }\n      - request: {",
    );
    let (status, stderr) = validate(&plan, files);
    assert_eq!(status, 2, "{stderr}");
    assert!(
        stderr.contains("`data` is a reserved name; choose another"),
        "{stderr}"
    );
}

/// `setup:` and `teardown:` run by a VU of their own that picks no rows: `data.*` there is
/// a located error, not a value that renders undefined at run time.
#[test]
fn data_in_setup_is_a_located_error() {
    let plan = format!(
        "{}setup:\n  - request: {{ url: \"{{{{ env.base_url }}}}/{{{{ data.users.id }}}}\" }}\n",
        data_plan("{ csv: users.csv }", URL)
    );
    let (status, stderr) = validate(&plan, &[("users.csv", "id,token\nu1,t1\n")]);
    assert_eq!(status, 2, "{stderr}");
    assert!(
        stderr.contains("error: `data.*` is not available here: rows are picked per VU iteration"),
        "{stderr}"
    );
}

/// `per_vu` with fewer rows than VUs warns: VUs would share rows.
#[test]
fn per_vu_with_too_few_rows_warns() {
    let (status, stderr) = validate(
        &data_plan("{ csv: users.csv, order: per_vu }", URL),
        &[("users.csv", "id,token\nu1,t1\n")],
    );
    assert_eq!(status, 0, "{stderr}");
    assert!(
        stderr.contains("warning: `users.csv` has 1 row but the stage runs up to 2 VUs"),
        "{stderr}"
    );
}

/// A data file that is not UTF-8, and one over the 256 MiB cap (sparse: nothing past the
/// cap is read), are errors at the `csv:` value, not a panic or a hang.
#[test]
fn validate_refuses_non_utf8_and_huge_data_files() {
    let dir = tempfile::tempdir().expect("a folder");
    std::fs::write(
        dir.path().join("plan.yaml"),
        data_plan("{ csv: users.csv }", URL),
    )
    .expect("written");
    std::fs::write(dir.path().join("users.csv"), b"id,token\nu1,\xff\n").expect("written");
    let validate_here = || {
        let output = Command::new(env!("CARGO_BIN_EXE_loadplan"))
            .args(["validate", "plan.yaml"])
            .current_dir(dir.path())
            .output()
            .expect("loadplan runs");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (status, stderr) = validate_here();
    assert_eq!(status, 2, "{stderr}");
    assert_eq!(
        located(&stderr),
        [
            "plan.yaml:5:17: error: users.csv: the data file is not UTF-8 text (invalid byte at offset 12)"
        ],
        "{stderr}"
    );
    let huge = std::fs::File::create(dir.path().join("users.csv")).expect("created");
    huge.set_len((256 << 20) + 1).expect("a sparse file");
    let (status, stderr) = validate_here();
    assert_eq!(status, 2, "{stderr}");
    assert_eq!(
        located(&stderr),
        [
            "plan.yaml:5:17: error: users.csv: the data file is larger than 256 MiB; nothing was read past that"
        ],
        "{stderr}"
    );
}
