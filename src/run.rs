//! The orchestrator: parses arguments, runs the command, maps the outcome to an exit code.
//! Synchronous; only the executor (a later stage) starts a runtime.

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use clap::{CommandFactory, Parser};

use crate::cli::{Arguments, Command, OutKind, SelectionArgs};
use crate::diag::{Diagnostic, Severity, render};
use crate::error::Error;
use crate::plan::{self, Selection};
use crate::report::outputs::{MarkdownTarget, Problem, Target, relative_to};
use crate::report::write::GIVE_UP_WAITING;

/// Runs loadplan with these arguments; `Err` says how it failed (`main` prints it, when
/// [`Error::print_message`] says so, and exits with [`Error::exit_code`]).
pub fn run(args: impl IntoIterator<Item = OsString>) -> Result<(), Error> {
    let arguments = match Arguments::try_parse_from(args) {
        Ok(arguments) => arguments,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                Err(Error::Usage)
            } else {
                Ok(())
            };
        }
    };
    match arguments.command {
        Command::Validate {
            plans,
            selection,
            workdir,
        } => validate(&plans, &selection, workdir.as_deref()),
        Command::Run {
            plan,
            selection: args,
            outputs,
            segments,
        } => run_plan(&plan, &selection(&args), &RunArgs::new(&outputs, &segments)),
        Command::Merge {
            results,
            plan,
            outputs,
        } => merge(
            &results,
            plan.as_deref(),
            &RunArgs::new(&outputs, &crate::cli::SegmentArgs::default()),
        ),
        Command::Report(args) => report(args),
        Command::Compare(args) => compare(args),
        Command::Init(args) => init(args),
        Command::K8s(args) => k8s(&args),
        Command::Mock {
            port,
            mode,
            status,
            body_size,
            tls_cert,
            tls_key,
        } => {
            let settings = crate::mock::MockSettings {
                mode,
                status,
                body_size: usize::try_from(body_size).unwrap_or(usize::MAX),
                tls: tls_cert
                    .zip(tls_key)
                    .map(|(cert, key)| crate::mock::TlsFiles { cert, key }),
            };
            crate::exec::raise_open_files_limit();
            crate::mock::run_blocking(settings, port).map_err(|error| Error::Mock { port, error })
        }
        Command::Schema => {
            let _ = write!(std::io::stdout(), "{}", plan::schema::schema_text());
            Ok(())
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Arguments::command(),
                "loadplan",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    }
}

/// `loadplan k8s`: the plan validated as `run` would load it, then its manifests on
/// stdout.
fn k8s(args: &crate::cli::K8sArgs) -> Result<(), Error> {
    let shown = args.plan.display().to_string();
    let source = plan::source::read(&args.plan).map_err(|error| Error::PlanUnreadable {
        plan: shown.clone(),
        error: error.into(),
    })?;
    let selection = with_files(selection(&args.selection), &args.plan, None);
    let (checked, diagnostics) = plan::load(&source, &selection);
    print_diagnostics(&mut std::io::stderr().lock(), &shown, &source, &diagnostics);
    let Some(checked) = checked else {
        return Err(Error::PlanInvalid { plan: shown });
    };
    // The data files go into the ConfigMap beside the plan, at the paths the plan names.
    let folder = base(&args.plan, None);
    let mut data_files = Vec::new();
    for source in checked.plan.data.values() {
        let Some(file) = source.csv.as_ref().or(source.json.as_ref()) else {
            continue;
        };
        let inside = Path::new(file)
            .components()
            .all(|part| matches!(part, std::path::Component::Normal(_)));
        if !inside {
            return Err(Error::Input(
                format!("{shown}: data file `{file}` is not inside the plan's folder; `loadplan k8s` ships data files beside the plan, so name them by a path under it").into(),
            ));
        }
        let text = plan::source::read_capped(&folder.join(file), plan::data::MAX_DATA, "data file")
            .map_err(|error| Error::Input(format!("{file}: {error}").into()))?;
        data_files.push((file.clone(), text));
    }
    // A ConfigMap holds at most 1 MiB, its key and metadata included.
    let size = source.len() + data_files.iter().map(|(_, text)| text.len()).sum::<usize>();
    if size > 1_000_000 {
        return Err(Error::Input(
            format!("{shown} is {size} bytes with its data files; a ConfigMap holds at most 1 MiB")
                .into(),
        ));
    }
    let record = plan::source::SelectionRecord {
        env: checked.env.clone(),
        stage: checked.stage.clone(),
        vars: args.selection.vars.clone(),
        process_env: checked
            .from_env
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|value| (name.clone(), value)))
            .collect(),
        vus: args.selection.vus,
        duration: args.selection.duration.map(|duration| duration.to_string()),
        scenarios: args.selection.scenarios.clone(),
    };
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| crate::report::k8s::slug(&checked.plan.name));
    let secret = args
        .secret
        .clone()
        .unwrap_or_else(|| format!("{name}-secrets"));
    let stage_secs = checked
        .plan
        .stages
        .get(checked.stage.as_str())
        .map_or(0, |stage| {
            crate::schedule::Schedule::of(stage).duration().as_secs()
        });
    // The segments wait for each other (the barrier, 10 minutes) or for --start-at.
    let lead = match &args.start_at {
        Some(instant) => humantime::parse_rfc3339_weak(instant)
            .ok()
            .and_then(|at| at.duration_since(std::time::SystemTime::now()).ok())
            .map_or(0, |lead| lead.as_secs()),
        None => args
            .barrier_timeout
            .map_or(600, |timeout| timeout.0.as_secs()),
    };
    let plan_file = args
        .plan
        .file_name()
        .map(|file| file.to_string_lossy().into_owned())
        .unwrap_or_default();
    let manifest = crate::report::k8s::Manifest {
        plan_text: &source,
        plan_file: &plan_file,
        data_files: &data_files,
        secrets: &checked.plan.secrets,
        selection: &record,
        name: &name,
        namespace: args.namespace.as_deref(),
        image: &args.image,
        segments: args.segments,
        secret: &secret,
        claim: &args.results_claim,
        start: match &args.start_at {
            Some(instant) => crate::report::k8s::Start::At(instant.clone()),
            None => crate::report::k8s::Start::Barrier(
                args.barrier_timeout.map(|timeout| timeout.to_string()),
            ),
        },
        merge_wait_secs: lead + stage_secs + crate::report::k8s::MERGE_MARGIN_SECS,
    };
    let _ = write!(
        std::io::stdout(),
        "{}",
        crate::report::k8s::render(&manifest)
    );
    Ok(())
}

