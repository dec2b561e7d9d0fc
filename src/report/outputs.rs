//! Writing every output of a run: `prepare` resolves the plan's `outputs` (paths rendered,
//! template files read, `baseline: latest` found) before the run starts, so a typo costs
//! nothing; `write_all` renders each one from the report model afterwards. `loadplan run`
//! and `loadplan report` both end here.

use std::path::{Path, PathBuf};

use std::io::Write;

use super::document::{self, DocumentError, Edit, Placement};
use super::error::{OutputError, PrepareError, ReportError};
use super::history::HistoryError;
use super::json::RunDocument;
use super::model::{Report, ReportOptions};
use super::write::{self, Fill, Missing, WriteError};
use super::{chart, fill, history, html, junit, markdown};
use crate::plan::model::Output;
use crate::plan::template::{Template, TemplateSet};
use crate::plan::yaml::Segment;

/// One output, ready to write.
#[derive(Debug, Clone)]
pub enum Target {
    Json(PathBuf),
    Csv(PathBuf),
    /// A CSV history with the plan's columns: name → expression (`http_req_duration.p95`).
    CsvColumns(PathBuf, indexmap::IndexMap<String, String>),
    Junit(PathBuf),
    Markdown(MarkdownTarget),
    /// The self-contained HTML report.
    Html(PathBuf),
}

/// A Markdown output with its paths rendered and its template texts read.
#[derive(Debug, Clone, Default)]
pub struct MarkdownTarget {
    /// Replace this file with the report.
    pub file: Option<PathBuf>,
    /// Or write into this existing document.
    pub append_to: Option<PathBuf>,
    pub under: Option<String>,
    pub section: Option<String>,
    /// `(name for errors, source)`; the built-in one when `None`.
    pub template: Option<(String, String)>,
    pub row_template: Option<(String, String)>,
    pub regression_factor: Option<f64>,
    /// Fill this table of `append_to` in place instead of adding a report.
    pub fill: Option<Box<fill::Spec>>,
}

/// Where a problem found before the load is in the plan: a path of keys
/// (`outputs[2].markdown.under`), or `None` for the command line.
pub type At = Option<Vec<Segment>>;

/// An output (or the baseline) that cannot be used, found before the load: where the plan
/// says it, and why.
#[derive(Debug)]
pub struct Problem {
    pub at: At,
    pub error: ReportError,
    /// How to fix it, when it can be told (`did you mean …?`).
    pub help: Option<String>,
}

impl Problem {
    fn new(at: &At, error: PrepareError) -> Self {
        Self {
            at: at.clone(),
            error: ReportError::Prepare(error),
            help: None,
        }
    }
}

