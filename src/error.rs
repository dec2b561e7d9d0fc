//! How a command fails: one [`Error`] per way a stage can stop the process, each with
//! its exit code ([`Error::exit_code`], the named codes of [`crate::exit_code`]) and the
//! line printed for it ([`Error`]'s `Display`, without the newline).
//!
//! The caller maps it once, at the top:
//!
//! ```text
//! Err(error) => { if error.print_message() { eprintln!("{error}") }  exit(error.exit_code()) }
//! ```
//!
//! It sits low in the layers (only `exit_code` and `diag` are below it), so it names no
//! stage's own error type: a detail that comes from a stage above is a [`Detail`], a boxed
//! `std::error::Error` (a `String` converts into one), whose message ends the line.

use std::fmt;

use crate::exit_code;

/// The cause of an [`Error`] raised by a stage above this module: its typed error, boxed,
/// or its message (`String` and `&str` convert with `into()`).
pub type Detail = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a command did not succeed.
#[derive(Debug)]
pub enum Error {
    /// The command line is wrong. clap prints its own message (with its usage line and
    /// colours) where the arguments are parsed, so nothing is added here.
    Usage,
    /// A plan file could not be read, or is too large or not text: `plan` is the path as
    /// shown, `error` says why in full (`cannot read the plan: …`,
    /// `the plan is larger than 8 MiB; …`).
    PlanUnreadable { plan: String, error: Detail },
    /// `loadplan run`: the plan has errors; its diagnostics have been printed.
    PlanInvalid { plan: String },
    /// `loadplan validate`: `invalid` of the `plans` checked have errors; each plan's
    /// diagnostics and total have been printed, so for one plan nothing is added.
    PlansInvalid { invalid: usize, plans: usize },
    /// `loadplan run`: an output (or the baseline) could not be used — a template file, a
    /// document or its heading missing, a folder that cannot be written; each problem has
    /// been printed where the plan says it. Checked before the load: nothing was sent.
    OutputsUnusable { plan: String },
    /// Secrets the plan declares are not set in the environment.
    MissingSecrets { names: Vec<String> },
    /// An input besides the plan is unusable: an output path or template, a saved run.
    Input(Detail),
    /// The baseline run cannot be read or decoded.
    Baseline(Detail),
    /// The stage would need more file descriptors than the process may open: `need` of
    /// them (`how`: what it was computed from) against the soft limit `limit`, already
    /// raised to the hard one. Nothing was run.
    OpenFiles {
        stage: String,
        limit: u64,
        need: u64,
        how: String,
    },
    /// `--segment`, `--segment-weights`, `--start-at` or `--barrier` cannot be used (a
    /// missing `$JOB_COMPLETION_INDEX`, weights that do not fit, a bad instant). Nothing
    /// was run.
    Segment(Detail),
    /// A segment was not ready by its `--start-at` instant, or the other segments did not
    /// reach the `--barrier` in time. Nothing was sent.
    MissedStart(Detail),
    /// The executor could not carry out the run.
    Run(Detail),
    /// An output (results, report, document, history, JUnit) could not be written.
    Output(Detail),
    /// `loadplan mock` could not start its server.
    Mock { port: u16, error: std::io::Error },
    /// The run finished and a threshold failed; the summary says which.
    ThresholdsFailed,
    /// `loadplan compare`: figures of later runs regressed beyond `--fail-on-regression`,
    /// or the reference's thresholds failed on them (`--fail-on-threshold`); the
    /// comparison printed says which.
    Compared {
        regressions: usize,
        thresholds: usize,
    },
    /// Ctrl-C or SIGTERM stopped the run; the partial results were written.
    Interrupted,
}