/// `loadplan report`: the command line mapped onto the report's own options.
/// `loadplan compare`.
fn compare(args: crate::cli::CompareArgs) -> Result<(), Error> {
    use crate::report::compare;
    let runs = compare::load(&args.results)?;
    let comparison = compare::Comparison::new(&runs);
    let limit = args.fail_on_regression;
    let text = if args.format == "markdown" {
        compare::markdown(&comparison, limit)
    } else {
        compare::terminal(&comparison, crate::report::summary::terminal_width(), limit)
    };
    print!("{text}");
    if let Some(file) = &args.html {
        compare::write_html(file, &comparison)?;
        eprintln!("wrote html: {}", file.display());
    }
    let regressions = limit.map_or(0, |limit| comparison.regressions(limit).len());
    let thresholds = if args.fail_on_threshold {
        comparison.failed_thresholds().len()
    } else {
        0
    };
    if regressions + thresholds > 0 {
        return Err(Error::Compared {
            regressions,
            thresholds,
        });
    }
    Ok(())
}

/// `loadplan init`: the starter plan (and workflow) written, what was written and the
/// next commands printed.
fn init(args: crate::cli::InitArgs) -> Result<(), Error> {
    use crate::init::{self, Ci, InitError, Target, Written};
    let fail = |error: InitError| {
        if error.is_usage() {
            Error::Input(error.into())
        } else {
            Error::Output(error.into())
        }
    };
    let target = match (&args.http, &args.ws) {
        (Some(url), _) => Target::Http(init::parse_url("--http", url).map_err(fail)?),
        (None, Some(url)) => Target::Ws(init::parse_url("--ws", url).map_err(fail)?),
        (None, None) => Target::Mock,
    };
    let current = std::env::current_dir().ok();
    let folder = current
        .as_deref()
        .map(|dir| dir.join(args.output.parent().unwrap_or(Path::new(""))));
    let request = init::Request {
        schema: folder
            .as_deref()
            .and_then(|f| f.canonicalize().ok())
            .map_or_else(|| init::SCHEMA_FILE.to_owned(), |f| init::schema_path(&f)),
        folder_name: current
            .as_deref()
            .and_then(Path::file_name)
            .map(|name| name.to_string_lossy().into_owned()),
        plan: args.output,
        target: target.clone(),
        ci: args.ci.as_deref().map(|ci| match ci {
            "gitlab" => Ci::Gitlab,
            _ => Ci::Github,
        }),
    };
    let files = init::files(&request);
    let written = init::write(&files).map_err(fail)?;
    let mut out = std::io::stdout().lock();
    for line in &written {
        let _ = match line {
            Written::Created(path) => writeln!(out, "wrote {}", path.display()),
            Written::Kept(path) => writeln!(out, "kept {} (it exists)", path.display()),
        };
    }
    if let Some(ci) = request.ci
        && written.contains(&Written::Kept(init::BASELINES_FILE.into()))
        && !std::fs::read_to_string(init::BASELINES_FILE)
            .is_ok_and(|text| text.lines().any(|l| l.starts_with("## Nightly Results")))
    {
        let _ = writeln!(
            out,
            "note: {} appends the nightly row under `## Nightly Results` in {}: add that \
             heading and a table",
            ci.file(),
            init::BASELINES_FILE
        );
    }
    let plan = request.plan.display();
    let env = match target {
        Target::Mock => String::new(),
        _ => format!(" --env {}", init::TARGET_ENV),
    };
    let _ = writeln!(
        out,
        "\nnext:\n  loadplan validate {plan}\n  loadplan run {plan}{env} --stage smoke"
    );
    Ok(())
}

fn report(args: crate::cli::ReportArgs) -> Result<(), Error> {
    let command = crate::report::command::ReportCommand {
        results: args.results,
        baseline: args.baseline,
        template: args.template,
        row_template: args.row_template,
        append_to: args.append_to,
        under: args.under,
        section: args.section,
        file: args.file,
        label: args.label,
        regression_factor: args.regression_factor,
        csv: args.csv,
        junit: args.junit,
        html: args.html,
    };
    let written = crate::report::command::report(&command, &mut std::io::stdout().lock())?;
    written.iter().for_each(|line| eprintln!("wrote {line}"));
    Ok(())
}

fn selection(args: &SelectionArgs) -> Selection {
    Selection {
        env: args.env.clone(),
        stage: args.stage.clone(),
        vars: args.vars.clone(),
        process_env: Some(plan::EnvLookup::new(|name| std::env::var_os(name))),
        vus: args.vus,
        duration: args.duration,
        scenarios: args.scenarios.clone(),
        env_from_variable: args.env.is_some() && !given("--env"),
        stage_from_variable: args.stage.is_some() && !given("--stage"),
        files: None,
    }
}

/// Whether the command line has `flag` (`--env x` or `--env=x`); clap also takes
/// `--env`'s value from `LOADPLAN_ENV`, and an error should name the one the user wrote.
fn given(flag: &str) -> bool {
    std::env::args_os().any(|arg| {
        arg.to_str().is_some_and(|arg| {
            arg == flag
                || arg
                    .strip_prefix(flag)
                    .is_some_and(|rest| rest.starts_with('='))
        })
    })
}

fn validate(
    paths: &[std::path::PathBuf],
    args: &SelectionArgs,
    workdir: Option<&Path>,
) -> Result<(), Error> {
    let selection = selection(args);
    let mut invalid = 0;
    let stderr = std::io::stderr();
    // Each plan's diagnostics end with its own count; with several plans, a blank line
    // parts one plan's block from the next.
    let mut parted = false;
    for path in paths {
        let shown = path.display().to_string();
        let mut out = stderr.lock();
        let (ok, said) = validate_one(
            path,
            &shown,
            &selection,
            workdir,
            &mut out,
            paths.len() > 1 && parted,
        );
        parted |= said;
        if !ok {
            invalid += 1;
        }
    }
    if invalid > 0 {
        return Err(Error::PlansInvalid {
            invalid,
            plans: paths.len(),
        });
    }
    if paths.len() > 1 {
        let _ = writeln!(std::io::stdout(), "all {} plans are valid", paths.len());
    }
    Ok(())
}

