//! The CI recipes of docs/ci.md run as written. Each fenced block there that starts with
//! its file name (`# .github/workflows/loadplan.yml`, `# .gitlab-ci.yml`, `# loadtest.yaml`,
//! `<!-- docs/performance-baselines.md -->`) is read; a scratch repository (a bare
//! `origin` and clones of it) gets the plan, with its environments replaced by the
//! built-in mock and its stages shortened, and the document. Then every job, for every
//! combination of its matrix, runs its commands (`run:` steps, `script:` lines) with
//! `sh -ec` in a fresh clone, the matrix values put in (`${{ matrix.env }}`, or the
//! variable `LOADPLAN_ENV`) and `loadplan` on the PATH. Every command must exit 0, the
//! files the CI would publish (JUnit, artifacts) must exist, and the nightly job's commit
//! of the baselines document must reach `origin` with the run's row in it.
//!
//! Left to the runner, and skipped here: checking out (`actions/checkout`; the clone is
//! the checkout), installing loadplan (a step named `Install loadplan`, `before_script`).
//! The commands are taken as written, whatever their flags, so a recipe can move to new
//! ones (`--out junit=…`) without touching this test.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::root;

/// A fenced block of docs/ci.md named by its first line.
fn block(name: &str) -> String {
    let doc = std::fs::read_to_string(root().join("docs/ci.md")).expect("docs/ci.md exists");
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if !line.starts_with("```") || line.len() == 3 {
            continue;
        }
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        let first = body.first().copied().unwrap_or_default();
        if first == format!("# {name}") || first == format!("<!-- {name} -->") {
            return body.join("\n") + "\n";
        }
    }
    panic!("docs/ci.md has no block starting with `# {name}`");
}

/// YAML text as JSON, read by loadplan's own YAML reader.
fn yaml(text: &str) -> Value {
    loadplan::plan::yaml::Document::load(text)
        .unwrap_or_else(|d| panic!("{}\n{text}", d.message))
        .value
}

fn git(dir: &Path, args: &[&str], config: &Path) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", config)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The scratch repository: `origin.git` holding the plan (mocked, short) and the document.
struct Scratch {
    dir: tempfile::TempDir,
    config: PathBuf,
}

/// The URL the GitLab recipe pushes to, with the variables the test gives it; git's
/// `insteadOf` turns it into the scratch `origin`.
const GITLAB_PUSH_URL: &str = "https://oauth2:test-token@gitlab.test/group/app.git";

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let origin = dir.path().join("origin.git");
        let config = dir.path().join("gitconfig");
        std::fs::write(
            &config,
            format!(
                "[init]\n\tdefaultBranch = main\n[user]\n\tname = test\n\temail = test@example.com\n\
                 [url \"{}\"]\n\tinsteadOf = {GITLAB_PUSH_URL}\n",
                origin.display()
            ),
        )
        .expect("git config written");
        git(dir.path(), &["init", "--bare", "-q", "origin.git"], &config);
        let seed = dir.path().join("seed");
        git(dir.path(), &["clone", "-q", "origin.git", "seed"], &config);

        // The plan as the recipes see it, validated as written for every environment and
        // stage, then run against the mock with short stages.
        let text = block("loadtest.yaml");
        let as_written = dir.path().join("as-written.yaml");
        std::fs::write(&as_written, &text).expect("written");
        let mut plan = yaml(&text);
        for (section, short) in [
            ("environments", serde_json::json!({ "mock": true })),
            (
                "stages",
                serde_json::json!({ "vus": 2, "duration": SHORT, "graceful_stop": "5s" }),
            ),
        ] {
            for (name, value) in plan[section].as_object_mut().expect("a mapping") {
                let output = crate::common::loadplan(&[
                    "validate",
                    as_written.to_str().expect("UTF-8"),
                    if section == "stages" {
                        "--stage"
                    } else {
                        "--env"
                    },
                    name,
                ]);
                assert_eq!(output.status, 0, "{section} {name}: {}", output.stderr);
                *value = short.clone();
            }
        }
        // JSON is YAML.
        std::fs::write(
            seed.join("loadtest.yaml"),
            serde_json::to_string_pretty(&plan).expect("JSON"),
        )
        .expect("written");
        std::fs::create_dir_all(seed.join("docs")).expect("docs/");
        std::fs::write(
            seed.join("docs/performance-baselines.md"),
            block("docs/performance-baselines.md"),
        )
        .expect("written");
        git(&seed, &["add", "."], &config);
        git(&seed, &["commit", "-q", "-m", "seed"], &config);
        git(&seed, &["push", "-q", "origin", "main"], &config);
        Self { dir, config }
    }

    /// A fresh clone of `origin`, as a runner checks it out.
    fn checkout(&self, name: &str, detached: bool) -> PathBuf {
        git(
            self.dir.path(),
            &["clone", "-q", "origin.git", name],
            &self.config,
        );
        let dir = self.dir.path().join(name);
        if detached {
            git(&dir, &["checkout", "-q", "--detach"], &self.config);
        }
        dir
    }

    /// Runs one command as a CI shell step does, failing the test on a non-zero exit. A
    /// `--duration D` in it is shortened to the test's stage length, as the plan's stages
    /// are.
    fn sh(&self, dir: &Path, command: &str, vars: &[(String, String)]) {
        let command = &shorten_durations(command);
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_loadplan"));
        let path = format!(
            "{}:{}",
            bin.parent().expect("a directory").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut child = Command::new("sh");
        child
            .args(["-ec", command])
            .current_dir(dir)
            .env("PATH", path)
            .env("GIT_CONFIG_GLOBAL", &self.config)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("LOADPLAN_ENV")
            .env_remove("LOADPLAN_STAGE");
        // Files, not pipes: a chatty command cannot block on a full pipe.
        let out = self.dir.path().join("stdout");
        let err = self.dir.path().join("stderr");
        child
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(std::fs::File::create(&err).expect("stderr file"));
        for (key, value) in vars {
            child.env(key, value);
        }
        let mut child = child.spawn().expect("sh runs");
        let status = crate::common::exit_within_patience(&mut child, command);
        assert!(
            status.success(),
            "`{command}` exited {status}\n{}\n{}",
            std::fs::read_to_string(&out).unwrap_or_default(),
            std::fs::read_to_string(&err).unwrap_or_default()
        );
    }

    /// The baselines document as `origin` has it.
    fn pushed_document(&self) -> String {
        git(
            &self.dir.path().join("origin.git"),
            &["show", "main:docs/performance-baselines.md"],
            &self.config,
        )
    }

    fn pushed_log(&self) -> String {
        git(
            &self.dir.path().join("origin.git"),
            &["log", "--format=%s", "main"],
            &self.config,
        )
    }
}