impl Error {
    /// The process exit code: 2 for what the user can fix before running (the command
    /// line, the plan, its inputs and outputs), 1 for what went wrong while running, 99
    /// when thresholds failed, 130 when interrupted. One run ends with one error: `run.rs`
    /// picks 130 over 99 over an output's 1, and prints the output's error either way.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Usage
            | Self::PlanUnreadable { .. }
            | Self::PlanInvalid { .. }
            | Self::PlansInvalid { .. }
            | Self::OutputsUnusable { .. }
            | Self::MissingSecrets { .. }
            | Self::Input(_)
            | Self::Baseline(_)
            | Self::OpenFiles { .. }
            | Self::Segment(_) => exit_code::INVALID,
            Self::MissedStart(_) => exit_code::MISSED_START,
            Self::Run(_) | Self::Output(_) | Self::Mock { .. } => exit_code::FAILURE,
            Self::ThresholdsFailed | Self::Compared { .. } => exit_code::THRESHOLDS_FAILED,
            Self::Interrupted => exit_code::INTERRUPTED,
        }
    }

    /// Whether the caller prints the `Display` on stderr: not when it has been said
    /// already (clap's message; one plan's diagnostics and total) or when the output
    /// says it (the summary's failed thresholds; the interrupted run's notice).
    pub fn print_message(&self) -> bool {
        match self {
            Self::Usage | Self::ThresholdsFailed | Self::Interrupted => false,
            Self::PlansInvalid { plans, .. } => *plans > 1,
            _ => true,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage => f.write_str("error: invalid command line"),
            Self::PlanUnreadable { plan, error } => {
                write!(f, "{plan}: error: {error}")
            }
            Self::PlanInvalid { plan } => write!(f, "{plan}: the plan is invalid; nothing was run"),
            Self::OutputsUnusable { plan } => write!(
                f,
                "{plan}: the outputs cannot be written as the plan says; nothing was run"
            ),
            Self::PlansInvalid { invalid, plans } if *plans > 1 => {
                write!(f, "error: {invalid} of {plans} plans are invalid")
            }
            Self::PlansInvalid { .. } => f.write_str("error: the plan is invalid"),
            Self::MissingSecrets { names } => write!(
                f,
                "error: secret{} not set in the environment: {}",
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            ),
            Self::Input(detail) | Self::Output(detail) => write!(f, "error: {detail}"),
            Self::Baseline(detail) => write!(f, "error: the baseline: {detail}"),
            Self::OpenFiles {
                stage,
                limit,
                need,
                how,
            } => write!(
                f,
                "error: stage `{stage}` needs about {need} open files, above the limit of \
                 {limit} (`ulimit -n`, already raised to the hard limit); nothing was run\n  \
                 need: {how}\n  \
                 help: raise the hard limit (`ulimit -Hn`, `LimitNOFILE=` in a systemd unit, \
                 `nofile` in /etc/security/limits.conf), or split the run: run the stage with \
                 fewer VUs in several processes or on several machines, or start the target \
                 apart (`loadplan mock`) instead of `mock: true`, which halves the need"
            ),
            Self::Run(detail) => write!(f, "error: the run could not be carried out: {detail}"),
            Self::Segment(detail) => write!(f, "error: {detail}; nothing was run"),
            Self::MissedStart(detail) => write!(f, "error: {detail}; nothing was sent"),
            Self::Mock { port, error } => write!(
                f,
                "error: the mock target could not start on 127.0.0.1:{port}: {error}"
            ),
            Self::ThresholdsFailed => f.write_str("thresholds failed"),
            Self::Compared {
                regressions,
                thresholds,
            } => {
                let mut parts = Vec::new();
                if *regressions > 0 {
                    parts.push(format!(
                        "{regressions} figure{} regressed beyond the limit",
                        if *regressions == 1 { "" } else { "s" }
                    ));
                }
                if *thresholds > 0 {
                    parts.push(format!(
                        "{thresholds} re-judged threshold{} failed",
                        if *thresholds == 1 { "" } else { "s" }
                    ));
                }
                write!(f, "error: {}", parts.join("; "))
            }
            Self::Interrupted => f.write_str("interrupted"),
        }
    }
}