/// Validates one file, printing its diagnostics (after a blank line when `part`); true
/// when it has no error, and whether anything was printed on `out`.
fn validate_one(
    path: &Path,
    shown: &str,
    selection: &Selection,
    workdir: Option<&Path>,
    out: &mut impl Write,
    part: bool,
) -> (bool, bool) {
    let source = match plan::source::read(path) {
        Ok(source) => source,
        Err(error) => {
            if part {
                let _ = writeln!(out);
            }
            let _ = writeln!(out, "{shown}: error: {error}");
            return (false, true);
        }
    };
    let selection = &with_files(selection.clone(), path, workdir);
    let (mut checked, mut diagnostics) = plan::load(&source, selection);
    // What `run` checks before the load, checked here too: its outputs, for the selected
    // environment and stage, with the time of now.
    if let Some(plan) = &checked {
        let started = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let context = output_context(plan, &started, None);
        if let Err(problems) =
            crate::report::outputs::prepare_run(plan, &context, base(path, workdir), &[], None)
        {
            let mut found = output_diagnostics(&source, &problems);
            found.sort_by_key(|diagnostic| diagnostic.span.map(|span| span.offset));
            diagnostics.extend(found);
            checked = None;
        }
    }
    // Live outputs' URLs too, with a stand-in for each secret (they are not read here).
    if let Some(plan) = &checked {
        let started = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let mut values = output_values(plan, &started, None);
        let stand_ins: serde_json::Map<String, serde_json::Value> = plan
            .plan
            .secrets
            .iter()
            .map(|name| (name.clone(), serde_json::json!("secret")))
            .collect();
        values.insert("secrets".into(), serde_json::Value::Object(stand_ins));
        let context =
            minijinja::Value::from(minijinja::value::Serde(serde_json::Value::Object(values)));
        let (_, problems) = crate::report::live::prepare(
            &plan.plan.outputs,
            &[],
            &plan.templates,
            &context,
            &[],
            &crate::redact::Redactor::new([]),
        );
        if !problems.is_empty() {
            diagnostics.extend(output_diagnostics(&source, &problems));
            checked = None;
        }
    }
    let said = !diagnostics.is_empty() || checked.is_none();
    if part && said {
        let _ = writeln!(out);
    }
    print_diagnostics(out, shown, &source, &diagnostics);
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    match checked {
        Some(checked) => {
            let plan = &checked.plan;
            let _ = writeln!(
                std::io::stdout(),
                "{shown}: valid — {} stage{}, {} scenario{}, {} threshold{}{}",
                plan.stages.len(),
                plural(plan.stages.len()),
                plan.scenarios.len(),
                plural(plan.scenarios.len()),
                checked.thresholds.len(),
                plural(checked.thresholds.len()),
                if warnings > 0 {
                    format!(", {warnings} warning{}", plural(warnings))
                } else {
                    String::new()
                }
            );
            (true, said)
        }
        None => {
            let _ = writeln!(
                out,
                "{shown}: {} error{}{}",
                grouped(errors),
                plural(errors),
                if warnings > 0 {
                    format!(", {} warning{}", grouped(warnings), plural(warnings))
                } else {
                    String::new()
                }
            );
            (false, true)
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The most diagnostics printed for one plan, in order of position; the rest are counted
/// in one line (`plan.yaml: … and 4,950 more errors`) before the total. Fifty fill a
/// screen or two; past that, fixing the first ones is the way on.
pub const MAX_PRINTED: usize = 50;

/// Prints the first [`MAX_PRINTED`] diagnostics and counts the others.
fn print_diagnostics(out: &mut impl Write, shown: &str, source: &str, diagnostics: &[Diagnostic]) {
    for diagnostic in diagnostics.iter().take(MAX_PRINTED) {
        let _ = write!(out, "{}", render(shown, source, diagnostic));
    }
    let rest = diagnostics.get(MAX_PRINTED..).unwrap_or_default();
    if rest.is_empty() {
        return;
    }
    let errors = rest
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = rest.len() - errors;
    let more = |n: usize, what: &str| format!("{} more {what}{}", grouped(n), plural(n));
    let counted = match (errors, warnings) {
        (errors, 0) => more(errors, "error"),
        (0, warnings) => more(warnings, "warning"),
        (errors, warnings) => format!("{}, {}", more(errors, "error"), more(warnings, "warning")),
    };
    let _ = writeln!(out, "{shown}: … and {counted}");
}

/// `n` with a comma between groups of three digits: `1,234`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Raises the open-files limit to the hard one and refuses a stage whose estimated need
/// (`plan::descriptors`) is above it, before any connection is made.
fn check_open_files(
    checked: &plan::CheckedPlan,
    extra_outputs: usize,
    segment: &crate::segment::Segment,
    skip_collect: bool,
) -> Result<(), Error> {
    let limit = crate::exec::raise_open_files_limit();
    let plan = &checked.plan;
    let Some(stage) = plan.stages.get(checked.stage.as_str()) else {
        return Ok(());
    };
    let mock = checked
        .env
        .as_deref()
        .and_then(|name| plan.environments.get(name))
        .is_some_and(|environment| environment.mock().is_some());
    let scenarios: Vec<_> = plan.scenarios.values().collect();
    // This segment's share of the VUs (all of them for the whole run).
    let need = plan::descriptors::estimate_share(
        &scenarios,
        stage,
        mock,
        if skip_collect { 0 } else { plan.collect.len() },
        plan.outputs.len() + extra_outputs,
        |scenarios, peak| segment.vus_estimate(scenarios, peak),
    );
    // Descriptors the process was started with are not free for sockets either.
    let inherited = crate::exec::inherited_descriptors().unwrap_or(0);
    let total = need.total() + inherited;
    match limit {
        Some(limit) if total > limit => Err(Error::OpenFiles {
            stage: checked.stage.clone(),
            limit,
            need: total,
            how: if inherited > 0 {
                format!("{need} + {inherited} already open when loadplan started")
            } else {
                need.to_string()
            },
        }),
        _ => Ok(()),
    }
}

/// From now on (the run is over, its own handlers are gone with its runtime) SIGINT and
/// SIGTERM end any wait for a document another process has locked: that document is
/// skipped, the other outputs are written, and the exit code is 130. A failed registration
/// leaves the wait as it was.
fn end_lock_waits_on_signal() {
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(signal, &GIVE_UP_WAITING);
    }
}

/// What the summary says about the baseline: the run compared with (its file, start and
/// commit), or, when `baseline: latest…` found none, that there is none and why.
fn baseline_line(
    prepared: &crate::report::outputs::Prepared,
    plan_baseline: Option<&str>,
) -> Option<String> {
    use crate::report::outputs::Latest;
    match (&prepared.baseline, &prepared.baseline_file) {
        (Some(run), file) => {
            let mut about = vec![format!("started {}", run.started)];
            if let Some(commit) = &run.git_commit {
                about.push(format!("commit {}", commit.get(..12).unwrap_or(commit)));
            }
            if let Some(label) = &run.label {
                about.push(label.clone());
            }
            if !run.passed {
                about.push("its thresholds failed".to_owned());
            }
            if run.partial {
                about.push("⚠ partial: it stopped early".to_owned());
            }
            let file = file
                .as_ref()
                .map_or_else(String::new, |f| format!(" {}", f.display()));
            Some(format!("baseline:{file} ({})", about.join(", ")))
        }
        (None, _) if prepared.first_run => Some(
            match plan_baseline.and_then(Latest::from_plan) {
                Some(Latest::Passed) => {
                    "baseline: none, no earlier complete run of this stage and environment passed"
                }
                _ => "baseline: none, no earlier complete run of this stage and environment",
            }
            .to_owned(),
        ),
        (None, _) => None,
    }
}

/// The plan's outputs and `--out`s checked and resolved before the load (or the merge),
/// their problems printed where the plan says them (exit 2); with the summary's baseline
/// line and the baseline run, read.
fn prepare_outputs(
    checked: &plan::CheckedPlan,
    started_at: std::time::SystemTime,
    label: Option<&str>,
    base: &Path,
    outs: &[(OutKind, std::path::PathBuf)],
    baseline: Option<&Path>,
    (shown, source): (&str, &str),
) -> Result<
    (
        crate::report::outputs::Prepared,
        Option<String>,
        Option<crate::results::Results>,
    ),
    Error,
> {
    let started = humantime::format_rfc3339_seconds(started_at).to_string();
    let context = output_context(checked, &started, label);
    let extra = extra_targets(outs);
    let prepared =
        match crate::report::outputs::prepare_run(checked, &context, base, &extra, baseline) {
            Ok(prepared) => prepared,
            Err(problems) => {
                print_problems(&mut std::io::stderr().lock(), shown, source, &problems);
                return Err(Error::OutputsUnusable {
                    plan: shown.to_owned(),
                });
            }
        };
    let line = baseline_line(&prepared, checked.plan.baseline.as_deref());
    let results = match &prepared.baseline {
        Some(document) => Some(
            document
                .results()
                .map_err(|error| Error::Baseline(error.into()))?,
        ),
        None => None,
    };
    Ok((prepared, line, results))
}

/// `loadplan run`'s options besides the plan and its selection.
struct RunArgs<'a> {
    outs: &'a [(OutKind, std::path::PathBuf)],
    workdir: Option<&'a Path>,
    baseline: Option<&'a Path>,
    label: Option<&'a str>,
    quiet: bool,
    segments: &'a crate::cli::SegmentArgs,
}

impl<'a> RunArgs<'a> {
    fn new(outputs: &'a crate::cli::OutputArgs, segments: &'a crate::cli::SegmentArgs) -> Self {
        Self {
            outs: &outputs.outs,
            workdir: outputs.workdir.as_deref(),
            baseline: outputs.baseline.as_deref(),
            label: outputs.label.as_deref(),
            quiet: outputs.quiet,
            segments,
        }
    }
}

/// `loadplan run`.
fn run_plan(path: &Path, selection: &Selection, args: &RunArgs<'_>) -> Result<(), Error> {
    let RunArgs {
        outs,
        workdir,
        baseline,
        label,
        quiet,
        segments,
    } = *args;
    let segment = segment(segments)?;
    let gate = start_gate(segments)?;
    let shown = path.display().to_string();
    let source = plan::source::read(path).map_err(|error| Error::PlanUnreadable {
        plan: shown.clone(),
        error: error.into(),
    })?;
    let selection = &with_files(selection.clone(), path, workdir);
    let (checked, diagnostics) = plan::load(&source, selection);
    print_diagnostics(&mut std::io::stderr().lock(), &shown, &source, &diagnostics);
    let Some(mut checked) = checked else {
        return Err(Error::PlanInvalid { plan: shown });
    };
    if segments.segment.is_some() {
        // A segment measures a share of the run: the plan's outputs (a row in the
        // baselines document, the history) and its baseline are `loadplan merge`'s, which
        // writes them once for the whole. A segment writes only what `--out` asks.
        // Live outputs stay: each segment sends its own share, labelled `segment`.
        checked
            .plan
            .outputs
            .retain(|output| matches!(output, plan::model::Output::Prometheus(_)));
        checked.plan.baseline = None;
    }
    // A `pid_file` is a path of the plan too: relative to the plan file.
    for source in &mut checked.plan.collect {
        if let plan::collect::CollectSource::Process(process) = source
            && let Some(file) = &mut process.pid_file
        {
            *file = relative_to(base(path, workdir), Path::new(file.as_str()))
                .display()
                .to_string();
        }
    }
    let mut secrets = indexmap::IndexMap::new();
    let mut missing = Vec::new();
    for name in &checked.plan.secrets {
        match std::env::var(name) {
            Ok(value) => {
                secrets.insert(name.clone(), value);
            }
            Err(_) => missing.push(name.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(Error::MissingSecrets { names: missing });
    }
    let redactor = crate::redact::Redactor::new(secrets.values().map(String::as_str));
    check_open_files(
        &checked,
        outs.len(),
        &segment,
        segment.index != 1 && !segments.collect_here,
    )?;
    let started_at = std::time::SystemTime::now();
    let base = base(path, workdir);
    let (prepared, baseline_line, baseline_results) = prepare_outputs(
        &checked,
        started_at,
        label,
        base,
        outs,
        baseline,
        (&shown, &source),
    )?;
    let live = prepare_live(
        &checked,
        (started_at, label),
        outs,
        &secrets,
        &redactor,
        segments.segment.is_some().then_some(&segment),
        (&shown, &source),
    )?;
    let first_run = prepared.first_run;
    let (targets, baseline, baseline_file) =
        (prepared.targets, prepared.baseline, prepared.baseline_file);
    let producible = crate::report::summary::Producible::of(&checked.plan);
    let (name, env, stage) = (
        checked.plan.name.clone(),
        checked.env.clone(),
        checked.stage.clone(),
    );
    // What `loadplan merge` needs to put the segments together, and what a barrier's
    // ready files must agree on: the plan's text and the selection it was loaded with.
    let selection_record = selection_record(&checked, selection);
    let plan_hash = plan::source::plan_hash(&source, &selection_record);
    let gate = match gate {
        Gate::Now => crate::exec::StartGate::Now,
        Gate::At(at) => crate::exec::StartGate::At(at),
        Gate::Barrier(dir) => crate::exec::StartGate::Barrier {
            dir,
            timeout: segments.barrier_timeout.0,
            plan_hash: plan_hash.clone(),
        },
    };
    let started_by = crate::exec::start::started_by(&gate);
    let rules = checked.thresholds.clone();
    let not_run = checked.not_run.clone();
    let overrides = checked.overrides.clone();
    if !quiet {
        let overrides = plan::overrides::describe(selection)
            .map_or_else(String::new, |changed| format!(" ({changed})"));
        eprintln!(
            "running {name} · env {} · stage {stage}{overrides}",
            env.as_deref().unwrap_or("-")
        );
    }
    let baseline_results = baseline_results.map(std::sync::Arc::new);
    let options = crate::exec::RunOptions {
        progress: if quiet {
            crate::exec::Progress::Off
        } else if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            crate::exec::Progress::Live
        } else {
            crate::exec::Progress::Lines
        },
        abort_rules: rules
            .iter()
            .enumerate()
            .filter(|(index, r)| r.abort_on_fail && !not_run.iter().any(|(i, _)| i == index))
            .map(|(_, r)| r.clone())
            .collect(),
        baseline: baseline_results.clone(),
        handle_signals: true,
        redactor: redactor.clone(),
        dir: Some(base.to_path_buf()),
        skip_collect: segment.index != 1 && !segments.collect_here,
        second_histograms: segments.segment.is_some(),
        segment: segment.clone(),
        start: gate,
        live,
    };
    let finished = crate::exec::execute(checked, secrets, &options).map_err(|error| {
        let text = redactor.redact(&error.to_string()).into_owned();
        match error {
            crate::exec::RunError::Start(crate::exec::start::StartError::Interrupted) => {
                eprintln!("{text}; nothing was sent");
                Error::Interrupted
            }
            crate::exec::RunError::Setup(crate::exec::PhaseFailure::Interrupted) => {
                eprintln!("{text}");
                Error::Interrupted
            }
            crate::exec::RunError::Start(start) if start.is_usage() => Error::Segment(text.into()),
            crate::exec::RunError::Start(_) => Error::MissedStart(text.into()),
            _ => Error::Run(text.into()),
        }
    })?;
    end_lock_waits_on_signal();
    let results = finished.results;
    if let Some(why) = &results.stopped_early {
        let why = redactor.redact(why);
        eprintln!("the run stopped early: {why}; the results are partial");
    }
    let finished_at = std::time::SystemTime::now();
    let segment = segments
        .segment
        .is_some()
        .then(|| crate::report::json::SegmentRecord {
            index: segment.index,
            count: segment.count,
            weights: segment.weights.clone(),
            start: humantime::format_rfc3339_millis(finished.start).to_string(),
            started_by: started_by.to_owned(),
            plan_hash,
            selection: selection_record,
            collected: !options.skip_collect,
        });
    conclude(
        &results,
        Conclusion {
            name: &name,
            env: env.as_deref(),
            stage: &stage,
            shown: &shown,
            rules: &rules,
            not_run: &not_run,
            overrides,
            first_run,
            baseline_line,
            targets: &targets,
            baseline: baseline.as_ref(),
            baseline_file,
            baseline_results: baseline_results.as_deref(),
            label,
            quiet,
            started: started_at,
            finished: finished_at,
            interrupted: finished.interrupted,
            partial: false,
            segment,
            merged_from: Vec::new(),
            producible,
        },
    )
}

/// What the end of a run needs besides its results (`run`'s, or the segments' merged by
/// `merge`).
struct Conclusion<'a> {
    name: &'a str,
    env: Option<&'a str>,
    stage: &'a str,
    /// The plan file, as shown.
    shown: &'a str,
    rules: &'a [plan::ThresholdRule],
    not_run: &'a [(usize, String)],
    overrides: Option<String>,
    /// `baseline: latest` found no earlier run: `baseline * k` thresholds are skipped.
    first_run: bool,
    baseline_line: Option<String>,
    targets: &'a [Target],
    baseline: Option<&'a crate::report::json::RunDocument>,
    baseline_file: Option<std::path::PathBuf>,
    baseline_results: Option<&'a crate::results::Results>,
    label: Option<&'a str>,
    quiet: bool,
    started: std::time::SystemTime,
    finished: std::time::SystemTime,
    /// SIGINT or SIGTERM stopped the run.
    interrupted: bool,
    /// Partial even if the results do not say they stopped early (a merged segment was).
    partial: bool,
    /// This run's place in a split run (`--segment I/N`), for `merge`.
    segment: Option<crate::report::json::SegmentRecord>,
    /// The segment files `merge` made the results of.
    merged_from: Vec<String>,
    /// Which metrics the plan's steps can record (the summary leaves out the others).
    producible: crate::report::summary::Producible,
}

/// The end of a run: judges the thresholds, prints the summary, writes every output and
/// picks the exit code.
fn conclude(results: &crate::results::Results, run: Conclusion<'_>) -> Result<(), Error> {
    let Conclusion {
        name,
        env,
        stage,
        shown,
        rules,
        not_run,
        overrides,
        first_run,
        baseline_line,
        targets,
        baseline,
        baseline_file,
        baseline_results,
        label,
        quiet,
        started: started_at,
        finished: finished_at,
        interrupted,
        partial,
        segment,
        merged_from,
        producible,
    } = run;
    let mut verdict = crate::verdict::judge(rules, results, baseline_results);
    if first_run {
        verdict.skip_missing_baseline();
    }
    verdict.skip_not_run(not_run);
    if segment.is_some() {
        verdict.skip_for_segment();
    }
    let figures = crate::report::figures(results);
    if !quiet {
        let heading = crate::report::summary::Heading {
            plan: name,
            env,
            stage,
            seconds: results.duration.as_secs_f64(),
            vus_max: results.vus_max,
            baseline: baseline_line,
            width: crate::report::summary::terminal_width(),
            producible,
        };
        let _ = crate::report::summary::write(
            &mut std::io::stdout().lock(),
            &heading,
            &figures,
            &verdict,
            results,
        );
    }
    let meta = crate::report::json::Meta {
        plan: name,
        plan_file: Some(shown),
        env,
        stage,
        started: started_at,
        finished: finished_at,
        label,
        git_commit: crate::report::json::git_commit(),
    };
    let mut document = crate::report::json::RunDocument::new(&meta, results, &figures, &verdict);
    document.baseline_file = baseline_file.map(|file| file.display().to_string());
    document.overrides = overrides;
    document.partial |= partial;
    document.segment = segment;
    document.merged_from = merged_from;
    let options = crate::report::model::ReportOptions::default();
    let written = crate::report::outputs::write_all(targets, &document, baseline, &options);
    // Which exit code wins, when several apply: interrupted (130), then a failed
    // threshold (99), then an output that could not be written (1). The outputs that
    // could be are written either way, and an output's error is always printed.
    let interrupted = interrupted || GIVE_UP_WAITING.load(std::sync::atomic::Ordering::SeqCst);
    let output_error = match written {
        Ok(written) => {
            if !quiet {
                written.iter().for_each(|line| eprintln!("wrote {line}"));
            }
            None
        }
        Err(error) => Some(Error::from(error)),
    };
    if interrupted {
        if let Some(error) = output_error {
            eprintln!("{error}");
        }
        Err(Error::Interrupted)
    } else if !verdict.passed() {
        if let Some(error) = output_error {
            eprintln!("{error}");
        }
        Err(Error::ThresholdsFailed)
    } else {
        output_error.map_or(Ok(()), Err)
    }
}

/// `loadplan merge`: the segments' results added exactly, judged once, written as the
/// plan says. The files are checked to be every segment of one run, and the plan to be
/// the one they ran (its hash with their selection), before anything is written.
fn merge(
    files: &[std::path::PathBuf],
    plan_path: Option<&Path>,
    args: &RunArgs<'_>,
) -> Result<(), Error> {
    let RunArgs {
        outs,
        workdir,
        baseline,
        label,
        quiet,
        ..
    } = *args;
    let mut documents = Vec::with_capacity(files.len());
    for path in files {
        let document = crate::report::json::RunDocument::load(path)
            .map_err(|error| Error::Input(error.to_string().into()))?;
        documents.push((path.display().to_string(), document));
    }
    let segments = crate::report::merge::segments(documents)
        .map_err(|refusal| Error::Input(refusal.into()))?;
    let Some((first_file, first, record)) = segments.first() else {
        // clap asks for one file at least.
        return Err(Error::Input("no results file to merge".into()));
    };
    let path = match (plan_path, &first.plan_file) {
        (Some(path), _) => path.to_path_buf(),
        (None, Some(file)) => std::path::PathBuf::from(file),
        (None, None) => {
            return Err(Error::Input(
                format!("{first_file} does not say which plan it ran: name it with --plan").into(),
            ));
        }
    };
    let shown = path.display().to_string();
    let source = plan::source::read(&path).map_err(|error| Error::PlanUnreadable {
        plan: shown.clone(),
        error: error.into(),
    })?;
    let hash = plan::source::plan_hash(&source, &record.selection);
    if hash != record.plan_hash {
        return Err(Error::Input(
            format!(
                "{shown}: the plan file changed since the segments ran (it hashes to {hash} with \
                 their selection, they ran {}): give the plan they ran with --plan",
                record.plan_hash
            )
            .into(),
        ));
    }
    let selection = recorded_selection(&record.selection)
        .map_err(|error| Error::Input(format!("{first_file}: {error}").into()))?;
    let selection = with_files(selection, &path, workdir);
    let (checked, diagnostics) = plan::load(&source, &selection);
    print_diagnostics(&mut std::io::stderr().lock(), &shown, &source, &diagnostics);
    let Some(checked) = checked else {
        return Err(Error::PlanInvalid { plan: shown });
    };
    let mut decoded = Vec::with_capacity(segments.len());
    for (file, document, _) in &segments {
        let results = document
            .results()
            .map_err(|error| Error::Input(format!("{file}: {error}").into()))?;
        decoded.push(results);
    }
    let parts: Vec<crate::results::Part<'_>> = segments
        .iter()
        .zip(&decoded)
        .map(|((file, _, record), results)| crate::results::Part {
            label: format!("segment {} of {} ({file})", record.index, record.count),
            results,
            collected: record.collected,
        })
        .collect();
    let mut results = crate::results::merge(&parts).map_err(|error| Error::Input(error.into()))?;
    // Derived metrics read the merged figures, as a run's read its own.
    let stage_duration_s = checked
        .plan
        .stages
        .get(checked.stage.as_str())
        .map_or(0.0, |stage| {
            crate::schedule::Schedule::of(stage)
                .duration()
                .as_secs_f64()
        });
    let run = crate::derive::RunValues {
        vars: &checked.vars,
        stage_duration_s,
    };
    results.derived =
        crate::derive::derive(&checked.derived, &checked.plan.derived, &results, &run);
    let instant = |text: &str| humantime::parse_rfc3339_weak(text).ok();
    let started_at = instant(&record.start).ok_or_else(|| {
        Error::Input(
            format!(
                "{first_file}: the start `{}` is not an RFC 3339 instant",
                record.start
            )
            .into(),
        )
    })?;
    let finished_at = segments
        .iter()
        .filter_map(|(_, document, _)| instant(&document.finished))
        .max()
        .unwrap_or(started_at);
    let (prepared, baseline_line, baseline_results) = prepare_outputs(
        &checked,
        started_at,
        label,
        base(&path, workdir),
        outs,
        baseline,
        (&shown, &source),
    )?;
    if !quiet {
        eprintln!(
            "merging {} segments of {} · env {} · stage {}",
            segments.len(),
            checked.plan.name,
            checked.env.as_deref().unwrap_or("-"),
            checked.stage
        );
    }
    if let Some(why) = &results.stopped_early {
        eprintln!("a segment stopped early: {why}; the results are partial");
    }
    end_lock_waits_on_signal();
    conclude(
        &results,
        Conclusion {
            name: &checked.plan.name,
            env: checked.env.as_deref(),
            stage: &checked.stage,
            shown: &shown,
            rules: &checked.thresholds,
            not_run: &checked.not_run,
            overrides: checked.overrides.clone(),
            first_run: prepared.first_run,
            baseline_line,
            targets: &prepared.targets,
            baseline: prepared.baseline.as_ref(),
            baseline_file: prepared.baseline_file.clone(),
            baseline_results: baseline_results.as_ref(),
            label,
            quiet,
            started: started_at,
            finished: finished_at,
            interrupted: false,
            partial: segments.iter().any(|(_, document, _)| document.partial),
            segment: None,
            merged_from: segments.iter().map(|(file, _, _)| file.clone()).collect(),
            producible: crate::report::summary::Producible::of(&checked.plan),
        },
    )
}

/// The selection a segment ran with, back from its record.
fn recorded_selection(record: &plan::source::SelectionRecord) -> Result<Selection, String> {
    let duration =
        match &record.duration {
            Some(text) => Some(text.parse::<plan::units::Duration>().map_err(|error| {
                format!("the recorded --duration `{text}` does not read: {error}")
            })?),
            None => None,
        };
    // `merge` loads the plan as the segments did, whatever its own environment holds.
    let recorded = record.process_env.clone();
    Ok(Selection {
        env: record.env.clone(),
        stage: Some(record.stage.clone()),
        vars: record.vars.clone(),
        process_env: Some(plan::EnvLookup::new(move |name| {
            recorded.get(name).map(OsString::from)
        })),
        vus: record.vus,
        duration,
        scenarios: record.scenarios.clone(),
        env_from_variable: false,
        stage_from_variable: false,
        files: None,
    })
}

/// The share of the run `--segment` and `--segment-weights` give this process (the
/// whole without them); `auto/N` reads `$JOB_COMPLETION_INDEX` (0-based).
fn segment(args: &crate::cli::SegmentArgs) -> Result<crate::segment::Segment, Error> {
    let Some(arg) = args.segment else {
        return Ok(crate::segment::Segment::whole());
    };
    let index = match arg.index {
        Some(index) => index,
        None => {
            let value = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
                Error::Segment(
                    "--segment auto/N takes I from $JOB_COMPLETION_INDEX, which is not set".into(),
                )
            })?;
            match value.trim().parse::<u32>() {
                Ok(index) if index < arg.count => index + 1,
                _ => {
                    return Err(Error::Segment(
                        format!(
                            "$JOB_COMPLETION_INDEX is `{}`: --segment auto/{} needs 0 to {}",
                            crate::redact::Redactor::default().clean(&value),
                            arg.count,
                            arg.count - 1
                        )
                        .into(),
                    ));
                }
            }
        }
    };
    crate::segment::Segment::new(
        index,
        arg.count,
        args.segment_weights
            .clone()
            .map(|weights| weights.0)
            .unwrap_or_default(),
    )
    .map_err(|error| Error::Segment(error.into()))
}

