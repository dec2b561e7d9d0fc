//! `loadplan k8s`: the manifests of a shipped plan pass `kubernetes-validate --strict`
//! (offline, against the schemas it ships) and say what the issue asks — N indexed
//! segments, no retry, the missed-start exit code failing the Job, secrets by reference.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::common::loadplan_command;

/// The Kubernetes version the manifests are checked against: `backoffLimitPerIndex` is
/// beta and on by default from 1.29, `podFailurePolicy` from 1.26.
const KUBERNETES: &str = "1.30.0";

/// A secret's value the manifests must never hold.
const TOKEN: &str = "s3cr3t-token-that-must-not-leak";

/// `kubernetes-validate` on PATH, or where `pip install --user` puts it (what `.ci/run`
/// does when it is missing).
fn validator() -> PathBuf {
    let on_path = Command::new("kubernetes-validate")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if on_path {
        return PathBuf::from("kubernetes-validate");
    }
    let user_base = Command::new("python3")
        .args(["-m", "site", "--user-base"])
        .output()
        .ok()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .filter(|base| !base.is_empty());
    if let Some(found) = user_base
        .map(|base| PathBuf::from(base).join("bin/kubernetes-validate"))
        .filter(|path| path.is_file())
    {
        return found;
    }
    panic!(
        "kubernetes-validate is not installed: run .ci/run (it installs it with \
         `python3 -m pip install --user kubernetes-validate`), or install it so"
    );
}

