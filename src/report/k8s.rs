//! `loadplan k8s`: a plan as plain Kubernetes manifests — a ConfigMap holding the plan
//! file, an Indexed Job running one segment per pod, and a merge Job that judges the
//! whole run (docs/distributed.md, "On Kubernetes").
//!
//! Pure: the manifests are built as JSON values and written as block YAML by [`yaml`], a
//! small emitter that quotes every string YAML 1.1 or 1.2 would read as something else
//! (Kubernetes reads YAML 1.1 through go-yaml, where `yes`, `on` and `1:20` are not
//! strings).

use serde_json::{Map, Value, json};

use crate::plan::source::SelectionRecord;

/// Where the results volume is mounted in every pod.
pub const RESULTS: &str = "/results";
/// Where the plan's ConfigMap is mounted.
pub const PLAN_DIR: &str = "/plan";
/// The user and group the pods run as (the image's `loadplan` user).
pub const USER: u64 = 10001;
/// How long the merge Job waits for the segments' results beyond the stage's own length
/// and the barrier's wait: pods scheduled late, images pulled, the graceful stop.
pub const MERGE_MARGIN_SECS: u64 = 30 * 60;
/// The longest name: the Job's pods are named `NAME-INDEX-xxxxx` and the merge Job
/// `NAME-merge`, both within the 63 characters of a DNS-1123 label.
pub const MAX_NAME: usize = 50;

/// How the segments start together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// `--start-at`: this RFC 3339 instant, as given.
    At(String),
    /// `--barrier dir:/results/NAME/barrier` on the results volume, with this
    /// `--barrier-timeout` as written (`20m`), or run's default.
    Barrier(Option<String>),
}

/// What the manifests are made from: the validated plan and the command line.
#[derive(Debug, Clone)]
pub struct Manifest<'a> {
    /// The plan file's text, as read (the ConfigMap holds exactly this).
    pub plan_text: &'a str,
    /// The plan file's name (`websocket-performance.yaml`): its key in the ConfigMap.
    pub plan_file: &'a str,
    /// The plan's `data:` files: each path as the plan writes it (relative, inside the
    /// plan's folder) and its text. The ConfigMap holds them beside the plan.
    pub data_files: &'a [(String, String)],
    /// The `secrets:` the plan declares.
    pub secrets: &'a [String],
    /// The selection the plan was validated with (env and stage as resolved, `--var`…,
    /// the `from_env` variables read): every pod runs the same.
    pub selection: &'a SelectionRecord,
    /// The Jobs' name (a DNS-1123 label, at most [`MAX_NAME`]).
    pub name: &'a str,
    pub namespace: Option<&'a str>,
    pub image: &'a str,
    pub segments: u32,
    /// The Kubernetes Secret the plan's secrets come from.
    pub secret: &'a str,
    /// The ReadWriteMany PersistentVolumeClaim the results go to.
    pub claim: &'a str,
    pub start: Start,
    /// How long the merge Job waits for all segments' results before it gives up.
    pub merge_wait_secs: u64,
}