/// `--duration 30s` (or `--duration=30s`) → `--duration 300ms`: the recipes' load,
/// shortened like the plan's stages.
fn shorten_durations(command: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut next_is_duration = false;
    for word in command.split(' ') {
        if next_is_duration && !word.is_empty() {
            out.push(SHORT.to_owned());
            next_is_duration = false;
        } else if word == "--duration" {
            out.push(word.to_owned());
            next_is_duration = true;
        } else if word.starts_with("--duration=") {
            out.push(format!("--duration={SHORT}"));
        } else {
            out.push(word.to_owned());
        }
    }
    out.join(" ")
}

/// How long each stage of the recipes' plan runs in the test.
const SHORT: &str = "300ms";

#[test]
fn durations_in_commands_are_shortened() {
    assert_eq!(
        shorten_durations("loadplan run p.yaml --vus 5 --duration 30s --stage smoke"),
        "loadplan run p.yaml --vus 5 --duration 300ms --stage smoke"
    );
    assert_eq!(
        shorten_durations("loadplan run p.yaml --duration=2m"),
        "loadplan run p.yaml --duration=300ms"
    );
}

/// Every combination of a matrix (`{env: [a, b]}` → `[[("env", "a")], [("env", "b")]]`).
fn combinations(matrix: &serde_json::Map<String, Value>) -> Vec<Vec<(String, String)>> {
    let mut all = vec![Vec::new()];
    for (key, values) in matrix {
        let values: Vec<String> = match values {
            Value::Array(items) => items.iter().map(scalar).collect(),
            other => vec![scalar(other)],
        };
        all = all
            .into_iter()
            .flat_map(|done| {
                values.iter().map(move |value| {
                    let mut next = done.clone();
                    next.push((key.clone(), value.clone()));
                    next
                })
            })
            .collect();
    }
    all
}

fn scalar(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// Whether some file under `dir` matches `pattern` (`results/*.xml`, `results/`), and
/// the files it matched.
fn matched(dir: &Path, pattern: &str) -> Vec<PathBuf> {
    let (folder, name) = pattern.rsplit_once('/').unwrap_or(("", pattern));
    let Ok(entries) = std::fs::read_dir(dir.join(folder)) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            let file = path
                .file_name()
                .and_then(|f| f.to_str())
                .unwrap_or_default();
            match name.split_once('*') {
                None if name.is_empty() => true,
                None => file == name,
                Some((start, end)) => {
                    file.len() >= start.len() + end.len()
                        && file.starts_with(start)
                        && file.ends_with(end)
                }
            }
        })
        .collect()
}

/// The published files exist, and JUnit files are JUnit.
fn assert_published(dir: &Path, patterns: &[String], junit: &[String], job: &str) {
    for pattern in patterns.iter().chain(junit) {
        let found = matched(dir, pattern);
        assert!(!found.is_empty(), "{job}: nothing matches `{pattern}`");
        if junit.contains(pattern) {
            for file in found {
                let text = std::fs::read_to_string(&file).expect("readable");
                assert!(text.contains("<testsuite"), "{}: {text}", file.display());
            }
        }
    }
}