/// `path` as seen from the folder `base` (the plan file's): `base/path` when `path` is
/// relative, with `dir/..` taken out where `dir` is a real folder (not a link, whose `..`
/// is elsewhere), so `plans/../docs/x.md` is shown and used as `docs/x.md`.
pub fn relative_to(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() || base.as_os_str().is_empty() || base == Path::new(".") {
        return path.to_path_buf();
    }
    let mut out = PathBuf::new();
    let mut real = 0;
    for component in base.join(path).components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir
                if real > 0 && std::fs::symlink_metadata(&out).is_ok_and(|m| m.is_dir()) =>
            {
                out.pop();
                real -= 1;
            }
            std::path::Component::Normal(part) => {
                out.push(part);
                real += 1;
            }
            other => {
                out.push(other);
                real = 0;
            }
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// The plan's outputs with their paths (and `under`/`section`) rendered with `context`
/// and made relative to `base`, template files read and compiled, plus `extra` targets
/// (`--out`) as given; every problem, each with where the plan says it.
fn prepare(
    outputs: &[Output],
    templates: &TemplateSet,
    context: &minijinja::Value,
    base: &Path,
    extra: &[Target],
) -> (Vec<(At, Target)>, Vec<Problem>) {
    let mut problems = Vec::new();
    let render = |template: &Template| -> Result<String, PrepareError> {
        if !Template::is_dynamic(template.as_str()) {
            return Ok(template.as_str().to_owned());
        }
        match templates.render_source(template.as_str(), context) {
            Some(Ok(text)) => Ok(text),
            Some(Err(error)) => Err(PrepareError::Path {
                template: template.to_string(),
                detail: error.to_string(),
            }),
            None => Ok(template.as_str().to_owned()),
        }
    };
    let mut targets: Vec<(At, Target)> = extra.iter().map(|t| (None, t.clone())).collect();
    for (index, output) in outputs.iter().enumerate() {
        let at = |key: &str| -> At {
            let mut at = vec![Segment::from("outputs"), Segment::Index(index)];
            if matches!(output, Output::Markdown(_)) {
                at.push(Segment::from("markdown"));
            }
            at.push(Segment::from(key));
            Some(at)
        };
        let before = problems.len();
        let mut path = |key: &str, template: &Template| match render(template) {
            Ok(text) => relative_to(base, Path::new(&text)),
            Err(error) => {
                problems.push(Problem::new(&at(key), error));
                PathBuf::new()
            }
        };
        let (key, target) = match output {
            Output::Json(file) => ("json", Target::Json(path("json", file))),
            Output::Csv(csv) => (
                "csv",
                match csv.columns() {
                    None => Target::Csv(path("csv", csv.file())),
                    Some(columns) => Target::CsvColumns(path("csv", csv.file()), columns.clone()),
                },
            ),
            Output::Junit(file) => ("junit", Target::Junit(path("junit", file))),
            Output::Html(file) => ("html", Target::Html(path("html", file))),
            // Live, during the run: not written after it (the executor sends it).
            Output::Prometheus(_) => continue,
            Output::Markdown(m) => {
                let mut target = MarkdownTarget {
                    file: m.file.as_ref().map(|t| path("file", t)),
                    append_to: m.append_to.as_ref().map(|t| path("append_to", t)),
                    regression_factor: m.regression_factor,
                    ..MarkdownTarget::default()
                };
                for (key, template, into) in [
                    ("under", &m.under, &mut target.under),
                    ("section", &m.section, &mut target.section),
                ] {
                    match template.as_ref().map(&render) {
                        Some(Ok(text)) => *into = Some(text),
                        Some(Err(error)) => problems.push(Problem::new(&at(key), error)),
                        None => {}
                    }
                }
                for (key, file, into) in [
                    ("template", &m.template, &mut target.template),
                    ("row_template", &m.row_template, &mut target.row_template),
                ] {
                    let Some(file) = file else { continue };
                    let file = relative_to(base, Path::new(file)).display().to_string();
                    match read_template(&file) {
                        Ok(template) => *into = Some(template),
                        Err(error) => problems.push(Problem::new(&at(key), error)),
                    }
                }
                if let Some(spec) = &m.fill {
                    let document = target.append_to.clone();
                    match render(&spec.under).and_then(|under| fill_spec(spec, under, document)) {
                        Ok(spec) => target.fill = Some(Box::new(spec)),
                        Err(error) => problems.push(Problem::new(&at("fill"), error)),
                    }
                }
                let key = if m.append_to.is_some() {
                    "append_to"
                } else {
                    "file"
                };
                (key, Target::Markdown(target))
            }
        };
        if problems.len() == before {
            targets.push((at(key), target));
        }
    }
    (targets, problems)
}

/// A `fill` with its heading rendered (`under`); when its document can be read, the
/// table is checked now, before the load, so a row or column that matches nothing costs
/// nothing. A missing document is left to the write (and its own checks).
fn fill_spec(
    fill: &crate::plan::table::Fill,
    under: String,
    document: Option<PathBuf>,
) -> Result<fill::Spec, PrepareError> {
    let spec = fill::Spec::new(fill, under);
    if let Some(document) = document
        && let Ok(text) = std::fs::read_to_string(&document)
    {
        fill::check(&text, &spec).map_err(|error| PrepareError::Fill {
            document,
            error: Box::new(error),
        })?;
    }
    Ok(spec)
}

/// Reads a template file, named by its path in errors.
pub fn read_template(file: &str) -> Result<(String, String), PrepareError> {
    let text = std::fs::read_to_string(file).map_err(|error| PrepareError::ReadTemplate {
        file: file.to_owned(),
        error,
    })?;
    super::markdown::check(file, &text).map_err(PrepareError::Template)?;
    Ok((file.to_owned(), text))
}

/// Which earlier runs `baseline: latest` and `baseline: latest_passed` may pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latest {
    /// `latest`: the newest complete run, passed or failed.
    Complete,
    /// `latest_passed`: the newest complete run whose thresholds all passed.
    Passed,
}

