//! `loadplan init`: the plans it writes validate and run as written (against the built-in
//! mock, and against a `loadplan mock` process given as `--http`/`--ws`), it never
//! replaces a file, its workflows are docs/ci.md's recipes, and hostile URLs and paths
//! are refused with nothing written.

use std::path::Path;

use serde_json::Value;

use crate::common::{Output, get_json, loadplan_in, root};

fn ok(output: &Output, what: &str) {
    assert_eq!(
        output.status, 0,
        "{what}\n{}\n{}",
        output.stdout, output.stderr
    );
}

/// The count of `metric` in a results JSON.
fn count(results: &Path, metric: &str) -> u64 {
    let text = std::fs::read_to_string(results).expect("the results are written");
    let json: Value = serde_json::from_str(&text).expect("the results are JSON");
    json["metrics"]
        .as_array()
        .and_then(|m| m.iter().find(|f| f["metric"] == metric))
        .and_then(|f| f["count"].as_u64())
        .unwrap_or_else(|| panic!("{metric} in {text}"))
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir)
            .expect("the folder is read")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let relative = path.strip_prefix(base).expect("under the base");
                out.push(relative.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn the_starter_plan_validates_and_runs_against_the_mock() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let output = loadplan_in(dir.path(), &["init"]);
    ok(&output, "init");
    assert!(
        output.stdout.contains("wrote loadplan.yaml"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains(
            "next:\n  loadplan validate loadplan.yaml\n  loadplan run loadplan.yaml --stage smoke"
        ),
        "{}",
        output.stdout
    );
    let plan = std::fs::read_to_string(dir.path().join("loadplan.yaml")).expect("the plan");
    assert!(
        plan.starts_with("# yaml-language-server: $schema=loadplan.schema.json\n"),
        "{plan}"
    );
    // The modeline's schema is written beside the plan, and is loadplan's own.
    let schema = std::fs::read_to_string(dir.path().join("loadplan.schema.json"))
        .expect("the schema beside the plan");
    assert_eq!(schema, loadplan_in(dir.path(), &["schema"]).stdout);
    // Every block is explained.
    for key in [
        "environments:",
        "stages:",
        "scenarios:",
        "thresholds:",
        "outputs:",
    ] {
        let at = plan.find(&format!("\n{key}")).expect(key);
        assert!(
            plan[..at]
                .trim_end()
                .rsplit('\n')
                .next()
                .is_some_and(|l| l.starts_with('#')),
            "{key} has no comment above it"
        );
    }
    ok(
        &loadplan_in(dir.path(), &["validate", "loadplan.yaml"]),
        "validate",
    );
    let results = dir.path().join("smoke.json");
    let out = format!("json={}", results.display());
    let run = loadplan_in(
        dir.path(),
        &[
            "run",
            "loadplan.yaml",
            "--stage",
            "smoke",
            "--duration",
            "2s",
            "--out",
            &out,
        ],
    );
    ok(&run, "run");
    assert!(count(&results, "http_reqs") > 0);
    assert!(run.stdout.contains("✅ Pass"), "{}", run.stdout);
}

/// `--http`/`--ws` with a `loadplan mock` process's URLs: the plan's `target` environment
/// runs against it, and the mock counted what the run says it sent.
#[test]
fn http_and_ws_plans_run_against_their_target() {
    let (mut mock, base_url) = crate::run::mock_process(&[]);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ws_url = format!("{}/ws", base_url.replacen("http://", "ws://", 1));
    let http_url = format!("{base_url}/health");
    ok(
        &loadplan_in(
            dir.path(),
            &["init", "--http", &http_url, "-o", "http.yaml"],
        ),
        "init --http",
    );
    ok(
        &loadplan_in(dir.path(), &["init", "--ws", &ws_url, "-o", "ws.yaml"]),
        "init --ws",
    );
    ok(
        &loadplan_in(dir.path(), &["validate", "http.yaml", "ws.yaml"]),
        "validate",
    );
    let http_plan = std::fs::read_to_string(dir.path().join("http.yaml")).expect("the plan");
    assert!(
        http_plan.contains(&format!("base_url: \"{base_url}\"")),
        "{http_plan}"
    );
    assert!(
        http_plan.contains("url: \"{{ env.base_url }}/health\""),
        "{http_plan}"
    );

    let run = |plan: &str, results: &Path| {
        let out = format!("json={}", results.display());
        let args = [
            "run",
            plan,
            "--env",
            "target",
            "--stage",
            "smoke",
            "--duration",
            "2s",
            "--out",
            &out,
        ];
        ok(&loadplan_in(dir.path(), &args), plan);
    };
    let before = get_json(&format!("{base_url}/stats"));
    let results = dir.path().join("http.json");
    run("http.yaml", &results);
    let after = get_json(&format!("{base_url}/stats"));
    let answered = after["http_requests_total"].as_u64().expect("a count")
        - before["http_requests_total"].as_u64().expect("a count");
    assert!(answered > 0);
    assert_eq!(answered, count(&results, "http_reqs"));

    let results = dir.path().join("ws.json");
    run("ws.yaml", &results);
    let last = get_json(&format!("{base_url}/stats"));
    let received = last["ws_messages_in_total"].as_u64().expect("a count")
        - after["ws_messages_in_total"].as_u64().expect("a count");
    assert!(received > 0);
    assert_eq!(received, count(&results, "ws_msgs_sent"));
    assert_eq!(
        last["ws_connections_total"].as_u64().expect("a count")
            - after["ws_connections_total"].as_u64().expect("a count"),
        count(&results, "ws_connect_time")
    );
    let _ = mock.kill();
    let _ = mock.wait();
}

/// A second init, or one whose workflow exists, exits 2 and writes nothing: the
/// existing file is byte for byte the same and no other file appears.
#[test]
fn init_never_replaces_a_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    ok(&loadplan_in(dir.path(), &["init"]), "init");
    let plan = dir.path().join("loadplan.yaml");
    std::fs::write(&plan, "# mine\n").expect("the plan is edited");
    let before = files(dir.path());
    let again = loadplan_in(dir.path(), &["init", "--ci", "github"]);
    assert_eq!(again.status, 2, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("`loadplan.yaml` exists; `loadplan init` never replaces a file"),
        "{}",
        again.stderr
    );
    assert_eq!(std::fs::read(&plan).expect("the plan"), b"# mine\n");
    assert_eq!(files(dir.path()), before, "nothing else was written");

    // The workflow exists: the new plan is not written either.
    let ci = dir.path().join(".gitlab-ci.yml");
    std::fs::write(&ci, "stages: [mine]\n").expect("a pipeline");
    let before = files(dir.path());
    let refused = loadplan_in(dir.path(), &["init", "-o", "other.yaml", "--ci", "gitlab"]);
    assert_eq!(refused.status, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("`.gitlab-ci.yml` exists"),
        "{}",
        refused.stderr
    );
    assert_eq!(files(dir.path()), before);
    assert_eq!(
        std::fs::read(&ci).expect("the pipeline"),
        b"stages: [mine]\n"
    );
}

