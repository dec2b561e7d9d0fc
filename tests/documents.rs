//! Files as the outside world leaves them: a baselines document reached through a symbolic
//! link, runs started together that would share a results name, and the temporary files
//! of a write that was killed. Each drives the real binary and waits for it to exit.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use crate::report::{loadplan_in, results_files};

const DOC: &str = "# Doc\n\n## Historical Results\n\n| Date | Environment | Mode | Connections | p95 Conn Time | p95 Broadcast | Pass/Fail |\n|---|---|---|---|---|---|---|\n\n## After\n";

fn is_link(path: &Path) -> bool {
    path.symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
}

/// Runs `loadplan ARGS` in `dir` and expects exit 0; returns its stderr.
fn succeeds(dir: &Path, args: &[&str]) -> String {
    let output = loadplan_in(dir, args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
    stderr
}

#[cfg(unix)]
#[test]
fn a_symlinked_document_is_updated_through_the_link() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("shared/baselines")).unwrap();
    std::fs::create_dir_all(root.join("project/docs")).unwrap();
    let real = root.join("shared/baselines/websocket.md");
    std::fs::write(&real, DOC).unwrap();
    // Relative (from the link's own directory) and absolute, through two levels.
    let relative = root.join("project/docs/baselines.md");
    symlink("../../shared/baselines/websocket.md", &relative).unwrap();
    let absolute = root.join("project/latest.md");
    symlink(&relative, &absolute).unwrap();
    let (first, _) = results_files(root);
    let first = first.to_str().unwrap();
    let under = ["--under", "## Historical Results"];
    for (link, label) in [(&relative, "relative"), (&absolute, "absolute")] {
        let link_arg = link.to_str().unwrap();
        let args = [
            &["report", first, "--append-to", link_arg][..],
            &under,
            &["--label", label],
        ];
        let stderr = succeeds(root, &args.concat());
        assert!(stderr.contains(&format!("in {link_arg}")), "{stderr}");
        assert!(is_link(link), "{} is still a link", link.display());
        assert!(is_link(&relative));
    }
    // The full report, with its chart: beside the document, where its link points.
    let link_arg = absolute.to_str().unwrap();
    succeeds(
        root,
        &[
            "report",
            first,
            "--append-to",
            link_arg,
            "--section",
            "latest",
        ],
    );
    assert!(is_link(&absolute) && is_link(&relative));
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(text.contains("| smoke (relative) |"), "{text}");
    assert!(text.contains("| smoke (absolute) |"), "{text}");
    assert!(text.contains("<!-- loadplan:end latest -->"), "{text}");
    assert!(text.contains("(websocket-smoke.svg)"), "{text}");
    assert!(root.join("shared/baselines/websocket-smoke.svg").is_file());
    let beside_real: Vec<_> = std::fs::read_dir(root.join("shared/baselines"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        beside_real.len(),
        2,
        "no temporary file is left: {beside_real:?}"
    );
    // A link to nothing is an error naming both, for a document that must exist.
    symlink("gone.md", root.join("project/dangling.md")).unwrap();
    let output = loadplan_in(
        root,
        &["report", first, "--append-to", "project/dangling.md"],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("project/dangling.md is a link to project/gone.md, which does not exist"),
        "{stderr}"
    );
    assert!(!root.join("project/gone.md").exists());
}

const PLAN: &str = r#"
name: together
environments:
  local: { mock: true }
stages:
  quick: { vus: 1, duration: 200ms }
scenarios:
  api:
    steps:
      - request: { url: "{{ env.base_url }}/x", name: x }
"#;

/// A leftover temporary file named as ours for `target`, last changed `age` ago: what a
/// write killed before its rename leaves.
fn leftover(dir: &Path, target: &str, random: &str, age: Duration) -> std::path::PathBuf {
    let path = dir.join(format!(".{target}.{random}.tmp"));
    let file = File::create(&path).expect("the leftover is created");
    file.set_modified(SystemTime::now() - age)
        .expect("the leftover's time is set");
    path
}

#[test]
fn runs_started_together_each_keep_their_results() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.yaml"), PLAN).unwrap();
    std::fs::create_dir_all(dir.path().join("results")).unwrap();
    let killed = leftover(
        &dir.path().join("results"),
        "run.json",
        "Ab12Cd",
        Duration::from_secs(600),
    );
    // One fixed name for all four: the collision is certain, not a matter of timing.
    let children: Vec<_> = (0..4)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_loadplan"))
                .args(["run", "plan.yaml", "--out", "json=results/run.json"])
                .args(["--label", &format!("run {i}")])
                .current_dir(dir.path())
                .env_remove("LOADPLAN_ENV")
                .env_remove("LOADPLAN_STAGE")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("loadplan starts")
        })
        .collect();
    let mut printed = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        let lines: Vec<_> = stderr
            .lines()
            .filter_map(|l| l.strip_prefix("wrote results: "))
            .map(str::to_owned)
            .collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        printed.extend(lines);
    }
    printed.sort();
    assert_eq!(
        printed,
        [
            "results/run-2.json",
            "results/run-3.json",
            "results/run-4.json",
            "results/run.json"
        ]
    );
    // Each file is the run that printed its name: four distinct labels.
    let mut labels: Vec<String> = printed
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
            let run: serde_json::Value = serde_json::from_str(&text).unwrap();
            run["label"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    labels.sort();
    assert_eq!(labels, ["run 0", "run 1", "run 2", "run 3"]);
    assert!(
        !killed.exists(),
        "the killed write's temporary file is removed"
    );
    let names = std::fs::read_dir(dir.path().join("results"))
        .unwrap()
        .count();
    assert_eq!(names, 4, "nothing but the four results");
}