/// When `--start-at` or `--barrier` says the run begins, as read from the command line
/// (a barrier's plan hash is known once the plan is loaded).
enum Gate {
    Now,
    At(std::time::SystemTime),
    Barrier(std::path::PathBuf),
}

/// `--start-at RFC3339` or `--barrier dir:PATH`, checked before the plan is read.
fn start_gate(args: &crate::cli::SegmentArgs) -> Result<Gate, Error> {
    if let Some(text) = &args.start_at {
        return crate::segment::parse_instant(text)
            .map(Gate::At)
            .map_err(|error| Error::Segment(error.into()));
    }
    let Some(barrier) = &args.barrier else {
        return Ok(Gate::Now);
    };
    match barrier.strip_prefix("dir:") {
        Some(dir) if !dir.is_empty() => Ok(Gate::Barrier(std::path::PathBuf::from(dir))),
        Some(_) => Err(Error::Segment(
            "--barrier dir: names no folder; write --barrier dir:PATH".into(),
        )),
        None => Err(Error::Segment(
            format!(
                "--barrier `{barrier}` is not a barrier loadplan knows; a shared folder is \
                 written --barrier dir:PATH"
            )
            .into(),
        )),
    }
}

/// The selection a segment run was loaded with, as its results keep it: the environment
/// and stage as the checked plan resolved them, the command line's `--var`, `--vus`,
/// `--duration` and `--scenario`, and the values of the process environment variables
/// the plan's `from_env` variables read.
fn selection_record(
    checked: &plan::CheckedPlan,
    selection: &Selection,
) -> plan::source::SelectionRecord {
    plan::source::SelectionRecord {
        env: checked.env.clone(),
        stage: checked.stage.clone(),
        vars: selection.vars.clone(),
        process_env: checked
            .from_env
            .iter()
            .filter_map(|name| Some((name.clone(), std::env::var(name).ok()?)))
            .collect(),
        vus: selection.vus,
        duration: selection.duration.map(|duration| duration.to_string()),
        scenarios: selection.scenarios.clone(),
    }
}

