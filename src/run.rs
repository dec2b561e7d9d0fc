//! The orchestrator: parses arguments, runs the command, maps the outcome to an exit code.
//! Synchronous; only the executor (a later stage) starts a runtime.

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use clap::{CommandFactory, Parser};

use crate::cli::{Arguments, Command, SelectionArgs};
use crate::diag::{Severity, render};
use crate::exit_code;
use crate::plan::{self, Selection};

/// Runs loadplan with these arguments; `Err` holds the exit code of a failure.
pub fn run(args: impl IntoIterator<Item = OsString>) -> Result<(), i32> {
    let arguments = match Arguments::try_parse_from(args) {
        Ok(arguments) => arguments,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                Err(exit_code::INVALID)
            } else {
                Ok(())
            };
        }
    };
    match arguments.command {
        Command::Validate { plans, selection } => validate(&plans, &selection),
        Command::Mock {
            port,
            mode,
            status,
            body_size,
        } => {
            let settings = crate::mock::MockSettings {
                mode,
                status,
                body_size: usize::try_from(body_size).unwrap_or(usize::MAX),
            };
            crate::mock::run_blocking(settings, port).map_err(|error| {
                eprintln!("error: the mock target could not start on 127.0.0.1:{port}: {error}");
                exit_code::FAILURE
            })
        }
        Command::Schema => {
            print!("{}", plan::schema::schema_text());
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

fn selection(args: &SelectionArgs) -> Selection {
    Selection {
        env: args.env.clone(),
        stage: args.stage.clone(),
        vars: args.vars.clone(),
    }
}

fn validate(paths: &[std::path::PathBuf], args: &SelectionArgs) -> Result<(), i32> {
    let selection = selection(args);
    let mut invalid = 0;
    let stderr = std::io::stderr();
    for path in paths {
        let shown = path.display().to_string();
        let ok = validate_one(path, &shown, &selection, &mut stderr.lock());
        if !ok {
            invalid += 1;
        }
    }
    if invalid > 0 {
        if paths.len() > 1 {
            eprintln!("error: {invalid} of {} plans are invalid", paths.len());
        }
        return Err(exit_code::INVALID);
    }
    Ok(())
}

/// Validates one file, printing its diagnostics; true when it has no error.
fn validate_one(path: &Path, shown: &str, selection: &Selection, out: &mut impl Write) -> bool {
    let source = match std::fs::read_to_string(path) {
        Ok(source) => source,
        Err(error) => {
            let _ = writeln!(out, "{shown}: error: cannot read the plan: {error}");
            return false;
        }
    };
    let (checked, diagnostics) = plan::load(&source, selection);
    for diagnostic in &diagnostics {
        let _ = write!(out, "{}", render(shown, &source, diagnostic));
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    match checked {
        Some(checked) => {
            let plan = &checked.plan;
            println!(
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
            true
        }
        None => {
            let _ = writeln!(
                out,
                "{shown}: {errors} error{}{}",
                plural(errors),
                if warnings > 0 {
                    format!(", {warnings} warning{}", plural(warnings))
                } else {
                    String::new()
                }
            );
            false
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