#[test]
fn a_killed_writes_temporary_file_is_removed_by_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("doc.md");
    std::fs::write(&doc, DOC).unwrap();
    let old = Duration::from_secs(600);
    let killed = leftover(dir.path(), "doc.md", "Ab12Cd", old);
    // Not ours to remove: another file's, a name that is not our pattern, and one just made
    // (its writer may not have locked it yet).
    let others = [
        leftover(dir.path(), "notes.md", "Ab12Cd", old),
        leftover(dir.path(), "doc.md", "not-ours", old),
        leftover(dir.path(), "doc.md", "Fr35hh", Duration::ZERO),
    ];
    let (first, _) = results_files(dir.path());
    let stderr = succeeds(
        dir.path(),
        &[
            "report",
            first.to_str().unwrap(),
            "--append-to",
            "doc.md",
            "--under",
            "## Historical Results",
        ],
    );
    assert!(stderr.contains("row added"), "{stderr}");
    assert!(
        !killed.exists(),
        "the killed write's temporary file is removed"
    );
    for other in &others {
        assert!(other.exists(), "{} is kept", other.display());
    }
    let text = std::fs::read_to_string(&doc).unwrap();
    assert!(
        text.contains("| smoke |") && text.ends_with("|\n\n## After\n"),
        "{text}"
    );
}

/// Another process holds the baselines document's lock when the run ends: loadplan says it
/// waits, and Ctrl-C ends the wait — the results are written, the document is skipped
/// (named, unchanged) and the exit code is 130. Without the signal it would wait as long
/// as the lock is held (here: until the test ends).
#[cfg(unix)]
#[test]
fn a_signal_ends_the_wait_for_a_locked_document() {
    use crate::common::Background;
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("doc.md");
    std::fs::write(&doc, DOC).unwrap();
    // The lock loadplan takes (flock, through std's `File::lock`), held by this process.
    let holder = File::options().read(true).write(true).open(&doc).unwrap();
    holder.lock().unwrap();
    let plan = format!(
        r###"
name: locked
environments: {{ local: {{ mock: true }} }}
stages: {{ quick: {{ vus: 1, duration: 200ms }} }}
scenarios:
  api: {{ steps: [ {{ request: {{ url: "{{{{ env.base_url }}}}/x" }} }} ] }}
outputs:
  - markdown: {{ append_to: "{doc}", under: "## Historical Results" }}
"###,
        doc = doc.display()
    );
    let mut run = Background::start(&plan, dir.path());
    run.wait_for_line("waiting for the lock on");
    run.signal("INT");
    let results = run.results.clone();
    let (status, stderr) = run.wait();
    assert_eq!(status, 130, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "skipped {}: another process holds its lock",
            doc.display()
        )),
        "{stderr}"
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).expect("the results")).unwrap();
    assert_eq!(saved["plan"], "locked");
    drop(holder);
    assert_eq!(std::fs::read_to_string(&doc).unwrap(), DOC);
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["doc.md", "plan.yaml", "results.json"],
        "no temporary file left"
    );
}

/// A plan on the built-in mock (in-process, or at `base_url` when given) whose runs go to
/// `runs/run.json` (`run-2.json`, … once taken) and whose history rows go to `doc.md`.
fn baseline_plan(
    dir: &Path,
    base_url: Option<&str>,
    duration: &str,
    baseline: &str,
    check: &str,
) -> String {
    let environment = base_url.map_or_else(
        || "mock: true".to_owned(),
        |url| format!("base_url: \"{url}\""),
    );
    format!(
        r###"
name: keep-out
environments: {{ local: {{ {environment} }} }}
stages: {{ smoke: {{ vus: 1, duration: {duration} }} }}
scenarios:
  api: {{ steps: [ {{ request: {{ url: "{{{{ env.base_url }}}}/x" }} }}, {{ sleep: 20ms }} ] }}
baseline: {baseline}
thresholds:
  http_reqs: [ "{check}" ]
outputs:
  - json: "{runs}/run.json"
  - markdown: {{ append_to: "{doc}", under: "## Historical Results" }}
"###,
        runs = dir.join("runs").display(),
        doc = dir.join("doc.md").display(),
    )
}