/// Hostile URLs and paths: exit 2, a message that says what to do, no file, and a
/// password never repeated.
#[test]
fn bad_urls_and_paths_are_refused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (args, says) in [
        (
            &["init", "--http", "ftp://example.com"][..],
            "`--http` expects a URL starting with http:// or https://",
        ),
        (
            &["init", "--ws", "https://example.com"][..],
            "`--ws` expects a URL starting with ws:// or wss://",
        ),
        (
            &["init", "--http", "example.com"][..],
            "found `example.com`",
        ),
        (
            &["init", "--http", "https://admin:hunter2@api.example.com/x"][..],
            "`--http https://***@api.example.com/x`: the URL carries credentials",
        ),
        (
            &["init", "--ws", "wss://hunter2@example.com/ws"][..],
            "the URL carries credentials",
        ),
        (
            &["init", "-o", "missing/plan.yaml"][..],
            "the folder `missing` does not exist",
        ),
    ] {
        let output = loadplan_in(dir.path(), args);
        assert_eq!(output.status, 2, "{args:?}: {}", output.stderr);
        assert!(output.stderr.contains(says), "{args:?}: {}", output.stderr);
        assert!(!output.stderr.contains("hunter2"), "{}", output.stderr);
        assert!(!output.stdout.contains("hunter2"), "{}", output.stdout);
        assert_eq!(
            files(dir.path()),
            Vec::<String>::new(),
            "{args:?} wrote a file"
        );
    }
    // --http and --ws together: clap's usage error.
    let both = loadplan_in(
        dir.path(),
        &["init", "--http", "http://a", "--ws", "ws://a"],
    );
    assert_eq!(both.status, 2, "{}", both.stderr);
}

/// The workflows are docs/ci.md's recipes for the plan written: each parses, runs the
/// plan by its path, runs the smoke stage in `local` and `target`, and keeps the baselines
/// document that init writes beside them.
#[test]
fn the_workflows_are_the_documented_recipes() {
    for (ci, file, docs_name) in [
        (
            "github",
            ".github/workflows/loadplan.yml",
            ".github/workflows/loadplan.yml",
        ),
        ("gitlab", ".gitlab-ci.yml", ".gitlab-ci.yml"),
    ] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir(dir.path().join("plans")).expect("a folder");
        let output = loadplan_in(
            dir.path(),
            &[
                "init",
                "--http",
                "https://api.example.com",
                "-o",
                "plans/api.yaml",
                "--ci",
                ci,
            ],
        );
        ok(&output, ci);
        let text = std::fs::read_to_string(dir.path().join(file)).expect("the workflow");
        let workflow = loadplan::plan::yaml::Document::load(&text)
            .unwrap_or_else(|d| panic!("{}\n{text}", d.message))
            .value;
        assert!(workflow.is_object(), "{text}");
        let runs: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("loadplan run "))
            .collect();
        assert_eq!(runs.len(), 2, "{text}");
        for line in runs {
            assert!(line.contains("loadplan run plans/api.yaml "), "{line}");
        }
        assert!(text.contains("[local, target]"), "{text}");
        let doc = std::fs::read_to_string(dir.path().join("docs/performance-baselines.md"))
            .expect("the baselines document");
        assert!(doc.starts_with("# api performance baselines\n"), "{doc}");
        assert!(doc.contains("\n## Nightly Results\n"), "{doc}");
        // Rendered for docs/ci.md's plan and environments, it is that page's block.
        let smoke = "[local, staging]";
        let rendered = loadplan::init::workflow(
            if ci == "github" {
                loadplan::init::Ci::Github
            } else {
                loadplan::init::Ci::Gitlab
            },
            "loadtest.yaml",
            smoke,
            "[staging]",
        );
        assert_eq!(
            rendered,
            docs_block(docs_name),
            "docs/ci.md and src/init/ differ"
        );
    }
}

/// The fenced block of docs/ci.md whose first line is `# NAME`.
fn docs_block(name: &str) -> String {
    let doc = std::fs::read_to_string(root().join("docs/ci.md")).expect("docs/ci.md");
    let start = doc
        .find(&format!("```yaml\n# {name}\n"))
        .unwrap_or_else(|| panic!("a `# {name}` block"))
        + "```yaml\n".len();
    let end = start + doc[start..].find("```").expect("the block ends");
    doc[start..end].to_owned()
}