/// The row the nightly run added is in the document `origin` has, below the table's
/// header, naming the environment.
fn assert_nightly_committed(scratch: &Scratch, env: &str, log_line: &str) {
    let log = scratch.pushed_log();
    assert!(log.lines().any(|l| l == log_line), "{log}");
    let document = scratch.pushed_document();
    let rows: Vec<&str> = document
        .lines()
        .skip_while(|l| !l.starts_with("|---"))
        .skip(1)
        .filter(|l| l.starts_with('|'))
        .collect();
    assert_eq!(rows.len(), 1, "{document}");
    assert!(rows[0].contains(&format!("| {env} |")), "{document}");
}

#[test]
fn github_actions_recipe_runs() {
    let scratch = Scratch::new();
    let workflow = yaml(&block(".github/workflows/loadplan.yml"));
    let jobs = workflow["jobs"].as_object().expect("jobs");
    assert!(jobs.contains_key("smoke") && jobs.contains_key("nightly"));
    let mut ran = 0;
    for (job, spec) in jobs {
        let matrix = spec["strategy"]["matrix"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for combination in combinations(&matrix) {
            let dir = scratch.checkout(&format!("{job}-{ran}"), false);
            let mut published = Vec::new();
            let mut junit = Vec::new();
            for step in spec["steps"].as_array().expect("steps") {
                let name = step["name"].as_str().unwrap_or_default();
                if let Some(action) = step["uses"].as_str() {
                    let with = &step["with"];
                    if let Some(paths) = with["report_paths"].as_str() {
                        junit.push(paths.to_owned());
                    } else if let Some(path) = with["path"].as_str() {
                        published.push(path.to_owned());
                    } else {
                        assert!(action.starts_with("actions/checkout"), "{action}");
                    }
                    continue;
                }
                let Some(run) = step["run"].as_str() else {
                    panic!("{job}: a step with neither `uses` nor `run`: {step}");
                };
                if name == "Install loadplan" {
                    continue;
                }
                let mut command = run.to_owned();
                for (key, value) in &combination {
                    command = command.replace(&format!("${{{{ matrix.{key} }}}}"), value);
                }
                assert!(
                    !command.contains("${{"),
                    "an expression the test cannot fill: {command}"
                );
                scratch.sh(&dir, &command, &[]);
                ran += 1;
            }
            assert_published(&dir, &published, &junit, job);
            if job == "nightly" {
                let env = &combination[0].1;
                assert_nightly_committed(
                    &scratch,
                    env,
                    &format!("baselines: nightly {env} scale run"),
                );
            }
        }
    }
    assert!(ran >= 6, "only {ran} commands ran");
}

#[test]
fn gitlab_ci_recipe_runs() {
    let scratch = Scratch::new();
    let pipeline = yaml(&block(".gitlab-ci.yml"));
    let pipeline = pipeline.as_object().expect("a mapping");
    let mut ran = 0;
    let mut jobs = 0;
    for (job, spec) in pipeline {
        if job.starts_with('.') || spec.get("script").is_none() {
            continue;
        }
        jobs += 1;
        // `extends:` one template, whose keys the job does not set itself.
        let mut spec = spec.as_object().expect("a mapping").clone();
        if let Some(base) = spec.get("extends").and_then(Value::as_str) {
            for (key, value) in pipeline[base].as_object().expect("a template") {
                spec.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        let artifacts = &spec["artifacts"];
        let junit: Vec<String> = artifacts["reports"]["junit"]
            .as_str()
            .map(str::to_owned)
            .into_iter()
            .collect();
        let published: Vec<String> = artifacts["paths"]
            .as_array()
            .map(|paths| paths.iter().map(scalar).collect())
            .unwrap_or_default();
        let matrices = spec["parallel"]["matrix"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![serde_json::json!({})]);
        for matrix in matrices {
            for combination in combinations(matrix.as_object().expect("a mapping")) {
                let dir = scratch.checkout(&format!("{job}-{ran}"), true);
                let mut vars = combination.clone();
                for (key, value) in [
                    ("CI_COMMIT_BRANCH", "main"),
                    ("CI_DEFAULT_BRANCH", "main"),
                    ("CI_SERVER_HOST", "gitlab.test"),
                    ("CI_PROJECT_PATH", "group/app"),
                    ("BASELINES_TOKEN", "test-token"),
                ] {
                    vars.push((key.to_owned(), value.to_owned()));
                }
                for line in spec["script"].as_array().expect("script lines") {
                    let Some(line) = line.as_str() else {
                        panic!(
                            "{job}: a script line that YAML reads as {line}, not a command: quote it"
                        );
                    };
                    scratch.sh(&dir, line, &vars);
                    ran += 1;
                }
                assert_published(&dir, &published, &junit, job);
                if job == "nightly" {
                    let env = &combination[0].1;
                    assert_nightly_committed(
                        &scratch,
                        env,
                        &format!("baselines: nightly {env} scale run [skip ci]"),
                    );
                }
            }
        }
    }
    assert_eq!(jobs, 2);
    assert!(ran >= 6, "only {ran} commands ran");
}