/// Runs the plan `text` (written to `dir/plan.yaml`) to its end; its exit code and stdout.
fn run_to_end(dir: &Path, text: &str) -> (Option<i32>, String) {
    std::fs::write(dir.join("plan.yaml"), text).expect("the plan is written");
    let output = loadplan_in(dir, &["run", "plan.yaml"]);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    (output.status.code(), format!("{stdout}\n{stderr}"))
}

fn read_run(file: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_json::from_str(&text).expect("a results file is JSON")
}

/// The last row of the history table in `doc.md`.
fn last_row(dir: &Path) -> String {
    let doc = std::fs::read_to_string(dir.join("doc.md")).expect("the document is there");
    doc.lines()
        .rfind(|l| l.starts_with("| 20"))
        .unwrap_or_else(|| panic!("no history row in:\n{doc}"))
        .to_owned()
}

/// Ctrl-C ends a run early: its history row says `⚠ Partial` (its one threshold passed),
/// and the next complete run with `baseline: latest` compares itself with the complete
/// run before, not with the interrupted one, and names it.
#[cfg(unix)]
#[test]
fn an_interrupted_run_is_marked_partial_and_never_the_latest_baseline() {
    use crate::common::{Background, get_json, wait_until};
    let (mut mock, base_url) = crate::run::mock_process(&[]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("doc.md"), DOC).unwrap();
    let quick = baseline_plan(dir.path(), Some(&base_url), "300ms", "latest", "count > 0");
    let (status, out) = run_to_end(dir.path(), &quick);
    assert_eq!(status, Some(0), "{out}");
    assert!(
        out.contains("baseline: none, no earlier complete run of this stage and environment"),
        "{out}"
    );
    assert!(last_row(dir.path()).ends_with("| ✅ Pass |"), "{out}");
    let first = dir.path().join("runs/run.json");
    assert_eq!(read_run(&first)["partial"], false);

    // Interrupted once the mock has seen a request of this run: that request's iteration
    // ends in the graceful stop, so its one threshold passes.
    let requests = || get_json(&format!("{base_url}/stats"))["http_requests_total"].as_u64();
    let before = requests().expect("the mock's stats");
    let long = baseline_plan(dir.path(), Some(&base_url), "60s", "latest", "count > 0");
    let run = Background::start(&long, dir.path());
    wait_until("a request of the long run", || {
        requests().is_some_and(|n| n > before)
    });
    run.signal("INT");
    let (status, stderr) = run.wait();
    assert_eq!(status, 130, "{stderr}");
    let interrupted = dir.path().join("runs/run-2.json");
    let saved = read_run(&interrupted);
    assert_eq!(
        (&saved["partial"], &saved["passed"]),
        (&true.into(), &true.into())
    );
    let row = last_row(dir.path());
    assert!(row.ends_with("| ⚠ Partial |"), "{row}");

    let (status, out) = run_to_end(dir.path(), &quick);
    assert_eq!(status, Some(0), "{out}");
    let third = read_run(&dir.path().join("runs/run-3.json"));
    assert_eq!(
        third["baseline_file"],
        first.display().to_string(),
        "the complete run is the baseline, not {}",
        interrupted.display()
    );
    assert!(
        out.contains(&format!(
            "baseline: {} (started {}",
            first.display(),
            read_run(&first)["started"].as_str().unwrap()
        )),
        "{out}"
    );
    assert!(last_row(dir.path()).ends_with("| ✅ Pass |"));
    let _ = mock.kill();
    let _ = mock.wait();
}

/// `baseline: latest_passed` skips a newer complete run whose thresholds failed.
#[test]
fn latest_passed_skips_a_failed_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("doc.md"), DOC).unwrap();
    let passing = baseline_plan(dir.path(), None, "300ms", "latest_passed", "count > 0");
    let (status, out) = run_to_end(dir.path(), &passing);
    assert_eq!(status, Some(0), "{out}");
    assert!(
        out.contains(
            "baseline: none, no earlier complete run of this stage and environment passed"
        ),
        "{out}"
    );
    let failing = baseline_plan(dir.path(), None, "300ms", "latest_passed", "count < 1");
    let (status, out) = run_to_end(dir.path(), &failing);
    assert_ne!(status, Some(0), "{out}");
    let failed = read_run(&dir.path().join("runs/run-2.json"));
    assert_eq!(
        (&failed["partial"], &failed["passed"]),
        (&false.into(), &false.into())
    );
    assert!(last_row(dir.path()).ends_with("| ❌ Fail |"));

    let (status, out) = run_to_end(dir.path(), &passing);
    assert_eq!(status, Some(0), "{out}");
    let first = dir.path().join("runs/run.json");
    let third = read_run(&dir.path().join("runs/run-3.json"));
    assert_eq!(third["baseline_file"], first.display().to_string());
    assert!(
        out.contains(&format!("baseline: {} (started", first.display())),
        "{out}"
    );
}