impl Latest {
    /// The plan's `baseline:` value, when it names one of these.
    pub fn from_plan(value: &str) -> Option<Self> {
        match value {
            "latest" => Some(Self::Complete),
            "latest_passed" => Some(Self::Passed),
            _ => None,
        }
    }

    /// Whether `run` may be the baseline. A run that stopped early (interrupted, aborted)
    /// never is: its figures cover part of a stage.
    pub fn accepts(self, run: &RunDocument) -> bool {
        let complete = !run.partial && run.results.stopped_early.is_none();
        complete && (self == Self::Complete || run.passed)
    }
}

/// The newest results file of the same plan, environment, stage and command-line
/// overrides (`--vus`, `--duration`, `--scenario`: a shortened CI run is no baseline for a
/// full one) in the folders of the `json` targets that `which` accepts: what
/// `baseline: latest` (and `latest_passed`) means. Newest by start time (to the second), then by end time, then by the file's
/// modification time, so runs started in the same second still have an order.
pub fn latest_baseline(
    targets: &[Target],
    plan: &str,
    env: Option<&str>,
    stage: &str,
    overrides: Option<&str>,
    which: Latest,
) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = targets
        .iter()
        .filter_map(|t| match t {
            Target::Json(file) => Some(
                file.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
            ),
            _ => None,
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    type Order = (String, String, Option<std::time::SystemTime>);
    let mut best: Option<(Order, PathBuf)> = None;
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let file = entry.path();
            if file.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let Ok(run) = RunDocument::load(&file) else {
                continue;
            };
            if run.plan == plan
                && run.env.as_deref() == env
                && run.stage == stage
                && run.overrides.as_deref() == overrides
                && which.accepts(&run)
            {
                let modified = entry.metadata().and_then(|m| m.modified()).ok();
                let order = (run.started, run.finished, modified);
                if best.as_ref().is_none_or(|(newest, _)| order > *newest) {
                    best = Some((order, file));
                }
            }
        }
    }
    best.map(|(_, file)| file)
}

