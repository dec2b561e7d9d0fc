//! `loadplan validate` end to end: exit codes, selection flags, several files, usage errors.

use crate::common::loadplan;

const QUICKSTART: &str = "examples/quickstart.yaml";

#[test]
fn valid_plan_exits_zero() {
    let output = loadplan(&["validate", QUICKSTART]);
    assert_eq!(output.status, 0, "{}", output.stderr);
    assert!(
        output
            .stdout
            .starts_with("examples/quickstart.yaml: valid — "),
        "{}",
        output.stdout
    );
}

#[test]
fn unknown_stage_is_reported_with_a_suggestion() {
    let output = loadplan(&["validate", QUICKSTART, "--stage", "smok"]);
    assert_eq!(output.status, 2);
    assert_eq!(
        output.stderr,
        "examples/quickstart.yaml: error: --stage `smok`: no such stage in the plan
  = help: did you mean `smoke`?
examples/quickstart.yaml: 1 error
"
    );
}

#[test]
fn unknown_env_is_reported_with_the_choices() {
    let output = loadplan(&["validate", QUICKSTART, "--env", "production"]);
    assert_eq!(output.status, 2);
    assert!(
        output.stderr.contains("error: --env `production`: no such environment in the plan\n  = help: environments are `local`"),
        "{}",
        output.stderr
    );
}

#[test]
fn env_and_stage_come_from_the_environment_too() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_loadplan"))
        .args(["validate", QUICKSTART])
        .current_dir(crate::common::root())
        .env("LOADPLAN_STAGE", "nope")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    // The error names what the user wrote: the variable, not a flag they did not give.
    assert!(String::from_utf8_lossy(&output.stderr).contains("LOADPLAN_STAGE `nope`"));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_loadplan"))
        .args(["validate", QUICKSTART, "--stage=nope"])
        .current_dir(crate::common::root())
        .env("LOADPLAN_STAGE", "smoke")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--stage `nope`"));
}

#[test]
fn var_overrides_must_name_a_declared_variable() {
    let output = loadplan(&["validate", QUICKSTART, "--var", "nope=1"]);
    assert_eq!(output.status, 2);
    assert!(
        output
            .stderr
            .contains("--var `nope`: the plan declares no such variable in `vars`"),
        "{}",
        output.stderr
    );
    let output = loadplan(&["validate", QUICKSTART, "--var", "novalue"]);
    assert_eq!(output.status, 2);
    assert!(
        output
            .stderr
            .contains("expected NAME=VALUE, found `novalue`"),
        "{}",
        output.stderr
    );
}

#[test]
fn several_files_report_each_and_count_the_invalid() {
    let output = loadplan(&[
        "validate",
        QUICKSTART,
        "tests/plans/invalid/yaml_syntax.yaml",
        "missing.yaml",
    ]);
    assert_eq!(output.status, 2);
    assert!(output.stdout.contains("examples/quickstart.yaml: valid"));
    assert!(
        output
            .stderr
            .contains("tests/plans/invalid/yaml_syntax.yaml:")
    );
    assert!(
        output
            .stderr
            .contains("missing.yaml: error: cannot read the plan:")
    );
    assert!(
        output.stderr.ends_with("error: 2 of 3 plans are invalid\n"),
        "{}",
        output.stderr
    );
}