/// `loadplan k8s ARGS` with `env` set; its stdout, after asserting exit 0.
fn manifests(args: &[&str], env: &[(&str, &str)]) -> String {
    let output = loadplan_command()
        .arg("k8s")
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("the loadplan binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        output.status.code(),
        Some(0),
        "loadplan k8s {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Each `---` document of the stream, as JSON.
fn documents(text: &str) -> Vec<Value> {
    assert!(text.starts_with("---\n"), "{text}");
    text.split("---\n")
        .skip(1)
        .map(|document| {
            loadplan::plan::yaml::Document::load(document)
                .unwrap_or_else(|error| panic!("not one YAML mapping: {error:?}\n{document}"))
                .value
        })
        .collect()
}

fn validate(text: &str) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("manifests.yaml");
    std::fs::write(&file, text).expect("the manifests are written");
    let output = Command::new(validator())
        .args(["--strict", "-k", KUBERNETES])
        .arg(&file)
        .output()
        .expect("kubernetes-validate runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "kubernetes-validate --strict -k {KUBERNETES} rejected the manifests:\n{said}\n{text}"
    );
    assert_eq!(said.matches("passed for resource").count(), 3, "{said}");
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

#[test]
fn manifests_for_a_shipped_plan_pass_strict_validation_and_say_what_they_must() {
    let plan = "plans/websocket-performance.yaml";
    for n in [1u32, 6] {
        let count = n.to_string();
        let text = manifests(
            &[
                plan,
                "--segments",
                &count,
                "--image",
                "ghcr.io/acme/loadplan:0.1.0",
                "--barrier-timeout",
                "20m",
            ],
            &[("AUTH_TOKEN", TOKEN), ("VUS", "60")],
        );
        validate(&text);
        assert!(
            !text.contains(TOKEN),
            "a secret's value is in the manifests"
        );
        let [config_map, job, merge] = documents(&text)
            .try_into()
            .unwrap_or_else(|found: Vec<Value>| panic!("{} documents, not 3", found.len()));

        assert_eq!(config_map["kind"], "ConfigMap");
        let source = std::fs::read_to_string(crate::common::root().join(plan))
            .expect("the plan is readable");
        assert_eq!(
            config_map["data"]["websocket-performance.yaml"], source,
            "the ConfigMap holds the plan file exactly"
        );
        // Its data file too, mounted at the path the plan names beside it.
        let users = std::fs::read_to_string(crate::common::root().join("plans/data/users.csv"))
            .expect("the data file is readable");
        assert_eq!(config_map["data"]["data-0"], users);

        assert_eq!(job["kind"], "Job");
        assert_eq!(job["metadata"]["name"], "websocket-performance");
        let spec = &job["spec"];
        assert_eq!(spec["completionMode"], "Indexed");
        assert_eq!(spec["completions"], n);
        assert_eq!(spec["parallelism"], n);
        assert_eq!(spec["backoffLimitPerIndex"], 0);
        assert_eq!(spec["maxFailedIndexes"], 0);
        let rules = spec["podFailurePolicy"]["rules"]
            .as_array()
            .expect("podFailurePolicy has rules");
        assert!(
            rules.iter().any(|rule| rule["action"] == "FailJob"
                && rule["onExitCodes"]["operator"] == "In"
                && rule["onExitCodes"]["values"] == serde_json::json!([3])),
            "no rule fails the Job on exit code 3: {rules:?}"
        );
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        let container = &pod["containers"][0];
        assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
        let args = strings(&container["args"]).join(" ");
        assert!(
            args.starts_with(&format!(
                "run /plan/websocket-performance.yaml --segment auto/{n} --env local --stage smoke"
            )),
            "{args}"
        );
        assert!(args.contains(
            "--barrier dir:/results/websocket-performance/barrier --barrier-timeout 20m"
        ));
        assert!(args.ends_with(
            "--out json=/results/websocket-performance/segment-$(JOB_COMPLETION_INDEX).json"
        ));
        let env = container["env"].as_array().expect("the container has env");
        assert_eq!(
            env.iter()
                .filter(|var| var["valueFrom"]["secretKeyRef"]
                    == serde_json::json!({ "name": "websocket-performance-secrets", "key": "AUTH_TOKEN" }))
                .count(),
            1,
            "AUTH_TOKEN comes from the Secret: {env:?}"
        );
        assert!(
            env.contains(&serde_json::json!({ "name": "VUS", "value": "60" })),
            "the from_env variable read here is given to the pods: {env:?}"
        );
        assert_eq!(
            pod["volumes"][1]["persistentVolumeClaim"]["claimName"],
            "loadplan-results"
        );
        assert_eq!(
            pod["volumes"][0]["configMap"]["items"][1],
            serde_json::json!({ "key": "data-0", "path": "data/users.csv" })
        );

        assert_eq!(merge["metadata"]["name"], "websocket-performance-merge");
        let merge_pod = &merge["spec"]["template"]["spec"];
        let merge_args = strings(&merge_pod["containers"][0]["args"]);
        let files: Vec<String> = (0..n)
            .map(|i| format!("/results/websocket-performance/segment-{i}.json"))
            .collect();
        assert_eq!(merge_args[0], "merge");
        assert_eq!(merge_args[1..=files.len()], files);
        assert!(
            merge_args
                .join(" ")
                .contains("--plan /results/websocket-performance/websocket-performance.yaml")
        );
        assert!(
            merge_pod["initContainers"][0]["command"][2]
                .as_str()
                .is_some_and(|script| script.contains(&format!("n={n};"))),
            "the merge waits for {n} results"
        );
    }
}

#[test]
fn a_start_instant_a_namespace_and_names_given_are_used() {
    let text = manifests(
        &[
            "examples/quickstart.yaml",
            "--segments",
            "3",
            "--image",
            "loadplan:dev",
            "--start-at",
            "2030-01-02T03:04:05Z",
            "--namespace",
            "load",
            "--name",
            "nightly-1",
            "--secret",
            "tokens",
            "--results-claim",
            "shared-results",
            "--stage",
            "smoke",
            "--var",
            "payload_bytes=1024",
        ],
        &[],
    );
    validate(&text);
    let [config_map, job, merge] = documents(&text)
        .try_into()
        .unwrap_or_else(|found: Vec<Value>| panic!("{} documents, not 3", found.len()));
    for object in [&config_map, &job, &merge] {
        assert_eq!(object["metadata"]["namespace"], "load");
        assert_eq!(
            object["metadata"]["labels"]["app.kubernetes.io/instance"],
            "nightly-1"
        );
    }
    assert_eq!(config_map["metadata"]["name"], "nightly-1-plan");
    assert_eq!(merge["metadata"]["name"], "nightly-1-merge");
    let args = strings(&job["spec"]["template"]["spec"]["containers"][0]["args"]).join(" ");
    assert!(args.contains("--start-at 2030-01-02T03:04:05Z"), "{args}");
    assert!(args.contains("--var payload_bytes=1024"), "{args}");
    assert!(!args.contains("--barrier"), "{args}");
    assert!(text.contains("claimName: shared-results"));
}

#[test]
fn a_broken_plan_is_located_errors_and_exit_2_not_a_manifest() {
    let output = loadplan_command()
        .args([
            "k8s",
            "tests/plans/invalid/arrival_zero_rate.yaml",
            "--segments",
            "2",
            "--image",
            "loadplan:dev",
        ])
        .output()
        .expect("the loadplan binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(output.stdout.is_empty(), "a manifest was printed");
    assert!(
        stderr.starts_with("tests/plans/invalid/arrival_zero_rate.yaml:3:3: error:"),
        "{stderr}"
    );
}

#[test]
fn bad_arguments_are_refused_with_exit_2() {
    let cases: [(&[&str], &str); 7] = [
        (&["--segments", "0"], "--segments"),
        (
            &["--segments", "2", "--name", "Not_A_Label"],
            "DNS-1123 label",
        ),
        (&["--segments", "2", "--secret=-x"], "DNS-1123 subdomain"),
        (&["--segments", "2", "--start-at", "tomorrow"], "RFC 3339"),
        (
            &[
                "--segments",
                "2",
                "--start-at",
                "2030-01-01T00:00:00Z",
                "--barrier-timeout",
                "1m",
            ],
            "cannot be used with",
        ),
        (&["--segments", "2", "--stage", "nope"], "nope"),
        (&["--segments", "2", "--image"], "--image"),
    ];
    for (args, said) in cases {
        let mut full = vec!["k8s", "examples/quickstart.yaml"];
        full.extend(args);
        if !args.contains(&"--image") {
            full.extend(["--image", "loadplan:dev"]);
        }
        let output = crate::common::loadplan(&full);
        assert_eq!(output.status, 2, "{full:?}: {}", output.stderr);
        assert!(output.stdout.is_empty(), "{full:?} printed a manifest");
        assert!(output.stderr.contains(said), "{full:?}: {}", output.stderr);
    }
    let missing = crate::common::loadplan(&[
        "k8s",
        "no/such/plan.yaml",
        "--segments",
        "2",
        "--image",
        "x",
    ]);
    assert_eq!(missing.status, 2, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("no/such/plan.yaml"),
        "{}",
        missing.stderr
    );
}

/// The manifests as a YAML 1.1 reader (PyYAML, which kubernetes-validate runs on; go-yaml
/// in Kubernetes reads 1.1 too) sees them, as JSON.
fn read_as_yaml_1_1(text: &str) -> Vec<Value> {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps(list(yaml.safe_load_all(sys.stdin))))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (kubernetes-validate needs it too)");
    std::io::Write::write_all(
        &mut child.stdin.take().expect("python3's stdin"),
        text.as_bytes(),
    )
    .expect("the manifests are given to python3");
    let output = child.wait_with_output().expect("python3 finishes");
    assert!(
        output.status.success(),
        "PyYAML (installed with kubernetes-validate by .ci/run) could not read the manifests: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("python3 printed JSON")
}

#[test]
fn strings_yaml_1_1_would_misread_reach_kubernetes_as_written() {
    // A plan whose name, selection and text hold what YAML 1.1 reads as booleans, numbers,
    // comments or mapping keys, and `$(…)` that Kubernetes would expand.
    let plan = "# yes: a comment line\n\
        name: \"on\"\n\
        description: |\n  \
          yes\n  \
          1.0 : x # not a comment\n\n  \
          $(AUTH_TOKEN) and $$ stay\n\
        secrets: [TOKEN_ON]\n\
        environments:\n  \
          \"no\": { mock: true }\n\
        vars:\n  \
          word: { default: \"off\", from_env: LOADPLAN_K8S_WORD }\n  \
          other: \"x\"\n\
        stages:\n  \
          \"1.0\": { vus: 1, duration: 1s }\n\
        scenarios:\n  \
          s:\n    \
            steps:\n      \
              - request: { url: \"{{ env.base_url }}/{{ vars.word }}{{ vars.other }}\" }\n";
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("tricky.yaml");
    std::fs::write(&file, plan).expect("the plan is written");
    let shown = file.display().to_string();
    let text = manifests(
        &[
            &shown,
            "--segments",
            "2",
            "--image",
            "loadplan:dev",
            "--var",
            "other=$(TOKEN_ON): #yes",
        ],
        &[("LOADPLAN_K8S_WORD", "y"), ("TOKEN_ON", TOKEN)],
    );
    validate(&text);
    assert!(
        !text.contains(TOKEN),
        "a secret's value is in the manifests"
    );
    let ours = documents(&text);
    let theirs = read_as_yaml_1_1(&text);
    assert_eq!(
        ours, theirs,
        "YAML 1.1 reads the manifests otherwise:\n{text}"
    );
    assert_eq!(theirs[0]["metadata"]["name"], "on-plan");
    assert_eq!(theirs[0]["data"]["tricky.yaml"], plan);
    let args = strings(&theirs[1]["spec"]["template"]["spec"]["containers"][0]["args"]).join(" ");
    assert!(
        args.contains("--env no --stage 1.0 --var other=$$(TOKEN_ON): #yes"),
        "{args}"
    );
    assert!(
        theirs[1]["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .is_some_and(|env| env
                .contains(&serde_json::json!({ "name": "LOADPLAN_K8S_WORD", "value": "y" }))),
        "{text}"
    );
}

#[test]
fn a_plan_too_large_for_a_config_map_is_refused_and_an_odd_file_name_gets_a_plain_key() {
    let quickstart =
        std::fs::read_to_string(crate::common::root().join("examples/quickstart.yaml"))
            .expect("the quickstart is readable");
    let dir = tempfile::tempdir().expect("a temporary folder");

    let large = dir.path().join("large.yaml");
    let padding = format!("# {}\n", "x".repeat(1_000_000));
    std::fs::write(&large, format!("{padding}{quickstart}")).expect("the plan is written");
    let shown = large.display().to_string();
    let output = crate::common::loadplan(&["k8s", &shown, "--segments", "2", "--image", "x"]);
    assert_eq!(output.status, 2, "{}", output.stderr);
    assert!(output.stdout.is_empty(), "a manifest was printed");
    assert!(
        output.stderr.contains("a ConfigMap holds at most 1 MiB"),
        "{}",
        output.stderr
    );

    let odd = dir.path().join("plan (copy) #2.yaml");
    std::fs::write(&odd, &quickstart).expect("the plan is written");
    let shown = odd.display().to_string();
    let text = manifests(&[&shown, "--segments", "2", "--image", "x"], &[]);
    validate(&text);
    let [config_map, job, _] = documents(&text)
        .try_into()
        .unwrap_or_else(|found: Vec<Value>| panic!("{} documents, not 3", found.len()));
    assert_eq!(config_map["data"]["plan.yaml"], quickstart);
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["args"][1],
        "/plan/plan.yaml"
    );
}