/// Writes every target; each line of the result says what was written. Every target is
/// attempted; the error lists those that failed.
pub fn write_all(
    targets: &[Target],
    run: &RunDocument,
    baseline: Option<&RunDocument>,
    options: &ReportOptions,
) -> Result<Vec<String>, ReportError> {
    let mut written = Vec::new();
    let mut errors = Vec::new();
    // Results first: whatever fails later, the run itself is saved.
    let mut ordered: Vec<&Target> = targets.iter().collect();
    ordered.sort_by_key(|t| match t {
        Target::Json(_) => 0,
        Target::Csv(_) | Target::CsvColumns(..) => 1,
        Target::Junit(_) => 2,
        Target::Markdown(_) => 3,
        Target::Html(_) => 4,
    });
    for target in ordered {
        match write_one(target, run, baseline, options) {
            Ok(line) => written.push(line),
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        Ok(written)
    } else {
        Err(ReportError::Write(errors))
    }
}

fn write_one(
    target: &Target,
    run: &RunDocument,
    baseline: Option<&RunDocument>,
    options: &ReportOptions,
) -> Result<String, OutputError> {
    match target {
        Target::Json(file) => {
            // Streamed into the temporary file: with its histograms, the document is large.
            // Never over an existing file: a run that finds its name taken (a run started in
            // the same second) writes `NAME-2.json`, and says so.
            let written = write::create_unique(file, |w| {
                serde_json::to_writer_pretty(&mut *w, run).map_err(std::io::Error::from)?;
                Ok(w.write_all(b"\n")?)
            })?;
            Ok(format!("results: {}", written.display()))
        }
        Target::Csv(file) => {
            let report = Report::new(run, baseline, options)?;
            write::update_with(
                file,
                Missing::Create,
                |old, w| match history::write_appended(w, old, &report) {
                    Err(HistoryError::Io(e)) => Err(Fill::Io(e)),
                    result => result.map_err(|e| Fill::Edit(e.into())),
                },
                |_| Ok(()),
            )?;
            Ok(format!("history: {}", file.display()))
        }
        Target::CsvColumns(file, columns) => {
            let report = Report::new(run, baseline, options)?;
            write::update_with(
                file,
                Missing::Create,
                |old, w| match history::write_columns(w, old, &report, columns) {
                    Err(HistoryError::Io(e)) => Err(Fill::Io(e)),
                    result => result.map_err(|e| Fill::Edit(e.into())),
                },
                |_| Ok(()),
            )?;
            Ok(format!("history: {}", file.display()))
        }
        Target::Junit(file) => {
            let report = Report::new(run, baseline, options)?;
            let xml = junit::render(&report).map_err(OutputError::Junit)?;
            write::replace(file, &xml)?;
            Ok(format!("junit: {}", file.display()))
        }
        Target::Markdown(target) => write_markdown(target, run, baseline, options),
        Target::Html(file) => {
            let report = Report::new(run, baseline, options)?;
            let page = html::render(&report, run, baseline);
            write::replace(file, &page)?;
            Ok(format!("html: {}", file.display()))
        }
    }
}

/// The chart's file beside `markdown`: `docs/baselines-smoke.svg` for `docs/baselines.md`.
fn chart_path(markdown: &Path, stage: &str) -> PathBuf {
    let stem = markdown
        .file_stem()
        .map_or_else(|| "report".into(), |s| s.to_string_lossy());
    markdown.with_file_name(format!("{stem}-{stage}.svg"))
}

/// The report a Markdown target renders: `target`'s regression factor, the chart linked.
fn markdown_report(
    target: &MarkdownTarget,
    run: &RunDocument,
    baseline: Option<&RunDocument>,
    options: &ReportOptions,
    chart: Option<String>,
) -> Result<Report, ReportError> {
    let options = ReportOptions {
        regression_factor: target.regression_factor.or(options.regression_factor),
        ..options.clone()
    };
    let mut report = Report::new(run, baseline, &options)?;
    report.chart = chart;
    Ok(report)
}

/// `(name, source)` of the report template and of the row template.
fn templates(target: &MarkdownTarget) -> [(&str, &str); 2] {
    fn pick<'a>(
        template: &'a Option<(String, String)>,
        name: &'a str,
        source: &'a str,
    ) -> (&'a str, &'a str) {
        template
            .as_ref()
            .map_or((name, source), |(n, s)| (n.as_str(), s.as_str()))
    }
    [
        pick(
            &target.template,
            "built-in report template",
            markdown::DEFAULT_TEMPLATE,
        ),
        pick(
            &target.row_template,
            "built-in row template",
            markdown::DEFAULT_ROW_TEMPLATE,
        ),
    ]
}