/// Issue 14's wall: `LOADPLAN_ENV=inproc loadplan validate a.yaml b.yaml` on plans with no
/// `environments` printed five copies of the `env.base_url` error per plan, before the
/// real one. Now each plan's block starts with the real error, says the derived one once
/// with where else it occurs, ends with its own count, and a blank line parts the plans.
#[test]
fn several_plans_are_reported_per_plan_without_cascades() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let requests: String = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|p| format!("      - request: {{ url: \"{{{{ env.base_url }}}}/{p}\" }}\n"))
        .collect();
    let mut shown = Vec::new();
    for name in ["a", "b"] {
        let path = dir.path().join(format!("{name}.yaml"));
        let plan = format!(
            "name: {name}\nstages:\n  smoke: {{ vus: 1, duration: 1s }}\nscenarios:\n  s:\n    steps:\n{requests}"
        );
        std::fs::write(&path, plan).expect("written");
        shown.push(path.to_str().expect("a UTF-8 path").to_owned());
    }
    let output = crate::common::loadplan_command()
        .arg("validate")
        .args(&shown)
        .env("LOADPLAN_ENV", "inproc")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let block = |plan: &str| {
        format!(
            "{plan}: error: LOADPLAN_ENV `inproc`: no such environment in the plan
  = help: the plan has no `environments`
{plan}:7:29: error: `env.base_url` is used, but the plan has no `environments`
  |
7 |       - request: {{ url: \"{{{{ env.base_url }}}}/a\" }}
  |                             ^^^^^^^^^^^^
  = help: add an environment, like `environments: {{local: {{mock: true}}}}`
  = note: the same error 4 more times: at 8:29, 9:29, 10:29 and 11:29
{plan}: 2 errors
"
        )
    };
    assert_eq!(
        stderr,
        format!(
            "{}\n{}error: 2 of 2 plans are invalid\n",
            block(&shown[0]),
            block(&shown[1])
        )
    );

    // A plan that has environments: the unknown one is the only error, not one per
    // `env.*` its templates use.
    let output = loadplan(&["validate", QUICKSTART, "--env", "inproc"]);
    assert_eq!(
        output.stderr,
        "examples/quickstart.yaml: error: --env `inproc`: no such environment in the plan
  = help: environments are `local`
examples/quickstart.yaml: 1 error
"
    );
}

#[test]
fn several_valid_plans_end_with_a_summary() {
    let output = loadplan(&["validate", QUICKSTART, QUICKSTART]);
    assert_eq!(output.status, 0, "{}", output.stderr);
    assert!(
        output.stdout.ends_with("\nall 2 plans are valid\n"),
        "{}",
        output.stdout
    );
}

#[test]
fn usage_errors_exit_two_and_help_exits_zero() {
    assert_eq!(loadplan(&["validate"]).status, 2);
    assert_eq!(loadplan(&["frobnicate"]).status, 2);
    let help = loadplan(&["--help"]);
    assert_eq!(help.status, 0);
    assert!(help.stdout.contains("Examples:"), "{}", help.stdout);
    assert!(
        help.stdout.contains("99 a threshold failed"),
        "{}",
        help.stdout
    );
    let version = loadplan(&["--version"]);
    assert_eq!(version.status, 0);
    assert!(version.stdout.starts_with("loadplan "));
}

#[test]
fn completions_are_printed() {
    let output = loadplan(&["completions", "bash"]);
    assert_eq!(output.status, 0);
    assert!(output.stdout.contains("loadplan"));
    assert!(output.stdout.contains("validate"));
}

#[test]
fn exit_codes_are_the_documented_ones() {
    use loadplan::exit_code;
    assert_eq!(
        [
            exit_code::OK,
            exit_code::FAILURE,
            exit_code::INVALID,
            exit_code::THRESHOLDS_FAILED,
            exit_code::INTERRUPTED
        ],
        [0, 1, 2, 99, 130]
    );
}

/// The inputs that overflowed the stack (SIGABRT, exit 134) before nesting had a limit,
/// written at test time: each is a located error with exit 2, for `validate` and `run`
/// (the 1,500-deep `json:` body passed `validate` and overflowed a tokio worker in `run`).
#[test]
fn deep_plans_are_located_errors_not_stack_overflows() {
    const HEAD: &str = "name: deep\nstages:\n  smoke: { vus: 1, duration: 1s }\n\
                        scenarios:\n  s:\n    steps:\n      - request:\n          \
                        url: http://127.0.0.1:1/\n          json:";
    let block_map: String = (0..1_500)
        .map(|i| format!("{}a:\n", " ".repeat(12 + i)))
        .collect();
    let cases = [
        (
            "block_sequence",
            format!("{HEAD}\n            {}x\n", "- ".repeat(6_000)),
            10,
        ),
        (
            "complex_keys",
            format!("{HEAD}\n            {}x\n", "? ".repeat(14_000)),
            10,
        ),
        (
            "flow_sequence",
            format!("{HEAD} {}{}\n", "[".repeat(6_000), "]".repeat(6_000)),
            9,
        ),
        (
            "flow_mapping",
            format!("{HEAD} {}1{}\n", "{a: ".repeat(6_000), "}".repeat(6_000)),
            9,
        ),
        (
            "json_body",
            format!("{HEAD}\n{block_map}{}1\n", " ".repeat(1_512)),
            0,
        ),
    ];
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (name, text, line) in cases {
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, text).expect("written");
        let path = path.to_str().expect("a UTF-8 path");
        for command in ["validate", "run"] {
            let output = loadplan(&[command, path]);
            let first = output.stderr.lines().next().unwrap_or_default();
            assert_eq!(output.status, 2, "{name} ({command}): {first}");
            assert!(
                first.starts_with(&format!("{path}:"))
                    && first.ends_with("error: the plan is nested deeper than 128 levels"),
                "{name} ({command}): {first}"
            );
            if line > 0 {
                assert!(first.starts_with(&format!("{path}:{line}:")), "{first}");
            }
        }
    }
}