impl Manifest<'_> {
    /// The run's folder on the results volume: results, barrier, the plan's outputs.
    pub fn run_dir(&self) -> String {
        format!("{RESULTS}/{}", self.name)
    }

    /// The ConfigMap key of the plan: its file name, or `plan.yaml` when the name has
    /// characters a key may not (`[-._a-zA-Z0-9]`).
    pub fn plan_key(&self) -> &str {
        let valid = !self.plan_file.is_empty()
            && self.plan_file.len() <= 253
            && self
                .plan_file
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
            && self.plan_file != "."
            && self.plan_file != "..";
        if valid { self.plan_file } else { "plan.yaml" }
    }

    /// The results file of the segment with this 0-based index (an index, or the
    /// `$(JOB_COMPLETION_INDEX)` reference Kubernetes expands in `args`).
    pub fn segment_file(&self, index: &str) -> String {
        format!("{}/segment-{index}.json", self.run_dir())
    }

    /// The arguments of a segment pod's `loadplan`.
    pub fn run_args(&self) -> Vec<String> {
        let mut args = vec![
            "run".to_owned(),
            format!("{PLAN_DIR}/{}", self.plan_key()),
            "--segment".to_owned(),
            format!("auto/{}", self.segments),
        ];
        args.extend(selection_args(self.selection));
        args.extend(["--workdir".to_owned(), self.run_dir()]);
        match &self.start {
            Start::At(instant) => args.extend(["--start-at".to_owned(), literal(instant)]),
            Start::Barrier(timeout) => {
                args.extend([
                    "--barrier".to_owned(),
                    format!("dir:{}/barrier", self.run_dir()),
                ]);
                if let Some(timeout) = timeout {
                    args.extend(["--barrier-timeout".to_owned(), literal(timeout)]);
                }
            }
        }
        args.extend([
            "--out".to_owned(),
            format!("json={}", self.segment_file("$(JOB_COMPLETION_INDEX)")),
        ]);
        args
    }

    /// The arguments of the merge pod's `loadplan`: every segment's results by name (no
    /// glob: there is no shell, and a missing one is then `merge`'s clear error).
    pub fn merge_args(&self) -> Vec<String> {
        let mut args = vec!["merge".to_owned()];
        args.extend((0..self.segments).map(|index| self.segment_file(&index.to_string())));
        args.extend([
            "--plan".to_owned(),
            format!("{}/{}", self.run_dir(), self.plan_key()),
            "--out".to_owned(),
            format!("json={}/merged.json", self.run_dir()),
        ]);
        args
    }

    /// The merge pod's init container script: waits (bounded) for every segment's
    /// results, then copies the plan into the run's folder, so the plan's own outputs
    /// land on the volume beside the results (the ConfigMap is read-only).
    pub fn wait_script(&self) -> String {
        let script = format!(
            r#"dir='{dir}'; n={n}; wait={wait}
deadline=$(( $(date +%s) + wait ))
while :; do
  found=0; i=0
  while [ "$i" -lt "$n" ]; do
    [ -f "$dir/segment-$i.json" ] && found=$((found + 1))
    i=$((i + 1))
  done
  [ "$found" -eq "$n" ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "loadplan: $found of $n segment results in $dir after ${{wait}}s; see: kubectl describe job {name}" >&2
    exit 1
  fi
  sleep 5
done
echo "loadplan: all $n segment results are in $dir"
cp '{plan_dir}/{key}' "$dir/{key}"
"#,
            dir = self.run_dir(),
            n = self.segments,
            wait = self.merge_wait_secs,
            name = self.name,
            plan_dir = PLAN_DIR,
            key = self.plan_key(),
        );
        literal(&script)
    }
}

/// `text` as Kubernetes passes it on: it expands `$(NAME)` in a container's `args`,
/// `command` and `env` values, and reads `$$` as `$`, so every `$` is doubled.
pub fn literal(text: &str) -> String {
    text.replace('$', "$$")
}

/// The selection as `loadplan run` flags: exactly what the plan was validated with (each
/// value [`literal`]).
fn selection_args(selection: &SelectionRecord) -> Vec<String> {
    selection_flags(selection)
        .into_iter()
        .map(|arg| literal(&arg))
        .collect()
}

fn selection_flags(selection: &SelectionRecord) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(env) = &selection.env {
        args.extend(["--env".to_owned(), env.clone()]);
    }
    args.extend(["--stage".to_owned(), selection.stage.clone()]);
    for (name, value) in &selection.vars {
        args.extend(["--var".to_owned(), format!("{name}={value}")]);
    }
    if let Some(vus) = selection.vus {
        args.extend(["--vus".to_owned(), vus.to_string()]);
    }
    if let Some(duration) = &selection.duration {
        args.extend(["--duration".to_owned(), duration.clone()]);
    }
    for scenario in &selection.scenarios {
        args.extend(["--scenario".to_owned(), scenario.clone()]);
    }
    args
}