/// What output paths, `under` and `section` may name: the run as far as it is known
/// before it starts, and the environment as the plan sets it (a mock's URLs come later).
/// No secrets: a path is printed and becomes a file name.
fn output_context(
    checked: &plan::CheckedPlan,
    started: &str,
    label: Option<&str>,
) -> minijinja::Value {
    let context = serde_json::Value::Object(output_values(checked, started, label));
    minijinja::Value::from(minijinja::value::Serde(context))
}

/// The values of [`output_context`].
fn output_values(
    checked: &plan::CheckedPlan,
    started: &str,
    label: Option<&str>,
) -> serde_json::Map<String, serde_json::Value> {
    let environment = checked
        .env
        .as_deref()
        .and_then(|name| checked.plan.environments.get(name));
    let mut env = crate::exec::env_context(checked.env.as_deref(), environment, None);
    // Without an environment, paths have always seen `env.name` as none.
    env.entry("name").or_insert(serde_json::Value::Null);
    let mut context = crate::exec::template_base(env, &checked.vars, None, &checked.stage);
    context.insert(
        "run".into(),
        serde_json::json!({
            "started": started,
            "date": started.get(..10).unwrap_or(started),
            "plan": checked.plan.name,
            "stage": checked.stage,
            "env": checked.env,
            "label": label.unwrap_or(""),
        }),
    );
    context.insert("plan".into(), serde_json::json!(checked.plan.name));
    context
}