/// Renders the Markdown of `target` (without writing it): the block, and the history row.
pub fn render_markdown(
    target: &MarkdownTarget,
    run: &RunDocument,
    baseline: Option<&RunDocument>,
    options: &ReportOptions,
    chart: Option<String>,
) -> Result<(String, String), OutputError> {
    let report = markdown_report(target, run, baseline, options, chart)?;
    let [(name, source), (row_name, row_source)] = templates(target);
    let block = markdown::render(&report, name, source)?;
    let row = markdown::render_row(&report, row_name, row_source)?;
    Ok((block, row))
}

/// Renders the Markdown of `target` into `out` (`loadplan report` without a file or a
/// document). It is rendered whole first, so a template error prints nothing; a failed
/// write to `out` (a closed pipe) is not an error, as for any printed text.
pub fn write_markdown_to(
    out: &mut impl Write,
    target: &MarkdownTarget,
    run: &RunDocument,
    baseline: Option<&RunDocument>,
    options: &ReportOptions,
) -> Result<(), OutputError> {
    let (block, _) = render_markdown(target, run, baseline, options, None)?;
    let _ = out.write_all(block.as_bytes());
    Ok(())
}

fn write_markdown(
    target: &MarkdownTarget,
    run: &RunDocument,
    baseline: Option<&RunDocument>,
    options: &ReportOptions,
) -> Result<String, OutputError> {
    let path = target
        .file
        .as_ref()
        .or(target.append_to.as_ref())
        .ok_or(OutputError::NoMarkdownPath)?;
    if let Some(spec) = &target.fill {
        return fill_document(path, spec, run, baseline, options);
    }
    // Beside the document itself, where its link to the chart points, when `path` is a
    // symbolic link; a link that cannot be followed fails below, when it is written.
    let chart_file = chart_path(
        &write::resolve(path).unwrap_or_else(|_| path.clone()),
        &run.stage,
    );
    let svg = chart::svg(
        &format!("{} · {} — latency and active VUs", run.plan, run.stage),
        &run.results.timeline,
    );
    let link = svg.as_ref().and_then(|_| {
        chart_file
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
    });
    let write_chart = |svg: Option<String>| -> Result<(), WriteError> {
        match svg {
            Some(svg) => write::replace(&chart_file, &svg),
            None => Ok(()),
        }
    };
    if let Some(file) = &target.file {
        // Streamed into the temporary file; a template error leaves the old file.
        let report = markdown_report(target, run, baseline, options, link)?;
        let [(name, source), (row_name, row_source)] = templates(target);
        markdown::render_row(&report, row_name, row_source)?;
        write::replace_with(file, |w| {
            markdown::write(w, &report, name, source).map_err(|e| Fill::Refused(e.into()))
        })?;
        write_chart(svg)?;
        return Ok(format!("report: {}", file.display()));
    }
    let (block, row) = render_markdown(target, run, baseline, options, link)?;
    let placement = placement(target);
    let mut done = None;
    write::update(
        path,
        Missing::Error,
        |old| {
            let (text, edit) = document::edit(old, placement, &block, Some(&row))?;
            done = Some(edit);
            Ok::<_, DocumentError>(text)
        },
        |_| Ok(()),
    )?;
    let what = match done {
        Some(Edit::RowAdded) => "row added to the table under",
        Some(Edit::SectionReplaced) => "section replaced in",
        Some(Edit::SectionAdded) => "section added to",
        Some(Edit::BlockInserted) => "report inserted under",
        _ => "report appended to",
    };
    if done != Some(Edit::RowAdded) {
        write_chart(svg)?;
    }
    Ok(match (&target.under, done) {
        (Some(heading), Some(Edit::RowAdded | Edit::BlockInserted)) => {
            format!("{what} `{heading}` in {}", path.display())
        }
        _ => format!("{what} {}", path.display()),
    })
}