/// A plan name as a DNS-1123 label: lowercase letters, digits and `-`, starting and
/// ending with a letter or digit, at most [`MAX_NAME`] characters; `loadplan` when nothing
/// is left.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.truncate(MAX_NAME);
    let out = out.trim_matches('-');
    if out.is_empty() {
        "loadplan".to_owned()
    } else {
        out.to_owned()
    }
}

/// Why `text` is not a DNS-1123 label of at most `max` characters, if it is not.
pub fn label_problem(text: &str, max: usize) -> Option<String> {
    if text.is_empty() {
        return Some("it is empty".to_owned());
    }
    if text.len() > max {
        return Some(format!("it is longer than {max} characters"));
    }
    if !text
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Some("only lowercase letters, digits and `-` are allowed".to_owned());
    }
    if text.starts_with('-') || text.ends_with('-') {
        return Some("it must start and end with a letter or digit".to_owned());
    }
    None
}

fn metadata(manifest: &Manifest<'_>, name: &str, component: &str) -> Value {
    let mut metadata = Map::new();
    metadata.insert("name".to_owned(), json!(name));
    if let Some(namespace) = manifest.namespace {
        metadata.insert("namespace".to_owned(), json!(namespace));
    }
    metadata.insert("labels".to_owned(), labels(manifest, component));
    Value::Object(metadata)
}

fn labels(manifest: &Manifest<'_>, component: &str) -> Value {
    json!({
        "app.kubernetes.io/name": "loadplan",
        "app.kubernetes.io/instance": manifest.name,
        "app.kubernetes.io/component": component,
    })
}

fn pod_security() -> Value {
    json!({
        "runAsNonRoot": true,
        "runAsUser": USER,
        "runAsGroup": USER,
        "fsGroup": USER,
        "seccompProfile": { "type": "RuntimeDefault" },
    })
}

fn container_security() -> Value {
    json!({
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "capabilities": { "drop": ["ALL"] },
    })
}

fn volumes(manifest: &Manifest<'_>) -> Value {
    json!([
        {
            "name": "plan",
            "configMap": {
                "name": format!("{}-plan", manifest.name),
                "items": std::iter::once(json!({ "key": manifest.plan_key(), "path": manifest.plan_key() }))
                    .chain(manifest.data_files.iter().enumerate().map(|(index, (path, _))| {
                        json!({ "key": data_key(index), "path": path })
                    }))
                    .collect::<Vec<_>>(),
            },
        },
        { "name": "results", "persistentVolumeClaim": { "claimName": manifest.claim } },
        { "name": "tmp", "emptyDir": {} },
    ])
}

fn mounts() -> Value {
    json!([
        { "name": "plan", "mountPath": PLAN_DIR, "readOnly": true },
        { "name": "results", "mountPath": RESULTS },
        { "name": "tmp", "mountPath": "/tmp" },
    ])
}

/// The segment container's environment: each plan secret from the Kubernetes Secret (by
/// reference, never a value), and the `from_env` variables with the values they had here.
fn segment_env(manifest: &Manifest<'_>) -> Value {
    let mut env: Vec<Value> = manifest
        .secrets
        .iter()
        .map(|name| {
            json!({
                "name": name,
                "valueFrom": { "secretKeyRef": { "name": manifest.secret, "key": name } },
            })
        })
        .collect();
    env.extend(
        manifest
            .selection
            .process_env
            .iter()
            .filter(|(name, _)| !manifest.secrets.contains(name))
            .map(|(name, value)| json!({ "name": name, "value": literal(value) })),
    );
    Value::Array(env)
}

/// The ConfigMap key of data file `index` (a key may not hold the path's `/`; the
/// volume's `items` put it at its path).
fn data_key(index: usize) -> String {
    format!("data-{index}")
}

/// The ConfigMap's data: the plan, and its data files.
fn config_data(manifest: &Manifest<'_>) -> Value {
    let mut data = serde_json::Map::new();
    data.insert(manifest.plan_key().to_owned(), manifest.plan_text.into());
    for (index, (_, text)) in manifest.data_files.iter().enumerate() {
        data.insert(data_key(index), text.as_str().into());
    }
    Value::Object(data)
}

