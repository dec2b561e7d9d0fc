//! Outputs as CI meets them: `--out KIND=FILE`, every output checked before the load (a
//! run that could not write its outputs sends nothing: the mock's `/stats` count stays 0),
//! paths relative to the plan file, `under`/`section` rendered per stage, and the exit code
//! when a threshold and an output both failed. Each drives the real binary.

use std::path::Path;
use std::process::Child;

use crate::common::{loadplan_command, mock_requests, root};

/// A `loadplan mock` process on a free port, stopped (by its pid) when dropped.
struct Mock {
    child: Child,
    base_url: String,
}

impl Mock {
    fn start() -> Self {
        let (child, base_url) = crate::run::mock_process(&[]);
        Self { child, base_url }
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one run of the binary returned: exit code, stdout, stderr.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `loadplan ARGS` with `cwd` as its working directory.
fn loadplan_at(cwd: &Path, args: &[&str]) -> Ran {
    let output = loadplan_command()
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("loadplan runs");
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The history table of the built-in row (seven columns).
const TABLE: &str = "| Date | Environment | Mode | Connections | p95 Conn Time | p95 Broadcast | Pass/Fail |\n|---|---|---|---|---|---|---|\n";

/// A plan sending requests to `base_url` for `duration`, with `http_reqs` judged by
/// `check`, and these `outputs` (YAML lines, indented by two).
fn plan(base_url: &str, duration: &str, check: &str, outputs: &str) -> String {
    format!(
        r#"name: outs
environments: {{ local: {{ base_url: "{base_url}" }} }}
stages:
  smoke: {{ vus: 1, duration: {duration} }}
  scale: {{ vus: 1, duration: {duration} }}
scenarios:
  api: {{ steps: [ {{ request: {{ url: "{{{{ env.base_url }}}}/x" }} }}, {{ sleep: 20ms }} ] }}
thresholds:
  http_reqs: [ "{check}" ]
outputs:
{outputs}"#
    )
}

/// A heading that is not in the document: `run` stops before sending anything, with the
/// place in the plan, the heading it looked for and the one it probably meant (exit 2, as
/// an invalid plan); `validate` says the same. Before, the run took its whole stage and
/// then failed with exit 1.
#[test]
fn a_heading_not_in_the_document_costs_no_load() {
    let mock = Mock::start();
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        dir.path().join("doc.md"),
        format!("# Doc\n\n## Historical Results\n\n{TABLE}"),
    )
    .expect("the document is written");
    let text = plan(
        &mock.base_url,
        "30s",
        "count > 0",
        "  - json: results/run.json\n  - markdown: { append_to: doc.md, under: \"## Historic Results\" }\n",
    );
    std::fs::write(dir.path().join("plan.yaml"), text).expect("the plan is written");
    let ran = loadplan_at(dir.path(), &["run", "plan.yaml"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains(
            "plan.yaml:12:43: error: doc.md: the heading `## Historic Results` is not in the document"
        ),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("help: did you mean `## Historical Results`?"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("nothing was run"), "{}", ran.stderr);
    assert_eq!(mock_requests(&mock.base_url), 0, "nothing was sent");
    assert!(!dir.path().join("results").exists(), "nothing was written");

    let validated = loadplan_at(dir.path(), &["validate", "plan.yaml"]);
    assert_eq!(validated.code, Some(2), "{}", validated.stderr);
    assert!(
        validated
            .stderr
            .contains("plan.yaml:12:43: error: doc.md: the heading `## Historic Results`"),
        "{}",
        validated.stderr
    );
}

/// Every output that cannot be written is found at once, each where the plan says it: a
/// row template that is not there, a document that is not there, a results folder that
/// is a file, a section whose end marker is missing, and a `--out` folder in the same
/// state. Nothing is sent.
#[test]
fn every_unusable_output_is_located_before_the_load() {
    let mock = Mock::start();
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        dir.path().join("doc.md"),
        format!("# Doc\n\n## Historical Results\n\n{TABLE}\n<!-- loadplan:begin latest -->\n"),
    )
    .expect("the document is written");
    std::fs::write(dir.path().join("taken"), "a file, not a folder").expect("written");
    let outputs = "  - json: taken/run.json
  - markdown: { append_to: doc.md, under: \"## Historical Results\", row_template: missing.md.j2 }
  - markdown: { append_to: nowhere.md, under: \"## Historical Results\" }
  - markdown: { append_to: doc.md, section: latest }
";
    let text = plan(&mock.base_url, "30s", "count > 0", outputs);
    std::fs::write(dir.path().join("plan.yaml"), text).expect("the plan is written");
    let ran = loadplan_at(
        dir.path(),
        &["run", "plan.yaml", "--out", "junit=taken/junit.xml"],
    );
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    for expected in [
        "error: cannot create taken: a file is in the way",
        "plan.yaml:11:11: error: cannot create taken: a file is in the way",
        "plan.yaml:12:82: error: cannot read the template missing.md.j2: No such file",
        "plan.yaml:13:28: error: cannot open nowhere.md: No such file",
        "help: `append_to` writes into an existing document",
        "plan.yaml:14:45: error: doc.md: `<!-- loadplan:begin latest -->` has no `<!-- loadplan:end latest -->`",
    ] {
        assert!(
            ran.stderr.contains(expected),
            "no `{expected}` in:\n{}",
            ran.stderr
        );
    }
    let lines: Vec<&str> = ran.stderr.lines().collect();
    let first = |needle: &str| lines.iter().position(|l| l.contains(needle));
    assert!(
        first("error: cannot create taken") < first("plan.yaml:11:")
            && first("plan.yaml:11:") < first("plan.yaml:12:"),
        "the command line's first, then in the plan's order:\n{}",
        ran.stderr
    );
    assert_eq!(mock_requests(&mock.base_url), 0, "nothing was sent");
}

/// `--out` writes each kind (json, csv, junit, markdown) besides the plan's outputs, at
/// paths from the current directory; an unknown kind is refused with the list of kinds
/// and the one probably meant.
#[test]
fn out_writes_every_kind_and_names_them_when_one_is_unknown() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plan_dir = dir.path().join("plans");
    std::fs::create_dir(&plan_dir).expect("a folder for the plan");
    let text = "name: outs
environments: { local: { mock: true } }
stages: { smoke: { vus: 1, duration: 200ms } }
scenarios:
  api: { steps: [ { request: { url: \"{{ env.base_url }}/x\" } }, { sleep: 20ms } ] }
";
    std::fs::write(plan_dir.join("plan.yaml"), text).expect("the plan is written");
    let ran = loadplan_at(
        dir.path(),
        &[
            "run",
            "plans/plan.yaml",
            "--quiet",
            "--out",
            "json=out/run.json",
            "--out",
            "csv=out/history.csv",
            "--out",
            "junit=out/junit.xml",
            "--out",
            "markdown=out/report.md",
        ],
    );
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let out = dir.path().join("out");
    let json = std::fs::read_to_string(out.join("run.json")).expect("the results");
    assert!(json.contains("\"plan\": \"outs\""), "{json}");
    let csv = std::fs::read_to_string(out.join("history.csv")).expect("the history");
    assert_eq!(csv.lines().count(), 2, "a header and a row:\n{csv}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).expect("the JUnit XML");
    assert!(junit.contains("<testsuites"), "{junit}");
    let report = std::fs::read_to_string(out.join("report.md")).expect("the report");
    assert!(report.contains("outs"), "{report}");
    assert!(
        !plan_dir.join("out").exists(),
        "--out is from the current directory"
    );

    for (out, expected) in [
        (
            "xml=a.xml",
            "unknown output kind `xml`: expected json, csv, junit, markdown, html or prometheus",
        ),
        (
            "jsno=a.json",
            "unknown output kind `jsno` (did you mean `json`?): expected json, csv, junit, markdown, html or prometheus",
        ),
        ("a.json", "expected KIND=FILE"),
        ("csv=", "`csv=` names no file"),
    ] {
        let ran = loadplan_at(dir.path(), &["run", "plans/plan.yaml", "--out", out]);
        assert_eq!(ran.code, Some(2), "{out}: {}", ran.stderr);
        assert!(ran.stderr.contains(expected), "{out}: {}", ran.stderr);
    }
    let help = loadplan_at(dir.path(), &["run", "--help"]);
    for kind in [
        "json=FILE",
        "csv=FILE",
        "junit=FILE",
        "markdown=FILE",
        "html=FILE",
    ] {
        assert!(help.stdout.contains(kind), "{kind} in:\n{}", help.stdout);
    }
}

/// The plan's paths (its template, its document, its results) are relative to the plan
/// file, whatever the working directory; a shipped plan validates from elsewhere, its
/// row template found.
#[test]
fn plan_paths_are_relative_to_the_plan_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let team = dir.path().join("team");
    let plans = team.join("load").join("plans");
    std::fs::create_dir_all(plans.join("templates")).expect("the folders");
    std::fs::write(
        team.join("baselines.md"),
        format!("# Baselines\n\n## Historical Results\n\n{TABLE}"),
    )
    .expect("the document");
    std::fs::write(
        plans.join("templates").join("row.md.j2"),
        "| {{ run.started }} | {{ run.env }} | {{ run.stage }} | x | x | x | ours |",
    )
    .expect("the row template");
    let text = "name: relative
environments: { local: { mock: true } }
stages: { smoke: { vus: 1, duration: 200ms } }
scenarios:
  api: { steps: [ { request: { url: \"{{ env.base_url }}/x\" } }, { sleep: 20ms } ] }
outputs:
  - json: \"../results/{{ stage }}.json\"
  - markdown: { append_to: ../../baselines.md, under: \"## Historical Results\", row_template: templates/row.md.j2 }
";
    let plan = plans.join("plan.yaml");
    std::fs::write(&plan, text).expect("the plan");
    let elsewhere = tempfile::tempdir().expect("another directory");
    let plan_arg = plan.display().to_string();
    let ran = loadplan_at(elsewhere.path(), &["run", &plan_arg]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(
        team.join("load")
            .join("results")
            .join("smoke.json")
            .is_file(),
        "{}",
        ran.stderr
    );
    let doc = std::fs::read_to_string(team.join("baselines.md")).expect("the document");
    assert!(
        doc.contains("| local | smoke | x | x | x | ours |"),
        "{doc}"
    );
    assert_eq!(
        std::fs::read_dir(elsewhere.path()).expect("listed").count(),
        0,
        "nothing written in the working directory"
    );
    // From a folder of its own (`cd plans && loadplan run plan.yaml`) it is the same.
    let ran = loadplan_at(&plans, &["validate", "plan.yaml"]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);

    // `--workdir` chooses another folder for the plan's paths (here one with its own
    // document and template folder).
    let other = tempfile::tempdir().expect("a work folder");
    std::fs::create_dir_all(other.path().join("templates")).expect("its folders");
    std::fs::copy(
        plans.join("templates").join("row.md.j2"),
        other.path().join("templates").join("row.md.j2"),
    )
    .expect("the template copied");
    let ran = loadplan_at(
        elsewhere.path(),
        &[
            "validate",
            &plan_arg,
            "--workdir",
            &other.path().display().to_string(),
        ],
    );
    assert_eq!(
        ran.code,
        Some(2),
        "its document is not there: {}",
        ran.stderr
    );
    assert!(ran.stderr.contains("cannot open"), "{}", ran.stderr);
    let deeper = other.path().join("a").join("b");
    std::fs::create_dir_all(deeper.join("templates")).expect("the folders");
    std::fs::copy(
        plans.join("templates").join("row.md.j2"),
        deeper.join("templates").join("row.md.j2"),
    )
    .expect("the template copied");
    std::fs::write(
        other.path().join("baselines.md"),
        format!("## Historical Results\n\n{TABLE}"),
    )
    .expect("its document");
    let ran = loadplan_at(
        elsewhere.path(),
        &[
            "run",
            &plan_arg,
            "--quiet",
            "--workdir",
            &deeper.display().to_string(),
        ],
    );
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(other.path().join("a/results/smoke.json").is_file());
    let doc = std::fs::read_to_string(other.path().join("baselines.md")).expect("its document");
    assert!(
        doc.contains("| local | smoke | x | x | x | ours |"),
        "{doc}"
    );

    let shipped = root().join("plans").join("websocket-performance.yaml");
    let ran = loadplan_at(
        elsewhere.path(),
        &["validate", &shipped.display().to_string()],
    );
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
}

/// `under` and `section` are rendered like the paths: two stages of one plan each fill
/// their own block under their own heading, and a stage whose heading the document lacks
/// is refused with the heading as rendered.
#[test]
fn each_stage_fills_its_own_block() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let doc = dir.path().join("doc.md");
    std::fs::write(
        &doc,
        "# Results\n\n### Smoke Test Results\n\nThe 5-VU check.\n\n### Scale Test Results\n\nThe ramp.\n\n## Notes\n",
    )
    .expect("the document");
    let text = "name: staged
environments: { local: { mock: true } }
stages:
  smoke: { vus: 1, duration: 200ms }
  scale: { vus: 2, duration: 200ms }
  stress: { vus: 3, duration: 200ms }
scenarios:
  api: { steps: [ { request: { url: \"{{ env.base_url }}/x\" } }, { sleep: 20ms } ] }
outputs:
  - markdown:
      append_to: doc.md
      under: \"### {{ stage | title }} Test Results\"
      section: \"latest-{{ stage }}\"
";
    std::fs::write(dir.path().join("plan.yaml"), text).expect("the plan");
    for stage in ["smoke", "scale", "smoke"] {
        let ran = loadplan_at(
            dir.path(),
            &["run", "plan.yaml", "--stage", stage, "--quiet"],
        );
        assert_eq!(ran.code, Some(0), "{stage}: {}", ran.stderr);
    }
    let text = std::fs::read_to_string(&doc).expect("the document");
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{text}"))
    };
    let order = [
        at("### Smoke Test Results"),
        at("<!-- loadplan:begin latest-smoke -->"),
        at("<!-- loadplan:end latest-smoke -->"),
        at("### Scale Test Results"),
        at("<!-- loadplan:begin latest-scale -->"),
        at("<!-- loadplan:end latest-scale -->"),
        at("## Notes"),
    ];
    assert!(order.is_sorted(), "each block under its heading:\n{text}");
    assert_eq!(
        text.matches("<!-- loadplan:begin").count(),
        2,
        "the second smoke run replaced its own block:\n{text}"
    );
    let ran = loadplan_at(dir.path(), &["validate", "plan.yaml", "--stage", "stress"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains(
            "error: doc.md: the heading `### Stress Test Results` is not in the document"
        ),
        "{}",
        ran.stderr
    );
}

/// A failed threshold is exit 99 even when an output also failed after the load (here a
/// row template whose row has fewer cells than the table); the output's error is printed
/// and the other outputs are written. With the thresholds passed, the same output error
/// is exit 1.
#[test]
fn a_failed_threshold_is_99_even_when_an_output_failed() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        dir.path().join("doc.md"),
        format!("# Doc\n\n## Historical Results\n\n{TABLE}"),
    )
    .expect("the document");
    std::fs::write(dir.path().join("short.md.j2"), "| {{ run.stage }} |").expect("template");
    for (check, code) in [("count < 0", 99), ("count > 0", 1)] {
        let text = format!(
            "name: both
environments: {{ local: {{ mock: true }} }}
stages: {{ smoke: {{ vus: 1, duration: 200ms }} }}
scenarios:
  api: {{ steps: [ {{ request: {{ url: \"{{{{ env.base_url }}}}/x\" }} }}, {{ sleep: 20ms }} ] }}
thresholds:
  http_reqs: [ \"{check}\" ]
outputs:
  - markdown: {{ append_to: doc.md, under: \"## Historical Results\", row_template: short.md.j2 }}
  - json: results/{code}.json
"
        );
        std::fs::write(dir.path().join("plan.yaml"), text).expect("the plan");
        let ran = loadplan_at(dir.path(), &["run", "plan.yaml"]);
        assert_eq!(ran.code, Some(code), "{check}: {}", ran.stderr);
        assert!(
            ran.stderr.contains(
                "the table under `## Historical Results` has 7 columns but the row has 1"
            ),
            "{check}: {}",
            ran.stderr
        );
        assert!(
            dir.path().join(format!("results/{code}.json")).is_file(),
            "{check}: the results are written:\n{}",
            ran.stderr
        );
    }
}

/// A `collect:` process's `pid_file` is a path of the plan too: found beside the plan
/// file when loadplan runs elsewhere, and every sample reads the process.
#[test]
fn a_pid_file_is_relative_to_the_plan_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plans = dir.path().join("plans");
    std::fs::create_dir(&plans).expect("a folder for the plan");
    // This test's own process: alive for as long as the run.
    std::fs::write(plans.join("app.pid"), format!("{}\n", std::process::id()))
        .expect("the pid file");
    let text = "name: pidfile
environments: { local: { mock: true } }
stages: { smoke: { vus: 1, duration: 500ms } }
scenarios:
  api: { steps: [ { request: { url: \"{{ env.base_url }}/x\" } }, { sleep: 20ms } ] }
collect:
  - process: { name: app, pid_file: app.pid, every: 100ms }
outputs:
  - json: run.json
";
    std::fs::write(plans.join("plan.yaml"), text).expect("the plan");
    let ran = loadplan_at(dir.path(), &["run", "plans/plan.yaml", "--quiet"]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let document =
        loadplan::report::json::RunDocument::load(&plans.join("run.json")).expect("the results");
    let results = document.results().expect("the results decode");
    let app = &results.sources["app"];
    assert!(app.samples > 0, "{app:?}");
    assert_eq!(app.failed, 0, "{app:?}");
}