/// Runs `loadplan ARGS...` like `loadplan`, but kills it and fails after `PATIENCE`, so a read
/// that never ends fails the test instead of hanging it.
fn loadplan_within_patience(args: &[&str]) -> (i32, String) {
    use std::io::Read;
    let mut child = crate::common::loadplan_command()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the loadplan binary runs");
    let what = format!("`loadplan {}`", args.join(" "));
    let status = crate::common::exit_within_patience(&mut child, &what);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut stderr)
        .expect("UTF-8 stderr");
    (status.code().unwrap_or(-1), stderr)
}

/// An endless file (`/dev/zero`) or one past 8 MiB is refused after reading 8 MiB + 1
/// byte, for `validate` and `run`; before the cap both read `/dev/zero` forever.
#[test]
fn plans_larger_than_8_mib_are_refused_without_reading_on() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let comments = dir.path().join("comments.yaml");
    let line = "# a comment that is valid YAML, repeated to 9 MiB\n";
    let text = format!("name: big\n{}", line.repeat((9 << 20) / line.len()));
    std::fs::write(&comments, text).expect("written");
    let comments = comments.to_str().expect("a UTF-8 path");
    for path in ["/dev/zero", comments] {
        for command in ["validate", "run"] {
            let (status, stderr) = loadplan_within_patience(&[command, path]);
            assert_eq!(status, 2, "{command} {path}: {stderr}");
            assert_eq!(
                stderr,
                format!(
                    "{path}: error: the plan is larger than 8 MiB; nothing was read past that\n"
                ),
                "{command} {path}"
            );
        }
    }
}

#[test]
fn plans_that_are_not_utf8_are_refused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("latin1.yaml");
    std::fs::write(&path, b"name: caf\xe9\n").expect("written");
    let path = path.to_str().expect("a UTF-8 path");
    let output = loadplan(&["validate", path]);
    assert_eq!(output.status, 2);
    assert_eq!(
        output.stderr,
        format!("{path}: error: the plan is not UTF-8 text (invalid byte at offset 9)\n")
    );
}

/// 5,000 errors (4,998 unknown top-level keys, `stages` and `scenarios` missing): the
/// first 50 are printed, the rest counted in one line, then the total.
#[test]
fn at_most_50_diagnostics_are_printed_and_the_rest_counted() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("many.yaml");
    let keys: String = (0..4_998).map(|i| format!("bogus{i}: 1\n")).collect();
    std::fs::write(&path, format!("name: many\n{keys}")).expect("written");
    let path = path.to_str().expect("a UTF-8 path");
    for command in ["validate", "run"] {
        let (status, stderr) = loadplan_within_patience(&[command, path]);
        assert_eq!(status, 2, "{command}: {stderr}");
        let printed = stderr
            .lines()
            .filter(|line| line.contains(": error: "))
            .count();
        assert_eq!(printed, 50, "{command}: {stderr}");
        assert!(
            stderr.contains(&format!("\n{path}: … and 4,950 more errors\n")),
            "{command}: {stderr}"
        );
        let last = stderr.lines().last().unwrap_or_default();
        let total = match command {
            "validate" => format!("{path}: 5,000 errors"),
            _ => format!("{path}: the plan is invalid; nothing was run"),
        };
        assert_eq!(last, total, "{command}");
    }
}

