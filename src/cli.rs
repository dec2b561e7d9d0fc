//! The command line, as declarations only (clap derive); `run.rs` acts on it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::plan::model::MockMode;
use crate::plan::units::{Duration, ParseUnitError, Size};

const EXAMPLES: &str = "\
Examples:
  loadplan run examples/quickstart.yaml           run a plan against the built-in mock
  loadplan validate plans/*.yaml                 check plans; every problem as file:line:col
  loadplan validate plan.yaml --env staging --stage scale --var payload_bytes=1024
  loadplan run plan.yaml --stage smoke --vus 5 --duration 10s   a short CI smoke of any stage
  VUS=50 DURATION=2m loadplan run plans/websocket-performance.yaml   `from_env` variables
  loadplan run plans/channel-proxy.yaml --scenario large_payload     one scenario alone
  loadplan schema > schema/loadplan.schema.json  the JSON Schema editors autocomplete from
  loadplan report results/run.json --append-to docs/baselines.md --under '## Historical Results'
  loadplan merge results/segment-*.json          one run from its segments (run --segment I/N)
  loadplan mock --mode mixed                     the built-in target, on 127.0.0.1:4001
  loadplan k8s plan.yaml --segments 6 --image IMAGE > run.yaml   N pods on Kubernetes, merged
  loadplan completions bash > /etc/bash_completion.d/loadplan

Exit codes: 0 ok · 2 invalid plan, outputs or usage (nothing sent) · 99 a threshold failed (even if
an output failed too) · 1 the run or an output failed · 3 a segment missed its start (--start-at,
--barrier; nothing sent) · 130 interrupted";

/// loadplan: load tests described in YAML plans — stages, VU ramps, HTTP and WebSocket
/// steps, thresholds — with results written into your baselines document.
#[derive(Debug, Parser)]
#[command(name = "loadplan", version, about, after_help = EXAMPLES)]
pub struct Arguments {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a plan: validate it, drive the load, judge the thresholds, write the outputs
    /// (exit 0 when every threshold passed, 99 when one failed)
    #[command(
        after_help = "Examples:\n  loadplan run examples/quickstart.yaml\n  loadplan run plan.yaml --env staging --stage scale --out json=results/scale.json\n  loadplan run plan.yaml --out junit=junit.xml --out markdown=report.md\n  loadplan run plan.yaml --out html=results/report.html\n  loadplan run plan.yaml --stage smoke --vus 5 --duration 10s\n  loadplan run plan.yaml --var send_interval=500ms\n  SEND_INTERVAL=500 VUS=20 loadplan run plans/websocket-performance.yaml\n  loadplan run plans/channel-proxy.yaml --scenario large_payload --scenario happy_path\n\nPaths in the plan are relative to the plan file (or --workdir); --out and --baseline paths to\nthe current directory. Outputs are checked before the load: a missing template or document, a heading\nnot in the document, a folder that cannot be written stop the run before anything is sent\n(exit 2).\n\nExit codes: 0 every threshold passed · 99 a threshold failed (even if an output could not\nbe written) · 1 the run or an output failed · 2 invalid plan, outputs or usage · 3 the\n--start-at instant had passed or --barrier timed out (nothing sent) · 130 interrupted"
    )]
    Run {
        /// The plan file
        #[arg(value_name = "PLAN")]
        plan: PathBuf,
        #[command(flatten)]
        selection: SelectionArgs,
        #[command(flatten)]
        outputs: OutputArgs,
        #[command(flatten)]
        segments: SegmentArgs,
    },
    /// Merge the results of a split run's segments (`run --segment I/N --out json=…`)
    /// exactly, judge the thresholds once on the whole and write the plan's outputs (exit
    /// 0 when every threshold passed, 99 when one failed)
    #[command(
        after_help = "Examples:\n  loadplan merge results/segment-*.json\n  loadplan merge results/segment-*.json --plan plans/scale.yaml --out json=results/scale.json\n\nThe segments must be every segment of one run (one plan, one selection, one start instant,\nfrom --start-at or --barrier); the plan is the file they recorded unless --plan names it.\n\nExit codes: 0 every threshold passed · 99 a threshold failed (even if an output could not\nbe written) · 1 an output failed · 2 the files are not the segments of one run, or the plan\nchanged since they ran"
    )]
    Merge {
        /// The segments' results JSON files (`run --segment I/N --out json=FILE`)
        #[arg(required = true, value_name = "RESULTS.json")]
        results: Vec<PathBuf>,
        /// The plan the segments ran, when not at the path they recorded (relative to the
        /// current directory)
        #[arg(long, value_name = "PLAN")]
        plan: Option<PathBuf>,
        #[command(flatten)]
        outputs: OutputArgs,
    },
    /// Re-render a saved run (its results JSON) without running anything: Markdown to
    /// stdout, or into a document; CSV history and JUnit too
    #[command(
        after_help = "Examples:\n  loadplan report results/run.json\n  loadplan report results/run.json --append-to docs/baselines.md --under '## Historical Results'\n  loadplan report results/run.json --append-to docs/baselines.md --section latest --baseline results/previous.json\n  loadplan report results/run.json --template templates/report.md.j2 --junit junit.xml\n  loadplan report results/run.json --baseline results/previous.json --html report.html"
    )]
    Report(ReportArgs),
    /// Compare saved runs (results JSON files) metric by metric: the first is the
    /// reference, each other run is judged against it (exit 0, or 99 with
    /// --fail-on-regression when a figure got worse by more than the limit)
    #[command(
        after_help = "Examples:\n  loadplan compare results/before.json results/after.json\n  loadplan compare direct.json proxy.json --format markdown >> docs/proxy-overhead.md\n  loadplan compare a.json b.json c.json --html compare.html\n  loadplan compare results/main.json results/pr.json --fail-on-regression 20%\n  loadplan compare results/main.json results/pr.json --fail-on-threshold\n  COLUMNS=80 loadplan compare a.json b.json c.json\n\nMarks: better / worse (latency, errors: lower is better; throughput: higher), same\n(within 5%), changed (a figure with no better side), only in A / only in B.\n\nExit codes: 0 compared · 99 a figure regressed beyond --fail-on-regression, or a\nre-judged threshold failed with --fail-on-threshold · 2 a file is not a results JSON"
    )]
    Compare(CompareArgs),
    /// Write a commented starter plan that validates and runs as written (never over an
    /// existing file)
    #[command(
        after_help = "Examples:\n  loadplan init                              loadplan.yaml against the built-in mock\n  loadplan init --http https://staging.example.com -o plans/api.yaml\n  loadplan init --ws wss://staging.example.com/socket --ci github\n\nThen: loadplan validate loadplan.yaml && loadplan run loadplan.yaml"
    )]
    Init(InitArgs),
    /// Check plans and report every problem at once (exit 0 when valid, 2 otherwise)
    #[command(
        after_help = "Example:\n  loadplan validate plans/*.yaml examples/*.yaml --stage smoke"
    )]
    Validate {
        /// Plan files
        #[arg(required = true, value_name = "PLAN")]
        plans: Vec<PathBuf>,
        #[command(flatten)]
        selection: SelectionArgs,
        /// The folder the plans' own paths are relative to (as `run --workdir`), instead of
        /// each plan file's folder
        #[arg(long, value_name = "DIR")]
        workdir: Option<PathBuf>,
    },
    /// Run the built-in mock target (HTTP, WebSocket, Phoenix channels) until Ctrl-C
    #[command(
        after_help = "Examples:\n  loadplan mock --port 4001\n  loadplan mock --mode mixed\n  loadplan mock --mode fixed --status 503 --body-size 5000\n  curl 'http://127.0.0.1:4001/any/path?delay=500&response_size=5000'"
    )]
    Mock {
        /// Port on 127.0.0.1 (0 picks a free one)
        #[arg(long, default_value_t = 4001)]
        port: u16,
        /// How HTTP requests are answered: fixed, timeout, auth or mixed
        #[arg(long, default_value = "fixed", value_parser = parse_mode)]
        mode: MockMode,
        /// Status of `fixed` answers
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u16).range(100..=599))]
        status: u16,
        /// Body size of answers (bytes, or with a unit: 64KiB, 5MB)
        #[arg(long, default_value = "256", value_parser = parse_size)]
        body_size: u64,
        /// Serve HTTPS/WSS (HTTP/1.1 and HTTP/2) with this PEM certificate chain
        #[arg(long, value_name = "PEM", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert
        #[arg(long, value_name = "PEM", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Print Kubernetes manifests that run a plan as N segments: a ConfigMap with the
    /// plan, an Indexed Job of N pods and a merge Job that exits with the verdict
    /// (docs/distributed.md)
    #[command(
        after_help = "Examples:\n  loadplan k8s plans/websocket-performance.yaml --segments 6 --image ghcr.io/acme/loadplan:0.1.0 --stage scale > run.yaml\n  kubectl apply -f run.yaml && kubectl get pods -l app.kubernetes.io/instance=websocket-performance -w\n  loadplan k8s plan.yaml --segments 4 --image loadplan:dev --start-at 2026-12-02T18:00:00Z --name nightly-1202\n\nThe plan is validated first (exit 2 when it is not). Results go to a ReadWriteMany\nPersistentVolumeClaim (--results-claim); the plan's secrets come from a Kubernetes Secret\n(--secret), never from the manifest."
    )]
    K8s(K8sArgs),
    /// Print the plan JSON Schema (draft 2020-12)
    #[command(after_help = "Example:\n  loadplan schema > schema/loadplan.schema.json")]
    Schema,
    /// Print a shell completion script
    #[command(after_help = "Example:\n  loadplan completions zsh > ~/.zfunc/_loadplan")]
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
}

/// `loadplan compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Results JSON files (`--out json=FILE`); the first is the reference
    #[arg(required = true, num_args = 2.., value_name = "RESULTS.json")]
    pub results: Vec<PathBuf>,
    /// How to print the comparison: terminal (a table sized to the terminal) or markdown
    #[arg(long, value_name = "FORMAT", default_value = "terminal", value_parser = ["terminal", "markdown"])]
    pub format: String,
    /// Also write the comparison as a self-contained HTML page, with the runs' percentile
    /// curves overlaid
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Exit 99 when a judged figure of a later run (p95/p99, error rates, throughput) is
    /// worse than the reference's by more than this percentage: `20%`
    #[arg(long, value_name = "PERCENT", value_parser = parse_regression_limit)]
    pub fail_on_regression: Option<f64>,
    /// Exit 99 when a threshold of the reference run (the first), re-judged on a later
    /// run, fails
    #[arg(long)]
    pub fail_on_threshold: bool,
}

/// `loadplan init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The plan file to write (never replaced)
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        default_value = "loadplan.yaml"
    )]
    pub output: PathBuf,
    /// Start from an HTTP target: the base URL requests go to
    #[arg(long, value_name = "URL", conflicts_with = "ws")]
    pub http: Option<String>,
    /// Start from a WebSocket target: the URL to connect to (ws:// or wss://)
    #[arg(long, value_name = "URL")]
    pub ws: Option<String>,
    /// Also write a CI workflow that runs the plan per environment and keeps the
    /// baselines document: github (.github/workflows/loadplan.yml) or gitlab
    /// (.gitlab-ci.yml)
    #[arg(long, value_name = "CI", value_parser = ["github", "gitlab"])]
    pub ci: Option<String>,
}

/// `loadplan k8s`.
#[derive(Debug, Args)]
pub struct K8sArgs {
    /// The plan file
    #[arg(value_name = "PLAN")]
    pub plan: std::path::PathBuf,
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// How many segments (pods) share the load
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub segments: u32,
    /// The loadplan container image the pods run (see the Dockerfile)
    #[arg(long, value_name = "IMAGE")]
    pub image: String,
    /// The namespace of every object (default: kubectl's current one)
    #[arg(long, value_name = "NS", value_parser = parse_label_63)]
    pub namespace: Option<String>,
    /// The Jobs' name, and the run's folder on the results volume (default: the plan's
    /// name as a DNS label); give each run its own
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub name: Option<String>,
    /// The Kubernetes Secret holding the plan's `secrets:`, one key per name (default:
    /// NAME-secrets)
    #[arg(long, value_name = "NAME", value_parser = parse_secret_name)]
    pub secret: Option<String>,
    /// The ReadWriteMany PersistentVolumeClaim mounted at /results in every pod
    #[arg(long, value_name = "PVC", default_value = "loadplan-results", value_parser = parse_secret_name)]
    pub results_claim: String,
    /// Start every segment at this instant (RFC 3339) instead of at a barrier on the
    /// results volume
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    pub start_at: Option<String>,
    /// How long each segment waits at the barrier for the others (run's default: 10m);
    /// longer when the cluster adds nodes for the pods
    #[arg(long, value_name = "D", conflicts_with = "start_at", value_parser = parse_duration)]
    pub barrier_timeout: Option<Duration>,
}

fn parse_name(text: &str) -> Result<String, String> {
    let max = crate::report::k8s::MAX_NAME;
    match crate::report::k8s::label_problem(text, max) {
        None => Ok(text.to_owned()),
        Some(why) => Err(format!(
            "`{text}` is not a DNS-1123 label of at most {max} characters: {why}"
        )),
    }
}

fn parse_label_63(text: &str) -> Result<String, String> {
    match crate::report::k8s::label_problem(text, 63) {
        None => Ok(text.to_owned()),
        Some(why) => Err(format!("`{text}` is not a DNS-1123 label: {why}")),
    }
}

/// A Secret's or claim's name: a DNS-1123 subdomain (labels parted by `.`).
fn parse_secret_name(text: &str) -> Result<String, String> {
    let problem = if text.len() > 253 {
        Some("it is longer than 253 characters".to_owned())
    } else {
        text.split('.')
            .find_map(|label| crate::report::k8s::label_problem(label, 63))
    };
    match problem {
        None => Ok(text.to_owned()),
        Some(why) => Err(format!("`{text}` is not a DNS-1123 subdomain: {why}")),
    }
}

/// `k8s --start-at`: read as `run` reads it (offsets too), passed on as written.
fn parse_instant(text: &str) -> Result<String, String> {
    crate::segment::parse_instant(text)
        .map(|_| text.to_owned())
        .map_err(|error| error.to_string())
}

/// `loadplan report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The results JSON of a run (`json` output or `--out json=FILE`)
    #[arg(value_name = "RESULTS.json")]
    pub results: PathBuf,
    /// A minijinja template to render instead of the built-in report
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// A template for the one-line row added under `--under` (instead of the built-in row)
    #[arg(long, value_name = "FILE")]
    pub row_template: Option<PathBuf>,
    /// Write into this existing Markdown document instead of stdout
    #[arg(long, value_name = "DOC")]
    pub append_to: Option<PathBuf>,
    /// With --append-to: add a row to the table under this heading (or the report at the
    /// end of its section)
    #[arg(long, value_name = "HEADING", requires = "append_to")]
    pub under: Option<String>,
    /// With --append-to: replace the block between `<!-- loadplan:begin ID -->` and
    /// `<!-- loadplan:end ID -->` (added the first time)
    #[arg(long, value_name = "ID", requires = "append_to")]
    pub section: Option<String>,
    /// Write the report to this file (replacing it) instead of stdout
    #[arg(long, value_name = "FILE", conflicts_with = "append_to")]
    pub file: Option<PathBuf>,
    /// Compare with this earlier run's results JSON
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Label the run in the report (replaces the label it was run with)
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,
    /// Regression limit factor: baseline × this (default 1.2)
    #[arg(long, value_name = "K", value_parser = parse_factor)]
    pub regression_factor: Option<f64>,
    /// Also append the run to this CSV history file
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Also write JUnit XML (one test case per threshold) to this file
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write the self-contained HTML report to this file (replacing it)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// A regression limit: a percentage above 0 with its `%` (`20%`, `2.5%`, `150%`), as a
/// fraction. Not `units::Chance`, which stops at 100% and speaks of chances.
fn parse_regression_limit(text: &str) -> Result<f64, String> {
    let number = text.trim().strip_suffix('%').map(str::trim_end);
    match number.map(str::parse::<f64>) {
        Some(Ok(p)) if p > 0.0 && p.is_finite() => Ok(p / 100.0),
        _ if text.trim().parse::<f64>().is_ok() => Err(format!(
            "expected a percentage with its `%`, like `20%`, found `{text}` (write `{}%`)",
            text.trim()
        )),
        _ => Err(format!(
            "expected a percentage above 0, like `20%`, found `{text}`"
        )),
    }
}

fn parse_factor(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(k) if k > 0.0 && k.is_finite() => Ok(k),
        _ => Err(format!(
            "expected a number above 0, like 1.2, found `{text}`"
        )),
    }
}

/// Which environment and stage of a plan to use, and variable overrides.
#[derive(Debug, Args)]
pub struct SelectionArgs {
    /// Environment of the plan to use (default: the first)
    #[arg(long, env = "LOADPLAN_ENV", value_name = "NAME")]
    pub env: Option<String>,
    /// Stage of the plan to use (default: the first)
    #[arg(long, env = "LOADPLAN_STAGE", value_name = "NAME")]
    pub stage: Option<String>,
    /// Override a plan variable: --var payload_bytes=1024 (repeatable); wins over the
    /// variable's `from_env`, the environment's `vars` and the default
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// VUs of the selected stage: a fixed stage's `vus`; a ramp's targets scaled so its
    /// peak is N; an arrival stage's `max_vus`
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub vus: Option<u32>,
    /// Length of the selected stage: a fixed stage's `duration`; a ramp's or arrival
    /// stage's segments scaled so they add up to D
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Run only this scenario; the others get no VUs and thresholds that select them are
    /// skipped (repeatable)
    #[arg(long = "scenario", value_name = "NAME")]
    pub scenarios: Vec<String>,
}

/// What `run` and `merge` write besides the plan's outputs, and how they speak.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Also write an output besides the plan's (repeatable): json=FILE (the results,
    /// with histograms), csv=FILE (a row appended to a CSV history), junit=FILE (JUnit
    /// XML, a test case per threshold), markdown=FILE (the Markdown report, replacing
    /// FILE), html=FILE (the self-contained HTML report, replacing FILE), prometheus=URL (live
    /// metrics by Prometheus remote write during the run, every 5s). FILE is relative to the current directory; it is checked before the load
    #[arg(long = "out", value_name = "KIND=FILE", value_parser = parse_out)]
    pub outs: Vec<(OutKind, PathBuf)>,
    /// The folder the plan's own paths (outputs, templates, a `baseline:` file, a
    /// `pid_file`) are relative to, instead of the plan file's folder
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// An earlier run's results JSON, for `baseline * k` thresholds and the reports'
    /// deltas (overrides the plan's `baseline:`)
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// A free label recorded with the run (or the merged run) and shown in its reports
    /// ("after cache fix")
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,
    /// No progress lines and no summary; only errors
    #[arg(long, short)]
    pub quiet: bool,
}

/// Running one share of a plan split over several processes (docs/distributed.md).
#[derive(Debug, Default, Args)]
pub struct SegmentArgs {
    /// Run share I of N (1-based): global VU slot v and iteration n belong to segment
    /// ((v−1) mod N)+1, so N processes together run the plan exactly; `auto/N` takes I
    /// from $JOB_COMPLETION_INDEX + 1 (a Kubernetes Indexed Job's 0-based index)
    #[arg(long, value_name = "I/N")]
    pub segment: Option<crate::segment::SegmentArg>,
    /// Unequal shares for unequal machines: one whole weight per segment (2,1,1)
    #[arg(long, value_name = "W,W,…", requires = "segment", value_parser = parse_weights)]
    pub segment_weights: Option<SegmentWeights>,
    /// Start stage time 0 at this instant (RFC 3339, like 2026-12-02T18:00:00Z), so
    /// segments on several machines start together; a segment not ready by then exits 3
    #[arg(long, value_name = "RFC3339", conflicts_with = "barrier")]
    pub start_at: Option<String>,
    /// Start together through a shared folder: `dir:PATH`. Each segment writes
    /// `ready-I` there and all start once all N are ready (needs --segment)
    #[arg(long, value_name = "dir:PATH", requires = "segment")]
    pub barrier: Option<String>,
    /// How long to wait at --barrier for the other segments before giving up (exit 3)
    #[arg(long, value_name = "D", default_value = "10m", value_parser = parse_duration)]
    pub barrier_timeout: Duration,
    /// Sample the plan's `collect:` sources in this segment too (by default only
    /// segment 1 does, so a source is not read N times)
    #[arg(long)]
    pub collect_here: bool,
}

/// `--segment-weights 2,1,1`: one value holding a list (clap would read an
/// `Option<Vec<_>>` as a flag given several times).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentWeights(pub Vec<u32>);

fn parse_weights(text: &str) -> Result<SegmentWeights, String> {
    crate::segment::parse_weights(text)
        .map(SegmentWeights)
        .map_err(|error| error.to_string())
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    match text.parse::<Duration>() {
        Ok(duration) if !duration.0.is_zero() => Ok(duration),
        Ok(_) => Err("a stage lasts more than 0s".to_owned()),
        Err(error) => Err(error.to_string()),
    }
}

fn parse_mode(text: &str) -> Result<MockMode, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("expected fixed, timeout, auth or mixed, found `{text}`"))
}

fn parse_size(text: &str) -> Result<u64, ParseUnitError> {
    text.parse::<Size>().map(|size| size.0)
}

/// What `--out KIND=FILE` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutKind {
    Json,
    Csv,
    Junit,
    Markdown,
    Html,
    /// `prometheus=URL`: remote write during the run.
    Prometheus,
}

impl OutKind {
    const ALL: [(&str, Self); 6] = [
        ("json", Self::Json),
        ("csv", Self::Csv),
        ("junit", Self::Junit),
        ("markdown", Self::Markdown),
        ("html", Self::Html),
        ("prometheus", Self::Prometheus),
    ];
}

fn parse_out(text: &str) -> Result<(OutKind, PathBuf), String> {
    const KINDS: &str = "json, csv, junit, markdown, html or prometheus";
    let Some((kind, file)) = text.split_once('=') else {
        return Err(format!(
            "expected KIND=FILE with KIND one of {KINDS}, found `{text}`"
        ));
    };
    let Some((_, kind)) = OutKind::ALL.iter().find(|(name, _)| *name == kind) else {
        let hint = crate::diag::suggest(kind, OutKind::ALL.map(|(name, _)| name))
            .map_or_else(String::new, |name| format!(" (did you mean `{name}`?)"));
        return Err(format!(
            "unknown output kind `{kind}`{hint}: expected {KINDS}"
        ));
    };
    if file.is_empty() {
        return Err(format!("`{text}` names no file: expected {text}FILE"));
    }
    Ok((*kind, PathBuf::from(file)))
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, found `{text}`"))?;
    if name.is_empty() {
        return Err(format!("expected NAME=VALUE, found `{text}`"));
    }
    Ok((name.to_owned(), value.to_owned()))
}