/// The manifests as JSON values: the ConfigMap, the segments' Indexed Job, the merge Job.
pub fn objects(manifest: &Manifest<'_>) -> Vec<Value> {
    let name = manifest.name;
    let count = manifest.segments;
    let config_map = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(manifest, &format!("{name}-plan"), "plan"),
        "data": config_data(manifest),
    });
    let mut segment = json!({
        "name": "loadplan",
        "image": manifest.image,
        "args": manifest.run_args(),
        "env": segment_env(manifest),
        "resources": {
            "requests": { "cpu": "1", "memory": "1Gi" },
        },
        "securityContext": container_security(),
        "volumeMounts": mounts(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    });
    if segment_env(manifest).as_array().is_some_and(Vec::is_empty)
        && let Some(container) = segment.as_object_mut()
    {
        container.remove("env");
    }
    let segments = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(manifest, name, "segment"),
        "spec": {
            "completionMode": "Indexed",
            "completions": count,
            "parallelism": count,
            "backoffLimitPerIndex": 0,
            "maxFailedIndexes": 0,
            "podFailurePolicy": {
                "rules": [{
                    "action": "FailJob",
                    "onExitCodes": {
                        "containerName": "loadplan",
                        "operator": "In",
                        "values": [crate::exit_code::MISSED_START],
                    },
                }],
            },
            "template": {
                "metadata": { "labels": labels(manifest, "segment") },
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": pod_security(),
                    "containers": [segment],
                    "volumes": volumes(manifest),
                },
            },
        },
    });
    let merge = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(manifest, &format!("{name}-merge"), "merge"),
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": { "labels": labels(manifest, "merge") },
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": pod_security(),
                    "initContainers": [{
                        "name": "wait-for-segments",
                        "image": manifest.image,
                        "command": ["/bin/sh", "-c", manifest.wait_script()],
                        "resources": { "requests": { "cpu": "10m", "memory": "16Mi" } },
                        "securityContext": container_security(),
                        "volumeMounts": mounts(),
                    }],
                    "containers": [{
                        "name": "merge",
                        "image": manifest.image,
                        "args": manifest.merge_args(),
                        "resources": { "requests": { "cpu": "500m", "memory": "512Mi" } },
                        "securityContext": container_security(),
                        "volumeMounts": mounts(),
                        "terminationMessagePolicy": "FallbackToLogsOnError",
                    }],
                    "volumes": volumes(manifest),
                },
            },
        },
    });
    vec![config_map, segments, merge]
}

/// The manifests as one multi-document YAML stream.
pub fn render(manifest: &Manifest<'_>) -> String {
    let mut out = String::new();
    for object in objects(manifest) {
        out.push_str("---\n");
        yaml::write(&mut out, &object);
    }
    out
}

/// A block-style YAML writer for JSON values: mappings and sequences in block style,
/// strings plain when nothing could read them otherwise, multi-line text as a literal
/// block (`|`), anything else double-quoted (JSON's escapes are YAML's).
pub mod yaml {
    use serde_json::Value;

    /// Writes `value` as a YAML document (no `---`), ending with a newline.
    pub fn write(out: &mut String, value: &Value) {
        match value {
            Value::Object(map) if !map.is_empty() => mapping(out, map, 0),
            Value::Array(items) if !items.is_empty() => sequence(out, items, 0),
            scalar => {
                inline(out, scalar, 0);
                out.push('\n');
            }
        }
    }

    fn indent(out: &mut String, n: usize) {
        out.extend(std::iter::repeat_n(' ', n));
    }

    /// A mapping's entries, each starting at column `n` (the first one's indentation is
    /// written by the caller when it follows a `- `).
    fn mapping(out: &mut String, map: &serde_json::Map<String, Value>, n: usize) {
        for (i, (key, value)) in map.iter().enumerate() {
            if i > 0 {
                indent(out, n);
            }
            string(out, key, None);
            out.push(':');
            entry(out, value, n);
        }
    }