/// `loadplan report` reads a results file up to 256 MiB and stops there (the helper with
/// the 20 s guard lives here).
#[test]
fn results_files_larger_than_256_mib_are_refused_without_reading_on() {
    let (status, stderr) = loadplan_within_patience(&["report", "/dev/zero"]);
    assert_eq!(status, 2, "{stderr}");
    assert_eq!(
        stderr,
        "error: /dev/zero: the results file is larger than 256 MiB; nothing was read past that\n"
    );
}

/// The head of a valid plan with one stage, for the generated plans below.
const HOSTILE_HEAD: &str = "name: hostile\nenvironments:\n  local: { mock: true }\n\
                            stages:\n  smoke: { vus: 100000, duration: 1s }\nscenarios:\n";

/// One scenario of the generated plans: a request, with `extra` inside its mapping.
fn hostile_scenario(index: usize, extra: &str) -> String {
    format!(
        "  s{index}:\n    steps:\n      - request: {{ url: \"{{{{ env.base_url }}}}/s{index}\"{extra} }}\n"
    )
}

/// 100,000 unknown top-level keys (2.8 s at 16,000 and no answer at 100,000 before the
/// passes were made linear): every one is counted, the first 50 printed, each at its line.
#[test]
fn a_hundred_thousand_unknown_keys_are_each_counted() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("keys.yaml");
    let mut text = format!("{HOSTILE_HEAD}{}", hostile_scenario(0, ""));
    let first_line = text.lines().count() + 1;
    for i in 0..100_000 {
        text.push_str(&format!("unknown_{i}: {i}\n"));
    }
    std::fs::write(&path, text).expect("written");
    let path = path.to_str().expect("a UTF-8 path");
    let (status, stderr) = loadplan_within_patience(&["validate", path]);
    assert_eq!(status, 2, "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains(": error: "))
        .collect();
    assert_eq!(errors.len(), 50, "{stderr}");
    for (i, line) in errors.iter().enumerate() {
        assert_eq!(
            *line,
            format!(
                "{path}:{}:1: error: unknown field `unknown_{i}`",
                first_line + i
            )
        );
    }
    assert!(
        stderr.contains(&format!("\n{path}: … and 99,950 more errors\n")),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().last().unwrap_or_default(),
        format!("{path}: 100,000 errors")
    );
}

/// 20,000 scenarios (6.9 s before): valid, and counted. Then 10,000 with a misspelt field
/// in every request: 10,000 errors, each found in its scenario. (bench/validate.sh runs
/// 100,000 on a release build; a debug build takes seconds for these.)
#[test]
fn twenty_thousand_scenarios_are_checked() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let scenarios = |count: usize, extra: &str| -> String {
        let body: String = (0..count).map(|i| hostile_scenario(i, extra)).collect();
        format!("{HOSTILE_HEAD}{body}")
    };
    let valid = dir.path().join("valid.yaml");
    std::fs::write(&valid, scenarios(20_000, "")).expect("written");
    let valid = valid.to_str().expect("a UTF-8 path");
    let output = loadplan(&["validate", valid]);
    assert_eq!(output.status, 0, "{}", output.stderr);
    assert_eq!(
        output.stdout,
        format!("{valid}: valid — 1 stage, 20000 scenarios, 0 thresholds\n")
    );

    let misspelt = dir.path().join("misspelt.yaml");
    std::fs::write(&misspelt, scenarios(10_000, ", tiemout: 1s")).expect("written");
    let misspelt = misspelt.to_str().expect("a UTF-8 path");
    let (status, stderr) = loadplan_within_patience(&["validate", misspelt]);
    assert_eq!(status, 2, "{stderr}");
    // Scenario i's request is on line 9 + 3 i; `tiemout` after its URL.
    let first = stderr.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!("{misspelt}:9:50: error: unknown field `tiemout`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("= help: did you mean `timeout`?"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("\n{misspelt}: … and 9,950 more errors\n")),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().last().unwrap_or_default(),
        format!("{misspelt}: 10,000 errors")
    );
}