// No `source()`: the message already ends with the cause's, and a chain printer would
// repeat it. The cause is a field of the variant.
impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    fn io_error() -> io::Error {
        io::Error::new(
            io::ErrorKind::NotFound,
            "No such file or directory (os error 2)",
        )
    }

    /// Every variant: its exit code, whether it is printed, and the line printed.
    #[test]
    fn codes_and_messages() {
        let cases: Vec<(Error, i32, bool, &str)> = vec![
            (Error::Usage, 2, false, "error: invalid command line"),
            (
                Error::PlanUnreadable {
                    plan: "plan.yaml".into(),
                    error: format!("cannot read the plan: {}", io_error()).into(),
                },
                2,
                true,
                "plan.yaml: error: cannot read the plan: No such file or directory (os error 2)",
            ),
            (
                Error::PlanInvalid {
                    plan: "plan.yaml".into(),
                },
                2,
                true,
                "plan.yaml: the plan is invalid; nothing was run",
            ),
            (
                Error::OutputsUnusable {
                    plan: "plan.yaml".into(),
                },
                2,
                true,
                "plan.yaml: the outputs cannot be written as the plan says; nothing was run",
            ),
            (
                Error::PlansInvalid {
                    invalid: 2,
                    plans: 3,
                },
                2,
                true,
                "error: 2 of 3 plans are invalid",
            ),
            (
                Error::PlansInvalid {
                    invalid: 1,
                    plans: 1,
                },
                2,
                false,
                "error: the plan is invalid",
            ),
            (
                Error::MissingSecrets {
                    names: vec!["TOKEN".into()],
                },
                2,
                true,
                "error: secret not set in the environment: TOKEN",
            ),
            (
                Error::MissingSecrets {
                    names: vec!["A".into(), "B".into()],
                },
                2,
                true,
                "error: secrets not set in the environment: A, B",
            ),
            (
                Error::Input("cannot read the template row.md: gone".into()),
                2,
                true,
                "error: cannot read the template row.md: gone",
            ),
            (
                Error::Baseline("the histogram of x is damaged: bad".into()),
                2,
                true,
                "error: the baseline: the histogram of x is damaged: bad",
            ),
            (
                Error::OpenFiles {
                    stage: "load".into(),
                    limit: 1024,
                    need: 3064,
                    how: "3000 connections of 3000 VUs + 64 for the rest".into(),
                },
                2,
                true,
                "error: stage `load` needs about 3064 open files, above the limit of 1024 \
                 (`ulimit -n`, already raised to the hard limit); nothing was run
  need: 3000 connections of 3000 VUs + 64 for the rest
  help: raise the hard limit (`ulimit -Hn`, `LimitNOFILE=` in a systemd unit, `nofile` in \
                 /etc/security/limits.conf), or split the run: run the stage with fewer VUs in \
                 several processes or on several machines, or start the target apart \
                 (`loadplan mock`) instead of `mock: true`, which halves the need",
            ),
            (
                Error::Run("no runtime".into()),
                1,
                true,
                "error: the run could not be carried out: no runtime",
            ),
            (
                Error::Output("cannot write out.json: denied".into()),
                1,
                true,
                "error: cannot write out.json: denied",
            ),
            (
                Error::Mock {
                    port: 8080,
                    error: io::Error::new(io::ErrorKind::AddrInUse, "Address in use"),
                },
                1,
                true,
                "error: the mock target could not start on 127.0.0.1:8080: Address in use",
            ),
            (Error::ThresholdsFailed, 99, false, "thresholds failed"),
            (
                Error::Compared {
                    regressions: 2,
                    thresholds: 1,
                },
                99,
                true,
                "error: 2 figures regressed beyond the limit; 1 re-judged threshold failed",
            ),
            (Error::Interrupted, 130, false, "interrupted"),
        ];
        for (error, code, printed, message) in cases {
            assert_eq!(error.exit_code(), code, "{error:?}");
            assert_eq!(error.print_message(), printed, "{error:?}");
            assert_eq!(error.to_string(), message);
        }
    }

    #[test]
    fn codes_are_the_named_ones() {
        assert_eq!(Error::Usage.exit_code(), exit_code::INVALID);
        assert_eq!(Error::Run("x".into()).exit_code(), exit_code::FAILURE);
        assert_eq!(
            Error::ThresholdsFailed.exit_code(),
            exit_code::THRESHOLDS_FAILED
        );
        assert_eq!(Error::Interrupted.exit_code(), exit_code::INTERRUPTED);
    }
}