/// Fills the table of `spec` in the document at `path` with the run's figures, under the
/// document's lock; the document must exist.
fn fill_document(
    path: &Path,
    spec: &fill::Spec,
    run: &RunDocument,
    baseline: Option<&RunDocument>,
    options: &ReportOptions,
) -> Result<String, OutputError> {
    let report = Report::new(run, baseline, options)?;
    let mut heading = None;
    write::update(
        path,
        Missing::Error,
        |old| {
            let filled = fill::fill(old, spec, |metric, column| {
                fill::figure(&report, metric, column)
            })?;
            heading = fill::check(old, spec).ok().map(|layout| layout.heading);
            Ok::<_, fill::FillError>(filled)
        },
        |_| Ok(()),
    )?;
    Ok(format!(
        "the table under `{}` in {}",
        heading.unwrap_or_else(|| spec.under.clone()),
        path.display()
    ))
}

/// What `loadplan run` resolves before it starts: the outputs and the baseline run.
pub struct Prepared {
    pub targets: Vec<Target>,
    pub baseline: Option<RunDocument>,
    /// Where the baseline was read from.
    pub baseline_file: Option<PathBuf>,
    /// `baseline: latest` (or `latest_passed`) found no earlier run it accepts: this is the
    /// first, and its `baseline * k` thresholds have nothing to compare with.
    pub first_run: bool,
}