/// An error at the end of a 1,000,000-character line: the printed line is cut to a window
/// around the problem, and the caret is still under it.
#[test]
fn a_long_line_is_printed_cut_around_the_error() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("long.yaml");
    let url = format!("http://127.0.0.1:1/{}", "a".repeat(1_000_000));
    let text = format!(
        "{HOSTILE_HEAD}  s:\n    steps:\n      - request: {{ url: \"{url}\", tiemout: 1s }}\n"
    );
    std::fs::write(&path, text).expect("written");
    let path = path.to_str().expect("a UTF-8 path");
    let output = loadplan(&["validate", path]);
    assert_eq!(output.status, 2, "{}", output.stderr);
    let lines: Vec<&str> = output.stderr.lines().collect();
    let col = "      - request: { url: \"".len() + url.len() + "\", ".len() + 1;
    assert_eq!(
        lines[0],
        format!("{path}:9:{col}: error: unknown field `tiemout`")
    );
    let shown = lines[2].strip_prefix("9 | ").expect("the source line");
    assert!(shown.starts_with('…'), "{shown}");
    assert!(shown.chars().count() <= 122, "{} characters", shown.len());
    let carets = lines[3].strip_prefix("  | ").expect("the caret line");
    let at = carets.find('^').expect("a caret");
    assert_eq!(&carets[at..], "^^^^^^^");
    let under: String = shown.chars().skip(at).take(7).collect();
    assert_eq!(under, "tiemout");
}

/// The YAML in the help of a foreign shape's error (a k6 `stages:` list, k6 executor
/// options, Artillery `phases`, k6's top-level `vus`/`duration`, k6 threshold objects) is
/// a loadplan plan part that validates: put in place of the foreign one, the plan is valid.
#[test]
fn the_loadplan_shape_shown_for_a_k6_or_artillery_one_validates() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let cases = [
        ("k6_stages_list", "load"),
        ("k6_executor_stages", "ramping"),
        ("k6_top_level_options", "smoke"),
        ("artillery_phases", "load"),
        ("k6_threshold_objects", "smoke"),
        ("k6_scenario_executor", "browse"),
        ("artillery_script", "load"),
    ];
    for (fixture, stage) in cases {
        let file = format!("tests/plans/invalid/{fixture}.yaml");
        let output = loadplan(&["validate", &file]);
        assert_eq!(output.status, 2, "{fixture}");
        let helps = help_blocks(&output.stderr);
        assert!(!helps.is_empty(), "{fixture}: {}", output.stderr);
        // The shown parts, merged under their top-level keys, with a scenario.
        let mut plan = serde_json::Map::new();
        plan.insert("name".into(), fixture.replace('_', "-").into());
        for help in &helps {
            let part: serde_json::Value = yaml_value(help);
            for (key, value) in part.as_object().expect("a mapping") {
                let slot = plan
                    .entry(key.clone())
                    .or_insert_with(|| serde_json::json!({}));
                for (name, item) in value.as_object().expect("a mapping") {
                    slot[name] = item.clone();
                }
            }
        }
        plan.entry("stages".to_owned())
            .or_insert_with(|| serde_json::json!({ "smoke": { "vus": 1, "duration": "1s" } }));
        plan.entry("scenarios".to_owned())
            .or_insert_with(|| serde_json::json!({ "s": { "steps": [ { "sleep": "1s" } ] } }));
        let path = dir.path().join(format!("{fixture}.yaml"));
        // JSON is YAML.
        std::fs::write(&path, serde_json::to_string_pretty(&plan).expect("JSON")).expect("written");
        let path = path.to_str().expect("a UTF-8 path");
        let output = loadplan(&["validate", path, "--stage", stage]);
        assert_eq!(output.status, 0, "{fixture}: {}\n{helps:#?}", output.stderr);
    }
}

/// The YAML of each `= help:` that shows one (its lines after the first, dedented).
fn help_blocks(stderr: &str) -> Vec<String> {
    let lines: Vec<&str> = stderr.lines().collect();
    let mut blocks = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(at) = line.find("= help: ") else {
            continue;
        };
        let column = at + "= help: ".len();
        let block: Vec<&str> = lines[index + 1..]
            .iter()
            .take_while(|l| l.len() > column && l[..column].trim().is_empty())
            .map(|l| &l[column..])
            .collect();
        if !block.is_empty() {
            blocks.push(block.join("\n"));
        }
    }
    blocks
}

/// A YAML document as JSON, read by the plan loader's own YAML reader through
/// `loadplan`'s library.
fn yaml_value(text: &str) -> serde_json::Value {
    loadplan::plan::yaml::Document::load(text)
        .unwrap_or_else(|d| panic!("{text}: {}", d.message))
        .value
}