/// The plan's `prometheus` outputs and `--out prometheus=URL`s resolved before the load:
/// URL, headers and labels rendered (with the secrets), the URL checked; problems printed
/// where the plan says them (exit 2). Loadplan's labels: `plan`, `env` (when there is
/// one), `stage`, and `segment` (`2/6`) in a split run.
fn prepare_live(
    checked: &plan::CheckedPlan,
    (started_at, label): (std::time::SystemTime, Option<&str>),
    outs: &[(OutKind, std::path::PathBuf)],
    secrets: &indexmap::IndexMap<String, String>,
    redactor: &crate::redact::Redactor,
    segment: Option<&crate::segment::Segment>,
    (shown, source): (&str, &str),
) -> Result<Vec<crate::report::live::LiveTarget>, Error> {
    let extra: Vec<String> = outs
        .iter()
        .filter(|(kind, _)| *kind == OutKind::Prometheus)
        .map(|(_, url)| url.to_string_lossy().into_owned())
        .collect();
    let wanted = !extra.is_empty()
        || checked
            .plan
            .outputs
            .iter()
            .any(|output| matches!(output, plan::model::Output::Prometheus(_)));
    if !wanted {
        return Ok(Vec::new());
    }
    let started = humantime::format_rfc3339_seconds(started_at).to_string();
    let mut values = output_values(checked, &started, label);
    values.insert("secrets".into(), serde_json::json!(secrets));
    let context =
        minijinja::Value::from(minijinja::value::Serde(serde_json::Value::Object(values)));
    let mut labels = vec![("plan".to_owned(), checked.plan.name.clone())];
    if let Some(env) = checked.env.as_deref().filter(|env| !env.is_empty()) {
        labels.push(("env".to_owned(), env.to_owned()));
    }
    labels.push(("stage".to_owned(), checked.stage.clone()));
    if let Some(segment) = segment {
        labels.push((
            "segment".to_owned(),
            format!("{}/{}", segment.index, segment.count),
        ));
    }
    let (targets, problems) = crate::report::live::prepare(
        &checked.plan.outputs,
        &extra,
        &checked.templates,
        &context,
        &labels,
        redactor,
    );
    if problems.is_empty() {
        return Ok(targets);
    }
    print_problems(&mut std::io::stderr().lock(), shown, source, &problems);
    Err(Error::OutputsUnusable {
        plan: shown.to_owned(),
    })
}

