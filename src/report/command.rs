//! `loadplan report RESULTS.json`: re-renders a saved run — Markdown to stdout, a file or a
//! document, plus CSV history and JUnit — through the same outputs as `loadplan run`.

use std::io::Write as _;

use super::json::RunDocument;
use super::model::ReportOptions;
use super::outputs::{self, MarkdownTarget, Target};
use crate::cli::ReportArgs;
use crate::exit_code;

/// Runs `loadplan report`; `Err` holds the exit code.
pub fn report(args: &ReportArgs) -> Result<(), i32> {
    let fail = |code: i32| {
        move |error: String| {
            eprintln!("error: {error}");
            code
        }
    };
    let run = RunDocument::load(&args.results).map_err(fail(exit_code::INVALID))?;
    // Without `--baseline`, the run's own baseline, if that file is still there.
    let recorded = run
        .baseline_file
        .as_deref()
        .map(std::path::Path::new)
        .filter(|file| file.is_file());
    let baseline = args
        .baseline
        .as_deref()
        .or(recorded)
        .map(RunDocument::load)
        .transpose()
        .map_err(|e| format!("the baseline: {e}"))
        .map_err(fail(exit_code::INVALID))?;
    // A damaged histogram is a bad input (exit 2, as `run --baseline` says), found before
    // anything is rendered.
    run.results()
        .map_err(|e| format!("{}: {e}", args.results.display()))
        .map_err(fail(exit_code::INVALID))?;
    if let Some(baseline) = &baseline {
        baseline
            .results()
            .map_err(|e| format!("the baseline: {e}"))
            .map_err(fail(exit_code::INVALID))?;
    }
    let read = |file: &Option<std::path::PathBuf>| {
        file.as_ref()
            .map(|f| outputs::read_template(&f.display().to_string()))
            .transpose()
    };
    let markdown = MarkdownTarget {
        file: args.file.clone(),
        append_to: args.append_to.clone(),
        under: args.under.clone(),
        section: args.section.clone(),
        template: read(&args.template).map_err(fail(exit_code::INVALID))?,
        row_template: read(&args.row_template).map_err(fail(exit_code::INVALID))?,
        regression_factor: args.regression_factor,
    };
    let options = ReportOptions {
        label: args.label.clone(),
        regression_factor: args.regression_factor,
    };
    let mut targets = Vec::new();
    if let Some(file) = &args.csv {
        targets.push(Target::Csv(file.clone()));
    }
    if let Some(file) = &args.junit {
        targets.push(Target::Junit(file.clone()));
    }
    if markdown.file.is_some() || markdown.append_to.is_some() {
        targets.push(Target::Markdown(markdown));
    } else {
        let (block, _) =
            outputs::render_markdown(&markdown, &run, baseline.as_ref(), &options, None)
                .map_err(fail(exit_code::FAILURE))?;
        let _ = std::io::stdout().write_all(block.as_bytes());
    }
    let written = outputs::write_all(&targets, &run, baseline.as_ref(), &options)
        .map_err(fail(exit_code::FAILURE))?;
    for line in written {
        eprintln!("wrote {line}");
    }
    Ok(())
}