    fn sequence(out: &mut String, items: &[Value], n: usize) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                indent(out, n);
            }
            out.push('-');
            match item {
                Value::Object(map) if !map.is_empty() => {
                    out.push(' ');
                    mapping(out, map, n + 2);
                }
                Value::Array(inner) if !inner.is_empty() => {
                    out.push(' ');
                    sequence(out, inner, n + 2);
                }
                scalar => {
                    out.push(' ');
                    inline(out, scalar, n + 2);
                    out.push('\n');
                }
            }
        }
    }

    /// What follows `key:` at indentation `n`.
    fn entry(out: &mut String, value: &Value, n: usize) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                out.push('\n');
                indent(out, n + 2);
                mapping(out, map, n + 2);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                indent(out, n + 2);
                sequence(out, items, n + 2);
            }
            scalar => {
                out.push(' ');
                inline(out, scalar, n + 2);
                out.push('\n');
            }
        }
    }

    /// A scalar (or an empty collection) on the current line; a literal block's lines
    /// are indented by `n`.
    fn inline(out: &mut String, value: &Value, n: usize) {
        match value {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(number) => out.push_str(&number.to_string()),
            Value::String(text) => string(out, text, Some(n)),
            Value::Array(_) => out.push_str("[]"),
            Value::Object(_) => out.push_str("{}"),
        }
    }

    /// A string: plain, a literal block (when `block` gives its indentation), or quoted.
    fn string(out: &mut String, text: &str, block: Option<usize>) {
        if plain(text) {
            out.push_str(text);
        } else if let Some(n) = block.filter(|_| literal(text)) {
            literal_block(out, text, n);
        } else {
            // JSON's escapes (\" \\ \n \t \uXXXX …) are all YAML double-quoted escapes.
            out.push_str(&Value::String(text.to_owned()).to_string());
        }
    }

    /// Words YAML 1.1 (go-yaml, which Kubernetes uses) or 1.2 reads as null or a boolean.
    const RESERVED: [&str; 11] = [
        "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n", "",
    ];

    /// Whether `text` reads back as this same string when written plain. Deliberately
    /// narrow: a first character that is a letter, `_`, `/`, `$` or `(` (or `-` then a
    /// letter or `-`, as in `--stage`), so no number, date or indicator; then only
    /// characters no YAML reads specially, `:` never before a space or at the end, and a
    /// space never next to a space, at the end, or before `#`.
    pub fn plain(text: &str) -> bool {
        if RESERVED.contains(&text.to_ascii_lowercase().as_str()) {
            return false;
        }
        let bytes = text.as_bytes();
        let first_ok = match bytes {
            [b'-', second, ..] => second.is_ascii_alphabetic() || *second == b'-',
            [first, ..] => {
                first.is_ascii_alphabetic() || matches!(first, b'_' | b'/' | b'$' | b'(')
            }
            [] => false,
        };
        if !first_ok {
            return false;
        }
        let allowed = |c: u8| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b'_' | b'.'
                        | b'/'
                        | b'='
                        | b'$'
                        | b'('
                        | b')'
                        | b'-'
                        | b':'
                        | b'+'
                        | b'@'
                        | b' '
                )
        };
        if !bytes.iter().copied().all(allowed) {
            return false;
        }
        !(text.ends_with(':')
            || text.ends_with(' ')
            || text.contains(": ")
            || text.contains("  ")
            || text.contains(" #"))
    }

    /// Whether `text` can be a literal block: more than one line, only printable
    /// characters and tabs, no line of blanks only (a block would drop them), not
    /// starting with a blank (that would need an indentation indicator).
    fn literal(text: &str) -> bool {
        text.contains('\n')
            && !text.starts_with([' ', '\t', '\n'])
            && text
                .chars()
                .all(|c| c == '\n' || c == '\t' || !(c.is_control() || c == '\u{feff}'))
            && text
                .split('\n')
                .all(|line| line.is_empty() || !line.chars().all(|c| c == ' ' || c == '\t'))
    }

    /// `|`, `|-` or `|+` (clip, strip or keep the final line breaks), then each line
    /// indented by `n`.
    fn literal_block(out: &mut String, text: &str, n: usize) {
        let body = text.trim_end_matches('\n');
        let breaks = text.len() - body.len();
        out.push_str(match breaks {
            0 => "|-",
            1 => "|",
            _ => "|+",
        });
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                indent(out, n);
                out.push_str(line);
            }
        }
        // The caller ends the last line; with `|+` the extra breaks are content.
        for _ in 1..breaks {
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads_back(value: &Value) {
        let mut text = String::new();
        yaml::write(&mut text, value);
        let document = crate::plan::yaml::Document::load(&text)
            .unwrap_or_else(|error| panic!("not YAML: {error:?}\n{text}"));
        assert_eq!(&document.value, value, "written as:\n{text}");
    }

    #[test]
    fn strings_that_yaml_would_read_otherwise_are_quoted() {
        let tricky = [
            "yes",
            "No",
            "ON",
            "off",
            "y",
            "n",
            "null",
            "~",
            "true",
            "1.0",
            "1",
            "0x1f",
            "1e3",
            ".inf",
            "-.5",
            "-1",
            "1:20",
            "2026-12-02",
            ": x",
            "a: b",
            "a #b",
            "#",
            "x:",
            "- x",
            "-",
            "[a]",
            "{a}",
            "*a",
            "&a",
            "!a",
            "|",
            ">",
            "'a'",
            "\"a\"",
            "%a",
            "@a",
            "`a`",
            " lead",
            "trail ",
            "",
            "a,b",
            "a\tb",
            "é",
            "a  b",
            "=",
        ];
        for text in tricky {
            let value = json!({ text: text, "list": [text] });
            reads_back(&value);
            assert!(
                !yaml::plain(text) || text.starts_with('-'),
                "`{text}` written plain"
            );
        }
    }

    #[test]
    fn ordinary_names_stay_plain() {
        for text in [
            "run",
            "--segment",
            "auto/6",
            "json=/results/x/segment-$(JOB_COMPLETION_INDEX).json",
            "app.kubernetes.io/name",
            "ghcr.io/acme/loadplan:0.1.0",
            "batch/v1",
        ] {
            assert!(yaml::plain(text), "`{text}` quoted");
            reads_back(&json!({ "k": text }));
        }
    }

    #[test]
    fn multi_line_text_is_a_literal_block_and_reads_back() {
        let plan = "name: x # a comment\nstages:\n  smoke: { vus: 1 }\n\n\tkey: \"q\"\n";
        let value = json!({ "data": { "plan.yaml": plan } });
        let mut text = String::new();
        yaml::write(&mut text, &value);
        assert!(
            text.contains("plan.yaml: |\n    name: x # a comment\n"),
            "{text}"
        );
        reads_back(&value);
        for ending in ["no break", "two\n\n", "three\n\n\n", "x\n \ny", " lead\nx"] {
            reads_back(&json!({ "k": format!("a\n{ending}") }));
            reads_back(&json!({ "k": ending }));
            reads_back(&json!({ "l": [{ "k": format!("a\n{ending}") }, format!("b\n{ending}")] }));
        }
    }

    #[test]
    fn nesting_and_empty_collections_read_back() {
        reads_back(&json!({
            "a": [], "b": {}, "c": [[1, 2], [], [{ "x": null, "y": [true] }]],
            "d": [{ "e": { "f": [{ "g": -1.5 }] }, "h": "i" }],
        }));
    }

    #[test]
    fn a_dollar_in_a_value_is_not_expanded_by_kubernetes() {
        let selection = SelectionRecord {
            stage: "smoke".to_owned(),
            vars: vec![("greeting".to_owned(), "$(AUTH_TOKEN) costs $$5".to_owned())],
            process_env: [("VUS".to_owned(), "$(HOME)".to_owned())].into(),
            ..SelectionRecord::default()
        };
        let args = selection_args(&selection);
        assert_eq!(args[3], "greeting=$$(AUTH_TOKEN) costs $$$$5");
        let manifest = Manifest {
            plan_text: "name: x\n",
            plan_file: "x.yaml",
            data_files: &[],
            secrets: &[],
            selection: &selection,
            name: "x",
            namespace: None,
            image: "i",
            segments: 1,
            secret: "s",
            claim: "c",
            start: Start::At("2030-01-01T00:00:00Z".to_owned()),
            merge_wait_secs: 1,
        };
        assert_eq!(
            segment_env(&manifest),
            json!([{ "name": "VUS", "value": "$$(HOME)" }])
        );
    }

    #[test]
    fn plan_names_become_dns_labels() {
        assert_eq!(slug("WebSocket Performance!"), "websocket-performance");
        assert_eq!(slug("--x__y--"), "x-y");
        assert_eq!(slug("日本"), "loadplan");
        assert_eq!(slug(&"a".repeat(80)).len(), MAX_NAME);
        assert_eq!(
            slug(&format!("{}-b", "a".repeat(MAX_NAME - 1))),
            "a".repeat(MAX_NAME - 1)
        );
        assert!(label_problem(&slug("Any name at all"), MAX_NAME).is_none());
        assert!(label_problem("Upper", MAX_NAME).is_some());
        assert!(label_problem("-x", MAX_NAME).is_some());
        assert!(label_problem("", MAX_NAME).is_some());
    }

    fn selection() -> SelectionRecord {
        SelectionRecord {
            env: Some("local".to_owned()),
            stage: "smoke".to_owned(),
            vars: vec![("rate".to_owned(), "yes".to_owned())],
            process_env: [("VUS".to_owned(), "50".to_owned())].into(),
            ..SelectionRecord::default()
        }
    }

    #[test]
    fn the_job_runs_n_indexed_segments_and_fails_on_a_missed_start() {
        let selection = selection();
        let secrets = vec!["AUTH_TOKEN".to_owned()];
        let manifest = Manifest {
            plan_text: "name: x\n",
            plan_file: "x.yaml",
            data_files: &[],
            secrets: &secrets,
            selection: &selection,
            name: "x",
            namespace: Some("load"),
            image: "loadplan:dev",
            segments: 6,
            secret: "x-secrets",
            claim: "results",
            start: Start::Barrier(None),
            merge_wait_secs: 60,
        };
        let objects = objects(&manifest);
        let job = &objects[1]["spec"];
        assert_eq!(job["completions"], 6);
        assert_eq!(job["parallelism"], 6);
        assert_eq!(job["completionMode"], "Indexed");
        assert_eq!(job["backoffLimitPerIndex"], 0);
        assert_eq!(
            job["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"],
            json!([3])
        );
        let container = &job["template"]["spec"]["containers"][0];
        let args: Vec<&str> = container["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            args.join(" "),
            "run /plan/x.yaml --segment auto/6 --env local --stage smoke --var rate=yes \
             --workdir /results/x --barrier dir:/results/x/barrier \
             --out json=/results/x/segment-$(JOB_COMPLETION_INDEX).json"
        );
        assert_eq!(
            container["env"],
            json!([
                { "name": "AUTH_TOKEN", "valueFrom": { "secretKeyRef": { "name": "x-secrets", "key": "AUTH_TOKEN" } } },
                { "name": "VUS", "value": "50" },
            ])
        );
        let merge = &objects[2]["spec"]["template"]["spec"];
        assert_eq!(
            merge["containers"][0]["args"][1],
            "/results/x/segment-0.json"
        );
        assert_eq!(
            merge["containers"][0]["args"][6],
            "/results/x/segment-5.json"
        );
        let script = merge["initContainers"][0]["command"][2]
            .as_str()
            .unwrap_or_default();
        assert!(
            script.contains("deadline=$$(( $$(date +%s) + wait ))"),
            "{script}"
        );
        assert!(
            !script.replace("$$", "").contains('$'),
            "an unescaped `$`: {script}"
        );
        let text = render(&manifest);
        assert_eq!(text.matches("---\n").count(), 3);
        for document in text.split("---\n").skip(1) {
            assert!(
                crate::plan::yaml::Document::load(document).is_ok(),
                "{document}"
            );
        }
    }
}
