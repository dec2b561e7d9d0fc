//! `loadplan report RESULTS.json`: re-renders a saved run — Markdown to stdout, a file or a
//! document, plus CSV history and JUnit — through the same outputs as `loadplan run`.
//! Takes plain [`ReportCommand`] options (the caller maps its command line onto them) and
//! returns a [`ReportError`] for the caller to print.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::ReportError;
use super::json::RunDocument;
use super::model::ReportOptions;
use super::outputs::{self, MarkdownTarget, Target};

/// What `loadplan report` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct ReportCommand {
    /// The results file to render.
    pub results: PathBuf,
    /// The run to compare with; the one recorded in the results when `None`.
    pub baseline: Option<PathBuf>,
    /// Template files instead of the built-in report and history row.
    pub template: Option<PathBuf>,
    pub row_template: Option<PathBuf>,
    /// Write the Markdown into this document (`under` a heading, or a marked `section`),
    /// or replace this `file`; print it to stdout when neither is given.
    pub append_to: Option<PathBuf>,
    pub under: Option<String>,
    pub section: Option<String>,
    pub file: Option<PathBuf>,
    /// Replaces the label the run was recorded with.
    pub label: Option<String>,
    pub regression_factor: Option<f64>,
    /// Append a CSV history row, write JUnit XML.
    pub csv: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    /// Write the HTML report.
    pub html: Option<PathBuf>,
}

/// Runs `loadplan report`: the Markdown goes to `out` when no file or document is given;
/// `Ok` holds a line per output written.
pub fn report(command: &ReportCommand, out: &mut impl Write) -> Result<Vec<String>, ReportError> {
    let run = RunDocument::load(&command.results)?;
    // Without `--baseline`, the run's own baseline, if that file is still there.
    let recorded = run
        .baseline_file
        .as_deref()
        .map(Path::new)
        .filter(|file| file.is_file());
    let baseline_file = command.baseline.as_deref().or(recorded);
    let baseline = baseline_file
        .map(RunDocument::load)
        .transpose()
        .map_err(|e| e.about("the baseline"))?;
    // A damaged histogram is a bad input (exit 2, as `run --baseline` says), found before
    // anything is rendered.
    run.results()
        .map_err(|e| e.about(&command.results.display().to_string()))?;
    if let Some(baseline) = &baseline {
        baseline.results().map_err(|e| e.about("the baseline"))?;
    }
    let read = |file: &Option<PathBuf>| {
        file.as_ref()
            .map(|f| outputs::read_template(&f.display().to_string()))
            .transpose()
            .map_err(ReportError::Prepare)
    };
    let markdown = MarkdownTarget {
        file: command.file.clone(),
        append_to: command.append_to.clone(),
        under: command.under.clone(),
        section: command.section.clone(),
        template: read(&command.template)?,
        row_template: read(&command.row_template)?,
        regression_factor: command.regression_factor,
        fill: None,
    };
    let options = ReportOptions {
        label: command.label.clone(),
        regression_factor: command.regression_factor,
        baseline_file: baseline_file.map(|file| file.display().to_string()),
    };
    let mut targets = Vec::new();
    if let Some(file) = &command.csv {
        targets.push(Target::Csv(file.clone()));
    }
    if let Some(file) = &command.junit {
        targets.push(Target::Junit(file.clone()));
    }
    if let Some(file) = &command.html {
        targets.push(Target::Html(file.clone()));
    }
    if markdown.file.is_some() || markdown.append_to.is_some() {
        targets.push(Target::Markdown(markdown));
    } else {
        outputs::write_markdown_to(out, &markdown, &run, baseline.as_ref(), &options)
            .map_err(|e| ReportError::Write(vec![e]))?;
    }
    outputs::write_all(&targets, &run, baseline.as_ref(), &options)
}