/// `selection` reading the plan's `data:` files relative to the folder of the plan's
/// paths ([`base`]).
fn with_files(selection: Selection, plan: &Path, workdir: Option<&Path>) -> Selection {
    Selection {
        files: Some(plan::source::data_files(base(plan, workdir).to_path_buf())),
        ..selection
    }
}

/// The folder the plan's paths are relative to: `--workdir`, or the plan file's own.
fn base<'a>(plan: &'a Path, workdir: Option<&'a Path>) -> &'a Path {
    workdir.unwrap_or_else(|| {
        plan.parent()
            .filter(|folder| !folder.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    })
}

/// The outputs of `--out KIND=FILE`, their paths as given (from the current directory).
fn extra_targets(outs: &[(OutKind, std::path::PathBuf)]) -> Vec<Target> {
    outs.iter()
        .filter_map(|(kind, file)| match kind {
            OutKind::Json => Some(Target::Json(file.clone())),
            OutKind::Csv => Some(Target::Csv(file.clone())),
            OutKind::Junit => Some(Target::Junit(file.clone())),
            OutKind::Html => Some(Target::Html(file.clone())),
            OutKind::Markdown => Some(Target::Markdown(MarkdownTarget {
                file: Some(file.clone()),
                ..MarkdownTarget::default()
            })),
            // Live, during the run: the executor sends it; nothing is written after.
            OutKind::Prometheus => None,
        })
        .collect()
}

/// The outputs' problems as diagnostics, located where the plan says them; those of the
/// command line (`--out`, `--baseline`) are not in the plan and have no place.
fn output_diagnostics(source: &str, problems: &[Problem]) -> Vec<Diagnostic> {
    let document = plan::yaml::Document::load(source).ok();
    problems
        .iter()
        .map(|problem| {
            let span = problem
                .at
                .as_ref()
                .zip(document.as_ref())
                .map(|(at, document)| document.value_span(at));
            Diagnostic::error(span, problem.error.to_string()).with_help(problem.help.clone())
        })
        .collect()
}

/// Prints the outputs' problems: located in the plan, or, for the command line's, as
/// `error: …`.
fn print_problems(out: &mut impl Write, shown: &str, source: &str, problems: &[Problem]) {
    let mut pairs: Vec<_> = problems
        .iter()
        .zip(output_diagnostics(source, problems))
        .collect();
    // The command line's first, then the plan's in the plan's order.
    pairs.sort_by_key(|(_, diagnostic)| diagnostic.span.map(|span| (span.line, span.col)));
    for (problem, diagnostic) in pairs {
        if problem.at.is_some() {
            let _ = write!(out, "{}", render(shown, source, &diagnostic));
        } else {
            let _ = writeln!(out, "error: {}", diagnostic.message);
            if let Some(help) = &diagnostic.help {
                let _ = writeln!(out, "  = help: {help}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_selection_reads_back_with_its_environment() {
        let record = plan::source::SelectionRecord {
            env: Some("staging".into()),
            stage: "scale".into(),
            vars: vec![("n".into(), "3".into())],
            process_env: [("LOADPLAN_TEST_MERGE_VUS".to_owned(), "40".to_owned())].into(),
            vus: Some(7),
            duration: Some("1m30s".into()),
            scenarios: vec!["api".into()],
        };
        let selection = recorded_selection(&record).expect("it reads");
        assert_eq!(selection.env.as_deref(), Some("staging"));
        assert_eq!(selection.stage.as_deref(), Some("scale"));
        assert_eq!(selection.vars, record.vars);
        assert_eq!(selection.vus, Some(7));
        assert_eq!(
            selection.duration.map(|d| d.0),
            Some(std::time::Duration::from_secs(90))
        );
        assert_eq!(selection.scenarios, ["api"]);
        let lookup = selection.process_env.expect("a lookup");
        assert_eq!(
            lookup.get("LOADPLAN_TEST_MERGE_VUS"),
            Some(OsString::from("40"))
        );
        // The merging process's own environment is not read.
        assert_eq!(lookup.get("PATH"), None);
        let bad = plan::source::SelectionRecord {
            duration: Some("soon".into()),
            ..record
        };
        let error = recorded_selection(&bad).map(|_| ()).expect_err("refused");
        assert!(
            error.starts_with("the recorded --duration `soon`"),
            "{error}"
        );
    }
}