/// The outputs of `checked` and the baseline: `--baseline FILE` when given, else the
/// plan's `baseline:` (`latest`, `latest_passed` or a file). The plan's paths are relative
/// to `base` (the plan file's folder); `extra` (`--out`) and `baseline` are used as given.
/// Every output is checked as [`check`] says, so a run that could not write them stops
/// here, before anything is sent; every problem is returned at once.
pub fn prepare_run(
    checked: &crate::plan::CheckedPlan,
    context: &minijinja::Value,
    base: &Path,
    extra: &[Target],
    baseline: Option<&Path>,
) -> Result<Prepared, Vec<Problem>> {
    let (targets, mut problems) = prepare(
        &checked.plan.outputs,
        &checked.templates,
        context,
        base,
        extra,
    );
    problems.extend(check(&targets));
    let targets: Vec<Target> = targets.into_iter().map(|(_, target)| target).collect();
    let (file, first_run, at) = match (baseline, checked.plan.baseline.as_deref()) {
        (Some(file), _) => (Some(file.to_path_buf()), false, None),
        (None, Some(value)) => match Latest::from_plan(value) {
            Some(which) => match latest_baseline(
                &targets,
                &checked.plan.name,
                checked.env.as_deref(),
                &checked.stage,
                checked.overrides.as_deref(),
                which,
            ) {
                Some(file) => (Some(file), false, None),
                None => (None, true, None),
            },
            None => (
                Some(relative_to(base, Path::new(value))),
                false,
                Some(vec![Segment::from("baseline")]),
            ),
        },
        (None, None) => (None, false, None),
    };
    let baseline = match file.as_deref().map(RunDocument::load).transpose() {
        Ok(baseline) => baseline,
        Err(error) => {
            problems.push(Problem {
                at,
                error: error.about("the baseline"),
                help: None,
            });
            None
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Prepared {
        targets,
        baseline,
        baseline_file: file,
        first_run,
    })
}

/// Whether each output can be written, without writing it (`loadplan run` and `validate`
/// call it before the load): its file, when there, can be opened for writing; its folder,
/// or the nearest one above that exists (missing folders are created when the outputs are
/// written), takes a new file; a document (`append_to`) exists, is UTF-8 text and holds the
/// `under` heading, or the `section`'s markers (both or neither, in order) and, while there
/// are none, the heading they will be added under. Not checked here: whether a custom
/// row's cells match the table's columns (it needs the run's figures).
pub fn check(targets: &[(At, Target)]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut push = |at: &At, error: PrepareError, help: Option<String>| {
        problems.push(Problem {
            at: at.clone(),
            error: ReportError::Prepare(error),
            help,
        });
    };
    for (at, target) in targets {
        let (file, missing) = match target {
            Target::Json(file)
            | Target::Csv(file)
            | Target::CsvColumns(file, _)
            | Target::Junit(file)
            | Target::Html(file) => (file, Missing::Create),
            Target::Markdown(MarkdownTarget {
                file: Some(file), ..
            }) => (file, Missing::Create),
            Target::Markdown(MarkdownTarget {
                append_to: Some(file),
                ..
            }) => (file, Missing::Error),
            Target::Markdown(_) => continue,
        };
        if let Err(error) = write::check(file, missing) {
            let help = match &error {
                WriteError::Open(_, e) if e.kind() == std::io::ErrorKind::NotFound => Some(
                    "`append_to` writes into an existing document: create it (an empty file will do), or write a report of its own with `file:`".to_owned(),
                ),
                _ => None,
            };
            push(at, PrepareError::Unwritable(error), help);
            continue;
        }
        let Target::Markdown(
            markdown @ MarkdownTarget {
                append_to: Some(_), ..
            },
        ) = target
        else {
            continue;
        };
        let text = match write::resolve(file).and_then(|resolved| {
            std::fs::read(&resolved).map_err(|e| WriteError::Read(file.clone(), e))
        }) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(_) => {
                    push(
                        at,
                        PrepareError::Unwritable(WriteError::NotUtf8(file.clone())),
                        None,
                    );
                    continue;
                }
            },
            Err(error) => {
                push(at, PrepareError::Unwritable(error), None);
                continue;
            }
        };
        if let Err(error) = document::check(&text, placement(markdown)) {
            let key = match error {
                DocumentError::NoHeading { .. } => "under",
                _ => "section",
            };
            let help = match &error {
                DocumentError::NoHeading { heading } => {
                    let headings = document::headings(&text);
                    match crate::diag::suggest(heading, headings.iter().map(String::as_str)) {
                        Some(near) => Some(format!("did you mean `{near}`?")),
                        None if headings.is_empty() => {
                            Some("the document has no heading".to_owned())
                        }
                        None => Some(format!(
                            "the document's headings: {}",
                            headings
                                .iter()
                                .map(|h| format!("`{h}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    }
                }
                _ => None,
            };
            let at = at.as_ref().map(|at| {
                let mut at = at.clone();
                at.pop();
                at.push(Segment::from(key));
                at
            });
            push(&at, PrepareError::Document(file.clone(), error), help);
        }
    }
    problems
}

/// Where a Markdown target writes inside its document.
fn placement(target: &MarkdownTarget) -> Placement<'_> {
    match (&target.section, &target.under) {
        (Some(id), under) => Placement::Section {
            id,
            under: under.as_deref(),
        },
        (None, Some(heading)) => Placement::Under(heading),
        (None, None) => Placement::End,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_relative_to_the_plan_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("plans")).unwrap();
        let plans = dir.path().join("plans");
        let cases = [
            (Path::new("."), "docs/x.md", PathBuf::from("docs/x.md")),
            (Path::new(""), "x.md", PathBuf::from("x.md")),
            (Path::new("plans"), "/abs/x.md", PathBuf::from("/abs/x.md")),
            (
                Path::new("plans"),
                "t/row.j2",
                PathBuf::from("plans/t/row.j2"),
            ),
            // A folder that is not there: its `..` is kept.
            (
                Path::new("no-such-folder"),
                "../x.md",
                PathBuf::from("no-such-folder/../x.md"),
            ),
            // One that is (the tests run in the repository): `..` is taken out.
            (Path::new("plans"), "../x.md", PathBuf::from("x.md")),
            (&plans, "../docs/x.md", dir.path().join("docs/x.md")),
            (&plans, "./a/../b.md", plans.join("a/../b.md")),
        ];
        for (base, path, expected) in cases {
            assert_eq!(
                relative_to(base, Path::new(path)),
                expected,
                "{base:?} {path}"
            );
        }
    }
}
